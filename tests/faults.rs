//! Adversarial cases (issue 14): what a hostile guest, a broken database, a
//! QEMU that crashes, hangs or lies, and an impatient user do to a run. Each
//! case was a wrong answer, a crash or a leak once; each must now end with a
//! clear error (exit 2) and nothing lost. Streams come from fixture replays,
//! databases from tests/data; the cases of `run` boot real QEMU (with the
//! shared fixtures of tests/common).
//!
//! One module per area under tests/faults/; this file only lists them and
//! holds the helpers they share.

#[path = "faults/blobs.rs"]
mod blobs;
#[path = "faults/db.rs"]
mod db;
#[path = "faults/decode.rs"]
mod decode;
#[path = "faults/stream.rs"]
mod stream;
#[path = "faults/verify.rs"]
mod verify;

mod common;
#[path = "faults/run.rs"]
mod run;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A finished `machine-abi` run.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Run the machine-abi binary of this build (CI set, no colour).
pub fn machine_abi<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_machine-abi"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env("CI", "true")
        .output()
        .unwrap_or_else(|e| panic!("cannot run machine-abi: {e}"));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A path as a command-line argument.
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Copy a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.expect("walk");
        let rel = e.path().strip_prefix(from).expect("prefix");
        let dst = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst).expect("mkdir");
        } else {
            std::fs::copy(e.path(), &dst).expect("copy");
        }
    }
}

/// The real QEMU 7.2.22 database of tests/data (four records with blobs).
pub const OLD_DB: &str = "tests/data/db-qemu-7.2.22";
/// The same four pairs recorded by QEMU 10.0.2.
pub const NEW_DB: &str = "tests/data/db-qemu-10.0.2";

/// A scratch copy of a database under tests/data.
pub fn db_copy(which: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&repo().join(which), dir.path());
    dir
}

/// Every file below `root`, relative, sorted, with its bytes.
pub fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(root).expect("prefix").to_path_buf();
            (rel, std::fs::read(e.path()).expect("read"))
        })
        .collect();
    out.sort();
    out
}

/// A real framed probe stream: the probe's collectors replayed over a
/// fixture tree captured in a VM (guest-probe/tests/fixtures/<name>).
pub fn real_stream(name: &str) -> String {
    let dir = repo().join("guest-probe/tests/fixtures").join(name);
    let src = guest_probe::source::Fixture::open(&dir).expect("fixture opens");
    let c = guest_probe::collect::collect(&src, Vec::new());
    guest_probe::frame::pack(&c.to_entries())
}
