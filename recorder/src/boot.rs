//! Boot one machine type under TCG with the probe as `/init`, with a pinned
//! command line and a hard timeout, and capture the first serial port.

use crate::profile::{Profile, SHARE_PLACEHOLDER};
use crate::qemu::Qemu;
use abi_model::MachineType;
use std::fmt;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The fixed parts of every boot.
#[derive(Clone, Debug)]
pub struct BootSettings {
    /// Guest RAM in MiB.
    pub memory_mib: u32,
    /// vCPUs.
    pub cpus: u32,
    /// Kernel command line.
    pub append: String,
    /// Wall-clock limit of one boot.
    pub timeout: Duration,
    /// vCPU model (`-cpu`), when the architecture pins one ([`crate::arch`]).
    pub cpu: Option<String>,
    /// `-machine` options every boot adds (`dtb-randomness=off` on aarch64).
    pub machine_options: Vec<String>,
    /// Boot through UEFI from two pflash drives (`$EFI_CODE`, `$EFI_VARS`)
    /// unless the profile asks for no firmware.
    pub uefi: bool,
}

impl Default for BootSettings {
    fn default() -> Self {
        BootSettings {
            memory_mib: 512,
            cpus: 2,
            // panic=-1: a probe that dies takes the VM down at once (-no-reboot).
            append: "console=ttyS0 panic=-1 quiet".into(),
            timeout: Duration::from_secs(120),
            cpu: None,
            machine_options: Vec::new(),
            uefi: false,
        }
    }
}

/// Memory a QEMU process needs beyond the guest's RAM under TCG (code
/// cache, device models, firmware images): about twice the peak RSS of a
/// whole boot (245 MiB, BENCHMARKS.md), guest RAM included.
pub const QEMU_OVERHEAD_MIB: u64 = 512;

/// Parallel boots by default: one per CPU, but never more than the
/// available memory holds at `per_boot_mib` each, so that a run never
/// swaps. At least one.
pub fn default_jobs(cpus: usize, mem_available_mib: Option<u64>, per_boot_mib: u64) -> usize {
    let by_memory = mem_available_mib.map_or(usize::MAX, |m| (m / per_boot_mib.max(1)) as usize);
    cpus.min(by_memory).max(1)
}

/// Memory available to new processes in MiB: `MemAvailable` of
/// /proc/meminfo, lowered to what the cgroup v2 limit leaves
/// (`memory.max` − `memory.current`) inside a limited container.
pub fn mem_available_mib() -> Option<u64> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let host = line.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024;
    Some(match cgroup_headroom_mib(Path::new("/sys/fs/cgroup")) {
        Some(c) => host.min(c),
        None => host,
    })
}

/// `memory.max` − `memory.current` of a cgroup v2 directory, in MiB;
/// `None` when unlimited or not cgroup v2.
fn cgroup_headroom_mib(dir: &Path) -> Option<u64> {
    let max: u64 = fs::read_to_string(dir.join("memory.max")).ok()?.trim().parse().ok()?;
    let current: u64 = fs::read_to_string(dir.join("memory.current"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(max.saturating_sub(current) / (1024 * 1024))
}

/// The largest peak RSS of any child process waited for so far (in MiB):
/// after a run of boots, the peak memory of the largest QEMU.
pub fn peak_child_rss_mib() -> Option<u64> {
    // SAFETY: getrusage writes only into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    // ru_maxrss is in KiB on Linux.
    (rc == 0).then(|| (usage.ru_maxrss.max(0) as u64) / 1024)
}

/// Files a boot uses; the command line refers to them by placeholder so that
/// the recorded line is the same on every machine.
pub struct BootFiles<'a> {
    /// Where the serial port is written (`$SERIAL`).
    pub serial: &'a Path,
    /// An empty directory a profile may share with the guest (`$SHARE`).
    pub share: &'a Path,
    /// The probe's own files: `$KERNEL` and `$INITRD` (Linux probe) or
    /// `$PROBE` and `$RAM` (bare probe), and the firmware's `$EFI_CODE` and
    /// `$EFI_VARS` on UEFI boots.
    pub payload: Vec<(&'static str, &'a Path)>,
}

/// The exact QEMU arguments, with `$QEMU`, `$DATA0…`, `$KERNEL`, `$INITRD`,
/// `$SERIAL` and `$SHARE` standing for paths: the Linux probe's boot.
/// With UEFI ([`BootSettings::uefi`], a profile with the default firmware)
/// edk2 boots from two pflash drives, `$EFI_CODE` read-only and `$EFI_VARS`
/// (a fresh copy per boot), and loads the kernel through fw_cfg.
pub fn command_line(qemu: &Qemu, machine: &MachineType, profile: &Profile, s: &BootSettings) -> Vec<String> {
    let mut payload = Vec::new();
    if uses_uefi(profile, s) {
        payload.extend(
            [
                "-drive",
                "if=pflash,format=raw,readonly=on,file=$EFI_CODE",
                "-drive",
                "if=pflash,format=raw,file=$EFI_VARS",
            ]
            .map(String::from),
        );
    }
    payload.extend(["-kernel", "$KERNEL", "-initrd", "$INITRD", "-append", &s.append].map(String::from));
    command_line_with(qemu, machine, profile, s, &[], &payload)
}

/// Whether a boot of `profile` goes through UEFI firmware from pflash.
pub fn uses_uefi(profile: &Profile, s: &BootSettings) -> bool {
    s.uefi && profile.firmware == crate::profile::Firmware::Default
}

/// The arguments every boot shares (QEMU, data dirs, machine type with the
/// profile's options and `machine_options`, TCG, memory, vCPUs, no display,
/// no reboot, COM1 to `$SERIAL`), then `payload` (what to boot), then the
/// profile's backends and devices.
pub fn command_line_with(
    qemu: &Qemu,
    machine: &MachineType,
    profile: &Profile,
    s: &BootSettings,
    machine_options: &[&str],
    payload: &[String],
) -> Vec<String> {
    let mut args = vec!["$QEMU".to_string()];
    for i in 0..qemu.data_dirs.len() {
        args.extend(["-L".into(), format!("$DATA{i}")]);
    }
    let machine_value = std::iter::once(machine.0.as_str())
        .chain(profile.machine_options.iter().map(String::as_str))
        .chain(s.machine_options.iter().map(String::as_str))
        .chain(machine_options.iter().copied())
        .collect::<Vec<_>>()
        .join(",");
    let fixed = [
        "-machine",
        &machine_value,
        "-accel",
        "tcg",
        "-m",
        &s.memory_mib.to_string(),
        "-smp",
        &s.cpus.to_string(),
        "-display",
        "none",
        "-monitor",
        "none",
        "-no-reboot",
        "-serial",
        "file:$SERIAL",
    ]
    .map(String::from);
    args.extend(fixed);
    if let Some(cpu) = &s.cpu {
        args.extend(["-cpu".to_string(), cpu.clone()]);
    }
    args.extend(payload.iter().cloned());
    args.extend(profile.args());
    args
}

fn substitute(arg: &str, qemu: &Qemu, files: &BootFiles) -> String {
    let mut out = arg
        .replace("$SERIAL", &files.serial.to_string_lossy())
        .replace(SHARE_PLACEHOLDER, &files.share.to_string_lossy());
    for (placeholder, path) in &files.payload {
        out = out.replace(placeholder, &path.to_string_lossy());
    }
    for (i, d) in qemu.data_dirs.iter().enumerate() {
        out = out.replace(&format!("$DATA{i}"), &d.to_string_lossy());
    }
    out
}

/// How a boot failed.
#[derive(Debug)]
pub enum BootError {
    /// QEMU could not be started.
    Spawn(String),
    /// QEMU exited unsuccessfully (crashed, killed, refused the options).
    Exited {
        /// Its exit code, if it exited.
        code: Option<i32>,
        /// The signal that killed it, if one did (a crash or an abort).
        signal: Option<i32>,
        /// Last lines of QEMU's stderr.
        stderr: String,
    },
    /// The boot did not end within the timeout; QEMU was killed.
    Timeout {
        /// The limit.
        after: Duration,
        /// Last lines of QEMU's stderr.
        stderr: String,
    },
    /// QEMU said it could not load a file (firmware, option ROM): the boot
    /// was ended at once rather than left to hang or run without it.
    MissingFile {
        /// The file QEMU named.
        file: String,
        /// QEMU's line saying so.
        line: String,
    },
    /// Reading the serial capture failed.
    Capture(String),
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootError::Spawn(e) => write!(f, "cannot start QEMU: {e}"),
            BootError::Exited {
                code,
                signal,
                stderr: s,
            } => write!(f, "QEMU {}{}", describe_status(*code, *signal), stderr_suffix(s)),
            BootError::Timeout { after, stderr: s } => {
                write!(
                    f,
                    "boot hung: no power-off within {}s, QEMU killed{}",
                    after.as_secs(),
                    stderr_suffix(s)
                )
            }
            BootError::MissingFile { file, line } => write!(
                f,
                "QEMU could not load {file} (\"{line}\"); boot ended at once: no data directory has {file} \
                 (add one with --data-dir)"
            ),
            BootError::Capture(e) => write!(f, "cannot read the serial capture: {e}"),
        }
    }
}

impl std::error::Error for BootError {}

/// `; QEMU stderr:` and the text, or nothing when it is empty.
pub fn stderr_suffix(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("; QEMU stderr:\n{s}")
    }
}

/// The last `n` lines of a text, for error messages.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What QEMU prints when it cannot load a file it needs, in the wording
/// of each release: `rom: file X : error Failed to open file “X”` (an
/// option ROM over fw_cfg, QEMU 9+, which then keeps running without it),
/// `failed to find romfile "X"` (a PCI device's ROM), `could not load PC
/// BIOS 'X'`, `Could not open option rom 'X'`.
const LOAD_FAILURES: [&str; 4] = [
    "failed to open file",
    "failed to find romfile",
    "could not load",
    "could not open option rom",
];

/// The first line of QEMU's stderr saying a file could not be loaded, and
/// the file it names: `(file, line)`.
pub fn load_failure(stderr: &str) -> Option<(String, String)> {
    stderr.lines().find_map(|line| {
        // ASCII only: the offset found must be a char boundary of `line`.
        let lower = line.to_ascii_lowercase();
        let at = LOAD_FAILURES.iter().find_map(|p| lower.find(p).map(|i| i + p.len()))?;
        let file = quoted(&line[at..]).or_else(|| {
            // `rom: file NAME : error …`
            line.strip_prefix("rom: file ")
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string)
        })?;
        Some((file, line.trim().to_string()))
    })
}

/// The first quoted string (“…”, "…" or '…') of a text.
fn quoted(text: &str) -> Option<String> {
    let (open, close) = [('“', '”'), ('"', '"'), ('\'', '\'')]
        .into_iter()
        .filter_map(|(o, c)| text.find(o).map(|i| (i, o, c)))
        .min_by_key(|(i, _, _)| *i)
        .map(|(_, o, c)| (o, c))?;
    let (_, rest) = text.split_once(open)?;
    let (inside, _) = rest.split_once(close)?;
    let name = inside.rsplit('/').next().unwrap_or(inside);
    (!name.is_empty()).then(|| name.to_string())
}

/// What one boot produced.
pub struct BootOutput {
    /// Everything the first serial port printed.
    pub serial: String,
    /// Wall time of the boot.
    pub elapsed: Duration,
}

/// A started QEMU: its process (own group, registered), when it started,
/// and the thread draining its stderr.
pub struct Running {
    /// The QEMU process.
    pub child: abi_process::Started,
    /// When it was started.
    pub started: Instant,
    stderr: std::thread::JoinHandle<String>,
    /// What QEMU printed on stderr so far.
    stderr_so_far: Arc<Mutex<String>>,
}

impl Running {
    /// A file QEMU said (so far) it could not load, with its line.
    pub fn load_failure(&self) -> Option<(String, String)> {
        self.stderr_so_far.lock().ok().and_then(|s| load_failure(&s))
    }

    /// Kill it at once because it could not load a file.
    fn end_for_missing(mut self, (file, line): (String, String)) -> BootError {
        let _ = abi_process::wait_or_kill(&mut self.child, Instant::now(), Duration::ZERO);
        let _ = self.stderr.join();
        BootError::MissingFile { file, line }
    }

    /// Wait until it exits, at most until `timeout` after it started
    /// (then kill it); a QEMU that says it could not load a file is killed
    /// at once. `Ok` only for a clean exit (status 0).
    pub fn wait(mut self, timeout: Duration) -> Result<Duration, BootError> {
        let status = loop {
            match self.child.0.try_wait() {
                Ok(Some(st)) => break Some(st),
                Ok(None) => {}
                Err(e) => return Err(BootError::Spawn(format!("waiting for QEMU: {e}"))),
            }
            if let Some(missing) = self.load_failure() {
                return Err(self.end_for_missing(missing));
            }
            if self.started.elapsed() >= timeout {
                let _ = abi_process::wait_or_kill(&mut self.child, self.started, Duration::ZERO);
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let all = self.stderr.join().unwrap_or_default();
        let stderr = tail(&all, 20);
        match status {
            Some(st) if !st.success() && load_failure(&all).is_some() => {
                let (file, line) = load_failure(&all).unwrap_or_default();
                Err(BootError::MissingFile { file, line })
            }
            None => Err(BootError::Timeout { after: timeout, stderr }),
            Some(st) if !st.success() => Err(BootError::Exited {
                code: st.code(),
                signal: std::os::unix::process::ExitStatusExt::signal(&st),
                stderr,
            }),
            Some(_) => Ok(self.started.elapsed()),
        }
    }

    /// Kill it (whole process group) unless it exits within `grace`;
    /// returns how it ended if it exited on its own, and the end of its
    /// stderr.
    pub fn kill(mut self, grace: Duration) -> (Option<std::process::ExitStatus>, String) {
        let status = abi_process::wait_or_kill(&mut self.child, Instant::now(), grace)
            .ok()
            .flatten();
        (status, tail(&self.stderr.join().unwrap_or_default(), 20))
    }
}

/// Start QEMU with the given command line (placeholders filled in); the
/// serial capture is removed first.
pub fn start(qemu: &Qemu, line: &[String], files: &BootFiles) -> Result<Running, BootError> {
    let args: Vec<String> = line.iter().skip(1).map(|a| substitute(a, qemu, files)).collect();
    let _ = fs::remove_file(files.serial);
    let started = Instant::now();
    // Own process group, so a timeout also kills whatever a wrapper forked.
    let mut child = abi_process::spawn(
        qemu.command()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    )
    .map_err(|e| BootError::Spawn(format!("{}: {e}", qemu.binary.display())))?;
    // Drain stderr on a thread so a chatty QEMU cannot block on a full pipe.
    let pipe = child.0.stderr.take();
    let stderr_so_far = Arc::new(Mutex::new(String::new()));
    let shared = stderr_so_far.clone();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = pipe {
            let mut lines = std::io::BufReader::new(p);
            let mut line = Vec::new();
            while matches!(std::io::BufRead::read_until(&mut lines, b'\n', &mut line), Ok(n) if n > 0) {
                let text = String::from_utf8_lossy(&line);
                s.push_str(&text);
                if let Ok(mut so_far) = shared.lock() {
                    so_far.push_str(&text);
                }
                line.clear();
            }
        }
        s
    });
    Ok(Running {
        child,
        started,
        stderr,
        stderr_so_far,
    })
}

/// Run QEMU with the given command line (placeholders filled in) and wait
/// for it to power off, at most `timeout`.
pub fn run(qemu: &Qemu, line: &[String], files: &BootFiles, timeout: Duration) -> Result<BootOutput, BootError> {
    let elapsed = start(qemu, line, files)?.wait(timeout)?;
    let bytes = fs::read(files.serial).map_err(|e| BootError::Capture(format!("{}: {e}", files.serial.display())))?;
    Ok(BootOutput {
        serial: String::from_utf8_lossy(&bytes).into_owned(),
        elapsed,
    })
}

fn describe_status(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "ended abnormally".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_jobs_follow_cpus_then_memory() {
        assert_eq!(default_jobs(2, Some(24 * 1024), 1024), 2);
        assert_eq!(default_jobs(16, Some(4 * 1024), 1024), 4);
        assert_eq!(default_jobs(4, Some(100), 1024), 1, "never zero");
        assert_eq!(default_jobs(3, None, 1024), 3);
    }

    #[test]
    fn cgroup_limit_lowers_available_memory() {
        let dir = std::env::temp_dir().join(format!("mabi-cgroup-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("tmp");
        fs::write(dir.join("memory.max"), "4294967296\n").expect("write");
        fs::write(dir.join("memory.current"), "1073741824\n").expect("write");
        assert_eq!(cgroup_headroom_mib(&dir), Some(3072));
        fs::write(dir.join("memory.max"), "max\n").expect("write");
        assert_eq!(cgroup_headroom_mib(&dir), None, "unlimited");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_load_failure_after_non_ascii_text_does_not_panic() {
        // 'İ' lowercases to two chars, one byte longer: an offset found in a
        // Unicode lowercase copy would land inside glib's 3-byte quote.
        let stderr = "qemu: \u{130}\u{130} failed to open file \u{2018}x.bin\u{2019}\n";
        let _ = load_failure(stderr);
        let (file, _) = load_failure("qemu: \u{130} could not load 'x.bin'\n").expect("found");
        assert_eq!(file, "x.bin");
    }

    #[test]
    fn load_failures_name_the_file() {
        // QEMU 10.0.2's own lines (stderr of boots with files missing).
        let lines = [
            (
                "rom: file multiboot_dma.bin   : error Failed to open file \u{201c}multiboot_dma.bin\u{201d}: No such file or directory",
                "multiboot_dma.bin",
            ),
            ("qemu-system-x86_64: failed to find romfile \"efi-e1000e.rom\"", "efi-e1000e.rom"),
            ("qemu: could not load PC BIOS 'bios-256k.bin'", "bios-256k.bin"),
            ("Could not open option rom '/x/y/kvmvapic.bin': No such file", "kvmvapic.bin"),
        ];
        for (line, file) in lines {
            let text = format!("qemu-system-x86_64: warning: something else\n{line}\n");
            let (got, l) = load_failure(&text).unwrap_or_else(|| panic!("not seen: {line}"));
            assert_eq!(got, file);
            assert_eq!(l, line);
        }
        assert_eq!(load_failure("qemu-system-x86_64: terminating on signal 15\n"), None);
    }

    #[test]
    fn command_line_is_placeholder_only() {
        let q = Qemu::new("/x/qemu".into(), vec!["/fw".into(), "/data".into()]);
        let m = MachineType("pc-q35-7.2".into());
        let profiles = crate::profile::Profiles::builtin().expect("built-in profiles");
        let virtio = profiles.get("virtio").expect("virtio");
        let line = command_line(&q, &m, virtio, &BootSettings::default());
        assert_eq!(&line[..5], ["$QEMU", "-L", "$DATA0", "-L", "$DATA1"]);
        assert!(line.windows(2).any(|w| w == ["-machine", "pc-q35-7.2"]));
        assert!(line.windows(2).any(|w| w == ["-accel", "tcg"]));
        assert!(line.iter().any(|a| a == "-no-reboot"));
        assert!(!line.iter().any(|a| a.contains("/fw") || a.contains("/x/")), "{line:?}");
        assert!(line.iter().any(|a| a.starts_with("virtio-net-pci")));
        assert!(line.iter().any(|a| a.contains("path=$SHARE,")), "{line:?}");
        assert!(
            !line.iter().any(|a| a == "-cpu" || a.contains("pflash")),
            "x86: {line:?}"
        );
    }

    #[test]
    fn aarch64_command_line_pins_cpu_and_boots_uefi_unless_direct() {
        let q = Qemu::new("/x/qemu".into(), vec!["/fw".into()]);
        let m = MachineType("virt-7.2".into());
        let profiles = crate::profile::Profiles::builtin().expect("built-in profiles");
        let mut s = BootSettings::default();
        crate::arch::adapt(&mut s, "aarch64");
        let line = command_line(&q, &m, profiles.get("default").expect("default"), &s);
        assert!(
            line.windows(2)
                .any(|w| w == ["-machine", "virt-7.2,dtb-randomness=off"]),
            "{line:?}"
        );
        assert!(line.windows(2).any(|w| w == ["-cpu", "cortex-a57"]), "{line:?}");
        assert!(line
            .iter()
            .any(|a| a == "if=pflash,format=raw,readonly=on,file=$EFI_CODE"));
        assert!(line.iter().any(|a| a == "if=pflash,format=raw,file=$EFI_VARS"));
        assert!(line.iter().any(|a| a.starts_with("console=ttyAMA0")), "{line:?}");
        let direct = command_line(&q, &m, profiles.get("direct").expect("direct"), &s);
        assert!(!direct.iter().any(|a| a.contains("pflash")), "{direct:?}");
        assert!(direct.windows(2).any(|w| w == ["-cpu", "cortex-a57"]));
    }
}
