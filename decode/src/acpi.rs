//! Fixed ACPI tables: the standard header of every table, and the bodies of
//! the tables whose layout is fixed by the specification (FADT, FACS, MADT,
//! MCFG, HPET, SRAT, SLIT, WAET, BGRT, TPM2, DMAR, VIOT, and Arm's GTDT,
//! IORT, PPTT, SPCR and DBG2 in the `arm` submodule).
//!
//! The AML bodies of DSDT/SSDT are left to the AML decoder; every other byte
//! this module does not understand is kept as raw hex, so the view is
//! complete. Sub-structures (MADT entries, SRAT affinities, MCFG
//! allocations, …) are keyed by their identity (processor uid, IRQ, base
//! address) rather than their position; their order is kept in one
//! `entries` item so a reordering still shows.

use super::{hash_summary, Decoded};
use std::collections::BTreeMap;

mod arm;

/// Size of the standard ACPI description header.
const HEADER_LEN: usize = 36;
/// Raw regions longer than this are summarised by a hash instead of hex lines.
const RAW_HASH_THRESHOLD: usize = 4096;

/// Decode one whole ACPI table, as read from `/sys/firmware/acpi/tables`.
///
/// Keys: `header.*` for the standard header, then table-specific keys (see
/// the module documentation); `raw[0xOFF]` for undecoded bytes (16 per
/// item), `error` for malformed input. Never panics.
pub fn decode(table: &[u8]) -> Decoded {
    let mut out = Decoded::new();
    if table.get(..4) == Some(b"FACS") {
        decode_facs(table, &mut out);
    } else {
        decode_standard(table, &mut out);
    }
    out
}

/// Decode a Root System Description Pointer (ACPI 6.5, 5.2.5.3): 20 bytes
/// for revision 0, 36 from revision 2. QEMU hands it to the firmware in
/// fw_cfg (`etc/acpi/rsdp`) with the table addresses still zero; the
/// firmware patches them in guest memory. Never panics.
pub fn rsdp(bytes: &[u8]) -> Decoded {
    let mut out = Decoded::new();
    if bytes.len() < 20 {
        out.put("error", format!("{} bytes, an RSDP has at least 20", bytes.len()));
        return out;
    }
    let sum = |b: &[u8]| b.iter().fold(0u8, |s, x| s.wrapping_add(*x));
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    out.put("signature", text(&bytes[0..8]));
    out.put(
        "checksum",
        format!(
            "{:#04x} ({})",
            bytes[8],
            if sum(&bytes[..20]) == 0 { "valid" } else { "INVALID" }
        ),
    );
    out.put("oem_id", text(&bytes[9..15]));
    out.put("revision", bytes[15].to_string());
    out.put("rsdt_address", format!("{:#010x}", u32_at(16).unwrap_or(0)));
    if bytes[15] >= 2 {
        match (u32_at(20), bytes.get(24..32), bytes.get(32), bytes.get(33..36)) {
            (Some(len), Some(x), Some(ext), Some(reserved)) => {
                out.put("length", len.to_string());
                let mut a = [0u8; 8];
                a.copy_from_slice(x);
                out.put("xsdt_address", format!("{:#018x}", u64::from_le_bytes(a)));
                let ok = bytes.get(..36).is_some_and(|b| sum(b) == 0);
                out.put(
                    "extended_checksum",
                    format!("{ext:#04x} ({})", if ok { "valid" } else { "INVALID" }),
                );
                out.put("reserved", hex_bytes(reserved));
            }
            _ => out.put(
                "error",
                format!("revision {} but only {} bytes", bytes[15], bytes.len()),
            ),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Byte access with coverage tracking
// ---------------------------------------------------------------------------

/// A byte region whose decoded parts are marked, so whatever no decoder
/// consumed can be emitted as raw items at the end (completeness).
struct Fields<'a> {
    data: &'a [u8],
    used: Vec<bool>,
}

impl<'a> Fields<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            used: vec![false; data.len()],
        }
    }

    /// The bytes `off..off+len` if all present, marking them decoded.
    fn take(&mut self, off: usize, len: usize) -> Option<&'a [u8]> {
        let end = off.checked_add(len)?;
        let bytes = self.data.get(off..end)?;
        for u in self.used.get_mut(off..end)? {
            *u = true;
        }
        Some(bytes)
    }

    /// A little-endian integer of `width` bytes, marking it decoded.
    fn int(&mut self, off: usize, width: usize) -> Option<u64> {
        self.take(off, width).map(le)
    }

    /// A little-endian integer without marking it (for look-ahead).
    fn peek(&self, off: usize, width: usize) -> Option<u64> {
        peek(self.data, off, width)
    }

    /// Emit every byte run nobody decoded as raw items under `prefix`.
    fn finish(self, out: &mut Decoded, prefix: &str) {
        let mut i = 0;
        while i < self.data.len() {
            if self.used.get(i).copied().unwrap_or(true) {
                i += 1;
                continue;
            }
            let start = i;
            while i < self.data.len() && !self.used.get(i).copied().unwrap_or(true) {
                i += 1;
            }
            put_raw(out, prefix, start, self.data.get(start..i).unwrap_or_default());
        }
    }
}

/// Little-endian value of up to 8 bytes (longer input keeps the low 8).
fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// A little-endian integer of `width` bytes at `off`, if present.
fn peek(data: &[u8], off: usize, width: usize) -> Option<u64> {
    data.get(off..off.checked_add(width)?).map(le)
}

/// Raw bytes as `raw[0xOFF]` items of 16 bytes each, or one hash item when long.
fn put_raw(out: &mut Decoded, prefix: &str, base: usize, bytes: &[u8]) {
    if bytes.len() > RAW_HASH_THRESHOLD {
        out.put(format!("{prefix}raw[{base:#x}]"), hash_summary(bytes));
        return;
    }
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let off = base.saturating_add(i.saturating_mul(16));
        out.put(format!("{prefix}raw[{off:#x}]"), hex_bytes(chunk));
    }
}

/// Space-separated lowercase hex bytes.
fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// ASCII text in quotes; anything else escaped, so distinct bytes stay distinct.
fn text(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

// ---------------------------------------------------------------------------
// Table-driven fields
// ---------------------------------------------------------------------------

/// How one fixed field is read and shown.
#[derive(Clone, Copy)]
enum Kind {
    /// Register, address or id of the given byte width: `0x1f`.
    Hex(usize),
    /// Count or size: decimal.
    Dec(usize),
    /// ASCII string of the given length, quoted.
    Text(usize),
    /// Opaque bytes: hex bytes.
    Bytes(usize),
    /// 12-byte Generic Address Structure.
    Gas,
    /// Flags: each `(shift, bits, NAME)` becomes `key.NAME`; the remaining
    /// bits go to `key.reserved`.
    Bits(usize, &'static [(u32, u32, &'static str)]),
    /// An integer shown by a formatter (must be injective).
    Fmt(usize, fn(u64) -> String),
    /// An integer split into several items by a function.
    Sub(usize, fn(&mut Decoded, &str, u64)),
}

impl Kind {
    fn size(self) -> usize {
        match self {
            Kind::Hex(w) | Kind::Dec(w) | Kind::Text(w) | Kind::Bytes(w) => w,
            Kind::Bits(w, _) | Kind::Fmt(w, _) | Kind::Sub(w, _) => w,
            Kind::Gas => 12,
        }
    }
}

/// A fixed field: offset, key, kind.
type Field = (usize, &'static str, Kind);

/// Decode each field that is wholly present; partial ones stay raw.
fn decode_fields(f: &mut Fields, out: &mut Decoded, prefix: &str, fields: &[Field]) {
    for &(off, name, kind) in fields {
        let Some(bytes) = f.take(off, kind.size()) else {
            continue;
        };
        let key = format!("{prefix}{name}");
        let v = le(bytes);
        match kind {
            Kind::Hex(_) => out.put(key, format!("{v:#x}")),
            Kind::Dec(_) => out.put(key, v.to_string()),
            Kind::Text(_) => out.put(key, text(bytes)),
            Kind::Bytes(_) => out.put(key, hex_bytes(bytes)),
            Kind::Gas => out.put(key, gas(bytes)),
            Kind::Bits(w, names) => put_bits(out, &key, v, w, names),
            Kind::Fmt(_, fmt) => out.put(key, fmt(v)),
            Kind::Sub(_, sub) => sub(out, &key, v),
        }
    }
}

/// Named bit fields of a flags word, plus `.reserved` for every other bit.
fn put_bits(out: &mut Decoded, key: &str, v: u64, width: usize, names: &[(u32, u32, &str)]) {
    let all = if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (width * 8)) - 1
    };
    let mut rest = v & all;
    for &(shift, bits, name) in names {
        let mask = ((1u64 << bits) - 1) << shift;
        rest &= !mask;
        out.put(format!("{key}.{name}"), ((v & mask) >> shift).to_string());
    }
    out.put(format!("{key}.reserved"), format!("{rest:#x}"));
}

/// `SystemIO 0xb008 width 32 offset 0 access 3`.
fn gas(b: &[u8]) -> String {
    let byte = |i: usize| b.get(i).copied().unwrap_or(0);
    let space = match byte(0) {
        0x00 => "SystemMemory".to_string(),
        0x01 => "SystemIO".to_string(),
        0x02 => "PCIConfig".to_string(),
        0x03 => "EmbeddedControl".to_string(),
        0x04 => "SMBus".to_string(),
        0x05 => "SystemCMOS".to_string(),
        0x06 => "PciBarTarget".to_string(),
        0x07 => "IPMI".to_string(),
        0x08 => "GeneralPurposeIO".to_string(),
        0x09 => "GenericSerialBus".to_string(),
        0x0a => "PCC".to_string(),
        0x0b => "PRM".to_string(),
        0x7f => "FunctionalFixedHW".to_string(),
        other => format!("space {other:#x}"),
    };
    let addr = le(b.get(4..12).unwrap_or_default());
    format!(
        "{space} {addr:#x} width {} offset {} access {}",
        byte(1),
        byte(2),
        byte(3)
    )
}

// ---------------------------------------------------------------------------
// Header, length checks, dispatch
// ---------------------------------------------------------------------------

/// Work out how many bytes belong to the table, reporting lying lengths.
/// `min` is the smallest length that holds the fixed header.
fn table_extent(table: &[u8], min: usize, out: &mut Decoded) -> usize {
    let Some(declared) = peek(table, 4, 4) else {
        out.put(
            "error",
            format!("truncated: only {} bytes, no length field", table.len()),
        );
        return table.len();
    };
    let declared = usize::try_from(declared).unwrap_or(usize::MAX);
    if table.len() < min {
        out.put(
            "error",
            format!(
                "truncated: only {} bytes, shorter than the {min}-byte header",
                table.len()
            ),
        );
    }
    if declared > table.len() {
        out.put(
            "error",
            format!(
                "truncated: table length {declared:#x} but only {:#x} bytes",
                table.len()
            ),
        );
        table.len()
    } else if declared < min {
        out.put(
            "error",
            format!("bad length: table length {declared:#x} is shorter than the {min}-byte header"),
        );
        table.len()
    } else {
        if declared < table.len() {
            out.put(
                "error",
                format!("{} bytes beyond the table length {declared:#x}", table.len() - declared),
            );
        }
        declared
    }
}

/// Bytes after the declared length, kept so nothing is lost.
fn put_trailing(table: &[u8], end: usize, out: &mut Decoded) {
    if let Some(rest) = table.get(end..) {
        if !rest.is_empty() {
            put_raw(out, "trailing.", end, rest);
        }
    }
}

/// Every table with the standard 36-byte header.
fn decode_standard(table: &[u8], out: &mut Decoded) {
    let end = table_extent(table, HEADER_LEN, out);
    let body = table.get(..end).unwrap_or(table);
    let mut f = Fields::new(body);
    decode_header(&mut f, out, body);
    if body.len() >= HEADER_LEN {
        let sig: [u8; 4] = body.get(..4).and_then(|s| s.try_into().ok()).unwrap_or_default();
        match &sig {
            b"FACP" => decode_fields(&mut f, out, "", FADT_FIELDS),
            b"APIC" => decode_madt(&mut f, out),
            b"MCFG" => decode_mcfg(&mut f, out),
            b"HPET" => decode_fields(&mut f, out, "", HPET_FIELDS),
            b"SRAT" => decode_srat(&mut f, out),
            b"SLIT" => decode_slit(&mut f, out),
            b"WAET" => decode_fields(&mut f, out, "", WAET_FIELDS),
            b"BGRT" => decode_fields(&mut f, out, "", BGRT_FIELDS),
            b"TPM2" => decode_fields(&mut f, out, "", TPM2_FIELDS),
            b"DMAR" => decode_dmar(&mut f, out),
            b"VIOT" => decode_viot(&mut f, out),
            b"GTDT" => arm::decode_gtdt(&mut f, out),
            b"IORT" => arm::decode_iort(&mut f, out),
            b"PPTT" => arm::decode_pptt(&mut f, out),
            b"SPCR" => arm::decode_spcr(&mut f, out),
            b"DBG2" => arm::decode_dbg2(&mut f, out),
            // The AML decoder walks these bodies; here they are only the header.
            b"DSDT" | b"SSDT" => {
                f.take(HEADER_LEN, body.len() - HEADER_LEN);
            }
            _ => {}
        }
    }
    f.finish(out, "");
    put_trailing(table, end, out);
}

const HEADER_FIELDS: &[Field] = &[
    (0, "header.signature", Kind::Text(4)),
    (4, "header.length", Kind::Dec(4)),
    (8, "header.revision", Kind::Dec(1)),
    (10, "header.oem_id", Kind::Text(6)),
    (16, "header.oem_table_id", Kind::Text(8)),
    (24, "header.oem_revision", Kind::Hex(4)),
    (28, "header.creator_id", Kind::Text(4)),
    (32, "header.creator_revision", Kind::Hex(4)),
];

/// The standard header; the checksum item also says whether it is valid.
fn decode_header(f: &mut Fields, out: &mut Decoded, body: &[u8]) {
    decode_fields(f, out, "", HEADER_FIELDS);
    if let Some(c) = f.int(9, 1) {
        let sum = body.iter().fold(0u8, |a, &b| a.wrapping_add(b));
        let state = if sum == 0 {
            "valid".to_string()
        } else {
            format!("invalid: bytes sum to {sum:#x}")
        };
        out.put("header.checksum", format!("{c:#x} ({state})"));
    }
}

// ---------------------------------------------------------------------------
// FACS
// ---------------------------------------------------------------------------

const FACS_FIELDS: &[Field] = &[
    (0, "signature", Kind::Text(4)),
    (4, "length", Kind::Dec(4)),
    (8, "hardware_signature", Kind::Hex(4)),
    (12, "firmware_waking_vector", Kind::Hex(4)),
    (16, "global_lock", Kind::Hex(4)),
    (
        20,
        "flags",
        Kind::Bits(4, &[(0, 1, "S4BIOS_F"), (1, 1, "64BIT_WAKE_SUPPORTED_F")]),
    ),
    (24, "x_firmware_waking_vector", Kind::Hex(8)),
    (32, "version", Kind::Dec(1)),
    (33, "reserved", Kind::Bytes(3)),
    (36, "ospm_flags", Kind::Bits(4, &[(0, 1, "64BIT_WAKE_F")])),
    (40, "reserved2", Kind::Bytes(24)),
];

/// FACS: no standard header and no checksum; 64 bytes in ACPI 2.0+.
fn decode_facs(table: &[u8], out: &mut Decoded) {
    let end = table_extent(table, 8, out);
    let body = table.get(..end).unwrap_or(table);
    let mut f = Fields::new(body);
    decode_fields(&mut f, out, "", FACS_FIELDS);
    f.finish(out, "");
    put_trailing(table, end, out);
}

// ---------------------------------------------------------------------------
// FADT
// ---------------------------------------------------------------------------

const FADT_FLAGS: &[(u32, u32, &str)] = &[
    (0, 1, "WBINVD"),
    (1, 1, "WBINVD_FLUSH"),
    (2, 1, "PROC_C1"),
    (3, 1, "P_LVL2_UP"),
    (4, 1, "PWR_BUTTON"),
    (5, 1, "SLP_BUTTON"),
    (6, 1, "FIX_RTC"),
    (7, 1, "RTC_S4"),
    (8, 1, "TMR_VAL_EXT"),
    (9, 1, "DCK_CAP"),
    (10, 1, "RESET_REG_SUP"),
    (11, 1, "SEALED_CASE"),
    (12, 1, "HEADLESS"),
    (13, 1, "CPU_SW_SLP"),
    (14, 1, "PCI_EXP_WAK"),
    (15, 1, "USE_PLATFORM_CLOCK"),
    (16, 1, "S4_RTC_STS_VALID"),
    (17, 1, "REMOTE_POWER_ON_CAPABLE"),
    (18, 1, "FORCE_APIC_CLUSTER_MODEL"),
    (19, 1, "FORCE_APIC_PHYSICAL_DESTINATION_MODE"),
    (20, 1, "HW_REDUCED_ACPI"),
    (21, 1, "LOW_POWER_S0_IDLE_CAPABLE"),
    (22, 2, "PERSISTENT_CPU_CACHES"),
];

const IAPC_BOOT_ARCH: &[(u32, u32, &str)] = &[
    (0, 1, "LEGACY_DEVICES"),
    (1, 1, "8042"),
    (2, 1, "VGA_NOT_PRESENT"),
    (3, 1, "MSI_NOT_SUPPORTED"),
    (4, 1, "PCIE_ASPM_CONTROLS"),
    (5, 1, "CMOS_RTC_NOT_PRESENT"),
];

const ARM_BOOT_ARCH: &[(u32, u32, &str)] = &[(0, 1, "PSCI_COMPLIANT"), (1, 1, "PSCI_USE_HVC")];

/// FADT layout of ACPI 6.5; older revisions simply end earlier.
const FADT_FIELDS: &[Field] = &[
    (0x24, "firmware_ctrl", Kind::Hex(4)),
    (0x28, "dsdt", Kind::Hex(4)),
    (0x2c, "int_model", Kind::Hex(1)),
    (0x2d, "preferred_pm_profile", Kind::Fmt(1, pm_profile)),
    (0x2e, "sci_int", Kind::Dec(2)),
    (0x30, "smi_cmd", Kind::Hex(4)),
    (0x34, "acpi_enable", Kind::Hex(1)),
    (0x35, "acpi_disable", Kind::Hex(1)),
    (0x36, "s4bios_req", Kind::Hex(1)),
    (0x37, "pstate_cnt", Kind::Hex(1)),
    (0x38, "pm1a_evt_blk", Kind::Hex(4)),
    (0x3c, "pm1b_evt_blk", Kind::Hex(4)),
    (0x40, "pm1a_cnt_blk", Kind::Hex(4)),
    (0x44, "pm1b_cnt_blk", Kind::Hex(4)),
    (0x48, "pm2_cnt_blk", Kind::Hex(4)),
    (0x4c, "pm_tmr_blk", Kind::Hex(4)),
    (0x50, "gpe0_blk", Kind::Hex(4)),
    (0x54, "gpe1_blk", Kind::Hex(4)),
    (0x58, "pm1_evt_len", Kind::Dec(1)),
    (0x59, "pm1_cnt_len", Kind::Dec(1)),
    (0x5a, "pm2_cnt_len", Kind::Dec(1)),
    (0x5b, "pm_tmr_len", Kind::Dec(1)),
    (0x5c, "gpe0_blk_len", Kind::Dec(1)),
    (0x5d, "gpe1_blk_len", Kind::Dec(1)),
    (0x5e, "gpe1_base", Kind::Dec(1)),
    (0x5f, "cst_cnt", Kind::Hex(1)),
    (0x60, "p_lvl2_lat", Kind::Dec(2)),
    (0x62, "p_lvl3_lat", Kind::Dec(2)),
    (0x64, "flush_size", Kind::Dec(2)),
    (0x66, "flush_stride", Kind::Dec(2)),
    (0x68, "duty_offset", Kind::Dec(1)),
    (0x69, "duty_width", Kind::Dec(1)),
    (0x6a, "day_alrm", Kind::Hex(1)),
    (0x6b, "mon_alrm", Kind::Hex(1)),
    (0x6c, "century", Kind::Hex(1)),
    (0x6d, "iapc_boot_arch", Kind::Bits(2, IAPC_BOOT_ARCH)),
    (0x6f, "reserved", Kind::Hex(1)),
    (0x70, "flags", Kind::Bits(4, FADT_FLAGS)),
    (0x74, "reset_reg", Kind::Gas),
    (0x80, "reset_value", Kind::Hex(1)),
    (0x81, "arm_boot_arch", Kind::Bits(2, ARM_BOOT_ARCH)),
    (0x83, "fadt_minor_version", Kind::Fmt(1, fadt_minor)),
    (0x84, "x_firmware_ctrl", Kind::Hex(8)),
    (0x8c, "x_dsdt", Kind::Hex(8)),
    (0x94, "x_pm1a_evt_blk", Kind::Gas),
    (0xa0, "x_pm1b_evt_blk", Kind::Gas),
    (0xac, "x_pm1a_cnt_blk", Kind::Gas),
    (0xb8, "x_pm1b_cnt_blk", Kind::Gas),
    (0xc4, "x_pm2_cnt_blk", Kind::Gas),
    (0xd0, "x_pm_tmr_blk", Kind::Gas),
    (0xdc, "x_gpe0_blk", Kind::Gas),
    (0xe8, "x_gpe1_blk", Kind::Gas),
    (0xf4, "sleep_control_reg", Kind::Gas),
    (0x100, "sleep_status_reg", Kind::Gas),
    (0x10c, "hypervisor_vendor_identity", Kind::Hex(8)),
];

fn pm_profile(v: u64) -> String {
    let name = match v {
        0 => "Unspecified",
        1 => "Desktop",
        2 => "Mobile",
        3 => "Workstation",
        4 => "Enterprise Server",
        5 => "SOHO Server",
        6 => "Appliance PC",
        7 => "Performance Server",
        8 => "Tablet",
        _ => return format!("reserved ({v})"),
    };
    format!("{name} ({v})")
}

/// Low nibble minor version, high nibble errata.
fn fadt_minor(v: u64) -> String {
    let (minor, errata) = (v & 0xf, v >> 4);
    if errata == 0 {
        minor.to_string()
    } else {
        format!("{minor} errata {errata}")
    }
}

// ---------------------------------------------------------------------------
// Sub-structure lists (MADT, SRAT, DMAR, VIOT, MCFG)
// ---------------------------------------------------------------------------

/// How a list's entries announce their type and length.
#[derive(Clone, Copy)]
enum Hdr {
    /// MADT, SRAT: type u8, length u8.
    U8U8,
    /// DMAR: type u16, length u16.
    U16U16,
    /// VIOT: type u8, reserved u8, length u16.
    U8PadU16,
    /// IORT, GTDT platform timers, DBG2: type u8, length u16.
    U8U16,
}

impl Hdr {
    fn len(self) -> usize {
        match self {
            Hdr::U8U8 => 2,
            Hdr::U16U16 | Hdr::U8PadU16 => 4,
            Hdr::U8U16 => 3,
        }
    }

    fn parse(self, data: &[u8], off: usize) -> Option<(u16, usize)> {
        let (ty, len) = match self {
            Hdr::U8U8 => (peek(data, off, 1)?, peek(data, off.checked_add(1)?, 1)?),
            Hdr::U16U16 => (peek(data, off, 2)?, peek(data, off.checked_add(2)?, 2)?),
            Hdr::U8PadU16 => (peek(data, off, 1)?, peek(data, off.checked_add(2)?, 2)?),
            Hdr::U8U16 => (peek(data, off, 1)?, peek(data, off.checked_add(1)?, 2)?),
        };
        Some((u16::try_from(ty).ok()?, usize::try_from(len).ok()?))
    }
}

/// One decoded sub-structure: keyed `"{name} {ident}."`.
struct Entry {
    name: String,
    ident: String,
    items: Decoded,
    errors: Vec<String>,
}

impl Entry {
    fn label(&self) -> String {
        if self.ident.is_empty() {
            self.name.clone()
        } else {
            format!("{} {}", self.name, self.ident)
        }
    }
}

/// A known sub-structure type: its name, how its identity is read, its fields.
struct SubDef {
    name: &'static str,
    /// Identity string (`uid 0x0`), marking the bytes it reads as decoded;
    /// `None` falls back to `#occurrence`.
    ident: fn(&mut Fields) -> Option<String>,
    fields: &'static [Field],
    /// Variable-length tail (device scopes, names), if any.
    tail: Option<fn(&mut Fields, &mut Entry)>,
}

/// Decode one sub-structure with `def`, or as raw hex keyed by type and
/// occurrence when the type is unknown.
fn decode_sub(def: Option<&SubDef>, ty: u16, bytes: &[u8], nth: usize, hdr: Hdr) -> Entry {
    let mut f = Fields::new(bytes);
    // The type and length are expressed by the label and by where raw bytes
    // start; mark them so they are not repeated as raw.
    f.take(0, hdr.len());
    let occurrence = format!("#{nth}");
    let Some(def) = def else {
        let mut e = Entry {
            name: format!("type {ty:#x}"),
            ident: occurrence,
            items: Decoded::new(),
            errors: vec![],
        };
        if let Hdr::U8PadU16 = hdr {
            // VIOT's reserved byte sits inside the header.
            if let Some(u) = f.used.get_mut(1) {
                *u = false;
            }
        }
        f.finish(&mut e.items, "");
        return e;
    };
    let ident = (def.ident)(&mut f).unwrap_or(occurrence);
    let mut e = Entry {
        name: def.name.to_string(),
        ident,
        items: Decoded::new(),
        errors: vec![],
    };
    decode_fields(&mut f, &mut e.items, "", def.fields);
    if let Some(tail) = def.tail {
        tail(&mut f, &mut e);
    }
    f.finish(&mut e.items, "");
    e
}

/// One list entry before decoding: table offset, type, bytes.
type RawEntry<'a> = (usize, u16, &'a [u8]);

/// Split a type/length list starting at `start` into `(offset, type, bytes)`;
/// stops at the first malformed entry, returning why.
fn split(data: &[u8], start: usize, hdr: Hdr) -> (Vec<RawEntry<'_>>, Option<String>) {
    let mut list = Vec::new();
    let mut off = start;
    while off < data.len() {
        let left = data.len() - off;
        let Some((ty, len)) = hdr.parse(data, off) else {
            return (
                list,
                Some(format!("truncated entry header at {off:#x}: {left} bytes left")),
            );
        };
        if len < hdr.len() {
            return (
                list,
                Some(format!(
                    "entry at {off:#x} (type {ty:#x}) has length {len}, shorter than its header"
                )),
            );
        }
        if len > left {
            return (
                list,
                Some(format!(
                    "entry at {off:#x} (type {ty:#x}) length {len} runs past the end ({left} bytes left)"
                )),
            );
        }
        list.push((off, ty, data.get(off..off + len).unwrap_or_default()));
        off += len;
    }
    (list, None)
}

/// Emit decoded entries under their labels, their errors, and the ordered
/// `entries` list (consecutive entries of one type grouped).
fn emit_entries(out: &mut Decoded, entries: Vec<Entry>) {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for e in entries {
        let label = e.label();
        match groups.last_mut() {
            Some((name, ids)) if *name == e.name => ids.push(e.ident.clone()),
            _ => groups.push((e.name.clone(), vec![e.ident.clone()])),
        }
        for err in e.errors {
            out.put("error", format!("{label}: {err}"));
        }
        out.extend_prefixed(&format!("{label}."), e.items);
    }
    let list: Vec<String> = groups
        .into_iter()
        .map(|(name, ids)| {
            if ids.iter().all(String::is_empty) && ids.len() > 1 {
                format!("{name} x{}", ids.len())
            } else if ids.iter().all(String::is_empty) {
                name
            } else {
                format!("{name} {}", ids.join(", "))
            }
        })
        .collect();
    out.put("entries", list.join("; "));
}

/// Walk a type/length list, decoding each entry with `lookup(type)`.
fn walk(f: &mut Fields, out: &mut Decoded, start: usize, hdr: Hdr, lookup: fn(u16) -> Option<&'static SubDef>) {
    let (list, err) = split(f.data, start, hdr);
    let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
    let mut entries = Vec::new();
    for (off, ty, bytes) in list {
        f.take(off, bytes.len());
        let nth = seen.entry(ty).or_insert(0);
        *nth += 1;
        entries.push(decode_sub(lookup(ty), ty, bytes, *nth, hdr));
    }
    emit_entries(out, entries);
    if let Some(err) = err {
        out.put("error", err);
    }
}

/// Identity helpers: `"{what} 0x{value}"` / decimal, from a field.
fn id_hex(f: &mut Fields, what: &str, off: usize, width: usize) -> Option<String> {
    Some(format!("{what} {:#x}", f.int(off, width)?))
}

fn id_dec(f: &mut Fields, what: &str, off: usize, width: usize) -> Option<String> {
    Some(format!("{what} {}", f.int(off, width)?))
}

/// An identity made of several fields: all of `parts` must be present, and
/// only then are they marked decoded.
fn id_multi<const N: usize>(
    f: &mut Fields,
    parts: [(usize, usize); N],
    show: fn([u64; N]) -> String,
) -> Option<String> {
    let mut values = [0u64; N];
    for (v, &(off, w)) in values.iter_mut().zip(&parts) {
        *v = f.peek(off, w)?;
    }
    for (off, w) in parts {
        f.take(off, w);
    }
    Some(show(values))
}

// ---------------------------------------------------------------------------
// MADT
// ---------------------------------------------------------------------------

/// Processor Local APIC / x2APIC flags.
fn lapic_flags(v: u64) -> String {
    let mut s = vec![if v & 1 != 0 {
        "enabled".to_string()
    } else {
        "disabled".to_string()
    }];
    if v & 2 != 0 {
        s.push("online capable".into());
    }
    if v & !3 != 0 {
        s.push(format!("reserved {:#x}", v & !3));
    }
    s.join(", ")
}

/// MPS INTI flags: polarity and trigger mode.
fn inti_flags(v: u64) -> String {
    let polarity = match v & 3 {
        0 => "conforming",
        1 => "active high",
        2 => "reserved(2)",
        _ => "active low",
    };
    let trigger = match (v >> 2) & 3 {
        0 => "conforming",
        1 => "edge",
        2 => "reserved(2)",
        _ => "level",
    };
    let mut s = format!("polarity {polarity}, trigger {trigger}");
    if v >> 4 != 0 {
        s.push_str(&format!(", reserved {:#x}", v >> 4 << 4));
    }
    s
}

/// GICC flags.
fn gicc_flags(v: u64) -> String {
    let mut s = vec![if v & 1 != 0 {
        "enabled".to_string()
    } else {
        "disabled".to_string()
    }];
    s.push(format!("perf irq {}", if v & 2 != 0 { "edge" } else { "level" }));
    s.push(format!("vgic irq {}", if v & 4 != 0 { "edge" } else { "level" }));
    if v & 8 != 0 {
        s.push("online capable".into());
    }
    if v & !0xf != 0 {
        s.push(format!("reserved {:#x}", v & !0xf));
    }
    s.join(", ")
}

const MADT_DEFS: &[(u16, SubDef)] = &[
    (
        0,
        SubDef {
            name: "Local APIC",
            ident: |f| id_hex(f, "uid", 2, 1),
            fields: &[(3, "apic_id", Kind::Hex(1)), (4, "flags", Kind::Fmt(4, lapic_flags))],
            tail: None,
        },
    ),
    (
        1,
        SubDef {
            name: "I/O APIC",
            ident: |f| id_hex(f, "id", 2, 1),
            fields: &[
                (3, "reserved", Kind::Hex(1)),
                (4, "address", Kind::Hex(4)),
                (8, "gsi_base", Kind::Dec(4)),
            ],
            tail: None,
        },
    ),
    (
        2,
        SubDef {
            name: "Interrupt Source Override",
            ident: |f| id_dec(f, "irq", 3, 1),
            fields: &[
                (2, "bus", Kind::Hex(1)),
                (4, "gsi", Kind::Dec(4)),
                (8, "flags", Kind::Fmt(2, inti_flags)),
            ],
            tail: None,
        },
    ),
    (
        3,
        SubDef {
            name: "NMI Source",
            ident: |f| id_dec(f, "gsi", 4, 4),
            fields: &[(2, "flags", Kind::Fmt(2, inti_flags))],
            tail: None,
        },
    ),
    (
        4,
        SubDef {
            name: "Local APIC NMI",
            ident: |f| id_hex(f, "uid", 2, 1),
            fields: &[(3, "flags", Kind::Fmt(2, inti_flags)), (5, "lint", Kind::Dec(1))],
            tail: None,
        },
    ),
    (
        5,
        SubDef {
            name: "Local APIC Address Override",
            ident: |_| Some(String::new()),
            fields: &[(2, "reserved", Kind::Hex(2)), (4, "address", Kind::Hex(8))],
            tail: None,
        },
    ),
    (
        6,
        SubDef {
            name: "I/O SAPIC",
            ident: |f| id_hex(f, "id", 2, 1),
            fields: &[],
            tail: None,
        },
    ),
    (
        7,
        SubDef {
            name: "Local SAPIC",
            ident: |f| id_hex(f, "id", 2, 1),
            fields: &[],
            tail: None,
        },
    ),
    (
        8,
        SubDef {
            name: "Platform Interrupt Source",
            ident: |_| None,
            fields: &[],
            tail: None,
        },
    ),
    (
        9,
        SubDef {
            name: "Local x2APIC",
            ident: |f| id_hex(f, "uid", 12, 4),
            fields: &[
                (2, "reserved", Kind::Hex(2)),
                (4, "x2apic_id", Kind::Hex(4)),
                (8, "flags", Kind::Fmt(4, lapic_flags)),
            ],
            tail: None,
        },
    ),
    (
        0xa,
        SubDef {
            name: "Local x2APIC NMI",
            ident: |f| id_hex(f, "uid", 4, 4),
            fields: &[
                (2, "flags", Kind::Fmt(2, inti_flags)),
                (8, "lint", Kind::Dec(1)),
                (9, "reserved", Kind::Hex(3)),
            ],
            tail: None,
        },
    ),
    (
        0xb,
        SubDef {
            name: "GICC",
            ident: |f| id_hex(f, "uid", 8, 4),
            fields: &[
                (2, "reserved", Kind::Hex(2)),
                (4, "cpu_interface_number", Kind::Hex(4)),
                (12, "flags", Kind::Fmt(4, gicc_flags)),
                (16, "parking_protocol_version", Kind::Dec(4)),
                (20, "performance_gsiv", Kind::Dec(4)),
                (24, "parked_address", Kind::Hex(8)),
                (32, "base_address", Kind::Hex(8)),
                (40, "gicv", Kind::Hex(8)),
                (48, "gich", Kind::Hex(8)),
                (56, "vgic_maintenance_gsiv", Kind::Dec(4)),
                (60, "gicr_base_address", Kind::Hex(8)),
                (68, "mpidr", Kind::Hex(8)),
                (76, "efficiency_class", Kind::Dec(1)),
                (77, "reserved2", Kind::Hex(1)),
                (78, "spe_overflow_gsiv", Kind::Dec(2)),
                (80, "trbe_gsiv", Kind::Dec(2)),
            ],
            tail: None,
        },
    ),
    (
        0xc,
        SubDef {
            name: "GIC Distributor",
            ident: |f| id_hex(f, "id", 4, 4),
            fields: &[
                (2, "reserved", Kind::Hex(2)),
                (8, "base_address", Kind::Hex(8)),
                (16, "gsi_base", Kind::Dec(4)),
                (20, "version", Kind::Dec(1)),
                (21, "reserved2", Kind::Hex(3)),
            ],
            tail: None,
        },
    ),
    (
        0xd,
        SubDef {
            name: "GIC MSI Frame",
            ident: |f| id_hex(f, "id", 4, 4),
            fields: &[
                (2, "reserved", Kind::Hex(2)),
                (8, "base_address", Kind::Hex(8)),
                (16, "flags", Kind::Bits(4, &[(0, 1, "SPI_COUNT_BASE_SELECT")])),
                (20, "spi_count", Kind::Dec(2)),
                (22, "spi_base", Kind::Dec(2)),
            ],
            tail: None,
        },
    ),
    (
        0xe,
        SubDef {
            name: "GIC Redistributor",
            ident: |f| id_hex(f, "base", 4, 8),
            fields: &[(2, "reserved", Kind::Hex(2)), (12, "length", Kind::Hex(4))],
            tail: None,
        },
    ),
    (
        0xf,
        SubDef {
            name: "GIC ITS",
            ident: |f| id_hex(f, "id", 4, 4),
            fields: &[
                (2, "reserved", Kind::Hex(2)),
                (8, "base_address", Kind::Hex(8)),
                (16, "reserved2", Kind::Hex(4)),
            ],
            tail: None,
        },
    ),
];

fn madt_def(ty: u16) -> Option<&'static SubDef> {
    MADT_DEFS.iter().find(|(t, _)| *t == ty).map(|(_, d)| d)
}

/// MADT: local APIC address, flags, then the interrupt controller structures.
fn decode_madt(f: &mut Fields, out: &mut Decoded) {
    let fields: &[Field] = &[
        (0x24, "local_apic_address", Kind::Hex(4)),
        (0x28, "flags", Kind::Bits(4, &[(0, 1, "PCAT_COMPAT")])),
    ];
    decode_fields(f, out, "", fields);
    walk(f, out, 0x2c, Hdr::U8U8, madt_def);
}

// ---------------------------------------------------------------------------
// MCFG
// ---------------------------------------------------------------------------

/// MCFG: one 16-byte allocation per segment/bus range, keyed by segment and
/// start bus.
fn decode_mcfg(f: &mut Fields, out: &mut Decoded) {
    decode_fields(f, out, "", &[(0x24, "reserved", Kind::Bytes(8))]);
    let mut entries = Vec::new();
    let mut off: usize = 0x2c;
    while let Some(bytes) = f.data.get(off..off.saturating_add(16)) {
        f.take(off, 16);
        let field = |o: usize, w: usize| peek(bytes, o, w).unwrap_or(0);
        let (seg, start, end) = (field(8, 2), field(10, 1), field(11, 1));
        let mut items = Decoded::new();
        items.put("base_address", format!("{:#x}", field(0, 8)));
        items.put("bus_range", format!("{start:#x}-{end:#x}"));
        items.put("reserved", format!("{:#x}", field(12, 4)));
        let ident = format!("segment {seg:#x} bus {start:#x}");
        entries.push(Entry {
            name: "allocation".into(),
            ident,
            items,
            errors: vec![],
        });
        off += 16;
    }
    emit_entries(out, entries);
    if off < f.data.len() {
        out.put(
            "error",
            format!("truncated allocation at {off:#x}: {} bytes left", f.data.len() - off),
        );
    }
}

// ---------------------------------------------------------------------------
// HPET
// ---------------------------------------------------------------------------

/// Event Timer Block ID, split into its parts.
fn hpet_block_id(out: &mut Decoded, key: &str, v: u64) {
    out.put(format!("{key}.hardware_rev"), format!("{:#x}", v & 0xff));
    // NUM_TIM_CAP holds the index of the last comparator.
    out.put(format!("{key}.comparators"), (((v >> 8) & 0x1f) + 1).to_string());
    out.put(
        format!("{key}.counter_size"),
        if v & (1 << 13) != 0 { "64-bit" } else { "32-bit" },
    );
    out.put(format!("{key}.reserved"), ((v >> 14) & 1).to_string());
    out.put(format!("{key}.legacy_replacement"), ((v >> 15) & 1).to_string());
    out.put(format!("{key}.vendor_id"), format!("{:#x}", v >> 16));
}

/// Page protection (low nibble) and OEM attributes (high nibble).
fn hpet_page_protection(out: &mut Decoded, key: &str, v: u64) {
    let prot = match v & 0xf {
        0 => "none".to_string(),
        1 => "4 KiB".to_string(),
        2 => "64 KiB".to_string(),
        n => format!("reserved ({n})"),
    };
    out.put(key.to_string(), prot);
    out.put(format!("{key}.oem_attributes"), format!("{:#x}", v >> 4));
}

const HPET_FIELDS: &[Field] = &[
    (0x24, "event_timer_block_id", Kind::Sub(4, hpet_block_id)),
    (0x28, "base_address", Kind::Gas),
    (0x34, "hpet_number", Kind::Dec(1)),
    (0x35, "min_tick", Kind::Dec(2)),
    (0x37, "page_protection", Kind::Sub(1, hpet_page_protection)),
];

// ---------------------------------------------------------------------------
// SRAT, SLIT
// ---------------------------------------------------------------------------

/// Affinity flags: enabled, hot pluggable, non-volatile (memory only).
fn affinity_flags(v: u64) -> String {
    let mut s = vec![if v & 1 != 0 {
        "enabled".to_string()
    } else {
        "disabled".to_string()
    }];
    if v & 2 != 0 {
        s.push("hot pluggable".into());
    }
    if v & 4 != 0 {
        s.push("non-volatile".into());
    }
    if v & !7 != 0 {
        s.push(format!("reserved {:#x}", v & !7));
    }
    s.join(", ")
}

/// The processor affinity's proximity domain is split: bits 7:0 at 2, 31:8 at 9.
fn srat_cpu_ident(f: &mut Fields) -> Option<String> {
    id_multi(f, [(2, 1), (9, 3), (3, 1)], |[lo, hi, apic]| {
        format!("node {} apic {apic:#x}", lo | (hi << 8))
    })
}

const SRAT_DEFS: &[(u16, SubDef)] = &[
    (
        0,
        SubDef {
            name: "Processor Affinity",
            ident: srat_cpu_ident,
            fields: &[
                (4, "flags", Kind::Fmt(4, affinity_flags)),
                (8, "sapic_eid", Kind::Hex(1)),
                (12, "clock_domain", Kind::Hex(4)),
            ],
            tail: None,
        },
    ),
    (
        1,
        SubDef {
            name: "Memory Affinity",
            ident: |f| {
                id_multi(f, [(2, 4), (8, 8)], |[node, base]| {
                    format!("node {node} base {base:#x}")
                })
            },
            fields: &[
                (6, "reserved", Kind::Hex(2)),
                (16, "length", Kind::Hex(8)),
                (24, "reserved2", Kind::Hex(4)),
                (28, "flags", Kind::Fmt(4, affinity_flags)),
                (32, "reserved3", Kind::Hex(8)),
            ],
            tail: None,
        },
    ),
    (
        2,
        SubDef {
            name: "x2APIC Affinity",
            ident: |f| id_multi(f, [(4, 4), (8, 4)], |[node, id]| format!("node {node} x2apic {id:#x}")),
            fields: &[
                (2, "reserved", Kind::Hex(2)),
                (12, "flags", Kind::Fmt(4, affinity_flags)),
                (16, "clock_domain", Kind::Hex(4)),
                (20, "reserved2", Kind::Hex(4)),
            ],
            tail: None,
        },
    ),
    (
        3,
        SubDef {
            name: "GICC Affinity",
            ident: |f| id_multi(f, [(2, 4), (6, 4)], |[node, uid]| format!("node {node} uid {uid:#x}")),
            fields: &[
                (10, "flags", Kind::Fmt(4, affinity_flags)),
                (14, "clock_domain", Kind::Hex(4)),
            ],
            tail: None,
        },
    ),
    (
        4,
        SubDef {
            name: "GIC ITS Affinity",
            ident: |f| id_multi(f, [(2, 4), (8, 4)], |[node, its]| format!("node {node} its {its:#x}")),
            fields: &[(6, "reserved", Kind::Hex(2))],
            tail: None,
        },
    ),
    (
        5,
        SubDef {
            name: "Generic Initiator Affinity",
            ident: |f| id_dec(f, "node", 4, 4),
            fields: &[
                (2, "reserved", Kind::Hex(1)),
                (3, "device_handle_type", Kind::Dec(1)),
                (8, "device_handle", Kind::Bytes(16)),
                (24, "flags", Kind::Hex(4)),
                (28, "reserved2", Kind::Hex(4)),
            ],
            tail: None,
        },
    ),
];

fn srat_def(ty: u16) -> Option<&'static SubDef> {
    SRAT_DEFS.iter().find(|(t, _)| *t == ty).map(|(_, d)| d)
}

fn decode_srat(f: &mut Fields, out: &mut Decoded) {
    decode_fields(
        f,
        out,
        "",
        &[(0x24, "table_revision", Kind::Hex(4)), (0x28, "reserved", Kind::Hex(8))],
    );
    walk(f, out, 0x30, Hdr::U8U8, srat_def);
}

/// SLIT: N, then an N×N matrix of relative distances, one item per row.
fn decode_slit(f: &mut Fields, out: &mut Decoded) {
    let Some(n) = f.int(0x24, 8) else { return };
    out.put("localities", n.to_string());
    let left = f.data.len().saturating_sub(0x2c);
    let need = usize::try_from(n).ok().and_then(|n| n.checked_mul(n));
    let Some(need) = need.filter(|&need| need <= left) else {
        out.put(
            "error",
            format!("{n} localities need {n}x{n} bytes but only {left} follow"),
        );
        return;
    };
    let n = usize::try_from(n).unwrap_or(0);
    for i in 0..n {
        let Some(row) = f.take(0x2c + i * n, n) else { break };
        let row: Vec<String> = row.iter().map(u8::to_string).collect();
        out.put(format!("distance[{i}]"), row.join(" "));
    }
    if need < left {
        out.put("error", format!("{} bytes after the {n}x{n} matrix", left - need));
    }
}

// ---------------------------------------------------------------------------
// WAET, BGRT, TPM2
// ---------------------------------------------------------------------------

const WAET_FIELDS: &[Field] = &[(
    0x24,
    "flags",
    Kind::Bits(4, &[(0, 1, "RTC_GOOD"), (1, 1, "ACPI_PM_TIMER_GOOD")]),
)];

fn bgrt_image_type(v: u64) -> String {
    if v == 0 {
        "bitmap (0)".into()
    } else {
        format!("reserved ({v})")
    }
}

const BGRT_FIELDS: &[Field] = &[
    (0x24, "version", Kind::Dec(2)),
    (
        0x26,
        "status",
        Kind::Bits(1, &[(0, 1, "DISPLAYED"), (1, 2, "ORIENTATION_OFFSET")]),
    ),
    (0x27, "image_type", Kind::Fmt(1, bgrt_image_type)),
    (0x28, "image_address", Kind::Hex(8)),
    (0x30, "image_offset_x", Kind::Dec(4)),
    (0x34, "image_offset_y", Kind::Dec(4)),
];

fn tpm2_platform_class(v: u64) -> String {
    match v {
        0 => "client (0)".into(),
        1 => "server (1)".into(),
        _ => format!("reserved ({v})"),
    }
}

fn tpm2_start_method(v: u64) -> String {
    let name = match v {
        2 => "ACPI start",
        6 => "memory mapped (TIS/FIFO)",
        7 => "command response buffer",
        8 => "CRB with ACPI start",
        11 => "CRB with Arm SMC",
        12 => "FIFO over I2C",
        _ => return format!("reserved ({v})"),
    };
    format!("{name} ({v})")
}

/// TPM2 as in the TCG ACPI specification: 12 bytes of start-method
/// parameters, then the optional event log area.
const TPM2_FIELDS: &[Field] = &[
    (0x24, "platform_class", Kind::Fmt(2, tpm2_platform_class)),
    (0x26, "reserved", Kind::Hex(2)),
    (0x28, "control_area_address", Kind::Hex(8)),
    (0x30, "start_method", Kind::Fmt(4, tpm2_start_method)),
    (0x34, "start_method_parameters", Kind::Bytes(12)),
    (0x40, "log_area_minimum_length", Kind::Dec(4)),
    (0x44, "log_area_start_address", Kind::Hex(8)),
];

// ---------------------------------------------------------------------------
// DMAR
// ---------------------------------------------------------------------------

fn dmar_haw(v: u64) -> String {
    format!("{} bits", v + 1)
}

fn scope_type(t: u8) -> String {
    match t {
        1 => "PCI endpoint".into(),
        2 => "PCI bridge".into(),
        3 => "IOAPIC".into(),
        4 => "HPET".into(),
        5 => "ACPI namespace device".into(),
        other => format!("type {other:#x}"),
    }
}

/// Device scopes after the fixed part of a remapping structure, each keyed
/// by type, bus and path; the enumeration id and flags are its value.
fn dmar_scopes(f: &mut Fields, e: &mut Entry, start: usize) {
    let (list, err) = split(f.data, start, Hdr::U8U8);
    for (off, ty, bytes) in list {
        if bytes.len() < 6 || bytes.len() % 2 != 0 {
            e.errors
                .push(format!("device scope at {off:#x} has length {}", bytes.len()));
            return;
        }
        f.take(off, bytes.len());
        let byte = |i: usize| bytes.get(i).copied().unwrap_or(0);
        let path: Vec<String> = bytes
            .get(6..)
            .unwrap_or_default()
            .chunks(2)
            .map(|p| {
                format!(
                    "{:02x}.{:x}",
                    le(p.get(..1).unwrap_or_default()),
                    le(p.get(1..).unwrap_or_default())
                )
            })
            .collect();
        let ty = u8::try_from(ty).unwrap_or(0xff);
        let key = format!("scope {} bus {:#x} path {}", scope_type(ty), byte(5), path.join("/"));
        e.items.put(
            key,
            format!("enum {:#x} flags {:#x} reserved {:#x}", byte(4), byte(2), byte(3)),
        );
    }
    if let Some(err) = err {
        e.errors.push(err);
    }
}

const DMAR_DEFS: &[(u16, SubDef)] = &[
    (
        0,
        SubDef {
            name: "DRHD",
            ident: |f| {
                id_multi(f, [(6, 2), (8, 8)], |[seg, base]| {
                    format!("segment {seg:#x} base {base:#x}")
                })
            },
            fields: &[
                (4, "flags", Kind::Bits(1, &[(0, 1, "INCLUDE_PCI_ALL")])),
                (5, "size", Kind::Dec(1)),
            ],
            tail: Some(|f, e| dmar_scopes(f, e, 16)),
        },
    ),
    (
        1,
        SubDef {
            name: "RMRR",
            ident: |f| {
                id_multi(f, [(6, 2), (8, 8)], |[seg, base]| {
                    format!("segment {seg:#x} base {base:#x}")
                })
            },
            fields: &[(4, "reserved", Kind::Hex(2)), (16, "limit_address", Kind::Hex(8))],
            tail: Some(|f, e| dmar_scopes(f, e, 24)),
        },
    ),
    (
        2,
        SubDef {
            name: "ATSR",
            ident: |f| id_hex(f, "segment", 6, 2),
            fields: &[
                (4, "flags", Kind::Bits(1, &[(0, 1, "ALL_PORTS")])),
                (5, "reserved", Kind::Hex(1)),
            ],
            tail: Some(|f, e| dmar_scopes(f, e, 8)),
        },
    ),
    (
        3,
        SubDef {
            name: "RHSA",
            ident: |f| id_hex(f, "base", 8, 8),
            fields: &[(4, "reserved", Kind::Hex(4)), (16, "proximity_domain", Kind::Dec(4))],
            tail: None,
        },
    ),
    (
        4,
        SubDef {
            name: "ANDD",
            ident: |f| id_hex(f, "device", 7, 1),
            fields: &[(4, "reserved", Kind::Hex(3))],
            tail: Some(|f, e| {
                let len = f.data.len().saturating_sub(8);
                if let Some(name) = f.take(8, len) {
                    e.items.put("object_name", text(name));
                }
            }),
        },
    ),
    (
        5,
        SubDef {
            name: "SATC",
            ident: |f| id_hex(f, "segment", 6, 2),
            fields: &[
                (4, "flags", Kind::Bits(1, &[(0, 1, "ATC_REQUIRED")])),
                (5, "reserved", Kind::Hex(1)),
            ],
            tail: Some(|f, e| dmar_scopes(f, e, 8)),
        },
    ),
];

fn dmar_def(ty: u16) -> Option<&'static SubDef> {
    DMAR_DEFS.iter().find(|(t, _)| *t == ty).map(|(_, d)| d)
}

fn decode_dmar(f: &mut Fields, out: &mut Decoded) {
    let fields: &[Field] = &[
        (0x24, "host_address_width", Kind::Fmt(1, dmar_haw)),
        (
            0x25,
            "flags",
            Kind::Bits(
                1,
                &[
                    (0, 1, "INTR_REMAP"),
                    (1, 1, "X2APIC_OPT_OUT"),
                    (2, 1, "DMA_CTRL_PLATFORM_OPT_IN"),
                ],
            ),
        ),
        (0x26, "reserved", Kind::Bytes(10)),
    ];
    decode_fields(f, out, "", fields);
    walk(f, out, 0x30, Hdr::U16U16, dmar_def);
}

// ---------------------------------------------------------------------------
// VIOT
// ---------------------------------------------------------------------------

/// `segment:bus:device.function` of a PCI requester id.
fn bdf(seg: u64, bdf: u64) -> String {
    format!("{seg:04x}:{:02x}:{:02x}.{:x}", bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7)
}

fn viot_ident(ty: u16, f: &mut Fields) -> Option<String> {
    match ty {
        1 | 2 => id_hex(f, "endpoint", 4, 4),
        3 => id_multi(f, [(4, 2), (6, 2)], |[seg, rid]| bdf(seg, rid)),
        4 => id_hex(f, "base", 8, 8),
        _ => None,
    }
}

fn viot_name(ty: u16) -> Option<&'static str> {
    match ty {
        1 => Some("PCI range"),
        2 => Some("MMIO endpoint"),
        3 => Some("virtio-pci IOMMU"),
        4 => Some("virtio-mmio IOMMU"),
        _ => None,
    }
}

fn viot_fields(ty: u16) -> &'static [Field] {
    match ty {
        1 => &[
            (1, "reserved", Kind::Hex(1)),
            (8, "segment_start", Kind::Hex(2)),
            (10, "segment_end", Kind::Hex(2)),
            (12, "bdf_start", Kind::Hex(2)),
            (14, "bdf_end", Kind::Hex(2)),
            (18, "reserved2", Kind::Bytes(6)),
        ],
        2 => &[
            (1, "reserved", Kind::Hex(1)),
            (8, "base_address", Kind::Hex(8)),
            (18, "reserved2", Kind::Bytes(6)),
        ],
        3 => &[(1, "reserved", Kind::Hex(1)), (8, "reserved2", Kind::Bytes(8))],
        4 => &[(1, "reserved", Kind::Hex(1)), (4, "reserved2", Kind::Hex(4))],
        _ => &[],
    }
}

/// VIOT: nodes start at `node_offset`; endpoints name their IOMMU by the
/// table offset of its node, shown here as that node's label instead.
fn decode_viot(f: &mut Fields, out: &mut Decoded) {
    let fields: &[Field] = &[
        (0x24, "node_count", Kind::Dec(2)),
        (0x26, "node_offset", Kind::Hex(2)),
        (0x28, "reserved", Kind::Bytes(8)),
    ];
    decode_fields(f, out, "", fields);
    let Some(start) = f.peek(0x26, 2).and_then(|s| usize::try_from(s).ok()) else {
        return;
    };
    if start < 0x30 {
        out.put("error", format!("node offset {start:#x} points into the table header"));
        return;
    }
    let (list, err) = split(f.data, start, Hdr::U8PadU16);
    let labels: BTreeMap<usize, String> = list
        .iter()
        .filter_map(|&(off, ty, b)| {
            Some((
                off,
                format!("{} {}", viot_name(ty)?, viot_ident(ty, &mut Fields::new(b))?),
            ))
        })
        .collect();
    let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
    let mut entries = Vec::new();
    for &(off, ty, bytes) in &list {
        f.take(off, bytes.len());
        let nth = seen.entry(ty).or_insert(0);
        *nth += 1;
        entries.push(viot_node(ty, bytes, *nth, &labels));
    }
    emit_entries(out, entries);
    if let Some(err) = err {
        out.put("error", err);
    }
    if let Some(count) = f.peek(0x24, 2) {
        if usize::try_from(count).ok() != Some(list.len()) {
            out.put("error", format!("node_count {count} but {} nodes found", list.len()));
        }
    }
}

fn viot_node(ty: u16, bytes: &[u8], nth: usize, labels: &BTreeMap<usize, String>) -> Entry {
    let Some(name) = viot_name(ty) else {
        return decode_sub(None, ty, bytes, nth, Hdr::U8PadU16);
    };
    let mut f = Fields::new(bytes);
    f.take(0, 1);
    f.take(2, 2);
    let ident = viot_ident(ty, &mut f).unwrap_or_else(|| format!("#{nth}"));
    let mut e = Entry {
        name: name.to_string(),
        ident,
        items: Decoded::new(),
        errors: vec![],
    };
    decode_fields(&mut f, &mut e.items, "", viot_fields(ty));
    if ty == 1 || ty == 2 {
        if let Some(target) = f.int(16, 2) {
            let shown = usize::try_from(target)
                .ok()
                .and_then(|t| labels.get(&t).cloned())
                .unwrap_or_else(|| format!("no node at {target:#x}"));
            e.items.put("output_node", shown);
        }
    }
    f.finish(&mut e.items, "");
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(dir: &str, table: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/data/{dir}/acpi/{table}.bin",
            concat!(env!("CARGO_MANIFEST_DIR"), "/..")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn unhex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    /// Set the length field and the checksum, as firmware would.
    fn seal(mut t: Vec<u8>) -> Vec<u8> {
        let len = u32::try_from(t.len()).unwrap();
        t[4..8].copy_from_slice(&len.to_le_bytes());
        t[9] = 0;
        let sum = t.iter().fold(0u8, |a, &b| a.wrapping_add(b));
        t[9] = 0u8.wrapping_sub(sum);
        t
    }

    /// A standard header for hand-made tables.
    fn header(sig: &[u8; 4], revision: u8) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(sig);
        t.extend_from_slice(&[0, 0, 0, 0, revision, 0]);
        t.extend_from_slice(b"TESTID");
        t.extend_from_slice(b"TESTTABL");
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(b"TEST");
        t.extend_from_slice(&1u32.to_le_bytes());
        t
    }

    fn get<'a>(d: &'a Decoded, key: &str) -> &'a str {
        d.get(key).unwrap_or_else(|| panic!("no {key:?} in {:#?}", d.items()))
    }

    fn errors(d: &Decoded) -> Vec<&str> {
        d.items()
            .iter()
            .filter(|(k, _)| k.starts_with("error"))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn raw_keys(d: &Decoded) -> Vec<&str> {
        d.items()
            .keys()
            .filter(|k| k.contains("raw["))
            .map(String::as_str)
            .collect()
    }

    /// Keys whose values differ (or that exist on one side only).
    fn changed_keys(a: &Decoded, b: &Decoded) -> Vec<String> {
        let mut keys: Vec<String> = a.items().keys().chain(b.items().keys()).cloned().collect();
        keys.sort();
        keys.dedup();
        keys.into_iter().filter(|k| a.get(k) != b.get(k)).collect()
    }

    const Q35_7: &str = "pc-q35-7.2-default-on-7.2.22";
    const Q35_10: &str = "pc-q35-7.2-default-on-10.0.2";
    const PC_7: &str = "pc-i440fx-7.2-default-on-7.2.22";
    const PC_10: &str = "pc-i440fx-7.2-default-on-10.0.2";
    const ALL_DIRS: &[&str] = &[
        "pc-q35-7.2-default-on-7.2.22",
        "pc-q35-7.2-default-on-10.0.2",
        "pc-q35-7.2-virtio-on-7.2.22",
        "pc-q35-7.2-virtio-on-10.0.2",
        "pc-i440fx-7.2-default-on-7.2.22",
        "pc-i440fx-7.2-default-on-10.0.2",
        "pc-i440fx-7.2-virtio-on-7.2.22",
    ];

    /// virt-7.2 booted through edk2 (UEFI, ACPI) by QEMU 7.2.22 and 10.0.2,
    /// cortex-a57, 2 vCPUs (scripts/boot-aarch64).
    const VIRT_7: &str = "virt-7.2-default-on-7.2.22";
    const VIRT_10: &str = "virt-7.2-default-on-10.0.2";
    const ARM_DIRS: &[&str] = &[VIRT_7, VIRT_10];

    /// `iasl` template, edited (see the test using it).
    const FACP_TEMPLATE: &str = "\
    4641435014010000067c494e54454c2054656d706c61746500000000494e544c\
    2509202001000000010000000004090000000000000000000100000000000000\
    0100000000000000010000000100000001000000000000000402010408000000\
    0000000000000000000000000022000005841000010800010100000000000000\
    0003001501000000000000000100000000000000012000020100000000000000\
    0100000000000000000000000110000201000000000000000100000000000000\
    0000000001080000010000000000000001200003010000000000000001400001\
    01000000000000000100000000000000000000000120000308b0000000000000\
    0108000100000000000000005155454d00000000\
    ";
    /// `iasl` template, edited (see the test using it).
    const SRAT_TEMPLATE: &str = "\
    53524154be0000000397494e54454c2054656d706c61746501000000494e544c\
    2509202001000000000000000000000000100201010000000001000007000000\
    0128010000000000000000000100000000000040000000000000000001000000\
    0000000000000000021800000000000000000000010000000000000000000000\
    031200000000000000000100000000000000040c000000000000010000000520\
    000000000000000000000000000000000000000000000000000000000000\
    ";
    /// `iasl` template, edited (see the test using it).
    const DMAR_TEMPLATE: &str = "\
    444d41528c00000001e2494e54454c2054454d504c41544501000000494e544c\
    250920202f010000000000000000000000001800010000000000d9fe00000000\
    0308000009001f00010020000000000000000e0000000000ffff0e0000000000\
    0108000000000002020010000000000002080000000000030300140000000000\
    000000000000000000000000\
    ";
    /// `iasl` template, edited (see the test using it).
    const BGRT_TEMPLATE: &str = "\
    4247525438000000014e494e54454c2054454d504c41544501000000494e544c\
    25092020010001000000007e0000000064000000c8000000\
    ";
    /// `iasl` template, edited (see the test using it).
    const TPM2_TEMPLATE: &str = "\
    54504d324c000000042b494e54454c2054656d706c61746501000000494e544c\
    25092020010000004000d4fe00000000070000000102030405060708090a0b0c\
    ffff00000000ff7f00000000\
    ";

    // Expected values below were read from `iasl -d` (acpica-tools 20200925)
    // of the same files.

    #[test]
    fn madt_q35_fields() {
        let d = decode(&load(Q35_7, "APIC"));
        assert_eq!(get(&d, "header.signature"), "\"APIC\"");
        assert_eq!(get(&d, "header.length"), "128");
        assert_eq!(get(&d, "header.revision"), "1");
        assert_eq!(get(&d, "header.checksum"), "0x77 (valid)");
        assert_eq!(get(&d, "header.oem_id"), "\"BOCHS \"");
        assert_eq!(get(&d, "header.oem_table_id"), "\"BXPC    \"");
        assert_eq!(get(&d, "header.oem_revision"), "0x1");
        assert_eq!(get(&d, "header.creator_id"), "\"BXPC\"");
        assert_eq!(get(&d, "header.creator_revision"), "0x1");
        assert_eq!(get(&d, "local_apic_address"), "0xfee00000");
        assert_eq!(get(&d, "flags.PCAT_COMPAT"), "1");
        assert_eq!(get(&d, "Local APIC uid 0x0.apic_id"), "0x0");
        assert_eq!(get(&d, "Local APIC uid 0x0.flags"), "enabled");
        assert_eq!(get(&d, "Local APIC uid 0x1.apic_id"), "0x1");
        assert_eq!(get(&d, "I/O APIC id 0x0.address"), "0xfec00000");
        assert_eq!(get(&d, "I/O APIC id 0x0.gsi_base"), "0");
        assert_eq!(get(&d, "Interrupt Source Override irq 0.gsi"), "2");
        assert_eq!(
            get(&d, "Interrupt Source Override irq 0.flags"),
            "polarity conforming, trigger conforming"
        );
        // Flags 0x000d: polarity 1 (active high), trigger 3 (level).
        assert_eq!(
            get(&d, "Interrupt Source Override irq 9.flags"),
            "polarity active high, trigger level"
        );
        assert_eq!(get(&d, "Interrupt Source Override irq 11.gsi"), "11");
        assert_eq!(get(&d, "Local APIC NMI uid 0xff.lint"), "1");
        assert_eq!(
            get(&d, "Local APIC NMI uid 0xff.flags"),
            "polarity conforming, trigger conforming"
        );
        assert_eq!(
            get(&d, "entries"),
            "Local APIC uid 0x0, uid 0x1; I/O APIC id 0x0; \
             Interrupt Source Override irq 0, irq 5, irq 9, irq 10, irq 11; Local APIC NMI uid 0xff"
        );
        assert!(errors(&d).is_empty());
        assert!(raw_keys(&d).is_empty(), "{:?}", raw_keys(&d));
    }

    /// QEMU 10.0.2 bumps the MADT revision 1 → 3 for pc-*-7.2; nothing else in
    /// the MADT changes (no new flags, no new entry types), and the FADT is
    /// byte-identical.
    #[test]
    fn madt_and_fadt_drift_7_2_to_10_0() {
        for (old, new) in [
            (Q35_7, Q35_10),
            ("pc-q35-7.2-virtio-on-7.2.22", "pc-q35-7.2-virtio-on-10.0.2"),
            (PC_7, PC_10),
        ] {
            let (a, b) = (decode(&load(old, "APIC")), decode(&load(new, "APIC")));
            assert_eq!(changed_keys(&a, &b), ["header.checksum", "header.revision"], "{old}");
            assert_eq!(get(&a, "header.revision"), "1");
            assert_eq!(get(&b, "header.revision"), "3");
            assert_eq!(get(&a, "entries"), get(&b, "entries"));
            let (a, b) = (decode(&load(old, "FACP")), decode(&load(new, "FACP")));
            assert_eq!(changed_keys(&a, &b), Vec::<String>::new(), "{old}");
        }
        let (a, b) = (decode(&load(Q35_7, "APIC")), decode(&load(Q35_10, "APIC")));
        assert_eq!(get(&b, "header.checksum"), "0x75 (valid)");
        assert_eq!(get(&a, "header.checksum"), "0x77 (valid)");
    }

    #[test]
    fn fadt_q35_rev3() {
        let d = decode(&load(Q35_7, "FACP"));
        assert_eq!(get(&d, "header.revision"), "3");
        assert_eq!(get(&d, "header.length"), "244");
        assert_eq!(get(&d, "firmware_ctrl"), "0x1ffe0000");
        assert_eq!(get(&d, "dsdt"), "0x1ffe0040");
        assert_eq!(get(&d, "int_model"), "0x1");
        assert_eq!(get(&d, "preferred_pm_profile"), "Unspecified (0)");
        assert_eq!(get(&d, "sci_int"), "9");
        assert_eq!(get(&d, "smi_cmd"), "0xb2");
        assert_eq!(get(&d, "acpi_enable"), "0x2");
        assert_eq!(get(&d, "acpi_disable"), "0x3");
        assert_eq!(get(&d, "pm1a_evt_blk"), "0x600");
        assert_eq!(get(&d, "pm1a_cnt_blk"), "0x604");
        assert_eq!(get(&d, "pm_tmr_blk"), "0x608");
        assert_eq!(get(&d, "gpe0_blk"), "0x620");
        assert_eq!(get(&d, "gpe0_blk_len"), "16");
        assert_eq!(get(&d, "p_lvl2_lat"), "4095");
        assert_eq!(get(&d, "century"), "0x32");
        // Boot flags 0x0002 and flags 0x84a5.
        assert_eq!(get(&d, "iapc_boot_arch.8042"), "1");
        assert_eq!(get(&d, "iapc_boot_arch.LEGACY_DEVICES"), "0");
        for (bit, v) in [
            ("WBINVD", "1"),
            ("WBINVD_FLUSH", "0"),
            ("PROC_C1", "1"),
            ("SLP_BUTTON", "1"),
            ("RTC_S4", "1"),
            ("RESET_REG_SUP", "1"),
            ("USE_PLATFORM_CLOCK", "1"),
            ("HW_REDUCED_ACPI", "0"),
            ("reserved", "0x0"),
        ] {
            assert_eq!(get(&d, &format!("flags.{bit}")), v, "{bit}");
        }
        assert_eq!(get(&d, "reset_reg"), "SystemIO 0xcf9 width 8 offset 0 access 0");
        assert_eq!(get(&d, "reset_value"), "0xf");
        assert_eq!(get(&d, "arm_boot_arch.PSCI_COMPLIANT"), "0");
        assert_eq!(get(&d, "fadt_minor_version"), "0");
        assert_eq!(get(&d, "x_firmware_ctrl"), "0x0");
        assert_eq!(get(&d, "x_dsdt"), "0x1ffe0040");
        assert_eq!(get(&d, "x_pm1a_evt_blk"), "SystemIO 0x600 width 32 offset 0 access 0");
        assert_eq!(get(&d, "x_pm1b_evt_blk"), "SystemMemory 0x0 width 0 offset 0 access 0");
        assert_eq!(get(&d, "x_gpe0_blk"), "SystemIO 0x620 width 128 offset 0 access 0");
        // Revision 3 ends at 0xf4: no sleep registers, no hypervisor id.
        assert_eq!(d.get("sleep_control_reg"), None);
        assert_eq!(d.get("hypervisor_vendor_identity"), None);
        assert!(errors(&d).is_empty());
        assert!(raw_keys(&d).is_empty());
    }

    #[test]
    fn fadt_i440fx_rev1_stops_at_length() {
        let d = decode(&load(PC_7, "FACP"));
        assert_eq!(get(&d, "header.revision"), "1");
        assert_eq!(get(&d, "header.length"), "116");
        assert_eq!(get(&d, "header.checksum"), "0xc1 (valid)");
        assert_eq!(get(&d, "acpi_enable"), "0xf1");
        assert_eq!(get(&d, "acpi_disable"), "0xf0");
        assert_eq!(get(&d, "gpe0_blk"), "0xafe0");
        assert_eq!(get(&d, "gpe0_blk_len"), "4");
        assert_eq!(get(&d, "iapc_boot_arch.8042"), "0");
        // Flags 0x80a5: as q35 but without RESET_REG_SUP.
        assert_eq!(get(&d, "flags.RESET_REG_SUP"), "0");
        assert_eq!(get(&d, "flags.USE_PLATFORM_CLOCK"), "1");
        assert_eq!(d.get("reset_reg"), None);
        assert!(errors(&d).is_empty());
        assert!(raw_keys(&d).is_empty());
    }

    #[test]
    fn facs_fields() {
        let d = decode(&load(Q35_7, "FACS"));
        assert_eq!(get(&d, "signature"), "\"FACS\"");
        assert_eq!(get(&d, "length"), "64");
        assert_eq!(get(&d, "hardware_signature"), "0x0");
        assert_eq!(get(&d, "firmware_waking_vector"), "0x0");
        assert_eq!(get(&d, "global_lock"), "0x0");
        assert_eq!(get(&d, "flags.S4BIOS_F"), "0");
        assert_eq!(get(&d, "x_firmware_waking_vector"), "0x0");
        assert_eq!(get(&d, "version"), "0");
        assert_eq!(get(&d, "ospm_flags.64BIT_WAKE_F"), "0");
        assert_eq!(d.get("header.signature"), None);
        assert!(errors(&d).is_empty());
        assert!(raw_keys(&d).is_empty());
    }

    #[test]
    fn hpet_fields() {
        let d = decode(&load(Q35_7, "HPET"));
        // Event timer block id 0x8086a201.
        assert_eq!(get(&d, "event_timer_block_id.hardware_rev"), "0x1");
        assert_eq!(get(&d, "event_timer_block_id.comparators"), "3");
        assert_eq!(get(&d, "event_timer_block_id.counter_size"), "64-bit");
        assert_eq!(get(&d, "event_timer_block_id.legacy_replacement"), "1");
        assert_eq!(get(&d, "event_timer_block_id.vendor_id"), "0x8086");
        assert_eq!(
            get(&d, "base_address"),
            "SystemMemory 0xfed00000 width 0 offset 0 access 0"
        );
        assert_eq!(get(&d, "hpet_number"), "0");
        assert_eq!(get(&d, "min_tick"), "0");
        assert_eq!(get(&d, "page_protection"), "none");
        assert!(errors(&d).is_empty());
        assert!(raw_keys(&d).is_empty());
    }

    #[test]
    fn mcfg_and_waet_fields() {
        let d = decode(&load(Q35_7, "MCFG"));
        assert_eq!(get(&d, "allocation segment 0x0 bus 0x0.base_address"), "0xb0000000");
        assert_eq!(get(&d, "allocation segment 0x0 bus 0x0.bus_range"), "0x0-0xff");
        assert_eq!(get(&d, "entries"), "allocation segment 0x0 bus 0x0");
        assert!(errors(&d).is_empty());
        assert!(raw_keys(&d).is_empty());
        let d = decode(&load(PC_7, "WAET"));
        assert_eq!(get(&d, "flags.RTC_GOOD"), "0");
        assert_eq!(get(&d, "flags.ACPI_PM_TIMER_GOOD"), "1");
        assert!(errors(&d).is_empty());
    }

    #[test]
    fn dsdt_is_header_only() {
        let (a, b) = (decode(&load(Q35_7, "DSDT")), decode(&load(Q35_10, "DSDT")));
        assert_eq!(get(&a, "header.length"), "8428");
        assert_eq!(get(&b, "header.length"), "8540");
        assert_eq!(get(&a, "header.checksum"), "0xa (valid)");
        assert!(a.items().keys().all(|k| k.starts_with("header.")), "{:?}", a.items());
        assert_eq!(a.len(), 9);
        // A hand-made SSDT gets the same treatment.
        let mut t = header(b"SSDT", 2);
        t.extend_from_slice(&[0x10, 0x05, 0x5c, 0x00]);
        let d = decode(&seal(t));
        assert_eq!(d.len(), 9);
    }

    #[test]
    fn unknown_table_body_is_raw() {
        let mut t = header(b"OEM1", 1);
        t.extend(0u8..20);
        let d = decode(&seal(t));
        assert_eq!(get(&d, "header.signature"), "\"OEM1\"");
        assert_eq!(get(&d, "raw[0x24]"), "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f");
        assert_eq!(get(&d, "raw[0x34]"), "10 11 12 13");
        // Long bodies are summarised.
        let mut t = header(b"OEM2", 1);
        t.extend(std::iter::repeat_n(0xabu8, 5000));
        let d = decode(&seal(t));
        assert!(get(&d, "raw[0x24]").starts_with("5000 bytes, blake3 "));
    }

    // Templates from `iasl -T <SIG>`, edited as noted and compiled with iasl
    // 20200925; expected values checked against `iasl -d` of the result.

    #[test]
    fn fadt_rev6_template() {
        // PM profile 4, boot flags 8042 + CMOS_RTC_NOT_PRESENT, flags
        // 0x00108405, ARM flags 3, minor revision 0x15, sleep control
        // register SystemIO 0xb008, hypervisor id 0x4d455551.
        let d = decode(&unhex(FACP_TEMPLATE));
        assert_eq!(get(&d, "header.revision"), "6");
        assert_eq!(get(&d, "header.length"), "276");
        assert_eq!(get(&d, "preferred_pm_profile"), "Enterprise Server (4)");
        assert_eq!(get(&d, "iapc_boot_arch.8042"), "1");
        assert_eq!(get(&d, "iapc_boot_arch.CMOS_RTC_NOT_PRESENT"), "1");
        assert_eq!(get(&d, "flags.WBINVD"), "1");
        assert_eq!(get(&d, "flags.PROC_C1"), "1");
        assert_eq!(get(&d, "flags.RESET_REG_SUP"), "1");
        assert_eq!(get(&d, "flags.USE_PLATFORM_CLOCK"), "1");
        assert_eq!(get(&d, "flags.HW_REDUCED_ACPI"), "1");
        assert_eq!(get(&d, "flags.SLP_BUTTON"), "0");
        assert_eq!(get(&d, "arm_boot_arch.PSCI_COMPLIANT"), "1");
        assert_eq!(get(&d, "arm_boot_arch.PSCI_USE_HVC"), "1");
        assert_eq!(get(&d, "fadt_minor_version"), "5 errata 1");
        assert_eq!(
            get(&d, "sleep_control_reg"),
            "SystemIO 0xb008 width 32 offset 0 access 3"
        );
        assert_eq!(get(&d, "sleep_status_reg"), "SystemIO 0x0 width 8 offset 0 access 1");
        assert_eq!(get(&d, "x_pm_tmr_blk"), "SystemIO 0x1 width 32 offset 0 access 3");
        assert_eq!(get(&d, "hypervisor_vendor_identity"), "0x4d455551");
        assert!(errors(&d).is_empty());
        assert!(raw_keys(&d).is_empty());
    }

    #[test]
    fn srat_template() {
        // First entry: apic 1, proximity domain 0x000001_02 = 258, clock
        // domain 7; memory entry: domain 1, base 4 GiB, length 1 GiB, enabled.
        let d = decode(&unhex(SRAT_TEMPLATE));
        assert_eq!(get(&d, "table_revision"), "0x1");
        assert_eq!(get(&d, "Processor Affinity node 258 apic 0x1.flags"), "enabled");
        assert_eq!(get(&d, "Processor Affinity node 258 apic 0x1.clock_domain"), "0x7");
        assert_eq!(get(&d, "Memory Affinity node 1 base 0x100000000.length"), "0x40000000");
        assert_eq!(get(&d, "Memory Affinity node 1 base 0x100000000.flags"), "enabled");
        assert_eq!(get(&d, "x2APIC Affinity node 0 x2apic 0x0.flags"), "enabled");
        assert_eq!(get(&d, "GICC Affinity node 0 uid 0x0.flags"), "enabled");
        assert_eq!(get(&d, "GIC ITS Affinity node 0 its 0x1.reserved"), "0x0");
        assert_eq!(get(&d, "Generic Initiator Affinity node 0.flags"), "0x0");
        assert_eq!(
            get(&d, "entries"),
            "Processor Affinity node 258 apic 0x1; Memory Affinity node 1 base 0x100000000; \
             x2APIC Affinity node 0 x2apic 0x0; GICC Affinity node 0 uid 0x0; GIC ITS Affinity node 0 its 0x1; \
             Generic Initiator Affinity node 0"
        );
        assert!(errors(&d).is_empty());
        assert!(raw_keys(&d).is_empty());
    }

    #[test]
    fn dmar_template() {
        // DRHD base 0xfed90000 with an IOAPIC scope (enumeration id 9, path
        // 1f.0); RMRR 0xe0000-0xeffff.
        let d = decode(&unhex(DMAR_TEMPLATE));
        assert_eq!(get(&d, "host_address_width"), "48 bits");
        assert_eq!(get(&d, "flags.INTR_REMAP"), "1");
        let drhd = "DRHD segment 0x0 base 0xfed90000";
        assert_eq!(get(&d, &format!("{drhd}.flags.INCLUDE_PCI_ALL")), "1");
        assert_eq!(
            get(&d, &format!("{drhd}.scope IOAPIC bus 0x0 path 1f.0")),
            "enum 0x9 flags 0x0 reserved 0x0"
        );
        assert_eq!(get(&d, "RMRR segment 0x0 base 0xe0000.limit_address"), "0xeffff");
        assert_eq!(
            get(&d, "RMRR segment 0x0 base 0xe0000.scope PCI endpoint bus 0x0 path 00.2"),
            "enum 0x0 flags 0x0 reserved 0x0"
        );
        assert_eq!(
            get(&d, "ATSR segment 0x0.scope PCI bridge bus 0x0 path 00.3"),
            "enum 0x0 flags 0x0 reserved 0x0"
        );
        assert_eq!(get(&d, "RHSA base 0x0.proximity_domain"), "0");
        assert_eq!(
            get(&d, "entries"),
            "DRHD segment 0x0 base 0xfed90000; RMRR segment 0x0 base 0xe0000; ATSR segment 0x0; RHSA base 0x0"
        );
        assert!(errors(&d).is_empty());
        assert!(raw_keys(&d).is_empty());
    }

    #[test]
    fn bgrt_and_tpm2_templates() {
        let d = decode(&unhex(BGRT_TEMPLATE));
        assert_eq!(get(&d, "version"), "1");
        assert_eq!(get(&d, "status.DISPLAYED"), "1");
        assert_eq!(get(&d, "image_type"), "bitmap (0)");
        assert_eq!(get(&d, "image_address"), "0x7e000000");
        assert_eq!(get(&d, "image_offset_x"), "100");
        assert_eq!(get(&d, "image_offset_y"), "200");
        assert!(raw_keys(&d).is_empty());
        let d = decode(&unhex(TPM2_TEMPLATE));
        assert_eq!(get(&d, "platform_class"), "server (1)");
        assert_eq!(get(&d, "control_area_address"), "0xfed40040");
        assert_eq!(get(&d, "start_method"), "command response buffer (7)");
        assert_eq!(
            get(&d, "start_method_parameters"),
            "01 02 03 04 05 06 07 08 09 0a 0b 0c"
        );
        assert_eq!(get(&d, "log_area_minimum_length"), "65535");
        assert_eq!(get(&d, "log_area_start_address"), "0x7fff0000");
        assert!(raw_keys(&d).is_empty());
    }

    /// A MADT with x2APIC entries, an address override and unknown types.
    fn madt_x2apic() -> Vec<u8> {
        let mut t = header(b"APIC", 5);
        t.extend_from_slice(&[0x00, 0x00, 0xe0, 0xfe, 0, 0, 0, 0]);
        // Local x2APIC: x2apic id 0x100, enabled, uid 0x100.
        t.extend_from_slice(&[9, 16, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
        // Local x2APIC NMI: flags 0x5 (active high, edge), uid all, LINT1.
        t.extend_from_slice(&[0xa, 12, 5, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0]);
        // Local APIC address override.
        t.extend_from_slice(&[5, 12, 0, 0, 0, 0, 0xe0, 0xfe, 0, 0, 0, 0]);
        // Two entries of a type this decoder does not know.
        t.extend_from_slice(&[0x7f, 4, 0xaa, 0xbb, 0x7f, 3, 0xcc]);
        // Local APIC uid 2, apic id 4, not enabled but online capable.
        t.extend_from_slice(&[0, 8, 2, 4, 2, 0, 0, 0]);
        seal(t)
    }

    #[test]
    fn madt_x2apic_and_unknown_types() {
        let d = decode(&madt_x2apic());
        assert_eq!(get(&d, "flags.PCAT_COMPAT"), "0");
        assert_eq!(get(&d, "Local x2APIC uid 0x100.x2apic_id"), "0x100");
        assert_eq!(get(&d, "Local x2APIC uid 0x100.flags"), "enabled");
        assert_eq!(
            get(&d, "Local x2APIC NMI uid 0xffffffff.flags"),
            "polarity active high, trigger edge"
        );
        assert_eq!(get(&d, "Local x2APIC NMI uid 0xffffffff.lint"), "1");
        assert_eq!(get(&d, "Local APIC Address Override.address"), "0xfee00000");
        assert_eq!(get(&d, "type 0x7f #1.raw[0x2]"), "aa bb");
        assert_eq!(get(&d, "type 0x7f #2.raw[0x2]"), "cc");
        assert_eq!(get(&d, "Local APIC uid 0x2.apic_id"), "0x4");
        assert_eq!(get(&d, "Local APIC uid 0x2.flags"), "disabled, online capable");
        assert_eq!(
            get(&d, "entries"),
            "Local x2APIC uid 0x100; Local x2APIC NMI uid 0xffffffff; Local APIC Address Override; \
             type 0x7f #1, #2; Local APIC uid 0x2"
        );
        assert!(errors(&d).is_empty());
    }

    #[test]
    fn madt_reorder_and_insert() {
        let base = load(Q35_7, "APIC");
        let a = decode(&base);
        // Swap the two Local APIC entries (0x2c..0x34, 0x34..0x3c).
        let mut t = base.clone();
        t[0x2c..0x3c].copy_from_slice(&[&base[0x34..0x3c], &base[0x2c..0x34]].concat());
        let b = decode(&seal(t));
        assert_eq!(changed_keys(&a, &b), ["entries"]);
        // Append a third CPU: only its items and the entry list are new.
        let mut t = base.clone();
        t.splice(0x3c..0x3c, [0, 8, 2, 2, 1, 0, 0, 0]);
        let b = decode(&seal(t));
        assert_eq!(
            changed_keys(&a, &b),
            [
                "Local APIC uid 0x2.apic_id",
                "Local APIC uid 0x2.flags",
                "entries",
                "header.checksum",
                "header.length",
            ]
        );
    }

    fn viot() -> Vec<u8> {
        let mut t = header(b"VIOT", 0);
        t.extend_from_slice(&[2, 0, 0x30, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // 0x30: virtio-pci IOMMU at 0000:00:02.0.
        t.extend_from_slice(&[3, 0, 16, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // 0x40: PCI range, endpoints 0.., segment 0, BDF 0-0xffff, output 0x30.
        t.extend_from_slice(&[
            1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x30, 0, 0, 0, 0, 0, 0, 0,
        ]);
        seal(t)
    }

    #[test]
    fn viot_nodes() {
        let d = decode(&viot());
        assert_eq!(get(&d, "node_count"), "2");
        assert_eq!(get(&d, "node_offset"), "0x30");
        assert_eq!(
            get(&d, "PCI range endpoint 0x0.output_node"),
            "virtio-pci IOMMU 0000:00:02.0"
        );
        assert_eq!(get(&d, "PCI range endpoint 0x0.bdf_end"), "0xffff");
        assert_eq!(
            get(&d, "entries"),
            "virtio-pci IOMMU 0000:00:02.0; PCI range endpoint 0x0"
        );
        assert!(errors(&d).is_empty());
        assert!(raw_keys(&d).is_empty());
    }

    fn slit() -> Vec<u8> {
        let mut t = header(b"SLIT", 1);
        t.extend_from_slice(&2u64.to_le_bytes());
        t.extend_from_slice(&[10, 20, 21, 10]);
        seal(t)
    }

    #[test]
    fn slit_matrix() {
        let d = decode(&slit());
        assert_eq!(get(&d, "localities"), "2");
        assert_eq!(get(&d, "distance[0]"), "10 20");
        assert_eq!(get(&d, "distance[1]"), "21 10");
        assert!(errors(&d).is_empty());
        let mut t = header(b"SLIT", 1);
        t.extend_from_slice(&u64::MAX.to_le_bytes());
        t.extend_from_slice(&[10, 20, 21, 10]);
        let d = decode(&seal(t));
        assert!(errors(&d)[0].contains("localities need"), "{:?}", errors(&d));
        assert_eq!(get(&d, "raw[0x2c]"), "0a 14 15 0a");
    }

    #[test]
    fn malformed_lengths() {
        assert!(!errors(&decode(&[])).is_empty());
        assert!(!errors(&decode(b"APIC")).is_empty());
        assert!(!errors(&decode(b"FACS\x40\x00")).is_empty());
        // Length field larger than the data.
        let mut t = load(Q35_7, "APIC");
        t.truncate(0x40);
        let d = decode(&t);
        assert_eq!(
            errors(&d),
            [
                "truncated: table length 0x80 but only 0x40 bytes",
                "entry at 0x3c (type 0x1) length 12 runs past the end (4 bytes left)"
            ]
        );
        assert_eq!(get(&d, "Local APIC uid 0x1.apic_id"), "0x1");
        // Shorter than the header.
        let t = load(Q35_7, "HPET");
        let d = decode(&t[..20]);
        assert!(errors(&d).iter().any(|e| e.contains("shorter than the 36-byte header")));
        assert_eq!(get(&d, "header.oem_id"), "\"BOCHS \"");
        assert_eq!(get(&d, "raw[0x10]"), "42 58 50 43");
        // Length field below the header size.
        let mut t = load(Q35_7, "WAET");
        t[4] = 8;
        let d = decode(&t);
        assert_eq!(
            errors(&d),
            ["bad length: table length 0x8 is shorter than the 36-byte header"]
        );
        assert_eq!(get(&d, "flags.ACPI_PM_TIMER_GOOD"), "1");
        // Bytes beyond the length are kept.
        let mut t = load(Q35_7, "WAET");
        t.extend_from_slice(&[1, 2]);
        let d = decode(&t);
        assert_eq!(errors(&d), ["2 bytes beyond the table length 0x28"]);
        assert_eq!(get(&d, "trailing.raw[0x28]"), "01 02");
        // FACS shorter than its length.
        let t = load(Q35_7, "FACS");
        let d = decode(&t[..30]);
        assert_eq!(errors(&d), ["truncated: table length 0x40 but only 0x1e bytes"]);
        assert_eq!(get(&d, "raw[0x18]"), "00 00 00 00 00 00");
    }

    #[test]
    fn malformed_sub_structures() {
        let base = load(Q35_7, "APIC");
        // An entry of length 0 must not loop.
        let mut t = base.clone();
        t[0x35] = 0;
        let d = decode(&seal(t));
        assert_eq!(
            errors(&d),
            ["entry at 0x34 (type 0x0) has length 0, shorter than its header"]
        );
        assert_eq!(get(&d, "Local APIC uid 0x0.apic_id"), "0x0");
        assert_eq!(get(&d, "raw[0x34]"), "00 00 01 01 01 00 00 00 01 0c 00 00 00 00 c0 fe");
        assert_eq!(get(&d, "entries"), "Local APIC uid 0x0");
        // An entry running past the end.
        let mut t = base.clone();
        t[0x7b] = 0x20;
        let d = decode(&seal(t));
        assert_eq!(
            errors(&d),
            ["entry at 0x7a (type 0x4) length 32 runs past the end (6 bytes left)"]
        );
        assert_eq!(get(&d, "raw[0x7a]"), "04 20 ff 00 00 01");
        // One stray byte after the last entry.
        let mut t = base.clone();
        t.push(0x09);
        let d = decode(&seal(t));
        assert_eq!(errors(&d), ["truncated entry header at 0x80: 1 bytes left"]);
        assert_eq!(get(&d, "raw[0x80]"), "09");
        // An entry too short for its fields keeps the rest raw.
        let mut t = header(b"APIC", 1);
        t.extend_from_slice(&[0, 0, 0xe0, 0xfe, 1, 0, 0, 0, 1, 4, 7, 0]);
        let d = decode(&seal(t));
        assert_eq!(get(&d, "I/O APIC id 0x7.reserved"), "0x0");
        assert_eq!(d.get("I/O APIC id 0x7.address"), None);
        // MCFG with half an allocation.
        let mut t = load(Q35_7, "MCFG");
        t.truncate(0x34);
        let d = decode(&seal(t));
        assert_eq!(errors(&d), ["truncated allocation at 0x2c: 8 bytes left"]);
        assert_eq!(get(&d, "raw[0x2c]"), "00 00 00 b0 00 00 00 00");
        // DMAR device scope with a bad length.
        let mut t = unhex(DMAR_TEMPLATE);
        t[0x41] = 5;
        let d = decode(&seal(t));
        assert!(errors(&d)[0].starts_with("DRHD segment 0x0 base 0xfed90000: device scope at 0x10 has length 5"));
        // VIOT whose node offset points into the header.
        let mut t = viot();
        t[0x26] = 0x10;
        let d = decode(&seal(t));
        assert_eq!(errors(&d), ["node offset 0x10 points into the table header"]);
        assert_eq!(get(&d, "raw[0x30]"), "03 00 10 00 00 00 10 00 00 00 00 00 00 00 00 00");
    }

    /// Pseudo-random garbage under every signature: no panic.
    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let sigs: [&[u8; 4]; 19] = [
            b"FACP", b"FACS", b"APIC", b"MCFG", b"HPET", b"SRAT", b"SLIT", b"WAET", b"BGRT", b"TPM2", b"DMAR", b"VIOT",
            b"DSDT", b"XXXX", b"GTDT", b"IORT", b"PPTT", b"SPCR", b"DBG2",
        ];
        for round in 0..3000 {
            let len = usize::try_from(next() % 400).unwrap();
            let mut t: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
            let sig = sigs[round % sigs.len()];
            for (i, b) in sig.iter().enumerate().take(t.len()) {
                t[i] = *b;
            }
            // Half the time the length field tells the truth.
            if round % 2 == 0 && t.len() >= 8 {
                let l = u32::try_from(t.len()).unwrap();
                t[4..8].copy_from_slice(&l.to_le_bytes());
            }
            // Small sub-structure lengths make deep walks likely.
            if round % 3 == 0 {
                for b in t.iter_mut().skip(0x2c).step_by(3) {
                    *b %= 16;
                }
            }
            let _ = decode(&t);
        }
    }

    #[test]
    fn rsdp_of_qemu() {
        // QEMU's fw_cfg RSDP of pc-q35-7.2: revision 0, OEM "BOCHS ", address left to the firmware.
        let mut r = b"RSD PTR \0BOCHS \0\0\0\0\0".to_vec();
        let s = r.iter().fold(0u8, |s, x| s.wrapping_add(*x));
        r[8] = 0u8.wrapping_sub(s);
        let d = rsdp(&r);
        assert_eq!(d.get("oem_id"), Some("\"BOCHS \""));
        assert_eq!(d.get("revision"), Some("0"));
        assert!(d.get("checksum").is_some_and(|c| c.ends_with("(valid)")));
        assert!(d.get("xsdt_address").is_none());
        assert!(rsdp(&r[..10]).get("error").is_some());
    }

    /// Completeness: flipping any byte changes the decoded view. The
    /// checksum is fixed up first (as firmware would), so the change must
    /// show in the decoded fields, not only in the checksum verdict.
    #[test]
    fn every_byte_matters() {
        let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
        for dir in ALL_DIRS {
            for sig in ["APIC", "FACP", "FACS", "HPET", "MCFG", "WAET"] {
                if sig == "MCFG" && dir.starts_with("pc-i440fx") {
                    continue; // i440fx has no PCI Express, so no MCFG
                }
                let path = format!(
                    "{}/tests/data/{dir}/acpi/{sig}.bin",
                    concat!(env!("CARGO_MANIFEST_DIR"), "/..")
                );
                // The captures are in the repository: a missing one is a broken
                // test, not a smaller one.
                let t = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                inputs.push((format!("{dir}/{sig}"), t));
            }
        }
        for (name, hex) in [
            ("FACP template", FACP_TEMPLATE),
            ("SRAT template", SRAT_TEMPLATE),
            ("DMAR template", DMAR_TEMPLATE),
            ("BGRT template", BGRT_TEMPLATE),
            ("TPM2 template", TPM2_TEMPLATE),
        ] {
            inputs.push((name.into(), unhex(hex)));
        }
        for dir in ARM_DIRS {
            for sig in ["APIC", "FACP", "GTDT", "IORT", "PPTT", "SPCR", "DBG2", "MCFG"] {
                inputs.push((format!("{dir} {sig}"), load(dir, sig)));
            }
        }
        inputs.push(("x2APIC MADT".into(), madt_x2apic()));
        inputs.push(("VIOT".into(), viot()));
        inputs.push(("SLIT".into(), slit()));
        // The DSDT body belongs to the AML decoder: only its header here.
        inputs.push(("DSDT header".into(), load(Q35_7, "DSDT")));
        for (name, t) in inputs {
            let before = decode(&t);
            let facs = t.starts_with(b"FACS");
            let limit = if t.starts_with(b"DSDT") { HEADER_LEN } else { t.len() };
            for i in 0..limit {
                let mut m = t.clone();
                m[i] ^= 0xff;
                if !facs && i != 9 {
                    m[9] = 0;
                    let sum = m.iter().fold(0u8, |a, &b| a.wrapping_add(b));
                    m[9] = 0u8.wrapping_sub(sum);
                }
                let after = decode(&m);
                assert_ne!(before, after, "{name}: flipping byte {i:#x} changed nothing");
            }
        }
    }
    // Arm tables. Expected values were read from `iasl -d` (acpica-tools
    // 20200925) of the same files.

    #[test]
    fn gtdt_virt_fields() {
        let d = decode(&load(VIRT_7, "GTDT"));
        assert_eq!(get(&d, "header.revision"), "2");
        assert_eq!(get(&d, "cnt_control_base"), "0xffffffffffffffff");
        assert_eq!(get(&d, "secure_el1_gsiv"), "29");
        assert_eq!(get(&d, "nonsecure_el1_gsiv"), "30");
        assert_eq!(get(&d, "nonsecure_el1_flags.ALWAYS_ON"), "1");
        assert_eq!(get(&d, "virtual_el1_gsiv"), "27");
        assert_eq!(get(&d, "nonsecure_el2_gsiv"), "26");
        assert_eq!(get(&d, "platform_timer_count"), "0");
        assert!(errors(&d).is_empty() && raw_keys(&d).is_empty(), "{:#?}", d.items());
    }

    #[test]
    fn iort_virt_nodes_and_mapping() {
        let d = decode(&load(VIRT_7, "IORT"));
        assert_eq!(get(&d, "entries"), "ITS Group its 0x0; Root Complex segment 0x0");
        assert_eq!(
            get(&d, "Root Complex segment 0x0.mapping[0x0]"),
            "count 0xffff → ITS Group its 0x0 base 0x0"
        );
        assert_eq!(get(&d, "Root Complex segment 0x0.memory_address_size_limit"), "64");
        assert_eq!(get(&d, "Root Complex segment 0x0.cache_coherency"), "0x1");
        assert_eq!(
            get(&d, "Root Complex segment 0x0.memory_access_flags.DEVICE_ATTRIBUTES"),
            "1"
        );
        assert_eq!(get(&d, "ITS Group its 0x0.its_count"), "1");
        assert!(errors(&d).is_empty() && raw_keys(&d).is_empty(), "{:#?}", d.items());
    }

    #[test]
    fn pptt_virt_hierarchy() {
        let d = decode(&load(VIRT_7, "PPTT"));
        assert_eq!(get(&d, "entries"), "Processor level 0 #1, level 1 #1, uid 0x0, uid 0x1");
        assert_eq!(get(&d, "Processor level 0 #1.flags.PHYSICAL_PACKAGE"), "1");
        assert_eq!(get(&d, "Processor level 1 #1.parent"), "Processor level 0 #1");
        assert_eq!(get(&d, "Processor uid 0x1.parent"), "Processor level 1 #1");
        assert_eq!(get(&d, "Processor uid 0x1.flags.IS_LEAF"), "1");
        assert!(errors(&d).is_empty() && raw_keys(&d).is_empty(), "{:#?}", d.items());
    }

    #[test]
    fn spcr_and_dbg2_virt_console() {
        let d = decode(&load(VIRT_7, "SPCR"));
        assert_eq!(get(&d, "interface_type"), "0x3 (ARM PL011)");
        assert_eq!(
            get(&d, "base_address"),
            "SystemMemory 0x9000000 width 8 offset 0 access 1"
        );
        assert_eq!(get(&d, "interrupt_type.ARM_GIC"), "1");
        assert_eq!(get(&d, "gsiv"), "33");
        assert_eq!(get(&d, "baud_rate"), "3 (9600)");
        assert_eq!(get(&d, "flow_control.RTS_CTS"), "1");
        assert!(errors(&d).is_empty() && raw_keys(&d).is_empty(), "{:#?}", d.items());
        let d = decode(&load(VIRT_7, "DBG2"));
        assert_eq!(get(&d, "entries"), "Device \"COM0\"");
        assert_eq!(get(&d, "Device \"COM0\".port_type"), "0x8000 (serial)");
        assert_eq!(
            get(&d, "Device \"COM0\".register[0]"),
            "SystemMemory 0x9000000 width 8 offset 0 access 1 size 0x1000"
        );
        assert!(errors(&d).is_empty() && raw_keys(&d).is_empty(), "{:#?}", d.items());
    }

    #[test]
    fn madt_virt_gic_entries() {
        let d = decode(&load(VIRT_7, "APIC"));
        assert_eq!(
            get(&d, "entries"),
            "GIC Distributor id 0x0; GICC uid 0x0, uid 0x1; GIC MSI Frame id 0x0"
        );
        assert_eq!(get(&d, "GIC Distributor id 0x0.version"), "2");
        assert_eq!(get(&d, "GICC uid 0x1.mpidr"), "0x1");
        assert_eq!(get(&d, "GIC MSI Frame id 0x0.spi_base"), "80");
        assert!(errors(&d).is_empty() && raw_keys(&d).is_empty(), "{:#?}", d.items());
    }

    /// What QEMU 10.0.2 changed in the Arm tables of virt-7.2 (UEFI boot),
    /// decoded: GTDT revision 3 with the virtual EL2 timer, no cluster level
    /// in the PPTT, 32-bit PL011 register access in SPCR and DBG2.
    #[test]
    fn virt_7_2_arm_tables_drift_7_2_to_10_0() {
        let changed = |sig: &str| {
            let keys = changed_keys(&decode(&load(VIRT_7, sig)), &decode(&load(VIRT_10, sig)));
            keys.into_iter()
                .filter(|k| !k.starts_with("header.checksum"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            changed("GTDT"),
            [
                "header.length",
                "header.revision",
                "virtual_el2_flags.ACTIVE_LOW",
                "virtual_el2_flags.ALWAYS_ON",
                "virtual_el2_flags.EDGE_TRIGGERED",
                "virtual_el2_flags.reserved",
                "virtual_el2_gsiv"
            ]
        );
        let pptt = changed("PPTT");
        assert!(pptt.contains(&"Processor uid 0x0.parent".to_string()), "{pptt:?}");
        assert!(pptt.iter().all(|k| k.starts_with("Processor level 1 #1.")
            || [
                "entries",
                "header.length",
                "Processor uid 0x0.parent",
                "Processor uid 0x1.parent"
            ]
            .contains(&k.as_str())));
        assert_eq!(changed("SPCR"), ["base_address"]);
        assert_eq!(changed("DBG2"), ["Device \"COM0\".register[0]"]);
        assert!(changed("IORT").is_empty());
        assert!(changed("APIC").is_empty());
    }
}
