//! The bare probe's host half. The guest half (`bare-probe/`, built by
//! recorder/build.rs and embedded here) is a Multiboot image that SeaBIOS
//! starts instead of a kernel; it only answers raw primitives (physical
//! memory, MMIO, ports, config space, CPUID, fw_cfg, BAR sizing) through a
//! mailbox in guest RAM, which QEMU keeps in a file on /dev/shm that we map
//! too ([`mailbox`]). Here the host does what a kernel does at boot and
//! presents it as Linux's sysfs ([`source::Bare`]), and the same collectors
//! as the Linux probe's (`guest_probe::collect`) run over it: one set of
//! fact logic, two ways to reach the machine.
//!
//! One boot: create the RAM file, start QEMU, wait for the guest's ready
//! (the firmware handed over), discover, collect, power off, wait for QEMU
//! to exit. Every failure on the way is a [`BareError`] naming its cause.

pub mod mailbox;
/// The mailbox layout and request codes, one file shared with the guest.
#[path = "../../../bare-probe/src/protocol.rs"]
pub mod protocol;
pub mod source;

use crate::boot::{self, BootFiles, BootSettings};
use crate::profile::Profile;
use crate::qemu::Qemu;
use abi_model::MachineType;
use guest_probe::collect::Collection;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// The flat Multiboot image of `bare-probe/`, built by recorder/build.rs.
/// Empty when machine-abi was built on a host that is not x86_64.
pub const IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bare-probe.bin"));

/// Where guest RAM files go: tmpfs, so the shared RAM is never written back
/// to a disk, and sparse (only what firmware and probe touch is allocated).
pub const RAM_DIR: &str = "/dev/shm";

/// Test-only: extra words for the probe's command line (`fault=N` takes a
/// page fault while answering request N, `truncate=N` answers request N
/// short; see bare-probe/src/main.rs). machine-abi's failure tests set it;
/// it is recorded in the command line like every other argument.
pub const TEST_KNOBS_ENV: &str = "MACHINE_ABI_BARE_TEST";

/// The QEMU object id of the RAM backend: QEMU's own name for PC RAM, so
/// the RAM block keeps its usual migration name.
const RAM_ID: &str = "pc.ram";

/// The exact QEMU arguments of a bare-probe boot, with `$PROBE` for the
/// image and `$RAM` for the guest RAM file (besides the placeholders of
/// [`boot::command_line`]).
pub fn command_line(qemu: &Qemu, machine: &MachineType, profile: &Profile, s: &BootSettings) -> Vec<String> {
    let mut append = "mode=serve".to_string();
    if let Ok(knobs) = std::env::var(TEST_KNOBS_ENV) {
        if !knobs.trim().is_empty() {
            append.push(' ');
            append.push_str(knobs.trim());
        }
    }
    let payload = [
        "-kernel".to_string(),
        "$PROBE".into(),
        "-append".into(),
        append,
        "-object".into(),
        format!(
            "memory-backend-file,id={RAM_ID},size={}M,mem-path=$RAM,share=on",
            s.memory_mib
        ),
    ];
    let backend = format!("memory-backend={RAM_ID}");
    boot::command_line_with(qemu, machine, profile, s, &[&backend], &payload)
}

/// Why a bare-probe boot failed.
#[derive(Debug)]
pub enum BareError {
    /// Local preparation (RAM file, mapping, the image) failed.
    Setup(String),
    /// QEMU could not be started, crashed, hung or exited unsuccessfully
    /// after the probe powered off.
    Boot(boot::BootError),
    /// The guest never reported ready within the boot timeout: the firmware
    /// did not hand over to the probe.
    NoHandover {
        /// The limit.
        after: Duration,
    },
    /// The probe reported a fault (its message, from the mailbox or the
    /// `MABI1 FATAL` frame on the serial port).
    Fatal(String),
    /// QEMU exited while the host waited for the probe.
    Exited {
        /// What the host was waiting for.
        during: String,
        /// How QEMU ended (`with status 0`, `killed by signal 9`).
        status: String,
        /// The signal that ended it, if one did.
        signal: Option<i32>,
        /// Last lines of QEMU's stderr.
        stderr: String,
    },
    /// The probe did not answer a request in time.
    RequestTimeout {
        /// The request.
        request: String,
        /// How long the host waited.
        after: Duration,
    },
    /// An answer with a different amount of data than asked for.
    Truncated {
        /// The request.
        request: String,
        /// Bytes asked for.
        expected: usize,
        /// Bytes the answer claims.
        got: usize,
    },
    /// The probe refused a request (bad arguments, device error).
    Refused {
        /// The request.
        request: String,
        /// Its status code (1 unknown op, 2 bad arguments, 3 device error).
        status: u32,
    },
    /// The probe speaks another protocol version, or published nonsense.
    Protocol(String),
    /// What the kernel would find at boot could not be found (no RSDP, …).
    Discovery(String),
}

impl BareError {
    /// True when the conversation with the guest is over: later requests
    /// cannot be answered, so the boot fails rather than record facts as
    /// unavailable. A refused request only makes its own fact unavailable.
    pub fn ends_the_boot(&self) -> bool {
        !matches!(self, BareError::Refused { .. })
    }

    /// A crash or a hang that a retry may get past (a firmware that never
    /// hands over is a hang; a fault the probe reports is deterministic).
    pub fn transient(&self) -> bool {
        match self {
            BareError::Boot(boot::BootError::Timeout { .. }) | BareError::NoHandover { .. } => true,
            BareError::Boot(boot::BootError::Exited { signal, .. }) => signal.is_some(),
            BareError::RequestTimeout { .. } => true,
            BareError::Exited { signal, .. } => signal.is_some(),
            _ => false,
        }
    }
}

impl fmt::Display for BareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BareError::Setup(e) => write!(f, "bare probe: {e}"),
            BareError::Boot(e) => write!(f, "{e}"),
            BareError::NoHandover { after } => write!(
                f,
                "firmware did not hand over to the bare probe within {} s (the probe never reported ready); \
                 QEMU killed",
                after.as_secs()
            ),
            BareError::Fatal(m) => write!(f, "the bare probe reported a fault: {m}"),
            BareError::Exited {
                during, status, stderr, ..
            } => write!(f, "QEMU exited {status} {during}{}", boot::stderr_suffix(stderr)),
            BareError::RequestTimeout { request, after } => write!(
                f,
                "the bare probe did not answer {request} within {:.1} s; QEMU killed",
                after.as_secs_f64()
            ),
            BareError::Truncated { request, expected, got } => write!(
                f,
                "truncated response from the bare probe: {request} answered {got} bytes, {expected} asked for"
            ),
            BareError::Refused { request, status } => {
                write!(f, "the bare probe refused {request} (status {status})")
            }
            BareError::Protocol(m) => write!(f, "bare probe protocol: {m}"),
            BareError::Discovery(m) => write!(f, "bare probe discovery: {m}"),
        }
    }
}

impl std::error::Error for BareError {}

/// What one bare-probe boot produced.
pub struct BareOutput {
    /// The facts and blobs, as the Linux probe's stream would have carried them.
    pub collection: Collection,
    /// Wall time from starting QEMU to its exit.
    pub elapsed: Duration,
    /// Wall time until the probe was ready (firmware included).
    pub ready: Duration,
    /// Requests the host made.
    pub requests: u64,
}

/// The files of one bare boot besides the RAM file.
pub struct BareFiles<'a> {
    /// The image, written once per recorder.
    pub image: &'a Path,
    /// Where COM1 goes (fault messages).
    pub serial: &'a Path,
    /// The profile's shared directory.
    pub share: &'a Path,
}

/// Boot `line` (from [`command_line`]) with the bare probe, collect every
/// fact, power off. On failure, also what the serial port printed.
pub fn run(
    qemu: &Qemu,
    line: &[String],
    files: &BareFiles,
    timeout: Duration,
) -> Result<BareOutput, (BareError, String)> {
    let serial_text = || {
        std::fs::read(files.serial)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let fail = |e: BareError| (e, serial_text());
    if IMAGE.is_empty() {
        return Err(fail(BareError::Setup(
            "this machine-abi was built without the bare probe (its host is not x86_64); use --probe-kind linux".into(),
        )));
    }
    // Guest RAM: ours from the start (registered for removal on interrupt),
    // sized so the mailbox can be mapped before QEMU starts.
    let ram_size = u64::from(settings_mib(line).unwrap_or(512)) << 20;
    let (ram, file) = abi_process::ScratchFile::create(Path::new(RAM_DIR), "ram")
        .map_err(|e| fail(BareError::Setup(format!("guest RAM file in {RAM_DIR}: {e}"))))?;
    file.set_len(ram_size)
        .map_err(|e| fail(BareError::Setup(format!("{}: {e}", ram.path().display()))))?;
    let boot_files = BootFiles {
        serial: files.serial,
        share: files.share,
        payload: vec![("$PROBE", files.image), ("$RAM", ram.path())],
    };
    let running = boot::start(qemu, line, &boot_files).map_err(|e| fail(BareError::Boot(e)))?;
    let deadline = running.started + timeout;
    let mut mb = match mailbox::Mailbox::map(&file, running.child.0.id()) {
        Ok(mb) => mb,
        Err(e) => {
            running.kill(Duration::ZERO);
            drop(ram);
            return Err(fail(e));
        }
    };
    let session = (|| {
        let missing = || {
            running
                .load_failure()
                .map(|(file, line)| BareError::Boot(boot::BootError::MissingFile { file, line }))
        };
        let info = mb.wait_ready(deadline, timeout, &missing)?;
        let ready = running.started.elapsed();
        let bare = source::Bare::discover(mb, info, deadline)?;
        let mut collection = guest_probe::collect(&bare, Vec::new());
        if let Some(e) = bare.take_failure() {
            return Err(e);
        }
        collection.facts.probe.kind = abi_model::provenance::ProbeKind::Bare;
        let requests = bare.requests();
        bare.power_off()?;
        Ok((collection, ready, requests))
    })();
    match session {
        Ok((collection, ready, requests)) => {
            // The guest powered off: the file's name can go.
            drop(ram);
            match running.wait(timeout) {
                Ok(elapsed) => Ok(BareOutput {
                    collection,
                    elapsed,
                    ready,
                    requests,
                }),
                Err(boot::BootError::Timeout { stderr, .. }) => Err(fail(BareError::Boot(boot::BootError::Timeout {
                    after: timeout,
                    stderr: format!("QEMU did not exit after the probe powered off\n{stderr}"),
                }))),
                Err(e) => Err(fail(BareError::Boot(e))),
            }
        }
        Err(e) => {
            // A QEMU that is exiting may still be tearing its threads down
            // (its main thread already a zombie): give it a moment to end
            // on its own, so that its status is known.
            let grace = match e {
                BareError::Exited { .. } => Duration::from_secs(5),
                _ => Duration::ZERO,
            };
            let (status, stderr) = running.kill(grace);
            drop(ram);
            let serial = serial_text();
            let e = match e {
                // QEMU refused to go on without a file (or went on without it
                // and the probe never came): name the file.
                _ if boot::load_failure(&stderr).is_some() => {
                    let (file, line) = boot::load_failure(&stderr).unwrap_or_default();
                    BareError::Boot(boot::BootError::MissingFile { file, line })
                }
                // The serial port may say why (a fault before the mailbox
                // was ready leaves only the FATAL frame).
                BareError::Exited { during, .. } => match fatal_frame(&serial) {
                    Some(m) => BareError::Fatal(m),
                    None => BareError::Exited {
                        during,
                        status: status.map_or_else(|| "(status unknown: killed after 5 s)".into(), |s| describe(&s)),
                        signal: status.and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s)),
                        stderr,
                    },
                },
                other => other,
            };
            Err((e, serial))
        }
    }
}

fn describe(s: &std::process::ExitStatus) -> String {
    match (s.code(), std::os::unix::process::ExitStatusExt::signal(s)) {
        (Some(c), _) => format!("with status {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "abnormally".into(),
    }
}

/// `-m` of a command line, in MiB.
fn settings_mib(line: &[String]) -> Option<u32> {
    line.windows(2).find(|w| w[0] == "-m").and_then(|w| w[1].parse().ok())
}

/// The message of a `MABI1 FATAL` frame on the serial port, if there is one.
pub fn fatal_frame(serial: &str) -> Option<String> {
    match guest_probe::frame::unpack(serial) {
        Err(guest_probe::frame::FrameError::Fatal(m)) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_is_embedded_and_multiboot() {
        if std::env::consts::ARCH != "x86_64" {
            return;
        }
        assert!(IMAGE.len() > 4096, "{} bytes", IMAGE.len());
        let magic = IMAGE
            .chunks_exact(4)
            .take(2048)
            .position(|w| w == 0x1BAD_B002u32.to_le_bytes());
        assert!(magic.is_some(), "no Multiboot header");
    }

    #[test]
    fn command_line_has_no_kernel_and_shares_ram() {
        let q = Qemu::new("/x/qemu".into(), vec!["/fw".into(), "/data".into()]);
        let m = MachineType("pc-q35-7.2".into());
        let profiles = crate::profile::Profiles::builtin().expect("built-in profiles");
        let line = command_line(
            &q,
            &m,
            profiles.get("default").expect("default"),
            &BootSettings::default(),
        );
        assert!(
            line.windows(2)
                .any(|w| w == ["-machine", "pc-q35-7.2,memory-backend=pc.ram"]),
            "{line:?}"
        );
        assert!(line.windows(2).any(|w| w == ["-kernel", "$PROBE"]), "{line:?}");
        assert!(
            line.iter()
                .any(|a| a == "memory-backend-file,id=pc.ram,size=512M,mem-path=$RAM,share=on"),
            "{line:?}"
        );
        assert!(
            !line.iter().any(|a| a.contains("$KERNEL") || a.contains("$INITRD")),
            "{line:?}"
        );
        assert_eq!(settings_mib(&line), Some(512));
    }

    #[test]
    fn fatal_frames_are_read_from_serial() {
        let serial = "bare-probe: fault on cpu 0\nMABI1 FATAL ZmF1bHQ=\n";
        assert_eq!(fatal_frame(serial).as_deref(), Some("fault"));
        assert_eq!(fatal_frame("SeaBIOS\n"), None);
    }
}
