//! `record`: boot machine types and write their records into a database.

use crate::args::{Failure, RunArgs};
use crate::boots::{self, Recorded};
use abi_check::verdict::{EXIT_CLEAN, EXIT_ERROR};
use abi_store::Db;

/// Record this shard of every selected pair; all or nothing.
pub fn run(args: &RunArgs) -> Result<i32, Failure> {
    let db = Db::open_or_create(&args.db)?;
    let rec = args.recorder()?;
    let got: Recorded = boots::record_selected(args, &rec)?;
    if !got.failed.is_empty() {
        boots::report_failures(&got.failed, &args.db);
        return Ok(EXIT_ERROR);
    }
    if let Some(dir) = &args.capture_fixtures {
        boots::write_fixtures(dir, &got.captures)?;
    }
    let paths = db.write(&boots::records(&got.captures))?;
    for p in paths {
        println!("wrote {}", p.display());
    }
    Ok(EXIT_CLEAN)
}
