//! bare-probe-host: boot the bare probe on real QEMU; measure; serve it;
//! compare what it read with the Linux probe's records.

mod bench;
mod qemu;

use std::path::PathBuf;

fn usage() -> ! {
    eprintln!(
        "usage: bare-probe-host bench (fw|tput|rtt|smp|all) [REPS]\n\
         env: FIXTURES (default /work/main/.cache/fixtures), IMAGE (default out/bare-probe.bin)"
    );
    std::process::exit(2)
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
            if what == "smp" || what == "all" {
                for q in &qemus {
                    for m in machines {
                        bench::smp(q, m, &image, &scratch, hz, reps);
                    }
                }
            }
        }
        _ => usage(),
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
