//! Options shared by several subcommands: what to boot (`RunArgs`), how to
//! report and judge (`OutputArgs`), and the one error type of the commands.

use abi_check::verdict::{Policy, Verdict, EXIT_ERROR};
use abi_check::waiver::{Waivers, WAIVERS_FILE};
use abi_model::drift::Severity;
use abi_model::MachineType;
use abi_report::{Format, TextStyle};
use abi_store::Db;
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Why a command could not do its job: printed as `machine-abi: error: …`
/// with exit status 2.
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// The exit status of a failed command.
pub const FAILURE_EXIT: i32 = EXIT_ERROR;

/// Options of every command that boots QEMU.
#[derive(Args)]
pub struct RunArgs {
    /// The qemu-system-x86_64 binary. In a meson build directory (one with
    /// meson-info/ or build.ninja) it is taken as --qemu-build of that
    /// directory.
    #[arg(long, required_unless_present = "qemu_build", conflicts_with = "qemu_build")]
    pub qemu: Option<PathBuf>,
    /// A QEMU build directory: its qemu-system-x86_64, its
    /// pc-bios/optionrom, the source tree's pc-bios/ (from meson-info), then
    /// --data-dir and the pinned firmware (MACHINE_ABI_FIRMWARE, or
    /// .cache/fixtures/firmware of the repository machine-abi was built in)
    /// for what the tree lacks. Which file comes from where is printed.
    #[arg(long, value_name = "DIR")]
    pub qemu_build: Option<PathBuf>,
    /// Data directories (-L), searched in order; put the firmware first.
    /// With a build tree, searched after the tree's own.
    #[arg(long = "data-dir")]
    pub data_dirs: Vec<PathBuf>,
    /// check: the baseline release's binary (e.g. QEMU 7.2's). Every
    /// machine type and profile with a vmstate finding is then migrated for
    /// real, never-started, from it to the build and back; the outcome is
    /// attached to the finding, and a backward finding whose migration
    /// fails becomes a break.
    #[arg(long, value_name = "BIN")]
    pub baseline_qemu: Option<PathBuf>,
    /// check: data directories (-L) of --baseline-qemu, searched in order.
    /// Default: the pinned firmware, then the share/qemu of the unpacked
    /// release next to the binary (bin/../share/qemu); in a meson build
    /// directory, that tree's as for --qemu-build. Every file its
    /// migrations load is checked before any boot.
    #[arg(long = "baseline-data-dir", value_name = "DIR", requires = "baseline_qemu")]
    pub baseline_data_dirs: Vec<PathBuf>,
    /// check: run --baseline-qemu in this root file system, as --sysroot
    /// does for --qemu (e.g. the pinned 5.2 in sysroot-bullseye).
    #[arg(long, value_name = "DIR", requires = "baseline_qemu")]
    pub baseline_sysroot: Option<PathBuf>,
    /// The build tree `--qemu-build` (or `--qemu` in one) resolved to, once
    /// [`RunArgs::resolve`] ran.
    #[arg(skip)]
    pub tree: Option<recorder::tree::BuildTree>,
    /// Run the binary in this root file system of another distribution
    /// release (through its dynamic loader and libraries; see
    /// scripts/fetch-suites), still reading the real ELF for compat tables.
    #[arg(long)]
    pub sysroot: Option<PathBuf>,
    /// Which probe boots each machine type: `bare` (the firmware-level
    /// probe, no guest kernel) or `linux` (the probe under a Linux kernel).
    /// Default: bare for x86 PC machine types (pc-*), linux for the rest.
    #[arg(long, value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<abi_model::provenance::ProbeKind>()))]
    pub probe_kind: Option<abi_model::provenance::ProbeKind>,
    /// Guest kernel (bzImage), for the Linux probe only.
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// The kernel's module directory (lib/modules/<release>), for --module.
    #[arg(long)]
    pub modules_dir: Option<PathBuf>,
    /// Kernel module for the probe to load (with its dependencies).
    #[arg(long = "module")]
    pub modules: Vec<String>,
    /// The static Linux guest-probe binary, used with --kernel (default: the
    /// one scripts/build-probe builds).
    #[arg(long)]
    pub probe: Option<PathBuf>,
    /// The abi-db directory.
    #[arg(long)]
    pub db: PathBuf,
    /// Machine type globs (default: every versioned machine type).
    #[arg(long = "machine")]
    pub machines: Vec<String>,
    /// Also take aliases and unversioned machine types.
    #[arg(long)]
    pub all_machines: bool,
    /// Device profiles (default: every profile for record and snapshot,
    /// every profile in the database for check).
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Use the profiles (*.toml) in this directory instead of the built-in
    /// ones (profiles/ in the repository).
    #[arg(long)]
    pub profile_dir: Option<PathBuf>,
    /// Do only shard I of N of the (machine type, profile) pairs, e.g. 2/3;
    /// combine the shards with `merge`.
    #[arg(long, default_value = "1/1")]
    pub shard: abi_check::shard::Shard,
    /// Parallel boots (default: one per CPU, fewer if the available memory
    /// cannot hold 1 GiB per boot).
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Per-boot timeout in seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Also write the probe's fixture tree of every boot into DIR/<machine>/.
    #[arg(long)]
    pub capture_fixtures: Option<PathBuf>,
    /// Skip the host-side facts (compat tables, QMP, -dump-vmstate).
    #[arg(long)]
    pub no_host_facts: bool,
    /// Try a boot that crashed (killed by a signal) or hung this many more
    /// times before giving up on it; each retry is reported on stderr.
    #[arg(long, default_value_t = 1)]
    pub retries: usize,
    /// Write records even when host-side facts (QMP, -dump-vmstate, compat
    /// tables) could not be gathered; the reason is kept in the record.
    #[arg(long)]
    pub allow_unavailable: bool,
}

/// How to report a verdict and what fails it.
#[derive(Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,
    /// Colour in the text format.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
    /// Also list info-level drift (checksums, lengths, shifted selectors).
    #[arg(short, long)]
    pub verbose: bool,
    /// Lowest severity that makes the check fail (exit 1).
    #[arg(long, value_enum, default_value = "break")]
    pub fail_on: FailOn,
    /// Extra waiver file, besides the database's waivers.toml (repeatable).
    #[arg(long = "waivers")]
    pub waivers: Vec<PathBuf>,
    /// Ignore every waiver (show all drift as found).
    #[arg(long)]
    pub no_waivers: bool,
    /// Fail (exit 1) when a waiver matches nothing this run.
    #[arg(long)]
    pub strict: bool,
    /// A waiver accepting more facts than this is flagged as too broad.
    #[arg(long, default_value_t = 40)]
    pub broad_threshold: usize,
    /// `--bisect` (set by main): exit with [`Verdict::bisect_exit_code`].
    #[arg(skip)]
    pub bisect: bool,
}

/// Output formats of reports.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Human-readable text, grouped by machine type then category.
    Text,
    /// One JSON document, schema `docs/report.schema.json`.
    Json,
    /// JUnit XML, one test case per machine type and profile.
    Junit,
    /// GitHub Actions workflow commands (`::error …`), one per change.
    Github,
}

/// Output formats of commands that print data rather than a verdict.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlainFormatArg {
    /// Text for people.
    Text,
    /// JSON for programs.
    Json,
}

/// Colour in the text format.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `--fail-on`: the lowest severity that fails the run.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Only breaks.
    Break,
    /// Warnings and breaks.
    Warn,
    /// Any drift.
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

    /// What fails the run.
    pub fn policy(&self) -> Policy {
        Policy {
            fail_on: match self.fail_on {
                FailOn::Break => Severity::Break,
                FailOn::Warn => Severity::Warn,
                FailOn::Info => Severity::Info,
            },
            strict: self.strict,
        }
    }

    /// The waivers this run applies: the database's and `--waivers`, or none
    /// with `--no-waivers`.
    pub fn waivers(&self, db: &Db, known: &[MachineType]) -> Result<Option<Waivers>, Failure> {
        if self.no_waivers {
            return Ok(None);
        }
        load_waivers(db, known, &self.waivers).map(Some)
    }

    /// Judge results with the waivers of this run.
    pub fn judge(
        &self,
        qemu: abi_model::QemuIdentity,
        results: Vec<abi_check::outcome::MachineResult>,
        waivers: Option<&Waivers>,
        scope: Option<&[(MachineType, String)]>,
    ) -> Verdict {
        match waivers {
            Some(w) => Verdict::with_waivers(qemu, results, w, self.broad_threshold, self.policy(), scope),
            None => Verdict::new(qemu, results, self.policy()),
        }
    }

    /// Print the verdict in the chosen format; returns its exit status (the
    /// bisect one under `--bisect`).
    pub fn print(&self, verdict: &Verdict) -> i32 {
        let format = match self.format {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Junit => Format::Junit,
            FormatArg::Github => Format::Github,
        };
        let text = abi_report::render(verdict, format, self.style());
        // A reader that stops early (`| head`) is not an error of the check.
        let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
        if self.bisect {
            verdict.bisect_exit_code()
        } else {
            verdict.exit_code()
        }
    }
}

/// The database's waivers plus extra files.
pub fn load_waivers(db: &Db, known: &[MachineType], extra: &[PathBuf]) -> Result<Waivers, Failure> {
    let mut waivers = Waivers::load(&db.root().join(WAIVERS_FILE), known)?;
    for f in extra {
        if !f.is_file() {
            return Err(Failure(format!("{}: no such waiver file", f.display())));
        }
        waivers.merge(Waivers::load(f, known)?)?;
    }
    Ok(waivers)
}
