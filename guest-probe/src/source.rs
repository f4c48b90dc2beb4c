//! Where the collectors read from: the live machine, the live machine while
//! recording every answer into a fixture tree, or such a tree replayed.
//!
//! A fixture tree (captured from a real VM with `guest-probe --capture DIR`):
//! ```text
//! fs/<path>      contents of every file read (path without the leading '/')
//! links.txt      `<path>\t<target>` for every symlink read
//! errors.txt     `<path>\t<error>` for every file or directory that failed
//! cpuid.txt      `<cpu> <leaf> <subleaf> <eax> <ebx> <ecx> <edx>` (hex)
//! idregs.txt     `<cpu> <register name> <value>` (hex): Arm EL0 `mrs` reads
//! fw_cfg/<sel>   the bytes read from each fw_cfg selector (4 hex digits)
//! io.txt         ordered trace of device register accesses (BARs, and
//!                physical memory as `p r <address> <width> <value>`)
//! kernel.log     the kernel log buffer, as read once
//! arch.txt       the probe's architecture (`x86_64`, `aarch64`)
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// How the fw_cfg device is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FwCfgPort {
    /// x86 I/O ports 0x510 (selector) and 0x511 (data).
    Io,
    /// A memory-mapped register block (Arm's virt): data at `base`,
    /// big-endian selector at `base + 8`.
    Mmio(u64),
}

/// Everything the collectors need from a machine.
pub trait Source {
    /// The architecture the probe runs on (`x86_64`, `aarch64`): the
    /// collectors pick the facts that exist there.
    fn arch(&self) -> io::Result<String>;
    /// Whole contents of a file (sysfs, procfs).
    fn read_file(&self, path: &str) -> io::Result<Vec<u8>>;
    /// Entry names of a directory, sorted.
    fn read_dir(&self, path: &str) -> io::Result<Vec<String>>;
    /// Target of a symlink.
    fn read_link(&self, path: &str) -> io::Result<String>;
    /// CPUID leaf/subleaf executed on the given CPU: `[eax, ebx, ecx, edx]`.
    fn cpuid(&self, cpu: u32, leaf: u32, subleaf: u32) -> io::Result<[u32; 4]>;
    /// Read `len` bytes from a fw_cfg selector (from its start).
    fn fw_cfg_read(&self, port: FwCfgPort, selector: u16, len: usize) -> io::Result<Vec<u8>>;
    /// An Arm ID register read at EL0 with `mrs` on the given CPU (the
    /// kernel traps and emulates it); `name` is one of
    /// [`crate::idregs::EL0_REGISTERS`].
    fn id_register(&self, cpu: u32, name: &str) -> io::Result<u64>;
    /// Read a 4-byte register at a physical address (`/dev/mem`).
    fn phys_read32(&self, addr: u64) -> io::Result<u32>;
    /// The kernel log buffer (`klogctl` READ_ALL), raw.
    fn kernel_log(&self) -> io::Result<Vec<u8>>;
    /// Read a register of width 1, 2 or 4 bytes in a BAR of a PCI function.
    fn bar_read(&self, dev: &str, bar: u8, offset: u64, width: u8) -> io::Result<u32>;
    /// Write a register of width 1, 2 or 4 bytes in a BAR of a PCI function.
    fn bar_write(&self, dev: &str, bar: u8, offset: u64, width: u8, value: u32) -> io::Result<()>;
}

/// Reads the running system. Needs root for config space, fw_cfg ports and BARs.
#[derive(Default)]
pub struct Live {
    pinned: RefCell<Option<u32>>,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fw_cfg_ports: RefCell<Option<bool>>,
    maps: RefCell<BTreeMap<(String, u8), Mapping>>,
    /// `/dev/mem` mappings by page address.
    phys: RefCell<BTreeMap<u64, (*mut u8, usize)>>,
}

/// Size of one `/dev/mem` mapping.
const PHYS_PAGE: u64 = 4096;

enum Mapping {
    Mem { ptr: *mut u8, len: usize },
    Io { file: fs::File, len: u64 },
}

impl Drop for Live {
    fn drop(&mut self) {
        for m in self.maps.borrow().values() {
            if let Mapping::Mem { ptr, len } = m {
                // SAFETY: ptr/len came from a successful mmap and are unmapped once.
                unsafe { libc::munmap(*ptr as *mut libc::c_void, *len) };
            }
        }
        for (ptr, len) in self.phys.borrow().values() {
            // SAFETY: as above.
            unsafe { libc::munmap(*ptr as *mut libc::c_void, *len) };
        }
    }
}

impl Live {
    /// A source reading the running system.
    pub fn new() -> Live {
        Live::default()
    }

    #[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(dead_code))]
    fn pin(&self, cpu: u32) -> io::Result<()> {
        if *self.pinned.borrow() == Some(cpu) {
            return Ok(());
        }
        // SAFETY: cpu_set_t is plain data; sched_setaffinity reads it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu as usize, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        *self.pinned.borrow_mut() = Some(cpu);
        Ok(())
    }

    /// A pointer to `width` bytes of device memory at physical `addr`,
    /// through a cached `/dev/mem` mapping of its page.
    fn phys_ptr(&self, addr: u64, width: u8) -> io::Result<*mut u8> {
        if !matches!(width, 1 | 2 | 4) || !addr.is_multiple_of(u64::from(width)) {
            return Err(io::Error::other(format!(
                "bad physical access: {addr:#x} width {width}"
            )));
        }
        let page = addr & !(PHYS_PAGE - 1);
        if !self.phys.borrow().contains_key(&page) {
            let file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_SYNC)
                .open("/dev/mem")
                .map_err(|e| io::Error::new(e.kind(), format!("/dev/mem: {e}")))?;
            let offset = libc::off_t::try_from(page)
                .map_err(|_| io::Error::other(format!("physical address {page:#x} out of range")))?;
            use std::os::fd::AsRawFd;
            // SAFETY: mapping one page of /dev/mem; checked for MAP_FAILED.
            // The mapping outlives the file descriptor, as mmap(2) allows.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    PHYS_PAGE as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    file.as_raw_fd(),
                    offset,
                )
            };
            if ptr == libc::MAP_FAILED {
                let e = io::Error::last_os_error();
                return Err(io::Error::new(e.kind(), format!("mmap /dev/mem at {page:#x}: {e}")));
            }
            self.phys
                .borrow_mut()
                .insert(page, (ptr as *mut u8, PHYS_PAGE as usize));
        }
        let phys = self.phys.borrow();
        let (ptr, _) = phys
            .get(&page)
            .ok_or_else(|| io::Error::other("/dev/mem mapping vanished"))?;
        // SAFETY: addr - page < PHYS_PAGE and the access does not cross the
        // page, because addr is aligned to width and width <= 4.
        Ok(unsafe { ptr.add((addr - page) as usize) })
    }

    fn mapping<R>(&self, dev: &str, bar: u8, f: impl FnOnce(&Mapping) -> io::Result<R>) -> io::Result<R> {
        let key = (dev.to_string(), bar);
        if !self.maps.borrow().contains_key(&key) {
            let m = open_bar(dev, bar)?;
            self.maps.borrow_mut().insert(key.clone(), m);
        }
        let maps = self.maps.borrow();
        let m = maps.get(&key).ok_or_else(|| io::Error::other("BAR mapping vanished"))?;
        f(m)
    }
}

fn open_bar(dev: &str, bar: u8) -> io::Result<Mapping> {
    let base = format!("/sys/bus/pci/devices/{dev}");
    let resources = fs::read_to_string(format!("{base}/resource"))?;
    let line = resources
        .lines()
        .nth(bar as usize)
        .ok_or_else(|| io::Error::other("no such BAR"))?;
    let flags = line
        .split_whitespace()
        .nth(2)
        .and_then(|f| u64::from_str_radix(f.trim_start_matches("0x"), 16).ok());
    let flags = flags.ok_or_else(|| io::Error::other(format!("unparsable resource line {line:?}")))?;
    // Without a driver the device may not decode this BAR's space yet
    // (firmware may have left only I/O decoding on, as edk2 does for a
    // virtio-rng it drove); `enable` asks the PCI core to turn decoding of
    // every BAR on, as a driver's probe would.
    let decode_bit = if flags & 0x100 != 0 { 0x1 } else { 0x2 };
    let cmd = fs::read(format!("{base}/config"))?;
    if cmd.len() >= 6 && cmd[4] & decode_bit == 0 {
        fs::write(format!("{base}/enable"), "1")?;
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("{base}/resource{bar}"))?;
    let len = file.metadata()?.len();
    if flags & 0x100 != 0 {
        return Ok(Mapping::Io { file, len });
    }
    use std::os::fd::AsRawFd;
    // SAFETY: mapping a sysfs resource file we hold open; checked for MAP_FAILED.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(Mapping::Mem {
        ptr: ptr as *mut u8,
        len: len as usize,
    })
}

fn check_access(offset: u64, width: u8, len: u64) -> io::Result<()> {
    if !matches!(width, 1 | 2 | 4) || !offset.is_multiple_of(u64::from(width)) || offset + u64::from(width) > len {
        return Err(io::Error::other(format!(
            "bad register access: offset {offset:#x} width {width} in {len:#x} bytes"
        )));
    }
    Ok(())
}

impl Live {
    #[cfg(target_arch = "x86_64")]
    fn fw_cfg_io(&self, selector: u16, len: usize) -> io::Result<Vec<u8>> {
        const CTL: u16 = 0x510;
        const DATA: u16 = 0x511;
        if self.fw_cfg_ports.borrow().is_none() {
            // SAFETY: ioperm only changes this thread's I/O permission bitmap.
            let ok = unsafe { libc::ioperm(u64::from(CTL) as libc::c_ulong, 2, 1) } == 0;
            *self.fw_cfg_ports.borrow_mut() = Some(ok);
            if !ok {
                return Err(io::Error::last_os_error());
            }
        }
        if *self.fw_cfg_ports.borrow() != Some(true) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "no access to fw_cfg I/O ports 0x510-0x511",
            ));
        }
        let mut out = Vec::with_capacity(len);
        // SAFETY: port access was granted by ioperm above; fw_cfg ignores
        // selectors it does not know and then reads as zero.
        unsafe {
            std::arch::asm!("out dx, ax", in("dx") CTL, in("ax") selector, options(nomem, nostack, preserves_flags));
            for _ in 0..len {
                let b: u8;
                std::arch::asm!("in al, dx", out("al") b, in("dx") DATA, options(nomem, nostack, preserves_flags));
                out.push(b);
            }
        }
        Ok(out)
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn fw_cfg_io(&self, _selector: u16, _len: usize) -> io::Result<Vec<u8>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "fw_cfg I/O ports exist only on x86",
        ))
    }
}

impl Source for Live {
    fn arch(&self) -> io::Result<String> {
        Ok(std::env::consts::ARCH.to_string())
    }

    fn read_file(&self, path: &str) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<_>>()?;
        names.sort();
        Ok(names)
    }

    fn read_link(&self, path: &str) -> io::Result<String> {
        Ok(fs::read_link(path)?.to_string_lossy().into_owned())
    }

    #[cfg(target_arch = "x86_64")]
    fn cpuid(&self, cpu: u32, leaf: u32, subleaf: u32) -> io::Result<[u32; 4]> {
        self.pin(cpu)?;
        let r = std::arch::x86_64::__cpuid_count(leaf, subleaf);
        Ok([r.eax, r.ebx, r.ecx, r.edx])
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn cpuid(&self, _cpu: u32, _leaf: u32, _subleaf: u32) -> io::Result<[u32; 4]> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "CPUID exists only on x86"))
    }

    fn fw_cfg_read(&self, port: FwCfgPort, selector: u16, len: usize) -> io::Result<Vec<u8>> {
        match port {
            FwCfgPort::Io => self.fw_cfg_io(selector, len),
            FwCfgPort::Mmio(base) => {
                // The selector register is big-endian (QEMU's fw_cfg spec):
                // a little-endian CPU stores the swapped value.
                let ctl = self.phys_ptr(base + 8, 2)?;
                let data = self.phys_ptr(base, 4)?;
                let mut out = Vec::with_capacity(len);
                // SAFETY: both pointers come from phys_ptr (mapped, aligned);
                // a selector write resets the data offset, and each read
                // advances it by its width. The data register is
                // "string-preserving" (QEMU's fw_cfg spec): a 4-byte load by
                // a little-endian CPU holds the next four bytes in stream
                // order in its little-endian bytes.
                unsafe {
                    std::ptr::write_volatile(ctl as *mut u16, selector.to_be());
                    while out.len() + 4 <= len {
                        let w = std::ptr::read_volatile(data as *const u32);
                        out.extend_from_slice(&w.to_le_bytes());
                    }
                    while out.len() < len {
                        out.push(std::ptr::read_volatile(data));
                    }
                }
                Ok(out)
            }
        }
    }

    #[cfg(target_arch = "aarch64")]
    fn id_register(&self, cpu: u32, name: &str) -> io::Result<u64> {
        self.pin(cpu)?;
        crate::idregs::mrs(name)
    }

    #[cfg(not(target_arch = "aarch64"))]
    fn id_register(&self, _cpu: u32, _name: &str) -> io::Result<u64> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "Arm ID registers exist only on aarch64",
        ))
    }

    /// The read happens in a forked child: a register the device does not
    /// implement may answer with a bus error, which would kill the probe
    /// (SIGBUS) and lose every fact; in the child it becomes this error.
    fn phys_read32(&self, addr: u64) -> io::Result<u32> {
        let p = self.phys_ptr(addr, 4)? as *const u32;
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe fills two descriptors; fork duplicates the process.
        // The child only reads the (inherited) mapping, writes 4 bytes and
        // exits, allocating nothing.
        unsafe {
            if libc::pipe(fds.as_mut_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let pid = libc::fork();
            if pid == 0 {
                let v = std::ptr::read_volatile(p).to_ne_bytes();
                let ok = libc::write(fds[1], v.as_ptr() as *const libc::c_void, 4) == 4;
                libc::_exit(if ok { 0 } else { 1 });
            }
            libc::close(fds[1]);
            if pid < 0 {
                let e = io::Error::last_os_error();
                libc::close(fds[0]);
                return Err(e);
            }
            let mut v = [0u8; 4];
            let n = libc::read(fds[0], v.as_mut_ptr() as *mut libc::c_void, 4);
            libc::close(fds[0]);
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            if libc::WIFSIGNALED(status) {
                let sig = libc::WTERMSIG(status);
                return Err(io::Error::other(format!(
                    "reading {addr:#x} killed the reader with signal {sig} (bus error: no register there)"
                )));
            }
            if n != 4 {
                return Err(io::Error::other(format!(
                    "reading {addr:#x}: reader exited with status {status:#x}"
                )));
            }
            Ok(u32::from_ne_bytes(v))
        }
    }

    fn kernel_log(&self) -> io::Result<Vec<u8>> {
        const SYSLOG_ACTION_READ_ALL: libc::c_int = 3;
        const SYSLOG_ACTION_SIZE_BUFFER: libc::c_int = 10;
        // SAFETY: SIZE_BUFFER takes no buffer.
        let size = unsafe { libc::klogctl(SYSLOG_ACTION_SIZE_BUFFER, std::ptr::null_mut(), 0) };
        if size < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; size.max(1) as usize];
        // SAFETY: buf holds buf.len() writable bytes.
        let n = unsafe {
            libc::klogctl(
                SYSLOG_ACTION_READ_ALL,
                buf.as_mut_ptr() as *mut libc::c_char,
                libc::c_int::try_from(buf.len()).unwrap_or(libc::c_int::MAX),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        buf.truncate(n as usize);
        Ok(buf)
    }

    fn bar_read(&self, dev: &str, bar: u8, offset: u64, width: u8) -> io::Result<u32> {
        use std::os::unix::fs::FileExt;
        self.mapping(dev, bar, |m| match m {
            Mapping::Mem { ptr, len } => {
                check_access(offset, width, *len as u64)?;
                // SAFETY: bounds and alignment checked; device registers need volatile access.
                unsafe {
                    let p = ptr.add(offset as usize);
                    Ok(match width {
                        1 => u32::from(std::ptr::read_volatile(p)),
                        2 => u32::from(std::ptr::read_volatile(p as *const u16)),
                        _ => std::ptr::read_volatile(p as *const u32),
                    })
                }
            }
            Mapping::Io { file, len } => {
                check_access(offset, width, *len)?;
                let mut buf = [0u8; 4];
                file.read_exact_at(&mut buf[..width as usize], offset)?;
                Ok(u32::from_le_bytes(buf))
            }
        })
    }

    fn bar_write(&self, dev: &str, bar: u8, offset: u64, width: u8, value: u32) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.mapping(dev, bar, |m| match m {
            Mapping::Mem { ptr, len } => {
                check_access(offset, width, *len as u64)?;
                // SAFETY: bounds and alignment checked; device registers need volatile access.
                unsafe {
                    let p = ptr.add(offset as usize);
                    match width {
                        1 => std::ptr::write_volatile(p, value as u8),
                        2 => std::ptr::write_volatile(p as *mut u16, value as u16),
                        _ => std::ptr::write_volatile(p as *mut u32, value),
                    }
                }
                Ok(())
            }
            Mapping::Io { file, len } => {
                check_access(offset, width, *len)?;
                file.write_all_at(&value.to_le_bytes()[..width as usize], offset)
            }
        })
    }
}

/// Wraps a source and writes every answer into a fixture tree.
pub struct Recording<S> {
    inner: S,
    dir: PathBuf,
    log: RefCell<RecordLog>,
}

#[derive(Default)]
struct RecordLog {
    links: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    cpuid: Vec<String>,
    idregs: Vec<String>,
    fw_cfg: BTreeMap<u16, Vec<u8>>,
    io: Vec<String>,
    kernel_log: Option<Vec<u8>>,
    arch: Option<String>,
}

impl<S: Source> Recording<S> {
    /// Record into `dir` (created if needed).
    pub fn new(inner: S, dir: &Path) -> io::Result<Recording<S>> {
        fs::create_dir_all(dir.join("fs"))?;
        Ok(Recording {
            inner,
            dir: dir.to_path_buf(),
            log: RefCell::default(),
        })
    }

    /// Write the logs kept in memory (links, errors, cpuid, idregs, fw_cfg,
    /// io, kernel log, arch). Files of Arm-only sources are written only
    /// when something was read, so x86 trees look as they always did.
    pub fn finish(self) -> io::Result<()> {
        let log = self.log.into_inner();
        let lines = |m: &BTreeMap<String, String>| m.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect::<String>();
        fs::write(self.dir.join("links.txt"), lines(&log.links))?;
        fs::write(self.dir.join("errors.txt"), lines(&log.errors))?;
        fs::write(
            self.dir.join("cpuid.txt"),
            log.cpuid.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )?;
        if !log.idregs.is_empty() {
            fs::write(
                self.dir.join("idregs.txt"),
                log.idregs.iter().map(|l| format!("{l}\n")).collect::<String>(),
            )?;
        }
        if let Some(k) = &log.kernel_log {
            fs::write(self.dir.join("kernel.log"), k)?;
        }
        if let Some(a) = &log.arch {
            fs::write(self.dir.join("arch.txt"), format!("{a}\n"))?;
        }
        fs::write(
            self.dir.join("io.txt"),
            log.io.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )?;
        fs::create_dir_all(self.dir.join("fw_cfg"))?;
        for (sel, data) in log.fw_cfg {
            fs::write(self.dir.join("fw_cfg").join(format!("{sel:04x}")), data)?;
        }
        Ok(())
    }

    fn note_err<T>(&self, path: &str, r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r {
            self.log.borrow_mut().errors.insert(path.to_string(), e.to_string());
        }
        r
    }
}

fn fixture_path(dir: &Path, path: &str) -> PathBuf {
    dir.join("fs").join(path.trim_start_matches('/'))
}

impl<S: Source> Source for Recording<S> {
    fn arch(&self) -> io::Result<String> {
        let a = self.inner.arch()?;
        self.log.borrow_mut().arch = Some(a.clone());
        Ok(a)
    }

    fn id_register(&self, cpu: u32, name: &str) -> io::Result<u64> {
        let v = self.inner.id_register(cpu, name)?;
        self.log.borrow_mut().idregs.push(format!("{cpu} {name} {v:016x}"));
        Ok(v)
    }

    fn phys_read32(&self, addr: u64) -> io::Result<u32> {
        let v = self.inner.phys_read32(addr)?;
        self.log.borrow_mut().io.push(format!("p r {addr:x} 4 {v:x}"));
        Ok(v)
    }

    fn kernel_log(&self) -> io::Result<Vec<u8>> {
        let k = self.inner.kernel_log()?;
        self.log.borrow_mut().kernel_log = Some(k.clone());
        Ok(k)
    }

    fn read_file(&self, path: &str) -> io::Result<Vec<u8>> {
        let data = self.note_err(path, self.inner.read_file(path))?;
        let dest = fixture_path(&self.dir, path);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(dest, &data)?;
        Ok(data)
    }

    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let names = self.note_err(path, self.inner.read_dir(path))?;
        fs::create_dir_all(fixture_path(&self.dir, path))?;
        Ok(names)
    }

    fn read_link(&self, path: &str) -> io::Result<String> {
        let target = self.note_err(path, self.inner.read_link(path))?;
        self.log.borrow_mut().links.insert(path.to_string(), target.clone());
        Ok(target)
    }

    fn cpuid(&self, cpu: u32, leaf: u32, subleaf: u32) -> io::Result<[u32; 4]> {
        let r = self.inner.cpuid(cpu, leaf, subleaf)?;
        self.log.borrow_mut().cpuid.push(format!(
            "{cpu} {leaf:08x} {subleaf:08x} {:08x} {:08x} {:08x} {:08x}",
            r[0], r[1], r[2], r[3]
        ));
        Ok(r)
    }

    fn fw_cfg_read(&self, port: FwCfgPort, selector: u16, len: usize) -> io::Result<Vec<u8>> {
        let data = self.inner.fw_cfg_read(port, selector, len)?;
        let mut log = self.log.borrow_mut();
        let slot = log.fw_cfg.entry(selector).or_default();
        if slot.len() < data.len() {
            *slot = data.clone();
        }
        Ok(data)
    }

    fn bar_read(&self, dev: &str, bar: u8, offset: u64, width: u8) -> io::Result<u32> {
        let v = self.inner.bar_read(dev, bar, offset, width)?;
        self.log
            .borrow_mut()
            .io
            .push(format!("r {dev} {bar} {offset:x} {width} {v:x}"));
        Ok(v)
    }

    fn bar_write(&self, dev: &str, bar: u8, offset: u64, width: u8, value: u32) -> io::Result<()> {
        self.inner.bar_write(dev, bar, offset, width, value)?;
        self.log
            .borrow_mut()
            .io
            .push(format!("w {dev} {bar} {offset:x} {width} {value:x}"));
        Ok(())
    }
}

/// Replays a fixture tree captured by [`Recording`].
pub struct Fixture {
    dir: PathBuf,
    arch: String,
    links: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    cpuid: BTreeMap<(u32, u32, u32), [u32; 4]>,
    idregs: BTreeMap<(u32, String), u64>,
    io: Vec<String>,
    io_at: RefCell<usize>,
}

fn read_map(path: &Path) -> io::Result<BTreeMap<String, String>> {
    let text = fs::read_to_string(path).or_else(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            Ok(String::new())
        } else {
            Err(e)
        }
    })?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect())
}

fn bad_fixture(what: &str, line: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad {what} fixture line {line:?}"))
}

/// A recorded error message as an error again. An OS error (`… (os error
/// N)`) comes back as that OS error, with its kind, so collectors that tell
/// "not there" from "could not read" decide as they did live; its text is
/// the same.
fn replayed_error(text: &str) -> io::Error {
    let code = text
        .strip_suffix(')')
        .and_then(|t| t.rsplit_once("(os error "))
        .and_then(|(_, n)| n.parse::<i32>().ok());
    match code {
        Some(n) if io::Error::from_raw_os_error(n).to_string() == text => io::Error::from_raw_os_error(n),
        _ => io::Error::other(text.to_string()),
    }
}

impl Fixture {
    /// Open a fixture tree.
    pub fn open(dir: &Path) -> io::Result<Fixture> {
        let mut cpuid = BTreeMap::new();
        for line in fs::read_to_string(dir.join("cpuid.txt")).unwrap_or_default().lines() {
            let w: Vec<u32> = line
                .split(' ')
                .enumerate()
                .map(|(i, w)| {
                    if i == 0 {
                        w.parse().ok()
                    } else {
                        u32::from_str_radix(w, 16).ok()
                    }
                })
                .collect::<Option<_>>()
                .ok_or_else(|| bad_fixture("cpuid", line))?;
            let [cpu, leaf, sub, a, b, c, d] = w[..] else {
                return Err(bad_fixture("cpuid", line));
            };
            cpuid.insert((cpu, leaf, sub), [a, b, c, d]);
        }
        let mut idregs = BTreeMap::new();
        for line in fs::read_to_string(dir.join("idregs.txt")).unwrap_or_default().lines() {
            let mut w = line.split(' ');
            let (Some(cpu), Some(name), Some(value), None) = (w.next(), w.next(), w.next(), w.next()) else {
                return Err(bad_fixture("idregs", line));
            };
            let cpu: u32 = cpu.parse().map_err(|_| bad_fixture("idregs", line))?;
            let value = u64::from_str_radix(value, 16).map_err(|_| bad_fixture("idregs", line))?;
            idregs.insert((cpu, name.to_string()), value);
        }
        let arch_file = dir.join("arch.txt");
        let arch = fs::read_to_string(&arch_file)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", arch_file.display())))?
            .trim()
            .to_string();
        Ok(Fixture {
            dir: dir.to_path_buf(),
            arch,
            idregs,
            links: read_map(&dir.join("links.txt"))?,
            errors: read_map(&dir.join("errors.txt"))?,
            cpuid,
            io: fs::read_to_string(dir.join("io.txt"))
                .unwrap_or_default()
                .lines()
                .map(String::from)
                .collect(),
            io_at: RefCell::new(0),
        })
    }

    fn recorded_error(&self, path: &str) -> io::Result<()> {
        match self.errors.get(path) {
            Some(e) => Err(replayed_error(e)),
            None => Ok(()),
        }
    }

    fn next_io(&self, expect: &str) -> io::Result<String> {
        let mut at = self.io_at.borrow_mut();
        let line = self
            .io
            .get(*at)
            .ok_or_else(|| io::Error::other(format!("io trace exhausted at {expect:?}")))?;
        if !line.starts_with(expect) {
            return Err(io::Error::other(format!(
                "io trace step {}: expected {expect:?}, fixture has {line:?}",
                *at
            )));
        }
        *at += 1;
        Ok(line[expect.len()..].trim().to_string())
    }
}

impl Source for Fixture {
    fn arch(&self) -> io::Result<String> {
        Ok(self.arch.clone())
    }

    fn id_register(&self, cpu: u32, name: &str) -> io::Result<u64> {
        self.idregs
            .get(&(cpu, name.to_string()))
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{name} on cpu {cpu} not recorded")))
    }

    fn phys_read32(&self, addr: u64) -> io::Result<u32> {
        let v = self.next_io(&format!("p r {addr:x} 4 "))?;
        u32::from_str_radix(&v, 16).map_err(|_| bad_fixture("io", &v))
    }

    fn kernel_log(&self) -> io::Result<Vec<u8>> {
        let p = self.dir.join("kernel.log");
        fs::read(&p).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
    }

    fn read_file(&self, path: &str) -> io::Result<Vec<u8>> {
        self.recorded_error(path)?;
        fs::read(fixture_path(&self.dir, path))
    }

    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        self.recorded_error(path)?;
        let mut names: Vec<String> = fs::read_dir(fixture_path(&self.dir, path))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<_>>()?;
        let prefix = format!("{}/", path.trim_end_matches('/'));
        for link in self.links.keys() {
            if let Some(name) = link.strip_prefix(&prefix) {
                if !name.contains('/') && !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn read_link(&self, path: &str) -> io::Result<String> {
        self.recorded_error(path)?;
        self.links
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{path}: not a recorded link")))
    }

    fn cpuid(&self, cpu: u32, leaf: u32, subleaf: u32) -> io::Result<[u32; 4]> {
        self.cpuid.get(&(cpu, leaf, subleaf)).copied().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("cpuid {leaf:#x}.{subleaf:#x} on cpu {cpu} not recorded"),
            )
        })
    }

    fn fw_cfg_read(&self, _port: FwCfgPort, selector: u16, len: usize) -> io::Result<Vec<u8>> {
        let mut data = fs::read(self.dir.join("fw_cfg").join(format!("{selector:04x}")))?;
        if data.len() < len {
            return Err(io::Error::other(format!(
                "fw_cfg {selector:#06x}: only {} of {len} bytes recorded",
                data.len()
            )));
        }
        data.truncate(len);
        Ok(data)
    }

    fn bar_read(&self, dev: &str, bar: u8, offset: u64, width: u8) -> io::Result<u32> {
        let v = self.next_io(&format!("r {dev} {bar} {offset:x} {width} "))?;
        u32::from_str_radix(&v, 16).map_err(|_| bad_fixture("io", &v))
    }

    fn bar_write(&self, dev: &str, bar: u8, offset: u64, width: u8, value: u32) -> io::Result<()> {
        self.next_io(&format!("w {dev} {bar} {offset:x} {width} {value:x}"))
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replayed_os_errors_keep_kind_and_text() {
        let e = replayed_error("No such file or directory (os error 2)");
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(e.to_string(), "No such file or directory (os error 2)");
        // Text that only looks like an OS error stays as it was.
        let e = replayed_error("mmap /dev/mem at 0x8000000: weird (os error 2)");
        assert_eq!(e.kind(), io::ErrorKind::Other);
        assert_eq!(e.to_string(), "mmap /dev/mem at 0x8000000: weird (os error 2)");
    }
}
