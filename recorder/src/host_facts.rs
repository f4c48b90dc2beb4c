//! Host-side facts of a machine type, read without booting a guest: the
//! compat tables it applies (from the ELF file), what QMP reports for it
//! (machine properties, default devices, default CPU model), the
//! migration stream schema (`-dump-vmstate`) and, where the machine
//! describes itself with one (Arm's virt), the device tree QEMU generates
//! (`-machine …,dumpdtb=FILE`).

use crate::boot::BootSettings;
use crate::qemu::Qemu;
use crate::qmp;
use abi_model::blob::BlobId;
use abi_model::facts::Probed;
use abi_model::host::{applied, AppliedTable, CompatProperty, CompatProps, CompatTables, HostSide};
use abi_model::MachineType;
use std::time::Duration;

/// Run `-dump-vmstate` for a machine type; returns the JSON bytes.
pub fn dump_vmstate(qemu: &Qemu, machine: &MachineType, timeout: Duration) -> Result<Vec<u8>, String> {
    let dir = abi_process::Scratch::new("vmstate").map_err(|e| format!("scratch directory: {e}"))?;
    let out = dir.path().join("vmstate.json");
    let mut cmd = qemu.command();
    for d in &qemu.data_dirs {
        cmd.arg("-L").arg(d);
    }
    cmd.args(["-M", &machine.0, "-accel", "tcg", "-display", "none", "-dump-vmstate"])
        .arg(&out);
    let run = abi_process::output(&mut cmd, timeout).map_err(|e| match e {
        abi_process::RunError::Timeout(_) => format!("-dump-vmstate of {machine} did not finish within {timeout:?}"),
        e => format!("{}: {e}", qemu.binary.display()),
    })?;
    let (status, stderr) = (run.status, String::from_utf8_lossy(&run.stderr).into_owned());
    let data = std::fs::read(&out);
    if !status.success() {
        return Err(format!(
            "-dump-vmstate of {machine} exited with {status}: {}",
            stderr.trim()
        ));
    }
    data.map_err(|e| format!("-dump-vmstate of {machine} wrote no file: {e}"))
}

/// Run `-machine MACHINE,…,dumpdtb=FILE`: QEMU builds the machine with the
/// boot's vCPU model, memory, vCPU count and machine options
/// (`dtb-randomness=off`), writes the device tree it would hand the guest
/// and exits. No kernel is given, so `/chosen` holds no boot payload; the
/// trailing free space (zeros up to the blob's `totalsize`) is dropped as
/// the probe drops it from `/sys/firmware/fdt`.
pub fn dump_dtb(qemu: &Qemu, machine: &MachineType, s: &BootSettings) -> Result<Vec<u8>, String> {
    let dir = abi_process::Scratch::new("dtb").map_err(|e| format!("scratch directory: {e}"))?;
    let out = dir.path().join("machine.dtb");
    let mut cmd = qemu.command();
    for d in &qemu.data_dirs {
        cmd.arg("-L").arg(d);
    }
    let mut value = vec![machine.0.clone()];
    value.extend(s.machine_options.iter().cloned());
    value.push(format!("dumpdtb={}", out.display()));
    cmd.arg("-machine").arg(value.join(","));
    if let Some(cpu) = &s.cpu {
        cmd.args(["-cpu", cpu]);
    }
    cmd.args([
        "-accel", "tcg", "-display", "none", "-monitor", "none", "-serial", "none",
    ])
    .args(["-m", &s.memory_mib.to_string(), "-smp", &s.cpus.to_string()]);
    let run = abi_process::output(&mut cmd, s.timeout).map_err(|e| match e {
        abi_process::RunError::Timeout(_) => format!("dumpdtb of {machine} did not finish within {:?}", s.timeout),
        e => format!("{}: {e}", qemu.binary.display()),
    })?;
    if !run.status.success() {
        return Err(format!(
            "dumpdtb of {machine} exited with {}: {}",
            run.status,
            String::from_utf8_lossy(&run.stderr).trim()
        ));
    }
    let mut data = std::fs::read(&out).map_err(|e| format!("dumpdtb of {machine} wrote no file: {e}"))?;
    if data.get(..4) != Some(&[0xd0, 0x0d, 0xfe, 0xed][..]) {
        return Err(format!("dumpdtb of {machine} wrote no device tree (bad magic)"));
    }
    let used = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    data.truncate(used);
    Ok(data)
}

/// Gather the host-side facts of one machine type. Each part that fails is
/// recorded with its reason; the QMP facts and the vmstate dump come back
/// as bytes to be stored as blobs.
pub fn collect(
    qemu: &Qemu,
    machine: &MachineType,
    tables: &Result<CompatTables, String>,
    settings: &BootSettings,
    device_tree: bool,
) -> (HostSide, Vec<Vec<u8>>) {
    let timeout = settings.timeout;
    let facts = qmp::host_facts(qemu, &machine.0, timeout).map_err(|e| e.to_string());
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
    let device_tree = device_tree.then(|| keep(dump_dtb(qemu, machine, settings)));
    (
        HostSide {
            compat,
            qmp,
            vmstate,
            device_tree,
        },
        blobs,
    )
}

/// Name of the single table that stands for the compat tables when they
/// come from QMP instead of the ELF file.
pub const QMP_COMPAT_TABLE: &str = "query-machines compat-props";

/// Compat properties for a binary whose tables cannot be read from the ELF
/// file (stripped, static): QMP's `compat-props` (QEMU 9.1 and later), as
/// one table in QEMU's order. QMP merges the tables and adds the machine
/// family's own unversioned defaults, so this is close to, not equal to,
/// what the ELF file gives. Without either, the section says why.
fn qmp_fallback(facts: Option<&abi_model::host::HostFacts>, elf_error: &str) -> Probed<Vec<AppliedTable>> {
    let why = match facts.map(|f| &f.machine.compat_props) {
        Some(CompatProps::Supported(props)) => {
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
        Some(CompatProps::Unsupported(reason)) => format!("QMP cannot say either ({reason})"),
        None => "QMP failed too".into(),
    };
    Probed::Unavailable {
        unavailable: format!("compat tables not readable from the binary ({elf_error}); {why}"),
    }
}
