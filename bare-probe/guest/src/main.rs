//! bare-probe: a freestanding Multiboot v1 image that reads the virtual
//! hardware of a QEMU x86 machine and sends it to the host over COM1.
//!
//! Modes (`mode=` on the command line, QEMU `-append`):
//! - `exit`: power off at once (the firmware-only baseline);
//! - `tput n=BYTES how=poll|nopoll|rep`: serial throughput;
//! - `echo`: request/response round trips;
//! - `smp`: AP bring-up and CPUID cost;
//! - `fault`: touch an unmapped address (tests the fault path).
#![no_std]
#![no_main]

mod acpi;
mod arch;
mod fmtbuf;
mod idt;
mod multiboot;
mod power;
#[macro_use]
mod serial;
mod smp;

use arch::rdtsc;
use core::sync::atomic::{AtomicU32, Ordering};

core::arch::global_asm!(include_str!("entry.s"), options(att_syntax));

/// Scratch RAM for bulk buffers (the image and its BSS end below 2 MiB).
const SCRATCH: u64 = 0x0100_0000;

#[no_mangle]
extern "C" fn bsp_main(magic: u32, info: u32) -> ! {
    serial::init();
    idt::init();
    if magic != multiboot::MAGIC {
        fatal("not started by a Multiboot loader");
    }
    let mb = multiboot::Info(u64::from(info));
    let cmd = mb.cmdline();
    match multiboot::arg(cmd, "mode").unwrap_or("exit") {
        "exit" => power::off(),
        "tput" => tput(cmd),
        "echo" => echo(),
        "smp" => smp_bench(),
        "fault" => {
            println!("touching 0x7000000000 (unmapped)");
            let v = arch::peek32(0x70_0000_0000);
            println!("read {v:#x}?");
        }
        other => {
            let mut b = fmtbuf::Buf::<128>::new();
            let _ = core::fmt::write(&mut b, format_args!("unknown mode {other:?}"));
            fatal(b.as_str());
        }
    }
    power::off()
}

fn tput(cmd: &'static str) {
    let n = multiboot::number(multiboot::arg(cmd, "n"), 300_000) as usize;
    // SAFETY: scratch RAM above the image, identity-mapped, unused otherwise.
    let buf = unsafe { core::slice::from_raw_parts_mut(SCRATCH as *mut u8, n) };
    for (i, b) in buf.iter_mut().enumerate() {
        *b = if i % 77 == 76 { b'\n' } else { b'A' + (i % 26) as u8 };
    }
    let how = multiboot::arg(cmd, "how").unwrap_or("poll");
    let t0 = rdtsc();
    match how {
        "nopoll" => serial::write_nopoll(buf),
        "rep" => serial::write_rep(buf),
        _ => serial::write(buf),
    }
    let t1 = rdtsc();
    println!("\nTPUT how={how} bytes={n} ticks={}", t1 - t0);
}

/// Requests: one length byte L (0 ends), L bytes; the answer is the same L
/// bytes. Reports the TSC at start and end so the host can subtract.
fn echo() {
    println!("ECHO ready tsc={}", rdtsc());
    let mut buf = [0u8; 256];
    loop {
        let Some(l) = serial::get(u64::MAX) else { break };
        if l == 0 {
            break;
        }
        for b in buf.iter_mut().take(l as usize) {
            *b = serial::get(u64::MAX).unwrap_or(0);
        }
        serial::write(&buf[..l as usize]);
    }
    println!("ECHO done tsc={}", rdtsc());
}

/// CPUID superset of one CPU: every leaf of the basic, hypervisor and
/// extended ranges (each bounded to 0x100 leaves), subleaves 0..63, keeping
/// a subleaf only where its answer differs from the previous subleaf's.
/// Records of 6 u32 (leaf, subleaf, eax, ebx, ecx, edx) at `out`; returns
/// the count.
pub fn cpuid_superset(out: u64) -> usize {
    let mut n = 0;
    for base in [0u32, 0x4000_0000, 0x8000_0000] {
        let max = arch::cpuid(base, 0)[0];
        let last = if (base..base + 0x100).contains(&max) { max } else { base };
        for leaf in base..=last {
            let mut prev = [0u32; 4];
            for sub in 0..64 {
                let r = arch::cpuid(leaf, sub);
                if sub == 0 || r != prev {
                    let rec = [leaf, sub, r[0], r[1], r[2], r[3]];
                    for (i, w) in rec.iter().enumerate() {
                        arch::poke32(out + (n * 24 + i * 4) as u64, *w);
                    }
                    n += 1;
                }
                prev = r;
            }
        }
    }
    n
}

static AP_COUNT: [AtomicU32; smp::MAX_APS] = [const { AtomicU32::new(0) }; smp::MAX_APS];

fn smp_bench() {
    let t0 = rdtsc();
    let alive = smp::start(1, 2_000_000_000);
    let t1 = rdtsc();
    for i in 0..alive as usize {
        smp::post(i, |i| {
            let n = cpuid_superset(SCRATCH + 0x10_0000 * (i + 1));
            AP_COUNT[i as usize].store(n as u32, Ordering::Release);
        }, i as u64);
    }
    let n0 = cpuid_superset(SCRATCH);
    let t2 = rdtsc();
    for i in 0..alive as usize {
        smp::wait(i, 2_000_000_000);
    }
    let t3 = rdtsc();
    println!(
        "SMP alive={alive} bringup_ticks={} bsp_cpuid_ticks={} bsp_records={n0} ap0_records={} all_done_ticks={} ap0_apic={}",
        t1 - t0,
        t2 - t1,
        AP_COUNT[0].load(Ordering::Acquire),
        t3 - t1,
        smp::APIC_ID[0].load(Ordering::Relaxed)
    );
}

/// Report a fatal error (human line + `MABI1 FATAL <base64>` frame) and
/// power off.
pub fn fatal(msg: &str) -> ! {
    {
        let _g = serial::lock();
        serial::write(b"\nbare-probe: ");
        serial::write(msg.as_bytes());
        serial::write(b"\nMABI1 FATAL ");
        base64(msg.as_bytes(), |c| serial::put(c));
        serial::write(b"\n");
    }
    power::off()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64(data: &[u8], mut out: impl FnMut(u8)) {
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out(B64[(v >> 18) as usize & 63]);
        out(B64[(v >> 12) as usize & 63]);
        out(if c.len() > 1 { B64[(v >> 6) as usize & 63] } else { b'=' });
        out(if c.len() > 2 { B64[v as usize & 63] } else { b'=' });
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut b = fmtbuf::Buf::<512>::new();
    let _ = core::fmt::write(&mut b, format_args!("panic: {info}"));
    fatal(b.as_str())
}
