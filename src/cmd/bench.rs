//! Measurements: `bench` (boots, probe overhead, database size and load
//! time) and `bench-diff` (the comparison alone).

use crate::args::{Failure, RunArgs};
use crate::boots;
use crate::cmd::diff::{counterpart, load_side};
use abi_check::outcome;
use abi_check::selection::Baselines;
use abi_check::verdict::{EXIT_CLEAN, EXIT_ERROR};
use abi_model::provenance::ProbeKind;
use abi_model::Record;
use abi_store::Db;
use recorder::boot::BootSettings;
use std::path::Path;
use std::time::Instant;

/// `bench-diff`: every baseline of `a` against the newest record of the same
/// slot in `b` (default: `a` itself), `repeat` times.
pub fn bench_diff(a: &Path, b: Option<&Path>, repeat: usize) -> Result<i32, Failure> {
    let t = Instant::now();
    let da = Db::open(a)?;
    let base = Baselines::of(da.index()?)
        .keys()
        .map(|k| da.load(k))
        .collect::<Result<Vec<Record>, _>>()?;
    let load_a = t.elapsed();
    let t = Instant::now();
    let (db_b, newest) = load_side(b.unwrap_or(a))?;
    let load_b = t.elapsed();
    let pairs: Vec<(&Record, &Record)> = base
        .iter()
        .filter_map(|x| Some((x, counterpart(x, &newest, false)?)))
        .collect();
    let mut times = Vec::new();
    let mut drifts = 0;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        drifts = pairs
            .iter()
            .map(|(x, y)| outcome::drifts(x, y, &|id| da.blob(id).ok(), &|id| db_b.blob(id).ok()).len())
            .sum();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "records: {} baselines in {}, {} records compared against",
        base.len(),
        a.display(),
        newest.len()
    );
    println!(
        "load: {:.1} ms (A), {:.1} ms (B)",
        load_a.as_secs_f64() * 1000.0,
        load_b.as_secs_f64() * 1000.0
    );
    println!(
        "comparison of {} pairs: median {median:.1} ms of {} runs (min {:.1}, max {:.1}), {:.0} µs per pair, {drifts} drifts",
        pairs.len(),
        times.len(),
        times[0],
        times[times.len() - 1],
        median * 1000.0 / pairs.len().max(1) as f64
    );
    Ok(EXIT_CLEAN)
}

fn dir_size(p: &Path) -> u64 {
    walkdir::WalkDir::new(p)
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Min and median of timings in seconds ("-" when there are none).
fn min_median(v: &mut [f64]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort_by(f64::total_cmp);
    format!("{:.3} / {:.3}", v[0], v[v.len() / 2])
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// `bench`: record the selection into a fresh database (every boot with the
/// probe its kind calls for, `-j` in parallel), then time single boots of
/// the side-by-side machine types, interleaved: the firmware-only image,
/// the bare probe, the Linux probe (with `--kernel`).
pub fn bench(args: &RunArgs, boots: usize, side_by_side: &[String]) -> Result<i32, Failure> {
    if args.db.exists() {
        return Err(Failure(format!(
            "{}: bench writes a fresh database; give a path that does not exist",
            args.db.display()
        )));
    }
    let rec = args.recorder()?;
    let machines = args.machines()?;
    let set = args.profile_set()?;
    let work = boots::work_list(&machines, &args.profiles_for(&set, rec.target_arch())?, args.shard);
    let (Some((first, profile)), Some((last, _))) = (work.first().cloned(), work.last().cloned()) else {
        return Err(Failure("no machine type selected".into()));
    };
    rec.check_probes(work.iter().map(|(m, _)| m))?;
    let side: Vec<abi_model::MachineType> = if side_by_side.is_empty() {
        let mut v = vec![first.clone(), last.clone()];
        v.dedup();
        v
    } else {
        side_by_side.iter().map(|m| abi_model::MachineType(m.clone())).collect()
    };
    let jobs = args.jobs();
    let started = Instant::now();
    let mut captures = Vec::new();
    let mut failures = 0;
    boots::boot_each(&rec, &work, jobs, |_, r| match r {
        Ok(c) => captures.push(c),
        Err(e) => {
            failures += 1;
            eprintln!("machine-abi: {e}");
        }
    });
    let wall = started.elapsed();
    let db = Db::open_or_create(&args.db)?;
    db.write(&boots::records(&captures), false)?;
    let load_start = Instant::now();
    let loaded = db.load_all()?.len();
    let load = load_start.elapsed();
    let mut times: Vec<f64> = captures.iter().map(|c| c.boot_time.as_secs_f64()).collect();
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    let kinds: std::collections::BTreeSet<String> = captures
        .iter()
        .map(|c| c.record.provenance.probe.kind.to_string())
        .collect();

    // Side by side, one boot at a time, kinds interleaved so that load
    // changes hit all three alike.
    let linux = rec.has_linux_probe();
    let mut table: Vec<(String, [Vec<f64>; 3])> = side.iter().map(|m| (m.0.clone(), Default::default())).collect();
    for _ in 0..boots {
        for (m, (_, t)) in side.iter().zip(table.iter_mut()) {
            t[0].push(rec.firmware_only_boot(m, profile)?.as_secs_f64());
            t[1].push(rec.record_as(ProbeKind::Bare, m, profile)?.boot_time.as_secs_f64());
            if linux {
                t[2].push(rec.record_as(ProbeKind::Linux, m, profile)?.boot_time.as_secs_f64());
            }
        }
    }
    let q = rec.identity();
    println!(
        "QEMU {} ({}), {} jobs, {} CPUs, load average {}",
        q.version,
        q.package,
        jobs,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "?".into())
    );
    println!(
        "recorded:                    {} boots ({} failed), {} machine types x {} profiles, probe {}",
        captures.len(),
        failures,
        machines.len(),
        args.profiles_for(&set, rec.target_arch())?.len(),
        kinds.into_iter().collect::<Vec<_>>().join(" + ")
    );
    println!(
        "wall time, all boots:        {:.1} s (host-side facts included)",
        wall.as_secs_f64()
    );
    println!(
        "per boot (parallel), mean:   {mean:.2} s   median {:.2} s   min {:.2} s   max {:.2} s",
        times.get(times.len() / 2).copied().unwrap_or(0.0),
        times.first().unwrap_or(&0.0),
        times.last().unwrap_or(&0.0)
    );
    println!(
        "database size:               {} bytes ({} records)",
        dir_size(&args.db),
        loaded
    );
    println!("database load time:          {:.1} ms", load.as_secs_f64() * 1000.0);
    println!(
        "\nper boot, sequential, {boots} of each interleaved, profile {} (min / median, seconds):",
        profile.name
    );
    println!(
        "  {:16} {:>15} {:>15} {:>15} {:>9} {:>11}",
        "machine type", "firmware-only", "bare probe", "Linux probe", "bare/fw", "Linux/bare"
    );
    for (m, t) in &mut table {
        let ratio = |a: &[f64], b: &[f64]| match (median(a), median(b)) {
            (Some(x), Some(y)) if y > 0.0 => format!("{:.2}x", x / y),
            _ => "-".into(),
        };
        let (bare_fw, linux_bare) = (ratio(&t[1], &t[0]), ratio(&t[2], &t[1]));
        println!(
            "  {m:16} {:>15} {:>15} {:>15} {bare_fw:>9} {linux_bare:>11}",
            min_median(&mut t[0]),
            min_median(&mut t[1]),
            min_median(&mut t[2]),
        );
    }
    if !linux {
        println!("  (no Linux probe column: give --kernel)");
    }
    if let Some(rss) = recorder::boot::peak_child_rss_mib() {
        println!(
            "peak RSS of one QEMU:        {rss} MiB (guest RAM {} MiB; default -j budgets {} MiB per boot)",
            BootSettings::default().memory_mib,
            u64::from(BootSettings::default().memory_mib) + recorder::boot::QEMU_OVERHEAD_MIB
        );
    }
    Ok(if failures == 0 { EXIT_CLEAN } else { EXIT_ERROR })
}
