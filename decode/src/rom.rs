//! Legacy x86 option ROMs (the `55 aa` header of the PCI Firmware
//! Specification, section 5.1): what a reviewer needs to judge a ROM whose
//! bytes changed. QEMU loads its own option ROMs (`kvmvapic.bin`, the
//! loaders for `-kernel`) into guest memory through fw_cfg; their size
//! is part of the machine (the ROM's memory block is migrated), their
//! code is rebuilt by every distribution toolchain.

/// The header facts of one ROM image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RomHeader {
    /// Size the header declares (byte 2, in 512-byte blocks), in bytes.
    pub declared: usize,
    /// The image bytes sum to 0 modulo 256 over the declared size.
    pub checksum_ok: bool,
}

/// The header of `image`, if it starts with the option ROM signature.
pub fn header(image: &[u8]) -> Option<RomHeader> {
    if image.get(..2) != Some(&[0x55, 0xaa]) {
        return None;
    }
    let declared = usize::from(*image.get(2)?) * 512;
    let checksum_ok = image
        .get(..declared)
        .is_some_and(|b| b.iter().fold(0u8, |s, x| s.wrapping_add(*x)) == 0);
    Some(RomHeader { declared, checksum_ok })
}

/// One line on how two images of the same ROM differ, for a drift's detail.
pub fn describe_change(old: &[u8], new: &[u8]) -> String {
    let (a, b) = (header(old), header(new));
    let common = old.len().min(new.len());
    let first = (0..common).find(|&i| old[i] != new[i]).unwrap_or(common);
    let differing = (0..common).filter(|&i| old[i] != new[i]).count() + old.len().max(new.len()) - common;
    match (a, b) {
        (Some(a), Some(b)) if a.declared == b.declared && old.len() == new.len() => format!(
            "option ROM of {} bytes ({} × 512) on both sides, checksum {} → {}; {differing} bytes of its body \
             differ, first at {first:#x}: the size, which is migrated, is the same",
            a.declared,
            a.declared / 512,
            if a.checksum_ok { "valid" } else { "INVALID" },
            if b.checksum_ok { "valid" } else { "INVALID" },
        ),
        (Some(a), Some(b)) => format!(
            "option ROM size changed from {} to {} bytes (file {} → {} bytes): the ROM's memory block is \
             migrated, so its size is part of the machine",
            a.declared,
            b.declared,
            old.len(),
            new.len()
        ),
        _ => format!(
            "not an option ROM on {} side (no 55 aa signature); {} → {} bytes, {differing} differ, first at {first:#x}",
            match (a, b) {
                (None, None) => "either",
                (None, _) => "the old",
                _ => "the new",
            },
            old.len(),
            new.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rom(blocks: u8, fill: u8) -> Vec<u8> {
        let mut r = vec![fill; usize::from(blocks) * 512];
        r[..3].copy_from_slice(&[0x55, 0xaa, blocks]);
        let last = r.len() - 1;
        r[last] = 0;
        let sum = r.iter().fold(0u8, |s, x| s.wrapping_add(*x));
        r[last] = 0u8.wrapping_sub(sum);
        r
    }

    #[test]
    fn a_rebuild_keeps_the_size() {
        let (a, mut b) = (rom(3, 0x90), rom(3, 0x90));
        b[0x100] = 0xcc;
        b[0x101] = 0xcc;
        assert_eq!(
            header(&a),
            Some(RomHeader {
                declared: 1536,
                checksum_ok: true
            })
        );
        let d = describe_change(&a, &b);
        assert!(
            d.starts_with("option ROM of 1536 bytes (3 × 512) on both sides, checksum valid → INVALID"),
            "{d}"
        );
        assert!(d.contains("2 bytes of its body differ, first at 0x100"), "{d}");
    }

    #[test]
    fn a_new_size_is_named() {
        let d = describe_change(&rom(3, 0), &rom(4, 0));
        assert!(d.starts_with("option ROM size changed from 1536 to 2048 bytes"), "{d}");
        let d = describe_change(b"abc", b"abd");
        assert!(d.starts_with("not an option ROM on either side"), "{d}");
    }

    #[test]
    fn real_loader_rom_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/roms/linuxboot_dma.bin");
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let h = header(&bytes).expect("a ROM");
        assert_eq!(h.declared, bytes.len());
        assert!(h.checksum_ok);
    }
}
