//! The command server: raw primitives answered through a mailbox in guest
//! RAM that the host maps too (QEMU `memory-backend-file,share=on`). The
//! guest polls the request sequence number; no UART traffic at all.
//!
//! The layout and the request codes are in [`crate::protocol`], shared
//! with the host.

use crate::arch::{self, peek32, peek64, poke32};
use core::sync::atomic::{fence, Ordering};

use crate::protocol::{field, state, FATAL_MAX, MAGIC, MAX_CPUS, MBOX, VERSION};
pub use crate::protocol::{op, DATA_MAX};

/// Guest physical address of the data area.
pub const DATA: u64 = MBOX + crate::protocol::DATA_OFFSET;

fn mb(off: u64) -> u64 {
    MBOX + off
}

pub fn arg(i: u64) -> u64 {
    peek64(mb(field::ARGS + 8 * i))
}

pub fn set(i: u64, v: u64) {
    unsafe { core::ptr::write_volatile(mb(field::RESULTS + 8 * i) as *mut u64, v) }
}

/// Publish the info block and the magic; called once before serving.
pub fn ready(mbi: u64, apic_ids: &[u32], t_entry: u64) {
    unsafe {
        core::ptr::write_bytes(MBOX as *mut u8, 0, crate::protocol::DATA_OFFSET as usize);
        core::ptr::write_volatile(mb(field::INFO_MULTIBOOT) as *mut u64, mbi);
    }
    poke32(mb(field::INFO_CPUS), apic_ids.len() as u32);
    poke32(mb(field::INFO_BSP_APIC_ID), apic_ids.first().copied().unwrap_or(0));
    for (i, id) in apic_ids.iter().take(MAX_CPUS as usize).enumerate() {
        poke32(mb(field::INFO_APIC_IDS + 4 * i as u64), *id);
    }
    unsafe {
        core::ptr::write_volatile(mb(field::INFO_TSC_ENTRY) as *mut u64, t_entry);
        core::ptr::write_volatile(mb(field::INFO_TSC_READY) as *mut u64, arch::rdtsc());
    }
    poke32(mb(field::VERSION), VERSION);
    poke32(mb(field::STATE), state::SERVING);
    fence(Ordering::SeqCst);
    unsafe { core::ptr::write_volatile(mb(field::MAGIC) as *mut u64, MAGIC) }
}

/// Mark the mailbox fatal with a message (from the fault path).
pub fn fail(msg: &str) {
    if peek64(mb(field::MAGIC)) != MAGIC {
        return;
    }
    let n = msg.len().min(FATAL_MAX as usize);
    unsafe { core::ptr::copy_nonoverlapping(msg.as_ptr(), DATA as *mut u8, n) };
    poke32(mb(field::DATA_LEN), n as u32);
    fence(Ordering::SeqCst);
    poke32(mb(field::STATE), state::FATAL);
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
        let seq = peek32(mb(field::REQUEST_SEQ));
        if seq == last {
            if arch::rdtsc() - since > idle {
                crate::fatal("no request from the host within the idle limit");
            }
            arch::pause();
            continue;
        }
        fence(Ordering::SeqCst);
        let opcode = peek32(mb(field::OP));
        if opcode == op::POWER_OFF {
            poke32(mb(field::STATE), state::POWERED_OFF);
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
        poke32(mb(field::STATUS), status);
        poke32(mb(field::DATA_LEN), len);
        fence(Ordering::SeqCst);
        poke32(mb(field::RESPONSE_SEQ), seq);
        last = seq;
        since = arch::rdtsc();
    }
}
