//! Host-side facts without a guest: `compat` (the compat tables in the
//! ELF), `host-facts` (QMP and `-dump-vmstate` of every machine type) and
//! `vmstate` (two dumps compared in both migration directions).

use crate::args::{Failure, PlainFormatArg};
use abi_check::compare::{compat, vmstate};
use abi_check::verdict::{EXIT_CLEAN, EXIT_DRIFT, EXIT_ERROR};
use abi_model::host::{applied, AppliedTable, CompatProperty, CompatTables};
use abi_model::MachineType;
use recorder::qemu::{self, Qemu};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn compat_tables(bin: &Path) -> Result<CompatTables, Failure> {
    let bytes = std::fs::read(bin).map_err(|e| Failure(format!("{}: {e}", bin.display())))?;
    recorder::elf::compat_tables(&bytes).map_err(|e| {
        Failure(format!(
            "{}: {e} (a binary that does not export the tables cannot be read without running it; \
             `machine-abi host-facts` and `record` fall back to QMP query-machines compat-props, \
             which QEMU 9.1 and later report)",
            bin.display()
        ))
    })
}

fn print(out: &str) {
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
}

/// `compat`: the tables of a binary, those a machine type applies, or how
/// the tables of two binaries differ (exit 1 when they do).
pub fn compat(bin: &Path, machine: Option<&str>, other: Option<&Path>, format: PlainFormatArg) -> Result<i32, Failure> {
    let tables = compat_tables(bin)?;
    let mut out = String::new();
    if let Some(other) = other {
        let d = compat::compare(&tables, &compat_tables(other)?);
        match format {
            PlainFormatArg::Json => out = serde_json::to_string_pretty(&d)? + "\n",
            PlainFormatArg::Text => {
                for t in &d {
                    let state = if t.added {
                        " (only in the second binary)"
                    } else if t.removed {
                        " (only in the first binary)"
                    } else {
                        ""
                    };
                    let _ = writeln!(out, "{}{state}", t.table);
                    for e in &t.entries_removed {
                        let _ = writeln!(out, "  - {}.{}={}", e.driver, e.property, e.value);
                    }
                    for e in &t.entries_added {
                        let _ = writeln!(out, "  + {}.{}={}", e.driver, e.property, e.value);
                    }
                }
                let _ = writeln!(out, "{} tables differ", d.len());
            }
        }
        print(&out);
        return Ok(if d.is_empty() { EXIT_CLEAN } else { EXIT_DRIFT });
    }
    let selected: Vec<AppliedTable> = match machine {
        Some(m) => {
            let m = MachineType(m.to_string());
            if m.version().is_none() {
                return Err(Failure(format!("{m} is not a versioned machine type")));
            }
            applied(&tables, &m)
        }
        None => tables
            .iter()
            .map(|(n, p)| AppliedTable {
                name: n.clone(),
                entries: p.clone(),
            })
            .collect(),
    };
    match format {
        PlainFormatArg::Json => {
            let map: BTreeMap<&str, &[CompatProperty]> = selected
                .iter()
                .map(|t| (t.name.as_str(), t.entries.as_slice()))
                .collect();
            out = serde_json::to_string_pretty(&map)? + "\n";
        }
        PlainFormatArg::Text => {
            for t in &selected {
                let _ = writeln!(out, "{} ({} entries)", t.name, t.entries.len());
                for e in &t.entries {
                    let _ = writeln!(out, "  {}.{}={}", e.driver, e.property, e.value);
                }
            }
        }
    }
    print(&out);
    Ok(EXIT_CLEAN)
}

/// `host-facts`: gather the host-side facts of every selected machine type
/// in parallel, one line each, and time it (exit 2 if any failed).
pub fn host_facts(
    binary: PathBuf,
    sysroot: Option<PathBuf>,
    data_dirs: Vec<PathBuf>,
    globs: &[String],
    jobs: Option<usize>,
    timeout: u64,
) -> Result<i32, Failure> {
    let mut q = Qemu::new(binary, data_dirs);
    q.sysroot = sysroot;
    q.check_data_dirs()?;
    q.query_timeout = q.query_timeout.min(Duration::from_secs(timeout));
    for g in globs {
        MachineType::check_glob(g).map_err(|e| Failure(format!("--machine {e}")))?;
    }
    let machines = qemu::select(&q.machines()?, globs, false);
    if machines.is_empty() {
        return Err(Failure(format!(
            "no machine type of {} matches {globs:?}",
            q.binary.display()
        )));
    }
    let bytes = std::fs::read(&q.binary)?;
    let tables = recorder::elf::compat_tables(&bytes).map_err(|e| e.to_string());
    let jobs = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let arch = q.target_arch()?;
    let mut settings = recorder::boot::BootSettings {
        timeout: Duration::from_secs(timeout),
        ..Default::default()
    };
    recorder::arch::adapt(&mut settings, &arch);
    let device_tree = recorder::arch::has_device_tree(&arch);
    let started = Instant::now();
    let mut lines: Vec<(usize, String, bool)> = Vec::new();
    let lost = recorder::pool::run_each(
        machines.len(),
        jobs,
        |i| {
            let m = &machines[i];
            let t = Instant::now();
            let (side, blobs) = recorder::host_facts::collect(&q, m, &tables, &settings, device_tree);
            let failed = side.qmp.available().is_none() || side.vmstate.available().is_none();
            let line = format!(
                "{m}: {} compat tables, QMP {}, vmstate {}, {} kB of blobs, {:.2} s",
                side.compat.available().map_or(0, Vec::len),
                if side.qmp.available().is_some() { "ok" } else { "FAILED" },
                if side.vmstate.available().is_some() {
                    "ok"
                } else {
                    "FAILED"
                },
                blobs.iter().map(Vec::len).sum::<usize>() / 1024,
                t.elapsed().as_secs_f64()
            );
            (line, failed)
        },
        |i, (line, failed)| lines.push((i, line, failed)),
    );
    for i in lost {
        lines.push((
            i,
            format!("{}: FAILED (worker ended without a result)", machines[i]),
            true,
        ));
    }
    lines.sort();
    let failed = lines.iter().filter(|r| r.2).count();
    for (_, line, _) in &lines {
        println!("{line}");
    }
    println!(
        "{} machine types in {:.1} s with {jobs} jobs, {failed} failed",
        lines.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if failed == 0 { EXIT_CLEAN } else { EXIT_ERROR })
}

/// `vmstate`: two dumps compared for migration both ways (exit 1 on a break).
pub fn vmstate(old: &Path, new: &Path, verbose: bool) -> Result<i32, Failure> {
    let a = abi_decode::vmstate::load(old)?;
    let b = abi_decode::vmstate::load(new)?;
    let mut breaks = 0;
    for (label, src, dst) in [("old → new", &a, &b), ("new → old", &b, &a)] {
        let findings = vmstate::compare(src, dst);
        let n = findings
            .iter()
            .filter(|f| f.severity == vmstate::Severity::Break)
            .count();
        breaks += n;
        println!("migration {label}: {n} break, {} info", findings.len() - n);
        for f in findings
            .iter()
            .filter(|f| verbose || f.severity == vmstate::Severity::Break)
        {
            println!("  {f}");
        }
    }
    Ok(if breaks == 0 { EXIT_CLEAN } else { EXIT_DRIFT })
}
