//! Power-off: ACPI PM1a_CNT from the FADT with SLP_TYP of \_S5 from the
//! DSDT; if that does not end the VM, a triple fault (with `-no-reboot`
//! QEMU exits on the reset).

use crate::acpi;
use crate::arch::{outw, rdtsc};

pub fn off() -> ! {
    if let Some(fadt) = acpi::find_table(*b"FACP") {
        let pm1a = crate::arch::peek32(fadt + 64) as u16;
        let dsdt = crate::arch::peek32(fadt + 40) as u64;
        let typ = s5_type(dsdt).unwrap_or(0);
        if pm1a != 0 {
            outw(pm1a, (u16::from(typ) << 10) | (1 << 13));
            // QEMU stops the vCPUs right away; give it a moment anyway.
            let t = rdtsc();
            while rdtsc() - t < 100_000_000 {
                crate::arch::pause();
            }
        }
    }
    triple_fault()
}

/// SLP_TYPa of `Name (_S5_, Package () { a, b, ... })` in the DSDT.
fn s5_type(dsdt: u64) -> Option<u8> {
    if dsdt == 0 || crate::arch::peek32(dsdt) != u32::from_le_bytes(*b"DSDT") {
        return None;
    }
    let len = u64::from(crate::arch::peek32(dsdt + 4));
    let b = |i: u64| crate::arch::peek8(dsdt + i);
    let mut i = 36;
    while i + 8 < len {
        if b(i) == b'_' && b(i + 1) == b'S' && b(i + 2) == b'5' && b(i + 3) == b'_' && b(i + 4) == 0x12 {
            // PackageOp, PkgLength (1..4 bytes), NumElements, first element.
            let lead = b(i + 5);
            let mut p = i + 5 + 1 + u64::from(lead >> 6) + 1;
            return Some(match b(p) {
                0x00 => 0,
                0x01 => 1,
                0x0a => {
                    p += 1;
                    b(p)
                }
                _ => return None,
            });
        }
        i += 1;
    }
    None
}

pub fn triple_fault() -> ! {
    #[repr(C, packed)]
    struct Empty {
        limit: u16,
        base: u64,
    }
    let p = Empty { limit: 0, base: 0 };
    unsafe { core::arch::asm!("lidt [{}]", "int3", in(reg) &p, options(nostack)) }
    crate::arch::halt_forever()
}
