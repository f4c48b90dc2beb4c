//! `decode`: a probe stream captured by hand in any guest, turned into
//! `facts.toml` and `blobs/` (and the fixture tree, if it was asked for).

use crate::args::Failure;
use crate::boots::plain_relative;
use abi_check::verdict::EXIT_CLEAN;
use std::path::{Path, PathBuf};

/// Decode the framed stream in `log` into `out`. Every entry is checked
/// before the first file is written: a stream refused writes nothing.
pub fn run(log: &Path, out: &Path) -> Result<i32, Failure> {
    let in_log = |e: &dyn std::fmt::Display| Failure(format!("{}: {e}", log.display()));
    if out.exists() && !out.is_dir() {
        return Err(Failure(format!(
            "--out {}: exists and is not a directory",
            out.display()
        )));
    }
    let bytes = std::fs::read(log).map_err(|e| in_log(&e))?;
    let text = String::from_utf8_lossy(&bytes);
    let entries = guest_probe::frame::unpack(&text).map_err(|e| in_log(&e))?;
    let (fixture, entries): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.name.starts_with("capture/"));
    let c = guest_probe::Collection::from_entries(entries).map_err(|e| in_log(&e))?;
    let mut files: Vec<(PathBuf, &[u8])> = Vec::new();
    for e in &fixture {
        let rel = plain_relative(&e.name).ok_or_else(|| in_log(&format!("refusing entry name {:?}", e.name)))?;
        files.push((out.join(rel), &e.data));
    }
    let document = c.document();
    files.push((out.join("facts.toml"), document.as_bytes()));
    for (id, data) in c.blobs.iter() {
        files.push((out.join("blobs").join(id.as_str()), data));
    }
    for (p, data) in files {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Failure(format!("{}: {e}", parent.display())))?;
        }
        std::fs::write(&p, data).map_err(|e| Failure(format!("{}: {e}", p.display())))?;
    }
    println!("decoded {} blobs and facts.toml into {}", c.blobs.len(), out.display());
    Ok(EXIT_CLEAN)
}
