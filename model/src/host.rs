//! Host-side facts: read from the QEMU binary and a paused QEMU, without a
//! guest. The compat tables a machine type applies live in the record; the
//! QMP facts ([`HostFacts`]) and the `-dump-vmstate` dump are blobs.

use crate::blob::BlobId;
use crate::facts::Probed;
use crate::machine::{MachineType, Version};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One entry of a QEMU compat table: "set `driver.property` to `value`".
///
/// This is the decoded form of QEMU's `GlobalProperty { driver, property, value, .. }`;
/// the runtime flags (`used`, `optional`) are not part of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CompatProperty {
    /// QOM type name the property applies to (e.g. `"virtio-mem"`, `"pci-device"`).
    pub driver: String,
    /// Property name (e.g. `"x-early-migration"`).
    pub property: String,
    /// Value as QEMU's string form (e.g. `"false"`, `"off"`, `"0x10"`).
    pub value: String,
}

/// All compat tables found in a binary, keyed by table name (e.g. `"hw_compat_7_2"`).
///
/// Each vector keeps the entries in the order they have in the binary, which is
/// significant: when QEMU applies a table, later entries override earlier ones.
/// Tables that exist but are empty (e.g. `hw_compat_3_0`) are present with an
/// empty vector, so "absent" and "empty" stay distinguishable.
pub type CompatTables = BTreeMap<String, Vec<CompatProperty>>;

/// One compat table a machine type applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliedTable {
    /// Table name, e.g. `hw_compat_7_2`.
    pub name: String,
    /// Its entries in binary order.
    pub entries: Vec<CompatProperty>,
}

/// Host-side facts of one machine type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSide {
    /// Compat tables the machine type applies, newest first (QEMU applies
    /// them in this order; for a property set twice the last one wins).
    pub compat: Probed<Vec<AppliedTable>>,
    /// Blob of the machine, device and CPU model facts from QMP, as
    /// canonical JSON ([`HostFacts`]; property values can be 64-bit
    /// unsigned, which TOML cannot hold).
    pub qmp: Probed<BlobId>,
    /// Blob of the `-dump-vmstate` JSON.
    pub vmstate: Probed<BlobId>,
    /// Blob of the device tree QEMU generates for the machine type
    /// (`-machine …,dumpdtb=FILE`, no kernel given, trailing zeros
    /// dropped); only machines that describe themselves with one (Arm's
    /// virt). Absent on x86.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_tree: Option<Probed<BlobId>>,
}

impl HostSide {
    /// Each part that could not be read, as `what: reason`.
    pub fn unavailable(&self) -> Vec<String> {
        [
            ("compat tables", self.compat.reason()),
            ("QMP", self.qmp.reason()),
            ("-dump-vmstate", self.vmstate.reason()),
            ("dumpdtb", self.device_tree.as_ref().and_then(|d| d.reason())),
        ]
        .into_iter()
        .filter_map(|(what, reason)| reason.map(|r| format!("{what}: {r}")))
        .collect()
    }

    /// Every blob the section refers to.
    pub fn blob_ids(&self) -> Vec<BlobId> {
        [
            self.qmp.available(),
            self.vmstate.available(),
            self.device_tree.as_ref().and_then(|d| d.available()),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }
}

/// The QEMU version a table is named after: `hw_compat_7_2` → 7.2.
pub fn table_version(name: &str) -> Option<Version> {
    let v = name
        .strip_prefix("hw_compat_")
        .or_else(|| name.strip_prefix("pc_compat_"))?;
    Version::parse(&v.replace('_', "."))
}

/// The tables a versioned machine type applies: every table named after its
/// version or a later one (`pc_compat_*` only for PC machine types), newest
/// first.
pub fn applied(tables: &CompatTables, machine: &MachineType) -> Vec<AppliedTable> {
    let Some(v) = machine.version() else {
        return Vec::new();
    };
    let is_pc = machine.0.starts_with("pc-");
    let mut out: Vec<(Version, &String, &Vec<CompatProperty>)> = tables
        .iter()
        .filter_map(|(name, entries)| {
            let tv = table_version(name)?;
            let pc_only = name.starts_with("pc_compat_");
            (tv >= v && (is_pc || !pc_only)).then_some((tv, name, entries))
        })
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    out.into_iter()
        .map(|(_, name, entries)| AppliedTable {
            name: name.clone(),
            entries: entries.clone(),
        })
        .collect()
}

/// Host-side facts about one machine type, read over QMP from a paused QEMU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HostFacts {
    /// The QEMU version from the QMP greeting.
    pub qemu: QmpVersion,
    /// The machine type's `query-machines` entry.
    pub machine: MachineFacts,
    /// Every device under `/machine` after machine init, by QOM path.
    pub devices: BTreeMap<QomPath, DeviceFacts>,
    /// `query-cpu-model-expansion` (full) of the default CPU model; `None`
    /// when the machine type names no default CPU type.
    pub cpu_model: Option<CpuModelFacts>,
}

/// A QOM composition path such as `/machine/q35/mch`. Paths under
/// `/machine/unattached/device[N]` are numbered in creation order, which
/// differs between QEMU versions for the same machine type.
pub type QomPath = String;

/// The version QEMU announces in its QMP greeting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QmpVersion {
    /// Major version, e.g. `10`.
    pub major: u64,
    /// Minor version, e.g. `0`.
    pub minor: u64,
    /// Micro version, e.g. `2`.
    pub micro: u64,
    /// Distribution package string, e.g. `Debian 1:10.0.2+ds-2+deb13u1~bpo12+1`.
    pub package: String,
}

/// The `query-machines` entry of one machine type (QMP's field names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MachineFacts {
    /// The machine type name, e.g. `pc-q35-7.2`.
    pub name: String,
    /// Its alias (`q35`, `pc`) when it is the newest of its family.
    pub alias: Option<String>,
    /// Whether it is the binary's default machine type.
    pub is_default: bool,
    /// QOM type of the default CPU, e.g. `qemu64-x86_64-cpu`.
    pub default_cpu_type: Option<String>,
    /// Id of the default RAM backend, e.g. `pc.ram`.
    pub default_ram_id: Option<String>,
    /// Whether CPUs can be hot-plugged.
    pub hotpluggable_cpus: bool,
    /// Whether `-numa node,mem=` is supported.
    pub numa_mem_supported: bool,
    /// Whether the machine type is deprecated.
    pub deprecated: bool,
    /// Maximum number of CPUs.
    pub cpu_max: u64,
    /// Whether the machine supports ACPI (only reported by newer QEMU).
    pub acpi: Option<bool>,
    /// The compat properties the machine type applies, when QEMU can tell.
    pub compat_props: CompatProps,
}

/// The compat properties of a machine type, or why they are not known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompatProps {
    /// In QEMU's order, which matters: for the same type and property the
    /// later entry wins when a device is created.
    Supported(Vec<CompatProp>),
    /// This QEMU's `query-machines` has no `compat-props` argument; holds QEMU's error text.
    Unsupported(String),
}

impl CompatProps {
    /// The value the machine type sets for `qom_type`.`property` (the last
    /// matching entry), if compat props are known and one matches.
    pub fn get(&self, qom_type: &str, property: &str) -> Option<&str> {
        match self {
            CompatProps::Supported(props) => props
                .iter()
                .rev()
                .find(|p| p.qom_type == qom_type && p.property == property)
                .map(|p| p.value.as_str()),
            CompatProps::Unsupported(_) => None,
        }
    }
}

/// One global property a machine type sets for compatibility.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CompatProp {
    /// The QOM type it applies to (and its subtypes), e.g. `ICH9-LPC`.
    pub qom_type: String,
    /// The property name, e.g. `noreboot`.
    pub property: String,
    /// The value as QEMU's string form, e.g. `true`.
    pub value: String,
}

/// The effective properties of one device instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeviceFacts {
    /// The QOM type, e.g. `ICH9-LPC`.
    pub qom_type: String,
    /// Readable properties (links and children excluded) and their values.
    pub properties: BTreeMap<String, Value>,
    /// Properties `qom-get` refused, with QEMU's error text.
    pub unreadable: BTreeMap<String, String>,
    /// Properties not read because their value changes from run to run
    /// (wall-clock time), with their QOM property type.
    pub volatile: BTreeMap<String, String>,
}

/// The full expansion of a CPU model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CpuModelFacts {
    /// The CPU model name, e.g. `qemu64`.
    pub model: String,
    /// Every property of the expanded model and its value.
    pub properties: BTreeMap<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(d: &str, p: &str, v: &str) -> CompatProperty {
        CompatProperty {
            driver: d.into(),
            property: p.into(),
            value: v.into(),
        }
    }

    #[test]
    fn machine_applies_its_own_and_newer_tables_newest_first() {
        let t: CompatTables = [
            ("hw_compat_7_1", vec![prop("virtio-device", "queue_reset", "false")]),
            ("hw_compat_7_2", vec![prop("e1000e", "migrate-timadj", "off")]),
            ("hw_compat_8_0", vec![]),
            ("pc_compat_7_2", vec![prop("ICH9-LPC", "noreboot", "true")]),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
        let names = |m: &str| -> Vec<String> {
            applied(&t, &MachineType(m.into()))
                .into_iter()
                .map(|a| a.name)
                .collect()
        };
        assert_eq!(names("pc-q35-7.2"), ["hw_compat_8_0", "hw_compat_7_2", "pc_compat_7_2"]);
        assert_eq!(names("virt-7.2"), ["hw_compat_8_0", "hw_compat_7_2"]);
        assert!(names("q35").is_empty());
        assert_eq!(table_version("hw_compat_2_12"), Version::parse("2.12"));
        assert_eq!(table_version("other"), None);
    }
}
