//! The abi-db: a git-friendly directory of TOML records plus blake3-named
//! blobs shared between records.
//!
//! ```text
//! abi-db.toml                                   schema version
//! records/<arch>/<machine>/<profile>/<qemu>.toml one record per boot
//! blobs/<first 2 hex>/<blake3>                  raw tables, config spaces
//! ```
//! A write is all or nothing, one writer at a time:
//!
//! 1. it takes the write lock ([`WriteLock`]: `flock` on the directory),
//! 2. refuses to replace a record with different content unless asked
//!    (identical content is left alone),
//! 3. writes the blobs (verified, fsynced, renamed into place), then every
//!    record to a temporary name beside its place,
//! 4. reads every temporary record back and verifies it (bytes, parse, key,
//!    blobs), and only then
//! 5. renames them into place and fsyncs the directories.
//!
//! If any step fails, everything the write added is removed again (blobs,
//! records, temporary files, directories it created) and replaced records
//! get their old bytes back: nothing new is visible. A crash leaves at
//! most temporary files, which the next writer removes.

use crate::lock::{sync_dir, temp_path, WriteLock};
use abi_model::blob::{BlobId, Blobs};
use abi_model::host::HostSide;
use abi_model::record::{Record, RecordKey, RECORD_SCHEMA};
use abi_model::{MachineType, Version};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

pub(crate) fn err(path: &Path, message: impl fmt::Display) -> DbError {
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
    /// The write lock, when this handle holds it for a whole command.
    lock: Option<Arc<WriteLock>>,
}

/// What a write did to one record file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// The file is new.
    New,
    /// The file held a different record, replaced as asked.
    Replaced,
    /// The file already held exactly these bytes; it was not touched.
    Unchanged,
}

/// Every blob a record refers to: guest facts and host side.
pub fn record_blobs(record: &Record) -> Vec<BlobId> {
    let mut ids = record.facts.blob_ids();
    ids.extend(record.host.as_ref().map(HostSide::blob_ids).unwrap_or_default());
    ids.sort();
    ids.dedup();
    ids
}

/// Write `data` to `path` atomically: temporary file in the same directory,
/// fsync, rename, fsync of the directory. On failure the temporary file is
/// removed and `path` is untouched.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), DbError> {
    let dir = path.parent().ok_or_else(|| err(path, "no parent directory"))?;
    fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let tmp = temp_path(path);
    let written = write_synced(&tmp, data).and_then(|()| fs::rename(&tmp, path).map_err(|e| err(path, e)));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Create `path` with `data`, fsynced (the caller renames it into place).
fn write_synced(path: &Path, data: &[u8]) -> Result<(), DbError> {
    let mut f = fs::File::create(path).map_err(|e| err(path, e))?;
    f.write_all(data).and_then(|_| f.sync_all()).map_err(|e| err(path, e))
}

/// A record to put into the database.
struct Put {
    target: PathBuf,
    key: RecordKey,
    bytes: Vec<u8>,
    /// The bytes it replaces, if the file held a different record.
    old: Option<Vec<u8>>,
    written: Written,
}

/// The undo log of one write: everything it created or replaced so far.
#[derive(Default)]
struct Undo {
    dirs: Vec<PathBuf>,
    blobs: Vec<PathBuf>,
    temps: Vec<PathBuf>,
    /// Records renamed into place, with the bytes they replaced.
    placed: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Undo {
    /// `create_dir_all`, remembering each directory it made.
    fn mkdirs(&mut self, dir: &Path) -> Result<(), DbError> {
        let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
        fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
        self.dirs.extend(missing.into_iter().rev().map(Path::to_path_buf));
        Ok(())
    }

    /// Put back what was there before; best effort, every step tried.
    fn roll_back(self) {
        for (path, old) in self.placed.iter().rev() {
            let _ = match old {
                Some(bytes) => write_atomic(path, bytes),
                None => fs::remove_file(path).map_err(|e| err(path, e)),
            };
        }
        for p in self.temps.iter().chain(&self.blobs) {
            let _ = fs::remove_file(p);
        }
        for d in self.dirs.iter().rev() {
            // Only if empty: never take anything else with it.
            let _ = fs::remove_dir(d);
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Tests: make the n-th rename of a commit fail.
    static FAIL_RENAME: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Why a record is not replaced: what differs, and how to replace it.
fn replace_refused(key: &RecordKey, old: &[u8], new: &[u8]) -> String {
    let qemu = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|t| Record::parse(t).ok())
            .map(|r| {
                format!(
                    "{:?} (blake3 {:.12})",
                    r.provenance.qemu.package, r.provenance.qemu.blake3
                )
            })
            .unwrap_or_else(|| "an unreadable record".into())
    };
    format!(
        "already holds a different record of {key}: QEMU {} there, {} in this run (a rebuild of the same \
         version?); refusing to replace it: give --replace to replace it",
        qemu(old),
        qemu(new)
    )
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
            lock: None,
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
            lock: None,
        })
    }

    /// This database, holding its write lock until the returned handle
    /// (and every clone of it) is dropped: for commands that read, decide
    /// and write, so that no other writer comes in between. Fails at once
    /// when another process holds the lock.
    pub fn locked(&self) -> Result<Db, DbError> {
        if self.lock.is_some() {
            return Ok(self.clone());
        }
        let lock = WriteLock::take(&self.root)?;
        Ok(self.clone().holding(lock))
    }

    /// This database with a lock taken on its directory before it was
    /// opened (`snapshot` locks before the database exists).
    pub fn holding(mut self, lock: WriteLock) -> Db {
        self.lock = Some(Arc::new(lock));
        self
    }

    /// The lock this handle holds, or a lock taken for one write.
    fn write_lock(&self) -> Result<Option<WriteLock>, DbError> {
        match &self.lock {
            Some(l) if l.root() == self.root => Ok(None),
            Some(l) => Err(err(
                &self.root,
                format!("holds the write lock of {} instead", l.root().display()),
            )),
            None => WriteLock::take(&self.root).map(Some),
        }
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

    pub(crate) fn blob_path(&self, id: &BlobId) -> PathBuf {
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

    /// Write records with their blobs, all or nothing (see the module
    /// documentation). A record file that holds a different record is an
    /// error unless `replace`; one that holds the same bytes is left alone.
    /// Returns each record path and what was done to it.
    pub fn write(&self, records: &[(&Record, &Blobs)], replace: bool) -> Result<Vec<(PathBuf, Written)>, DbError> {
        self.write_as(records, false, replace)
    }

    /// Write observations as pending records (all or nothing, as records
    /// are); a pending record of the same key is replaced. Returns the paths.
    pub fn write_pending(&self, records: &[(&Record, &Blobs)]) -> Result<Vec<PathBuf>, DbError> {
        let done = self.write_as(records, true, true)?;
        Ok(done.into_iter().map(|(p, _)| p).collect())
    }

    fn write_as(
        &self,
        records: &[(&Record, &Blobs)],
        pending: bool,
        replace: bool,
    ) -> Result<Vec<(PathBuf, Written)>, DbError> {
        let _lock = self.write_lock()?;
        let mut puts = Vec::new();
        let mut blobs: Vec<(BlobId, &[u8])> = Vec::new();
        for (record, with) in records {
            let target = if pending {
                self.pending_path(&record.key)
            } else {
                self.record_path(&record.key)
            };
            let text = record.to_toml().map_err(|e| err(&target, e))?;
            puts.push(self.plan(target, &record.key, text.into_bytes(), replace)?);
            // A blob not given must be in the database already (checked
            // with the staged record).
            blobs.extend(
                record_blobs(record)
                    .into_iter()
                    .filter_map(|id| with.get(&id).map(|d| (id, d))),
            );
        }
        self.commit(puts, blobs)
    }

    /// What writing `bytes` to `target` means: new, unchanged, replaced (if
    /// allowed), or an error.
    fn plan(&self, target: PathBuf, key: &RecordKey, bytes: Vec<u8>, replace: bool) -> Result<Put, DbError> {
        let (old, written) = match fs::symlink_metadata(&target) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, Written::New),
            Err(e) => return Err(err(&target, e)),
            Ok(m) if !m.is_file() => return Err(err(&target, "exists and is not a regular file")),
            Ok(_) => {
                let old = fs::read(&target).map_err(|e| err(&target, e))?;
                if old == bytes {
                    (None, Written::Unchanged)
                } else if replace {
                    (Some(old), Written::Replaced)
                } else {
                    return Err(err(&target, replace_refused(key, &old, &bytes)));
                }
            }
        };
        Ok(Put {
            target,
            key: key.clone(),
            bytes,
            old,
            written,
        })
    }

    /// Stage, verify and commit: the one way records get into the database.
    fn commit(&self, puts: Vec<Put>, blobs: Vec<(BlobId, &[u8])>) -> Result<Vec<(PathBuf, Written)>, DbError> {
        let mut seen = BTreeSet::new();
        for p in &puts {
            if !seen.insert(&p.target) {
                return Err(err(&p.target, format!("{} given twice in one write", p.key)));
            }
        }
        let mut undo = Undo::default();
        match self.stage_and_place(&puts, &blobs, &mut undo) {
            Ok(()) => Ok(puts.into_iter().map(|p| (p.target, p.written)).collect()),
            Err(e) => {
                undo.roll_back();
                Err(e)
            }
        }
    }

    fn stage_and_place(&self, puts: &[Put], blobs: &[(BlobId, &[u8])], undo: &mut Undo) -> Result<(), DbError> {
        let mut sync = BTreeSet::new();
        // 1. Blobs: content-addressed, so each goes straight to its place;
        // one already there is verified (and repaired if it rotted).
        let mut done = BTreeSet::new();
        for (id, data) in blobs {
            if !done.insert(id) {
                continue;
            }
            if BlobId::of(data) != *id {
                return Err(err(
                    &self.blob_path(id),
                    "blob bytes given to write do not match the blob's name",
                ));
            }
            let p = self.blob_path(id);
            if fs::read(&p).is_ok_and(|have| BlobId::of(&have) == *id) {
                continue;
            }
            let existed = p.exists();
            let dir = p.parent().ok_or_else(|| err(&p, "no parent directory"))?;
            undo.mkdirs(dir)?;
            let tmp = temp_path(&p);
            undo.temps.push(tmp.clone());
            write_synced(&tmp, data)?;
            fs::rename(&tmp, &p).map_err(|e| err(&p, e))?;
            undo.temps.pop();
            if !existed {
                undo.blobs.push(p.clone());
            }
            sync.insert(dir.to_path_buf());
        }
        // 2. Every record to a temporary name beside its place.
        let todo: Vec<&Put> = puts.iter().filter(|p| p.written != Written::Unchanged).collect();
        let mut temps = Vec::new();
        for p in &todo {
            let dir = p.target.parent().ok_or_else(|| err(&p.target, "no parent directory"))?;
            undo.mkdirs(dir)?;
            let tmp = temp_path(&p.target);
            undo.temps.push(tmp.clone());
            write_synced(&tmp, &p.bytes)?;
            temps.push(tmp);
        }
        // 3. Read back and verify before anything becomes visible.
        for (p, tmp) in todo.iter().zip(&temps) {
            self.verify_staged(p, tmp)?;
        }
        // 4. Commit by renames.
        for (i, (p, tmp)) in todo.iter().zip(&temps).enumerate() {
            #[cfg(test)]
            if FAIL_RENAME.with(|f| f.get()) == Some(i) {
                return Err(err(&p.target, "injected rename failure"));
            }
            let _ = i;
            fs::rename(tmp, &p.target).map_err(|e| err(&p.target, e))?;
            undo.temps.retain(|t| t != tmp);
            undo.placed.push((p.target.clone(), p.old.clone()));
            if let Some(dir) = p.target.parent() {
                sync.insert(dir.to_path_buf());
            }
        }
        // 5. Make the renames (and new directories) durable.
        for d in undo.dirs.iter().filter_map(|d| d.parent()) {
            sync.insert(d.to_path_buf());
        }
        for d in &sync {
            sync_dir(d)?;
        }
        Ok(())
    }

    /// A staged record file holds what was meant, parses, carries the key
    /// of its place, and every blob it names is in the database.
    fn verify_staged(&self, p: &Put, tmp: &Path) -> Result<(), DbError> {
        let back = fs::read(tmp).map_err(|e| err(tmp, e))?;
        if back != p.bytes {
            return Err(err(tmp, "staged record reads back different bytes"));
        }
        let text = std::str::from_utf8(&back).map_err(|e| err(tmp, e))?;
        let record = Record::parse(text).map_err(|e| err(tmp, format!("staged record does not parse: {e}")))?;
        if record.key != p.key {
            return Err(err(tmp, format!("staged record is of {}, not {}", record.key, p.key)));
        }
        for id in record_blobs(&record) {
            if !self.blob_path(&id).is_file() {
                return Err(err(tmp, format!("staged record refers to blob {id}, which is missing")));
            }
        }
        Ok(())
    }

    /// Copy the records of `others` (shard databases) into this one, with
    /// the blobs they refer to, in one all-or-nothing write. A record this
    /// database (or an earlier shard) already has must be byte-identical:
    /// shards of one run never overlap, so a difference means the databases
    /// come from different runs. Returns how many records each shard added.
    pub fn merge_from(&self, others: &[Db]) -> Result<Vec<usize>, DbError> {
        let _lock = self.write_lock()?;
        let mut puts: Vec<Put> = Vec::new();
        let mut counts = Vec::new();
        let mut blob_data: Vec<(BlobId, Vec<u8>)> = Vec::new();
        for other in others {
            let mut n = 0;
            for key in other.index()? {
                let path = other.record_path(&key);
                let text = fs::read(&path).map_err(|e| err(&path, e))?;
                let target = self.record_path(&key);
                let earlier = puts.iter().find(|p| p.target == target).map(|p| &p.bytes);
                let mine = match earlier {
                    Some(b) => Some(b.clone()),
                    None if target.exists() => Some(fs::read(&target).map_err(|e| err(&target, e))?),
                    None => None,
                };
                if let Some(mine) = mine {
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
                for id in record_blobs(&record) {
                    // Verified on read: a shard's rotten blob never gets in.
                    blob_data.push((id.clone(), other.blob(&id)?));
                }
                puts.push(self.plan(target, &key, text, false)?);
                n += 1;
            }
            counts.push(n);
        }
        let blobs = blob_data.iter().map(|(id, d)| (id.clone(), d.as_slice())).collect();
        self.commit(puts, blobs)?;
        Ok(counts)
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

    /// The real 7.2.22 database of tests/data.
    fn sample() -> Db {
        Db::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/db-qemu-7.2.22")).expect("sample db")
    }

    /// Every record of the sample with the blobs it refers to.
    fn records() -> Vec<(Record, Blobs)> {
        let db = sample();
        db.load_all()
            .expect("records")
            .into_iter()
            .map(|r| {
                let mut blobs = Blobs::default();
                for id in record_blobs(&r) {
                    blobs.put(db.blob(&id).expect("blob"));
                }
                (r, blobs)
            })
            .collect()
    }

    fn refs(r: &[(Record, Blobs)]) -> Vec<(&Record, &Blobs)> {
        r.iter().map(|(r, b)| (r, b)).collect()
    }

    /// Every file below `root` with its bytes.
    fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out: Vec<_> = walkdir::WalkDir::new(root)
            .into_iter()
            .map(|e| e.expect("walk"))
            .filter(|e| e.file_type().is_file())
            .map(|e| (e.path().to_path_buf(), fs::read(e.path()).expect("read")))
            .collect();
        out.sort();
        out
    }

    fn dirs(root: &Path) -> Vec<PathBuf> {
        let mut out: Vec<_> = walkdir::WalkDir::new(root)
            .into_iter()
            .map(|e| e.expect("walk"))
            .filter(|e| e.file_type().is_dir())
            .map(|e| e.path().to_path_buf())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn write_atomic_that_fails_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().expect("tmp");
        // The place is taken by a directory: the rename must fail.
        let place = tmp.path().join("waivers.toml");
        fs::create_dir_all(place.join("x")).expect("mkdir");
        let e = write_atomic(&place, b"[[waiver]]\n").expect_err("rename over a directory");
        assert!(e.to_string().starts_with(&place.display().to_string()), "{e}");
        let names: Vec<String> = fs::read_dir(tmp.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["waivers.toml"]);
    }

    #[test]
    fn a_rename_that_fails_mid_commit_rolls_everything_back() {
        let recs = records();
        let tmp = tempfile::tempdir().expect("tmp");
        let db = Db::open_or_create(tmp.path()).expect("db");
        // One record already there, with other bytes: --replace replaces it.
        let (first, blobs) = &recs[0];
        db.write(&[(first, blobs)], false).expect("first record");
        let file = db.record_path(&first.key);
        let mut text = fs::read_to_string(&file).expect("read");
        text = text.replacen("package = \"Debian ", "package = \"Rebuilt ", 1);
        fs::write(&file, &text).expect("edit");
        let (before, before_dirs) = (tree(tmp.path()), dirs(tmp.path()));
        for fail_at in 0..recs.len() {
            FAIL_RENAME.with(|f| f.set(Some(fail_at)));
            let e = db.write(&refs(&recs), true).expect_err("injected failure");
            FAIL_RENAME.with(|f| f.set(None));
            assert!(e.to_string().contains("injected rename failure"), "{e}");
            assert_eq!(tree(tmp.path()), before, "rename {fail_at} failed: files left or lost");
            assert_eq!(
                dirs(tmp.path()),
                before_dirs,
                "rename {fail_at} failed: directories left"
            );
        }
        let done = db.write(&refs(&recs), true).expect("write");
        let what: Vec<Written> = done.iter().map(|(_, w)| *w).collect();
        assert_eq!(what[0], Written::Replaced);
        assert!(what[1..].iter().all(|w| *w == Written::New), "{what:?}");
        assert_eq!(db.load_all().expect("load").len(), recs.len());
    }

    #[test]
    fn a_different_record_is_replaced_only_when_asked() {
        let recs = records();
        let tmp = tempfile::tempdir().expect("tmp");
        let db = Db::open_or_create(tmp.path()).expect("db");
        let (r, b) = &recs[0];
        let (p, w) = db.write(&[(r, b)], false).expect("write").remove(0);
        assert_eq!(w, Written::New);
        let upstream = fs::read(&p).expect("read");
        // The same bytes again: nothing to do.
        let again = db.write(&[(r, b)], false).expect("write");
        assert_eq!(again[0].1, Written::Unchanged);
        // A distro rebuild of the same version: refused, naming the file,
        // both builds and the way out; nothing changes.
        let mut rebuild = r.clone();
        rebuild.provenance.qemu.package = "Debian 1:7.2+dfsg-7+deb12u18+rebuild1".into();
        let e = db
            .write(&[(&rebuild, b)], false)
            .expect_err("replacing without --replace");
        let msg = e.to_string();
        assert!(msg.starts_with(&p.display().to_string()), "{msg}");
        assert!(
            msg.contains("+rebuild1") && msg.contains("+b3") && msg.contains("--replace"),
            "{msg}"
        );
        assert_eq!(fs::read(&p).expect("read"), upstream);
        let (_, w) = db.write(&[(&rebuild, b)], true).expect("replace").remove(0);
        assert_eq!(w, Written::Replaced);
        assert_eq!(
            db.load(&r.key).expect("load").provenance.qemu.package,
            rebuild.provenance.qemu.package
        );
    }

    #[test]
    fn a_staged_write_refuses_blobs_that_are_not_given_nor_there() {
        let recs = records();
        let tmp = tempfile::tempdir().expect("tmp");
        let db = Db::open_or_create(tmp.path()).expect("db");
        let before = tree(tmp.path());
        let e = db
            .write(&[(&recs[0].0, &Blobs::default())], false)
            .expect_err("a record without its blobs");
        assert!(e.to_string().contains("which is missing"), "{e}");
        assert_eq!(tree(tmp.path()), before);
    }

    #[test]
    fn a_rotten_blob_is_repaired_by_a_write_that_has_its_bytes() {
        let recs = records();
        let tmp = tempfile::tempdir().expect("tmp");
        let db = Db::open_or_create(tmp.path()).expect("db");
        let (r, b) = &recs[0];
        db.write(&[(r, b)], false).expect("write");
        let id = record_blobs(r).remove(0);
        fs::write(db.blob_path(&id), b"rot").expect("corrupt");
        assert!(db.blob(&id).is_err());
        db.write(&[(r, b)], false).expect("write again");
        assert_eq!(db.blob(&id).expect("repaired"), b.get(&id).expect("bytes"));
    }
}
