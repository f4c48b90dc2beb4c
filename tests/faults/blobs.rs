//! Blobs are verified on every read: one whose bytes no longer match its
//! blake3 name (or that is gone) turns the comparison of every machine type
//! that needs it into "could not check" (exit 2), naming the blob and the
//! record, instead of silently dropping the decoded detail.

use crate::db::db_with_pending;
use crate::{arg, db_copy, machine_abi, tree, NEW_DB, OLD_DB};
use abi_model::blob::BlobId;
use abi_store::Db;
use std::path::{Path, PathBuf};

/// The DSDT blob of pc-q35-7.2 (default) in the database at `db`, and its
/// record file. Its bytes differ from 10.0.2's, so comparisons read it.
fn q35_dsdt(db: &Path) -> (PathBuf, PathBuf) {
    let db = Db::open(db).expect("db");
    let key = db
        .index()
        .expect("index")
        .into_iter()
        .find(|k| k.machine.0 == "pc-q35-7.2" && k.profile == "default")
        .expect("pc-q35-7.2 default");
    let record = db.load(&key).expect("record");
    let acpi = record.facts.acpi.available().expect("acpi");
    let id: &BlobId = &acpi["DSDT"].available().expect("DSDT").blob;
    let blob = db.root().join("blobs").join(&id.as_str()[..2]).join(id.as_str());
    assert!(blob.is_file());
    (blob, db.record_path(&key))
}

/// Flip one byte of a file.
fn rot(file: &Path) {
    let mut bytes = std::fs::read(file).expect("read");
    bytes[40] ^= 0x20;
    std::fs::write(file, bytes).expect("write");
}

#[test]
fn diff_with_a_corrupt_blob_could_not_check() {
    let dir = db_copy(OLD_DB);
    let (blob, record) = q35_dsdt(dir.path());
    rot(&blob);
    let run = machine_abi(&["diff", arg(dir.path()), NEW_DB]);
    assert_eq!(run.code, Some(2), "{run}");
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("pc-q35-7.2 (default)") && l.contains("COULD NOT CHECK"))
        .unwrap_or_else(|| panic!("no COULD NOT CHECK line for pc-q35-7.2 (default)\n{run}"));
    assert!(line.contains(arg(&blob)) && line.contains("corrupt"), "{line}");
    assert!(line.contains(arg(&record)), "{line}");
    // Machine types that do not read it are still compared.
    assert!(run.stdout.contains("pc-i440fx-7.2 (default)"), "{run}");
    let json = machine_abi(&["diff", arg(dir.path()), NEW_DB, "--format", "json"]);
    assert_eq!(json.code, Some(2), "{json}");
    assert!(
        json.stdout
            .contains(blob.file_name().and_then(|n| n.to_str()).expect("name")),
        "{json}"
    );
}

#[test]
fn review_and_accept_refuse_a_corrupt_blob() {
    let dir = db_with_pending();
    let (blob, record) = q35_dsdt(dir.path());
    rot(&blob);
    let db = arg(dir.path());
    let review = machine_abi(&["review", "--db", db]);
    assert_eq!(review.code, Some(2), "{review}");
    assert!(
        review.stdout.contains(arg(&blob)) && review.stdout.contains(arg(&record)),
        "{review}"
    );
    let before = tree(dir.path());
    let accept = machine_abi(&["accept", "--db", db, "--reason", "reviewed"]);
    assert_eq!(accept.code, Some(2), "{accept}");
    assert!(accept.stderr.contains(arg(&blob)), "{accept}");
    assert_eq!(tree(dir.path()), before, "accept changed the database: {accept}");
}

#[test]
fn a_missing_blob_is_named() {
    let dir = db_copy(OLD_DB);
    let (blob, record) = q35_dsdt(dir.path());
    std::fs::remove_file(&blob).expect("rm");
    let run = machine_abi(&["diff", arg(dir.path()), NEW_DB]);
    assert_eq!(run.code, Some(2), "{run}");
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains(arg(&record)) && all.contains(blob.file_name().and_then(|n| n.to_str()).expect("name")),
        "{run}"
    );
}
