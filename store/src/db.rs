//! The abi-db: a git-friendly directory of TOML records plus blake3-named
//! blobs shared between records.
//!
//! ```text
//! abi-db.toml                                   schema version
//! records/<arch>/<machine>/<profile>/<qemu>.toml one record per boot
//! blobs/<first 2 hex>/<blake3>                  raw tables, config spaces
//! ```
//! Every file is written to a temporary name and renamed into place, blobs
//! before the records that refer to them, so a crash never leaves a record
//! pointing at nothing or a half-written file.

use abi_model::blob::{BlobId, Blobs};
use abi_model::host::HostSide;
use abi_model::record::{Record, RecordKey, RECORD_SCHEMA};
use abi_model::{MachineType, Version};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Schema of the database layout and record format.
pub const DB_SCHEMA: u32 = RECORD_SCHEMA;
/// The top-level file naming the schema.
pub const DB_FILE: &str = "abi-db.toml";
/// Suffix of a pending record: an observation waiting for review, written
/// beside the baseline by `check --pending`.
pub const PENDING_SUFFIX: &str = ".pending.toml";

/// A database error, always naming the file.
#[derive(Debug)]
pub struct DbError {
    /// File or directory concerned.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for DbError {}

fn err(path: &Path, message: impl fmt::Display) -> DbError {
    DbError {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    schema: u32,
}

/// An opened database.
#[derive(Clone, Debug)]
pub struct Db {
    root: PathBuf,
}

/// Write `data` to `path` atomically: temporary file in the same directory,
/// fsync, rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), DbError> {
    let dir = path.parent().ok_or_else(|| err(path, "no parent directory"))?;
    fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = fs::File::create(&tmp).map_err(|e| err(&tmp, e))?;
    f.write_all(data).and_then(|_| f.sync_all()).map_err(|e| err(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| err(path, e))
}

impl Db {
    /// Open an existing database, checking its schema.
    pub fn open(root: &Path) -> Result<Db, DbError> {
        let meta_path = root.join(DB_FILE);
        let text = fs::read_to_string(&meta_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                err(
                    &meta_path,
                    "not an abi-db (no abi-db.toml); create one with `machine-abi record`",
                )
            } else {
                err(&meta_path, e)
            }
        })?;
        let meta: Meta = toml::from_str(&text).map_err(|e| err(&meta_path, format!("corrupt: {e}")))?;
        if meta.schema > DB_SCHEMA {
            return Err(err(
                &meta_path,
                format!(
                    "database schema {} is newer than this machine-abi supports ({DB_SCHEMA}); upgrade machine-abi",
                    meta.schema
                ),
            ));
        }
        Ok(Db {
            root: root.to_path_buf(),
        })
    }

    /// Open, or create an empty database if the directory has none.
    pub fn open_or_create(root: &Path) -> Result<Db, DbError> {
        if root.join(DB_FILE).exists() {
            return Db::open(root);
        }
        let meta = toml::to_string(&Meta { schema: DB_SCHEMA }).map_err(|e| err(root, e))?;
        write_atomic(&root.join(DB_FILE), meta.as_bytes())?;
        Ok(Db {
            root: root.to_path_buf(),
        })
    }

    /// The database a record file lives in: the nearest directory above it
    /// with an `abi-db.toml`, of which the file is under `records/`.
    pub fn containing(file: &Path) -> Result<Db, DbError> {
        let root = file
            .ancestors()
            .skip(1)
            .find(|d| d.join(DB_FILE).is_file() && file.starts_with(d.join("records")))
            .ok_or_else(|| {
                err(
                    file,
                    "not inside an abi-db (no abi-db.toml above its records/ directory)",
                )
            })?;
        Db::open(root)
    }

    /// The database directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a record lives.
    pub fn record_path(&self, key: &RecordKey) -> PathBuf {
        self.root
            .join("records")
            .join(&key.arch)
            .join(&key.machine.0)
            .join(&key.profile)
            .join(format!("{}.toml", key.qemu_version))
    }

    /// Where the pending record of an observation lives.
    pub fn pending_path(&self, key: &RecordKey) -> PathBuf {
        let mut p = self.record_path(key);
        p.set_file_name(format!("{}{PENDING_SUFFIX}", key.qemu_version));
        p
    }

    fn blob_path(&self, id: &BlobId) -> PathBuf {
        self.root.join("blobs").join(&id.as_str()[..2]).join(id.as_str())
    }

    /// Read a blob, verifying its hash.
    pub fn blob(&self, id: &BlobId) -> Result<Vec<u8>, DbError> {
        let p = self.blob_path(id);
        let data = fs::read(&p).map_err(|e| err(&p, e))?;
        if BlobId::of(&data) != *id {
            return Err(err(&p, "blob contents do not match its name (corrupt)"));
        }
        Ok(data)
    }

    /// Write records with their blobs: all blobs first, then each record.
    /// Returns the record paths.
    pub fn write(&self, records: &[(&Record, &Blobs)]) -> Result<Vec<PathBuf>, DbError> {
        self.write_as(records, false)
    }

    /// Write observations as pending records (blobs first, as for records).
    pub fn write_pending(&self, records: &[(&Record, &Blobs)]) -> Result<Vec<PathBuf>, DbError> {
        self.write_as(records, true)
    }

    fn write_as(&self, records: &[(&Record, &Blobs)], pending: bool) -> Result<Vec<PathBuf>, DbError> {
        let mut texts = Vec::new();
        for (record, _) in records {
            let path = if pending {
                self.pending_path(&record.key)
            } else {
                self.record_path(&record.key)
            };
            texts.push((path.clone(), record.to_toml().map_err(|e| err(&path, e))?));
        }
        for (_, blobs) in records {
            for (id, data) in blobs.iter() {
                let p = self.blob_path(id);
                if !p.exists() {
                    write_atomic(&p, data)?;
                }
            }
        }
        for (path, text) in &texts {
            write_atomic(path, text.as_bytes())?;
        }
        Ok(texts.into_iter().map(|(p, _)| p).collect())
    }

    /// Copy the records of `other` (a shard's database) into this one, with
    /// the blobs they refer to. A record this database already has must be
    /// byte-identical: shards of one run never overlap, so a difference
    /// means the databases come from different runs. Returns how many
    /// records were new.
    pub fn merge_from(&self, other: &Db) -> Result<usize, DbError> {
        let mut incoming = Vec::new();
        for key in other.index()? {
            let path = other.record_path(&key);
            let text = fs::read(&path).map_err(|e| err(&path, e))?;
            let target = self.record_path(&key);
            if target.exists() {
                let mine = fs::read(&target).map_err(|e| err(&target, e))?;
                if mine != text {
                    return Err(err(
                        &path,
                        format!(
                            "{} has a different record of {}: not shards of the same run",
                            target.display(),
                            key
                        ),
                    ));
                }
                continue;
            }
            let record = other.parse_record(&path, &text)?;
            incoming.push((record, target, text));
        }
        // Blobs first, verified, so that no record ever points at a missing blob.
        for (record, _, _) in &incoming {
            let host = record.host.as_ref().map(HostSide::blob_ids).unwrap_or_default();
            for id in record.facts.blob_ids().into_iter().chain(host) {
                let p = self.blob_path(&id);
                if !p.exists() {
                    write_atomic(&p, &other.blob(&id)?)?;
                }
            }
        }
        for (_, target, text) in &incoming {
            write_atomic(target, text)?;
        }
        Ok(incoming.len())
    }

    /// The key of every record, from the paths under `records/` alone
    /// (no record is read), sorted.
    pub fn index(&self) -> Result<Vec<RecordKey>, DbError> {
        Ok(self.walk(false)?.into_iter().map(|(k, _)| k).collect())
    }

    /// The key and file of every pending record, from paths alone, sorted.
    pub fn pending_index(&self) -> Result<Vec<(RecordKey, PathBuf)>, DbError> {
        self.walk(true)
    }

    /// Load the record of `key`.
    pub fn load(&self, key: &RecordKey) -> Result<Record, DbError> {
        self.load_record(&self.record_path(key))
    }

    /// The QEMU package string of a record (`provenance.qemu.package`), read
    /// from the record's head: its body is neither read nor parsed.
    pub fn package(&self, key: &RecordKey) -> Result<String, DbError> {
        use std::io::BufRead;
        let p = self.record_path(key);
        let file = fs::File::open(&p).map_err(|e| err(&p, e))?;
        let mut in_qemu = false;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(|e| err(&p, e))?;
            let line = line.trim();
            if line.starts_with('[') {
                if in_qemu || line.starts_with("[facts") {
                    break;
                }
                in_qemu = line == "[provenance.qemu]";
            } else if in_qemu && line.starts_with("package") {
                #[derive(Deserialize)]
                struct Package {
                    package: String,
                }
                let v: Package = toml::from_str(line).map_err(|e| err(&p, format!("corrupt record: {e}")))?;
                return Ok(v.package);
            }
        }
        Err(err(&p, "corrupt record: no provenance.qemu.package"))
    }

    /// Load every record, sorted by key. Records whose blobs are missing
    /// are an error: the database is corrupt.
    pub fn load_all(&self) -> Result<Vec<Record>, DbError> {
        self.index()?.iter().map(|k| self.load(k)).collect()
    }

    /// Load every pending record with its file, sorted by key.
    pub fn load_pending(&self) -> Result<Vec<(PathBuf, Record)>, DbError> {
        self.pending_index()?
            .into_iter()
            .map(|(_, p)| self.load_record(&p).map(|r| (p, r)))
            .collect()
    }

    /// Every record file (or pending record file) under `records/` with the
    /// key its path names, sorted by key.
    fn walk(&self, pending: bool) -> Result<Vec<(RecordKey, PathBuf)>, DbError> {
        let dir = self.root.join("records");
        let mut out = Vec::new();
        if !dir.exists() {
            return Ok(out);
        }
        for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
            let entry = entry.map_err(|e| err(&dir, e))?;
            let name = entry.file_name().to_string_lossy();
            if !entry.file_type().is_file() || !name.ends_with(".toml") || name.starts_with('.') {
                continue;
            }
            if name.ends_with(PENDING_SUFFIX) != pending {
                continue;
            }
            let p = entry.path();
            out.push((self.key_of(p)?, p.to_path_buf()));
        }
        out.sort();
        Ok(out)
    }

    /// The key a record file's path names:
    /// `records/<arch>/<machine>/<profile>/<qemu>[.pending].toml`.
    pub fn key_of(&self, p: &Path) -> Result<RecordKey, DbError> {
        let rel = p
            .strip_prefix(self.root.join("records"))
            .map_err(|_| err(p, "not under the database's records/ directory"))?;
        let parts: Vec<&str> = rel.iter().filter_map(|s| s.to_str()).collect();
        let [arch, machine, profile, file] = parts[..] else {
            return Err(err(
                p,
                "not a record path (records/<arch>/<machine>/<profile>/<qemu>.toml)",
            ));
        };
        let version = file
            .strip_suffix(PENDING_SUFFIX)
            .or_else(|| file.strip_suffix(".toml"))
            .and_then(Version::parse)
            .ok_or_else(|| err(p, "record file name is not a QEMU version"))?;
        Ok(RecordKey {
            arch: arch.to_string(),
            machine: MachineType(machine.to_string()),
            profile: profile.to_string(),
            qemu_version: version,
        })
    }

    /// Load one record file (one parse), check that the key inside matches
    /// the path it is stored under, and that its blobs exist.
    pub fn load_record(&self, p: &Path) -> Result<Record, DbError> {
        let text = fs::read(p).map_err(|e| err(p, e))?;
        self.parse_record(p, &text)
    }

    /// [`Db::load_record`] of bytes already read from `p`.
    fn parse_record(&self, p: &Path, text: &[u8]) -> Result<Record, DbError> {
        let text = std::str::from_utf8(text).map_err(|e| err(p, format!("not a record: {e}")))?;
        let record = Record::parse(text).map_err(|e| err(p, e))?;
        if let Ok(at) = self.key_of(p) {
            if at != record.key {
                return Err(err(
                    p,
                    format!(
                        "holds the record of {}, but its path names {at}: a record copied over another's",
                        record.key
                    ),
                ));
            }
        }
        let host_blobs = record.host.as_ref().map(HostSide::blob_ids).unwrap_or_default();
        for id in record.facts.blob_ids().into_iter().chain(host_blobs) {
            if !self.blob_path(&id).exists() {
                return Err(err(p, format!("refers to blob {id}, which the database does not have")));
            }
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records are canonical: reading one and writing it again gives the same
    /// bytes, for every record of the project's database (so a re-recording
    /// of unchanged facts never shows in git).
    #[test]
    fn records_round_trip_byte_for_byte() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../abi-db");
        let db = Db::open(&root).expect("abi-db opens");
        let keys = db.index().expect("index");
        assert!(keys.len() > 100, "only {} records", keys.len());
        for k in keys {
            let path = db.record_path(&k);
            let text = fs::read_to_string(&path).expect("record");
            let again = Record::parse(&text).expect("parses").to_toml().expect("serialises");
            assert!(again == text, "{} does not round-trip", path.display());
        }
    }
}
