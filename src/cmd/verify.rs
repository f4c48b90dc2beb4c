//! `verify`: read and check a whole database at rest; `gc`: the blobs no
//! record refers to.

use crate::args::{load_waivers, Failure};
use abi_check::selection::Baselines;
use abi_check::verdict::{EXIT_CLEAN, EXIT_ERROR};
use abi_store::Db;
use std::path::Path;

/// Parse every record and pending record, hash every blob, check that every
/// blob a record names is there, and load the waivers. Exit 2 naming every
/// bad file, 0 when there is none.
pub fn verify(db: &Path) -> Result<i32, Failure> {
    let db = Db::open(db)?;
    let audit = db.audit()?;
    let mut problems: Vec<String> = audit.problems.iter().map(ToString::to_string).collect();
    // The waivers judge every check: a broken file is a broken database.
    let known = Baselines::of(audit.keys.clone()).machines();
    if let Err(e) = load_waivers(&db, &known, &[]) {
        problems.push(e.0);
    }
    for p in &problems {
        println!("BAD {p}");
    }
    println!(
        "{}: {} records, {} pending records, {} blobs verified; {} unreferenced blob(s) (machine-abi gc); {} problem(s)",
        db.root().display(),
        audit.records,
        audit.pending,
        audit.blobs,
        audit.unreferenced.len(),
        problems.len()
    );
    Ok(if problems.is_empty() { EXIT_CLEAN } else { EXIT_ERROR })
}

/// List the blobs no record or pending record refers to; remove them with
/// `delete`. Refused (exit 2) while `verify` finds problems.
pub fn gc(db: &Path, delete: bool) -> Result<i32, Failure> {
    let db = Db::open(db)?;
    let garbage = db.collect_garbage(delete)?;
    let bytes: u64 = garbage.iter().map(|(_, n)| n).sum();
    for (p, _) in &garbage {
        println!("{} {}", if delete { "removed" } else { "unreferenced" }, p.display());
    }
    if delete {
        println!("{} blob(s), {bytes} bytes removed", garbage.len());
    } else {
        println!(
            "{} unreferenced blob(s), {bytes} bytes; remove them with `machine-abi gc --db {} --delete`",
            garbage.len(),
            db.root().display()
        );
    }
    Ok(EXIT_CLEAN)
}
