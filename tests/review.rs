//! Waivers, the review flow and the quirks export on real records: the
//! QEMU 7.2.22 baselines of tests/data/db-qemu-7.2.22 and QEMU 10.0.2 observations of the
//! same machine types (tests/data/db-qemu-10.0.2), without booting.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
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

fn machine_abi(args: &[&str], ci: bool) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_machine-abi"));
    cmd.args(args).current_dir(repo()).env("NO_COLOR", "1");
    if ci {
        cmd.env("CI", "true");
    } else {
        cmd.env_remove("CI");
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run machine-abi: {e}"));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The QEMU 7.2.22 records of pc-q35-7.2 and pc-i440fx-7.2 (default and
/// virtio profiles as they were defined when captured).
const OLD: &str = "tests/data/db-qemu-7.2.22";
const NEW: &str = "tests/data/db-qemu-10.0.2";

fn copy_tree(from: &Path, to: &Path) {
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

/// A copy of the 7.2.22 database with the QEMU 10.0.2 observations as pending records,
/// as `check --pending` leaves them.
fn db_with_pending() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&repo().join(OLD), dir.path());
    let _ = std::fs::remove_file(dir.path().join("waivers.toml"));
    copy_tree(&repo().join(NEW).join("blobs"), &dir.path().join("blobs"));
    for e in walkdir::WalkDir::new(repo().join(NEW).join("records")) {
        let e = e.expect("walk");
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(repo().join(NEW)).expect("prefix");
            let dst = dir.path().join(rel).with_file_name("10.0.2.pending.toml");
            std::fs::copy(e.path(), dst).expect("copy");
        }
    }
    dir
}

fn path(d: &Path) -> &str {
    d.to_str().expect("utf-8 temp path")
}

#[test]
fn pending_accept_then_clean_check_and_quirks() {
    let dir = db_with_pending();
    let db = path(dir.path());

    let review = machine_abi(&["review", "--db", db], false);
    assert_eq!(review.code, Some(0), "{review}");
    assert!(review.stdout.contains("DSDT Method \\_SB.PCI0.EDSM: added"), "{review}");
    assert!(review.stdout.contains("APIC header.revision: 1 → 3"), "{review}");

    // In CI nothing is accepted without an explicit reason.
    let refused = machine_abi(&["accept", "--db", db], true);
    assert_eq!(refused.code, Some(2), "{refused}");
    assert!(refused.stderr.contains("--reason"), "{refused}");
    assert!(!dir.path().join("waivers.toml").exists());

    // Accept the MADT change alone: pending records stay.
    let one = machine_abi(
        &[
            "accept",
            "--db",
            db,
            "--path",
            "acpi.APIC.header.revision",
            "--reason",
            "MADT revision 3 for every machine type",
        ],
        true,
    );
    assert_eq!(one.code, Some(0), "{one}");
    assert!(one.stdout.contains("1 waivers appended"), "{one}");
    let pending = |d: &Path| {
        walkdir::WalkDir::new(d)
            .into_iter()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".pending.toml"))
            .count()
    };
    assert_eq!(pending(dir.path()), 4);

    // Accept the rest; the MADT change is already waived and not repeated.
    let rest = machine_abi(
        &["accept", "--db", db, "--reason", "reviewed: QEMU 8.0-10.0 ACPI changes"],
        true,
    );
    assert_eq!(rest.code, Some(0), "{rest}");
    assert_eq!(pending(dir.path()), 0, "{rest}");
    let waivers = std::fs::read_to_string(dir.path().join("waivers.toml")).expect("waivers.toml");
    assert_eq!(
        waivers.matches("path = \"acpi.APIC.header.revision\"").count(),
        1,
        "{waivers}"
    );

    // Now the 10.0.2 observations check clean against the baselines, every
    // change counted as waived.
    let check = machine_abi(&["diff", db, NEW], false);
    assert_eq!(check.code, Some(0), "{check}");
    let summary = check.stdout.lines().last().unwrap_or("");
    assert!(
        summary.starts_with("4 machine types checked, 4 drifted,")
            && summary.contains("(0 break, 0 warn, 0 info unwaived)"),
        "{check}"
    );
    assert!(summary.contains(" waived by "), "{check}");

    let quirks = machine_abi(&["quirks", "--db", db, "--format", "json"], false);
    assert_eq!(quirks.code, Some(0), "{quirks}");
    let q: serde_json::Value = serde_json::from_str(&quirks.stdout).expect("quirks JSON");
    assert_eq!(q["format"], "machine-abi-quirks");
    let q35 = q["machine"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "pc-q35-7.2"))
        .unwrap_or_else(|| panic!("no pc-q35-7.2 quirks: {}", quirks.stdout));
    let madt = q35["quirk"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["path"] == "acpi.APIC.header.revision"))
        .unwrap_or_else(|| panic!("no MADT quirk: {q35}"));
    assert_eq!(madt["since"], "10.0");
    assert_eq!((madt["old"].as_str(), madt["new"].as_str()), (Some("1"), Some("3")));
    assert_eq!(madt["reason"], "MADT revision 3 for every machine type");
}

#[test]
fn exact_waiver_stale_waiver_and_broad_waiver() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&repo().join(OLD), dir.path());
    let db = path(dir.path());
    let waivers = dir.path().join("waivers.toml");
    std::fs::write(
        &waivers,
        r#"[[waiver]]
id = "madt-revision"
machines = ["pc-q35-7.2", "pc-i440fx-7.2"]
rule = "acpi-table-revision"
path = "acpi.APIC.header.revision"
since = "8.0"
old = "1"
new = "3"
reason = "MADT revision 3"

[[waiver]]
id = "gone"
machines = ["pc-q35-7.2"]
path = "acpi.HPET.*"
since = "8.0"
reason = "an HPET change that 10.0 does not have"

[[waiver]]
id = "everything-in-dsdt"
machines = ["pc-*"]
path = "acpi.DSDT.*"
reason = "too broad on purpose"
"#,
    )
    .expect("write");
    let run = machine_abi(&["diff", db, NEW, "--broad-threshold", "20"], false);
    assert_eq!(run.code, Some(1), "SMBIOS drift is not waived: {run}");
    assert!(
        !run.stdout.contains("APIC header.revision"),
        "exactly waived, so not listed: {run}"
    );
    assert!(run.stdout.contains("stale: waiver gone matched nothing"), "{run}");
    assert!(
        run.stdout.contains("broad: waiver everything-in-dsdt accepted"),
        "{run}"
    );
    assert!(!run.stdout.contains("broad: waiver madt-revision"), "{run}");

    let json = machine_abi(&["diff", db, NEW, "--format", "json"], false);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(doc["waivers"]["matched"]["madt-revision"], 4, "{}", doc["waivers"]);
    assert_eq!(doc["waivers"]["stale"], serde_json::json!(["gone"]));
    let madt: Vec<&serde_json::Value> = doc["drifts"]
        .as_array()
        .expect("drifts")
        .iter()
        .filter(|d| d["path"] == "acpi.APIC.header.revision")
        .collect();
    assert_eq!(madt.len(), 4);
    assert!(madt.iter().all(|d| d["waiver"] == "madt-revision"));

    // --strict turns the stale waiver into a failure even when nothing drifts.
    std::fs::write(
        &waivers,
        "[[waiver]]\nid = \"gone\"\nmachines = [\"pc-q35-7.2\"]\npath = \"acpi.HPET.*\"\nreason = \"old\"\n",
    )
    .expect("write");
    let same = machine_abi(&["diff", db, db], false);
    assert_eq!(same.code, Some(0), "{same}");
    let strict = machine_abi(&["diff", db, db, "--strict"], false);
    assert_eq!(strict.code, Some(1), "{strict}");
    assert!(strict.stdout.contains("--strict: this fails the check"), "{strict}");
}

#[test]
fn malformed_waiver_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&repo().join(OLD), dir.path());
    let db = path(dir.path());
    std::fs::write(
        dir.path().join("waivers.toml"),
        "[[waiver]]\nid = \"x\"\nmachines = [\"pc-q35-7.2\"]\nrule = \"acpi-table-revision\"\nreason = \"r\"\nexpires = \"2027\"\n",
    )
    .expect("write");
    let run = machine_abi(&["diff", db, NEW], false);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("waivers.toml:6:"), "{run}");
    assert!(run.stderr.contains("expires"), "{run}");
    assert!(
        run.stdout.is_empty(),
        "no report from a check that could not run: {run}"
    );
}
