//! What a run checks: the baseline of every (arch, machine type, profile)
//! in the database, narrowed by the command line, split into shards, and
//! sorted into what to boot, what the binary no longer offers and what this
//! build cannot boot. Decided from record keys alone: no record is read.

use crate::partial::Selection;
use crate::shard::Shard;
use abi_model::record::RecordKey;
use abi_model::{MachineType, Version};
use std::collections::BTreeMap;

/// (arch, machine type, profile): what a baseline is the baseline of.
pub type Slot = (String, MachineType, String);

/// The baseline of each slot: the record of the oldest QEMU release, i.e.
/// the release that introduced the machine type.
#[derive(Clone, Debug, Default)]
pub struct Baselines(BTreeMap<Slot, RecordKey>);

impl Baselines {
    /// The baselines among `keys` (every record key of a database).
    pub fn of(keys: impl IntoIterator<Item = RecordKey>) -> Baselines {
        let mut out: BTreeMap<Slot, RecordKey> = BTreeMap::new();
        for k in keys {
            let slot = (k.arch.clone(), k.machine.clone(), k.profile.clone());
            match out.get(&slot) {
                Some(existing) if existing.qemu_version <= k.qemu_version => {}
                _ => {
                    out.insert(slot, k);
                }
            }
        }
        Baselines(out)
    }

    /// The baseline of a slot.
    pub fn get(&self, arch: &str, machine: &MachineType, profile: &str) -> Option<&RecordKey> {
        self.0.get(&(arch.to_string(), machine.clone(), profile.to_string()))
    }

    /// Every baseline, in slot order.
    pub fn keys(&self) -> impl Iterator<Item = &RecordKey> {
        self.0.values()
    }

    /// How many slots have a baseline.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the database has no records.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every (machine type, profile) with a baseline for `arch`: what a run
    /// on that architecture could check.
    pub fn slots(&self, arch: &str) -> Vec<(MachineType, String)> {
        self.0
            .keys()
            .filter(|(a, _, _)| a == arch)
            .map(|(_, m, p)| (m.clone(), p.clone()))
            .collect()
    }

    /// Every machine type with a baseline (sorted, with repeats per
    /// profile): what waiver globs are checked against.
    pub fn machines(&self) -> Vec<MachineType> {
        self.0.keys().map(|(_, m, _)| m.clone()).collect()
    }
}

/// What the command line asks for.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Guest architecture of the binary checked.
    pub arch: &'a str,
    /// QEMU version of the binary checked: machine types newer than its
    /// release are not expected of it (an older build checked against a
    /// database that already holds newer types).
    pub release: &'a Version,
    /// Machine type globs (empty: every machine type).
    pub machines: &'a [String],
    /// Profile names (empty: every profile).
    pub profiles: &'a [String],
    /// This job's part of the run.
    pub shard: Shard,
}

/// What to do with one selected baseline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// Boot the machine type with the profile and compare.
    Boot(RecordKey),
    /// The binary no longer offers the machine type.
    Removed(RecordKey),
    /// The baseline's profile is not among the profiles this run knows.
    UnknownProfile(RecordKey),
}

impl Item {
    /// The baseline the item is about.
    pub fn baseline(&self) -> &RecordKey {
        match self {
            Item::Boot(k) | Item::Removed(k) | Item::UnknownProfile(k) => k,
        }
    }
}

/// The selection of a run and this shard's part of it.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The whole run's selection, identical in every shard.
    pub selection: Selection,
    /// This shard's items, in slot order.
    pub items: Vec<Item>,
}

/// Select every baseline of `req.arch` that matches the request, in slot
/// order, and take this shard's part: removed machine types and unknown
/// profiles included, so that the merged shards give exactly the unsharded
/// report. `offered` are the machine types of the binary, `profiles` the
/// names of the profiles this run can boot.
pub fn plan(baselines: &Baselines, offered: &[MachineType], profiles: &[&str], req: &Request) -> Plan {
    let selected: Vec<&RecordKey> = baselines
        .keys()
        .filter(|k| {
            let expected = k
                .machine
                .version()
                .is_none_or(|v| v <= req.release.truncated(v.parts().len()));
            expected
                && k.arch == req.arch
                && (req.machines.is_empty() || req.machines.iter().any(|g| k.machine.matches(g)))
                && (req.profiles.is_empty() || req.profiles.contains(&k.profile))
        })
        .collect();
    let selection = Selection::of(
        &selected
            .iter()
            .map(|k| format!("{}/{}", k.machine, k.profile))
            .collect::<Vec<_>>(),
        &baselines.keys().map(ToString::to_string).collect::<Vec<_>>(),
    );
    let items = req
        .shard
        .take(selected)
        .into_iter()
        .map(|k| {
            if !profiles.contains(&k.profile.as_str()) {
                Item::UnknownProfile(k.clone())
            } else if offered.contains(&k.machine) {
                Item::Boot(k.clone())
            } else {
                Item::Removed(k.clone())
            }
        })
        .collect();
    Plan { selection, items }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(machine: &str, profile: &str, v: &str) -> RecordKey {
        RecordKey {
            arch: "x86_64".into(),
            machine: MachineType(machine.into()),
            profile: profile.into(),
            qemu_version: Version::parse(v).expect("version"),
        }
    }

    #[test]
    fn baseline_is_the_oldest_release() {
        let b = Baselines::of([
            key("pc-q35-7.2", "default", "10.0.2"),
            key("pc-q35-7.2", "default", "7.2.22"),
        ]);
        assert_eq!(b.len(), 1);
        let k = b
            .get("x86_64", &MachineType("pc-q35-7.2".into()), "default")
            .expect("baseline");
        assert_eq!(k.qemu_version.to_string(), "7.2.22");
    }

    /// Every machine type and profile of the x86 baselines, for `release`.
    fn everything(release: &Version) -> Request<'_> {
        Request {
            arch: "x86_64",
            release,
            machines: &[],
            profiles: &[],
            shard: Shard::ALL,
        }
    }

    #[test]
    fn plan_sorts_into_boot_removed_and_unknown() {
        let b = Baselines::of([
            key("pc-q35-7.2", "default", "7.2.22"),
            key("pc-q35-7.2", "mine", "7.2.22"),
            key("pc-i440fx-1.4", "default", "7.2.22"),
        ]);
        let offered = [MachineType("pc-q35-7.2".into())];
        let release = Version::parse("10.0.2").expect("version");
        let req = everything(&release);
        let p = plan(&b, &offered, &["default"], &req);
        assert_eq!(p.selection.pairs, 3);
        assert!(matches!(&p.items[0], Item::Removed(k) if k.machine.0 == "pc-i440fx-1.4"));
        assert!(matches!(&p.items[1], Item::Boot(k) if k.profile == "default"));
        assert!(matches!(&p.items[2], Item::UnknownProfile(k) if k.profile == "mine"));
        let other_arch = Request { arch: "aarch64", ..req };
        assert!(plan(&b, &offered, &["default"], &other_arch).items.is_empty());
    }

    #[test]
    fn an_older_build_is_not_asked_for_newer_machine_types() {
        // A database with pc-q35-10.0, checked with QEMU 7.2: not removed, not expected.
        let b = Baselines::of([
            key("pc-q35-7.2", "default", "7.2.22"),
            key("pc-q35-10.0", "default", "10.0.2"),
        ]);
        let offered = [MachineType("pc-q35-7.2".into())];
        let release = Version::parse("7.2.22").expect("version");
        let req = everything(&release);
        let p = plan(&b, &offered, &["default"], &req);
        assert_eq!(p.items, [Item::Boot(key("pc-q35-7.2", "default", "7.2.22"))]);
        // 10.0.2 itself is expected to offer pc-q35-10.0 (and 10.0.x its 10.0).
        let release = Version::parse("10.0").expect("version");
        let p = plan(
            &b,
            &[],
            &["default"],
            &Request {
                release: &release,
                ..req
            },
        );
        assert_eq!(p.items.len(), 2, "both removed from a binary that has neither");
    }
}
