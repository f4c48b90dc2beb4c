//! One writer at a time: every write to a database holds an exclusive
//! `flock(2)` on the database directory itself. Locking the directory
//! rather than a lock file leaves nothing behind for git to see (a
//! snapshot refuses a dirty tree) and nothing to clean after a crash: the
//! kernel drops the lock when the process ends, however it ends.
//!
//! A second writer is refused at once rather than made to wait: writers
//! are long (`record` holds the lock for the whole recording run, so that
//! a conflicting run fails before it boots anything, not twenty minutes
//! later), and two writers on one database are a mistake in a CI setup
//! that waiting would hide.
//!
//! Taking the lock also removes the temporary files (`.<name>.tmp-<pid>`)
//! that writers killed mid-write left behind: those of processes that no
//! longer run.

use crate::db::{err, DbError};
use std::fs;
use std::path::{Path, PathBuf};

/// Marker in the names of temporary files: `.<name>.tmp-<pid>`.
pub const TMP_MARK: &str = ".tmp-";

/// The temporary name of `path` for this process.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}{TMP_MARK}{}", std::process::id()))
}

/// The PID in a temporary file's name, if it is one.
pub fn temp_pid(name: &str) -> Option<u32> {
    let (_, pid) = name.strip_prefix('.')?.rsplit_once(TMP_MARK)?;
    pid.parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// An exclusive lock on a database directory, held until dropped.
#[derive(Debug)]
pub struct WriteLock {
    root: PathBuf,
    // The open directory holds the flock; dropping it releases it.
    _dir: fs::File,
    cleaned: Vec<PathBuf>,
}

impl WriteLock {
    /// Lock `root` (which must exist) for writing, or fail at once naming
    /// it when another process holds the lock. Removes stale temporary
    /// files of dead writers.
    pub fn take(root: &Path) -> Result<WriteLock, DbError> {
        let dir = fs::File::open(root).map_err(|e| err(root, format!("cannot open the database directory: {e}")))?;
        match dir.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(err(
                    root,
                    "another process is writing to this database (it holds the write lock on the directory); \
                     run one writer at a time (record, snapshot, merge, check --pending, accept, reject, gc)",
                ))
            }
            Err(fs::TryLockError::Error(e)) => return Err(err(root, format!("cannot lock the database: {e}"))),
        }
        let cleaned = clean_stale_temps(root)?;
        Ok(WriteLock {
            root: root.to_path_buf(),
            _dir: dir,
            cleaned,
        })
    }

    /// The locked directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stale temporary files removed when the lock was taken.
    pub fn cleaned(&self) -> &[PathBuf] {
        &self.cleaned
    }
}

/// Remove `.<name>.tmp-<pid>` files of processes that no longer run, below
/// the database root (root files, records/ and blobs/).
fn clean_stale_temps(root: &Path) -> Result<Vec<PathBuf>, DbError> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).max_depth(6) {
        let entry = entry.map_err(|e| err(root, e))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if temp_pid(&name).is_some_and(|pid| !alive(pid)) {
            fs::remove_file(entry.path())
                .map_err(|e| err(entry.path(), format!("removing a stale temporary file: {e}")))?;
            out.push(entry.path().to_path_buf());
        }
    }
    Ok(out)
}

/// fsync a directory, so that the renames into it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<(), DbError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| err(dir, format!("fsync of the directory: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_carry_the_pid() {
        let t = temp_path(Path::new("/db/records/a/7.2.22.toml"));
        let name = t.file_name().and_then(|n| n.to_str()).expect("name");
        assert_eq!(temp_pid(name), Some(std::process::id()));
        assert_eq!(temp_pid("7.2.22.toml"), None);
        assert_eq!(temp_pid(".x.tmp-abc"), None);
    }

    #[test]
    fn a_second_writer_is_refused_and_stale_temps_go() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("records/x");
        fs::create_dir_all(&dir).expect("mkdir");
        // A dead writer's temp file, and one of a running process (pid 1).
        let mut child = std::process::Command::new("true").spawn().expect("spawn true");
        let dead = child.id();
        child.wait().expect("wait");
        let stale = dir.join(format!(".7.2.22.toml{TMP_MARK}{dead}"));
        let live = dir.join(format!(".7.2.22.toml{TMP_MARK}1"));
        fs::write(&stale, "half").expect("write");
        fs::write(&live, "busy").expect("write");
        let first = WriteLock::take(tmp.path()).expect("first writer");
        assert_eq!(first.cleaned(), std::slice::from_ref(&stale));
        assert!(!stale.exists() && live.exists());
        let second = WriteLock::take(tmp.path()).expect_err("second writer");
        assert!(second.to_string().contains("another process is writing"), "{second}");
        drop(first);
        WriteLock::take(tmp.path()).expect("free again");
    }
}
