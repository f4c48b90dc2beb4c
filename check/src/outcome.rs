//! The outcome of checking one (machine type, profile): an observed record
//! compared with its baseline, with the notes that explain drift not of
//! QEMU's making (a different kernel, probe or firmware).

use crate::compare::facts::{self, BlobSource};
use crate::rules;
use abi_model::blob::BlobId;
use abi_model::drift::{Drift, FactPath, Severity};
use abi_model::facts::Probed;
use abi_model::record::{Record, RecordKey};
use abi_model::{Blobs, MachineType};
use abi_store::Db;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Outcome for one (machine type, profile).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    /// Facts identical to the baseline.
    Clean,
    /// Facts differ.
    Drifted {
        /// Every differing fact.
        drifts: Vec<Drift>,
    },
    /// The machine type could not be checked.
    Failed {
        /// Why.
        error: String,
    },
}

/// One checked machine type.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MachineResult {
    /// Machine type.
    pub machine: MachineType,
    /// Device profile.
    pub profile: String,
    /// The baseline compared against.
    pub baseline: RecordKey,
    /// The baseline's record file.
    pub record: PathBuf,
    /// What happened.
    pub outcome: Outcome,
    /// Differences in inputs between baseline and this run (kernel, probe,
    /// firmware), which can explain drift that is not QEMU's doing.
    pub input_notes: Vec<String>,
    /// Whether the compat entries the machine type applies are the same on
    /// both sides (`None` when either side lacks them): the evidence for an
    /// unversioned change (see [`crate::unversioned`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compat_unchanged: Option<bool>,
    /// The probe that made the observation, when one was booted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<abi_model::provenance::ProbeKind>,
}

impl MachineResult {
    /// A result against `baseline` with no input notes.
    pub fn new(db: &Db, baseline: &RecordKey, profile: &str, outcome: Outcome) -> MachineResult {
        MachineResult {
            machine: baseline.machine.clone(),
            profile: profile.to_string(),
            baseline: baseline.clone(),
            record: db.record_path(baseline),
            outcome,
            input_notes: Vec::new(),
            compat_unchanged: None,
            probe: None,
        }
    }

    /// The database has the machine type, the binary does not: one
    /// `machine-type-removed` drift, which a waiver can accept.
    pub fn removed(db: &Db, baseline: &RecordKey, profile: &str) -> MachineResult {
        let d = rules::drift(
            "machine-type-removed",
            FactPath::new("machine"),
            Some(baseline.machine.0.clone()),
            None,
        );
        MachineResult::new(db, baseline, profile, Outcome::Drifted { drifts: vec![d] })
    }

    /// The profile names device models the binary lacks: one
    /// `profile-device-missing` drift per model.
    pub fn missing_devices(db: &Db, baseline: &RecordKey, profile: &str, models: &[String]) -> MachineResult {
        let drifts = models
            .iter()
            .map(|m| {
                let path = FactPath::new("machine").child("device").child(m);
                rules::drift("profile-device-missing", path, Some("offered".into()), None)
            })
            .collect();
        MachineResult::new(db, baseline, profile, Outcome::Drifted { drifts })
    }

    /// True when the binary no longer offers the machine type.
    pub fn is_removed(&self) -> bool {
        self.drifts().iter().any(|d| d.rule == "machine-type-removed")
    }

    /// The drifts, if any.
    pub fn drifts(&self) -> &[Drift] {
        match &self.outcome {
            Outcome::Drifted { drifts } => drifts,
            _ => &[],
        }
    }

    /// True when this result makes the check fail at `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        match &self.outcome {
            Outcome::Clean => false,
            Outcome::Drifted { drifts } => drifts.iter().any(|d| d.unwaived() && d.severity >= threshold),
            Outcome::Failed { .. } => true,
        }
    }
}

/// Every drift from `baseline` to `observed`: guest-visible facts, then
/// host-side facts when both records have them.
pub fn drifts(baseline: &Record, observed: &Record, ob: BlobSource, nb: BlobSource) -> Vec<Drift> {
    let cross = baseline.provenance.probe.kind != observed.provenance.probe.kind;
    let mut out = match cross
        .then(|| crate::compare::probes::reconcile(&baseline.facts, &observed.facts, ob, nb))
        .flatten()
    {
        Some(r) => {
            let patched_blob = |id: &abi_model::BlobId| r.blobs.get(id).cloned().or_else(|| ob(id));
            let mut out = facts::compare(&r.facts, &observed.facts, &patched_blob, nb);
            out.extend(r.drifts);
            out.sort_by(|x, y| x.path.cmp(&y.path));
            out
        }
        None => facts::compare(&baseline.facts, &observed.facts, ob, nb),
    };
    if cross {
        crate::compare::probes::relabel_payload(
            &mut out,
            baseline.provenance.probe.kind,
            observed.provenance.probe.kind,
        );
    }
    if let (Some(a), Some(b)) = (&baseline.host, &observed.host) {
        let added: std::collections::BTreeSet<String> = profile_devices(&baseline.provenance.command_line)
            .into_iter()
            .chain(profile_devices(&observed.provenance.command_line))
            .collect();
        let host = crate::compare::host::compare(a, b, ob, nb, &added);
        // The device tree a direct boot's guest got is the one QEMU dumps on
        // the host (plus the boot payload): a change the guest saw is
        // reported once, as the guest saw it.
        let guest_tree = FactPath::new("device_tree");
        let host_tree = FactPath::new("host.device_tree");
        let seen: std::collections::BTreeSet<(&str, &Option<String>, &Option<String>)> = out
            .iter()
            .filter(|d| d.path.is_within(&guest_tree))
            .map(|d| (&d.path.as_str()["device_tree".len()..], &d.old, &d.new))
            .collect();
        let cpuid_seen = cpuid_features_changed(&out);
        let host: Vec<Drift> = host
            .into_iter()
            .filter(|d| {
                !(d.path.is_within(&host_tree)
                    && seen.contains(&(&d.path.as_str()["host.device_tree".len()..], &d.old, &d.new)))
            })
            .filter(|d| !restates_cpuid(d, &cpuid_seen))
            .collect();
        out.extend(host);
    }
    crate::devices::name_drifts(&mut out, baseline, observed, ob, nb);
    out
}

/// A CPUID feature name as QEMU's CPU properties and the decoder both
/// spell it: lower case, letters and digits only (`sse4.2`, `sse4_2` and
/// `sse4-2` are one), with QEMU's own name for SSE3.
fn feature_key(name: &str) -> String {
    let key: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if key == "pni" {
        "sse3".into()
    } else {
        key
    }
}

/// The CPUID feature bits the guest saw change, with their new state.
fn cpuid_features_changed(drifts: &[Drift]) -> std::collections::BTreeSet<(String, bool)> {
    drifts
        .iter()
        .filter(|d| d.path.category() == "cpuid")
        .filter_map(|d| {
            let on = match d.new.as_deref()? {
                "1" => true,
                "0" => false,
                _ => return None,
            };
            Some((feature_key(d.path.segments().last()?), on))
        })
        .collect()
}

/// A CPU model property (`host.cpu_model.popcnt`, or the CPU device's own,
/// `host.devices.qemu64-x86_64-cpu.popcnt`) that moved the way a CPUID bit
/// the guest saw moved: the same change, reported once, as the guest saw it.
fn restates_cpuid(d: &Drift, seen: &std::collections::BTreeSet<(String, bool)>) -> bool {
    let s = d.path.segments();
    let cpu = match s.as_slice() {
        [h, m, _] => h == "host" && m == "cpu_model",
        [h, dev, ty, _] => h == "host" && dev == "devices" && ty.ends_with("-cpu"),
        _ => false,
    };
    let on = match d.new.as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => return false,
    };
    cpu && s.last().is_some_and(|f| seen.contains(&(feature_key(f), on)))
}

/// Device models a boot's command line adds with `-device` (the profile's
/// devices): their migration state matters as much as the defaults'. A
/// virtio PCI proxy (`virtio-net-pci`) migrates its device's state under
/// the device's own type (`virtio-net-device`), so both are named.
pub fn profile_devices(command_line: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for w in command_line.windows(2).filter(|w| w[0] == "-device") {
        let Some(model) = w[1].split(',').next() else { continue };
        let stem = ["-pci-non-transitional", "-pci-transitional", "-pci"]
            .iter()
            .find_map(|suffix| model.strip_prefix("virtio-").and_then(|m| m.strip_suffix(suffix)));
        if let Some(stem) = stem {
            out.push(format!("virtio-{stem}-device"));
        }
        out.push(model.to_string());
    }
    out
}

/// Facts the baseline holds that this observation could not read, with the
/// reason: what cannot be compared, so the machine type cannot be checked.
/// (A fact the baseline itself lacks is a drift the reviewer sees instead:
/// the record was written with `--allow-unavailable`.)
pub fn unobserved(baseline: &Record, observed: &Record) -> Vec<String> {
    fn lost<T, U>(out: &mut Vec<String>, what: &str, a: &Probed<T>, b: &Probed<U>) {
        if let (None, Some(reason)) = (a.reason(), b.reason()) {
            out.push(format!("{what}: {reason}"));
        }
    }
    fn lost_items<K: Ord + fmt::Display, T, U>(
        out: &mut Vec<String>,
        what: &str,
        a: &Probed<BTreeMap<K, Probed<T>>>,
        b: &Probed<BTreeMap<K, Probed<U>>>,
    ) {
        lost(out, what, a, b);
        if let (Some(a), Some(b)) = (a.available(), b.available()) {
            for (k, x) in a {
                if let Some(y) = b.get(k) {
                    lost(out, &format!("{what} {k}"), x, y);
                }
            }
        }
    }
    let (a, b) = (&baseline.facts, &observed.facts);
    let mut out = Vec::new();
    lost_items(&mut out, "pci", &a.pci, &b.pci);
    lost_items(&mut out, "acpi", &a.acpi, &b.acpi);
    lost(&mut out, "smbios", &a.smbios, &b.smbios);
    lost(&mut out, "cpuid", &a.cpuid, &b.cpuid);
    lost(&mut out, "memory_map", &a.memory_map, &b.memory_map);
    lost(&mut out, "fw_cfg", &a.fw_cfg, &b.fw_cfg);
    if let (Some(x), Some(y)) = (a.fw_cfg.available(), b.fw_cfg.available()) {
        for (name, f) in &x.files {
            if let (Some(p), Some(q)) = (&f.content, y.files.get(name).and_then(|g| g.content.as_ref())) {
                lost(&mut out, &format!("fw_cfg file {name}"), p, q);
            }
        }
    }
    lost_items(&mut out, "virtio", &a.virtio, &b.virtio);
    if let (Some(x), Some(y)) = (&baseline.host, &observed.host) {
        lost(&mut out, "host compat tables", &x.compat, &y.compat);
        lost(&mut out, "host QMP facts", &x.qmp, &y.qmp);
        lost(&mut out, "host -dump-vmstate", &x.vmstate, &y.vmstate);
    }
    out
}

/// Reads one side's blobs for a comparison. The error of a blob that
/// cannot be read (missing, or its bytes no longer match its blake3 name)
/// names the blob file and the record that refers to it.
pub type BlobRead<'a> = &'a dyn Fn(&BlobId) -> Result<Vec<u8>, String>;

/// The blobs of `db`, read for the record in `record_file`: verified on
/// every read.
pub fn db_blobs<'a>(db: &'a Db, record_file: &'a Path) -> impl Fn(&BlobId) -> Result<Vec<u8>, String> + 'a {
    move |id| {
        db.blob(id)
            .map_err(|e| format!("{e}; used by {}", record_file.display()))
    }
}

/// Compare an observed record with its baseline. A fact the baseline holds
/// and the observation could not read, or a blob that one side cannot read,
/// makes the result "could not check", naming the fact, or the blob and
/// its record: a comparison without it could miss drift or misname it.
pub fn compare_records(db: &Db, baseline: &Record, observed: &Record, ob: BlobRead, nb: BlobRead) -> MachineResult {
    let missing = unobserved(baseline, observed);
    if !missing.is_empty() {
        let error = format!(
            "could not observe what the baseline holds, so it cannot be compared: {}",
            missing.join("; ")
        );
        return MachineResult::new(db, &baseline.key, &observed.key.profile, Outcome::Failed { error });
    }
    let unread = RefCell::new(BTreeSet::new());
    let tracked = |read: BlobRead, id: &BlobId| match read(id) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            unread.borrow_mut().insert(e);
            None
        }
    };
    let drifts = drifts(baseline, observed, &|id| tracked(ob, id), &|id| tracked(nb, id));
    let unread = unread.into_inner();
    if !unread.is_empty() {
        let error = format!(
            "cannot read {}: {}",
            if unread.len() == 1 { "a blob" } else { "blobs" },
            unread.into_iter().collect::<Vec<_>>().join("; ")
        );
        return MachineResult::new(db, &baseline.key, &observed.key.profile, Outcome::Failed { error });
    }
    let outcome = if drifts.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Drifted { drifts }
    };
    let mut result = MachineResult::new(db, &baseline.key, &observed.key.profile, outcome);
    let compat = |r: &Record| r.host.as_ref().and_then(|h| h.compat.available().cloned());
    result.compat_unchanged = match (compat(baseline), compat(observed)) {
        (Some(a), Some(b)) => Some(a == b),
        _ => None,
    };
    result.probe = Some(observed.provenance.probe.kind);
    result
}

/// Compare a fresh observation (its blobs still in memory) with its baseline.
pub fn compare(db: &Db, baseline: &Record, observed: &Record, blobs: &Blobs) -> MachineResult {
    let file = db.record_path(&baseline.key);
    let in_memory = |id: &BlobId| {
        blobs
            .get(id)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| format!("blob {id} is missing from the observation of {}", observed.key))
    };
    let mut result = compare_records(db, baseline, observed, &db_blobs(db, &file), &in_memory);
    // Input differences first: they may explain everything after them.
    result.input_notes.splice(0..0, input_notes(baseline, observed));
    result
}

fn input_notes(baseline: &Record, observed: &Record) -> Vec<String> {
    let (a, b) = (&baseline.provenance, &observed.provenance);
    let mut notes = Vec::new();
    if a.probe.kind != b.probe.kind {
        notes.push(format!(
            "made by the {} probe, the baseline by the {} probe: registers the OS writes at boot are compared as \
             probe-os-written (info)",
            b.probe.kind, a.probe.kind
        ));
    }
    match (&a.kernel, &b.kernel) {
        (Some(x), Some(y)) if x.blake3 != y.blake3 => notes.push(format!(
            "guest kernel differs from the baseline's ({} → {})",
            x.version, y.version
        )),
        _ => {}
    }
    if a.probe.kind == b.probe.kind && a.probe.blake3 != b.probe.blake3 {
        notes.push(format!(
            "probe binary differs from the baseline's (version {} blake3 {:.12} → version {} blake3 {:.12})",
            a.probe.version, a.probe.blake3, b.probe.version, b.probe.blake3
        ));
    }
    if a.firmware.bios_blake3 != b.firmware.bios_blake3 {
        notes.push(format!(
            "BIOS differs from the baseline's ({} → {})",
            a.firmware.bios_version.as_deref().unwrap_or("?"),
            b.firmware.bios_version.as_deref().unwrap_or("?")
        ));
    }
    if baseline.host.is_none() && observed.host.is_some() {
        notes.push(
            "the baseline has no host-side facts (recorded before they existed); re-record it to compare them".into(),
        );
    }
    // Where the firmware comes from (-L, one per data directory) is not the
    // machine: a build tree searches more directories than a package. The
    // firmware itself is compared above.
    let without_data_dirs = |line: &[String]| -> Vec<String> {
        let mut out = Vec::new();
        let mut it = line.iter().skip(1);
        while let Some(a) = it.next() {
            if a == "-L" {
                it.next();
            } else {
                out.push(a.clone());
            }
        }
        out
    };
    if without_data_dirs(&a.command_line) != without_data_dirs(&b.command_line) {
        notes.push("QEMU command line differs from the baseline's".into());
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_model::drift::Category;
    use abi_model::Version;

    #[test]
    fn profile_devices_name_virtio_devices_by_their_state_type() {
        let line: Vec<String> = [
            "-m",
            "512",
            "-device",
            "virtio-net-pci,id=n,addr=0x8",
            "-device",
            "e1000,id=e",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(profile_devices(&line), ["virtio-net-device", "virtio-net-pci", "e1000"]);
        assert!(profile_devices(&line[..2]).is_empty());
    }

    #[test]
    fn removed_types_and_missing_devices_are_waivable_breaks() {
        let tmp = tempfile::tempdir().expect("tmp");
        let db = Db::open_or_create(tmp.path()).expect("db");
        let key = RecordKey {
            arch: "x86_64".into(),
            machine: MachineType("pc-i440fx-1.4".into()),
            profile: "virtio".into(),
            qemu_version: Version::parse("7.2.22").expect("version"),
        };
        let gone = MachineResult::removed(&db, &key, "virtio");
        assert!(gone.is_removed() && gone.fails(Severity::Break));
        let d = &gone.drifts()[0];
        assert_eq!(
            (d.rule.as_str(), d.category, d.path.to_string()),
            ("machine-type-removed", Category::Machine, "machine".into())
        );
        assert_eq!(d.old.as_deref(), Some("pc-i440fx-1.4"));
        let models = ["virtio-9p-pci".to_string(), "virtio-gpu-pci".to_string()];
        let missing = MachineResult::missing_devices(&db, &key, "virtio", &models);
        assert!(!missing.is_removed() && missing.fails(Severity::Break));
        let paths: Vec<String> = missing.drifts().iter().map(|d| d.path.to_string()).collect();
        assert_eq!(paths, ["machine.device.virtio-9p-pci", "machine.device.virtio-gpu-pci"]);
        assert!(missing.drifts().iter().all(|d| d.rule == "profile-device-missing"));
    }
}
