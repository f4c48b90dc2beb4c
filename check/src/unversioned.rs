//! The signature of the bugs machine-abi exists to catch: a guest-visible
//! change of an old machine type that no compat entry gates. Two kinds of
//! evidence, judged after waivers (an accepted change is not one to chase):
//!
//! - the compat entries the machine type applies are the same on both
//!   sides, yet a guest-visible break remains: nothing could have gated it;
//! - the same break (same fact, same old and new value) shows on the newest
//!   machine type of the baseline's release and on older types of the family:
//!   a change gated for old machine types would spare them all, a change
//!   gated too late spares none of them identically.
//!
//! Every count in a note is a count of breaks the report lists.

use crate::outcome::MachineResult;
use abi_model::drift::{Category, Drift, Severity};
use abi_model::{MachineType, Version};
use std::collections::BTreeSet;

/// A break the report lists and a guest sees: unwaived, not host-side, not
/// about the machine type's existence.
fn guest_break(d: &Drift) -> bool {
    d.unwaived() && d.severity == Severity::Break && !matches!(d.category, Category::HostSide | Category::Machine)
}

type Change<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

fn breaks(r: &MachineResult) -> BTreeSet<Change<'_>> {
    r.drifts()
        .iter()
        .filter(|d| guest_break(d))
        .map(|d| (d.path.as_str(), d.old.as_deref(), d.new.as_deref()))
        .collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Add the unversioned-change note to each result that has the evidence,
/// checking QEMU `observed`.
pub fn annotate(results: &mut [MachineResult], observed: &Version) {
    let notes: Vec<Option<String>> = results.iter().map(|r| note(r, results, observed)).collect();
    for (r, n) in results.iter_mut().zip(notes) {
        r.input_notes.extend(n);
    }
}

fn note(r: &MachineResult, all: &[MachineResult], observed: &Version) -> Option<String> {
    let mine = breaks(r);
    if mine.is_empty() {
        return None;
    }
    let n = mine.len();
    if r.compat_unchanged == Some(true) {
        return Some(format!(
            "unversioned change: {n} guest-visible break{} on {}, yet no hw_compat/pc_compat entry it applies \
             changed between QEMU {} and {observed}",
            plural(n),
            r.machine,
            r.baseline.qemu_version
        ));
    }
    // The same break on the newest type of the baseline's release and on
    // older types of the family, with the same profile.
    let release = r.baseline.qemu_version.truncated(2);
    let family = r.machine.family();
    let newest = MachineType(format!("{family}-{release}"));
    let peers: Vec<&MachineResult> = all
        .iter()
        .filter(|o| {
            o.machine != r.machine
                && o.profile == r.profile
                && o.machine.family() == family
                && o.baseline.qemu_version.truncated(2) == release
                && (r.machine == newest || o.machine == newest)
        })
        .collect();
    let mut shared = BTreeSet::new();
    let mut with = Vec::new();
    for o in peers {
        let common: Vec<Change> = mine.intersection(&breaks(o)).copied().collect();
        if !common.is_empty() {
            shared.extend(common);
            with.push(o.machine.0.as_str());
        }
    }
    if shared.is_empty() {
        return None;
    }
    let k = shared.len();
    let on = if r.machine == newest {
        const SHOW: usize = 3;
        let mut names = with.iter().take(SHOW).copied().collect::<Vec<_>>().join(", ");
        if with.len() > SHOW {
            names.push_str(&format!(" and {} more", with.len() - SHOW));
        }
        format!("on older {family} types ({names})")
    } else {
        format!("on {newest}, the newest {family} type of QEMU {release}")
    };
    Some(format!(
        "unversioned change: {k} of the {n} guest-visible break{} of {} also show{}, identically, {on}: no compat \
         entry keeps {} off the machine types of QEMU {release}",
        plural(n),
        r.machine,
        if k == 1 { "s" } else { "" },
        if k == 1 { "it" } else { "them" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use crate::rules;
    use abi_model::drift::FactPath;
    use abi_model::record::RecordKey;

    fn result(machine: &str, drifts: &[(&str, &str)]) -> MachineResult {
        let key = RecordKey {
            arch: "x86_64".into(),
            machine: MachineType(machine.into()),
            profile: "default".into(),
            qemu_version: Version::parse("7.2.22").expect("version"),
        };
        let drifts = drifts
            .iter()
            .map(|(rule, path)| rules::drift(rule, FactPath::new(*path), Some("1".into()), Some("3".into())))
            .collect();
        MachineResult {
            machine: key.machine.clone(),
            profile: key.profile.clone(),
            baseline: key,
            record: "r.toml".into(),
            outcome: Outcome::Drifted { drifts },
            input_notes: Vec::new(),
            compat_unchanged: Some(false),
            probe: None,
        }
    }

    #[test]
    fn a_break_shared_with_the_newest_type_of_the_release_is_unversioned() {
        let madt = ("acpi-table-revision", "acpi.APIC.header.revision");
        let mut rs = vec![
            result(
                "pc-q35-5.2",
                &[madt, ("pci-id-changed", "pci.\"0000:00:02.0\".revision")],
            ),
            result("pc-q35-7.2", &[madt]),
            result("pc-q35-6.0", &[("pci-id-changed", "pci.\"0000:00:02.0\".revision")]),
            result("pc-i440fx-5.2", &[madt]),
        ];
        annotate(&mut rs, &Version::parse("10.0.2").expect("version"));
        assert_eq!(
            rs[0].input_notes,
            [
                "unversioned change: 1 of the 2 guest-visible breaks of pc-q35-5.2 also shows, identically, on \
              pc-q35-7.2, the newest pc-q35 type of QEMU 7.2: no compat entry keeps it off the machine types of \
              QEMU 7.2"
            ]
        );
        assert!(
            rs[1].input_notes[0].contains("on older pc-q35 types (pc-q35-5.2)"),
            "{:?}",
            rs[1].input_notes
        );
        // Shared with another old type but not with the newest: no evidence.
        assert!(rs[2].input_notes.is_empty());
        // The same change in another family proves nothing about this one.
        assert!(rs[3].input_notes.is_empty());
    }

    #[test]
    fn unchanged_compat_entries_and_waivers() {
        let mut rs = vec![result(
            "pc-q35-7.2",
            &[("acpi-table-revision", "acpi.APIC.header.revision")],
        )];
        rs[0].compat_unchanged = Some(true);
        annotate(&mut rs, &Version::parse("10.0.3").expect("version"));
        assert_eq!(
            rs[0].input_notes,
            [
                "unversioned change: 1 guest-visible break on pc-q35-7.2, yet no hw_compat/pc_compat entry it applies \
              changed between QEMU 7.2.22 and 10.0.3"
            ]
        );
        // A waived break is no longer one to chase.
        let mut rs = vec![result(
            "pc-q35-7.2",
            &[("acpi-table-revision", "acpi.APIC.header.revision")],
        )];
        rs[0].compat_unchanged = Some(true);
        if let Outcome::Drifted { drifts } = &mut rs[0].outcome {
            drifts[0].waiver = Some("madt".into());
        }
        annotate(&mut rs, &Version::parse("10.0.3").expect("version"));
        assert!(rs[0].input_notes.is_empty());
    }
}
