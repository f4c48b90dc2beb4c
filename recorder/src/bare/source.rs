//! A [`Source`] over the bare probe's raw primitives: the sysfs paths the
//! collectors read are answered the way Linux answers them, built from
//! physical memory, config space and the firmware's memory map read through
//! the mailbox. CPUID, fw_cfg and BAR registers go to the guest live, one
//! request each.
//!
//! Discovery (what the kernel does at boot) happens once, in [`Bare::discover`]:
//! ACPI tables from the RSDP, SMBIOS from its anchor, the e820 map from the
//! Multiboot info, PCI functions by bus scan with BARs sized like Linux.
//!
//! The first transport failure (the guest faulted, QEMU exited, a request
//! timed out or came back short) is kept: every later request fails at
//! once, and the boot fails with it instead of recording the facts the
//! collectors could not read as unavailable.

use super::mailbox::{op, Info, Mailbox, DATA_MAX};
use super::BareError;
use guest_probe::source::{FwCfgPort, Source};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::time::Instant;

fn other(msg: String) -> io::Error {
    io::Error::other(msg)
}
fn not_found(path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{path}: No such file or directory"))
}

/// Little-endian reads of guest data, bounds-checked: a short answer is an
/// error, never a panic.
fn bytes<const N: usize>(b: &[u8], o: usize) -> io::Result<[u8; N]> {
    o.checked_add(N)
        .and_then(|end| b.get(o..end))
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| {
            other(format!(
                "guest data too short: {} bytes, field at {o:#x} needs {N}",
                b.len()
            ))
        })
}
fn u16_at(b: &[u8], o: usize) -> io::Result<u16> {
    bytes::<2>(b, o).map(u16::from_le_bytes)
}
fn u32_at(b: &[u8], o: usize) -> io::Result<u32> {
    bytes::<4>(b, o).map(u32::from_le_bytes)
}
fn u64_at(b: &[u8], o: usize) -> io::Result<u64> {
    bytes::<8>(b, o).map(u64::from_le_bytes)
}
fn byte(b: &[u8], o: usize) -> io::Result<u8> {
    bytes::<1>(b, o).map(|[x]| x)
}
fn sum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |s, x| s.wrapping_add(*x))
}

/// One PCI function as discovered.
#[derive(Clone, Debug)]
pub struct Function {
    /// bus << 8 | device << 3 | function.
    pub bdf: u16,
    /// Config space as Linux exposes it (256 or 4096 bytes).
    pub config: Vec<u8>,
    /// sysfs `resource` lines 0-6: (start, end, flags).
    pub resources: [(u64, u64, u64); 7],
    /// Upstream bridges, host side first (bdf).
    pub parents: Vec<u16>,
}

impl Function {
    /// Its sysfs name, `0000:BB:DD.F`.
    pub fn name(&self) -> String {
        bdf_name(self.bdf)
    }
}

fn bdf_name(bdf: u16) -> String {
    format!("0000:{:02x}:{:02x}.{:x}", bdf >> 8, (bdf >> 3) & 31, bdf & 7)
}

/// The mailbox with the boot's deadline and the first transport failure.
struct Link {
    mb: Mailbox,
    deadline: Instant,
    failed: Option<BareError>,
}

/// The machine as the bare probe sees it, presented as Linux would.
pub struct Bare {
    link: RefCell<Link>,
    info: Info,
    /// sysfs name → bytes, e.g. `DSDT`, `SSDT1`.
    acpi: BTreeMap<String, Vec<u8>>,
    /// (entry point, table).
    smbios: Option<(Vec<u8>, Vec<u8>)>,
    /// e820 after Linux's sanitising: (start, end inclusive, type).
    memmap: Vec<(u64, u64, u32)>,
    ecam: Option<u64>,
    pci: BTreeMap<String, Function>,
}

impl Bare {
    fn call(&self, opc: u32, args: &[u64], expect: usize) -> io::Result<([u64; 4], Vec<u8>)> {
        let mut link = self.link.borrow_mut();
        if let Some(e) = &link.failed {
            return Err(other(format!("an earlier request failed: {e}")));
        }
        if expect > DATA_MAX {
            return Err(other(format!(
                "{}: {expect} bytes do not fit the mailbox ({DATA_MAX})",
                super::mailbox::describe(opc, args)
            )));
        }
        let deadline = link.deadline;
        match link.mb.call(opc, args, expect, deadline) {
            Ok(r) => Ok(r),
            Err(e) => {
                let msg = e.to_string();
                if e.ends_the_boot() {
                    link.failed = Some(e);
                }
                Err(other(msg))
            }
        }
    }

    fn phys(&self, addr: u64, len: usize) -> io::Result<Vec<u8>> {
        Ok(self.call(op::READ_PHYS, &[addr, len as u64], len)?.1)
    }

    /// The first failure that ended the conversation with the guest, if any.
    pub fn take_failure(&self) -> Option<BareError> {
        self.link.borrow_mut().failed.take()
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.link.borrow().mb.requests
    }

    /// Tell the guest to power off (no answer comes).
    pub fn power_off(&self) -> Result<(), BareError> {
        let mut link = self.link.borrow_mut();
        let deadline = link.deadline;
        link.mb.call(op::POWER_OFF, &[], 0, deadline).map(|_| ())
    }

    /// Do what the kernel does at boot, through the primitives.
    pub fn discover(mb: Mailbox, info: Info, deadline: Instant) -> Result<Bare, BareError> {
        let mut b = Bare {
            link: RefCell::new(Link {
                mb,
                deadline,
                failed: None,
            }),
            info,
            acpi: BTreeMap::new(),
            smbios: None,
            memmap: Vec::new(),
            ecam: None,
            pci: BTreeMap::new(),
        };
        let step = |b: &Bare, what: &str, e: io::Error| {
            b.take_failure()
                .unwrap_or_else(|| BareError::Discovery(format!("{what}: {e}")))
        };
        b.acpi = b.acpi_tables().map_err(|e| step(&b, "ACPI tables", e))?;
        b.smbios = b.smbios_tables().map_err(|e| step(&b, "SMBIOS", e))?;
        let raw = b.multiboot_mmap().map_err(|e| step(&b, "memory map", e))?;
        b.memmap = sanitize_e820(&raw);
        if let Some(mcfg) = b.acpi.get("MCFG") {
            // Segment 0 only (allocation entries from offset 44).
            if mcfg.len() >= 44 + 16 && u16_at(mcfg, 44 + 8).ok() == Some(0) {
                // The table is the guest's word: a base without room for
                // 256 buses would overflow the address arithmetic below.
                b.ecam = u64_at(mcfg, 44).ok().filter(|base| base.checked_add(1 << 28).is_some());
            }
        }
        b.pci = b.scan_pci().map_err(|e| step(&b, "PCI scan", e))?;
        Ok(b)
    }

    // ---------------------------------------------------------------- ACPI

    fn rsdp(&self) -> io::Result<u64> {
        let ebda = u64::from(u16_at(&self.phys(0x40e, 2)?, 0)?) << 4;
        let mut areas = Vec::new();
        if (0x8_0000..0xa_0000).contains(&ebda) {
            areas.push((ebda, 1024));
        }
        areas.push((0xe_0000, 0x2_0000));
        for (base, len) in areas {
            let mem = self.phys(base, len)?;
            for off in (0..len.saturating_sub(36)).step_by(16) {
                let r = &mem[off..off + 36];
                if &r[0..8] == b"RSD PTR " && sum(&r[..20]) == 0 && (r[15] < 2 || sum(r) == 0) {
                    return Ok(base + off as u64);
                }
            }
        }
        Err(other("no RSDP in the EBDA or 0xE0000-0xFFFFF".into()))
    }

    fn table_at(&self, addr: u64) -> io::Result<Vec<u8>> {
        let head = self.phys(addr, 8)?;
        let len = u32_at(&head, 4)? as usize;
        if !(8..=(1 << 22)).contains(&len) {
            return Err(other(format!("table at {addr:#x}: implausible length {len}")));
        }
        self.phys(addr, len)
    }

    /// Every table in the order ACPICA installs them (root table entries;
    /// DSDT and FACS right after the FADT), named as Linux names them in
    /// /sys/firmware/acpi/tables (instance numbers only when a signature
    /// occurs more than once).
    fn acpi_tables(&self) -> io::Result<BTreeMap<String, Vec<u8>>> {
        let rsdp_addr = self.rsdp()?;
        let rsdp = self.phys(rsdp_addr, 36)?;
        let (root_addr, width) = if byte(&rsdp, 15)? >= 2 && u64_at(&rsdp, 24)? != 0 {
            (u64_at(&rsdp, 24)?, 8)
        } else {
            (u64::from(u32_at(&rsdp, 16)?), 4)
        };
        let root = self.table_at(root_addr)?;
        let mut installed: Vec<(u64, Vec<u8>)> = Vec::new();
        let install = |addr: u64, t: Vec<u8>, list: &mut Vec<(u64, Vec<u8>)>| {
            if !list.iter().any(|(a, _)| *a == addr) {
                list.push((addr, t));
            }
        };
        for e in root.get(36..).unwrap_or(&[]).chunks_exact(width) {
            let addr = if width == 8 {
                u64_at(e, 0)?
            } else {
                u64::from(u32_at(e, 0)?)
            };
            if addr == 0 {
                continue;
            }
            let t = self.table_at(addr)?;
            let fadt = t.starts_with(b"FACP");
            install(addr, t.clone(), &mut installed);
            if fadt {
                // X_ fields only where the table is long enough to have them.
                let x = |o: usize| u64_at(&t, o).unwrap_or(0);
                let dsdt = match x(140) {
                    0 => u64::from(u32_at(&t, 40)?),
                    a => a,
                };
                if dsdt != 0 {
                    install(dsdt, self.table_at(dsdt)?, &mut installed);
                }
                for facs in [u64::from(u32_at(&t, 36)?), x(132)] {
                    if facs != 0 {
                        install(facs, self.table_at(facs)?, &mut installed);
                    }
                }
            }
        }
        let sig = |t: &[u8]| String::from_utf8_lossy(t.get(0..4).unwrap_or(b"????")).into_owned();
        let mut count: BTreeMap<String, usize> = BTreeMap::new();
        for (_, t) in &installed {
            *count.entry(sig(t)).or_default() += 1;
        }
        let mut out = BTreeMap::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (_, t) in installed {
            let s = sig(&t);
            let n = seen.entry(s.clone()).or_default();
            *n += 1;
            let name = if count.get(&s).copied().unwrap_or(0) > 1 {
                format!("{s}{n}")
            } else {
                s
            };
            out.insert(name, t);
        }
        Ok(out)
    }

    // -------------------------------------------------------------- SMBIOS

    /// The entry point (3.x first, as Linux scans) and the structure table.
    fn smbios_tables(&self) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mem = self.phys(0xf_0000, 0x1_0000)?;
        for off in (0..0x1_0000 - 32).step_by(16) {
            let e = &mem[off..off + 32];
            let n = e[6] as usize;
            if &e[0..5] == b"_SM3_" && (24..=32).contains(&n) && sum(&e[..n]) == 0 {
                let ep = e[..n].to_vec();
                let table = self.phys(u64_at(&ep, 16)?, u32_at(&ep, 12)? as usize)?;
                return Ok(Some((ep, table)));
            }
        }
        for off in (0..0x1_0000 - 32).step_by(16) {
            let e = &mem[off..off + 32];
            let n = e[5] as usize;
            if &e[0..4] == b"_SM_"
                && (0x1f..=32).contains(&n)
                && sum(&e[..n]) == 0
                && &e[16..21] == b"_DMI_"
                && sum(&e[16..31]) == 0
            {
                let ep = e[..n].to_vec();
                let table = self.phys(u64::from(u32_at(&ep, 0x18)?), u16_at(&ep, 0x16)? as usize)?;
                return Ok(Some((ep, table)));
            }
        }
        Ok(None)
    }

    // ------------------------------------------------------------- memory map

    fn multiboot_mmap(&self) -> io::Result<Vec<(u64, u64, u32)>> {
        let mbi = self.phys(self.info.multiboot_info, 52)?;
        if u32_at(&mbi, 0)? & (1 << 6) == 0 {
            return Err(other("the Multiboot info has no memory map".into()));
        }
        let (len, addr) = (u32_at(&mbi, 44)? as usize, u64::from(u32_at(&mbi, 48)?));
        let raw = self.phys(addr, len)?;
        let mut out = Vec::new();
        let mut at = 0;
        while at + 24 <= raw.len() {
            let size = u32_at(&raw, at)? as usize;
            out.push((u64_at(&raw, at + 4)?, u64_at(&raw, at + 12)?, u32_at(&raw, at + 20)?));
            at = at.saturating_add(size).saturating_add(4);
        }
        Ok(out)
    }

    // ------------------------------------------------------------------ PCI

    fn cfg(&self, bdf: u16, len: usize) -> io::Result<Vec<u8>> {
        match self.ecam {
            Some(base) => Ok(self
                .call(op::MMIO_READ_BULK, &[base + (u64::from(bdf) << 12), len as u64, 4], len)?
                .1),
            None => {
                let len = len.min(256);
                Ok(self.call(op::CF8_READ, &[u64::from(bdf), 0, len as u64], len)?.1)
            }
        }
    }

    fn scan_pci(&self) -> io::Result<BTreeMap<String, Function>> {
        let mut out = BTreeMap::new();
        let mut buses = vec![(0u8, Vec::<u16>::new())];
        let mut seen_bus = [false; 256];
        while let Some((bus, parents)) = buses.pop() {
            if std::mem::replace(&mut seen_bus[bus as usize], true) {
                continue;
            }
            for dev in 0..32u16 {
                for func in 0..8u16 {
                    let bdf = (u16::from(bus) << 8) | (dev << 3) | func;
                    let head = self.cfg(bdf, 16)?;
                    if u16_at(&head, 0)? == 0xffff {
                        if func == 0 {
                            break;
                        }
                        continue;
                    }
                    let header = byte(&head, 14)?;
                    let f = self.function(bdf, &parents)?;
                    if header & 0x7f == 1 {
                        let sec = byte(&f.config, 0x19)?;
                        if sec != 0 {
                            let mut p = parents.clone();
                            p.push(bdf);
                            buses.push((sec, p));
                        }
                    }
                    out.insert(f.name(), f);
                    if func == 0 && header & 0x80 == 0 {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    fn function(&self, bdf: u16, parents: &[u16]) -> io::Result<Function> {
        let head = self.cfg(bdf, 64)?;
        let class = u32_at(&head, 8)? >> 8;
        let layout = byte(&head, 14)? & 0x7f;
        // BARs first (the kernel sizes them while scanning; sysfs reads come later).
        let host_bridge = class >> 8 == 0x0600;
        let sized = self
            .call(
                op::SIZE_BARS,
                &[
                    u64::from(bdf),
                    self.ecam.unwrap_or(0),
                    u64::from(layout),
                    u64::from(host_bridge),
                ],
                56,
            )?
            .1;
        let mut pairs = [(0u32, 0u32); 7];
        for (i, p) in pairs.iter_mut().enumerate() {
            *p = (u32_at(&sized, 8 * i)?, u32_at(&sized, 8 * i + 4)?);
        }
        let mut resources = decode_bars(&pairs, layout);
        // Linux's config size: 4096 for PCIe functions and host bridges whose
        // extended space answers and does not alias the first 256 bytes.
        let mut config = self.cfg(bdf, 256)?;
        let express = capabilities(&config).iter().any(|&(_, id)| id == 0x10);
        if self.ecam.is_some() && (express || host_bridge) {
            let full = self.cfg(bdf, 4096)?;
            let first = u32_at(&full, 0)?;
            let mut aliased = true;
            for i in 1..16 {
                aliased &= u32_at(&full, i * 256)? == first;
            }
            if u32_at(&full, 256)? != 0xffff_ffff && !aliased {
                config = full;
            }
        }
        // Linux quirks that change what `resource` says (probe.c, fixup.c).
        let progif = byte(&config, 9)?;
        if class >> 8 == 0x0101 {
            if progif & 1 == 0 {
                resources[0] = (0x1f0, 0x1f7, 0x100);
                resources[1] = (0x3f6, 0x3f6, 0x100);
            }
            if progif & 4 == 0 {
                resources[2] = (0x170, 0x177, 0x100);
                resources[3] = (0x376, 0x376, 0x100);
            }
        }
        if class >> 8 == 0x0300 && u16_at(&config, 4)? & 3 != 0 {
            resources[6] = (0xc_0000, 0xd_ffff, 0x200);
        }
        Ok(Function {
            bdf,
            config,
            resources,
            parents: parents.to_vec(),
        })
    }

    fn bar(&self, dev: &str, bar: u8) -> io::Result<(u64, u64, bool)> {
        let f = self.pci.get(dev).ok_or_else(|| not_found(dev))?;
        let &(start, end, flags) = f
            .resources
            .get(bar as usize)
            .ok_or_else(|| other(format!("{dev}: no BAR {bar}")))?;
        if flags == 0 || bar > 5 || end < start {
            return Err(other(format!("{dev}: BAR {bar} not implemented")));
        }
        // Like the Linux probe (sysfs `enable`): turn decoding on if off.
        let cmd = u16_at(&f.config, 4)?;
        if cmd & 3 == 0 {
            let mut want = 0u16;
            for (_, _, fl) in &f.resources[..6] {
                if fl & 0x100 != 0 {
                    want |= 1;
                } else if fl & 0x200 != 0 {
                    want |= 2;
                }
            }
            self.cfg_write16(f.bdf, 4, cmd | want)?;
        }
        Ok((start, (end - start).saturating_add(1), flags & 0x100 != 0))
    }

    fn cfg_write16(&self, bdf: u16, off: u64, v: u16) -> io::Result<()> {
        match self.ecam {
            Some(base) => self.call(
                op::MMIO_WRITE,
                &[base + (u64::from(bdf) << 12) + off, 2, u64::from(v)],
                0,
            )?,
            None => self.call(op::CF8_WRITE, &[u64::from(bdf), off, 2, u64::from(v)], 0)?,
        };
        Ok(())
    }
}

/// Standard capabilities (offset, id) of a config space.
fn capabilities(c: &[u8]) -> Vec<(u8, u8)> {
    let at = |o: usize| c.get(o).copied().unwrap_or(0);
    let mut out = Vec::new();
    if at(6) & 0x10 == 0 {
        return out;
    }
    let mut p = at(if at(14) & 0x7f == 2 { 0x14 } else { 0x34 }) & 0xfc;
    while p >= 0x40 && out.len() < 48 {
        out.push((p, at(p as usize)));
        p = at(p as usize + 1) & 0xfc;
    }
    out
}

/// BAR (original, size mask) pairs → sysfs resource lines, as
/// `__pci_read_base` computes them.
pub fn decode_bars(pairs: &[(u32, u32); 7], layout: u8) -> [(u64, u64, u64); 7] {
    const IO: u64 = 0x100;
    const MEM: u64 = 0x200;
    const PREFETCH: u64 = 0x2000;
    const MEM64: u64 = 0x10_0000;
    let mut res = [(0u64, 0u64, 0u64); 7];
    let nbars = match layout {
        0 => 6,
        1 => 2,
        _ => 0,
    };
    let lowest = |x: u64| x & x.wrapping_neg();
    let mut i = 0;
    while i < nbars {
        let (l, sz) = pairs[i];
        if sz == 0 || sz == 0xffff_ffff {
            i += 1;
            continue;
        }
        if l & 1 == 1 {
            let mask = 0xfffc_u64;
            let size = lowest(u64::from(sz) & mask);
            if size != 0 {
                let start = u64::from(l) & mask;
                res[i] = (start, start + size - 1, IO);
            }
            i += 1;
        } else {
            let mem64 = (l >> 1) & 3 == 2;
            let prefetch = l & 8 != 0;
            let mut start = u64::from(l & !0xf);
            let mut sz64 = u64::from(sz & !0xf);
            if mem64 && i + 1 < nbars {
                let (lh, szh) = pairs[i + 1];
                start |= u64::from(lh) << 32;
                sz64 |= u64::from(szh) << 32;
            } else if mem64 {
                sz64 |= 0xffff_ffff_0000_0000;
            }
            let size = lowest(sz64);
            if size != 0 {
                let flags = MEM | if prefetch { PREFETCH } else { 0 } | if mem64 { MEM64 } else { 0 };
                res[i] = (start, start + size - 1, flags);
            }
            i += if mem64 { 2 } else { 1 };
        }
    }
    if layout <= 1 {
        let (l, sz) = pairs[6];
        let size = lowest(u64::from(sz & 0xffff_f800));
        if size != 0 {
            let start = u64::from(l & 0xffff_f800);
            res[6] = (start, start + size - 1, MEM | 0x4000 /* READONLY */);
        }
    }
    res
}

/// Linux's `e820__update_table`: at every boundary the highest type among
/// the overlapping entries wins, zero-length entries vanish, neighbours of
/// the same type merge. Returns (start, end inclusive, type), sorted.
pub fn sanitize_e820(raw: &[(u64, u64, u32)]) -> Vec<(u64, u64, u32)> {
    let mut points: Vec<u64> = Vec::new();
    for &(b, l, _) in raw {
        if l == 0 {
            continue;
        }
        points.push(b);
        points.push(b.saturating_add(l));
    }
    points.sort_unstable();
    points.dedup();
    let mut out: Vec<(u64, u64, u32)> = Vec::new();
    for w in points.windows(2) {
        let (a, z) = (w[0], w[1]);
        let t = raw
            .iter()
            .filter(|&&(b, l, _)| l != 0 && b <= a && b.saturating_add(l) >= z)
            .map(|&(_, _, t)| t)
            .max();
        let Some(t) = t else { continue };
        match out.last_mut() {
            Some(last) if last.2 == t && last.1 + 1 == a => last.1 = z - 1,
            _ => out.push((a, z - 1, t)),
        }
    }
    out
}

/// The name Linux gives an e820 type in /sys/firmware/memmap/*/type.
pub fn e820_type_name(t: u32) -> &'static str {
    match t {
        1 => "System RAM",
        3 => "ACPI Tables",
        4 => "ACPI Non-volatile Storage",
        5 => "Unusable memory",
        7 => "Persistent Memory",
        12 => "Persistent Memory (legacy)",
        0xefff_ffff => "Soft Reserved",
        _ => "Reserved",
    }
}

const ACPI: &str = "/sys/firmware/acpi/tables";
const PCI: &str = "/sys/bus/pci/devices";
const MEMMAP: &str = "/sys/firmware/memmap";

impl Source for Bare {
    fn arch(&self) -> io::Result<String> {
        Ok("x86_64".into())
    }

    fn id_register(&self, _cpu: u32, name: &str) -> io::Result<u64> {
        Err(other(format!("{name}: Arm ID registers do not exist on x86")))
    }

    fn phys_read32(&self, addr: u64) -> io::Result<u32> {
        u32_at(&self.phys(addr, 4)?, 0)
    }

    fn kernel_log(&self) -> io::Result<Vec<u8>> {
        Err(not_found("the kernel log (the bare probe runs no kernel)"))
    }

    fn read_file(&self, path: &str) -> io::Result<Vec<u8>> {
        if let Some(name) = path.strip_prefix(&format!("{ACPI}/")) {
            return self.acpi.get(name).cloned().ok_or_else(|| not_found(path));
        }
        if let Some(rest) = path.strip_prefix(&format!("{PCI}/")) {
            let (dev, file) = rest.split_once('/').ok_or_else(|| not_found(path))?;
            let f = self.pci.get(dev).ok_or_else(|| not_found(path))?;
            return match file {
                "config" => Ok(f.config.clone()),
                "resource" => Ok(f
                    .resources
                    .iter()
                    .map(|(s, e, fl)| format!("0x{s:016x} 0x{e:016x} 0x{fl:016x}\n"))
                    .collect::<String>()
                    .into_bytes()),
                _ => Err(not_found(path)),
            };
        }
        if let Some(rest) = path.strip_prefix(&format!("{MEMMAP}/")) {
            let (i, file) = rest.split_once('/').ok_or_else(|| not_found(path))?;
            let &(s, e, t) = i
                .parse::<usize>()
                .ok()
                .and_then(|i| self.memmap.get(i))
                .ok_or_else(|| not_found(path))?;
            return match file {
                "start" => Ok(format!("0x{s:x}\n").into_bytes()),
                "end" => Ok(format!("0x{e:x}\n").into_bytes()),
                "type" => Ok(format!("{}\n", e820_type_name(t)).into_bytes()),
                _ => Err(not_found(path)),
            };
        }
        match path {
            "/sys/firmware/dmi/tables/smbios_entry_point" => {
                self.smbios.as_ref().map(|s| s.0.clone()).ok_or_else(|| not_found(path))
            }
            "/sys/firmware/dmi/tables/DMI" => self.smbios.as_ref().map(|s| s.1.clone()).ok_or_else(|| not_found(path)),
            "/sys/devices/system/cpu/online" => Ok(match self.info.apic_ids.len() {
                0 | 1 => "0\n".to_string(),
                n => format!("0-{}\n", n - 1),
            }
            .into_bytes()),
            "/proc/sys/kernel/osrelease" => Ok(b"none (bare-probe)\n".to_vec()),
            _ => Err(not_found(path)),
        }
    }

    fn read_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = match path {
            ACPI => self.acpi.keys().cloned().collect(),
            PCI => self.pci.keys().cloned().collect(),
            MEMMAP => (0..self.memmap.len()).map(|i| i.to_string()).collect(),
            _ => return Err(not_found(path)),
        };
        names.sort();
        Ok(names)
    }

    /// A function's sysfs link; `<function>/driver` is never there: no OS
    /// runs, so no driver is bound (the virtio collector resets the device
    /// before reading its queue sizes).
    fn read_link(&self, path: &str) -> io::Result<String> {
        let dev = path.strip_prefix(&format!("{PCI}/")).ok_or_else(|| not_found(path))?;
        if let Some((dev, "driver")) = dev.split_once('/') {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{path}: No such file or directory (no OS, so no driver is bound to {dev})"),
            ));
        }
        let f = self.pci.get(dev).ok_or_else(|| not_found(path))?;
        let mut link = "../../../devices/pci0000:00".to_string();
        for p in &f.parents {
            link.push('/');
            link.push_str(
                &self
                    .pci
                    .values()
                    .find(|g| g.bdf == *p)
                    .map(Function::name)
                    .unwrap_or_default(),
            );
        }
        link.push('/');
        link.push_str(dev);
        Ok(link)
    }

    fn cpuid(&self, cpu: u32, leaf: u32, subleaf: u32) -> io::Result<[u32; 4]> {
        let (r, _) = self.call(op::CPUID, &[u64::from(cpu), u64::from(leaf), u64::from(subleaf)], 0)?;
        Ok([r[0] as u32, (r[0] >> 32) as u32, r[1] as u32, (r[1] >> 32) as u32])
    }

    fn fw_cfg_read(&self, port: FwCfgPort, selector: u16, len: usize) -> io::Result<Vec<u8>> {
        if port != FwCfgPort::Io {
            return Err(other(format!(
                "fw_cfg at {port:?}: the bare probe reaches x86's ports only"
            )));
        }
        Ok(self
            .call(op::FW_CFG_READ, &[u64::from(selector), len as u64, 1], len)?
            .1)
    }

    fn bar_read(&self, dev: &str, bar: u8, offset: u64, width: u8) -> io::Result<u32> {
        let (base, size, io_space) = self.bar(dev, bar)?;
        let w = u64::from(width);
        if !matches!(width, 1 | 2 | 4) || !offset.is_multiple_of(w) || offset + w > size {
            return Err(other(format!(
                "bad register access: offset {offset:#x} width {width} in {size:#x} bytes"
            )));
        }
        let opc = if io_space { op::PORT_IN } else { op::MMIO_READ };
        Ok(self.call(opc, &[base + offset, w], 0)?.0[0] as u32)
    }

    fn bar_write(&self, dev: &str, bar: u8, offset: u64, width: u8, value: u32) -> io::Result<()> {
        let (base, size, io_space) = self.bar(dev, bar)?;
        let w = u64::from(width);
        if !matches!(width, 1 | 2 | 4) || !offset.is_multiple_of(w) || offset + w > size {
            return Err(other(format!(
                "bad register access: offset {offset:#x} width {width} in {size:#x} bytes"
            )));
        }
        let opc = if io_space { op::PORT_OUT } else { op::MMIO_WRITE };
        self.call(opc, &[base + offset, w, u64::from(value)], 0)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e820_merges_and_resolves_overlaps() {
        let raw = [
            (0, 0x9fc00, 1),
            (0x9fc00, 0x400, 2),
            (0xf0000, 0x10000, 2),
            (0x100000, 0x1000, 1),
            (0x101000, 0x1000, 1),
            (0x100800, 0x100, 2),
        ];
        let s = sanitize_e820(&raw);
        assert_eq!(s[0], (0, 0x9fbff, 1));
        assert_eq!(s[3], (0x100000, 0x1007ff, 1));
        assert_eq!(s[4], (0x100800, 0x1008ff, 2));
        assert_eq!(s[5], (0x100900, 0x101fff, 1));
    }

    #[test]
    fn bars_decode_like_linux() {
        let mut p = [(0u32, 0u32); 7];
        p[0] = (0xfe00_0008, 0xff80_0008); // 8 MiB prefetchable mem32
        p[2] = (0xc001, 0xffff_ffe1); // 32 B io
        p[4] = (0x0000_000c, 0xffff_c00c); // mem64 prefetch, 16 KiB
        p[5] = (0xfe, 0xffff_ffff);
        p[6] = (0xfeb8_0000, 0xfffc_0000);
        let r = decode_bars(&p, 0);
        assert_eq!(r[0], (0xfe00_0000, 0xfe7f_ffff, 0x2200));
        assert_eq!(r[2], (0xc000, 0xc01f, 0x100));
        assert_eq!(r[4], (0xfe_0000_0000, 0xfe_0000_3fff, 0x10_2200));
        assert_eq!(r[5], (0, 0, 0));
        assert_eq!(r[6].1 - r[6].0 + 1, 0x4_0000);
    }
}
