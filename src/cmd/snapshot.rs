//! `snapshot`: record a whole release and commit it to the database's git.

use crate::args::{Failure, RunArgs};
use crate::boots;
use abi_check::shard::Shard;
use abi_check::verdict::{EXIT_CLEAN, EXIT_ERROR};
use abi_model::Version;
use abi_store::{git, Db, WriteLock, Written};

/// Record every versioned machine type × every profile of `release` and
/// commit the records.
pub fn run(args: &RunArgs, release: &str, replace: bool) -> Result<i32, Failure> {
    let wanted = Version::parse(release).ok_or_else(|| Failure(format!("--release {release:?} is not a version")))?;
    if args.shard != Shard::ALL {
        return Err(Failure(
            "snapshot records a whole release; shard with `record --shard` and merge the databases instead".into(),
        ));
    }
    std::fs::create_dir_all(&args.db).map_err(|e| Failure(format!("{}: {e}", args.db.display())))?;
    // Locked before the first boot (and before the tree is checked: taking
    // the lock removes temporary files that dead writers left behind).
    let lock = WriteLock::take(&args.db)?;
    git::ensure_clean(&args.db)?;
    let rec = args.recorder()?;
    let id = rec.identity().clone();
    if !id.version.parts().starts_with(wanted.parts()) {
        return Err(Failure(format!(
            "{} is QEMU {}, not release {wanted}",
            args.binary().display(),
            id.version
        )));
    }
    let got = boots::record_selected(args, &rec)?;
    if !got.failed.is_empty() {
        boots::report_failures(&got.failed, &args.db);
        return Ok(EXIT_ERROR);
    }
    // Created only now, so that a failed first snapshot leaves the tree clean.
    let db = Db::open_or_create(&args.db)?.holding(lock);
    let paths = db.write(&boots::records(&got.captures), replace)?;
    for (p, w) in &paths {
        if *w == Written::Replaced {
            println!("replaced {}", p.display());
        }
    }
    let records: Vec<&abi_model::Record> = got.captures.iter().map(|c| &c.record).collect();
    let skipped: Vec<String> = got.skipped.iter().map(ToString::to_string).collect();
    let message = git::snapshot_message(&id, &records, &skipped);
    match git::commit(&args.db, &message)? {
        Some(hash) => println!("committed {} records of QEMU {} as {hash}", paths.len(), id.version),
        None => println!(
            "QEMU {}: all {} records unchanged, nothing to commit (last: {})",
            id.version,
            paths.len(),
            git::last_commit(&args.db).unwrap_or_else(|| "none".into())
        ),
    }
    Ok(EXIT_CLEAN)
}
