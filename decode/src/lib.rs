//! Decoders: turn the raw bytes of a fact (an ACPI table, a PCI config
//! space, the SMBIOS structure table, a CPUID leaf) into named items, so a
//! drift says which field or object changed instead of which byte.
//!
//! The checker compares bytes first and only decodes where they differ.

#![deny(missing_docs)]

use std::collections::BTreeMap;

pub mod acpi;
pub mod aml;
pub mod cpuid;
pub mod dtb;
pub mod pci;
pub mod rom;
pub mod smbios;
pub mod virtio;
pub mod vmstate;

/// Decode one ACPI table (any signature).
pub fn acpi_table(table: &[u8]) -> Decoded {
    let mut d = acpi::decode(table);
    if is_aml(table) {
        d.extend_prefixed("", aml::decode(table));
    }
    d
}

/// DSDT and SSDTs carry AML after the header; the fixed-table decoder
/// leaves their body to the AML walker.
fn is_aml(table: &[u8]) -> bool {
    matches!(table.get(..4), Some(b"DSDT" | b"SSDT"))
}

/// Decode a flattened device tree blob (`/sys/firmware/fdt`, or QEMU's
/// `-machine …,dumpdtb=FILE`); phandles are normalised to node paths, see
/// [`dtb`].
pub fn device_tree(blob: &[u8]) -> Decoded {
    dtb::decode(blob)
}

/// Decode a PCI function's config space.
pub fn pci_config(config: &[u8]) -> Decoded {
    pci::decode(config)
}

/// Decode the SMBIOS structure table.
pub fn smbios_table(table: &[u8]) -> Decoded {
    smbios::decode_table(table)
}

/// Decode the SMBIOS entry point.
pub fn smbios_entry_point(ep: &[u8]) -> Decoded {
    smbios::decode_entry_point(ep)
}

/// Decode one CPUID leaf (`regs` = eax, ebx, ecx, edx) of a CPU whose
/// leaf 0 names `vendor` and leaf 0x40000000 names `hypervisor`.
pub fn cpuid_leaf(vendor: &str, hypervisor: &str, leaf: u32, subleaf: u32, regs: [u32; 4]) -> Decoded {
    // Hypervisor leaves are named after the hypervisor, not the CPU vendor.
    let namer = if (0x4000_0000..0x4000_0100).contains(&leaf) {
        hypervisor
    } else {
        vendor
    };
    cpuid::decode_leaf(namer, leaf, subleaf, regs)
}

/// The vendor string of CPUID leaf 0 (`regs` = eax, ebx, ecx, edx).
pub fn cpuid_vendor(regs: [u32; 4]) -> String {
    cpuid::vendor(regs)
}

/// The hypervisor signature of CPUID leaf 0x40000000.
pub fn cpuid_hypervisor(regs: [u32; 4]) -> String {
    cpuid::hypervisor(regs)
}

/// `N bytes, blake3 0123456789abcdef`: a short, stable stand-in for a long
/// opaque region, shared by the decoders so they all read alike.
pub fn hash_summary(bytes: &[u8]) -> String {
    let hex = blake3::hash(bytes).to_hex();
    format!("{} bytes, blake3 {}", bytes.len(), hex.get(..16).unwrap_or_default())
}

/// A quoted string; `"`, `\\` and anything not printable ASCII are
/// escaped, so distinct bytes always give distinct text.
pub fn quote_bytes(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(char::from(b));
            }
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

/// Bytes no decoder understands: 16-byte hex lines keyed by offset, the
/// fallback that keeps every decoder complete.
pub fn raw_lines(bytes: &[u8]) -> Decoded {
    let mut d = Decoded::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let hex: String = chunk.iter().map(|b| format!("{b:02x}")).collect();
        d.put(format!("raw[{:#06x}]", i * 16), hex);
    }
    d
}

/// The decoded view of one raw fact: a stable key → a human-readable value.
///
/// Keys name things by identity, not position, so an inserted element does
/// not make every later one look changed. A decoder is complete: any change
/// of the input changes at least one value (bytes it does not understand
/// are kept as raw items), so nothing drifts unseen.
#[derive(Clone, Debug, Default)]
pub struct Decoded {
    items: BTreeMap<String, String>,
    /// Next ` #n` suffix to try per repeated key, so that many duplicates
    /// (malformed input can produce thousands of `error` items) cost linear
    /// time, not quadratic (found by fuzzing the SMBIOS decoder).
    next_suffix: BTreeMap<String, usize>,
}

/// Two views are equal when their items are; the suffix counters are
/// bookkeeping.
impl PartialEq for Decoded {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl Eq for Decoded {}

impl Decoded {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an item. A key already present gets a ` #2`, ` #3`, … suffix, so
    /// duplicates in malformed input are kept rather than overwritten.
    pub fn put(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        if let std::collections::btree_map::Entry::Vacant(e) = self.items.entry(key.clone()) {
            e.insert(value.into());
            return;
        }
        let mut n = self.next_suffix.get(&key).copied().unwrap_or(2);
        while self.items.contains_key(&format!("{key} #{n}")) {
            n += 1;
        }
        self.items.insert(format!("{key} #{n}"), value.into());
        self.next_suffix.insert(key, n + 1);
    }

    /// Add every item of `other`, with `prefix` before each key.
    pub fn extend_prefixed(&mut self, prefix: &str, other: Decoded) {
        for (k, v) in other.items {
            self.put(format!("{prefix}{k}"), v);
        }
    }

    /// All items, sorted by key.
    pub fn items(&self) -> &BTreeMap<String, String> {
        &self.items
    }

    /// One item's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.items.get(key).map(String::as_str)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing was decoded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_lines_cover_every_byte() {
        let d = raw_lines(&[0u8; 20]);
        assert_eq!(d.get("raw[0x0000]"), Some("00000000000000000000000000000000"));
        assert_eq!(d.get("raw[0x0010]"), Some("00000000"));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn cpuid_vendor_reads_ebx_edx_ecx() {
        // Leaf 0 of an AMD CPU as TCG reports it.
        assert_eq!(cpuid_vendor([0xd, 0x68747541, 0x444d4163, 0x69746e65]), "AuthenticAMD");
    }

    #[test]
    fn many_duplicates_cost_linear_time() {
        // The fuzzer's SMBIOS hang: tens of thousands of `error` items
        // (quadratic probing took minutes for this; now milliseconds).
        let mut d = Decoded::new();
        for i in 0..50_000 {
            d.put("error", i.to_string());
        }
        assert_eq!(d.len(), 50_000);
        assert_eq!(d.get("error #50000"), Some("49999"));
        // An explicit `#n` key is never overwritten by the counter.
        let mut d = Decoded::new();
        d.put("k", "1");
        d.put("k #3", "explicit");
        d.put("k", "2");
        d.put("k", "3");
        assert_eq!(
            (d.get("k #2"), d.get("k #3"), d.get("k #4")),
            (Some("2"), Some("explicit"), Some("3"))
        );
    }

    #[test]
    fn smbios_fuzz_reproducer_decodes() {
        let p = concat!(
            concat!(env!("CARGO_MANIFEST_DIR"), "/.."),
            "/fuzz/artifacts-found/smbios-hang-oem-strings-16x255.bin"
        );
        let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        let d = smbios::decode_table(&bytes);
        // 16 OEM Strings structures claiming 255 strings each, none present.
        assert!(d.items().keys().filter(|k| k.starts_with("error")).count() >= 16 * 255);
    }

    #[test]
    fn duplicate_keys_are_kept() {
        let mut d = Decoded::new();
        d.put("a", "1");
        d.put("a", "2");
        d.put("a", "3");
        assert_eq!(d.get("a"), Some("1"));
        assert_eq!(d.get("a #2"), Some("2"));
        assert_eq!(d.get("a #3"), Some("3"));
        assert_eq!(d.len(), 3);
    }
}
