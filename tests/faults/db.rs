//! The database under faults: writes are all or nothing, one writer at a
//! time, temporary files never stay, and a failed read is never taken for
//! an empty file.

use crate::{arg, copy_tree, db_copy, machine_abi, repo, tree, NEW_DB, OLD_DB};
use std::path::{Path, PathBuf};

/// The 7.2.22 database with the 10.0.2 observations as pending records,
/// as `check --pending` leaves them, and no waivers.
pub fn db_with_pending() -> tempfile::TempDir {
    let dir = db_copy(OLD_DB);
    let _ = std::fs::remove_file(dir.path().join("waivers.toml"));
    copy_tree(&repo().join(NEW_DB).join("blobs"), &dir.path().join("blobs"));
    for e in walkdir::WalkDir::new(repo().join(NEW_DB).join("records")) {
        let e = e.expect("walk");
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(repo().join(NEW_DB)).expect("prefix");
            let dst = dir.path().join(rel).with_file_name("10.0.2.pending.toml");
            std::fs::copy(e.path(), dst).expect("copy");
        }
    }
    dir
}

fn temp_files(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// An empty database for merges to go into.
fn empty_db() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("abi-db.toml"), "schema = 1\n").expect("write");
    dir
}

#[test]
fn a_merge_that_cannot_write_one_record_writes_nothing() {
    // Shards: the 7.2.22 and 10.0.2 databases (disjoint keys). The target
    // cannot hold pc-q35-7.2's records: a file is where their directory goes.
    let into = empty_db();
    std::fs::create_dir_all(into.path().join("records/x86_64")).expect("mkdir");
    std::fs::write(into.path().join("records/x86_64/pc-q35-7.2"), "in the way").expect("write");
    let before = tree(into.path());
    let run = machine_abi(&["merge", "--db", arg(into.path()), OLD_DB, NEW_DB]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("pc-q35-7.2"), "{run}");
    assert_eq!(tree(into.path()), before, "a failed merge left files behind: {run}");
    let list = machine_abi(&["list", "--db", arg(into.path())]);
    assert!(!list.stdout.contains("7.2"), "{list}");
}

#[test]
fn a_failed_rename_leaves_no_temporary_file() {
    // The place of one record is taken by a directory: nothing may be
    // renamed over it, and no `.tmp-PID` file may stay beside it.
    let into = empty_db();
    let blocked = into.path().join("records/x86_64/pc-q35-7.2/default/7.2.22.toml");
    std::fs::create_dir_all(&blocked).expect("mkdir");
    std::fs::write(blocked.join("keep"), "mine").expect("write");
    let before = tree(into.path());
    let run = machine_abi(&["merge", "--db", arg(into.path()), OLD_DB]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains(arg(&blocked)), "{run}");
    assert_eq!(temp_files(into.path()), Vec::<PathBuf>::new(), "{run}");
    assert_eq!(tree(into.path()), before, "{run}");
}

#[test]
fn a_merge_writes_every_shard() {
    let into = empty_db();
    let run = machine_abi(&["merge", "--db", arg(into.path()), OLD_DB, NEW_DB]);
    assert_eq!(run.code, Some(0), "{run}");
    let list = machine_abi(&["list", "--db", arg(into.path())]);
    assert_eq!(list.stdout.matches("\t7.2.22\t").count(), 4, "{list}");
    assert_eq!(list.stdout.matches("\t10.0.2\t").count(), 4, "{list}");
    // Again: nothing new, nothing changed.
    let before = tree(into.path());
    let again = machine_abi(&["merge", "--db", arg(into.path()), OLD_DB, NEW_DB]);
    assert_eq!(again.code, Some(0), "{again}");
    assert_eq!(tree(into.path()), before);
}

/// Hold the write lock of `db` (flock on the directory) in this process.
fn hold_lock(db: &Path) -> std::fs::File {
    let f = std::fs::File::open(db).expect("open db dir");
    f.try_lock().expect("lock");
    f
}

#[test]
fn a_second_writer_is_refused() {
    let dir = db_with_pending();
    let db = arg(dir.path());
    let before = tree(dir.path());
    let held = hold_lock(dir.path());
    for args in [
        vec!["reject", "--db", db],
        vec!["accept", "--db", db, "--reason", "reviewed"],
        vec!["merge", "--db", db, NEW_DB],
    ] {
        let run = machine_abi(&args);
        assert_eq!(run.code, Some(2), "{args:?}: {run}");
        assert!(
            run.stderr.contains("another process is writing to this database") && run.stderr.contains(db),
            "{args:?}: {run}"
        );
        assert_eq!(tree(dir.path()), before, "{args:?}: {run}");
    }
    drop(held);
    let run = machine_abi(&["reject", "--db", db]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("4 pending records rejected"), "{run}");
}

#[test]
fn stale_temporary_files_of_dead_writers_are_removed() {
    let dir = db_with_pending();
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let dead = child.id();
    child.wait().expect("wait");
    let d = dir.path().join("records/x86_64/pc-q35-7.2/default");
    let stale = d.join(format!(".7.2.22.toml.tmp-{dead}"));
    let blob = dir.path().join("blobs/00").join(format!(".00ab.tmp-{dead}"));
    std::fs::write(&stale, "half a record").expect("write");
    std::fs::create_dir_all(blob.parent().expect("parent")).expect("mkdir");
    std::fs::write(&blob, "half a blob").expect("write");
    // A writer running now (pid 1 always runs) keeps its file.
    let live = d.join(".7.2.22.toml.tmp-1");
    std::fs::write(&live, "busy").expect("write");
    let run = machine_abi(&["reject", "--db", arg(dir.path()), "--machine", "nothing-matches"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(!stale.exists() && !blob.exists(), "{run}");
    assert!(live.exists());
}

#[test]
fn accept_never_rewrites_waivers_it_could_not_read() {
    // waivers.toml is a FIFO: the first read gets the reviewer's waivers;
    // a second read (if accept made one) gets bytes that are not UTF-8, an
    // error that must not turn the file into a bare header.
    let dir = db_with_pending();
    let file = dir.path().join("waivers.toml");
    let status = std::process::Command::new("mkfifo")
        .arg(&file)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let mine = "# the reviewer's own waivers\n";
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_machine-abi"))
        .args(["accept", "--db", arg(dir.path()), "--reason", "reviewed"])
        .env("CI", "true")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Serve the first read with the reviewer's waivers, every later read
    // with garbage, until accept exits.
    let mut served = 0;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
        // O_NONBLOCK: opening fails at once while nobody reads; once accept
        // has renamed a regular file over the FIFO, nothing is written.
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).custom_flags(0o4000).open(&file) {
            if f.metadata().is_ok_and(|m| m.file_type().is_fifo()) {
                let text: &[u8] = if served == 0 {
                    mine.as_bytes()
                } else {
                    b"\xff\xfe not utf-8\n"
                };
                let _ = std::io::Write::write_all(&mut f, text);
                served += 1;
                drop(f);
                // Let the reader see the end of this file before the next.
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(served >= 1, "accept never read waivers.toml: {stderr}");
    let after = std::fs::read_to_string(&file).unwrap_or_default();
    if status.success() {
        assert!(after.starts_with(mine), "waivers lost:\n{after}\n--- stderr\n{stderr}");
        assert!(after.contains("reason = \"reviewed\""), "{after}");
    } else {
        assert_eq!(status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(arg(&file)), "{stderr}");
    }
}
