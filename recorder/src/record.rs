//! Recording: prepare the probes once (the bare probe's image; the Linux
//! probe's initramfs when a kernel is given), boot every requested machine
//! type (in parallel) with the probe its kind calls for, verify what came
//! back and return typed captures with full provenance.

use crate::boot::{self, BootFiles, BootSettings};
use crate::host_facts;
use crate::initramfs::Initramfs;
use crate::kmod::ModuleTree;
use crate::profile::Profile;
use crate::qemu::{file_blake3, Qemu};
use abi_model::host::CompatTables;
use abi_model::host::HostSide;
use abi_model::provenance::{Firmware, Kernel, Probe, ProbeKind, Provenance, QemuIdentity};
use abi_model::record::{Record, RecordKey, RECORD_SCHEMA};
use abi_model::{Blobs, MachineType};
use abi_process::Scratch;
use guest_probe::collect::{Collection, CollectionError};
use guest_probe::frame::{self, Entry, FrameError};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Accelerator every recording uses: deterministic, and KVM is not available
/// on the machines this runs on.
pub const ACCELERATOR: &str = "tcg";

/// What a successful boot yields: a record and the blobs it refers to.
#[derive(Clone, Debug)]
pub struct Capture {
    /// The record: key, provenance, guest facts and host-side facts.
    pub record: Record,
    /// Every blob the record refers to, verified (guest and host side).
    pub blobs: Blobs,
    /// Extra `capture/…` entries (fixture tree), when asked for.
    pub fixture: Vec<Entry>,
    /// Wall time of the boot.
    pub boot_time: Duration,
}

/// Why a machine type could not be recorded.
#[derive(Debug)]
pub struct RecordError {
    /// Machine type.
    pub machine: MachineType,
    /// Device profile.
    pub profile: String,
    /// Cause.
    pub cause: Cause,
    /// Last lines of the serial console, if any were captured.
    pub serial_tail: String,
}

/// The cause of a [`RecordError`].
#[derive(Debug)]
pub enum Cause {
    /// QEMU crashed, hung or could not start.
    Boot(boot::BootError),
    /// The serial stream is missing, truncated or corrupt.
    Stream(FrameError),
    /// The stream decoded but its contents do not hold together.
    Content(CollectionError),
    /// Local I/O (scratch files).
    Io(String),
    /// The profile names device models this QEMU build does not have;
    /// nothing was booted.
    MissingDevices(Vec<String>),
    /// Host-side facts could not be gathered (QEMU crashed, hung or lied
    /// while being asked); without `allow_unavailable` nothing is recorded.
    HostFacts(Vec<String>),
    /// The bare probe's boot failed (no hand-over, a fault, QEMU gone, a
    /// request timed out or came back short).
    Bare(Box<crate::bare::BareError>),
    /// A file the boot would load is in no data directory; nothing was
    /// booted.
    MissingFile(Box<MissingFile>),
}

/// A file a boot would load that no data directory has.
#[derive(Debug)]
pub struct MissingFile {
    /// The file.
    pub file: String,
    /// What loads it.
    pub why: String,
    /// The data directories searched, in order.
    pub searched: Vec<PathBuf>,
}

impl RecordError {
    /// The device models the profile needs and the binary lacks, when that
    /// is why nothing was recorded.
    pub fn missing_devices(&self) -> Option<&[String]> {
        match &self.cause {
            Cause::MissingDevices(d) => Some(d),
            _ => None,
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): ", self.machine, self.profile)?;
        match &self.cause {
            Cause::Boot(e) => write!(f, "{e}")?,
            Cause::Bare(e) => write!(f, "{e}")?,
            Cause::Stream(e) => write!(f, "probe stream: {e}")?,
            Cause::Content(e) => write!(f, "probe output: {e}")?,
            Cause::Io(e) => write!(f, "{e}")?,
            Cause::HostFacts(reasons) => write!(
                f,
                "host-side facts could not be gathered: {} (record with --allow-unavailable to keep such a record)",
                reasons.join("; ")
            )?,
            Cause::MissingFile(m) => write!(
                f,
                "{} ({}) is in no data directory ({}); not booted: add a directory that has it with \
                 --data-dir",
                m.file,
                m.why,
                if m.searched.is_empty() {
                    "none given".to_string()
                } else {
                    m.searched
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )?,
            Cause::MissingDevices(d) => write!(
                f,
                "profile needs device model{} {} which this QEMU build does not have; not booted",
                if d.len() == 1 { "" } else { "s" },
                d.join(", ")
            )?,
        }
        if !self.serial_tail.is_empty() && !matches!(self.cause, Cause::Boot(_)) {
            write!(f, "\n  last serial lines:\n{}", indent(&self.serial_tail))?;
        }
        Ok(())
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

impl std::error::Error for RecordError {}

/// Why the recorder could not even be set up.
#[derive(Debug)]
pub struct SetupError(pub String);

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

/// Inputs of a recording run.
pub struct RecorderConfig {
    /// QEMU and its data dirs.
    pub qemu: Qemu,
    /// Which probe boots: one for every machine type, or `None` for each
    /// machine type's default ([`ProbeKind::default_for`]).
    pub probe_kind: Option<ProbeKind>,
    /// Guest kernel image; only the Linux probe needs one.
    pub kernel: Option<PathBuf>,
    /// Module tree of that kernel (needed only when modules are asked for).
    pub modules_dir: Option<PathBuf>,
    /// Modules the probe loads as PID 1.
    pub modules: Vec<String>,
    /// The static Linux probe binary (used with a kernel).
    pub probe: PathBuf,
    /// Boot settings.
    pub settings: BootSettings,
    /// Ask the probe to also send its fixture tree.
    pub capture_fixture: bool,
    /// Also gather host-side facts (compat tables, QMP, vmstate) per machine type.
    pub host_facts: bool,
    /// Keep a capture whose host-side facts could not all be gathered (the
    /// reasons go into the record); otherwise such a boot is an error.
    pub allow_unavailable: bool,
    /// Boots that crash (killed by a signal) or hang are tried this many
    /// more times: TCG has rare, timing-dependent aborts that have nothing to
    /// do with the machine type. A boot that QEMU refuses is never retried.
    pub retries: usize,
}

impl RecordError {
    /// A crash or a hang, which a retry may get past.
    fn transient(&self) -> bool {
        match &self.cause {
            Cause::Bare(e) => e.transient(),
            Cause::Boot(boot::BootError::Timeout { .. }) => true,
            Cause::Boot(boot::BootError::Exited { signal, .. }) => signal.is_some(),
            // The guest kernel died before the probe ran: under TCG on a
            // loaded host its early timer check can fail ("IO-APIC + timer
            // doesn't work!"), which says nothing about the machine type.
            Cause::Stream(FrameError::NoBegin) => self.serial_tail.contains("Kernel panic"),
            _ => false,
        }
    }
}

/// Host-side facts of a machine type and the blobs they refer to.
type HostCapture = (HostSide, Vec<Vec<u8>>);
/// The QOM types of the devices a machine type creates by itself, when
/// QEMU could say.
type OwnDevices = Option<Vec<String>>;

/// The Linux probe, ready to boot: the kernel, and the initramfs built
/// around the probe binary.
struct LinuxProbe {
    kernel_path: PathBuf,
    kernel: Kernel,
    probe: Probe,
    initrd: PathBuf,
}

/// The bare probe, ready to boot: its image written to the scratch directory.
struct BareProbe {
    image: PathBuf,
    probe: Probe,
}

/// edk2's images for UEFI boots (aarch64): the code, read-only, and the
/// variable store template every boot gets a fresh copy of.
struct Uefi {
    code: PathBuf,
    vars: PathBuf,
}

/// A prepared recorder: probes ready, inputs hashed.
pub struct Recorder {
    config: RecorderConfig,
    uefi: Option<Uefi>,
    identity: QemuIdentity,
    target_arch: String,
    firmware: Firmware,
    linux: Option<LinuxProbe>,
    bare: BareProbe,
    scratch: Scratch,
    /// Empty directory profiles may share with the guest (`$SHARE`).
    share: PathBuf,
    /// Device models the binary offers (`-device help`).
    devices: std::collections::BTreeSet<String>,
    /// The binary's compat tables, read once.
    compat: Result<CompatTables, String>,
    /// The `-kernel` loader ROMs the binary names (QEMU 5.2 has no
    /// multiboot_dma.bin).
    loaders: std::collections::BTreeSet<&'static str>,
    /// Host-side facts per machine type, shared by its profiles; gathered
    /// once even when two profiles of a machine type boot at the same time.
    host_cache: Mutex<BTreeMap<MachineType, Arc<OnceLock<HostCapture>>>>,
    /// The QOM types of the devices each machine type creates by itself
    /// (QMP), for the ROMs its boots load; `None` when QEMU could not say.
    own_devices: Mutex<BTreeMap<MachineType, Arc<OnceLock<OwnDevices>>>>,
}

impl Recorder {
    /// Hash the inputs, write the bare probe's image and, when a kernel is
    /// given, build the Linux probe's initramfs.
    pub fn new(mut config: RecorderConfig) -> Result<Recorder, SetupError> {
        let e = |what: &str, p: &Path, err: &dyn fmt::Display| SetupError(format!("{what} {}: {err}", p.display()));
        config
            .qemu
            .check_data_dirs()
            .map_err(|err| SetupError(err.to_string()))?;
        let identity = config.qemu.identity().map_err(|err| SetupError(err.to_string()))?;
        let target_arch = config.qemu.target_arch().map_err(|err| SetupError(err.to_string()))?;
        crate::arch::adapt(&mut config.settings, &target_arch);
        if config.probe_kind == Some(ProbeKind::Bare) && target_arch != "x86_64" {
            return Err(SetupError(format!(
                "the bare probe boots x86 PC machine types only; {} guests use the Linux probe (--probe-kind linux, --kernel)",
                target_arch
            )));
        }
        let uefi = match config.settings.uefi {
            false => None,
            true => {
                let find = |name: &str| {
                    config.qemu.find_data_file(name).ok_or_else(|| {
                        SetupError(format!(
                            "{name} (edk2 for {target_arch}, package qemu-efi-aarch64) not found in any --data-dir; scripts/fetch-aarch64 fetches it"
                        ))
                    })
                };
                Some(Uefi {
                    code: find(crate::arch::AARCH64_EFI_CODE)?,
                    vars: find(crate::arch::AARCH64_EFI_VARS)?,
                })
            }
        };
        if config.probe_kind == Some(ProbeKind::Linux) && config.kernel.is_none() {
            return Err(SetupError(
                "the Linux probe (--probe-kind linux) needs a guest kernel: give --kernel".into(),
            ));
        }
        if config.capture_fixture && config.probe_kind != Some(ProbeKind::Linux) {
            return Err(SetupError(
                "fixture trees are the Linux probe's (read from sysfs): add --probe-kind linux and --kernel".into(),
            ));
        }
        let scratch = Scratch::new("record").map_err(|err| SetupError(format!("scratch directory: {err}")))?;
        // Guest RAM files of runs killed with SIGKILL (an interrupted run
        // removes its own).
        abi_process::sweep_stale(Path::new(crate::bare::RAM_DIR));
        let linux = match config.kernel.clone() {
            Some(kernel) => Some(Self::linux_probe(&mut config, &target_arch, &kernel, scratch.path())?),
            None => None,
        };
        let image = scratch.path().join("bare-probe.bin");
        std::fs::write(&image, crate::bare::IMAGE).map_err(|err| e("cannot write", &image, &err))?;
        let bare = BareProbe {
            image,
            probe: Probe {
                kind: ProbeKind::Bare,
                version: guest_probe::PROBE_VERSION.into(),
                blake3: blake3::hash(crate::bare::IMAGE).to_hex().to_string(),
                initramfs_blake3: None,
            },
        };
        let share = scratch.path().join("share");
        std::fs::create_dir(&share).map_err(|err| e("cannot create", &share, &err))?;
        let devices = config.qemu.devices().map_err(|err| SetupError(err.to_string()))?;
        let firmware = firmware(&config.qemu, &target_arch).map_err(SetupError)?;
        let binary =
            std::fs::read(&config.qemu.binary).map_err(|err| format!("{}: {err}", config.qemu.binary.display()));
        let loaders = binary
            .as_ref()
            .map(|b| crate::datafiles::loader_roms_named(b))
            .unwrap_or_default();
        let compat = binary.and_then(|b| crate::elf::compat_tables(&b).map_err(|err| err.to_string()));
        Ok(Recorder {
            uefi,
            linux,
            bare,
            identity,
            target_arch,
            firmware,
            config,
            scratch,
            share,
            devices,
            compat,
            loaders,
            host_cache: Mutex::new(BTreeMap::new()),
            own_devices: Mutex::new(BTreeMap::new()),
        })
    }

    /// Check the Linux probe's inputs and build its initramfs.
    fn linux_probe(
        config: &mut RecorderConfig,
        target_arch: &str,
        kernel: &Path,
        scratch: &Path,
    ) -> Result<LinuxProbe, SetupError> {
        let e = |what: &str, p: &Path, err: &dyn fmt::Display| SetupError(format!("{what} {}: {err}", p.display()));
        let probe_bytes = std::fs::read(&config.probe).map_err(|err| e("cannot read probe", &config.probe, &err))?;
        check_probe(&probe_bytes, target_arch).map_err(|err| e("probe", &config.probe, &err))?;
        let kernel_bytes = std::fs::read(kernel).map_err(|err| e("cannot read kernel", kernel, &err))?;
        check_kernel(&kernel_bytes, target_arch).map_err(|err| e("kernel", kernel, &err))?;
        let mut ird = Initramfs::new();
        let mut module_names = Vec::new();
        let mut list = String::new();
        if !config.modules.is_empty() {
            let dir = config
                .modules_dir
                .as_ref()
                .ok_or_else(|| SetupError("modules asked for but no module directory given".into()))?;
            let tree = ModuleTree::open(dir).map_err(|err| SetupError(err.to_string()))?;
            let names: Vec<&str> = config.modules.iter().map(String::as_str).collect();
            for m in tree.resolve(&names).map_err(|err| SetupError(err.to_string()))? {
                let data = std::fs::read(&m.path).map_err(|err| e("cannot read module", &m.path, &err))?;
                let file = format!("{}.ko", m.name);
                ird.add_file(&format!("probe/{file}"), data, 0o644)
                    .map_err(|err| SetupError(err.to_string()))?;
                list.push_str(&file);
                list.push('\n');
                module_names.push(m.name);
            }
        }
        let ie = |err: crate::initramfs::InitramfsError| SetupError(err.to_string());
        ird.add_file("probe/modules", list.into_bytes(), 0o644).map_err(ie)?;
        ird.add_file("init", probe_bytes.clone(), 0o755).map_err(ie)?;
        for d in ["dev", "proc", "sys"] {
            ird.add_dir(d).map_err(ie)?;
        }
        let image = ird.to_bytes();
        let initrd = scratch.join("initrd.cpio");
        std::fs::write(&initrd, &image).map_err(|err| e("cannot write", &initrd, &err))?;
        config.modules = module_names.clone();
        Ok(LinuxProbe {
            kernel_path: kernel.to_path_buf(),
            kernel: Kernel {
                version: kernel_version(&kernel_bytes).unwrap_or_else(|| "unknown".into()),
                blake3: blake3::hash(&kernel_bytes).to_hex().to_string(),
                modules: module_names,
            },
            probe: Probe {
                kind: ProbeKind::Linux,
                version: guest_probe::PROBE_VERSION.into(),
                blake3: blake3::hash(&probe_bytes).to_hex().to_string(),
                initramfs_blake3: Some(blake3::hash(&image).to_hex().to_string()),
            },
            initrd,
        })
    }

    /// The probe that boots `machine`: `--probe-kind`, or the machine type's default.
    pub fn probe_kind(&self, machine: &MachineType) -> ProbeKind {
        self.config
            .probe_kind
            .unwrap_or_else(|| ProbeKind::default_for(&self.target_arch, machine))
    }

    /// Refuse, before any boot, machine types whose probe cannot boot: the
    /// Linux probe without a kernel.
    pub fn check_probes<'a>(&self, machines: impl IntoIterator<Item = &'a MachineType>) -> Result<(), SetupError> {
        if self.linux.is_some() {
            return Ok(());
        }
        let mut need: Vec<&str> = machines
            .into_iter()
            .filter(|m| self.probe_kind(m) == ProbeKind::Linux)
            .map(|m| m.0.as_str())
            .collect();
        need.sort_unstable();
        need.dedup();
        if need.is_empty() {
            return Ok(());
        }
        Err(SetupError(format!(
            "{} need{} the Linux probe (the bare probe is for x86 PC machine types, pc-*), which needs a guest \
             kernel: give --kernel (and --probe)",
            need.join(", "),
            if need.len() == 1 { "s" } else { "" }
        )))
    }

    /// Host-side facts of a machine type, gathered once per recorder.
    fn host_side(&self, machine: &MachineType) -> HostCapture {
        let cell = match self.host_cache.lock() {
            Ok(mut c) => c.entry(machine.clone()).or_default().clone(),
            // A worker panicked while holding the lock: gather without the cache.
            Err(_) => Arc::new(OnceLock::new()),
        };
        cell.get_or_init(|| {
            host_facts::collect(
                &self.config.qemu,
                machine,
                &self.compat,
                &self.config.settings,
                crate::arch::has_device_tree(&self.target_arch),
            )
        })
        .clone()
    }

    /// The QOM types of the devices `machine` creates by itself, asked of
    /// QEMU once per machine type ([`crate::qmp::default_device_types`]);
    /// `None` when QEMU could not say (its boot will say why).
    fn own_devices(&self, machine: &MachineType) -> Option<Vec<String>> {
        let cell = match self.own_devices.lock() {
            Ok(mut c) => c.entry(machine.clone()).or_default().clone(),
            Err(_) => Arc::new(OnceLock::new()),
        };
        cell.get_or_init(|| {
            crate::qmp::default_device_types(&self.config.qemu, &machine.0, self.config.settings.timeout).ok()
        })
        .clone()
    }

    /// Every file a boot of `machine` with `profile` and the `kind` probe
    /// loads from the data directories, and where it was found (`None`:
    /// in no data directory).
    pub fn data_files(
        &self,
        kind: ProbeKind,
        machine: &MachineType,
        profile: &Profile,
    ) -> Vec<(crate::datafiles::Needed, Option<PathBuf>)> {
        let compat = match &self.compat {
            Ok(t) => abi_model::host::applied(t, machine),
            Err(_) => Vec::new(),
        };
        let known = |f: &str| self.loaders.contains(f);
        let own = crate::datafiles::known(&self.target_arch, machine)
            .then(|| self.own_devices(machine))
            .flatten();
        crate::datafiles::needed(
            &self.target_arch,
            machine,
            profile,
            kind,
            &compat,
            &known,
            own.as_deref(),
        )
        .into_iter()
        .map(|n| {
            let found = self.config.qemu.find_data_file(&n.file);
            (n, found)
        })
        .collect()
    }

    /// The QEMU build being recorded.
    pub fn identity(&self) -> &QemuIdentity {
        &self.identity
    }

    /// The guest architecture of the binary (QMP `query-target`), e.g. `x86_64`.
    pub fn target_arch(&self) -> &str {
        &self.target_arch
    }

    /// Boot one machine type with one profile and verify what it sent.
    pub fn record(&self, machine: &MachineType, profile: &Profile) -> Result<Capture, RecordError> {
        self.record_as(self.probe_kind(machine), machine, profile)
    }

    /// [`Recorder::record`] with the probe of `kind`, whatever the machine
    /// type's default (benchmarks compare the two).
    pub fn record_as(&self, kind: ProbeKind, machine: &MachineType, profile: &Profile) -> Result<Capture, RecordError> {
        let fail = |cause, serial: &str| RecordError {
            machine: machine.clone(),
            profile: profile.name.clone(),
            cause,
            serial_tail: boot::tail(serial, 15),
        };
        let missing = profile.missing_devices(&self.devices);
        if !missing.is_empty() {
            return Err(fail(Cause::MissingDevices(missing), ""));
        }
        if let Some((n, _)) = self
            .data_files(kind, machine, profile)
            .into_iter()
            .find(|(_, p)| p.is_none())
        {
            let searched = self.config.qemu.data_dirs.clone();
            return Err(fail(
                Cause::MissingFile(Box::new(MissingFile {
                    file: n.file,
                    why: n.why,
                    searched,
                })),
                "",
            ));
        }
        let (line, facts, mut blobs, fixture, elapsed, probe, kernel) = match kind {
            ProbeKind::Bare => {
                let line = crate::bare::command_line(&self.config.qemu, machine, profile, &self.config.settings);
                let serial = self
                    .scratch
                    .path()
                    .join(format!("{}-{}-bare.serial", machine.0, profile.name));
                let files = crate::bare::BareFiles {
                    image: &self.bare.image,
                    serial: &serial,
                    share: &self.share,
                };
                let out = crate::bare::run(&self.config.qemu, &line, &files, self.config.settings.timeout)
                    .map_err(|(e, serial)| fail(Cause::Bare(Box::new(e)), &serial))?;
                let _ = std::fs::remove_file(&serial);
                let Collection { facts, blobs } = out.collection;
                (
                    line,
                    facts,
                    blobs,
                    Vec::new(),
                    out.elapsed,
                    self.bare.probe.clone(),
                    None,
                )
            }
            ProbeKind::Linux => {
                let linux = self.linux.as_ref().ok_or_else(|| {
                    fail(
                        Cause::Io("the Linux probe needs a guest kernel: give --kernel".into()),
                        "",
                    )
                })?;
                let extra = if self.config.capture_fixture {
                    " mabi.capture=1"
                } else {
                    ""
                };
                let (line, out) = self
                    .boot(linux, machine, profile, extra, "")
                    .map_err(|(e, serial)| fail(Cause::Boot(e), &serial))?;
                let entries = frame::unpack(&out.serial).map_err(|e| fail(Cause::Stream(e), &out.serial))?;
                let (fixture, entries): (Vec<Entry>, Vec<Entry>) =
                    entries.into_iter().partition(|e| e.name.starts_with("capture/"));
                let Collection { facts, blobs } =
                    Collection::from_entries(entries).map_err(|e| fail(Cause::Content(e), &out.serial))?;
                (
                    line,
                    facts,
                    blobs,
                    fixture,
                    out.elapsed,
                    linux.probe.clone(),
                    Some(linux.kernel.clone()),
                )
            }
        };
        let host = match self.config.host_facts {
            false => None,
            true => {
                let (side, host_blobs) = self.host_side(machine);
                let failed = side.unavailable();
                if !failed.is_empty() && !self.config.allow_unavailable {
                    return Err(fail(Cause::HostFacts(failed), ""));
                }
                for b in host_blobs {
                    blobs.put(b);
                }
                Some(side)
            }
        };
        let record = Record {
            schema: RECORD_SCHEMA,
            key: RecordKey {
                arch: facts.probe.arch.clone(),
                machine: machine.clone(),
                profile: profile.name.clone(),
                qemu_version: self.identity.version.clone(),
            },
            provenance: Provenance {
                qemu: self.identity.clone(),
                firmware: self.firmware.clone(),
                kernel,
                probe,
                accelerator: ACCELERATOR.into(),
                command_line: line,
            },
            facts,
            host,
        };
        Ok(Capture {
            record,
            blobs,
            fixture,
            boot_time: elapsed,
        })
    }

    /// Whether the Linux probe can boot (a kernel was given).
    pub fn has_linux_probe(&self) -> bool {
        self.linux.is_some()
    }

    /// Boot once with the Linux probe told to power off at once
    /// (`mabi.poweroff=1`): the cost of firmware and kernel alone, for
    /// benchmarks.
    pub fn bare_boot(&self, machine: &MachineType, profile: &Profile) -> Result<Duration, RecordError> {
        let err = |cause| RecordError {
            machine: machine.clone(),
            profile: profile.name.clone(),
            cause,
            serial_tail: String::new(),
        };
        let linux = self
            .linux
            .as_ref()
            .ok_or_else(|| err(Cause::Io("the Linux probe needs a guest kernel: give --kernel".into())))?;
        let (_, out) = self
            .boot(linux, machine, profile, " mabi.poweroff=1", "-bare")
            .map_err(|(e, _)| err(Cause::Boot(e)))?;
        Ok(out.elapsed)
    }

    /// Boot once with the bare probe's image told to power off at once
    /// (`mode=exit`, guest RAM not shared): the cost of the firmware alone,
    /// the limit of any probe, for benchmarks.
    pub fn firmware_only_boot(&self, machine: &MachineType, profile: &Profile) -> Result<Duration, RecordError> {
        let payload = ["-kernel", "$PROBE", "-append", "mode=exit"].map(String::from);
        let line = boot::command_line_with(
            &self.config.qemu,
            machine,
            profile,
            &self.config.settings,
            &[],
            &payload,
        );
        let serial = self
            .scratch
            .path()
            .join(format!("{}-{}-firmware.serial", machine.0, profile.name));
        let files = BootFiles {
            serial: &serial,
            share: &self.share,
            payload: vec![("$PROBE", &self.bare.image)],
        };
        let out =
            boot::run(&self.config.qemu, &line, &files, self.config.settings.timeout).map_err(|e| RecordError {
                machine: machine.clone(),
                profile: profile.name.clone(),
                cause: Cause::Boot(e),
                serial_tail: String::new(),
            })?;
        let _ = std::fs::remove_file(&serial);
        Ok(out.elapsed)
    }

    /// One Linux-probe boot with `append` added to the kernel command line,
    /// its serial port captured in a scratch file named with `tag`. Returns
    /// the recorded command line and the output; on failure, the error and
    /// whatever the serial port printed before it.
    fn boot(
        &self,
        linux: &LinuxProbe,
        machine: &MachineType,
        profile: &Profile,
        append: &str,
        tag: &str,
    ) -> Result<(Vec<String>, boot::BootOutput), (boot::BootError, String)> {
        let mut settings = self.config.settings.clone();
        settings.append.push_str(append);
        let line = boot::command_line(&self.config.qemu, machine, profile, &settings);
        let base = format!("{}-{}{tag}", machine.0, profile.name);
        let serial = self.scratch.path().join(format!("{base}.serial"));
        let vars = self.scratch.path().join(format!("{base}.vars.fd"));
        let mut payload = vec![
            ("$KERNEL", linux.kernel_path.as_path()),
            ("$INITRD", linux.initrd.as_path()),
        ];
        if let (true, Some(uefi)) = (boot::uses_uefi(profile, &settings), &self.uefi) {
            // A fresh variable store every boot: edk2 writes boot entries
            // into it, and a store left by another boot would change what
            // the next one sees.
            std::fs::copy(&uefi.vars, &vars).map_err(|e| {
                (
                    boot::BootError::Spawn(format!("cannot copy {}: {e}", uefi.vars.display())),
                    String::new(),
                )
            })?;
            payload.extend([("$EFI_CODE", uefi.code.as_path()), ("$EFI_VARS", vars.as_path())]);
        }
        let files = BootFiles {
            serial: &serial,
            share: &self.share,
            payload,
        };
        let result = boot::run(&self.config.qemu, &line, &files, settings.timeout);
        let _ = std::fs::remove_file(&vars);
        let out = result.map_err(|e| {
            let text = std::fs::read(&serial)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            (e, text)
        })?;
        let _ = std::fs::remove_file(&serial);
        Ok((line, out))
    }

    /// Record one pair, retrying a crash or a hang up to `retries` times.
    fn record_with_retries(&self, m: &MachineType, p: &Profile) -> Result<Capture, RecordError> {
        let mut result = self.record(m, p);
        for attempt in 1..=self.config.retries {
            match &result {
                Err(e) if e.transient() => {
                    eprintln!("machine-abi: {e}\n  retrying ({attempt} of {})", self.config.retries);
                    result = self.record(m, p);
                }
                _ => break,
            }
        }
        result
    }

    /// Record many (machine, profile) pairs on `jobs` threads; `done` is
    /// called on the calling thread with each result as it finishes
    /// (index, result), so the caller holds only what it keeps.
    pub fn record_each(
        &self,
        work: &[(MachineType, &Profile)],
        jobs: usize,
        mut done: impl FnMut(usize, Result<Capture, RecordError>),
    ) {
        // Host-side facts are shared by a machine type's profiles and
        // dropped after its last one: a run holds the vmstate dumps of the
        // machine types in flight, not of every machine type it saw.
        let pending: Mutex<BTreeMap<&MachineType, usize>> = Mutex::new(BTreeMap::new());
        if let Ok(mut p) = pending.lock() {
            for (m, _) in work {
                *p.entry(m).or_default() += 1;
            }
        }
        let lost = crate::pool::run_each(
            work.len(),
            jobs,
            |i| {
                let m = &work[i].0;
                let r = self.record_with_retries(m, work[i].1);
                let last = pending.lock().map(|mut p| {
                    let n = p.entry(m).or_default();
                    *n = n.saturating_sub(1);
                    *n == 0
                });
                if last.unwrap_or(false) {
                    if let Ok(mut c) = self.host_cache.lock() {
                        c.remove(m);
                    }
                }
                r
            },
            &mut done,
        );
        for i in lost {
            let (m, p) = &work[i];
            done(
                i,
                Err(RecordError {
                    machine: m.clone(),
                    profile: p.name.clone(),
                    cause: Cause::Io("worker thread ended without a result".into()),
                    serial_tail: String::new(),
                }),
            );
        }
    }

    /// [`Recorder::record_each`], collecting every result in input order.
    pub fn record_all(
        &self,
        work: &[(MachineType, &Profile)],
        jobs: usize,
        mut progress: impl FnMut(usize, &Result<Capture, RecordError>),
    ) -> Vec<Result<Capture, RecordError>> {
        let mut results: Vec<Option<Result<Capture, RecordError>>> = (0..work.len()).map(|_| None).collect();
        self.record_each(work, jobs, |i, r| {
            progress(i, &r);
            results[i] = Some(r);
        });
        results.into_iter().flatten().collect()
    }
}

/// The architecture an ELF file is built for, in the names QEMU's
/// `query-target` uses.
fn elf_arch(machine: u16) -> Option<&'static str> {
    match machine {
        goblin::elf::header::EM_X86_64 => Some("x86_64"),
        goblin::elf::header::EM_AARCH64 => Some("aarch64"),
        _ => None,
    }
}

/// The probe must be a static executable for the guest's architecture: the
/// initramfs has no dynamic loader, and a probe of another architecture
/// would only fail after a whole boot.
fn check_probe(bytes: &[u8], arch: &str) -> Result<(), String> {
    let elf = goblin::elf::Elf::parse(bytes).map_err(|e| format!("not an ELF executable: {e}"))?;
    let built_for = elf_arch(elf.header.e_machine);
    if built_for != Some(arch) {
        return Err(format!(
            "is built for {} but the guest is {arch}; build it with scripts/build-probe{}",
            built_for.unwrap_or("an unknown architecture"),
            if arch == "x86_64" {
                String::new()
            } else {
                format!(" --arch {arch}")
            }
        ));
    }
    if elf.interpreter.is_some() {
        return Err("is dynamically linked; build it with scripts/build-probe (static, +crt-static)".into());
    }
    Ok(())
}

/// The guest kernel must be a boot image for the guest's architecture:
/// otherwise QEMU says something unhelpful, or boots nothing until the
/// timeout.
fn check_kernel(bytes: &[u8], arch: &str) -> Result<(), String> {
    let ok = match arch {
        // Linux/x86 boot protocol: the setup header magic.
        "x86_64" => bytes.get(0x202..0x206) == Some(b"HdrS"),
        // arm64 Image header magic (Documentation/arch/arm64/booting.rst).
        "aarch64" => bytes.get(0x38..0x3c) == Some(b"ARM\x64") || bytes.starts_with(b"MZ"),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("is not a Linux boot image for {arch} (no boot header)"))
    }
}

/// Version string of a bzImage (setup header field `kernel_version`), or
/// of an arm64 Image (its `Linux version …` banner, without those words).
pub fn kernel_version(image: &[u8]) -> Option<String> {
    if image.get(0x38..0x3c) == Some(b"ARM\x64") {
        return arm64_banner(image);
    }
    if image.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let off = u16::from_le_bytes([*image.get(0x20e)?, *image.get(0x20f)?]) as usize + 0x200;
    let s = image.get(off..)?;
    let end = s.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&s[..end]).into_owned())
}

/// The `Linux version …` banner of an uncompressed arm64 Image, up to the
/// end of its line.
fn arm64_banner(image: &[u8]) -> Option<String> {
    const MARK: &[u8] = b"Linux version ";
    let at = image.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let rest = image.get(at..)?;
    let end = rest.iter().position(|&b| b == 0 || b == b'\n')?.min(200);
    let s = String::from_utf8_lossy(&rest[..end]).trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn firmware(qemu: &Qemu, arch: &str) -> Result<Firmware, String> {
    let bios = crate::arch::firmware_file(arch);
    let path = qemu
        .find_data_file(bios)
        .ok_or_else(|| format!("{bios} not found in any -L data directory"))?;
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut roms = Vec::new();
    if let Some(dir) = qemu.data_dirs.first() {
        let listing = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in listing.flatten() {
            let p = entry.path();
            if p.is_file() {
                let h = file_blake3(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                roms.push(format!("{} {h}\n", entry.file_name().to_string_lossy()));
            }
        }
    }
    roms.sort();
    Ok(Firmware {
        bios: bios.into(),
        bios_blake3: blake3::hash(&bytes).to_hex().to_string(),
        bios_version: match arch {
            "aarch64" => edk2_version(&bytes),
            _ => seabios_version(&bytes),
        },
        rom_set_blake3: blake3::hash(roms.concat().as_bytes()).to_hex().to_string(),
    })
}

/// SeaBIOS keeps its version as a NUL-terminated string such as
/// `1.16.3-debian-1.16.3-2~bpo12+1`; take the first string shaped like that.
fn seabios_version(bytes: &[u8]) -> Option<String> {
    bytes.split(|&b| b == 0).map(String::from_utf8_lossy).find_map(|s| {
        let mut parts = s.splitn(4, ['.', '-']);
        let numeric = (0..3).all(|_| {
            parts
                .next()
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        });
        (numeric && s.len() < 80 && s.bytes().all(|b| b.is_ascii_graphic())).then(|| s.into_owned())
    })
}

/// edk2 images keep no version string of their own that survives the
/// build; Debian's builds keep their build directory (`…/edk2-2022.11/Build/…`)
/// in the debug paths of the modules: take `edk2-2022.11` from there.
fn edk2_version(bytes: &[u8]) -> Option<String> {
    const MARK: &[u8] = b"/Build/";
    let at = bytes.windows(MARK.len()).position(|w| w == MARK)?;
    let before = &bytes[at.saturating_sub(64)..at];
    let start = before.iter().rposition(|&b| b == b'/')? + 1;
    let name = String::from_utf8_lossy(&before[start..]).into_owned();
    (name.starts_with("edk2") && name.bytes().all(|b| b.is_ascii_graphic())).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edk2_version_from_build_path() {
        let img = b"\0\0/build/reproducible-path/edk2-2022.11/Build/ArmVirtQemu-AARCH64/RELEASE_GCC5/x.dll\0";
        assert_eq!(edk2_version(img).as_deref(), Some("edk2-2022.11"));
        assert_eq!(edk2_version(b"/tmp/other/Build/x"), None);
    }

    #[test]
    fn arm64_kernel_version_from_banner() {
        let mut img = vec![0u8; 0x100];
        img[0x38..0x3c].copy_from_slice(b"ARM\x64");
        img.extend_from_slice(b"Linux version 6.1.0-50-cloud-arm64 (debian-kernel@lists.debian.org) #1 SMP\n\0");
        assert_eq!(
            kernel_version(&img).as_deref(),
            Some("6.1.0-50-cloud-arm64 (debian-kernel@lists.debian.org) #1 SMP")
        );
    }

    #[test]
    fn seabios_version_string() {
        let img = b"\0junk\0SeaBIOS (version %s)\x001.16.3-debian-1.16.3-2~bpo12+1\0more\0";
        assert_eq!(seabios_version(img).as_deref(), Some("1.16.3-debian-1.16.3-2~bpo12+1"));
        assert_eq!(seabios_version(b"\0no version\0"), None);
    }

    #[test]
    fn a_kernel_that_panicked_before_the_probe_is_retried() {
        let e = |tail: &str| RecordError {
            machine: MachineType("pc-q35-4.1".into()),
            profile: "default".into(),
            cause: Cause::Stream(FrameError::NoBegin),
            serial_tail: tail.into(),
        };
        assert!(e("[ 5.9] Kernel panic - not syncing: IO-APIC + timer doesn't work!").transient());
        assert!(
            !e("[ 5.9] probe: waiting").transient(),
            "a probe that did not start for another reason"
        );
    }

    #[test]
    fn probe_must_be_static_and_for_the_guest() {
        let me = std::fs::read("/proc/self/exe").expect("the test binary");
        let e = check_probe(&me, "aarch64").expect_err("an x86_64 binary is no aarch64 probe");
        assert!(e.contains("built for x86_64 but the guest is aarch64"), "{e}");
        // The test binary itself is dynamically linked.
        let e = check_probe(&me, "x86_64").expect_err("dynamic");
        assert!(e.contains("dynamically linked"), "{e}");
        assert!(check_probe(b"#!/bin/sh\n", "x86_64").is_err_and(|e| e.contains("not an ELF")));
    }

    #[test]
    fn kernel_must_be_a_boot_image() {
        let mut img = vec![0u8; 0x400];
        assert!(check_kernel(&img, "x86_64").is_err_and(|e| e.contains("not a Linux boot image for x86_64")));
        img[0x202..0x206].copy_from_slice(b"HdrS");
        assert!(check_kernel(&img, "x86_64").is_ok());
        assert!(check_kernel(&img, "aarch64").is_err());
    }

    #[test]
    fn kernel_version_from_header() {
        let mut img = vec![0u8; 0x400];
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
        img[0x300..0x305].copy_from_slice(b"6.1.0");
        assert_eq!(kernel_version(&img).as_deref(), Some("6.1.0"));
        assert_eq!(kernel_version(&[0u8; 16]), None);
    }
}
