//! What every test that runs the real thing shares: the pinned fixtures
//! (QEMU builds, firmware, kernel, probe), running the `machine-abi` binary,
//! QEMU stand-ins for fault injection, and database trees.
//!
//! A missing fixture skips a test on a laptop, and fails it under CI (any
//! `CI` value but `false`, `0` or empty): CI must never skip. Every skip is
//! also appended to `target/skipped-tests.log`, which `scripts/test` counts
//! in its closing line.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

pub const BIN: &str = env!("CARGO_BIN_EXE_machine-abi");
pub const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// The machine types of the baseline.
pub const Q35: &str = "pc-q35-7.2";
pub const I440FX: &str = "pc-i440fx-7.2";

// ---------------------------------------------------------------------------
// Fixtures

/// The two QEMU releases under test.
#[derive(Clone, Copy, Debug)]
pub enum Release {
    /// QEMU 7.2 (bookworm).
    V7_2,
    /// QEMU 10.0.2 (bookworm-backports).
    V10_0,
}

impl Release {
    pub fn dir(self) -> &'static str {
        match self {
            Release::V7_2 => "qemu-7.2",
            Release::V10_0 => "qemu-10.0",
        }
    }
}

/// The fixture tree, a private copy of the probe and a per-process scratch
/// directory.
pub struct Fixtures {
    pub dir: PathBuf,
    /// A copy of the probe taken once per test process, so that a rebuild of
    /// the probe while the tests run cannot make records of one run differ.
    pub probe: PathBuf,
    /// Scratch directory under target/tmp for this test process.
    pub work: PathBuf,
}

pub fn fixture_dir() -> PathBuf {
    testkit::fixture_dir()
}

pub fn probe_path() -> PathBuf {
    Path::new(REPO).join("target/x86_64-unknown-linux-gnu/release/guest-probe")
}

pub static FIXTURES: OnceLock<Result<Fixtures, String>> = OnceLock::new();

/// The fixtures, or `None` (with a skip message) when some are missing.
/// With `CI=true` a missing fixture panics instead: CI must never skip.
pub fn fixtures(test: &str) -> Option<&'static Fixtures> {
    let dir = fixture_dir();
    let mut needed = vec![
        dir.join("firmware/bios-256k.bin"),
        dir.join("kernel/vmlinuz"),
        dir.join("kernel/modules"),
    ];
    for r in [Release::V7_2, Release::V10_0] {
        needed.push(dir.join(r.dir()).join("usr/bin/qemu-system-x86_64"));
        needed.push(dir.join(r.dir()).join("usr/share/qemu"));
    }
    needed.push(probe_path());
    if !testkit::require(test, &needed) {
        return None;
    }
    match FIXTURES.get_or_init(|| set_up(dir)) {
        Ok(f) => Some(f),
        Err(e) => panic!("setting up the e2e fixtures failed: {e}"),
    }
}

pub fn set_up(dir: PathBuf) -> Result<Fixtures, String> {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    remove_stale_work_dirs(tmp);
    let work = tempfile::Builder::new()
        .prefix("e2e-")
        .tempdir_in(tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?
        .keep();
    let probe = work.join("guest-probe");
    fs::copy(probe_path(), &probe).map_err(|e| format!("copying {}: {e}", probe_path().display()))?;
    Ok(Fixtures { dir, probe, work })
}

/// Statics are never dropped, so every test process leaves its scratch
/// directory behind; remove those older than a few hours.
pub fn remove_stale_work_dirs(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else { return };
    let cutoff = SystemTime::now() - Duration::from_secs(6 * 3600);
    for e in entries.flatten() {
        let old = e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < cutoff);
        if old && e.file_name().to_string_lossy().starts_with("e2e-") {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

impl Fixtures {
    pub fn qemu(&self, r: Release) -> PathBuf {
        self.dir.join(r.dir()).join("usr/bin/qemu-system-x86_64")
    }

    /// The release as the recorder library sees it: binary plus data dirs.
    pub fn release(&self, r: Release) -> recorder::qemu::Qemu {
        recorder::qemu::Qemu::new(
            self.qemu(r),
            vec![self.dir.join("firmware"), self.dir.join(r.dir()).join("usr/share/qemu")],
        )
    }

    pub fn modules(&self) -> PathBuf {
        self.dir.join("kernel/modules")
    }

    /// Arguments shared by `record` and `check`: QEMU (or a stand-in for
    /// it), firmware first, then the release's own data, jobs. The x86 PC
    /// machine types boot the bare probe, machine-abi's default.
    pub fn boot_args(&self, r: Release, qemu: Option<&Path>) -> Vec<OsString> {
        let qemu = qemu.map_or_else(|| self.qemu(r), Path::to_path_buf);
        let mut v: Vec<OsString> = vec!["--qemu".into(), qemu.into()];
        v.extend(["--data-dir".into(), self.dir.join("firmware").into()]);
        v.extend([
            "--data-dir".into(),
            self.dir.join(r.dir()).join("usr/share/qemu").into(),
        ]);
        v.extend(["-j".into(), "2".into()]);
        v
    }

    /// [`Fixtures::boot_args`] with the Linux probe for every machine type:
    /// `--probe-kind linux`, the kernel and the static probe.
    pub fn linux_boot_args(&self, r: Release, qemu: Option<&Path>) -> Vec<OsString> {
        let mut v = self.boot_args(r, qemu);
        v.extend(["--probe-kind".into(), "linux".into()]);
        v.extend(["--kernel".into(), self.dir.join("kernel/vmlinuz").into()]);
        v.extend(["--probe".into(), self.probe.clone().into()]);
        v
    }
}

/// Which probe a test boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The default for pc-* machine types: the bare probe.
    Bare,
    /// `--probe-kind linux` with the kernel and the static probe.
    Linux,
}

impl Probe {
    pub fn args(self, fx: &Fixtures, r: Release, qemu: Option<&Path>) -> Vec<OsString> {
        match self {
            Probe::Bare => fx.boot_args(r, qemu),
            Probe::Linux => fx.linux_boot_args(r, qemu),
        }
    }
}

/// Arguments to record the two baseline machine types with QEMU 7.2 (bare probe).
pub fn record_baseline_args(fx: &Fixtures, db: &Path) -> Vec<OsString> {
    record_args(fx, Probe::Bare, Release::V7_2, db)
}

/// Arguments to record the two baseline machine types with a probe and release.
pub fn record_args(fx: &Fixtures, probe: Probe, r: Release, db: &Path) -> Vec<OsString> {
    let mut a = vec![OsString::from("record")];
    a.extend(probe.args(fx, r, None));
    a.extend(["--db".into(), db.into()]);
    a.extend(["--machine".into(), Q35.into(), "--machine".into(), I440FX.into()]);
    a.extend(["--profile".into(), "default".into()]);
    a
}

pub static BASELINE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
pub static LINUX_BASELINE: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The shared baseline database, recorded by the bare probe on first use.
/// Read it, never write it: copy it first.
pub fn baseline(fx: &Fixtures) -> &'static Path {
    baseline_of(fx, Probe::Bare)
}

/// The shared baseline database of a probe kind (recorded on first use).
pub fn baseline_of(fx: &Fixtures, probe: Probe) -> &'static Path {
    let (cell, name) = match probe {
        Probe::Bare => (&BASELINE, "baseline"),
        Probe::Linux => (&LINUX_BASELINE, "baseline-linux"),
    };
    let r = cell.get_or_init(|| {
        let db = fx.work.join(name);
        let run = machine_abi(record_args(fx, probe, Release::V7_2, &db), &[]);
        if run.code == Some(0) {
            Ok(db)
        } else {
            Err(run.to_string())
        }
    });
    match r {
        Ok(p) => p,
        Err(e) => panic!("recording the shared {probe:?} baseline database failed:\n{e}"),
    }
}

pub static SHIM: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// An ELF executable that runs `/bin/sh $MABI_WRAPPER_SCRIPT args…`, built
/// from tests/wrappers/exec-shim.rs. machine-abi insists on an ELF `--qemu`
/// (it reads the build-id), so the wrapper scripts go through this.
pub fn shim(fx: &Fixtures) -> &'static Path {
    let r = SHIM.get_or_init(|| {
        let src = Path::new(REPO).join("tests/wrappers/exec-shim.rs");
        let out = fx.work.join("qemu-system-x86_64");
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let o = Command::new(&rustc)
            .args(["--edition", "2021", "-o"])
            .arg(&out)
            .arg(&src)
            .output()
            .map_err(|e| format!("running {}: {e}", rustc.to_string_lossy()))?;
        if !o.status.success() {
            return Err(format!(
                "rustc {} failed: {}",
                src.display(),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Ok(out)
    });
    match r {
        Ok(p) => p,
        Err(e) => panic!("building the QEMU wrapper shim failed: {e}"),
    }
}

/// Environment that makes the shim act as QEMU wrapped by `script`
/// (a file in tests/wrappers/).
pub fn wrapper_env(fx: &Fixtures, script: &str, real: Release) -> Vec<(&'static str, OsString)> {
    let script = Path::new(REPO).join("tests/wrappers").join(script);
    assert!(script.is_file(), "{} is missing", script.display());
    vec![
        ("MABI_WRAPPER_SCRIPT", script.into()),
        ("MABI_REAL_QEMU", fx.qemu(real).into()),
    ]
}

// ---------------------------------------------------------------------------
// Running the binary

/// One finished run of machine-abi.
pub struct Run {
    pub args: Vec<OsString>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<_> = self.args.iter().map(|a| a.to_string_lossy()).collect();
        writeln!(f, "$ machine-abi {}", args.join(" "))?;
        writeln!(f, "exit code: {:?}", self.code)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

impl Run {
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{self}");
        self
    }
}

pub fn machine_abi<I, S>(args: I, envs: &[(&str, OsString)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_os_string()).collect();
    let mut cmd = Command::new(BIN);
    cmd.args(&args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    Run {
        args,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `check` of a release (or a stand-in for it) against a database, bare probe.
pub fn check_args(fx: &Fixtures, r: Release, qemu: Option<&Path>, db: &Path, extra: &[&str]) -> Vec<OsString> {
    check_args_with(fx, Probe::Bare, r, qemu, db, extra)
}

/// `check` with a probe kind.
pub fn check_args_with(
    fx: &Fixtures,
    probe: Probe,
    r: Release,
    qemu: Option<&Path>,
    db: &Path,
    extra: &[&str],
) -> Vec<OsString> {
    let mut a = vec![OsString::from("check")];
    a.extend(probe.args(fx, r, qemu));
    a.extend(["--db".into(), db.into()]);
    a.extend(extra.iter().map(OsString::from));
    a
}

// ---------------------------------------------------------------------------
// Database trees

/// Every directory (`None`) and file (its bytes) under a root, by relative path.
pub type Tree = BTreeMap<String, Option<Vec<u8>>>;

pub fn tree(root: &Path) -> Tree {
    let mut t = Tree::new();
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e.unwrap_or_else(|e| panic!("walking {}: {e}", root.display()));
        let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let content = if e.file_type().is_dir() {
            None
        } else {
            Some(fs::read(e.path()).unwrap_or_else(|err| panic!("{}: {err}", e.path().display())))
        };
        t.insert(rel, content);
    }
    t
}

/// Panic with the paths that differ between two trees.
pub fn assert_same_tree(a: &Tree, b: &Tree, what: &str) {
    if a == b {
        return;
    }
    let mut report = Vec::new();
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        match (a.get(k), b.get(k)) {
            (Some(_), None) => report.push(format!("  only in the first: {k}")),
            (None, Some(_)) => report.push(format!("  only in the second: {k}")),
            (Some(x), Some(y)) if x != y => {
                let first_line = match (x, y) {
                    (Some(x), Some(y)) => String::from_utf8_lossy(x)
                        .lines()
                        .zip(String::from_utf8_lossy(y).lines())
                        .find(|(l, r)| l != r)
                        .map(|(l, r)| format!(": {l:?} vs {r:?}"))
                        .unwrap_or_default(),
                    _ => " (file vs directory)".into(),
                };
                report.push(format!("  differs: {k}{first_line}"));
            }
            _ => {}
        }
    }
    panic!("{what}: the database trees differ:\n{}", report.join("\n"));
}

pub fn copy_tree(from: &Path, to: &Path) {
    for (rel, content) in tree(from) {
        let p = to.join(&rel);
        match content {
            None => fs::create_dir_all(&p).unwrap(),
            Some(bytes) => {
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(&p, bytes).unwrap();
            }
        }
    }
}

/// A fresh copy of the baseline database.
pub fn baseline_copy(fx: &Fixtures) -> tempfile::TempDir {
    let base = baseline(fx);
    let dir = tempfile::tempdir_in(&fx.work).unwrap();
    copy_tree(base, dir.path());
    assert_same_tree(&tree(base), &tree(dir.path()), "copy of the baseline");
    dir
}

/// The record files of one (machine, profile) in a database.
pub fn record_files(db: &Path, machine: &str, profile: &str) -> Vec<PathBuf> {
    let dir = db.join("records/x86_64").join(machine).join(profile);
    let mut v: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

/// The one record of (machine, profile) in a database.
pub fn only_record(db: &Path, machine: &str, profile: &str) -> PathBuf {
    let files = record_files(db, machine, profile);
    assert_eq!(
        files.len(),
        1,
        "expected one record of {machine} ({profile}): {files:?}"
    );
    files.into_iter().next().unwrap()
}

/// The `COULD NOT CHECK` line of a machine type in a text report.
pub fn could_not_check_line<'a>(run: &'a Run, machine: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.starts_with(&format!("{machine} (")) && l.contains("COULD NOT CHECK"))
        .unwrap_or_else(|| panic!("no COULD NOT CHECK line for {machine}\n{run}"))
}

/// A failed check of one machine type: exit 2, the failure line names the
/// machine type and contains `cause`, the summary counts it, and the
/// database is untouched.
pub fn assert_check_fails(
    fx: &Fixtures,
    probe: Probe,
    qemu: Option<&Path>,
    extra: &[&str],
    envs: &[(&str, OsString)],
    cause: &str,
) -> Run {
    let db = baseline_of(fx, probe);
    let before = tree(db);
    let mut args = vec!["--machine", Q35];
    args.extend_from_slice(extra);
    let run = machine_abi(check_args_with(fx, probe, Release::V7_2, qemu, db, &args), envs);
    run.expect_code(2);
    let line = could_not_check_line(&run, Q35);
    assert!(
        line.contains(&format!("{Q35} (default): ")) && line.contains(cause),
        "the failure line must name {Q35} and say {cause:?}: {line:?}\n{run}"
    );
    let summary = run.stdout.lines().rev().find(|l| !l.is_empty()).unwrap_or("");
    assert!(
        summary.starts_with("1 machine types checked, 0 drifted") && summary.ends_with("1 could not be checked"),
        "summary {summary:?}\n{run}"
    );
    assert_same_tree(&before, &tree(db), "check must not change the database");
    run
}
