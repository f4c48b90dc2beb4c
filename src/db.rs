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

use guest_probe::blob::BlobId;
use guest_probe::collect::parse_document;
use guest_probe::Facts;
use recorder::host::HostSide;
use recorder::qemu::{MachineType, Version};
use recorder::record::{Capture, Provenance};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Schema of the database layout and record format.
pub const DB_SCHEMA: u32 = 1;
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

/// What a record is of.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordKey {
    /// Guest architecture.
    pub arch: String,
    /// Machine type.
    pub machine: MachineType,
    /// Device profile.
    pub profile: String,
    /// QEMU release that recorded it.
    pub qemu_version: Version,
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} @ QEMU {}",
            self.arch, self.machine, self.profile, self.qemu_version
        )
    }
}

/// One record: the facts of one machine type as one QEMU release showed them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// [`DB_SCHEMA`] of the writer.
    pub schema: u32,
    /// What it is of.
    #[serde(flatten)]
    pub key: RecordKey,
    /// Where it came from.
    pub provenance: Provenance,
    /// The guest-visible facts.
    pub facts: Facts,
    /// Facts read on the host without a guest (absent in records made
    /// before they were collected, or with `--no-host-facts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostSide>,
}

impl Record {
    /// Build a record from a capture.
    pub fn from_capture(c: &Capture) -> Record {
        Record {
            schema: DB_SCHEMA,
            key: RecordKey {
                arch: c.collection.facts.probe.arch.clone(),
                machine: c.machine.clone(),
                profile: c.profile.clone(),
                qemu_version: c.provenance.qemu.version.clone(),
            },
            provenance: c.provenance.clone(),
            facts: c.collection.facts.clone(),
            host: c.host.clone(),
        }
    }

    /// The canonical TOML text.
    pub fn to_toml(&self) -> Result<String, String> {
        toml::to_string(self).map_err(|e| e.to_string())
    }

    /// Parse a record, refusing a newer schema with a clear message.
    pub fn parse(text: &str, path: &Path) -> Result<Record, DbError> {
        #[derive(Deserialize)]
        struct Head {
            schema: Option<u32>,
        }
        let head: Head = toml::from_str(text).map_err(|e| err(path, format!("not a record: {e}")))?;
        match head.schema {
            None => return Err(err(path, "not a record: no schema field")),
            Some(s) if s > DB_SCHEMA => {
                return Err(err(
                    path,
                    format!("record schema {s} is newer than this machine-abi ({DB_SCHEMA}); upgrade machine-abi"),
                ))
            }
            _ => {}
        }
        let record: Record = toml::from_str(text).map_err(|e| err(path, format!("corrupt record: {e}")))?;
        // The embedded fact document obeys its own schema check too.
        let facts_doc = toml::to_string(&record.facts).map_err(|e| err(path, e))?;
        parse_document(&facts_doc).map_err(|e| err(path, e))?;
        Ok(record)
    }
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

    /// Write the records of several captures: all blobs first, then each
    /// record. Returns the record paths.
    pub fn write(&self, captures: &[Capture]) -> Result<Vec<PathBuf>, DbError> {
        self.write_as(captures, false)
    }

    /// Write captures as pending records (blobs first, as for records).
    pub fn write_pending(&self, captures: &[Capture]) -> Result<Vec<PathBuf>, DbError> {
        self.write_as(captures, true)
    }

    fn write_as(&self, captures: &[Capture], pending: bool) -> Result<Vec<PathBuf>, DbError> {
        let mut texts = Vec::new();
        for c in captures {
            let record = Record::from_capture(c);
            let path = if pending {
                self.pending_path(&record.key)
            } else {
                self.record_path(&record.key)
            };
            texts.push((path.clone(), record.to_toml().map_err(|e| err(&path, e))?));
        }
        for c in captures {
            for (id, data) in c.collection.blobs.iter() {
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
        for (path, record) in other.load_where(false)? {
            let text = fs::read(&path).map_err(|e| err(&path, e))?;
            let target = self.record_path(&record.key);
            if target.exists() {
                let mine = fs::read(&target).map_err(|e| err(&target, e))?;
                if mine != text {
                    return Err(err(
                        &path,
                        format!(
                            "{} has a different record of {}: not shards of the same run",
                            target.display(),
                            record.key
                        ),
                    ));
                }
                continue;
            }
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

    /// Load every record (walking `records/`), sorted by key. Records whose
    /// blobs are missing are an error: the database is corrupt.
    pub fn load_all(&self) -> Result<Vec<Record>, DbError> {
        Ok(self.load_where(false)?.into_iter().map(|(_, r)| r).collect())
    }

    /// Load every pending record with its file, sorted by key.
    pub fn load_pending(&self) -> Result<Vec<(PathBuf, Record)>, DbError> {
        self.load_where(true)
    }

    fn load_where(&self, pending: bool) -> Result<Vec<(PathBuf, Record)>, DbError> {
        let dir = self.root.join("records");
        let mut out = Vec::new();
        if !dir.exists() {
            return Ok(out);
        }
        for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
            let entry = entry.map_err(|e| err(&dir, e))?;
            let p = entry.path();
            let name = entry.file_name().to_string_lossy();
            if !entry.file_type().is_file() || !name.ends_with(".toml") || name.starts_with('.') {
                continue;
            }
            if name.ends_with(PENDING_SUFFIX) != pending {
                continue;
            }
            out.push((p.to_path_buf(), self.load_record(p)?));
        }
        out.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        Ok(out)
    }

    /// Load one record file and check that its blobs exist.
    pub fn load_record(&self, p: &Path) -> Result<Record, DbError> {
        let text = fs::read_to_string(p).map_err(|e| err(p, e))?;
        let record = Record::parse(&text, p)?;
        let host_blobs = record.host.as_ref().map(HostSide::blob_ids).unwrap_or_default();
        for id in record.facts.blob_ids().into_iter().chain(host_blobs) {
            if !self.blob_path(&id).exists() {
                return Err(err(p, format!("refers to blob {id}, which the database does not have")));
            }
        }
        Ok(record)
    }
}
