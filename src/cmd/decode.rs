//! `decode`: a probe stream captured by hand in any guest, turned into
//! `facts.toml` and `blobs/` (and the fixture tree, if it was asked for).

use crate::args::Failure;
use crate::boots::plain_relative;
use abi_check::verdict::EXIT_CLEAN;
use std::path::Path;

/// Decode the framed stream in `log` into `out`.
pub fn run(log: &Path, out: &Path) -> Result<i32, Failure> {
    let text = String::from_utf8_lossy(&std::fs::read(log)?).into_owned();
    let entries = guest_probe::frame::unpack(&text).map_err(|e| Failure(format!("{}: {e}", log.display())))?;
    let (fixture, entries): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.name.starts_with("capture/"));
    let c = guest_probe::Collection::from_entries(entries).map_err(|e| Failure(format!("{}: {e}", log.display())))?;
    std::fs::create_dir_all(out.join("blobs"))?;
    for (id, data) in c.blobs.iter() {
        std::fs::write(out.join("blobs").join(id.as_str()), data)?;
    }
    std::fs::write(out.join("facts.toml"), c.document())?;
    for e in fixture {
        let rel = plain_relative(&e.name)
            .ok_or_else(|| Failure(format!("{}: refusing entry name {:?}", log.display(), e.name)))?;
        let p = out.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, e.data)?;
    }
    println!("decoded {} blobs and facts.toml into {}", c.blobs.len(), out.display());
    Ok(EXIT_CLEAN)
}
