//! A record: the facts of one machine type with one device profile, as one
//! QEMU release showed them, with their provenance, as canonical TOML.

use crate::facts::{Facts, SCHEMA_VERSION};
use crate::host::HostSide;
use crate::machine::{MachineType, Version};
use crate::provenance::Provenance;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Schema of the record format (and of the database layout around it).
pub const RECORD_SCHEMA: u32 = 1;

/// What a record is of.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordKey {
    /// Guest architecture.
    pub arch: String,
    /// Machine type.
    pub machine: MachineType,
    /// Device profile.
    pub profile: String,
    /// QEMU release that recorded it.
    pub qemu_version: Version,
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} @ QEMU {}",
            self.arch, self.machine, self.profile, self.qemu_version
        )
    }
}

/// One record: the facts of one machine type as one QEMU release showed them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// [`RECORD_SCHEMA`] of the writer.
    pub schema: u32,
    /// What it is of.
    #[serde(flatten)]
    pub key: RecordKey,
    /// Where it came from.
    pub provenance: Provenance,
    /// The guest-visible facts.
    pub facts: Facts,
    /// Facts read on the host without a guest (absent in records made
    /// before they were collected, or with `--no-host-facts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostSide>,
}

impl Record {
    /// The canonical TOML text: every map sorted, no timestamps, so the
    /// same observation always gives the same bytes.
    pub fn to_toml(&self) -> Result<String, String> {
        toml::to_string(self).map_err(|e| e.to_string())
    }

    /// Parse a record in one pass. A record of a newer schema, or whose fact
    /// document has a newer schema, is refused with a message that says so;
    /// only when the parse fails is the text read a second time, to tell a
    /// newer schema from a corrupt file.
    pub fn parse(text: &str) -> Result<Record, RecordFormatError> {
        match toml::from_str::<Record>(text) {
            Ok(r) => {
                newer(Some(r.schema), Some(r.facts.schema))?;
                Ok(r)
            }
            Err(e) => {
                #[derive(Deserialize)]
                struct FactsHead {
                    schema: Option<u32>,
                }
                #[derive(Deserialize)]
                struct Head {
                    schema: Option<u32>,
                    facts: Option<FactsHead>,
                }
                let head: Head = toml::from_str(text).map_err(|e| RecordFormatError(format!("not a record: {e}")))?;
                if head.schema.is_none() {
                    return Err(RecordFormatError("not a record: no schema field".into()));
                }
                newer(head.schema, head.facts.and_then(|f| f.schema))?;
                Err(RecordFormatError(format!("corrupt record: {e}")))
            }
        }
    }
}

fn newer(record: Option<u32>, facts: Option<u32>) -> Result<(), RecordFormatError> {
    if let Some(s) = record.filter(|s| *s > RECORD_SCHEMA) {
        return Err(RecordFormatError(format!(
            "record schema {s} is newer than this machine-abi ({RECORD_SCHEMA}); upgrade machine-abi"
        )));
    }
    if let Some(s) = facts.filter(|s| *s > SCHEMA_VERSION) {
        return Err(RecordFormatError(format!(
            "facts.toml has schema {s}, newer than this build understands ({SCHEMA_VERSION})"
        )));
    }
    Ok(())
}

/// Why a text is not a usable record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordFormatError(pub String);

impl fmt::Display for RecordFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RecordFormatError {}
