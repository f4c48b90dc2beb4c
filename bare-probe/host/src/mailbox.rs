//! Host end of the shared-memory mailbox (see guest/src/server.rs): guest
//! RAM is a `memory-backend-file` on tmpfs with `share=on`; we map the
//! mailbox page and data area of that file and exchange requests with the
//! guest by sequence numbers.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

pub const MBOX: u64 = 0x0100_0000;
const MAP_LEN: usize = 0x0040_0000;
const DATA: usize = 0x1000;
pub const DATA_MAX: usize = MAP_LEN - DATA;
const MAGIC: u64 = u64::from_le_bytes(*b"MABIBAR1");

pub mod op {
    pub const NOP: u32 = 0;
    pub const READ_PHYS: u32 = 1;
    pub const WRITE_PHYS: u32 = 2;
    pub const MMIO_READ: u32 = 3;
    pub const MMIO_WRITE: u32 = 4;
    pub const MMIO_READ_BULK: u32 = 5;
    pub const PORT_IN: u32 = 6;
    pub const PORT_OUT: u32 = 7;
    pub const CPUID: u32 = 8;
    pub const FW_CFG_READ: u32 = 9;
    pub const CF8_READ: u32 = 10;
    pub const CF8_WRITE: u32 = 11;
    pub const SIZE_BARS: u32 = 12;
    pub const POWER_OFF: u32 = 13;
}

/// The QEMU options that back guest RAM with `file` (shared).
pub fn qemu_args(file: &Path, mib: u32) -> Vec<String> {
    vec![
        "-object".into(),
        format!("memory-backend-file,id=pc.ram,size={mib}M,mem-path={},share=on", file.display()),
        "-machine".into(),
        "memory-backend=pc.ram".into(),
    ]
}

/// What the guest published when it became ready.
#[derive(Clone, Debug)]
pub struct Info {
    pub multiboot_info: u64,
    pub apic_ids: Vec<u32>,
    pub tsc_entry: u64,
    pub tsc_ready: u64,
}

pub struct Mailbox {
    base: *mut u8,
    /// QEMU's pid, to notice that it exited while we wait.
    pid: u32,
    _file: File,
    seq: u32,
    pub path: PathBuf,
    /// Requests made, by op.
    pub calls: [u64; 16],
}

#[derive(Debug)]
pub enum Error {
    Io(io::Error),
    /// The guest reported a fatal error (fault, …).
    Fatal(String),
    /// QEMU exited while we waited (during what).
    Exited(String),
    Timeout(&'static str),
    /// The guest refused or failed a request.
    Status { op: u32, status: u32 },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Fatal(m) => write!(f, "the probe reported a fatal error: {m}"),
            Error::Exited(w) => write!(f, "QEMU exited before the probe answered{}{w}", if w.is_empty() { "" } else { ": " }),
            Error::Timeout(w) => write!(f, "timeout waiting for {w}"),
            Error::Status { op, status } => write!(f, "request op {op} failed with status {status}"),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::other(e.to_string())
    }
}

impl Mailbox {
    /// Wait for QEMU to create the RAM file, map the mailbox, wait for the
    /// guest's magic.
    pub fn connect(path: &Path, child: &mut Child, timeout: Duration) -> Result<(Mailbox, Info), Error> {
        // Sleeps of a few µs should be that short (the default slack is 50 µs).
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1u64, 0u64, 0u64, 0u64) };
        let t0 = Instant::now();
        let file = loop {
            if let Ok(f) = File::options().read(true).write(true).open(path) {
                if f.metadata().map(|m| m.len() >= MBOX + MAP_LEN as u64).unwrap_or(false) {
                    break f;
                }
            }
            Self::alive(child)?;
            if t0.elapsed() > timeout {
                return Err(Error::Timeout("the guest RAM file"));
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        // SAFETY: shared mapping of a file we keep open; unmapped on drop.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MAP_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                MBOX as libc::off_t,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Error::Io(io::Error::last_os_error()));
        }
        let mut m = Mailbox {
            base: base as *mut u8,
            pid: child.id(),
            _file: file,
            seq: 0,
            path: path.to_path_buf(),
            calls: [0; 16],
        };
        loop {
            if m.r64(0) == MAGIC {
                break;
            }
            Self::alive(child)?;
            if t0.elapsed() > timeout {
                return Err(Error::Timeout("the probe to become ready"));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        fence(Ordering::SeqCst);
        m.seq = m.r32(0x10);
        let n = m.r32(0x108) as usize;
        let info = Info {
            multiboot_info: m.r64(0x100),
            apic_ids: (0..n.min(16)).map(|i| m.r32(0x110 + 4 * i)).collect(),
            tsc_entry: m.r64(0x150),
            tsc_ready: m.r64(0x158),
        };
        Ok((m, info))
    }

    fn alive(child: &mut Child) -> Result<(), Error> {
        match child.try_wait() {
            Ok(Some(_)) => Err(Error::Exited(String::new())),
            Ok(None) => Ok(()),
            Err(e) => Err(Error::Io(e)),
        }
    }

    fn r32(&self, off: usize) -> u32 {
        // SAFETY: within the mapping; the guest writes concurrently, hence volatile.
        unsafe { std::ptr::read_volatile(self.base.add(off) as *const u32) }
    }
    fn r64(&self, off: usize) -> u64 {
        unsafe { std::ptr::read_volatile(self.base.add(off) as *const u64) }
    }
    fn w32(&self, off: usize, v: u32) {
        unsafe { std::ptr::write_volatile(self.base.add(off) as *mut u32, v) }
    }
    fn w64(&self, off: usize, v: u64) {
        unsafe { std::ptr::write_volatile(self.base.add(off) as *mut u64, v) }
    }

    fn fatal_message(&self) -> Option<String> {
        (self.r32(0x0c) == 3).then(|| {
            let n = (self.r32(0x80) as usize).min(4096);
            let bytes = unsafe { std::slice::from_raw_parts(self.base.add(DATA), n) };
            String::from_utf8_lossy(bytes).into_owned()
        })
    }

    /// One request. Returns `(results, data)`.
    pub fn call(&mut self, op: u32, args: &[u64], input: &[u8]) -> Result<([u64; 4], Vec<u8>), Error> {
        if input.len() > DATA_MAX {
            return Err(Error::Status { op, status: 2 });
        }
        self.calls[(op as usize).min(15)] += 1;
        self.w32(0x18, op);
        for i in 0..8 {
            self.w64(0x20 + 8 * i, args.get(i).copied().unwrap_or(0));
        }
        if !input.is_empty() {
            unsafe { std::ptr::copy_nonoverlapping(input.as_ptr(), self.base.add(DATA), input.len()) };
        }
        self.seq = self.seq.wrapping_add(1);
        fence(Ordering::SeqCst);
        self.w32(0x10, self.seq);
        if op == op::POWER_OFF {
            return Ok(([0; 4], Vec::new()));
        }
        // Spin briefly (the answer usually takes a few µs when the vCPU
        // thread has a core of its own), then sleep in short steps so that a
        // vCPU thread sharing our core (or running at a lower priority, e.g.
        // under `nice`) gets to run: yielding alone does not give it the CPU.
        let t0 = Instant::now();
        while self.r32(0x14) != self.seq {
            let waited = t0.elapsed();
            if waited < Duration::from_micros(30) {
                std::hint::spin_loop();
                continue;
            }
            if let Some(m) = self.fatal_message() {
                return Err(Error::Fatal(m));
            }
            if self.exited() {
                return Err(Error::Exited(format!("op {op} args {args:x?}")));
            }
            if waited > Duration::from_secs(20) {
                eprintln!(
                    "mailbox: no response to op {op} args {:x?} (seq {}, guest state {}, response seq {})",
                    &args,
                    self.seq,
                    self.r32(0x0c),
                    self.r32(0x14)
                );
                return Err(Error::Timeout("a response"));
            }
            std::thread::sleep(Duration::from_micros(20));
        }
        fence(Ordering::SeqCst);
        let status = self.r32(0x1c);
        if status != 0 {
            return Err(Error::Status { op, status });
        }
        let results = [0, 1, 2, 3].map(|i| self.r64(0x60 + 8 * i));
        let n = (self.r32(0x80) as usize).min(DATA_MAX);
        let mut data = vec![0u8; n];
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(DATA), data.as_mut_ptr(), n) };
        Ok((results, data))
    }

    /// Whether QEMU is gone (a zombie we have not reaped yet).
    fn exited(&self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => true,
        }
    }

    /// Fatal message, if the guest has reported one (e.g. after QEMU exited).
    pub fn fatal(&self) -> Option<String> {
        self.fatal_message()
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `connect`.
        unsafe { libc::munmap(self.base as *mut libc::c_void, MAP_LEN) };
    }
}
