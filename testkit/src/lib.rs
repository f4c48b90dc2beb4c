//! Test support shared by every crate's tests: where the pinned real
//! components are (scripts/fetch-qemu, scripts/build-probe), and the one
//! rule for a missing one.
//!
//! A test that needs a fixture asks [`require`]. When something is missing
//! it returns `false` and the test returns early (a skip) on a developer
//! machine, but panics under CI: CI must never pass a test that did not
//! run. Every skip is also appended to `target/skipped-tests.log`, which
//! `scripts/test` counts in its closing line.

#![deny(missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where scripts/fetch-qemu put the pinned components:
/// `$MACHINE_ABI_FIXTURES`, else `<repo>/.cache/fixtures`.
pub fn fixture_dir() -> PathBuf {
    std::env::var_os("MACHINE_ABI_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/fixtures"))
}

/// True when running under CI: `CI` set to anything but empty, `0` or
/// `false` (CI systems say `true`, `1` or `yes`).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
}

/// True when every path exists. Otherwise, under CI, panic naming what is
/// missing; elsewhere print why `test` is skipped, log the skip, and
/// return false.
pub fn require<P: AsRef<Path>>(test: &str, paths: &[P]) -> bool {
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| !p.as_ref().exists())
        .map(|p| p.as_ref().display().to_string())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "missing test fixtures: {}; run scripts/fetch-qemu and scripts/build-probe",
        missing.join(", ")
    );
    if ci() {
        panic!("{test}: {msg}");
    }
    eprintln!("skipping {test}: {msg}");
    let log = repo().join("target/skipped-tests.log");
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(f, "{test}: {msg}");
    }
    false
}
