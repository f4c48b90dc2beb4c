//! A real migration between two QEMU builds, as proof of what a vmstate
//! finding predicts: the source runs the machine type with a profile's
//! devices, paused and never started (`-S`; enough to exercise every
//! device's stream, as `abi-db/findings/esp-migration.sh` showed), and
//! migrates into a file (`exec:cat > FILE`); the destination, started with
//! `-incoming defer` and the same devices, loads that file. The outcome is
//! QEMU's own: the load completes, or fails with its message ("Missing
//! section footer for 0000:00:0c.0/pciespscsi").

use crate::profile::{Profile, SHARE_PLACEHOLDER};
use crate::qemu::Qemu;
use crate::qmp::{Qmp, QmpError, QmpErrorKind};
use abi_model::MachineType;
use serde_json::{json, Value};
use std::fmt;
use std::time::{Duration, Instant};

/// What the destination made of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The load completed (the stream was accepted; fields whose sizes
    /// happen to match may still be misread).
    Loaded,
    /// The load failed; QEMU's lines saying why.
    Failed(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Loaded => f.write_str("loaded"),
            Outcome::Failed(why) => write!(f, "load fails ({why})"),
        }
    }
}

/// The QEMU arguments of `profile` (backends, devices, globals), with its
/// shared directory at `share`, and the `-M` value with its options.
fn machine_and_args(machine: &MachineType, profile: &Profile, share: &str) -> (String, Vec<String>) {
    let m = std::iter::once(machine.0.clone())
        .chain(profile.machine_options.iter().cloned())
        .collect::<Vec<_>>()
        .join(",");
    let args = profile
        .args()
        .into_iter()
        .map(|a| a.replace(SHARE_PLACEHOLDER, share))
        .collect();
    (m, args)
}

/// What [`wait_migration`] says when the deadline passed: no verdict on the
/// stream, so never a proven load failure.
const TIMED_OUT: &str = "did not finish in time";

/// Ask `query-migrate` until the migration is over: `Ok(None)` when it
/// completed, `Ok(Some(error))` when it failed.
fn wait_migration(qmp: &mut Qmp, deadline: Instant) -> Result<Option<String>, QmpError> {
    loop {
        let r = qmp.execute("query-migrate", None)?;
        match r.get("status").and_then(Value::as_str) {
            Some("completed") => return Ok(None),
            Some("failed") | Some("cancelled") => {
                let why = r.get("error-desc").and_then(Value::as_str).unwrap_or("failed");
                return Ok(Some(why.to_string()));
            }
            _ if Instant::now() >= deadline => return Ok(Some(TIMED_OUT.into())),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The lines of QEMU's stderr that say why a load failed.
fn reason(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(|l| l.trim_start_matches("qemu-system-x86_64: ").trim())
        .filter(|l| !l.is_empty() && !l.starts_with("terminating on signal"))
        .collect();
    if lines.is_empty() {
        "QEMU exited without a message".into()
    } else {
        lines.join("; ")
    }
}

/// A device of the profile the source refused to migrate at all, so the
/// migration went without it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftOut {
    /// The device model (`-device` driver), e.g. `nvme`.
    pub driver: String,
    /// The migration section id QEMU named, e.g. `0000:00:0b.0/nvme`.
    pub section: String,
}

/// What a migration showed, and which of the profile's devices had to be
/// left out because QEMU refuses to migrate them at all (`nvme`: "State
/// blocked by non-migratable device").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    /// The destination's verdict.
    pub outcome: Outcome,
    /// Devices left out, in the order QEMU named them.
    pub left_out: Vec<LeftOut>,
}

impl fmt::Display for Migration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.outcome)?;
        if !self.left_out.is_empty() {
            let names: Vec<&str> = self.left_out.iter().map(|l| l.driver.as_str()).collect();
            write!(f, " (without {}: not migratable)", names.join(", "))?;
        }
        Ok(())
    }
}

/// The section QEMU names in "State blocked by non-migratable device
/// '0000:00:0b.0/nvme'", and its description name: (`0000:00:0b.0/nvme`,
/// `nvme`).
fn blocked_device(error: &str) -> Option<(String, String)> {
    let (_, rest) = error.split_once("non-migratable device '")?;
    let id = rest.split('\'').next()?;
    Some((id.to_string(), id.rsplit('/').next().unwrap_or(id).to_string()))
}

/// Migrate a never-started `machine` with `profile`'s devices from `src`
/// to `dst`. A device QEMU refuses to migrate at all is left out (and
/// named). `Err` when the migration could not be tried (a QEMU that does
/// not start, a source that cannot save); the destination's verdict is the
/// [`Outcome`].
pub fn migrate(
    src: &Qemu,
    dst: &Qemu,
    machine: &MachineType,
    profile: &Profile,
    timeout: Duration,
) -> Result<Migration, String> {
    let mut profile = profile.clone();
    let mut left_out = Vec::new();
    loop {
        match migrate_once(src, dst, machine, &profile, timeout) {
            Err(e) => match blocked_device(&e) {
                Some((section, model))
                    if !left_out.iter().any(|l: &LeftOut| l.driver == model)
                        && profile.devices.iter().any(|d| d.driver == model) =>
                {
                    profile.devices.retain(|d| d.driver != model);
                    left_out.push(LeftOut { driver: model, section });
                }
                _ => return Err(e),
            },
            Ok(outcome) => return Ok(Migration { outcome, left_out }),
        }
    }
}

fn migrate_once(
    src: &Qemu,
    dst: &Qemu,
    machine: &MachineType,
    profile: &Profile,
    timeout: Duration,
) -> Result<Outcome, String> {
    let dir = abi_process::Scratch::new("migrate").map_err(|e| format!("scratch directory: {e}"))?;
    let share = dir.path().join("share");
    std::fs::create_dir(&share).map_err(|e| format!("{}: {e}", share.display()))?;
    let stream = dir.path().join("stream");
    let (m, args) = machine_and_args(machine, profile, &share.to_string_lossy());
    let deadline = Instant::now() + timeout;
    let stream_uri = |redirect: &str| format!("exec:cat {redirect}'{}'", stream.display());
    // The source saves.
    {
        let mut qmp = Qmp::start_args(src, &m, &args, timeout).map_err(|e| format!("source: {e}"))?;
        qmp.execute("migrate", Some(json!({"uri": stream_uri("> ")})))
            .map_err(|e| format!("source: {e}"))?;
        if let Some(why) = wait_migration(&mut qmp, deadline).map_err(|e| format!("source: {e}"))? {
            return Err(format!("source could not save its state: {why}"));
        }
    }
    // The destination loads.
    let mut incoming = args.clone();
    incoming.extend(["-incoming".into(), "defer".into()]);
    let mut qmp = Qmp::start_args(dst, &m, &incoming, timeout).map_err(|e| format!("destination: {e}"))?;
    // Only what QEMU says once the load began is about the stream: warnings
    // of its start ("Machine type 'pc-q35-7.2' is deprecated", "hub 0 is
    // not connected to host network") are not.
    let mark = qmp.stderr_mark();
    let exited = |qmp: &Qmp, e: QmpError| match e.kind {
        QmpErrorKind::Exited { .. } => Ok(Outcome::Failed(reason(&qmp.stderr_since(mark)))),
        _ => Err(format!("destination: {e}")),
    };
    if let Err(e) = qmp.execute("migrate-incoming", Some(json!({"uri": stream_uri("")}))) {
        return exited(&qmp, e);
    }
    match wait_migration(&mut qmp, deadline) {
        Ok(None) => Ok(Outcome::Loaded),
        Ok(Some(why)) if why == TIMED_OUT => Err(format!("destination: the load {TIMED_OUT}")),
        Ok(Some(why)) => Ok(Outcome::Failed(why)),
        Err(e) => exited(&qmp, e),
    }
}

/// The `-kernel` loader ROMs: a migration loads no kernel, so none of them.
const LOADERS: [&str; 4] = [
    "multiboot_dma.bin",
    "multiboot.bin",
    "linuxboot_dma.bin",
    "linuxboot.bin",
];

/// Refuse, before any boot, a `qemu` that cannot start a migration of the
/// pairs in `work`: the first file a pair would load from the data
/// directories (the BIOS, the vapic ROM, the default VGA's and NICs' and
/// the profile's option ROMs; see [`crate::datafiles`]) that none of them
/// holds, named with what loads it.
pub fn check_files(qemu: &Qemu, work: &[(MachineType, &Profile)]) -> Result<(), String> {
    let bytes = std::fs::read(&qemu.binary).map_err(|e| format!("{}: {e}", qemu.binary.display()))?;
    // Without readable compat tables no romfile override is known: the
    // defaults are checked, which is what QEMU loads for most machine types.
    let compat = crate::elf::compat_tables(&bytes).unwrap_or_default();
    let arch = "x86_64";
    // The display and NIC a machine type creates by itself, asked of this
    // binary once per type (their ROMs differ by type: cirrus-vga, e1000).
    let mut own: std::collections::BTreeMap<&MachineType, Option<Vec<String>>> = Default::default();
    for (machine, profile) in work {
        let applied = abi_model::host::applied(&compat, machine);
        let own = own.entry(machine).or_insert_with(|| {
            crate::qmp::default_device_types(qemu, &machine.0, std::time::Duration::from_secs(30)).ok()
        });
        let needed = crate::datafiles::needed(
            arch,
            machine,
            profile,
            abi_model::provenance::ProbeKind::Bare,
            &applied,
            &|_| false,
            own.as_deref(),
        );
        for n in needed.into_iter().filter(|n| !LOADERS.contains(&n.file.as_str())) {
            if qemu.find_data_file(&n.file).is_none() {
                let dirs: Vec<String> = qemu.data_dirs.iter().map(|d| d.display().to_string()).collect();
                return Err(format!(
                    "{}: {} ({}, for {machine} with the {} profile) is in none of its data directories ({})",
                    qemu.binary.display(),
                    n.file,
                    n.why,
                    profile.name,
                    if dirs.is_empty() {
                        "none given".to_string()
                    } else {
                        dirs.join(", ")
                    }
                ));
            }
        }
    }
    Ok(())
}

/// Both directions between a release and a build: (release → build,
/// build → release).
pub fn both_ways(
    release: &Qemu,
    build: &Qemu,
    machine: &MachineType,
    profile: &Profile,
    timeout: Duration,
) -> (Result<Migration, String>, Result<Migration, String>) {
    (
        migrate(release, build, machine, profile, timeout),
        migrate(build, release, machine, profile, timeout),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reasons_keep_qemus_words() {
        let stderr = "qemu-system-x86_64: Missing section footer for 0000:00:0c.0/pciespscsi\n\
                      qemu-system-x86_64: load of migration failed: Invalid argument\n";
        assert_eq!(
            reason(stderr),
            "Missing section footer for 0000:00:0c.0/pciespscsi; load of migration failed: Invalid argument"
        );
        assert_eq!(reason(""), "QEMU exited without a message");
        let e = "source: QEMU q -M pc-q35-7.2: migrate: GenericError: State blocked by non-migratable device \
                 '0000:00:0b.0/nvme'";
        assert_eq!(
            blocked_device(e),
            Some(("0000:00:0b.0/nvme".to_string(), "nvme".to_string()))
        );
    }

    /// A pinned build as the tool runs it: its data directories, and the
    /// root it runs in for the suite builds; `None` (after saying so) when
    /// the fixture is missing, a failure under CI.
    fn pinned(dir: &str, sysroot: Option<&str>) -> Option<Qemu> {
        let root = testkit::fixture_dir();
        let binary = root.join(dir).join("usr/bin/qemu-system-x86_64");
        let sysroot = sysroot.map(|s| root.join(s));
        let mut need = vec![binary.clone()];
        need.extend(sysroot.clone());
        if !testkit::require(&format!("migration with {dir}"), &need) {
            return None;
        }
        let mut q = Qemu::new(
            binary,
            vec![root.join("firmware"), root.join(dir).join("usr/share/qemu")],
        );
        q.sysroot = sysroot;
        Some(q)
    }

    #[test]
    fn a_failed_load_is_told_without_the_destinations_startup_warnings() {
        // 11.1.3 warns at start that pc-q35-7.2 is deprecated; then it
        // fails to load 7.2.22's am53c974 (F1). Only the failure is the
        // load's. 7.2.22 refuses to migrate the storage profile's nvme.
        let (Some(src), Some(dst)) = (
            pinned("qemu-7.2", None),
            pinned("qemu-11.1", Some("sysroot-trixie-backports")),
        ) else {
            return;
        };
        let set = crate::profile::Profiles::builtin().expect("profiles");
        let storage = set.get("storage").expect("storage");
        let m = MachineType("pc-q35-7.2".into());
        let got = migrate(&src, &dst, &m, storage, Duration::from_secs(60)).expect("migration tried");
        let left_out: Vec<&str> = got.left_out.iter().map(|l| l.section.as_str()).collect();
        assert_eq!(left_out, ["0000:00:0b.0/nvme"], "{got}");
        let Outcome::Failed(why) = &got.outcome else {
            panic!("loaded: {got}");
        };
        assert!(
            why.starts_with("Missing section footer for 0000:00:0c.0/pciespscsi"),
            "{why}"
        );
        assert!(!why.contains("deprecated"), "{why}");
    }

    #[test]
    fn profile_args_get_the_share_and_machine_options() {
        let set = crate::profile::Profiles::builtin().expect("profiles");
        let (m, args) = machine_and_args(
            &MachineType("pc-q35-7.2".into()),
            set.get("virtio").expect("virtio"),
            "/s",
        );
        assert_eq!(m, "pc-q35-7.2");
        assert!(args.iter().any(|a| a.contains("path=/s,")), "{args:?}");
        assert!(args.iter().any(|a| a.starts_with("virtio-blk-pci")), "{args:?}");
    }
}
