//! Exceptions: every vector goes to a stub that reports the fault on the
//! serial line (a human line plus an `MABI1 FATAL` frame) and powers off.

use core::sync::atomic::{AtomicBool, Ordering};

#[repr(C, packed)]
#[derive(Clone, Copy)]
struct Gate {
    off_lo: u16,
    sel: u16,
    ist: u8,
    attr: u8,
    off_mid: u16,
    off_hi: u32,
    zero: u32,
}

static mut IDT: [Gate; 256] = [Gate {
    off_lo: 0,
    sel: 0,
    ist: 0,
    attr: 0,
    off_mid: 0,
    off_hi: 0,
    zero: 0,
}; 256];

extern "C" {
    static isr_table: [u64; 33];
    fn nmi_stub();
}

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u64,
}

/// Fill the table (BSP, once).
pub fn init() {
    unsafe {
        let idt = &mut *core::ptr::addr_of_mut!(IDT);
        for (v, g) in idt.iter_mut().enumerate() {
            let h = if v == 2 {
                nmi_stub as *const () as u64
            } else {
                isr_table[v.min(32)]
            };
            *g = Gate {
                off_lo: h as u16,
                sel: 0x08,
                ist: 0,
                attr: 0x8e,
                off_mid: (h >> 16) as u16,
                off_hi: (h >> 32) as u32,
                zero: 0,
            };
        }
    }
    load();
}

/// Load the table on this CPU.
pub fn load() {
    let p = Pointer {
        limit: (core::mem::size_of::<[Gate; 256]>() - 1) as u16,
        base: core::ptr::addr_of!(IDT) as u64,
    };
    unsafe { core::arch::asm!("lidt [{}]", in(reg) &p, options(readonly, nostack, preserves_flags)) }
}

/// What the stubs push (see entry.s), lowest address first.
#[repr(C)]
pub struct Frame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rbx: u64,
    rax: u64,
    vector: u64,
    error: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

const NAMES: [&str; 33] = [
    "divide error",
    "debug",
    "NMI",
    "breakpoint",
    "overflow",
    "bound range",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack fault",
    "general protection",
    "page fault",
    "reserved",
    "x87 FP error",
    "alignment check",
    "machine check",
    "SIMD FP error",
    "virtualization",
    "control protection",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection",
    "VMM communication",
    "security",
    "reserved",
    "unexpected interrupt",
];

static FAULTING: AtomicBool = AtomicBool::new(false);

#[no_mangle]
extern "C" fn fault_handler(f: &Frame) -> ! {
    if FAULTING.swap(true, Ordering::SeqCst) {
        // A fault while reporting a fault: reset (with -no-reboot QEMU exits).
        crate::power::triple_fault();
    }
    let cpu = crate::arch::cpuid(1, 0)[1] >> 24;
    let mut msg = crate::fmtbuf::Buf::<512>::new();
    let _ = core::fmt::write(
        &mut msg,
        format_args!(
            "fault on cpu {} (APIC id): vector {} ({}), error {:#x}, rip {:#x}, rsp {:#x}, cr2 {:#x}, rax {:#x} rbx {:#x} rcx {:#x} rdx {:#x} rsi {:#x} rdi {:#x}",
            cpu, f.vector, NAMES[(f.vector as usize).min(32)], f.error, f.rip, f.rsp, crate::arch::cr2(),
            f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi
        ),
    );
    crate::fatal(msg.as_str())
}
