//! The `machine-abi` command line.

use clap::{Args, Parser, Subcommand};
use machine_abi::check::{self, CheckReport, MachineResult, Outcome, EXIT_CLEAN, EXIT_ERROR};
use machine_abi::db::{Db, Record};
use machine_abi::diff::flatten;
use machine_abi::partial::{self, PartialCheck};
use machine_abi::report::{self, Format, TextStyle};
use machine_abi::review;
use machine_abi::rules::{self, Severity};
use machine_abi::shard::Shard;
use machine_abi::snapshot;
use machine_abi::waiver::{self, Waivers, WAIVERS_FILE};
use recorder::boot::BootSettings;
use recorder::profile::{Profile, Profiles};
use recorder::qemu::{self, MachineType, Qemu};
use recorder::record::{Capture, RecordError, Recorder, RecorderConfig};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "machine-abi",
    version,
    about = "Record the guest ABI of QEMU machine types and fail when a build changes it"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Boot machine types of a QEMU binary and write their records into a database.
    Record(RunArgs),
    /// Boot every machine type the database and the binary share and compare with the baselines.
    Check {
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        out: OutputArgs,
        /// Write what was observed for machine types with unwaived drift as
        /// pending records beside the baseline, for `review` / `accept`.
        #[arg(long)]
        pending: bool,
        /// With --shard: write this shard's results (before waivers) to FILE
        /// instead of reporting; `merge` reports all shards as one run, and
        /// the report options (--format, waivers, --strict, --fail-on) go there.
        #[arg(long, value_name = "FILE", conflicts_with = "pending")]
        partial: Option<PathBuf>,
    },
    /// Combine the shards of a run. Partial check results (check --shard
    /// I/N --partial FILE) are reported as one run: same report, same exit
    /// status. Databases written by record --shard I/N are merged into --db.
    Merge {
        /// Database directory (its waivers are applied to check results;
        /// shard databases are merged into it).
        #[arg(long)]
        db: PathBuf,
        /// Partial result files, or shard database directories.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Record every versioned machine type x every profile of a release and
    /// commit the records to the database's git repository (refuses a dirty
    /// database tree; re-running for the same release changes nothing).
    Snapshot {
        #[command(flatten)]
        run: RunArgs,
        /// The release being recorded, e.g. 10.0; must match the binary.
        #[arg(long)]
        release: String,
    },
    /// Show what each pending record (from `check --pending`) changes.
    Review {
        /// Database directory.
        #[arg(long)]
        db: PathBuf,
        /// Only these machine types (globs).
        #[arg(long = "machine")]
        machines: Vec<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Accept the changes of pending records: append waivers with a reason
    /// to the database's waivers.toml and remove the pending records.
    Accept {
        /// Database directory.
        #[arg(long)]
        db: PathBuf,
        /// Only these machine types (globs).
        #[arg(long = "machine")]
        machines: Vec<String>,
        /// Only changes whose fact path matches this glob.
        #[arg(long)]
        path: Option<String>,
        /// Only changes under this rule.
        #[arg(long)]
        rule: Option<String>,
        /// Why the changes are accepted (asked for on a terminal when absent).
        #[arg(long)]
        reason: Option<String>,
        /// Commit, thread or bug that explains the changes.
        #[arg(long)]
        link: Option<String>,
    },
    /// Discard pending records.
    Reject {
        /// Database directory.
        #[arg(long)]
        db: PathBuf,
        /// Only these machine types (globs).
        #[arg(long = "machine")]
        machines: Vec<String>,
    },
    /// Export the accepted ABI differences per machine type (the quirks list
    /// for management layers; format in docs/quirks.md).
    Quirks {
        /// Database directory.
        #[arg(long)]
        db: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "toml")]
        format: QuirksFormat,
    },
    /// Compare two records, or the newest records of two databases, without booting.
    Diff {
        /// Record file or database directory (the baseline side).
        a: PathBuf,
        /// Record file or database directory.
        b: PathBuf,
        #[command(flatten)]
        out: OutputArgs,
        /// After the report, print the unified diff of the disassembled ASL of
        /// every changed DSDT/SSDT (needs iasl from acpica-tools).
        #[arg(long)]
        asl: bool,
    },
    /// Explain a drift rule: what it means, why it matters, how it is fixed.
    /// Without a rule id, list every rule.
    Explain {
        /// Rule id, e.g. aml-object-added.
        rule: Option<String>,
    },
    /// List the records of a database.
    List {
        /// Database directory.
        #[arg(long)]
        db: PathBuf,
    },
    /// Print the facts of a record as `path = value` lines.
    Show {
        /// Database directory.
        #[arg(long)]
        db: PathBuf,
        /// Machine type.
        machine: String,
        /// Device profile.
        #[arg(long, default_value = "default")]
        profile: String,
        /// QEMU version of the record (default: the baseline).
        #[arg(long)]
        qemu_version: Option<String>,
        /// Only facts whose path starts with this.
        #[arg(long)]
        path: Option<String>,
    },
    /// Measure: record the selected machine types into a scratch database and
    /// compare per-boot time with bare boots (probe powers off at once).
    Bench {
        #[command(flatten)]
        run: RunArgs,
        /// Bare boots to time (sequentially, one job).
        #[arg(long, default_value_t = 3)]
        bare_boots: usize,
    },
    /// Print the hw_compat/pc_compat tables read from a QEMU binary (no
    /// execution), those a machine type applies, or how two binaries differ.
    Compat {
        /// The qemu-system-x86_64 binary.
        #[arg(long)]
        qemu: PathBuf,
        /// Only the tables this machine type applies, newest first.
        #[arg(long)]
        machine: Option<String>,
        /// Show how the tables of this second binary differ from the first's.
        #[arg(long)]
        diff: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: PlainFormat,
    },
    /// Gather the host-side facts (compat tables, QMP, -dump-vmstate) of
    /// machine types without booting a guest, in parallel, and time it.
    HostFacts {
        /// The qemu-system-x86_64 binary.
        #[arg(long)]
        qemu: PathBuf,
        /// Data directories (-L).
        #[arg(long = "data-dir")]
        data_dirs: Vec<PathBuf>,
        /// Machine type globs (default: every versioned machine type).
        #[arg(long = "machine")]
        machines: Vec<String>,
        /// Parallel QEMU processes (default: number of CPUs).
        #[arg(short, long)]
        jobs: Option<usize>,
        /// Per-QEMU timeout in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Compare two -dump-vmstate files for migration in both directions.
    Vmstate {
        /// Dump of the old release.
        old: PathBuf,
        /// Dump of the new build.
        new: PathBuf,
        /// Also list info findings (renames, padding, new sections).
        #[arg(short, long)]
        verbose: bool,
    },
    /// Measure the comparison alone (no boots): every baseline of A against
    /// the newest record of the same machine type and profile in B (default:
    /// A itself, the no-drift case), repeated.
    BenchDiff {
        /// Baseline database.
        a: PathBuf,
        /// Observed database (default: A).
        b: Option<PathBuf>,
        /// Repetitions of the whole comparison.
        #[arg(long, default_value_t = 5)]
        repeat: usize,
    },
    /// Decode a captured serial log (framed probe stream) into facts.toml and blobs/.
    Decode {
        /// Captured console text.
        log: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Colour in the text format.
    #[arg(long, value_enum, default_value = "auto")]
    color: Color,
    /// Also list info-level drift (checksums, lengths, shifted selectors).
    #[arg(short, long)]
    verbose: bool,
    /// Lowest severity that makes the check fail (exit 1).
    #[arg(long, value_enum, default_value = "break")]
    fail_on: FailOn,
    /// Extra waiver file, besides the database's waivers.toml (repeatable).
    #[arg(long = "waivers")]
    waivers: Vec<PathBuf>,
    /// Ignore every waiver (show all drift as found).
    #[arg(long)]
    no_waivers: bool,
    /// Fail (exit 1) when a waiver matches nothing this run.
    #[arg(long)]
    strict: bool,
    /// A waiver accepting more facts than this is flagged as too broad.
    #[arg(long, default_value_t = 40)]
    broad_threshold: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PlainFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum QuirksFormat {
    Toml,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FailOn {
    Break,
    Warn,
    Info,
}

impl OutputArgs {
    fn style(&self) -> TextStyle {
        TextStyle {
            color: match self.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            },
            verbose: self.verbose,
        }
    }

    fn threshold(&self) -> Severity {
        match self.fail_on {
            FailOn::Break => Severity::Break,
            FailOn::Warn => Severity::Warn,
            FailOn::Info => Severity::Info,
        }
    }

    /// Apply the waivers of `db` (and `--waivers`), render, and return the exit code.
    fn load_waivers(&self, db: &Db, known: &[MachineType]) -> Result<Waivers, Failure> {
        if self.no_waivers {
            return Ok(Waivers::default());
        }
        load_waivers(db, known, &self.waivers)
    }

    /// Apply the waivers to a report.
    fn judge(&self, report: &mut CheckReport, db: &Db, known: &[MachineType]) -> Result<(), Failure> {
        let waivers = self.load_waivers(db, known)?;
        if !self.no_waivers {
            report.waivers = waiver::apply(report, &waivers, self.broad_threshold);
        }
        report.strict = self.strict;
        Ok(())
    }

    fn emit(&self, mut report: CheckReport, db: &Db, known: &[MachineType]) -> Result<i32, Failure> {
        self.judge(&mut report, db, known)?;
        Ok(self.print(&report))
    }

    fn print(&self, report: &CheckReport) -> i32 {
        let text = report::render(report, self.format, self.style());
        // A reader that stops early (`| head`) is not an error of the check.
        let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
        report.exit_code(self.threshold())
    }
}

/// The database's waivers plus extra files.
fn load_waivers(db: &Db, known: &[MachineType], extra: &[PathBuf]) -> Result<Waivers, Failure> {
    let mut waivers = Waivers::load(&db.root().join(WAIVERS_FILE), known)?;
    for f in extra {
        if !f.is_file() {
            return Err(Failure(format!("{}: no such waiver file", f.display())));
        }
        waivers.merge(Waivers::load(f, known)?)?;
    }
    Ok(waivers)
}

#[derive(Args)]
struct RunArgs {
    /// The qemu-system-x86_64 binary.
    #[arg(long)]
    qemu: PathBuf,
    /// Data directories (-L), searched in order; put the firmware first.
    #[arg(long = "data-dir")]
    data_dirs: Vec<PathBuf>,
    /// Guest kernel (bzImage).
    #[arg(long)]
    kernel: PathBuf,
    /// The kernel's module directory (lib/modules/<release>), for --module.
    #[arg(long)]
    modules_dir: Option<PathBuf>,
    /// Kernel module for the probe to load (with its dependencies).
    #[arg(long = "module")]
    modules: Vec<String>,
    /// The static guest-probe binary (default: the one scripts/build-probe builds).
    #[arg(long)]
    probe: Option<PathBuf>,
    /// The abi-db directory.
    #[arg(long)]
    db: PathBuf,
    /// Machine type globs (default: every versioned machine type).
    #[arg(long = "machine")]
    machines: Vec<String>,
    /// Also take aliases and unversioned machine types.
    #[arg(long)]
    all_machines: bool,
    /// Device profiles (default: every profile for record and snapshot,
    /// every profile in the database for check).
    #[arg(long = "profile")]
    profiles: Vec<String>,
    /// Use the profiles (*.toml) in this directory instead of the built-in
    /// ones (profiles/ in the repository).
    #[arg(long)]
    profile_dir: Option<PathBuf>,
    /// Do only shard I of N of the (machine type, profile) pairs, e.g. 2/3;
    /// combine the shards with `merge`.
    #[arg(long, default_value = "1/1")]
    shard: Shard,
    /// Parallel boots (default: one per CPU, fewer if the available memory
    /// cannot hold 1 GiB per boot).
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Per-boot timeout in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Also write the probe's fixture tree of every boot into DIR/<machine>/.
    #[arg(long)]
    capture_fixtures: Option<PathBuf>,
    /// Skip the host-side facts (compat tables, QMP, -dump-vmstate).
    #[arg(long)]
    no_host_facts: bool,
    /// Try a boot that crashed (killed by a signal) or hung this many more
    /// times before giving up on it; each retry is reported on stderr.
    #[arg(long, default_value_t = 1)]
    retries: usize,
}

struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Record(args) => record(&args),
        Command::Check {
            run,
            out,
            pending,
            partial,
        } => check(&run, &out, pending, partial.as_deref()),
        Command::Merge { db, files, out } => merge(&db, &files, &out),
        Command::Snapshot { run, release } => snapshot_cmd(&run, &release),
        Command::Review { db, machines, out } => review(&db, &machines, &out),
        Command::Accept {
            db,
            machines,
            path,
            rule,
            reason,
            link,
        } => accept(&db, &machines, path.as_deref(), rule.as_deref(), reason, link),
        Command::Reject { db, machines } => reject(&db, &machines),
        Command::Quirks { db, format } => quirks(&db, format),
        Command::Diff { a, b, out, asl } => diff_cmd(&a, &b, &out, asl),
        Command::Explain { rule } => explain(rule.as_deref()),
        Command::List { db } => list(&db),
        Command::Show {
            db,
            machine,
            profile,
            qemu_version,
            path,
        } => show(&db, &machine, &profile, qemu_version.as_deref(), path.as_deref()),
        Command::Decode { log, out } => decode(&log, &out),
        Command::Compat {
            qemu,
            machine,
            diff,
            format,
        } => compat(&qemu, machine.as_deref(), diff.as_deref(), format),
        Command::Vmstate { old, new, verbose } => vmstate(&old, &new, verbose),
        Command::HostFacts {
            qemu,
            data_dirs,
            machines,
            jobs,
            timeout,
        } => host_facts(qemu, data_dirs, &machines, jobs, timeout),
        Command::BenchDiff { a, b, repeat } => bench_diff(&a, b.as_deref(), repeat),
        Command::Bench { run, bare_boots } => bench(&run, bare_boots),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(Failure(msg)) => {
            eprintln!("machine-abi: error: {msg}");
            ExitCode::from(EXIT_ERROR as u8)
        }
    }
}

fn default_probe() -> PathBuf {
    if let Some(p) = std::env::var_os("MACHINE_ABI_PROBE") {
        return p.into();
    }
    // target/{debug,release}/machine-abi → target/x86_64-unknown-linux-gnu/release/guest-probe
    let exe = std::env::current_exe().unwrap_or_default();
    let target = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    target.join("x86_64-unknown-linux-gnu/release/guest-probe")
}

fn recorder(args: &RunArgs) -> Result<Recorder, Failure> {
    let config = RecorderConfig {
        qemu: Qemu {
            binary: args.qemu.clone(),
            data_dirs: args.data_dirs.clone(),
        },
        kernel: args.kernel.clone(),
        modules_dir: args.modules_dir.clone(),
        modules: args.modules.clone(),
        probe: args.probe.clone().unwrap_or_else(default_probe),
        settings: BootSettings {
            timeout: Duration::from_secs(args.timeout),
            ..BootSettings::default()
        },
        capture_fixture: args.capture_fixtures.is_some(),
        host_facts: !args.no_host_facts,
        retries: args.retries,
    };
    Ok(Recorder::new(config)?)
}

fn profile_set(args: &RunArgs) -> Result<Profiles, Failure> {
    Ok(match &args.profile_dir {
        Some(dir) => Profiles::load_dir(dir)?,
        None => Profiles::builtin()?,
    })
}

/// The profiles `--profile` names, or all of `set`.
fn selected_profiles<'a>(set: &'a Profiles, args: &RunArgs) -> Result<Vec<&'a Profile>, Failure> {
    if args.profiles.is_empty() {
        return Ok(set.all().iter().collect());
    }
    args.profiles
        .iter()
        .map(|n| {
            set.get(n)
                .ok_or_else(|| Failure(format!("unknown profile {n:?} (known: {})", set.names().join(", "))))
        })
        .collect()
}

/// Every (machine type, profile) pair, sorted, then this shard's part.
fn work_list<'a>(machines: &[MachineType], profiles: &[&'a Profile], shard: Shard) -> Vec<(MachineType, &'a Profile)> {
    let mut work: Vec<(MachineType, &Profile)> = machines
        .iter()
        .flat_map(|m| profiles.iter().map(move |p| (m.clone(), *p)))
        .collect();
    work.sort_by(|a, b| (&a.0, &a.1.name).cmp(&(&b.0, &b.1.name)));
    shard.take(work)
}

fn jobs(args: &RunArgs) -> usize {
    args.jobs.unwrap_or_else(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_boot = u64::from(BootSettings::default().memory_mib) + recorder::boot::QEMU_OVERHEAD_MIB;
        recorder::boot::default_jobs(cpus, recorder::boot::mem_available_mib(), per_boot)
    })
}

/// Boot everything, printing one line per finished boot on stderr.
fn run_all(rec: &Recorder, work: &[(MachineType, &Profile)], jobs: usize) -> Vec<Result<Capture, RecordError>> {
    let total = work.len();
    let started = Instant::now();
    let mut done = 0;
    let tty = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let results = rec.record_all(work, jobs, |i, r| {
        done += 1;
        let (m, p) = &work[i];
        let status = match r {
            Ok(c) => format!("ok in {:.1}s", c.boot_time.as_secs_f64()),
            Err(e) if e.missing_devices().is_some() => "skipped: device missing".to_string(),
            Err(_) => "FAILED".to_string(),
        };
        if tty {
            eprint!("\r\x1b[K[{done}/{total}] {m} ({}) {status}", p.name);
            if done == total {
                eprintln!();
            }
        } else {
            eprintln!("[{done}/{total}] {m} ({}) {status}", p.name);
        }
    });
    eprintln!(
        "{total} boots in {:.1}s with {jobs} jobs",
        started.elapsed().as_secs_f64()
    );
    results
}

fn write_fixtures(dir: &Path, captures: &[Capture]) -> Result<(), Failure> {
    for c in captures {
        let base = dir.join(format!("{}-{}", c.machine, c.profile));
        for e in &c.fixture {
            let rel = e.name.trim_start_matches("capture/");
            let p = base.join(rel);
            if rel.split('/').any(|s| s == "..") {
                return Err(Failure(format!("refusing fixture path {rel:?}")));
            }
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&p, &e.data)?;
        }
        std::fs::write(base.join("facts.toml"), c.collection.document())?;
    }
    Ok(())
}

/// What a recording run produced: captures, pairs skipped because the
/// binary lacks a profile's devices, and failures.
struct Recorded {
    captures: Vec<Capture>,
    skipped: Vec<RecordError>,
    failed: Vec<RecordError>,
}

/// Boot this shard of every selected (machine type, profile) pair.
fn record_selected(args: &RunArgs, rec: &Recorder) -> Result<Recorded, Failure> {
    let machines = rec_machines(args)?;
    if machines.is_empty() {
        return Err(Failure(format!(
            "no machine type of {} matches {:?}",
            args.qemu.display(),
            args.machines
        )));
    }
    let set = profile_set(args)?;
    let work = work_list(&machines, &selected_profiles(&set, args)?, args.shard);
    let mut out = Recorded {
        captures: Vec::new(),
        skipped: Vec::new(),
        failed: Vec::new(),
    };
    for r in run_all(rec, &work, jobs(args)) {
        match r {
            Ok(c) => out.captures.push(c),
            Err(e) if e.missing_devices().is_some() => out.skipped.push(e),
            Err(e) => out.failed.push(e),
        }
    }
    for e in &out.skipped {
        eprintln!("machine-abi: not recorded: {e}");
    }
    Ok(out)
}

/// Every failed boot, then why nothing was written.
fn report_failures(failed: &[RecordError], db: &Path) {
    for e in failed {
        eprintln!("machine-abi: {e}");
    }
    eprintln!(
        "machine-abi: nothing written to {}: a release snapshot is all or nothing",
        db.display()
    );
}

fn record(args: &RunArgs) -> Result<i32, Failure> {
    let db = Db::open_or_create(&args.db)?;
    let rec = recorder(args)?;
    let got = record_selected(args, &rec)?;
    if !got.failed.is_empty() {
        report_failures(&got.failed, &args.db);
        return Ok(EXIT_ERROR);
    }
    if let Some(dir) = &args.capture_fixtures {
        write_fixtures(dir, &got.captures)?;
    }
    let paths = db.write(&got.captures)?;
    for p in paths {
        println!("wrote {}", p.display());
    }
    Ok(EXIT_CLEAN)
}

fn rec_machines(args: &RunArgs) -> Result<Vec<MachineType>, Failure> {
    let q = Qemu {
        binary: args.qemu.clone(),
        data_dirs: args.data_dirs.clone(),
    };
    Ok(qemu::select(&q.machines()?, &args.machines, args.all_machines))
}

fn check(args: &RunArgs, out: &OutputArgs, pending: bool, partial_out: Option<&Path>) -> Result<i32, Failure> {
    let db = Db::open(&args.db)?;
    let baselines = check::baselines(db.load_all()?);
    if baselines.is_empty() {
        return Err(Failure(format!(
            "{} has no records to check against",
            args.db.display()
        )));
    }
    let set = profile_set(args)?;
    // Refuse a --profile this set does not define before booting anything.
    selected_profiles(&set, args)?;
    let rec = recorder(args)?;
    let q = Qemu {
        binary: args.qemu.clone(),
        data_dirs: args.data_dirs.clone(),
    };
    let offered: Vec<MachineType> = q.machines()?.into_iter().map(|m| m.name).collect();
    let arch = std::env::consts::ARCH.to_string();
    // Every selected baseline in key order; the shard takes its part of
    // that list, removed machine types and unknown profiles included, so
    // that the merged shards give exactly the unsharded report.
    let selected: Vec<(&MachineType, &String, &Record)> = baselines
        .iter()
        .filter(|((a, machine, profile), _)| {
            *a == arch
                && (args.machines.is_empty() || args.machines.iter().any(|g| machine.matches(g)))
                && (args.profiles.is_empty() || args.profiles.contains(profile))
        })
        .map(|((_, m, p), r)| (m, p, r))
        .collect();
    let selection = partial::Selection::of(
        &selected.iter().map(|(m, p, _)| format!("{m}/{p}")).collect::<Vec<_>>(),
        &baselines.values().map(|r| r.key.to_string()).collect::<Vec<_>>(),
    );
    let mut work = Vec::new();
    let mut results = Vec::new();
    for (machine, profile_name, baseline) in args.shard.take(selected) {
        let Some(profile) = set.get(profile_name) else {
            results.push(MachineResult::new(
                &db,
                &baseline.key,
                profile_name,
                Outcome::Failed {
                    error: format!(
                        "profile {profile_name:?} unknown to this machine-abi (known: {}); give --profile-dir",
                        set.names().join(", ")
                    ),
                },
            ));
            continue;
        };
        if offered.contains(machine) {
            work.push((machine.clone(), profile));
        } else {
            results.push(MachineResult::removed(&db, &baseline.key, profile_name));
        }
    }
    let mut captures = Vec::new();
    for (i, r) in run_all(&rec, &work, jobs(args)).into_iter().enumerate() {
        let (m, p) = &work[i];
        let baseline = &baselines[&(arch.clone(), m.clone(), p.name.clone())];
        results.push(match r {
            Ok(c) => {
                let result = check::compare(&db, baseline, &c);
                captures.push(c);
                result
            }
            Err(e) => match e.missing_devices() {
                Some(models) => MachineResult::missing_devices(&db, &baseline.key, &p.name, models),
                None => MachineResult::new(&db, &baseline.key, &p.name, Outcome::Failed { error: e.to_string() }),
            },
        });
    }
    results.sort_by(|a, b| (&a.machine, &a.profile).cmp(&(&b.machine, &b.profile)));
    let known: Vec<MachineType> = baselines.keys().map(|(_, m, _)| m.clone()).collect();
    if let Some(path) = partial_out {
        let part = PartialCheck::new(args.shard, selection, rec.identity().clone(), known, results);
        let text = serde_json::to_string_pretty(&part)? + "\n";
        machine_abi::db::write_atomic(path, text.as_bytes())?;
        eprintln!(
            "shard {}: {} result(s) written to {}; combine the shards with `machine-abi merge`",
            args.shard,
            part.results.len(),
            path.display()
        );
        let failed = part.results.iter().any(|r| matches!(r.outcome, Outcome::Failed { .. }));
        return Ok(if failed { EXIT_ERROR } else { EXIT_CLEAN });
    }
    let mut report = CheckReport {
        qemu: rec.identity().clone(),
        results,
        waivers: Default::default(),
        strict: false,
    };
    out.judge(&mut report, &db, &known)?;
    if pending {
        // Only what a reviewer has to decide on: unwaived drift.
        let keep: Vec<Capture> = captures
            .into_iter()
            .filter(|c| {
                report.results.iter().any(|r| {
                    r.machine == c.machine && r.profile == c.profile && r.drifts().iter().any(|d| d.unwaived())
                })
            })
            .collect();
        for p in db.write_pending(&keep)? {
            eprintln!("pending: {}", p.display());
        }
        if !keep.is_empty() {
            eprintln!("review with `machine-abi review --db {}`", args.db.display());
        }
    }
    Ok(out.print(&report))
}

/// Combine the partial results of a sharded check and report as one run.
fn merge(db: &Path, files: &[PathBuf], out: &OutputArgs) -> Result<i32, Failure> {
    if let Some(missing) = files.iter().find(|f| !f.exists()) {
        return Err(Failure(format!("{}: no such file or directory", missing.display())));
    }
    let dirs = files.iter().filter(|f| f.is_dir()).count();
    if dirs == files.len() {
        let into = Db::open_or_create(db)?;
        for f in files {
            let n = into.merge_from(&Db::open(f)?)?;
            eprintln!("{}: {n} new record(s)", f.display());
        }
        println!("merged {} shard database(s) into {}", files.len(), db.display());
        return Ok(EXIT_CLEAN);
    }
    if dirs > 0 {
        return Err(Failure(
            "give either partial check results (files) or shard databases (directories), not both".into(),
        ));
    }
    let db = Db::open(db)?;
    let parts = files
        .iter()
        .map(|f| PartialCheck::load(f).map(|p| (f.clone(), p)))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut report, known) = partial::merge(parts)?;
    out.judge(&mut report, &db, &known)?;
    Ok(out.print(&report))
}

/// Record every versioned machine type × every profile of a release and
/// commit the records to the database's git repository.
fn snapshot_cmd(args: &RunArgs, release: &str) -> Result<i32, Failure> {
    let wanted =
        qemu::Version::parse(release).ok_or_else(|| Failure(format!("--release {release:?} is not a version")))?;
    if args.shard != Shard::ALL {
        return Err(Failure(
            "snapshot records a whole release; shard with `record --shard` and merge the databases instead".into(),
        ));
    }
    std::fs::create_dir_all(&args.db).map_err(|e| Failure(format!("{}: {e}", args.db.display())))?;
    snapshot::ensure_clean(&args.db)?;
    let rec = recorder(args)?;
    let id = rec.identity().clone();
    if !id.version.parts().starts_with(wanted.parts()) {
        return Err(Failure(format!(
            "{} is QEMU {}, not release {wanted}",
            args.qemu.display(),
            id.version
        )));
    }
    let got = record_selected(args, &rec)?;
    if !got.failed.is_empty() {
        report_failures(&got.failed, &args.db);
        return Ok(EXIT_ERROR);
    }
    // Created only now, so that a failed first snapshot leaves the tree clean.
    let db = Db::open_or_create(&args.db)?;
    let paths = db.write(&got.captures)?;
    let machines: std::collections::BTreeSet<&MachineType> = got.captures.iter().map(|c| &c.machine).collect();
    let profiles: std::collections::BTreeSet<&str> = got.captures.iter().map(|c| c.profile.as_str()).collect();
    let message = snapshot_message(&id, &got, machines.len(), &profiles);
    match snapshot::commit(&args.db, &message)? {
        Some(hash) => println!("committed {} records of QEMU {} as {hash}", paths.len(), id.version),
        None => println!(
            "QEMU {}: all {} records unchanged, nothing to commit (last: {})",
            id.version,
            paths.len(),
            snapshot::last_commit(&args.db).unwrap_or_else(|| "none".into())
        ),
    }
    Ok(EXIT_CLEAN)
}

/// The commit message of a snapshot: release, then provenance.
fn snapshot_message(
    id: &qemu::QemuIdentity,
    got: &Recorded,
    machines: usize,
    profiles: &std::collections::BTreeSet<&str>,
) -> String {
    use std::fmt::Write as _;
    let mut m = format!("abi-db: QEMU {} release snapshot\n\n", id.version);
    let _ = writeln!(
        m,
        "{} records: {machines} machine types x {} profiles ({})",
        got.captures.len(),
        profiles.len(),
        profiles.iter().copied().collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(m, "QEMU: {} ({})", id.version, id.package);
    let _ = writeln!(m, "  blake3 {}", id.blake3);
    if let Some(b) = &id.build_id {
        let _ = writeln!(m, "  build-id {b}");
    }
    if let Some(c) = got.captures.first() {
        let p = &c.provenance;
        let _ = writeln!(
            m,
            "firmware: {} {} (blake3 {})",
            p.firmware.bios,
            p.firmware.bios_version.as_deref().unwrap_or("unknown version"),
            p.firmware.bios_blake3
        );
        let _ = writeln!(m, "kernel: {} (blake3 {})", p.kernel.version, p.kernel.blake3);
        let _ = writeln!(m, "probe: {} (blake3 {})", p.probe.version, p.probe.blake3);
        let _ = writeln!(m, "accelerator: {}", p.accelerator);
    }
    for e in &got.skipped {
        let _ = writeln!(m, "not recorded: {e}");
    }
    let _ = writeln!(m, "recorded by machine-abi {}", env!("CARGO_PKG_VERSION"));
    m
}

fn review(db: &Path, globs: &[String], out: &OutputArgs) -> Result<i32, Failure> {
    let db = Db::open(db)?;
    let records = db.load_all()?;
    let known: Vec<MachineType> = records.iter().map(|r| r.key.machine.clone()).collect();
    let pending = review::pending(&db, records, globs)?;
    let Some(first) = pending.first() else {
        println!("nothing pending in {}", db.root().display());
        return Ok(EXIT_CLEAN);
    };
    let qemu = first.record.provenance.qemu.clone();
    let mut report = CheckReport {
        qemu,
        results: pending.into_iter().map(|p| p.result).collect(),
        waivers: Default::default(),
        strict: false,
    };
    out.judge(&mut report, &db, &known)?;
    out.print(&report);
    // On stderr: stdout is the report, which may be JSON or JUnit.
    eprintln!(
        "accept with `machine-abi accept --db {} --reason …`, or reject",
        db.root().display()
    );
    Ok(EXIT_CLEAN)
}

fn accept(
    db_dir: &Path,
    globs: &[String],
    path: Option<&str>,
    rule: Option<&str>,
    reason: Option<String>,
    link: Option<String>,
) -> Result<i32, Failure> {
    let db = Db::open(db_dir)?;
    let records = db.load_all()?;
    let known: Vec<MachineType> = records.iter().map(|r| r.key.machine.clone()).collect();
    let waivers = load_waivers(&db, &known, &[])?;
    let mut pending = review::pending(&db, records, globs)?;
    if pending.is_empty() {
        return Err(Failure(format!("nothing pending in {}", db_dir.display())));
    }
    // Drift already waived needs no new waiver.
    for p in &mut pending {
        waivers.mark(&mut p.result, &p.record.key.qemu_version);
    }
    let selected: Vec<review::Change> = review::changes(&pending)
        .into_iter()
        .filter(|c| path.is_none_or(|g| waiver::glob_match(g, c.drift.path.as_str())))
        .filter(|c| rule.is_none_or(|r| r == c.drift.rule))
        .collect();
    let filtered = path.is_some() || rule.is_some();
    let interactive = std::io::stdin().is_terminal() && std::env::var_os("CI").is_none();
    let mut accepted = Vec::new();
    let offered = selected.len();
    for c in selected {
        let why = match &reason {
            Some(r) => r.clone(),
            None if interactive => {
                println!(
                    "{} on {}:\n  {}: {}",
                    c.drift.rule,
                    c.machines.iter().cloned().collect::<Vec<_>>().join(", "),
                    report::location(&c.drift),
                    report::change(&c.drift)
                );
                print!("reason (empty to skip): ");
                let _ = std::io::Write::flush(&mut std::io::stdout());
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                if line.trim().is_empty() {
                    continue;
                }
                line.trim().to_string()
            }
            None => {
                return Err(Failure(
                    "accept needs --reason (nothing is accepted without a reason, and never implicitly in CI)".into(),
                ))
            }
        };
        accepted.push((c, why, link.clone()));
    }
    if accepted.is_empty() {
        println!("nothing accepted");
        return Ok(EXIT_CLEAN);
    }
    let text = review::waiver_text(&accepted, &waivers).map_err(Failure)?;
    let file = db.root().join(WAIVERS_FILE);
    let mut all = std::fs::read_to_string(&file).unwrap_or_else(|_| {
        "# Reviewed, intentional ABI changes. Each [[waiver]] needs a reason; see `machine-abi accept`.\n".into()
    });
    if !all.ends_with('\n') {
        all.push('\n');
    }
    all.push('\n');
    all.push_str(&text);
    // Refuse to write a file that would not load.
    Waivers::parse(&all, &file, &known)?;
    machine_abi::db::write_atomic(&file, all.as_bytes())?;
    println!("{} waivers appended to {}", accepted.len(), file.display());
    // A pending record is done when every change in it was accepted (none
    // filtered out, none skipped at the prompt).
    if !filtered && accepted.len() == offered {
        for p in &pending {
            std::fs::remove_file(&p.file)?;
            println!("removed {}", p.file.display());
        }
    } else {
        println!("pending records kept: not every change was accepted; run review again");
    }
    Ok(EXIT_CLEAN)
}

fn reject(db: &Path, globs: &[String]) -> Result<i32, Failure> {
    let db = Db::open(db)?;
    let mut n = 0;
    for (file, record) in db.load_pending()? {
        if globs.is_empty() || globs.iter().any(|g| waiver::glob_match(g, &record.key.machine.0)) {
            std::fs::remove_file(&file)?;
            println!("removed {}", file.display());
            n += 1;
        }
    }
    println!("{n} pending records rejected");
    Ok(EXIT_CLEAN)
}

fn quirks(db: &Path, format: QuirksFormat) -> Result<i32, Failure> {
    let db = Db::open(db)?;
    let known: Vec<MachineType> = db.load_all()?.into_iter().map(|r| r.key.machine).collect();
    let waivers = load_waivers(&db, &known, &[])?;
    let q = machine_abi::quirks::export(&waivers, &known);
    let text = match format {
        QuirksFormat::Toml => toml::to_string(&q)?,
        QuirksFormat::Json => serde_json::to_string_pretty(&q)? + "\n",
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    Ok(EXIT_CLEAN)
}

/// Records to compare from a path: a record file, or the newest record per
/// (arch, machine, profile) of a database.
fn load_side(p: &Path) -> Result<(Db, Vec<Record>), Failure> {
    if p.is_dir() {
        let db = Db::open(p)?;
        let mut newest: std::collections::BTreeMap<_, Record> = std::collections::BTreeMap::new();
        for r in db.load_all()? {
            newest.insert((r.key.arch.clone(), r.key.machine.clone(), r.key.profile.clone()), r);
        }
        Ok((db, newest.into_values().collect()))
    } else {
        // records/<arch>/<machine>/<profile>/<v>.toml: the database is four levels up.
        let root = p
            .ancestors()
            .nth(5)
            .ok_or_else(|| Failure(format!("{}: not inside an abi-db", p.display())))?;
        let db = Db::open(root)?;
        let r = db.load_record(p)?;
        Ok((db, vec![r]))
    }
}

fn diff_cmd(a: &Path, b: &Path, out: &OutputArgs, asl: bool) -> Result<i32, Failure> {
    let (da, ra) = load_side(a)?;
    let (dbb, rb) = load_side(b)?;
    let single = ra.len() == 1 && rb.len() == 1;
    let mut results = Vec::new();
    let mut qemu = None;
    for x in &ra {
        let Some(y) = counterpart(x, &rb, single) else {
            results.push(MachineResult::removed(&da, &x.key, &x.key.profile));
            continue;
        };
        qemu.get_or_insert_with(|| y.provenance.qemu.clone());
        results.push(check::compare_records(&da, x, y, &|id| da.blob(id).ok(), &|id| {
            dbb.blob(id).ok()
        }));
    }
    let Some(qemu) = qemu.or_else(|| rb.first().map(|r| r.provenance.qemu.clone())) else {
        return Err(Failure(format!("{}: no records", b.display())));
    };
    let known: Vec<MachineType> = ra.iter().map(|r| r.key.machine.clone()).collect();
    let report = CheckReport {
        qemu,
        results,
        waivers: Default::default(),
        strict: false,
    };
    let code = out.emit(report, &da, &known)?;
    if asl {
        print_asl_diffs(&da, &ra, &dbb, &rb, single)?;
    }
    Ok(code)
}

/// The record of `side` to compare `x` with: the one of the same arch,
/// machine type and profile, or the only one when both sides hold one.
fn counterpart<'a>(x: &Record, side: &'a [Record], single: bool) -> Option<&'a Record> {
    side.iter().find(|y| {
        single || (&y.key.arch, &y.key.machine, &y.key.profile) == (&x.key.arch, &x.key.machine, &x.key.profile)
    })
}

/// The ASL diff of every AML table whose bytes differ, once per distinct
/// (old, new) pair of blobs.
fn print_asl_diffs(da: &Db, ra: &[Record], dbb: &Db, rb: &[Record], single: bool) -> Result<(), Failure> {
    if !machine_abi::asl::available() {
        return Err(Failure(machine_abi::asl::AslError::NoIasl.to_string()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for x in ra {
        let Some(y) = counterpart(x, rb, single) else {
            continue;
        };
        let (Some(ta), Some(tb)) = (x.facts.acpi.available(), y.facts.acpi.available()) else {
            continue;
        };
        for (name, t) in ta {
            let is_aml = name.contains("DSDT") || name.contains("SSDT");
            let (Some(t), Some(u)) = (t.available(), tb.get(name).and_then(|u| u.available())) else {
                continue;
            };
            if !is_aml || t.blob == u.blob || !seen.insert((t.blob.clone(), u.blob.clone())) {
                continue;
            }
            let diff =
                machine_abi::asl::unified_diff(&name.replace('/', "_"), &da.blob(&t.blob)?, &dbb.blob(&u.blob)?)?;
            println!(
                "\n# {name} of {} ({} → {})",
                x.key.machine, x.key.qemu_version, y.key.qemu_version
            );
            print!("{diff}");
        }
    }
    Ok(())
}

fn explain(id: Option<&str>) -> Result<i32, Failure> {
    let Some(id) = id else {
        for r in rules::RULES {
            println!(
                "{:26} {:10} {:5}  {}",
                r.id,
                r.category.as_str(),
                r.severity.as_str(),
                r.summary
            );
        }
        return Ok(EXIT_CLEAN);
    };
    let Some(r) = rules::rule(id) else {
        let near: Vec<&str> = rules::RULES
            .iter()
            .map(|r| r.id)
            .filter(|r| r.contains(id) || id.contains(r))
            .collect();
        return Err(Failure(format!(
            "no rule {id:?}{}; `machine-abi explain` lists them all",
            if near.is_empty() {
                String::new()
            } else {
                format!(" (did you mean {}?)", near.join(", "))
            }
        )));
    };
    println!("{} ({}, {})\n", r.id, r.category, r.severity);
    println!("{}\n", r.summary);
    println!("Why it matters:\n  {}\n", r.why);
    println!("How it is usually fixed:\n  {}", r.fix);
    Ok(EXIT_CLEAN)
}

fn list(db: &Path) -> Result<i32, Failure> {
    let db = Db::open(db)?;
    for r in db.load_all()? {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            r.key.arch, r.key.machine, r.key.profile, r.key.qemu_version, r.provenance.qemu.package
        );
    }
    Ok(EXIT_CLEAN)
}

fn show(db: &Path, machine: &str, profile: &str, version: Option<&str>, prefix: Option<&str>) -> Result<i32, Failure> {
    let db = Db::open(db)?;
    let mut matching: Vec<Record> = db
        .load_all()?
        .into_iter()
        .filter(|r| r.key.machine.0 == machine && r.key.profile == profile)
        .filter(|r| version.is_none_or(|v| r.key.qemu_version.to_string() == v))
        .collect();
    if matching.is_empty() {
        return Err(Failure(format!(
            "no record of {machine} ({profile}){}",
            version.map(|v| format!(" by QEMU {v}")).unwrap_or_default()
        )));
    }
    let r = matching.remove(0);
    println!("# {} — {}", r.key, r.provenance.qemu.package);
    for (p, v) in flatten(&r.facts) {
        if prefix.is_none_or(|x| p.as_str().starts_with(x)) {
            println!("{p} = {v}");
        }
    }
    Ok(EXIT_CLEAN)
}

fn decode(log: &Path, out: &Path) -> Result<i32, Failure> {
    let text = String::from_utf8_lossy(&std::fs::read(log)?).into_owned();
    let entries = guest_probe::frame::decode(&text).map_err(|e| Failure(format!("{}: {e}", log.display())))?;
    let (fixture, entries): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.name.starts_with("capture/"));
    let c = guest_probe::Collection::from_entries(entries).map_err(|e| Failure(format!("{}: {e}", log.display())))?;
    std::fs::create_dir_all(out.join("blobs"))?;
    for (id, data) in c.blobs.iter() {
        std::fs::write(out.join("blobs").join(id.as_str()), data)?;
    }
    std::fs::write(out.join("facts.toml"), c.document())?;
    for e in fixture {
        let p = out.join(&e.name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, e.data)?;
    }
    println!("decoded {} blobs and facts.toml into {}", c.blobs.len(), out.display());
    Ok(EXIT_CLEAN)
}

fn compat_tables(bin: &Path) -> Result<recorder::elf::CompatTables, Failure> {
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

fn compat(bin: &Path, machine: Option<&str>, other: Option<&Path>, format: PlainFormat) -> Result<i32, Failure> {
    use machine_abi::compat;
    let tables = compat_tables(bin)?;
    let mut out = String::new();
    use std::fmt::Write as _;
    if let Some(other) = other {
        let d = compat::diff(&tables, &compat_tables(other)?);
        match format {
            PlainFormat::Json => out = serde_json::to_string_pretty(&d)? + "\n",
            PlainFormat::Text => {
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
        let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
        return Ok(if d.is_empty() { EXIT_CLEAN } else { 1 });
    }
    let selected: Vec<compat::AppliedTable> = match machine {
        Some(m) => {
            let m = MachineType(m.to_string());
            if m.version().is_none() {
                return Err(Failure(format!("{m} is not a versioned machine type")));
            }
            compat::applied(&tables, &m)
        }
        None => tables
            .iter()
            .map(|(n, p)| compat::AppliedTable {
                name: n.clone(),
                entries: p.clone(),
            })
            .collect(),
    };
    match format {
        PlainFormat::Json => {
            let map: std::collections::BTreeMap<&str, &[recorder::elf::CompatProperty]> = selected
                .iter()
                .map(|t| (t.name.as_str(), t.entries.as_slice()))
                .collect();
            out = serde_json::to_string_pretty(&map)? + "\n";
        }
        PlainFormat::Text => {
            for t in &selected {
                let _ = writeln!(out, "{} ({} entries)", t.name, t.entries.len());
                for e in &t.entries {
                    let _ = writeln!(out, "  {}.{}={}", e.driver, e.property, e.value);
                }
            }
        }
    }
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    Ok(EXIT_CLEAN)
}

fn host_facts(
    binary: PathBuf,
    data_dirs: Vec<PathBuf>,
    globs: &[String],
    jobs: Option<usize>,
    timeout: u64,
) -> Result<i32, Failure> {
    let q = Qemu { binary, data_dirs };
    let machines = qemu::select(&q.machines()?, globs, false);
    let bytes = std::fs::read(&q.binary)?;
    let tables = recorder::elf::compat_tables(&bytes).map_err(|e| e.to_string());
    let jobs = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let started = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(machines.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(m) = machines.get(i) else { break };
                let t = Instant::now();
                let (side, blobs) = recorder::host::collect(&q, m, &tables, Duration::from_secs(timeout));
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
                let failed = side.qmp.available().is_none() || side.vmstate.available().is_none();
                if let Ok(mut r) = results.lock() {
                    r.push((i, line, failed));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort();
    let failed = results.iter().filter(|r| r.2).count();
    for (_, line, _) in &results {
        println!("{line}");
    }
    println!(
        "{} machine types in {:.1} s with {jobs} jobs, {failed} failed",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if failed == 0 { EXIT_CLEAN } else { EXIT_ERROR })
}

fn vmstate(old: &Path, new: &Path, verbose: bool) -> Result<i32, Failure> {
    use machine_abi::vmstate;
    let a = vmstate::load(old)?;
    let b = vmstate::load(new)?;
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
    Ok(if breaks == 0 { EXIT_CLEAN } else { 1 })
}

fn bench_diff(a: &Path, b: Option<&Path>, repeat: usize) -> Result<i32, Failure> {
    let t = Instant::now();
    let da = Db::open(a)?;
    let base = check::baselines(da.load_all()?);
    let load_a = t.elapsed();
    let t = Instant::now();
    let (db_b, newest) = match b {
        Some(b) => load_side(b)?,
        None => load_side(a)?,
    };
    let load_b = t.elapsed();
    let pairs: Vec<(&Record, &Record)> = base
        .values()
        .filter_map(|x| Some((x, counterpart(x, &newest, false)?)))
        .collect();
    let mut times = Vec::new();
    let mut drifts = 0;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        drifts = pairs
            .iter()
            .map(|(x, y)| check::drifts(x, y, &|id| da.blob(id).ok(), &|id| db_b.blob(id).ok()).len())
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

fn bench(args: &RunArgs, bare_boots: usize) -> Result<i32, Failure> {
    if args.db.exists() {
        return Err(Failure(format!(
            "{}: bench writes a fresh database; give a path that does not exist",
            args.db.display()
        )));
    }
    let rec = recorder(args)?;
    let machines = rec_machines(args)?;
    let set = profile_set(args)?;
    let work = work_list(&machines, &selected_profiles(&set, args)?, args.shard);
    let Some((first, first_profile)) = work.first().cloned() else {
        return Err(Failure("no machine type selected".into()));
    };
    let jobs = jobs(args);
    let started = Instant::now();
    let results = run_all(&rec, &work, jobs);
    let wall = started.elapsed();
    let mut captures = Vec::new();
    let mut failures = 0;
    for r in results {
        match r {
            Ok(c) => captures.push(c),
            Err(e) => {
                failures += 1;
                eprintln!("machine-abi: {e}");
            }
        }
    }
    let db = Db::open_or_create(&args.db)?;
    db.write(&captures)?;
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
