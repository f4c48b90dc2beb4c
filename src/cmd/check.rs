//! `check`: boot every selected machine type the database and the binary
//! share, compare each with its baseline as its boot finishes, judge, and
//! report.

use crate::args::{Failure, OutputArgs, RunArgs};
use crate::boots;
use abi_check::outcome::{self, MachineResult, Outcome};
use abi_check::partial::PartialCheck;
use abi_check::selection::{self, Baselines, Item, Request};
use abi_check::verdict::{self, EXIT_CLEAN, EXIT_ERROR};
use abi_model::record::RecordKey;
use abi_model::MachineType;
use abi_store::Db;
use recorder::profile::Profile;
use recorder::record::Capture;
use std::path::Path;

/// Run the check; with `partial_out`, write this shard's results instead of
/// reporting.
pub fn run(args: &RunArgs, out: &OutputArgs, pending: bool, partial_out: Option<&Path>) -> Result<i32, Failure> {
    let db = Db::open(&args.db)?;
    let baselines = Baselines::of(db.index()?);
    if baselines.is_empty() {
        return Err(Failure(format!(
            "{} has no records to check against",
            args.db.display()
        )));
    }
    args.check_globs()?;
    let set = args.profile_set()?;
    // Refuse a --profile this set does not define before booting anything.
    args.selected_profiles(&set)?;
    let known = baselines.machines();
    // Waivers are read before the first boot: a broken waiver file must not
    // cost a whole run. A shard's waivers are applied by `merge`.
    let waivers = match partial_out {
        Some(_) => None,
        None => out.waivers(&db, &known)?,
    };
    // The baseline release's binary is checked before anything boots.
    let baseline_qemu = args.baseline()?;
    let rec = args.recorder()?;
    let machine_help = args.qemu().machines()?;
    let offered: Vec<MachineType> = machine_help.iter().map(|m| m.name.clone()).collect();
    let request = Request {
        arch: rec.target_arch(),
        release: &rec.identity().version,
        machines: &args.machines,
        profiles: &args.profiles,
        shard: args.shard,
    };
    let plan = selection::plan(&baselines, &offered, &set.names(), &request);
    let scope = baselines.slots(request.arch);
    // The binary's versioned machine types in the selection that have no
    // baseline: nothing to compare yet, which must not go unsaid.
    let recorded: std::collections::BTreeSet<&MachineType> = scope.iter().map(|(m, _)| m).collect();
    let new_machines: Vec<MachineType> = recorder::qemu::select(&machine_help, &args.machines, false)
        .into_iter()
        .filter(|m| !recorded.contains(m))
        .collect();
    if plan.selection.pairs == 0 {
        // Nothing compared is not a pass.
        let new = if new_machines.is_empty() {
            String::new()
        } else {
            format!(
                "; new to the database, to be recorded first: {}",
                new_machines.iter().map(|m| m.0.as_str()).collect::<Vec<_>>().join(", ")
            )
        };
        return Err(Failure(format!(
            "nothing to check: {} has no baseline for {} machine types{}{}{new}",
            args.db.display(),
            request.arch,
            if args.machines.is_empty() {
                String::new()
            } else {
                format!(" matching --machine {}", args.machines.join(", "))
            },
            if args.profiles.is_empty() {
                String::new()
            } else {
                format!(" with --profile {}", args.profiles.join(", "))
            }
        )));
    }
    let mut results = Vec::new();
    let mut work: Vec<(MachineType, &Profile)> = Vec::new();
    let mut keys: Vec<&RecordKey> = Vec::new();
    for item in &plan.items {
        match (item, set.get(&item.baseline().profile)) {
            (Item::Boot(k), Some(profile)) => {
                work.push((k.machine.clone(), profile));
                keys.push(k);
            }
            (Item::Removed(k), _) => results.push(MachineResult::removed(&db, k, &k.profile)),
            (Item::UnknownProfile(k), _) | (Item::Boot(k), None) => results.push(MachineResult::new(
                &db,
                k,
                &k.profile,
                Outcome::Failed {
                    error: format!(
                        "profile {:?} unknown to this machine-abi (known: {}); give --profile-dir",
                        k.profile,
                        set.names().join(", ")
                    ),
                },
            )),
        }
    }
    rec.check_probes(work.iter().map(|(m, _)| m))?;
    args.show_data_files(&rec, &work);
    if let Some(q) = &baseline_qemu {
        recorder::migrate::check_files(q, &work).map_err(|e| Failure(format!("--baseline-qemu {e}")))?;
    }
    // Each observation is compared as soon as its boot ends and dropped,
    // unless it is kept for review.
    let mut kept: Vec<Capture> = Vec::new();
    let mut fixture_error = None;
    // For the migration proof: which device sends each migration section,
    // from both records' -dump-vmstate facts.
    let mut sections: std::collections::BTreeMap<(MachineType, String), abi_check::proof::Sections> =
        Default::default();
    boots::boot_each(&rec, &work, args.jobs(), |i, r| {
        let key = keys[i];
        let failed = |error: String| MachineResult::new(&db, key, &key.profile, Outcome::Failed { error });
        let result = match r {
            Ok(c) => match db.load(key) {
                Ok(baseline) => {
                    if let Some(dir) = &args.capture_fixtures {
                        if let Err(e) = boots::write_fixtures(dir, std::slice::from_ref(&c)) {
                            fixture_error.get_or_insert(e);
                        }
                    }
                    let result = outcome::compare(&db, &baseline, &c.record, &c.blobs);
                    if args.baseline_qemu.is_some() && has_vmstate_finding(&result) {
                        let mut s = abi_check::proof::Sections::default();
                        let read = [
                            s.add_record(&baseline, &|id| db.blob(id).ok()),
                            s.add_record(&c.record, &|id| c.blobs.get(id).map(<[u8]>::to_vec)),
                        ];
                        for e in read.into_iter().filter_map(Result::err) {
                            eprintln!(
                                "machine-abi: {} ({}): no vmstate dump to name migration sections by: {e}",
                                key.machine, key.profile
                            );
                        }
                        sections.insert((key.machine.clone(), key.profile.clone()), s);
                    }
                    if pending && unwaived_drift(&result, waivers.as_ref(), &c) {
                        kept.push(c);
                    }
                    result
                }
                Err(e) => failed(e.to_string()),
            },
            Err(e) => match e.missing_devices() {
                Some(models) => MachineResult::missing_devices(&db, key, &key.profile, models),
                None => failed(e.to_string()),
            },
        };
        results.push(result);
    });
    if let Some(e) = fixture_error {
        return Err(e);
    }
    results.sort_by(|a, b| (&a.machine, &a.profile).cmp(&(&b.machine, &b.profile)));
    if let Some(release) = &baseline_qemu {
        prove_migrations(args, release, &rec, &set, &sections, &mut results)?;
    }
    if let Some(path) = partial_out {
        let mut part = PartialCheck::new(args.shard, plan.selection, rec.identity().clone(), known, results);
        part.new_machines = new_machines;
        let text = serde_json::to_string_pretty(&part)? + "\n";
        abi_store::db::write_atomic(path, text.as_bytes())?;
        eprintln!(
            "shard {}: {} result(s) written to {}; combine the shards with `machine-abi merge`",
            args.shard,
            part.results.len(),
            path.display()
        );
        let failed = part.results.iter().any(|r| matches!(r.outcome, Outcome::Failed { .. }));
        return Ok(if failed { EXIT_ERROR } else { EXIT_CLEAN });
    }
    let mut verdict = out.judge(rec.identity().clone(), results, waivers.as_ref(), Some(&scope));
    verdict.new_machines = new_machines;
    if pending {
        for p in db.write_pending(&boots::records(&kept))? {
            eprintln!("pending: {}", p.display());
        }
        if !kept.is_empty() {
            eprintln!("review with `machine-abi review --db {}`", args.db.display());
        }
    }
    Ok(out.print(&verdict))
}

/// True when a result has a finding a migration can prove.
fn has_vmstate_finding(result: &MachineResult) -> bool {
    result
        .drifts()
        .iter()
        .any(|d| abi_check::proof::VMSTATE_RULES.contains(&d.rule.as_str()))
}

/// True when a result has drift no waiver accepts: only that is worth a
/// reviewer's time as a pending record.
fn unwaived_drift(result: &MachineResult, waivers: Option<&abi_check::waiver::Waivers>, c: &Capture) -> bool {
    let mut r = result.clone();
    if let Some(w) = waivers {
        verdict::mark(w, &mut r, &c.record.key.qemu_version);
    }
    r.drifts().iter().any(|d| d.unwaived())
}

/// Migrate every (machine type, profile) with a vmstate finding for real,
/// never-started, between the baseline release's binary and the build, in
/// both directions, and attach the outcome to its findings
/// ([`abi_check::proof::attach`]).
fn prove_migrations(
    args: &RunArgs,
    release: &recorder::qemu::Qemu,
    rec: &recorder::record::Recorder,
    set: &recorder::profile::Profiles,
    sections: &std::collections::BTreeMap<(MachineType, String), abi_check::proof::Sections>,
    results: &mut [MachineResult],
) -> Result<(), crate::args::Failure> {
    use abi_check::proof::{self, Proof};
    let release_version = release.identity()?.version.to_string();
    let build = args.qemu();
    let build_version = rec.identity().version.to_string();
    let timeout = std::time::Duration::from_secs(args.timeout);
    for r in results.iter_mut() {
        let Outcome::Drifted { drifts } = &mut r.outcome else {
            continue;
        };
        if !drifts.iter().any(|d| proof::VMSTATE_RULES.contains(&d.rule.as_str())) {
            continue;
        }
        let Some(profile) = set.get(&r.profile) else { continue };
        let (forward, backward) = recorder::migrate::both_ways(release, &build, &r.machine, profile, timeout);
        let to_proof = |from: &str, to: &str, m: Result<recorder::migrate::Migration, String>| {
            let left_out = match &m {
                Ok(m) => m
                    .left_out
                    .iter()
                    .map(|l| proof::LeftOut {
                        device: l.driver.clone(),
                        section: l.section.clone(),
                    })
                    .collect(),
                Err(_) => Vec::new(),
            };
            Proof {
                from: from.into(),
                to: to.into(),
                result: m.map(|m| match m.outcome {
                    recorder::migrate::Outcome::Loaded => None,
                    recorder::migrate::Outcome::Failed(why) => Some(why),
                }),
                left_out,
            }
        };
        let forward = to_proof(&release_version, &build_version, forward);
        let backward = to_proof(&build_version, &release_version, backward);
        eprintln!(
            "machine-abi: {} ({}): {}; {}",
            r.machine,
            r.profile,
            forward.describe(),
            backward.describe()
        );
        let none = proof::Sections::default();
        let sections = sections.get(&(r.machine.clone(), r.profile.clone())).unwrap_or(&none);
        proof::attach(drifts, &forward, &backward, sections);
    }
    Ok(())
}
