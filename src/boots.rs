//! Booting for the commands that record or check: the recorder built from
//! the command line, the (machine type, profile) work list, the default
//! number of parallel boots, and one progress line per finished boot.

use crate::args::{Failure, RunArgs};
use abi_model::MachineType;
use recorder::boot::BootSettings;
use recorder::profile::{Profile, Profiles};
use recorder::qemu::{self, Qemu};
use recorder::record::{Capture, RecordError, Recorder, RecorderConfig};
use std::io::IsTerminal;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// The probe for `arch` guests next to this executable:
/// target/{debug,release}/machine-abi →
/// target/ARCH-unknown-linux-gnu/release/guest-probe (as scripts/build-probe
/// builds it), or `MACHINE_ABI_PROBE`.
fn default_probe(arch: &str) -> PathBuf {
    if let Some(p) = std::env::var_os("MACHINE_ABI_PROBE") {
        return p.into();
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let target = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    target.join(format!("{arch}-unknown-linux-gnu/release/guest-probe"))
}

/// The pinned firmware (SeaBIOS and iPXE ROMs that scripts/fetch-qemu
/// fetches), the fallback of a build tree: `MACHINE_ABI_FIRMWARE`, else
/// `firmware/` of `MACHINE_ABI_FIXTURES`, else `.cache/fixtures/firmware`
/// of the repository this executable was built in (target/*/machine-abi).
pub fn pinned_firmware() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MACHINE_ABI_FIRMWARE") {
        return Some(p.into());
    }
    if let Some(p) = std::env::var_os("MACHINE_ABI_FIXTURES") {
        return Some(PathBuf::from(p).join("firmware"));
    }
    let exe = std::env::current_exe().ok()?;
    let repo = exe.parent()?.parent()?.parent()?;
    let dir = repo.join(".cache/fixtures/firmware");
    dir.is_dir().then_some(dir)
}

/// The data directories searched after a build tree's own: `given` (from
/// the option `role`), then the pinned firmware.
fn fallback_dirs(given: &[PathBuf], role: &str) -> Vec<recorder::tree::DataDir> {
    let mut fallback: Vec<recorder::tree::DataDir> = given
        .iter()
        .map(|d| recorder::tree::DataDir {
            path: d.clone(),
            role: role.into(),
        })
        .collect();
    match pinned_firmware() {
        Some(fw) => fallback.push(recorder::tree::DataDir {
            path: fw,
            role: "pinned firmware".into(),
        }),
        None => eprintln!(
            "machine-abi: no pinned firmware found (scripts/fetch-qemu, or MACHINE_ABI_FIRMWARE): \
             only the tree and {role} are searched"
        ),
    }
    fallback
}

/// Open the build tree `dir` (binary `name`) and say on stderr which data
/// directories it resolved to, in order; `what` names it.
fn open_tree(
    dir: &Path,
    name: &str,
    fallback: &[recorder::tree::DataDir],
    what: &str,
) -> Result<recorder::tree::BuildTree, Failure> {
    let tree = recorder::tree::open(dir, name, fallback)?;
    eprintln!(
        "machine-abi: {what} {}{}; data directories in order:",
        tree.dir.display(),
        tree.source.as_ref().map_or_else(
            || " (source tree unknown: no meson-info)".to_string(),
            |s| format!(" (source {})", s.display())
        )
    );
    for d in &tree.data_dirs {
        eprintln!("  {:<24} {}", d.role, d.path.display());
    }
    Ok(tree)
}

impl RunArgs {
    /// The baseline release's binary (`--baseline-qemu`) as its migrations
    /// run it, or `None` without one: its own data directories
    /// (`--baseline-data-dir`, its build tree's, or the pinned firmware and
    /// the unpacked release's `share/qemu`) and root (`--baseline-sysroot`),
    /// never the build's. Refused at once when a directory or its root's
    /// loader is missing or the binary does not run; said on stderr.
    pub fn baseline(&self) -> Result<Option<Qemu>, Failure> {
        let Some(bin) = &self.baseline_qemu else {
            return Ok(None);
        };
        let fail = |m: String| Failure(format!("--baseline-qemu {}: {m}", bin.display()));
        if !bin.is_file() {
            return Err(fail("no such file".into()));
        }
        let (bin, dirs) = if let Some(dir) = recorder::tree::build_dir_of(bin) {
            let name = bin
                .file_name()
                .map_or_else(|| "qemu-system-x86_64".into(), |n| n.to_string_lossy().into_owned());
            let fallback = fallback_dirs(&self.baseline_data_dirs, "--baseline-data-dir");
            let tree = open_tree(&dir, &name, &fallback, "baseline QEMU build tree")?;
            (tree.binary, tree.data_dirs.into_iter().map(|d| d.path).collect())
        } else {
            let mut dirs: Vec<(PathBuf, &str)> = Vec::new();
            if self.baseline_data_dirs.is_empty() {
                dirs.extend(pinned_firmware().map(|fw| (fw, "pinned firmware")));
                // An unpacked release: usr/bin/qemu-system-* next to usr/share/qemu.
                let share = bin.parent().and_then(Path::parent).map(|usr| usr.join("share/qemu"));
                dirs.extend(share.filter(|s| s.is_dir()).map(|s| (s, "the release's share/qemu")));
            } else {
                dirs.extend(
                    self.baseline_data_dirs
                        .iter()
                        .map(|d| (d.clone(), "--baseline-data-dir")),
                );
            }
            eprintln!(
                "machine-abi: baseline QEMU {}{}; data directories in order:",
                bin.display(),
                self.baseline_sysroot
                    .as_ref()
                    .map_or_else(String::new, |r| format!(" (in {})", r.display()))
            );
            for (d, role) in &dirs {
                eprintln!("  {role:<24} {}", d.display());
            }
            (bin.clone(), dirs.into_iter().map(|(d, _)| d).collect())
        };
        let mut q = Qemu::new(bin, dirs);
        q.query_timeout = q.query_timeout.min(Duration::from_secs(self.timeout));
        q.sysroot = self.baseline_sysroot.clone();
        q.check_data_dirs().map_err(|e| fail(e.message))?;
        q.identity().map_err(|e| fail(e.message))?;
        Ok(Some(q))
    }

    /// The QEMU binary (`--qemu`, or the build tree's after [`RunArgs::resolve`]).
    pub fn binary(&self) -> PathBuf {
        self.qemu.clone().unwrap_or_default()
    }

    /// Turn `--qemu-build DIR`, or a `--qemu` that sits in a meson build
    /// directory, into the binary and the data directories (the tree's
    /// own, then `--data-dir`, then the pinned firmware), and say so on
    /// stderr. Anything else is left as given.
    pub fn resolve(&mut self) -> Result<(), Failure> {
        let dir = match (&self.qemu_build, &self.qemu) {
            (Some(dir), _) => dir.clone(),
            (None, Some(bin)) => match recorder::tree::build_dir_of(bin) {
                Some(dir) => dir,
                None => return Ok(()),
            },
            (None, None) => return Err(Failure("give --qemu BIN or --qemu-build DIR".into())),
        };
        let name = self.qemu.as_ref().and_then(|b| b.file_name()).map_or_else(
            || "qemu-system-x86_64".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let fallback = fallback_dirs(&self.data_dirs, "--data-dir");
        let tree = open_tree(&dir, &name, &fallback, "QEMU build tree")?;
        self.qemu = Some(tree.binary.clone());
        self.data_dirs = tree.data_dirs.iter().map(|d| d.path.clone()).collect();
        self.tree = Some(tree);
        Ok(())
    }

    /// With a build tree: print, once, where each file the boots of `work`
    /// load comes from (or that it is missing, which fails those boots).
    pub fn show_data_files(&self, rec: &Recorder, work: &[(MachineType, &Profile)]) {
        let Some(tree) = &self.tree else { return };
        let mut seen: std::collections::BTreeMap<String, (Option<PathBuf>, String)> = Default::default();
        for (m, p) in work {
            for (n, found) in rec.data_files(rec.probe_kind(m), m, p) {
                seen.entry(n.file).or_insert((found, n.why));
            }
        }
        eprintln!("machine-abi: files the boots load:");
        for (file, (found, why)) in &seen {
            let from = match found {
                Some(path) => {
                    let role = path
                        .parent()
                        .and_then(|dir| tree.data_dirs.iter().find(|d| d.path == dir))
                        .map_or("", |d| d.role.as_str());
                    format!("{role}: {}", path.display())
                }
                None => "MISSING from every data directory".to_string(),
            };
            eprintln!("  {file:<24} {from} ({why})");
        }
    }

    /// The QEMU binary and its data directories.
    pub fn qemu(&self) -> Qemu {
        // A query never needs longer than a whole boot may take.
        let mut q = Qemu::new(self.binary(), self.data_dirs.clone());
        q.query_timeout = q.query_timeout.min(Duration::from_secs(self.timeout));
        q.sysroot = self.sysroot.clone();
        q
    }

    /// A recorder for these options: inputs hashed, initramfs built.
    pub fn recorder(&self) -> Result<Recorder, Failure> {
        let probe = match &self.probe {
            Some(p) => p.clone(),
            // Only the Linux probe reads it; its architecture is the binary's.
            None if self.kernel.is_some() => default_probe(&self.qemu().target_arch()?),
            None => default_probe("x86_64"),
        };
        let config = RecorderConfig {
            qemu: self.qemu(),
            probe_kind: self.probe_kind,
            kernel: self.kernel.clone(),
            modules_dir: self.modules_dir.clone(),
            modules: self.modules.clone(),
            probe,
            settings: BootSettings {
                timeout: Duration::from_secs(self.timeout),
                ..BootSettings::default()
            },
            capture_fixture: self.capture_fixtures.is_some(),
            host_facts: !self.no_host_facts,
            allow_unavailable: self.allow_unavailable,
            retries: self.retries,
        };
        Ok(Recorder::new(config)?)
    }

    /// The profile set: built in, or `--profile-dir`.
    pub fn profile_set(&self) -> Result<Profiles, Failure> {
        Ok(match &self.profile_dir {
            Some(dir) => Profiles::load_dir(dir)?,
            None => Profiles::builtin()?,
        })
    }

    /// The profiles `--profile` names, or all of `set`.
    pub fn selected_profiles<'a>(&self, set: &'a Profiles) -> Result<Vec<&'a Profile>, Failure> {
        if self.profiles.is_empty() {
            return Ok(set.all().iter().collect());
        }
        self.profiles
            .iter()
            .map(|n| {
                set.get(n)
                    .ok_or_else(|| Failure(format!("unknown profile {n:?} (known: {})", set.names().join(", "))))
            })
            .collect()
    }

    /// [`RunArgs::selected_profiles`] that apply to guests of `arch`
    /// (profiles with `arches`); naming one for another arch is an error.
    pub fn profiles_for<'a>(&self, set: &'a Profiles, arch: &str) -> Result<Vec<&'a Profile>, Failure> {
        let (mine, other): (Vec<&Profile>, Vec<&Profile>) = self
            .selected_profiles(set)?
            .into_iter()
            .partition(|p| p.applies_to(arch));
        match other.first() {
            Some(p) if !self.profiles.is_empty() => Err(Failure(format!(
                "profile {} is not for {arch} guests (it is for {})",
                p.name,
                p.arches.join(", ")
            ))),
            _ => Ok(mine),
        }
    }

    /// Refuse a `--machine` that is not a valid glob.
    pub fn check_globs(&self) -> Result<(), Failure> {
        for g in &self.machines {
            MachineType::check_glob(g).map_err(|e| Failure(format!("--machine {e}")))?;
        }
        Ok(())
    }

    /// The binary's machine types that `--machine` (and `--all-machines`) select.
    pub fn machines(&self) -> Result<Vec<MachineType>, Failure> {
        self.check_globs()?;
        Ok(qemu::select(
            &self.qemu().machines()?,
            &self.machines,
            self.all_machines,
        ))
    }

    /// Parallel boots: `--jobs`, or one per CPU within the available memory.
    pub fn jobs(&self) -> usize {
        self.jobs.unwrap_or_else(|| {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            let per_boot = u64::from(BootSettings::default().memory_mib) + recorder::boot::QEMU_OVERHEAD_MIB;
            recorder::boot::default_jobs(cpus, recorder::boot::mem_available_mib(), per_boot)
        })
    }
}

/// Every (machine type, profile) pair, sorted, then this shard's part.
pub fn work_list<'a>(
    machines: &[MachineType],
    profiles: &[&'a Profile],
    shard: abi_check::shard::Shard,
) -> Vec<(MachineType, &'a Profile)> {
    let mut work: Vec<(MachineType, &Profile)> = machines
        .iter()
        .flat_map(|m| profiles.iter().map(move |p| (m.clone(), *p)))
        .collect();
    work.sort_by(|a, b| (&a.0, &a.1.name).cmp(&(&b.0, &b.1.name)));
    shard.take(work)
}

/// Boot everything, printing one line per finished boot on stderr and
/// handing each result to `done` as it comes.
pub fn boot_each(
    rec: &Recorder,
    work: &[(MachineType, &Profile)],
    jobs: usize,
    mut done: impl FnMut(usize, Result<Capture, RecordError>),
) {
    let total = work.len();
    let started = Instant::now();
    let mut finished = 0;
    let tty = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    rec.record_each(work, jobs, |i, r| {
        finished += 1;
        let (m, p) = &work[i];
        let status = match &r {
            Ok(c) => format!("ok in {:.1}s", c.boot_time.as_secs_f64()),
            Err(e) if e.missing_devices().is_some() => "skipped: device missing".to_string(),
            Err(_) => "FAILED".to_string(),
        };
        if tty {
            eprint!("\r\x1b[K[{finished}/{total}] {m} ({}) {status}", p.name);
            if finished == total {
                eprintln!();
            }
        } else {
            eprintln!("[{finished}/{total}] {m} ({}) {status}", p.name);
        }
        done(i, r);
    });
    eprintln!(
        "{total} boots in {:.1}s with {jobs} jobs",
        started.elapsed().as_secs_f64()
    );
}

/// What a recording run produced: captures, pairs skipped because the
/// binary lacks a profile's devices, and failures.
pub struct Recorded {
    /// Successful boots, in work-list order.
    pub captures: Vec<Capture>,
    /// Pairs not booted because the binary lacks a profile's devices.
    pub skipped: Vec<RecordError>,
    /// Boots that failed.
    pub failed: Vec<RecordError>,
}

/// Boot this shard of every selected (machine type, profile) pair.
pub fn record_selected(args: &RunArgs, rec: &Recorder) -> Result<Recorded, Failure> {
    let machines = args.machines()?;
    if machines.is_empty() {
        return Err(Failure(format!(
            "no machine type of {} matches {:?}",
            args.binary().display(),
            args.machines
        )));
    }
    let set = args.profile_set()?;
    let profiles = args.profiles_for(&set, rec.target_arch())?;
    let work = work_list(&machines, &profiles, args.shard);
    rec.check_probes(work.iter().map(|(m, _)| m))?;
    args.show_data_files(rec, &work);
    let mut results: Vec<Option<Result<Capture, RecordError>>> = (0..work.len()).map(|_| None).collect();
    boot_each(rec, &work, args.jobs(), |i, r| results[i] = Some(r));
    let mut out = Recorded {
        captures: Vec::new(),
        skipped: Vec::new(),
        failed: Vec::new(),
    };
    for r in results.into_iter().flatten() {
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
pub fn report_failures(failed: &[RecordError], db: &Path) {
    for e in failed {
        eprintln!("machine-abi: {e}");
    }
    eprintln!(
        "machine-abi: nothing written to {}: a release snapshot is all or nothing",
        db.display()
    );
}

/// The records and blobs of captures, as the store writes them.
pub fn records(captures: &[Capture]) -> Vec<(&abi_model::Record, &abi_model::Blobs)> {
    captures.iter().map(|c| (&c.record, &c.blobs)).collect()
}

/// A relative path made only of plain names: what a name sent by the guest
/// may become below a directory of ours. Names are `/`-separated words, none
/// empty (no leading `/`, no `//`), `.` or `..`, and no NUL.
pub fn plain_relative(name: &str) -> Option<&Path> {
    let words_plain = name
        .split('/')
        .all(|w| !w.is_empty() && w != "." && w != ".." && !w.contains('\0'));
    let p = Path::new(name);
    (words_plain && p.components().all(|c| matches!(c, Component::Normal(_)))).then_some(p)
}

/// The probe's fixture tree of every capture, under `dir/<machine>-<profile>/`.
pub fn write_fixtures(dir: &Path, captures: &[Capture]) -> Result<(), Failure> {
    for c in captures {
        let base = dir.join(format!("{}-{}", c.record.key.machine, c.record.key.profile));
        for e in &c.fixture {
            let rel = e.name.strip_prefix("capture/").and_then(plain_relative);
            let rel = rel.ok_or_else(|| Failure(format!("refusing fixture path {:?}", e.name)))?;
            let p = base.join(rel);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&p, &e.data)?;
        }
        std::fs::write(base.join("facts.toml"), c.record.facts.to_toml())?;
    }
    Ok(())
}
