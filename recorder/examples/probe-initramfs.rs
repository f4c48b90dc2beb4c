//! Build the probe's initramfs the way `record` does (probe as `/init`,
//! modules and their dependencies under `/probe` with the load list), for
//! booting QEMU by hand, e.g. an architecture `record` does not drive yet.
//!
//! Usage: cargo run -p recorder --example probe-initramfs -- OUT PROBE [MODULE_DIR MODULE...]

use recorder::initramfs::Initramfs;
use recorder::kmod::ModuleTree;
use std::process::ExitCode;

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, probe, rest @ ..] = &args[..] else {
        return Err("usage: probe-initramfs OUT PROBE [MODULE_DIR MODULE...]".into());
    };
    let probe_bytes = std::fs::read(probe).map_err(|e| format!("{probe}: {e}"))?;
    let mut ird = Initramfs::new();
    let mut list = String::new();
    if let [dir, names @ ..] = rest {
        let tree = ModuleTree::open(dir).map_err(|e| e.to_string())?;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for m in tree.resolve(&names).map_err(|e| e.to_string())? {
            let data = std::fs::read(&m.path).map_err(|e| format!("{}: {e}", m.path.display()))?;
            let file = format!("{}.ko", m.name);
            ird.add_file(&format!("probe/{file}"), data, 0o644)
                .map_err(|e| e.to_string())?;
            list.push_str(&file);
            list.push('\n');
        }
    }
    ird.add_file("probe/modules", list.into_bytes(), 0o644)
        .map_err(|e| e.to_string())?;
    ird.add_file("init", probe_bytes, 0o755).map_err(|e| e.to_string())?;
    for d in ["dev", "proc", "sys"] {
        ird.add_dir(d).map_err(|e| e.to_string())?;
    }
    std::fs::write(out, ird.to_bytes()).map_err(|e| format!("{out}: {e}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("probe-initramfs: {e}");
            ExitCode::FAILURE
        }
    }
}
