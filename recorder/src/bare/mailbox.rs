//! The host end of the bare probe's mailbox (bare-probe/src/server.rs has
//! the guest end and the layout). Guest RAM is a file on /dev/shm that QEMU
//! maps with `memory-backend-file,share=on`; we map the mailbox page and
//! its data area from the same file and exchange requests with the guest by
//! sequence numbers. Nothing the guest writes is trusted: lengths are
//! bounded, and every answer must have exactly the length asked for.

use super::BareError;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{fence, Ordering};
use std::time::{Duration, Instant};

use super::protocol::{field, state, FATAL_MAX, MAGIC, MAX_CPUS};
pub use super::protocol::{op, MBOX, VERSION};

/// Bytes mapped: the mailbox page and the data area.
pub const MAP_LEN: usize = super::protocol::MAP_LEN as usize;
const DATA: usize = super::protocol::DATA_OFFSET as usize;
/// Largest request or response payload.
pub const DATA_MAX: usize = super::protocol::DATA_MAX as usize;
/// The longest any one request may take once the guest serves: the slowest
/// seen is a 4 KiB ECAM read at 0.3 ms; this bounds a guest that stopped.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A field's offset in the mapping.
const fn at(field: u64) -> usize {
    field as usize
}

/// What the guest published when it became ready.
#[derive(Clone, Debug)]
pub struct Info {
    /// Guest physical address of the Multiboot information structure.
    pub multiboot_info: u64,
    /// APIC ids by CPU number (0 = the BSP, then the APs by APIC id).
    pub apic_ids: Vec<u32>,
}

/// The mapped mailbox of one running guest.
pub struct Mailbox {
    base: *mut u8,
    /// QEMU's pid, to notice that it exited while we wait.
    pid: u32,
    seq: u32,
    /// Requests made so far.
    pub requests: u64,
}

/// One request in error messages: its name and arguments.
pub fn describe(op: u32, args: &[u64]) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("{a:#x}")).collect();
    format!("{}({})", op::name(op), args.join(", "))
}

impl Mailbox {
    /// Map the mailbox of the guest RAM file `ram` (at least [`MBOX`] +
    /// [`MAP_LEN`] bytes long) of the QEMU process `pid`.
    pub fn map(ram: &File, pid: u32) -> Result<Mailbox, BareError> {
        let len = ram
            .metadata()
            .map_err(|e| BareError::Setup(format!("guest RAM file: {e}")))?
            .len();
        if len < MBOX + MAP_LEN as u64 {
            return Err(BareError::Setup(format!(
                "guest RAM file is {len} bytes, the mailbox needs {}",
                MBOX + MAP_LEN as u64
            )));
        }
        // SAFETY: a shared mapping of a file we hold open, at an offset and
        // length inside it (checked above); it is unmapped on drop and only
        // accessed through volatile reads and writes within MAP_LEN.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MAP_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                ram.as_raw_fd(),
                MBOX as libc::off_t,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(BareError::Setup(format!(
                "cannot map the guest RAM file: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(Mailbox {
            base: base.cast::<u8>(),
            pid,
            seq: 0,
            requests: 0,
        })
    }

    fn r32(&self, off: usize) -> u32 {
        debug_assert!(off + 4 <= DATA);
        // SAFETY: inside the mapping; the guest writes concurrently, hence volatile.
        unsafe { std::ptr::read_volatile(self.base.add(off).cast::<u32>()) }
    }
    fn r64(&self, off: usize) -> u64 {
        debug_assert!(off + 8 <= DATA);
        // SAFETY: as in r32.
        unsafe { std::ptr::read_volatile(self.base.add(off).cast::<u64>()) }
    }
    fn w32(&self, off: usize, v: u32) {
        debug_assert!(off + 4 <= DATA);
        // SAFETY: as in r32.
        unsafe { std::ptr::write_volatile(self.base.add(off).cast::<u32>(), v) }
    }
    fn w64(&self, off: usize, v: u64) {
        debug_assert!(off + 8 <= DATA);
        // SAFETY: as in r32.
        unsafe { std::ptr::write_volatile(self.base.add(off).cast::<u64>(), v) }
    }

    /// `n` bytes of the data area (bounded by its size).
    fn data(&self, n: usize) -> Vec<u8> {
        let n = n.min(DATA_MAX);
        let mut out = vec![0u8; n];
        // SAFETY: [DATA, DATA + n) lies inside the mapping (n <= DATA_MAX).
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(DATA), out.as_mut_ptr(), n) };
        out
    }

    /// The guest's fault message, if it has marked the mailbox fatal.
    pub fn fatal(&self) -> Option<String> {
        (self.r64(at(field::MAGIC)) == MAGIC && self.r32(at(field::STATE)) == state::FATAL).then(|| {
            let n = (self.r32(at(field::DATA_LEN)) as usize).min(FATAL_MAX as usize);
            String::from_utf8_lossy(&self.data(n)).into_owned()
        })
    }

    /// Whether QEMU is gone (exited; a zombie we have not reaped yet).
    pub fn qemu_exited(&self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
            Err(_) => true,
        }
    }

    /// Wait for the guest to publish its magic (the firmware handed over
    /// and the probe serves), until `deadline`; `abort` is asked on every
    /// turn and ends the wait with its error (QEMU said it could not load
    /// a file).
    pub fn wait_ready(
        &mut self,
        deadline: Instant,
        timeout: Duration,
        abort: &dyn Fn() -> Option<BareError>,
    ) -> Result<Info, BareError> {
        // Sleeps of a few µs should be that short (the default slack is 50 µs).
        // SAFETY: prctl with integer arguments only; affects this thread.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1u64, 0u64, 0u64, 0u64) };
        loop {
            if self.r64(at(field::MAGIC)) == MAGIC {
                break;
            }
            if self.qemu_exited() {
                return Err(BareError::Exited {
                    during: "before the probe was ready (the firmware never handed over, or the probe died \
                             starting)"
                        .into(),
                    status: String::new(),
                    signal: None,
                    stderr: String::new(),
                });
            }
            if let Some(e) = abort() {
                return Err(e);
            }
            if Instant::now() >= deadline {
                return Err(BareError::NoHandover { after: timeout });
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        fence(Ordering::SeqCst);
        if let Some(m) = self.fatal() {
            return Err(BareError::Fatal(m));
        }
        let version = self.r32(at(field::VERSION));
        if version != VERSION {
            return Err(BareError::Protocol(format!(
                "the probe speaks mailbox protocol {version}, this machine-abi {VERSION}"
            )));
        }
        self.seq = self.r32(at(field::REQUEST_SEQ));
        let n = self.r32(at(field::INFO_CPUS)) as usize;
        if !(1..=MAX_CPUS as usize).contains(&n) {
            return Err(BareError::Protocol(format!(
                "the probe reports {n} vCPUs (1 to {MAX_CPUS} expected)"
            )));
        }
        Ok(Info {
            multiboot_info: self.r64(at(field::INFO_MULTIBOOT)),
            apic_ids: (0..n).map(|i| self.r32(at(field::INFO_APIC_IDS) + 4 * i)).collect(),
        })
    }

    /// One request; the answer must carry exactly `expect` bytes of data.
    /// Returns `(results, data)`; waits at most [`REQUEST_TIMEOUT`] and not
    /// past `deadline`.
    pub fn call(
        &mut self,
        op: u32,
        args: &[u64],
        expect: usize,
        deadline: Instant,
    ) -> Result<([u64; 4], Vec<u8>), BareError> {
        let request = || describe(op, args);
        if expect > DATA_MAX || args.len() > field::ARGS_LEN as usize {
            return Err(BareError::Protocol(format!(
                "{} asks for more than the mailbox holds",
                request()
            )));
        }
        self.requests += 1;
        self.w32(at(field::OP), op);
        for i in 0..field::ARGS_LEN as usize {
            self.w64(at(field::ARGS) + 8 * i, args.get(i).copied().unwrap_or(0));
        }
        self.seq = self.seq.wrapping_add(1);
        fence(Ordering::SeqCst);
        self.w32(at(field::REQUEST_SEQ), self.seq);
        if op == op::POWER_OFF {
            return Ok(([0; 4], Vec::new()));
        }
        // Spin briefly (an answer takes a few µs when the vCPU thread has a
        // core of its own), then sleep in short steps so that a vCPU thread
        // sharing our core (or at a lower priority, under `nice`) gets to
        // run: yielding alone does not give it the CPU.
        let t0 = Instant::now();
        let limit = deadline.min(t0 + REQUEST_TIMEOUT);
        while self.r32(at(field::RESPONSE_SEQ)) != self.seq {
            let waited = t0.elapsed();
            if waited < Duration::from_micros(30) {
                std::hint::spin_loop();
                continue;
            }
            if let Some(m) = self.fatal() {
                return Err(BareError::Fatal(m));
            }
            if self.qemu_exited() {
                return Err(BareError::Exited {
                    during: format!("while the probe answered {}", request()),
                    status: String::new(),
                    signal: None,
                    stderr: String::new(),
                });
            }
            if Instant::now() >= limit {
                return Err(BareError::RequestTimeout {
                    request: request(),
                    after: waited,
                });
            }
            std::thread::sleep(Duration::from_micros(20));
        }
        fence(Ordering::SeqCst);
        let status = self.r32(at(field::STATUS));
        if status != 0 {
            return Err(BareError::Refused {
                request: request(),
                status,
            });
        }
        let results = [0, 1, 2, 3].map(|i| self.r64(at(field::RESULTS) + 8 * i));
        let got = self.r32(at(field::DATA_LEN)) as usize;
        if got != expect {
            return Err(BareError::Truncated {
                request: request(),
                expected: expect,
                got,
            });
        }
        Ok((results, self.data(got)))
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, not used after this.
        unsafe { libc::munmap(self.base.cast::<libc::c_void>(), MAP_LEN) };
    }
}
