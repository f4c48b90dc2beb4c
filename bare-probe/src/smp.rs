//! Application processors: INIT-SIPI-SIPI to all but self, real-mode
//! trampoline at 0x8000 that enters long mode, then each AP runs jobs the
//! BSP posts in its mailbox.

use crate::arch::{pause, peek32, poke32, rdtsc};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

extern "C" {
    static ap_tramp_start: u8;
    static ap_tramp_end: u8;
    static ap_tramp_gdt: u8;
    static ap_tramp_cr3: u8;
    static ap_tramp_far: u8;
    static gdt_ptr: [u8; 10];
    fn ap_start64();
}

/// Trampoline page: SIPI vector 0x08.
pub const TRAMPOLINE: u64 = 0x8000;
const LAPIC: u64 = 0xfee0_0000;
const ICR_LO: u64 = LAPIC + 0x300;
const ICR_HI: u64 = LAPIC + 0x310;
const SVR: u64 = LAPIC + 0xf0;
pub const MAX_APS: usize = 15;

/// APs that reached `ap_main`.
pub static ALIVE: AtomicU32 = AtomicU32::new(0);
/// APIC id of each AP by arrival index.
pub static APIC_ID: [AtomicU32; MAX_APS] = [const { AtomicU32::new(u32::MAX) }; MAX_APS];

/// One job slot per AP: a function pointer and an argument; the AP clears
/// `JOB` when done.
static JOB: [AtomicU64; MAX_APS] = [const { AtomicU64::new(0) }; MAX_APS];
static ARG: [AtomicU64; MAX_APS] = [const { AtomicU64::new(0) }; MAX_APS];

fn icr_idle() {
    let t = rdtsc();
    while peek32(ICR_LO) & (1 << 12) != 0 && rdtsc() - t < 100_000_000 {
        pause();
    }
}

fn addr<T>(s: &T) -> u64 {
    s as *const T as u64
}

/// Start every other CPU; wait until `expected` APs run or `timeout` TSC
/// ticks pass. Returns the number that arrived.
pub fn start(expected: u32, timeout: u64) -> u32 {
    unsafe {
        let start = addr(&ap_tramp_start);
        let len = addr(&ap_tramp_end) - start;
        core::ptr::copy_nonoverlapping(start as *const u8, TRAMPOLINE as *mut u8, len as usize);
        let at = |sym: u64| TRAMPOLINE + (sym - start);
        core::ptr::copy_nonoverlapping(gdt_ptr.as_ptr(), at(addr(&ap_tramp_gdt)) as *mut u8, 6);
        poke32(at(addr(&ap_tramp_cr3)), crate::paging::root() as u32);
        poke32(at(addr(&ap_tramp_far)), ap_start64 as *const () as usize as u32);
        crate::arch::poke16(at(addr(&ap_tramp_far)) + 4, 0x08);
    }
    poke32(SVR, peek32(SVR) | 0x100); // APIC software enable
    icr_idle();
    poke32(ICR_HI, 0);
    poke32(ICR_LO, 0x000c_4500); // INIT, assert, all excluding self
    icr_idle();
    let vector = (TRAMPOLINE >> 12) as u32;
    let t0 = rdtsc();
    for attempt in 0..2 {
        poke32(ICR_LO, 0x000c_4600 | vector); // SIPI, all excluding self
        icr_idle();
        // The second SIPI only if someone is missing after ~1 ms.
        let wait = if attempt == 0 { 4_000_000 } else { timeout };
        let t = rdtsc();
        while ALIVE.load(Ordering::Acquire) < expected && rdtsc() - t < wait && rdtsc() - t0 < timeout {
            pause();
        }
        if ALIVE.load(Ordering::Acquire) >= expected {
            break;
        }
    }
    ALIVE.load(Ordering::Acquire)
}

fn kick(idx: usize) {
    icr_idle();
    poke32(ICR_HI, APIC_ID[idx].load(Ordering::Relaxed) << 24);
    poke32(ICR_LO, 0x0000_4400); // NMI, assert, physical destination
}

/// Post `f(arg)` to AP `idx` and wake it with an NMI (it sleeps in `hlt`
/// with interrupts off; the NMI handler returns straight to its loop).
pub fn post(idx: usize, f: fn(u64), arg: u64) {
    ARG[idx].store(arg, Ordering::Relaxed);
    JOB[idx].store(f as usize as u64, Ordering::Release);
    kick(idx);
}

/// Wait for AP `idx` to finish its job, repeating the NMI in case the AP
/// went to sleep just before the job arrived. False on timeout.
pub fn wait(idx: usize, timeout: u64) -> bool {
    let t0 = rdtsc();
    loop {
        let t = rdtsc();
        while rdtsc() - t < 500_000 {
            if JOB[idx].load(Ordering::Acquire) == 0 {
                return true;
            }
            pause();
        }
        if rdtsc() - t0 > timeout {
            return false;
        }
        kick(idx);
    }
}

/// Run `f(arg)` on AP `idx` and wait for it.
pub fn run_on(idx: usize, f: fn(u64), arg: u64, timeout: u64) -> bool {
    post(idx, f, arg);
    wait(idx, timeout)
}

#[no_mangle]
extern "C" fn ap_main(idx: u32) -> ! {
    crate::idt::load();
    let idx = idx as usize;
    APIC_ID[idx].store(crate::arch::cpuid(1, 0)[1] >> 24, Ordering::Relaxed);
    ALIVE.fetch_add(1, Ordering::AcqRel);
    loop {
        let job = JOB[idx].load(Ordering::Acquire);
        if job != 0 {
            // SAFETY: only `post` stores here, with a `fn(u64)`.
            let f: fn(u64) = unsafe { core::mem::transmute(job as usize) };
            f(ARG[idx].load(Ordering::Relaxed));
            JOB[idx].store(0, Ordering::Release);
        } else {
            // Interrupts stay off: only an NMI (or INIT) wakes us, and the
            // NMI handler returns straight here. A host thread is not spent
            // spinning.
            unsafe { core::arch::asm!("hlt", options(nomem, nostack)) }
        }
    }
}
