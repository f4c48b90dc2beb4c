//! The command server: raw primitives answered through a mailbox in guest
//! RAM that the host maps too (QEMU `memory-backend-file,share=on`). The
//! guest polls the request sequence number; no UART traffic at all.
//!
//! Mailbox at [`MBOX`] (guest physical; offsets in bytes, little endian):
//! ```text
//! 0x000 u64 magic "MABIBAR1" (written last, when ready)
//! 0x008 u32 protocol version
//! 0x00c u32 state: 1 serving, 2 powered off, 3 fatal (message in data)
//! 0x010 u32 request sequence  (host increments after writing a request)
//! 0x014 u32 response sequence (guest copies the request's when done)
//! 0x018 u32 op
//! 0x01c u32 status: 0 ok, 1 unknown op, 2 bad arguments, 3 device error
//! 0x020 u64 args[8]
//! 0x060 u64 results[4]
//! 0x080 u32 response data length
//! 0x100 info: u64 multiboot info, u32 cpus, u32 BSP APIC id,
//!       u32 APIC id[16] (index = cpu number), u64 TSC at entry, u64 TSC ready
//! 0x1000 data (request and response payload), up to DATA_MAX bytes
//! ```

use crate::arch::{self, peek32, peek64, poke32};
use core::sync::atomic::{fence, Ordering};

pub const MBOX: u64 = 0x0100_0000;
pub const DATA: u64 = MBOX + 0x1000;
pub const DATA_MAX: u64 = 0x0040_0000 - 0x1000;
pub const VERSION: u32 = 1;

const MAGIC: u64 = u64::from_le_bytes(*b"MABIBAR1");

pub mod op {
    pub const NOP: u32 = 0;
    /// args: addr, len → data.
    pub const READ_PHYS: u32 = 1;
    /// args: addr, len; data → memory.
    pub const WRITE_PHYS: u32 = 2;
    /// args: addr, width → results[0].
    pub const MMIO_READ: u32 = 3;
    /// args: addr, width, value.
    pub const MMIO_WRITE: u32 = 4;
    /// args: addr, len, width → data (len/width accesses of that width).
    pub const MMIO_READ_BULK: u32 = 5;
    /// args: port, width → results[0].
    pub const PORT_IN: u32 = 6;
    /// args: port, width, value.
    pub const PORT_OUT: u32 = 7;
    /// args: cpu (0 = BSP, then APs by APIC id), leaf, subleaf →
    /// results[0] = eax | ebx << 32, results[1] = ecx | edx << 32.
    pub const CPUID: u32 = 8;
    /// args: selector, len, dma (0/1) → data.
    pub const FW_CFG_READ: u32 = 9;
    /// args: bdf (bus << 8 | dev << 3 | fn), offset, len → data (dwords via 0xcf8/0xcfc).
    pub const CF8_READ: u32 = 10;
    /// args: bdf, offset, width, value (via 0xcf8/0xcfc).
    pub const CF8_WRITE: u32 = 11;
    /// Size BARs the way Linux does (decode off, write ~0, read, restore).
    /// args: bdf, ecam base (0: ports), header layout, keep decode (1 for host
    /// bridges) → data: 7 × (u32 original, u32 size mask), BARs 0-5 and ROM;
    /// for the upper half of a 64-bit BAR the values of that dword.
    pub const SIZE_BARS: u32 = 12;
    /// Power off (no response).
    pub const POWER_OFF: u32 = 13;
}

fn mb(off: u64) -> u64 {
    MBOX + off
}

pub fn arg(i: u64) -> u64 {
    peek64(mb(0x20 + 8 * i))
}

pub fn set(i: u64, v: u64) {
    unsafe { core::ptr::write_volatile(mb(0x60 + 8 * i) as *mut u64, v) }
}

/// Publish the info block and the magic; called once before serving.
pub fn ready(mbi: u64, apic_ids: &[u32], t_entry: u64) {
    unsafe {
        core::ptr::write_bytes(MBOX as *mut u8, 0, 0x1000);
        core::ptr::write_volatile(mb(0x100) as *mut u64, mbi);
    }
    poke32(mb(0x108), apic_ids.len() as u32);
    poke32(mb(0x10c), apic_ids.first().copied().unwrap_or(0));
    for (i, id) in apic_ids.iter().take(16).enumerate() {
        poke32(mb(0x110 + 4 * i as u64), *id);
    }
    unsafe {
        core::ptr::write_volatile(mb(0x150) as *mut u64, t_entry);
        core::ptr::write_volatile(mb(0x158) as *mut u64, arch::rdtsc());
    }
    poke32(mb(0x008), VERSION);
    poke32(mb(0x00c), 1);
    fence(Ordering::SeqCst);
    unsafe { core::ptr::write_volatile(MBOX as *mut u64, MAGIC) }
}

/// Mark the mailbox fatal with a message (from the fault path).
pub fn fail(msg: &str) {
    if peek64(MBOX) != MAGIC {
        return;
    }
    let n = msg.len().min(4096);
    unsafe { core::ptr::copy_nonoverlapping(msg.as_ptr(), DATA as *mut u8, n) };
    poke32(mb(0x80), n as u32);
    fence(Ordering::SeqCst);
    poke32(mb(0x00c), 3);
}

/// Deliberate failures for machine-abi's failure tests (0: never).
pub struct Knobs {
    /// Take a page fault while answering this request (1-based count).
    pub fault_at: u64,
    /// Answer this request with half the data it asked for.
    pub truncate_at: u64,
    /// Reset the machine (triple fault; QEMU exits under `-no-reboot`)
    /// instead of answering this request.
    pub reset_at: u64,
}

/// Serve until POWER_OFF, or until no request came for `idle` TSC ticks.
pub fn serve(idle: u64, knobs: Knobs, run: impl Fn(u32) -> Result<u32, u32>) -> ! {
    // `ready` zeroed the request sequence before publishing the magic; the
    // host may post its first request before we get here, so start from
    // that zero, not from what the field holds now.
    let mut last = 0;
    let mut since = arch::rdtsc();
    let mut count = 0u64;
    loop {
        let seq = peek32(mb(0x010));
        if seq == last {
            if arch::rdtsc() - since > idle {
                crate::fatal("no request from the host within the idle limit");
            }
            arch::pause();
            continue;
        }
        fence(Ordering::SeqCst);
        let opcode = peek32(mb(0x018));
        if opcode == op::POWER_OFF {
            poke32(mb(0x00c), 2);
            crate::power::off();
        }
        count += 1;
        if count == knobs.reset_at {
            crate::power::triple_fault();
        }
        if count == knobs.fault_at {
            // An address no page table maps: the fault path under test.
            arch::peek32(0x70_0000_0000);
        }
        let (status, mut len) = match run(opcode) {
            Ok(len) => (0, len),
            Err(s) => (s, 0),
        };
        if count == knobs.truncate_at {
            len /= 2;
        }
        poke32(mb(0x01c), status);
        poke32(mb(0x080), len);
        fence(Ordering::SeqCst);
        poke32(mb(0x014), seq);
        last = seq;
        since = arch::rdtsc();
    }
}
