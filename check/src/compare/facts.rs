//! The diff engine: flatten two fact documents into `path → value` maps,
//! compare, and turn every difference into a classified [`Drift`].
//!
//! Bytes are compared first (blob ids, then flattened values). Only where
//! a raw fact (an ACPI table, a config space, the SMBIOS table, a CPUID
//! leaf) differs are both sides decoded, and the decoded items replace the
//! raw drift, so the report names the object or field that changed.

use crate::rules;
use abi_decode::{self as decode, Decoded};
use abi_model::blob::BlobId;
use abi_model::drift::{Drift, FactPath};
use abi_model::facts::Probed;
use abi_model::Facts;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// List elements that carry their own identity are keyed by it, so that an
/// inserted capability does not make every later one look changed.
const IDENTITY_FIELDS: [&str; 5] = ["index", "offset", "handle", "cpu", "start"];

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

fn walk(path: FactPath, v: &Value, out: &mut BTreeMap<FactPath, String>) {
    match v {
        Value::Object(map) => {
            if map.is_empty() {
                out.insert(path.clone(), "{}".into());
            }
            for (k, child) in map {
                walk(path.child(k), child, out);
            }
        }
        Value::Array(items) => {
            if items.is_empty() {
                out.insert(path, "[]".into());
                return;
            }
            let key_field = IDENTITY_FIELDS.iter().find(|f| {
                let keys: Option<Vec<String>> = items.iter().map(|i| i.get(**f).map(scalar)).collect();
                keys.is_some_and(|mut k| {
                    let n = k.len();
                    k.sort();
                    k.dedup();
                    k.len() == n
                })
            });
            // Plain indices are zero-padded so `[10]` sorts after `[9]`.
            let width = items.len().saturating_sub(1).to_string().len();
            for (i, item) in items.iter().enumerate() {
                let label = match key_field {
                    Some(f) => format!("{f}={}", item.get(*f).map(scalar).unwrap_or_default()),
                    None => format!("{i:0width$}"),
                };
                walk(path.element(&label), item, out);
            }
        }
        leaf => {
            out.insert(path, scalar(leaf));
        }
    }
}

/// Flatten a fact document into `path → value`.
pub fn flatten(facts: &Facts) -> BTreeMap<FactPath, String> {
    let mut out = BTreeMap::new();
    // Facts are plain data; serialising them to a JSON value cannot fail.
    if let Ok(v) = serde_json::to_value(facts) {
        walk(FactPath::root(), &v, &mut out);
    }
    out.retain(|p, _| p.category() != "probe");
    out
}

/// Fetches a blob's bytes by id, if it can.
pub type BlobSource<'a> = &'a dyn Fn(&BlobId) -> Option<Vec<u8>>;

/// A raw fact with a decoder: where decoded items go, which raw paths the
/// decoded items make redundant, and the decoded view of each side.
struct Node {
    /// Decoded items are reported below this path; an added or removed node
    /// is reported as this one path.
    at: FactPath,
    /// Raw paths the decoded items replace.
    covers: Vec<FactPath>,
    /// Decoded old and new side (`None`: absent or undecodable).
    old: Option<Decoded>,
    new: Option<Decoded>,
    /// One-line description of each side, for an added or removed node.
    old_summary: Option<String>,
    new_summary: Option<String>,
}

fn available<T>(p: &Probed<T>) -> Option<&T> {
    p.available()
}

fn acpi_nodes(old: &Facts, new: &Facts, ob: BlobSource, nb: BlobSource, out: &mut Vec<Node>) {
    let root = FactPath::root().child("acpi");
    let table = |f: &Facts, name: &str| available(&f.acpi)?.get(name).and_then(available).cloned();
    let names: BTreeSet<String> = [old, new]
        .iter()
        .filter_map(|f| available(&f.acpi))
        .flat_map(|m| m.keys().cloned())
        .collect();
    for name in names {
        let (a, b) = (table(old, &name), table(new, &name));
        if a.as_ref().map(|t| &t.blob) == b.as_ref().map(|t| &t.blob) {
            continue;
        }
        let summary = |t: &Option<abi_model::facts::AcpiTable>| {
            t.as_ref().map(|t| match &t.header {
                Some(h) => format!("{} revision {}, {} bytes", h.signature, h.revision, t.size),
                None => format!("{} bytes", t.size),
            })
        };
        let at = root.child(&name);
        out.push(Node {
            covers: vec![at.clone()],
            old: a.as_ref().and_then(|t| ob(&t.blob)).map(|b| decode::acpi_table(&b)),
            new: b.as_ref().and_then(|t| nb(&t.blob)).map(|b| decode::acpi_table(&b)),
            old_summary: summary(&a),
            new_summary: summary(&b),
            at,
        });
    }
}

/// Raw PCI facts that the config space decoder also reads.
const PCI_DECODED: &[&str] = &[
    "config",
    "vendor",
    "device",
    "subsystem_vendor",
    "subsystem",
    "class",
    "revision",
    "header_type",
    "interrupt_pin",
    "capabilities",
    "ext_capabilities",
    "bridge",
];

fn pci_nodes(old: &Facts, new: &Facts, ob: BlobSource, nb: BlobSource, out: &mut Vec<Node>) {
    let root = FactPath::root().child("pci");
    let function = |f: &Facts, a: &abi_model::facts::PciAddress| available(&f.pci)?.get(a).and_then(available).cloned();
    let addrs: BTreeSet<_> = [old, new]
        .iter()
        .filter_map(|f| available(&f.pci))
        .flat_map(|m| m.keys().copied())
        .collect();
    for addr in addrs {
        let (a, b) = (function(old, &addr), function(new, &addr));
        if a == b {
            continue;
        }
        let at = root.child(&addr.to_string());
        let summary = |f: &Option<abi_model::facts::PciFunction>| {
            f.as_ref()
                .map(|f| format!("{}:{} class {} revision {}", f.vendor, f.device, f.class, f.revision))
        };
        let both = a.is_some() && b.is_some();
        out.push(Node {
            // A function present on both sides keeps its raw BARs, topology
            // and sizes; one that came or went is reported as a whole.
            covers: if both {
                PCI_DECODED.iter().map(|k| at.child(k)).collect()
            } else {
                vec![at.clone()]
            },
            old: a.as_ref().and_then(|f| ob(&f.config)).map(|b| decode::pci_config(&b)),
            new: b.as_ref().and_then(|f| nb(&f.config)).map(|b| decode::pci_config(&b)),
            old_summary: summary(&a),
            new_summary: summary(&b),
            at,
        });
    }
}

fn smbios_nodes(old: &Facts, new: &Facts, ob: BlobSource, nb: BlobSource, out: &mut Vec<Node>) {
    let (Some(a), Some(b)) = (available(&old.smbios), available(&new.smbios)) else {
        return;
    };
    let root = FactPath::root().child("smbios");
    if a.table != b.table {
        out.push(Node {
            at: root.child("table"),
            covers: vec![root.child("table"), root.child("structures")],
            old: ob(&a.table).map(|t| decode::smbios_table(&t)),
            new: nb(&b.table).map(|t| decode::smbios_table(&t)),
            old_summary: Some(a.table.as_str().to_string()),
            new_summary: Some(b.table.as_str().to_string()),
        });
    }
    if a.entry_point != b.entry_point {
        out.push(Node {
            at: root.child("entry_point"),
            // The record's anchor and version restate the entry point's.
            covers: vec![root.child("entry_point"), root.child("anchor"), root.child("version")],
            old: ob(&a.entry_point).map(|t| decode::smbios_entry_point(&t)),
            new: nb(&b.entry_point).map(|t| decode::smbios_entry_point(&t)),
            old_summary: Some(a.entry_point.as_str().to_string()),
            new_summary: Some(b.entry_point.as_str().to_string()),
        });
    }
}

/// `"eax ebx ecx edx"` as the probe records a leaf.
fn cpuid_regs(text: &str) -> Option<[u32; 4]> {
    let mut regs = [0u32; 4];
    let mut parts = text.split_whitespace();
    for r in &mut regs {
        *r = u32::from_str_radix(parts.next()?.trim_start_matches("0x"), 16).ok()?;
    }
    parts.next().is_none().then_some(regs)
}

/// `LLLLLLLL.SSSSSSSS` → (leaf, subleaf).
fn cpuid_key(key: &str) -> Option<(u32, u32)> {
    let (l, s) = key.split_once('.')?;
    Some((u32::from_str_radix(l, 16).ok()?, u32::from_str_radix(s, 16).ok()?))
}

fn cpuid_nodes(old: &Facts, new: &Facts, out: &mut Vec<Node>) {
    let (Some(a), Some(b)) = (available(&old.cpuid), available(&new.cpuid)) else {
        return;
    };
    let root = FactPath::root().child("cpuid");
    for x in a {
        let Some(y) = b.iter().find(|y| y.cpu == x.cpu) else {
            continue;
        };
        if x == y {
            continue;
        }
        let named = |c: &abi_model::facts::CpuCpuid, key: &str, f: fn([u32; 4]) -> String| {
            c.leaves.get(key).and_then(|t| cpuid_regs(t)).map(f).unwrap_or_default()
        };
        let va = (
            named(x, "00000000.00000000", decode::cpuid_vendor),
            named(x, "40000000.00000000", decode::cpuid_hypervisor),
        );
        let vb = (
            named(y, "00000000.00000000", decode::cpuid_vendor),
            named(y, "40000000.00000000", decode::cpuid_hypervisor),
        );
        let leaves = root.element(&format!("cpu={}", x.cpu)).child("leaves");
        let keys: BTreeSet<&String> = x.leaves.keys().chain(y.leaves.keys()).collect();
        for key in keys {
            let (p, q) = (x.leaves.get(key), y.leaves.get(key));
            if p == q {
                continue;
            }
            let Some((leaf, sub)) = cpuid_key(key) else {
                continue;
            };
            let dec = |t: Option<&String>, v: &(String, String)| {
                t.and_then(|t| cpuid_regs(t))
                    .map(|r| decode::cpuid_leaf(&v.0, &v.1, leaf, sub, r))
            };
            let at = leaves.child(key);
            out.push(Node {
                covers: vec![at.clone()],
                old: dec(p, &va),
                new: dec(q, &vb),
                old_summary: p.cloned(),
                new_summary: q.cloned(),
                at,
            });
        }
    }
}

/// The boot order firmware reads (`bootorder`: one device path a line), as
/// items keyed by line: the line's rank among the lines that are not the
/// direct kernel boot's loader ROM (which only the recorder's `-kernel`
/// puts there), so that a different loader does not move every other line.
fn bootorder_items(bytes: &[u8]) -> Decoded {
    let mut d = Decoded::new();
    let mut rank = 0;
    // QEMU ends the file with a NUL.
    let text = String::from_utf8_lossy(bytes);
    for line in text.split(['\n', '\0']).filter(|l| !l.is_empty()) {
        if line.contains("/rom@genroms/") {
            d.put(line, "loader ROM of the -kernel boot");
        } else {
            rank += 1;
            d.put(line, format!("boot entry {rank}"));
        }
    }
    d
}

/// fw_cfg files that came or went are reported as one drift each, not as
/// selector, size and content separately. A changed `bootorder` is decoded
/// line by line.
fn fw_cfg_nodes(old: &Facts, new: &Facts, ob: BlobSource, nb: BlobSource, out: &mut Vec<Node>) {
    let (Some(a), Some(b)) = (available(&old.fw_cfg), available(&new.fw_cfg)) else {
        return;
    };
    let root = FactPath::root().child("fw_cfg").child("files");
    let content = |f: Option<&abi_model::facts::FwCfgFile>| f.and_then(|f| f.content.as_ref()?.available().cloned());
    // The RSDP reaches the guest only through fw_cfg: decode it.
    if let (Some(x), Some(y)) = (
        content(a.files.get("etc/acpi/rsdp")),
        content(b.files.get("etc/acpi/rsdp")),
    ) {
        if x != y {
            let at = root.child("etc/acpi/rsdp").child("content");
            out.push(Node {
                covers: vec![at.clone()],
                old: ob(&x).map(|b| decode::acpi::rsdp(&b)),
                new: nb(&y).map(|b| decode::acpi::rsdp(&b)),
                old_summary: None,
                new_summary: None,
                at,
            });
        }
    }
    if let (Some(x), Some(y)) = (content(a.files.get("bootorder")), content(b.files.get("bootorder"))) {
        if x != y {
            let at = root.child("bootorder").child("content");
            out.push(Node {
                // The size only restates the lines.
                covers: vec![at.clone(), root.child("bootorder").child("size")],
                old: ob(&x).map(|b| bootorder_items(&b)),
                new: nb(&y).map(|b| bootorder_items(&b)),
                old_summary: None,
                new_summary: None,
                at,
            });
        }
    }
    let summary = |f: &abi_model::facts::FwCfgFile| match f.size {
        Some(size) => format!("selector {}, {size} bytes", f.selector),
        None => format!("selector {}", f.selector),
    };
    for name in a.files.keys().chain(b.files.keys()) {
        let (x, y) = (a.files.get(name), b.files.get(name));
        if x.is_some() && y.is_some() {
            continue;
        }
        let at = root.child(name);
        out.push(Node {
            covers: vec![at.clone()],
            old: None,
            new: None,
            old_summary: x.map(summary),
            new_summary: y.map(summary),
            at,
        });
    }
}

fn virtio_nodes(old: &Facts, new: &Facts, out: &mut Vec<Node>) {
    let (Some(a), Some(b)) = (available(&old.virtio), available(&new.virtio)) else {
        return;
    };
    let root = FactPath::root().child("virtio");
    for (addr, x) in a {
        let (Some(x), Some(y)) = (available(x), b.get(addr).and_then(available)) else {
            continue;
        };
        if x.config != y.config {
            // The device-specific config, by field (virtio-blk seg_max, …).
            let dec = |d: &abi_model::facts::VirtioDevice| {
                let bytes: Option<Vec<u8>> = (0..d.config.len() / 2)
                    .map(|i| {
                        d.config
                            .get(2 * i..2 * i + 2)
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                    })
                    .collect();
                bytes.map(|b| decode::virtio::config(d.pci_device.0, &b))
            };
            let at = root.child(&addr.to_string()).child("config");
            if let (Some(o), Some(n)) = (dec(x), dec(y)) {
                out.push(Node {
                    covers: vec![at.clone()],
                    old: Some(o),
                    new: Some(n),
                    old_summary: None,
                    new_summary: None,
                    at,
                });
            }
        }
        if x.features == y.features {
            continue;
        }
        let dec = |d: &abi_model::facts::VirtioDevice| {
            let words: Vec<u32> = d.features.iter().map(|w| w.0).collect();
            decode::virtio::features(d.pci_device.0, &words)
        };
        let at = root.child(&addr.to_string()).child("features");
        out.push(Node {
            covers: vec![at.clone()],
            old: Some(dec(x)),
            new: Some(dec(y)),
            old_summary: None,
            new_summary: None,
            at,
        });
    }
}

/// fw_cfg selectors are handed out in file name order: a file's selector
/// moves when files are added or removed before it. True when the move of
/// `name` is exactly what the added and removed files explain.
fn selector_shift_explained(old: &Facts, new: &Facts, name: &str) -> bool {
    let (Some(a), Some(b)) = (available(&old.fw_cfg), available(&new.fw_cfg)) else {
        return false;
    };
    let (Some(x), Some(y)) = (a.files.get(name), b.files.get(name)) else {
        return false;
    };
    let (old_sel, new_sel) = (i64::from(x.selector.0), i64::from(y.selector.0));
    let added = b
        .files
        .iter()
        .filter(|(n, f)| !a.files.contains_key(*n) && i64::from(f.selector.0) < new_sel)
        .count() as i64;
    let removed = a
        .files
        .iter()
        .filter(|(n, f)| !b.files.contains_key(*n) && i64::from(f.selector.0) < old_sel)
        .count() as i64;
    added != removed && new_sel - old_sel == added - removed
}

/// Compare two fact documents. `old_blob`/`new_blob` fetch blob bytes so
/// changed blobs can be decoded; without them raw drift is reported.
pub fn compare(old: &Facts, new: &Facts, old_blob: BlobSource, new_blob: BlobSource) -> Vec<Drift> {
    if old == new {
        return Vec::new();
    }
    let a = flatten(old);
    let b = flatten(new);
    let mut raw: BTreeMap<FactPath, (Option<&String>, Option<&String>)> = BTreeMap::new();
    for p in a.keys().chain(b.keys()) {
        let (x, y) = (a.get(p), b.get(p));
        if x != y {
            raw.insert(p.clone(), (x, y));
        }
    }
    // A fact read on one side only (`X.unavailable` on the other): its values
    // cannot be compared, so it is the one fact-availability drift at
    // `X.unavailable`, not that plus every value as added or removed.
    let flipped: Vec<FactPath> = raw
        .iter()
        .filter(|(p, (x, y))| p.as_str().ends_with(".unavailable") && (x.is_none() != y.is_none()))
        .filter_map(|(p, _)| p.as_str().strip_suffix(".unavailable").map(FactPath::new))
        .collect();
    raw.retain(|p, _| !flipped.iter().any(|f| p.is_within(f) && *p != f.child("unavailable")));

    let mut nodes = Vec::new();
    acpi_nodes(old, new, old_blob, new_blob, &mut nodes);
    pci_nodes(old, new, old_blob, new_blob, &mut nodes);
    smbios_nodes(old, new, old_blob, new_blob, &mut nodes);
    cpuid_nodes(old, new, &mut nodes);
    virtio_nodes(old, new, &mut nodes);
    fw_cfg_nodes(old, new, old_blob, new_blob, &mut nodes);

    nodes.retain(|n| !flipped.iter().any(|f| n.at.is_within(f)));
    let mut out = Vec::new();
    device_tree(old, new, old_blob, new_blob, &mut raw, &mut out);
    for node in nodes {
        // Paths within a cover share its text as a prefix, so they are one
        // sorted range of `raw` (minus siblings like `acpi.SSDT1` of `acpi.SSDT`).
        let covered: Vec<FactPath> = node
            .covers
            .iter()
            .flat_map(|c| {
                raw.range(c.clone()..)
                    .take_while(|(p, _)| p.as_str().starts_with(c.as_str()))
                    .filter(|(p, _)| p.is_within(c))
                    .map(|(p, _)| p.clone())
            })
            .collect();
        if covered.is_empty() {
            continue;
        }
        let drifts = match (&node.old, &node.new) {
            (Some(x), Some(y)) => decoded_drifts(&node.at, x, y),
            (None, _) | (_, None) if node.old_summary.is_none() || node.new_summary.is_none() => {
                vec![rules::classified(
                    node.at.clone(),
                    node.old_summary.clone(),
                    node.new_summary.clone(),
                    false,
                )]
            }
            // Present on both sides but a blob is missing: keep the raw drift.
            _ => continue,
        };
        if drifts.is_empty() {
            // Different bytes that decode identically cannot happen with a
            // complete decoder; keep the raw drift rather than hide it.
            continue;
        }
        for p in covered {
            raw.remove(&p);
        }
        out.extend(drifts);
    }

    let ranges = memory_ranges(&mut raw);
    // QEMU's etc/e820 is what the firmware builds the guest's map from: when
    // every entry that came or went shows in the guest's map as a range that
    // changed, the file's bytes restate what the map names.
    let map_paths: Vec<&FactPath> = ranges
        .iter()
        .map(|d| &d.path)
        .chain(raw.keys().filter(|p| p.category() == "memory_map"))
        .collect();
    let e820_shown = e820_shown_in_map(old, new, old_blob, new_blob, &map_paths);
    out.extend(ranges);
    for (p, (x, y)) in raw {
        let e820 = E820_FILE.iter().any(|f| p.as_str() == *f);
        let mut d = if e820 && e820_shown {
            rules::drift("fw_cfg-content-derived", p, x.cloned(), y.cloned())
        } else {
            let shift = p.category() == "fw_cfg"
                && p.as_str().ends_with(".selector")
                && selector_shift_explained(old, new, &p.segments()[2]);
            rules::classified(p, x.cloned(), y.cloned(), shift)
        };
        if let (Some(i), Some(j)) = (x.and_then(|s| BlobId::parse(s)), y.and_then(|s| BlobId::parse(s))) {
            if let (Some(u), Some(v)) = (old_blob(&i), new_blob(&j)) {
                d.detail = Some(if d.rule == "fw_cfg-rom-content" {
                    decode::rom::describe_change(&u, &v)
                } else {
                    blob_detail(&u, &v)
                });
            }
        }
        out.push(d);
    }
    one_change_every_cpu(&mut out, old, new);
    out.sort_by(|x, y| x.path.cmp(&y.path));
    out
}

/// A CPUID change every vCPU shows alike (a feature bit of the CPU model)
/// is one change: reported once at `cpuid[cpu=*]…`, not once per vCPU. A
/// change some vCPUs show and others do not stays per vCPU.
fn one_change_every_cpu(out: &mut Vec<Drift>, old: &Facts, new: &Facts) {
    let (Some(a), Some(b)) = (available(&old.cpuid), available(&new.cpuid)) else {
        return;
    };
    let cpus: BTreeSet<u32> = a
        .iter()
        .map(|c| c.cpu)
        .filter(|c| b.iter().any(|d| d.cpu == *c))
        .collect();
    if cpus.len() < 2 {
        return;
    }
    // (path with the vCPU as `*`, rule, old, new) -> the vCPUs showing it
    type Change = (String, String, Option<String>, Option<String>);
    let mut seen: BTreeMap<Change, BTreeSet<u32>> = BTreeMap::new();
    let split = |d: &Drift| -> Option<(u32, String)> {
        let rest = d.path.as_str().strip_prefix("cpuid[cpu=")?;
        let (cpu, tail) = rest.split_once(']')?;
        Some((cpu.parse().ok()?, format!("cpuid[cpu=*]{tail}")))
    };
    for d in out.iter() {
        if let Some((cpu, any)) = split(d) {
            seen.entry((any, d.rule.clone(), d.old.clone(), d.new.clone()))
                .or_default()
                .insert(cpu);
        }
    }
    let every: BTreeSet<Change> = seen.into_iter().filter(|(_, c)| *c == cpus).map(|(k, _)| k).collect();
    let mut kept = BTreeSet::new();
    out.retain_mut(|d| {
        let Some((_, any)) = split(d) else { return true };
        let key = (any, d.rule.clone(), d.old.clone(), d.new.clone());
        if !every.contains(&key) {
            return true;
        }
        d.path = FactPath::new(&key.0);
        kept.insert(key)
    });
}

/// Whether every e820 entry (address, length, type; 20 bytes each) that is
/// in one side's etc/e820 and not the other's starts a range of the guest's
/// map that changed (`map_paths`: the memory_map drift paths). False when a
/// table cannot be read or the map was not read on either side: then the
/// file's change is reported as its own.
fn e820_shown_in_map(old: &Facts, new: &Facts, ob: BlobSource, nb: BlobSource, map_paths: &[&FactPath]) -> bool {
    if map_paths.is_empty() || map_paths.iter().any(|p| p.as_str().ends_with(".unavailable")) {
        return false;
    }
    let table = |f: &Facts, get: BlobSource| -> Option<BTreeSet<(u64, u64, u32)>> {
        let file = available(&f.fw_cfg)?.files.get("etc/e820")?;
        let bytes = get(file.content.as_ref()?.available()?)?;
        if bytes.len() % 20 != 0 {
            return None;
        }
        let u64_at = |e: &[u8], at: usize| u64::from_le_bytes(e[at..at + 8].try_into().unwrap_or_default());
        let u32_at = |e: &[u8], at: usize| u32::from_le_bytes(e[at..at + 4].try_into().unwrap_or_default());
        Some(
            bytes
                .chunks_exact(20)
                .map(|e| (u64_at(e, 0), u64_at(e, 8), u32_at(e, 16)))
                .collect(),
        )
    };
    let (Some(a), Some(b)) = (table(old, ob), table(new, nb)) else {
        return false;
    };
    let mut moved = a.symmetric_difference(&b).peekable();
    // Same entries in another order: nothing for the map to show.
    moved.peek().is_some()
        && moved.all(|(start, _, _)| {
            // The range's path as `flatten` keys the map's list elements.
            let range = FactPath::root()
                .child("memory_map")
                .element(&format!("start=0x{start:016x}"));
            map_paths.iter().any(|p| p.is_within(&range))
        })
}

/// The flattened paths of QEMU's e820 table in fw_cfg.
const E820_FILE: [&str; 2] = [r#"fw_cfg.files."etc/e820".content"#, r#"fw_cfg.files."etc/e820".size"#];

/// Memory map ranges that came or went whole: one drift per range at
/// `memory_map[start=…]` ("0x…-0x… Reserved"), not one per field. Their
/// field paths leave `raw`; a range whose fields changed in place stays
/// field by field.
fn memory_ranges(raw: &mut BTreeMap<FactPath, (Option<&String>, Option<&String>)>) -> Vec<Drift> {
    // range path -> (old side, new side) field values
    type Sides<'a> = (BTreeMap<String, &'a String>, BTreeMap<String, &'a String>);
    let mut ranges: BTreeMap<FactPath, Sides> = BTreeMap::new();
    for (p, (x, y)) in raw.iter() {
        // memory_map [start=…] field
        let [category, element, field] = p.segments().try_into().unwrap_or_default();
        if category != "memory_map" {
            continue;
        }
        let Some(label) = element.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
            continue;
        };
        let e = ranges
            .entry(FactPath::root().child("memory_map").element(label))
            .or_default();
        if let Some(x) = x {
            e.0.insert(field.clone(), x);
        }
        if let Some(y) = y {
            e.1.insert(field, y);
        }
    }
    let summary = |f: &BTreeMap<String, &String>| -> Option<String> {
        Some(format!("{}-{} {}", f.get("start")?, f.get("end")?, f.get("type")?))
    };
    let whole: Vec<(FactPath, Option<String>, Option<String>)> = ranges
        .into_iter()
        .filter_map(|(range, (old, new))| {
            // Whole: every field on one side only (and all three there).
            let (was, is) = match (old.is_empty(), new.is_empty()) {
                (true, false) => (None, Some(summary(&new)?)),
                (false, true) => (Some(summary(&old)?), None),
                _ => return None,
            };
            Some((range, was, is))
        })
        .collect();
    raw.retain(|p, _| !whole.iter().any(|(range, _, _)| p.is_within(range)));
    whole
        .into_iter()
        .map(|(range, was, is)| rules::classified(range, was, is, false))
        .collect()
}

/// The device tree, decoded when its blob differs: the decoded drift
/// replaces the raw `device_tree.blob` and `device_tree.size`.
fn device_tree(
    old: &Facts,
    new: &Facts,
    ob: BlobSource,
    nb: BlobSource,
    raw: &mut BTreeMap<FactPath, (Option<&String>, Option<&String>)>,
    out: &mut Vec<Drift>,
) {
    let tree = |f: &Facts| f.device_tree.as_ref().and_then(|d| d.available()).cloned();
    let (Some(a), Some(b)) = (tree(old), tree(new)) else {
        return;
    };
    if a.blob == b.blob {
        return;
    }
    let (Some(x), Some(y)) = (ob(&a.blob), nb(&b.blob)) else {
        return;
    };
    let at = FactPath::root().child("device_tree");
    let drifts = crate::compare::dtb::drifts(&at, &decode::device_tree(&x), &decode::device_tree(&y));
    if drifts.is_empty() {
        return;
    }
    raw.retain(|p, _| !p.is_within(&at.child("blob")) && !p.is_within(&at.child("size")));
    out.extend(drifts);
}

/// Decoded objects that came or went whole (an SMBIOS structure, a MADT
/// entry, a PCI capability: the part of a key before its first `.`), each
/// with a one-line summary of its fields: one change, reported once, not
/// once per field. AML keys are paths with dots of their own and are left
/// alone; their objects already are one key each.
fn whole_objects(
    at: &FactPath,
    old: &Decoded,
    new: &Decoded,
    changed: &[&String],
) -> BTreeMap<String, (Option<String>, Option<String>)> {
    let mut out = BTreeMap::new();
    if !matches!(at.category(), "smbios" | "acpi" | "pci") {
        return out;
    }
    let object = |k: &str| -> Option<String> {
        if aml_key(k).is_some() {
            return None;
        }
        k.split_once('.').map(|(o, _)| o.to_string())
    };
    let mut candidates: BTreeSet<String> = changed.iter().filter_map(|k| object(k)).collect();
    candidates.retain(|o| {
        let prefix = format!("{o}.");
        let in_side = |d: &Decoded| d.items().keys().any(|k| k.starts_with(&prefix));
        in_side(old) != in_side(new)
    });
    for o in candidates {
        let prefix = format!("{o}.");
        let summary = |d: &Decoded| -> Option<String> {
            let fields: Vec<(&str, &str)> = d
                .items()
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?, v.as_str())))
                .collect();
            if fields.is_empty() {
                return None;
            }
            Some(match fields.iter().find(|(f, _)| *f == "handle") {
                Some((_, h)) => format!("handle {h}, {} fields", fields.len()),
                None => fields
                    .iter()
                    .map(|(f, v)| format!("{f}={v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        };
        out.insert(o, (summary(old), summary(new)));
    }
    out
}

fn decoded_drifts(at: &FactPath, old: &Decoded, new: &Decoded) -> Vec<Drift> {
    let keys: BTreeSet<&String> = old.items().keys().chain(new.items().keys()).collect();
    let mut changed: Vec<&String> = keys.into_iter().filter(|k| old.get(k) != new.get(k)).collect();
    let objects = whole_objects(at, old, new, &changed);
    if !objects.is_empty() {
        changed.retain(|k| !k.split_once('.').is_some_and(|(o, _)| objects.contains_key(o)));
        // The SMBIOS table's structure count and order restate what came or went.
        if at.category() == "smbios" {
            changed.retain(|k| !matches!(k.as_str(), "structure count" | "structure order"));
        }
    }
    let renames = if at.category() == "acpi" {
        aml_renames(old, new, &changed)
    } else {
        Vec::new()
    };
    let renamed = |k: &str| {
        renames
            .iter()
            .any(|r| r.old_keys.iter().chain(&r.new_keys).any(|x| x == k))
    };
    let mut out: Vec<Drift> = changed
        .into_iter()
        .filter(|k| !renamed(k))
        .map(|k| {
            rules::classified(
                at.item(k),
                old.get(k).map(str::to_string),
                new.get(k).map(str::to_string),
                false,
            )
        })
        .collect();
    for (o, (was, is)) in objects {
        out.push(rules::classified(at.item(&o), was, is, false));
    }
    for r in renames {
        for (k, was, is) in &r.changed {
            out.push(rules::classified(
                at.item(k),
                Some(was.clone()),
                Some(is.clone()),
                false,
            ));
        }
        out.push(rules::drift(
            "aml-object-renamed",
            at.item(&r.old_key),
            Some(r.old_name),
            Some(format!(
                "renamed to {} ({} objects, same contents{}{}{})",
                r.new_name,
                r.objects,
                if r.changed.is_empty() {
                    String::new()
                } else {
                    format!("; {} changed on the way, reported on their own", r.changed.len())
                },
                if r.references > 0 {
                    format!("; {} references follow the new name", r.references)
                } else {
                    String::new()
                },
                if r.grown {
                    "; objects it gained are reported on their own"
                } else {
                    ""
                }
            )),
        ));
    }
    out
}

/// An AML object that disappeared under one name and appeared under
/// another with the same kind, parent, value and subtree.
struct Rename {
    old_key: String,
    old_name: String,
    new_name: String,
    old_keys: Vec<String>,
    new_keys: Vec<String>,
    /// Objects of the old subtree found under the new name.
    objects: usize,
    /// Objects outside the subtree whose only change is the new name in
    /// their key or value (a Field on a renamed region, a reference).
    references: usize,
    /// The new subtree has objects the old one lacked (reported on their own).
    grown: bool,
    /// Objects that moved with it but changed value: (key under the new
    /// name, old value, new value), each reported as a change.
    changed: Vec<(String, String, String)>,
}

/// `text` with every occurrence of the AML path `from` (as a whole path or
/// a path prefix, never a longer name) replaced by `to`.
fn rename_path(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let after = &rest[i + from.len()..];
        let whole = !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        out.push_str(&rest[..i]);
        out.push_str(if whole { to } else { from });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Split an AML item key `Kind \PATH[ #n]` into kind and path.
fn aml_key(key: &str) -> Option<(&str, &str)> {
    let (kind, rest) = key.split_once(' ')?;
    let path = rest.split(" #").next()?;
    (path.starts_with('\\') && !path.contains(' ')).then_some((kind, path))
}

fn parent(path: &str) -> &str {
    path.rsplit_once('.').map_or("\\", |(p, _)| p)
}

/// The AML items of one side of a change, sorted by object path, so that
/// the items at and below a path are one range found by binary search.
struct AmlSide<'a> {
    /// (path, kind, item key), sorted.
    items: Vec<(&'a str, &'a str, &'a String)>,
}

impl<'a> AmlSide<'a> {
    fn of(keys: &[&'a String]) -> AmlSide<'a> {
        let mut items: Vec<(&str, &str, &String)> = keys
            .iter()
            .filter_map(|k| aml_key(k).map(|(kind, p)| (p, kind, *k)))
            // A Scope block defines nothing (rule aml-scope-layout): it is
            // neither a removed parent nor part of a subtree.
            .filter(|(_, kind, _)| *kind != "Scope")
            .collect();
        items.sort();
        AmlSide { items }
    }

    /// The items at `path` and below it.
    fn below<'s>(&'s self, path: &'s str) -> impl Iterator<Item = &'s (&'a str, &'a str, &'a String)> + 's {
        let start = self.items.partition_point(|(p, _, _)| *p < path);
        self.items[start..]
            .iter()
            .take_while(move |(p, _, _)| p.starts_with(path))
            .filter(move |(p, _, _)| p.len() == path.len() || p.as_bytes().get(path.len()) == Some(&b'.'))
    }

    /// Every item below `path`, keyed by its kind and its key relative to
    /// `path` (with the ` #n` that tells repeated items apart).
    fn subtree(&self, d: &Decoded, path: &str) -> BTreeMap<(String, String), String> {
        self.below(path)
            .map(|(_, kind, k)| {
                (
                    (kind.to_string(), relative(kind, k, path)),
                    d.get(k).unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

/// The part of AML item key `key` (`Kind \PATH...`) after `path`.
fn relative(kind: &str, key: &str, path: &str) -> String {
    key.get(kind.len() + 1 + path.len()..).unwrap_or("").to_string()
}

impl AmlSide<'_> {}

fn aml_renames(old: &Decoded, new: &Decoded, changed: &[&String]) -> Vec<Rename> {
    let removed: Vec<&String> = changed.iter().copied().filter(|k| new.get(k).is_none()).collect();
    let added: Vec<&String> = changed.iter().copied().filter(|k| old.get(k).is_none()).collect();
    let (gone, came) = (AmlSide::of(&removed), AmlSide::of(&added));
    let removed_paths: HashSet<&str> = gone.items.iter().map(|(p, _, _)| *p).collect();
    // Every strict ancestor of an object changed in place: a rename must not
    // hide a change below the renamed object.
    let mut touched: HashSet<&str> = HashSet::new();
    for k in changed.iter().filter(|k| old.get(k).is_some() && new.get(k).is_some()) {
        if let Some((_, mut p)) = aml_key(k) {
            while let Some((up, _)) = p.rsplit_once('.') {
                touched.insert(up);
                p = up;
            }
        }
    }
    // Added objects by (kind, parent): the only possible rename targets.
    let mut targets: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for (p, kind, _) in &came.items {
        targets.entry((kind, parent(p))).or_default().push(p);
    }
    let mut out: Vec<Rename> = Vec::new();
    let mut used: HashSet<&str> = HashSet::new();
    for r in &removed {
        let Some((kind, rpath)) = aml_key(r) else { continue };
        // Only roots: an object whose parent was also removed is handled with it.
        if removed_paths.contains(parent(rpath)) || touched.contains(rpath) {
            continue;
        }
        let before = gone.subtree(old, rpath);
        let open = |apath: &&str| !used.contains(apath) && *apath != rpath && !touched.contains(apath);
        let list = targets.get(&(kind, parent(rpath)));
        // The same subtree under another name; failing that, a subtree that
        // kept every object (with its value) and gained some, when there is
        // more than the bare object to go by.
        let exact = list.and_then(|l| l.iter().copied().filter(open).find(|a| came.subtree(new, a) == before));
        // Failing both, the same object moved and some of its objects changed
        // on the way (QEMU 11 gave COM1 another IRQ descriptor when the ISA
        // bridge was long since S08): every object is still there, the
        // identity (the object itself, _ADR, _HID) is the same and most values
        // are; the changed ones are reported under the new name.
        let identity =
            |(kind, rel): &(String, String)| rel.is_empty() || (kind == "Name" && (rel == "._ADR" || rel == "._HID"));
        let grown = || {
            list.and_then(|l| {
                l.iter().copied().filter(open).find(|a| {
                    let after = came.subtree(new, a);
                    let kept = before.iter().filter(|(k, v)| after.get(*k) == Some(*v)).count();
                    before.keys().all(|k| after.contains_key(k))
                        && before
                            .iter()
                            .filter(|(k, _)| identity(k))
                            .all(|(k, v)| after.get(k) == Some(v))
                        && (after.len() > before.len() || kept < before.len())
                        && kept * 2 >= before.len()
                })
            })
        };
        let (apath, grew) = match exact {
            Some(a) => (a, false),
            None if before.len() > 1 => match grown() {
                Some(a) => (a, true),
                None => continue,
            },
            None => continue,
        };
        used.insert(apath);
        let old_keys: Vec<String> = gone.below(rpath).map(|(_, _, k)| k.to_string()).collect();
        // Under the new name, only the objects the old subtree had: what it
        // gained stays a drift of its own.
        let mut changed_on_the_way = Vec::new();
        let new_keys: Vec<String> = came
            .below(apath)
            .filter(|(_, kind, k)| {
                let Some(was) = before.get(&(kind.to_string(), relative(kind, k, apath))) else {
                    return false;
                };
                let is = new.get(k).unwrap_or("");
                if was != is {
                    changed_on_the_way.push((k.to_string(), was.clone(), is.to_string()));
                }
                true
            })
            .map(|(_, _, k)| k.to_string())
            .collect();
        out.push(Rename {
            old_key: r.to_string(),
            old_name: rpath.to_string(),
            new_name: apath.to_string(),
            objects: old_keys.len() - changed_on_the_way.len(),
            old_keys,
            new_keys,
            references: 0,
            grown: grew,
            changed: changed_on_the_way,
        });
    }
    // References that follow a rename: an item whose key or value names the
    // old path and that, with the new path put in, is exactly an item of the
    // new side (a Field list on a renamed region, a Field naming it).
    let taken: HashSet<String> = out
        .iter()
        .flat_map(|r| r.old_keys.iter().chain(&r.new_keys).cloned())
        .collect();
    for r in &mut out {
        for k in changed {
            let Some(was) = old.get(k) else { continue };
            if taken.contains(*k) || r.old_keys.iter().any(|x| x == *k) {
                continue;
            }
            let (key, value) = (
                rename_path(k, &r.old_name, &r.new_name),
                rename_path(was, &r.old_name, &r.new_name),
            );
            if (key != **k || value != was) && new.get(&key) == Some(value.as_str()) {
                r.old_keys.push(k.to_string());
                if key != **k {
                    r.new_keys.push(key);
                }
                r.references += 1;
            }
        }
    }
    out
}

/// Describe how two byte strings differ: sizes, count and first offset.
pub fn blob_detail(a: &[u8], b: &[u8]) -> String {
    let common = a.len().min(b.len());
    let differing = (0..common).filter(|&i| a[i] != b[i]).count() + a.len().max(b.len()) - common;
    let first = (0..common).find(|&i| a[i] != b[i]).unwrap_or(common);
    let size = if a.len() == b.len() {
        format!("{} bytes", a.len())
    } else {
        format!("{} → {} bytes", a.len(), b.len())
    };
    format!("{size}, {differing} differ, first at offset {first:#x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_model::drift::Severity;
    use abi_model::facts::Probed;
    use pretty_assertions::assert_eq;

    #[test]
    fn lists_keyed_by_identity() {
        let v: Value = serde_json::json!({
            "caps": [{"offset": "0x40", "id": "0x05"}, {"offset": "0x50", "id": "0x10"}],
            "words": ["0x1", "0x2"],
            "empty": [],
        });
        let mut out = BTreeMap::new();
        walk(FactPath::root(), &v, &mut out);
        let keys: Vec<&str> = out.keys().map(FactPath::as_str).collect();
        assert_eq!(
            keys,
            [
                "caps[offset=0x40].id",
                "caps[offset=0x40].offset",
                "caps[offset=0x50].id",
                "caps[offset=0x50].offset",
                "empty",
                "words[0]",
                "words[1]"
            ]
        );
    }

    /// The mutation bench's SMBIOS case: QEMU 7.2's real table with the
    /// type 3 Chassis Type byte changed (Other -> Unknown) is one finding on
    /// the named sub-field, not a second one on the packed byte.
    #[test]
    fn one_changed_packed_byte_is_one_finding() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/pc-q35-7.2-default-on-7.2.22/smbios/table.bin"
        );
        let old = std::fs::read(dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
        let at = old
            .windows(2)
            .position(|w| w == [3, 0x16])
            .expect("a type 3 structure of 0x16 bytes");
        let mut new = old.clone();
        assert_eq!(new[at + 5], 0x01, "Chassis Type Other");
        new[at + 5] = 0x02;
        let drifts = decoded_drifts(
            &FactPath::root().child("smbios").child("table"),
            &decode::smbios_table(&old),
            &decode::smbios_table(&new),
        );
        let paths: Vec<&str> = drifts.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [r#"smbios.table."System Enclosure or Chassis #0.Type.Chassis Type""#]
        );
        assert_eq!(drifts[0].severity, Severity::Break);
    }

    #[test]
    fn indices_sort_numerically() {
        let v: Value = serde_json::json!({ "q": (0..11).collect::<Vec<u32>>() });
        let mut out = BTreeMap::new();
        walk(FactPath::root(), &v, &mut out);
        let values: Vec<&str> = out.values().map(String::as_str).collect();
        assert_eq!(values, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    }

    #[test]
    fn cpuid_text_parses() {
        assert_eq!(
            cpuid_regs("0000000d 68747541 444d4163 69746e65"),
            Some([0xd, 0x68747541, 0x444d4163, 0x69746e65])
        );
        assert_eq!(cpuid_regs("0000000d 68747541"), None);
        assert_eq!(cpuid_key("00000007.00000001"), Some((7, 1)));
    }

    fn decoded(items: &[(&str, &str)]) -> Decoded {
        let mut d = Decoded::new();
        for (k, v) in items {
            d.put(*k, *v);
        }
        d
    }

    #[test]
    fn renamed_aml_device_with_same_contents_is_one_info_drift() {
        let at = FactPath::new("acpi.DSDT");
        let old = decoded(&[
            ("Device \\_SB.PCI0.S08", "device"),
            ("Name \\_SB.PCI0.S08._ADR", "0x10000"),
            ("Method \\_SB.PCI0.S08._DSM", "4 args, body aa"),
            ("Name \\_SB.PCI0.X", "0x1"),
        ]);
        let new = decoded(&[
            ("Device \\_SB.PCI0.S10", "device"),
            ("Name \\_SB.PCI0.S10._ADR", "0x10000"),
            ("Method \\_SB.PCI0.S10._DSM", "4 args, body aa"),
            ("Name \\_SB.PCI0.X", "0x2"),
        ]);
        let drifts = decoded_drifts(&at, &old, &new);
        let rules: Vec<(&str, &str)> = drifts.iter().map(|d| (d.rule.as_str(), d.path.as_str())).collect();
        assert_eq!(
            rules,
            [
                ("aml-object-changed", "acpi.DSDT.\"Name \\_SB.PCI0.X\""),
                ("aml-object-renamed", "acpi.DSDT.\"Device \\_SB.PCI0.S08\""),
            ]
        );
        assert_eq!(drifts[1].severity, Severity::Info);
        assert_eq!(
            drifts[1].new.as_deref(),
            Some("renamed to \\_SB.PCI0.S10 (3 objects, same contents)")
        );

        // A different _ADR under the new name is not a rename.
        let new = decoded(&[
            ("Device \\_SB.PCI0.S10", "device"),
            ("Name \\_SB.PCI0.S10._ADR", "0x20000"),
            ("Method \\_SB.PCI0.S10._DSM", "4 args, body aa"),
            ("Name \\_SB.PCI0.X", "0x1"),
        ]);
        let drifts = decoded_drifts(&at, &old, &new);
        assert!(drifts.iter().all(|d| d.rule != "aml-object-renamed"), "{drifts:#?}");
        assert_eq!(drifts.len(), 6);
    }

    #[test]
    fn renames_see_through_scope_blocks_and_carry_their_references() {
        // QEMU 5.2 -> 7.2, pc-q35-5.2 (real keys and values): the LPC bridge
        // \_SB.PCI0.ISA became \_SB.PCI0.SF8 and the SMBus function SMB0 became
        // SFB, while one of the Scope (\_SB.PCI0) blocks that held them went
        // away; the PIRQ link fields name the region under its new path.
        let at = FactPath::new("acpi.DSDT");
        let old = decoded(&[
            ("Scope \\_SB.PCI0 #5", "scope"),
            ("Device \\_SB.PCI0.ISA", "device"),
            ("Name \\_SB.PCI0.ISA._ADR", "0x1f0000"),
            ("OperationRegion \\_SB.PCI0.ISA.PIRQ", "PCI_Config 0x60 len 0xc"),
            (
                "Field list \\_SB on \\_SB.PCI0.ISA.PIRQ",
                "region \\_SB.PCI0.ISA.PIRQ, ByteAcc: 8 units",
            ),
            ("Field \\_SB.PRQA", "region \\_SB.PCI0.ISA.PIRQ, bit offset 0, width 8"),
            ("Device \\_SB.PCI0.SMB0", "device"),
            ("Name \\_SB.PCI0.SMB0._ADR", "0x1f0003"),
        ]);
        let new = decoded(&[
            ("Device \\_SB.PCI0.SF8", "device"),
            ("Name \\_SB.PCI0.SF8._ADR", "0x1f0000"),
            ("OperationRegion \\_SB.PCI0.SF8.PIRQ", "PCI_Config 0x60 len 0xc"),
            (
                "Field list \\_SB on \\_SB.PCI0.SF8.PIRQ",
                "region \\_SB.PCI0.SF8.PIRQ, ByteAcc: 8 units",
            ),
            ("Field \\_SB.PRQA", "region \\_SB.PCI0.SF8.PIRQ, bit offset 0, width 8"),
            ("Device \\_SB.PCI0.SFB", "device"),
            ("Name \\_SB.PCI0.SFB._ADR", "0x1f0003"),
        ]);
        let drifts = decoded_drifts(&at, &old, &new);
        let got: Vec<(&str, &str, Option<&str>)> = drifts
            .iter()
            .map(|d| (d.rule.as_str(), d.path.as_str(), d.new.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("aml-scope-layout", "acpi.DSDT.\"Scope \\_SB.PCI0 #5\"", None),
                (
                    "aml-object-renamed",
                    "acpi.DSDT.\"Device \\_SB.PCI0.ISA\"",
                    Some("renamed to \\_SB.PCI0.SF8 (3 objects, same contents; 2 references follow the new name)")
                ),
                (
                    "aml-object-renamed",
                    "acpi.DSDT.\"Device \\_SB.PCI0.SMB0\"",
                    Some("renamed to \\_SB.PCI0.SFB (2 objects, same contents)")
                ),
            ]
        );
        assert_eq!(drifts[0].severity, Severity::Info);
    }

    #[test]
    fn a_renamed_device_that_gained_objects_is_a_rename_and_the_additions() {
        // QEMU 5.2 -> 7.2, pc-i440fx-5.2: the ISA bridge \_SB.PCI0.ISA became the
        // slot device S08, which also got the acpi-index objects every slot got.
        let at = FactPath::new("acpi.DSDT");
        let old = decoded(&[
            ("Device \\_SB.PCI0.ISA", "device"),
            ("Name \\_SB.PCI0.ISA._ADR", "0x10000"),
            ("Device \\_SB.PCI0.ISA.RTC", "device"),
            ("Name \\_SB.PCI0.ISA.RTC._HID", "PNP0B00"),
        ]);
        let mut items = vec![
            ("Device \\_SB.PCI0.S08", "device"),
            ("Name \\_SB.PCI0.S08._ADR", "0x10000"),
            ("Device \\_SB.PCI0.S08.RTC", "device"),
            ("Name \\_SB.PCI0.S08.RTC._HID", "PNP0B00"),
            ("Name \\_SB.PCI0.S08.ASUN", "0x1"),
        ];
        let drifts = decoded_drifts(&at, &old, &decoded(&items));
        let got: Vec<(&str, &str)> = drifts.iter().map(|d| (d.rule.as_str(), d.path.as_str())).collect();
        assert_eq!(
            got,
            [
                ("aml-object-added", "acpi.DSDT.\"Name \\_SB.PCI0.S08.ASUN\""),
                ("aml-object-renamed", "acpi.DSDT.\"Device \\_SB.PCI0.ISA\""),
            ]
        );
        assert!(drifts[1]
            .new
            .as_deref()
            .is_some_and(|n| n.ends_with("objects it gained are reported on their own)")));
        // An object that changed on the way (QEMU 11.1: COM1's IRQ descriptor)
        // is reported under the new name, next to the rename.
        items[3] = ("Name \\_SB.PCI0.S08.RTC._HID", "PNP0B01");
        let drifts = decoded_drifts(&at, &old, &decoded(&items));
        let got: Vec<(&str, &str)> = drifts.iter().map(|d| (d.rule.as_str(), d.path.as_str())).collect();
        assert_eq!(
            got,
            [
                ("aml-object-added", "acpi.DSDT.\"Name \\_SB.PCI0.S08.ASUN\""),
                ("aml-object-changed", "acpi.DSDT.\"Name \\_SB.PCI0.S08.RTC._HID\""),
                ("aml-object-renamed", "acpi.DSDT.\"Device \\_SB.PCI0.ISA\""),
            ]
        );
        assert_eq!(drifts[1].old.as_deref(), Some("PNP0B00"));
        // Another identity (_ADR) is another device: every object is reported.
        items[1] = ("Name \\_SB.PCI0.S08._ADR", "0x20000");
        let drifts = decoded_drifts(&at, &old, &decoded(&items));
        assert!(drifts.iter().all(|d| d.rule != "aml-object-renamed"), "{drifts:#?}");
        assert_eq!(drifts.len(), 9);
    }

    /// A real record, with the blobs of a mutated copy served from memory.
    fn real_with(mutate: impl Fn(&mut Facts, &mut BTreeMap<BlobId, Vec<u8>>)) -> Vec<Drift> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/db-qemu-7.2.22");
        let db = abi_store::Db::open(std::path::Path::new(root)).expect("db");
        let key = db
            .index()
            .expect("index")
            .into_iter()
            .find(|k| k.machine.0 == "pc-q35-7.2" && k.profile == "default");
        let old = db.load(&key.expect("record")).expect("loads").facts;
        let mut new = old.clone();
        let mut extra = BTreeMap::new();
        mutate(&mut new, &mut extra);
        compare(&old, &new, &|id| db.blob(id).ok(), &|id| {
            extra.get(id).cloned().or_else(|| db.blob(id).ok())
        })
    }

    fn rewrite(f: &mut Facts, extra: &mut BTreeMap<BlobId, Vec<u8>>, file: &str, edit: impl Fn(Vec<u8>) -> Vec<u8>) {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/db-qemu-7.2.22");
        let db = abi_store::Db::open(std::path::Path::new(root)).expect("db");
        let fw = match &mut f.fw_cfg {
            Probed::Available(fw) => fw,
            Probed::Unavailable { .. } => panic!("no fw_cfg"),
        };
        let entry = fw.files.get_mut(file).expect("file");
        let Some(Probed::Available(id)) = &entry.content else {
            panic!("no content")
        };
        let bytes = edit(db.blob(id).expect("blob"));
        let new_id = BlobId::of(&bytes);
        entry.size = Some(bytes.len() as u32);
        entry.content = Some(Probed::Available(new_id.clone()));
        extra.insert(new_id, bytes);
    }

    #[test]
    fn a_rebuilt_rom_of_the_same_size_is_a_warning_with_its_reason() {
        let drifts = real_with(|f, extra| {
            rewrite(f, extra, "genroms/kvmvapic.bin", |mut b| {
                b[0x40] ^= 0xff;
                b
            })
        });
        let rules: Vec<&str> = drifts.iter().map(|d| d.rule.as_str()).collect();
        assert_eq!(rules, ["fw_cfg-rom-content"], "{drifts:#?}");
        assert_eq!(drifts[0].severity, Severity::Warn);
        let detail = drifts[0].detail.as_deref().unwrap_or("");
        assert!(
            detail.starts_with("option ROM of 9216 bytes (18 × 512) on both sides"),
            "{detail}"
        );
        // A ROM that grew is the machine's ABI: its memory block is migrated.
        let drifts = real_with(|f, extra| {
            rewrite(f, extra, "genroms/kvmvapic.bin", |mut b| {
                b[2] += 1;
                b.extend([0u8; 512]);
                b
            })
        });
        assert!(
            drifts
                .iter()
                .any(|d| d.rule == "fw_cfg-content-changed" && d.severity == Severity::Break),
            "{drifts:#?}"
        );
    }

    #[test]
    fn another_loader_rom_in_bootorder_is_payload_but_a_new_boot_device_is_not() {
        let drifts = real_with(|f, extra| {
            rewrite(f, extra, "bootorder", |b| {
                String::from_utf8(b)
                    .expect("text")
                    .replace("linuxboot_dma", "multiboot_dma")
                    .into_bytes()
            })
        });
        assert!(!drifts.is_empty());
        assert!(drifts.iter().all(|d| d.rule == "fw_cfg-payload-file"), "{drifts:#?}");
        let drifts = real_with(|f, extra| {
            rewrite(f, extra, "bootorder", |b| {
                let text = String::from_utf8(b).expect("text");
                format!("{}\n/pci@i0cf8/ide@1,1/drive@0/disk@0\0", text.trim_end_matches('\0')).into_bytes()
            })
        });
        let changed: Vec<&Drift> = drifts.iter().filter(|d| d.rule == "fw_cfg-content-changed").collect();
        assert_eq!(changed.len(), 1, "{drifts:#?}");
        assert!(changed[0].path.as_str().contains("ide@1,1"), "{drifts:#?}");
    }

    #[test]
    fn the_rsdp_is_decoded_and_acpi_blob_sizes_are_the_machines() {
        let drifts = real_with(|f, extra| {
            rewrite(f, extra, "etc/acpi/rsdp", |mut b| {
                b[15] = 2; // revision 2, without the fields that go with it
                b
            })
        });
        let got: Vec<(&str, &str)> = drifts.iter().map(|d| (d.rule.as_str(), d.path.as_str())).collect();
        assert!(
            got.contains(&(
                "fw_cfg-content-changed",
                "fw_cfg.files.\"etc/acpi/rsdp\".content.revision"
            )),
            "{got:?}"
        );
        assert!(
            got.iter()
                .all(|(r, _)| *r != "fw_cfg-content-changed" || got.iter().filter(|(q, _)| q == r).count() == 1),
            "only the revision is the machine's: {got:?}"
        );
        let drifts = real_with(|f, extra| {
            rewrite(f, extra, "etc/acpi/tables", |mut b| {
                b.extend([0u8; 4096]);
                b
            })
        });
        assert!(
            drifts
                .iter()
                .any(|d| d.rule == "fw_cfg-content-changed"
                    && d.path.as_str() == "fw_cfg.files.\"etc/acpi/tables\".size"),
            "{drifts:#?}"
        );
    }

    #[test]
    fn blob_details() {
        assert_eq!(blob_detail(b"abcd", b"abxd"), "4 bytes, 1 differ, first at offset 0x2");
        assert_eq!(
            blob_detail(b"ab", b"abcd"),
            "2 → 4 bytes, 2 differ, first at offset 0x2"
        );
    }
}
