//! `record`: boot machine types and write their records into a database.

use crate::args::{Failure, RunArgs};
use crate::boots::{self, Recorded};
use abi_check::verdict::{EXIT_CLEAN, EXIT_ERROR};
use abi_store::{Db, Written};

/// Arguments of `record`.
#[derive(clap::Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Replace a record that exists with different content (e.g. a distro
    /// rebuild of the same QEMU version); without it that is an error.
    #[arg(long)]
    pub replace: bool,
}

/// Record this shard of every selected pair; all or nothing.
pub fn run(a: &RecordArgs) -> Result<i32, Failure> {
    let args = &a.run;
    // Locked before the first boot: a second writer fails now, not after
    // the whole recording.
    let db = Db::open_or_create(&args.db)?.locked()?;
    let rec = args.recorder()?;
    let got: Recorded = boots::record_selected(args, &rec)?;
    if !got.failed.is_empty() {
        boots::report_failures(&got.failed, &args.db);
        return Ok(EXIT_ERROR);
    }
    if let Some(dir) = &args.capture_fixtures {
        boots::write_fixtures(dir, &got.captures)?;
    }
    for (p, w) in db.write(&boots::records(&got.captures), a.replace)? {
        println!("{} {}", written(w), p.display());
    }
    Ok(EXIT_CLEAN)
}

/// The verb for what a write did to a record file.
pub fn written(w: Written) -> &'static str {
    match w {
        Written::New => "wrote",
        Written::Replaced => "replaced",
        Written::Unchanged => "unchanged",
    }
}
