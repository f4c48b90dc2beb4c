//! SMBIOS: the entry point and the structure table, split into structures.

use crate::source::Source;
use abi_model::blob::Blobs;
use abi_model::facts::{Smbios, SmbiosStructure};
use abi_model::hex::{bytes_to_hex, Hex16};
use std::io;

/// The kernel's copy of the entry point.
pub const ENTRY_POINT: &str = "/sys/firmware/dmi/tables/smbios_entry_point";
/// The kernel's copy of the structure table.
pub const TABLE: &str = "/sys/firmware/dmi/tables/DMI";

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Collect SMBIOS.
pub fn collect(src: &dyn Source, blobs: &mut Blobs) -> io::Result<Smbios> {
    let ep = src.read_file(ENTRY_POINT)?;
    let table = src.read_file(TABLE)?;
    let (anchor, version) = if ep.starts_with(b"_SM3_") && ep.len() >= 10 {
        ("_SM3_", format!("{}.{}", ep[7], ep[8]))
    } else if ep.starts_with(b"_SM_") && ep.len() >= 8 {
        ("_SM_", format!("{}.{}", ep[6], ep[7]))
    } else {
        return Err(invalid(format!(
            "unknown SMBIOS entry point anchor in {} bytes",
            ep.len()
        )));
    };
    Ok(Smbios {
        anchor: anchor.into(),
        version,
        structures: structures(&table)?,
        entry_point: blobs.put(ep),
        table: blobs.put(table),
    })
}

/// Split a structure table; stops after the end-of-table structure (type 127).
pub fn structures(t: &[u8]) -> io::Result<Vec<SmbiosStructure>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 4 <= t.len() {
        let kind = t[at];
        let len = t[at + 1] as usize;
        if len < 4 || at + len > t.len() {
            return Err(invalid(format!("structure at offset {at:#x}: bad length {len}")));
        }
        let handle = u16::from_le_bytes([t[at + 2], t[at + 3]]);
        let formatted = bytes_to_hex(&t[at..at + len]);
        let mut p = at + len;
        let mut strings = Vec::new();
        // The string set ends with a double NUL; an empty set is just "\0\0".
        loop {
            let end = t[p..].iter().position(|&b| b == 0).map(|i| p + i).ok_or_else(|| {
                invalid(format!(
                    "structure type {kind} at offset {at:#x}: unterminated string set"
                ))
            })?;
            if end == p {
                p += if strings.is_empty() { 2 } else { 1 };
                break;
            }
            strings.push(String::from_utf8_lossy(&t[p..end]).into_owned());
            p = end + 1;
        }
        if p > t.len() {
            return Err(invalid(format!("structure type {kind} at offset {at:#x}: truncated")));
        }
        out.push(SmbiosStructure {
            kind,
            handle: Hex16(handle),
            formatted,
            strings,
        });
        at = p;
        if kind == 127 {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_strings_and_empty_sets() {
        let mut t = vec![0u8, 5, 0, 0, 1];
        t.extend_from_slice(b"QEMU\0v1\0\0");
        t.extend_from_slice(&[127, 4, 1, 0, 0, 0]);
        let s = structures(&t).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].strings, vec!["QEMU", "v1"]);
        assert_eq!(s[0].formatted, "0005000001");
        assert_eq!((s[1].kind, s[1].handle, s[1].strings.len()), (127, Hex16(1), 0));
    }

    #[test]
    fn truncated_table_is_an_error() {
        let t = vec![1u8, 27, 0, 1, 1, 2, 3];
        assert!(structures(&t).unwrap_err().to_string().contains("bad length 27"));
        let t = vec![1u8, 4, 0, 1, b'x'];
        assert!(structures(&t).unwrap_err().to_string().contains("unterminated"));
    }
}
