//! Measurements: `bench` (boots, probe overhead, database size and load
//! time) and `bench-diff` (the comparison alone).

use crate::args::{Failure, RunArgs};
use crate::boots;
use crate::cmd::diff::{counterpart, load_side};
use abi_check::outcome;
use abi_check::selection::Baselines;
use abi_check::verdict::{EXIT_CLEAN, EXIT_ERROR};
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

/// `bench`: record the selection into a fresh database, then time
/// sequential probe boots against bare boots of the first pair.
pub fn bench(args: &RunArgs, bare_boots: usize) -> Result<i32, Failure> {
    if args.db.exists() {
        return Err(Failure(format!(
            "{}: bench writes a fresh database; give a path that does not exist",
            args.db.display()
        )));
    }
    let rec = args.recorder()?;
    let machines = args.machines()?;
    let set = args.profile_set()?;
    let work = boots::work_list(&machines, &args.selected_profiles(&set)?, args.shard);
    let Some((first, first_profile)) = work.first().cloned() else {
        return Err(Failure("no machine type selected".into()));
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
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    let probe_boots: Vec<f64> = (0..bare_boots)
        .map(|_| rec.record(&first, first_profile).map(|c| c.boot_time.as_secs_f64()))
        .collect::<Result<_, _>>()?;
    let bare: Vec<f64> = (0..bare_boots)
        .map(|_| rec.bare_boot(&first, first_profile).map(|d| d.as_secs_f64()))
        .collect::<Result<_, _>>()?;
    let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let q = rec.identity();
    println!(
        "QEMU {} ({}), {} jobs, {} CPUs",
        q.version,
        q.package,
        jobs,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("machine types recorded:      {} ({} failed)", captures.len(), failures);
    println!("wall time, all boots:        {:.1} s", wall.as_secs_f64());
    println!(
        "per boot (parallel), mean:   {mean:.2} s   median {median:.2} s   min {:.2} s   max {:.2} s",
        times.first().unwrap_or(&0.0),
        times.last().unwrap_or(&0.0)
    );
    println!(
        "{first} sequential, probe:   {:.2} s (mean of {bare_boots})",
        avg(&probe_boots)
    );
    println!(
        "{first} sequential, bare:    {:.2} s (mean of {bare_boots}; same kernel+initramfs, powers off at once)",
        avg(&bare)
    );
    println!(
        "probe overhead per boot:     {:+.1} %",
        (avg(&probe_boots) / avg(&bare).max(1e-9) - 1.0) * 100.0
    );
    println!(
        "database size:               {} bytes ({} records)",
        dir_size(&args.db),
        loaded
    );
    println!("database load time:          {:.1} ms", load.as_secs_f64() * 1000.0);
    if let Some(rss) = recorder::boot::peak_child_rss_mib() {
        println!(
            "peak RSS of one QEMU:        {rss} MiB (guest RAM {} MiB; default -j budgets {} MiB per boot)",
            BootSettings::default().memory_mib,
            u64::from(BootSettings::default().memory_mib) + recorder::boot::QEMU_OVERHEAD_MIB
        );
    }
    Ok(if failures == 0 { EXIT_CLEAN } else { EXIT_ERROR })
}
