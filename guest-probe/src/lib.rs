//! The in-guest half of machine-abi: collect every guest-visible ABI fact of a
//! virtual machine into one canonical document plus content-addressed blobs.
//!
//! Collectors never talk to the hardware directly; they go through a
//! [`source::Source`], so the same code runs against the live system, records
//! what it read into a fixture tree, or replays such a tree in tests. The
//! fact document they fill in is [`abi_model::facts::Facts`].

#![deny(missing_docs)]

pub mod acpi;
pub mod arm;
pub mod base64;
pub mod collect;
pub mod cpuid;
pub mod devicetree;
pub mod frame;
pub mod fw_cfg;
pub mod idregs;
pub mod memmap;
pub mod pci;
pub mod smbios;
pub mod source;
pub mod virtio;

pub use collect::{collect, Collection};

/// Version of the probe, recorded in every fact document.
pub const PROBE_VERSION: &str = env!("CARGO_PKG_VERSION");
