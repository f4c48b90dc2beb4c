//! The ABI changelog of a machine type: its records by successive QEMU
//! releases compared pair by pair, with the waivers of the newer release
//! applied, so that one line per release pair says what changed, what was
//! accepted and under which rules.

use crate::outcome::{self, MachineResult, Outcome};
use crate::verdict;
use crate::waiver::Waivers;
use abi_model::drift::Severity;
use abi_model::record::RecordKey;
use abi_model::{MachineType, Version};
use abi_store::{Db, DbError};
use serde::Serialize;
use std::collections::BTreeMap;

/// What changed between two successive records of one (machine type, profile).
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// Device profile.
    pub profile: String,
    /// The older record's QEMU version.
    pub from: Version,
    /// The newer record's QEMU version.
    pub to: Version,
    /// Unwaived changed facts by severity (`break`, `warn`, `info`).
    pub unwaived: BTreeMap<Severity, usize>,
    /// Changed facts a waiver accepts.
    pub waived: usize,
    /// Rule id → unwaived changed facts under it.
    pub rules: BTreeMap<String, usize>,
    /// Waiver id → facts it accepted.
    pub waivers: BTreeMap<String, usize>,
    /// Why the pair could not be compared, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One (machine type, profile) over every release the database has it from.
#[derive(Clone, Debug, Serialize)]
pub struct History {
    /// Machine type.
    pub machine: MachineType,
    /// Device profile.
    pub profile: String,
    /// QEMU versions with a record, oldest (the baseline) first.
    pub versions: Vec<Version>,
    /// One step per successive pair.
    pub steps: Vec<Step>,
}

/// The history of `machine` on `arch`, for each of `profiles` (all the
/// database has, when empty). Records are read pair by pair.
pub fn of(
    db: &Db,
    waivers: Option<&Waivers>,
    arch: &str,
    machine: &MachineType,
    profiles: &[String],
) -> Result<Vec<History>, DbError> {
    let mut by_profile: BTreeMap<String, Vec<RecordKey>> = BTreeMap::new();
    for k in db.index()? {
        if k.arch == arch && &k.machine == machine && (profiles.is_empty() || profiles.contains(&k.profile)) {
            by_profile.entry(k.profile.clone()).or_default().push(k);
        }
    }
    let mut out = Vec::new();
    for (profile, mut keys) in by_profile {
        keys.sort();
        let mut steps = Vec::new();
        let mut older = match keys.first() {
            Some(k) => db.load(k)?,
            None => continue,
        };
        for k in &keys[1..] {
            let newer = db.load(k)?;
            let (old_file, new_file) = (db.record_path(&older.key), db.record_path(&newer.key));
            let mut r = outcome::compare_records(
                db,
                &older,
                &newer,
                &outcome::db_blobs(db, &old_file),
                &outcome::db_blobs(db, &new_file),
            );
            if let Some(w) = waivers {
                verdict::mark(w, &mut r, &newer.key.qemu_version);
            }
            steps.push(step(&profile, &older.key, &newer.key, &r));
            older = newer;
        }
        out.push(History {
            machine: machine.clone(),
            profile,
            versions: keys.iter().map(|k| k.qemu_version.clone()).collect(),
            steps,
        });
    }
    Ok(out)
}

fn step(profile: &str, from: &RecordKey, to: &RecordKey, r: &MachineResult) -> Step {
    let mut s = Step {
        profile: profile.to_string(),
        from: from.qemu_version.clone(),
        to: to.qemu_version.clone(),
        unwaived: BTreeMap::new(),
        waived: 0,
        rules: BTreeMap::new(),
        waivers: BTreeMap::new(),
        error: None,
    };
    if let Outcome::Failed { error } = &r.outcome {
        s.error = Some(error.clone());
    }
    for d in r.drifts() {
        match &d.waiver {
            Some(w) => {
                s.waived += 1;
                *s.waivers.entry(w.clone()).or_default() += 1;
            }
            None => {
                *s.unwaived.entry(d.severity).or_default() += 1;
                *s.rules.entry(d.rule.clone()).or_default() += 1;
            }
        }
    }
    s
}
