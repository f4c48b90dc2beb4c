//! The review flow: `check --pending` leaves what it observed beside the
//! baseline as `<version>.pending.toml`; `review` shows what each pending
//! record changes; `accept` turns the changes into waivers with a reason,
//! `reject` discards them. Nothing is ever accepted without a reason.

use crate::outcome::{self, MachineResult};
use crate::selection::Baselines;
use crate::waiver::Waivers;
use abi_model::drift::{Drift, FactPath};
use abi_model::glob::glob_match;
use abi_model::record::Record;
use abi_model::Version;
use abi_store::db::{Db, DbError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

/// A pending record and how it differs from its baseline.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The `.pending.toml` file.
    pub file: PathBuf,
    /// The observation.
    pub record: Record,
    /// The comparison with the baseline, waivers applied by the caller.
    pub result: MachineResult,
}

/// Every pending record of `db` (optionally only machine types matching
/// one of `globs`), compared with its baseline among `baselines` (the
/// database's, which the caller has indexed already). Only the pending
/// records and their baselines are read.
pub fn pending(db: &Db, baselines: &Baselines, globs: &[String]) -> Result<Vec<Pending>, DbError> {
    let mut out = Vec::new();
    for (key, file) in db.pending_index()? {
        if !globs.is_empty() && !globs.iter().any(|g| glob_match(g, &key.machine.0)) {
            continue;
        }
        let Some(base) = baselines.get(&key.arch, &key.machine, &key.profile) else {
            return Err(DbError {
                path: file,
                message: "pending record without a baseline record".into(),
            });
        };
        let base = db.load(base)?;
        let record = db.load_record(&file)?;
        let base_file = db.record_path(&base.key);
        let result = outcome::compare_records(
            db,
            &base,
            &record,
            &outcome::db_blobs(db, &base_file),
            &outcome::db_blobs(db, &file),
        );
        out.push(Pending { file, record, result });
    }
    Ok(out)
}

/// One distinct change seen in pending records, with every machine type
/// and profile it was seen on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The drift (of the first record it was seen in).
    pub drift: Drift,
    /// Machine types, sorted.
    pub machines: BTreeSet<String>,
    /// Profiles, sorted.
    pub profiles: BTreeSet<String>,
    /// Oldest QEMU version that showed it.
    pub version: Version,
}

/// The distinct unwaived changes of the given pending records.
pub fn changes(pending: &[Pending]) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    // (rule, path, old, new) → index in `out`, in first-seen order.
    let mut index: HashMap<(String, FactPath, Option<String>, Option<String>), usize> = HashMap::new();
    for p in pending {
        for d in p.result.drifts().iter().filter(|d| d.unwaived()) {
            let v = p.record.key.qemu_version.clone();
            let key = (d.rule.clone(), d.path.clone(), d.old.clone(), d.new.clone());
            match index.get(&key).copied() {
                Some(i) => {
                    let c = &mut out[i];
                    c.machines.insert(p.record.key.machine.0.clone());
                    c.profiles.insert(p.record.key.profile.clone());
                    if v < c.version {
                        c.version = v;
                    }
                }
                None => {
                    index.insert(key, out.len());
                    out.push(Change {
                        drift: d.clone(),
                        machines: [p.record.key.machine.0.clone()].into(),
                        profiles: [p.record.key.profile.clone()].into(),
                        version: v,
                    });
                }
            }
        }
    }
    out
}

#[derive(Serialize)]
struct WaiverOut {
    id: String,
    machines: Vec<String>,
    rule: String,
    path: String,
    since: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<String>,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
}

#[derive(Serialize)]
struct FileOut {
    waiver: Vec<WaiverOut>,
}

/// A waiver id for a change: the rule plus a short hash of what changed,
/// so accepting the same change twice gives the same id.
fn waiver_id(d: &Drift, taken: &BTreeSet<String>) -> String {
    let text = format!("{}\n{:?}\n{:?}", d.path, d.old, d.new);
    let hash = blake3::hash(text.as_bytes()).to_hex();
    let mut n = 8;
    loop {
        let id = format!("{}-{}", d.rule, &hash[..n]);
        if !taken.contains(&id) || n >= hash.len() {
            return id;
        }
        n += 2;
    }
}

/// The `[[waiver]]` entries (TOML text) accepting `changes`, each with its
/// reason and link. Exact: machine names, path, old and new value; valid
/// from the QEMU minor release that first showed the change.
pub fn waiver_text(changes: &[(Change, String, Option<String>)], existing: &Waivers) -> Result<String, String> {
    let mut taken: BTreeSet<String> = existing.list.iter().map(|w| w.id.clone()).collect();
    let mut out = Vec::new();
    for (c, reason, link) in changes {
        if reason.trim().is_empty() {
            return Err(format!("no reason given for {}", c.drift.path));
        }
        let id = waiver_id(&c.drift, &taken);
        taken.insert(id.clone());
        let parts = c.version.parts();
        let since = parts.iter().take(2).map(u32::to_string).collect::<Vec<_>>().join(".");
        out.push(WaiverOut {
            id,
            machines: c.machines.iter().cloned().collect(),
            rule: c.drift.rule.clone(),
            path: c.drift.path.as_str().to_string(),
            since,
            old: c.drift.old.clone(),
            new: c.drift.new.clone(),
            reason: reason.trim().to_string(),
            link: link.clone(),
        });
    }
    toml::to_string(&FileOut { waiver: out }).map_err(|e| e.to_string())
}

/// Group changes by fact path for display: `path → changes`.
pub fn by_path(changes: &[Change]) -> BTreeMap<&FactPath, Vec<&Change>> {
    let mut m: BTreeMap<&FactPath, Vec<&Change>> = BTreeMap::new();
    for c in changes {
        m.entry(&c.drift.path).or_default().push(c);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_model::drift::{Category, Severity};
    use std::path::Path;

    fn drift(path: &str, old: &str, new: &str) -> Drift {
        Drift {
            rule: "acpi-table-revision".into(),
            category: Category::Acpi,
            severity: Severity::Break,
            path: FactPath::new(path),
            old: Some(old.into()),
            new: Some(new.into()),
            detail: None,
            device: None,
            waiver: None,
        }
    }

    #[test]
    fn accepted_changes_become_waivers_that_load_and_match() {
        let c = Change {
            drift: drift("acpi.APIC.header.revision", "1", "3"),
            machines: ["pc-q35-7.2".to_string(), "pc-i440fx-7.2".to_string()].into(),
            profiles: ["default".to_string()].into(),
            version: Version::parse("10.0.2").expect("version"),
        };
        let text = waiver_text(
            &[(
                c.clone(),
                "MADT revision 3 (ACPI 6.x)".into(),
                Some("https://x.invalid".into()),
            )],
            &Waivers::default(),
        )
        .expect("text");
        let machines: Vec<abi_model::MachineType> =
            c.machines.iter().map(|m| abi_model::MachineType(m.clone())).collect();
        let w = Waivers::parse(&text, Path::new("waivers.toml"), &machines).expect("generated waivers load");
        assert_eq!(w.list.len(), 1);
        let w = &w.list[0];
        assert!(w.id.starts_with("acpi-table-revision-"), "{}", w.id);
        assert_eq!(w.since.as_ref().map(ToString::to_string).as_deref(), Some("10.0"));
        assert!(w.matches(&c.drift));
        assert!(!w.matches(&drift("acpi.APIC.header.revision", "1", "4")));
        assert!(waiver_text(&[(c, "  ".into(), None)], &Waivers::default()).is_err());
    }
}
