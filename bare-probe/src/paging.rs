//! Identity mappings above 4 GiB on demand (64-bit BARs, high RAM), 2 MiB
//! pages; page-table pages come from a small static pool.

use core::sync::atomic::{AtomicUsize, Ordering};

extern "C" {
    static mut pml4: [u64; 512];
}

#[repr(C, align(4096))]
struct Page([u64; 512]);

const POOL_PAGES: usize = 32;
static mut POOL: [Page; POOL_PAGES] = [const { Page([0; 512]) }; POOL_PAGES];
static NEXT: AtomicUsize = AtomicUsize::new(0);

const PRESENT_RW: u64 = 0x3;
const LARGE: u64 = 0x80;
const ADDR: u64 = 0x000f_ffff_ffff_f000;

fn alloc() -> Option<u64> {
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    if i >= POOL_PAGES {
        return None;
    }
    Some(unsafe { core::ptr::addr_of_mut!(POOL[i]) } as u64)
}

fn next_level(table: u64, index: u64) -> Option<u64> {
    let e = (table + index * 8) as *mut u64;
    unsafe {
        if *e & 1 == 0 {
            *e = alloc()? | PRESENT_RW;
        }
        Some(*e & ADDR)
    }
}

/// Make `[phys, phys + len)` accessible at the same virtual address.
/// Below 4 GiB everything is mapped from boot. False if the pool is empty
/// or the range is beyond 48-bit canonical space.
pub fn map(phys: u64, len: u64) -> bool {
    let end = phys.saturating_add(len.max(1));
    if end <= 1 << 32 {
        return true;
    }
    if end > 1 << 47 {
        return false;
    }
    let root = core::ptr::addr_of_mut!(pml4) as u64;
    let mut page = phys & !0x1f_ffff;
    while page < end {
        let Some(pdpt) = next_level(root, (page >> 39) & 511) else {
            return false;
        };
        let Some(pd) = next_level(pdpt, (page >> 30) & 511) else {
            return false;
        };
        let e = (pd + ((page >> 21) & 511) * 8) as *mut u64;
        unsafe {
            if *e & 1 == 0 {
                *e = page | PRESENT_RW | LARGE;
                core::arch::asm!("invlpg [{}]", in(reg) page, options(nostack, preserves_flags));
            }
        }
        page += 0x20_0000;
    }
    true
}

/// Physical address of the PML4 (CR3 for the APs).
pub fn root() -> u64 {
    core::ptr::addr_of_mut!(pml4) as u64
}
