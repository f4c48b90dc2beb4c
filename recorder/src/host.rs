//! Host-side facts of a machine type, read without booting a guest: the
//! compat tables it applies (from the ELF file), what QMP reports for it
//! (machine properties, default devices, default CPU model) and the
//! migration stream schema (`-dump-vmstate`).

use crate::elf::{CompatProperty, CompatTables};
use crate::qemu::{MachineType, Qemu, Version};
use crate::qmp;
#[cfg(doc)]
use crate::qmp::HostFacts;
use guest_probe::blob::BlobId;
use guest_probe::facts::Probed;
use serde::{Deserialize, Serialize};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// One compat table a machine type applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliedTable {
    /// Table name, e.g. `hw_compat_7_2`.
    pub name: String,
    /// Its entries in binary order.
    pub entries: Vec<CompatProperty>,
}

/// Host-side facts of one machine type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSide {
    /// Compat tables the machine type applies, newest first (QEMU applies
    /// them in this order; for a property set twice the last one wins).
    pub compat: Probed<Vec<AppliedTable>>,
    /// Blob of the machine, device and CPU model facts from QMP, as
    /// canonical JSON ([`HostFacts`]; property values can be 64-bit
    /// unsigned, which TOML cannot hold).
    pub qmp: Probed<BlobId>,
    /// Blob of the `-dump-vmstate` JSON.
    pub vmstate: Probed<BlobId>,
}

impl HostSide {
    /// Every blob the section refers to.
    pub fn blob_ids(&self) -> Vec<BlobId> {
        [self.qmp.available(), self.vmstate.available()]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

/// The QEMU version a table is named after: `hw_compat_7_2` → 7.2.
pub fn table_version(name: &str) -> Option<Version> {
    let v = name
        .strip_prefix("hw_compat_")
        .or_else(|| name.strip_prefix("pc_compat_"))?;
    Version::parse(&v.replace('_', "."))
}

/// The tables a versioned machine type applies: every table named after its
/// version or a later one (`pc_compat_*` only for PC machine types), newest
/// first.
pub fn applied(tables: &CompatTables, machine: &MachineType) -> Vec<AppliedTable> {
    let Some(v) = machine.version() else {
        return Vec::new();
    };
    let is_pc = machine.0.starts_with("pc-");
    let mut out: Vec<(Version, &String, &Vec<CompatProperty>)> = tables
        .iter()
        .filter_map(|(name, entries)| {
            let tv = table_version(name)?;
            let pc_only = name.starts_with("pc_compat_");
            (tv >= v && (is_pc || !pc_only)).then_some((tv, name, entries))
        })
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    out.into_iter()
        .map(|(_, name, entries)| AppliedTable {
            name: name.clone(),
            entries: entries.clone(),
        })
        .collect()
}

/// Run `-dump-vmstate` for a machine type; returns the JSON bytes.
pub fn dump_vmstate(qemu: &Qemu, machine: &MachineType, timeout: Duration) -> Result<Vec<u8>, String> {
    // Unique per call: two dumps of one machine type may run at once.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("machine-abi-vmstate-{}-{machine}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = dir.join("vmstate.json");
    let mut cmd = qemu.command();
    for d in &qemu.data_dirs {
        cmd.arg("-L").arg(d);
    }
    cmd.args(["-M", &machine.0, "-accel", "tcg", "-display", "none", "-dump-vmstate"])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("{}: {e}", qemu.binary.display()))?;
    let started = Instant::now();
    let status = match crate::boot::wait_or_kill(&mut child, started, timeout, false) {
        Ok(Some(s)) => s,
        Ok(None) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("-dump-vmstate of {machine} did not finish within {timeout:?}"));
        }
        Err(e) => return Err(format!("waiting for QEMU: {e}")),
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    let data = std::fs::read(&out);
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        return Err(format!(
            "-dump-vmstate of {machine} exited with {status}: {}",
            stderr.trim()
        ));
    }
    data.map_err(|e| format!("-dump-vmstate of {machine} wrote no file: {e}"))
}

/// Gather the host-side facts of one machine type. Each part that fails is
/// recorded with its reason; the QMP facts and the vmstate dump come back
/// as bytes to be stored as blobs.
pub fn collect(
    qemu: &Qemu,
    machine: &MachineType,
    tables: &Result<CompatTables, String>,
    timeout: Duration,
) -> (HostSide, Vec<Vec<u8>>) {
    let facts = qmp::host_facts(&qemu.binary, &qemu.data_dirs, &machine.0, timeout).map_err(|e| e.to_string());
    let compat = match tables {
        Ok(t) => Probed::Available(applied(t, machine)),
        Err(e) => qmp_fallback(facts.as_ref().ok(), e),
    };
    let mut blobs = Vec::new();
    let mut keep = |r: Result<Vec<u8>, String>| match r {
        Ok(b) => {
            let id = BlobId::of(&b);
            blobs.push(b);
            Probed::Available(id)
        }
        Err(e) => Probed::Unavailable { unavailable: e },
    };
    let qmp = keep(facts.and_then(|f| serde_json::to_vec_pretty(&f).map_err(|e| e.to_string())));
    let vmstate = keep(dump_vmstate(qemu, machine, timeout));
    (HostSide { compat, qmp, vmstate }, blobs)
}

/// Name of the single table that stands for the compat tables when they
/// come from QMP instead of the ELF file.
pub const QMP_COMPAT_TABLE: &str = "query-machines compat-props";

/// Compat properties for a binary whose tables cannot be read from the ELF
/// file (stripped, static): QMP's `compat-props` (QEMU 9.1 and later), as
/// one table in QEMU's order. QMP merges the tables and adds the machine
/// family's own unversioned defaults, so this is close to, not equal to,
/// what the ELF file gives. Without either, the section says why.
fn qmp_fallback(facts: Option<&qmp::HostFacts>, elf_error: &str) -> Probed<Vec<AppliedTable>> {
    let why = match facts.map(|f| &f.machine.compat_props) {
        Some(qmp::CompatProps::Supported(props)) => {
            return Probed::Available(vec![AppliedTable {
                name: QMP_COMPAT_TABLE.into(),
                entries: props
                    .iter()
                    .map(|p| CompatProperty {
                        driver: p.qom_type.clone(),
                        property: p.property.clone(),
                        value: p.value.clone(),
                    })
                    .collect(),
            }])
        }
        Some(qmp::CompatProps::Unsupported(reason)) => format!("QMP cannot say either ({reason})"),
        None => "QMP failed too".into(),
    };
    Probed::Unavailable {
        unavailable: format!("compat tables not readable from the binary ({elf_error}); {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(d: &str, p: &str, v: &str) -> CompatProperty {
        CompatProperty {
            driver: d.into(),
            property: p.into(),
            value: v.into(),
        }
    }

    #[test]
    fn machine_applies_its_own_and_newer_tables_newest_first() {
        let t: CompatTables = [
            ("hw_compat_7_1", vec![prop("virtio-device", "queue_reset", "false")]),
            ("hw_compat_7_2", vec![prop("e1000e", "migrate-timadj", "off")]),
            ("hw_compat_8_0", vec![]),
            ("pc_compat_7_2", vec![prop("ICH9-LPC", "noreboot", "true")]),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
        let names = |m: &str| -> Vec<String> {
            applied(&t, &MachineType(m.into()))
                .into_iter()
                .map(|a| a.name)
                .collect()
        };
        assert_eq!(names("pc-q35-7.2"), ["hw_compat_8_0", "hw_compat_7_2", "pc_compat_7_2"]);
        assert_eq!(names("virt-7.2"), ["hw_compat_8_0", "hw_compat_7_2"]);
        assert!(names("q35").is_empty());
        assert_eq!(table_version("hw_compat_2_12"), Version::parse("2.12"));
        assert_eq!(table_version("other"), None);
    }
}
