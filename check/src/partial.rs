//! Partial check results of one shard (`check --shard I/N --partial FILE`)
//! and their merge into the report one unsharded run would have printed.
//! Waivers are applied at merge time, over all shards at once, so that a
//! waiver used by one shard only is not called stale.

use crate::outcome::MachineResult;
use crate::shard::Shard;
use abi_model::{MachineType, QemuIdentity};
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
    /// What the whole run selected before sharding: the number of
    /// (machine type, profile) pairs and a hash of their sorted list and
    /// of the database's records. Every shard of one run has the same.
    pub selection: Selection,
    /// The QEMU build checked.
    pub qemu: QemuIdentity,
    /// Every machine type the database knows (waiver globs are checked
    /// against them).
    pub known: Vec<MachineType>,
    /// This shard's results, waivers not applied.
    pub results: Vec<MachineResult>,
    /// Versioned machine types of the binary without a baseline (the same
    /// in every shard).
    #[serde(default)]
    pub new_machines: Vec<MachineType>,
}

/// The work of a whole sharded run, identical in each of its shards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// (machine type, profile) pairs before sharding.
    pub pairs: usize,
    /// blake3 of the sorted pairs and the baseline records' keys.
    pub blake3: String,
}

impl Selection {
    /// The selection of `pairs` (`machine/profile`, sorted) against the
    /// baselines named by `baselines` (record keys as text).
    pub fn of(pairs: &[String], baselines: &[String]) -> Selection {
        let mut h = blake3::Hasher::new();
        for p in pairs {
            h.update(p.as_bytes());
            h.update(b"\n");
        }
        h.update(b"--\n");
        for b in baselines {
            h.update(b.as_bytes());
            h.update(b"\n");
        }
        Selection {
            pairs: pairs.len(),
            blake3: h.finalize().to_hex().to_string(),
        }
    }
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
    pub fn new(
        shard: Shard,
        selection: Selection,
        qemu: QemuIdentity,
        known: Vec<MachineType>,
        results: Vec<MachineResult>,
    ) -> Self {
        PartialCheck {
            format: PARTIAL_FORMAT.into(),
            version: PARTIAL_VERSION,
            shard,
            selection,
            qemu,
            known,
            results,
            new_machines: Vec::new(),
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
        serde_json::from_value(head).map_err(|x| e(format!("corrupt partial check result: {x}")))
    }
}

/// The results of a whole run, put together from its shards.
#[derive(Clone, Debug)]
pub struct Merged {
    /// The QEMU build every shard checked.
    pub qemu: QemuIdentity,
    /// Every result, sorted (waivers not applied yet).
    pub results: Vec<MachineResult>,
    /// The machine types the database knows.
    pub known: Vec<MachineType>,
    /// Versioned machine types of the binary without a baseline.
    pub new_machines: Vec<MachineType>,
}

/// Combine the partial results of every shard of one run into the results
/// of the whole run. Every shard 1..N must be there exactly once, all of
/// the same N and the same QEMU build.
pub fn merge(parts: Vec<(PathBuf, PartialCheck)>) -> Result<Merged, MergeError> {
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
        if p.selection != first.selection {
            return Err(MergeError(format!(
                "{} and {} checked different selections ({} vs {} pairs, or another database or \
                 --machine/--profile): not the same run",
                path.display(),
                first_path.display(),
                p.selection.pairs,
                first.selection.pairs
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
    let first_pairs = first.selection.pairs;
    let mut known: Vec<MachineType> = Vec::new();
    let mut results = Vec::new();
    let mut new_machines: Vec<MachineType> = Vec::new();
    for (_, p) in parts {
        known.extend(p.known);
        results.extend(p.results);
        new_machines.extend(p.new_machines);
    }
    new_machines.sort();
    new_machines.dedup();
    known.sort();
    known.dedup();
    if results.len() != first_pairs {
        return Err(MergeError(format!(
            "the shards hold {} results, the run selected {first_pairs} pairs",
            results.len()
        )));
    }
    results.sort_by(|a, b| (&a.machine, &a.profile).cmp(&(&b.machine, &b.profile)));
    Ok(Merged {
        qemu,
        results,
        known,
        new_machines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use abi_model::record::RecordKey;
    use abi_model::Version;
    use abi_store::Db;

    fn identity(blake3: &str) -> QemuIdentity {
        QemuIdentity {
            version: Version::parse("10.0.2").expect("version"),
            package: "test".into(),
            blake3: blake3.into(),
            build_id: None,
        }
    }

    fn part(db: &Db, index: usize, count: usize, machine: &str, qemu: &str) -> (PathBuf, PartialCheck) {
        let key = RecordKey {
            arch: "x86_64".into(),
            machine: MachineType(machine.into()),
            profile: "default".into(),
            qemu_version: Version::parse("7.2.22").expect("version"),
        };
        let r = MachineResult::new(db, &key, "default", Outcome::Clean);
        // One result per shard: the run selected `count` pairs.
        let selection = Selection {
            pairs: count,
            blake3: "same run".into(),
        };
        let p = PartialCheck::new(
            Shard { index, count },
            selection,
            identity(qemu),
            vec![key.machine.clone()],
            vec![r],
        );
        (PathBuf::from(format!("shard-{index}.json")), p)
    }

    #[test]
    fn merge_sorts_results_and_refuses_incomplete_or_mixed_runs() {
        let tmp = tempfile::tempdir().expect("tmp");
        let db = Db::open_or_create(tmp.path()).expect("db");
        let Merged { results, known, .. } = merge(vec![
            part(&db, 2, 2, "pc-q35-7.2", "a"),
            part(&db, 1, 2, "pc-i440fx-7.2", "a"),
        ])
        .expect("merges");
        let names: Vec<&str> = results.iter().map(|r| r.machine.0.as_str()).collect();
        assert_eq!(names, ["pc-i440fx-7.2", "pc-q35-7.2"]);
        assert_eq!(known.len(), 2);

        let err = |parts| merge(parts).expect_err("refused").0;
        assert!(err(vec![part(&db, 1, 2, "x", "a")]).contains("missing shard 2/2"));
        assert!(err(vec![part(&db, 1, 2, "x", "a"), part(&db, 1, 2, "y", "a")]).contains("given twice"));
        assert!(err(vec![part(&db, 1, 2, "x", "a"), part(&db, 2, 3, "y", "a")]).contains("not the same run"));
        assert!(err(vec![part(&db, 1, 2, "x", "a"), part(&db, 2, 2, "y", "b")]).contains("not the same build"));
        assert!(err(vec![]).contains("nothing to merge"));
        let (p, mut other) = part(&db, 2, 2, "y", "a");
        other.selection.blake3 = "another database".into();
        assert!(err(vec![part(&db, 1, 2, "x", "a"), (p.clone(), other)]).contains("different selections"));
        let (_, mut extra) = part(&db, 2, 2, "y", "a");
        extra.results.push(extra.results[0].clone());
        assert!(err(vec![part(&db, 1, 2, "x", "a"), (p, extra)]).contains("3 results"));
    }

    #[test]
    fn load_refuses_other_files_and_newer_versions() {
        let tmp = tempfile::tempdir().expect("tmp");
        let db = Db::open_or_create(&tmp.path().join("db")).expect("db");
        let file = tmp.path().join("p.json");
        let (_, p) = part(&db, 1, 1, "pc-q35-7.2", "a");
        let mut v = serde_json::to_value(&p).expect("json");
        std::fs::write(&file, v.to_string()).expect("write");
        assert_eq!(PartialCheck::load(&file).expect("loads").results.len(), 1);
        v["version"] = serde_json::json!(PARTIAL_VERSION + 1);
        std::fs::write(&file, v.to_string()).expect("write");
        assert!(PartialCheck::load(&file)
            .expect_err("newer")
            .0
            .contains("newer than this machine-abi"));
        std::fs::write(&file, "{\"format\": \"machine-abi-report\"}").expect("write");
        assert!(PartialCheck::load(&file)
            .expect_err("other")
            .0
            .contains("not a partial check result"));
        std::fs::write(&file, "{\"format\": \"machine-abi-partial-check\", \"version\": 1").expect("write");
        assert!(PartialCheck::load(&file).expect_err("truncated").0.contains("p.json"));
    }
}
