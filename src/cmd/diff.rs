//! `diff`: compare two records, or the newest records of two databases,
//! without booting; optionally with the ASL diff of changed AML tables.

use crate::args::{Failure, OutputArgs};
use abi_check::outcome::{self, MachineResult};
use abi_model::Record;
use abi_store::Db;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Records to compare from a path: a record file, or the newest record per
/// (arch, machine, profile) of a database.
pub fn load_side(p: &Path) -> Result<(Db, Vec<Record>), Failure> {
    if p.is_dir() {
        let db = Db::open(p)?;
        let mut newest = BTreeMap::new();
        for k in db.index()? {
            newest.insert((k.arch.clone(), k.machine.clone(), k.profile.clone()), k);
        }
        let records = newest.values().map(|k| db.load(k)).collect::<Result<Vec<_>, _>>()?;
        Ok((db, records))
    } else {
        let db = Db::containing(p)?;
        let r = db.load_record(p)?;
        Ok((db, vec![r]))
    }
}

/// The record of `side` to compare `x` with: the one of the same arch,
/// machine type and profile, or the only one when both sides hold one.
pub fn counterpart<'a>(x: &Record, side: &'a [Record], single: bool) -> Option<&'a Record> {
    side.iter().find(|y| {
        single || (&y.key.arch, &y.key.machine, &y.key.profile) == (&x.key.arch, &x.key.machine, &x.key.profile)
    })
}

/// Compare side `a` (the baseline) with side `b` and report.
pub fn run(a: &Path, b: &Path, out: &OutputArgs, asl: bool) -> Result<i32, Failure> {
    let (da, ra) = load_side(a)?;
    let (dbb, rb) = load_side(b)?;
    let single = ra.len() == 1 && rb.len() == 1;
    let mut results = Vec::new();
    let mut qemu = None;
    for x in &ra {
        let Some(y) = counterpart(x, &rb, single) else {
            results.push(MachineResult::removed(&da, &x.key, &x.key.profile));
            continue;
        };
        qemu.get_or_insert_with(|| y.provenance.qemu.clone());
        let (fx, fy) = (da.record_path(&x.key), dbb.record_path(&y.key));
        results.push(outcome::compare_records(
            &da,
            x,
            y,
            &outcome::db_blobs(&da, &fx),
            &outcome::db_blobs(&dbb, &fy),
        ));
    }
    let Some(qemu) = qemu.or_else(|| rb.first().map(|r| r.provenance.qemu.clone())) else {
        return Err(Failure(format!("{}: no records", b.display())));
    };
    // Waivers are judged against the whole baseline database, as `check`
    // does: a waiver of another machine type is valid there and, in a diff
    // of single records, only "not exercised", never stale.
    let index = da.index()?;
    let mut known: Vec<_> = index.iter().map(|k| k.machine.clone()).collect();
    known.extend(ra.iter().map(|r| r.key.machine.clone()));
    let scope: Vec<_> = index
        .iter()
        .map(|k| (k.machine.clone(), k.profile.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let waivers = out.waivers(&da, &known)?;
    let mut verdict = out.judge(qemu, results, waivers.as_ref(), Some(&scope));
    verdict.kind = abi_check::verdict::RunKind::Diff;
    let code = out.print(&verdict);
    if asl {
        print_asl_diffs(&da, &ra, &dbb, &rb, single)?;
    }
    Ok(code)
}

/// The ASL diff of every AML table whose bytes differ, once per distinct
/// (old, new) pair of blobs.
fn print_asl_diffs(da: &Db, ra: &[Record], dbb: &Db, rb: &[Record], single: bool) -> Result<(), Failure> {
    use abi_report::asl;
    if !asl::available() {
        return Err(Failure(asl::AslError::NoIasl.to_string()));
    }
    let mut seen = BTreeSet::new();
    for x in ra {
        let Some(y) = counterpart(x, rb, single) else {
            continue;
        };
        let (Some(ta), Some(tb)) = (x.facts.acpi.available(), y.facts.acpi.available()) else {
            continue;
        };
        for (name, t) in ta {
            let is_aml = name.contains("DSDT") || name.contains("SSDT");
            let (Some(t), Some(u)) = (t.available(), tb.get(name).and_then(|u| u.available())) else {
                continue;
            };
            if !is_aml || t.blob == u.blob || !seen.insert((t.blob.clone(), u.blob.clone())) {
                continue;
            }
            let diff = asl::unified_diff(&name.replace('/', "_"), &da.blob(&t.blob)?, &dbb.blob(&u.blob)?)?;
            println!(
                "\n# {name} of {} ({} → {})",
                x.key.machine, x.key.qemu_version, y.key.qemu_version
            );
            print!("{diff}");
        }
    }
    Ok(())
}
