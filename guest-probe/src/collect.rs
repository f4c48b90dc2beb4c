//! One collection run: every collector over one [`Source`], turned into the
//! canonical document plus its blobs, and back.

use crate::frame::Entry;
use crate::source::Source;
use crate::{acpi, arm, cpuid, devicetree, fw_cfg, idregs, memmap, pci, smbios, virtio, PROBE_VERSION};
use abi_model::blob::{BlobId, Blobs};
use abi_model::facts::{Facts, FactsError, ModuleLoad, ProbeInfo, Probed, SCHEMA_VERSION};

pub use abi_model::facts::DOCUMENT;
/// Directory (and entry name prefix) of blobs.
pub const BLOB_DIR: &str = "blobs";

/// Facts plus the blobs they refer to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collection {
    /// The typed document.
    pub facts: Facts,
    /// Raw data referred to by id.
    pub blobs: Blobs,
}

/// Run every collector. Never fails: what cannot be read is recorded as
/// unavailable with the reason.
pub fn collect(src: &dyn Source, modules: Vec<ModuleLoad>) -> Collection {
    let mut blobs = Blobs::default();
    let kernel_release = src
        .read_file("/proc/sys/kernel/osrelease")
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_else(|e| format!("unavailable: {e}"));
    let pci = Probed::from_result(pci::collect(src, &mut blobs));
    let virtio = match &pci {
        Probed::Available(map) => Probed::Available(virtio::collect(src, map)),
        Probed::Unavailable { unavailable } => Probed::Unavailable {
            unavailable: format!("PCI unavailable: {unavailable}"),
        },
    };
    let arch = src.arch().unwrap_or_else(|e| format!("unavailable: {e}"));
    // Facts of one architecture only: `None` elsewhere, so documents of the
    // other architecture keep their exact bytes.
    let arm = arch == "aarch64";
    let cpuid = if arch == "x86_64" {
        Probed::from_result(cpuid::collect(src))
    } else {
        Probed::Unavailable {
            unavailable: format!(
                "CPUID exists only on x86; this {arch} guest's CPU identification is in cpu_id_registers"
            ),
        }
    };
    let facts = Facts {
        schema: SCHEMA_VERSION,
        probe: ProbeInfo {
            kind: Default::default(),
            version: PROBE_VERSION.into(),
            arch: arch.clone(),
            kernel_release,
            modules,
        },
        acpi: Probed::from_result(acpi::collect(src, &mut blobs)),
        smbios: Probed::from_result(smbios::collect(src, &mut blobs)),
        cpuid,
        memory_map: Probed::from_result(memmap::collect(src)),
        fw_cfg: Probed::from_result(fw_cfg::collect(src, &mut blobs)),
        pci,
        virtio,
        device_tree: arm.then(|| Probed::from_result(devicetree::collect(src, &mut blobs))),
        cpu_id_registers: arm.then(|| Probed::from_result(idregs::collect(src))),
        arm_platform: arm.then(|| Probed::Available(arm::collect(src))),
    };
    Collection { facts, blobs }
}

/// Why a received collection cannot be used.
#[derive(Debug)]
pub enum CollectionError {
    /// No fact document among the entries.
    NoDocument,
    /// The document does not parse, or has a newer schema.
    Facts(FactsError),
    /// An entry that is neither the document nor a well-named blob.
    UnexpectedEntry(String),
    /// A blob whose bytes do not hash to its name.
    BlobMismatch(String),
    /// The document refers to a blob that is not there.
    MissingBlob(String),
    /// Two entries with the same name.
    DuplicateEntry(String),
}

impl std::fmt::Display for CollectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CollectionError::NoDocument => write!(f, "no {DOCUMENT} in the probe output"),
            CollectionError::Facts(e) => write!(f, "{e}"),
            CollectionError::UnexpectedEntry(n) => {
                write!(f, "unexpected entry {n:?} in the probe output")
            }
            CollectionError::BlobMismatch(n) => {
                write!(f, "blob {n}: contents do not match its name")
            }
            CollectionError::MissingBlob(n) => {
                write!(f, "{DOCUMENT} refers to blob {n}, which is missing")
            }
            CollectionError::DuplicateEntry(n) => {
                write!(f, "entry {n} appears more than once in the probe output")
            }
        }
    }
}

impl std::error::Error for CollectionError {}

impl Collection {
    /// The canonical TOML document.
    pub fn document(&self) -> String {
        self.facts.to_toml()
    }

    /// Entries for the transport framing: document first, then blobs by id.
    pub fn to_entries(&self) -> Vec<Entry> {
        let mut out = vec![Entry {
            name: DOCUMENT.into(),
            data: self.document().into_bytes(),
        }];
        out.extend(self.blobs.iter().map(|(id, data)| Entry {
            name: format!("{BLOB_DIR}/{id}"),
            data: data.clone(),
        }));
        out
    }

    /// Rebuild a collection from received entries, verifying every blob and
    /// that every blob the document names is present.
    pub fn from_entries(entries: Vec<Entry>) -> Result<Collection, CollectionError> {
        let mut doc = None;
        let mut blobs = Blobs::default();
        let mut seen = std::collections::BTreeSet::new();
        for e in entries {
            if !seen.insert(e.name.clone()) {
                return Err(CollectionError::DuplicateEntry(e.name));
            }
            if e.name == DOCUMENT {
                doc = Some(
                    String::from_utf8(e.data)
                        .map_err(|e| CollectionError::Facts(FactsError::Document(e.to_string())))?,
                );
            } else if let Some(id) = e.name.strip_prefix(&format!("{BLOB_DIR}/")).and_then(BlobId::parse) {
                if blobs.put(e.data) != id {
                    return Err(CollectionError::BlobMismatch(id.to_string()));
                }
            } else {
                return Err(CollectionError::UnexpectedEntry(e.name));
            }
        }
        let doc = doc.ok_or(CollectionError::NoDocument)?;
        let facts = Facts::from_toml(&doc).map_err(CollectionError::Facts)?;
        for id in facts.blob_ids() {
            if blobs.get(&id).is_none() {
                return Err(CollectionError::MissingBlob(id.to_string()));
            }
        }
        Ok(Collection { facts, blobs })
    }
}
