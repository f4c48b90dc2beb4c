//! End-to-end tests of the `machine-abi` binary against real QEMU releases,
//! real firmware and a real guest kernel (see scripts/fetch-qemu and
//! scripts/build-probe).
//!
//! Every test boots real guests under TCG, so they share as much as they can:
//! one baseline database (pc-q35-7.2 and pc-i440fx-7.2 recorded with QEMU 7.2)
//! is recorded once per test process and only ever read; tests that need to
//! change a database work on a copy.
//!
//! Without the fixtures or the probe each test prints why it is skipped and
//! passes, unless `CI=true`, where a missing fixture fails the test.
//!
//! Run with `cargo test --release --test e2e -- --test-threads=2`.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

// ---------------------------------------------------------------------------
// The tests

#[test]
fn record_is_reproducible() {
    let Some(fx) = fixtures("record_is_reproducible") else {
        return;
    };
    let first = tree(baseline(fx));
    for m in [Q35, I440FX] {
        assert!(
            first
                .keys()
                .any(|k| k.starts_with(&format!("records/x86_64/{m}/default/")) && k.ends_with(".toml")),
            "the baseline has no record of {m}: {:?}",
            first.keys().collect::<Vec<_>>()
        );
    }
    assert!(
        first.keys().any(|k| k.starts_with("blobs/")),
        "the baseline has no blobs"
    );
    for n in 2..=3 {
        let db = tempfile::tempdir_in(&fx.work).unwrap();
        let run = machine_abi(record_baseline_args(fx, db.path()), &[]);
        run.expect_code(0);
        assert_same_tree(&first, &tree(db.path()), &format!("recording #1 vs recording #{n}"));
    }
}

#[test]
fn check_same_release_is_clean() {
    let Some(fx) = fixtures("check_same_release_is_clean") else {
        return;
    };
    let db = baseline(fx);
    let run = machine_abi(check_args(fx, Release::V7_2, None, db, &[]), &[]);
    run.expect_code(0);
    assert!(run.stdout.contains("2 machine types checked, 0 drifted"), "{run}");
}

#[test]
fn machine_types_without_a_baseline_are_named_not_ignored() {
    let Some(fx) = fixtures("machine_types_without_a_baseline_are_named_not_ignored") else {
        return;
    };
    // The baseline has pc-q35-7.2; QEMU 10.0 also offers pc-q35-10.0, which
    // the --machine glob selects and the database has never seen.
    let db = baseline(fx);
    let run = machine_abi(
        check_args(
            fx,
            Release::V10_0,
            None,
            db,
            &[
                "--machine",
                "pc-q35-7.2",
                "--machine",
                "pc-q35-10.0",
                "--format",
                "json",
            ],
        ),
        &[],
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(doc["new_machine_types"], serde_json::json!(["pc-q35-10.0"]), "{run}");
    assert_eq!(doc["summary"]["checked"], 1, "{run}");
    let text = machine_abi(
        check_args(
            fx,
            Release::V10_0,
            None,
            db,
            &["--machine", "pc-q35-7.2", "--machine", "pc-q35-10.0"],
        ),
        &[],
    );
    assert!(
        text.stdout
            .contains("new: 1 machine type of this binary has no baseline yet: pc-q35-10.0; record them"),
        "{text}"
    );
    // Selecting only the new type: nothing to check, which is exit 2, and says why.
    let none = machine_abi(
        check_args(fx, Release::V10_0, None, db, &["--machine", "pc-q35-10.0"]),
        &[],
    );
    none.expect_code(2);
    assert!(
        none.stderr
            .contains("new to the database, to be recorded first: pc-q35-10.0"),
        "{none}"
    );
}

#[test]
fn check_new_release_reports_drift() {
    let Some(fx) = fixtures("check_new_release_reports_drift") else {
        return;
    };
    let db = baseline(fx);

    let run = machine_abi(check_args(fx, Release::V10_0, None, db, &["--color", "never"]), &[]);
    run.expect_code(1);
    let block = run
        .stdout
        .split("\n\n")
        .find(|b| {
            b.lines()
                .next()
                .is_some_and(|h| h.starts_with(&format!("{Q35} (default)")))
        })
        .unwrap_or_else(|| panic!("no block for {Q35}\n{run}"));
    // Decoded, not raw: the MADT field and named AML objects (as iasl -d
    // shows them). A change shared with i440fx is listed once, under the
    // first machine type that has it.
    assert!(
        block.contains("break DSDT Device \\_SB.PCI0.SFA: added: device"),
        "{block}"
    );
    for line in [
        "break APIC header.revision: 1 → 3  [acpi-table-revision]",
        "break DSDT Method \\_SB.PCI0.EDSM: added: 5 args",
        "break DSDT Name \\_SB.PCI0._ADR: removed (was 0x0)",
        "Processor Information #0.Processor Family: 0x01 (Other) → 0xfe",
    ] {
        assert!(run.stdout.contains(line), "the report lacks {line:?}:\n{run}");
    }
    assert!(!block.contains("raw["), "raw hex as the explanation:\n{block}");
    assert!(block.lines().count() <= 40, "more than a screen for {Q35}:\n{block}");
    let summary = run.stdout.lines().rev().find(|l| !l.is_empty()).unwrap_or("");
    assert!(
        summary.starts_with("2 machine types checked, 2 drifted"),
        "summary {summary:?}\n{run}"
    );

    let run = machine_abi(check_args(fx, Release::V10_0, None, db, &["--format", "json"]), &[]);
    run.expect_code(1);
    let doc: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("check --format json is not JSON: {e}\n{run}"));
    assert_follows_schema(&doc);
    let results = doc["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results array\n{run}"));
    assert_eq!(results.len(), 2, "{run}");
    assert!(results.iter().all(|r| r["status"] == "drifted"), "{run}");
    let madt = doc["drifts"]
        .as_array()
        .unwrap_or_else(|| panic!("no drifts array\n{run}"))
        .iter()
        .find(|d| d["machine"] == Q35 && d["path"] == "acpi.APIC.header.revision")
        .unwrap_or_else(|| panic!("no MADT revision drift for {Q35}\n{run}"));
    assert_eq!((madt["old"].as_str(), madt["new"].as_str()), (Some("1"), Some("3")));
    assert_eq!(madt["rule"], "acpi-table-revision");
    assert_eq!(madt["severity"], "break");
}

// ---------------------------------------------------------------------------
// The bare probe (the default for pc-* machine types)

/// The TOML of one record.
fn record_toml(path: &Path) -> toml::Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn bare_records_on_10_0_are_reproducible_and_name_their_probe() {
    let Some(fx) = fixtures("bare_records_on_10_0_are_reproducible_and_name_their_probe") else {
        return;
    };
    let tmp = tempfile::tempdir_in(&fx.work).unwrap();
    let dbs: Vec<PathBuf> = (1..=2).map(|n| tmp.path().join(format!("db{n}"))).collect();
    for db in &dbs {
        machine_abi(record_args(fx, Probe::Bare, Release::V10_0, db), &[]).expect_code(0);
    }
    assert_same_tree(&tree(&dbs[0]), &tree(&dbs[1]), "two bare recordings on QEMU 10.0.2");
    for m in [Q35, I440FX] {
        let r = record_toml(&only_record(&dbs[0], m, "default"));
        let p = &r["provenance"];
        assert_eq!(p["probe"]["kind"].as_str(), Some("bare"), "{m}: {p:?}");
        assert!(p.get("kernel").is_none(), "{m}: a bare record names no kernel: {p:?}");
        assert!(p["probe"].get("initramfs_blake3").is_none(), "{m}: {p:?}");
        let line: Vec<&str> = p["command_line"]
            .as_array()
            .map(|a| a.iter().filter_map(toml::Value::as_str).collect())
            .unwrap_or_default();
        assert!(line.windows(2).any(|w| w == ["-kernel", "$PROBE"]), "{line:?}");
        assert!(line.iter().all(|a| !a.contains("/dev/shm")), "no host path: {line:?}");
        assert_eq!(r["facts"]["probe"]["kind"].as_str(), Some("bare"));
        assert_eq!(
            r["facts"]["probe"]["kernel_release"].as_str(),
            Some("none (bare-probe)")
        );
    }
    // The 7.2 baseline is bare too.
    let r = record_toml(&only_record(baseline(fx), Q35, "default"));
    assert_eq!(r["provenance"]["probe"]["kind"].as_str(), Some("bare"));
}

/// The boot payload in fw_cfg: how machine-abi boots its probe (the loader
/// option ROM QEMU adds for `-kernel`, the `bootorder` line naming it,
/// `etc/boot/*`), not the machine. README.md, "Bare probe and Linux probe",
/// item 4.
fn boot_payload(path: &str) -> bool {
    [
        "\"genroms/linuxboot",
        "\"genroms/multiboot",
        "files.bootorder.",
        "\"etc/boot/",
    ]
    .iter()
    .any(|p| path.starts_with("fw_cfg.files.") && path.contains(p))
}

/// The acceptance test of the bare probe: QEMU 7.2.22 checked with it
/// against records the Linux probe made with the same build passes, and
/// finds nothing but what README.md explains: the registers Linux writes at
/// boot (`probe-os-written`, info), the fw_cfg boot payload and the
/// selectors it moves.
#[test]
fn bare_check_against_linux_probe_records_is_quiet() {
    let Some(fx) = fixtures("bare_check_against_linux_probe_records_is_quiet") else {
        return;
    };
    let db = Path::new(REPO).join("tests/data/db-qemu-7.2.22");
    let before = tree(&db);
    // `virtio` there predates the profile files (other device slots).
    let run = machine_abi(
        check_args(
            fx,
            Release::V7_2,
            None,
            &db,
            &["--profile", "default", "--format", "json"],
        ),
        &[],
    );
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    let drifts = report["drifts"]
        .as_array()
        .unwrap_or_else(|| panic!("no drifts\n{run}"));
    let mut unexplained = Vec::new();
    let mut os_written = 0;
    for d in drifts {
        let (rule, path) = (d["rule"].as_str().unwrap_or(""), d["path"].as_str().unwrap_or(""));
        match rule {
            "probe-os-written" => {
                os_written += 1;
                assert_eq!(d["severity"], "info", "{d}");
            }
            "fw_cfg-selector-shift" => {}
            "probe-boot-payload" => {
                assert_eq!(d["severity"], "info", "{d}");
                assert!(boot_payload(path), "{d}");
            }
            _ if boot_payload(path) => {}
            _ => unexplained.push(format!("{} {rule} {path}", d["machine"])),
        }
    }
    assert!(
        unexplained.is_empty(),
        "unexplained differences: {unexplained:#?}\n{run}"
    );
    assert!(
        os_written >= 2 * 4,
        "the PIRQ routing registers of both chipsets\n{run}"
    );
    assert!(
        drifts
            .iter()
            .any(|d| d["path"] == "pci.\"0000:00:01.0\".\"PIRQRCA (0x60)\""
                && d["old"] == "0x8a"
                && d["new"] == "0x0a"),
        "{run}"
    );
    run.expect_code(0);
    assert_eq!(report["summary"]["breaks"], 0, "{run}");
    assert_eq!(report["summary"]["failed"], 0, "{run}");
    assert_same_tree(&before, &tree(&db), "check must not change the database");
}

/// A copy of the firmware directory whose BIOS never hands over: its reset
/// vector jumps to itself (`jmp $`, bytes EB FE, all over the image).
fn firmware_that_never_hands_over(fx: &Fixtures) -> tempfile::TempDir {
    let dir = tempfile::tempdir_in(&fx.work).unwrap();
    for e in fs::read_dir(fx.dir.join("firmware")).unwrap().flatten() {
        if e.file_name() != "bios-256k.bin" {
            std::os::unix::fs::symlink(e.path(), dir.path().join(e.file_name())).unwrap();
        }
    }
    fs::write(dir.path().join("bios-256k.bin"), [0xeb, 0xfe].repeat(128 * 1024)).unwrap();
    dir
}

#[test]
fn a_firmware_that_does_not_hand_over_is_named() {
    let Some(fx) = fixtures("a_firmware_that_does_not_hand_over_is_named") else {
        return;
    };
    let firmware = firmware_that_never_hands_over(fx);
    let db = baseline(fx);
    let before = tree(db);
    let mut args = vec![OsString::from("check")];
    let mut boot = fx.boot_args(Release::V7_2, None);
    let i = boot.iter().position(|a| a == "--data-dir").unwrap();
    boot[i + 1] = firmware.path().into();
    args.extend(boot);
    args.extend(["--db", &db.to_string_lossy(), "--machine", Q35, "--profile", "default"].map(OsString::from));
    args.extend(["--timeout", "5", "--retries", "0"].map(OsString::from));
    let run = machine_abi(&args, &[]);
    run.expect_code(2);
    let line = could_not_check_line(&run, Q35);
    assert!(
        line.contains("firmware did not hand over to the bare probe within 5 s"),
        "{line}\n{run}"
    );
    assert_same_tree(&before, &tree(db), "check must not change the database");
}

/// The guest made to fail on purpose (`MACHINE_ABI_BARE_TEST`, test only):
/// check is exit 2 naming the machine type and the cause, record writes
/// nothing.
fn assert_bare_failure(fx: &Fixtures, knobs: &str, cause: &str) {
    let envs = [("MACHINE_ABI_BARE_TEST", OsString::from(knobs))];
    let run = assert_check_fails(fx, Probe::Bare, None, &["--profile", "default"], &envs, cause);
    assert!(!run.stderr.contains("retrying"), "not a transient failure: {run}");
    let db = baseline_copy(fx);
    let before = tree(db.path());
    let mut args = vec![OsString::from("record")];
    args.extend(fx.boot_args(Release::V7_2, None));
    args.extend(["--db".into(), db.path().into(), "--machine".into(), Q35.into()]);
    args.extend(["--profile".into(), "default".into()]);
    let run = machine_abi(args, &envs);
    run.expect_code(2);
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains(&format!("{Q35} (default): ")))
        .unwrap_or_else(|| panic!("no error line naming {Q35}\n{run}"));
    assert!(line.contains(cause), "{line:?}\n{run}");
    assert!(run.stderr.contains("nothing written"), "{run}");
    assert_same_tree(
        &before,
        &tree(db.path()),
        "a failed record must not change the database",
    );
}

#[test]
fn a_probe_that_faults_is_named() {
    let Some(fx) = fixtures("a_probe_that_faults_is_named") else {
        return;
    };
    assert_bare_failure(
        fx,
        "fault=40",
        "the bare probe reported a fault: fault on cpu 0 (APIC id): vector 14 (page fault)",
    );
}

#[test]
fn a_truncated_response_is_named() {
    let Some(fx) = fixtures("a_truncated_response_is_named") else {
        return;
    };
    assert_bare_failure(
        fx,
        "truncate=1",
        "truncated response from the bare probe: READ_PHYS(0x40e, 0x2) answered 1 bytes, 2 asked for",
    );
}

#[test]
fn qemu_exiting_mid_request_is_named() {
    let Some(fx) = fixtures("qemu_exiting_mid_request_is_named") else {
        return;
    };
    assert_bare_failure(fx, "reset=40", "QEMU exited with status 0 while the probe answered ");
}

#[test]
fn pending_accept_round_trip_with_real_qemu() {
    let Some(fx) = fixtures("pending_accept_round_trip_with_real_qemu") else {
        return;
    };
    let db = baseline_copy(fx);
    let q35 = ["--machine", Q35];

    let first = machine_abi(
        check_args(
            fx,
            Release::V10_0,
            None,
            db.path(),
            &[&q35[..], &["--pending"]].concat(),
        ),
        &[],
    );
    first.expect_code(1);
    let pending = db
        .path()
        .join(format!("records/x86_64/{Q35}/default/10.0.2.pending.toml"));
    assert!(pending.is_file(), "no pending record {}\n{first}", pending.display());

    let mut accept = vec![OsString::from("accept"), "--db".into(), db.path().into()];
    accept.extend([
        "--reason".into(),
        "reviewed: ACPI and SMBIOS changes of QEMU 8.0-10.0".into(),
    ]);
    machine_abi(accept, &[("CI", "true".into())]).expect_code(0);
    assert!(!pending.exists(), "accepted pending record still there");

    let second = machine_abi(check_args(fx, Release::V10_0, None, db.path(), &q35), &[]);
    second.expect_code(0);
    let summary = second.stdout.lines().rev().find(|l| !l.is_empty()).unwrap_or("");
    assert!(
        summary.contains("(0 break, 0 warn, 0 info unwaived)") && summary.contains("waived by"),
        "{second}"
    );

    let quirks = machine_abi(
        ["quirks", "--db"]
            .map(OsString::from)
            .into_iter()
            .chain([db.path().into()]),
        &[],
    );
    quirks.expect_code(0);
    assert!(quirks.stdout.contains(&format!("name = \"{Q35}\"")), "{quirks}");
    assert!(
        quirks.stdout.contains("path = \"acpi.APIC.header.revision\""),
        "{quirks}"
    );
}

#[test]
fn qemu_killed_mid_boot() {
    let Some(fx) = fixtures("qemu_killed_mid_boot") else {
        return;
    };
    let shim = shim(fx);
    // The Linux probe's boot takes seconds: the wrapper's kill lands in it.
    let envs = wrapper_env(fx, "qemu-killed-mid-boot.sh", Release::V7_2);
    assert_check_fails(fx, Probe::Linux, Some(shim), &[], &envs, "killed by signal 9");

    // record: all or nothing, so nothing may be written.
    let db = baseline_copy(fx);
    let before = tree(db.path());
    let mut args = vec![OsString::from("record")];
    args.extend(fx.linux_boot_args(Release::V7_2, Some(shim)));
    args.extend(["--db".into(), db.path().into(), "--machine".into(), Q35.into()]);
    let run = machine_abi(args, &envs);
    run.expect_code(2);
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains(&format!("{Q35} (default): ")))
        .unwrap_or_else(|| panic!("no error line naming {Q35}\n{run}"));
    assert!(line.contains("killed by signal 9"), "{line:?}\n{run}");
    assert!(run.stderr.contains("nothing written"), "{run}");
    assert_same_tree(
        &before,
        &tree(db.path()),
        "a failed record must not change the database",
    );
}

#[test]
fn boot_hang_times_out() {
    let Some(fx) = fixtures("boot_hang_times_out") else {
        return;
    };
    // A real hang: the real QEMU, paused (-S), never powers off.
    let envs = wrapper_env(fx, "qemu-hangs.sh", Release::V7_2);
    assert_check_fails(
        fx,
        Probe::Linux,
        Some(shim(fx)),
        &["--timeout", "5"],
        &envs,
        "boot hung: no power-off within 5s",
    );
    // The bare probe waits for the firmware to hand over, which it never does.
    assert_check_fails(
        fx,
        Probe::Bare,
        Some(shim(fx)),
        &["--timeout", "5"],
        &envs,
        "firmware did not hand over to the bare probe within 5 s",
    );
}

#[test]
fn a_boot_that_crashes_once_is_retried_and_reported() {
    let Some(fx) = fixtures("a_boot_that_crashes_once_is_retried_and_reported") else {
        return;
    };
    // The Linux probe's boot takes seconds: the abort after ~1 s lands in it.
    let shim = shim(fx);
    let db = baseline_of(fx, Probe::Linux);
    let marker = tempfile::tempdir_in(&fx.work).unwrap();
    let mut envs = wrapper_env(fx, "qemu-crashes-once.sh", Release::V7_2);
    envs.push(("MABI_CRASH_MARKER", marker.path().join("crashed").into()));
    let run = machine_abi(
        check_args_with(fx, Probe::Linux, Release::V7_2, Some(shim), db, &["--machine", Q35]),
        &envs,
    );
    run.expect_code(0);
    assert!(
        marker.path().join("crashed").exists(),
        "the wrapper never crashed a boot\n{run}"
    );
    assert!(run.stderr.contains("killed by signal 6"), "{run}");
    assert!(run.stderr.contains("retrying (1 of 1)"), "{run}");
    assert!(run.stdout.contains("1 machine types checked, 0 drifted"), "{run}");

    // Without retries the same crash is an error naming the machine type.
    let marker = tempfile::tempdir_in(&fx.work).unwrap();
    let mut envs = wrapper_env(fx, "qemu-crashes-once.sh", Release::V7_2);
    envs.push(("MABI_CRASH_MARKER", marker.path().join("crashed").into()));
    assert_check_fails(
        fx,
        Probe::Linux,
        Some(shim),
        &["--retries", "0"],
        &envs,
        "killed by signal 6",
    );
}

#[test]
fn corrupted_stream() {
    let Some(fx) = fixtures("corrupted_stream") else { return };
    // The Linux probe's framed serial stream, damaged in transit.
    let envs = wrapper_env(fx, "qemu-corrupt-stream.sh", Release::V7_2);
    assert_check_fails(fx, Probe::Linux, Some(shim(fx)), &[], &envs, "corrupt");
}

#[test]
fn newer_schema_database_is_refused() {
    let Some(fx) = fixtures("newer_schema_database_is_refused") else {
        return;
    };
    let db = baseline_copy(fx);
    let meta = db.path().join("abi-db.toml");
    let text = fs::read_to_string(&meta).unwrap();
    let newer: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("schema") {
                "schema = 99"
            } else {
                l
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        newer.contains("schema = 99") && newer != text,
        "no schema line in {text:?}"
    );
    fs::write(&meta, newer).unwrap();

    let list = machine_abi([OsStr::new("list"), OsStr::new("--db"), db.path().as_os_str()], &[]);
    list.expect_code(2);
    assert!(list.stderr.contains("newer"), "{list}");
    let check = machine_abi(check_args(fx, Release::V7_2, None, db.path(), &[]), &[]);
    check.expect_code(2);
    assert!(check.stderr.contains("newer"), "{check}");
}

#[test]
fn truncated_record_is_refused() {
    let Some(fx) = fixtures("truncated_record_is_refused") else {
        return;
    };
    let db = baseline_copy(fx);
    let list = machine_abi([OsStr::new("list"), OsStr::new("--db"), db.path().as_os_str()], &[]);
    list.expect_code(0);
    assert_eq!(list.stdout.lines().count(), 2, "{list}");

    let record = only_record(db.path(), Q35, "default");
    let bytes = fs::read(&record).unwrap();
    fs::write(&record, &bytes[..bytes.len() / 2]).unwrap();
    // `list` reads record heads only; reading the record is what must fail.
    let show = machine_abi(
        [
            OsStr::new("show"),
            OsStr::new("--db"),
            db.path().as_os_str(),
            OsStr::new(Q35),
        ],
        &[],
    );
    show.expect_code(2);
    assert!(
        show.stderr.contains(&record.display().to_string()),
        "the error must name {}\n{show}",
        record.display()
    );
}

#[test]
fn probe_loads_modules() {
    let Some(fx) = fixtures("probe_loads_modules") else {
        return;
    };
    let db = tempfile::tempdir_in(&fx.work).unwrap();
    let mut args = vec![OsString::from("record")];
    args.extend(fx.linux_boot_args(Release::V7_2, None));
    args.extend(["--db".into(), db.path().into(), "--machine".into(), Q35.into()]);
    args.extend([
        "--module".into(),
        "msr".into(),
        "--modules-dir".into(),
        fx.modules().into(),
    ]);
    machine_abi(args, &[]).expect_code(0);

    let path = only_record(db.path(), Q35, "default");
    let text = fs::read_to_string(&path).unwrap();
    let record: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let loads = record
        .get("facts")
        .and_then(|f| f.get("probe"))
        .and_then(|p| p.get("modules"))
        .and_then(toml::Value::as_array)
        .unwrap_or_else(|| panic!("{}: no facts.probe.modules", path.display()));
    let loads: Vec<(&str, &str)> = loads
        .iter()
        .map(|m| {
            let s = |k: &str| m.get(k).and_then(toml::Value::as_str).unwrap_or("");
            (s("name"), s("result"))
        })
        .collect();
    assert!(loads.contains(&("msr.ko", "loaded")), "module loads: {loads:?}");
    let provenance = record
        .get("provenance")
        .and_then(|p| p.get("kernel"))
        .and_then(|k| k.get("modules"))
        .and_then(toml::Value::as_array)
        .unwrap_or_else(|| panic!("{}: no provenance.kernel.modules", path.display()));
    assert!(
        provenance.iter().any(|m| m.as_str() == Some("msr")),
        "provenance.kernel.modules: {provenance:?}"
    );
}

#[test]
fn virtio_profile_records_virtio_facts() {
    let Some(fx) = fixtures("virtio_profile_records_virtio_facts") else {
        return;
    };
    let db = tempfile::tempdir_in(&fx.work).unwrap();
    let mut args = vec![OsString::from("record")];
    args.extend(fx.boot_args(Release::V7_2, None));
    args.extend(["--db".into(), db.path().into(), "--machine".into(), Q35.into()]);
    args.extend(["--profile".into(), "virtio".into()]);
    machine_abi(args, &[]).expect_code(0);

    let show = machine_abi(
        [
            OsStr::new("show"),
            OsStr::new("--db"),
            db.path().as_os_str(),
            OsStr::new(Q35),
            OsStr::new("--profile"),
            OsStr::new("virtio"),
            OsStr::new("--path"),
            OsStr::new("virtio"),
        ],
        &[],
    );
    show.expect_code(0);

    // virtio."0000:00:02.0".transport = modern
    // virtio."0000:00:02.0".features[0] = 0x30bf8024
    #[derive(Default, Debug)]
    struct Device {
        transport: Option<String>,
        features: Vec<String>,
    }
    let mut devices: BTreeMap<String, Device> = BTreeMap::new();
    for line in show.stdout.lines().filter(|l| !l.starts_with('#')) {
        let (path, value) = line
            .split_once(" = ")
            .unwrap_or_else(|| panic!("not a fact line: {line:?}\n{show}"));
        let rest = path
            .strip_prefix("virtio.\"")
            .unwrap_or_else(|| panic!("not a virtio device fact: {line:?}\n{show}"));
        let (addr, field) = rest
            .split_once("\".")
            .unwrap_or_else(|| panic!("not a virtio device fact: {line:?}\n{show}"));
        let d = devices.entry(addr.to_string()).or_default();
        if field == "transport" {
            d.transport = Some(value.to_string());
        } else if field.starts_with("features[") {
            d.features.push(value.to_string());
        }
    }
    // Every virtio device of the shipped profile, at the slot it names.
    let profiles = recorder::profile::Profiles::builtin().expect("built-in profiles");
    let virtio = profiles.get("virtio").expect("a virtio profile");
    let mut expected = BTreeSet::new();
    for d in &virtio.devices {
        let slot = d
            .spec
            .split(',')
            .find_map(|kv| kv.strip_prefix("addr=0x"))
            .unwrap_or_else(|| panic!("{}: no addr=0x..", d.spec));
        let slot = u8::from_str_radix(slot, 16).unwrap_or_else(|e| panic!("{}: {e}", d.spec));
        expected.insert(format!("0000:00:{slot:02x}.0"));
    }
    assert!(expected.len() >= 10, "{expected:?}");
    let found: BTreeSet<String> = devices.keys().cloned().collect();
    let missing: Vec<_> = expected.difference(&found).collect();
    assert!(missing.is_empty(), "no virtio facts for {missing:?}\n{show}");
    for (addr, d) in &devices {
        assert_eq!(d.transport.as_deref(), Some("modern"), "{addr}: {d:?}");
        let nonzero = |v: &String| u64::from_str_radix(v.trim_start_matches("0x"), 16).is_ok_and(|n| n != 0);
        assert!(d.features.iter().any(nonzero), "{addr}: no feature bits: {d:?}");
    }
}

/// A profile directory with one profile, `bigq`: virtio devices whose
/// queues offer 512 entries, more than SeaBIOS's limit (256), each with a
/// disk so that SeaBIOS keeps the device it set up (it resets one without
/// disks): a modern virtio-blk, a virtio-scsi, and a legacy-only virtio-blk.
fn big_queue_profile(dir: &Path) -> PathBuf {
    let p = dir.join("profiles");
    fs::create_dir_all(&p).unwrap();
    fs::write(
        p.join("bigq.toml"),
        r#"name = "bigq"
description = "virtio-blk, virtio-scsi and a legacy virtio-blk offering 512-entry queues"
backends = [
    "blockdev driver=null-co,node-name=disk0,size=1048576,read-zeroes=on",
    "blockdev driver=null-co,node-name=disk1,size=1048576,read-zeroes=on",
    "blockdev driver=null-co,node-name=disk2,size=1048576,read-zeroes=on",
]
devices = [
    "virtio-blk-pci,id=vblk0,drive=disk0,queue-size=512,addr=0x08",
    "virtio-scsi-pci,id=vscsi0,virtqueue_size=512,addr=0x09",
    "scsi-hd,id=vscsi0-disk,drive=disk1,bus=vscsi0.0",
    "virtio-blk-pci,id=vblk1,drive=disk2,queue-size=512,disable-modern=on,addr=0x0a",
]
"#,
    )
    .unwrap();
    fs::write(
        p.join("default.toml"),
        "name = \"default\"\ndescription = \"defaults\"\n",
    )
    .unwrap();
    p
}

/// `facts.virtio."<addr>"` of a record: (transport, num_queues, queue_sizes).
fn virtio_queues(record: &toml::Value, addr: &str) -> (String, i64, Vec<i64>) {
    let d = record
        .get("facts")
        .and_then(|f| f.get("virtio"))
        .and_then(|v| v.get(addr))
        .unwrap_or_else(|| panic!("no facts.virtio.\"{addr}\""));
    let transport = d.get("transport").and_then(toml::Value::as_str);
    let n = d.get("num_queues").and_then(toml::Value::as_integer);
    let sizes = d.get("queue_sizes").and_then(toml::Value::as_array);
    let (Some(transport), Some(n), Some(sizes)) = (transport, n, sizes) else {
        panic!("{addr} not read: {d}");
    };
    let sizes = sizes.iter().filter_map(toml::Value::as_integer).collect();
    (transport.to_string(), n, sizes)
}

/// The three `bigq` devices read as offering 512 on every queue.
fn assert_big_queues(record: &toml::Value, what: &str) {
    for (addr, transport) in [
        ("0000:00:08.0", "modern"),
        ("0000:00:09.0", "modern"),
        ("0000:00:0a.0", "legacy"),
    ] {
        let (t, n, sizes) = virtio_queues(record, addr);
        assert_eq!(t, transport, "{what}: {addr}");
        assert!(
            !sizes.is_empty() && n as usize == sizes.len() && sizes.iter().all(|&s| s == 512),
            "{what}: {addr} ({transport}) offers 512 on every queue (the profile's queue-size), \
             read num_queues = {n}, queue_sizes = {sizes:?}"
        );
    }
}

/// SeaBIOS writes its limit (256) into the queue it drives of a virtio-blk
/// or virtio-scsi it can boot from, and leaves the device so; the probe
/// resets a device no driver is bound to, so the record holds what the
/// device offers (the profile's 512) on every queue, not 256 on the one
/// firmware used. Under the bare probe (the firmware's state is all there
/// is) and under the Linux probe without drivers.
#[test]
fn virtqueue_sizes_are_the_offer_not_what_firmware_wrote() {
    let Some(fx) = fixtures("virtqueue_sizes_are_the_offer_not_what_firmware_wrote") else {
        return;
    };
    let tmp = tempfile::tempdir_in(&fx.work).unwrap();
    let profiles = big_queue_profile(tmp.path());
    for probe in [Probe::Bare, Probe::Linux] {
        let db = tmp.path().join(format!("db-{probe:?}"));
        let mut rec = vec![OsString::from("record")];
        rec.extend(probe.args(fx, Release::V10_0, None));
        rec.extend(["--db".into(), db.clone().into(), "--machine".into(), Q35.into()]);
        rec.extend(["--profile-dir".into(), profiles.clone().into()]);
        rec.extend(["--profile".into(), "bigq".into(), "--no-host-facts".into()]);
        machine_abi(&rec, &[]).expect_code(0);
        let path = only_record(&db, Q35, "bigq");
        let record: toml::Value = toml::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_big_queues(&record, &format!("{probe:?} probe"));
    }
}

/// A device an OS driver is bound to is not reset by the probe. With the
/// virtio_pci module loaded every `bigq` function has a `driver` link. The
/// legacy virtio-blk's I/O BAR stays readable: the probe writes no status
/// there (the fixture tree's register trace) and reads the offer (virtio_pci
/// reset the device when it probed, and no virtio-blk driver set queues
/// up). The modern functions' memory BARs cannot be mapped while the driver
/// holds them (sysfs answers EINVAL): those devices are unavailable, with
/// that reason, and nothing is written to them either.
#[test]
fn a_device_with_a_bound_driver_is_not_reset() {
    let Some(fx) = fixtures("a_device_with_a_bound_driver_is_not_reset") else {
        return;
    };
    let tmp = tempfile::tempdir_in(&fx.work).unwrap();
    let profiles = big_queue_profile(tmp.path());
    let db = tmp.path().join("db");
    let capture = tmp.path().join("capture");
    let mut rec = vec![OsString::from("record")];
    rec.extend(fx.linux_boot_args(Release::V10_0, None));
    rec.extend(["--db".into(), db.clone().into(), "--machine".into(), Q35.into()]);
    rec.extend(["--profile-dir".into(), profiles.into()]);
    rec.extend(["--profile".into(), "bigq".into(), "--no-host-facts".into()]);
    rec.extend([
        "--module".into(),
        "virtio_pci".into(),
        "--modules-dir".into(),
        fx.modules().into(),
    ]);
    rec.extend(["--capture-fixtures".into(), capture.clone().into()]);
    machine_abi(&rec, &[]).expect_code(0);
    let record: toml::Value = toml::from_str(&fs::read_to_string(only_record(&db, Q35, "bigq")).unwrap()).unwrap();
    let (transport, n, sizes) = virtio_queues(&record, "0000:00:0a.0");
    assert_eq!(transport, "legacy");
    assert!(
        n as usize == sizes.len() && !sizes.is_empty() && sizes.iter().all(|&s| s == 512),
        "legacy virtio-blk, virtio_pci bound: queue_sizes = {sizes:?}"
    );
    for addr in ["0000:00:08.0", "0000:00:09.0"] {
        let why = record
            .get("facts")
            .and_then(|f| f.get("virtio"))
            .and_then(|v| v.get(addr))
            .and_then(|d| d.get("unavailable"))
            .and_then(toml::Value::as_str)
            .unwrap_or_else(|| panic!("{addr}: expected unavailable (BAR held by virtio_pci)"));
        assert!(why.contains("os error 22"), "{addr}: {why}");
    }

    let tree = capture.join(format!("{Q35}-bigq"));
    let links = fs::read_to_string(tree.join("links.txt")).unwrap();
    let io = fs::read_to_string(tree.join("io.txt")).unwrap();
    assert!(
        io.lines().any(|l| l.starts_with("r 0000:00:0a.0 0 c 2 ")),
        "the legacy device's queue sizes were read\n{io}"
    );
    for dev in ["0000:00:08.0", "0000:00:09.0", "0000:00:0a.0"] {
        let link = format!("/sys/bus/pci/devices/{dev}/driver\t");
        assert!(
            links
                .lines()
                .any(|l| l.starts_with(&link) && l.ends_with("/virtio-pci")),
            "{dev}: no virtio-pci driver link\n{links}"
        );
        assert!(
            !io.lines()
                .any(|l| l.starts_with(&format!("w {dev} ")) && (l.contains(" 14 1 ") || l.contains(" 12 1 "))),
            "{dev}: the probe wrote the status of a device a driver owns\n{io}"
        );
    }
}

/// QEMU 10.0.13 (Debian trixie) offers 1024 entries on every virtqueue
/// (abi-db/FINDINGS.md F2, measured through QEMU's monitor). The bare probe
/// reads that on virtio-blk's queue 0 too, which SeaBIOS had written down
/// to 256.
#[test]
fn qemu_10_0_13_virtio_blk_reads_1024_on_every_queue() {
    let test = "qemu_10_0_13_virtio_blk_reads_1024_on_every_queue";
    let fx = fixture_dir();
    let mut needed = vec![fx.join("firmware/bios-256k.bin")];
    needed.extend(QEMU_10_0_13.needs(&fx));
    if !testkit::require(test, &needed) {
        return;
    }
    let db = tempfile::tempdir().unwrap();
    let mut a = vec![OsString::from("record")];
    a.extend(QEMU_10_0_13.boot_args(&fx));
    a.extend(["--db".into(), db.path().into()]);
    a.extend(
        [
            "--machine",
            "pc-q35-10.0",
            "--profile",
            "virtio",
            "--no-host-facts",
            "-j",
            "1",
        ]
        .map(OsString::from),
    );
    machine_abi(&a, &[]).expect_code(0);
    let path = only_record(db.path(), "pc-q35-10.0", "virtio");
    let record: toml::Value = toml::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    // virtio-blk (the one SeaBIOS boots from) and virtio-net (untouched).
    for addr in ["0000:00:09.0", "0000:00:08.0"] {
        let (_, n, sizes) = virtio_queues(&record, addr);
        assert!(
            n as usize == sizes.len() && sizes.iter().all(|&s| s == 1024),
            "{addr}: queue_sizes = {sizes:?}"
        );
    }
}

/// A profile directory holding one profile with a device model QEMU 7.2
/// does not have (virtio-sound-pci came in 8.2).
fn sound_profile(dir: &Path) -> PathBuf {
    let p = dir.join("profiles");
    fs::create_dir_all(&p).unwrap();
    fs::write(
        p.join("sound.toml"),
        r#"name = "sound"
description = "virtio-sound, which QEMU 7.2 lacks"
backends = ["audiodev none,id=snd0"]
devices = ["virtio-sound-pci,id=vsnd0,audiodev=snd0,addr=0x08"]
"#,
    )
    .unwrap();
    fs::write(
        p.join("default.toml"),
        "name = \"default\"\ndescription = \"defaults\"\n",
    )
    .unwrap();
    p
}

#[test]
fn profile_with_a_missing_device_is_reported_per_machine_type() {
    let Some(fx) = fixtures("profile_with_a_missing_device_is_reported_per_machine_type") else {
        return;
    };
    let tmp = tempfile::tempdir_in(&fx.work).unwrap();
    let profiles = sound_profile(tmp.path());
    let db = tmp.path().join("db");
    // QEMU 10.0 has the device: the baseline is recorded with it.
    let mut rec = vec![OsString::from("record")];
    rec.extend(fx.boot_args(Release::V10_0, None));
    rec.extend(["--db".into(), db.clone().into(), "--machine".into(), Q35.into()]);
    rec.extend([
        "--profile-dir".into(),
        profiles.clone().into(),
        "--no-host-facts".into(),
    ]);
    machine_abi(&rec, &[]).expect_code(0);
    assert_eq!(record_files(&db, Q35, "sound").len(), 1);

    // Recording with 7.2 skips the pair and says why; the rest is written.
    let mut rec72 = vec![OsString::from("record")];
    rec72.extend(fx.boot_args(Release::V7_2, None));
    let db72 = tmp.path().join("db72");
    rec72.extend(["--db".into(), db72.clone().into(), "--machine".into(), Q35.into()]);
    rec72.extend([
        "--profile-dir".into(),
        profiles.clone().into(),
        "--no-host-facts".into(),
    ]);
    let run = machine_abi(&rec72, &[]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("not recorded: pc-q35-7.2 (sound): profile needs device model virtio-sound-pci"),
        "{run}"
    );
    assert_eq!(record_files(&db72, Q35, "default").len(), 1, "{run}");
    assert!(!db72.join("records/x86_64").join(Q35).join("sound").exists(), "{run}");

    // Checking 7.2 against the 10.0 baseline: a break naming the device,
    // for that machine type and profile, no crash, no boot.
    let mut chk = check_args(fx, Release::V7_2, None, &db, &["--color", "never", "--format", "json"]);
    chk.extend(["--profile-dir".into(), profiles.into(), "--no-host-facts".into()]);
    let run = machine_abi(&chk, &[]);
    run.expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_follows_schema(&report);
    let drifts = report["drifts"]
        .as_array()
        .unwrap_or_else(|| panic!("no drifts\n{run}"));
    let missing: Vec<&serde_json::Value> = drifts
        .iter()
        .filter(|d| d["rule"] == "profile-device-missing")
        .collect();
    assert_eq!(missing.len(), 1, "{run}");
    assert_eq!(missing[0]["machine"], Q35, "{run}");
    assert_eq!(missing[0]["profile"], "sound", "{run}");
    assert_eq!(missing[0]["path"], "machine.device.virtio-sound-pci", "{run}");
    assert!(run.stderr.contains("skipped: device missing"), "{run}");
}

/// Copy the baseline, plus virtio records of both machine types.
fn four_pair_db(fx: &Fixtures) -> tempfile::TempDir {
    let db = baseline_copy(fx);
    let mut a = vec![OsString::from("record")];
    a.extend(fx.boot_args(Release::V7_2, None));
    a.extend(["--db".into(), db.path().into()]);
    a.extend(["--machine".into(), Q35.into(), "--machine".into(), I440FX.into()]);
    a.extend(["--profile".into(), "virtio".into()]);
    machine_abi(a, &[]).expect_code(0);
    db
}

#[test]
fn sharded_check_merged_equals_the_whole_run() {
    let Some(fx) = fixtures("sharded_check_merged_equals_the_whole_run") else {
        return;
    };
    let db = four_pair_db(fx);
    let out = tempfile::tempdir_in(&fx.work).unwrap();
    let json = ["--format", "json", "--color", "never"];
    let whole = machine_abi(check_args(fx, Release::V10_0, None, db.path(), &json), &[]);
    whole.expect_code(1);
    let mut parts = Vec::new();
    for i in 1..=3 {
        let part = out.path().join(format!("shard-{i}.json"));
        let shard = format!("{i}/3");
        let args = check_args(
            fx,
            Release::V10_0,
            None,
            db.path(),
            &["--shard", &shard, "--partial", &part.to_string_lossy()],
        );
        machine_abi(args, &[]).expect_code(0);
        parts.push(part);
    }
    // Round robin over 4 sorted pairs: shard sizes 2, 1, 1.
    let sizes: Vec<usize> = parts
        .iter()
        .map(|p| {
            let v: serde_json::Value = serde_json::from_slice(&fs::read(p).unwrap()).unwrap();
            v["results"].as_array().map_or(0, Vec::len)
        })
        .collect();
    assert_eq!(sizes, [2, 1, 1]);
    let mut merge = vec![OsString::from("merge"), "--db".into(), db.path().into()];
    merge.extend(json.iter().map(OsString::from));
    merge.extend(parts.iter().rev().map(OsString::from));
    let merged = machine_abi(&merge, &[]);
    assert_eq!(merged.code, whole.code, "{merged}");
    assert_eq!(merged.stdout, whole.stdout, "merged report differs from the whole run");
    // Text reports agree too.
    let text_whole = machine_abi(
        check_args(fx, Release::V10_0, None, db.path(), &["--color", "never"]),
        &[],
    );
    let mut merge_text = vec![
        OsString::from("merge"),
        "--db".into(),
        db.path().into(),
        "--color".into(),
        "never".into(),
    ];
    merge_text.extend(parts.iter().map(OsString::from));
    assert_eq!(machine_abi(&merge_text, &[]).stdout, text_whole.stdout);
    // A missing shard is refused.
    let short = machine_abi(
        [
            OsStr::new("merge"),
            OsStr::new("--db"),
            db.path().as_os_str(),
            parts[0].as_os_str(),
        ],
        &[],
    );
    short.expect_code(2);
    assert!(short.stderr.contains("missing shards 2/3, 3/3"), "{short}");
}

#[test]
fn sharded_record_merged_equals_the_whole_recording() {
    let Some(fx) = fixtures("sharded_record_merged_equals_the_whole_recording") else {
        return;
    };
    let whole = four_pair_db(fx);
    let tmp = tempfile::tempdir_in(&fx.work).unwrap();
    let mut shards = Vec::new();
    for i in 1..=3 {
        let db = tmp.path().join(format!("shard-{i}"));
        let mut a = record_baseline_args(fx, &db);
        a.truncate(a.len() - 2); // drop --profile default
        a.extend([
            "--profile".into(),
            "default".into(),
            "--profile".into(),
            "virtio".into(),
        ]);
        a.extend(["--shard".into(), format!("{i}/3").into()]);
        machine_abi(a, &[]).expect_code(0);
        shards.push(db);
    }
    let merged = tmp.path().join("merged");
    let mut m = vec![OsString::from("merge"), "--db".into(), merged.clone().into()];
    m.extend(shards.iter().map(OsString::from));
    machine_abi(&m, &[]).expect_code(0);
    assert_same_tree(&tree(whole.path()), &tree(&merged), "whole recording vs merged shards");
}

#[test]
fn snapshot_commits_once_and_is_idempotent() {
    let Some(fx) = fixtures("snapshot_commits_once_and_is_idempotent") else {
        return;
    };
    let tmp = tempfile::tempdir_in(&fx.work).unwrap();
    let repo = tmp.path();
    let git = |args: &[&str]| -> String {
        let o = Command::new("git").arg("-C").arg(repo).args(args).output().unwrap();
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    git(&["init", "--quiet"]);
    let db = repo.join("abi-db");
    let snap = |release: &str| {
        let mut a = vec![OsString::from("snapshot")];
        a.extend(fx.boot_args(Release::V7_2, None));
        a.extend(["--db".into(), db.clone().into(), "--release".into(), release.into()]);
        a.extend(["--machine".into(), Q35.into(), "--profile".into(), "default".into()]);
        machine_abi(a, &[])
    };
    let wrong = snap("10.0");
    wrong.expect_code(2);
    assert!(wrong.stderr.contains("is QEMU 7.2.22, not release 10.0"), "{wrong}");
    let first = snap("7.2");
    first.expect_code(0);
    assert!(first.stdout.contains("committed 1 records of QEMU 7.2.22"), "{first}");
    let log = git(&["log", "--format=%B"]);
    assert!(log.starts_with("abi-db: QEMU 7.2.22 release snapshot"), "{log}");
    for needle in ["QEMU: 7.2.22 (Debian", "firmware: bios-256k.bin", "probe: bare "] {
        assert!(log.contains(needle), "commit message lacks {needle:?}:\n{log}");
    }
    let again = snap("7.2");
    again.expect_code(0);
    assert!(again.stdout.contains("unchanged, nothing to commit"), "{again}");
    assert_eq!(git(&["rev-list", "--count", "HEAD"]).trim(), "1");
    fs::write(db.join("stray.txt"), "uncommitted").unwrap();
    let dirty = snap("7.2");
    dirty.expect_code(2);
    assert!(dirty.stderr.contains("uncommitted changes"), "{dirty}");
    assert!(dirty.stderr.contains("stray.txt"), "{dirty}");
}

#[test]
fn a_rebuild_of_the_same_version_needs_replace() {
    let Some(fx) = fixtures("a_rebuild_of_the_same_version_needs_replace") else {
        return;
    };
    let db = baseline_copy(fx);
    let file = only_record(db.path(), Q35, "default");
    let upstream = fs::read_to_string(&file).unwrap();
    // A record of the same QEMU version from another build (a distro
    // rebuild): another package string.
    let rebuilt = upstream.replacen("package = \"Debian ", "package = \"Rebuilt ", 1);
    assert_ne!(rebuilt, upstream);
    fs::write(&file, &rebuilt).unwrap();
    let record = |extra: &[&str]| {
        let mut a = vec![OsString::from("record")];
        a.extend(fx.boot_args(Release::V7_2, None));
        a.extend(["--db".into(), db.path().into()]);
        a.extend(["--machine", Q35, "--profile", "default"].map(OsString::from));
        a.extend(extra.iter().map(OsString::from));
        machine_abi(a, &[])
    };
    // A second writer is refused before anything boots.
    let held = fs::File::open(db.path()).unwrap();
    held.try_lock().unwrap();
    let locked = record(&[]);
    locked.expect_code(2);
    assert!(locked.stderr.contains("another process is writing"), "{locked}");
    assert!(!locked.stderr.contains("boots in"), "booted although locked: {locked}");
    drop(held);

    let refused = record(&[]);
    refused.expect_code(2);
    assert!(
        refused.stderr.contains(&file.display().to_string()) && refused.stderr.contains("--replace"),
        "{refused}"
    );
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        rebuilt,
        "replaced without --replace"
    );
    let replaced = record(&["--replace"]);
    replaced.expect_code(0);
    assert!(
        replaced.stdout.contains(&format!("replaced {}", file.display())),
        "{replaced}"
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), upstream);
    let same = record(&[]);
    same.expect_code(0);
    assert!(same.stdout.contains(&format!("unchanged {}", file.display())), "{same}");
}

/// The option ROMs a boot resolves before it starts follow the display and
/// NIC that QEMU 7.2 itself creates for the machine type (QMP), not a guess:
/// Cirrus VGA on pc-i440fx-2.1 and older, e1000 on pc-q35-2.11 and older.
#[test]
fn default_display_and_nic_roms_are_asked_of_qemu() {
    let test = "default_display_and_nic_roms_are_asked_of_qemu";
    let fx = fixture_dir();
    let dir = fx.join(Release::V7_2.dir());
    let bin = dir.join("usr/bin/qemu-system-x86_64");
    if !testkit::require(test, &[bin.clone(), fx.join("firmware/bios-256k.bin")]) {
        return;
    }
    let qemu = recorder::qemu::Qemu::new(bin, vec![fx.join("firmware"), dir.join("usr/share/qemu")]);
    let profiles = recorder::profile::Profiles::builtin().expect("built-in profiles");
    let default = profiles.get("default").expect("default profile");
    for (machine, vga, nic) in [
        ("pc-i440fx-2.0", "vgabios-cirrus.bin", "efi-e1000.rom"),
        ("pc-i440fx-2.1", "vgabios-cirrus.bin", "efi-e1000.rom"),
        ("pc-i440fx-2.2", "vgabios-stdvga.bin", "efi-e1000.rom"),
        ("pc-q35-2.11", "vgabios-stdvga.bin", "efi-e1000.rom"),
        ("pc-q35-2.12", "vgabios-stdvga.bin", "efi-e1000e.rom"),
    ] {
        let own = recorder::qmp::default_device_types(&qemu, machine, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{machine}: {e}"));
        let m = abi_model::MachineType(machine.to_string());
        let files: Vec<String> = recorder::datafiles::needed(
            "x86_64",
            &m,
            default,
            abi_model::provenance::ProbeKind::Bare,
            &[],
            &|_| true,
            Some(&own),
        )
        .into_iter()
        .map(|n| n.file)
        .collect();
        assert_eq!(&files[3..], [vga, nic], "{machine}: QEMU's own devices {own:?}");
    }
}

#[test]
fn compat_tables_from_the_elf_agree_with_qmp() {
    let Some(fx) = fixtures("compat_tables_from_the_elf_agree_with_qmp") else {
        return;
    };
    let bin = fx.dir.join(Release::V10_0.dir()).join("usr/bin/qemu-system-x86_64");
    let bytes = fs::read(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let tables = recorder::elf::compat_tables(&bytes).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    // Spot checks against QEMU's hw/core/machine.c and hw/i386/pc.c (10.0).
    let has = |t: &str, d: &str, p: &str, v: &str| {
        tables.get(t).is_some_and(|e| {
            e.iter()
                .any(|c| (c.driver.as_str(), c.property.as_str(), c.value.as_str()) == (d, p, v))
        })
    };
    assert!(has("hw_compat_7_2", "e1000e", "migrate-timadj", "off"));
    assert!(has("hw_compat_7_2", "virtio-mem", "x-early-migration", "false"));
    assert!(has("pc_compat_7_2", "ICH9-LPC", "noreboot", "true"));

    let data = [
        fx.dir.join("firmware"),
        fx.dir.join(Release::V10_0.dir()).join("usr/share/qemu"),
    ];
    let qmp_props = |machine: &str| -> BTreeSet<(String, String, String)> {
        let facts = recorder::qmp::host_facts(
            &recorder::qemu::Qemu::new(bin.clone(), data.to_vec()),
            machine,
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("{machine}: {e}"));
        let abi_model::host::CompatProps::Supported(props) = &facts.machine.compat_props else {
            panic!(
                "{machine}: QEMU 10.0 should report compat-props: {:?}",
                facts.machine.compat_props
            );
        };
        props
            .iter()
            .map(|c| (c.qom_type.clone(), c.property.clone(), c.value.clone()))
            .collect()
    };
    // QMP also lists a family's unversioned defaults (pc_q35_compat_defaults,
    // a static table the binary does not export): they are what the newest
    // machine type of the family reports, which applies no versioned table.
    for (machine, newest) in [("pc-q35-7.2", "pc-q35-10.0"), ("pc-i440fx-8.0", "pc-i440fx-10.0")] {
        let m = abi_model::MachineType(machine.to_string());
        let from_elf: BTreeSet<(String, String, String)> = abi_check::compare::compat::applied(&tables, &m)
            .into_iter()
            .flat_map(|t| t.entries.into_iter().map(|c| (c.driver, c.property, c.value)))
            .collect();
        let family_defaults = qmp_props(newest);
        let from_qmp = qmp_props(machine);
        let expected: BTreeSet<_> = from_elf.union(&family_defaults).cloned().collect();
        let only_elf: Vec<_> = expected.difference(&from_qmp).collect();
        let only_qmp: Vec<_> = from_qmp.difference(&expected).collect();
        assert!(
            only_elf.is_empty() && only_qmp.is_empty(),
            "{machine}: ELF tables + {newest}'s defaults disagree with QMP\nmissing in QMP: {only_elf:#?}\nunexplained in QMP: {only_qmp:#?}"
        );
        assert!(
            from_elf.len() > 10,
            "{machine}: only {} compat properties",
            from_elf.len()
        );
    }
}

#[test]
fn compat_falls_back_to_qmp_when_the_binary_has_no_tables() {
    let Some(fx) = fixtures("compat_falls_back_to_qmp_when_the_binary_has_no_tables") else {
        return;
    };
    let machine = abi_model::MachineType("pc-q35-7.2".into());
    let unreadable: Result<abi_model::host::CompatTables, String> = Err("no hw_compat symbols".into());
    let timeout = recorder::boot::BootSettings {
        timeout: Duration::from_secs(60),
        ..Default::default()
    };
    // QEMU 10.0 answers compat-props: the section holds QMP's list, which
    // covers every entry of the tables the ELF file gives for the type.
    let q10 = fx.release(Release::V10_0);
    let (side, _) = recorder::host_facts::collect(&q10, &machine, &unreadable, &timeout, false);
    let tables = side
        .compat
        .available()
        .unwrap_or_else(|| panic!("no fallback: {:?}", side.compat));
    assert_eq!(tables.len(), 1);
    assert_eq!(tables[0].name, recorder::host_facts::QMP_COMPAT_TABLE);
    let from_qmp: BTreeSet<_> = tables[0].entries.iter().collect();
    let bytes = fs::read(&q10.binary).unwrap_or_else(|e| panic!("{}: {e}", q10.binary.display()));
    let elf = recorder::elf::compat_tables(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let applied = abi_model::host::applied(&elf, &machine);
    let missing: Vec<_> = applied
        .iter()
        .flat_map(|t| &t.entries)
        .filter(|e| !from_qmp.contains(e))
        .collect();
    assert!(missing.is_empty(), "in the ELF tables but not in QMP's: {missing:#?}");
    // QEMU 7.2 has no compat-props: the section says why, naming both causes.
    let (side, _) = recorder::host_facts::collect(&fx.release(Release::V7_2), &machine, &unreadable, &timeout, false);
    match &side.compat {
        abi_model::facts::Probed::Unavailable { unavailable } => {
            assert!(unavailable.contains("no hw_compat symbols"), "{unavailable}");
            assert!(unavailable.contains("compat-props"), "{unavailable}");
        }
        other => panic!("7.2 cannot report compat-props, got {other:?}"),
    }
}

/// Validate a JSON report against docs/report.schema.json.
fn assert_follows_schema(doc: &serde_json::Value) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json"))
            .unwrap_or_else(|e| panic!("docs/report.schema.json: {e}")),
    )
    .unwrap_or_else(|e| panic!("schema is not JSON: {e}"));
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("schema: {e}"));
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "report violates its schema: {errors:#?}");
}

/// One finding of abi-db/FINDINGS.md: the drifts it stands for, as lines
/// `match: RULE PATH-GLOB` in the document.
struct Finding {
    rule: String,
    path: String,
    /// `(qemu X.Y.Z)`: only that build shows the drift.
    qemu: Option<String>,
}

impl Finding {
    /// Whether the finding explains a drift of this rule and path in a check of `qemu`.
    fn explains(&self, rule: &str, path: &str, qemu: &str) -> bool {
        self.rule == rule
            && abi_model::glob::glob_match(&self.path, path)
            && self.qemu.as_deref().is_none_or(|q| q == qemu)
    }
}

/// The `match:` lines of abi-db/FINDINGS.md for x86 (`RULE PATH-GLOB`,
/// optionally `(qemu X.Y.Z)` or `(arch A)` after it).
fn findings() -> Vec<Finding> {
    let doc = Path::new(REPO).join("abi-db/FINDINGS.md");
    let text = fs::read_to_string(&doc).unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
    text.lines()
        .filter_map(|l| l.trim().trim_matches('`').strip_prefix("match: "))
        .map(|m| {
            let (rule, path) = m.split_once(' ').unwrap_or_else(|| panic!("bad match line {m:?}"));
            let (path, arch) = match path.trim().rsplit_once(" (arch ") {
                Some((p, a)) => (p, a.trim_end_matches(')')),
                None => (path.trim(), "x86_64"),
            };
            (rule, path, arch)
        })
        // The checks here are of x86 builds; `(arch aarch64)` findings are
        // tests/aarch64.rs's.
        .filter(|(_, _, arch)| *arch == "x86_64")
        .map(|(rule, path, _)| {
            let (path, qemu) = match path.trim().rsplit_once(" (qemu ") {
                Some((p, q)) => (p, Some(q.trim_end_matches(')').to_string())),
                None => (path.trim(), None),
            };
            Finding {
                rule: rule.to_string(),
                path: path.to_string(),
                qemu,
            }
        })
        .collect()
}

/// Every other release of each x86 PC family in the project's database,
/// plus the newest: the CI subset of the full check.
fn subset_of_abi_db(max: Option<&str>) -> Vec<String> {
    let db = abi_store::db::Db::open(&Path::new(REPO).join("abi-db")).expect("abi-db opens");
    let mut families: BTreeMap<String, BTreeSet<(abi_model::Version, String)>> = BTreeMap::new();
    let max = max.and_then(abi_model::Version::parse);
    // x86 only: the aarch64 records are tests/aarch64.rs's.
    for r in db.load_all().expect("abi-db loads") {
        if r.key.arch != "x86_64" {
            continue;
        }
        let m = r.key.machine;
        let Some(v) = m.version() else { continue };
        if max.as_ref().is_some_and(|x| &v > x) {
            continue;
        }
        families
            .entry(m.family().to_string())
            .or_default()
            .insert((v, m.0.clone()));
    }
    let mut out = Vec::new();
    for types in families.values() {
        let list: Vec<&String> = types.iter().map(|(_, m)| m).collect();
        for (i, m) in list.iter().enumerate() {
            if i % 2 == 1 || i + 1 == list.len() {
                out.push(m.to_string());
            }
        }
    }
    out
}

#[test]
fn abi_db_subset_check_matches_waivers_and_findings() {
    let Some(fx) = fixtures("abi_db_subset_check_matches_waivers_and_findings") else {
        return;
    };
    let db = Path::new(REPO).join("abi-db");
    let subset = subset_of_abi_db(None);
    assert!(subset.len() >= 20, "{subset:?}");
    let mut extra: Vec<String> = vec!["--format".into(), "json".into(), "--profile".into(), "default".into()];
    for m in &subset {
        extra.extend(["--machine".into(), m.clone()]);
    }
    let extra_refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let run = machine_abi(check_args(fx, Release::V10_0, None, &db, &extra_refs), &[]);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_follows_schema(&report);
    let findings = findings();
    assert!(!findings.is_empty(), "FINDINGS.md has no `match:` lines");
    let qemu = report["qemu"]["version"].as_str().unwrap_or("").to_string();
    // Every unwaived change that is not info is a documented finding.
    let mut unexplained = Vec::new();
    for d in report["drifts"].as_array().expect("drifts") {
        if d["waiver"].is_string() || d["severity"] == "info" {
            continue;
        }
        let (rule, path) = (d["rule"].as_str().unwrap_or(""), d["path"].as_str().unwrap_or(""));
        if !findings.iter().any(|f| f.explains(rule, path, &qemu)) {
            unexplained.push(format!("{} ({}) {rule} {path}", d["machine"], d["profile"]));
        }
    }
    assert!(
        unexplained.is_empty(),
        "drift neither waived in abi-db/waivers.toml nor listed in abi-db/FINDINGS.md:\n{}",
        unexplained.join("\n")
    );
    let waivers = &report["waivers"];
    assert_eq!(
        waivers["stale"].as_array().map_or(0, Vec::len),
        0,
        "stale waivers: {waivers}"
    );
    let breaks = report["summary"]["breaks"].as_u64().unwrap_or(0);
    assert_eq!(run.code, Some(if breaks > 0 { 1 } else { 0 }), "{run}");

    // The storage profile carries the ESP controller of findings F1 (7.2
    // streams) and F4 (5.2 streams, pc-q35-5.2 has a 5.2 baseline): every
    // `match:` line of FINDINGS.md must still describe a drift the check
    // reports (a finding upstream fixed would go stale here).
    let storage = machine_abi(
        check_args(
            fx,
            Release::V10_0,
            None,
            &db,
            &[
                "--format",
                "json",
                "--profile",
                "storage",
                "--machine",
                Q35,
                "--machine",
                "pc-q35-5.2",
            ],
        ),
        &[],
    );
    storage.expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&storage.stdout).unwrap_or_else(|e| panic!("{e}\n{storage}"));
    let unwaived: Vec<(String, String)> = report["drifts"]
        .as_array()
        .expect("drifts")
        .iter()
        .filter(|d| !d["waiver"].is_string() && d["severity"] != "info")
        .map(|d| {
            (
                d["rule"].as_str().unwrap_or("").to_string(),
                d["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for f in findings.iter().filter(|f| f.qemu.as_deref().is_none_or(|q| q == qemu)) {
        assert!(
            unwaived.iter().any(|(rule, path)| f.explains(rule, path, &qemu)),
            "FINDINGS.md `match: {} {}` matches no drift of {Q35} or pc-q35-5.2 (storage): {unwaived:#?}",
            f.rule,
            f.path
        );
    }
    for (rule, path) in &unwaived {
        assert!(
            findings.iter().any(|f| f.explains(rule, path, &qemu)),
            "unexplained drift on {Q35} or pc-q35-5.2 (storage): {rule} {path}"
        );
    }

    // QEMU 7.2 against its own records (made by the Linux probe, checked
    // with the bare probe): nothing but what the two probes do differently.
    // Machine types up to 5.2 have their QEMU 5.2 record as baseline (the
    // oldest release wins), so only 6.0 to 7.2 are checked against 7.2's own.
    let five_two = abi_model::Version::parse("5.2").expect("version");
    let own: Vec<String> = subset_of_abi_db(Some("7.2"))
        .into_iter()
        .filter(|m| {
            abi_model::MachineType(m.clone())
                .version()
                .is_some_and(|v| v > five_two)
        })
        .collect();
    assert!(own.len() >= 4, "{own:?}");
    let mut extra: Vec<String> = vec!["--profile".into(), "default".into(), "--format".into(), "json".into()];
    for m in &own {
        extra.extend(["--machine".into(), m.clone()]);
    }
    let extra_refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let run = machine_abi(check_args(fx, Release::V7_2, None, &db, &extra_refs), &[]);
    run.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(report["summary"]["checked"], own.len(), "{run}");
    let probes_only = ["probe-os-written", "probe-boot-payload", "fw_cfg-selector-shift"];
    for d in report["drifts"].as_array().expect("drifts") {
        assert!(
            probes_only.contains(&d["rule"].as_str().unwrap_or("")) && d["severity"] == "info",
            "QEMU 7.2 against its own records: {d}"
        );
    }
}

// ---------------------------------------------------------------------------
// A QEMU developer's build tree

/// A QEMU 10.0.2 build tree as `ninja` leaves it: `build/qemu-system-x86_64`
/// (a copy, so QEMU finds no data of its own next to it) and its modules, the option ROMs
/// in `build/pc-bios/optionrom` (`omit` left out), `build/meson-info`
/// naming a source tree whose `pc-bios/` holds no firmware (as in Debian's
/// source package). SeaBIOS, the VGA and NIC ROMs must come from the pinned
/// firmware. Returns the temporary directory (the tree is `build/` in it).
fn qemu_build_tree(fx: &Fixtures, omit: Option<&str>) -> tempfile::TempDir {
    let root = tempfile::tempdir_in(&fx.work).unwrap();
    let build = root.path().join("build");
    let src = root.path().join("src");
    fs::create_dir_all(build.join("pc-bios/optionrom")).unwrap();
    fs::create_dir_all(build.join("meson-info")).unwrap();
    fs::create_dir_all(src.join("pc-bios")).unwrap();
    fs::write(build.join("build.ninja"), "# ninja\n").unwrap();
    let info = serde_json::json!({"directories": {"source": src, "build": build, "info": build.join("meson-info")}});
    fs::write(build.join("meson-info/meson-info.json"), info.to_string()).unwrap();
    fs::copy(fx.qemu(Release::V10_0), build.join("qemu-system-x86_64")).unwrap();
    // Debian builds with modules (virtio-gpu is one): a tree has them next
    // to the binary.
    let modules = fx.dir.join(Release::V10_0.dir()).join("usr/lib/x86_64-linux-gnu/qemu");
    for e in fs::read_dir(&modules).unwrap().flatten() {
        if e.file_name().to_string_lossy().ends_with(".so") {
            fs::copy(e.path(), build.join(e.file_name())).unwrap();
        }
    }
    let share = fx.dir.join(Release::V10_0.dir()).join("usr/share/qemu");
    for rom in [
        "kvmvapic.bin",
        "linuxboot.bin",
        "linuxboot_dma.bin",
        "multiboot.bin",
        "multiboot_dma.bin",
        "pvh.bin",
    ] {
        if Some(rom) != omit {
            fs::copy(share.join(rom), build.join("pc-bios/optionrom").join(rom)).unwrap();
        }
    }
    root
}

/// The pinned firmware wherever the fixtures are (the default is found
/// from the executable's repository).
fn pinned_env(fx: &Fixtures) -> Vec<(&'static str, OsString)> {
    vec![("MACHINE_ABI_FIXTURES", fx.dir.clone().into())]
}

#[test]
fn a_qemu_build_tree_checks_without_data_dir_or_probe() {
    let Some(fx) = fixtures("a_qemu_build_tree_checks_without_data_dir_or_probe") else {
        return;
    };
    let tree_dir = qemu_build_tree(fx, None);
    let build = tree_dir.path().join("build");
    let db = baseline(fx);
    let select = [
        "--db",
        &db.to_string_lossy(),
        "--machine",
        Q35,
        "--profile",
        "default",
        "-j",
        "2",
    ]
    .map(OsString::from);
    let mut args = vec![OsString::from("check"), "--qemu-build".into(), build.clone().into()];
    args.extend(select.iter().cloned());
    let run = machine_abi(&args, &pinned_env(fx));
    // The same check of the installed 10.0.2 build, data directories by hand.
    let reference = machine_abi(
        check_args(
            fx,
            Release::V10_0,
            None,
            db,
            &["--machine", Q35, "--profile", "default"],
        ),
        &[],
    );
    assert_ne!(run.code, Some(2), "{run}");
    assert_eq!(run.code, reference.code, "tree:\n{run}\ninstalled:\n{reference}");
    // The tree searches four data directories, the installed build two:
    // where the firmware comes from is no difference of the machine.
    assert_eq!(
        run.stdout, reference.stdout,
        "the tree must check exactly like the installed build\n{run}"
    );
    // Which file came from where.
    let from = |file: &str| {
        run.stderr
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{file} ")))
            .unwrap_or_else(|| panic!("{file} not listed\n{run}"))
            .to_string()
    };
    assert!(from("multiboot_dma.bin").contains("build tree option ROMs"), "{run}");
    assert!(from("kvmvapic.bin").contains("build tree option ROMs"), "{run}");
    assert!(from("bios-256k.bin").contains("pinned firmware"), "{run}");
    assert!(from("efi-e1000e.rom").contains("pinned firmware"), "{run}");
    assert!(
        run.stderr
            .contains(&format!("(source {})", tree_dir.path().join("src").display())),
        "{run}"
    );
}

#[test]
fn a_build_tree_missing_a_rom_fails_in_seconds_naming_it() {
    let Some(fx) = fixtures("a_build_tree_missing_a_rom_fails_in_seconds_naming_it") else {
        return;
    };
    let tree_dir = qemu_build_tree(fx, Some("multiboot_dma.bin"));
    let binary = tree_dir.path().join("build/qemu-system-x86_64");
    let db = baseline(fx);
    // --qemu inside a meson build directory is taken as that tree.
    let args = ["check", "--qemu"]
        .map(OsString::from)
        .into_iter()
        .chain([binary.into()])
        .chain(["--db", &db.to_string_lossy(), "--machine", Q35, "--profile", "default"].map(OsString::from));
    let started = std::time::Instant::now();
    let run = machine_abi(args, &pinned_env(fx));
    let took = started.elapsed();
    run.expect_code(2);
    let line = could_not_check_line(&run, Q35);
    assert!(
        line.contains("multiboot_dma.bin") && line.contains("not booted"),
        "{line}\n{run}"
    );
    assert!(run.stderr.contains("MISSING from every data directory"), "{run}");
    assert!(took < Duration::from_secs(30), "took {took:?}\n{run}");

    // A file QEMU misses although machine-abi found it (the wrapper runs
    // the boots with other data directories): QEMU 10 warns on stderr and
    // runs on without it; the boot ends at once with the file named.
    let data = tempfile::tempdir_in(&fx.work).unwrap();
    for dir in [
        fx.dir.join("firmware"),
        fx.dir.join(Release::V10_0.dir()).join("usr/share/qemu"),
    ] {
        for e in fs::read_dir(&dir).unwrap().flatten() {
            let to = data.path().join(e.file_name());
            if e.file_name() != "multiboot_dma.bin" && !to.exists() {
                std::os::unix::fs::symlink(e.path(), to).unwrap();
            }
        }
    }
    let mut envs = wrapper_env(fx, "qemu-loses-rom.sh", Release::V10_0);
    envs.push(("MABI_WRAPPER_DATA", data.path().into()));
    let started = std::time::Instant::now();
    let run = assert_check_fails(
        fx,
        Probe::Bare,
        Some(shim(fx)),
        &["--profile", "default"],
        &envs,
        "multiboot_dma.bin",
    );
    let took = started.elapsed();
    let line = could_not_check_line(&run, Q35);
    assert!(line.contains("boot ended at once"), "{line}\n{run}");
    assert!(
        !run.stderr.contains("retrying"),
        "a missing file is not transient: {run}"
    );
    assert!(
        took < Duration::from_secs(30),
        "took {took:?}: the 120 s boot timeout was waited for\n{run}"
    );
}

/// The command lines of README.md's "A QEMU developer's loop" (its indented
/// code lines), in order.
fn readme_developer_loop_lines() -> Vec<String> {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("A QEMU developer's loop"))
        .expect("README.md has the section \"A QEMU developer's loop\"");
    section
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .map(str::to_string)
        .collect()
}

/// Run one README line with `sh -c` in `dir`, machine-abi first on PATH.
fn run_readme_line(line: &str, dir: &Path, envs: &[(&str, OsString)]) -> Run {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", line]).current_dir(dir).env("PATH", path);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        args: vec![line.into()],
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A git repository whose commits "build" a QEMU tree in build/ (untracked,
/// with a Makefile as configure leaves one): each commit's build.sh copies
/// one release's binary, modules and option ROMs, or fails to compile, or
/// leaves a ROM out. Returns the repository and its commits, oldest first.
fn bisect_repo(fx: &Fixtures, steps: &[(&str, &str)]) -> (tempfile::TempDir, Vec<String>) {
    let repo = tempfile::tempdir_in(&fx.work).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .current_dir(repo.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    fs::write(repo.path().join(".gitignore"), "build/\n").unwrap();
    let build = repo.path().join("build");
    fs::create_dir_all(&build).unwrap();
    fs::write(build.join("build.ninja"), "# ninja\n").unwrap();
    fs::write(
        build.join("Makefile"),
        "qemu-system-x86_64: FORCE\n\tsh ../build.sh\nFORCE:\n",
    )
    .unwrap();
    let mut commits = Vec::new();
    for (what, release) in steps {
        let share = fx.dir.join(format!("qemu-{release}/usr/share/qemu"));
        let binary = fx.dir.join(format!("qemu-{release}/usr/bin/qemu-system-x86_64"));
        // A build with modules (Debian's 7.2 has TCG as one) leaves them
        // next to the binary.
        let modules = fx.dir.join(format!("qemu-{release}/usr/lib/x86_64-linux-gnu/qemu"));
        let omit = if *what == "missing-rom" {
            "multiboot_dma.bin"
        } else {
            ""
        };
        let script = if *what == "no-build" {
            "echo 'error: a compile error' >&2\nexit 1\n".to_string()
        } else {
            format!(
                "set -e\ncp '{}' qemu-system-x86_64\nrm -rf pc-bios\nmkdir -p pc-bios/optionrom\n\
                 for f in kvmvapic.bin linuxboot_dma.bin multiboot_dma.bin; do\n  \
                 [ \"$f\" = '{omit}' ] || cp '{}'/\"$f\" pc-bios/optionrom/\ndone\n\
                 rm -f ./*.so\ncp '{}'/*.so .\n",
                binary.display(),
                share.display(),
                modules.display()
            )
        };
        fs::write(repo.path().join("build.sh"), script).unwrap();
        git(&["add", "-A"]);
        git(&["commit", "-q", "--allow-empty", "-m", &format!("{what} ({release})")]);
        commits.push(git(&["rev-parse", "HEAD"]));
    }
    (repo, commits)
}

#[test]
fn readme_developer_loop_lines_run() {
    let Some(fx) = fixtures("readme_developer_loop_lines_run") else {
        return;
    };
    let lines = readme_developer_loop_lines();
    assert_eq!(lines.len(), 2, "README's developer loop lines changed: {lines:?}");
    let mut envs = pinned_env(fx);

    // 1. The check of a build tree at ~/qemu/build against the project's
    //    abi-db (run in the repository): QEMU 10.0.2 on pc-q35-7.2 with every
    //    profile fails on F1 (abi-db/FINDINGS.md), the ESP of the storage profile.
    let home = tempfile::tempdir_in(&fx.work).unwrap();
    let tree_dir = qemu_build_tree(fx, None);
    fs::create_dir_all(home.path().join("qemu")).unwrap();
    fs::rename(tree_dir.path().join("build"), home.path().join("qemu/build")).unwrap();
    envs.push(("HOME", home.path().into()));
    let check = &lines[0];
    assert!(
        check.starts_with("machine-abi check --qemu-build ~/qemu/build"),
        "{check}"
    );
    let run = run_readme_line(check, Path::new(env!("CARGO_MANIFEST_DIR")), &envs);
    run.expect_code(1);
    assert!(run.stdout.contains("pc-q35-7.2 (storage)"), "{run}");
    assert!(run.stdout.contains("am53c974 esp.drq_state"), "F1 is reported\n{run}");
    assert!(run.stderr.contains("build tree option ROMs"), "{run}");

    // --bisect alone: a tree missing a ROM is "could not check", 125.
    let broken = qemu_build_tree(fx, Some("multiboot_dma.bin"));
    let db = baseline(fx);
    let mut args: Vec<OsString> = ["check", "--bisect", "--qemu-build"].map(OsString::from).into();
    args.extend([
        broken.path().join("build").into(),
        "--db".into(),
        db.into(),
        "--machine".into(),
        Q35.into(),
    ]);
    machine_abi(&args, &pinned_env(fx)).expect_code(125);

    // 2. git bisect run over a history where QEMU 7.2 (clean against the 7.2
    //    baseline) turns into 10.0.2 (drift), with a commit that does not
    //    build and one whose tree lacks a ROM on the way: both skipped, and
    //    the first 10.0.2 commit found.
    let steps = [
        ("good", "7.2"),
        ("no-build", "7.2"),
        ("missing-rom", "7.2"),
        ("good", "7.2"),
        ("bad", "10.0"),
        ("bad", "10.0"),
    ];
    let mut envs = pinned_env(fx);
    envs.push(("ABI_DB", db.into()));
    let bisect = &lines[1];
    assert!(bisect.starts_with("git bisect run "), "{bisect}");
    // `git bisect run` of the README line from `good` to `bad`: its output
    // and `git bisect log`.
    let bisect_run = |steps: &[(&str, &str)], good: usize, bad: usize| {
        let (repo, commits) = bisect_repo(fx, steps);
        let git = |args: &[&str]| {
            Command::new("git")
                .args(args)
                .current_dir(repo.path())
                .output()
                .unwrap()
        };
        assert!(git(&["bisect", "start", &commits[bad], &commits[good]])
            .status
            .success());
        let run = run_readme_line(bisect, repo.path(), &envs);
        let log = String::from_utf8_lossy(&git(&["bisect", "log"]).stdout).into_owned();
        let _ = git(&["bisect", "reset"]);
        (run, log, commits)
    };
    let (run, log, commits) = bisect_run(&steps, 0, 5);
    run.expect_code(0);
    assert!(
        run.stdout.contains(&format!("{} is the first bad commit", commits[4])),
        "the first 10.0.2 commit must be found\n{run}\n{log}"
    );
    // Each skip is git's answer to exit 125 (a build that failed, or a check
    // that could not check), never a good or bad verdict. Which of the two
    // git visits here depends on its search; at least one is.
    for c in [&commits[1], &commits[2]] {
        assert!(
            !log.contains(&format!("git bisect good {c}")) && !log.contains(&format!("git bisect bad {c}")),
            "{c} must be skipped, not judged\n{log}"
        );
    }
    assert!(
        log.contains(&format!("git bisect skip {}", commits[1]))
            || log.contains(&format!("git bisect skip {}", commits[2])),
        "{log}"
    );
    // Between a good and a bad commit only the two that cannot be checked:
    // git must visit both, and skip both.
    let (run, log, commits) = bisect_run(
        &steps[..3].iter().chain(&steps[4..5]).copied().collect::<Vec<_>>(),
        0,
        3,
    );
    for (c, what) in [
        (&commits[1], "the commit that does not build"),
        (&commits[2], "the tree without a ROM"),
    ] {
        assert!(
            log.contains(&format!("git bisect skip {c}")),
            "{what} ({c}) must be skipped\n{run}\n{log}"
        );
    }
    assert!(
        run.stdout.contains("only 'skip'ped commits left"),
        "nothing was judged, so git cannot tell\n{run}\n{log}"
    );
}

#[test]
fn gitlab_ci_doc_check_job_runs() {
    let Some(fx) = fixtures("gitlab_ci_doc_check_job_runs") else {
        return;
    };
    let doc = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/gitlab-ci.md")).unwrap();
    for want in [
        "extends:",
        ".native_build_job_template",
        "TARGETS: x86_64-softmmu",
        "junit: abi-junit.xml",
    ] {
        assert!(doc.contains(want), "docs/gitlab-ci.md lost {want:?}");
    }
    let line = doc
        .lines()
        .find_map(|l| l.trim().strip_prefix("- machine-abi/bin/machine-abi check "))
        .map(|rest| format!("machine-abi/bin/machine-abi check {rest}"))
        .expect("the check job's command line");
    // The job's working directory: QEMU's checkout with build/ from the
    // build job, machine-abi/bin and machine-abi/abi-db from the other.
    let job = qemu_build_tree(fx, None);
    fs::create_dir_all(job.path().join("machine-abi/bin")).unwrap();
    std::os::unix::fs::symlink(BIN, job.path().join("machine-abi/bin/machine-abi")).unwrap();
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("abi-db"),
        job.path().join("machine-abi/abi-db"),
    )
    .unwrap();
    let run = run_readme_line(&line, job.path(), &pinned_env(fx));
    // QEMU 10.0.2 breaks F1 (abi-db/FINDINGS.md) with the storage profile.
    run.expect_code(1);
    let junit = fs::read_to_string(job.path().join("abi-junit.xml")).unwrap();
    assert!(junit.starts_with("<?xml"), "{junit}");
    for m in [Q35, I440FX] {
        for p in ["default", "virtio", "legacy-nic", "storage", "usb"] {
            let case = format!("classname=\"machine-abi.{p}\" name=\"{m}\"");
            assert!(
                junit.contains(&case),
                "{m} ({p}) missing from the JUnit report\n{junit}"
            );
        }
    }
    assert!(junit.contains("<failure") && junit.contains("esp.drq_state"), "{junit}");
    // Only the storage profile fails (F1); the modules of the tree give the
    // virtio profile its virtio-gpu-pci.
    assert!(junit.contains("failures=\"2\""), "{junit}");
}

#[test]
fn bisect_maps_could_not_check_to_125_and_nothing_else() {
    // No QEMU needed: a database that is not there is "could not check".
    let missing = ["list", "--db", "/nonexistent/abi-db"];
    machine_abi(missing, &[]).expect_code(2);
    let run = machine_abi(["--bisect"].iter().chain(&missing), &[]);
    run.expect_code(125);
    assert!(
        run.stderr.contains("not an abi-db"),
        "the reason is still printed\n{run}"
    );
    machine_abi(missing, &[("MACHINE_ABI_BISECT", "1".into())]).expect_code(125);
    machine_abi(missing, &[("MACHINE_ABI_BISECT", "0".into())]).expect_code(2);
    // A usage error must not mark a commit bad either.
    machine_abi(["check", "--bisect", "--no-such-option"], &[]).expect_code(125);
    machine_abi(["check", "--no-such-option"], &[]).expect_code(2);
    // Clean (0) and drift (1) keep their meaning: `explain` of a known rule is 0.
    machine_abi(["--bisect", "explain", "host-vmstate-backward-version"], &[]).expect_code(0);
    // A panic is machine-abi's failure, not the commit's: 125, never the
    // 101 git bisect would read as bad. `explain` panics on a stdout whose
    // reader is gone (println! on EPIPE).
    let with_dead_stdout = |bisect: bool| {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let mut cmd = Command::new(BIN);
        if bisect {
            cmd.arg("--bisect");
        }
        let out = cmd
            .args(["explain", "host-vmstate-backward-version"])
            .env_remove("MACHINE_ABI_BISECT")
            .stdout(writer)
            .output()
            .expect("run machine-abi");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, stderr) = with_dead_stdout(false);
    assert_eq!(code, Some(101), "the panic this relies on\n{stderr}");
    let (code, stderr) = with_dead_stdout(true);
    assert_eq!(code, Some(125), "{stderr}");
    assert!(stderr.contains("machine-abi: panicked: exit 125"), "{stderr}");
}

#[test]
fn bisect_calls_a_break_bad_even_when_another_pair_could_not_be_checked() {
    let Some(fx) = fixtures("bisect_calls_a_break_bad_even_when_another_pair_could_not_be_checked") else {
        return;
    };
    // Only the storage profile is known to this run: the database's other
    // profiles of pc-q35-7.2 cannot be checked (2), while storage breaks
    // on F1 (abi-db/FINDINGS.md) with QEMU 10.0.2.
    let profiles = tempfile::tempdir().expect("temp dir");
    fs::copy(
        Path::new(REPO).join("profiles/storage.toml"),
        profiles.path().join("storage.toml"),
    )
    .expect("copy");
    let mut args = vec![OsString::from("check")];
    args.extend(fx.boot_args(Release::V10_0, None));
    args.extend(["--db".into(), Path::new(REPO).join("abi-db").into()]);
    args.extend(["--profile-dir".into(), profiles.path().into()]);
    args.extend(["--machine", Q35, "--format", "json"].map(OsString::from));
    let run = machine_abi(&args, &[]);
    // Without --bisect, 2 wins over 1 (README, Exit status).
    run.expect_code(2);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    let breaks = report["drifts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["profile"] == "storage" && d["severity"] == "break" && d["waiver"].is_null())
        .count();
    assert!(breaks > 0, "{run}");
    assert!(run.stdout.contains("unknown to this machine-abi"), "{run}");
    // Under --bisect the break is the verdict: bad, not skip.
    args.insert(0, "--bisect".into());
    let run = machine_abi(&args, &[]);
    run.expect_code(1);
    assert!(!run.stderr.contains("git bisect skips"), "{run}");
}

#[test]
fn migration_proves_f1_and_a_clean_control() {
    let Some(fx) = fixtures("migration_proves_f1_and_a_clean_control") else {
        return;
    };
    // QEMU 10.0.2 against the project's abi-db, the real 7.2.22 as the
    // baseline release's binary: every vmstate finding is migrated for real.
    let db = Path::new(env!("CARGO_MANIFEST_DIR")).join("abi-db");
    let mut args = vec![OsString::from("check")];
    args.extend(fx.boot_args(Release::V10_0, None));
    args.extend(["--db".into(), db.into()]);
    args.extend(
        [
            "--machine",
            Q35,
            "--profile",
            "storage",
            "--profile",
            "default",
            "--format",
            "json",
        ]
        .map(OsString::from),
    );
    args.extend(["--baseline-qemu".into(), fx.qemu(Release::V7_2).into()]);
    let run = machine_abi(&args, &[]);
    run.expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    let drift = |profile: &str, path: &str| {
        report["drifts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["profile"] == profile && d["path"] == path)
            .unwrap_or_else(|| panic!("no drift {path} for {profile}\n{run}"))
            .clone()
    };
    // F1 (abi-db/FINDINGS.md): forward, the 7.2 stream does not load on 10.0.2.
    let fwd = drift("storage", "host.vmstate.forward.\"am53c974 esp.drq_state\"");
    let detail = fwd["detail"].as_str().unwrap_or("");
    assert!(
        detail.starts_with("proven: migration 7.2.22 → 10.0.2 of a never-started guest: load fails (")
            && detail.contains("Missing section footer for ")
            && detail.contains("/pciespscsi"),
        "{detail}\n{run}"
    );
    assert_eq!(fwd["severity"], "break");
    // Backward the stream loads: the byte count matches by coincidence, and
    // 7.2 misreads two fields (F1), so the finding stays a warning.
    let back = drift("storage", "host.vmstate.backward.\"am53c974 esp.drq_state\"");
    let detail = back["detail"].as_str().unwrap_or("");
    assert!(
        detail.starts_with("proven: migration 10.0.2 → 7.2.22 of a never-started guest: loaded"),
        "{detail}\n{run}"
    );
    assert_eq!(back["severity"], "warn");
    // The storage profile's nvme refuses migration altogether: left out, and said so.
    assert!(detail.contains("without nvme: not migratable"), "{detail}");
    // The control: the default profile migrates both ways.
    let control = run
        .stderr
        .lines()
        .find(|l| l.starts_with(&format!("machine-abi: {Q35} (default): proven:")))
        .unwrap_or_else(|| panic!("no migration of the default profile\n{run}"));
    assert!(
        control.contains("7.2.22 → 10.0.2 of a never-started guest: loaded;")
            && control.ends_with("10.0.2 → 7.2.22 of a never-started guest: loaded"),
        "{control}"
    );
}

#[test]
fn a_backward_break_proven_by_migration_fails_the_check() {
    let Some(fx) = fixtures("a_backward_break_proven_by_migration_fails_the_check") else {
        return;
    };
    // QEMU 11.1.3 (trixie-backports, run in its own root) made nvme
    // migratable (vmstate version 1); 10.0.2's nvme blocks migration
    // (version 0). Rolling pc-q35-10.0 with the storage profile back from
    // 11.1.3 to 10.0.2 fails on nvme: proven, a break.
    let qemu = fx.dir.join("qemu-11.1/usr/bin/qemu-system-x86_64");
    let sysroot = fx.dir.join("sysroot-trixie-backports");
    if !testkit::require(
        "a_backward_break_proven_by_migration_fails_the_check",
        &[&qemu, &sysroot],
    ) {
        return;
    }
    let db = Path::new(env!("CARGO_MANIFEST_DIR")).join("abi-db");
    let mut args: Vec<OsString> = vec![
        "check".into(),
        "--qemu".into(),
        qemu.into(),
        "--sysroot".into(),
        sysroot.into(),
    ];
    args.extend(["--data-dir".into(), fx.dir.join("firmware").into()]);
    args.extend(["--data-dir".into(), fx.dir.join("qemu-11.1/usr/share/qemu").into()]);
    args.extend(["--db".into(), db.into(), "-j".into(), "2".into()]);
    args.extend(["--machine", "pc-q35-10.0", "--profile", "storage", "--format", "json"].map(OsString::from));
    args.extend(["--baseline-qemu".into(), fx.qemu(Release::V10_0).into()]);
    let run = machine_abi(&args, &[]);
    run.expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    let drifts = report["drifts"].as_array().unwrap();
    let find = |path: &str| {
        drifts
            .iter()
            .find(|d| d["path"] == path)
            .unwrap_or_else(|| panic!("no drift {path}\n{run}"))
    };
    let nvme = find("host.vmstate.backward.nvme");
    assert_eq!(nvme["rule"], "host-vmstate-backward-version", "{nvme}");
    assert_eq!(nvme["severity"], "break");
    // Reviewed: 10.0's nvme was not migratable at all, so no VM with one
    // could roll back before either (abi-db/waivers.toml).
    assert_eq!(nvme["waiver"], "nvme-was-unmigratable-backward", "{nvme}");
    let detail = nvme["detail"].as_str().unwrap_or("");
    assert!(
        detail.starts_with("proven: migration 11.1.3 → 10.0.2 of a never-started guest: load fails (")
            && detail.contains("non-migratable device")
            && detail.contains("/nvme"),
        "{detail}"
    );
    // Forward, 10.0.2 refuses to migrate nvme at all: the migration went
    // without it, so its finding is unproven, not "loaded".
    let forward = find("host.vmstate.forward.nvme");
    let detail = forward["detail"].as_str().unwrap_or("");
    assert!(
        detail.starts_with("unproven (device not migrated: 10.0.2 refuses to migrate nvme (0000:00:0b.0/nvme); ")
            && !detail.contains("proven:"),
        "{detail}"
    );
    // The same failed migration proves nothing about another device's finding.
    let scsi = find("host.vmstate.backward.\"scsi-hd scsi-disk/pr/\"");
    assert_eq!(scsi["severity"], "warn", "{scsi}");
    assert!(
        scsi["detail"]
            .as_str()
            .unwrap_or("")
            .ends_with("proves nothing about this one"),
        "{scsi}"
    );
}

#[test]
fn the_baseline_binary_gets_its_own_data_dirs_checked_before_any_boot() {
    let Some(fx) = fixtures("the_baseline_binary_gets_its_own_data_dirs_checked_before_any_boot") else {
        return;
    };
    let db = Path::new(env!("CARGO_MANIFEST_DIR")).join("abi-db");
    let empty = tempfile::tempdir().expect("temp dir");
    let base = |baseline: Vec<OsString>| {
        let mut args = vec![OsString::from("check")];
        // The build's data directories are complete: only the baseline's lack files.
        args.extend(fx.boot_args(Release::V10_0, None));
        args.extend(["--db".into(), db.clone().into_os_string()]);
        args.extend(["--machine", Q35, "--profile", "legacy-nic"].map(OsString::from));
        args.extend(["--baseline-qemu".into(), fx.qemu(Release::V7_2).into()]);
        args.extend(baseline);
        args
    };
    // A baseline data directory without the BIOS: refused before any boot,
    // the file named, though the build's --data-dir has it.
    let started = std::time::Instant::now();
    let run = machine_abi(base(vec!["--baseline-data-dir".into(), empty.path().into()]), &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("bios-256k.bin (BIOS, for ") && run.stderr.contains("is in none of its data directories"),
        "{run}"
    );
    assert!(!run.stderr.contains(&format!("] {Q35} (")), "something booted\n{run}");
    assert!(started.elapsed().as_secs() < 60, "{:?}\n{run}", started.elapsed());
    // The BIOS alone is not enough: legacy-nic's NICs load their option ROMs.
    for (from, file) in [
        ("firmware", "bios-256k.bin"),
        ("firmware", "vgabios-stdvga.bin"),
        ("qemu-7.2/usr/share/qemu", "kvmvapic.bin"),
    ] {
        std::fs::copy(fx.dir.join(from).join(file), empty.path().join(file)).expect("copy");
    }
    let run = machine_abi(base(vec!["--baseline-data-dir".into(), empty.path().into()]), &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("efi-e1000.rom (option ROM of e1000 (nic0), for "),
        "{run}"
    );
    // A root without a dynamic loader, and a directory that is not there,
    // are refused as for --sysroot and --data-dir.
    let run = machine_abi(base(vec!["--baseline-sysroot".into(), empty.path().into()]), &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("no dynamic loader"), "{run}");
    let run = machine_abi(
        base(vec!["--baseline-data-dir".into(), empty.path().join("gone").into()]),
        &[],
    );
    run.expect_code(2);
    assert!(run.stderr.contains("gone does not exist"), "{run}");
}

/// A QEMU build of another Debian suite (scripts/fetch-suites): its
/// directory under the fixtures and the sysroot it runs in.
struct SuiteBuild {
    dir: &'static str,
    sysroot: Option<&'static str>,
}

const QEMU_5_2: SuiteBuild = SuiteBuild {
    dir: "qemu-5.2",
    sysroot: Some("sysroot-bullseye"),
};
const QEMU_7_2: SuiteBuild = SuiteBuild {
    dir: "qemu-7.2",
    sysroot: None,
};
const QEMU_10_0_2: SuiteBuild = SuiteBuild {
    dir: "qemu-10.0",
    sysroot: None,
};
const QEMU_10_0_13: SuiteBuild = SuiteBuild {
    dir: "qemu-10.0-trixie",
    sysroot: Some("sysroot-trixie"),
};
const QEMU_11_1: SuiteBuild = SuiteBuild {
    dir: "qemu-11.1",
    sysroot: Some("sysroot-trixie-backports"),
};

impl SuiteBuild {
    fn needs(&self, fx: &Path) -> Vec<PathBuf> {
        let mut v = vec![
            fx.join(self.dir).join("usr/bin/qemu-system-x86_64"),
            fx.join(self.dir).join("usr/share/qemu"),
        ];
        v.extend(self.sysroot.map(|s| fx.join(s).join("lib64/ld-linux-x86-64.so.2")));
        v
    }

    /// `--qemu`, `--sysroot` and `--data-dir` of this build (bare probe).
    fn boot_args(&self, fx: &Path) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["--qemu".into()];
        a.push(fx.join(self.dir).join("usr/bin/qemu-system-x86_64").into());
        if let Some(s) = self.sysroot {
            a.extend(["--sysroot".into(), fx.join(s).into()]);
        }
        a.extend(["--data-dir".into(), fx.join("firmware").into()]);
        a.extend(["--data-dir".into(), fx.join(self.dir).join("usr/share/qemu").into()]);
        a
    }

    /// `check` of this build against the project's abi-db, bare probe, JSON.
    fn check(&self, fx: &Path, extra: &[&str]) -> (Run, serde_json::Value) {
        let mut a: Vec<OsString> = vec!["check".into()];
        a.extend(self.boot_args(fx));
        a.extend(["--db".into(), Path::new(REPO).join("abi-db").into()]);
        a.extend(["--format".into(), "json".into()]);
        a.extend(extra.iter().map(OsString::from));
        let run = machine_abi(a, &[]);
        let report = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
        (run, report)
    }
}

/// The multi-release database on real builds of four releases (CI's subset
/// of the history checks, README "Other Debian releases"): a 5.2-era machine
/// type is clean on QEMU 5.2 (its own records, run through the bullseye
/// sysroot), and on 7.2, 10.0.2 and 11.1 (trixie-backports sysroot) every
/// change the check reports is waived or a finding of abi-db/FINDINGS.md,
/// the exit status following from that; an 11.1-era type is clean on 11.1.
#[test]
fn multi_release_history_is_explained() {
    let test = "multi_release_history_is_explained";
    let fx = fixture_dir();
    let mut needed = vec![fx.join("firmware/bios-256k.bin")];
    for b in [&QEMU_5_2, &QEMU_7_2, &QEMU_10_0_2, &QEMU_11_1] {
        needed.extend(b.needs(&fx));
    }
    if !testkit::require(test, &needed) {
        return;
    }
    let findings = findings();
    let one = ["--machine", "pc-i440fx-5.2", "--profile", "default", "-j", "2"];
    // Its own release: nothing at all beyond info.
    let (run, report) = QEMU_5_2.check(&fx, &one);
    assert_eq!(report["qemu"]["version"], "5.2.0", "{run}");
    run.expect_code(0);
    assert_eq!(report["summary"]["checked"], 1, "{run}");
    let loud: Vec<&serde_json::Value> = report["drifts"]
        .as_array()
        .expect("drifts")
        .iter()
        .filter(|d| d["severity"] != "info")
        .collect();
    assert!(loud.is_empty(), "5.2 against its own records: {loud:#?}");
    // Later releases: explained, and failing exactly when a break is left.
    for b in [&QEMU_7_2, &QEMU_10_0_2, &QEMU_11_1] {
        let (run, report) = b.check(&fx, &one);
        assert_eq!(report["summary"]["checked"], 1, "{run}");
        assert_eq!(
            report["results"][0]["baseline_qemu_version"], "5.2.0",
            "{}: the baseline of pc-i440fx-5.2 is its 5.2 record\n{run}",
            b.dir
        );
        let qemu = report["qemu"]["version"].as_str().unwrap_or("").to_string();
        let mut unexplained = Vec::new();
        let mut unwaived_breaks = 0;
        for d in report["drifts"].as_array().expect("drifts") {
            if d["waiver"].is_string() || d["severity"] == "info" {
                continue;
            }
            let (rule, path) = (d["rule"].as_str().unwrap_or(""), d["path"].as_str().unwrap_or(""));
            unwaived_breaks += usize::from(d["severity"] == "break");
            if !findings.iter().any(|f| f.explains(rule, path, &qemu)) {
                unexplained.push(format!("{} {rule} {path}: {} -> {}", d["severity"], d["old"], d["new"]));
            }
        }
        assert!(
            unexplained.is_empty(),
            "QEMU {qemu}: drift neither waived in abi-db/waivers.toml nor listed in abi-db/FINDINGS.md:\n{}",
            unexplained.join("\n")
        );
        run.expect_code(if unwaived_breaks > 0 { 1 } else { 0 });
    }
    // A machine type only 11.1 has recorded: clean on its own build.
    let (run, report) = QEMU_11_1.check(&fx, &["--machine", "pc-q35-10.1", "--profile", "default"]);
    assert_eq!(report["results"][0]["baseline_qemu_version"], "11.1.3", "{run}");
    run.expect_code(0);
}
