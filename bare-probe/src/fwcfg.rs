//! fw_cfg: selector/data ports 0x510/0x511, and the DMA interface (0x514)
//! when the device advertises it (feature bit 1 of key 0x0001).

use crate::arch::{inb, outl, outw};

const SELECTOR: u16 = 0x510;
const DATA: u16 = 0x511;
const DMA_ADDR_HI: u16 = 0x514;
const DMA_ADDR_LO: u16 = 0x518;

#[repr(C, align(16))]
struct DmaAccess {
    control: u32,
    length: u32,
    address: u64,
}

static mut DMA: DmaAccess = DmaAccess {
    control: 0,
    length: 0,
    address: 0,
};

/// Read `len` bytes of `selector` from its start into `dst` through ports.
pub fn read_ports(selector: u16, dst: u64, len: usize) {
    outw(SELECTOR, selector);
    for i in 0..len as u64 {
        crate::arch::poke8(dst + i, inb(DATA));
    }
}

/// Whether the DMA interface exists.
pub fn has_dma() -> bool {
    let mut id = [0u8; 4];
    read_ports(0x0001, id.as_mut_ptr() as u64, 4);
    u32::from_le_bytes(id) & 2 != 0
}

/// The same through DMA (guest memory below 4 GiB or identity-mapped).
/// False if the device reports an error.
pub fn read_dma(selector: u16, dst: u64, len: usize) -> bool {
    unsafe {
        let d = core::ptr::addr_of_mut!(DMA);
        core::ptr::write_volatile(&mut (*d).control, ((u32::from(selector) << 16) | 0x08 | 0x02).to_be());
        core::ptr::write_volatile(&mut (*d).length, (len as u32).to_be());
        core::ptr::write_volatile(&mut (*d).address, dst.to_be());
        let a = d as u64;
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        outl(DMA_ADDR_HI, ((a >> 32) as u32).to_be());
        outl(DMA_ADDR_LO, (a as u32).to_be());
        loop {
            let c = u32::from_be(core::ptr::read_volatile(&(*d).control));
            if c & 1 != 0 {
                return false;
            }
            if c == 0 {
                return true;
            }
            crate::arch::pause();
        }
    }
}
