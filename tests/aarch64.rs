//! aarch64 end to end: `record` and `check` drive real qemu-system-aarch64
//! 7.2.22 and 10.0.2 (scripts/fetch-aarch64) with the cross-built Linux
//! probe (scripts/build-probe --arch aarch64) on virt-7.2, through edk2
//! (profile `default`) and without firmware (profile `direct`).
//!
//! One test, to keep CI short (8 boots): records are byte-identical across
//! two recordings, 7.2 checks clean against its own records, and 10.0.2
//! shows the decoded drift since 7.2 (device tree, ACPI), each change once.
//! A missing fixture skips on a laptop and fails under CI.

mod common;

use common::{assert_same_tree, machine_abi, tree};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

fn aarch64_dir() -> PathBuf {
    common::fixture_dir().join("aarch64")
}

fn probe() -> PathBuf {
    Path::new(common::REPO).join("target/aarch64-unknown-linux-gnu/release/guest-probe")
}

fn qemu(release: &str) -> PathBuf {
    aarch64_dir().join(format!("qemu-{release}/usr/bin/qemu-system-aarch64"))
}

/// `record`/`check` arguments of one release: binary, firmware and data
/// directories, kernel and probe, virt-7.2, profiles default and direct.
fn args(command: &str, release: &str, db: &Path, extra: &[&str]) -> Vec<OsString> {
    let d = aarch64_dir();
    let mut a: Vec<OsString> = vec![command.into(), "--qemu".into(), qemu(release).into()];
    for dir in [d.join("firmware"), d.join(format!("qemu-{release}/usr/share/qemu"))] {
        a.extend(["--data-dir".into(), dir.into()]);
    }
    a.extend(["--kernel".into(), d.join("kernel/vmlinuz").into()]);
    a.extend(["--probe".into(), probe().into()]);
    a.extend(["--db".into(), db.into()]);
    for x in [
        "--machine",
        "virt-7.2",
        "--profile",
        "default",
        "--profile",
        "direct",
        "-j",
        "2",
    ] {
        a.push(x.into());
    }
    a.extend(extra.iter().map(OsString::from));
    a
}

#[test]
fn aarch64_virt_records_reproduce_check_clean_and_show_decoded_drift() {
    let test = "aarch64_virt_records_reproduce_check_clean_and_show_decoded_drift";
    let d = aarch64_dir();
    let needed = [
        qemu("7.2"),
        qemu("10.0"),
        d.join("firmware/AAVMF_CODE.fd"),
        d.join("firmware/AAVMF_VARS.fd"),
        d.join("kernel/vmlinuz"),
        probe(),
    ];
    if !testkit::require(test, &needed) {
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for db in [&a, &b] {
        machine_abi(args("record", "7.2", db, &[]), &[]).expect_code(0);
    }
    let (ta, tb) = (tree(&a), tree(&b));
    assert!(
        ta.keys()
            .any(|k| k.contains("records/aarch64/virt-7.2/default/7.2.22.toml"))
            && ta
                .keys()
                .any(|k| k.contains("records/aarch64/virt-7.2/direct/7.2.22.toml")),
        "records under records/aarch64/: {:?}",
        ta.keys().filter(|k| k.contains("records")).collect::<Vec<_>>()
    );
    assert_same_tree(&ta, &tb, "two recordings of virt-7.2 on 7.2.22");
    let record = std::fs::read_to_string(a.join("records/aarch64/virt-7.2/default/7.2.22.toml")).expect("record");
    for pinned in [
        "\"-cpu\", \"cortex-a57\"",
        "virt-7.2,dtb-randomness=off",
        "$EFI_VARS",
        "edk2-2022.11",
    ] {
        assert!(record.contains(pinned), "record lacks {pinned}");
    }

    // The release that made the records: nothing changed.
    let clean = machine_abi(args("check", "7.2", &a, &[]), &[]);
    clean.expect_code(0);

    // 10.0.2: the real drift since 7.2, decoded, and failing (no waivers here).
    let run = machine_abi(args("check", "10.0", &a, &["--format", "json"]), &[]);
    run.expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON report");
    let drifts = report["drifts"].as_array().expect("drifts");
    let has = |profile: &str, rule: &str, path: &str| {
        drifts
            .iter()
            .any(|x| x["profile"] == profile && x["rule"] == rule && x["path"] == path)
    };
    // Direct boot: the guest's device tree, decoded; phandles not reported.
    assert!(
        has("direct", "dt-node-added", "device_tree.\"/aliases\""),
        "{}",
        run.stdout
    );
    assert!(has("direct", "dt-property-changed", "device_tree.\"/:dma-coherent\""));
    assert!(has(
        "direct",
        "dt-boot-payload",
        "device_tree.\"/chosen:linux,initrd-start\""
    ));
    assert!(!drifts
        .iter()
        .any(|x| x["path"].as_str().is_some_and(|p| p.contains("phandle"))));
    // ... reported once: the host's dumpdtb shows the same change, left out.
    assert!(!has("direct", "dt-node-added", "host.device_tree.\"/aliases\""));
    // UEFI boot: ACPI decoded, and QEMU's tree from the host side.
    assert!(has("default", "acpi-table-revision", "acpi.GTDT.header.revision"));
    assert!(has("default", "dt-node-added", "host.device_tree.\"/aliases\""));
    assert!(has(
        "default",
        "acpi-entry-removed",
        "acpi.PPTT.\"Processor level 1 #1\""
    ));
}
