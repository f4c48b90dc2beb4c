//! Just enough ACPI for the guest itself: find the RSDP and a table by
//! signature (power-off, MADT). The host reads the tables as raw memory.

use crate::arch::{peek16, peek32, peek64, peek8};

fn checksum(addr: u64, len: u64) -> u8 {
    (0..len).fold(0u8, |s, i| s.wrapping_add(peek8(addr + i)))
}

fn is_rsdp(a: u64) -> bool {
    peek64(a) == u64::from_le_bytes(*b"RSD PTR ") && checksum(a, 20) == 0
}

/// Physical address of the RSDP: first KiB of the EBDA, then 0xE0000-0xFFFFF.
pub fn rsdp() -> Option<u64> {
    let ebda = u64::from(peek16(0x40e)) << 4;
    if (0x8_0000..0xa_0000).contains(&ebda) {
        if let Some(a) = (ebda..ebda + 1024).step_by(16).find(|&a| is_rsdp(a)) {
            return Some(a);
        }
    }
    (0xe_0000u64..0x10_0000).step_by(16).find(|&a| is_rsdp(a))
}

/// First table with this signature listed by the RSDT (or XSDT).
pub fn find_table(sig: [u8; 4]) -> Option<u64> {
    let rsdp = rsdp()?;
    let (root, entry) = if peek8(rsdp + 15) >= 2 && peek64(rsdp + 24) != 0 {
        (peek64(rsdp + 24), 8)
    } else {
        (u64::from(peek32(rsdp + 16)), 4)
    };
    if root == 0 || root >= 1 << 32 {
        return None;
    }
    let len = u64::from(peek32(root + 4));
    let mut at = root + 36;
    while at + entry <= root + len {
        let t = if entry == 8 { peek64(at) } else { u64::from(peek32(at)) };
        if t != 0 && t < 1 << 32 && peek32(t) == u32::from_le_bytes(sig) {
            return Some(t);
        }
        at += entry;
    }
    None
}
