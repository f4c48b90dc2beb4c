//! Provenance: where a record came from, down to the hash of every input.

use crate::machine::Version;
use serde::{Deserialize, Serialize};

/// What identifies a QEMU build, recorded in every record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QemuIdentity {
    /// Upstream version, e.g. `7.2.22`.
    pub version: Version,
    /// Package string from `-version`, e.g. `Debian 1:7.2+dfsg-7+deb12u18+b3`.
    pub package: String,
    /// blake3 of the binary.
    pub blake3: String,
    /// ELF GNU build-id (absent when the binary is a wrapper script).
    pub build_id: Option<String>,
}

/// Where a record came from, down to the hashes of every input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The QEMU build.
    pub qemu: QemuIdentity,
    /// The BIOS image used.
    pub firmware: Firmware,
    /// The guest kernel; absent when the probe needs none (the bare probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Kernel>,
    /// The probe.
    pub probe: Probe,
    /// Accelerator (`tcg`).
    pub accelerator: String,
    /// The exact QEMU arguments, paths as placeholders.
    pub command_line: Vec<String>,
}

/// Firmware identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Firmware {
    /// File name (`bios-256k.bin`).
    pub bios: String,
    /// Its blake3.
    pub bios_blake3: String,
    /// Version string found in the image, if any.
    pub bios_version: Option<String>,
    /// blake3 over the names and hashes of every ROM in the first data dir.
    pub rom_set_blake3: String,
}

/// Kernel identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kernel {
    /// Version string from the bzImage header.
    pub version: String,
    /// blake3 of the image.
    pub blake3: String,
    /// Modules loaded by the probe, in order.
    pub modules: Vec<String>,
}

/// Probe identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Which probe made the record. Records written before there was a
    /// choice were all made by the Linux probe, and say nothing.
    #[serde(default, skip_serializing_if = "ProbeKind::is_linux")]
    pub kind: ProbeKind,
    /// Probe version.
    pub version: String,
    /// blake3 of the static binary (Linux probe) or of the flat image (bare probe).
    pub blake3: String,
    /// blake3 of the initramfs built around the Linux probe; the bare
    /// probe has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initramfs_blake3: Option<String>,
}

/// The two probes that can make a record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// `guest-probe` as `/init` of an initramfs under a Linux guest kernel:
    /// the facts as Linux presents them, after Linux booted the machine.
    #[default]
    Linux,
    /// The freestanding image of `bare-probe/`: the machine as the firmware
    /// hands it over, read with no operating system in between.
    Bare,
}

impl ProbeKind {
    /// True for the Linux probe (the default, left out of records).
    pub fn is_linux(&self) -> bool {
        *self == ProbeKind::Linux
    }

    /// The recorder's choice when none is given: the bare probe for x86 PC
    /// machine types (`pc-*` on x86_64), which it was built and shown
    /// equivalent for; the Linux probe for everything else.
    pub fn default_for(arch: &str, machine: &crate::MachineType) -> ProbeKind {
        if arch == "x86_64" && machine.0.starts_with("pc-") {
            ProbeKind::Bare
        } else {
            ProbeKind::Linux
        }
    }

    /// Its name on the command line and in records: `linux` or `bare`.
    pub fn name(&self) -> &'static str {
        match self {
            ProbeKind::Linux => "linux",
            ProbeKind::Bare => "bare",
        }
    }
}

impl std::fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ProbeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<ProbeKind, String> {
        match s {
            "linux" => Ok(ProbeKind::Linux),
            "bare" => Ok(ProbeKind::Bare),
            other => Err(format!("unknown probe kind {other:?} (known: bare, linux)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MachineType;

    #[test]
    fn default_kind_per_machine_type() {
        let m = |s: &str| MachineType(s.into());
        assert_eq!(ProbeKind::default_for("x86_64", &m("pc-q35-7.2")), ProbeKind::Bare);
        assert_eq!(ProbeKind::default_for("x86_64", &m("pc-i440fx-2.0")), ProbeKind::Bare);
        assert_eq!(ProbeKind::default_for("x86_64", &m("microvm")), ProbeKind::Linux);
        assert_eq!(ProbeKind::default_for("x86_64", &m("isapc")), ProbeKind::Linux);
        assert_eq!(ProbeKind::default_for("aarch64", &m("virt-7.2")), ProbeKind::Linux);
        assert_eq!("bare".parse::<ProbeKind>(), Ok(ProbeKind::Bare));
        assert!("kvm".parse::<ProbeKind>().is_err_and(|e| e.contains("bare, linux")));
    }

    #[test]
    fn linux_probe_records_say_nothing_new() {
        let p = Probe {
            kind: ProbeKind::Linux,
            version: "0.1.0".into(),
            blake3: "b".into(),
            initramfs_blake3: Some("i".into()),
        };
        let text = toml::to_string(&p).expect("serialises");
        assert_eq!(text, "version = \"0.1.0\"\nblake3 = \"b\"\ninitramfs_blake3 = \"i\"\n");
        let bare = Probe {
            kind: ProbeKind::Bare,
            initramfs_blake3: None,
            ..p
        };
        let text = toml::to_string(&bare).expect("serialises");
        assert_eq!(text, "kind = \"bare\"\nversion = \"0.1.0\"\nblake3 = \"b\"\n");
        assert_eq!(toml::from_str::<Probe>(&text).expect("parses"), bare);
    }
}
