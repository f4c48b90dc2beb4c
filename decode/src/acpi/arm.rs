//! The Arm tables QEMU's virt machine builds for UEFI guests: GTDT (generic
//! timers), IORT (I/O remapping: root complex → ITS/SMMU ID mappings),
//! PPTT (processor topology and caches), SPCR (serial console) and DBG2
//! (debug port). The MADT's GIC structures are in the MADT decoder.
//!
//! As everywhere in this module, sub-structures are keyed by identity, and
//! a structure that names another one by its table offset (IORT mappings,
//! PPTT parents and caches) shows that one's label instead of the offset,
//! so an inserted node does not make every reference look changed.

use super::{decode_fields, decode_sub, emit_entries, gas, id_hex, split, Decoded, Entry, Field, Fields, Hdr, Kind};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------
// GTDT
// ---------------------------------------------------------------------------

const TIMER_FLAGS: &[(u32, u32, &str)] = &[(0, 1, "EDGE_TRIGGERED"), (1, 1, "ACTIVE_LOW"), (2, 1, "ALWAYS_ON")];

const GTDT_FIELDS: &[Field] = &[
    (0x24, "cnt_control_base", Kind::Hex(8)),
    (0x2c, "reserved", Kind::Hex(4)),
    (0x30, "secure_el1_gsiv", Kind::Dec(4)),
    (0x34, "secure_el1_flags", Kind::Bits(4, TIMER_FLAGS)),
    (0x38, "nonsecure_el1_gsiv", Kind::Dec(4)),
    (0x3c, "nonsecure_el1_flags", Kind::Bits(4, TIMER_FLAGS)),
    (0x40, "virtual_el1_gsiv", Kind::Dec(4)),
    (0x44, "virtual_el1_flags", Kind::Bits(4, TIMER_FLAGS)),
    (0x48, "nonsecure_el2_gsiv", Kind::Dec(4)),
    (0x4c, "nonsecure_el2_flags", Kind::Bits(4, TIMER_FLAGS)),
    (0x50, "cnt_read_base", Kind::Hex(8)),
    (0x58, "platform_timer_count", Kind::Dec(4)),
    (0x5c, "platform_timer_offset", Kind::Hex(4)),
    // Revision 3 (ACPI 6.3).
    (0x60, "virtual_el2_gsiv", Kind::Dec(4)),
    (0x64, "virtual_el2_flags", Kind::Bits(4, TIMER_FLAGS)),
];

const GTDT_DEFS: &[(u16, super::SubDef)] = &[
    (
        0,
        super::SubDef {
            name: "GT Block",
            ident: |f| id_hex(f, "base", 4, 8),
            fields: &[
                (3, "reserved", Kind::Hex(1)),
                (12, "timer_count", Kind::Dec(4)),
                (16, "timer_offset", Kind::Hex(4)),
            ],
            tail: None,
        },
    ),
    (
        1,
        super::SubDef {
            name: "Watchdog",
            ident: |f| id_hex(f, "refresh", 4, 8),
            fields: &[
                (3, "reserved", Kind::Hex(1)),
                (12, "control_frame", Kind::Hex(8)),
                (20, "gsiv", Kind::Dec(4)),
                (
                    24,
                    "flags",
                    Kind::Bits(4, &[(0, 1, "EDGE_TRIGGERED"), (1, 1, "ACTIVE_LOW"), (2, 1, "SECURE")]),
                ),
            ],
            tail: None,
        },
    ),
];

/// GTDT: the fixed timer interrupts, then `platform_timer_count` platform
/// timer structures at `platform_timer_offset` (type u8, length u16).
pub(super) fn decode_gtdt(f: &mut Fields, out: &mut Decoded) {
    decode_fields(f, out, "", GTDT_FIELDS);
    let (Some(count), Some(off)) = (f.peek(0x58, 4), f.peek(0x5c, 4)) else {
        return;
    };
    if count == 0 {
        return;
    }
    let Ok(off) = usize::try_from(off) else {
        return;
    };
    if off < 0x60 || off > f.data.len() {
        out.put(
            "error",
            format!("platform timer offset {off:#x} outside the table body"),
        );
        return;
    }
    let (list, err) = split(f.data, off, Hdr::U8U16);
    let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
    let mut entries = Vec::new();
    for (o, ty, bytes) in list {
        f.take(o, bytes.len());
        let nth = seen.entry(ty).or_insert(0);
        *nth += 1;
        let def = GTDT_DEFS.iter().find(|(t, _)| *t == ty).map(|(_, d)| d);
        entries.push(decode_sub(def, ty, bytes, *nth, Hdr::U8U16));
    }
    if usize::try_from(count).ok() != Some(entries.len()) {
        out.put(
            "error",
            format!("platform_timer_count {count} but {} structures found", entries.len()),
        );
    }
    emit_entries(out, entries);
    if let Some(err) = err {
        out.put("error", err);
    }
}

// ---------------------------------------------------------------------------
// IORT
// ---------------------------------------------------------------------------

fn iort_name(ty: u16) -> Option<&'static str> {
    Some(match ty {
        0 => "ITS Group",
        1 => "Named Component",
        2 => "Root Complex",
        3 => "SMMUv1/v2",
        4 => "SMMUv3",
        5 => "PMCG",
        6 => "RMR",
        _ => return None,
    })
}

/// A node's identity: what it is, not where it sits.
fn iort_ident(ty: u16, b: &[u8]) -> Option<String> {
    let u = |o: usize, w: usize| super::peek(b, o, w);
    match ty {
        // ITS group: the ITS identifiers it holds.
        0 => {
            let n = usize::try_from(u(0x10, 4)?).ok()?.min(64);
            let ids: Vec<String> = (0..n)
                .filter_map(|i| u(0x14 + 4 * i, 4))
                .map(|v| format!("{v:#x}"))
                .collect();
            Some(format!("its {}", ids.join(" ")))
        }
        // Named component: its ACPI namespace path.
        1 => {
            let name = b.get(0x1d..)?;
            let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
            Some(super::text(name.get(..end)?))
        }
        2 => Some(format!("segment {:#x}", u(0x1c, 4)?)),
        3..=5 => Some(format!("base {:#x}", u(0x10, 8)?)),
        _ => None,
    }
}

const MEMORY_ACCESS_FLAGS: &[(u32, u32, &str)] = &[(0, 1, "COHERENT"), (1, 1, "DEVICE_ATTRIBUTES")];

/// Root complex fields that depend on the node revision: 3 reserved bytes
/// up to revision 3; PASID capabilities and flags from revision 4.
const ROOT_COMPLEX_V3: &[Field] = &[(0x21, "reserved3", Kind::Hex(3))];
const ROOT_COMPLEX_V4: &[Field] = &[
    (0x21, "pasid_capabilities", Kind::Hex(2)),
    (0x23, "reserved3", Kind::Hex(1)),
    (0x24, "flags", Kind::Hex(4)),
];

fn iort_fields(ty: u16) -> &'static [Field] {
    match ty {
        0 => &[(0x10, "its_count", Kind::Dec(4))],
        1 => &[
            (0x10, "flags", Kind::Hex(4)),
            (0x14, "cache_coherency", Kind::Hex(4)),
            (0x18, "allocation_hints", Kind::Hex(1)),
            (0x19, "reserved2", Kind::Hex(2)),
            (0x1b, "memory_access_flags", Kind::Bits(1, MEMORY_ACCESS_FLAGS)),
            (0x1c, "device_memory_address_size_limit", Kind::Dec(1)),
        ],
        2 => &[
            (0x10, "cache_coherency", Kind::Hex(4)),
            (0x14, "allocation_hints", Kind::Hex(1)),
            (0x15, "reserved2", Kind::Hex(2)),
            (0x17, "memory_access_flags", Kind::Bits(1, MEMORY_ACCESS_FLAGS)),
            (0x18, "ats_attribute", Kind::Hex(4)),
            (0x20, "memory_address_size_limit", Kind::Dec(1)),
        ],
        4 => &[
            (0x18, "flags", Kind::Hex(4)),
            (0x1c, "reserved2", Kind::Hex(4)),
            (0x20, "vatos_address", Kind::Hex(8)),
            (0x28, "model", Kind::Hex(4)),
            (0x2c, "event_gsiv", Kind::Dec(4)),
            (0x30, "pri_gsiv", Kind::Dec(4)),
            (0x34, "gerr_gsiv", Kind::Dec(4)),
            (0x38, "sync_gsiv", Kind::Dec(4)),
            (0x3c, "proximity_domain", Kind::Dec(4)),
            (0x40, "device_id_mapping_index", Kind::Dec(4)),
        ],
        _ => &[],
    }
}

/// IORT: `node_count` nodes from `node_offset` (type u8, length u16,
/// revision u8, identifier u32, mapping count and offset), each with its
/// ID mappings; a mapping's output reference shows the target's label.
pub(super) fn decode_iort(f: &mut Fields, out: &mut Decoded) {
    decode_fields(
        f,
        out,
        "",
        &[
            (0x24, "node_count", Kind::Dec(4)),
            (0x28, "node_offset", Kind::Hex(4)),
            (0x2c, "reserved", Kind::Hex(4)),
        ],
    );
    let Some(start) = f.peek(0x28, 4).and_then(|s| usize::try_from(s).ok()) else {
        return;
    };
    if start < 0x30 {
        out.put("error", format!("node offset {start:#x} points into the table header"));
        return;
    }
    let (list, err) = split(f.data, start, Hdr::U8U16);
    let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
    let mut labels: BTreeMap<usize, String> = BTreeMap::new();
    let mut idents = Vec::new();
    for &(off, ty, b) in &list {
        let nth = seen.entry(ty).or_insert(0);
        *nth += 1;
        let name = iort_name(ty).map_or_else(|| format!("type {ty:#x}"), str::to_string);
        let ident = iort_ident(ty, b).unwrap_or_else(|| format!("#{nth}"));
        labels.insert(off, format!("{name} {ident}"));
        idents.push((name, ident));
    }
    let mut entries = Vec::new();
    for (&(off, ty, bytes), (name, ident)) in list.iter().zip(idents) {
        f.take(off, bytes.len());
        entries.push(iort_node(ty, bytes, name, ident, &labels));
    }
    if let Some(count) = f.peek(0x24, 4) {
        if usize::try_from(count).ok() != Some(entries.len()) {
            out.put("error", format!("node_count {count} but {} nodes found", entries.len()));
        }
    }
    emit_entries(out, entries);
    if let Some(err) = err {
        out.put("error", err);
    }
}

fn iort_node(ty: u16, bytes: &[u8], name: String, ident: String, labels: &BTreeMap<usize, String>) -> Entry {
    let mut f = Fields::new(bytes);
    f.take(0, 3);
    let mut e = Entry {
        name,
        ident,
        items: Decoded::new(),
        errors: vec![],
    };
    decode_fields(
        &mut f,
        &mut e.items,
        "",
        &[
            (3, "revision", Kind::Dec(1)),
            (4, "identifier", Kind::Hex(4)),
            (8, "mapping_count", Kind::Dec(4)),
        ],
    );
    decode_fields(&mut f, &mut e.items, "", iort_fields(ty));
    if ty == 2 {
        let v4 = f.peek(3, 1).is_some_and(|r| r >= 4);
        decode_fields(
            &mut f,
            &mut e.items,
            "",
            if v4 { ROOT_COMPLEX_V4 } else { ROOT_COMPLEX_V3 },
        );
    }
    match ty {
        0 => {
            // The identifiers are the node's identity (label).
            let n = f
                .peek(0x10, 4)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0)
                .min(64);
            f.take(0x14, 4 * n);
        }
        1 => {
            if let Some(name) = f.data.get(0x1d..) {
                let end = name.iter().position(|&c| c == 0).map_or(name.len(), |i| i + 1);
                f.take(0x1d, end);
            }
        }
        2 => {
            f.take(0x1c, 4);
        }
        3..=5 => {
            f.take(0x10, 8);
        }
        _ => {}
    }
    let count = f.peek(8, 4).and_then(|c| usize::try_from(c).ok()).unwrap_or(0);
    let at = f.peek(12, 4).and_then(|c| usize::try_from(c).ok()).unwrap_or(0);
    f.take(12, 4);
    for i in 0..count.min(4096) {
        let o = at.saturating_add(i.saturating_mul(20));
        let Some(m) = f.take(o, 20) else {
            e.errors.push(format!("mapping {i} at {o:#x} runs past the node"));
            break;
        };
        let v = |x: usize| super::peek(m, x, 4).unwrap_or(0);
        let target = usize::try_from(v(12)).ok().and_then(|t| labels.get(&t).cloned());
        let target = target.unwrap_or_else(|| format!("no node at {:#x}", v(12)));
        let flags = if v(16) & 1 != 0 { ", single mapping" } else { "" };
        let reserved = if v(16) & !1 != 0 {
            format!(", flags {:#x}", v(16))
        } else {
            String::new()
        };
        e.items.put(
            format!("mapping[{:#x}]", v(0)),
            format!("count {:#x} → {target} base {:#x}{flags}{reserved}", v(4), v(8)),
        );
    }
    f.finish(&mut e.items, "");
    e
}

// ---------------------------------------------------------------------------
// PPTT
// ---------------------------------------------------------------------------

const PPTT_PROCESSOR_FLAGS: &[(u32, u32, &str)] = &[
    (0, 1, "PHYSICAL_PACKAGE"),
    (1, 1, "ACPI_PROCESSOR_ID_VALID"),
    (2, 1, "IS_THREAD"),
    (3, 1, "IS_LEAF"),
    (4, 1, "IDENTICAL_IMPLEMENTATION"),
];

const PPTT_CACHE_FLAGS: &[(u32, u32, &str)] = &[
    (0, 1, "SIZE_VALID"),
    (1, 1, "SETS_VALID"),
    (2, 1, "ASSOCIATIVITY_VALID"),
    (3, 1, "ALLOCATION_TYPE_VALID"),
    (4, 1, "CACHE_TYPE_VALID"),
    (5, 1, "WRITE_POLICY_VALID"),
    (6, 1, "LINE_SIZE_VALID"),
    (7, 1, "CACHE_ID_VALID"),
];

/// PPTT: processor hierarchy nodes, cache and ID structures (type u8,
/// length u8). A leaf processor with a valid ACPI id is `Processor uid
/// 0x…`; other hierarchy levels are named by their place in the tree (the
/// chain of parents down from the root), caches by occurrence.
pub(super) fn decode_pptt(f: &mut Fields, out: &mut Decoded) {
    let (list, err) = split(f.data, 0x24, Hdr::U8U8);
    // Labels first: hierarchy nodes by uid or by path, caches by occurrence.
    let mut labels: BTreeMap<usize, String> = BTreeMap::new();
    let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
    let mut parent_of: BTreeMap<usize, usize> = BTreeMap::new();
    for &(off, ty, b) in &list {
        let nth = seen.entry(ty).or_insert(0);
        *nth += 1;
        let u = |o: usize| super::peek(b, o, 4);
        let label = match ty {
            0 => {
                if let Some(p) = u(8).and_then(|p| usize::try_from(p).ok()).filter(|&p| p != 0) {
                    parent_of.insert(off, p);
                }
                match (u(4), u(12)) {
                    (Some(flags), Some(uid)) if flags & 2 != 0 => format!("Processor uid {uid:#x}"),
                    _ => String::new(),
                }
            }
            1 => format!("Cache #{nth}"),
            2 => format!("ID #{nth}"),
            _ => format!("type {ty:#x} #{nth}"),
        };
        labels.insert(off, label);
    }
    // Hierarchy levels without a uid: "Processor level <depth> #<n>".
    let mut level_seen: BTreeMap<usize, usize> = BTreeMap::new();
    for &(off, ty, _) in &list {
        if ty != 0 || labels.get(&off).is_some_and(|l| !l.is_empty()) {
            continue;
        }
        let mut depth = 0;
        let mut at = off;
        while let Some(&p) = parent_of.get(&at) {
            depth += 1;
            at = p;
            if depth > 64 {
                break;
            }
        }
        let n = level_seen.entry(depth).or_insert(0);
        *n += 1;
        labels.insert(off, format!("Processor level {depth} #{n}"));
    }
    let show = |target: u64| {
        usize::try_from(target)
            .ok()
            .and_then(|t| labels.get(&t).cloned())
            .unwrap_or_else(|| format!("no structure at {target:#x}"))
    };
    let mut entries = Vec::new();
    for &(off, ty, bytes) in &list {
        f.take(off, bytes.len());
        let label = labels.get(&off).cloned().unwrap_or_default();
        let (name, ident) = match label.split_once(' ') {
            Some((n, i)) if ty == 0 => (n.to_string(), i.to_string()),
            _ => match label.rsplit_once(' ') {
                Some((n, i)) => (n.to_string(), i.to_string()),
                None => (label.clone(), String::new()),
            },
        };
        let mut sf = Fields::new(bytes);
        sf.take(0, 2);
        let mut e = Entry {
            name,
            ident,
            items: Decoded::new(),
            errors: vec![],
        };
        match ty {
            0 => {
                decode_fields(
                    &mut sf,
                    &mut e.items,
                    "",
                    &[
                        (2, "reserved", Kind::Hex(2)),
                        (4, "flags", Kind::Bits(4, PPTT_PROCESSOR_FLAGS)),
                        (12, "acpi_processor_id", Kind::Hex(4)),
                    ],
                );
                if let Some(p) = sf.int(8, 4) {
                    e.items.put("parent", if p == 0 { "none".into() } else { show(p) });
                }
                if let Some(n) = sf.int(16, 4) {
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    let mut res = Vec::new();
                    for i in 0..n.min(256) {
                        match sf.int(20 + 4 * i, 4) {
                            Some(r) => res.push(show(r)),
                            None => {
                                e.errors.push(format!("private resource {i} runs past the structure"));
                                break;
                            }
                        }
                    }
                    e.items.put("private_resources", res.join(", "));
                }
            }
            1 => {
                decode_fields(
                    &mut sf,
                    &mut e.items,
                    "",
                    &[
                        (2, "reserved", Kind::Hex(2)),
                        (4, "flags", Kind::Bits(4, PPTT_CACHE_FLAGS)),
                        (12, "size", Kind::Dec(4)),
                        (16, "sets", Kind::Dec(4)),
                        (20, "associativity", Kind::Dec(1)),
                        (21, "attributes", Kind::Hex(1)),
                        (22, "line_size", Kind::Dec(2)),
                        (24, "cache_id", Kind::Hex(4)),
                    ],
                );
                if let Some(n) = sf.int(8, 4) {
                    e.items.put("next_level", if n == 0 { "none".into() } else { show(n) });
                }
            }
            _ => {}
        }
        sf.finish(&mut e.items, "");
        entries.push(e);
    }
    emit_entries(out, entries);
    if let Some(err) = err {
        out.put("error", err);
    }
}

// ---------------------------------------------------------------------------
// SPCR
// ---------------------------------------------------------------------------

/// Interface types of the DBG2 serial subtypes (also SPCR's interface type).
fn serial_subtype(v: u64) -> String {
    let name = match v {
        0 => "16550",
        1 => "16550-compatible",
        3 => "ARM PL011",
        0xd => "ARM SBSA 32-bit",
        0xe => "ARM SBSA generic",
        0xf => "ARM DCC",
        0x12 => "16550 with GAS",
        _ => return format!("{v:#x}"),
    };
    format!("{v:#x} ({name})")
}

fn spcr_baud(v: u64) -> String {
    let rate = match v {
        0 => "as is",
        3 => "9600",
        4 => "19200",
        6 => "57600",
        7 => "115200",
        _ => return format!("{v:#x}"),
    };
    format!("{v} ({rate})")
}

const SPCR_FIELDS: &[Field] = &[
    (0x24, "interface_type", Kind::Fmt(1, serial_subtype)),
    (0x25, "reserved", Kind::Hex(3)),
    (0x28, "base_address", Kind::Gas),
    (
        0x34,
        "interrupt_type",
        Kind::Bits(
            1,
            &[
                (0, 1, "PC_AT_8259"),
                (1, 1, "IO_APIC"),
                (2, 1, "IO_SAPIC"),
                (3, 1, "ARM_GIC"),
                (4, 1, "RISCV_PLIC"),
            ],
        ),
    ),
    (0x35, "irq", Kind::Dec(1)),
    (0x36, "gsiv", Kind::Dec(4)),
    (0x3a, "baud_rate", Kind::Fmt(1, spcr_baud)),
    (0x3b, "parity", Kind::Dec(1)),
    (0x3c, "stop_bits", Kind::Dec(1)),
    (
        0x3d,
        "flow_control",
        Kind::Bits(1, &[(0, 1, "DCD"), (1, 1, "RTS_CTS"), (2, 1, "XON_XOFF")]),
    ),
    (0x3e, "terminal_type", Kind::Dec(1)),
    (0x3f, "language", Kind::Dec(1)),
    (0x40, "pci_device_id", Kind::Hex(2)),
    (0x42, "pci_vendor_id", Kind::Hex(2)),
    (0x44, "pci_bus", Kind::Hex(1)),
    (0x45, "pci_device", Kind::Hex(1)),
    (0x46, "pci_function", Kind::Hex(1)),
    (0x47, "pci_flags", Kind::Hex(4)),
    (0x4b, "pci_segment", Kind::Hex(1)),
    // Revision 2: reserved; revision 3+: the UART clock.
    (0x4c, "uart_clock_frequency", Kind::Dec(4)),
    // Revision 4.
    (0x50, "precise_baud_rate", Kind::Dec(4)),
    (0x54, "namespace_string_length", Kind::Dec(2)),
    (0x56, "namespace_string_offset", Kind::Hex(2)),
];

/// SPCR: fixed fields, and from revision 4 a namespace string.
pub(super) fn decode_spcr(f: &mut Fields, out: &mut Decoded) {
    decode_fields(f, out, "", SPCR_FIELDS);
    if let (Some(len), Some(off)) = (f.peek(0x54, 2), f.peek(0x56, 2)) {
        let (len, off) = (usize::try_from(len).unwrap_or(0), usize::try_from(off).unwrap_or(0));
        if len > 0 {
            match f.take(off, len) {
                Some(s) => out.put("namespace_string", super::text(s)),
                None => out.put("error", format!("namespace string {off:#x}+{len} outside the table")),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// DBG2
// ---------------------------------------------------------------------------

fn dbg2_port_type(v: u64) -> String {
    let name = match v {
        0x8000 => "serial",
        0x8001 => "1394",
        0x8002 => "USB",
        0x8003 => "net",
        _ => return format!("{v:#x}"),
    };
    format!("{v:#x} ({name})")
}

/// DBG2: `count` device information structures from `offset`, each named
/// by its ACPI namespace string; base address registers and their sizes
/// are listed in order.
pub(super) fn decode_dbg2(f: &mut Fields, out: &mut Decoded) {
    decode_fields(
        f,
        out,
        "",
        &[(0x24, "info_offset", Kind::Hex(4)), (0x28, "info_count", Kind::Dec(4))],
    );
    let (Some(start), Some(count)) = (f.peek(0x24, 4), f.peek(0x28, 4)) else {
        return;
    };
    let Ok(start) = usize::try_from(start) else {
        return;
    };
    if start < 0x2c {
        out.put(
            "error",
            format!("device information offset {start:#x} points into the table header"),
        );
        return;
    }
    let (list, err) = split(f.data, start, Hdr::U8U16);
    let mut entries = Vec::new();
    for (i, &(off, _, b)) in list.iter().enumerate() {
        f.take(off, b.len());
        let mut sf = Fields::new(b);
        sf.take(1, 2);
        let u = |o: usize, w: usize| super::peek(b, o, w).and_then(|v| usize::try_from(v).ok());
        let name = match (u(4, 2), u(6, 2)) {
            (Some(len), Some(o)) if len > 0 => sf.take(o, len).map(|s| {
                let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
                super::text(s.get(..end).unwrap_or_default())
            }),
            _ => None,
        };
        let mut e = Entry {
            name: "Device".into(),
            ident: name.unwrap_or_else(|| format!("#{}", i + 1)),
            items: Decoded::new(),
            errors: vec![],
        };
        decode_fields(
            &mut sf,
            &mut e.items,
            "",
            &[
                (0, "revision", Kind::Dec(1)),
                (3, "register_count", Kind::Dec(1)),
                (8, "oem_data_length", Kind::Dec(2)),
                (12, "port_type", Kind::Fmt(2, dbg2_port_type)),
                (14, "port_subtype", Kind::Fmt(2, serial_subtype)),
                (16, "reserved", Kind::Hex(2)),
            ],
        );
        // Lengths and offsets of the variable parts are layout; their
        // contents are shown instead.
        for o in [4, 6, 10, 18, 20] {
            sf.take(o, 2);
        }
        let regs = u(3, 1).unwrap_or(0);
        let (bars, sizes) = (u(18, 2).unwrap_or(0), u(20, 2).unwrap_or(0));
        for r in 0..regs {
            let g = sf.take(bars + 12 * r, 12).map(gas);
            let s = sf.take(sizes + 4 * r, 4).map(|s| super::peek(s, 0, 4).unwrap_or(0));
            match (g, s) {
                (Some(g), Some(s)) => e.items.put(format!("register[{r}]"), format!("{g} size {s:#x}")),
                _ => {
                    e.errors.push(format!("register {r} runs past the structure"));
                    break;
                }
            }
        }
        if let (Some(len), Some(o)) = (u(8, 2), u(10, 2)) {
            if len > 0 {
                match sf.take(o, len) {
                    Some(d) => e.items.put("oem_data", super::hex_bytes(d)),
                    None => e.errors.push(format!("OEM data {o:#x}+{len} runs past the structure")),
                }
            }
        }
        sf.finish(&mut e.items, "");
        entries.push(e);
    }
    if usize::try_from(count).ok() != Some(entries.len()) {
        out.put(
            "error",
            format!("info_count {count} but {} structures found", entries.len()),
        );
    }
    emit_entries(out, entries);
    if let Some(err) = err {
        out.put("error", err);
    }
}
