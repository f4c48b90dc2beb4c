//! `record`: boot machine types and write their records into a database.

use crate::args::{Failure, RunArgs};
use crate::boots::{self, Recorded};
use abi_check::verdict::{EXIT_CLEAN, EXIT_ERROR};
use abi_store::{Db, Written};
use recorder::record::Capture;
use std::path::{Component, Path};

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
        write_fixtures(dir, &got.captures)?;
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

/// A relative path made only of plain names: what a name sent by the guest
/// may become below a directory of ours. Names are `/`-separated words, none
/// empty (no leading `/`, no `//`), `.` or `..`, and no NUL.
pub fn plain_relative(name: &str) -> Option<&Path> {
    let words_plain = name
        .split('/')
        .all(|w| !w.is_empty() && w != "." && w != ".." && !w.contains('\0'));
    let p = Path::new(name);
    (words_plain && p.components().all(|c| matches!(c, Component::Normal(_)))).then_some(p)
}

/// The probe's fixture tree of every capture, under `dir/<machine>-<profile>/`.
fn write_fixtures(dir: &Path, captures: &[Capture]) -> Result<(), Failure> {
    for c in captures {
        let base = dir.join(format!("{}-{}", c.record.key.machine, c.record.key.profile));
        for e in &c.fixture {
            let rel = e.name.strip_prefix("capture/").and_then(plain_relative);
            let rel = rel.ok_or_else(|| Failure(format!("refusing fixture path {:?}", e.name)))?;
            let p = base.join(rel);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&p, &e.data)?;
        }
        std::fs::write(base.join("facts.toml"), c.record.facts.to_toml())?;
    }
    Ok(())
}
