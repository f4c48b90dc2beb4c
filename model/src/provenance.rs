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
    /// The guest kernel.
    pub kernel: Kernel,
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
    /// Probe version.
    pub version: String,
    /// blake3 of the static binary.
    pub blake3: String,
    /// blake3 of the initramfs built around it.
    pub initramfs_blake3: String,
}
