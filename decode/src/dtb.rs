//! Flattened device trees (FDT, "DTB", devicetree specification v0.4 §5):
//! the blob QEMU generates for Arm's virt machine, as the guest received it.
//!
//! Keys:
//! - `header.*`: version, last compatible version, boot CPU, total size;
//!   `memreserve[i]` for the memory reservation block.
//! - `/path/to/node` → `children: a, b, c` (in blob order, which is the order
//!   the kernel probes them in, and so device naming).
//! - `/path/to/node:property` → the property's value.
//! - `error` for malformed input.
//!
//! Values read like dts: `"a", "b"` for string lists, `<0x1 0x2>` for cells,
//! `[01 02]` for other bytes, `<empty>` for boolean properties. `reg` is
//! shown as `address+size` pairs with the parent's `#address-cells` and
//! `#size-cells`; `interrupt-map` is split into one key per row, keyed by
//! the row's child unit address and interrupt specifier.
//!
//! Normalisation (what is deliberately *not* a change):
//! - **phandles.** A phandle is a number the generator picks for a node so
//!   other nodes can refer to it (QEMU numbers them from 0x8000 in creation
//!   order). Every property known to hold phandles (`interrupt-parent`,
//!   `clocks`, `msi-parent`, `msi-map`, `iommu-map`, `interrupt-map`,
//!   `gpios`, `cpu`, …, see [`PHANDLE_PROPERTIES`]) shows each phandle as
//!   the path of the node it names (`&/intc@8000000`), and a node's own
//!   `phandle`/`linux,phandle` property shows as `<phandle>`. So a tree in
//!   which only the numbering changed decodes identically, while a
//!   reference that now points at another node, or a node that lost its
//!   phandle, still shows. A phandle naming no node shows as
//!   `&<unknown 0x…>`.
//! - **property order.** Properties are keyed by name: the kernel looks them
//!   up by name, and their order in the blob carries no meaning. Node order
//!   is kept (in the parent's `children` item).
//! - **layout.** Block offsets and sizes follow from the contents and are not
//!   shown; the total size is, and non-zero bytes outside the blocks are
//!   reported as a hash. A blob may end before `totalsize` (the probe drops
//!   the zero free space at the end): the missing bytes count as zeros.

use super::{hash_summary, quote_bytes, Decoded};
use std::collections::BTreeMap;

const MAGIC: u32 = 0xd00d_feed;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;
/// Deeper nesting than this is malformed (real trees are < 10 deep).
const MAX_DEPTH: usize = 64;
/// How many zero bytes a recorded blob may miss at its end (see [`decode`]);
/// a block reaching further is outside the blob.
const MAX_PAD: usize = 64 << 10;
/// More memory reservations than this is malformed.
const MAX_RESERVATIONS: usize = 1024;

/// Properties whose values hold phandles, and how: see [`Layout`].
pub const PHANDLE_PROPERTIES: &[(&str, Layout)] = &[
    ("interrupt-parent", Layout::Single),
    ("msi-parent", Layout::Specifiers("#msi-cells")),
    ("clocks", Layout::Specifiers("#clock-cells")),
    ("assigned-clocks", Layout::Specifiers("#clock-cells")),
    ("assigned-clock-parents", Layout::Specifiers("#clock-cells")),
    ("gpios", Layout::Specifiers("#gpio-cells")),
    ("iommus", Layout::Specifiers("#iommu-cells")),
    ("interrupts-extended", Layout::Specifiers("#interrupt-cells")),
    ("power-domains", Layout::Specifiers("#power-domain-cells")),
    ("resets", Layout::Specifiers("#reset-cells")),
    ("dmas", Layout::Specifiers("#dma-cells")),
    ("phys", Layout::Specifiers("#phy-cells")),
    ("mboxes", Layout::Specifiers("#mbox-cells")),
    ("msi-map", Layout::IdMap),
    ("iommu-map", Layout::IdMap),
    ("cpu", Layout::List),
    ("cpus", Layout::List),
    ("next-level-cache", Layout::List),
    ("cpu-idle-states", Layout::List),
    ("operating-points-v2", Layout::List),
    ("memory-region", Layout::List),
];

/// How a property holds phandles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One phandle.
    Single,
    /// Phandles only.
    List,
    /// Each phandle followed by as many cells as the named `#…-cells`
    /// property of the node it names says (0 when absent).
    Specifiers(&'static str),
    /// `msi-map`/`iommu-map`: (id base, phandle, target base, length) rows.
    IdMap,
}

/// Properties of `/chosen` that carry the boot payload rather than the
/// machine: where the loader put the initrd, the command line, seeds, and
/// what the EFI stub passes to the kernel. A check should not call a
/// change of these a drift of the machine type (as fw_cfg's `etc/boot/`).
pub const BOOT_PAYLOAD: &[&str] = &[
    "bootargs",
    "linux,initrd-start",
    "linux,initrd-end",
    "kaslr-seed",
    "rng-seed",
    "linux,elfcorehdr",
    "linux,usable-memory-range",
    "linux,uefi-system-table",
    "linux,uefi-mmap-start",
    "linux,uefi-mmap-size",
    "linux,uefi-mmap-desc-size",
    "linux,uefi-mmap-desc-ver",
    "linux,uefi-secure-boot",
    "linux,uefi-stub-kern-ver",
];

/// Whether a decoded key names a boot payload property ([`BOOT_PAYLOAD`]).
pub fn is_boot_payload(key: &str) -> bool {
    key.strip_prefix("/chosen:").is_some_and(|p| BOOT_PAYLOAD.contains(&p))
}

/// One node as parsed.
#[derive(Default)]
struct Node {
    path: String,
    parent: Option<usize>,
    children: Vec<String>,
    props: Vec<(String, Vec<u8>)>,
}

impl Node {
    fn prop(&self, name: &str) -> Option<&[u8]> {
        self.props.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    /// A one-cell property such as `#address-cells`.
    fn cell(&self, name: &str) -> Option<u32> {
        match self.prop(name) {
            Some(v) if v.len() == 4 => Some(be32(v, 0)),
            _ => None,
        }
    }
}

fn be32(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .unwrap_or(0)
}

fn cells(v: &[u8]) -> Vec<u32> {
    v.chunks_exact(4).map(|c| be32(c, 0)).collect()
}

fn show_cells(c: &[u32]) -> String {
    let inner: Vec<String> = c.iter().map(|x| format!("{x:#x}")).collect();
    format!("<{}>", inner.join(" "))
}

/// Decode a whole blob. Never panics; malformed input gives `error` items
/// and whatever could be read before the fault.
pub fn decode(blob: &[u8]) -> Decoded {
    let mut out = Decoded::new();
    if blob.len() < 40 {
        out.put(
            "error",
            format!("truncated: {} bytes, shorter than the 40-byte header", blob.len()),
        );
        return out;
    }
    let h = |i: usize| be32(blob, i * 4);
    if h(0) != MAGIC {
        out.put("error", format!("bad magic {:#010x} (expected {MAGIC:#010x})", h(0)));
        return out;
    }
    let (total, off_struct, off_strings, off_rsv) = (h(1) as usize, h(2) as usize, h(3) as usize, h(4) as usize);
    let (version, last_comp, boot_cpu, size_strings, size_struct) = (h(5), h(6), h(7), h(8) as usize, h(9) as usize);
    out.put("header.version", version.to_string());
    out.put("header.last_comp_version", last_comp.to_string());
    out.put("header.boot_cpuid_phys", format!("{boot_cpu:#x}"));
    out.put("header.totalsize", total.to_string());
    // A blob shorter than `totalsize` is one recorded without its trailing
    // zeros (the probe drops them; that may cut the strings block's last
    // NUL): the missing bytes are zeros.
    if total < blob.len() {
        out.put(
            "error",
            format!("{} bytes beyond totalsize {total}", blob.len() - total),
        );
    }
    // A blob shorter than its blocks is one recorded without its trailing
    // zeros (the probe drops them, which may cut the last NUL of the strings
    // block): up to MAX_PAD missing bytes within `totalsize` are zeros.
    let recorded = blob.len();
    let need = [
        off_struct.checked_add(size_struct),
        off_strings.checked_add(size_strings),
    ]
    .into_iter()
    .map(|e| e.unwrap_or(usize::MAX))
    .max()
    .unwrap_or(0);
    let padded;
    let blob = if need > recorded && need <= total && need - recorded <= MAX_PAD {
        let mut p = blob.to_vec();
        p.resize(need, 0);
        padded = p;
        &padded[..]
    } else {
        blob
    };
    let region = |off: usize, len: usize| off.checked_add(len).and_then(|end| blob.get(off..end));
    let Some(strings) = region(off_strings, size_strings) else {
        out.put(
            "error",
            format!("strings block {off_strings:#x}+{size_strings:#x} outside the blob"),
        );
        return out;
    };
    let Some(structure) = region(off_struct, size_struct) else {
        out.put(
            "error",
            format!("structure block {off_struct:#x}+{size_struct:#x} outside the blob"),
        );
        return out;
    };
    let rsv_end = reservations(blob, off_rsv, &mut out);
    let nodes = parse_structure(structure, strings, &mut out);
    emit(&nodes, &mut out);
    // Bytes outside header, reservations, structure and strings: free space,
    // zero in a well-formed blob; anything else is shown as a hash.
    let mut used = vec![false; recorded.min(total.max(40))];
    for (a, b) in [
        (0, 40),
        (off_rsv, rsv_end),
        (off_struct, off_struct + size_struct),
        (off_strings, off_strings + size_strings),
    ] {
        for u in used.iter_mut().take(b).skip(a) {
            *u = true;
        }
    }
    let stray: Vec<u8> = used
        .iter()
        .enumerate()
        .filter(|(i, u)| !**u && blob.get(*i).is_some_and(|&b| b != 0))
        .filter_map(|(i, _)| blob.get(i).copied())
        .collect();
    if !stray.is_empty() {
        out.put("free_space", format!("non-zero: {}", hash_summary(&stray)));
    }
    out
}

/// The memory reservation block; returns where it ends.
fn reservations(blob: &[u8], off: usize, out: &mut Decoded) -> usize {
    let mut at = off;
    for i in 0..=MAX_RESERVATIONS {
        let (Some(a), Some(s)) = (blob.get(at..at + 8), blob.get(at + 8..at + 16)) else {
            out.put(
                "error",
                format!("memory reservation block at {off:#x} runs past the end"),
            );
            return at;
        };
        let addr = u64::from_be_bytes(a.try_into().unwrap_or_default());
        let size = u64::from_be_bytes(s.try_into().unwrap_or_default());
        at += 16;
        if addr == 0 && size == 0 {
            return at;
        }
        if i == MAX_RESERVATIONS {
            out.put("error", format!("more than {MAX_RESERVATIONS} memory reservations"));
            return at;
        }
        out.put(format!("memreserve[{i}]"), format!("{addr:#x}+{size:#x}"));
    }
    at
}

/// Walk the structure block into nodes (index 0 is the root).
fn parse_structure(s: &[u8], strings: &[u8], out: &mut Decoded) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut at = 0usize;
    let align = |x: usize| x.saturating_add(3) & !3;
    loop {
        if at + 4 > s.len() {
            out.put("error", format!("structure block ends at {at:#x} without FDT_END"));
            break;
        }
        let token = be32(s, at);
        at += 4;
        match token {
            FDT_BEGIN_NODE => {
                let Some(len) = s.get(at..).and_then(|r| r.iter().position(|&b| b == 0)) else {
                    out.put("error", format!("unterminated node name at {at:#x}"));
                    break;
                };
                let name = String::from_utf8_lossy(&s[at..at + len]).into_owned();
                at = align(at + len + 1);
                if stack.len() >= MAX_DEPTH {
                    out.put("error", format!("nodes nested deeper than {MAX_DEPTH}"));
                    break;
                }
                let parent = stack.last().copied();
                let path = match parent.and_then(|p| nodes.get(p)) {
                    None => "/".to_string(),
                    Some(p) if p.path == "/" => format!("/{name}"),
                    Some(p) => format!("{}/{name}", p.path),
                };
                if parent.is_none() && !nodes.is_empty() {
                    out.put("error", format!("second root node {name:?} at {:#x}", at));
                    break;
                }
                if let Some(p) = parent.and_then(|p| nodes.get_mut(p)) {
                    p.children.push(name);
                }
                nodes.push(Node {
                    path,
                    parent,
                    ..Node::default()
                });
                stack.push(nodes.len() - 1);
            }
            FDT_END_NODE => {
                if stack.pop().is_none() {
                    out.put("error", format!("FDT_END_NODE without a node at {:#x}", at - 4));
                    break;
                }
            }
            FDT_PROP => {
                let (len, nameoff) = (be32(s, at) as usize, be32(s, at + 4) as usize);
                if at + 8 > s.len() {
                    out.put("error", format!("truncated property header at {:#x}", at - 4));
                    break;
                }
                let Some(value) = s.get(at + 8..).and_then(|r| r.get(..len)) else {
                    out.put(
                        "error",
                        format!("property at {:#x}: length {len} runs past the block", at - 4),
                    );
                    break;
                };
                let name = strings
                    .get(nameoff..)
                    .and_then(|r| r.iter().position(|&b| b == 0).map(|e| &r[..e]))
                    .map(|n| String::from_utf8_lossy(n).into_owned());
                let Some(name) = name else {
                    out.put(
                        "error",
                        format!(
                            "property at {:#x}: name offset {nameoff:#x} outside the strings",
                            at - 4
                        ),
                    );
                    break;
                };
                match stack.last().and_then(|&n| nodes.get_mut(n)) {
                    Some(n) => n.props.push((name, value.to_vec())),
                    None => {
                        out.put("error", format!("property {name:?} outside any node"));
                        break;
                    }
                }
                at = align(at + 8 + len);
            }
            FDT_NOP => {}
            FDT_END => {
                if !stack.is_empty() {
                    out.put("error", format!("FDT_END with {} nodes open", stack.len()));
                }
                if at < s.len() {
                    out.put("error", format!("{} bytes after FDT_END", s.len() - at));
                }
                break;
            }
            t => {
                out.put("error", format!("unknown token {t:#x} at {:#x}", at - 4));
                break;
            }
        }
    }
    nodes
}

/// Everything nodes and properties say, normalised as the module describes.
fn emit(nodes: &[Node], out: &mut Decoded) {
    let mut by_phandle: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for p in ["phandle", "linux,phandle"] {
            if let Some(v) = n.cell(p) {
                by_phandle.entry(v).or_insert(i);
            }
        }
    }
    let ctx = Ctx { nodes, by_phandle };
    for (i, n) in nodes.iter().enumerate() {
        out.put(n.path.clone(), format!("children: {}", n.children.join(", ")));
        for (name, value) in &n.props {
            let key = format!("{}:{name}", n.path);
            if name == "interrupt-map" {
                match ctx.interrupt_map(i, value) {
                    Ok(rows) => {
                        for (k, v) in rows {
                            out.put(format!("{key}[{k}]"), v);
                        }
                    }
                    Err(e) => out.put(key, format!("{} ({e})", show_value(name, value))),
                }
                continue;
            }
            out.put(key, ctx.value(i, name, value));
        }
    }
}

struct Ctx<'a> {
    nodes: &'a [Node],
    by_phandle: BTreeMap<u32, usize>,
}

impl Ctx<'_> {
    fn reference(&self, ph: u32) -> String {
        match self.by_phandle.get(&ph).and_then(|&i| self.nodes.get(i)) {
            Some(n) => format!("&{}", n.path),
            None => format!("&<unknown {ph:#x}>"),
        }
    }

    fn target_cells(&self, ph: u32, name: &str) -> u32 {
        self.by_phandle
            .get(&ph)
            .and_then(|&i| self.nodes.get(i))
            .and_then(|n| n.cell(name))
            .unwrap_or(0)
    }

    fn parent(&self, node: usize) -> Option<&Node> {
        self.nodes.get(node)?.parent.and_then(|p| self.nodes.get(p))
    }

    fn value(&self, node: usize, name: &str, v: &[u8]) -> String {
        if name == "phandle" || name == "linux,phandle" {
            return if v.len() == 4 {
                "<phandle>".into()
            } else {
                show_value(name, v)
            };
        }
        if name == "reg" {
            if let Some(s) = self.reg(node, v) {
                return s;
            }
        }
        let layout = PHANDLE_PROPERTIES
            .iter()
            .find(|(p, _)| *p == name)
            .map(|(_, l)| *l)
            .or_else(|| {
                (name.ends_with("-gpios") || name.ends_with("-gpio")).then_some(Layout::Specifiers("#gpio-cells"))
            });
        match layout {
            Some(l) if v.len().is_multiple_of(4) && !v.is_empty() => self
                .with_phandles(l, &cells(v))
                .unwrap_or_else(|e| format!("{} ({e})", show_value(name, v))),
            _ => show_value(name, v),
        }
    }

    /// `reg` as `address+size` pairs, by the parent's cell counts.
    fn reg(&self, node: usize, v: &[u8]) -> Option<String> {
        let parent = self.parent(node)?;
        let ac = parent.cell("#address-cells").unwrap_or(2) as usize;
        let sc = parent.cell("#size-cells").unwrap_or(1) as usize;
        let c = cells(v);
        if ac == 0 || ac > 4 || sc > 4 || !v.len().is_multiple_of(4) || c.is_empty() || !c.len().is_multiple_of(ac + sc)
        {
            return None;
        }
        let join = |x: &[u32]| x.iter().fold(0u128, |a, &y| (a << 32) | u128::from(y));
        let parts: Vec<String> = c
            .chunks(ac + sc)
            .map(|e| {
                if sc == 0 {
                    format!("{:#x}", join(&e[..ac]))
                } else {
                    format!("{:#x}+{:#x}", join(&e[..ac]), join(&e[ac..]))
                }
            })
            .collect();
        Some(parts.join(", "))
    }

    fn with_phandles(&self, layout: Layout, c: &[u32]) -> Result<String, String> {
        let mut parts: Vec<String> = Vec::new();
        match layout {
            Layout::Single | Layout::List => {
                if layout == Layout::Single && c.len() != 1 {
                    return Err(format!("{} cells, expected one phandle", c.len()));
                }
                parts.extend(c.iter().map(|&p| self.reference(p)));
            }
            Layout::Specifiers(cells_name) => {
                let mut i = 0;
                while let Some(&ph) = c.get(i) {
                    let n = self.target_cells(ph, cells_name) as usize;
                    let args = c
                        .get(i + 1..i + 1 + n)
                        .ok_or_else(|| format!("{cells_name} of {} is {n}, too few cells left", self.reference(ph)))?;
                    let mut s = self.reference(ph);
                    for a in args {
                        s.push_str(&format!(" {a:#x}"));
                    }
                    parts.push(s);
                    i += 1 + n;
                }
            }
            Layout::IdMap => {
                if !c.len().is_multiple_of(4) {
                    return Err(format!("{} cells, not rows of 4", c.len()));
                }
                for r in c.chunks(4) {
                    parts.push(format!("{:#x} {} {:#x} {:#x}", r[0], self.reference(r[1]), r[2], r[3]));
                }
            }
        }
        Ok(format!("<{}>", parts.join(", ")))
    }

    /// Rows of an `interrupt-map`: child unit address (the node's
    /// `#address-cells`) and interrupt specifier (its `#interrupt-cells`),
    /// then the parent's phandle, unit address and specifier (by the
    /// parent's own counts; `#address-cells` 0 when absent).
    fn interrupt_map(&self, node: usize, v: &[u8]) -> Result<Vec<(String, String)>, String> {
        let n = self.nodes.get(node).ok_or("no node")?;
        let ac = n.cell("#address-cells").unwrap_or(0) as usize;
        let ic = n.cell("#interrupt-cells").ok_or("no #interrupt-cells")? as usize;
        if !v.len().is_multiple_of(4) {
            return Err(format!("{} bytes, not cells", v.len()));
        }
        let c = cells(v);
        let mut rows = Vec::new();
        let mut i = 0;
        while i < c.len() {
            let child = c.get(i..i + ac + ic).ok_or("row truncated in the child specifier")?;
            let ph = *c.get(i + ac + ic).ok_or("row truncated before the parent phandle")?;
            let pac = self.target_cells(ph, "#address-cells") as usize;
            let pic = self.target_cells(ph, "#interrupt-cells") as usize;
            let start = i + ac + ic + 1;
            let parent = c
                .get(start..start + pac + pic)
                .ok_or_else(|| format!("row truncated in the specifier for {}", self.reference(ph)))?;
            let list = |x: &[u32]| x.iter().map(|y| format!("{y:#x}")).collect::<Vec<_>>().join(" ");
            rows.push((list(child), format!("{} <{}>", self.reference(ph), list(parent))));
            i = start + pac + pic;
            if rows.len() > 65536 {
                return Err("more than 65536 rows".into());
            }
        }
        Ok(rows)
    }
}

/// A value without structural knowledge: strings, cells, or bytes.
fn show_value(name: &str, v: &[u8]) -> String {
    if v.is_empty() {
        return "<empty>".into();
    }
    if !name.starts_with('#') && is_string_list(v) {
        let parts: Vec<String> = v[..v.len() - 1].split(|&b| b == 0).map(quote_bytes).collect();
        return parts.join(", ");
    }
    if v.len().is_multiple_of(4) {
        return show_cells(&cells(v));
    }
    let bytes: Vec<String> = v.iter().map(|b| format!("{b:02x}")).collect();
    format!("[{}]", bytes.join(" "))
}

/// Printable strings, each NUL-terminated and non-empty (dtc's rule).
fn is_string_list(v: &[u8]) -> bool {
    v.last() == Some(&0)
        && v.first().is_some_and(|&b| b != 0)
        && !v.windows(2).any(|w| w == [0, 0])
        && v.iter().all(|&b| b == 0 || (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small blob builder for hand-made trees.
    #[derive(Default)]
    struct Builder {
        structure: Vec<u8>,
        strings: Vec<u8>,
    }

    impl Builder {
        fn token(&mut self, t: u32) -> &mut Self {
            self.structure.extend_from_slice(&t.to_be_bytes());
            self
        }
        fn begin(&mut self, name: &str) -> &mut Self {
            self.token(FDT_BEGIN_NODE);
            self.structure.extend_from_slice(name.as_bytes());
            self.structure.push(0);
            while !self.structure.len().is_multiple_of(4) {
                self.structure.push(0);
            }
            self
        }
        fn end(&mut self) -> &mut Self {
            self.token(FDT_END_NODE)
        }
        fn prop(&mut self, name: &str, value: &[u8]) -> &mut Self {
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(name.as_bytes());
            self.strings.push(0);
            self.token(FDT_PROP);
            self.structure.extend_from_slice(&(value.len() as u32).to_be_bytes());
            self.structure.extend_from_slice(&off.to_be_bytes());
            self.structure.extend_from_slice(value);
            while !self.structure.len().is_multiple_of(4) {
                self.structure.push(0);
            }
            self
        }
        fn cells(&mut self, name: &str, c: &[u32]) -> &mut Self {
            let v: Vec<u8> = c.iter().flat_map(|x| x.to_be_bytes()).collect();
            self.prop(name, &v)
        }
        fn blob(&mut self) -> Vec<u8> {
            self.token(FDT_END);
            let off_rsv = 40usize;
            let off_struct = off_rsv + 16;
            let off_strings = off_struct + self.structure.len();
            let total = off_strings + self.strings.len();
            let mut b = Vec::new();
            for x in [
                MAGIC,
                total as u32,
                off_struct as u32,
                off_strings as u32,
                off_rsv as u32,
                17,
                16,
                0,
                self.strings.len() as u32,
                self.structure.len() as u32,
            ] {
                b.extend_from_slice(&x.to_be_bytes());
            }
            b.extend_from_slice(&[0; 16]);
            b.extend_from_slice(&self.structure);
            b.extend_from_slice(&self.strings);
            b
        }
    }

    /// A tree shaped like virt's: a GIC, a PCIe host with msi-map and an
    /// interrupt-map, and a clock; phandles numbered from `base`.
    fn tree(base: u32, gic_first: bool) -> Vec<u8> {
        let (gic, its, clk) = (base, base + 1, base + 2);
        let mut b = Builder::default();
        b.begin("")
            .cells("#address-cells", &[2])
            .cells("#size-cells", &[2])
            .cells("interrupt-parent", &[gic]);
        let gic_node = |b: &mut Builder| {
            b.begin("intc@8000000")
                .cells("phandle", &[gic])
                .cells("#interrupt-cells", &[3])
                .cells("#address-cells", &[2])
                .cells("reg", &[0, 0x800_0000, 0, 0x1_0000]);
            b.begin("its@8080000")
                .cells("phandle", &[its])
                .prop("msi-controller", &[])
                .end();
            b.end();
        };
        if gic_first {
            gic_node(&mut b);
        }
        b.begin("apb-pclk")
            .cells("phandle", &[clk])
            .cells("#clock-cells", &[0])
            .end();
        b.begin("pcie@10000000")
            .prop("compatible", b"pci-host-ecam-generic\0")
            .cells("#address-cells", &[3])
            .cells("#interrupt-cells", &[1])
            .cells("msi-map", &[0, its, 0, 0x10000])
            .cells(
                "interrupt-map",
                &[0, 0, 0, 1, gic, 0, 0, 0, 3, 4, 0x800, 0, 0, 1, gic, 0, 0, 0, 4, 4],
            )
            .end();
        b.begin("pl011@9000000")
            .cells("clocks", &[clk, clk])
            .prop("clock-names", b"uartclk\0apb_pclk\0")
            .end();
        if !gic_first {
            gic_node(&mut b);
        }
        b.end();
        b.blob()
    }

    #[test]
    fn phandles_read_as_paths() {
        let d = decode(&tree(0x8000, true));
        assert_eq!(d.get("/:interrupt-parent"), Some("<&/intc@8000000>"));
        assert_eq!(
            d.get("/pcie@10000000:msi-map"),
            Some("<0x0 &/intc@8000000/its@8080000 0x0 0x10000>")
        );
        assert_eq!(
            d.get("/pcie@10000000:interrupt-map[0x0 0x0 0x0 0x1]"),
            Some("&/intc@8000000 <0x0 0x0 0x0 0x3 0x4>")
        );
        assert_eq!(
            d.get("/pcie@10000000:interrupt-map[0x800 0x0 0x0 0x1]"),
            Some("&/intc@8000000 <0x0 0x0 0x0 0x4 0x4>")
        );
        assert_eq!(d.get("/pl011@9000000:clocks"), Some("<&/apb-pclk, &/apb-pclk>"));
        assert_eq!(d.get("/pl011@9000000:clock-names"), Some("\"uartclk\", \"apb_pclk\""));
        assert_eq!(d.get("/intc@8000000:phandle"), Some("<phandle>"));
        assert_eq!(d.get("/intc@8000000:reg"), Some("0x8000000+0x10000"));
        assert_eq!(d.get("/intc@8000000/its@8080000:msi-controller"), Some("<empty>"));
        assert_eq!(
            d.get("/"),
            Some("children: intc@8000000, apb-pclk, pcie@10000000, pl011@9000000")
        );
        assert!(!d.items().keys().any(|k| k.starts_with("error")), "{:#?}", d.items());
    }

    #[test]
    fn renumbered_phandles_decode_identically() {
        let (a, b) = (decode(&tree(0x8000, true)), decode(&tree(0x1, true)));
        assert_ne!(tree(0x8000, true), tree(0x1, true));
        assert_eq!(a, b);
    }

    #[test]
    fn a_moved_node_and_a_changed_reference_show() {
        let (a, b) = (decode(&tree(0x8000, true)), decode(&tree(0x8000, false)));
        assert_ne!(a.get("/"), b.get("/"), "node order is kept in the parent's children");
        // Point msi-map at the clock instead of the ITS: the phandle value
        // changes from 0x8001 to 0x8002 and the decoded reference with it.
        let mut blob = tree(0x8000, true);
        let needle: Vec<u8> = [0u32, 0x8001, 0, 0x10000]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        let at = blob
            .windows(16)
            .position(|w| w == needle.as_slice())
            .expect("msi-map in the blob");
        blob[at + 4..at + 8].copy_from_slice(&0x8002u32.to_be_bytes());
        assert_eq!(
            decode(&blob).get("/pcie@10000000:msi-map"),
            Some("<0x0 &/apb-pclk 0x0 0x10000>")
        );
    }

    #[test]
    fn dangling_phandle_and_short_specifier() {
        let mut b = Builder::default();
        b.begin("").cells("interrupt-parent", &[0x42]);
        b.begin("gpio").cells("phandle", &[7]).cells("#gpio-cells", &[2]).end();
        b.begin("key").cells("gpios", &[7, 3]).end();
        b.end();
        let d = decode(&b.blob());
        assert_eq!(d.get("/:interrupt-parent"), Some("<&<unknown 0x42>>"));
        assert!(
            d.get("/key:gpios").is_some_and(|v| v.contains("too few cells")),
            "{:?}",
            d.get("/key:gpios")
        );
    }

    #[test]
    fn zero_tail_may_be_missing() {
        let mut full = tree(0x8000, true);
        let used = full.len();
        full.resize(used + 4096, 0);
        full[4..8].copy_from_slice(&(used as u32 + 4096).to_be_bytes());
        let (a, b) = (decode(&full), decode(&full[..used]));
        assert_eq!(a, b);
        assert_eq!(a.get("header.totalsize"), Some((used + 4096).to_string().as_str()));
        assert!(a.get("error").is_none(), "{:#?}", a.items());
        full[used + 100] = 1;
        assert!(decode(&full).get("free_space").is_some());
    }

    #[test]
    fn boot_payload_keys() {
        assert!(is_boot_payload("/chosen:linux,initrd-end"));
        assert!(is_boot_payload("/chosen:bootargs"));
        assert!(!is_boot_payload("/chosen:stdout-path"));
        assert!(!is_boot_payload("/pcie@10000000:bootargs"));
    }

    #[test]
    fn malformed_blobs_never_panic() {
        let good = tree(0x8000, true);
        assert!(decode(&good[..39]).get("error").is_some());
        for cut in (40..good.len()).step_by(7) {
            let _ = decode(&good[..cut]);
        }
        for i in 40..good.len() {
            let mut b = good.clone();
            b[i] ^= 0xff;
            let _ = decode(&b);
        }
        let mut bad = good.clone();
        bad[0] = 0;
        assert!(decode(&bad).get("error").is_some_and(|e| e.contains("bad magic")));
    }
    // Real trees: virt-7.2 booted directly (-kernel) by QEMU 7.2.22 and
    // 10.0.2, cortex-a57, 2 vCPUs, dtb-randomness=off (scripts/boot-aarch64),
    // as the probe recorded them (zero tail trimmed). Expected values were
    // read from `dtc -I dtb -O dts` (device-tree-compiler 1.6.1) of the same files.

    fn load(dir: &str) -> Vec<u8> {
        let path = format!("{}/../tests/data/{dir}/dtb-direct.bin", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const VIRT_7: &str = "virt-7.2-default-on-7.2.22";
    const VIRT_10: &str = "virt-7.2-default-on-10.0.2";

    #[test]
    fn virt_tree_decodes_like_dtc_reads_it() {
        let d = decode(&load(VIRT_7));
        assert!(
            !d.items().keys().any(|k| k.starts_with("error") || k == "free_space"),
            "{:#?}",
            d.items()
        );
        assert_eq!(d.get("header.totalsize"), Some("1048576"));
        assert_eq!(d.get("header.version"), Some("17"));
        assert_eq!(d.get("/:compatible"), Some("\"linux,dummy-virt\""));
        assert_eq!(d.get("/:interrupt-parent"), Some("<&/intc@8000000>"));
        assert_eq!(
            d.get("/psci:compatible"),
            Some("\"arm,psci-1.0\", \"arm,psci-0.2\", \"arm,psci\"")
        );
        assert_eq!(d.get("/psci:method"), Some("\"hvc\""));
        assert_eq!(d.get("/memory@40000000:reg"), Some("0x40000000+0x20000000"));
        assert_eq!(d.get("/fw-cfg@9020000:reg"), Some("0x9020000+0x18"));
        assert_eq!(d.get("/pcie@10000000:reg"), Some("0x4010000000+0x10000000"));
        assert_eq!(
            d.get("/pcie@10000000:msi-map"),
            Some("<0x0 &/intc@8000000/v2m@8020000 0x0 0x10000>")
        );
        assert_eq!(
            d.get("/pcie@10000000:interrupt-map[0x800 0x0 0x0 0x1]"),
            Some("&/intc@8000000 <0x0 0x0 0x0 0x4 0x4>")
        );
        assert_eq!(d.get("/pl011@9000000:clocks"), Some("<&/apb-pclk, &/apb-pclk>"));
        assert_eq!(d.get("/gpio-keys/poweroff:gpios"), Some("<&/pl061@9030000 0x3 0x0>"));
        assert_eq!(
            d.get("/cpus/cpu-map/socket0/cluster0/core1:cpu"),
            Some("<&/cpus/cpu@1>")
        );
        assert_eq!(d.get("/cpus/cpu@0:compatible"), Some("\"arm,cortex-a57\""));
        assert_eq!(d.get("/apb-pclk:clock-frequency"), Some("<0x16e3600>"));
        assert_eq!(d.get("/chosen:stdout-path"), Some("\"/pl011@9000000\""));
        assert_eq!(d.items().keys().filter(|k| k.ends_with(":phandle")).count(), 6);
    }

    /// Renumber every phandle of the real tree (0x8000–0x8005 → 0x10–0x15,
    /// in the `phandle` properties and in every reference): the bytes
    /// change, the decoded view does not. A non-phandle cell that happened
    /// to hold one of those values would be rewritten too and show.
    #[test]
    fn virt_tree_renumbered_decodes_identically() {
        let blob = load(VIRT_7);
        let (off, size) = (be32(&blob, 8) as usize, be32(&blob, 36) as usize);
        let mut renumbered = blob.clone();
        let mut rewritten = 0;
        for at in (off..off + size).step_by(4) {
            let v = be32(&blob, at);
            if (0x8000..=0x8005).contains(&v) {
                renumbered[at..at + 4].copy_from_slice(&(v - 0x8000 + 0x10).to_be_bytes());
                rewritten += 1;
            }
        }
        assert!(rewritten > 20, "only {rewritten} phandle cells found");
        assert_ne!(blob, renumbered);
        assert_eq!(decode(&blob), decode(&renumbered));
    }

    /// What QEMU 10.0.2 changed in the tree of virt-7.2, decoded: a
    /// `dma-coherent` root, an `/aliases` node naming the UART, and 64-bit
    /// initrd addresses in `/chosen` (boot payload).
    #[test]
    fn virt_7_2_tree_drift_7_2_to_10_0() {
        let (a, b) = (decode(&load(VIRT_7)), decode(&load(VIRT_10)));
        let mut keys: Vec<&String> = a.items().keys().chain(b.items().keys()).collect();
        keys.sort();
        keys.dedup();
        let changed: Vec<&str> = keys
            .into_iter()
            .filter(|k| a.get(k) != b.get(k))
            .map(String::as_str)
            .collect();
        assert_eq!(
            changed,
            [
                "/",
                "/:dma-coherent",
                "/aliases",
                "/aliases:serial0",
                "/chosen:linux,initrd-end",
                "/chosen:linux,initrd-start"
            ]
        );
        assert_eq!(b.get("/aliases:serial0"), Some("\"/pl011@9000000\""));
        assert!(is_boot_payload("/chosen:linux,initrd-end"));
    }
}
