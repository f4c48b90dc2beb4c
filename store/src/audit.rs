//! Checking a whole database at rest (`machine-abi verify`) and collecting
//! the blobs no record refers to (`machine-abi gc`).
//!
//! Reads verify what they read, but only what a command needs; an audit
//! reads everything: every record and pending record is parsed (and its key
//! checked against its path), every blob is hashed, and every blob a record
//! names must be there.

use crate::db::{err, record_blobs, Db, DbError, PENDING_SUFFIX};
use crate::lock::{sync_dir, temp_pid};
use abi_model::blob::BlobId;
use abi_model::record::{Record, RecordKey};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// What an audit found.
#[derive(Debug, Default)]
pub struct Audit {
    /// Records parsed.
    pub records: usize,
    /// Pending records parsed.
    pub pending: usize,
    /// Blob files whose bytes match their names.
    pub blobs: usize,
    /// Every problem, each naming its file.
    pub problems: Vec<DbError>,
    /// Good blobs that no record or pending record refers to, with sizes.
    pub unreferenced: Vec<(PathBuf, u64)>,
    /// The keys of the records (not pending) that parsed, sorted.
    pub keys: Vec<RecordKey>,
}

fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// A temporary file of a writer: a problem only if that writer is gone.
fn temp_problem(p: &Path, name: &str, problems: &mut Vec<DbError>) -> bool {
    match temp_pid(name) {
        Some(pid) if alive(pid) => true,
        Some(pid) => {
            problems.push(err(
                p,
                format!("temporary file of writer {pid}, which no longer runs (the next writer removes it)"),
            ));
            true
        }
        None => false,
    }
}

fn list(users: &[PathBuf]) -> String {
    users
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Db {
    /// Read and check everything. Errors only when a directory cannot be
    /// walked; every bad file is a problem in the result.
    pub fn audit(&self) -> Result<Audit, DbError> {
        let mut a = Audit::default();
        let mut uses: BTreeMap<BlobId, Vec<PathBuf>> = BTreeMap::new();
        let records = self.root().join("records");
        if records.exists() {
            for entry in walkdir::WalkDir::new(&records).sort_by_file_name() {
                let entry = entry.map_err(|e| err(&records, e))?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let p = entry.path();
                let name = entry.file_name().to_string_lossy();
                if temp_problem(p, &name, &mut a.problems) {
                    continue;
                }
                match self.audit_record(p) {
                    Ok(record) => {
                        for id in record_blobs(&record) {
                            uses.entry(id).or_default().push(p.to_path_buf());
                        }
                        if name.ends_with(PENDING_SUFFIX) {
                            a.pending += 1;
                        } else {
                            a.records += 1;
                            a.keys.push(record.key);
                        }
                    }
                    Err(e) => a.problems.push(e),
                }
            }
        }
        let blobs = self.root().join("blobs");
        let mut present = BTreeSet::new();
        if blobs.exists() {
            for entry in walkdir::WalkDir::new(&blobs).sort_by_file_name() {
                let entry = entry.map_err(|e| err(&blobs, e))?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let p = entry.path();
                let name = entry.file_name().to_string_lossy();
                if temp_problem(p, &name, &mut a.problems) {
                    continue;
                }
                let Some(id) = BlobId::parse(&name).filter(|id| self.blob_path(id) == p) else {
                    a.problems.push(err(p, "not a blob (blobs/<2 hex>/<64 hex blake3>)"));
                    continue;
                };
                let users = uses.get(&id).map(Vec::as_slice).unwrap_or_default();
                match self.blob(&id) {
                    Ok(data) => {
                        present.insert(id.clone());
                        a.blobs += 1;
                        if users.is_empty() {
                            a.unreferenced.push((p.to_path_buf(), data.len() as u64));
                        }
                    }
                    Err(e) => {
                        present.insert(id.clone());
                        let used = if users.is_empty() {
                            "no record uses it".to_string()
                        } else {
                            format!("used by {}", list(users))
                        };
                        a.problems.push(err(p, format!("{}; {used}", e.message)));
                    }
                }
            }
        }
        a.keys.sort();
        for (id, users) in &uses {
            if !present.contains(id) {
                a.problems
                    .push(err(&self.blob_path(id), format!("missing; used by {}", list(users))));
            }
        }
        Ok(a)
    }

    /// One record file: a record path, parses, key matches the path.
    fn audit_record(&self, p: &Path) -> Result<Record, DbError> {
        let key = self.key_of(p)?;
        let text = fs::read(p).map_err(|e| err(p, e))?;
        let text = std::str::from_utf8(&text).map_err(|e| err(p, format!("not a record: {e}")))?;
        let record = Record::parse(text).map_err(|e| err(p, e))?;
        if record.key != key {
            return Err(err(
                p,
                format!(
                    "holds the record of {}, but its path names {key}: a record copied over another's",
                    record.key
                ),
            ));
        }
        Ok(record)
    }

    /// The blobs no record or pending record refers to; removed (under the
    /// write lock, after a second audit under it) when `delete`. Refused
    /// while the database has problems: an unreadable record may be the
    /// one that refers to a blob.
    pub fn collect_garbage(&self, delete: bool) -> Result<Vec<(PathBuf, u64)>, DbError> {
        let db = if delete { self.locked()? } else { self.clone() };
        let a = db.audit()?;
        if let Some(first) = a.problems.first() {
            return Err(err(
                self.root(),
                format!(
                    "{} problem(s), the first: {first}; run `machine-abi verify` and repair the database first",
                    a.problems.len()
                ),
            ));
        }
        if delete && !a.unreferenced.is_empty() {
            let mut dirs = BTreeSet::new();
            for (p, _) in &a.unreferenced {
                fs::remove_file(p).map_err(|e| err(p, e))?;
                if let Some(d) = p.parent() {
                    dirs.insert(d.to_path_buf());
                }
            }
            for d in &dirs {
                // Empty fan-out directories go too; a full one stays.
                if fs::remove_dir(d).is_err() {
                    sync_dir(d)?;
                }
            }
            sync_dir(&self.root().join("blobs"))?;
        }
        Ok(a.unreferenced)
    }
}
