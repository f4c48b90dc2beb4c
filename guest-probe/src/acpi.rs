//! ACPI: every table the kernel exposes, raw, with the standard header decoded.

use crate::source::Source;
use abi_model::blob::Blobs;
use abi_model::facts::{AcpiHeader, AcpiTable, Probed};
use abi_model::hex::{Hex32, Hex8};
use std::collections::BTreeMap;
use std::io;

/// Where the kernel exposes ACPI tables.
pub const TABLES: &str = "/sys/firmware/acpi/tables";
/// Subdirectories holding dynamically loaded tables and data regions.
const SUBDIRS: [&str; 2] = ["data", "dynamic"];

/// Collect every table, keyed by its path below [`TABLES`].
pub fn collect(src: &dyn Source, blobs: &mut Blobs) -> io::Result<BTreeMap<String, Probed<AcpiTable>>> {
    let mut out = BTreeMap::new();
    for name in src.read_dir(TABLES)? {
        if SUBDIRS.contains(&name.as_str()) {
            match src.read_dir(&format!("{TABLES}/{name}")) {
                Ok(names) => {
                    for sub in names {
                        let key = format!("{name}/{sub}");
                        out.insert(key.clone(), Probed::from_result(table(src, &key, blobs)));
                    }
                }
                Err(e) => {
                    out.insert(
                        format!("{name}/"),
                        Probed::Unavailable {
                            unavailable: e.to_string(),
                        },
                    );
                }
            }
        } else {
            out.insert(name.clone(), Probed::from_result(table(src, &name, blobs)));
        }
    }
    Ok(out)
}

fn table(src: &dyn Source, key: &str, blobs: &mut Blobs) -> io::Result<AcpiTable> {
    let raw = src.read_file(&format!("{TABLES}/{key}"))?;
    Ok(AcpiTable {
        size: raw.len() as u32,
        header: header(&raw),
        blob: blobs.put(raw),
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end_matches(['\0', ' ']).to_string()
}

/// Decode the standard header when the bytes carry one: at least 36 bytes,
/// a printable signature, and a length field that matches (FACS does not).
pub fn header(raw: &[u8]) -> Option<AcpiHeader> {
    if raw.len() < 36 || &raw[0..4] == b"FACS" || !raw[0..4].iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let u32_at = |o: usize| u32::from_le_bytes([raw[o], raw[o + 1], raw[o + 2], raw[o + 3]]);
    let length = u32_at(4);
    if length as usize != raw.len() {
        return None;
    }
    Some(AcpiHeader {
        signature: text(&raw[0..4]),
        length,
        revision: raw[8],
        checksum: Hex8(raw[9]),
        oem_id: text(&raw[10..16]),
        oem_table_id: text(&raw[16..24]),
        oem_revision: Hex32(u32_at(24)),
        creator_id: text(&raw[28..32]),
        creator_revision: Hex32(u32_at(32)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facs_and_short_tables_have_no_header() {
        let mut facs = b"FACS".to_vec();
        facs.extend_from_slice(&64u32.to_le_bytes());
        facs.resize(64, 0);
        assert_eq!(header(&facs), None);
        assert_eq!(header(b"APIC"), None);
    }

    #[test]
    fn length_mismatch_is_not_a_header() {
        let mut t = b"SSDT".to_vec();
        t.extend_from_slice(&100u32.to_le_bytes());
        t.resize(40, 0);
        assert_eq!(header(&t), None);
    }
}
