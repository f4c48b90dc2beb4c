//! The quirks list: the accepted ABI differences of every machine type, per
//! QEMU version range, in a stable format a management layer can consume
//! to keep VMs created on an older QEMU working on a newer one.
//! The format is documented in docs/quirks.md.

use crate::rules;
use crate::waiver::Waivers;
use abi_model::glob::glob_match;
use abi_model::MachineType;
use serde::Serialize;

/// Version of the quirks format; bump on incompatible changes.
pub const QUIRKS_FORMAT_VERSION: u32 = 1;

/// The whole export.
#[derive(Clone, Debug, Serialize)]
pub struct Quirks {
    /// Always `machine-abi-quirks`.
    pub format: &'static str,
    /// [`QUIRKS_FORMAT_VERSION`].
    pub format_version: u32,
    /// One entry per machine type that has accepted differences, sorted.
    pub machine: Vec<MachineQuirks>,
}

/// Accepted differences of one machine type.
#[derive(Clone, Debug, Serialize)]
pub struct MachineQuirks {
    /// Machine type.
    pub name: String,
    /// Differences, sorted by first version then fact path.
    pub quirk: Vec<Quirk>,
}

/// One accepted difference.
#[derive(Clone, Debug, Serialize)]
pub struct Quirk {
    /// The waiver that records it.
    pub waiver: String,
    /// First QEMU version with the difference (absent: any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Last QEMU version it is known for (absent: open).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Device profiles it applies to (absent: all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// Rule id (see `machine-abi explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Category of the rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Fact path or glob.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Value on the release that introduced the machine type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// Value from `since` on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    /// Why it was accepted.
    pub reason: String,
    /// Where it was discussed or fixed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Expand every waiver over the machine types it names.
pub fn export(waivers: &Waivers, machines: &[MachineType]) -> Quirks {
    let mut names: Vec<&MachineType> = machines.iter().collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for m in names {
        let mut quirk: Vec<Quirk> = waivers
            .list
            .iter()
            .filter(|w| w.machines.iter().any(|g| glob_match(g, &m.0)))
            .map(|w| Quirk {
                waiver: w.id.clone(),
                since: w.since.as_ref().map(ToString::to_string),
                until: w.until.as_ref().map(ToString::to_string),
                profiles: w.profiles.clone(),
                rule: w.rule.clone(),
                category: w
                    .rule
                    .as_deref()
                    .and_then(rules::rule)
                    .map(|r| r.category.as_str().to_string()),
                path: w.path.clone(),
                old: w.old.clone(),
                new: w.new.clone(),
                reason: w.reason.clone(),
                link: w.link.clone(),
            })
            .collect();
        if quirk.is_empty() {
            continue;
        }
        quirk.sort_by(|a, b| (&a.since, &a.path, &a.waiver).cmp(&(&b.since, &b.path, &b.waiver)));
        out.push(MachineQuirks {
            name: m.0.clone(),
            quirk,
        });
    }
    Quirks {
        format: "machine-abi-quirks",
        format_version: QUIRKS_FORMAT_VERSION,
        machine: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn waivers_expand_per_machine_type() {
        let text = r#"
[[waiver]]
id = "madt"
machines = ["pc-*-7.2"]
rule = "acpi-table-revision"
path = "acpi.APIC.header.revision"
since = "8.0"
old = "1"
new = "3"
reason = "MADT revision 3"
"#;
        let machines: Vec<MachineType> = ["pc-q35-7.2", "pc-i440fx-7.2", "pc-q35-7.1"]
            .iter()
            .map(|m| MachineType(m.to_string()))
            .collect();
        let w = Waivers::parse(text, Path::new("w.toml"), &machines).expect("valid");
        let q = export(&w, &machines);
        let names: Vec<&str> = q.machine.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["pc-i440fx-7.2", "pc-q35-7.2"]);
        let first = &q.machine[0].quirk[0];
        assert_eq!(first.since.as_deref(), Some("8.0"));
        assert_eq!(first.category.as_deref(), Some("acpi"));
        assert_eq!((first.old.as_deref(), first.new.as_deref()), (Some("1"), Some("3")));
        let toml = toml::to_string(&q).expect("toml");
        assert!(toml.contains("[[machine.quirk]]"), "{toml}");
    }
}
