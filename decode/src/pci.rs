//! PCI configuration space decoder: the standard header (type 0, 1 or 2),
//! every capability of the classic list and, for 4 KiB PCI Express config
//! spaces, every extended capability.
//!
//! Keys name things by identity: a capability is keyed by its name and
//! occurrence (`cap MSI-X.table_size`, `cap virtio notify.bar`,
//! `ext AER.uncor_mask`), its offset is a value (`cap MSI-X.offset`), so
//! moving or inserting one capability does not make the others look changed.
//! Bytes no decoded field covers end up in `raw[0x…]` items (runs of dwords
//! with non-zero uncovered bytes), which keeps the decoder complete.

use super::{hash_summary, Decoded};
use std::collections::{BTreeMap, BTreeSet};

/// Decode one PCI function's config space (256 bytes, or 4096 for PCI
/// Express). Shorter input is decoded as far as it goes, with an `error`
/// item when it does not even hold the 64-byte header. Never panics.
pub fn decode(config: &[u8]) -> Decoded {
    let mut c = Ctx::new(config);
    if config.len() < 0x40 {
        c.error(format!(
            "truncated: {:#x} bytes, the config header needs 0x40",
            config.len()
        ));
    }
    c.header();
    if config.len() >= 0x40 {
        c.capabilities();
    }
    if config.len() > 0x100 {
        c.ext_capabilities();
    }
    c.raw_pass();
    c.out
}

/// How a register field's value is rendered.
#[derive(Clone, Copy)]
enum Fmt {
    /// A single bit: `0`/`1`.
    Bit,
    /// A count or size: decimal.
    Dec,
    /// A code or id: hex.
    Hex,
    /// An encoded value with a name.
    Enc(fn(u32) -> String),
}

/// One named field of a register: bits `lo .. lo + width`.
#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    lo: u32,
    width: u32,
    fmt: Fmt,
}

const fn bit(name: &'static str, lo: u32) -> Field {
    Field {
        name,
        lo,
        width: 1,
        fmt: Fmt::Bit,
    }
}
const fn dec(name: &'static str, lo: u32, width: u32) -> Field {
    Field {
        name,
        lo,
        width,
        fmt: Fmt::Dec,
    }
}
const fn hex(name: &'static str, lo: u32, width: u32) -> Field {
    Field {
        name,
        lo,
        width,
        fmt: Fmt::Hex,
    }
}
const fn enc(name: &'static str, lo: u32, width: u32, f: fn(u32) -> String) -> Field {
    Field {
        name,
        lo,
        width,
        fmt: Fmt::Enc(f),
    }
}

/// The bits `width` wide starting at bit 0, without shift overflow.
fn mask(width: u32) -> u32 {
    if width >= 32 {
        u32::MAX
    } else {
        (1u32 << width) - 1
    }
}

/// Decoding state: the input, which bytes a decoded item covers, the output.
struct Ctx<'a> {
    cfg: &'a [u8],
    covered: Vec<bool>,
    out: Decoded,
    /// Device/port type from the PCI Express capability, for registers that
    /// only exist on some types (AER root registers).
    pcie_type: Option<u32>,
}

impl<'a> Ctx<'a> {
    fn new(cfg: &'a [u8]) -> Self {
        Ctx {
            cfg,
            covered: vec![false; cfg.len()],
            out: Decoded::new(),
            pcie_type: None,
        }
    }

    fn put(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.out.put(key, value);
    }

    fn error(&mut self, msg: String) {
        self.out.put("error", msg);
    }

    /// Little-endian value of `size` bytes at `off`, without marking it.
    fn peek(&self, off: usize, size: usize) -> Option<u32> {
        let end = off.checked_add(size)?;
        let bytes = self.cfg.get(off..end)?;
        Some(bytes.iter().rev().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
    }

    /// Read `size` (1, 2 or 4) bytes at `off` and mark them as decoded.
    fn take(&mut self, off: usize, size: usize) -> Option<u32> {
        let v = self.peek(off, size)?;
        for c in self.covered.iter_mut().skip(off).take(size) {
            *c = true;
        }
        Some(v)
    }

    /// Like `take`, but a register beyond `limit` (or the data) is an error
    /// naming `what`, so capability decoders can use `?`.
    fn reg(&mut self, what: &str, off: usize, size: usize, limit: usize) -> Option<u32> {
        let end = off.saturating_add(size);
        if end > limit || end > self.cfg.len() {
            let bound = limit.min(self.cfg.len());
            self.error(format!("{what}: register at {off:#x} runs past {bound:#x}"));
            return None;
        }
        self.take(off, size)
    }

    /// Put one item per field of register value `v` (`size` bytes), plus a
    /// `reserved` item when bits no field names are set.
    fn fields(&mut self, prefix: &str, v: u32, size: usize, fields: &[Field]) {
        let mut known = 0u32;
        for f in fields {
            let m = mask(f.width);
            known |= m.checked_shl(f.lo).unwrap_or(0);
            let x = v.checked_shr(f.lo).unwrap_or(0) & m;
            let s = match f.fmt {
                Fmt::Bit | Fmt::Dec => x.to_string(),
                Fmt::Hex => format!("{x:#x}"),
                Fmt::Enc(e) => e(x),
            };
            self.put(format!("{prefix}.{}", f.name), s);
        }
        let rest = v & !known;
        if rest != 0 {
            self.put(format!("{prefix}.reserved"), format!("{rest:#0w$x}", w = size * 2 + 2));
        }
    }

    /// Read a register and put its fields; silently nothing when out of
    /// range (the caller reports truncation once).
    fn reg_fields(&mut self, prefix: &str, off: usize, size: usize, fields: &[Field]) {
        if let Some(v) = self.take(off, size) {
            self.fields(prefix, v, size, fields);
        }
    }

    /// Read a register and put it as one hex item.
    fn reg_hex(&mut self, key: &str, off: usize, size: usize) {
        if let Some(v) = self.take(off, size) {
            self.put(key, format!("{v:#0w$x}", w = size * 2 + 2));
        }
    }

    /// Read a register and put it as one decimal item.
    fn reg_dec(&mut self, key: &str, off: usize, size: usize) {
        if let Some(v) = self.take(off, size) {
            self.put(key, v.to_string());
        }
    }

    /// Bytes no item covers: runs of dwords holding a non-zero uncovered
    /// byte, keyed by the run's offset; covered bytes inside show as `..`.
    fn raw_pass(&mut self) {
        let len = self.cfg.len();
        let mut run: Option<usize> = None;
        let mut dw = 0usize;
        while dw < len {
            let end = dw.saturating_add(4).min(len);
            let dirty = (dw..end).any(|i| !self.covered.get(i).copied().unwrap_or(true) && self.cfg.get(i) != Some(&0));
            match (dirty, run) {
                (true, None) => run = Some(dw),
                (false, Some(start)) => {
                    self.raw_item(start, dw);
                    run = None;
                }
                _ => {}
            }
            dw = end;
        }
        if let Some(start) = run {
            self.raw_item(start, len);
        }
    }

    fn raw_item(&mut self, start: usize, end: usize) {
        let key = format!("raw[{start:#05x}]");
        let bytes = self.cfg.get(start..end).unwrap_or(&[]);
        if bytes.len() > 64 {
            // Long opaque runs (4 KiB spaces) read better as a hash.
            self.put(key, hash_summary(bytes));
            return;
        }
        let hex: String = bytes
            .iter()
            .zip(self.covered.get(start..end).unwrap_or(&[]))
            .map(|(b, covered)| if *covered { "..".to_string() } else { format!("{b:02x}") })
            .collect();
        self.put(key, hex);
    }
}

const COMMAND: &[Field] = &[
    bit("IO", 0),
    bit("MEMORY", 1),
    bit("MASTER", 2),
    bit("SPECIAL", 3),
    bit("INVALIDATE", 4),
    bit("VGA_PALETTE", 5),
    bit("PARITY", 6),
    bit("WAIT", 7),
    bit("SERR", 8),
    bit("FAST_BACK", 9),
    bit("INTX_DISABLE", 10),
];

/// Status and secondary status share their layout; bit 14 is "signaled
/// system error" in one and "received system error" in the other.
const STATUS: &[Field] = &[
    bit("IMM_READY", 0),
    bit("INTERRUPT", 3),
    bit("CAP_LIST", 4),
    bit("66MHZ", 5),
    bit("UDF", 6),
    bit("FAST_BACK", 7),
    bit("PARITY", 8),
    enc("DEVSEL", 9, 2, devsel),
    bit("SIG_TARGET_ABORT", 11),
    bit("REC_TARGET_ABORT", 12),
    bit("REC_MASTER_ABORT", 13),
    bit("SYSTEM_ERROR", 14),
    bit("DETECTED_PARITY", 15),
];

const BRIDGE_CONTROL: &[Field] = &[
    bit("PARITY", 0),
    bit("SERR", 1),
    bit("ISA", 2),
    bit("VGA", 3),
    bit("VGA16", 4),
    bit("MASTER_ABORT", 5),
    bit("BUS_RESET", 6),
    bit("FAST_BACK", 7),
    bit("PRI_DISCARD_TIMER", 8),
    bit("SEC_DISCARD_TIMER", 9),
    bit("DISCARD_TIMER_STATUS", 10),
    bit("DISCARD_TIMER_SERR", 11),
];

fn devsel(v: u32) -> String {
    let name = ["fast", "medium", "slow", "reserved"]
        .get(v as usize)
        .copied()
        .unwrap_or("?");
    format!("{v} ({name})")
}

fn vendor_name(v: u32) -> Option<&'static str> {
    Some(match v {
        0x8086 => "Intel",
        0x1af4 => "Red Hat (virtio)",
        0x1b36 => "Red Hat (QEMU)",
        0x1234 => "QEMU (Bochs)",
        0x1022 => "AMD",
        0x10de => "NVIDIA",
        0x15ad => "VMware",
        0x1013 => "Cirrus Logic",
        0x10ec => "Realtek",
        _ => return None,
    })
}

/// Short names of the devices QEMU's x86 machines commonly expose.
fn device_name(vendor: u32, device: u32) -> Option<String> {
    let s = match (vendor, device) {
        (0x8086, 0x1237) => "440FX host bridge",
        (0x8086, 0x7000) => "PIIX3 ISA bridge",
        (0x8086, 0x7010) => "PIIX3 IDE",
        (0x8086, 0x7020) => "PIIX3 USB (UHCI)",
        (0x8086, 0x7113) => "PIIX4 ACPI",
        (0x8086, 0x29c0) => "Q35 (82G33) DRAM controller",
        (0x8086, 0x2918) => "ICH9 LPC interface",
        (0x8086, 0x2922) => "ICH9 SATA controller (AHCI)",
        (0x8086, 0x2930) => "ICH9 SMBus controller",
        (0x8086, 0x100e) => "82540EM (e1000)",
        (0x8086, 0x10d3) => "82574L (e1000e)",
        (0x1234, 0x1111) => "standard VGA",
        (0x1b36, 0x000c) => "PCIe root port",
        (0x1b36, 0x000d) => "xHCI",
        (0x1013, 0x00b8) => "CL-GD5446 (cirrus VGA)",
        (0x1af4, d @ 0x1000..=0x103f) => return Some(format!("virtio {} (transitional)", virtio_legacy_name(d))),
        (0x1af4, d @ 0x1040..=0x107f) => return Some(format!("virtio device type {}", d - 0x1040)),
        _ => return None,
    };
    Some(s.to_string())
}

fn virtio_legacy_name(device: u32) -> &'static str {
    match device {
        0x1000 => "net",
        0x1001 => "block",
        0x1002 => "balloon",
        0x1003 => "console",
        0x1004 => "scsi",
        0x1005 => "rng",
        0x1009 => "9p",
        _ => "unknown",
    }
}

/// Name of a class code (base, sub-class, programming interface).
fn class_name(base: u32, sub: u32, pi: u32) -> &'static str {
    match (base, sub, pi) {
        (0x01, 0x06, 0x01) => "SATA controller (AHCI)",
        (0x01, 0x08, 0x02) => "NVMe controller",
        (0x0c, 0x03, 0x00) => "USB controller (UHCI)",
        (0x0c, 0x03, 0x10) => "USB controller (OHCI)",
        (0x0c, 0x03, 0x20) => "USB controller (EHCI)",
        (0x0c, 0x03, 0x30) => "USB controller (xHCI)",
        (0x07, 0x00, 0x02) => "Serial controller (16550)",
        _ => match (base, sub) {
            (0x00, 0x01) => "VGA-compatible unclassified device",
            (0x01, 0x00) => "SCSI storage controller",
            (0x01, 0x01) => "IDE interface",
            (0x01, 0x02) => "Floppy disk controller",
            (0x01, 0x04) => "RAID bus controller",
            (0x01, 0x05) => "ATA controller",
            (0x01, 0x06) => "SATA controller",
            (0x01, 0x07) => "SAS controller",
            (0x01, 0x08) => "Non-volatile memory controller",
            (0x02, 0x00) => "Ethernet controller",
            (0x03, 0x00) => "VGA compatible controller",
            (0x03, 0x02) => "3D controller",
            (0x04, 0x01) => "Audio device",
            (0x04, 0x03) => "Audio device (HD Audio)",
            (0x05, 0x00) => "RAM memory",
            (0x06, 0x00) => "Host bridge",
            (0x06, 0x01) => "ISA bridge",
            (0x06, 0x04) => "PCI bridge",
            (0x06, 0x07) => "CardBus bridge",
            (0x07, 0x00) => "Serial controller",
            (0x08, 0x00) => "PIC",
            (0x08, 0x05) => "SD host controller",
            (0x0c, 0x03) => "USB controller",
            (0x0c, 0x05) => "SMBus",
            _ => base_class_name(base),
        },
    }
}

fn base_class_name(base: u32) -> &'static str {
    match base {
        0x00 => "Unclassified device",
        0x01 => "Mass storage controller",
        0x02 => "Network controller",
        0x03 => "Display controller",
        0x04 => "Multimedia controller",
        0x05 => "Memory controller",
        0x06 => "Bridge",
        0x07 => "Communication controller",
        0x08 => "Generic system peripheral",
        0x09 => "Input device controller",
        0x0c => "Serial bus controller",
        0x0d => "Wireless controller",
        0xff => "Unassigned class",
        _ => "Other class",
    }
}

/// A BAR as read: the raw register with what its low bits say.
fn bar_kind(v: u32) -> &'static str {
    if v & 1 == 1 {
        return "io";
    }
    match ((v >> 1) & 3, v & 8 != 0) {
        (0, false) => "mem32",
        (0, true) => "mem32 prefetchable",
        (1, false) => "mem below 1M",
        (1, true) => "mem below 1M prefetchable",
        (2, false) => "mem64",
        (2, true) => "mem64 prefetchable",
        (_, false) => "mem reserved type",
        (_, true) => "mem reserved type prefetchable",
    }
}

impl Ctx<'_> {
    /// The header: common part, then the layout its type names.
    fn header(&mut self) {
        let vendor = self.take(0x00, 2);
        if let Some(v) = vendor {
            let name = vendor_name(v).map(|n| format!(" {n}")).unwrap_or_default();
            self.put("vendor", format!("{v:#06x}{name}"));
        }
        if let Some(d) = self.take(0x02, 2) {
            let name = vendor
                .and_then(|v| device_name(v, d))
                .map(|n| format!(" {n}"))
                .unwrap_or_default();
            self.put("device", format!("{d:#06x}{name}"));
        }
        self.reg_fields("command", 0x04, 2, COMMAND);
        self.reg_fields("status", 0x06, 2, STATUS);
        self.reg_hex("revision", 0x08, 1);
        if let Some(c) = self.take(0x09, 3) {
            let (base, sub, pi) = (c >> 16, (c >> 8) & 0xff, c & 0xff);
            self.put("class", format!("{c:#08x} {}", class_name(base, sub, pi)));
        }
        self.reg_dec("cache_line_size", 0x0c, 1);
        self.reg_dec("latency_timer", 0x0d, 1);
        let htype = self.take(0x0e, 1);
        if let Some(h) = htype {
            let layout = match h & 0x7f {
                0 => "0 (normal)".to_string(),
                1 => "1 (PCI-to-PCI bridge)".to_string(),
                2 => "2 (CardBus bridge)".to_string(),
                t => format!("{t:#04x} (unknown)"),
            };
            self.put("header_type", layout);
            self.put("multifunction", (h >> 7).to_string());
        }
        self.reg_hex("bist", 0x0f, 1);
        match htype.map(|h| h & 0x7f) {
            Some(0) => self.header_type0(),
            Some(1) => self.header_type1(),
            Some(2) => self.header_type2(),
            _ => {}
        }
    }

    /// BAR registers `first..first+count` as read (the probe sizes them).
    fn bars(&mut self, count: usize) {
        let mut high_of: Option<usize> = None;
        for i in 0..count {
            let Some(v) = self.take(0x10 + 4 * i, 4) else { return };
            let desc = match high_of.take() {
                Some(lo) => format!("upper half of bar{lo}"),
                None => {
                    // A 64-bit memory BAR takes the next register as its top half.
                    if v & 7 == 4 {
                        high_of = Some(i);
                    }
                    bar_kind(v).to_string()
                }
            };
            self.put(format!("bar{i}"), format!("{v:#010x} ({desc})"));
        }
    }

    fn rom(&mut self, off: usize) {
        if let Some(v) = self.take(off, 4) {
            let state = if v & 1 == 1 { "enabled" } else { "disabled" };
            self.put("rom", format!("{v:#010x} ({state})"));
        }
    }

    fn interrupt(&mut self) {
        self.reg_dec("interrupt_line", 0x3c, 1);
        if let Some(p) = self.take(0x3d, 1) {
            let s = match p {
                0 => "0 (none)".to_string(),
                1..=4 => format!("{p} (INT{})", char::from(b'A' + p as u8 - 1)),
                _ => format!("{p:#04x} (invalid)"),
            };
            self.put("interrupt_pin", s);
        }
    }

    fn header_type0(&mut self) {
        self.bars(6);
        self.reg_hex("cardbus_cis", 0x28, 4);
        self.reg_hex("subsys_vendor", 0x2c, 2);
        self.reg_hex("subsys_id", 0x2e, 2);
        self.rom(0x30);
        self.reg_hex("cap_ptr", 0x34, 1);
        self.interrupt();
        self.reg_hex("min_gnt", 0x3e, 1);
        self.reg_hex("max_lat", 0x3f, 1);
    }
}

/// `base-limit`, or `closed` when a bridge window's base lies above its limit.
fn window(base: u64, limit: u64) -> String {
    if base > limit {
        format!("closed ({base:#x} > {limit:#x})")
    } else {
        format!("{base:#x}-{limit:#x}")
    }
}

impl Ctx<'_> {
    /// Type 1 (PCI-to-PCI bridge) header.
    fn header_type1(&mut self) {
        self.bars(2);
        self.reg_dec("bus.primary", 0x18, 1);
        self.reg_dec("bus.secondary", 0x19, 1);
        self.reg_dec("bus.subordinate", 0x1a, 1);
        self.reg_dec("secondary_latency_timer", 0x1b, 1);
        self.reg_fields("secondary_status", 0x1e, 2, STATUS);
        self.io_window();
        if let (Some(b), Some(l)) = (self.take(0x20, 2), self.take(0x22, 2)) {
            self.put("mem_base", format!("{b:#06x}"));
            self.put("mem_limit", format!("{l:#06x}"));
            let (base, limit) = (u64::from(b & 0xfff0) << 16, (u64::from(l & 0xfff0) << 16) | 0xf_ffff);
            self.put("mem_window", window(base, limit));
        }
        self.pref_window();
        self.reg_hex("cap_ptr", 0x34, 1);
        self.rom(0x38);
        self.interrupt();
        self.reg_fields("bridge_control", 0x3e, 2, BRIDGE_CONTROL);
    }

    /// I/O window: 4 KiB granular, 16- or 32-bit as the base's low nibble says.
    fn io_window(&mut self) {
        let (Some(b), Some(l), Some(bu), Some(lu)) = (
            self.take(0x1c, 1),
            self.take(0x1d, 1),
            self.take(0x30, 2),
            self.take(0x32, 2),
        ) else {
            return;
        };
        self.put("io_base", format!("{b:#04x}"));
        self.put("io_limit", format!("{l:#04x}"));
        self.put("io_base_upper", format!("{bu:#06x}"));
        self.put("io_limit_upper", format!("{lu:#06x}"));
        let wide = b & 0xf == 1;
        let (hb, hl) = if wide {
            (u64::from(bu) << 16, u64::from(lu) << 16)
        } else {
            (0, 0)
        };
        let base = hb | (u64::from(b & 0xf0) << 8);
        let limit = hl | (u64::from(l & 0xf0) << 8) | 0xfff;
        let bits = if wide { "32-bit" } else { "16-bit" };
        self.put("io_window", format!("{} ({bits})", window(base, limit)));
    }

    /// Prefetchable window: 1 MiB granular, 32- or 64-bit.
    fn pref_window(&mut self) {
        let (Some(b), Some(l), Some(bu), Some(lu)) = (
            self.take(0x24, 2),
            self.take(0x26, 2),
            self.take(0x28, 4),
            self.take(0x2c, 4),
        ) else {
            return;
        };
        self.put("pref_base", format!("{b:#06x}"));
        self.put("pref_limit", format!("{l:#06x}"));
        self.put("pref_base_upper", format!("{bu:#010x}"));
        self.put("pref_limit_upper", format!("{lu:#010x}"));
        let wide = b & 0xf == 1;
        let (hb, hl) = if wide {
            (u64::from(bu) << 32, u64::from(lu) << 32)
        } else {
            (0, 0)
        };
        let base = hb | (u64::from(b & 0xfff0) << 16);
        let limit = hl | (u64::from(l & 0xfff0) << 16) | 0xf_ffff;
        let bits = if wide { "64-bit" } else { "32-bit" };
        self.put("pref_window", format!("{} ({bits})", window(base, limit)));
    }

    /// Type 2 (CardBus bridge) header: registers as read, windows raw.
    fn header_type2(&mut self) {
        self.reg_hex("cardbus_socket", 0x10, 4);
        self.reg_hex("cap_ptr", 0x14, 1);
        self.reg_fields("secondary_status", 0x16, 2, STATUS);
        self.reg_dec("bus.pci", 0x18, 1);
        self.reg_dec("bus.cardbus", 0x19, 1);
        self.reg_dec("bus.subordinate", 0x1a, 1);
        self.reg_dec("cardbus_latency_timer", 0x1b, 1);
        for (i, name) in ["mem0", "mem1", "io0", "io1"].iter().enumerate() {
            let off = 0x1c + 8 * i;
            self.reg_hex(&format!("{name}_base"), off, 4);
            self.reg_hex(&format!("{name}_limit"), off + 4, 4);
        }
        self.interrupt();
        self.reg_fields("bridge_control", 0x3e, 2, BRIDGE_CONTROL);
        self.reg_hex("subsys_vendor", 0x40, 2);
        self.reg_hex("subsys_id", 0x42, 2);
        self.reg_hex("legacy_mode_base", 0x44, 4);
    }
}

/// Key name of a classic capability id.
fn cap_name(id: u32) -> String {
    let s = match id {
        0x01 => "PM",
        0x02 => "AGP",
        0x03 => "VPD",
        0x04 => "SlotID",
        0x05 => "MSI",
        0x06 => "HotSwap",
        0x07 => "PCI-X",
        0x08 => "HT",
        0x09 => "Vendor",
        0x0a => "Debug",
        0x0b => "CCRC",
        0x0c => "SHPC",
        0x0d => "SSVID",
        0x0e => "AGP3",
        0x0f => "Secure",
        0x10 => "PCIe",
        0x11 => "MSI-X",
        0x12 => "SATA",
        0x13 => "AF",
        0x14 => "EA",
        0x15 => "FPB",
        _ => return format!("{id:#04x}"),
    };
    s.to_string()
}

/// Key prefix of the `n`th (1-based) capability called `name`.
fn occurrence(kind: &str, name: &str, n: usize) -> String {
    if n <= 1 {
        format!("{kind} {name}")
    } else {
        format!("{kind} {name} #{n}")
    }
}

/// One entry of a capability chain: offset, id, low bits of its next pointer.
struct Link {
    off: usize,
    id: u32,
    next_low: u32,
}

impl Ctx<'_> {
    /// Walk the classic capability list (only when status says there is
    /// one) and decode each entry.
    fn capabilities(&mut self) {
        if self.peek(0x06, 2).unwrap_or(0) & 0x10 == 0 {
            return;
        }
        let ptr_at = if self.peek(0x0e, 1).map(|h| h & 0x7f) == Some(2) {
            0x14
        } else {
            0x34
        };
        let Some(first) = self.peek(ptr_at, 1) else { return };
        let limit = self.cfg.len().min(0x100);
        let mut chain: Vec<Link> = Vec::new();
        let mut seen = BTreeSet::new();
        let (mut p, mut from) = (first, ptr_at);
        loop {
            // The low two bits of a pointer are reserved; software masks them.
            let off = (p & 0xfc) as usize;
            if off == 0 {
                break;
            }
            if off < 0x40 || off.saturating_add(2) > limit {
                self.error(format!("capability pointer {p:#04x} at {from:#x} out of range"));
                break;
            }
            if !seen.insert(off) {
                self.error(format!(
                    "capability loop: pointer {p:#04x} at {from:#x} revisits {off:#x}"
                ));
                break;
            }
            let id = self.take(off, 1).unwrap_or(0);
            let next = self.take(off + 1, 1).unwrap_or(0);
            chain.push(Link {
                off,
                id,
                next_low: next & 3,
            });
            (p, from) = (next, off + 1);
        }
        let offsets: Vec<usize> = chain.iter().map(|l| l.off).collect();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut names = Vec::new();
        for link in &chain {
            let name = self.cap_key_name(link);
            let n = counts.entry(name.clone()).or_insert(0);
            *n += 1;
            let prefix = occurrence("cap", &name, *n);
            names.push(name);
            self.put(format!("{prefix}.offset"), format!("{:#04x}", link.off));
            if link.next_low != 0 {
                self.put(format!("{prefix}.next_low_bits"), link.next_low.to_string());
            }
            // Unknown bodies run to the next capability, within 64 bytes.
            let next = offsets.iter().copied().filter(|o| *o > link.off).min().unwrap_or(limit);
            let end = next.min(limit).min(link.off + 0x40);
            self.cap_body(&prefix, link, end, limit);
        }
        // Chain order pins every next pointer, offsets being items already.
        self.put("caps", names.join(", "));
    }

    /// The key name; virtio vendor capabilities are named by cfg_type, so
    /// `cap virtio notify` stays put when another one is added.
    fn cap_key_name(&self, link: &Link) -> String {
        if link.id == 0x09 && self.peek(0, 2) == Some(0x1af4) {
            let len = self.peek(link.off + 2, 1).unwrap_or(0);
            if len >= 16 {
                if let Some(t) = self.peek(link.off + 3, 1) {
                    return format!("virtio {}", virtio_cfg_type(t));
                }
            }
        }
        cap_name(link.id)
    }

    fn cap_body(&mut self, p: &str, link: &Link, end: usize, limit: usize) {
        let off = link.off;
        let _ = match link.id {
            0x01 => self.cap_pm(p, off, limit),
            0x03 => self.cap_vpd(p, off, limit),
            0x05 => self.cap_msi(p, off, limit),
            0x09 if p.starts_with("cap virtio") => self.cap_virtio(p, off, limit),
            0x09 => self.cap_vendor(p, off, limit),
            0x0d => self.cap_ssvid(p, off, limit),
            0x10 => self.cap_pcie(p, off, limit),
            0x11 => self.cap_msix(p, off, limit),
            0x12 => self.cap_sata(p, off, limit),
            0x13 => self.cap_af(p, off, limit),
            _ => self.raw_bytes(&format!("{p}.raw"), off + 2, end),
        };
    }

    /// Bytes `start..end` (clamped to the data) as one hex item.
    fn raw_bytes(&mut self, key: &str, start: usize, end: usize) -> Option<()> {
        let end = end.min(self.cfg.len());
        if start >= end {
            return Some(());
        }
        let hex: String = self.cfg.get(start..end)?.iter().map(|b| format!("{b:02x}")).collect();
        for c in self.covered.iter_mut().take(end).skip(start) {
            *c = true;
        }
        self.put(key, hex);
        Some(())
    }
}

fn virtio_cfg_type(t: u32) -> String {
    match t {
        1 => "common".to_string(),
        2 => "notify".to_string(),
        3 => "isr".to_string(),
        4 => "device".to_string(),
        5 => "pci-cfg".to_string(),
        8 => "shared-memory".to_string(),
        9 => "vendor".to_string(),
        _ => format!("type {t:#04x}"),
    }
}

const PM_PMC: &[Field] = &[
    dec("version", 0, 3),
    bit("PME_CLOCK", 3),
    bit("IMM_READY", 4),
    bit("DSI", 5),
    enc("AUX_CURRENT", 6, 3, aux_current),
    bit("D1", 9),
    bit("D2", 10),
    bit("PME_D0", 11),
    bit("PME_D1", 12),
    bit("PME_D2", 13),
    bit("PME_D3hot", 14),
    bit("PME_D3cold", 15),
];

const PM_PMCSR: &[Field] = &[
    enc("POWER_STATE", 0, 2, |v| {
        format!("D{}", if v == 3 { "3hot".to_string() } else { v.to_string() })
    }),
    bit("NO_SOFT_RESET", 3),
    bit("PME_ENABLE", 8),
    dec("DATA_SEL", 9, 4),
    dec("DATA_SCALE", 13, 2),
    bit("PME_STATUS", 15),
];

const PM_BSE: &[Field] = &[bit("B2_B3", 6), bit("BPCC_EN", 7)];

fn aux_current(v: u32) -> String {
    let ma = [0, 55, 100, 160, 220, 270, 320, 375]
        .get(v as usize)
        .copied()
        .unwrap_or(0);
    format!("{v} ({ma} mA)")
}

const MSI_CONTROL: &[Field] = &[
    bit("enable", 0),
    enc("multiple_message_capable", 1, 3, msi_vectors),
    enc("multiple_message_enable", 4, 3, msi_vectors),
    bit("64bit", 7),
    bit("per_vector_masking", 8),
    bit("ext_data_capable", 9),
    bit("ext_data_enable", 10),
];

/// MSI's log2-encoded vector counts; 6 and 7 are reserved.
fn msi_vectors(v: u32) -> String {
    if v <= 5 {
        format!("{}", 1u32 << v)
    } else {
        format!("reserved ({v})")
    }
}

const MSIX_CONTROL: &[Field] = &[
    enc("table_size", 0, 11, |v| (v + 1).to_string()),
    bit("function_mask", 14),
    bit("enable", 15),
];

/// An MSI-X table/PBA register: BAR indicator and 8-byte aligned offset.
fn bir_offset(v: u32) -> String {
    let bir = v & 7;
    let note = if bir > 5 { " (reserved BIR)" } else { "" };
    format!("BAR {bir}{note} offset {:#x}", v & !7)
}

impl Ctx<'_> {
    fn cap_pm(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        let pmc = self.reg(p, off + 2, 2, limit)?;
        self.fields(&format!("{p}.pmc"), pmc, 2, PM_PMC);
        let csr = self.reg(p, off + 4, 2, limit)?;
        self.fields(&format!("{p}.pmcsr"), csr, 2, PM_PMCSR);
        let bse = self.reg(p, off + 6, 1, limit)?;
        self.fields(&format!("{p}.bridge_ext"), bse, 1, PM_BSE);
        let data = self.reg(p, off + 7, 1, limit)?;
        self.put(format!("{p}.data"), format!("{data:#04x}"));
        Some(())
    }

    fn cap_vpd(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        let a = self.reg(p, off + 2, 2, limit)?;
        self.put(format!("{p}.address"), format!("{:#06x}", a & 0x7fff));
        self.put(format!("{p}.flag"), (a >> 15).to_string());
        let d = self.reg(p, off + 4, 4, limit)?;
        self.put(format!("{p}.data"), format!("{d:#010x}"));
        Some(())
    }

    fn cap_msi(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        let ctl = self.reg(p, off + 2, 2, limit)?;
        self.fields(p, ctl, 2, MSI_CONTROL);
        let wide = ctl & 0x80 != 0;
        let lo = self.reg(p, off + 4, 4, limit)?;
        let mut at = off + 8;
        if wide {
            let hi = self.reg(p, at, 4, limit)?;
            self.put(
                format!("{p}.address"),
                format!("{:#018x}", (u64::from(hi) << 32) | u64::from(lo)),
            );
            at += 4;
        } else {
            self.put(format!("{p}.address"), format!("{lo:#010x}"));
        }
        let data = self.reg(p, at, 2, limit)?;
        self.put(format!("{p}.data"), format!("{data:#06x}"));
        // The extended message data register only exists when capable.
        if ctl & 0x200 != 0 {
            let ext = self.reg(p, at + 2, 2, limit)?;
            self.put(format!("{p}.ext_data"), format!("{ext:#06x}"));
        }
        if ctl & 0x100 != 0 {
            let m = self.reg(p, at + 4, 4, limit)?;
            self.put(format!("{p}.mask"), format!("{m:#010x}"));
            let pend = self.reg(p, at + 8, 4, limit)?;
            self.put(format!("{p}.pending"), format!("{pend:#010x}"));
        }
        Some(())
    }

    fn cap_msix(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        let ctl = self.reg(p, off + 2, 2, limit)?;
        self.fields(p, ctl, 2, MSIX_CONTROL);
        let t = self.reg(p, off + 4, 4, limit)?;
        self.put(format!("{p}.table"), bir_offset(t));
        let pba = self.reg(p, off + 8, 4, limit)?;
        self.put(format!("{p}.pba"), bir_offset(pba));
        Some(())
    }

    /// A vendor-specific capability: its length byte, then opaque bytes.
    fn cap_vendor(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        let len = self.reg(p, off + 2, 1, limit)? as usize;
        self.put(format!("{p}.len"), len.to_string());
        let end = off + len;
        if end > limit {
            self.error(format!("{p}: length {len} runs past {limit:#x}"));
        }
        self.raw_bytes(&format!("{p}.data"), off + 3, end.min(limit))
    }

    /// virtio_pci_cap (virtio 1.x, 4.1.4): where a config structure lives.
    fn cap_virtio(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        let len = self.reg(p, off + 2, 1, limit)? as usize;
        self.put(format!("{p}.len"), len.to_string());
        let t = self.reg(p, off + 3, 1, limit)?;
        self.put(format!("{p}.cfg_type"), format!("{t} ({})", virtio_cfg_type(t)));
        let bar = self.reg(p, off + 4, 1, limit)?;
        self.put(format!("{p}.bar"), bar.to_string());
        let id = self.reg(p, off + 5, 1, limit)?;
        self.put(format!("{p}.id"), id.to_string());
        let pad = self.reg(p, off + 6, 2, limit)?;
        if pad != 0 {
            self.put(format!("{p}.padding"), format!("{pad:#06x}"));
        }
        let mut offset = u64::from(self.reg(p, off + 8, 4, limit)?);
        let mut length = u64::from(self.reg(p, off + 12, 4, limit)?);
        let mut used = 16;
        match t {
            2 if len >= 20 => {
                let m = self.reg(p, off + 16, 4, limit)?;
                self.put(format!("{p}.notify_off_multiplier"), m.to_string());
                used = 20;
            }
            5 if len >= 20 => {
                let d = self.reg(p, off + 16, 4, limit)?;
                self.put(format!("{p}.pci_cfg_data"), format!("{d:#010x}"));
                used = 20;
            }
            // virtio_pci_cap64: high halves of offset and length follow.
            8 if len >= 24 => {
                offset |= u64::from(self.reg(p, off + 16, 4, limit)?) << 32;
                length |= u64::from(self.reg(p, off + 20, 4, limit)?) << 32;
                used = 24;
            }
            _ => {}
        }
        self.put(format!("{p}.bar_offset"), format!("{offset:#x}"));
        self.put(format!("{p}.length"), length.to_string());
        if len > used {
            let end = off + len;
            if end > limit {
                self.error(format!("{p}: length {len} runs past {limit:#x}"));
            }
            self.raw_bytes(&format!("{p}.extra"), off + used, end.min(limit))?;
        }
        Some(())
    }

    fn cap_ssvid(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        let v = self.reg(p, off + 4, 2, limit)?;
        self.put(format!("{p}.subsys_vendor"), format!("{v:#06x}"));
        let d = self.reg(p, off + 6, 2, limit)?;
        self.put(format!("{p}.subsys_id"), format!("{d:#06x}"));
        Some(())
    }

    /// SATA capability: revision and where the index/data pair lives.
    fn cap_sata(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        let rev = self.reg(p, off + 2, 2, limit)?;
        self.fields(p, rev, 2, &[dec("revision_minor", 0, 4), dec("revision_major", 4, 4)]);
        let c1 = self.reg(p, off + 4, 4, limit)?;
        let loc = match c1 & 0xf {
            l @ 4..=9 => format!("BAR {}", l - 4),
            0xf => "config space after this capability".to_string(),
            l => format!("reserved ({l:#x})"),
        };
        self.put(format!("{p}.bar_location"), loc);
        self.put(format!("{p}.bar_offset"), format!("{:#x}", ((c1 >> 4) & 0xf_ffff) * 4));
        if c1 >> 24 != 0 {
            self.put(format!("{p}.cap1_reserved"), format!("{:#04x}", c1 >> 24));
        }
        Some(())
    }

    /// Advanced Features: transactions pending and function level reset.
    fn cap_af(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        let len = self.reg(p, off + 2, 1, limit)?;
        self.put(format!("{p}.len"), len.to_string());
        let cap = self.reg(p, off + 3, 1, limit)?;
        self.fields(&format!("{p}.cap"), cap, 1, &[bit("TP", 0), bit("FLR", 1)]);
        let ctl = self.reg(p, off + 4, 1, limit)?;
        self.fields(&format!("{p}.control"), ctl, 1, &[bit("INITIATE_FLR", 0)]);
        let st = self.reg(p, off + 5, 1, limit)?;
        self.fields(&format!("{p}.status"), st, 1, &[bit("TP", 0)]);
        Some(())
    }
}

const PCIE_FLAGS: &[Field] = &[
    dec("version", 0, 4),
    enc("type", 4, 4, pcie_type),
    bit("slot", 8),
    dec("irq", 9, 5),
    bit("FLIT", 15),
];

fn pcie_type(v: u32) -> String {
    let s = match v {
        0 => "PCIe endpoint",
        1 => "legacy endpoint",
        4 => "root port",
        5 => "upstream switch port",
        6 => "downstream switch port",
        7 => "PCIe-to-PCI bridge",
        8 => "PCI-to-PCIe bridge",
        9 => "root complex integrated endpoint",
        10 => "root complex event collector",
        _ => "reserved",
    };
    format!("{v} ({s})")
}

/// 128 << v bytes, for payload and read request size fields.
fn bytes128(v: u32) -> String {
    if v <= 5 {
        format!("{} bytes", 128u32 << v)
    } else {
        format!("reserved ({v})")
    }
}

fn link_speed(v: u32) -> String {
    let s = match v {
        1 => "2.5GT/s",
        2 => "5GT/s",
        3 => "8GT/s",
        4 => "16GT/s",
        5 => "32GT/s",
        6 => "64GT/s",
        _ => return format!("{v} (unknown)"),
    };
    format!("{v} ({s})")
}

fn indicator(v: u32) -> String {
    let s = ["reserved", "on", "blink", "off"]
        .get(v as usize)
        .copied()
        .unwrap_or("?");
    format!("{v} ({s})")
}

const DEV_CAP: &[Field] = &[
    enc("PAYLOAD", 0, 3, bytes128),
    dec("PHANTOM", 3, 2),
    bit("EXT_TAG", 5),
    dec("L0S", 6, 3),
    dec("L1", 9, 3),
    bit("ATN_BUT", 12),
    bit("ATN_IND", 13),
    bit("PWR_IND", 14),
    bit("RBER", 15),
    dec("PWR_VAL", 18, 8),
    dec("PWR_SCL", 26, 2),
    bit("FLR", 28),
    bit("TEE_IO", 29),
];

const DEV_CTL: &[Field] = &[
    bit("CERE", 0),
    bit("NFERE", 1),
    bit("FERE", 2),
    bit("URRE", 3),
    bit("RELAX_EN", 4),
    enc("PAYLOAD", 5, 3, bytes128),
    bit("EXT_TAG", 8),
    bit("PHANTOM", 9),
    bit("AUX_PME", 10),
    bit("NOSNOOP_EN", 11),
    enc("READRQ", 12, 3, bytes128),
    bit("BCR_FLR", 15),
];

const DEV_STA: &[Field] = &[
    bit("CED", 0),
    bit("NFED", 1),
    bit("FED", 2),
    bit("URD", 3),
    bit("AUXPD", 4),
    bit("TRPND", 5),
    bit("EMER_PWR", 6),
];

const LINK_CAP: &[Field] = &[
    enc("SLS", 0, 4, link_speed),
    dec("MLW", 4, 6),
    dec("ASPMS", 10, 2),
    dec("L0SEL", 12, 3),
    dec("L1EL", 15, 3),
    bit("CLKPM", 18),
    bit("SDERC", 19),
    bit("DLLLARC", 20),
    bit("LBNC", 21),
    bit("ASPM_COMP", 22),
    dec("PN", 24, 8),
];

const LINK_CTL: &[Field] = &[
    dec("ASPMC", 0, 2),
    bit("RCB", 3),
    bit("LD", 4),
    bit("RL", 5),
    bit("CCC", 6),
    bit("ES", 7),
    bit("CLKREQ_EN", 8),
    bit("HAWD", 9),
    bit("LBMIE", 10),
    bit("LABIE", 11),
    dec("DRS_CTL", 14, 2),
];

const LINK_STA: &[Field] = &[
    enc("CLS", 0, 4, link_speed),
    dec("NLW", 4, 6),
    bit("LT_ERR", 10),
    bit("LT", 11),
    bit("SLC", 12),
    bit("DLLLA", 13),
    bit("LBMS", 14),
    bit("LABS", 15),
];

const SLOT_CAP: &[Field] = &[
    bit("ABP", 0),
    bit("PCP", 1),
    bit("MRLSP", 2),
    bit("AIP", 3),
    bit("PIP", 4),
    bit("HPS", 5),
    bit("HPC", 6),
    dec("SPLV", 7, 8),
    dec("SPLS", 15, 2),
    bit("EIP", 17),
    bit("NCCS", 18),
    dec("PSN", 19, 13),
];

const SLOT_CTL: &[Field] = &[
    bit("ABPE", 0),
    bit("PFDE", 1),
    bit("MRLSCE", 2),
    bit("PDCE", 3),
    bit("CCIE", 4),
    bit("HPIE", 5),
    enc("AIC", 6, 2, indicator),
    enc("PIC", 8, 2, indicator),
    bit("PCC", 10),
    bit("EIC", 11),
    bit("DLLSCE", 12),
    bit("ASPL_DIS", 13),
    bit("IBPD_DIS", 14),
];

const SLOT_STA: &[Field] = &[
    bit("ABP", 0),
    bit("PFD", 1),
    bit("MRLSC", 2),
    bit("PDC", 3),
    bit("CC", 4),
    bit("MRLSS", 5),
    bit("PDS", 6),
    bit("EIS", 7),
    bit("DLLSC", 8),
];

const ROOT_CTL: &[Field] = &[
    bit("SECEE", 0),
    bit("SENFEE", 1),
    bit("SEFEE", 2),
    bit("PMEIE", 3),
    bit("CRSSVE", 4),
];
const ROOT_CAP: &[Field] = &[bit("CRSVIS", 0)];
const ROOT_STA: &[Field] = &[hex("PME_RID", 0, 16), bit("PME_STATUS", 16), bit("PME_PENDING", 17)];

const DEV_CAP2: &[Field] = &[
    hex("CTR", 0, 4),
    bit("CTD", 4),
    bit("ARI", 5),
    bit("ATOMIC_ROUTE", 6),
    bit("ATOMIC_COMP32", 7),
    bit("ATOMIC_COMP64", 8),
    bit("ATOMIC_COMP128", 9),
    bit("NROPRPRP", 10),
    bit("LTR", 11),
    dec("TPH_COMP", 12, 2),
    dec("LN", 14, 2),
    bit("TAG10_COMP", 16),
    bit("TAG10_REQ", 17),
    dec("OBFF", 18, 2),
    bit("EXT_FMT", 20),
    bit("EE_PREFIX", 21),
    dec("MAX_EE_PREFIXES", 22, 2),
    dec("EPR", 24, 2),
    bit("EPR_INIT", 26),
    bit("FRS", 31),
];

const DEV_CTL2: &[Field] = &[
    hex("COMP_TIMEOUT", 0, 4),
    bit("COMP_TMOUT_DIS", 4),
    bit("ARI", 5),
    bit("ATOMIC_REQ", 6),
    bit("ATOMIC_EGRESS_BLOCK", 7),
    bit("IDO_REQ_EN", 8),
    bit("IDO_CMP_EN", 9),
    bit("LTR_EN", 10),
    bit("EMER_PWR_EN", 11),
    bit("TAG10_REQ_EN", 12),
    dec("OBFF", 13, 2),
    bit("EE_PREFIX_BLOCK", 15),
];

const LINK_CAP2: &[Field] = &[
    hex("SLS", 1, 7),
    bit("CROSSLINK", 8),
    hex("SKP_GEN", 9, 7),
    hex("SKP_RECV", 16, 7),
    bit("RETIMER_PD", 23),
    bit("TWO_RETIMERS_PD", 24),
    bit("DRS", 31),
];

const LINK_CTL2: &[Field] = &[
    enc("TLS", 0, 4, link_speed),
    bit("ENTER_COMP", 4),
    bit("HASD", 5),
    bit("SELECTABLE_DEEMPH", 6),
    dec("TRANSMIT_MARGIN", 7, 3),
    bit("ENTER_MOD_COMP", 10),
    bit("COMP_SOS", 11),
    hex("COMP_PRESET", 12, 4),
];

const LINK_STA2: &[Field] = &[
    bit("CDL", 0),
    bit("EQ_COMPLETE", 1),
    bit("EQ_PHASE1", 2),
    bit("EQ_PHASE2", 3),
    bit("EQ_PHASE3", 4),
    bit("LINK_EQ_REQ", 5),
    bit("RETIMER_PD", 6),
    bit("TWO_RETIMERS_PD", 7),
    dec("CROSSLINK_RES", 8, 2),
    dec("DOWNSTREAM_PRESENCE", 12, 3),
    bit("DRS_RCVD", 15),
];

const SLOT_CAP2: &[Field] = &[bit("IBPD_DIS", 0)];

/// One register of a capability: key name, offset in the capability,
/// size in bytes, fields.
type Reg = (&'static str, usize, usize, &'static [Field]);

const PCIE_DEV: &[Reg] = &[
    ("dev_cap", 0x04, 4, DEV_CAP),
    ("dev_ctl", 0x08, 2, DEV_CTL),
    ("dev_sta", 0x0a, 2, DEV_STA),
];
const PCIE_LINK: &[Reg] = &[
    ("link_cap", 0x0c, 4, LINK_CAP),
    ("link_ctl", 0x10, 2, LINK_CTL),
    ("link_sta", 0x12, 2, LINK_STA),
];
const PCIE_SLOT: &[Reg] = &[
    ("slot_cap", 0x14, 4, SLOT_CAP),
    ("slot_ctl", 0x18, 2, SLOT_CTL),
    ("slot_sta", 0x1a, 2, SLOT_STA),
];
const PCIE_ROOT: &[Reg] = &[
    ("root_ctl", 0x1c, 2, ROOT_CTL),
    ("root_cap", 0x1e, 2, ROOT_CAP),
    ("root_sta", 0x20, 4, ROOT_STA),
];
const PCIE_DEV2: &[Reg] = &[
    ("dev_cap2", 0x24, 4, DEV_CAP2),
    ("dev_ctl2", 0x28, 2, DEV_CTL2),
    ("dev_sta2", 0x2a, 2, &[]),
];
const PCIE_LINK2: &[Reg] = &[
    ("link_cap2", 0x2c, 4, LINK_CAP2),
    ("link_ctl2", 0x30, 2, LINK_CTL2),
    ("link_sta2", 0x32, 2, LINK_STA2),
];
const PCIE_SLOT2: &[Reg] = &[
    ("slot_cap2", 0x34, 4, SLOT_CAP2),
    ("slot_ctl2", 0x38, 2, &[]),
    ("slot_sta2", 0x3a, 2, &[]),
];

impl Ctx<'_> {
    /// Registers of a capability at `base`, each as `prefix.name.FIELD`.
    fn regs(&mut self, p: &str, base: usize, limit: usize, regs: &[Reg]) -> Option<()> {
        for (name, at, size, fields) in regs {
            let v = self.reg(p, base + at, *size, limit)?;
            self.fields(&format!("{p}.{name}"), v, *size, fields);
        }
        Some(())
    }

    /// True when any byte of a register group is non-zero (and present).
    fn nonzero(&self, off: usize, regs: &[Reg]) -> bool {
        regs.iter()
            .any(|(_, at, size, _)| self.peek(off + at, *size).is_some_and(|v| v != 0))
    }

    /// PCI Express capability. Which register groups exist depends on the
    /// device/port type; a group that does not apply is still decoded when
    /// non-zero (QEMU fills link registers of integrated endpoints).
    fn cap_pcie(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        let flags = self.reg(p, off + 2, 2, limit)?;
        self.fields(p, flags, 2, PCIE_FLAGS);
        let (version, ty, slot) = (flags & 0xf, (flags >> 4) & 0xf, flags & 0x100 != 0);
        self.pcie_type = Some(ty);
        let has_link = matches!(ty, 0 | 1 | 4..=8);
        let has_slot = slot && matches!(ty, 4 | 6);
        let has_root = matches!(ty, 4 | 10);
        self.regs(p, off, limit, PCIE_DEV)?;
        if has_link || self.nonzero(off, PCIE_LINK) {
            self.regs(p, off, limit, PCIE_LINK)?;
        }
        // Version 1 structures may end after the link registers, so what
        // follows is only read when the type says it is there.
        let v2 = version >= 2;
        if has_slot || (v2 && self.nonzero(off, PCIE_SLOT)) {
            self.regs(p, off, limit, PCIE_SLOT)?;
        }
        if has_root || (v2 && self.nonzero(off, PCIE_ROOT)) {
            self.regs(p, off, limit, PCIE_ROOT)?;
        }
        if !v2 {
            return Some(());
        }
        self.regs(p, off, limit, PCIE_DEV2)?;
        if has_link || self.nonzero(off, PCIE_LINK2) {
            self.regs(p, off, limit, PCIE_LINK2)?;
        }
        if has_slot || self.nonzero(off, PCIE_SLOT2) {
            self.regs(p, off, limit, PCIE_SLOT2)?;
        }
        Some(())
    }
}

/// Key name of an extended capability id.
fn ext_name(id: u32) -> String {
    let s = match id {
        0x01 => "AER",
        0x02 => "VC",
        0x03 => "DSN",
        0x04 => "PowerBudget",
        0x05 => "RCLD",
        0x06 => "RCILC",
        0x07 => "RCEC",
        0x08 => "MFVC",
        0x09 => "VC9",
        0x0a => "RCRB",
        0x0b => "Vendor",
        0x0c => "CAC",
        0x0d => "ACS",
        0x0e => "ARI",
        0x0f => "ATS",
        0x10 => "SR-IOV",
        0x11 => "MR-IOV",
        0x12 => "Multicast",
        0x13 => "PRI",
        0x15 => "ReBAR",
        0x16 => "DPA",
        0x17 => "TPH",
        0x18 => "LTR",
        0x19 => "SecPCIe",
        0x1a => "PMUX",
        0x1b => "PASID",
        0x1c => "LNR",
        0x1d => "DPC",
        0x1e => "L1SS",
        0x1f => "PTM",
        0x20 => "M-PCIe",
        0x21 => "FRS",
        0x22 => "RTR",
        0x23 => "DVSEC",
        0x24 => "VF-ReBAR",
        0x25 => "DLF",
        0x26 => "PL16GT",
        0x27 => "LMR",
        0x28 => "HierID",
        0x29 => "NPEM",
        0x2a => "PL32GT",
        0x2b => "AltProtocol",
        0x2c => "SFI",
        0x2d => "Shadow",
        0x2e => "DOE",
        0x2f => "Device3",
        0x30 => "IDE",
        0x31 => "PL64GT",
        0x32 => "FlitLog",
        _ => return format!("{id:#06x}"),
    };
    s.to_string()
}

impl Ctx<'_> {
    /// Walk the extended capability list from 0x100 and decode each entry.
    /// An all-zero (or all-ones) first header means there is none.
    fn ext_capabilities(&mut self) {
        let limit = self.cfg.len().min(0x1000);
        let first = self.peek(0x100, 4).unwrap_or(0);
        if first == 0 || first == u32::MAX {
            return;
        }
        let mut chain: Vec<(usize, u32, u32)> = Vec::new();
        let mut seen = BTreeSet::new();
        let (mut off, mut from) = (0x100usize, None::<usize>);
        loop {
            let what = from.map_or("first extended capability".to_string(), |f| {
                format!("pointer at {f:#x}")
            });
            if off < 0x100 || off.saturating_add(4) > limit {
                self.error(format!("extended capability {what} -> {off:#x} out of range"));
                break;
            }
            if !seen.insert(off) {
                self.error(format!("extended capability loop: {what} revisits {off:#x}"));
                break;
            }
            let Some(h) = self.take(off, 4) else { break };
            let (id, version, next) = (h & 0xffff, (h >> 16) & 0xf, (h >> 20) as usize);
            chain.push((off, id, (version << 8) | (next as u32 & 3)));
            // The low two bits of the pointer are reserved; mask them.
            let next = next & !3;
            if next == 0 {
                break;
            }
            (off, from) = (next, Some(off + 2));
        }
        let offsets: Vec<usize> = chain.iter().map(|c| c.0).collect();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut names = Vec::new();
        for (off, id, vl) in chain {
            let name = ext_name(id);
            let n = counts.entry(name.clone()).or_insert(0);
            *n += 1;
            let p = occurrence("ext", &name, *n);
            names.push(name);
            self.put(format!("{p}.offset"), format!("{off:#05x}"));
            self.put(format!("{p}.version"), (vl >> 8).to_string());
            if vl & 3 != 0 {
                self.put(format!("{p}.next_low_bits"), (vl & 3).to_string());
            }
            let next = offsets.iter().copied().filter(|o| *o > off).min().unwrap_or(limit);
            let end = next.min(limit).min(off + 0x40);
            self.ext_body(&p, id, off, end, limit);
        }
        self.put("ext caps", names.join(", "));
    }

    fn ext_body(&mut self, p: &str, id: u32, off: usize, end: usize, limit: usize) {
        let _ = match id {
            0x01 => self.ext_aer(p, off, limit),
            0x03 => self.ext_dsn(p, off, limit),
            0x0b => self.ext_vsec(p, off, limit, false),
            0x0d => self.regs(p, off, limit, EXT_ACS),
            0x0e => self.regs(p, off, limit, EXT_ARI),
            0x0f => self.regs(p, off, limit, EXT_ATS),
            0x10 => self.ext_sriov(p, off, limit),
            0x18 => self.regs(p, off, limit, EXT_LTR),
            0x19 => self.regs(p, off, limit, EXT_SECPCIE),
            0x1b => self.regs(p, off, limit, EXT_PASID),
            0x1e => self.regs(p, off, limit, EXT_L1SS),
            0x23 => self.ext_vsec(p, off, limit, true),
            _ => self.raw_bytes(&format!("{p}.raw"), off + 4, end),
        };
    }
}

/// Names of single bits of a flags register.
type BitNames = &'static [(u32, &'static str)];

const AER_UNCOR: BitNames = &[
    (0, "UND"),
    (4, "DLP"),
    (5, "SDES"),
    (12, "POISON_TLP"),
    (13, "FCP"),
    (14, "COMP_TIME"),
    (15, "COMP_ABORT"),
    (16, "UNX_COMP"),
    (17, "RX_OVER"),
    (18, "MALF_TLP"),
    (19, "ECRC"),
    (20, "UNSUP"),
    (21, "ACSV"),
    (22, "INTN"),
    (23, "MCBTLP"),
    (24, "ATOMEG"),
    (25, "TLPPRE"),
    (26, "POISON_BLK"),
    (27, "DMWR_BLK"),
    (28, "IDE_CHECK"),
    (29, "MISR_IDE"),
    (30, "PCRC_CHECK"),
    (31, "XLAT_BLK"),
];

const AER_COR: BitNames = &[
    (0, "RCVR"),
    (6, "BAD_TLP"),
    (7, "BAD_DLLP"),
    (8, "REP_ROLL"),
    (12, "REP_TIMER"),
    (13, "ADV_NFAT"),
    (14, "INTERNAL"),
    (15, "LOG_OVER"),
];

const AER_CAP_CTL: &[Field] = &[
    dec("FEP", 0, 5),
    bit("ECRC_GEN_CAP", 5),
    bit("ECRC_GEN_EN", 6),
    bit("ECRC_CHK_CAP", 7),
    bit("ECRC_CHK_EN", 8),
    bit("MULTI_HDR_CAP", 9),
    bit("MULTI_HDR_EN", 10),
    bit("TLP_PREFIX_LOG", 11),
    bit("COMP_TIMEOUT_LOG", 12),
];

const AER_ROOT: &[Reg] = &[
    (
        "root_cmd",
        0x2c,
        4,
        &[bit("COR_EN", 0), bit("NONFATAL_EN", 1), bit("FATAL_EN", 2)],
    ),
    (
        "root_status",
        0x30,
        4,
        &[
            bit("COR", 0),
            bit("MULTI_COR", 1),
            bit("UNCOR", 2),
            bit("MULTI_UNCOR", 3),
            bit("FIRST_FATAL", 4),
            bit("NONFATAL_RCV", 5),
            bit("FATAL_RCV", 6),
            dec("IRQ", 27, 5),
        ],
    ),
    (
        "error_source",
        0x34,
        4,
        &[hex("COR_SRC", 0, 16), hex("UNCOR_SRC", 16, 16)],
    ),
];

/// Hex value followed by the names of its set bits, for error bit masks
/// where one item per register reads better than thirty bits.
fn flag_names(v: u32, names: &[(u32, &str)]) -> String {
    let set: Vec<&str> = names.iter().filter(|(b, _)| v >> b & 1 == 1).map(|(_, n)| *n).collect();
    if set.is_empty() {
        format!("{v:#010x}")
    } else {
        format!("{v:#010x} ({})", set.join(" "))
    }
}

impl Ctx<'_> {
    /// Advanced Error Reporting. Status, mask and severity registers keep
    /// one item each (`ext AER.uncor_mask` → `0x00400000 (INTN)`).
    fn ext_aer(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        let bitregs: [(&str, usize, BitNames); 5] = [
            ("uncor_status", 0x04, AER_UNCOR),
            ("uncor_mask", 0x08, AER_UNCOR),
            ("uncor_severity", 0x0c, AER_UNCOR),
            ("cor_status", 0x10, AER_COR),
            ("cor_mask", 0x14, AER_COR),
        ];
        for (name, at, names) in bitregs {
            let v = self.reg(p, off + at, 4, limit)?;
            self.put(format!("{p}.{name}"), flag_names(v, names));
        }
        let cc = self.reg(p, off + 0x18, 4, limit)?;
        self.fields(&format!("{p}.cap_ctl"), cc, 4, AER_CAP_CTL);
        self.dwords(&format!("{p}.header_log"), off + 0x1c, 4, limit)?;
        // Root error registers exist on root ports and event collectors.
        if matches!(self.pcie_type, Some(4 | 10)) {
            self.regs(p, off, limit, AER_ROOT)?;
        }
        if cc & (1 << 11) != 0 {
            self.dwords(&format!("{p}.tlp_prefix_log"), off + 0x38, 4, limit)?;
        }
        Some(())
    }

    /// `n` dwords as one item of space-separated hex values.
    fn dwords(&mut self, key: &str, off: usize, n: usize, limit: usize) -> Option<()> {
        let mut parts = Vec::new();
        for i in 0..n {
            parts.push(format!("{:#010x}", self.reg(key, off + 4 * i, 4, limit)?));
        }
        self.put(key, parts.join(" "));
        Some(())
    }

    /// Device serial number, most significant byte first (EUI-64 style).
    fn ext_dsn(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        let lo = self.reg(p, off + 4, 4, limit)?;
        let hi = self.reg(p, off + 8, 4, limit)?;
        let sn = (u64::from(hi) << 32) | u64::from(lo);
        let s: Vec<String> = sn.to_be_bytes().iter().map(|b| format!("{b:02x}")).collect();
        self.put(format!("{p}.serial"), s.join("-"));
        Some(())
    }

    /// Vendor-specific (VSEC) or designated vendor-specific (DVSEC): the
    /// header, then the body as hex (hashed when long).
    fn ext_vsec(&mut self, p: &str, off: usize, limit: usize, designated: bool) -> Option<()> {
        let h = self.reg(p, off + 4, 4, limit)?;
        let id_name = if designated { "vendor" } else { "id" };
        self.put(format!("{p}.{id_name}"), format!("{:#06x}", h & 0xffff));
        self.put(format!("{p}.rev"), ((h >> 16) & 0xf).to_string());
        let len = (h >> 20) as usize;
        self.put(format!("{p}.len"), len.to_string());
        let mut body = off + 8;
        if designated {
            let id = self.reg(p, off + 8, 2, limit)?;
            self.put(format!("{p}.id"), format!("{id:#06x}"));
            body = off + 10;
        }
        let end = off + len;
        if end > limit {
            self.error(format!("{p}: length {len} runs past {limit:#x}"));
        }
        let end = end.min(limit);
        if end.saturating_sub(body) > 64 {
            let bytes = self.cfg.get(body..end)?;
            self.put(format!("{p}.data"), hash_summary(bytes));
            for c in self.covered.iter_mut().take(end).skip(body) {
                *c = true;
            }
            return Some(());
        }
        self.raw_bytes(&format!("{p}.data"), body, end)
    }

    /// SR-IOV: capability/control/status fields, VF counts and layout.
    fn ext_sriov(&mut self, p: &str, off: usize, limit: usize) -> Option<()> {
        self.regs(p, off, limit, EXT_SRIOV)?;
        let scalars: [(&str, usize, usize, bool); 10] = [
            ("initial_vfs", 0x0c, 2, false),
            ("total_vfs", 0x0e, 2, false),
            ("num_vfs", 0x10, 2, false),
            ("fn_dep_link", 0x12, 1, true),
            ("first_vf_offset", 0x14, 2, false),
            ("vf_stride", 0x16, 2, false),
            ("vf_device", 0x1a, 2, true),
            ("supported_page_sizes", 0x1c, 4, true),
            ("system_page_size", 0x20, 4, true),
            ("migration_state", 0x3c, 4, true),
        ];
        for (name, at, size, is_hex) in scalars {
            let v = self.reg(p, off + at, size, limit)?;
            let s = if is_hex {
                format!("{v:#0w$x}", w = size * 2 + 2)
            } else {
                v.to_string()
            };
            self.put(format!("{p}.{name}"), s);
        }
        for i in 0..6 {
            let v = self.reg(p, off + 0x24 + 4 * i, 4, limit)?;
            self.put(format!("{p}.vf_bar{i}"), format!("{v:#010x}"));
        }
        Some(())
    }
}

const EXT_SRIOV: &[Reg] = &[
    (
        "cap",
        0x04,
        4,
        &[
            bit("VFM", 0),
            bit("ARI_PRESERVED", 1),
            bit("VF_TAG10_REQ", 2),
            dec("VFM_IRQ", 21, 11),
        ],
    ),
    (
        "ctl",
        0x08,
        2,
        &[
            bit("VFE", 0),
            bit("VFME", 1),
            bit("VFMIE", 2),
            bit("MSE", 3),
            bit("ARI", 4),
            bit("VF_TAG10_EN", 5),
        ],
    ),
    ("status", 0x0a, 2, &[bit("VFM", 0)]),
];

const EXT_ARI: &[Reg] = &[
    ("cap", 0x04, 2, &[bit("MFVC", 0), bit("ACS", 1), hex("NEXT_FN", 8, 8)]),
    ("ctl", 0x06, 2, &[bit("MFVC", 0), bit("ACS", 1), dec("FG", 4, 3)]),
];

const EXT_ACS: &[Reg] = &[
    (
        "cap",
        0x04,
        2,
        &[
            bit("SV", 0),
            bit("TB", 1),
            bit("RR", 2),
            bit("CR", 3),
            bit("UF", 4),
            bit("EC", 5),
            bit("DT", 6),
            bit("ENH", 7),
            dec("ECVS", 8, 8),
        ],
    ),
    (
        "ctl",
        0x06,
        2,
        &[
            bit("SV", 0),
            bit("TB", 1),
            bit("RR", 2),
            bit("CR", 3),
            bit("UF", 4),
            bit("EC", 5),
            bit("DT", 6),
            bit("IORB", 7),
            dec("DSP_MT", 8, 2),
            dec("USP_MT", 10, 2),
            bit("URRC", 12),
        ],
    ),
];

const EXT_ATS: &[Reg] = &[
    (
        "cap",
        0x04,
        2,
        &[
            dec("INVQ", 0, 5),
            bit("PAGE_ALIGNED", 5),
            bit("GLOBAL_INV", 6),
            bit("RO", 7),
        ],
    ),
    ("ctl", 0x06, 2, &[dec("STU", 0, 5), bit("ENABLE", 15)]),
];

const EXT_LTR: &[Reg] = &[
    ("max_snoop", 0x04, 2, &[dec("VALUE", 0, 10), dec("SCALE", 10, 3)]),
    ("max_nosnoop", 0x06, 2, &[dec("VALUE", 0, 10), dec("SCALE", 10, 3)]),
];

const EXT_SECPCIE: &[Reg] = &[
    (
        "link_ctl3",
        0x04,
        4,
        &[bit("PERFORM_EQ", 0), bit("EQ_REQ_IE", 1), hex("SKP_GEN_EN", 9, 7)],
    ),
    ("lane_err_status", 0x08, 4, &[hex("LANES", 0, 32)]),
];

const EXT_PASID: &[Reg] = &[
    ("cap", 0x04, 2, &[bit("EXEC", 1), bit("PRIV", 2), dec("WIDTH", 8, 5)]),
    ("ctl", 0x06, 2, &[bit("ENABLE", 0), bit("EXEC", 1), bit("PRIV", 2)]),
];

const EXT_L1SS: &[Reg] = &[
    (
        "cap",
        0x04,
        4,
        &[
            bit("PCIPM_L12", 0),
            bit("PCIPM_L11", 1),
            bit("ASPM_L12", 2),
            bit("ASPM_L11", 3),
            bit("L1_PM_SS", 4),
            bit("LINK_ACT", 5),
            dec("CM_RESTORE", 8, 8),
            dec("PWR_ON_SCALE", 16, 2),
            dec("PWR_ON_VALUE", 19, 5),
        ],
    ),
    (
        "ctl1",
        0x08,
        4,
        &[
            bit("PCIPM_L12", 0),
            bit("PCIPM_L11", 1),
            bit("ASPM_L12", 2),
            bit("ASPM_L11", 3),
            bit("LINK_ACT_IE", 4),
            bit("LINK_ACT_CTL", 5),
            dec("CM_RESTORE", 8, 8),
            dec("LTR_L12_VALUE", 16, 10),
            dec("LTR_L12_SCALE", 29, 3),
        ],
    ),
    ("ctl2", 0x0c, 4, &[dec("PWR_ON_SCALE", 0, 2), dec("PWR_ON_VALUE", 3, 5)]),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn load(dir: &str, addr: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/data/{dir}/pci/0000_00_{addr}.bin",
            concat!(env!("CARGO_MANIFEST_DIR"), "/..")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const Q35: &str = "pc-q35-7.2-default-on-7.2.22";
    const Q35_VIRTIO: &str = "pc-q35-7.2-virtio-on-7.2.22";
    const I440FX: &str = "pc-i440fx-7.2-default-on-7.2.22";

    /// Assert a list of `key = value` items of a decoded config space.
    fn expect(d: &Decoded, want: &[(&str, &str)]) {
        for (k, v) in want {
            assert_eq!(d.get(k), Some(*v), "key {k}");
        }
    }

    fn keys_with(d: &Decoded, prefix: &str) -> Vec<String> {
        d.items().keys().filter(|k| k.starts_with(prefix)).cloned().collect()
    }

    /// Values checked by hand against `xxd` of the capture and the specs.
    #[test]
    fn q35_e1000e_header_and_capabilities() {
        let d = decode(&load(Q35, "02.0"));
        expect(
            &d,
            &[
                ("vendor", "0x8086 Intel"),
                ("device", "0x10d3 82574L (e1000e)"),
                ("command.IO", "1"),
                ("command.MEMORY", "1"),
                ("command.MASTER", "0"),
                ("command.SERR", "1"),
                ("status.CAP_LIST", "1"),
                ("class", "0x020000 Ethernet controller"),
                ("bar0", "0xfeb80000 (mem32)"),
                ("bar2", "0x0000c041 (io)"),
                ("bar3", "0xfebd0000 (mem32)"),
                ("subsys_vendor", "0x8086"),
                ("subsys_id", "0x0000"),
                ("rom", "0xfeb40000 (disabled)"),
                ("cap_ptr", "0xc8"),
                ("interrupt_line", "11"),
                ("interrupt_pin", "1 (INTA)"),
                ("caps", "PM, MSI, PCIe, MSI-X"),
                // 0xc8: 01 d0 22 00 -> PMC 0x0022: version 2, DSI.
                ("cap PM.offset", "0xc8"),
                ("cap PM.pmc.version", "2"),
                ("cap PM.pmc.DSI", "1"),
                ("cap PM.pmcsr.POWER_STATE", "D0"),
                // 0xd0: 05 e0 80 00 -> 64-bit address, one vector.
                ("cap MSI.offset", "0xd0"),
                ("cap MSI.64bit", "1"),
                ("cap MSI.per_vector_masking", "0"),
                ("cap MSI.multiple_message_capable", "1"),
                ("cap MSI.address", "0x0000000000000000"),
                // 0xe0: 10 a0 91 00 -> version 1, integrated endpoint.
                ("cap PCIe.offset", "0xe0"),
                ("cap PCIe.version", "1"),
                ("cap PCIe.type", "9 (root complex integrated endpoint)"),
                ("cap PCIe.slot", "0"),
                ("cap PCIe.dev_cap.RBER", "1"),
                ("cap PCIe.dev_cap.PAYLOAD", "128 bytes"),
                ("cap PCIe.dev_ctl.READRQ", "128 bytes"),
                // link cap 0x00000411: 2.5GT/s, x1, L0s; status 0x0011.
                ("cap PCIe.link_cap.SLS", "1 (2.5GT/s)"),
                ("cap PCIe.link_cap.MLW", "1"),
                ("cap PCIe.link_cap.ASPMS", "1"),
                ("cap PCIe.link_sta.CLS", "1 (2.5GT/s)"),
                ("cap PCIe.link_sta.NLW", "1"),
                // 0xa0: 11 00 04 00, 03 00 00 00, 03 20 00 00.
                ("cap MSI-X.offset", "0xa0"),
                ("cap MSI-X.table_size", "5"),
                ("cap MSI-X.table", "BAR 3 offset 0x0"),
                ("cap MSI-X.pba", "BAR 3 offset 0x2000"),
                ("cap MSI-X.enable", "0"),
            ],
        );
        // A version 1 capability of an integrated endpoint has no slot,
        // root or "2" registers.
        assert!(keys_with(&d, "cap PCIe.slot_").is_empty());
        assert!(keys_with(&d, "cap PCIe.root_").is_empty());
        assert!(keys_with(&d, "cap PCIe.dev_cap2").is_empty());
        assert!(keys_with(&d, "error").is_empty());
    }

    #[test]
    fn q35_e1000e_extended_capabilities() {
        let d = decode(&load(Q35, "02.0"));
        expect(
            &d,
            &[
                ("ext caps", "AER, DSN"),
                // 0x100: 01 00 02 14 -> AER version 2, next 0x140.
                ("ext AER.offset", "0x100"),
                ("ext AER.version", "2"),
                ("ext AER.uncor_status", "0x00000000"),
                // pc-q35-7.2 keeps the pre-8.0 empty uncorrectable mask.
                ("ext AER.uncor_mask", "0x00000000"),
                (
                    "ext AER.uncor_severity",
                    "0x00462030 (DLP SDES FCP RX_OVER MALF_TLP INTN)",
                ),
                ("ext AER.cor_mask", "0x0000e000 (ADV_NFAT INTERNAL LOG_OVER)"),
                ("ext AER.cap_ctl.ECRC_GEN_CAP", "1"),
                ("ext AER.cap_ctl.ECRC_CHK_CAP", "1"),
                ("ext AER.cap_ctl.ECRC_GEN_EN", "0"),
                ("ext AER.header_log", "0x00000000 0x00000000 0x00000000 0x00000000"),
                // 0x140: 03 00 01 00, 56 34 12 ff, ff 00 54 52 -> the MAC
                // 52:54:00:12:34:56 widened to EUI-64.
                ("ext DSN.offset", "0x140"),
                ("ext DSN.version", "1"),
                ("ext DSN.serial", "52-54-00-ff-ff-12-34-56"),
            ],
        );
        // Not a root port: no root error registers.
        assert!(keys_with(&d, "ext AER.root").is_empty());
        // Every non-zero byte of this device is in a decoded field.
        assert!(keys_with(&d, "raw[").is_empty(), "{:?}", keys_with(&d, "raw["));
    }

    #[test]
    fn q35_chipset_functions() {
        let host = decode(&load(Q35, "00.0"));
        expect(
            &host,
            &[
                ("device", "0x29c0 Q35 (82G33) DRAM controller"),
                ("class", "0x060000 Host bridge"),
                ("subsys_vendor", "0x1af4"),
                ("subsys_id", "0x1100"),
                ("status.CAP_LIST", "0"),
                // MCH registers stay raw: PCIEXBAR 0xb0000001, PAM0-6,
                // SMRAM 0x0a and ESMRAMC 0x38.
                ("raw[0x060]", "010000b0"),
                ("raw[0x090]", "1011111111313300"),
                ("raw[0x09c]", "000a3800"),
            ],
        );
        assert!(keys_with(&host, "cap ").is_empty());

        let lpc = decode(&load(Q35, "1f.0"));
        expect(
            &lpc,
            &[
                ("device", "0x2918 ICH9 LPC interface"),
                ("class", "0x060100 ISA bridge"),
                ("revision", "0x02"),
                ("multifunction", "1"),
                ("raw[0x040]", "0106000080000000"),
                ("raw[0x060]", "8a8a8b8b"),
                ("raw[0x0f0]", "01c0d1fe"),
            ],
        );

        let ahci = decode(&load(Q35, "1f.2"));
        expect(
            &ahci,
            &[
                ("class", "0x010601 SATA controller (AHCI)"),
                ("command.MASTER", "1"),
                ("bar4", "0x0000c061 (io)"),
                ("bar5", "0xfebd5000 (mem32)"),
                ("interrupt_line", "10"),
                ("caps", "MSI, SATA"),
                ("cap MSI.offset", "0x80"),
                ("cap MSI.64bit", "1"),
                // 0xa8: 12 00 10 00, 48 00 00 00 -> SATA 1.0, BAR4 + 0x10.
                ("cap SATA.offset", "0xa8"),
                ("cap SATA.revision_major", "1"),
                ("cap SATA.revision_minor", "0"),
                ("cap SATA.bar_location", "BAR 4"),
                ("cap SATA.bar_offset", "0x10"),
                // After the 14-byte MSI capability: ICH9's MAP register.
                ("raw[0x090]", "40000000"),
            ],
        );

        let smbus = decode(&load(Q35, "1f.3"));
        expect(
            &smbus,
            &[
                ("class", "0x0c0500 SMBus"),
                ("bar4", "0x00000701 (io)"),
                ("raw[0x040]", "01000000"),
            ],
        );

        let vga = decode(&load(Q35, "01.0"));
        expect(
            &vga,
            &[
                ("device", "0x1111 standard VGA"),
                ("class", "0x030000 VGA compatible controller"),
                ("bar0", "0xfd000008 (mem32 prefetchable)"),
                ("bar2", "0xfebd4000 (mem32)"),
                ("rom", "0xfebc0000 (disabled)"),
            ],
        );
    }

    #[test]
    fn virtio_net_capabilities_keyed_by_cfg_type() {
        let d = decode(&load(Q35_VIRTIO, "02.0"));
        expect(
            &d,
            &[
                ("device", "0x1000 virtio net (transitional)"),
                ("subsys_id", "0x0001"),
                ("bar0", "0x0000c181 (io)"),
                ("bar4", "0xfe00000c (mem64 prefetchable)"),
                ("bar5", "0x00000000 (upper half of bar4)"),
                (
                    "caps",
                    "MSI-X, virtio pci-cfg, virtio notify, virtio device, virtio isr, virtio common",
                ),
                // 0x98: 11 84 03 00, 01 00 00 00, 01 08 00 00.
                ("cap MSI-X.offset", "0x98"),
                ("cap MSI-X.table_size", "4"),
                ("cap MSI-X.table", "BAR 1 offset 0x0"),
                ("cap MSI-X.pba", "BAR 1 offset 0x800"),
                // 0x70: 09 60 14 02 04 .., offset 0x3000, length 0x1000, mult 4.
                ("cap virtio notify.offset", "0x70"),
                ("cap virtio notify.cfg_type", "2 (notify)"),
                ("cap virtio notify.bar", "4"),
                ("cap virtio notify.bar_offset", "0x3000"),
                ("cap virtio notify.length", "4096"),
                ("cap virtio notify.notify_off_multiplier", "4"),
                ("cap virtio common.offset", "0x40"),
                ("cap virtio common.bar_offset", "0x0"),
                ("cap virtio isr.bar_offset", "0x1000"),
                ("cap virtio device.bar_offset", "0x2000"),
                ("cap virtio pci-cfg.offset", "0x84"),
                ("cap virtio pci-cfg.len", "20"),
                ("cap virtio pci-cfg.pci_cfg_data", "0x00000000"),
            ],
        );
        assert!(keys_with(&d, "raw[").is_empty());
        assert!(keys_with(&d, "error").is_empty());
        // The balloon has no MSI-X: same virtio keys, no MSI-X ones.
        let b = decode(&load(Q35_VIRTIO, "07.0"));
        assert_eq!(b.get("device"), Some("0x1002 virtio balloon (transitional)"));
        assert_eq!(b.get("class"), Some("0x00ff00 Unclassified device"));
        assert_eq!(b.get("cap virtio notify.bar"), Some("4"));
        assert!(keys_with(&b, "cap MSI-X").is_empty());
    }

    #[test]
    fn i440fx_piix_functions() {
        let isa = decode(&load(I440FX, "01.0"));
        expect(&isa, &[("device", "0x7000 PIIX3 ISA bridge"), ("multifunction", "1")]);
        let ide = decode(&load(I440FX, "01.1"));
        // Status 0x0280: medium DEVSEL timing, fast back-to-back capable.
        expect(
            &ide,
            &[
                ("class", "0x010180 IDE interface"),
                ("bar4", "0x0000c041 (io)"),
                ("status.DEVSEL", "1 (medium)"),
                ("status.FAST_BACK", "1"),
            ],
        );
        let acpi = decode(&load(I440FX, "01.3"));
        expect(
            &acpi,
            &[
                ("device", "0x7113 PIIX4 ACPI"),
                ("interrupt_line", "9"),
                ("class", "0x068000 Bridge"),
            ],
        );
        let host = decode(&load(I440FX, "00.0"));
        expect(
            &host,
            &[("device", "0x1237 440FX host bridge"), ("status.DEVSEL", "0 (fast)")],
        );
        let nic = decode(&load(I440FX, "03.0"));
        expect(
            &nic,
            &[
                ("device", "0x100e 82540EM (e1000)"),
                ("bar0", "0xfebc0000 (mem32)"),
                ("bar1", "0x0000c001 (io)"),
            ],
        );
    }

    /// Every captured config space decodes cleanly.
    #[test]
    fn all_captures_decode_without_errors() {
        let root = format!("{}/tests/data", concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let mut n = 0;
        for dir in std::fs::read_dir(&root).unwrap() {
            let pci = dir.unwrap().path().join("pci");
            let Ok(files) = std::fs::read_dir(&pci) else { continue };
            for f in files {
                let path = f.unwrap().path();
                let d = decode(&std::fs::read(&path).unwrap());
                assert_eq!(error_of(&d), "", "{}", path.display());
                n += 1;
            }
        }
        assert_eq!(n, 6 * 4 + 11 * 3);
    }

    /// Keys whose values differ (or exist on one side only).
    fn diff_keys(a: &Decoded, b: &Decoded) -> Vec<String> {
        let keys: BTreeSet<&String> = a.items().keys().chain(b.items().keys()).collect();
        keys.into_iter().filter(|k| a.get(k) != b.get(k)).cloned().collect()
    }

    /// The versioned 7.2 machine types keep their PCI ABI on 10.0.2: for
    /// every address captured on both versions no decoded key differs
    /// (the captures are byte-identical).
    #[test]
    fn no_drift_between_7_2_22_and_10_0_2() {
        let mut compared = 0;
        let mut drift: Vec<(String, String, Vec<String>)> = Vec::new();
        for profile in ["pc-q35-7.2-default", "pc-q35-7.2-virtio", "pc-i440fx-7.2-default"] {
            let old_dir = format!(
                "{}/tests/data/{profile}-on-7.2.22/pci",
                concat!(env!("CARGO_MANIFEST_DIR"), "/..")
            );
            let mut names: Vec<String> = std::fs::read_dir(&old_dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                let new_path = old_dir.replace("7.2.22", "10.0.2") + "/" + &name;
                let Ok(new) = std::fs::read(&new_path) else { continue };
                let old = std::fs::read(format!("{old_dir}/{name}")).unwrap();
                compared += 1;
                let keys = diff_keys(&decode(&old), &decode(&new));
                if !keys.is_empty() {
                    drift.push((profile.to_string(), name, keys));
                }
            }
        }
        assert_eq!(compared, 6 + 11 + 6);
        assert_eq!(drift, Vec::<(String, String, Vec<String>)>::new());
    }

    /// The QEMU 8.0 ABI break (PCI_ERR_UNCOR_MASK defaulting to masked
    /// internal errors) shows as exactly one item.
    #[test]
    fn aer_uncor_mask_change_is_one_item() {
        let old = load(Q35, "02.0");
        let mut new = old.clone();
        new[0x108 + 2] = 0x40; // bit 22 of the uncorrectable error mask
        let (a, b) = (decode(&old), decode(&new));
        assert_eq!(diff_keys(&a, &b), vec!["ext AER.uncor_mask".to_string()]);
        assert_eq!(b.get("ext AER.uncor_mask"), Some("0x00400000 (INTN)"));
    }

    /// A hand-made PCIe root port: type 1 header and a version 2 PCI
    /// Express capability with a hot-plug slot.
    #[test]
    fn bridge_header_and_root_port_slot() {
        let mut c = vec![0u8; 256];
        let mut w = |off: usize, bytes: &[u8]| c[off..off + bytes.len()].copy_from_slice(bytes);
        w(0x00, &[0x36, 0x1b, 0x0c, 0x00, 0x07, 0x01, 0x10, 0x00]);
        w(0x09, &[0x00, 0x04, 0x06, 0x00, 0x00, 0x01]);
        w(0x18, &[0x00, 0x01, 0x01, 0x00, 0x10, 0x10]);
        w(0x20, &[0x80, 0xfe, 0x80, 0xfe, 0xf1, 0xff, 0x01, 0x00]);
        w(0x34, &[0x40]);
        w(0x3e, &[0x02, 0x00]);
        w(0x40, &[0x10, 0x00, 0x42, 0x01]); // version 2, root port, slot
        w(0x54, &0x0028_0060u32.to_le_bytes()); // HPS, HPC, slot number 5
        w(0x58, &[0xc0, 0x01, 0x40, 0x00]); // indicators off/on; presence
        let d = decode(&c);
        expect(
            &d,
            &[
                ("device", "0x000c PCIe root port"),
                ("class", "0x060400 PCI bridge"),
                ("header_type", "1 (PCI-to-PCI bridge)"),
                ("bus.primary", "0"),
                ("bus.secondary", "1"),
                ("bus.subordinate", "1"),
                ("io_window", "0x1000-0x1fff (16-bit)"),
                ("mem_window", "0xfe800000-0xfe8fffff"),
                ("pref_window", "closed (0xfff00000 > 0xfffff) (64-bit)"),
                ("bridge_control.SERR", "1"),
                ("cap PCIe.version", "2"),
                ("cap PCIe.type", "4 (root port)"),
                ("cap PCIe.slot", "1"),
                ("cap PCIe.slot_cap.HPC", "1"),
                ("cap PCIe.slot_cap.HPS", "1"),
                ("cap PCIe.slot_cap.ABP", "0"),
                ("cap PCIe.slot_cap.PSN", "5"),
                ("cap PCIe.slot_ctl.AIC", "3 (off)"),
                ("cap PCIe.slot_ctl.PIC", "1 (on)"),
                ("cap PCIe.slot_sta.PDS", "1"),
                ("cap PCIe.root_ctl.PMEIE", "0"),
                ("cap PCIe.dev_cap2.ARI", "0"),
                ("cap PCIe.link_cap2.SLS", "0x0"),
                ("cap PCIe.slot_cap2.IBPD_DIS", "0"),
            ],
        );
        assert!(keys_with(&d, "error").is_empty());
    }

    /// A small type 0 header with the capability list bit and `cap_ptr`.
    fn with_caps(len: usize, first: u8) -> Vec<u8> {
        let mut c = vec![0u8; len];
        c[0..4].copy_from_slice(&[0x86, 0x80, 0x34, 0x12]);
        c[0x06] = 0x10;
        c[0x34] = first;
        c
    }

    #[test]
    fn repeated_and_unknown_capabilities() {
        let mut c = with_caps(256, 0x40);
        c[0x40..0x42].copy_from_slice(&[0x05, 0x50]);
        c[0x50..0x52].copy_from_slice(&[0x05, 0x60]);
        c[0x60..0x64].copy_from_slice(&[0x1f, 0x00, 0xab, 0xcd]);
        let d = decode(&c);
        expect(
            &d,
            &[
                ("caps", "MSI, MSI, 0x1f"),
                ("cap MSI.offset", "0x40"),
                ("cap MSI #2.offset", "0x50"),
            ],
        );
        expect(&d, &[("cap MSI.address", "0x00000000"), ("cap 0x1f.offset", "0x60")]);
        // The unknown body runs to the sane bound of 64 bytes.
        let raw = d.get("cap 0x1f.raw").unwrap();
        assert_eq!(raw.len(), 2 * 62);
        assert!(raw.starts_with("abcd00"));
    }

    fn error_of(d: &Decoded) -> String {
        keys_with(d, "error")
            .iter()
            .map(|k| d.get(k).unwrap().to_string())
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn malformed_inputs_give_errors() {
        let d = decode(&[]);
        assert!(error_of(&d).contains("truncated"));
        let d = decode(&load(Q35, "02.0")[..16]);
        assert_eq!(d.get("vendor"), Some("0x8086 Intel"));
        assert!(error_of(&d).contains("truncated: 0x10 bytes"));

        // A loop, a pointer into the header, a capability running past 0x100.
        let mut c = with_caps(256, 0x40);
        c[0x40..0x42].copy_from_slice(&[0x01, 0x50]);
        c[0x50..0x52].copy_from_slice(&[0x05, 0x40]);
        assert!(error_of(&decode(&c)).contains("capability loop: pointer 0x40 at 0x51 revisits 0x40"));
        c[0x51] = 0x20;
        assert!(error_of(&decode(&c)).contains("capability pointer 0x20 at 0x51 out of range"));
        let mut c = with_caps(256, 0xf8);
        c[0xf8] = 0x11;
        assert!(error_of(&decode(&c)).contains("cap MSI-X: register at 0x100 runs past 0x100"));
        // A vendor capability whose length lies.
        let mut c = with_caps(256, 0xf0);
        c[0xf0..0xf3].copy_from_slice(&[0x09, 0x00, 0xff]);
        assert!(error_of(&decode(&c)).contains("cap Vendor: length 255 runs past 0x100"));

        // The e1000e cut inside its capabilities and inside AER.
        let full = load(Q35, "02.0");
        assert!(error_of(&decode(&full[..0xa0])).contains("capability pointer 0xc8 at 0x34 out of range"));
        assert!(error_of(&decode(&full[..0x110])).contains("ext AER: register at 0x110 runs past 0x110"));
        // Extended capability loop and backwards pointer.
        let mut x = full.clone();
        x[0x142] = 0x01; // DSN header: version 1, next 0x100
        x[0x143] = 0x10;
        assert!(error_of(&decode(&x)).contains("extended capability loop: pointer at 0x142 revisits 0x100"));
        x[0x143] = 0x08; // next 0x080
        assert!(error_of(&decode(&x)).contains("extended capability pointer at 0x142 -> 0x80 out of range"));
    }

    /// Pseudo-random garbage of many lengths: never a panic.
    #[test]
    fn garbage_never_panics() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..600 {
            let len = match round % 4 {
                0 => (next() % 300) as usize,
                1 => 256,
                2 => 4096,
                _ => (next() % 4200) as usize,
            };
            let mut c: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Make capability walks likely.
            if len > 0x40 {
                c[0x06] |= 0x10;
            }
            let d = decode(&c);
            assert_eq!(
                len < 0x40,
                !error_of(&d).is_empty() && error_of(&d).contains("truncated"),
                "len {len}"
            );
        }
        let _ = decode(&[0xff; 4096]);
        let _ = decode(&[0xff; 256]);
    }

    /// Every single-byte change of a real config space changes the decoded
    /// map, and nothing panics.
    #[test]
    fn every_byte_matters() {
        let cases = [
            (Q35, "02.0"),
            (Q35_VIRTIO, "02.0"),
            (Q35, "1f.2"),
            (Q35, "1f.0"),
            (Q35, "00.0"),
            (I440FX, "01.3"),
        ];
        for (dir, addr) in cases {
            let orig = load(dir, addr);
            let base = decode(&orig);
            for i in 0..orig.len() {
                for flip in [0xffu8, 0x01, 0x80] {
                    let mut m = orig.clone();
                    m[i] ^= flip;
                    assert_ne!(decode(&m), base, "{dir} {addr}: byte {i:#x} ^ {flip:#04x} went unseen");
                }
            }
        }
    }
}
