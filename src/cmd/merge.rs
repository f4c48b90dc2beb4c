//! `merge`: the shards of a run as one. Partial check results become one
//! report with one exit status; shard databases are merged into one.

use crate::args::{Failure, OutputArgs};
use abi_check::partial::{self, PartialCheck};
use abi_check::verdict::EXIT_CLEAN;
use abi_store::Db;
use std::path::{Path, PathBuf};

/// Merge `files` (all partial results, or all shard databases) into `db`.
pub fn run(db: &Path, files: &[PathBuf], out: &OutputArgs) -> Result<i32, Failure> {
    if let Some(missing) = files.iter().find(|f| !f.exists()) {
        return Err(Failure(format!("{}: no such file or directory", missing.display())));
    }
    let dirs = files.iter().filter(|f| f.is_dir()).count();
    if dirs == files.len() {
        let into = Db::open_or_create(db)?;
        let shards = files.iter().map(|f| Db::open(f)).collect::<Result<Vec<_>, _>>()?;
        // One write: every shard or none.
        for (f, n) in files.iter().zip(into.merge_from(&shards)?) {
            eprintln!("{}: {n} new record(s)", f.display());
        }
        println!("merged {} shard database(s) into {}", files.len(), db.display());
        return Ok(EXIT_CLEAN);
    }
    if dirs > 0 {
        return Err(Failure(
            "give either partial check results (files) or shard databases (directories), not both".into(),
        ));
    }
    let db = Db::open(db)?;
    let parts = files
        .iter()
        .map(|f| PartialCheck::load(f).map(|p| (f.clone(), p)))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = partial::merge(parts)?;
    let waivers = out.waivers(&db, &merged.known)?;
    // Every baseline slot of the shards' architecture: a merged run that
    // selected only some of them does not call the other waivers stale.
    let arch = merged
        .results
        .first()
        .map(|r| r.baseline.arch.clone())
        .unwrap_or_default();
    let scope = abi_check::selection::Baselines::of(db.index()?).slots(&arch);
    let mut verdict = out.judge(merged.qemu, merged.results, waivers.as_ref(), Some(&scope));
    verdict.new_machines = merged.new_machines;
    Ok(out.print(&verdict))
}
