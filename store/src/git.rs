//! Release snapshots: the database's git repository is its history. A
//! snapshot refuses to start on a database tree with uncommitted changes,
//! and commits exactly the database directory afterwards, with a message
//! that names the release and where every input came from.

use abi_model::{MachineType, QemuIdentity, Record};
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::process::Command;

/// A git step that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitError(pub String);

impl fmt::Display for GitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GitError {}

/// Deadline of one git command on the database: local and small.
const GIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

fn git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = abi_process::output(Command::new("git").arg("-C").arg(dir).args(args), GIT_TIMEOUT)
        .map_err(|e| GitError(format!("git {}: {e}", args.join(" "))))?;
    if !out.status.success() {
        return Err(GitError(format!(
            "git {} in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// Refuse a database that is not in a git work tree, or whose directory
/// has uncommitted or untracked changes (they would end up in the
/// snapshot's commit, or be overwritten by it).
pub fn ensure_clean(db: &Path) -> Result<(), GitError> {
    let inside = git(db, &["rev-parse", "--is-inside-work-tree"]).map_err(|e| {
        GitError(format!(
            "{} is not in a git repository ({e}); a snapshot commits to the database's repository: \
             run `git init {}` first",
            db.display(),
            db.display()
        ))
    })?;
    if inside != "true" {
        return Err(GitError(format!("{} is not in a git work tree", db.display())));
    }
    // An ignored database would look clean and never be committed.
    // --no-index: the rules apply to new files even where the tree is tracked.
    let ignored = git(
        db,
        &["check-ignore", "--no-index", ".", "records/new.toml", "blobs/00/new"],
    )
    .is_ok();
    if ignored {
        return Err(GitError(format!(
            "{} is ignored by git (.gitignore); a snapshot could not commit it",
            db.display()
        )));
    }
    let status = git(db, &["status", "--porcelain", "--untracked-files=all", "--", "."])?;
    if !status.is_empty() {
        let shown: Vec<&str> = status.lines().take(10).collect();
        return Err(GitError(format!(
            "the database tree {} has uncommitted changes; commit or discard them first:\n{}{}",
            db.display(),
            shown.join("\n"),
            if status.lines().count() > 10 { "\n…" } else { "" }
        )));
    }
    Ok(())
}

/// Commit everything under `db` (and nothing else) with `message`.
/// Returns the new commit's hash, or `None` when nothing changed (a
/// re-run of the same snapshot).
pub fn commit(db: &Path, message: &str) -> Result<Option<String>, GitError> {
    git(db, &["add", "--all", "--", "."])?;
    let staged = git(db, &["diff", "--cached", "--name-only", "--", "."])?;
    if staged.is_empty() {
        return Ok(None);
    }
    // A fresh CI clone has no identity; name the tool rather than fail.
    let mut args: Vec<&str> = Vec::new();
    if git(db, &["config", "user.name"]).map_or(true, |n| n.is_empty()) {
        args.extend(["-c", "user.name=machine-abi"]);
    }
    if git(db, &["config", "user.email"]).map_or(true, |n| n.is_empty()) {
        args.extend(["-c", "user.email=machine-abi@localhost"]);
    }
    args.extend(["commit", "--quiet", "--no-verify", "-m", message, "--", "."]);
    git(db, &args)?;
    git(db, &["rev-parse", "HEAD"]).map(Some)
}

/// The commit that last touched `db`, if any.
pub fn last_commit(db: &Path) -> Option<String> {
    git(db, &["log", "-1", "--format=%h %s", "--", "."])
        .ok()
        .filter(|s| !s.is_empty())
}

/// The commit message of a release snapshot: release, then the provenance
/// of its inputs, then what was not recorded and why.
pub fn snapshot_message(id: &QemuIdentity, records: &[&Record], skipped: &[String]) -> String {
    use std::fmt::Write as _;
    let machines: BTreeSet<&MachineType> = records.iter().map(|r| &r.key.machine).collect();
    let profiles: BTreeSet<&str> = records.iter().map(|r| r.key.profile.as_str()).collect();
    let mut m = format!("abi-db: QEMU {} release snapshot\n\n", id.version);
    let _ = writeln!(
        m,
        "{} records: {} machine types x {} profiles ({})",
        records.len(),
        machines.len(),
        profiles.len(),
        profiles.iter().copied().collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(m, "QEMU: {} ({})", id.version, id.package);
    let _ = writeln!(m, "  blake3 {}", id.blake3);
    if let Some(b) = &id.build_id {
        let _ = writeln!(m, "  build-id {b}");
    }
    if let Some(r) = records.first() {
        let p = &r.provenance;
        let _ = writeln!(
            m,
            "firmware: {} {} (blake3 {})",
            p.firmware.bios,
            p.firmware.bios_version.as_deref().unwrap_or("unknown version"),
            p.firmware.bios_blake3
        );
        let mut probes = std::collections::BTreeSet::new();
        let mut kernels = std::collections::BTreeSet::new();
        for r in records {
            let q = &r.provenance;
            probes.insert((q.probe.kind, q.probe.version.clone(), q.probe.blake3.clone()));
            if let Some(k) = &q.kernel {
                kernels.insert((k.version.clone(), k.blake3.clone()));
            }
        }
        for (version, blake3) in &kernels {
            let _ = writeln!(m, "kernel: {version} (blake3 {blake3})");
        }
        for (kind, version, blake3) in &probes {
            let _ = writeln!(m, "probe: {kind} {version} (blake3 {blake3})");
        }
        let _ = writeln!(m, "accelerator: {}", p.accelerator);
    }
    for e in skipped {
        let _ = writeln!(m, "not recorded: {e}");
    }
    let _ = writeln!(m, "recorded by machine-abi {}", env!("CARGO_PKG_VERSION"));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, args: &[&str]) {
        git(dir, args).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn refuses_dirty_trees_commits_only_the_database_and_is_idempotent() {
        let tmp = tempfile::tempdir().expect("tmp");
        let repo = tmp.path();
        let db = repo.join("abi-db");
        std::fs::create_dir_all(&db).expect("mkdir");
        assert!(ensure_clean(&db).expect_err("no repo").0.contains("git init"));
        sh(repo, &["init", "--quiet"]);
        std::fs::write(repo.join("other.txt"), "not the database").expect("write");
        ensure_clean(&db).expect("changes outside the database do not count");
        std::fs::write(db.join("abi-db.toml"), "schema = 1\n").expect("write");
        let e = ensure_clean(&db).expect_err("dirty");
        assert!(e.0.contains("uncommitted") && e.0.contains("abi-db.toml"), "{e}");
        let first = commit(&db, "abi-db: QEMU 1.0 snapshot").expect("commit");
        assert!(first.is_some());
        ensure_clean(&db).expect("clean after the commit");
        assert_eq!(commit(&db, "again").expect("no-op"), None, "nothing changed, no commit");
        // The file outside the database was not swept into the commit.
        let files = git(repo, &["show", "--name-only", "--format=", "HEAD"]).expect("show");
        assert_eq!(files, "abi-db/abi-db.toml");
        assert!(last_commit(&db).is_some_and(|c| c.ends_with("abi-db: QEMU 1.0 snapshot")));
        std::fs::write(repo.join(".gitignore"), "abi-db/\n").expect("write");
        assert!(ensure_clean(&db).expect_err("ignored").0.contains("ignored by git"));
    }
}
