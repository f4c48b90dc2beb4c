//! `machine-abi verify` reads a whole database and names every bad file;
//! `machine-abi gc` lists (and with --delete removes) unreferenced blobs.

use crate::db::db_with_pending;
use crate::{arg, db_copy, machine_abi, tree, OLD_DB};
use std::path::Path;

fn blob_files(db: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = walkdir::WalkDir::new(db.join("blobs"))
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    v.sort();
    v
}

#[test]
fn a_sound_database_verifies() {
    let dir = db_with_pending();
    let run = machine_abi(&["verify", "--db", arg(dir.path())]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout.contains(": 4 records, 4 pending records, ") && run.stdout.contains("; 0 problem(s)"),
        "{run}"
    );
}

#[test]
fn verify_names_every_bad_file() {
    let dir = db_with_pending();
    let db = dir.path();
    let blobs = blob_files(db);
    // A blob that rotted, one that is gone, a blob file with a bad name.
    let rotten = &blobs[0];
    let mut bytes = std::fs::read(rotten).expect("read");
    bytes.push(0);
    std::fs::write(rotten, bytes).expect("write");
    let gone = &blobs[blobs.len() / 2];
    std::fs::remove_file(gone).expect("rm");
    let stray = db.join("blobs/00/not-a-blob");
    std::fs::create_dir_all(stray.parent().expect("parent")).expect("mkdir");
    std::fs::write(&stray, "x").expect("write");
    // A record that does not parse, a pending record copied over another
    // machine type's place, a file where no record can be.
    let records = db.join("records/x86_64");
    let broken = records.join("pc-i440fx-7.2/virtio/7.2.22.toml");
    std::fs::write(&broken, "schema = 1\n[provenance\n").expect("write");
    let moved = records.join("pc-i440fx-7.2/default/10.0.2.pending.toml");
    std::fs::copy(records.join("pc-q35-7.2/default/10.0.2.pending.toml"), &moved).expect("copy");
    let misplaced = records.join("pc-q35-7.2/notes.toml");
    std::fs::write(&misplaced, "").expect("write");
    // Waivers that do not load.
    std::fs::write(db.join("waivers.toml"), "[[waiver]]\nid = \"x\"\n").expect("write");
    // A dead writer's temporary file.
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let dead = child.id();
    child.wait().expect("wait");
    let temp = records.join(format!("pc-q35-7.2/default/.7.2.22.toml.tmp-{dead}"));
    std::fs::write(&temp, "half").expect("write");

    let before = tree(db);
    let run = machine_abi(&["verify", "--db", arg(db)]);
    assert_eq!(run.code, Some(2), "{run}");
    let bad: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("BAD ")).collect();
    let named = |p: &Path| bad.iter().any(|l| l.contains(arg(p)));
    for p in [
        rotten,
        gone,
        &stray,
        &broken,
        &moved,
        &misplaced,
        &db.join("waivers.toml"),
        &temp,
    ] {
        assert!(named(p), "{} not named:\n{run}", p.display());
    }
    let rotten_line = bad.iter().find(|l| l.contains(arg(rotten))).expect("rotten");
    assert!(
        rotten_line.contains("corrupt") && rotten_line.contains("used by "),
        "{rotten_line}"
    );
    let gone_line = bad.iter().find(|l| l.contains(arg(gone))).expect("gone");
    assert!(
        gone_line.contains("missing; used by ") && gone_line.contains("records/x86_64/"),
        "{gone_line}"
    );
    assert_eq!(bad.len(), 8, "{run}");
    assert_eq!(tree(db), before, "verify must not change the database");
}

#[test]
fn gc_lists_then_removes_only_unreferenced_blobs() {
    let dir = db_copy(OLD_DB);
    let db = dir.path();
    // A blob no record refers to (well named, sound bytes).
    let data = b"left over by a rejected pending record";
    let id = abi_model::blob::BlobId::of(data).as_str().to_string();
    let orphan = db.join("blobs").join(&id[..2]).join(&id);
    std::fs::create_dir_all(orphan.parent().expect("parent")).expect("mkdir");
    std::fs::write(&orphan, data).expect("write");
    let before = tree(db);

    let dry = machine_abi(&["gc", "--db", arg(db)]);
    assert_eq!(dry.code, Some(0), "{dry}");
    assert!(
        dry.stdout.contains(&format!("unreferenced {}", orphan.display())),
        "{dry}"
    );
    assert!(dry.stdout.contains("1 unreferenced blob(s)"), "{dry}");
    assert_eq!(tree(db), before, "a dry run removed something");

    let run = machine_abi(&["gc", "--db", arg(db), "--delete"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(!orphan.exists(), "{run}");
    let mut expected = before.clone();
    expected.retain(|(p, _)| !p.ends_with(&id));
    assert_eq!(tree(db), expected, "gc removed more than the orphan");
    let verify = machine_abi(&["verify", "--db", arg(db)]);
    assert_eq!(verify.code, Some(0), "{verify}");

    // While a record is unreadable, nothing is collected.
    std::fs::write(db.join("records/x86_64/pc-q35-7.2/default/7.2.22.toml"), "garbage").expect("write");
    let refused = machine_abi(&["gc", "--db", arg(db), "--delete"]);
    assert_eq!(refused.code, Some(2), "{refused}");
    assert!(refused.stderr.contains("7.2.22.toml"), "{refused}");
}
