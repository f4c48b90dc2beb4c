//! bare-probe: a freestanding Multiboot v1 image that reads the virtual
//! hardware of a QEMU x86 machine and sends it to the host over COM1.
//!
//! Modes (`mode=` on the command line, QEMU `-append`):
//! - `exit`: power off at once (the firmware-only baseline);
//! - `tput n=BYTES how=poll|nopoll|rep`: serial throughput;
//! - `echo`: request/response round trips;
//! - `smp`: AP bring-up and CPUID cost;
//! - `fault`: touch an unmapped address (tests the fault path);
//! - `serve` (default): start the APs, then answer raw primitives through
//!   the shared-memory mailbox (see `server`) until told to power off.
//!
//! Test knobs of `serve`, for machine-abi's own failure tests only (the
//! recorder passes them from `MACHINE_ABI_BARE_TEST`, see recorder/src/bare):
//! `fault=N` takes a page fault while answering request N (1-based),
//! `truncate=N` answers request N with half the data it asked for, and
//! `reset=N` resets the machine instead of answering request N (QEMU exits
//! under `-no-reboot`).
#![no_std]
#![no_main]

mod acpi;
mod arch;
mod fmtbuf;
mod fwcfg;
mod idt;
mod multiboot;
mod paging;
mod power;
// Shared with the host (recorder/src/bare/mailbox.rs); the guest does not
// use every item.
#[allow(dead_code)]
mod protocol;
mod server;
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
    let t_entry = rdtsc();
    serial::init();
    idt::init();
    if magic != multiboot::MAGIC {
        fatal("not started by a Multiboot loader");
    }
    let mb = multiboot::Info(u64::from(info));
    let cmd = mb.cmdline();
    match multiboot::arg(cmd, "mode").unwrap_or("serve") {
        "exit" => power::off(),
        "serve" => serve(u64::from(info), t_entry, cmd),
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
    while let Some(l) = serial::get(u64::MAX) {
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
        smp::post(
            i,
            |i| {
                let n = cpuid_superset(SCRATCH + 0x10_0000 * (i + 1));
                AP_COUNT[i as usize].store(n as u32, Ordering::Release);
            },
            i as u64,
        );
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

/// TSC ticks: generous bounds, valid up to a 4 GHz TSC.
const MS: u64 = 4_000_000;

/// Where each AP leaves its CPUID snapshot: 64 KiB per AP slot, a u32
/// record count then records of `cpuid_superset`.
const SNAPSHOT: u64 = 0x0200_0000;
const SNAPSHOT_STRIDE: u64 = 0x1_0000;

fn snapshot_job(slot: u64) {
    let base = SNAPSHOT + slot * SNAPSHOT_STRIDE;
    let n = cpuid_superset(base + 8);
    arch::poke32(base, n as u32);
}

/// The answer of `leaf`/`sub` from AP `slot`'s snapshot: the record of the
/// largest recorded subleaf not above `sub` (equal neighbours were dropped).
fn snapshot_lookup(slot: usize, leaf: u32, sub: u32) -> Option<[u32; 4]> {
    if sub >= 64 {
        return None;
    }
    let base = SNAPSHOT + slot as u64 * SNAPSHOT_STRIDE;
    let n = arch::peek32(base) as u64;
    let mut best = None;
    for i in 0..n {
        let r = base + 8 + i * 24;
        if arch::peek32(r) == leaf && arch::peek32(r + 4) <= sub {
            best = Some([
                arch::peek32(r + 8),
                arch::peek32(r + 12),
                arch::peek32(r + 16),
                arch::peek32(r + 20),
            ]);
        }
    }
    best
}

/// CPU number (0 = BSP, then APs by APIC id) → AP slot; `usize::MAX` for the BSP.
static mut CPU_SLOT: [usize; 16] = [usize::MAX; 16];
static mut CPUS: usize = 1;

fn serve(mbi: u64, t_entry: u64, cmd: &'static str) -> ! {
    let mut n = [0u8; 2];
    fwcfg::read_ports(0x0005, n.as_mut_ptr() as u64, 2);
    let want = u32::from(u16::from_le_bytes(n)).clamp(1, 16);
    let alive = if want > 1 { smp::start(want - 1, 500 * MS) } else { 0 };
    if alive + 1 < want {
        let mut b = fmtbuf::Buf::<128>::new();
        let _ = core::fmt::write(&mut b, format_args!("only {} of {} vCPUs came up", alive + 1, want));
        fatal(b.as_str());
    }
    let mut aps: [(u32, usize); smp::MAX_APS] = [(u32::MAX, 0); smp::MAX_APS];
    for (i, a) in aps.iter_mut().enumerate().take(alive as usize) {
        *a = (smp::APIC_ID[i].load(Ordering::Relaxed), i);
    }
    aps[..alive as usize].sort_unstable();
    let mut ids = [0u32; 16];
    ids[0] = arch::cpuid(1, 0)[1] >> 24;
    unsafe {
        for (n, (id, slot)) in aps.iter().take(alive as usize).enumerate() {
            ids[n + 1] = *id;
            CPU_SLOT[n + 1] = *slot;
        }
        CPUS = alive as usize + 1;
    }
    // Each AP takes its CPUID snapshot now, in parallel with the host's
    // first requests, and then sleeps: later CPUID requests for it are
    // answered from the snapshot, without waking it.
    for slot in 0..alive as usize {
        smp::post(slot, snapshot_job, slot as u64);
    }
    let dma = fwcfg::has_dma();
    server::ready(mbi, &ids[..alive as usize + 1], t_entry);
    let knobs = server::Knobs {
        fault_at: multiboot::number(multiboot::arg(cmd, "fault"), 0),
        truncate_at: multiboot::number(multiboot::arg(cmd, "truncate"), 0),
        reset_at: multiboot::number(multiboot::arg(cmd, "reset"), 0),
    };
    server::serve(60_000 * MS, knobs, |op| run(op, dma))
}

fn cfg_addr(bdf: u64, off: u64) -> u32 {
    0x8000_0000 | ((bdf as u32 & 0xffff) << 8) | (off as u32 & 0xfc)
}

/// Config space access through ECAM (`ecam` != 0) or 0xcf8/0xcfc.
fn cfg_read(ecam: u64, bdf: u64, off: u64, width: u64) -> u32 {
    if ecam != 0 {
        let a = ecam + (bdf << 12) + off;
        match width {
            1 => u32::from(arch::peek8(a)),
            2 => u32::from(arch::peek16(a)),
            _ => arch::peek32(a),
        }
    } else {
        arch::outl(0xcf8, cfg_addr(bdf, off));
        let port = 0xcfc + (off & 3) as u16;
        match width {
            1 => u32::from(arch::inb(port)),
            2 => u32::from(arch::inw(port)),
            _ => arch::inl(0xcfc),
        }
    }
}

fn cfg_write(ecam: u64, bdf: u64, off: u64, width: u64, v: u32) {
    if ecam != 0 {
        let a = ecam + (bdf << 12) + off;
        match width {
            1 => arch::poke8(a, v as u8),
            2 => arch::poke16(a, v as u16),
            _ => arch::poke32(a, v),
        }
    } else {
        arch::outl(0xcf8, cfg_addr(bdf, off));
        let port = 0xcfc + (off & 3) as u16;
        match width {
            1 => arch::outb(port, v as u8),
            2 => arch::outw(port, v as u16),
            _ => arch::outl(0xcfc, v),
        }
    }
}

static CPUID_IN: [AtomicU32; 2] = [const { AtomicU32::new(0) }; 2];
static CPUID_OUT: [AtomicU32; 4] = [const { AtomicU32::new(0) }; 4];

fn cpuid_job(_: u64) {
    let r = arch::cpuid(CPUID_IN[0].load(Ordering::Acquire), CPUID_IN[1].load(Ordering::Acquire));
    for (o, v) in CPUID_OUT.iter().zip(r) {
        o.store(v, Ordering::Release);
    }
}

/// One primitive; `Ok(response data length)` or `Err(status)`.
fn run(opcode: u32, dma: bool) -> Result<u32, u32> {
    use protocol::status::{BAD_ARGUMENTS as BAD, DEVICE_ERROR as DEVICE, UNKNOWN_OP};
    use server::{arg, op, DATA, DATA_MAX};
    let width_ok = |w: u64| matches!(w, 1 | 2 | 4 | 8);
    match opcode {
        op::NOP => Ok(0),
        op::READ_PHYS | op::WRITE_PHYS => {
            let (a, n) = (arg(0), arg(1));
            if n > DATA_MAX || !paging::map(a, n) {
                return Err(BAD);
            }
            unsafe {
                if opcode == op::READ_PHYS {
                    core::ptr::copy(a as *const u8, DATA as *mut u8, n as usize);
                } else {
                    core::ptr::copy(DATA as *const u8, a as *mut u8, n as usize);
                }
            }
            Ok(if opcode == op::READ_PHYS { n as u32 } else { 0 })
        }
        op::MMIO_READ | op::MMIO_WRITE => {
            let (a, w) = (arg(0), arg(1));
            if !width_ok(w) || a % w != 0 || !paging::map(a, w) {
                return Err(BAD);
            }
            if opcode == op::MMIO_READ {
                let v = match w {
                    1 => u64::from(arch::peek8(a)),
                    2 => u64::from(arch::peek16(a)),
                    4 => u64::from(arch::peek32(a)),
                    _ => arch::peek64(a),
                };
                server::set(0, v);
            } else {
                let v = arg(2);
                match w {
                    1 => arch::poke8(a, v as u8),
                    2 => arch::poke16(a, v as u16),
                    4 => arch::poke32(a, v as u32),
                    _ => unsafe { core::ptr::write_volatile(a as *mut u64, v) },
                }
            }
            Ok(0)
        }
        op::MMIO_READ_BULK => {
            let (a, n, w) = (arg(0), arg(1), arg(2));
            if !width_ok(w) || a % w != 0 || n % w != 0 || n > DATA_MAX || !paging::map(a, n) {
                return Err(BAD);
            }
            let mut i = 0;
            while i < n {
                match w {
                    1 => arch::poke8(DATA + i, arch::peek8(a + i)),
                    2 => arch::poke16(DATA + i, arch::peek16(a + i)),
                    4 => arch::poke32(DATA + i, arch::peek32(a + i)),
                    _ => unsafe { core::ptr::write_volatile((DATA + i) as *mut u64, arch::peek64(a + i)) },
                }
                i += w;
            }
            Ok(n as u32)
        }
        op::PORT_IN => {
            let p = arg(0) as u16;
            server::set(
                0,
                match arg(1) {
                    1 => u64::from(arch::inb(p)),
                    2 => u64::from(arch::inw(p)),
                    4 => u64::from(arch::inl(p)),
                    _ => return Err(BAD),
                },
            );
            Ok(0)
        }
        op::PORT_OUT => {
            let (p, v) = (arg(0) as u16, arg(2));
            match arg(1) {
                1 => arch::outb(p, v as u8),
                2 => arch::outw(p, v as u16),
                4 => arch::outl(p, v as u32),
                _ => return Err(BAD),
            }
            Ok(0)
        }
        op::CPUID => {
            let (cpu, leaf, sub) = (arg(0) as usize, arg(1) as u32, arg(2) as u32);
            let r = if cpu >= unsafe { CPUS } {
                return Err(BAD);
            } else if cpu == 0 {
                arch::cpuid(leaf, sub)
            } else if let Some(r) = {
                let slot = unsafe { CPU_SLOT[cpu] };
                if !smp::wait(slot, 500 * MS) {
                    return Err(DEVICE);
                }
                snapshot_lookup(slot, leaf, sub)
            } {
                r
            } else {
                CPUID_IN[0].store(leaf, Ordering::Release);
                CPUID_IN[1].store(sub, Ordering::Release);
                if !smp::run_on(unsafe { CPU_SLOT[cpu] }, cpuid_job, 0, 500 * MS) {
                    return Err(DEVICE);
                }
                [0, 1, 2, 3].map(|i| CPUID_OUT[i].load(Ordering::Acquire))
            };
            server::set(0, u64::from(r[0]) | u64::from(r[1]) << 32);
            server::set(1, u64::from(r[2]) | u64::from(r[3]) << 32);
            Ok(0)
        }
        op::FW_CFG_READ => {
            let (sel, n, use_dma) = (arg(0) as u16, arg(1), arg(2) != 0);
            if n > DATA_MAX {
                return Err(BAD);
            }
            if use_dma && dma {
                if !fwcfg::read_dma(sel, DATA, n as usize) {
                    return Err(DEVICE);
                }
            } else {
                fwcfg::read_ports(sel, DATA, n as usize);
            }
            Ok(n as u32)
        }
        op::CF8_READ => {
            let (bdf, off, n) = (arg(0), arg(1), arg(2));
            if off % 4 != 0 || n % 4 != 0 || off + n > 256 {
                return Err(BAD);
            }
            for i in (0..n).step_by(4) {
                arch::poke32(DATA + i, cfg_read(0, bdf, off + i, 4));
            }
            Ok(n as u32)
        }
        op::CF8_WRITE => {
            let (bdf, off, w) = (arg(0), arg(1), arg(2));
            if !matches!(w, 1 | 2 | 4) || off % w != 0 || off >= 256 {
                return Err(BAD);
            }
            cfg_write(0, bdf, off, w, arg(3) as u32);
            Ok(0)
        }
        op::SIZE_BARS => {
            let (bdf, ecam, layout, keep) = (arg(0), arg(1), arg(2), arg(3) != 0);
            let (nbars, rom) = match layout {
                0 => (6, 0x30),
                1 => (2, 0x38),
                _ => (0, 0),
            };
            let cmd = cfg_read(ecam, bdf, 0x04, 2);
            let off = !keep && cmd & 3 != 0;
            if off {
                cfg_write(ecam, bdf, 0x04, 2, cmd & !3);
            }
            let mut out = [(0u32, 0u32); 7];
            for (i, o) in out.iter_mut().enumerate().take(nbars) {
                let r = 0x10 + 4 * i as u64;
                let orig = cfg_read(ecam, bdf, r, 4);
                cfg_write(ecam, bdf, r, 4, !0);
                *o = (orig, cfg_read(ecam, bdf, r, 4));
                cfg_write(ecam, bdf, r, 4, orig);
            }
            if rom != 0 {
                let orig = cfg_read(ecam, bdf, rom, 4);
                cfg_write(ecam, bdf, rom, 4, orig | 0xffff_f800);
                out[6] = (orig, cfg_read(ecam, bdf, rom, 4));
                cfg_write(ecam, bdf, rom, 4, orig);
            }
            if off {
                cfg_write(ecam, bdf, 0x04, 2, cmd);
            }
            for (i, (o, m)) in out.iter().enumerate() {
                arch::poke32(DATA + 8 * i as u64, *o);
                arch::poke32(DATA + 8 * i as u64 + 4, *m);
            }
            Ok(56)
        }
        _ => Err(UNKNOWN_OP),
    }
}

/// Report a fatal error (human line + `MABI1 FATAL <base64>` frame) and
/// power off.
pub fn fatal(msg: &str) -> ! {
    server::fail(msg);
    {
        let _g = serial::lock();
        serial::write(b"\nbare-probe: ");
        serial::write(msg.as_bytes());
        serial::write(b"\nMABI1 FATAL ");
        base64(msg.as_bytes(), serial::put);
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
