//! Start QEMU with the bare probe as a Multiboot `-kernel`.

use std::io::Read;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One QEMU build with its data directories.
#[derive(Clone, Debug)]
pub struct Qemu {
    pub name: String,
    pub binary: PathBuf,
    pub data_dirs: Vec<PathBuf>,
}

impl Qemu {
    /// The two pinned releases under the fixture directory.
    pub fn pinned(fixtures: &Path) -> Vec<Qemu> {
        ["7.2", "10.0"]
            .iter()
            .map(|v| Qemu {
                name: v.to_string(),
                binary: fixtures.join(format!("qemu-{v}/usr/bin/qemu-system-x86_64")),
                data_dirs: vec![fixtures.join("firmware"), fixtures.join(format!("qemu-{v}/usr/share/qemu"))],
            })
            .collect()
    }

    fn command(&self) -> Command {
        let mut c = Command::new("nice");
        c.arg("-n").arg("10").arg(&self.binary);
        if let Some(usr) = self.binary.parent().and_then(Path::parent) {
            let m = usr.join("lib/x86_64-linux-gnu/qemu");
            if m.is_dir() {
                c.env("QEMU_MODULE_DIR", m);
            }
        }
        for d in &self.data_dirs {
            c.arg("-L").arg(d);
        }
        c
    }
}

/// Where COM1 goes.
pub enum Serial<'a> {
    /// `-serial file:PATH`.
    File(&'a Path),
    /// A unix socket we listen on; QEMU connects as client.
    Socket(&'a Path),
}

pub struct Running {
    pub child: Child,
    pub started: Instant,
    pub stream: Option<UnixStream>,
}

/// The fixed machine: TCG, 512 MiB, 2 vCPUs, no display, no reboot.
pub fn start(q: &Qemu, machine: &str, image: &Path, append: &str, serial: Serial, extra: &[String]) -> std::io::Result<Running> {
    let mut c = q.command();
    c.args(["-machine", machine, "-accel", "tcg", "-m", "512", "-smp", "2"]);
    c.args(["-display", "none", "-monitor", "none", "-no-reboot"]);
    let listener = match serial {
        Serial::File(p) => {
            let _ = std::fs::remove_file(p);
            c.arg("-serial").arg(format!("file:{}", p.display()));
            None
        }
        Serial::Socket(p) => {
            let _ = std::fs::remove_file(p);
            let l = UnixListener::bind(p)?;
            c.args(["-chardev", &format!("socket,id=com1,path={}", p.display()), "-serial", "chardev:com1"]);
            Some(l)
        }
    };
    c.arg("-kernel").arg(image).arg("-append").arg(append);
    c.args(extra);
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let started = Instant::now();
    let child = c.spawn()?;
    let stream = match listener {
        Some(l) => Some(l.accept()?.0),
        None => None,
    };
    Ok(Running { child, started, stream })
}

pub struct Finished {
    pub elapsed: Duration,
    pub ok: bool,
    pub stderr: String,
}

/// Wait for QEMU to exit (kill it after `timeout`).
pub fn finish(mut r: Running, timeout: Duration) -> Finished {
    let mut err = r.child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let mut ok = false;
    loop {
        match r.child.try_wait() {
            Ok(Some(st)) => {
                ok = st.success();
                break;
            }
            Ok(None) if r.started.elapsed() > timeout => {
                let _ = r.child.kill();
                let _ = r.child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => break,
        }
    }
    let elapsed = r.started.elapsed();
    Finished {
        elapsed,
        ok,
        stderr: reader.join().unwrap_or_default(),
    }
}
