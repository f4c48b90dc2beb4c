//! SMBIOS decoder: the entry point (2.1 `_SM_`, 3.0 `_SM3_`, legacy `_DMI_`)
//! and the structure table, field by field for every type the SMBIOS 3.x
//! specification (DSP0134) defines.
//!
//! Structures are keyed by type name and instance number (`Processor
//! Information #0.Processor Family`), never by offset or handle, so an added
//! structure does not make the later ones look changed; the handle is a value
//! (`Processor Information #0.handle`). Strings are resolved (`"CPU 0"`,
//! `(none)` for index 0). Fields beyond a structure's length are absent;
//! bytes no field covers become `raw[0x..]` items and strings no field
//! references become `string[n]` items, so every input byte shows somewhere.

use super::{hash_summary, Decoded};
use std::collections::{BTreeMap, BTreeSet};

/// Opaque regions longer than this are shown as length + hash, not hex.
const MAX_HEX: usize = 32;

/// A named enumeration: ranges of (first code, names of the codes from it);
/// an empty name leaves that code unnamed.
type Enum = &'static [(u16, &'static [&'static str])];

/// Named bits of a flag field: (bit number, name).
type Bits = &'static [(u8, &'static str)];

/// Decode an SMBIOS entry point structure: the 2.1 (`_SM_`, 31 bytes), 3.0
/// (`_SM3_`, 24 bytes) or legacy (`_DMI_`, 15 bytes) form.
///
/// Items: `Anchor String`, `SMBIOS Version` (`2.8`, `3.2.0`), checksums with
/// their validity (`0x2e (valid)`), `Structure Table Length` or `Structure
/// Table Maximum Size`, `Structure Table Address` (`0x000f52a0`), `Number of
/// SMBIOS Structures`, …; bytes past the known fields are kept raw and an
/// unknown anchor or a truncated entry point gives an `error` item.
pub fn decode_entry_point(ep: &[u8]) -> Decoded {
    let mut c = Ctx::new(ep, Vec::new());
    if ep.starts_with(b"_SM3_") {
        entry_point_30(&mut c);
    } else if ep.starts_with(b"_SM_") {
        entry_point_21(&mut c);
    } else if ep.starts_with(b"_DMI_") {
        entry_point_legacy(&mut c, 0);
    } else {
        c.error(format!(
            "unknown entry point anchor {}",
            quoted(ep.get(..5).unwrap_or(ep))
        ));
    }
    let (mut d, errors) = c.finish();
    for e in errors {
        d.put("error", e);
    }
    d
}

/// Decode the SMBIOS structure table: the concatenation of structures (a
/// formatted area, then a string set ending in a double NUL), ended by the
/// End-of-Table structure (type 127).
///
/// Items are keyed `<type name> #<instance>.<field>`, e.g. `Processor
/// Information #0.Processor Family` → `0x01 (Other)`; table-level items are
/// `structure count`, `structure order` (type:handle list) and `error`.
pub fn decode_table(table: &[u8]) -> Decoded {
    let mut d = Decoded::new();
    let mut pos = 0usize;
    let mut instances: BTreeMap<u8, usize> = BTreeMap::new();
    let mut handles = BTreeSet::new();
    let mut order = Vec::new();
    let mut ended = false;
    let mut failed = false;
    // Every iteration consumes at least the 4-byte header plus the 2-byte
    // terminator, or stops, so the loop always ends.
    while let Some(rest) = table.get(pos..).filter(|r| !r.is_empty()) {
        let ty = rest.first().copied().unwrap_or(0);
        let len = usize::from(rest.get(1).copied().unwrap_or(0));
        if rest.len() < 4 {
            d.put(
                "error",
                format!("truncated structure header at 0x{pos:x}: {} bytes left", rest.len()),
            );
            failed = true;
            break;
        }
        if len < 4 {
            d.put(
                "error",
                format!("structure at 0x{pos:x} (type {ty}) has length {len} < 4"),
            );
            failed = true;
            break;
        }
        let Some(area) = rest.get(..len) else {
            d.put(
                "error",
                format!(
                    "structure at 0x{pos:x} (type {ty}): length {len} but only {} bytes left",
                    rest.len()
                ),
            );
            failed = true;
            break;
        };
        let Some((strings, set_len)) = split_strings(rest.get(len..).unwrap_or_default()) else {
            d.put(
                "error",
                format!("structure at 0x{pos:x} (type {ty}): string set has no double-NUL terminator"),
            );
            failed = true;
            break;
        };
        let n = instances.entry(ty).or_insert(0);
        let name = format!("{} #{n}", type_name(ty));
        *n += 1;
        let handle = u16::from_le_bytes([area.get(2).copied().unwrap_or(0), area.get(3).copied().unwrap_or(0)]);
        if !handles.insert(handle) {
            d.put("error", format!("{name}: duplicate handle 0x{handle:04x}"));
        }
        order.push(format!("{ty}:0x{handle:04x}"));
        let (items, errors) = decode_structure(ty, area, strings);
        for e in errors {
            d.put("error", format!("{name} (handle 0x{handle:04x}): {e}"));
        }
        d.extend_prefixed(&format!("{name}."), items);
        pos = pos.saturating_add(len).saturating_add(set_len);
        if ty == 127 {
            ended = true;
            break;
        }
    }
    d.put("structure count", order.len().to_string());
    d.put("structure order", order.join(" "));
    if let Some(rest) = table.get(pos..).filter(|r| !r.is_empty()) {
        // After an error these bytes were not understood; after type 127 they
        // are padding. Either way they are kept so a change shows.
        let key = if failed { "unparsed" } else { "trailing" };
        d.put(format!("{key}[0x{pos:x}]"), opaque(rest));
    }
    if !ended && !failed {
        d.put("error", "no End-of-Table structure (type 127)");
    }
    d
}

/// Split a string set into its strings and the number of bytes it takes
/// (including the final double NUL); `None` when the terminator is missing.
fn split_strings(set: &[u8]) -> Option<(Vec<&[u8]>, usize)> {
    if set.starts_with(&[0, 0]) {
        return Some((Vec::new(), 2));
    }
    let mut strings = Vec::new();
    let mut pos = 0usize;
    loop {
        let rest = set.get(pos..)?;
        let nul = rest.iter().position(|&b| b == 0)?;
        strings.push(rest.get(..nul)?);
        pos = pos.checked_add(nul)?.checked_add(1)?;
        if *set.get(pos)? == 0 {
            return Some((strings, pos.checked_add(1)?));
        }
    }
}

/// The specification's name of a structure type.
fn type_name(ty: u8) -> String {
    let name = match ty {
        0 => "BIOS Information",
        1 => "System Information",
        2 => "Baseboard Information",
        3 => "System Enclosure or Chassis",
        4 => "Processor Information",
        5 => "Memory Controller Information",
        6 => "Memory Module Information",
        7 => "Cache Information",
        8 => "Port Connector Information",
        9 => "System Slots",
        10 => "On Board Devices Information",
        11 => "OEM Strings",
        12 => "System Configuration Options",
        13 => "BIOS Language Information",
        14 => "Group Associations",
        15 => "System Event Log",
        16 => "Physical Memory Array",
        17 => "Memory Device",
        18 => "32-Bit Memory Error Information",
        19 => "Memory Array Mapped Address",
        20 => "Memory Device Mapped Address",
        21 => "Built-in Pointing Device",
        22 => "Portable Battery",
        23 => "System Reset",
        24 => "Hardware Security",
        25 => "System Power Controls",
        26 => "Voltage Probe",
        27 => "Cooling Device",
        28 => "Temperature Probe",
        29 => "Electrical Current Probe",
        30 => "Out-of-Band Remote Access",
        31 => "Boot Integrity Services Entry Point",
        32 => "System Boot Information",
        33 => "64-Bit Memory Error Information",
        34 => "Management Device",
        35 => "Management Device Component",
        36 => "Management Device Threshold Data",
        37 => "Memory Channel",
        38 => "IPMI Device Information",
        39 => "System Power Supply",
        40 => "Additional Information",
        41 => "Onboard Devices Extended Information",
        42 => "Management Controller Host Interface",
        43 => "TPM Device",
        44 => "Processor Additional Information",
        45 => "Firmware Inventory Information",
        46 => "String Property",
        126 => "Inactive",
        127 => "End-of-Table",
        128.. => return format!("OEM Type {ty}"),
        _ => return format!("Unknown Type {ty}"),
    };
    name.to_string()
}

/// Decode one structure's formatted area (`area`, header included) with its
/// strings; returns the items (keys relative to the structure) and errors.
fn decode_structure(ty: u8, area: &[u8], strings: Vec<&[u8]>) -> (Decoded, Vec<String>) {
    let mut c = Ctx::new(area, strings);
    c.take(0, 2); // type and length: the key and the `length` item show them
    c.put("length", area.len().to_string());
    c.handle(2, "handle");
    match ty {
        0 => bios(&mut c),
        1 => system(&mut c),
        2 => baseboard(&mut c),
        3 => chassis(&mut c),
        4 => processor(&mut c),
        5 => memory_controller(&mut c),
        6 => memory_module(&mut c),
        7 => cache(&mut c),
        8 => port_connector(&mut c),
        9 => system_slot(&mut c),
        10 => on_board_devices(&mut c),
        11 => counted_strings(&mut c, "Count", "String"),
        12 => counted_strings(&mut c, "Count", "Option"),
        13 => bios_language(&mut c),
        14 => group_associations(&mut c),
        15 => event_log(&mut c),
        16 => physical_memory_array(&mut c),
        17 => memory_device(&mut c),
        18 => memory_error_32(&mut c),
        19 => array_mapped_address(&mut c),
        20 => device_mapped_address(&mut c),
        21 => pointing_device(&mut c),
        22 => portable_battery(&mut c),
        23 => system_reset(&mut c),
        24 => hardware_security(&mut c),
        25 => power_controls(&mut c),
        26 => probe(&mut c, VOLTAGE_PROBE_LOCATION, "mV", "1/10 mV"),
        27 => cooling_device(&mut c),
        28 => probe(&mut c, TEMPERATURE_PROBE_LOCATION, "1/10 degC", "1/1000 degC"),
        29 => probe(&mut c, VOLTAGE_PROBE_LOCATION, "mA", "1/10 mA"),
        30 => remote_access(&mut c),
        31 => bis_entry_point(&mut c),
        32 => system_boot(&mut c),
        33 => memory_error_64(&mut c),
        34 => management_device(&mut c),
        35 => management_component(&mut c),
        36 => threshold_data(&mut c),
        37 => memory_channel(&mut c),
        38 => ipmi_device(&mut c),
        39 => power_supply(&mut c),
        40 => additional_information(&mut c),
        41 => onboard_device_extended(&mut c),
        42 => host_interface(&mut c),
        43 => tpm_device(&mut c),
        44 => processor_additional(&mut c),
        45 => firmware_inventory(&mut c),
        46 => string_property(&mut c),
        // 126 (Inactive), 127 (End-of-Table), OEM and reserved types: the
        // formatted area past the header is kept raw.
        _ => {}
    }
    c.finish()
}

/// Decoding state for one formatted area: which bytes and strings have been
/// shown, so the rest can be kept raw.
struct Ctx<'a> {
    area: &'a [u8],
    strings: Vec<&'a [u8]>,
    used: Vec<bool>,
    covered: Vec<bool>,
    out: Decoded,
    errors: Vec<String>,
}

impl<'a> Ctx<'a> {
    fn new(area: &'a [u8], strings: Vec<&'a [u8]>) -> Self {
        let used = vec![false; strings.len()];
        Ctx {
            area,
            strings,
            used,
            covered: vec![false; area.len()],
            out: Decoded::new(),
            errors: Vec::new(),
        }
    }

    fn put(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.out.put(key, value);
    }

    fn error(&mut self, e: String) {
        self.errors.push(e);
    }

    fn len(&self) -> usize {
        self.area.len()
    }

    /// The `n` bytes at `off`, marked as shown; `None` past the area (a field
    /// an older, shorter structure does not have).
    fn take(&mut self, off: usize, n: usize) -> Option<&'a [u8]> {
        let end = off.checked_add(n)?;
        let bytes = self.area.get(off..end)?;
        self.covered.get_mut(off..end)?.iter_mut().for_each(|c| *c = true);
        Some(bytes)
    }

    /// A little-endian value of `n` (≤ 8) bytes at `off`, marked as shown.
    fn uint(&mut self, off: usize, n: usize) -> Option<u64> {
        let bytes = self.take(off, n)?;
        Some(bytes.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A byte read only to decide how to decode (not marked as shown).
    fn peek(&self, off: usize) -> Option<u8> {
        self.area.get(off).copied()
    }

    fn peek16(&self, off: usize) -> Option<u16> {
        Some(u16::from_le_bytes([self.peek(off)?, self.peek(off.checked_add(1)?)?]))
    }

    /// A register-like value in hex.
    fn hex(&mut self, off: usize, n: usize, name: &str) -> Option<u64> {
        let v = self.uint(off, n)?;
        self.put(name, hexn(v, n));
        Some(v)
    }

    /// A count or size in decimal with its unit; `special` values (unknown,
    /// see another field, …) are shown in hex with their meaning.
    fn num(&mut self, off: usize, n: usize, name: &str, unit: &str, special: &[(u64, &str)]) -> Option<u64> {
        let v = self.uint(off, n)?;
        let text = match special.iter().find(|(s, _)| *s == v) {
            Some((_, what)) => format!("{} ({what})", hexn(v, n)),
            None if unit.is_empty() => v.to_string(),
            None => format!("{v} {unit}"),
        };
        self.put(name, text);
        Some(v)
    }

    /// A signed 16-bit reading (probes, thresholds); 0x8000 means unknown.
    fn signed(&mut self, off: usize, name: &str, unit: &str) -> Option<u16> {
        let v = u16::try_from(self.uint(off, 2)?).ok()?;
        let text = if v == 0x8000 {
            "0x8000 (unknown)".to_string()
        } else {
            format!("{} {unit}", v as i16)
        };
        self.put(name, text);
        Some(v)
    }

    /// A string field: the resolved string, `(none)` for index 0.
    fn string(&mut self, off: usize, name: &str) -> Option<u8> {
        let idx = u8::try_from(self.uint(off, 1)?).ok()?;
        self.string_at(idx, name);
        Some(idx)
    }

    /// Show string number `idx` of the set under `name`.
    fn string_at(&mut self, idx: u8, name: &str) {
        let text = match usize::from(idx).checked_sub(1) {
            None => "(none)".to_string(),
            Some(i) => match self.strings.get(i) {
                Some(s) => {
                    let s = quoted(s);
                    if let Some(u) = self.used.get_mut(i) {
                        *u = true;
                    }
                    s
                }
                None => {
                    self.error(format!(
                        "{name}: string index {idx} past the string set ({} strings)",
                        self.strings.len()
                    ));
                    format!("(bad string index {idx})")
                }
            },
        };
        self.put(name, text);
    }

    /// A structure handle; 0xffff/0xfffe are the spec's "none" values.
    fn handle(&mut self, off: usize, name: &str) -> Option<u16> {
        let v = u16::try_from(self.uint(off, 2)?).ok()?;
        let text = match v {
            0xffff => "0xffff (none)".to_string(),
            0xfffe => "0xfffe (not provided)".to_string(),
            _ => format!("0x{v:04x}"),
        };
        self.put(name, text);
        Some(v)
    }

    /// An enumerated value, named where the spec names it.
    fn enumerated(&mut self, off: usize, n: usize, name: &str, e: Enum) -> Option<u64> {
        let v = self.uint(off, n)?;
        self.put(name, named(v, n, e));
        Some(v)
    }

    /// A flag field: one `0`/`1` item per named bit (`<name>.<bit name>`)
    /// and the bits the spec leaves unnamed as `<name>.unnamed bits`. No
    /// item holds the whole value: one changed bit is one changed item.
    fn flags(&mut self, off: usize, n: usize, name: &str, bits: Bits) -> Option<u64> {
        let v = self.uint(off, n)?;
        self.bit_items(name, v, n, bits);
        Some(v)
    }

    fn bit_items(&mut self, name: &str, v: u64, n: usize, bits: Bits) {
        let mut named = 0u64;
        for &(bit, label) in bits {
            self.put(format!("{name}.{label}"), ((v >> bit) & 1).to_string());
            named |= 1u64.checked_shl(u32::from(bit)).unwrap_or(0);
        }
        self.unnamed_bits(name, v, n, named);
    }

    /// `<name>.unnamed bits`: the bits of an `n`-byte field no item names,
    /// unless every bit is named.
    fn unnamed_bits(&mut self, name: &str, v: u64, n: usize, named: u64) {
        let all = u64::MAX.checked_shr(64u32.saturating_sub(8 * n as u32)).unwrap_or(0);
        if all & !named != 0 {
            self.put(format!("{name}.unnamed bits"), hexn(v & all & !named, n));
        }
    }

    /// A packed field: its sub-fields, and its unnamed bits (see `flags`).
    fn packed(&mut self, off: usize, n: usize, name: &str, parts: &[Part]) -> Option<u64> {
        let v = self.uint(off, n)?;
        let mut covered = 0u64;
        for p in parts {
            covered |= ((1u64 << p.width) - 1) << p.shift;
        }
        self.unnamed_bits(name, v, n, covered);
        for p in parts {
            let mask = (1u64 << p.width) - 1;
            let sub = (v >> p.shift) & mask;
            let text = match p.names {
                Some(e) => named(sub, 1, e),
                None => sub.to_string(),
            };
            self.put(format!("{name}.{}", p.label), text);
        }
        Some(v)
    }

    /// An opaque run of bytes: hex, or length and hash when long.
    fn bytes(&mut self, off: usize, n: usize, name: &str) -> Option<&'a [u8]> {
        let b = self.take(off, n)?;
        self.put(name, opaque(b));
        Some(b)
    }

    /// Items for everything not shown yet: uncovered byte runs as
    /// `raw[0x..]`, unreferenced strings as `string[n]`.
    fn finish(mut self) -> (Decoded, Vec<String>) {
        let mut start = None;
        for i in 0..=self.covered.len() {
            let covered = self.covered.get(i).copied().unwrap_or(true);
            match (covered, start) {
                (false, None) => start = Some(i),
                (true, Some(s)) => {
                    let run = self.area.get(s..i).unwrap_or_default();
                    self.out.put(format!("raw[0x{s:02x}]"), opaque(run));
                    start = None;
                }
                _ => {}
            }
        }
        if !self.strings.is_empty() {
            self.out.put("string count", self.strings.len().to_string());
        }
        for (i, s) in self.strings.iter().enumerate() {
            if !self.used.get(i).copied().unwrap_or(false) {
                self.out.put(format!("string[{}]", i + 1), quoted(s));
            }
        }
        (self.out, self.errors)
    }
}

/// One sub-field of a packed value: bits `shift..shift+width`.
struct Part {
    shift: u8,
    width: u8,
    label: &'static str,
    names: Option<Enum>,
}

const fn part(shift: u8, width: u8, label: &'static str, names: Option<Enum>) -> Part {
    Part {
        shift,
        width,
        label,
        names,
    }
}

/// `v` as hex, two digits per byte of an `n`-byte field.
fn hexn(v: u64, n: usize) -> String {
    format!("0x{v:0w$x}", w = n.saturating_mul(2))
}

/// The name of `code` in `e`, if the spec names it.
fn lookup(e: Enum, code: u64) -> Option<&'static str> {
    e.iter().find_map(|&(first, names)| {
        let i = usize::try_from(code.checked_sub(u64::from(first))?).ok()?;
        names.get(i).copied().filter(|n| !n.is_empty())
    })
}

/// `0x03 (Central Processor)`, or just the hex when unnamed.
fn named(v: u64, n: usize, e: Enum) -> String {
    match lookup(e, v) {
        Some(name) => format!("{} ({name})", hexn(v, n)),
        None => format!("{} (unnamed)", hexn(v, n)),
    }
}

/// A string value in quotes, non-printable bytes escaped (so distinct bytes
/// always give distinct text).
fn quoted(s: &[u8]) -> String {
    format!("\"{}\"", s.escape_ascii())
}

/// Hex bytes when short, otherwise length and a short hash.
fn opaque(b: &[u8]) -> String {
    if b.len() <= MAX_HEX {
        b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
    } else {
        hash_summary(b)
    }
}

// ---------------------------------------------------------------- entry point

/// Checksum item: the byte and whether the bytes it covers sum to zero.
fn checksum_text(stored: u8, covered: &[u8]) -> String {
    let sum = covered.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    if sum == 0 {
        format!("0x{stored:02x} (valid)")
    } else {
        format!("0x{stored:02x} (invalid, bytes sum to 0x{sum:02x})")
    }
}

/// The checksummed part of an entry point: `len` bytes from `from`, clamped
/// to what is there (a lying length is reported as an error).
fn checksummed<'a>(c: &mut Ctx<'a>, from: usize, len: usize) -> &'a [u8] {
    let area = c.area;
    let end = from.saturating_add(len);
    if end > area.len() {
        c.error(format!(
            "entry point length {len} but only {} bytes",
            area.len().saturating_sub(from)
        ));
    }
    area.get(from..end.min(area.len())).unwrap_or_default()
}

fn entry_point_21(c: &mut Ctx) {
    c.take(0, 4);
    c.put("Anchor String", "\"_SM_\"");
    let len = usize::from(c.peek(5).unwrap_or(0));
    if let Some(sum) = c.uint(4, 1) {
        let covered = checksummed(c, 0, len);
        c.put("Entry Point Structure Checksum", checksum_text(sum as u8, covered));
    }
    c.num(5, 1, "Entry Point Length", "", &[]);
    if let (Some(major), Some(minor)) = (c.uint(6, 1), c.uint(7, 1)) {
        c.put("SMBIOS Version", format!("{major}.{minor}"));
    }
    c.num(8, 2, "Maximum Structure Size", "bytes", &[]);
    c.hex(0x0a, 1, "Entry Point Revision");
    c.bytes(0x0b, 5, "Formatted Area");
    entry_point_legacy(c, 0x10);
}

/// The `_DMI_` part, alone (legacy entry point) or at 0x10 of a 2.1 one.
fn entry_point_legacy(c: &mut Ctx, base: usize) {
    let Some(anchor) = c.take(base, 5) else {
        c.error(format!("truncated: intermediate anchor expected at 0x{base:x}"));
        return;
    };
    let key = if base == 0 {
        "Anchor String"
    } else {
        "Intermediate Anchor String"
    };
    c.put(key, quoted(anchor));
    if anchor != b"_DMI_" {
        c.error(format!("intermediate anchor {} is not \"_DMI_\"", quoted(anchor)));
    }
    if let Some(sum) = c.uint(base + 5, 1) {
        let area = c.area;
        let covered = area.get(base..area.len().min(base + 15)).unwrap_or_default();
        if covered.len() < 15 {
            c.error("truncated: intermediate area is shorter than 15 bytes".to_string());
        }
        let key = if base == 0 { "Checksum" } else { "Intermediate Checksum" };
        c.put(key, checksum_text(sum as u8, covered));
    }
    c.num(base + 6, 2, "Structure Table Length", "bytes", &[]);
    c.hex(base + 8, 4, "Structure Table Address");
    c.num(base + 0x0c, 2, "Number of SMBIOS Structures", "", &[]);
    if let Some(bcd) = c.uint(base + 0x0e, 1) {
        c.put(
            "SMBIOS BCD Revision",
            format!("0x{bcd:02x} ({}.{})", bcd >> 4, bcd & 0xf),
        );
    }
}

fn entry_point_30(c: &mut Ctx) {
    c.take(0, 5);
    c.put("Anchor String", "\"_SM3_\"");
    let len = usize::from(c.peek(6).unwrap_or(0));
    if let Some(sum) = c.uint(5, 1) {
        let covered = checksummed(c, 0, len);
        c.put("Entry Point Structure Checksum", checksum_text(sum as u8, covered));
    }
    c.num(6, 1, "Entry Point Length", "", &[]);
    if let (Some(major), Some(minor), Some(doc)) = (c.uint(7, 1), c.uint(8, 1), c.uint(9, 1)) {
        c.put("SMBIOS Version", format!("{major}.{minor}.{doc}"));
    }
    c.hex(0x0a, 1, "Entry Point Revision");
    c.hex(0x0b, 1, "Reserved");
    c.num(0x0c, 4, "Structure Table Maximum Size", "bytes", &[]);
    c.hex(0x10, 8, "Structure Table Address");
    if c.len() < 0x18 {
        c.error(format!("truncated: 3.0 entry point is 24 bytes, got {}", c.len()));
    }
}

// ------------------------------------------------------------ structure types

fn bios(c: &mut Ctx) {
    c.string(0x04, "Vendor");
    c.string(0x05, "BIOS Version");
    if let Some(seg) = c.uint(0x06, 2) {
        let text = if seg == 0 {
            "0x0000".to_string()
        } else {
            // The image runs from segment:0 to the end of the first MiB.
            let runtime = 0x10000u64.saturating_sub(seg) << 4;
            format!("0x{seg:04x} (address 0x{:05x}, runtime size {runtime} bytes)", seg << 4)
        };
        c.put("BIOS Starting Address Segment", text);
    }
    c.string(0x08, "BIOS Release Date");
    if let Some(rom) = c.uint(0x09, 1) {
        let text = if rom == 0xff {
            "0xff (see Extended BIOS ROM Size)".to_string()
        } else {
            format!("0x{rom:02x} ({} KiB)", (rom + 1) * 64)
        };
        c.put("BIOS ROM Size", text);
    }
    c.flags(0x0a, 8, "BIOS Characteristics", BIOS_CHARACTERISTICS);
    c.flags(0x12, 1, "BIOS Characteristics Extension Byte 1", BIOS_EXTENSION_1);
    c.flags(0x13, 1, "BIOS Characteristics Extension Byte 2", BIOS_EXTENSION_2);
    c.num(0x14, 1, "System BIOS Major Release", "", &[]);
    c.num(0x15, 1, "System BIOS Minor Release", "", &[]);
    c.num(0x16, 1, "Embedded Controller Firmware Major Release", "", &[]);
    c.num(0x17, 1, "Embedded Controller Firmware Minor Release", "", &[]);
    if let Some(ext) = c.uint(0x18, 2) {
        let unit = match ext >> 14 {
            0 => "MiB",
            1 => "GiB",
            _ => "reserved unit",
        };
        c.put(
            "Extended BIOS ROM Size",
            format!("0x{ext:04x} ({} {unit})", ext & 0x3fff),
        );
    }
}

fn system(c: &mut Ctx) {
    c.string(0x04, "Manufacturer");
    c.string(0x05, "Product Name");
    c.string(0x06, "Version");
    c.string(0x07, "Serial Number");
    if let Some(uuid) = c.take(0x08, 16) {
        c.put("UUID", uuid_text(uuid));
    }
    c.enumerated(0x18, 1, "Wake-up Type", WAKE_UP_TYPE);
    c.string(0x19, "SKU Number");
    c.string(0x1a, "Family");
}

/// A UUID as the spec (2.6+) stores it: the first three fields little-endian.
fn uuid_text(u: &[u8]) -> String {
    let order = [3usize, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    let mut s = String::new();
    for (i, &at) in order.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{:02x}", u.get(at).copied().unwrap_or(0)));
    }
    if u.iter().all(|&b| b == 0) {
        s.push_str(" (not present)");
    } else if u.iter().all(|&b| b == 0xff) {
        s.push_str(" (not present, settable)");
    }
    s
}

fn baseboard(c: &mut Ctx) {
    c.string(0x04, "Manufacturer");
    c.string(0x05, "Product");
    c.string(0x06, "Version");
    c.string(0x07, "Serial Number");
    c.string(0x08, "Asset Tag");
    c.flags(0x09, 1, "Feature Flags", BOARD_FEATURES);
    c.string(0x0a, "Location in Chassis");
    c.handle(0x0b, "Chassis Handle");
    c.enumerated(0x0d, 1, "Board Type", BOARD_TYPE);
    let n = c
        .num(0x0e, 1, "Number of Contained Object Handles", "", &[])
        .unwrap_or(0);
    for i in 0..n as usize {
        c.handle(0x0f + 2 * i, &format!("Contained Object Handle[{i}]"));
    }
}

fn chassis(c: &mut Ctx) {
    c.string(0x04, "Manufacturer");
    c.packed(
        0x05,
        1,
        "Type",
        &[
            part(7, 1, "Chassis Lock Present", None),
            part(0, 7, "Chassis Type", Some(CHASSIS_TYPE)),
        ],
    );
    c.string(0x06, "Version");
    c.string(0x07, "Serial Number");
    c.string(0x08, "Asset Tag Number");
    c.enumerated(0x09, 1, "Boot-up State", CHASSIS_STATE);
    c.enumerated(0x0a, 1, "Power Supply State", CHASSIS_STATE);
    c.enumerated(0x0b, 1, "Thermal State", CHASSIS_STATE);
    c.enumerated(0x0c, 1, "Security Status", CHASSIS_SECURITY);
    c.hex(0x0d, 4, "OEM-defined");
    c.num(0x11, 1, "Height", "U", &[(0, "unspecified")]);
    c.num(0x12, 1, "Number of Power Cords", "", &[(0, "unspecified")]);
    let count = c.num(0x13, 1, "Contained Element Count", "", &[]);
    let size = c.num(0x14, 1, "Contained Element Record Length", "", &[]);
    let (Some(count), Some(size)) = (count, size) else {
        return;
    };
    let (count, size) = (count as usize, size as usize);
    for i in 0..count {
        let at = 0x15 + i * size;
        if size >= 3 {
            let key = format!("Contained Element[{i}]");
            if let Some(t) = c.uint(at, 1) {
                // Bit 7 says whether the low bits are an SMBIOS structure
                // type or a baseboard type.
                let what = if t & 0x80 != 0 {
                    format!("structure type {}", type_name((t & 0x7f) as u8))
                } else {
                    format!("board type {}", named(t & 0x7f, 1, BOARD_TYPE))
                };
                c.put(format!("{key}.Type"), format!("0x{t:02x} ({what})"));
            }
            c.num(at + 1, 1, &format!("{key}.Minimum"), "", &[]);
            c.num(at + 2, 1, &format!("{key}.Maximum"), "", &[]);
        }
    }
    c.string(0x15 + count * size, "SKU Number");
}

fn processor(c: &mut Ctx) {
    c.string(0x04, "Socket Designation");
    c.enumerated(0x05, 1, "Processor Type", PROCESSOR_TYPE);
    if let Some(f) = c.uint(0x06, 1) {
        c.put("Processor Family", family_text(f, 1));
    }
    c.string(0x07, "Processor Manufacturer");
    processor_id(c);
    c.string(0x10, "Processor Version");
    processor_voltage(c, 0x11, "Voltage");
    c.num(0x12, 2, "External Clock", "MHz", &[(0, "unknown")]);
    c.num(0x14, 2, "Max Speed", "MHz", &[(0, "unknown")]);
    c.num(0x16, 2, "Current Speed", "MHz", &[(0, "unknown")]);
    c.packed(
        0x18,
        1,
        "Status",
        &[
            part(6, 1, "CPU Socket Populated", None),
            part(0, 3, "CPU Status", Some(PROCESSOR_STATUS)),
        ],
    );
    c.enumerated(0x19, 1, "Processor Upgrade", PROCESSOR_UPGRADE);
    c.handle(0x1a, "L1 Cache Handle");
    c.handle(0x1c, "L2 Cache Handle");
    c.handle(0x1e, "L3 Cache Handle");
    c.string(0x20, "Serial Number");
    c.string(0x21, "Asset Tag");
    c.string(0x22, "Part Number");
    let see2 = |what: &'static str| [(0u64, "unknown"), (0xff, what)];
    c.num(0x23, 1, "Core Count", "", &see2("see Core Count 2"));
    c.num(0x24, 1, "Core Enabled", "", &see2("see Core Enabled 2"));
    c.num(0x25, 1, "Thread Count", "", &see2("see Thread Count 2"));
    c.flags(0x26, 2, "Processor Characteristics", PROCESSOR_CHARACTERISTICS);
    if let Some(f) = c.uint(0x28, 2) {
        c.put("Processor Family 2", family_text(f, 2));
    }
    let unknown = [(0u64, "unknown"), (0xffff, "reserved")];
    c.num(0x2a, 2, "Core Count 2", "", &unknown);
    c.num(0x2c, 2, "Core Enabled 2", "", &unknown);
    c.num(0x2e, 2, "Thread Count 2", "", &unknown);
    c.num(0x30, 2, "Thread Enabled", "", &unknown);
    c.string(0x32, "Socket Type");
}

fn family_text(f: u64, n: usize) -> String {
    match f {
        0xfe if n == 1 => "0xfe (see Processor Family 2)".to_string(),
        0xbe => format!("{} (Core 2 or K7)", hexn(f, n)),
        _ => match PROCESSOR_FAMILIES.iter().find(|(v, _)| u64::from(*v) == f) {
            Some((_, name)) => format!("{} ({name})", hexn(f, n)),
            None => format!("{} (unnamed)", hexn(f, n)),
        },
    }
}

/// Processor ID: for x86 families (and Other/Unknown, which QEMU uses) the
/// CPUID leaf 1 EAX (signature) and EDX (feature flags) with named flags;
/// otherwise the raw 8 bytes.
fn processor_id(c: &mut Ctx) {
    let family = match c.peek(0x06) {
        Some(0xfe) => c.peek16(0x28).unwrap_or(0xfe),
        Some(f) => u16::from(f),
        None => return,
    };
    // Families whose Processor ID is CPUID leaf 1 (Intel, AMD, VIA lines).
    let x86 = matches!(family, 0x01..=0x02 | 0x0b..=0x15 | 0x18..=0x1d | 0x1f | 0x28..=0x2f | 0x38..=0x3f
        | 0x46..=0x4f | 0x66..=0x6b | 0x83..=0x8f | 0xa1..=0xb3 | 0xb5..=0xb7 | 0xb9..=0xc7 | 0xcd..=0xcf
        | 0xd2..=0xdb | 0xdd..=0xe0 | 0xe4..=0xef);
    if !x86 {
        c.bytes(0x08, 8, "Processor ID");
        return;
    }
    if let Some(eax) = c.uint(0x08, 4) {
        let base_family = (eax >> 8) & 0xf;
        let family = if base_family == 0xf {
            base_family + ((eax >> 20) & 0xff)
        } else {
            base_family
        };
        let model = if base_family == 0x6 || base_family == 0xf {
            ((eax >> 12) & 0xf0) | ((eax >> 4) & 0xf)
        } else {
            (eax >> 4) & 0xf
        };
        c.put(
            "Processor ID.EAX (signature)",
            format!("0x{eax:08x} (family {family}, model {model}, stepping {})", eax & 0xf),
        );
    }
    if let Some(edx) = c.uint(0x0c, 4) {
        c.bit_items("Processor ID.EDX", edx, 4, X86_EDX_FLAGS);
    }
}

/// Processor/memory voltage byte: bit 7 set means bits 6:0 are tenths of a
/// volt; otherwise bits 2:0 flag the legacy 5 V, 3.3 V, 2.9 V supplies.
fn processor_voltage(c: &mut Ctx, off: usize, name: &str) {
    let Some(v) = c.uint(off, 1) else { return };
    let text = if v & 0x80 != 0 {
        format!("0x{v:02x} ({}.{} V)", (v & 0x7f) / 10, (v & 0x7f) % 10)
    } else {
        let list: Vec<&str> = [(0, "5 V"), (1, "3.3 V"), (2, "2.9 V")]
            .iter()
            .filter(|(b, _)| v >> b & 1 == 1)
            .map(|(_, n)| *n)
            .collect();
        format!(
            "0x{v:02x} ({})",
            if list.is_empty() {
                "unknown".to_string()
            } else {
                list.join(", ")
            }
        )
    };
    c.put(name, text);
}

fn memory_controller(c: &mut Ctx) {
    c.enumerated(0x04, 1, "Error Detecting Method", ERROR_DETECTING_METHOD);
    c.flags(0x05, 1, "Error Correcting Capability", ERROR_CORRECTING_CAPABILITY);
    c.enumerated(0x06, 1, "Supported Interleave", INTERLEAVE);
    c.enumerated(0x07, 1, "Current Interleave", INTERLEAVE);
    if let Some(n) = c.uint(0x08, 1) {
        let size = 1u64
            .checked_shl(n as u32)
            .map_or("too large".to_string(), |s| format!("{s} MiB"));
        c.put("Maximum Memory Module Size", format!("0x{n:02x} ({size})"));
    }
    c.flags(0x09, 2, "Supported Speeds", MEMORY_SPEEDS);
    c.flags(0x0b, 2, "Supported Memory Types", MEMORY_MODULE_TYPES);
    processor_voltage(c, 0x0d, "Memory Module Voltage");
    let n = c
        .num(0x0e, 1, "Number of Associated Memory Slots", "", &[])
        .unwrap_or(0) as usize;
    for i in 0..n {
        c.handle(0x0f + 2 * i, &format!("Memory Module Configuration Handle[{i}]"));
    }
    c.flags(
        0x0f + 2 * n,
        1,
        "Enabled Error Correcting Capabilities",
        ERROR_CORRECTING_CAPABILITY,
    );
}

fn memory_module(c: &mut Ctx) {
    c.string(0x04, "Socket Designation");
    c.packed(
        0x05,
        1,
        "Bank Connections",
        &[part(4, 4, "First", None), part(0, 4, "Second", None)],
    );
    c.num(0x06, 1, "Current Speed", "ns", &[(0, "unknown")]);
    c.flags(0x07, 2, "Current Memory Type", MEMORY_MODULE_TYPES);
    for (off, name) in [(0x09, "Installed Size"), (0x0a, "Enabled Size")] {
        let Some(v) = c.uint(off, 1) else { continue };
        let size = match v & 0x7f {
            0x7d => "not determinable".to_string(),
            0x7e => "module installed but disabled".to_string(),
            0x7f => "not installed".to_string(),
            n => 1u64
                .checked_shl(u32::from(n as u8))
                .map_or("too large".to_string(), |s| format!("{s} MiB")),
        };
        let bank = if v & 0x80 != 0 { "double-bank" } else { "single-bank" };
        c.put(name, format!("0x{v:02x} ({size}, {bank})"));
    }
    c.flags(0x0b, 1, "Error Status", MODULE_ERROR_STATUS);
}

/// Cache size word (bit 15: 64 KiB granularity, else 1 KiB).
fn cache_size(c: &mut Ctx, off: usize, n: usize, name: &str) {
    let Some(v) = c.uint(off, n) else { return };
    let top = (n * 8 - 1) as u32;
    let units = v & ((1u64 << top) - 1);
    let kib = if v >> top & 1 == 1 {
        units.saturating_mul(64)
    } else {
        units
    };
    c.put(name, format!("{} ({kib} KiB)", hexn(v, n)));
}

fn cache(c: &mut Ctx) {
    c.string(0x04, "Socket Designation");
    if let Some(v) = c.uint(0x05, 2) {
        c.put("Cache Configuration", format!("0x{v:04x}"));
        c.put("Cache Configuration.Level", format!("L{}", (v & 7) + 1));
        c.put("Cache Configuration.Socketed", (v >> 3 & 1).to_string());
        c.put("Cache Configuration.Location", named(v >> 5 & 3, 1, CACHE_LOCATION));
        c.put("Cache Configuration.Enabled", (v >> 7 & 1).to_string());
        c.put("Cache Configuration.Operational Mode", named(v >> 8 & 3, 1, CACHE_MODE));
    }
    cache_size(c, 0x07, 2, "Maximum Cache Size");
    cache_size(c, 0x09, 2, "Installed Size");
    c.flags(0x0b, 2, "Supported SRAM Type", SRAM_TYPES);
    c.flags(0x0d, 2, "Current SRAM Type", SRAM_TYPES);
    c.num(0x0f, 1, "Cache Speed", "ns", &[(0, "unknown")]);
    c.enumerated(0x10, 1, "Error Correction Type", CACHE_ECC);
    c.enumerated(0x11, 1, "System Cache Type", CACHE_TYPE);
    c.enumerated(0x12, 1, "Associativity", CACHE_ASSOCIATIVITY);
    cache_size(c, 0x13, 4, "Maximum Cache Size 2");
    cache_size(c, 0x17, 4, "Installed Cache Size 2");
}

fn port_connector(c: &mut Ctx) {
    c.string(0x04, "Internal Reference Designator");
    c.enumerated(0x05, 1, "Internal Connector Type", CONNECTOR_TYPE);
    c.string(0x06, "External Reference Designator");
    c.enumerated(0x07, 1, "External Connector Type", CONNECTOR_TYPE);
    c.enumerated(0x08, 1, "Port Type", PORT_TYPE);
}

/// PCI device/function byte: device in bits 7:3, function in 2:0.
fn devfn(c: &mut Ctx, off: usize, name: &str) {
    if let Some(v) = c.uint(off, 1) {
        c.put(name, format!("0x{v:02x} (device {}, function {})", v >> 3, v & 7));
    }
}

fn system_slot(c: &mut Ctx) {
    c.string(0x04, "Slot Designation");
    c.enumerated(0x05, 1, "Slot Type", SLOT_TYPE);
    c.enumerated(0x06, 1, "Slot Data Bus Width", SLOT_WIDTH);
    c.enumerated(0x07, 1, "Current Usage", SLOT_USAGE);
    c.enumerated(0x08, 1, "Slot Length", SLOT_LENGTH);
    c.hex(0x09, 2, "Slot ID");
    c.flags(0x0b, 1, "Slot Characteristics 1", SLOT_CHARACTERISTICS_1);
    c.flags(0x0c, 1, "Slot Characteristics 2", SLOT_CHARACTERISTICS_2);
    c.hex(0x0d, 2, "Segment Group Number");
    c.hex(0x0f, 1, "Bus Number");
    devfn(c, 0x10, "Device/Function Number");
    c.num(0x11, 1, "Data Bus Width (Base)", "", &[]);
    let n = c.num(0x12, 1, "Peer Grouping Count", "", &[]).unwrap_or(0) as usize;
    for i in 0..n {
        let at = 0x13 + 5 * i;
        let key = format!("Peer Group[{i}]");
        c.hex(at, 2, &format!("{key}.Segment Group Number"));
        c.hex(at + 2, 1, &format!("{key}.Bus Number"));
        devfn(c, at + 3, &format!("{key}.Device/Function Number"));
        c.num(at + 4, 1, &format!("{key}.Data Bus Width"), "", &[]);
    }
    let at = 0x13 + 5 * n;
    c.hex(at, 1, "Slot Information");
    c.enumerated(at + 1, 1, "Slot Physical Width", SLOT_WIDTH);
    c.num(at + 2, 2, "Slot Pitch", "x 0.01 mm", &[(0, "not given")]);
    c.enumerated(at + 4, 1, "Slot Height", SLOT_HEIGHT);
}

fn on_board_devices(c: &mut Ctx) {
    let n = c.len().saturating_sub(4) / 2;
    for i in 0..n {
        let key = format!("Device[{i}]");
        c.packed(
            4 + 2 * i,
            1,
            &format!("{key}.Device Type"),
            &[
                part(7, 1, "Enabled", None),
                part(0, 7, "Type", Some(ONBOARD_DEVICE_TYPE)),
            ],
        );
        c.string(5 + 2 * i, &format!("{key}.Description String"));
    }
}

/// Types 11 and 12: a count, then that many strings.
fn counted_strings(c: &mut Ctx, count: &str, each: &str) {
    let n = c.num(0x04, 1, count, "", &[]).unwrap_or(0);
    for i in 1..=n as u8 {
        c.string_at(i, &format!("{each} {i}"));
    }
}

fn bios_language(c: &mut Ctx) {
    let n = c.num(0x04, 1, "Installable Languages", "", &[]).unwrap_or(0);
    c.flags(0x05, 1, "Flags", &[(0, "Abbreviated Format")]);
    c.string(0x15, "Current Language");
    for i in 1..=n as u8 {
        c.string_at(i, &format!("Language {i}"));
    }
}

fn group_associations(c: &mut Ctx) {
    c.string(0x04, "Group Name");
    let n = c.len().saturating_sub(5) / 3;
    for i in 0..n {
        let at = 5 + 3 * i;
        if let Some(t) = c.uint(at, 1) {
            c.put(format!("Item[{i}].Type"), format!("0x{t:02x} ({})", type_name(t as u8)));
        }
        c.handle(at + 1, &format!("Item[{i}].Handle"));
    }
}

fn event_log(c: &mut Ctx) {
    c.num(0x04, 2, "Log Area Length", "bytes", &[]);
    c.hex(0x06, 2, "Log Header Start Offset");
    c.hex(0x08, 2, "Log Data Start Offset");
    c.enumerated(0x0a, 1, "Access Method", EVENT_LOG_METHOD);
    c.flags(0x0b, 1, "Log Status", &[(0, "Log Area Valid"), (1, "Log Area Full")]);
    c.hex(0x0c, 4, "Log Change Token");
    c.hex(0x10, 4, "Access Method Address");
    c.enumerated(0x14, 1, "Log Header Format", EVENT_LOG_HEADER);
    let count = c.num(0x15, 1, "Number of Supported Log Type Descriptors", "", &[]);
    let size = c.num(0x16, 1, "Length of each Log Type Descriptor", "", &[]);
    let (Some(count), Some(size)) = (count, size) else {
        return;
    };
    if size < 2 {
        return;
    }
    for i in 0..count as usize {
        let at = 0x17 + i * size as usize;
        c.enumerated(at, 1, &format!("Log Type Descriptor[{i}].Log Type"), EVENT_LOG_TYPE);
        c.enumerated(
            at + 1,
            1,
            &format!("Log Type Descriptor[{i}].Variable Data Format Type"),
            EVENT_LOG_FORMAT,
        );
    }
}

fn physical_memory_array(c: &mut Ctx) {
    c.enumerated(0x04, 1, "Location", MEMORY_ARRAY_LOCATION);
    c.enumerated(0x05, 1, "Use", MEMORY_ARRAY_USE);
    c.enumerated(0x06, 1, "Memory Error Correction", MEMORY_ARRAY_ECC);
    if let Some(v) = c.uint(0x07, 4) {
        let text = if v == 0x8000_0000 {
            "0x80000000 (see Extended Maximum Capacity)".to_string()
        } else {
            format!("0x{v:08x} ({v} KiB)")
        };
        c.put("Maximum Capacity", text);
    }
    c.handle(0x0b, "Memory Error Information Handle");
    c.num(0x0d, 2, "Number of Memory Devices", "", &[]);
    c.num(0x0f, 8, "Extended Maximum Capacity", "bytes", &[]);
}

fn memory_device(c: &mut Ctx) {
    c.handle(0x04, "Physical Memory Array Handle");
    c.handle(0x06, "Memory Error Information Handle");
    c.num(0x08, 2, "Total Width", "bits", &[(0xffff, "unknown")]);
    c.num(0x0a, 2, "Data Width", "bits", &[(0xffff, "unknown")]);
    if let Some(v) = c.uint(0x0c, 2) {
        let text = match v {
            0 => "0x0000 (no device installed)".to_string(),
            0xffff => "0xffff (unknown)".to_string(),
            0x7fff => "0x7fff (see Extended Size)".to_string(),
            _ if v & 0x8000 != 0 => format!("0x{v:04x} ({} KiB)", v & 0x7fff),
            _ => format!("0x{v:04x} ({v} MiB)"),
        };
        c.put("Size", text);
    }
    c.enumerated(0x0e, 1, "Form Factor", MEMORY_FORM_FACTOR);
    c.num(0x0f, 1, "Device Set", "", &[(0, "none"), (0xff, "unknown")]);
    c.string(0x10, "Device Locator");
    c.string(0x11, "Bank Locator");
    c.enumerated(0x12, 1, "Memory Type", MEMORY_DEVICE_TYPE);
    c.flags(0x13, 2, "Type Detail", MEMORY_TYPE_DETAIL);
    c.num(
        0x15,
        2,
        "Speed",
        "MT/s",
        &[(0, "unknown"), (0xffff, "see Extended Speed")],
    );
    c.string(0x17, "Manufacturer");
    c.string(0x18, "Serial Number");
    c.string(0x19, "Asset Tag");
    c.string(0x1a, "Part Number");
    c.packed(0x1b, 1, "Attributes", &[part(0, 4, "Rank", None)]);
    if let Some(v) = c.uint(0x1c, 4) {
        c.put("Extended Size", format!("0x{v:08x} ({} MiB)", v & 0x7fff_ffff));
    }
    c.num(
        0x20,
        2,
        "Configured Memory Speed",
        "MT/s",
        &[(0, "unknown"), (0xffff, "see Extended Configured Memory Speed")],
    );
    c.num(0x22, 2, "Minimum Voltage", "mV", &[(0, "unknown")]);
    c.num(0x24, 2, "Maximum Voltage", "mV", &[(0, "unknown")]);
    c.num(0x26, 2, "Configured Voltage", "mV", &[(0, "unknown")]);
    c.enumerated(0x28, 1, "Memory Technology", MEMORY_TECHNOLOGY);
    c.flags(0x29, 2, "Memory Operating Mode Capability", MEMORY_OPERATING_MODES);
    c.string(0x2b, "Firmware Version");
    c.hex(0x2c, 2, "Module Manufacturer ID");
    c.hex(0x2e, 2, "Module Product ID");
    c.hex(0x30, 2, "Memory Subsystem Controller Manufacturer ID");
    c.hex(0x32, 2, "Memory Subsystem Controller Product ID");
    let unknown = [(u64::MAX, "unknown")];
    c.num(0x34, 8, "Non-volatile Size", "bytes", &unknown);
    c.num(0x3c, 8, "Volatile Size", "bytes", &unknown);
    c.num(0x44, 8, "Cache Size", "bytes", &unknown);
    c.num(0x4c, 8, "Logical Size", "bytes", &unknown);
    c.num(0x54, 4, "Extended Speed", "MT/s", &[]);
    c.num(0x58, 4, "Extended Configured Memory Speed", "MT/s", &[]);
    c.hex(0x5c, 2, "PMIC0 Manufacturer ID");
    c.hex(0x5e, 2, "PMIC0 Revision Number");
    c.hex(0x60, 2, "RCD Manufacturer ID");
    c.hex(0x62, 2, "RCD Revision Number");
}

fn memory_error_32(c: &mut Ctx) {
    c.enumerated(0x04, 1, "Error Type", MEMORY_ERROR_TYPE);
    c.enumerated(0x05, 1, "Error Granularity", MEMORY_ERROR_GRANULARITY);
    c.enumerated(0x06, 1, "Error Operation", MEMORY_ERROR_OPERATION);
    c.hex(0x07, 4, "Vendor Syndrome");
    c.hex(0x0b, 4, "Memory Array Error Address");
    c.hex(0x0f, 4, "Device Error Address");
    c.hex(0x13, 4, "Error Resolution");
}

fn array_mapped_address(c: &mut Ctx) {
    c.hex(0x04, 4, "Starting Address (KiB)");
    c.hex(0x08, 4, "Ending Address (KiB)");
    c.handle(0x0c, "Memory Array Handle");
    c.num(0x0e, 1, "Partition Width", "", &[]);
    c.hex(0x0f, 8, "Extended Starting Address");
    c.hex(0x17, 8, "Extended Ending Address");
}

fn device_mapped_address(c: &mut Ctx) {
    c.hex(0x04, 4, "Starting Address (KiB)");
    c.hex(0x08, 4, "Ending Address (KiB)");
    c.handle(0x0c, "Memory Device Handle");
    c.handle(0x0e, "Memory Array Mapped Address Handle");
    c.num(0x10, 1, "Partition Row Position", "", &[(0xff, "unknown")]);
    c.num(
        0x11,
        1,
        "Interleave Position",
        "",
        &[(0, "non-interleaved"), (0xff, "unknown")],
    );
    c.num(
        0x12,
        1,
        "Interleaved Data Depth",
        "",
        &[(0, "non-interleaved"), (0xff, "unknown")],
    );
    c.hex(0x13, 8, "Extended Starting Address");
    c.hex(0x1b, 8, "Extended Ending Address");
}

fn pointing_device(c: &mut Ctx) {
    c.enumerated(0x04, 1, "Type", POINTING_DEVICE_TYPE);
    c.enumerated(0x05, 1, "Interface", POINTING_DEVICE_INTERFACE);
    c.num(0x06, 1, "Number of Buttons", "", &[]);
}

fn portable_battery(c: &mut Ctx) {
    c.string(0x04, "Location");
    c.string(0x05, "Manufacturer");
    c.string(0x06, "Manufacture Date");
    c.string(0x07, "Serial Number");
    c.string(0x08, "Device Name");
    c.enumerated(0x09, 1, "Device Chemistry", BATTERY_CHEMISTRY);
    c.num(0x0a, 2, "Design Capacity", "mWh (before multiplier)", &[(0, "unknown")]);
    c.num(0x0c, 2, "Design Voltage", "mV", &[(0, "unknown")]);
    c.string(0x0e, "SBDS Version Number");
    c.num(0x0f, 1, "Maximum Error in Battery Data", "%", &[(0xff, "unknown")]);
    c.hex(0x10, 2, "SBDS Serial Number");
    if let Some(v) = c.uint(0x12, 2) {
        // Packed date: bits 15:9 years since 1980, 8:5 month, 4:0 day.
        c.put(
            "SBDS Manufacture Date",
            format!("0x{v:04x} ({}-{:02}-{:02})", 1980 + (v >> 9), v >> 5 & 0xf, v & 0x1f),
        );
    }
    c.string(0x14, "SBDS Device Chemistry");
    c.num(0x15, 1, "Design Capacity Multiplier", "", &[]);
    c.hex(0x16, 4, "OEM-specific");
}

fn system_reset(c: &mut Ctx) {
    c.packed(
        0x04,
        1,
        "Capabilities",
        &[
            part(0, 1, "Enabled", None),
            part(1, 2, "Boot Option", Some(RESET_BOOT_OPTION)),
            part(3, 2, "Boot Option on Limit", Some(RESET_BOOT_OPTION)),
            part(5, 1, "Watchdog Timer", None),
        ],
    );
    let unknown = [(0xffff, "unknown")];
    c.num(0x05, 2, "Reset Count", "", &unknown);
    c.num(0x07, 2, "Reset Limit", "", &unknown);
    c.num(0x09, 2, "Timer Interval", "min", &unknown);
    c.num(0x0b, 2, "Timeout", "min", &unknown);
}

fn hardware_security(c: &mut Ctx) {
    let s = Some(SECURITY_STATUS);
    c.packed(
        0x04,
        1,
        "Hardware Security Settings",
        &[
            part(6, 2, "Power-on Password Status", s),
            part(4, 2, "Keyboard Password Status", s),
            part(2, 2, "Administrator Password Status", s),
            part(0, 2, "Front Panel Reset Status", s),
        ],
    );
}

fn power_controls(c: &mut Ctx) {
    // BCD values; shown in hex, which reads as the decimal value.
    c.hex(0x04, 1, "Next Scheduled Power-on Month");
    c.hex(0x05, 1, "Next Scheduled Power-on Day-of-month");
    c.hex(0x06, 1, "Next Scheduled Power-on Hour");
    c.hex(0x07, 1, "Next Scheduled Power-on Minute");
    c.hex(0x08, 1, "Next Scheduled Power-on Second");
}

/// Types 26, 28 and 29 share one layout; only units and locations differ.
fn probe(c: &mut Ctx, locations: Enum, unit: &str, resolution: &str) {
    c.string(0x04, "Description");
    c.packed(
        0x05,
        1,
        "Location and Status",
        &[
            part(5, 3, "Status", Some(PROBE_STATUS)),
            part(0, 5, "Location", Some(locations)),
        ],
    );
    c.signed(0x06, "Maximum Value", unit);
    c.signed(0x08, "Minimum Value", unit);
    c.num(0x0a, 2, "Resolution", resolution, &[(0x8000, "unknown")]);
    c.signed(0x0c, "Tolerance", unit);
    c.num(0x0e, 2, "Accuracy", "x 0.01 %", &[(0x8000, "unknown")]);
    c.hex(0x10, 4, "OEM-defined");
    c.signed(0x14, "Nominal Value", unit);
}

fn cooling_device(c: &mut Ctx) {
    c.handle(0x04, "Temperature Probe Handle");
    c.packed(
        0x06,
        1,
        "Device Type and Status",
        &[
            part(5, 3, "Status", Some(PROBE_STATUS)),
            part(0, 5, "Device Type", Some(COOLING_DEVICE_TYPE)),
        ],
    );
    c.num(0x07, 1, "Cooling Unit Group", "", &[(0, "not a member of a group")]);
    c.hex(0x08, 4, "OEM-defined");
    c.num(0x0c, 2, "Nominal Speed", "rpm", &[(0x8000, "unknown or non-rotating")]);
    c.string(0x0e, "Description");
}

fn remote_access(c: &mut Ctx) {
    c.string(0x04, "Manufacturer Name");
    c.flags(
        0x05,
        1,
        "Connections",
        &[(0, "Inbound Connection Enabled"), (1, "Outbound Connection Enabled")],
    );
}

fn bis_entry_point(c: &mut Ctx) {
    if let Some(sum) = c.uint(0x04, 1) {
        let area = c.area;
        c.put("Checksum", checksum_text(sum as u8, area));
    }
    c.hex(0x08, 4, "BIS Entry Point Address (16-bit)");
    c.hex(0x0c, 4, "BIS Entry Point Address (32-bit)");
}

fn system_boot(c: &mut Ctx) {
    c.enumerated(0x0a, 1, "Boot Status", BOOT_STATUS);
    let rest = c.len().saturating_sub(0x0b);
    if rest > 0 {
        c.bytes(0x0b, rest, "Boot Status Data");
    }
}

fn memory_error_64(c: &mut Ctx) {
    c.enumerated(0x04, 1, "Error Type", MEMORY_ERROR_TYPE);
    c.enumerated(0x05, 1, "Error Granularity", MEMORY_ERROR_GRANULARITY);
    c.enumerated(0x06, 1, "Error Operation", MEMORY_ERROR_OPERATION);
    c.hex(0x07, 4, "Vendor Syndrome");
    c.hex(0x0b, 8, "Memory Array Error Address");
    c.hex(0x13, 8, "Device Error Address");
    c.hex(0x1b, 4, "Error Resolution");
}

fn management_device(c: &mut Ctx) {
    c.string(0x04, "Description");
    c.enumerated(0x05, 1, "Type", MANAGEMENT_DEVICE_TYPE);
    c.hex(0x06, 4, "Address");
    c.enumerated(0x0a, 1, "Address Type", MANAGEMENT_ADDRESS_TYPE);
}

fn management_component(c: &mut Ctx) {
    c.string(0x04, "Description");
    c.handle(0x05, "Management Device Handle");
    c.handle(0x07, "Component Handle");
    c.handle(0x09, "Threshold Handle");
}

fn threshold_data(c: &mut Ctx) {
    c.signed(0x04, "Lower Threshold - Non-critical", "");
    c.signed(0x06, "Upper Threshold - Non-critical", "");
    c.signed(0x08, "Lower Threshold - Critical", "");
    c.signed(0x0a, "Upper Threshold - Critical", "");
    c.signed(0x0c, "Lower Threshold - Non-recoverable", "");
    c.signed(0x0e, "Upper Threshold - Non-recoverable", "");
}

fn memory_channel(c: &mut Ctx) {
    c.enumerated(0x04, 1, "Channel Type", MEMORY_CHANNEL_TYPE);
    c.num(0x05, 1, "Maximum Channel Load", "", &[]);
    let n = c.num(0x06, 1, "Memory Device Count", "", &[]).unwrap_or(0) as usize;
    for i in 0..n {
        c.num(0x07 + 3 * i, 1, &format!("Memory Device[{i}].Load"), "", &[]);
        c.handle(0x08 + 3 * i, &format!("Memory Device[{i}].Handle"));
    }
}

fn ipmi_device(c: &mut Ctx) {
    c.enumerated(0x04, 1, "Interface Type", IPMI_INTERFACE);
    if let Some(v) = c.uint(0x05, 1) {
        c.put(
            "IPMI Specification Revision",
            format!("0x{v:02x} ({}.{})", v >> 4, v & 0xf),
        );
    }
    c.hex(0x06, 1, "I2C Target Address");
    c.hex(0x07, 1, "NV Storage Device Address");
    c.hex(0x08, 8, "Base Address");
    c.packed(
        0x10,
        1,
        "Base Address Modifier",
        &[
            part(6, 2, "Register Spacing", Some(IPMI_SPACING)),
            part(4, 1, "LS-bit for Addresses", None),
            part(3, 1, "Interrupt Info Specified", None),
            part(1, 1, "Interrupt Polarity Active High", None),
            part(0, 1, "Interrupt Trigger Level", None),
        ],
    );
    c.num(0x11, 1, "Interrupt Number", "", &[(0, "unspecified")]);
}

fn power_supply(c: &mut Ctx) {
    c.num(0x04, 1, "Power Unit Group", "", &[(0, "not a member of a group")]);
    c.string(0x05, "Location");
    c.string(0x06, "Device Name");
    c.string(0x07, "Manufacturer");
    c.string(0x08, "Serial Number");
    c.string(0x09, "Asset Tag Number");
    c.string(0x0a, "Model Part Number");
    c.string(0x0b, "Revision Level");
    c.num(0x0c, 2, "Max Power Capacity", "W", &[(0x8000, "unknown")]);
    c.packed(
        0x0e,
        2,
        "Power Supply Characteristics",
        &[
            part(10, 4, "Power Supply Type", Some(POWER_SUPPLY_TYPE)),
            part(7, 3, "Status", Some(POWER_SUPPLY_STATUS)),
            part(3, 4, "Input Voltage Range Switching", Some(POWER_SUPPLY_SWITCHING)),
            part(2, 1, "Unplugged from Wall", None),
            part(1, 1, "Present", None),
            part(0, 1, "Hot Replaceable", None),
        ],
    );
    c.handle(0x10, "Input Voltage Probe Handle");
    c.handle(0x12, "Cooling Device Handle");
    c.handle(0x14, "Input Current Probe Handle");
}

fn additional_information(c: &mut Ctx) {
    let n = c
        .num(0x04, 1, "Number of Additional Information Entries", "", &[])
        .unwrap_or(0);
    let mut at = 5usize;
    for i in 0..n {
        let key = format!("Entry[{i}]");
        let Some(len) = c.peek(at).map(usize::from) else {
            c.error(format!("{key} past the end of the structure"));
            return;
        };
        if len < 5 || at + len > c.len() {
            c.error(format!("{key} length {len} does not fit the structure"));
            return;
        }
        c.num(at, 1, &format!("{key}.Entry Length"), "", &[]);
        c.handle(at + 1, &format!("{key}.Referenced Handle"));
        c.hex(at + 3, 1, &format!("{key}.Referenced Offset"));
        c.string(at + 4, &format!("{key}.String"));
        if len > 5 {
            c.bytes(at + 5, len - 5, &format!("{key}.Value"));
        }
        at += len;
    }
}

fn onboard_device_extended(c: &mut Ctx) {
    c.string(0x04, "Reference Designation");
    c.packed(
        0x05,
        1,
        "Device Type",
        &[
            part(7, 1, "Enabled", None),
            part(0, 7, "Type", Some(ONBOARD_DEVICE_TYPE)),
        ],
    );
    c.num(0x06, 1, "Device Type Instance", "", &[]);
    c.hex(0x07, 2, "Segment Group Number");
    c.hex(0x09, 1, "Bus Number");
    devfn(c, 0x0a, "Device/Function Number");
}

fn host_interface(c: &mut Ctx) {
    c.enumerated(0x04, 1, "Interface Type", HOST_INTERFACE_TYPE);
    let Some(n) = c.num(0x05, 1, "Interface Type Specific Data Length", "", &[]) else {
        return;
    };
    let n = n as usize;
    if n > 0 && c.bytes(0x06, n, "Interface Type Specific Data").is_none() {
        c.error(format!(
            "interface specific data ({n} bytes) past the end of the structure"
        ));
        return;
    }
    let Some(count) = c.num(0x06 + n, 1, "Number of Protocol Records", "", &[]) else {
        return;
    };
    let mut at = 0x07 + n;
    for i in 0..count {
        let key = format!("Protocol Record[{i}]");
        let Some(len) = c.peek(at + 1).map(usize::from) else {
            c.error(format!("{key} past the end of the structure"));
            return;
        };
        if at + 2 + len > c.len() {
            c.error(format!("{key} data ({len} bytes) past the end of the structure"));
            return;
        }
        c.enumerated(at, 1, &format!("{key}.Protocol Type"), PROTOCOL_TYPE);
        c.num(at + 1, 1, &format!("{key}.Protocol Type Specific Data Length"), "", &[]);
        if len > 0 {
            c.bytes(at + 2, len, &format!("{key}.Protocol Type Specific Data"));
        }
        at += 2 + len;
    }
}

fn tpm_device(c: &mut Ctx) {
    if let Some(id) = c.take(0x04, 4) {
        c.put("Vendor ID", quoted(id));
    }
    c.num(0x08, 1, "Major Spec Version", "", &[]);
    c.num(0x09, 1, "Minor Spec Version", "", &[]);
    c.hex(0x0a, 4, "Firmware Version 1");
    c.hex(0x0e, 4, "Firmware Version 2");
    c.string(0x12, "Description");
    c.flags(0x13, 8, "Characteristics", TPM_CHARACTERISTICS);
    c.hex(0x1b, 4, "OEM-defined");
}

fn processor_additional(c: &mut Ctx) {
    c.handle(0x04, "Referenced Handle");
    let n = c.num(0x06, 1, "Block Length", "", &[]).unwrap_or(0) as usize;
    c.enumerated(0x07, 1, "Processor Type", PROCESSOR_ARCHITECTURE);
    if n > 0 && c.bytes(0x08, n, "Processor-Specific Data").is_none() {
        c.error(format!(
            "processor-specific block ({n} bytes) past the end of the structure"
        ));
    }
}

fn firmware_inventory(c: &mut Ctx) {
    c.string(0x04, "Firmware Component Name");
    c.string(0x05, "Firmware Version");
    c.enumerated(0x06, 1, "Version Format", FIRMWARE_VERSION_FORMAT);
    c.string(0x07, "Firmware ID");
    c.enumerated(0x08, 1, "Firmware ID Format", FIRMWARE_ID_FORMAT);
    c.string(0x09, "Release Date");
    c.string(0x0a, "Manufacturer");
    c.string(0x0b, "Lowest Supported Firmware Version");
    c.num(0x0c, 8, "Image Size", "bytes", &[(u64::MAX, "unknown")]);
    c.flags(0x14, 2, "Characteristics", &[(0, "Updatable"), (1, "Write-Protect")]);
    c.enumerated(0x16, 1, "State", FIRMWARE_STATE);
    let n = c.num(0x17, 1, "Number of Associated Components", "", &[]).unwrap_or(0) as usize;
    for i in 0..n {
        c.handle(0x18 + 2 * i, &format!("Associated Component Handle[{i}]"));
    }
}

fn string_property(c: &mut Ctx) {
    if let Some(id) = c.uint(0x04, 2) {
        let what = match id {
            0 => "reserved",
            1 => "UEFI device path",
            0x8000..=0xbfff => "BIOS vendor specific",
            0xc000..=0xffff => "OEM specific",
            _ => "unnamed",
        };
        c.put("String Property ID", format!("0x{id:04x} ({what})"));
    }
    c.string(0x06, "String Property Value");
    c.handle(0x07, "Parent Handle");
}

// --------------------------------------------------------------------- tables
// Names from the SMBIOS specification (DSP0134 3.x), shortened as dmidecode
// prints them where the spec's wording is long.

const BIOS_CHARACTERISTICS: Bits = &[
    (2, "Unknown"),
    (3, "BIOS Characteristics are not supported"),
    (4, "ISA is supported"),
    (5, "MCA is supported"),
    (6, "EISA is supported"),
    (7, "PCI is supported"),
    (8, "PC Card (PCMCIA) is supported"),
    (9, "Plug and Play is supported"),
    (10, "APM is supported"),
    (11, "BIOS is upgradeable (Flash)"),
    (12, "BIOS shadowing is allowed"),
    (13, "VL-VESA is supported"),
    (14, "ESCD support is available"),
    (15, "Boot from CD is supported"),
    (16, "Selectable boot is supported"),
    (17, "BIOS ROM is socketed"),
    (18, "Boot from PC Card (PCMCIA) is supported"),
    (19, "EDD specification is supported"),
    (20, "Int 13h Japanese floppy for NEC 9800 1.2 MB"),
    (21, "Int 13h Japanese floppy for Toshiba 1.2 MB"),
    (22, "Int 13h 5.25 in 360 KB floppy services"),
    (23, "Int 13h 5.25 in 1.2 MB floppy services"),
    (24, "Int 13h 3.5 in 720 KB floppy services"),
    (25, "Int 13h 3.5 in 2.88 MB floppy services"),
    (26, "Int 5h print screen service"),
    (27, "Int 9h 8042 keyboard services"),
    (28, "Int 14h serial services"),
    (29, "Int 17h printer services"),
    (30, "Int 10h CGA/Mono video services"),
    (31, "NEC PC-98"),
];

const BIOS_EXTENSION_1: Bits = &[
    (0, "ACPI is supported"),
    (1, "USB Legacy is supported"),
    (2, "AGP is supported"),
    (3, "I2O boot is supported"),
    (4, "LS-120 SuperDisk boot is supported"),
    (5, "ATAPI ZIP drive boot is supported"),
    (6, "1394 boot is supported"),
    (7, "Smart battery is supported"),
];

const BIOS_EXTENSION_2: Bits = &[
    (0, "BIOS Boot Specification is supported"),
    (1, "Function key-initiated network service boot is supported"),
    (2, "Targeted content distribution is supported"),
    (3, "UEFI Specification is supported"),
    (4, "SMBIOS table describes a virtual machine"),
    (5, "Manufacturing mode is supported"),
    (6, "Manufacturing mode is enabled"),
];

const BOARD_FEATURES: Bits = &[
    (0, "Hosting Board"),
    (1, "Requires At Least One Daughter Board"),
    (2, "Removable"),
    (3, "Replaceable"),
    (4, "Hot Swappable"),
];

const PROCESSOR_STATUS: Enum = &[
    (
        0,
        &[
            "Unknown",
            "Enabled",
            "Disabled by User through BIOS Setup",
            "Disabled by BIOS (POST Error)",
            "Idle",
        ],
    ),
    (7, &["Other"]),
];

const PROCESSOR_CHARACTERISTICS: Bits = &[
    (1, "Unknown"),
    (2, "64-bit Capable"),
    (3, "Multi-Core"),
    (4, "Hardware Thread"),
    (5, "Execute Protection"),
    (6, "Enhanced Virtualization"),
    (7, "Power/Performance Control"),
    (8, "128-bit Capable"),
    (9, "Arm64 SoC ID"),
];

/// CPUID leaf 1 EDX feature flags (Intel SDM / AMD APM names).
const X86_EDX_FLAGS: Bits = &[
    (0, "FPU"),
    (1, "VME"),
    (2, "DE"),
    (3, "PSE"),
    (4, "TSC"),
    (5, "MSR"),
    (6, "PAE"),
    (7, "MCE"),
    (8, "CX8"),
    (9, "APIC"),
    (11, "SEP"),
    (12, "MTRR"),
    (13, "PGE"),
    (14, "MCA"),
    (15, "CMOV"),
    (16, "PAT"),
    (17, "PSE-36"),
    (18, "PSN"),
    (19, "CLFSH"),
    (21, "DS"),
    (22, "ACPI"),
    (23, "MMX"),
    (24, "FXSR"),
    (25, "SSE"),
    (26, "SSE2"),
    (27, "SS"),
    (28, "HTT"),
    (29, "TM"),
    (31, "PBE"),
];

const ERROR_CORRECTING_CAPABILITY: Bits = &[
    (0, "Other"),
    (1, "Unknown"),
    (2, "None"),
    (3, "Single-Bit Error Correcting"),
    (4, "Double-Bit Error Correcting"),
    (5, "Error Scrubbing"),
];

const MEMORY_SPEEDS: Bits = &[(0, "Other"), (1, "Unknown"), (2, "70ns"), (3, "60ns"), (4, "50ns")];

const MEMORY_MODULE_TYPES: Bits = &[
    (0, "Other"),
    (1, "Unknown"),
    (2, "Standard"),
    (3, "Fast Page Mode"),
    (4, "EDO"),
    (5, "Parity"),
    (6, "ECC"),
    (7, "SIMM"),
    (8, "DIMM"),
    (9, "Burst EDO"),
    (10, "SDRAM"),
];

const MODULE_ERROR_STATUS: Bits = &[
    (0, "Uncorrectable Errors"),
    (1, "Correctable Errors"),
    (2, "See Event Log"),
];

const CACHE_LOCATION: Enum = &[(0, &["Internal", "External", "Reserved", "Unknown"])];

const CACHE_MODE: Enum = &[(
    0,
    &["Write Through", "Write Back", "Varies with Memory Address", "Unknown"],
)];

const SRAM_TYPES: Bits = &[
    (0, "Other"),
    (1, "Unknown"),
    (2, "Non-Burst"),
    (3, "Burst"),
    (4, "Pipeline Burst"),
    (5, "Synchronous"),
    (6, "Asynchronous"),
];

const SLOT_CHARACTERISTICS_1: Bits = &[
    (0, "Characteristics unknown"),
    (1, "Provides 5.0 volts"),
    (2, "Provides 3.3 volts"),
    (3, "Slot's opening is shared"),
    (4, "PC Card slot supports PC Card-16"),
    (5, "PC Card slot supports CardBus"),
    (6, "PC Card slot supports Zoom Video"),
    (7, "PC Card slot supports Modem Ring Resume"),
];

const SLOT_CHARACTERISTICS_2: Bits = &[
    (0, "PME# signal supported"),
    (1, "Hot-plug devices supported"),
    (2, "SMBus signal supported"),
    (3, "PCIe slot bifurcation supported"),
    (4, "Async/surprise removal supported"),
    (5, "Flexbus slot, CXL 1.0 capable"),
    (6, "Flexbus slot, CXL 2.0 capable"),
    (7, "Flexbus slot, CXL 3.0 capable"),
];

const EVENT_LOG_HEADER: Enum = &[(0, &["No header", "Type 1 log header"]), (0x80, &["OEM-specific"; 128])];

const MEMORY_TYPE_DETAIL: Bits = &[
    (1, "Other"),
    (2, "Unknown"),
    (3, "Fast-paged"),
    (4, "Static column"),
    (5, "Pseudo-static"),
    (6, "RAMBUS"),
    (7, "Synchronous"),
    (8, "CMOS"),
    (9, "EDO"),
    (10, "Window DRAM"),
    (11, "Cache DRAM"),
    (12, "Non-volatile"),
    (13, "Registered (Buffered)"),
    (14, "Unbuffered (Unregistered)"),
    (15, "LRDIMM"),
];

const MEMORY_OPERATING_MODES: Bits = &[
    (1, "Other"),
    (2, "Unknown"),
    (3, "Volatile memory"),
    (4, "Byte-accessible persistent memory"),
    (5, "Block-accessible persistent memory"),
];

const RESET_BOOT_OPTION: Enum = &[(
    0,
    &["Reserved", "Operating System", "System Utilities", "Do Not Reboot"],
)];

const SECURITY_STATUS: Enum = &[(0, &["Disabled", "Enabled", "Not Implemented", "Unknown"])];

const IPMI_SPACING: Enum = &[(
    0,
    &[
        "Successive Byte Boundaries",
        "32-bit Boundaries",
        "16-byte Boundaries",
        "Reserved",
    ],
)];

const HOST_INTERFACE_TYPE: Enum = &[
    (
        0x02,
        &[
            "KCS: Keyboard Controller Style",
            "8250 UART Register Compatible",
            "16450 UART Register Compatible",
            "16550/16550A UART Register Compatible",
            "16650/16650A UART Register Compatible",
            "16750/16750A UART Register Compatible",
            "16850/16850A UART Register Compatible",
        ],
    ),
    (0x40, &["Network Host Interface"]),
    (0xf0, &["OEM-defined"]),
];

const PROTOCOL_TYPE: Enum = &[
    (0x00, &["Reserved", "Reserved", "IPMI", "MCTP", "Redfish over IP"]),
    (0xf0, &["OEM-defined"]),
];

const TPM_CHARACTERISTICS: Bits = &[
    (2, "TPM Device Characteristics are not supported"),
    (3, "Family configurable via firmware update"),
    (4, "Family configurable via platform software support"),
    (5, "Family configurable via OEM proprietary mechanism"),
];

const PROCESSOR_ARCHITECTURE: Enum = &[(
    0x00,
    &[
        "Reserved",
        "IA32 (x86)",
        "x64 (x86-64, Intel64, AMD64, EM64T)",
        "Intel Itanium architecture",
        "32-bit ARM (Aarch32)",
        "64-bit ARM (Aarch64)",
        "32-bit RISC-V (RV32)",
        "64-bit RISC-V (RV64)",
        "128-bit RISC-V (RV128)",
        "32-bit LoongArch (LoongArch32)",
        "64-bit LoongArch (LoongArch64)",
    ],
)];

const FIRMWARE_VERSION_FORMAT: Enum = &[
    (
        0x00,
        &[
            "Free-form string",
            "MAJOR.MINOR",
            "32-bit hexadecimal string",
            "64-bit hexadecimal string",
        ],
    ),
    (0x80, &["BIOS vendor/OEM-specific"; 128]),
];

const FIRMWARE_ID_FORMAT: Enum = &[
    (0x00, &["Free-form string", "UEFI ESRT FwClass GUID"]),
    (0x80, &["BIOS vendor/OEM-specific"; 128]),
];

const WAKE_UP_TYPE: Enum = &[(
    0x00,
    &[
        "Reserved",
        "Other",
        "Unknown",
        "APM Timer",
        "Modem Ring",
        "LAN Remote",
        "Power Switch",
        "PCI PME#",
        "AC Power Restored",
    ],
)];
const BOARD_TYPE: Enum = &[(
    0x01,
    &[
        "Unknown",
        "Other",
        "Server Blade",
        "Connectivity Switch",
        "System Management Module",
        "Processor Module",
        "I/O Module",
        "Memory Module",
        "Daughter Board",
        "Motherboard",
        "Processor+Memory Module",
        "Processor+I/O Module",
        "Interconnect Board",
    ],
)];
const CHASSIS_TYPE: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "Desktop",
        "Low Profile Desktop",
        "Pizza Box",
        "Mini Tower",
        "Tower",
        "Portable",
        "Laptop",
        "Notebook",
        "Hand Held",
        "Docking Station",
        "All In One",
        "Sub Notebook",
        "Space-saving",
        "Lunch Box",
        "Main Server Chassis",
        "Expansion Chassis",
        "Sub Chassis",
        "Bus Expansion Chassis",
        "Peripheral Chassis",
        "RAID Chassis",
        "Rack Mount Chassis",
        "Sealed-case PC",
        "Multi-system",
        "CompactPCI",
        "AdvancedTCA",
        "Blade",
        "Blade Enclosing",
        "Tablet",
        "Convertible",
        "Detachable",
        "IoT Gateway",
        "Embedded PC",
        "Mini PC",
        "Stick PC",
    ],
)];
const CHASSIS_STATE: Enum = &[(
    0x01,
    &["Other", "Unknown", "Safe", "Warning", "Critical", "Non-recoverable"],
)];
const CHASSIS_SECURITY: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "None",
        "External Interface Locked Out",
        "External Interface Enabled",
    ],
)];
const PROCESSOR_TYPE: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "Central Processor",
        "Math Processor",
        "DSP Processor",
        "Video Processor",
    ],
)];
const PROCESSOR_UPGRADE: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "Daughter Board",
        "ZIF Socket",
        "Replaceable Piggy Back",
        "None",
        "LIF Socket",
        "Slot 1",
        "Slot 2",
        "370-pin Socket",
        "Slot A",
        "Slot M",
        "Socket 423",
        "Socket A (Socket 462)",
        "Socket 478",
        "Socket 754",
        "Socket 940",
        "Socket 939",
        "Socket mPGA604",
        "Socket LGA771",
        "Socket LGA775",
        "Socket S1",
        "Socket AM2",
        "Socket F (1207)",
        "Socket LGA1366",
        "Socket G34",
        "Socket AM3",
        "Socket C32",
        "Socket LGA1156",
        "Socket LGA1567",
        "Socket PGA988A",
        "Socket BGA1288",
        "Socket rPGA988B",
        "Socket BGA1023",
        "Socket BGA1224",
        "Socket BGA1155",
        "Socket LGA1356",
        "Socket LGA2011",
        "Socket FS1",
        "Socket FS2",
        "Socket FM1",
        "Socket FM2",
        "Socket LGA2011-3",
        "Socket LGA1356-3",
        "Socket LGA1150",
        "Socket BGA1168",
        "Socket BGA1234",
        "Socket BGA1364",
        "Socket AM4",
        "Socket LGA1151",
        "Socket BGA1356",
        "Socket BGA1440",
        "Socket BGA1515",
        "Socket LGA3647-1",
        "Socket SP3",
        "Socket SP3r2",
        "Socket LGA2066",
        "Socket BGA1392",
        "Socket BGA1510",
        "Socket BGA1528",
        "Socket LGA4189",
        "Socket LGA1200",
        "Socket LGA4677",
        "Socket LGA1700",
        "Socket BGA1744",
        "Socket BGA1781",
        "Socket BGA1211",
        "Socket BGA2422",
        "Socket LGA1211",
        "Socket LGA2422",
        "Socket LGA5773",
        "Socket BGA5773",
        "Socket AM5",
        "Socket SP5",
        "Socket SP6",
        "Socket BGA883",
        "Socket BGA1190",
        "Socket BGA4129",
        "Socket LGA4710",
        "Socket LGA7529",
    ],
)];
const ERROR_DETECTING_METHOD: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "None",
        "8-bit Parity",
        "32-bit ECC",
        "64-bit ECC",
        "128-bit ECC",
        "CRC",
    ],
)];
const INTERLEAVE: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "One-way Interleave",
        "Two-way Interleave",
        "Four-way Interleave",
        "Eight-way Interleave",
        "Sixteen-way Interleave",
    ],
)];
const CACHE_ECC: Enum = &[(
    0x01,
    &["Other", "Unknown", "None", "Parity", "Single-bit ECC", "Multi-bit ECC"],
)];
const CACHE_TYPE: Enum = &[(0x01, &["Other", "Unknown", "Instruction", "Data", "Unified"])];
const CACHE_ASSOCIATIVITY: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "Direct Mapped",
        "2-way Set-associative",
        "4-way Set-associative",
        "Fully Associative",
        "8-way Set-associative",
        "16-way Set-associative",
        "12-way Set-associative",
        "24-way Set-associative",
        "32-way Set-associative",
        "48-way Set-associative",
        "64-way Set-associative",
        "20-way Set-associative",
    ],
)];
const CONNECTOR_TYPE: Enum = &[
    (0xff, &["Other"]),
    (
        0x00,
        &[
            "None",
            "Centronics",
            "Mini Centronics",
            "Proprietary",
            "DB-25 male",
            "DB-25 female",
            "DB-15 male",
            "DB-15 female",
            "DB-9 male",
            "DB-9 female",
            "RJ-11",
            "RJ-45",
            "50 Pin MiniSCSI",
            "Mini DIN",
            "Micro DIN",
            "PS/2",
            "Infrared",
            "HP-HIL",
            "Access Bus (USB)",
            "SSA SCSI",
            "Circular DIN-8 male",
            "Circular DIN-8 female",
            "On Board IDE",
            "On Board Floppy",
            "9 Pin Dual Inline (pin 10 cut)",
            "25 Pin Dual Inline (pin 26 cut)",
            "50 Pin Dual Inline",
            "68 Pin Dual Inline",
            "On Board Sound Input From CD-ROM",
            "Mini Centronics Type-14",
            "Mini Centronics Type-26",
            "Mini Jack (headphones)",
            "BNC",
            "IEEE 1394",
            "SAS/SATA Plug Receptacle",
            "USB Type-C Receptacle",
        ],
    ),
    (0xa0, &["PC-98", "PC-98 Hireso", "PC-H98", "PC-98 Note", "PC-98 Full"]),
];
const PORT_TYPE: Enum = &[
    (0xff, &["Other"]),
    (
        0x00,
        &[
            "None",
            "Parallel Port XT/AT Compatible",
            "Parallel Port PS/2",
            "Parallel Port ECP",
            "Parallel Port EPP",
            "Parallel Port ECP/EPP",
            "Serial Port XT/AT Compatible",
            "Serial Port 16450 Compatible",
            "Serial Port 16550 Compatible",
            "Serial Port 16550A Compatible",
            "SCSI Port",
            "MIDI Port",
            "Joystick Port",
            "Keyboard Port",
            "Mouse Port",
            "SSA SCSI",
            "USB",
            "Firewire (IEEE P1394)",
            "PCMCIA Type I",
            "PCMCIA Type II",
            "PCMCIA Type III",
            "Cardbus",
            "Access Bus Port",
            "SCSI II",
            "SCSI Wide",
            "PC-98",
            "PC-98 Hireso",
            "PC-H98",
            "Video Port",
            "Audio Port",
            "Modem Port",
            "Network Port",
            "SATA",
            "SAS",
            "MFDP (Multi-Function Display Port)",
            "Thunderbolt",
        ],
    ),
    (0xa0, &["8251 Compatible", "8251 FIFO Compatible"]),
];
const SLOT_TYPE: Enum = &[
    (
        0x01,
        &[
            "Other",
            "Unknown",
            "ISA",
            "MCA",
            "EISA",
            "PCI",
            "PC Card (PCMCIA)",
            "VLB",
            "Proprietary",
            "Processor Card",
            "Proprietary Memory Card",
            "I/O Riser Card",
            "NuBus",
            "PCI-66",
            "AGP",
            "AGP 2x",
            "AGP 4x",
            "PCI-X",
            "AGP 8x",
            "M.2 Socket 1-DP",
            "M.2 Socket 1-SD",
            "M.2 Socket 2",
            "M.2 Socket 3",
            "MXM Type I",
            "MXM Type II",
            "MXM Type III",
            "MXM Type III-HE",
            "MXM Type IV",
            "MXM 3.0 Type A",
            "MXM 3.0 Type B",
            "PCI Express 2 SFF-8639 (U.2)",
            "PCI Express 3 SFF-8639 (U.2)",
            "PCI Express Mini 52-pin with bottom-side keep-outs",
            "PCI Express Mini 52-pin without bottom-side keep-outs",
            "PCI Express Mini 76-pin",
            "PCI Express 4 SFF-8639 (U.2)",
            "PCI Express 5 SFF-8639 (U.2)",
            "OCP NIC 3.0 Small Form Factor (SFF)",
            "OCP NIC 3.0 Large Form Factor (LFF)",
            "OCP NIC Prior to 3.0",
        ],
    ),
    (0x30, &["CXL FLexbus 1.0"]),
    (
        0xa0,
        &[
            "PC-98/C20",
            "PC-98/C24",
            "PC-98/E",
            "PC-98/Local Bus",
            "PC-98/Card",
            "PCI Express",
            "PCI Express x1",
            "PCI Express x2",
            "PCI Express x4",
            "PCI Express x8",
            "PCI Express x16",
            "PCI Express 2",
            "PCI Express 2 x1",
            "PCI Express 2 x2",
            "PCI Express 2 x4",
            "PCI Express 2 x8",
            "PCI Express 2 x16",
            "PCI Express 3",
            "PCI Express 3 x1",
            "PCI Express 3 x2",
            "PCI Express 3 x4",
            "PCI Express 3 x8",
            "PCI Express 3 x16",
            "",
            "PCI Express 4",
            "PCI Express 4 x1",
            "PCI Express 4 x2",
            "PCI Express 4 x4",
            "PCI Express 4 x8",
            "PCI Express 4 x16",
            "PCI Express 5",
            "PCI Express 5 x1",
            "PCI Express 5 x2",
            "PCI Express 5 x4",
            "PCI Express 5 x8",
            "PCI Express 5 x16",
            "PCI Express 6+",
            "EDSFF E1",
            "EDSFF E3",
        ],
    ),
];
const SLOT_WIDTH: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "8 bit",
        "16 bit",
        "32 bit",
        "64 bit",
        "128 bit",
        "1x or x1",
        "2x or x2",
        "4x or x4",
        "8x or x8",
        "12x or x12",
        "16x or x16",
        "32x or x32",
    ],
)];
const SLOT_USAGE: Enum = &[(0x01, &["Other", "Unknown", "Available", "In Use", "Unavailable"])];
const SLOT_LENGTH: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "Short",
        "Long",
        "2.5\" drive form factor",
        "3.5\" drive form factor",
    ],
)];
const SLOT_HEIGHT: Enum = &[(
    0x00,
    &["Not applicable", "Other", "Unknown", "Full height", "Low-profile"],
)];
const ONBOARD_DEVICE_TYPE: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "Video",
        "SCSI Controller",
        "Ethernet",
        "Token Ring",
        "Sound",
        "PATA Controller",
        "SATA Controller",
        "SAS Controller",
        "Wireless LAN",
        "Bluetooth",
        "WWAN",
        "eMMC",
        "NVMe Controller",
        "UFS Controller",
    ],
)];
const EVENT_LOG_METHOD: Enum = &[
    (0x80, &["OEM-specific"; 128]),
    (
        0x00,
        &[
            "Indexed I/O, one 8-bit index port, one 8-bit data port",
            "Indexed I/O, two 8-bit index ports, one 8-bit data port",
            "Indexed I/O, one 16-bit index port, one 8-bit data port",
            "Memory-mapped physical 32-bit address",
            "General-purpose non-volatile data functions",
        ],
    ),
];
const EVENT_LOG_TYPE: Enum = &[
    (0x80, &["OEM-specific"; 127]),
    (0xff, &["End of log"]),
    (
        0x00,
        &[
            "",
            "Single-bit ECC memory error",
            "Multi-bit ECC memory error",
            "Parity memory error",
            "Bus timeout",
            "I/O channel block",
            "Software NMI",
            "POST memory resize",
            "POST error",
            "PCI parity error",
            "PCI system error",
            "CPU failure",
            "EISA failsafe timer timeout",
            "Correctable memory log disabled",
            "Logging disabled",
            "",
            "System limit exceeded",
            "Asynchronous hardware timer expired",
            "System configuration information",
            "Hard disk information",
            "System reconfigured",
            "Uncorrectable CPU-complex error",
            "Log area reset/cleared",
            "System boot",
        ],
    ),
];
const EVENT_LOG_FORMAT: Enum = &[
    (0x80, &["OEM-specific"; 128]),
    (
        0x00,
        &[
            "None",
            "Handle",
            "Multiple-event",
            "Multiple-event handle",
            "POST results bitmap",
            "System management",
            "Multiple-event system management",
        ],
    ),
];
const MEMORY_ARRAY_LOCATION: Enum = &[
    (
        0x01,
        &[
            "Other",
            "Unknown",
            "System Board Or Motherboard",
            "ISA Add-on Card",
            "EISA Add-on Card",
            "PCI Add-on Card",
            "MCA Add-on Card",
            "PCMCIA Add-on Card",
            "Proprietary Add-on Card",
            "NuBus",
        ],
    ),
    (
        0xa0,
        &[
            "PC-98/C20 Add-on Card",
            "PC-98/C24 Add-on Card",
            "PC-98/E Add-on Card",
            "PC-98/Local Bus Add-on Card",
            "CXL Add-on Card",
        ],
    ),
];
const MEMORY_ARRAY_USE: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "System Memory",
        "Video Memory",
        "Flash Memory",
        "Non-volatile RAM",
        "Cache Memory",
    ],
)];
const MEMORY_ARRAY_ECC: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "None",
        "Parity",
        "Single-bit ECC",
        "Multi-bit ECC",
        "CRC",
    ],
)];
const MEMORY_FORM_FACTOR: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "SIMM",
        "SIP",
        "Chip",
        "DIP",
        "ZIP",
        "Proprietary Card",
        "DIMM",
        "TSOP",
        "Row Of Chips",
        "RIMM",
        "SODIMM",
        "SRIMM",
        "FB-DIMM",
        "Die",
    ],
)];
const MEMORY_DEVICE_TYPE: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "DRAM",
        "EDRAM",
        "VRAM",
        "SRAM",
        "RAM",
        "ROM",
        "Flash",
        "EEPROM",
        "FEPROM",
        "EPROM",
        "CDRAM",
        "3DRAM",
        "SDRAM",
        "SGRAM",
        "RDRAM",
        "DDR",
        "DDR2",
        "DDR2 FB-DIMM",
        "Reserved",
        "Reserved",
        "Reserved",
        "DDR3",
        "FBD2",
        "DDR4",
        "LPDDR",
        "LPDDR2",
        "LPDDR3",
        "LPDDR4",
        "Logical non-volatile device",
        "HBM",
        "HBM2",
        "DDR5",
        "LPDDR5",
        "HBM3",
    ],
)];
const MEMORY_TECHNOLOGY: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "DRAM",
        "NVDIMM-N",
        "NVDIMM-F",
        "NVDIMM-P",
        "Intel Optane DC persistent memory",
    ],
)];
const MEMORY_ERROR_TYPE: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "OK",
        "Bad Read",
        "Parity Error",
        "Single-bit Error",
        "Double-bit Error",
        "Multi-bit Error",
        "Nibble Error",
        "Checksum Error",
        "CRC Error",
        "Corrected Single-bit Error",
        "Corrected Error",
        "Uncorrectable Error",
    ],
)];
const MEMORY_ERROR_GRANULARITY: Enum = &[(0x01, &["Other", "Unknown", "Device Level", "Memory Partition Level"])];
const MEMORY_ERROR_OPERATION: Enum = &[(0x01, &["Other", "Unknown", "Read", "Write", "Partial Write"])];
const POINTING_DEVICE_TYPE: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "Mouse",
        "Track Ball",
        "Track Point",
        "Glide Point",
        "Touch Pad",
        "Touch Screen",
        "Optical Sensor",
    ],
)];
const POINTING_DEVICE_INTERFACE: Enum = &[
    (
        0x01,
        &[
            "Other",
            "Unknown",
            "Serial",
            "PS/2",
            "Infrared",
            "HIP-HIL",
            "Bus Mouse",
            "ADB (Apple Desktop Bus)",
        ],
    ),
    (0xa0, &["Bus Mouse DB-9", "Bus Mouse Micro DIN", "USB", "I2C", "SPI"]),
];
const BATTERY_CHEMISTRY: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "Lead Acid",
        "Nickel Cadmium",
        "Nickel Metal Hydride",
        "Lithium Ion",
        "Zinc Air",
        "Lithium Polymer",
    ],
)];
const VOLTAGE_PROBE_LOCATION: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "Processor",
        "Disk",
        "Peripheral Bay",
        "System Management Module",
        "Motherboard",
        "Memory Module",
        "Processor Module",
        "Power Unit",
        "Add-in Card",
    ],
)];
const PROBE_STATUS: Enum = &[(
    0x01,
    &["Other", "Unknown", "OK", "Non-critical", "Critical", "Non-recoverable"],
)];
const COOLING_DEVICE_TYPE: Enum = &[
    (
        0x01,
        &[
            "Other",
            "Unknown",
            "Fan",
            "Centrifugal Blower",
            "Chip Fan",
            "Cabinet Fan",
            "Power Supply Fan",
            "Heat Pipe",
            "Integrated Refrigeration",
        ],
    ),
    (0x10, &["Active Cooling", "Passive Cooling"]),
];
const TEMPERATURE_PROBE_LOCATION: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "Processor",
        "Disk",
        "Peripheral Bay",
        "System Management Module",
        "Motherboard",
        "Memory Module",
        "Processor Module",
        "Power Unit",
        "Add-in Card",
        "Front Panel Board",
        "Back Panel Board",
        "Power System Board",
        "Drive Back Plane",
    ],
)];
const BOOT_STATUS: Enum = &[
    (0x80, &["OEM-specific"; 64]),
    (0xc0, &["Product-specific"; 64]),
    (
        0x00,
        &[
            "No errors detected",
            "No bootable media",
            "Operating system failed to load",
            "Firmware-detected hardware failure",
            "Operating system-detected hardware failure",
            "User-requested boot",
            "System security violation",
            "Previously-requested image",
            "System watchdog timer expired",
        ],
    ),
];
const MANAGEMENT_DEVICE_TYPE: Enum = &[(
    0x01,
    &[
        "Other", "Unknown", "LM75", "LM78", "LM79", "LM80", "LM81", "ADM9240", "DS1780", "MAX1617", "GL518SM",
        "W83781D", "HT82H791",
    ],
)];
const MANAGEMENT_ADDRESS_TYPE: Enum = &[(0x01, &["Other", "Unknown", "I/O Port", "Memory", "SMBus"])];
const MEMORY_CHANNEL_TYPE: Enum = &[(0x01, &["Other", "Unknown", "RamBus", "SyncLink"])];
const IPMI_INTERFACE: Enum = &[(
    0x00,
    &[
        "Unknown",
        "KCS (Keyboard Control Style)",
        "SMIC (Server Management Interface Chip)",
        "BT (Block Transfer)",
        "SSIF (SMBus System Interface)",
    ],
)];
const POWER_SUPPLY_TYPE: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "Linear",
        "Switching",
        "Battery",
        "UPS",
        "Converter",
        "Regulator",
    ],
)];
const POWER_SUPPLY_STATUS: Enum = &[(0x01, &["Other", "Unknown", "OK", "Non-critical", "Critical"])];
const POWER_SUPPLY_SWITCHING: Enum = &[(
    0x01,
    &["Other", "Unknown", "Manual", "Auto-switch", "Wide Range", "N/A"],
)];
const FIRMWARE_STATE: Enum = &[(
    0x01,
    &[
        "Other",
        "Unknown",
        "Disabled",
        "Enabled",
        "Absent",
        "Stand-by Offline",
        "Stand-by Spare",
        "Unavailable Offline",
    ],
)];
const PROCESSOR_FAMILIES: &[(u16, &str)] = &[
    (0x001, "Other"),
    (0x002, "Unknown"),
    (0x003, "8086"),
    (0x004, "80286"),
    (0x005, "80386"),
    (0x006, "80486"),
    (0x007, "8087"),
    (0x008, "80287"),
    (0x009, "80387"),
    (0x00a, "80487"),
    (0x00b, "Pentium"),
    (0x00c, "Pentium Pro"),
    (0x00d, "Pentium II"),
    (0x00e, "Pentium MMX"),
    (0x00f, "Celeron"),
    (0x010, "Pentium II Xeon"),
    (0x011, "Pentium III"),
    (0x012, "M1"),
    (0x013, "M2"),
    (0x014, "Celeron M"),
    (0x015, "Pentium 4 HT"),
    (0x016, "Intel"),
    (0x018, "Duron"),
    (0x019, "K5"),
    (0x01a, "K6"),
    (0x01b, "K6-2"),
    (0x01c, "K6-3"),
    (0x01d, "Athlon"),
    (0x01e, "AMD29000"),
    (0x01f, "K6-2+"),
    (0x020, "Power PC"),
    (0x021, "Power PC 601"),
    (0x022, "Power PC 603"),
    (0x023, "Power PC 603+"),
    (0x024, "Power PC 604"),
    (0x025, "Power PC 620"),
    (0x026, "Power PC x704"),
    (0x027, "Power PC 750"),
    (0x028, "Core Duo"),
    (0x029, "Core Duo Mobile"),
    (0x02a, "Core Solo Mobile"),
    (0x02b, "Atom"),
    (0x02c, "Core M"),
    (0x02d, "Core m3"),
    (0x02e, "Core m5"),
    (0x02f, "Core m7"),
    (0x030, "Alpha"),
    (0x031, "Alpha 21064"),
    (0x032, "Alpha 21066"),
    (0x033, "Alpha 21164"),
    (0x034, "Alpha 21164PC"),
    (0x035, "Alpha 21164a"),
    (0x036, "Alpha 21264"),
    (0x037, "Alpha 21364"),
    (0x038, "Turion II Ultra Dual-Core Mobile M"),
    (0x039, "Turion II Dual-Core Mobile M"),
    (0x03a, "Athlon II Dual-Core M"),
    (0x03b, "Opteron 6100"),
    (0x03c, "Opteron 4100"),
    (0x03d, "Opteron 6200"),
    (0x03e, "Opteron 4200"),
    (0x03f, "FX"),
    (0x040, "MIPS"),
    (0x041, "MIPS R4000"),
    (0x042, "MIPS R4200"),
    (0x043, "MIPS R4400"),
    (0x044, "MIPS R4600"),
    (0x045, "MIPS R10000"),
    (0x046, "C-Series"),
    (0x047, "E-Series"),
    (0x048, "A-Series"),
    (0x049, "G-Series"),
    (0x04a, "Z-Series"),
    (0x04b, "R-Series"),
    (0x04c, "Opteron 4300"),
    (0x04d, "Opteron 6300"),
    (0x04e, "Opteron 3300"),
    (0x04f, "FirePro"),
    (0x050, "SPARC"),
    (0x051, "SuperSPARC"),
    (0x052, "MicroSPARC II"),
    (0x053, "MicroSPARC IIep"),
    (0x054, "UltraSPARC"),
    (0x055, "UltraSPARC II"),
    (0x056, "UltraSPARC IIi"),
    (0x057, "UltraSPARC III"),
    (0x058, "UltraSPARC IIIi"),
    (0x060, "68040"),
    (0x061, "68xxx"),
    (0x062, "68000"),
    (0x063, "68010"),
    (0x064, "68020"),
    (0x065, "68030"),
    (0x066, "Athlon X4"),
    (0x067, "Opteron X1000"),
    (0x068, "Opteron X2000"),
    (0x069, "Opteron A-Series"),
    (0x06a, "Opteron X3000"),
    (0x06b, "Zen"),
    (0x070, "Hobbit"),
    (0x078, "Crusoe TM5000"),
    (0x079, "Crusoe TM3000"),
    (0x07a, "Efficeon TM8000"),
    (0x080, "Weitek"),
    (0x082, "Itanium"),
    (0x083, "Athlon 64"),
    (0x084, "Opteron"),
    (0x085, "Sempron"),
    (0x086, "Turion 64"),
    (0x087, "Dual-Core Opteron"),
    (0x088, "Athlon 64 X2"),
    (0x089, "Turion 64 X2"),
    (0x08a, "Quad-Core Opteron"),
    (0x08b, "Third-Generation Opteron"),
    (0x08c, "Phenom FX"),
    (0x08d, "Phenom X4"),
    (0x08e, "Phenom X2"),
    (0x08f, "Athlon X2"),
    (0x090, "PA-RISC"),
    (0x091, "PA-RISC 8500"),
    (0x092, "PA-RISC 8000"),
    (0x093, "PA-RISC 7300LC"),
    (0x094, "PA-RISC 7200"),
    (0x095, "PA-RISC 7100LC"),
    (0x096, "PA-RISC 7100"),
    (0x0a0, "V30"),
    (0x0a1, "Quad-Core Xeon 3200"),
    (0x0a2, "Dual-Core Xeon 3000"),
    (0x0a3, "Quad-Core Xeon 5300"),
    (0x0a4, "Dual-Core Xeon 5100"),
    (0x0a5, "Dual-Core Xeon 5000"),
    (0x0a6, "Dual-Core Xeon LV"),
    (0x0a7, "Dual-Core Xeon ULV"),
    (0x0a8, "Dual-Core Xeon 7100"),
    (0x0a9, "Quad-Core Xeon 5400"),
    (0x0aa, "Quad-Core Xeon"),
    (0x0ab, "Dual-Core Xeon 5200"),
    (0x0ac, "Dual-Core Xeon 7200"),
    (0x0ad, "Quad-Core Xeon 7300"),
    (0x0ae, "Quad-Core Xeon 7400"),
    (0x0af, "Multi-Core Xeon 7400"),
    (0x0b0, "Pentium III Xeon"),
    (0x0b1, "Pentium III Speedstep"),
    (0x0b2, "Pentium 4"),
    (0x0b3, "Xeon"),
    (0x0b4, "AS400"),
    (0x0b5, "Xeon MP"),
    (0x0b6, "Athlon XP"),
    (0x0b7, "Athlon MP"),
    (0x0b8, "Itanium 2"),
    (0x0b9, "Pentium M"),
    (0x0ba, "Celeron D"),
    (0x0bb, "Pentium D"),
    (0x0bc, "Pentium EE"),
    (0x0bd, "Core Solo"),
    (0x0bf, "Core 2 Duo"),
    (0x0c0, "Core 2 Solo"),
    (0x0c1, "Core 2 Extreme"),
    (0x0c2, "Core 2 Quad"),
    (0x0c3, "Core 2 Extreme Mobile"),
    (0x0c4, "Core 2 Duo Mobile"),
    (0x0c5, "Core 2 Solo Mobile"),
    (0x0c6, "Core i7"),
    (0x0c7, "Dual-Core Celeron"),
    (0x0c8, "IBM390"),
    (0x0c9, "G4"),
    (0x0ca, "G5"),
    (0x0cb, "ESA/390 G6"),
    (0x0cc, "z/Architecture"),
    (0x0cd, "Core i5"),
    (0x0ce, "Core i3"),
    (0x0cf, "Core i9"),
    (0x0d2, "C7-M"),
    (0x0d3, "C7-D"),
    (0x0d4, "C7"),
    (0x0d5, "Eden"),
    (0x0d6, "Multi-Core Xeon"),
    (0x0d7, "Dual-Core Xeon 3xxx"),
    (0x0d8, "Quad-Core Xeon 3xxx"),
    (0x0d9, "Nano"),
    (0x0da, "Dual-Core Xeon 5xxx"),
    (0x0db, "Quad-Core Xeon 5xxx"),
    (0x0dd, "Dual-Core Xeon 7xxx"),
    (0x0de, "Quad-Core Xeon 7xxx"),
    (0x0df, "Multi-Core Xeon 7xxx"),
    (0x0e0, "Multi-Core Xeon 3400"),
    (0x0e4, "Opteron 3000"),
    (0x0e5, "Sempron II"),
    (0x0e6, "Embedded Opteron Quad-Core"),
    (0x0e7, "Phenom Triple-Core"),
    (0x0e8, "Turion Ultra Dual-Core Mobile"),
    (0x0e9, "Turion Dual-Core Mobile"),
    (0x0ea, "Athlon Dual-Core"),
    (0x0eb, "Sempron SI"),
    (0x0ec, "Phenom II"),
    (0x0ed, "Athlon II"),
    (0x0ee, "Six-Core Opteron"),
    (0x0ef, "Sempron M"),
    (0x0fa, "i860"),
    (0x0fb, "i960"),
    (0x100, "ARMv7"),
    (0x101, "ARMv8"),
    (0x102, "ARMv9"),
    (0x103, "ARM"),
    (0x104, "SH-3"),
    (0x105, "SH-4"),
    (0x118, "ARM"),
    (0x119, "StrongARM"),
    (0x12c, "6x86"),
    (0x12d, "MediaGX"),
    (0x12e, "MII"),
    (0x140, "WinChip"),
    (0x15e, "DSP"),
    (0x1f4, "Video Processor"),
    (0x200, "RV32"),
    (0x201, "RV64"),
    (0x202, "RV128"),
    (0x258, "LoongArch"),
    (0x259, "Loongson 1"),
    (0x25a, "Loongson 2"),
    (0x25b, "Loongson 3"),
    (0x25c, "Loongson 2K"),
    (0x25d, "Loongson 3A"),
    (0x25e, "Loongson 3B"),
    (0x25f, "Loongson 3C"),
    (0x260, "Loongson 3D"),
    (0x261, "Loongson 3E"),
    (0x262, "Dual-Core Loongson 2K 2xxx"),
    (0x26c, "Quad-Core Loongson 3A 5xxx"),
    (0x26d, "Multi-Core Loongson 3A 5xxx"),
    (0x26e, "Quad-Core Loongson 3B 5xxx"),
    (0x26f, "Multi-Core Loongson 3B 5xxx"),
    (0x270, "Multi-Core Loongson 3C 5xxx"),
    (0x271, "Multi-Core Loongson 3D 5xxx"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn data(dir: &str, file: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/data/{dir}/smbios/{file}",
            concat!(env!("CARGO_MANIFEST_DIR"), "/..")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn errors(d: &Decoded) -> Vec<&str> {
        d.items()
            .iter()
            .filter(|(k, _)| k.starts_with("error"))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Keys whose values differ (or exist on one side only).
    fn changed(a: &Decoded, b: &Decoded) -> Vec<String> {
        let keys: BTreeSet<&String> = a.items().keys().chain(b.items().keys()).collect();
        keys.into_iter().filter(|k| a.get(k) != b.get(k)).cloned().collect()
    }

    /// Build one structure: header, body, string set.
    fn structure(ty: u8, handle: u16, body: &[u8], strings: &[&str]) -> Vec<u8> {
        let mut s = vec![ty, (4 + body.len()) as u8];
        s.extend_from_slice(&handle.to_le_bytes());
        s.extend_from_slice(body);
        for st in strings {
            s.extend_from_slice(st.as_bytes());
            s.push(0);
        }
        if strings.is_empty() {
            s.push(0);
        }
        s.push(0);
        s
    }

    fn end_of_table() -> Vec<u8> {
        structure(127, 0x7f00, &[], &[])
    }

    // Values below were checked against `dmidecode --from-dump` 3.4 on a dump
    // built from these files (entry point with the table address set to 32).
    #[test]
    fn q35_table_fields() {
        let d = decode_table(&data("pc-q35-7.2-default-on-7.2.22", "table.bin"));
        assert!(errors(&d).is_empty(), "{:?}", errors(&d));
        let expect = [
            ("structure count", "9"),
            ("BIOS Information #0.Vendor", "\"SeaBIOS\""),
            ("BIOS Information #0.BIOS Version", "\"1.16.3-debian-1.16.3-2~bpo12+1\""),
            ("BIOS Information #0.BIOS Release Date", "\"04/01/2014\""),
            (
                "BIOS Information #0.BIOS Starting Address Segment",
                "0xe800 (address 0xe8000, runtime size 98304 bytes)",
            ),
            ("BIOS Information #0.BIOS ROM Size", "0x00 (64 KiB)"),
            (
                "BIOS Information #0.BIOS Characteristics.BIOS Characteristics are not supported",
                "1",
            ),
            (
                "BIOS Information #0.BIOS Characteristics Extension Byte 2.Targeted content distribution is supported",
                "1",
            ),
            ("BIOS Information #0.System BIOS Major Release", "0"),
            ("System Information #0.Manufacturer", "\"QEMU\""),
            (
                "System Information #0.Product Name",
                "\"Standard PC (Q35 + ICH9, 2009)\"",
            ),
            ("System Information #0.Version", "\"pc-q35-7.2\""),
            ("System Information #0.Serial Number", "(none)"),
            (
                "System Information #0.UUID",
                "00000000-0000-0000-0000-000000000000 (not present)",
            ),
            ("System Information #0.Wake-up Type", "0x06 (Power Switch)"),
            ("System Enclosure or Chassis #0.handle", "0x0300"),
            ("System Enclosure or Chassis #0.Type.Chassis Type", "0x01 (Other)"),
            ("System Enclosure or Chassis #0.Type.Chassis Lock Present", "0"),
            ("System Enclosure or Chassis #0.Boot-up State", "0x03 (Safe)"),
            ("System Enclosure or Chassis #0.Security Status", "0x02 (Unknown)"),
            ("Processor Information #0.handle", "0x0400"),
            ("Processor Information #0.length", "42"),
            ("Processor Information #0.Socket Designation", "\"CPU 0\""),
            ("Processor Information #0.Processor Type", "0x03 (Central Processor)"),
            ("Processor Information #0.Processor Family", "0x01 (Other)"),
            ("Processor Information #0.Processor Family 2", "0x0001 (Other)"),
            ("Processor Information #0.Processor Manufacturer", "\"QEMU\""),
            (
                "Processor Information #0.Processor ID.EAX (signature)",
                "0x00060fb1 (family 15, model 107, stepping 1)",
            ),
            ("Processor Information #0.Processor ID.EDX.unnamed bits", "0x00000000"),
            ("Processor Information #0.Processor ID.EDX.HTT", "0"),
            ("Processor Information #0.Processor ID.EDX.SSE2", "1"),
            ("Processor Information #0.Max Speed", "2000 MHz"),
            ("Processor Information #0.Current Speed", "2000 MHz"),
            ("Processor Information #0.Status.CPU Socket Populated", "1"),
            ("Processor Information #0.Status.CPU Status", "0x01 (Enabled)"),
            ("Processor Information #0.Processor Upgrade", "0x01 (Other)"),
            ("Processor Information #0.L1 Cache Handle", "0xffff (none)"),
            ("Processor Information #0.Core Count", "2"),
            ("Processor Information #0.Thread Count", "2"),
            (
                "Processor Information #0.Processor Characteristics.unnamed bits",
                "0x0000",
            ),
            ("Processor Information #0.Processor Characteristics.Unknown", "1"),
            ("Physical Memory Array #0.Maximum Capacity", "0x00080000 (524288 KiB)"),
            (
                "Physical Memory Array #0.Memory Error Correction",
                "0x06 (Multi-bit ECC)",
            ),
            (
                "Physical Memory Array #0.Memory Error Information Handle",
                "0xfffe (not provided)",
            ),
            ("Memory Device #0.Physical Memory Array Handle", "0x1000"),
            ("Memory Device #0.Size", "0x0200 (512 MiB)"),
            ("Memory Device #0.Form Factor", "0x09 (DIMM)"),
            ("Memory Device #0.Device Locator", "\"DIMM 0\""),
            ("Memory Device #0.Memory Type", "0x07 (RAM)"),
            ("Memory Device #0.Type Detail.Other", "1"),
            ("Memory Array Mapped Address #0.Ending Address (KiB)", "0x0007ffff"),
            ("Memory Array Mapped Address #0.Partition Width", "1"),
            ("System Boot Information #0.Boot Status", "0x00 (No errors detected)"),
            ("End-of-Table #0.handle", "0x7f00"),
        ];
        for (k, v) in expect {
            assert_eq!(d.get(k), Some(v), "{k}");
        }
        // Type 32's six reserved bytes are kept raw.
        assert_eq!(d.get("System Boot Information #0.raw[0x04]"), Some("00 00 00 00 00 00"));
    }

    #[test]
    fn i440fx_table_fields() {
        let d = decode_table(&data("pc-i440fx-7.2-default-on-7.2.22", "table.bin"));
        assert!(errors(&d).is_empty());
        assert_eq!(
            d.get("System Information #0.Product Name"),
            Some("\"Standard PC (i440FX + PIIX, 1996)\"")
        );
        assert_eq!(
            d.get("Processor Information #0.Processor Version"),
            Some("\"pc-i440fx-7.2\"")
        );
        assert_eq!(
            d.get("structure order"),
            Some("0:0x0000 1:0x0100 3:0x0300 4:0x0400 16:0x1000 17:0x1100 19:0x1300 32:0x2000 127:0x7f00")
        );
    }

    /// The only SMBIOS drift 7.2.22 → 10.0.2, on both machine types: type 4
    /// now says "see Processor Family 2" (which stays 0x0001, Other) and its
    /// Processor ID (CPUID leaf 1 EDX) gains HTT, bit 28.
    /// One changed bit is one changed item: a named bit alone, or the
    /// unnamed bits, and both when both change (EDX bit 28, HTT, is named;
    /// bit 30 is not).
    #[test]
    fn unnamed_bits_change_beside_named_ones() {
        let table = data("pc-q35-7.2-default-on-7.2.22", "table.bin");
        let old = decode_table(&table);
        let edx = 0x078b_fbfdu32.to_le_bytes();
        let at = table
            .windows(4)
            .position(|w| w == edx)
            .expect("Processor ID EDX in the table");
        let mut changed_table = table.clone();
        changed_table[at..at + 4].copy_from_slice(&(0x078b_fbfdu32 | 1 << 28 | 1 << 30).to_le_bytes());
        let new = decode_table(&changed_table);
        assert_eq!(
            changed(&old, &new),
            [
                "Processor Information #0.Processor ID.EDX.HTT",
                "Processor Information #0.Processor ID.EDX.unnamed bits",
            ]
        );
        assert_eq!(
            new.get("Processor Information #0.Processor ID.EDX.unnamed bits"),
            Some("0x40000000")
        );
    }

    #[test]
    fn drift_7_2_to_10_0() {
        for machine in ["pc-q35-7.2-default", "pc-i440fx-7.2-default", "pc-q35-7.2-virtio"] {
            let old = decode_table(&data(&format!("{machine}-on-7.2.22"), "table.bin"));
            let new = decode_table(&data(&format!("{machine}-on-10.0.2"), "table.bin"));
            assert_eq!(
                changed(&old, &new),
                [
                    "Processor Information #0.Processor Family",
                    "Processor Information #0.Processor ID.EDX.HTT",
                ],
                "{machine}"
            );
            let family = "Processor Information #0.Processor Family";
            assert_eq!(old.get(family), Some("0x01 (Other)"));
            assert_eq!(new.get(family), Some("0xfe (see Processor Family 2)"));
            let family2 = "Processor Information #0.Processor Family 2";
            assert_eq!(old.get(family2), new.get(family2));
            assert_eq!(
                new.get("Processor Information #0.Processor ID.EDX"),
                None,
                "no whole value"
            );
            assert_eq!(new.get("Processor Information #0.Processor ID.EDX.HTT"), Some("1"));
            let ep_old = decode_entry_point(&data(&format!("{machine}-on-7.2.22"), "entry_point.bin"));
            let ep_new = decode_entry_point(&data(&format!("{machine}-on-10.0.2"), "entry_point.bin"));
            assert_eq!(ep_old, ep_new, "{machine}");
        }
    }

    #[test]
    fn entry_point_21() {
        let d = decode_entry_point(&data("pc-q35-7.2-default-on-7.2.22", "entry_point.bin"));
        let expect = [
            ("Anchor String", "\"_SM_\""),
            ("Entry Point Structure Checksum", "0x2e (valid)"),
            ("Entry Point Length", "31"),
            ("SMBIOS Version", "2.8"),
            ("Maximum Structure Size", "75 bytes"),
            ("Entry Point Revision", "0x00"),
            ("Intermediate Anchor String", "\"_DMI_\""),
            ("Intermediate Checksum", "0xb5 (valid)"),
            ("Structure Table Length", "384 bytes"),
            ("Structure Table Address", "0x000f52a0"),
            ("Number of SMBIOS Structures", "9"),
            ("SMBIOS BCD Revision", "0x28 (2.8)"),
        ];
        for (k, v) in expect {
            assert_eq!(d.get(k), Some(v), "{k}");
        }
        assert!(errors(&d).is_empty());
        let i440 = decode_entry_point(&data("pc-i440fx-7.2-default-on-7.2.22", "entry_point.bin"));
        assert_eq!(i440.get("Structure Table Length"), Some("396 bytes"));
        assert_eq!(i440.get("Structure Table Address"), Some("0x000f5290"));
    }

    #[test]
    fn entry_point_30() {
        let mut ep = vec![0u8; 24];
        ep[..5].copy_from_slice(b"_SM3_");
        ep[6] = 24;
        ep[7] = 3;
        ep[8] = 2;
        ep[10] = 1;
        ep[12..16].copy_from_slice(&0x1234u32.to_le_bytes());
        ep[16..24].copy_from_slice(&0x7f00_0000u64.to_le_bytes());
        ep[5] = 0u8.wrapping_sub(ep.iter().fold(0u8, |a, &b| a.wrapping_add(b)));
        let d = decode_entry_point(&ep);
        assert_eq!(d.get("SMBIOS Version"), Some("3.2.0"));
        assert_eq!(d.get("Structure Table Maximum Size"), Some("4660 bytes"));
        assert_eq!(d.get("Structure Table Address"), Some("0x000000007f000000"));
        assert!(d.get("Entry Point Structure Checksum").unwrap().ends_with("(valid)"));
        ep[9] = 1; // docrev changes: checksum no longer matches
        let d = decode_entry_point(&ep);
        assert_eq!(d.get("SMBIOS Version"), Some("3.2.1"));
        assert!(d.get("Entry Point Structure Checksum").unwrap().contains("invalid"));
    }

    #[test]
    fn malformed_entry_points() {
        assert!(!errors(&decode_entry_point(b"")).is_empty());
        assert!(!errors(&decode_entry_point(b"garbage, not an anchor")).is_empty());
        let ep = data("pc-q35-7.2-default-on-7.2.22", "entry_point.bin");
        for n in 0..ep.len() {
            let d = decode_entry_point(&ep[..n]);
            assert!(!errors(&d).is_empty(), "cut at {n}");
        }
        // A length byte larger than the data is reported, not trusted.
        let mut long = ep.clone();
        long[5] = 0xff;
        assert!(errors(&decode_entry_point(&long))
            .iter()
            .any(|e| e.contains("entry point length 255")));
    }

    #[test]
    fn malformed_tables() {
        let good = data("pc-q35-7.2-default-on-7.2.22", "table.bin");
        // Length below the 4-byte header.
        let d = decode_table(&[1, 3, 0, 1, 0, 0]);
        assert!(errors(&d)[0].contains("length 3 < 4"));
        assert!(d.get("unparsed[0x0]").is_some());
        // Formatted area past the end.
        let d = decode_table(&[4, 0x2a, 0, 4, 1, 2, 3]);
        assert!(errors(&d)[0].contains("length 42 but only 7 bytes left"));
        // Missing double-NUL terminator.
        let d = decode_table(&[1, 4, 0, 1, b'a', 0, b'b']);
        assert!(errors(&d)[0].contains("no double-NUL"));
        // No End-of-Table: everything before is still decoded.
        let d = decode_table(&good[..good.len() - 6]);
        assert_eq!(errors(&d), ["no End-of-Table structure (type 127)"]);
        assert_eq!(d.get("Processor Information #0.Socket Designation"), Some("\"CPU 0\""));
        // Truncated header.
        let d = decode_table(&[4, 0x2a]);
        assert!(errors(&d)[0].contains("truncated structure header"));
        // String index past the string set.
        let mut t = structure(1, 0x100, &[1, 5, 0, 0], &["QEMU"]);
        t.extend(end_of_table());
        let d = decode_table(&t);
        assert_eq!(
            d.get("System Information #0.Product Name"),
            Some("(bad string index 5)")
        );
        assert_eq!(d.get("System Information #0.Manufacturer"), Some("\"QEMU\""));
        assert!(errors(&d)[0].contains("string index 5 past the string set (1 strings)"));
        // Duplicate handles.
        let mut t = structure(32, 7, &[0; 7], &[]);
        t.extend(structure(32, 7, &[0; 7], &[]));
        t.extend(end_of_table());
        assert!(errors(&decode_table(&t))[0].contains("duplicate handle 0x0007"));
        // Type 42 whose protocol record runs past the structure.
        let mut t = structure(42, 0x2a00, &[0x40, 0, 1, 4, 200], &[]);
        t.extend(end_of_table());
        let d = decode_table(&t);
        assert!(errors(&d)[0].contains("Protocol Record[0] data (200 bytes) past the end"));
        // Nothing in garbage makes the decoder panic or loop.
        let mut x = 0x1234_5678u32;
        for len in 0..400 {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 24) as u8
                })
                .collect();
            decode_table(&junk);
            decode_entry_point(&junk);
        }
        for n in 0..good.len() {
            decode_table(&good[..n]);
        }
    }

    #[test]
    fn older_shorter_structures_omit_fields() {
        // A 2.0-era type 4 (0x1a bytes): no cache handles, counts or family 2.
        let mut body = vec![1, 3, 0xb3, 2, 0xa5, 0x06, 0x05, 0x00, 0xff, 0xfb, 0xeb, 0xbf, 0, 0x8c];
        body.extend_from_slice(&[100, 0, 0xb8, 0x0b, 0x28, 0x0a, 0x41, 0x1e]);
        let mut t = structure(4, 0x401, &body, &["CPU1", "Intel", "spare"]);
        t.extend(end_of_table());
        let d = decode_table(&t);
        assert!(errors(&d).is_empty());
        assert_eq!(d.get("Processor Information #0.length"), Some("26"));
        assert_eq!(d.get("Processor Information #0.Processor Family"), Some("0xb3 (Xeon)"));
        assert_eq!(
            d.get("Processor Information #0.Processor ID.EAX (signature)"),
            Some("0x000506a5 (family 6, model 90, stepping 5)")
        );
        assert_eq!(d.get("Processor Information #0.Voltage"), Some("0x8c (1.2 V)"));
        assert_eq!(d.get("Processor Information #0.Max Speed"), Some("3000 MHz"));
        assert_eq!(
            d.get("Processor Information #0.Processor Upgrade"),
            Some("0x1e (Socket LGA1567)")
        );
        for absent in [
            "L1 Cache Handle",
            "Core Count",
            "Processor Family 2",
            "Processor Characteristics",
        ] {
            assert_eq!(d.get(&format!("Processor Information #0.{absent}")), None, "{absent}");
        }
        // String 3 is referenced by no field: it is still shown.
        assert_eq!(d.get("Processor Information #0.string[3]"), Some("\"spare\""));
    }

    #[test]
    fn other_types_and_raw_bytes() {
        // Type 9 (3.4 layout) with one peer group; checked against dmidecode.
        let mut slot = vec![1, 0xb6, 0x0d, 4, 4, 1, 0, 0x04, 0x03, 0, 0, 0x3b, 0x08, 0x0d, 1];
        slot.extend_from_slice(&[0, 0, 1, 0x10, 8, 3, 0x0d, 0xd0, 0x07, 3]);
        let mut t = structure(9, 0x900, &slot, &["PCIE1"]);
        t.extend(structure(11, 0xb00, &[2], &["hello", "world"]));
        t.extend(structure(200, 0xc800, &[1, 2, 3, 4, 5], &["oem"]));
        // Type 41 with one byte more than the spec defines: kept raw.
        t.extend(structure(
            41,
            0x2900,
            &[1, 0x85, 1, 0, 0, 2, 0x00, 0xee],
            &["Onboard LAN"],
        ));
        t.extend(end_of_table());
        t.extend([0, 0]); // padding after End-of-Table
        let d = decode_table(&t);
        assert!(errors(&d).is_empty(), "{:?}", errors(&d));
        let expect = [
            ("System Slots #0.Slot Type", "0xb6 (PCI Express 3 x16)"),
            ("System Slots #0.Current Usage", "0x04 (In Use)"),
            ("System Slots #0.Slot Characteristics 1.Provides 3.3 volts", "1"),
            ("System Slots #0.Slot Characteristics 2.Hot-plug devices supported", "1"),
            ("System Slots #0.Device/Function Number", "0x08 (device 1, function 0)"),
            (
                "System Slots #0.Peer Group[0].Device/Function Number",
                "0x10 (device 2, function 0)",
            ),
            ("System Slots #0.Peer Group[0].Data Bus Width", "8"),
            ("System Slots #0.Slot Pitch", "2000 x 0.01 mm"),
            ("System Slots #0.Slot Height", "0x03 (Full height)"),
            ("OEM Strings #0.String 2", "\"world\""),
            ("OEM Type 200 #0.raw[0x04]", "01 02 03 04 05"),
            ("OEM Type 200 #0.string[1]", "\"oem\""),
            (
                "Onboard Devices Extended Information #0.Device Type.Type",
                "0x05 (Ethernet)",
            ),
            ("Onboard Devices Extended Information #0.Device Type.Enabled", "1"),
            ("Onboard Devices Extended Information #0.raw[0x0b]", "ee"),
        ];
        for (k, v) in expect {
            assert_eq!(d.get(k), Some(v), "{k}");
        }
        assert_eq!(d.get(&format!("trailing[0x{:x}]", t.len() - 2)), Some("00 00"));
        // Every byte of these hand-made structures shows too.
        for i in 0..t.len() {
            let mut m = t.clone();
            m[i] ^= 0xff;
            assert_ne!(decode_table(&m), d, "byte 0x{i:x}");
        }
    }

    #[test]
    fn inserted_structure_keeps_keys() {
        let good = data("pc-q35-7.2-default-on-7.2.22", "table.bin");
        let before = decode_table(&good);
        let mut t = structure(11, 0xb00, &[1], &["extra"]);
        t.extend_from_slice(&good);
        let after = decode_table(&t);
        let diff = changed(&before, &after);
        assert!(
            diff.iter()
                .all(|k| k.starts_with("OEM Strings #0.") || k.starts_with("structure ")),
            "{diff:?}"
        );
    }

    /// Flipping any single byte of a real input changes the decoded items.
    #[test]
    fn every_byte_matters() {
        for (file, decode) in [
            ("table.bin", decode_table as fn(&[u8]) -> Decoded),
            ("entry_point.bin", decode_entry_point),
        ] {
            for dir in ["pc-q35-7.2-default-on-10.0.2", "pc-i440fx-7.2-default-on-7.2.22"] {
                let input = data(dir, file);
                let base = decode(&input);
                for i in 0..input.len() {
                    let mut m = input.clone();
                    m[i] ^= 0xff;
                    assert_ne!(decode(&m), base, "{dir}/{file}: byte 0x{i:x}");
                }
            }
        }
    }
}
