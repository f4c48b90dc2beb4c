//! `machine-abi decode`: a stream captured by hand. Errors name the path;
//! nothing a guest names can land outside --out; hostile sizes are exit 2,
//! never a panic.

use crate::{arg, machine_abi, real_stream, tree};
use guest_probe::frame::{pack, Entry};

#[test]
fn a_missing_input_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("no-such-serial.log");
    let out = dir.path().join("out");
    let run = machine_abi(&["decode", arg(&log), "--out", arg(&out)]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains(arg(&log)), "{run}");
    assert!(!out.exists(), "{run}");
}

#[test]
fn an_out_that_is_a_file_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("serial.log");
    std::fs::write(&log, real_stream("pc-q35-7.2-default")).expect("write");
    let out = dir.path().join("out.txt");
    std::fs::write(&out, "mine").expect("write");
    let run = machine_abi(&["decode", arg(&log), "--out", arg(&out)]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains(arg(&out)), "{run}");
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "mine");
}

#[test]
fn a_real_stream_decodes() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("serial.log");
    std::fs::write(&log, real_stream("pc-q35-7.2-default")).expect("write");
    let out = dir.path().join("out");
    let run = machine_abi(&["decode", arg(&log), "--out", arg(&out)]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(out.join("facts.toml").is_file(), "{run}");
}

/// A valid stream (real facts and blobs) plus one extra entry.
fn stream_with(name: &str) -> String {
    let dir = crate::repo().join("guest-probe/tests/fixtures/pc-q35-7.2-default");
    let src = guest_probe::source::Fixture::open(&dir).expect("fixture");
    let mut entries = guest_probe::collect::collect(&src, Vec::new()).to_entries();
    entries.push(Entry {
        name: name.into(),
        data: b"written by the guest\n".to_vec(),
    });
    pack(&entries)
}

#[test]
fn entry_names_never_escape_out() {
    for name in [
        "capture/../../../X",
        "capture/a/../../../X",
        "//abs/X",
        "/abs/X",
        "capture//abs/X",
        "capture/./../X",
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("serial.log");
        std::fs::write(&log, stream_with(name)).expect("write");
        let out = dir.path().join("a/b/out");
        let before = tree(dir.path());
        let run = machine_abi(&["decode", arg(&log), "--out", arg(&out)]);
        assert_eq!(run.code, Some(2), "{name}: {run}");
        assert!(run.stderr.contains(name), "{name}: {run}");
        // Nothing written anywhere: not outside --out, not half inside it.
        assert_eq!(tree(dir.path()), before, "{name}: {run}");
        assert!(!std::path::Path::new("/abs/X").exists());
    }
}

#[test]
fn wrapping_entry_lengths_exit_2_not_a_panic() {
    let entries = vec![
        Entry {
            name: "facts.toml".into(),
            data: b"schema = 1\n".to_vec(),
        },
        Entry {
            name: "blobs/x".into(),
            data: vec![7; 100],
        },
    ];
    let text = pack(&entries)
        .replacen(
            "MABI1 ENTRY facts.toml 11 ",
            &format!("MABI1 ENTRY facts.toml {} ", u64::MAX),
            1,
        )
        .replacen("MABI1 ENTRY blobs/x 100 ", "MABI1 ENTRY blobs/x 112 ", 1);
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("serial.log");
    std::fs::write(&log, text).expect("write");
    let run = machine_abi(&["decode", arg(&log), "--out", arg(&dir.path().join("out"))]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains(arg(&log)), "{run}");
}
