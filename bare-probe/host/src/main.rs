//! bare-probe-host: boot the bare probe on real QEMU; measure; serve it;
//! compare what it read with the Linux probe's records.

mod bench;
mod compare;
mod linux;
mod mailbox;
mod probe;
mod qemu;
mod source;

use std::path::PathBuf;

fn usage() -> ! {
    eprintln!(
        "usage: bare-probe-host bench (fw|tput|rtt|shm|smp|all|side) [REPS]\n\
         bare-probe-host equiv (7.2|10.0) [PREFIX...]\n\
         bare-probe-host probe (7.2|10.0) MACHINE... (compare with abi-db 7.2.22 default records)\n\
         env: FIXTURES (default /work/main/.cache/fixtures), IMAGE (default out/bare-probe.bin)"
    );
    std::process::exit(2)
}

/// A fresh guest RAM file on tmpfs.
pub fn ram_file(scratch: &std::path::Path) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = scratch.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    PathBuf::from(format!("/dev/shm/{name}-{n}.ram"))
}

/// The device-profile arguments a record was made with: everything after
/// `-append VALUE` in its command line, `$SHARE` made a scratch directory.
fn profile_args(record: &std::path::Path, scratch: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(record).unwrap_or_default();
    let v: toml::Value = toml::from_str(&text).unwrap_or(toml::Value::Table(Default::default()));
    let line: Vec<String> = v
        .get("provenance")
        .and_then(|p| p.get("command_line"))
        .and_then(|c| c.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let share = scratch.join("share");
    let _ = std::fs::create_dir_all(&share);
    match line.iter().position(|a| a == "-append") {
        Some(i) => line[i + 2..].iter().map(|a| a.replace("$SHARE", &share.to_string_lossy())).collect(),
        None => Vec::new(),
    }
}

/// The record of machine `m`, profile `profile`, for this QEMU release if
/// the database has one, else the machine type's baseline.
fn record_for(db: &std::path::Path, m: &str, profile: &str, qname: &str) -> PathBuf {
    let dir = db.join(format!("records/x86_64/{m}/{profile}"));
    let mut recs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    recs.sort();
    recs.iter()
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{qname}."))))
        .or(recs.first())
        .cloned()
        .unwrap_or(dir.join("none.toml"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let fixtures = PathBuf::from(std::env::var("FIXTURES").unwrap_or("/work/main/.cache/fixtures".into()));
    let image = std::env::var("IMAGE").map(PathBuf::from).unwrap_or(here.join("out/bare-probe.bin"));
    let scratch = std::env::temp_dir().join(format!("bare-probe-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let qemus = qemu::Qemu::pinned(&fixtures);
    let machines = ["pc-q35-7.2", "pc-i440fx-7.2"];
    match args.first().map(String::as_str) {
        Some("bench") => {
            let what = args.get(1).map(String::as_str).unwrap_or("all");
            let reps: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5);
            let hz = bench::tsc_hz();
            println!("host TSC {:.1} MHz", hz / 1e6);
            if what == "side" {
                let probe = std::env::var("LINUX_PROBE").map(PathBuf::from).ok();
                let linux = probe.map(|p| linux::Linux::setup(&fixtures, &p, &scratch).expect("initramfs"));
                bench::side_by_side(&qemus, &machines, &image, &scratch, reps, linux.as_ref());
            }
            if what == "fw" || what == "all" {
                bench::firmware(&qemus, &machines, &image, reps, &scratch);
            }
            if what == "tput" || what == "all" {
                for q in &qemus {
                    for socket in [false, true] {
                        for how in ["poll", "nopoll", "rep"] {
                            bench::throughput(q, machines[0], &image, 300_000, how, socket, &scratch, hz);
                        }
                    }
                }
            }
            if what == "rtt" || what == "all" {
                for q in &qemus {
                    for m in machines {
                        bench::latency(q, m, &image, &scratch);
                    }
                }
            }
            if what == "shm" || what == "all" {
                for q in &qemus {
                    for m in machines {
                        bench::shm_latency(q, m, &image, &scratch);
                    }
                }
            }
            if what == "smp" || what == "all" {
                for q in &qemus {
                    for m in machines {
                        bench::smp(q, m, &image, &scratch, hz, reps);
                    }
                }
            }
        }
        Some("equiv") => {
            // equiv QEMU [GLOB-PREFIX...]: every machine type with a default
            // record of this QEMU's release (or baseline), differences grouped.
            let qname = args.get(1).map(String::as_str).unwrap_or("7.2");
            let q = qemus.iter().find(|q| q.name == qname).unwrap_or_else(|| usage());
            let db = PathBuf::from(std::env::var("ABI_DB").unwrap_or("/work/main/abi-db".into()));
            let profile = std::env::var("PROFILE").unwrap_or("default".into());
            let prefixes: Vec<&str> = if args.len() > 2 { args[2..].iter().map(String::as_str).collect() } else { vec!["pc-q35-", "pc-i440fx-"] };
            let mut machines: Vec<String> = std::fs::read_dir(db.join("records/x86_64"))
                .expect("abi-db")
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .filter(|m| prefixes.iter().any(|p| m.starts_with(p)))
                .filter(|m| db.join(format!("records/x86_64/{m}/{profile}/{}.toml", if qname == "7.2" { "7.2.22" } else { "10.0.2" })).exists())
                .collect();
            machines.sort();
            let mut groups: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
            let mut totals: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
            let mut times = Vec::new();
            let mut failed = 0;
            for m in &machines {
                let rec = db.join(format!("records/x86_64/{m}/{profile}/{}.toml", if qname == "7.2" { "7.2.22" } else { "10.0.2" }));
                let extra = profile_args(&rec, &scratch);
                match probe::run(q, m, &image, &scratch, &extra) {
                    Ok(o) => {
                        times.push(o.timing.exited.as_secs_f64());
                        let r = compare::Record::load(&rec, &db).expect("record");
                        let mut line = format!("{m:16} {:.3} s", o.timing.exited.as_secs_f64());
                        for (class, c) in compare::compare(&o.collection, &r) {
                            let t = totals.entry(class.to_string()).or_default();
                            t.0 += c.identical;
                            t.1 += c.compared;
                            if c.identical != c.compared {
                                line.push_str(&format!("  {class} {}/{}", c.identical, c.compared));
                            }
                            for d in c.diffs {
                                groups.entry((class.to_string(), d)).or_default().push(m.clone());
                            }
                        }
                        println!("{line}");
                    }
                    Err(e) => {
                        failed += 1;
                        println!("{m}: FAILED {e}");
                    }
                }
            }
            println!("\n{} machine types on QEMU {}, profile {profile}, {failed} failed; per boot {}", machines.len(), q.name, bench::stats(&mut times));
            for (class, (i, n)) in &totals {
                println!("  {class:18} {i:5}/{n:5} identical");
            }
            println!("\ndifferences (machine types):");
            for ((class, d), ms) in &groups {
                let who = if ms.len() == machines.len() { "all".to_string() } else if ms.len() > 6 { format!("{} types, e.g. {}", ms.len(), ms[..3].join(" ")) } else { ms.join(" ") };
                println!("  [{class}] {d}\n      on {who}");
            }
            let _ = std::fs::remove_dir_all(&scratch);
            std::process::exit(if failed > 0 { 2 } else { 0 });
        }
        Some("probe") => {
            // probe QEMU MACHINE...: boot, collect, compare with the 7.2.22 default record.
            let qname = args.get(1).map(String::as_str).unwrap_or("7.2");
            let q = qemus.iter().find(|q| q.name == qname).unwrap_or_else(|| usage());
            let db = PathBuf::from(std::env::var("ABI_DB").unwrap_or("/work/main/abi-db".into()));
            let verbose = std::env::var("VERBOSE").is_ok();
            let profile = std::env::var("PROFILE").unwrap_or("default".into());
            let list: Vec<&str> = args[2..].iter().map(String::as_str).collect();
            let mut bad = 0;
            for m in list {
                let extra = profile_args(&record_for(&db, m, &profile, &q.name), &scratch);
                match probe::run(q, m, &image, &scratch, &extra) {
                    Ok(o) => {
                        let t = &o.timing;
                        println!(
                            "== {m} qemu {}: ready {:.3} s, discovered {:.3} s, collected {:.3} s, exited {:.3} s; {} requests; guest setup {:.2} ms; {} PCI functions, ECAM {:?}",
                            q.name,
                            t.ready.as_secs_f64(),
                            t.discovered.as_secs_f64(),
                            t.collected.as_secs_f64(),
                            t.exited.as_secs_f64(),
                            t.requests,
                            t.guest_setup_ticks as f64 / 2.5961e6,
                            o.bare.functions,
                            o.bare.ecam
                        );
                        if verbose {
                            println!("raw multiboot mmap: {:x?}", o.bare.raw_mmap);
                        }
                        // What the same collection would cost as the framed serial stream.
                        let framed = guest_probe::frame::encode(&o.collection.to_entries()).len();
                        println!("   as the framed serial stream: {framed} bytes");
                        if let Ok(dir) = std::env::var("OUT") {
                            let d = PathBuf::from(dir).join(format!("{m}-{}", q.name));
                            let _ = std::fs::create_dir_all(d.join("blobs"));
                            let _ = std::fs::write(d.join("facts.toml"), o.collection.document());
                            for (id, data) in o.collection.blobs.iter() {
                                let _ = std::fs::write(d.join("blobs").join(id.as_str()), data);
                            }
                        }
                        let rec = record_for(&db, m, &profile, &q.name);
                        println!("   compared with {}", rec.display());
                        match compare::Record::load(&rec, &db) {
                            Ok(r) => {
                                for (class, c) in compare::compare(&o.collection, &r) {
                                    println!("   {class:18} {:3}/{:3} identical", c.identical, c.compared);
                                    for d in &c.diffs {
                                        println!("      {d}");
                                    }
                                }
                            }
                            Err(e) => println!("   (no record to compare: {e})"),
                        }
                    }
                    Err(e) => {
                        bad += 1;
                        println!("== {m}: FAILED: {e}");
                    }
                }
            }
            let _ = std::fs::remove_dir_all(&scratch);
            std::process::exit(if bad > 0 { 2 } else { 0 });
        }
        _ => usage(),
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
