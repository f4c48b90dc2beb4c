//! Child processes of machine-abi. Every process the tool starts (QEMU,
//! iasl, git) goes through here, so that none can hang it or outlive it:
//! - each child leads its own process group (a kill reaches what a wrapper
//!   script forked) and gets `SIGKILL` when the thread that started it dies
//!   (`PR_SET_PDEATHSIG`: the case where machine-abi itself is killed with
//!   `SIGKILL`);
//! - every run has a deadline ([`output`], [`wait_or_kill`]);
//! - live children, scratch directories and scratch files (the bare probe's
//!   guest RAM on /dev/shm) are registered, so that on `SIGINT`, `SIGTERM`
//!   or `SIGHUP` ([`handle_signals`]) the children are killed and the
//!   scratch removed before the tool exits.

#![deny(missing_docs)]

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Process groups of live children, by the leader's pid.
static GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
/// Scratch paths (directories and files) to remove if the tool is interrupted.
static SCRATCH: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
/// Set by the signal handler before it cleans up: from then on no child is
/// started and no scratch is created (a retry racing the handler would
/// otherwise leave one behind).
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn interrupted() -> std::io::Error {
    std::io::Error::other("machine-abi is being interrupted")
}

/// A started child, registered until it has been waited for.
pub struct Started(pub Child);

impl Drop for Started {
    fn drop(&mut self) {
        // A child nobody waited for (an early return) must not linger.
        if let Ok(None) = self.0.try_wait() {
            kill_group(self.0.id() as i32);
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
        forget(self.0.id() as i32);
    }
}

fn forget(pid: i32) {
    if let Ok(mut g) = GROUPS.lock() {
        g.remove(&pid);
    }
}

fn kill_group(pid: i32) {
    // SAFETY: signals the process group the child leads; a stale id at worst
    // hits nothing (the group is ours until we waited for its leader).
    unsafe { libc::kill(-pid, libc::SIGKILL) };
}

/// Start `cmd` in its own process group, with the parent-death signal set,
/// and register it.
pub fn spawn(cmd: &mut Command) -> std::io::Result<Started> {
    if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(interrupted());
    }
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe; it only sets this child's
    // parent-death signal between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    if let Ok(mut g) = GROUPS.lock() {
        g.insert(child.id() as i32);
    }
    Ok(Started(child))
}

/// Wait for a child until `timeout` has passed since `started`; then kill
/// its whole process group and return `None`.
pub fn wait_or_kill(child: &mut Started, started: Instant, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.0.try_wait()? {
            return Ok(Some(status));
        }
        if started.elapsed() >= timeout {
            kill_group(child.0.id() as i32);
            let _ = child.0.kill();
            let _ = child.0.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Why [`output`] got no output.
#[derive(Debug)]
pub enum RunError {
    /// The program could not be started or waited for.
    Io(std::io::Error),
    /// It did not finish within the deadline and was killed.
    Timeout(Duration),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Io(e) => write!(f, "{e}"),
            RunError::Timeout(t) => write!(f, "did not finish within {} s and was killed", t.as_secs_f64()),
        }
    }
}

/// Run `cmd` to completion with its output captured, killing it after
/// `timeout`. Output pipes are drained on threads, so a chatty child cannot
/// block on a full pipe.
pub fn output(cmd: &mut Command, timeout: Duration) -> Result<Output, RunError> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = spawn(cmd).map_err(RunError::Io)?;
    let drain = |p: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = p {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.0.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.0.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let status = wait_or_kill(&mut child, started, timeout).map_err(RunError::Io)?;
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Output { status, stdout, stderr }),
        None => Err(RunError::Timeout(timeout)),
    }
}

/// A private scratch directory, removed on drop and on interruption.
pub struct Scratch(PathBuf);

impl Scratch {
    /// Create a fresh directory under the system temp dir. The first call
    /// of a process also removes the scratch directories of runs that died
    /// without cleaning up (killed with `SIGKILL`).
    pub fn new(tag: &str) -> std::io::Result<Scratch> {
        static SWEPT: std::sync::Once = std::sync::Once::new();
        let base = std::env::temp_dir();
        SWEPT.call_once(|| remove_stale(&base));
        for n in 0..1000u32 {
            let p = base.join(format!("machine-abi-{tag}-{}-{n}", std::process::id()));
            // Created and registered under the lock the signal handler takes.
            let mut registry = SCRATCH
                .lock()
                .map_err(|_| std::io::Error::other("scratch registry poisoned"))?;
            if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(interrupted());
            }
            match std::fs::create_dir(&p) {
                Ok(()) => {
                    registry.insert(p.clone());
                    return Ok(Scratch(p));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free scratch directory name"))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        if let Ok(mut s) = SCRATCH.lock() {
            s.remove(&self.0);
        }
    }
}

/// A scratch file of its own name in a directory of the caller's choice
/// (guest RAM on /dev/shm, which a scratch directory under /tmp cannot
/// hold): removed on drop and on interruption; one left by a run killed
/// with `SIGKILL` is removed by the next run's first `create` there.
pub struct ScratchFile(PathBuf);

impl ScratchFile {
    /// Create a new, empty file `machine-abi-<tag>-<pid>-<n>` in `dir`,
    /// registered before it exists. Returns it and the open file.
    pub fn create(dir: &Path, tag: &str) -> std::io::Result<(ScratchFile, std::fs::File)> {
        static SWEPT: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        if let Ok(mut swept) = SWEPT.lock() {
            if swept.insert(dir.to_path_buf()) {
                remove_stale(dir);
            }
        }
        loop {
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let p = dir.join(format!("machine-abi-{tag}-{}-{n}", std::process::id()));
            // Created and registered under the lock the signal handler takes.
            let mut registry = SCRATCH
                .lock()
                .map_err(|_| std::io::Error::other("scratch registry poisoned"))?;
            if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(interrupted());
            }
            match std::fs::File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&p)
            {
                Ok(f) => {
                    registry.insert(p.clone());
                    return Ok((ScratchFile(p), f));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))),
            }
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        if let Ok(mut s) = SCRATCH.lock() {
            s.remove(&self.0);
        }
    }
}

/// Remove what runs killed with `SIGKILL` left in `dir` (scratch files
/// and directories of processes that are gone); [`ScratchFile::create`]
/// does it on its first use of a directory.
pub fn sweep_stale(dir: &Path) {
    remove_stale(dir);
}

fn remove_path(p: &Path) {
    if p.is_dir() {
        let _ = std::fs::remove_dir_all(p);
    } else {
        let _ = std::fs::remove_file(p);
    }
}

/// Remove `machine-abi-<tag>-<pid>-<n>` directories and files whose
/// process is gone.
fn remove_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix("machine-abi-") else {
            continue;
        };
        let mut parts = rest.rsplit('-');
        let (Some(n), Some(pid)) = (parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(_), Ok(pid)) = (n.parse::<u32>(), pid.parse::<u32>()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            remove_path(&e.path());
        }
    }
}

/// From now on, `SIGINT`, `SIGTERM` and `SIGHUP` kill every registered
/// child's process group, remove every scratch directory, and end the
/// process with status 128 + the signal. Call it first thing in `main`,
/// before any thread is started: the signals are blocked in every thread
/// and taken by one waiting thread. (Children start with an empty signal
/// mask: the standard library resets it between fork and exec.)
pub fn handle_signals() {
    // SAFETY: plain libc signal-set calls on a local set; the mask is set
    // before any other thread exists, so every later thread inherits it.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        set
    };
    std::thread::spawn(move || loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: waits for one of the blocked signals of `set`.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            continue;
        }
        INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
        let groups: Vec<i32> = GROUPS.lock().map(|g| g.iter().copied().collect()).unwrap_or_default();
        for pid in &groups {
            kill_group(*pid);
        }
        // Held until exit: whatever is created from now on was refused.
        let registry = SCRATCH.lock();
        let dirs: Vec<PathBuf> = registry
            .as_ref()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for d in &dirs {
            remove_path(d);
        }
        eprintln!(
            "machine-abi: interrupted by signal {sig}: killed {} QEMU process group{}, removed {} scratch path{}",
            groups.len(),
            if groups.len() == 1 { "" } else { "s" },
            dirs.len(),
            if dirs.len() == 1 { "" } else { "s" }
        );
        std::process::exit(128 + sig);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_has_a_deadline() {
        let t = Instant::now();
        let r = output(Command::new("sleep").arg("30"), Duration::from_millis(300));
        assert!(matches!(r, Err(RunError::Timeout(_))), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(5));
        let ok = output(Command::new("echo").arg("hi"), Duration::from_secs(10)).expect("echo runs");
        assert_eq!(ok.stdout, b"hi\n");
    }

    #[test]
    fn scratch_files_are_unique_removed_and_swept() {
        let dir = Scratch::new("file-test").expect("scratch");
        let (a, _fa) = ScratchFile::create(dir.path(), "ram").expect("a");
        let (b, _fb) = ScratchFile::create(dir.path(), "ram").expect("b");
        assert_ne!(a.path(), b.path());
        assert!(a.path().is_file() && b.path().is_file());
        let pa = a.path().to_path_buf();
        drop(a);
        assert!(!pa.exists(), "dropped, so removed");
        // A file left by a process that is gone.
        let stale = dir.path().join("machine-abi-ram-999999999-0");
        std::fs::write(&stale, b"").expect("stale file");
        remove_stale(dir.path());
        assert!(!stale.exists());
        assert!(b.path().exists(), "ours is alive");
    }

    #[test]
    fn a_timeout_kills_what_a_wrapper_forked() {
        // The wrapper forks a grandchild and waits: killing only the wrapper
        // would leave the grandchild running.
        let dir = Scratch::new("child-test").expect("scratch");
        let pidfile = dir.path().join("grandchild");
        let script = format!("sleep 60 & echo $! > {}; wait", pidfile.display());
        let r = output(Command::new("sh").args(["-c", &script]), Duration::from_millis(500));
        assert!(matches!(r, Err(RunError::Timeout(_))));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .expect("grandchild pid")
            .trim()
            .parse()
            .expect("a pid");
        std::thread::sleep(Duration::from_millis(200));
        // SAFETY: signal 0 only asks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "));
        assert!(!alive, "grandchild {pid} outlived the deadline");
    }
}
