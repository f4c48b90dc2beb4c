//! The drift vocabulary: where a fact lives ([`FactPath`]), how one
//! differs ([`Drift`]), what part of the machine it is in ([`Category`])
//! and how much it matters ([`Severity`]).

use serde::{Deserialize, Serialize};
use std::fmt;

/// How much a drift matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A consequence of another drift (a checksum, a length), or a shift
    /// explained by another change; shown only on request.
    Info,
    /// Worth a look, but not a guest ABI change of the machine type
    /// (firmware-only strings, the recorder's own boot payload).
    Warn,
    /// A guest-visible change of a versioned machine type.
    Break,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Break => "break",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What part of the machine a drift is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// ACPI tables and the AML namespace.
    Acpi,
    /// PCI functions, their config space and capabilities.
    Pci,
    /// SMBIOS structures.
    Smbios,
    /// CPUID leaves.
    Cpuid,
    /// The firmware memory map.
    MemoryMap,
    /// The fw_cfg device.
    #[serde(rename = "fw_cfg")]
    FwCfg,
    /// virtio devices as the guest sees them.
    Virtio,
    /// The flattened device tree (Arm's virt): as the guest got it, and as
    /// QEMU generates it on the host (`dumpdtb`).
    DeviceTree,
    /// Facts read on the host (compat tables, QMP, vmstate).
    HostSide,
    /// Facts the probe could or could not read.
    Probe,
    /// The machine type itself and the devices it can take.
    Machine,
}

impl Category {
    /// Name as used in reports and rule ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Acpi => "acpi",
            Category::Pci => "pci",
            Category::Smbios => "smbios",
            Category::Cpuid => "cpuid",
            Category::MemoryMap => "memory-map",
            Category::FwCfg => "fw_cfg",
            Category::Virtio => "virtio",
            Category::DeviceTree => "device-tree",
            Category::HostSide => "host-side",
            Category::Probe => "probe",
            Category::Machine => "machine",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a fact lives in the document, e.g.
/// `acpi.APIC.header.revision`, `pci."0000:00:02.0"."cap MSI-X.table_size"`
/// or `acpi.DSDT."Method \_SB.PCI0.EDSM"`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FactPath(String);

impl FactPath {
    /// The empty path, above every section.
    pub fn root() -> FactPath {
        FactPath(String::new())
    }

    /// Wrap a path text (as printed by `show`).
    pub fn new(text: impl Into<String>) -> FactPath {
        FactPath(text.into())
    }

    /// The path text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The top-level section (`pci`, `acpi`, `smbios`, …).
    pub fn category(&self) -> &str {
        self.0.split(['.', '[']).next().unwrap_or("")
    }

    fn join(&self, seg: String) -> FactPath {
        FactPath(if self.0.is_empty() {
            seg
        } else {
            format!("{}.{seg}", self.0)
        })
    }

    /// A map key below this path; quoted unless it is a plain word.
    pub fn child(&self, key: &str) -> FactPath {
        let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        self.join(if plain { key.to_string() } else { quote(key) })
    }

    /// A decoded item below this path. Keys made of words and dots stay
    /// dotted (`header.revision`); anything else is one quoted segment.
    pub fn item(&self, key: &str) -> FactPath {
        let plain = !key.is_empty()
            && !key.starts_with('.')
            && !key.ends_with('.')
            && !key.contains("..")
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        self.join(if plain { key.to_string() } else { quote(key) })
    }

    /// A list element, labelled by index or by its identity field.
    pub fn element(&self, label: &str) -> FactPath {
        FactPath(format!("{}[{label}]", self.0))
    }

    /// True if `self` is `other` or lies below it.
    pub fn is_within(&self, other: &FactPath) -> bool {
        self.0 == other.0
            || (self.0.starts_with(&other.0) && matches!(self.0.as_bytes().get(other.0.len()), Some(b'.' | b'[')))
    }

    /// The segments, unquoted, with list labels as their own segments:
    /// `pci."0000:00:02.0".bars[index=0].size` → `pci`, `0000:00:02.0`,
    /// `bars`, `[index=0]`, `size`.
    pub fn segments(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut chars = self.0.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if cur.is_empty() => {
                    for q in chars.by_ref() {
                        if q == '"' {
                            break;
                        }
                        cur.push(q);
                    }
                    out.push(std::mem::take(&mut cur));
                    if chars.peek() == Some(&'.') {
                        chars.next();
                    }
                }
                '.' => {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                }
                '[' => {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                    let mut label = String::from("[");
                    for q in chars.by_ref() {
                        label.push(q);
                        if q == ']' {
                            break;
                        }
                    }
                    out.push(label);
                    if chars.peek() == Some(&'.') {
                        chars.next();
                    }
                }
                _ => cur.push(c),
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }
}

fn quote(key: &str) -> String {
    // Keys never carry quotes of their own; replace any so a path stays parseable.
    format!("\"{}\"", key.replace('"', "'"))
}

impl fmt::Display for FactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One fact that differs between the baseline and the new observation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// Stable id of the rule this drift falls under (see `machine-abi explain`).
    pub rule: String,
    /// Part of the machine.
    pub category: Category,
    /// How much it matters.
    pub severity: Severity,
    /// Which fact.
    pub path: FactPath,
    /// Baseline value; `None` when the fact is new.
    pub old: Option<String>,
    /// Observed value; `None` when the fact disappeared.
    pub new: Option<String>,
    /// For blobs no decoder covers: sizes and the first differing byte.
    pub detail: Option<String>,
    /// The device at the fact's PCI slot, as the record names it (model,
    /// and id when it has one: `e1000e (nic1)`); PCI and virtio facts only.
    #[serde(default)]
    pub device: Option<String>,
    /// Id of the waiver that accepts this drift, if one does.
    #[serde(default)]
    pub waiver: Option<String>,
}

impl Drift {
    /// True when no waiver accepts this drift.
    pub fn unwaived(&self) -> bool {
        self.waiver.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn paths_quote_what_needs_it() {
        let root = FactPath::root();
        assert_eq!(root.child("acpi").child("APIC").as_str(), "acpi.APIC");
        assert_eq!(root.child("fw_cfg").child("etc/e820").as_str(), "fw_cfg.\"etc/e820\"");
        assert_eq!(
            root.child("pci").child("0000:00:02.0").element("offset=0xc8").as_str(),
            "pci.\"0000:00:02.0\"[offset=0xc8]"
        );
        assert_eq!(FactPath("pci.\"x\"".into()).category(), "pci");
        assert_eq!(
            root.child("acpi").child("APIC").item("header.revision").as_str(),
            "acpi.APIC.header.revision"
        );
        assert_eq!(
            root.child("acpi").child("DSDT").item("Method \\_SB.PCI0.EDSM").as_str(),
            "acpi.DSDT.\"Method \\_SB.PCI0.EDSM\""
        );
    }

    #[test]
    fn segments_undo_quoting() {
        let p = FactPath::new("pci.\"0000:00:02.0\".bars[index=0].size");
        assert_eq!(p.segments(), ["pci", "0000:00:02.0", "bars", "[index=0]", "size"]);
        let p = FactPath::new("acpi.DSDT.\"Method \\_SB.PCI0.EDSM\"");
        assert_eq!(p.segments(), ["acpi", "DSDT", "Method \\_SB.PCI0.EDSM"]);
        let p = FactPath::new("cpuid[cpu=1].leaves.\"00000001.00000000\".ecx.vmx");
        assert_eq!(
            p.segments(),
            ["cpuid", "[cpu=1]", "leaves", "00000001.00000000", "ecx", "vmx"]
        );
        assert!(p.is_within(&FactPath::new("cpuid[cpu=1]")));
        assert!(!p.is_within(&FactPath::new("cpuid[cpu=1].lea")));
    }
}
