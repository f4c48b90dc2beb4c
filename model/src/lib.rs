//! The record model of machine-abi: what a record holds (guest-visible
//! facts, host-side facts, provenance) and the vocabulary of a comparison
//! (fact paths, drifts, categories, severities). Plain data with canonical
//! serialisation; no I/O, no command line.
//!
//! Every other crate speaks these types: the probes write [`facts::Facts`],
//! the recorder adds [`provenance::Provenance`] and [`host::HostSide`] to
//! make a [`record::Record`], the store keeps records, and the check turns
//! two records into [`drift::Drift`]s.

#![deny(missing_docs)]

pub mod blob;
pub mod drift;
pub mod facts;
pub mod glob;
pub mod hex;
pub mod host;
pub mod machine;
pub mod provenance;
pub mod record;

pub use blob::{BlobId, Blobs};
pub use drift::{Category, Drift, FactPath, Severity};
pub use facts::{Facts, Probed};
pub use host::HostSide;
pub use machine::{MachineType, Version};
pub use provenance::{Provenance, QemuIdentity};
pub use record::{Record, RecordKey};
