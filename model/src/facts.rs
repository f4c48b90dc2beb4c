//! The fact document: every guest-visible ABI fact of one VM, typed.
//!
//! Shared by the probe (which writes it), the recorder and the checker
//! (which read it). Maps are `BTreeMap`s and lists are sorted, so
//! serialising the same facts always gives the same bytes.

use crate::blob::BlobId;
use crate::hex::{Hex16, Hex32, Hex64, Hex8};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// Version of the fact document schema; bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// A fact that was read, or the reason it could not be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Probed<T> {
    /// The fact could not be read; nothing is left out silently.
    Unavailable {
        /// Why, e.g. "No such file or directory (os error 2)".
        unavailable: String,
    },
    /// The fact as read.
    Available(T),
}

impl<T> Probed<T> {
    /// The value, if it was read.
    pub fn available(&self) -> Option<&T> {
        match self {
            Probed::Available(v) => Some(v),
            Probed::Unavailable { .. } => None,
        }
    }

    /// Why the fact could not be read, if it could not.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Probed::Available(_) => None,
            Probed::Unavailable { unavailable } => Some(unavailable),
        }
    }

    /// Build from a result, keeping the error text as the reason.
    pub fn from_result<E: fmt::Display>(r: Result<T, E>) -> Probed<T> {
        match r {
            Ok(v) => Probed::Available(v),
            Err(e) => Probed::Unavailable {
                unavailable: e.to_string(),
            },
        }
    }
}

/// The whole document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema: u32,
    /// Who collected the facts and where.
    pub probe: ProbeInfo,
    /// PCI functions by address.
    pub pci: Probed<BTreeMap<PciAddress, Probed<PciFunction>>>,
    /// ACPI tables by their sysfs name (`DSDT`, `SSDT1`, `dynamic/SSDT2`, `data/BERT`).
    pub acpi: Probed<BTreeMap<String, Probed<AcpiTable>>>,
    /// SMBIOS entry point and structures.
    pub smbios: Probed<Smbios>,
    /// CPUID of every online vCPU.
    pub cpuid: Probed<Vec<CpuCpuid>>,
    /// The memory map the firmware handed over.
    pub memory_map: Probed<Vec<MemoryRange>>,
    /// The fw_cfg device: keys and file directory.
    pub fw_cfg: Probed<FwCfg>,
    /// Every virtio-pci function, read from the device itself.
    pub virtio: Probed<BTreeMap<PciAddress, Probed<VirtioDevice>>>,
    /// The flattened device tree the kernel was handed, raw. `None` on
    /// architectures without device trees (x86), so their documents stay as
    /// they were; on aarch64 always present, read or unavailable with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_tree: Option<Probed<DeviceTree>>,
    /// Arm CPU identification registers of every online vCPU. `None` on x86,
    /// whose CPU identification is [`Facts::cpuid`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_id_registers: Option<Probed<Vec<CpuIdRegisters>>>,
    /// Arm platform interfaces the guest sees beside the tables: the GIC
    /// distributor's identification and the PSCI/SMCCC versions the kernel
    /// negotiated. `None` on x86.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm_platform: Option<Probed<ArmPlatform>>,
}

/// Why a fact document cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FactsError {
    /// The document does not parse as this schema.
    Document(String),
    /// The document was written by a newer probe schema.
    NewerSchema(u32),
}

impl fmt::Display for FactsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FactsError::Document(e) => write!(f, "{DOCUMENT} does not parse: {e}"),
            FactsError::NewerSchema(v) => write!(
                f,
                "{DOCUMENT} has schema {v}, newer than this build understands ({SCHEMA_VERSION})"
            ),
        }
    }
}

impl std::error::Error for FactsError {}

/// Name of the fact document inside a probe stream or output directory.
pub const DOCUMENT: &str = "facts.toml";

impl Facts {
    /// The canonical TOML document.
    pub fn to_toml(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        toml::to_string(self).unwrap_or_else(|e| format!("# serialisation failed: {e}\n"))
    }

    /// Parse a fact document, refusing a newer schema with a clear message.
    pub fn from_toml(doc: &str) -> Result<Facts, FactsError> {
        match toml::from_str::<Facts>(doc) {
            Ok(f) if f.schema > SCHEMA_VERSION => Err(FactsError::NewerSchema(f.schema)),
            Ok(f) => Ok(f),
            Err(e) => {
                #[derive(Deserialize)]
                struct Head {
                    schema: u32,
                }
                let head: Head = toml::from_str(doc).map_err(|e| FactsError::Document(e.to_string()))?;
                if head.schema > SCHEMA_VERSION {
                    return Err(FactsError::NewerSchema(head.schema));
                }
                Err(FactsError::Document(e.to_string()))
            }
        }
    }

    /// Every blob the document refers to, sorted and deduplicated.
    pub fn blob_ids(&self) -> Vec<BlobId> {
        let mut ids = Vec::new();
        if let Some(pci) = self.pci.available() {
            ids.extend(pci.values().filter_map(Probed::available).map(|f| f.config.clone()));
        }
        if let Some(acpi) = self.acpi.available() {
            ids.extend(acpi.values().filter_map(Probed::available).map(|t| t.blob.clone()));
        }
        if let Some(s) = self.smbios.available() {
            ids.extend([s.entry_point.clone(), s.table.clone()]);
        }
        if let Some(Probed::Available(dt)) = &self.device_tree {
            ids.push(dt.blob.clone());
        }
        if let Some(fw) = self.fw_cfg.available() {
            ids.extend(
                fw.files
                    .values()
                    .filter_map(|f| f.content.as_ref()?.available().cloned()),
            );
        }
        ids.sort();
        ids.dedup();
        ids
    }
}

/// Provenance of a fact document from inside the guest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeInfo {
    /// Which probe wrote the document (absent: the Linux probe).
    #[serde(default, skip_serializing_if = "crate::provenance::ProbeKind::is_linux")]
    pub kind: crate::provenance::ProbeKind,
    /// Probe version.
    pub version: String,
    /// Guest architecture, e.g. `x86_64`.
    pub arch: String,
    /// Guest kernel release (`uname -r`).
    pub kernel_release: String,
    /// Kernel modules the probe loaded as PID 1, in order, with the outcome.
    pub modules: Vec<ModuleLoad>,
}

/// One kernel module load attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleLoad {
    /// Module file name.
    pub name: String,
    /// `loaded` or the error.
    pub result: String,
}

/// A PCI function address `DDDD:BB:DD.F`; sorts in bus order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciAddress {
    /// PCI segment (domain).
    pub domain: u32,
    /// Bus number.
    pub bus: u8,
    /// Device (slot) number, 0–31.
    pub device: u8,
    /// Function number, 0–7.
    pub function: u8,
}

impl PciAddress {
    /// Parse `0000:00:1f.2`.
    pub fn parse(text: &str) -> Option<PciAddress> {
        let (domain, rest) = text.split_once(':')?;
        let (bus, rest) = rest.split_once(':')?;
        let (device, function) = rest.split_once('.')?;
        if domain.len() < 4 || bus.len() != 2 || device.len() != 2 || function.len() != 1 {
            return None;
        }
        let a = PciAddress {
            domain: u32::from_str_radix(domain, 16).ok()?,
            bus: u8::from_str_radix(bus, 16).ok()?,
            device: u8::from_str_radix(device, 16).ok()?,
            function: u8::from_str_radix(function, 16).ok()?,
        };
        (a.device < 32 && a.function < 8).then_some(a)
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

impl Serialize for PciAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PciAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PciAddress::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("not a PCI address: {text:?}")))
    }
}

/// One PCI function: raw config space plus what is decoded from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PciFunction {
    /// Vendor id.
    pub vendor: Hex16,
    /// Device id.
    pub device: Hex16,
    /// Subsystem vendor id (type 0 headers; 0 otherwise).
    pub subsystem_vendor: Hex16,
    /// Subsystem id.
    pub subsystem: Hex16,
    /// Class code (base, sub, prog-if).
    pub class: Hex32,
    /// Revision id.
    pub revision: Hex8,
    /// Header type (bit 7: multi-function).
    pub header_type: Hex8,
    /// Interrupt pin (0 none, 1–4 INTA–INTD).
    pub interrupt_pin: u8,
    /// Whether the function has a PCI Express capability.
    pub express: bool,
    /// Bytes of config space readable (256 or 4096).
    pub config_size: u32,
    /// Raw config space.
    pub config: BlobId,
    /// Upstream bridges from the host bridge down, nearest last.
    pub parents: Vec<PciAddress>,
    /// Base address registers with their sizes.
    pub bars: Vec<Bar>,
    /// Expansion ROM size, if any.
    pub rom_size: Option<Hex64>,
    /// Standard capability chain in list order.
    pub capabilities: Vec<Capability>,
    /// Extended capability chain in list order (PCIe only).
    pub ext_capabilities: Vec<ExtCapability>,
    /// Bus numbers and windows of a bridge.
    pub bridge: Option<Bridge>,
}

/// A BAR as the kernel sized it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bar {
    /// BAR index 0–5.
    pub index: u8,
    /// `io`, `mem32` or `mem64`.
    pub kind: String,
    /// Prefetchable memory.
    pub prefetchable: bool,
    /// Size in bytes.
    pub size: Hex64,
}

/// A standard capability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capability {
    /// Offset in config space.
    pub offset: Hex8,
    /// Capability id.
    pub id: Hex8,
}

/// An extended (PCIe) capability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtCapability {
    /// Offset in config space.
    pub offset: Hex16,
    /// Extended capability id.
    pub id: Hex16,
    /// Capability version.
    pub version: u8,
}

/// Bus numbers and forwarding windows of a PCI-to-PCI bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bridge {
    /// Primary bus.
    pub primary: u8,
    /// Secondary bus.
    pub secondary: u8,
    /// Subordinate bus.
    pub subordinate: u8,
    /// I/O window, if open.
    pub io: Option<Window>,
    /// Memory window, if open.
    pub memory: Option<Window>,
    /// Prefetchable memory window, if open.
    pub prefetchable: Option<Window>,
}

/// An address window, both ends inclusive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// First address.
    pub base: Hex64,
    /// Last address.
    pub limit: Hex64,
}

/// One ACPI table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcpiTable {
    /// Raw bytes.
    pub blob: BlobId,
    /// Length in bytes.
    pub size: u32,
    /// The standard description header; absent for FACS and short tables.
    pub header: Option<AcpiHeader>,
}

/// The standard 36-byte ACPI description header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcpiHeader {
    /// Four-character signature.
    pub signature: String,
    /// Declared length.
    pub length: u32,
    /// Table revision.
    pub revision: u8,
    /// Checksum byte.
    pub checksum: Hex8,
    /// OEM id (6 characters).
    pub oem_id: String,
    /// OEM table id (8 characters).
    pub oem_table_id: String,
    /// OEM revision.
    pub oem_revision: Hex32,
    /// Creator (ASL compiler) id.
    pub creator_id: String,
    /// Creator revision.
    pub creator_revision: Hex32,
}

/// SMBIOS as the firmware exposes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smbios {
    /// Raw entry point structure.
    pub entry_point: BlobId,
    /// Anchor: `_SM_` (2.x) or `_SM3_` (3.x).
    pub anchor: String,
    /// SMBIOS version from the entry point, e.g. `2.8`.
    pub version: String,
    /// Raw structure table.
    pub table: BlobId,
    /// Structures in table order.
    pub structures: Vec<SmbiosStructure>,
}

/// One SMBIOS structure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmbiosStructure {
    /// Structure type.
    #[serde(rename = "type")]
    pub kind: u8,
    /// Handle.
    pub handle: Hex16,
    /// Formatted area (header included) as hex.
    pub formatted: String,
    /// The string set, in order (index 1 first).
    pub strings: Vec<String>,
}

/// CPUID of one vCPU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuCpuid {
    /// Logical CPU number in the guest.
    pub cpu: u32,
    /// `"LLLLLLLL.SSSSSSSS"` (leaf.subleaf, hex) → `"eax ebx ecx edx"` (hex).
    pub leaves: BTreeMap<String, String>,
}

/// One firmware memory map entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryRange {
    /// First byte.
    pub start: Hex64,
    /// Last byte.
    pub end: Hex64,
    /// Type as the firmware named it, e.g. `System RAM`, `Reserved`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The fw_cfg device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FwCfg {
    /// Where the device was read: `mmio 0x0000000009020000` (its register
    /// block, on Arm's virt). Absent for the x86 I/O ports 0x510–0x511,
    /// which are fixed, so x86 documents stay as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    /// Fixed keys by name (`signature`, `id`, `nb_cpus`, …), as hex bytes.
    pub keys: BTreeMap<String, Probed<String>>,
    /// The file directory by name.
    pub files: BTreeMap<String, FwCfgFile>,
}

/// One fw_cfg file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FwCfgFile {
    /// Selector key assigned to the file.
    pub selector: Hex16,
    /// Size in bytes; absent for boot payload files (`etc/boot/…`), whose
    /// size is that of the kernel and initrd the recorder passed, not the ABI.
    pub size: Option<u32>,
    /// Contents, for every file that is not boot payload and not huge.
    pub content: Option<Probed<BlobId>>,
}

/// A virtio-pci device read from its own registers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtioDevice {
    /// PCI device id.
    pub pci_device: Hex16,
    /// `modern` (virtio 1.x capabilities) or `legacy` (I/O BAR 0).
    pub transport: String,
    /// Device-offered feature words, word 0 first.
    pub features: Vec<Hex32>,
    /// Number of virtqueues.
    pub num_queues: u16,
    /// Maximum size of each virtqueue.
    pub queue_sizes: Vec<u16>,
    /// Device-specific configuration bytes as hex, up to the last byte that
    /// is not `ff` (QEMU answers `ff` past the end of a device's config).
    pub config: String,
}

/// A flattened device tree blob (FDT, DTB) as the kernel received it: on a
/// direct `-kernel` boot the tree QEMU generated; on a UEFI boot, where ACPI
/// describes the machine, the nearly empty tree the kernel's EFI stub made
/// (only `/chosen`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceTree {
    /// The blob (`/sys/firmware/fdt`) without its trailing zero bytes, which
    /// are free space: QEMU's virt makes a 1 MiB tree of which about 8 KiB
    /// is used, and sending the zeros over the emulated serial port cost
    /// seconds per boot. Lossless: the raw blob is this followed by
    /// `size - len` zero bytes. Decoded by `abi_decode::dtb`.
    pub blob: BlobId,
    /// Length of the raw blob in bytes (the header's `totalsize`, when the
    /// blob is well formed).
    pub size: u32,
}

/// The identification registers of one Arm vCPU.
///
/// `midr_el1` and `revidr_el1` are the per-CPU values the kernel read at
/// EL1 (sysfs `regs/identification`). `registers` are EL0 `mrs` reads of
/// the ID register space, which Linux traps and emulates (its
/// "cpu-feature-registers" ABI): each is the *sanitised* system-wide value,
/// with only the fields the kernel exposes to user space and the rest read
/// as their safe value (mostly 0). That is what guest applications see,
/// and it is the only view of ID_AA64* that EL0 has; the raw EL1 values
/// differ in the hidden fields. Names are the architectural register names
/// (`ID_AA64PFR0_EL1`, …); each value is what the emulation returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuIdRegisters {
    /// Logical CPU number in the guest.
    pub cpu: u32,
    /// MIDR_EL1 as the kernel read it on this CPU.
    pub midr_el1: Probed<Hex64>,
    /// REVIDR_EL1 as the kernel read it on this CPU.
    pub revidr_el1: Probed<Hex64>,
    /// EL0 `mrs` reads (kernel-emulated, sanitised) by register name.
    pub registers: Probed<BTreeMap<String, Hex64>>,
}

/// Arm platform interfaces outside the tables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmPlatform {
    /// The GIC distributor's identification, read from its own registers;
    /// the architecture revision is PIDR2 bits 7:4 (1 = GICv1, 2 = GICv2,
    /// 3 = GICv3, 4 = GICv4).
    pub gic: Probed<GicDistributor>,
    /// The kernel's report of the PSCI and SMCCC versions it negotiated
    /// with the firmware (its `psci:` log lines, timestamps removed,
    /// verbatim). EL0 cannot issue the PSCI_VERSION or SMCCC_VERSION calls
    /// itself, and the kernel exposes the answers nowhere else.
    pub psci: Probed<Vec<String>>,
}

/// The GIC distributor as read from its registers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GicDistributor {
    /// Physical base address (from the device tree or the MADT).
    pub base: Hex64,
    /// Where the base came from: the device tree node, or `MADT`.
    pub described_by: String,
    /// The peripheral id 2 register: ICPIDR2 at offset 0xfe8 of a GICv1/v2
    /// distributor, GICD_PIDR2 at 0xffe8 of a GICv3/v4 one (the offset
    /// follows the description).
    pub pidr2: Hex32,
    /// GICD_IIDR (offset 0x0008): implementer, revision, product.
    pub iidr: Hex32,
    /// GICD_TYPER (offset 0x0004): interrupt lines, CPU count, security.
    pub typer: Hex32,
}
