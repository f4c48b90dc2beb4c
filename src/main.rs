//! The `machine-abi` command line: arguments, and one call per subcommand
//! into `cmd/`. The flow behind them is probe → recorder → store → check →
//! report (see ARCHITECTURE.md).

mod args;
mod boots;
mod cmd;

use args::{Failure, OutputArgs, RunArgs, FAILURE_EXIT};
use clap::{Parser, Subcommand};
use cmd::inspect::QuirksFormat;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "machine-abi",
    version,
    about = "Record the guest ABI of QEMU machine types and fail when a build changes it"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// For `git bisect run`: exit 125 (skip this commit) instead of 2 when
    /// the run could not check (a boot, a file or an argument failed); 0
    /// (good) and 1 (bad) are unchanged. Also set by MACHINE_ABI_BISECT=1.
    /// Reports still say 2.
    #[arg(long, global = true)]
    bisect: bool,
}

/// `git bisect run`'s "cannot test this commit, skip it".
const BISECT_SKIP: u8 = abi_check::verdict::EXIT_BISECT_SKIP as u8;

/// Whether MACHINE_ABI_BISECT asks for bisect exit codes (set, not empty, `0` or `false`).
fn bisect_env() -> bool {
    std::env::var("MACHINE_ABI_BISECT").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

#[derive(Subcommand)]
enum Command {
    /// Boot machine types of a QEMU binary and write their records into a database.
    Record(cmd::record::RecordArgs),
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
        /// Replace records that exist with different content (e.g. a distro
        /// rebuild of the same QEMU version); without it that is an error.
        #[arg(long)]
        replace: bool,
    },
    /// The ABI changelog of a machine type: what changed between its records
    /// of successive QEMU releases, waived or not, with the rule ids.
    History(cmd::history::HistoryArgs),
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
    Accept(cmd::review::AcceptArgs),
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
    /// Check a whole database at rest: parse every record and pending record
    /// (key against path), hash every blob, find missing blobs, load the
    /// waivers. Exit 2 naming every bad file, 0 otherwise.
    Verify {
        /// Database directory.
        #[arg(long)]
        db: PathBuf,
    },
    /// List the blobs no record or pending record refers to (a dry run);
    /// remove them with --delete. Refused while `verify` finds problems.
    Gc {
        /// Database directory.
        #[arg(long)]
        db: PathBuf,
        /// Remove them (under the write lock).
        #[arg(long)]
        delete: bool,
    },
    /// List the records of a database.
    List {
        /// Database directory.
        #[arg(long)]
        db: PathBuf,
    },
    /// Print the facts of a record as `path = value` lines.
    Show(cmd::inspect::ShowArgs),
    /// Measure: record the selected machine types into a scratch database
    /// (wall time, per boot), then time single boots side by side: the
    /// firmware-only image, the bare probe and the Linux probe.
    Bench {
        #[command(flatten)]
        run: RunArgs,
        /// Sequential boots of each kind per side-by-side machine type:
        /// firmware-only image, bare probe, and (with --kernel) Linux probe,
        /// interleaved.
        #[arg(long, default_value_t = 5)]
        boots: usize,
        /// Machine types of the side-by-side per-boot timing (default: the
        /// first and last selected).
        #[arg(long = "side-by-side")]
        side_by_side: Vec<String>,
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
        format: args::PlainFormatArg,
    },
    /// Gather the host-side facts (compat tables, QMP, -dump-vmstate) of
    /// machine types without booting a guest, in parallel, and time it.
    HostFacts {
        /// The qemu-system-x86_64 binary.
        #[arg(long)]
        qemu: PathBuf,
        /// Root file system to run the binary in (see `record --sysroot`).
        #[arg(long)]
        sysroot: Option<PathBuf>,
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

fn main() -> ExitCode {
    // First, before any thread: an interrupt kills every QEMU and removes
    // every scratch directory.
    abi_process::handle_signals();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors are "could not check" too: under --bisect a typo
            // must not mark every commit bad.
            let _ = e.print();
            let code = e.exit_code();
            let bisect = std::env::args().any(|a| a == "--bisect") || bisect_env();
            return ExitCode::from(if code == FAILURE_EXIT && bisect {
                BISECT_SKIP
            } else {
                code as u8
            });
        }
    };
    let bisect = cli.bisect || bisect_env();
    let mut command = cli.command;
    if let Command::Check { out, .. }
    | Command::Merge { out, .. }
    | Command::Diff { out, .. }
    | Command::Review { out, .. } = &mut command
    {
        out.bisect = bisect;
    }
    if !bisect {
        return finish(run(command), false);
    }
    // A panic is machine-abi's own failure, not the commit's: git bisect
    // would read its 101 as bad. Unwinding still drops (and kills) every
    // QEMU and scratch directory on the way.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| finish(run(command), true))) {
        Ok(code) => code,
        Err(_) => {
            // Not eprintln!: stderr may be what failed.
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("machine-abi: panicked: exit {BISECT_SKIP} (--bisect: git bisect skips this commit)\n"),
            );
            ExitCode::from(BISECT_SKIP)
        }
    }
}

/// Run a command.
fn run(command: Command) -> Result<i32, Failure> {
    match command {
        Command::Record(mut args) => args.run.resolve().and_then(|()| cmd::record::run(&args)),
        Command::Check {
            mut run,
            out,
            pending,
            partial,
        } => run
            .resolve()
            .and_then(|()| cmd::check::run(&run, &out, pending, partial.as_deref())),
        Command::Merge { db, files, out } => cmd::merge::run(&db, &files, &out),
        Command::Snapshot {
            mut run,
            release,
            replace,
        } => run.resolve().and_then(|()| cmd::snapshot::run(&run, &release, replace)),
        Command::Review { db, machines, out } => cmd::review::review(&db, &machines, &out),
        Command::Accept(a) => cmd::review::accept(&a),
        Command::Reject { db, machines } => cmd::review::reject(&db, &machines),
        Command::History(a) => cmd::history::run(&a),
        Command::Quirks { db, format } => cmd::inspect::quirks(&db, format),
        Command::Diff { a, b, out, asl } => cmd::diff::run(&a, &b, &out, asl),
        Command::Explain { rule } => cmd::inspect::explain(rule.as_deref()),
        Command::List { db } => cmd::inspect::list(&db),
        Command::Verify { db } => cmd::verify::verify(&db),
        Command::Gc { db, delete } => cmd::verify::gc(&db, delete),
        Command::Show(a) => cmd::inspect::show(&a),
        Command::Decode { log, out } => cmd::decode::run(&log, &out),
        Command::Compat {
            qemu,
            machine,
            diff,
            format,
        } => cmd::host::compat(&qemu, machine.as_deref(), diff.as_deref(), format),
        Command::Vmstate { old, new, verbose } => cmd::host::vmstate(&old, &new, verbose),
        Command::HostFacts {
            qemu,
            sysroot,
            data_dirs,
            machines,
            jobs,
            timeout,
        } => cmd::host::host_facts(qemu, sysroot, data_dirs, &machines, jobs, timeout),
        Command::BenchDiff { a, b, repeat } => cmd::bench::bench_diff(&a, b.as_deref(), repeat),
        Command::Bench {
            mut run,
            boots,
            side_by_side,
        } => run
            .resolve()
            .and_then(|()| cmd::bench::bench(&run, boots, &side_by_side)),
    }
}

/// Say why a command failed; its exit status (under `--bisect`, "could
/// not check" is [`BISECT_SKIP`]).
fn finish(result: Result<i32, Failure>, bisect: bool) -> ExitCode {
    let code = match result {
        Ok(code) => code,
        Err(Failure(msg)) => {
            eprintln!("machine-abi: error: {msg}");
            FAILURE_EXIT
        }
    };
    if bisect && (code == FAILURE_EXIT || code == i32::from(BISECT_SKIP)) {
        eprintln!("machine-abi: could not check: exit {BISECT_SKIP} (--bisect: git bisect skips this commit)");
        return ExitCode::from(BISECT_SKIP);
    }
    ExitCode::from(code as u8)
}
