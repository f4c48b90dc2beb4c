//! Partial check results of one shard (`check --shard I/N --partial FILE`)
//! and their merge into the report one unsharded run would have printed.
//! Waivers are applied at merge time, over all shards at once, so that a
//! waiver used by one shard only is not called stale.

use crate::check::{CheckReport, MachineResult};
use crate::shard::Shard;
use recorder::qemu::{MachineType, QemuIdentity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Format tag of a partial result file.
pub const PARTIAL_FORMAT: &str = "machine-abi-partial-check";
/// Version of that format this build writes and reads.
pub const PARTIAL_VERSION: u32 = 1;

/// What one shard of a check found, before waivers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialCheck {
    /// [`PARTIAL_FORMAT`].
    pub format: String,
    /// [`PARTIAL_VERSION`].
    pub version: u32,
    /// Which shard this is.
    pub shard: Shard,
    /// The QEMU build checked.
    pub qemu: QemuIdentity,
    /// Every machine type the database knows (waiver globs are checked
    /// against them).
    pub known: Vec<MachineType>,
    /// This shard's results, waivers not applied.
    pub results: Vec<MachineResult>,
}

/// Why partial results cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeError(pub String);

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MergeError {}

impl PartialCheck {
    /// A shard's result.
    pub fn new(shard: Shard, qemu: QemuIdentity, known: Vec<MachineType>, results: Vec<MachineResult>) -> Self {
        PartialCheck {
            format: PARTIAL_FORMAT.into(),
            version: PARTIAL_VERSION,
            shard,
            qemu,
            known,
            results,
        }
    }

    /// Read one partial result file, refusing other formats and newer
    /// versions with a clear message.
    pub fn load(path: &Path) -> Result<PartialCheck, MergeError> {
        let e = |m: String| MergeError(format!("{}: {m}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|x| e(x.to_string()))?;
        let head: serde_json::Value =
            serde_json::from_str(&text).map_err(|x| e(format!("not a partial check result: {x}")))?;
        if head.get("format").and_then(|f| f.as_str()) != Some(PARTIAL_FORMAT) {
            return Err(e(format!(
                "not a partial check result (no \"format\": \"{PARTIAL_FORMAT}\"); write one with check --partial"
            )));
        }
        let version = head.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version > u64::from(PARTIAL_VERSION) {
            return Err(e(format!(
                "partial format version {version} is newer than this machine-abi ({PARTIAL_VERSION}); upgrade"
            )));
        }
        serde_json::from_str(&text).map_err(|x| e(format!("corrupt partial check result: {x}")))
    }
}

/// Combine the partial results of every shard of one run into the report
/// of the whole run (waivers not applied yet) and the machine types the
/// database knows. Every shard 1..N must be there exactly once, all of the
/// same N and the same QEMU build.
pub fn merge(parts: Vec<(PathBuf, PartialCheck)>) -> Result<(CheckReport, Vec<MachineType>), MergeError> {
    let Some((first_path, first)) = parts.first() else {
        return Err(MergeError("nothing to merge: give the partial result files".into()));
    };
    let count = first.shard.count;
    let mut by_index: BTreeMap<usize, &Path> = BTreeMap::new();
    for (path, p) in &parts {
        if p.shard.count != count {
            return Err(MergeError(format!(
                "{} is shard {} but {} is shard {}: not the same run",
                path.display(),
                p.shard,
                first_path.display(),
                first.shard
            )));
        }
        if p.qemu != first.qemu {
            return Err(MergeError(format!(
                "{} checked QEMU {} ({}) but {} checked QEMU {} ({}): not the same build",
                path.display(),
                p.qemu.version,
                p.qemu.blake3,
                first_path.display(),
                first.qemu.version,
                first.qemu.blake3
            )));
        }
        if let Some(other) = by_index.insert(p.shard.index, path) {
            return Err(MergeError(format!(
                "shard {} given twice: {} and {}",
                p.shard,
                other.display(),
                path.display()
            )));
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError(format!(
            "missing shard{} {}: a merge of part of a run would pass what was never checked",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )));
    }
    let qemu = first.qemu.clone();
    let mut known: Vec<MachineType> = Vec::new();
    let mut results = Vec::new();
    for (_, p) in parts {
        known.extend(p.known);
        results.extend(p.results);
    }
    known.sort();
    known.dedup();
    results.sort_by(|a, b| (&a.machine, &a.profile).cmp(&(&b.machine, &b.profile)));
    let report = CheckReport {
        qemu,
        results,
        waivers: Default::default(),
        strict: false,
    };
    Ok((report, known))
}
