//! Every drift rule fires on a real change. For each rule of
//! [`abi_check::rules::RULES`], `tests/rules/<rule id>.toml` describes a
//! real-world change as a small mutation of records captured from real QEMU
//! builds (tests/data); this test builds the two records, runs the same
//! comparison `check` and `diff` run, and requires the drifts the fixture
//! expects, and no others. A rule without a fixture, or whose fixture no
//! longer makes it fire, fails here. The fixture format is in
//! tests/rules/README.md.

use abi_check::outcome::{self, MachineResult, Outcome};
use abi_check::rules::{self, RULES};
use abi_check::selection::{self, Baselines, Item, Request};
use abi_check::shard::Shard;
use abi_model::blob::BlobId;
use abi_model::drift::Drift;
use abi_model::record::{Record, RecordKey};
use abi_model::{MachineType, Version};
use abi_store::Db;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_dir() -> PathBuf {
    repo().join("tests/rules")
}

/// One fixture: a real change and the drifts it must produce.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    /// The real-world change the fixture stands for.
    why: String,
    /// How the drift comes about.
    #[serde(default)]
    trigger: Trigger,
    /// The record both sides start from: `<QEMU version>/<machine>/<profile>`
    /// in `tests/data/db-qemu-<QEMU version>`.
    base: String,
    /// Mutations of the baseline (trigger `compare`), in order.
    #[serde(default)]
    old: Vec<Mutation>,
    /// Mutations of the observed record (trigger `compare`), in order.
    #[serde(default)]
    new: Vec<Mutation>,
    /// Trigger `removed`: a `-machine help` capture under tests/data.
    machine_help: Option<String>,
    /// Trigger `removed`: machine types taken out of that list.
    #[serde(default)]
    offered_without: Vec<String>,
    /// Trigger `missing-devices`: a `-device help` capture under tests/data.
    device_help: Option<String>,
    /// Drifts that must come out.
    expect: Vec<Expect>,
    /// Other rules whose drifts may come with them (consequences of the
    /// same change); any drift neither expected nor of these rules fails.
    #[serde(default)]
    also: Vec<String>,
}

/// Where the drifts of a fixture come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Trigger {
    /// `outcome::compare_records` of the mutated baseline and observation.
    #[default]
    Compare,
    /// `selection::plan` against a binary's machine list: the baselines it
    /// no longer offers become `MachineResult::removed`.
    Removed,
    /// The base record's profile (as built in today) against a binary's
    /// device list: what it lacks becomes `MachineResult::missing_devices`.
    MissingDevices,
}

/// One change to a record, or to a blob it refers to.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mutation {
    /// Record path of a blob id: the operation applies to that blob (bytes,
    /// or JSON for `set`/`insert`/`remove`), and the path gets the id of
    /// the changed blob.
    blob: Option<String>,
    /// Set the value at this path (created if missing).
    set: Option<String>,
    /// Insert into the array at this path; the last segment is the index.
    insert: Option<String>,
    /// Remove the value at this path.
    remove: Option<String>,
    /// The value for `set` or `insert`.
    value: Option<toml::Value>,
    /// Or take it from another record: `<base>` (same path) or `<base>:<path>`.
    from: Option<String>,
    /// Overwrite bytes of the blob.
    poke: Option<Bytes>,
    /// Remove `cut` bytes at a place and put others there.
    splice: Option<Bytes>,
    /// Recompute what a format derives from its bytes: `acpi` (header
    /// length and checksum), `smbios-entry-point` (its checksums),
    /// `option-rom` (the checksum byte at the end of the declared size).
    fix: Option<String>,
}

/// A place in a blob and bytes to put there.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bytes {
    /// Byte offset.
    at: Option<usize>,
    /// Or: where this text occurs (exactly once) in the blob ...
    find: Option<String>,
    /// ... or these bytes (hex) do.
    find_hex: Option<String>,
    /// Added to the place found.
    plus: Option<usize>,
    /// Bytes removed there (`splice` only).
    #[serde(default)]
    cut: usize,
    /// The bytes put there, in hex (spaces allowed) ...
    hex: Option<String>,
    /// ... or as text.
    text: Option<String>,
}

/// A drift that must come out.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// Rule id; the fixture's own rule when left out.
    rule: Option<String>,
    /// The drift's path, exactly.
    path: Option<String>,
    /// The baseline value: text, or `false` for none (the fact is new).
    old: Option<Side>,
    /// The observed value: text, or `false` for none (the fact is gone).
    new: Option<Side>,
    /// Text the observed value contains.
    new_contains: Option<String>,
    /// Text the drift's detail contains.
    detail_contains: Option<String>,
    /// The device the drift names at its slot (`e1000e (nic1)`).
    device: Option<String>,
}

/// An expected value of one side of a drift.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum Side {
    /// `false`: no value on that side.
    Absent(bool),
    /// This value.
    Text(String),
}

impl Side {
    fn matches(&self, v: Option<&str>) -> bool {
        match self {
            Side::Absent(false) => v.is_none(),
            // Refused by `check`: `true` names no value.
            Side::Absent(true) => false,
            Side::Text(t) => v == Some(t.as_str()),
        }
    }
}

impl Expect {
    fn rule<'a>(&'a self, own: &'a str) -> &'a str {
        self.rule.as_deref().unwrap_or(own)
    }

    fn matches(&self, own: &str, d: &Drift) -> bool {
        d.rule == self.rule(own)
            && self.path.as_ref().is_none_or(|p| d.path.as_str() == p)
            && self.old.as_ref().is_none_or(|s| s.matches(d.old.as_deref()))
            && self.new.as_ref().is_none_or(|s| s.matches(d.new.as_deref()))
            && self
                .new_contains
                .as_ref()
                .is_none_or(|c| d.new.as_deref().is_some_and(|n| n.contains(c.as_str())))
            && self
                .detail_contains
                .as_ref()
                .is_none_or(|c| d.detail.as_deref().is_some_and(|n| n.contains(c.as_str())))
            && self.device.as_ref().is_none_or(|x| d.device.as_ref() == Some(x))
    }
}

/// The two captured databases, and blobs the fixtures made.
struct Data {
    dbs: HashMap<String, Db>,
    made: HashMap<BlobId, Vec<u8>>,
}

impl Data {
    fn open() -> Data {
        let mut dbs = HashMap::new();
        for v in ["7.2.22", "10.0.2"] {
            let root = repo().join(format!("tests/data/db-qemu-{v}"));
            let db = Db::open(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
            dbs.insert(v.to_string(), db);
            // aarch64 virt records: their own databases, so that the x86 ones
            // (which report and review tests count) stay as they are.
            let root = repo().join(format!("tests/data/db-aarch64-{v}"));
            let db = Db::open(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
            dbs.insert(format!("aarch64/{v}"), db);
        }
        Data {
            dbs,
            made: HashMap::new(),
        }
    }

    fn db(&self, version: &str) -> Result<&Db, String> {
        self.dbs
            .get(version)
            .ok_or_else(|| format!("no database of QEMU {version} under tests/data"))
    }

    /// `<version>/<machine>/<profile>` → its database and key.
    fn key(&self, base: &str) -> Result<(&Db, RecordKey), String> {
        let parts: Vec<&str> = base.split('/').collect();
        let [v, machine, profile] = parts[..] else {
            return Err(format!("base {base:?} is not <QEMU version>/<machine>/<profile>"));
        };
        let arch = if machine.starts_with("virt") {
            "aarch64"
        } else {
            "x86_64"
        };
        let key = RecordKey {
            arch: arch.into(),
            machine: MachineType(machine.into()),
            profile: profile.into(),
            qemu_version: Version::parse(v).ok_or_else(|| format!("{v:?} is not a version"))?,
        };
        let db = match arch {
            "aarch64" => self.db(&format!("aarch64/{v}"))?,
            _ => self.db(v)?,
        };
        Ok((db, key))
    }

    fn record(&self, base: &str) -> Result<Record, String> {
        let (db, key) = self.key(base)?;
        db.load(&key).map_err(|e| format!("{base}: {e}"))
    }

    fn blob(&self, id: &BlobId) -> Option<Vec<u8>> {
        self.made
            .get(id)
            .cloned()
            .or_else(|| self.dbs.values().find_map(|db| db.blob(id).ok()))
    }
}

/// Path segments of a TOML dotted key: `facts.pci."0000:00:02.0".bars.1`.
fn segments(path: &str) -> Result<Vec<String>, String> {
    let doc: toml::Table = toml::from_str(&format!("{path} = 0")).map_err(|e| format!("path {path:?}: {e}"))?;
    let mut out = Vec::new();
    let mut t = &doc;
    loop {
        let (k, v) = t.iter().next().ok_or_else(|| format!("path {path:?} is empty"))?;
        out.push(k.clone());
        match v {
            toml::Value::Table(inner) => t = inner,
            _ => return Ok(out),
        }
    }
}

/// The value at `path`, following numeric segments into arrays.
fn at<'a>(root: &'a mut Value, path: &[String]) -> Result<&'a mut Value, String> {
    let mut v = root;
    for (i, s) in path.iter().enumerate() {
        let here = || path[..=i].join(".");
        v = match v {
            Value::Object(m) => m.get_mut(s).ok_or_else(|| format!("no {}", here()))?,
            Value::Array(a) => {
                let n: usize = s
                    .parse()
                    .map_err(|_| format!("{} is an array: index it", path[..i].join(".")))?;
                a.get_mut(n).ok_or_else(|| format!("no {}", here()))?
            }
            _ => return Err(format!("{} is not a table", path[..i].join("."))),
        };
    }
    Ok(v)
}

/// Apply a `set`, `insert` or `remove` to a JSON document.
fn edit(doc: &mut Value, m: &Mutation, data: &Data) -> Result<(), String> {
    let value = || -> Result<Value, String> {
        match (&m.value, &m.from) {
            (Some(v), None) => serde_json::to_value(v).map_err(|e| e.to_string()),
            (None, Some(from)) => {
                let own = m.set.as_ref().or(m.insert.as_ref()).cloned().unwrap_or_default();
                let (base, path) = from.split_once(':').unwrap_or((from, own.as_str()));
                let mut other = record_json(&data.record(base)?)?;
                Ok(at(&mut other, &segments(path)?)?.clone())
            }
            _ => Err("give one of value and from".into()),
        }
    };
    let split = |p: &str| -> Result<(Vec<String>, String), String> {
        let mut s = segments(p)?;
        let last = s.pop().ok_or("empty path")?;
        Ok((s, last))
    };
    if let Some(p) = &m.set {
        let v = value()?;
        let (parent, last) = split(p)?;
        match at(doc, &parent)? {
            Value::Object(o) => {
                o.insert(last, v);
            }
            Value::Array(a) => {
                let i: usize = last.parse().map_err(|_| format!("{p}: index an array"))?;
                *a.get_mut(i).ok_or_else(|| format!("no {p}"))? = v;
            }
            _ => return Err(format!("{p}: parent is not a table")),
        }
    } else if let Some(p) = &m.insert {
        let v = value()?;
        let (parent, last) = split(p)?;
        let i: usize = last.parse().map_err(|_| format!("{p}: insert needs an index"))?;
        match at(doc, &parent)? {
            Value::Array(a) if i <= a.len() => a.insert(i, v),
            _ => return Err(format!("{p}: not an array, or the index is past its end")),
        }
    } else if let Some(p) = &m.remove {
        let (parent, last) = split(p)?;
        let gone = match at(doc, &parent)? {
            Value::Object(o) => o.remove(&last).is_some(),
            Value::Array(a) => match last.parse::<usize>() {
                Ok(i) if i < a.len() => {
                    a.remove(i);
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if !gone {
            return Err(format!("nothing to remove at {p}"));
        }
    } else {
        return Err("give one of set, insert and remove".into());
    }
    Ok(())
}

fn hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in {text:?}"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|e| format!("{text:?}: {e}")))
        .collect()
}

impl Bytes {
    /// The offset this names in `blob`.
    fn place(&self, blob: &[u8]) -> Result<usize, String> {
        let pattern = match (&self.at, &self.find, &self.find_hex) {
            (Some(at), None, None) => return Ok(*at),
            (None, Some(t), None) => t.as_bytes().to_vec(),
            (None, None, Some(h)) => hex(h)?,
            _ => return Err("give one of at, find and find_hex".into()),
        };
        let hits: Vec<usize> = blob
            .windows(pattern.len().max(1))
            .enumerate()
            .filter(|(_, w)| *w == pattern.as_slice())
            .map(|(i, _)| i)
            .collect();
        match hits[..] {
            [i] => Ok(i + self.plus.unwrap_or(0)),
            _ => Err(format!("{pattern:02x?} occurs {} times, not once", hits.len())),
        }
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        match (&self.hex, &self.text) {
            (Some(h), None) => hex(h),
            (None, Some(t)) => Ok(t.as_bytes().to_vec()),
            (None, None) if self.cut > 0 => Ok(Vec::new()),
            _ => Err("give one of hex and text".into()),
        }
    }
}

/// Recompute the derived bytes of a format after an edit.
fn fix(blob: &mut [u8], what: &str) -> Result<(), String> {
    let sum = |b: &[u8]| b.iter().fold(0u8, |s, x| s.wrapping_add(*x));
    match what {
        "acpi" => {
            let len = u32::try_from(blob.len()).map_err(|e| e.to_string())?;
            blob.get_mut(4..8)
                .ok_or("not an ACPI table")?
                .copy_from_slice(&len.to_le_bytes());
            blob[9] = 0;
            blob[9] = 0u8.wrapping_sub(sum(blob));
        }
        "smbios-entry-point" if blob.starts_with(b"_SM3_") => {
            // SMBIOS 3.x: one checksum at byte 5 over the length at byte 6.
            let len = usize::from(*blob.get(6).ok_or("truncated SMBIOS 3 entry point")?);
            if blob.len() < len || len < 0x18 {
                return Err("not an SMBIOS 3.x entry point".into());
            }
            blob[5] = 0;
            blob[5] = 0u8.wrapping_sub(sum(&blob[..len]));
        }
        "smbios-entry-point" => {
            // SMBIOS 2.x: intermediate checksum over 0x10..0x1f, then the
            // whole entry point (its length at byte 5).
            let len = usize::from(*blob.get(5).ok_or("not an SMBIOS entry point")?);
            if blob.len() < len || len < 0x1f {
                return Err("not an SMBIOS 2.x entry point".into());
            }
            blob[0x15] = 0;
            blob[0x15] = 0u8.wrapping_sub(sum(&blob[0x10..len]));
            blob[4] = 0;
            blob[4] = 0u8.wrapping_sub(sum(&blob[..len]));
        }
        "option-rom" => {
            // The last byte of the declared size (byte 2, in 512-byte
            // blocks) makes the declared bytes sum to zero.
            let len = usize::from(*blob.get(2).ok_or("not an option ROM")?) * 512;
            if !blob.starts_with(&[0x55, 0xaa]) || len == 0 || blob.len() < len {
                return Err("not an option ROM".into());
            }
            blob[len - 1] = 0;
            blob[len - 1] = 0u8.wrapping_sub(sum(&blob[..len]));
        }
        other => return Err(format!("cannot fix {other:?}")),
    }
    Ok(())
}

/// A record as a JSON document (through its canonical TOML).
fn record_json(r: &Record) -> Result<Value, String> {
    let text = r.to_toml()?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| e.to_string())?;
    serde_json::to_value(table).map_err(|e| e.to_string())
}

/// Apply one mutation to a record document.
fn mutate(doc: &mut Value, m: &Mutation, data: &mut Data) -> Result<(), String> {
    let ops = [
        m.set.is_some(),
        m.insert.is_some(),
        m.remove.is_some(),
        m.poke.is_some(),
        m.splice.is_some(),
    ];
    let n = ops.iter().filter(|x| **x).count();
    if n > 1 || (n == 0 && m.fix.is_none()) {
        return Err("give one of set, insert, remove, poke and splice (or fix alone)".into());
    }
    if m.poke.as_ref().is_some_and(|p| p.cut > 0) {
        return Err("poke overwrites; cut is for splice".into());
    }
    let Some(blob_path) = &m.blob else {
        if m.poke.is_some() || m.splice.is_some() || m.fix.is_some() {
            return Err("poke, splice and fix apply to a blob: name it".into());
        }
        return edit(doc, m, data);
    };
    let slot = at(doc, &segments(blob_path)?)?;
    let id = slot
        .as_str()
        .and_then(BlobId::parse)
        .ok_or_else(|| format!("{blob_path} is not a blob id"))?;
    let mut bytes = data
        .blob(&id)
        .ok_or_else(|| format!("blob {id} of {blob_path} not found"))?;
    if let Some(p) = &m.poke {
        let (i, new) = (p.place(&bytes)?, p.bytes()?);
        bytes
            .get_mut(i..i + new.len())
            .ok_or_else(|| format!("poke past the end of {blob_path}"))?
            .copy_from_slice(&new);
    } else if let Some(s) = &m.splice {
        let (i, new) = (s.place(&bytes)?, s.bytes()?);
        if i + s.cut > bytes.len() {
            return Err(format!("splice past the end of {blob_path}"));
        }
        bytes.splice(i..i + s.cut, new);
    } else if m.fix.is_none() {
        let mut json: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{blob_path}: {e}"))?;
        edit(&mut json, m, data)?;
        bytes = serde_json::to_vec_pretty(&json).map_err(|e| e.to_string())?;
    }
    if let Some(f) = &m.fix {
        fix(&mut bytes, f)?;
    }
    let new_id = BlobId::of(&bytes);
    *slot = Value::String(new_id.as_str().to_string());
    data.made.insert(new_id, bytes);
    Ok(())
}

/// The base record with `mutations` applied.
fn build(base: &Record, mutations: &[Mutation], data: &mut Data) -> Result<Record, String> {
    let mut doc = record_json(base)?;
    for (i, m) in mutations.iter().enumerate() {
        mutate(&mut doc, m, data).map_err(|e| format!("mutation {}: {e}", i + 1))?;
    }
    serde_json::from_value(doc).map_err(|e| format!("the mutated record does not parse: {e}"))
}

fn read_data(rel: &Option<String>, what: &str) -> Result<String, String> {
    let rel = rel.as_ref().ok_or_else(|| format!("trigger needs {what}"))?;
    let p = repo().join("tests/data").join(rel);
    std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))
}

/// The drifts the fixture's trigger produces.
fn run(f: &Fixture, data: &mut Data) -> Result<Vec<Drift>, String> {
    let base = data.record(&f.base)?;
    let results: Vec<MachineResult> = match f.trigger {
        Trigger::Compare => {
            let old = build(&base, &f.old, data)?;
            let new = build(&base, &f.new, data)?;
            let (db, _) = data.key(&f.base)?;
            let src = |id: &BlobId| {
                data.blob(id)
                    .ok_or_else(|| format!("blob {id} is neither in tests/data nor made by the fixture"))
            };
            vec![outcome::compare_records(db, &old, &new, &src, &src)]
        }
        Trigger::Removed => {
            let (db, _) = data.key(&f.base)?;
            let help = read_data(&f.machine_help, "machine_help")?;
            let offered: Vec<MachineType> = recorder::qemu::parse_machine_help(&help)
                .into_iter()
                .map(|m| m.name)
                .filter(|m| !f.offered_without.contains(&m.0))
                .collect();
            let baselines = Baselines::of(db.index().map_err(|e| e.to_string())?);
            let profiles: BTreeSet<&str> = baselines.keys().map(|k| k.profile.as_str()).collect();
            // The machine list is that of QEMU 10.0.2 (tests/data/help-qemu-10.0.2).
            let release = abi_model::Version::parse("10.0.2").expect("version");
            let request = Request {
                arch: "x86_64",
                release: &release,
                machines: &[],
                profiles: &[],
                shard: Shard::ALL,
            };
            let plan = selection::plan(
                &baselines,
                &offered,
                &profiles.into_iter().collect::<Vec<_>>(),
                &request,
            );
            // As `check` does with each item the binary no longer offers.
            plan.items
                .iter()
                .filter_map(|item| match item {
                    Item::Removed(k) => Some(MachineResult::removed(db, k, &k.profile)),
                    _ => None,
                })
                .collect()
        }
        Trigger::MissingDevices => {
            let (db, key) = data.key(&f.base)?;
            let available = recorder::profile::parse_device_help(&read_data(&f.device_help, "device_help")?);
            let profiles = recorder::profile::Profiles::builtin().map_err(|e| e.to_string())?;
            let profile = profiles
                .get(&key.profile)
                .ok_or_else(|| format!("no built-in profile {}", key.profile))?;
            // As `check` does when the recorder refuses to boot for want of devices.
            let missing = profile.missing_devices(&available);
            if missing.is_empty() {
                Vec::new()
            } else {
                vec![MachineResult::missing_devices(db, &key, &key.profile, &missing)]
            }
        }
    };
    let mut drifts = Vec::new();
    for r in results {
        match r.outcome {
            Outcome::Failed { error } => return Err(format!("could not compare: {error}")),
            Outcome::Clean => {}
            Outcome::Drifted { drifts: d } => drifts.extend(d),
        }
    }
    Ok(drifts)
}

fn show(d: &Drift) -> String {
    let side = |v: &Option<String>| v.as_deref().map_or("(none)".to_string(), |s| format!("{s:?}"));
    let detail = d.detail.as_deref().map(|t| format!(" [{t}]")).unwrap_or_default();
    let device = d.device.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
    format!(
        "  {} {}{device} {} → {}{detail}",
        d.rule,
        d.path,
        side(&d.old),
        side(&d.new)
    )
}

/// Check a fixture of rule `id`: its drifts are the expected ones.
fn check(id: &str, f: &Fixture, data: &mut Data) -> Result<(), String> {
    if f.why.trim().is_empty() {
        return Err("says no why".into());
    }
    if f.trigger != Trigger::Compare && !(f.old.is_empty() && f.new.is_empty()) {
        return Err("mutations apply to trigger compare only".into());
    }
    if f.expect
        .iter()
        .flat_map(|e| [&e.old, &e.new])
        .any(|s| matches!(s, Some(Side::Absent(true))))
    {
        return Err("old or new = true names no value: give the text, or false for none".into());
    }
    if !f.expect.iter().any(|e| e.rule(id) == id) {
        return Err(format!("expects no drift of {id}"));
    }
    for r in f.expect.iter().filter_map(|e| e.rule.as_ref()).chain(&f.also) {
        if rules::rule(r).is_none() {
            return Err(format!("names {r:?}, which is no rule"));
        }
    }
    let drifts = run(f, data)?;
    let all = || drifts.iter().map(show).collect::<Vec<_>>().join("\n");
    // For fixture authors: RULES_SHOW=<rule id> prints what its fixture makes.
    if std::env::var("RULES_SHOW").is_ok_and(|v| v == id || v == "all") {
        println!("rule {id}:\n{}", all());
    }
    let mut problems = Vec::new();
    for e in &f.expect {
        if !drifts.iter().any(|d| e.matches(id, d)) {
            problems.push(format!("expected and missing: {e:?}"));
        }
    }
    for d in &drifts {
        if !f.expect.iter().any(|e| e.matches(id, d)) && !f.also.contains(&d.rule) {
            problems.push(format!("unexpected:\n{}", show(d)));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\nevery drift it made:\n{}", problems.join("\n"), all()))
    }
}

fn load(id: &str) -> Result<Fixture, String> {
    let p = fixture_dir().join(format!("{id}.toml"));
    let text = std::fs::read_to_string(&p).map_err(|e| format!("no fixture {}: {e}", p.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
}

#[test]
fn every_rule_fires_on_its_fixture() {
    let mut data = Data::open();
    let mut failures = Vec::new();
    for r in RULES {
        if let Err(e) = load(r.id).and_then(|f| check(r.id, &f, &mut data)) {
            failures.push(format!("rule {}: {e}", r.id));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn every_fixture_is_of_a_rule() {
    let mut strays = Vec::new();
    for entry in std::fs::read_dir(fixture_dir()).expect("tests/rules") {
        let p = entry.expect("entry").path();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.strip_suffix(".toml") {
            Some(id) if rules::rule(id).is_some() => {}
            _ if name == "README.md" => {}
            _ => strays.push(name),
        }
    }
    assert!(
        strays.is_empty(),
        "files in tests/rules that are no rule's fixture: {strays:?}"
    );
}

/// The check above can fail: a fixture whose mutation is gone, that
/// expects another value or another rule, or that does not allow the
/// consequences of its change, is refused.
#[test]
fn a_fixture_that_does_not_hold_fails() {
    let mut data = Data::open();
    let id = "acpi-table-revision";
    let good = load(id).expect("fixture");
    check(id, &good, &mut data).expect("the fixture holds");

    let unmutated = Fixture {
        new: Vec::new(),
        ..good.clone()
    };
    let e = check(id, &unmutated, &mut data).expect_err("no mutation, no drift");
    assert!(e.contains("expected and missing"), "{e}");

    let mut other_value = good.clone();
    other_value.expect[0].new = Some(Side::Text("2".into()));
    let e = check(id, &other_value, &mut data).expect_err("the revision becomes 3, not 2");
    assert!(e.contains("expected and missing"), "{e}");

    let mut other_rule = good.clone();
    other_rule.expect[0].rule = Some("acpi-header-id".into());
    let e = check(id, &other_rule, &mut data).expect_err("a fixture must expect its own rule");
    assert!(e.contains("expects no drift of acpi-table-revision"), "{e}");

    let strict = Fixture {
        also: Vec::new(),
        ..good.clone()
    };
    let e = check(id, &strict, &mut data).expect_err("the checksum drift is not allowed");
    assert!(e.contains("unexpected") && e.contains("acpi-derived"), "{e}");
}

/// Mutations apply where they say, or refuse.
#[test]
fn mutations_refuse_what_they_cannot_do() {
    let mut data = Data::open();
    let base = data.record("7.2.22/pc-q35-7.2/default").expect("record");
    let bad = |m: Mutation, data: &mut Data| build(&base, &[m], data).expect_err("must refuse");
    let e = bad(
        Mutation {
            remove: Some("facts.acpi.NOPE".into()),
            ..Default::default()
        },
        &mut data,
    );
    assert!(e.contains("nothing to remove"), "{e}");
    let e = bad(
        Mutation {
            blob: Some("facts.acpi.APIC.blob".into()),
            poke: Some(Bytes {
                find: Some("no such text".into()),
                hex: Some("00".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        &mut data,
    );
    assert!(e.contains("occurs 0 times"), "{e}");
    // An edit the record schema does not allow.
    let e = bad(
        Mutation {
            set: Some("facts.acpi.APIC.size".into()),
            value: Some(toml::Value::String("big".into())),
            ..Default::default()
        },
        &mut data,
    );
    assert!(e.contains("does not parse"), "{e}");
    // Two operations in one mutation: which would apply is not obvious.
    let e = bad(
        Mutation {
            set: Some("facts.acpi.APIC.size".into()),
            remove: Some("facts.acpi.HPET".into()),
            value: Some(toml::Value::Integer(1)),
            ..Default::default()
        },
        &mut data,
    );
    assert!(e.contains("give one of"), "{e}");
}
