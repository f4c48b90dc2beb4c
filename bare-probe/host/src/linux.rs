//! The Linux probe's boot, for side-by-side timing: the same kernel,
//! initramfs layout and command line as the recorder (recorder/src/record.rs,
//! boot.rs), built here without the recorder crate.

use crate::qemu::Qemu;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};


/// A newc cpio archive of `entries` (path, mode, data).
fn cpio(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let pad = |v: &mut Vec<u8>| {
        while v.len() % 4 != 0 {
            v.push(0)
        }
    };
    let mut put = |name: &str, mode: u32, data: &[u8], ino: u32| {
        let fields = [ino, mode, 0, 0, 1, 0, data.len() as u32, 0, 0, 0, 0, name.len() as u32 + 1, 0];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        pad(&mut out);
        out.extend_from_slice(data);
        pad(&mut out);
    };
    for (i, (name, mode, data)) in entries.iter().enumerate() {
        put(name, *mode, data, i as u32 + 1);
    }
    put("TRAILER!!!", 0, &[], 0);
    out
}

pub struct Linux {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
}

impl Linux {
    pub fn setup(fixtures: &Path, probe: &Path, scratch: &Path) -> std::io::Result<Linux> {
        let init = std::fs::read(probe)?;
        let image = cpio(&[
            ("dev", 0o40755, &[]),
            ("init", 0o100755, &init),
            ("proc", 0o40755, &[]),
            ("probe", 0o40755, &[]),
            ("probe/modules", 0o100644, &[]),
            ("sys", 0o40755, &[]),
        ]);
        let initrd = scratch.join("initrd.cpio");
        std::fs::write(&initrd, image)?;
        Ok(Linux {
            kernel: fixtures.join("kernel/vmlinuz"),
            initrd,
        })
    }

    /// One boot; `poweroff`: the kernel + initramfs only (the probe powers
    /// off at once). Returns wall time and whether the framed stream ended.
    pub fn boot(&self, q: &Qemu, machine: &str, poweroff: bool, scratch: &Path) -> (Duration, bool) {
        let serial = scratch.join("linux-serial.txt");
        let _ = std::fs::remove_file(&serial);
        let mut append = "console=ttyS0 panic=-1 quiet".to_string();
        if poweroff {
            append.push_str(" mabi.poweroff=1");
        }
        let mut c = Command::new("nice");
        c.arg("-n").arg("10").arg(&q.binary);
        for d in &q.data_dirs {
            c.arg("-L").arg(d);
        }
        c.args(["-machine", machine, "-accel", "tcg", "-m", "512", "-smp", "2", "-display", "none"]);
        c.args(["-monitor", "none", "-no-reboot", "-serial"]).arg(format!("file:{}", serial.display()));
        c.arg("-kernel").arg(&self.kernel).arg("-initrd").arg(&self.initrd).arg("-append").arg(append);
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let t = Instant::now();
        let out = c.output();
        let elapsed = t.elapsed();
        let ok = out.as_ref().map(|o| o.status.success()).unwrap_or(false);
        let text = std::fs::read_to_string(&serial).unwrap_or_default();
        let good = ok && (poweroff || text.contains("MABI1 END"));
        if !good {
            let tail: Vec<&str> = text.lines().rev().take(3).collect();
            eprintln!(
                "linux boot of {machine} on QEMU {} failed after {:.1} s: status {:?}, stderr {:?}, serial tail {:?}",
                q.name,
                elapsed.as_secs_f64(),
                out.as_ref().map(|o| o.status),
                out.as_ref().map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).unwrap_or_default(),
                tail
            );
        }
        (elapsed, good)
    }
}
