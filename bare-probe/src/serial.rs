//! The first 16550 UART (COM1, 0x3f8), polled; no interrupts.

use crate::arch::{inb, outb};
use core::sync::atomic::{AtomicBool, Ordering};

pub const COM1: u16 = 0x3f8;
const LSR: u16 = COM1 + 5;
const LSR_DR: u8 = 0x01;
const LSR_THRE: u8 = 0x20;

static LOCK: AtomicBool = AtomicBool::new(false);

pub fn init() {
    outb(COM1 + 1, 0x00); // no interrupts
    outb(COM1 + 2, 0x07); // FIFOs on, both cleared
    outb(COM1 + 4, 0x03); // DTR | RTS
}

/// One byte, waiting for the transmit holding register: a chardev that
/// cannot take the byte (a full socket) keeps THRE clear until it can.
#[inline(always)]
pub fn put(b: u8) {
    while inb(LSR) & LSR_THRE == 0 {
        crate::arch::pause();
    }
    outb(COM1, b);
}

pub fn write(bytes: &[u8]) {
    for &b in bytes {
        put(b);
    }
}

/// Without looking at LSR: one port write per byte. Loses bytes when the
/// backend pushes back (the 16-byte FIFO overwrites its oldest byte).
pub fn write_nopoll(bytes: &[u8]) {
    for &b in bytes {
        outb(COM1, b);
    }
}

/// `rep outsb`: the whole buffer in one instruction, no LSR check.
pub fn write_rep(bytes: &[u8]) {
    unsafe {
        core::arch::asm!("rep outsb", in("dx") COM1, inout("rsi") bytes.as_ptr() => _,
            inout("rcx") bytes.len() => _, options(nostack, preserves_flags, readonly));
    }
}

#[inline(always)]
pub fn try_get() -> Option<u8> {
    if inb(LSR) & LSR_DR != 0 {
        Some(inb(COM1))
    } else {
        None
    }
}

/// Next received byte; `None` once `deadline` (TSC) has passed.
pub fn get(deadline: u64) -> Option<u8> {
    loop {
        if let Some(b) = try_get() {
            return Some(b);
        }
        if crate::arch::rdtsc() > deadline {
            return None;
        }
    }
}

/// Exclusive use of the UART for a whole message (APs may fault while the
/// BSP writes). Spins; the guard releases on drop.
pub struct Guard;
pub fn lock() -> Guard {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        crate::arch::pause();
    }
    Guard
}
impl Drop for Guard {
    fn drop(&mut self) {
        LOCK.store(false, Ordering::Release);
    }
}

/// `core::fmt` onto the UART (caller holds the lock or does not care).
pub struct Writer;
impl core::fmt::Write for Writer {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        write(s.as_bytes());
        Ok(())
    }
}

#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        let _g = $crate::serial::lock();
        let _ = core::fmt::Write::write_fmt(&mut $crate::serial::Writer, format_args!($($arg)*));
        $crate::serial::write(b"\n");
    }};
}
