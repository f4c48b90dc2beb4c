//! `guest-probe`: collect every guest-visible ABI fact of this VM.
//!
//! As PID 1 of an initramfs it mounts the kernel filesystems, loads the
//! modules listed in `/probe/modules`, writes the framed fact stream to the
//! first serial port and powers the VM off, whatever happens. As an ordinary
//! program (root) it writes the framed stream to stdout, or with `--out DIR`
//! the document and blobs into DIR, or with `--document` the document alone.

use abi_model::facts::ModuleLoad;
use guest_probe::collect::{collect, Collection, BLOB_DIR, DOCUMENT};
use guest_probe::frame::{self, Entry};
use guest_probe::source::{Live, Recording, Source};
use std::ffi::CString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use std::{fs, io, process};

/// The initramfs lists modules to load here, one file name per line, in order.
const MODULE_LIST: &str = "/probe/modules";
const MODULE_DIR: &str = "/probe";
/// Serial console the host captures: the first 16550 UART on x86, the
/// PL011 UART on Arm's virt.
#[cfg(not(target_arch = "aarch64"))]
const SERIAL: &str = "/dev/ttyS0";
#[cfg(target_arch = "aarch64")]
const SERIAL: &str = "/dev/ttyAMA0";
/// A probe that has not finished by then reports so and powers off.
const WATCHDOG: Duration = Duration::from_secs(300);

fn usage() -> ! {
    eprintln!(
        "usage: guest-probe [--out DIR | --document] [--capture DIR]\n\
         \n  (no option)     write the framed fact stream to stdout\
         \n  --out DIR       write {DOCUMENT} and {BLOB_DIR}/ into DIR\
         \n  --document      write {DOCUMENT} alone to stdout (blobs are not written)\
         \n  --capture DIR   also record every value read into a fixture tree in DIR"
    );
    process::exit(2)
}

fn main() {
    if process::id() == 1 {
        init();
    }
    let mut out: Option<PathBuf> = None;
    let mut capture: Option<PathBuf> = None;
    let mut document = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--capture" => capture = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--document" => document = true,
            "--version" => {
                println!("guest-probe {}", guest_probe::PROBE_VERSION);
                return;
            }
            _ => usage(),
        }
    }
    let c = match run_collect(capture.as_deref(), Vec::new()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("guest-probe: capture: {e}");
            process::exit(2);
        }
    };
    let result = if let Some(dir) = out {
        write_dir(&c, &dir)
    } else if document {
        io::stdout().write_all(c.document().as_bytes())
    } else {
        io::stdout().write_all(frame::pack(&c.to_entries()).as_bytes())
    };
    if let Err(e) = result {
        eprintln!("guest-probe: writing output: {e}");
        process::exit(2);
    }
}

fn run_collect(capture: Option<&Path>, modules: Vec<ModuleLoad>) -> io::Result<Collection> {
    match capture {
        None => Ok(collect(&Live::new(), modules)),
        Some(dir) => {
            let rec = Recording::new(Live::new(), dir)?;
            let c = collect(&rec as &dyn Source, modules);
            rec.finish()?;
            Ok(c)
        }
    }
}

fn write_dir(c: &Collection, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir.join(BLOB_DIR))?;
    for (id, data) in c.blobs.iter() {
        fs::write(dir.join(BLOB_DIR).join(id.as_str()), data)?;
    }
    fs::write(dir.join(DOCUMENT), c.document())
}

// ---- PID 1 ----

fn mount(source: &str, target: &str, fstype: &str) -> Result<(), String> {
    let _ = fs::create_dir_all(target);
    let c = |s: &str| CString::new(s).map_err(|e| e.to_string());
    let (s, t, f) = (c(source)?, c(target)?, c(fstype)?);
    // SAFETY: valid NUL-terminated strings, no data argument.
    let r = unsafe { libc::mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), 0, std::ptr::null()) };
    if r != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EBUSY) {
            return Err(format!("mount {fstype} on {target}: {e}"));
        }
    }
    Ok(())
}

fn load_modules() -> Vec<ModuleLoad> {
    let list = fs::read_to_string(MODULE_LIST).unwrap_or_default();
    list.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|name| {
            let name = name.trim().to_string();
            let result = match fs::File::open(Path::new(MODULE_DIR).join(&name)) {
                Err(e) => format!("open: {e}"),
                Ok(f) => {
                    use std::os::fd::AsRawFd;
                    // SAFETY: finit_module with an open fd and an empty parameter string.
                    let r = unsafe { libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), c"".as_ptr(), 0) };
                    if r == 0 {
                        "loaded".into()
                    } else {
                        let e = io::Error::last_os_error();
                        if e.raw_os_error() == Some(libc::EEXIST) {
                            "loaded".into()
                        } else {
                            format!("finit_module: {e}")
                        }
                    }
                }
            };
            ModuleLoad { name, result }
        })
        .collect()
}

fn power_off() -> ! {
    // SAFETY: plain syscalls; as PID 1 we own the machine.
    unsafe {
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
    // reboot(2) only returns on failure; exiting PID 1 panics the kernel,
    // which with `panic=-1 -no-reboot` also ends the VM.
    process::exit(1)
}

fn serial() -> Option<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .open(SERIAL)
        .or_else(|_| fs::OpenOptions::new().write(true).open("/dev/console"))
        .ok()
}

fn send(text: &str) {
    if let Some(mut s) = serial() {
        // Framing lines must start their line: firmware can leave the
        // console mid-line (edk2 on virt-2.6 to virt-2.11 ends its banner
        // with screen-clearing escapes and no newline).
        let _ = s.write_all(b"\n");
        let _ = s.write_all(text.as_bytes());
        let _ = s.flush();
        use std::os::fd::AsRawFd;
        // SAFETY: waits until the UART has sent everything written.
        unsafe { libc::tcdrain(s.as_raw_fd()) };
    }
}

fn init() -> ! {
    let mut errors = Vec::new();
    for (src, dst, fs_type) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
    ] {
        if let Err(e) = mount(src, dst, fs_type) {
            errors.push(e);
        }
    }
    // Benchmark baseline: the same kernel and initramfs, powered off at once.
    if fs::read_to_string("/proc/cmdline")
        .unwrap_or_default()
        .split_whitespace()
        .any(|w| w == "mabi.poweroff=1")
    {
        power_off();
    }
    // Keep kernel messages off the console while we write: a printk in the
    // middle of a framing line would corrupt it.
    // SAFETY: SYSLOG_ACTION_CONSOLE_LEVEL takes no buffer.
    unsafe { libc::klogctl(8, std::ptr::null_mut(), 1) };
    if !errors.is_empty() {
        send(&frame::pack_fatal(&errors.join("; ")));
        power_off();
    }
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        send(&frame::pack_fatal(&format!(
            "probe did not finish within {}s",
            WATCHDOG.as_secs()
        )));
        power_off();
    });
    let cmdline = fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let capture = cmdline.split_whitespace().any(|w| w == "mabi.capture=1");
    let modules = load_modules();
    let outcome = std::panic::catch_unwind(move || -> io::Result<Vec<Entry>> {
        let dir = Path::new("/capture");
        let c = run_collect(capture.then_some(dir), modules)?;
        let mut entries = c.to_entries();
        if capture {
            entries.extend(capture_entries(dir)?);
        }
        Ok(entries)
    });
    match outcome {
        Ok(Ok(entries)) => send(&frame::pack(&entries)),
        Ok(Err(e)) => send(&frame::pack_fatal(&format!("capture failed: {e}"))),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            send(&frame::pack_fatal(&format!(
                "probe panicked: {}",
                msg.unwrap_or_default()
            )));
        }
    }
    power_off()
}

/// The fixture tree as `capture/<relative path>` entries.
fn capture_entries(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .map_err(io::Error::other)?
                    .to_string_lossy()
                    .into_owned();
                if rel.contains(char::is_whitespace) {
                    return Err(io::Error::other(format!(
                        "cannot frame file name with whitespace: {rel:?}"
                    )));
                }
                out.push(Entry {
                    name: format!("capture/{rel}"),
                    data: fs::read(&p)?,
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
