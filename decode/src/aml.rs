//! AML namespace walker for DSDT and SSDT tables.
//!
//! Walks the definition block the way an OS does when it loads the table
//! (ACPI spec, chapter "ACPI Machine Language (AML) Specification"): every
//! named object is declared under its absolute path (`\_SB.PCI0.S00._ADR`)
//! and its value is recorded, but nothing is executed. Method bodies are
//! code, not namespace, so they are hashed rather than walked; `If`/`Else`
//! at namespace level are walked into and the objects inside are marked
//! with the predicate's hash. The 36-byte table header is left to the
//! generic ACPI header decoder; only its length field is used here.

use super::{quote_bytes, Decoded};
use std::collections::HashMap;

/// Size of the ACPI table header that precedes the AML.
const HEADER_LEN: usize = 36;
/// Deepest nesting of scopes, packages and expressions walked; real tables stay far below.
const MAX_DEPTH: usize = 64;
/// Values longer than this are split into one item per package element or resource descriptor.
const INLINE_MAX: usize = 160;
/// Items after which the walk stops: a bound on work for hostile input (QEMU's
/// DSDTs have a few hundred).
const MAX_ITEMS: usize = 20_000;
/// Buffers up to this size are shown as hex, longer ones as length and hash.
const SHORT_BUFFER: usize = 32;

/// Decode the namespace a DSDT or SSDT declares (the table header comes first).
///
/// Keys are `<kind> <absolute path>` (`Device \_SB.PCI0`, `Name \_SB.PCI0._HID`,
/// `Method …`, `Field …` per field unit, …), plus `definition-block` with the AML size
/// and object count, and `error …` / `unknown …` items for anything malformed.
pub fn decode(table: &[u8]) -> Decoded {
    let mut out = Decoded::new();
    let Some(len_field) = table.get(4..8).filter(|_| table.len() >= HEADER_LEN) else {
        let why = format!("truncated: {} bytes, the table header needs {HEADER_LEN}", table.len());
        out.put("error", format!("{why} (hash {})", h16(table)));
        return out;
    };
    let declared = len_field.iter().rev().fold(0usize, |a, &b| (a << 8) | usize::from(b));
    let end = if declared > table.len() {
        out.put(
            "error",
            format!(
                "truncated: table length {declared:#x} but only {:#x} bytes",
                table.len()
            ),
        );
        table.len()
    } else if declared < HEADER_LEN {
        let why = format!("table length {declared:#x} is shorter than the header");
        out.put("error", format!("{why}; walking all {:#x} bytes", table.len()));
        table.len()
    } else {
        if let Some(extra) = table.get(declared..).filter(|e| !e.is_empty()) {
            let why = format!("table length {declared:#x} but {:#x} bytes given", table.len());
            out.put(
                "error",
                format!("{why}; {} trailing bytes (hash {})", extra.len(), h16(extra)),
            );
        }
        declared
    };
    let t = table.get(..end).unwrap_or(table);
    let mut w = Walker {
        t,
        out,
        objects: 0,
        methods: HashMap::new(),
        seen: HashMap::new(),
    };
    w.term_list(
        Cur {
            pos: HEADER_LEN,
            end: t.len(),
        },
        "\\",
        "",
        0,
    );
    let body = t.len().saturating_sub(HEADER_LEN);
    w.out
        .put("definition-block", format!("{body} bytes, {} objects", w.objects));
    w.out
}

/// First 16 hex digits of the BLAKE3 hash: a short, stable name for opaque bytes.
fn h16(bytes: &[u8]) -> String {
    let h = blake3::hash(bytes).to_hex();
    h.as_str().get(..16).unwrap_or_default().to_string()
}

/// Space-separated hex bytes.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// Short byte strings as hex, long ones as length and hash.
fn hex_or_hash(bytes: &[u8]) -> String {
    if bytes.len() <= SHORT_BUFFER {
        hex(bytes)
    } else {
        format!("{} bytes, hash {}", bytes.len(), h16(bytes))
    }
}

/// A NameSeg as iasl shows it: trailing `_` padding dropped (`_SB_` → `_SB`). All
/// segments are four characters, so this stays unambiguous.
fn seg_str(raw: &[u8]) -> String {
    let s: String = raw.iter().map(|&c| char::from(c)).collect();
    match s.trim_end_matches('_') {
        "" => "_".to_string(),
        t => t.to_string(),
    }
}

/// `path` extended by one segment; paths are kept as display strings (`\A.B.C`).
fn child(path: &str, seg: &str) -> String {
    if path.ends_with('\\') {
        format!("{path}{seg}")
    } else {
        format!("{path}.{seg}")
    }
}

/// The enclosing scope of a path, None at the root.
fn parent(path: &str) -> Option<&str> {
    match path.rfind('.') {
        Some(i) => path.get(..i),
        None if path.len() > 1 => Some("\\"),
        None => None,
    }
}

/// `outer; inner` for nested If/Else marks.
fn join_cond(outer: &str, inner: String) -> String {
    if outer.is_empty() {
        inner
    } else {
        format!("{outer}; {inner}")
    }
}

/// Opcode text for `unknown` items: `0x99` or `0x5b 0x99`.
fn op_text(code: u16) -> String {
    if code > 0xff {
        format!("0x{:02x} 0x{:02x}", code >> 8, code & 0xff)
    } else {
        format!("0x{code:02x}")
    }
}

/// Bytes that can start a NameString.
fn is_name_start(b: u8) -> bool {
    matches!(b, b'\\' | b'^' | b'A'..=b'Z' | b'_' | 0x2e | 0x2f)
}

/// Why a term could not be walked.
enum Fail {
    /// An opcode this walker does not know.
    Unknown { at: usize, op: String },
    /// Truncation or a malformed encoding.
    Bad { at: usize, why: String },
}

fn bad(at: usize, why: impl Into<String>) -> Fail {
    Fail::Bad { at, why: why.into() }
}

type R<T> = Result<T, Fail>;

/// A read position and the end of the package it lies in (`end` never exceeds the table).
#[derive(Clone, Copy)]
struct Cur {
    pos: usize,
    end: usize,
}

/// A NameString as encoded: root or parent prefixes and segments.
struct NameStr {
    root: bool,
    up: usize,
    segs: Vec<String>,
}

impl NameStr {
    /// The absolute path this name denotes when declared in `scope`. Parent prefixes
    /// above the root are kept as a leading `^…` segment rather than dropped.
    fn resolve(&self, scope: &str) -> String {
        let mut base = if self.root { "\\" } else { scope };
        let mut lost = 0;
        for _ in 0..self.up {
            match parent(base) {
                Some(p) => base = p,
                None => lost += 1,
            }
        }
        let mut path = base.to_string();
        if lost > 0 {
            path = child(&path, &"^".repeat(lost));
        }
        for seg in &self.segs {
            path = child(&path, seg);
        }
        path
    }

    /// A reference as shown in values: a lone relative NameSeg is found by the
    /// upward search rules at run time, so it stays as written; anything else is
    /// fixed by its prefixes and is shown absolute.
    fn reference(&self, scope: &str) -> String {
        if !self.root && self.up == 0 && self.segs.len() == 1 {
            self.segs.concat()
        } else {
            self.resolve(scope)
        }
    }
}

/// A TermArg reduced to what a value line needs.
enum Term {
    Int(u64),
    Text(String),
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Term::Int(v) => write!(f, "{v:#x}"),
            Term::Text(s) => f.write_str(s),
        }
    }
}

/// A data object (the value of a Name, or a package element).
enum Data<'a> {
    Int(u64),
    Ones,
    Revision,
    Str(&'a [u8]),
    Buffer { size: Term, bytes: &'a [u8] },
    Package { head: String, elems: Vec<Data<'a>> },
    Ref(String),
}

/// Operand kinds of executable opcodes, enough to find where an expression ends.
#[derive(Clone, Copy)]
enum A {
    /// TermArg, SuperName or Target.
    T,
    B,
    W,
    D,
    /// NameString.
    N,
}

/// Name and operands of the executable opcodes (ext opcodes as `0x5bxx`).
fn op_info(code: u16) -> Option<(&'static str, &'static [A])> {
    use A::*;
    const T1: &[A] = &[T];
    const T2: &[A] = &[T, T];
    const T3: &[A] = &[T, T, T];
    const T4: &[A] = &[T, T, T, T];
    Some(match code {
        0x70 => ("Store", T2),
        0x71 => ("RefOf", T1),
        0x72 => ("Add", T3),
        0x73 => ("Concatenate", T3),
        0x74 => ("Subtract", T3),
        0x75 => ("Increment", T1),
        0x76 => ("Decrement", T1),
        0x77 => ("Multiply", T3),
        0x78 => ("Divide", T4),
        0x79 => ("ShiftLeft", T3),
        0x7a => ("ShiftRight", T3),
        0x7b => ("And", T3),
        0x7c => ("Nand", T3),
        0x7d => ("Or", T3),
        0x7e => ("Nor", T3),
        0x7f => ("Xor", T3),
        0x80 => ("Not", T2),
        0x81 => ("FindSetLeftBit", T2),
        0x82 => ("FindSetRightBit", T2),
        0x83 => ("DerefOf", T1),
        0x84 => ("ConcatenateResTemplate", T3),
        0x85 => ("Mod", T3),
        0x86 => ("Notify", T2),
        0x87 => ("SizeOf", T1),
        0x88 => ("Index", T3),
        0x89 => ("Match", &[T, B, T, B, T, T]),
        0x8e => ("ObjectType", T1),
        0x90 => ("LAnd", T2),
        0x91 => ("LOr", T2),
        0x92 => ("LNot", T1),
        0x93 => ("LEqual", T2),
        0x94 => ("LGreater", T2),
        0x95 => ("LLess", T2),
        0x96 => ("ToBuffer", T2),
        0x97 => ("ToDecimalString", T2),
        0x98 => ("ToHexString", T2),
        0x99 => ("ToInteger", T2),
        0x9c => ("ToString", T3),
        0x9d => ("CopyObject", T2),
        0x9e => ("Mid", T4),
        0x9f => ("Continue", &[]),
        0xa3 => ("Noop", &[]),
        0xa4 => ("Return", T1),
        0xa5 => ("Break", &[]),
        0xcc => ("BreakPoint", &[]),
        0x5b12 => ("CondRefOf", T2),
        0x5b1f => ("LoadTable", &[T, T, T, T, T, T]),
        0x5b20 => ("Load", &[N, T]),
        0x5b21 => ("Stall", T1),
        0x5b22 => ("Sleep", T1),
        0x5b23 => ("Acquire", &[T, W]),
        0x5b24 => ("Signal", T1),
        0x5b25 => ("Wait", T2),
        0x5b26 => ("Reset", T1),
        0x5b27 => ("Release", T1),
        0x5b28 => ("FromBCD", T2),
        0x5b29 => ("ToBCD", T2),
        0x5b2a => ("Unload", T1),
        0x5b30 => ("Revision", &[]),
        0x5b31 => ("Debug", &[]),
        0x5b32 => ("Fatal", &[B, D, T]),
        0x5b33 => ("Timer", &[]),
        _ => return None,
    })
}

/// OperationRegion address spaces.
fn space_name(s: u8) -> String {
    let name = match s {
        0 => "SystemMemory",
        1 => "SystemIO",
        2 => "PCI_Config",
        3 => "EmbeddedControl",
        4 => "SMBus",
        5 => "SystemCMOS",
        6 => "PciBarTarget",
        7 => "IPMI",
        8 => "GeneralPurposeIO",
        9 => "GenericSerialBus",
        0x0a => "PCC",
        0x0b => "PlatformRtMechanism",
        0x7f => "FFixedHW",
        _ => return format!("space {s:#x}"),
    };
    name.to_string()
}

/// Field access types (low nibble; anything above is shown raw).
fn access_name(t: u8) -> String {
    let name = match t & 0x0f {
        0 => "AnyAcc",
        1 => "ByteAcc",
        2 => "WordAcc",
        3 => "DWordAcc",
        4 => "QWordAcc",
        5 => "BufferAcc",
        n => return format!("access {n:#x}"),
    };
    if t & 0xf0 != 0 {
        format!("{name} (type byte {t:#x})")
    } else {
        name.to_string()
    }
}

/// FieldFlags: access type, lock rule, update rule.
fn field_flags(f: u8) -> String {
    let lock = if f & 0x10 != 0 { "Lock" } else { "NoLock" };
    let update = match (f >> 5) & 3 {
        0 => "Preserve".to_string(),
        1 => "WriteAsOnes".to_string(),
        2 => "WriteAsZeros".to_string(),
        n => format!("update {n}"),
    };
    let mut s = format!("{}, {lock}, {update}", access_name(f & 0x0f));
    if f & 0x80 != 0 {
        s.push_str(", reserved 0x80");
    }
    s
}

/// External object types, named as iasl names them.
fn object_type(t: u8) -> String {
    const NAMES: [&str; 16] = [
        "UnknownObj",
        "IntObj",
        "StrObj",
        "BuffObj",
        "PkgObj",
        "FieldUnitObj",
        "DeviceObj",
        "EventObj",
        "MethodObj",
        "MutexObj",
        "OpRegionObj",
        "PowerResObj",
        "ProcessorObj",
        "ThermalZoneObj",
        "BuffFieldObj",
        "DDBHandleObj",
    ];
    NAMES
        .get(usize::from(t))
        .map_or_else(|| format!("type {t:#x}"), |s| s.to_string())
}

/// A compressed EISA id (`EisaId ("PNP0A08")`) as its text, when the integer is one.
fn eisa(v: u64) -> Option<String> {
    let s = u32::try_from(v).ok()?.swap_bytes();
    if s & 0x8000_0000 != 0 {
        return None;
    }
    let letter = |shift: u32| {
        let x = (s >> shift) & 0x1f;
        (1..=26).contains(&x).then(|| char::from(b'@' + x as u8))
    };
    Some(format!(
        "{}{}{}{:04X}",
        letter(26)?,
        letter(21)?,
        letter(16)?,
        s & 0xffff
    ))
}

/// The walker's state: the table (cut at its declared length) and what it found.
struct Walker<'a> {
    t: &'a [u8],
    out: Decoded,
    objects: usize,
    /// Argument counts of methods declared so far, needed to parse calls in expressions.
    methods: HashMap<String, u8>,
    /// How often each item key was emitted.
    seen: HashMap<String, usize>,
}

impl<'a> Walker<'a> {
    /// Take `n` bytes at the cursor, within its package.
    fn take(&self, c: &mut Cur, n: usize) -> R<&'a [u8]> {
        let end = c.pos.checked_add(n).filter(|&e| e <= c.end);
        let bytes = end.and_then(|e| self.t.get(c.pos..e));
        let Some(bytes) = bytes else {
            let left = c.end.saturating_sub(c.pos);
            return Err(bad(
                c.pos,
                format!("truncated: {n} bytes needed, {left} left in the package"),
            ));
        };
        c.pos += n;
        Ok(bytes)
    }

    fn u8(&self, c: &mut Cur) -> R<u8> {
        self.take(c, 1).map(|b| b.first().copied().unwrap_or_default())
    }

    /// A little-endian integer of `n` (≤ 8) bytes.
    fn le(&self, c: &mut Cur, n: usize) -> R<u64> {
        Ok(self.take(c, n)?.iter().rev().fold(0, |a, &b| (a << 8) | u64::from(b)))
    }

    /// The bytes from the cursor to its end (consumed).
    fn rest(&self, c: &mut Cur) -> &'a [u8] {
        let bytes = self.t.get(c.pos..c.end).unwrap_or_default();
        c.pos = c.end.max(c.pos);
        bytes
    }

    fn span(&self, from: usize, to: usize) -> &'a [u8] {
        self.t.get(from..to).unwrap_or_default()
    }

    /// A null-terminated string, without its terminator.
    fn cstring(&self, c: &mut Cur) -> R<&'a [u8]> {
        let at = c.pos;
        let rest = self.t.get(c.pos..c.end).unwrap_or_default();
        let Some(n) = rest.iter().position(|&b| b == 0) else {
            return Err(bad(at, "unterminated string"));
        };
        c.pos += n + 1;
        Ok(rest.get(..n).unwrap_or_default())
    }

    /// The value of a PkgLength encoding (also used for field widths).
    fn pkg_value(&self, c: &mut Cur) -> R<u64> {
        let at = c.pos;
        let lead = self.u8(c)?;
        let extra = lead >> 6;
        if extra == 0 {
            return Ok(u64::from(lead & 0x3f));
        }
        if lead & 0x30 != 0 {
            return Err(bad(
                at,
                format!("PkgLength lead byte {lead:#04x} has reserved bits set"),
            ));
        }
        let mut len = u64::from(lead & 0x0f);
        for i in 0..u32::from(extra) {
            len |= u64::from(self.u8(c)?) << (4 + 8 * i);
        }
        Ok(len)
    }

    /// A PkgLength-prefixed package at the cursor: returns a cursor over its contents
    /// and moves `c` past it. A length running past the enclosing package is reported
    /// and cut at the enclosing end, so what is there is still walked.
    fn package(&mut self, c: &mut Cur) -> R<Cur> {
        let at = c.pos;
        let len = self.pkg_value(c)?;
        let own = c.pos - at;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len < own {
            return Err(bad(at, format!("PkgLength {len:#x} shorter than its own encoding")));
        }
        let end = match at.checked_add(len) {
            Some(e) if e <= c.end => e,
            _ => {
                let left = c.end - at;
                let why = format!("PkgLength {len:#x} runs past the enclosing package ({left:#x} bytes left)");
                self.out.put(format!("error @{at:#x}"), why);
                c.end
            }
        };
        let body = Cur { pos: c.pos, end };
        c.pos = end;
        Ok(body)
    }

    fn name_seg(&self, c: &mut Cur) -> R<String> {
        let at = c.pos;
        let raw = self.take(c, 4)?;
        let ok = raw
            .iter()
            .enumerate()
            .all(|(i, &b)| b.is_ascii_uppercase() || b == b'_' || (i > 0 && b.is_ascii_digit()));
        if !ok {
            return Err(bad(at, format!("bad name segment {}", hex(raw))));
        }
        Ok(seg_str(raw))
    }

    fn name_string(&self, c: &mut Cur) -> R<NameStr> {
        let mut n = NameStr {
            root: false,
            up: 0,
            segs: Vec::new(),
        };
        let mut b = self.u8(c)?;
        if b == b'\\' {
            n.root = true;
            b = self.u8(c)?;
        } else {
            while b == b'^' {
                n.up += 1;
                b = self.u8(c)?;
            }
        }
        let count = match b {
            0x00 => 0,
            0x2e => 2,
            0x2f => usize::from(self.u8(c)?),
            _ => {
                c.pos -= 1;
                1
            }
        };
        for _ in 0..count {
            n.segs.push(self.name_seg(c)?);
        }
        Ok(n)
    }

    /// Argument count of a called method, by the namespace search rules.
    fn arity(&self, n: &NameStr, scope: &str) -> Option<u8> {
        if !n.root && n.up == 0 && n.segs.len() == 1 {
            let seg = n.segs.concat();
            let mut at = Some(scope);
            while let Some(s) = at {
                if let Some(&args) = self.methods.get(&child(s, &seg)) {
                    return Some(args);
                }
                at = parent(s);
            }
            None
        } else {
            self.methods.get(&n.resolve(scope)).copied()
        }
    }

    /// The `unknown` failure for the opcode at `at`.
    fn unknown(&self, at: usize) -> Fail {
        let b = self.t.get(at).copied().unwrap_or_default();
        let op = match (b, self.t.get(at + 1)) {
            (0x5b, Some(&x)) => op_text(0x5b00 | u16::from(x)),
            _ => op_text(u16::from(b)),
        };
        Fail::Unknown { at, op }
    }

    /// Add an item, marked with the If/Else it sits in. Repeated keys are numbered here
    /// as [`Decoded::put`] would (` #2`, ` #3`), but from a count, so hostile input with
    /// thousands of equal keys stays linear.
    fn emit(&mut self, key: String, value: String, cond: &str) {
        let n = self.seen.entry(key.clone()).or_insert(0);
        *n += 1;
        let key = if *n == 1 { key } else { format!("{key} #{n}") };
        if cond.is_empty() {
            self.out.put(key, value);
        } else {
            self.out.put(key, format!("{value} [{cond}]"));
        }
    }

    /// Walk a term list; on failure, report it and skip to the end of the list's package.
    fn term_list(&mut self, mut c: Cur, scope: &str, cond: &str, depth: usize) {
        while c.pos < c.end {
            let start = c.pos;
            let r = if depth > MAX_DEPTH {
                Err(bad(start, format!("nesting deeper than {MAX_DEPTH}")))
            } else if self.out.len() > MAX_ITEMS {
                Err(bad(start, format!("more than {MAX_ITEMS} items")))
            } else {
                self.term(&mut c, scope, cond, depth)
            };
            let fail = match r {
                Ok(()) if c.pos > start => continue,
                Ok(()) => bad(start, "no progress"),
                Err(f) => f,
            };
            let skipped = self.span(start, c.end);
            let tail = format!("{} bytes skipped (hash {})", skipped.len(), h16(skipped));
            let (key, value) = match fail {
                Fail::Unknown { at, op } => (format!("unknown {scope} @{at:#x}"), format!("opcode {op}, {tail}")),
                Fail::Bad { at, why } => (format!("error {scope} @{at:#x}"), format!("{why}, {tail}")),
            };
            self.out.put(key, value);
            return;
        }
    }

    /// One term of a namespace-level term list.
    fn term(&mut self, c: &mut Cur, scope: &str, cond: &str, depth: usize) -> R<()> {
        let at = c.pos;
        match self.u8(c)? {
            0x06 => self.alias(c, scope, cond),
            0x08 => self.name(c, scope, cond, depth),
            0x10 => self.container(c, scope, cond, depth, "Scope"),
            0x14 => self.method(c, scope, cond),
            0x15 => self.external(c, scope, cond),
            0x8a => self.create_field(c, scope, cond, depth, "CreateDWordField"),
            0x8b => self.create_field(c, scope, cond, depth, "CreateWordField"),
            0x8c => self.create_field(c, scope, cond, depth, "CreateByteField"),
            0x8d => self.create_field(c, scope, cond, depth, "CreateBitField"),
            0x8f => self.create_field(c, scope, cond, depth, "CreateQWordField"),
            0xa0 => self.if_else(c, scope, cond, depth),
            0xa1 => Err(bad(at, "Else without If")),
            0x5b => match self.u8(c)? {
                0x01 => self.mutex(c, scope, cond),
                0x02 => {
                    let path = self.name_string(c)?.resolve(scope);
                    self.objects += 1;
                    self.emit(format!("Event {path}"), "event".into(), cond);
                    Ok(())
                }
                0x13 => self.create_field(c, scope, cond, depth, "CreateField"),
                0x80 => self.op_region(c, scope, cond, depth),
                0x81 => self.field(c, scope, cond, depth, "Field"),
                0x82 => self.container(c, scope, cond, depth, "Device"),
                0x83 => self.container(c, scope, cond, depth, "Processor"),
                0x84 => self.container(c, scope, cond, depth, "PowerResource"),
                0x85 => self.container(c, scope, cond, depth, "ThermalZone"),
                0x86 => self.field(c, scope, cond, depth, "IndexField"),
                0x87 => self.field(c, scope, cond, depth, "BankField"),
                0x88 => self.data_region(c, scope, cond, depth),
                _ => {
                    c.pos = at;
                    self.statement(c, scope, cond, depth)
                }
            },
            _ => {
                c.pos = at;
                self.statement(c, scope, cond, depth)
            }
        }
    }

    /// Scope, Device, Processor, PowerResource, ThermalZone: a header, then a term list.
    fn container(&mut self, c: &mut Cur, scope: &str, cond: &str, depth: usize, kind: &str) -> R<()> {
        let mut body = self.package(c)?;
        let path = self.name_string(&mut body)?.resolve(scope);
        let value = match kind {
            "Scope" => "scope".to_string(),
            "Device" => "device".to_string(),
            "Processor" => {
                let id = self.le(&mut body, 1)?;
                let pblk = self.le(&mut body, 4)?;
                let len = self.le(&mut body, 1)?;
                format!("id {id:#x}, pblk {pblk:#x}, len {len}")
            }
            "PowerResource" => {
                let level = self.le(&mut body, 1)?;
                let order = self.le(&mut body, 2)?;
                format!("system level {level:#x}, resource order {order:#x}")
            }
            _ => "thermal zone".to_string(),
        };
        if kind != "Scope" {
            self.objects += 1;
        }
        self.emit(format!("{kind} {path}"), value, cond);
        self.term_list(body, &path, cond, depth + 1);
        Ok(())
    }

    /// Methods are code: recorded by flags and a hash of the body, not walked.
    fn method(&mut self, c: &mut Cur, scope: &str, cond: &str) -> R<()> {
        let mut body = self.package(c)?;
        let path = self.name_string(&mut body)?.resolve(scope);
        let flags = self.u8(&mut body)?;
        let code = self.rest(&mut body);
        let args = flags & 7;
        self.methods.insert(path.clone(), args);
        self.objects += 1;
        let ser = if flags & 8 != 0 { "serialized" } else { "not serialized" };
        let value = format!(
            "{args} args, {ser}, sync {}, body {} ({} bytes)",
            flags >> 4,
            h16(code),
            code.len()
        );
        self.emit(format!("Method {path}"), value, cond);
        Ok(())
    }

    fn name(&mut self, c: &mut Cur, scope: &str, cond: &str, depth: usize) -> R<()> {
        let path = self.name_string(c)?.resolve(scope);
        let data = self.data(c, scope, depth + 1)?;
        let seg = path.rsplit(['.', '\\']).next().unwrap_or_default().to_string();
        self.objects += 1;
        self.emit_data(format!("Name {path}"), &data, &seg, cond);
        Ok(())
    }

    fn alias(&mut self, c: &mut Cur, scope: &str, cond: &str) -> R<()> {
        let target = self.name_string(c)?.reference(scope);
        let path = self.name_string(c)?.resolve(scope);
        self.objects += 1;
        self.emit(format!("Alias {path}"), format!("target {target}"), cond);
        Ok(())
    }

    fn external(&mut self, c: &mut Cur, scope: &str, cond: &str) -> R<()> {
        let path = self.name_string(c)?.resolve(scope);
        let ty = self.u8(c)?;
        let args = self.u8(c)?;
        if ty == 8 {
            self.methods.entry(path.clone()).or_insert(args & 7);
        }
        self.emit(
            format!("External {path}"),
            format!("{}, {args} args", object_type(ty)),
            cond,
        );
        Ok(())
    }

    fn mutex(&mut self, c: &mut Cur, scope: &str, cond: &str) -> R<()> {
        let path = self.name_string(c)?.resolve(scope);
        let flags = self.u8(c)?;
        let mut value = format!("sync level {}", flags & 0x0f);
        if flags & 0xf0 != 0 {
            value.push_str(&format!(", reserved {:#x}", flags & 0xf0));
        }
        self.objects += 1;
        self.emit(format!("Mutex {path}"), value, cond);
        Ok(())
    }

    fn op_region(&mut self, c: &mut Cur, scope: &str, cond: &str, depth: usize) -> R<()> {
        let path = self.name_string(c)?.resolve(scope);
        let space = self.u8(c)?;
        let offset = self.expr(c, scope, depth + 1)?;
        let len = self.expr(c, scope, depth + 1)?;
        self.objects += 1;
        let value = format!("{} {offset} len {len}", space_name(space));
        self.emit(format!("OperationRegion {path}"), value, cond);
        Ok(())
    }

    fn data_region(&mut self, c: &mut Cur, scope: &str, cond: &str, depth: usize) -> R<()> {
        let path = self.name_string(c)?.resolve(scope);
        let sig = self.expr(c, scope, depth + 1)?;
        let oem = self.expr(c, scope, depth + 1)?;
        let table = self.expr(c, scope, depth + 1)?;
        self.objects += 1;
        let value = format!("signature {sig}, oem id {oem}, oem table id {table}");
        self.emit(format!("DataTableRegion {path}"), value, cond);
        Ok(())
    }

    /// CreateXxxField: buffer, index (and bit count for CreateField), then the new name.
    fn create_field(&mut self, c: &mut Cur, scope: &str, cond: &str, depth: usize, kind: &str) -> R<()> {
        let source = self.expr(c, scope, depth + 1)?;
        let index = self.expr(c, scope, depth + 1)?;
        let value = match kind {
            "CreateField" => {
                let bits = self.expr(c, scope, depth + 1)?;
                format!("buffer {source}, bit index {index}, bits {bits}")
            }
            "CreateBitField" => format!("buffer {source}, bit index {index}"),
            _ => format!("buffer {source}, byte index {index}"),
        };
        let path = self.name_string(c)?.resolve(scope);
        self.objects += 1;
        self.emit(format!("{kind} {path}"), value, cond);
        Ok(())
    }

    /// If/Else at namespace level: both branches are walked (nothing is evaluated) and
    /// what they declare is marked with the predicate's hash.
    fn if_else(&mut self, c: &mut Cur, scope: &str, cond: &str, depth: usize) -> R<()> {
        let mut body = self.package(c)?;
        let from = body.pos;
        let pred = self.expr(&mut body, scope, depth + 1)?;
        let ph = h16(self.span(from, body.pos));
        self.emit(format!("If {scope} {ph}"), format!("predicate {pred}"), cond);
        self.term_list(body, scope, &join_cond(cond, format!("if {ph}")), depth + 1);
        if c.pos < c.end && self.t.get(c.pos) == Some(&0xa1) {
            c.pos += 1;
            let body = self.package(c)?;
            self.emit(format!("Else {scope} {ph}"), "else".into(), cond);
            self.term_list(body, scope, &join_cond(cond, format!("else {ph}")), depth + 1);
        }
        Ok(())
    }

    /// Executable code at namespace level (rare): kept as one hashed item.
    fn statement(&mut self, c: &mut Cur, scope: &str, cond: &str, depth: usize) -> R<()> {
        let at = c.pos;
        let b = self.t.get(at).copied().unwrap_or_default();
        let code = match (b, self.t.get(at + 1)) {
            (0x5b, Some(&x)) => 0x5b00 | u16::from(x),
            _ => u16::from(b),
        };
        let label = match op_info(code) {
            Some((name, _)) => name,
            None if is_name_start(b) => "call",
            None => "expression",
        };
        self.expr(c, scope, depth + 1)?;
        let code = self.span(at, c.pos);
        let value = format!("{label}, {} bytes, hash {}", code.len(), h16(code));
        self.emit(format!("statement {scope}"), value, cond);
        Ok(())
    }

    /// Parse one TermArg/SuperName/Target. Constants, strings, locals, args and
    /// plain names come back readable; anything else as `expr <hash> (<n> bytes)`.
    fn expr(&mut self, c: &mut Cur, scope: &str, depth: usize) -> R<Term> {
        let at = c.pos;
        if depth > MAX_DEPTH {
            return Err(bad(at, format!("nesting deeper than {MAX_DEPTH}")));
        }
        let op = self.u8(c)?;
        match op {
            0x00 => return Ok(Term::Int(0)),
            0x01 => return Ok(Term::Int(1)),
            0xff => return Ok(Term::Text("Ones".into())),
            0x0a => return self.le(c, 1).map(Term::Int),
            0x0b => return self.le(c, 2).map(Term::Int),
            0x0c => return self.le(c, 4).map(Term::Int),
            0x0e => return self.le(c, 8).map(Term::Int),
            0x0d => return self.cstring(c).map(|s| Term::Text(quote_bytes(s))),
            0x60..=0x67 => return Ok(Term::Text(format!("Local{}", op - 0x60))),
            0x68..=0x6e => return Ok(Term::Text(format!("Arg{}", op - 0x68))),
            // Buffer, Package, VarPackage, If, Else, While: skipped whole by their length.
            0x11 | 0x12 | 0x13 | 0xa0 | 0xa1 | 0xa2 => {
                self.package(c)?;
            }
            _ if is_name_start(op) => {
                c.pos = at;
                let n = self.name_string(c)?;
                let args = self.arity(&n, scope).unwrap_or(0);
                if args == 0 {
                    return Ok(Term::Text(n.reference(scope)));
                }
                for _ in 0..args {
                    self.expr(c, scope, depth + 1)?;
                }
            }
            _ => {
                let code = if op == 0x5b {
                    0x5b00 | u16::from(self.u8(c)?)
                } else {
                    u16::from(op)
                };
                let Some((name, operands)) = op_info(code) else {
                    return Err(self.unknown(at));
                };
                if operands.is_empty() && code > 0xff {
                    return Ok(Term::Text(name.to_string()));
                }
                for a in operands {
                    match a {
                        A::T => {
                            self.expr(c, scope, depth + 1)?;
                        }
                        A::B => {
                            self.take(c, 1)?;
                        }
                        A::W => {
                            self.take(c, 2)?;
                        }
                        A::D => {
                            self.take(c, 4)?;
                        }
                        A::N => {
                            self.name_string(c)?;
                        }
                    }
                }
            }
        }
        let code = self.span(at, c.pos);
        Ok(Term::Text(format!("expr {} ({} bytes)", h16(code), code.len())))
    }

    /// A data object: the value of a Name or a package element.
    fn data(&mut self, c: &mut Cur, scope: &str, depth: usize) -> R<Data<'a>> {
        let at = c.pos;
        if depth > MAX_DEPTH {
            return Err(bad(at, format!("nesting deeper than {MAX_DEPTH}")));
        }
        Ok(match self.u8(c)? {
            0x00 => Data::Int(0),
            0x01 => Data::Int(1),
            0xff => Data::Ones,
            0x0a => Data::Int(self.le(c, 1)?),
            0x0b => Data::Int(self.le(c, 2)?),
            0x0c => Data::Int(self.le(c, 4)?),
            0x0e => Data::Int(self.le(c, 8)?),
            0x0d => Data::Str(self.cstring(c)?),
            0x11 => {
                let mut body = self.package(c)?;
                let size = self.expr(&mut body, scope, depth + 1)?;
                Data::Buffer {
                    size,
                    bytes: self.rest(&mut body),
                }
            }
            0x12 => {
                let mut body = self.package(c)?;
                let count = self.u8(&mut body)?;
                let elems = self.elements(body, scope, depth)?;
                Data::Package {
                    head: format!("Package({count})"),
                    elems,
                }
            }
            0x13 => {
                let mut body = self.package(c)?;
                let count = self.expr(&mut body, scope, depth + 1)?;
                let elems = self.elements(body, scope, depth)?;
                Data::Package {
                    head: format!("VarPackage({count})"),
                    elems,
                }
            }
            0x5b if self.t.get(c.pos) == Some(&0x30) && c.pos < c.end => {
                c.pos += 1;
                Data::Revision
            }
            b if is_name_start(b) => {
                c.pos = at;
                Data::Ref(self.name_string(c)?.reference(scope))
            }
            _ => return Err(self.unknown(at)),
        })
    }

    fn elements(&mut self, mut c: Cur, scope: &str, depth: usize) -> R<Vec<Data<'a>>> {
        let mut elems = Vec::new();
        while c.pos < c.end {
            elems.push(self.data(&mut c, scope, depth + 1)?);
        }
        Ok(elems)
    }

    /// Emit a Name's value; long packages and resource templates become one item per
    /// element (`[3]`) or descriptor (`[WordIO]`, `[WordIO] #2`), so a drift names the part.
    fn emit_data(&mut self, key: String, d: &Data, seg: &str, cond: &str) {
        match d {
            Data::Package { head, elems } => {
                let parts: Vec<String> = elems.iter().map(|e| render(e, seg)).collect();
                let inline = format!("{head} {{{}}}", parts.join(", "));
                if inline.len() <= INLINE_MAX {
                    return self.emit(key, inline, cond);
                }
                self.emit(key.clone(), format!("{head}, {} elements", elems.len()), cond);
                for (i, (e, part)) in elems.iter().zip(parts).enumerate() {
                    if part.len() <= INLINE_MAX {
                        self.emit(format!("{key}[{i}]"), part, cond);
                    } else {
                        self.emit_data(format!("{key}[{i}]"), e, seg, cond);
                    }
                }
            }
            Data::Buffer { size, bytes } => match template_of(seg, bytes) {
                Some(descs) => {
                    let note = size_note(size, bytes);
                    let inline = template_text(&note, &descs);
                    if inline.len() <= INLINE_MAX {
                        return self.emit(key, inline, cond);
                    }
                    let kinds: Vec<&str> = descs.iter().map(|(k, _)| k.as_str()).collect();
                    let head = format!("ResourceTemplate{note} ({}): {}", descs.len(), kinds.join(", "));
                    self.emit(key.clone(), head, cond);
                    for (kind, text) in descs {
                        self.emit(format!("{key}[{kind}]"), text, cond);
                    }
                }
                None => self.emit(key, render(d, seg), cond),
            },
            _ => self.emit(key, render(d, seg), cond),
        }
    }

    /// A Field, IndexField or BankField: one item per named unit, plus one for the list.
    fn field(&mut self, c: &mut Cur, scope: &str, cond: &str, depth: usize, kind: &str) -> R<()> {
        let mut body = self.package(c)?;
        let first = self.name_string(&mut body)?.reference(scope);
        let head = match kind {
            "IndexField" => {
                let data = self.name_string(&mut body)?.reference(scope);
                format!("index {first}, data {data}")
            }
            "BankField" => {
                let bank = self.name_string(&mut body)?.reference(scope);
                let value = self.expr(&mut body, scope, depth + 1)?;
                format!("region {first}, bank {bank}, bank value {value}")
            }
            _ => format!("region {first}"),
        };
        let flags = self.u8(&mut body)?;
        let mut bit: u64 = 0;
        let mut units = 0usize;
        let mut access = access_name(flags & 0x0f);
        let mut conn = String::new();
        while body.pos < body.end {
            let at = body.pos;
            match self.u8(&mut body)? {
                0x00 => bit = bit.saturating_add(self.pkg_value(&mut body)?),
                0x01 => {
                    let t = self.u8(&mut body)?;
                    let attrib = self.u8(&mut body)?;
                    access = format!("AccessAs {}, attrib {attrib:#x}", access_name(t));
                }
                0x03 => {
                    let t = self.u8(&mut body)?;
                    let attrib = self.u8(&mut body)?;
                    let len = self.u8(&mut body)?;
                    access = format!("AccessAs {}, attrib {attrib:#x}, length {len}", access_name(t));
                }
                0x02 if self.t.get(body.pos) == Some(&0x11) && body.pos < body.end => {
                    body.pos += 1;
                    let mut buf = self.package(&mut body)?;
                    let size = self.expr(&mut buf, scope, depth + 1)?;
                    conn = format!(", connection buffer({size}) {}", hex_or_hash(self.rest(&mut buf)));
                }
                0x02 => conn = format!(", connection {}", self.name_string(&mut body)?.reference(scope)),
                b if b == b'_' || b.is_ascii_uppercase() => {
                    body.pos = at;
                    let seg = self.name_seg(&mut body)?;
                    let width = self.pkg_value(&mut body)?;
                    let path = child(scope, &seg);
                    let value = format!("{head}, bit offset {bit}, width {width}, {access}{conn}");
                    self.emit(format!("{kind} {path}"), value, cond);
                    self.objects += 1;
                    units += 1;
                    bit = bit.saturating_add(width);
                }
                _ => return Err(self.unknown(at)),
            }
        }
        let value = format!("{head}, {}: {units} units, {bit} bits", field_flags(flags));
        self.emit(format!("{kind} list {} on {first}", scope), value, cond);
        Ok(())
    }
}

/// `(size …)` when a buffer's declared size differs from its initializer.
fn size_note(size: &Term, bytes: &[u8]) -> String {
    match size {
        Term::Int(v) if u64::try_from(bytes.len()).ok() == Some(*v) => String::new(),
        _ => format!("(size {size})"),
    }
}

/// The descriptors of a `_CRS`/`_PRS` buffer, if it is a well-formed resource template.
fn template_of(seg: &str, bytes: &[u8]) -> Option<Vec<(String, String)>> {
    if matches!(seg, "_CRS" | "_PRS") {
        template(bytes)
    } else {
        None
    }
}

/// A resource template on one line.
fn template_text(note: &str, descs: &[(String, String)]) -> String {
    let parts: Vec<&str> = descs.iter().map(|(_, t)| t.as_str()).collect();
    format!("ResourceTemplate{note} {{{}}}", parts.join(", "))
}

/// One-line rendering of a data object; `seg` is the Name's last segment, which
/// decides whether integers are EISA ids and buffers resource templates.
fn render(d: &Data, seg: &str) -> String {
    let mut out = String::new();
    render_into(&mut out, d, seg);
    out
}

/// [`render`] appending to `out`, so big packages are built without a string per element.
fn render_into(out: &mut String, d: &Data, seg: &str) {
    use std::fmt::Write;
    match d {
        Data::Int(v) => match eisa(*v).filter(|_| matches!(seg, "_HID" | "_CID")) {
            Some(id) => out.push_str(&id),
            None => {
                let _ = write!(out, "{v:#x}");
            }
        },
        Data::Ones => out.push_str("Ones"),
        Data::Revision => out.push_str("Revision"),
        Data::Str(s) => out.push_str(&quote_bytes(s)),
        Data::Ref(r) => out.push_str(r),
        Data::Package { head, elems } => {
            out.push_str(head);
            out.push_str(" {");
            for (i, e) in elems.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_into(out, e, seg);
            }
            out.push('}');
        }
        Data::Buffer { size, bytes } => {
            let note = size_note(size, bytes);
            match template_of(seg, bytes) {
                Some(descs) => out.push_str(&template_text(&note, &descs)),
                None => {
                    let _ = write!(out, "Buffer{note} {{{}}}", hex_or_hash(bytes));
                }
            }
        }
    }
}

/// Parse a resource template (ACPI spec, "Resource Data Types for ACPI") into
/// (kind, rendering) pairs. None unless it is a clean list of descriptors ending in
/// an EndTag exactly at the end; the caller then shows plain bytes instead.
fn template(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut i = 0usize;
    loop {
        let tag = *bytes.get(i)?;
        let (kind, body_at, len) = if tag & 0x80 == 0 {
            ((tag >> 3) & 0x0f, i.checked_add(1)?, usize::from(tag & 7))
        } else {
            let lo = *bytes.get(i.checked_add(1)?)?;
            let hi = *bytes.get(i.checked_add(2)?)?;
            (tag, i.checked_add(3)?, usize::from(u16::from_le_bytes([lo, hi])))
        };
        let next = body_at.checked_add(len)?;
        let body = bytes.get(body_at..next)?;
        if kind == 0x0f {
            let [checksum] = body else { return None };
            if next != bytes.len() {
                return None;
            }
            if *checksum != 0 {
                out.push(("EndTag".into(), format!("EndTag(checksum {checksum:#x})")));
            }
            return Some(out);
        }
        out.push(descriptor(kind, body));
        i = next;
    }
}

/// Little-endian field of a descriptor body (0 when out of range; callers check lengths first).
fn le_at(b: &[u8], off: usize, n: usize) -> u64 {
    let bytes = off.checked_add(n).and_then(|e| b.get(off..e)).unwrap_or_default();
    bytes.iter().rev().fold(0, |a, &x| (a << 8) | u64::from(x))
}

fn byte_at(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or_default()
}

/// Set bits of an IRQ/DMA mask as a decimal list.
fn bit_list(mask: u64, bits: u32) -> String {
    let set: Vec<String> = (0..bits)
        .filter(|i| mask >> i & 1 != 0)
        .map(|i| i.to_string())
        .collect();
    format!("{{{}}}", set.join(","))
}

/// One descriptor as (kind, text). Unknown kinds or odd lengths fall back to raw bytes.
fn descriptor(kind: u8, b: &[u8]) -> (String, String) {
    let known = match (kind, b.len()) {
        (0x04, 2 | 3) => Some(irq(b)),
        (0x05, 2) => Some(dma(b)),
        (0x06, 0) => Some("StartDependentFn".to_string()),
        (0x06, 1) => Some(start_dependent(byte_at(b, 0))),
        (0x07, 0) => Some("EndDependentFn".to_string()),
        (0x08, 7) => Some(io(b)),
        (0x09, 3) => Some(format!("FixedIO({:#x}, len {:#x})", le_at(b, 0, 2), byte_at(b, 2))),
        (0x0a, 5) => Some(format!(
            "FixedDMA(request {:#x}, channel {:#x}, width {:#x})",
            le_at(b, 0, 2),
            le_at(b, 2, 2),
            byte_at(b, 4)
        )),
        (0x0e, _) => Some(format!("VendorShort({})", hex(b))),
        (0x81, 9) => Some(memory("Memory24", b, 2)),
        (0x82, 12) => Some(format!(
            "Register({}, width {}, offset {}, access {:#x}, address {:#x})",
            space_name(byte_at(b, 0)),
            byte_at(b, 1),
            byte_at(b, 2),
            byte_at(b, 3),
            le_at(b, 4, 8)
        )),
        (0x84, _) => Some(format!("VendorLong({})", hex_or_hash(b))),
        (0x85, 17) => Some(memory("Memory32", b, 4)),
        (0x86, 9) => Some(format!(
            "Memory32Fixed({}, {:#x}, len {:#x}{})",
            rw(b),
            le_at(b, 1, 4),
            le_at(b, 5, 4),
            reserved(byte_at(b, 0) & 0xfe)
        )),
        (0x87, 23..) => Some(address(b, 4, "DWord")),
        (0x88, 13..) => Some(address(b, 2, "Word")),
        (0x8a, 43..) => Some(address(b, 8, "QWord")),
        (0x8b, 53) => Some(address(b, 8, "Extended")),
        (0x89, 2..) => ext_irq(b),
        _ => None,
    };
    let text = known.unwrap_or_else(|| {
        let tag = if kind & 0x80 != 0 {
            format!("Large({kind:#x})")
        } else {
            format!("Small({kind:#x})")
        };
        format!("{tag} {{{}}}", hex_or_hash(b))
    });
    // The kind is the text up to its parameters: `IO`, `DWordMemory`, `Large(0x8c)`.
    let name = text.split(['(', ' ']).next().unwrap_or_default().to_string();
    let name = if name.starts_with("Large") || name.starts_with("Small") {
        text.split(' ').next().unwrap_or_default().to_string()
    } else {
        name
    };
    (name, text)
}

/// `, reserved 0x..` for reserved bits that are set, else nothing.
fn reserved(bits: u8) -> String {
    if bits != 0 {
        format!(", reserved {bits:#x}")
    } else {
        String::new()
    }
}

fn rw(b: &[u8]) -> &'static str {
    if byte_at(b, 0) & 1 != 0 {
        "ReadWrite"
    } else {
        "ReadOnly"
    }
}

/// StartDependentFn priority byte: compatibility (bits 0-1) and performance/robustness (bits 2-3).
fn start_dependent(p: u8) -> String {
    format!(
        "StartDependentFn(priority {}, robustness {}{})",
        p & 3,
        (p >> 2) & 3,
        reserved(p & 0xf0)
    )
}

fn irq(b: &[u8]) -> String {
    let list = bit_list(le_at(b, 0, 2), 16);
    let Some(&f) = b.get(2) else {
        return format!("IRQNoFlags({list})");
    };
    let mut s = String::from("IRQ(");
    s.push_str(if f & 1 != 0 { "Edge" } else { "Level" });
    s.push_str(if f & 8 != 0 { ", ActiveLow" } else { ", ActiveHigh" });
    s.push_str(if f & 0x10 != 0 { ", Shared" } else { ", Exclusive" });
    if f & 0x20 != 0 {
        s.push_str(", Wake");
    }
    s.push_str(&reserved(f & 0xc6));
    format!("{s}, {list})")
}

fn dma(b: &[u8]) -> String {
    let f = byte_at(b, 1);
    let speed = ["Compatibility", "TypeA", "TypeB", "TypeF"][usize::from((f >> 5) & 3)];
    let master = if f & 4 != 0 { "BusMaster" } else { "NotBusMaster" };
    let size = ["Transfer8", "Transfer8_16", "Transfer16", "Transfer3"][usize::from(f & 3)];
    format!(
        "DMA({speed}, {master}, {size}{}, {})",
        reserved(f & 0x98),
        bit_list(le_at(b, 0, 1), 8)
    )
}

fn io(b: &[u8]) -> String {
    let info = byte_at(b, 0);
    let decode = if info & 1 != 0 { "" } else { "Decode10, " };
    format!(
        "IO({decode}min {:#x}, max {:#x}, align {:#x}, len {:#x}{})",
        le_at(b, 1, 2),
        le_at(b, 3, 2),
        byte_at(b, 5),
        byte_at(b, 6),
        reserved(info & 0xfe)
    )
}

/// Memory24 / Memory32: info, min, max, alignment, length of `w` bytes each.
fn memory(name: &str, b: &[u8], w: usize) -> String {
    let f = |k: usize| le_at(b, 1 + k * w, w);
    format!(
        "{name}({}, min {:#x}, max {:#x}, align {:#x}, len {:#x}{})",
        rw(b),
        f(0),
        f(1),
        f(2),
        f(3),
        reserved(byte_at(b, 0) & 0xfe)
    )
}

/// Optional ResourceSource (index byte, then a null-terminated name) after a descriptor.
fn source(rest: &[u8]) -> String {
    let Some((&index, name)) = rest.split_first() else {
        return String::new();
    };
    match name.split_last() {
        None => format!(", source index {index:#x}"),
        Some((0, text)) => format!(", source {index:#x} {}", quote_bytes(text)),
        Some(_) => format!(", source {index:#x} {} unterminated", quote_bytes(name)),
    }
}

/// Word/DWord/QWord/Extended Address Space descriptors.
fn address(b: &[u8], w: usize, prefix: &str) -> String {
    let (rtype, g, t) = (byte_at(b, 0), byte_at(b, 1), byte_at(b, 2));
    let ext = prefix == "Extended";
    let first = if ext { 5 } else { 3 };
    let f = |k: usize| le_at(b, first + k * w, w);
    let name = match rtype {
        0 => format!("{prefix}Memory"),
        1 => format!("{prefix}IO"),
        2 => format!("{prefix}BusNumber"),
        _ => format!("{prefix}Space"),
    };
    let mut p: Vec<String> = Vec::new();
    if rtype > 2 {
        p.push(format!("type {rtype:#x}"));
    }
    p.push(format!("min {:#x}, max {:#x}, len {:#x}", f(1), f(2), f(4)));
    if f(0) != 0 {
        p.push(format!("gran {:#x}", f(0)));
    }
    if f(3) != 0 {
        p.push(format!("tra {:#x}", f(3)));
    }
    p.push(if g & 1 != 0 { "consumer" } else { "producer" }.into());
    for (bit, word) in [(2, "SubDecode"), (4, "MinFixed"), (8, "MaxFixed")] {
        if g & bit != 0 {
            p.push(word.into());
        }
    }
    if g & 0xf0 != 0 {
        p.push(format!("gflags {:#x}", g & 0xf0));
    }
    p.extend(type_flags(rtype, t));
    let rest = if ext {
        p.push(format!("rev {:#x}", byte_at(b, 3)));
        if byte_at(b, 4) != 0 {
            p.push(format!("reserved {:#x}", byte_at(b, 4)));
        }
        if f(5) != 0 {
            p.push(format!("attributes {:#x}", f(5)));
        }
        &[][..]
    } else {
        b.get(first + 5 * w..).unwrap_or_default()
    };
    format!("{name}({}{})", p.join(", "), source(rest))
}

/// Type-specific flags of an address space descriptor, as words.
fn type_flags(rtype: u8, t: u8) -> Vec<String> {
    let mut p: Vec<String> = Vec::new();
    let rest = match rtype {
        0 => {
            p.push(["NonCacheable", "Cacheable", "WriteCombining", "Prefetchable"][usize::from((t >> 1) & 3)].into());
            p.push(if t & 1 != 0 { "ReadWrite" } else { "ReadOnly" }.into());
            match (t >> 3) & 3 {
                1 => p.push("AddressRangeReserved".into()),
                2 => p.push("AddressRangeACPI".into()),
                3 => p.push("AddressRangeNVS".into()),
                _ => {}
            }
            if t & 0x20 != 0 {
                p.push("TypeTranslation".into());
            }
            t & 0xc0
        }
        1 => {
            p.push(["ranges 0", "NonISAOnlyRanges", "ISAOnlyRanges", "EntireRange"][usize::from(t & 3)].into());
            if t & 0x10 != 0 {
                p.push("TypeTranslation".into());
            }
            if t & 0x20 != 0 {
                p.push("SparseTranslation".into());
            }
            t & 0xcc
        }
        _ => t,
    };
    if rest != 0 {
        p.push(format!("tflags {rest:#x}"));
    }
    p
}

/// Extended Interrupt descriptor; None if its interrupt list overruns the descriptor.
fn ext_irq(b: &[u8]) -> Option<String> {
    let f = byte_at(b, 0);
    let count = usize::from(byte_at(b, 1));
    let list_end = 2 + 4 * count;
    let rest = b.get(list_end..)?;
    let ints: Vec<String> = (0..count).map(|k| format!("{:#x}", le_at(b, 2 + 4 * k, 4))).collect();
    let mut p = vec![
        if f & 1 != 0 { "consumer" } else { "producer" },
        if f & 2 != 0 { "Edge" } else { "Level" },
        if f & 4 != 0 { "ActiveLow" } else { "ActiveHigh" },
        if f & 8 != 0 { "Shared" } else { "Exclusive" },
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    if f & 0x10 != 0 {
        p.push("Wake".into());
    }
    if f & 0xe0 != 0 {
        p.push(format!("reserved {:#x}", f & 0xe0));
    }
    Some(format!(
        "Interrupt({}, {{{}}}{})",
        p.join(", "),
        ints.join(", "),
        source(rest)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn dsdt(dir: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/data/{dir}/acpi/DSDT.bin",
            concat!(env!("CARGO_MANIFEST_DIR"), "/..")
        );
        std::fs::read(path).expect("test data")
    }

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// An SSDT around a hand-made AML body.
    fn table(body: &[u8]) -> Vec<u8> {
        let mut t = b"SSDT".to_vec();
        t.extend_from_slice(&u32::try_from(HEADER_LEN + body.len()).unwrap().to_le_bytes());
        t.extend_from_slice(&[2, 0]);
        t.extend_from_slice(b"TEST  SYNTH   ");
        t.extend_from_slice(&[1, 0, 0, 0]);
        t.extend_from_slice(b"TEST");
        t.extend_from_slice(&[1, 0, 0, 0]);
        assert_eq!(t.len(), HEADER_LEN);
        t.extend_from_slice(body);
        t
    }

    /// `op`, a PkgLength covering itself and `body`, then `body`.
    fn pkg(op: &[u8], body: &[u8]) -> Vec<u8> {
        let n = body.len();
        let enc = if n < 0x3f {
            vec![(n + 1) as u8]
        } else if n + 2 < 1 << 12 {
            let v = n + 2;
            vec![0x40 | (v & 0xf) as u8, (v >> 4) as u8]
        } else {
            let v = n + 3;
            vec![0x80 | (v & 0xf) as u8, (v >> 4) as u8, (v >> 12) as u8]
        };
        [op, &enc, body].concat()
    }

    fn errors(d: &Decoded) -> Vec<(&String, &String)> {
        d.items()
            .iter()
            .filter(|(k, _)| k.starts_with("error") || k.starts_with("unknown"))
            .collect()
    }

    /// Keys added, removed and changed from `a` to `b`.
    fn drift(a: &Decoded, b: &Decoded) -> [BTreeSet<String>; 3] {
        let (a, b) = (a.items(), b.items());
        let added = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
        let removed = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
        let changed = a
            .iter()
            .filter(|(k, v)| b.get(*k).is_some_and(|w| w != *v))
            .map(|(k, _)| k.clone())
            .collect();
        [added, removed, changed]
    }

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    // Expected values below were read off `iasl -d` of the same files.
    #[test]
    fn q35_72_namespace() {
        let d = decode(&dsdt("pc-q35-7.2-default-on-7.2.22"));
        assert!(errors(&d).is_empty(), "{:?}", errors(&d));
        let want = [
            ("Scope \\_SB", "scope"),
            ("Device \\_SB.PCI0", "device"),
            ("Name \\_SB.PCI0._HID", "PNP0A08"),
            ("Name \\_SB.PCI0._CID", "PNP0A03"),
            ("Name \\_SB.PCI0._ADR", "0x0"),
            ("Name \\_SB.PCI0.S08._ADR", "0x10000"),
            ("Name \\_SB.PCI0.SFB._ADR", "0x1f0003"),
            ("Name \\_SB.PCI0.PRES._UID", "\"CPU Hotplug resources\""),
            ("Name \\_SB.CPUS._HID", "\"ACPI0010\""),
            ("Name \\_S3", "Package(4) {0x1, 0x1, 0x0, 0x0}"),
            ("Name \\_SB.CPUS.C001._MAT", "Buffer {00 08 01 01 01 00 00 00}"),
            ("Name \\_SB.PCI0.PRTP", "Package(128), 128 elements"),
            ("Name \\_SB.PCI0.PRTP[0]", "Package(4) {0xffff, 0x0, LNKE, 0x0}"),
            ("Name \\_SB.PCI0.PRTA[127]", "Package(4) {0x1fffff, 0x3, GSID, 0x0}"),
            ("OperationRegion \\_SB.PCI0.PCST", "SystemIO 0xcc0 len 0x8"),
            ("OperationRegion \\_SB.HPET.HPTM", "SystemMemory 0xfed00000 len 0x400"),
            ("OperationRegion \\_SB.PCI0.SF8.PIRQ", "PCI_Config 0x60 len 0xc"),
            ("Field \\_SB.PCI0.PCIU", "region PCST, bit offset 0, width 32, DWordAcc"),
            ("Field \\_SB.PCI0.PCID", "region PCST, bit offset 32, width 32, DWordAcc"),
            ("Field list \\_SB.PCI0 on PCST", "region PCST, DWordAcc, NoLock, WriteAsZeros: 2 units, 64 bits"),
            // Offset (0x04) then 1-bit fields: CRMV is the third bit of byte 4.
            ("Field \\_SB.PCI0.PRES.CRMV", "region PRST, bit offset 34, width 1, ByteAcc"),
            ("Field \\_SB.PCI0.PRES.CDAT", "region PRST, bit offset 64, width 32, DWordAcc"),
            // Declared inside Scope (\_SB) with a relative multi-segment region name.
            ("Field \\_SB.PRQE", "region \\_SB.PCI0.SF8.PIRQ, bit offset 64, width 8, ByteAcc"),
            ("Mutex \\_SB.PCI0.BLCK", "sync level 0"),
            ("Processor \\_SB.CPUS.C001", "id 0x1, pblk 0x0, len 0"),
            ("Name \\_SB.HPET._CRS", "ResourceTemplate {Memory32Fixed(ReadOnly, 0xfed00000, len 0x400)}"),
            (
                "Name \\_SB.PCI0.SF8.KBD._CRS",
                "ResourceTemplate {IO(min 0x60, max 0x60, align 0x1, len 0x1), \
                 IO(min 0x64, max 0x64, align 0x1, len 0x1), IRQNoFlags({1})}",
            ),
            (
                "Name \\_SB.LNKA._PRS",
                "ResourceTemplate {Interrupt(consumer, Level, ActiveHigh, Shared, {0x5, 0xa, 0xb})}",
            ),
            (
                "Name \\_SB.PCI0._CRS",
                "ResourceTemplate (8): WordBusNumber, IO, WordIO, WordIO, DWordMemory, DWordMemory, \
                 DWordMemory, QWordMemory",
            ),
            (
                "Name \\_SB.PCI0._CRS[WordBusNumber]",
                "WordBusNumber(min 0x0, max 0xff, len 0x100, producer, MinFixed, MaxFixed)",
            ),
            (
                "Name \\_SB.PCI0._CRS[WordIO] #2",
                "WordIO(min 0xd00, max 0xffff, len 0xf300, producer, MinFixed, MaxFixed, EntireRange)",
            ),
            (
                "Name \\_SB.PCI0._CRS[DWordMemory]",
                "DWordMemory(min 0xa0000, max 0xbffff, len 0x20000, producer, MinFixed, MaxFixed, Cacheable, ReadWrite)",
            ),
            (
                "Name \\_SB.PCI0._CRS[QWordMemory]",
                "QWordMemory(min 0x100000000, max 0x8ffffffff, len 0x800000000, producer, MinFixed, MaxFixed, \
                 Cacheable, ReadWrite)",
            ),
            // Acquire (15 bytes of name + 4), call (15), Release (15 + 2): 51 bytes.
            ("Method \\_GPE._E01", "0 args, not serialized, sync 0, body 0dbba7ba0a9841b3 (51 bytes)"),
            ("definition-block", "8392 bytes, 256 objects"),
        ];
        for (k, v) in want {
            assert_eq!(d.get(k), Some(v), "{k}");
        }
        let pdsm = d.get("Method \\_SB.PCI0.PDSM").unwrap();
        assert!(
            pdsm.starts_with("5 args, serialized, sync 0, body ") && pdsm.ends_with(" (157 bytes)"),
            "{pdsm}"
        );
        // Exactly one Device per iasl `Device (`: 34 of them.
        assert_eq!(d.items().keys().filter(|k| k.starts_with("Device ")).count(), 34);
    }

    /// What a maintainer sees for pc-q35-7.2 between QEMU 7.2.22 and 10.0.2 (checked with
    /// `diff` of the two `iasl -d` outputs): PCI0 lost `_ADR` and gained the EDSM method,
    /// PDSM and the CPU hotplug scan CSCN were rewritten, the ISA bridge's SATA function SFA
    /// appeared, and the empty PCNT method with its call from `_E01` went away.
    #[test]
    fn q35_72_to_100_drift() {
        let old = decode(&dsdt("pc-q35-7.2-default-on-7.2.22"));
        let new = decode(&dsdt("pc-q35-7.2-default-on-10.0.2"));
        assert!(errors(&new).is_empty(), "{:?}", errors(&new));
        let [added, removed, changed] = drift(&old, &new);
        assert_eq!(
            added,
            set(&[
                "Device \\_SB.PCI0.SFA",
                "Method \\_SB.PCI0.EDSM",
                "Name \\_SB.PCI0.SFA._ADR"
            ])
        );
        assert_eq!(removed, set(&["Method \\_SB.PCI0.PCNT", "Name \\_SB.PCI0._ADR"]));
        assert_eq!(
            changed,
            set(&[
                "Method \\_GPE._E01",
                "Method \\_SB.CPUS.CSCN",
                "Method \\_SB.PCI0.PDSM",
                "definition-block"
            ])
        );
        assert_eq!(new.get("Name \\_SB.PCI0.SFA._ADR"), Some("0x1f0002"));
        assert_eq!(
            new.get("Method \\_GPE._E01"),
            Some("0 args, not serialized, sync 0, body af1349b9f5f9a1a6 (0 bytes)")
        );
        // EDSM: PkgLength 0x5b minus 2 length bytes, 4 name bytes and the flags byte.
        let edsm = new.get("Method \\_SB.PCI0.EDSM").unwrap();
        assert!(
            edsm.starts_with("5 args, serialized, sync 0, body ") && edsm.ends_with(" (84 bytes)"),
            "{edsm}"
        );
        assert_eq!(new.get("definition-block"), Some("8504 bytes, 257 objects"));
        // The virtio profile drifts the same way.
        let old = decode(&dsdt("pc-q35-7.2-virtio-on-7.2.22"));
        let new = decode(&dsdt("pc-q35-7.2-virtio-on-10.0.2"));
        let [added, removed, _] = drift(&old, &new);
        assert_eq!(
            added,
            set(&[
                "Device \\_SB.PCI0.SFA",
                "Method \\_SB.PCI0.EDSM",
                "Name \\_SB.PCI0.SFA._ADR"
            ])
        );
        assert_eq!(removed, set(&["Method \\_SB.PCI0.PCNT", "Name \\_SB.PCI0._ADR"]));
    }

    /// pc-i440fx-7.2: 10.0.2 also describes the PIIX functions 1.1 (S09) and 1.3 (S0B),
    /// drops the ASUN names and `_DSM`s of slots 0-2, rewrites the hotplug slots' `_DSM`
    /// and `_PRT` (a literal package instead of a loop), and moves PCNT into its own scope.
    #[test]
    fn i440fx_72_to_100_drift() {
        let old = decode(&dsdt("pc-i440fx-7.2-default-on-7.2.22"));
        let new = decode(&dsdt("pc-i440fx-7.2-default-on-10.0.2"));
        assert!(errors(&old).is_empty() && errors(&new).is_empty());
        assert_eq!(old.get("Device \\_SB.PCI0.S08"), Some("device"));
        assert_eq!(old.get("Name \\_SB.PCI0.S08.ASUN"), Some("0x1"));
        assert_eq!(old.get("Name \\_SB.PCI0._HID"), Some("PNP0A03"));
        assert_eq!(old.get("definition-block"), Some("6523 bytes, 348 objects"));
        assert_eq!(new.get("Name \\_SB.PCI0.S09._ADR"), Some("0x10001"));
        assert_eq!(new.get("Name \\_SB.PCI0.S0B._ADR"), Some("0x10003"));
        let [added, removed, changed] = drift(&old, &new);
        assert_eq!(
            added,
            set(&[
                "Device \\_SB.PCI0.S09",
                "Device \\_SB.PCI0.S0B",
                "Method \\_SB.PCI0.EDSM",
                "Name \\_SB.PCI0.S09._ADR",
                "Name \\_SB.PCI0.S0B._ADR",
                "Scope \\_SB.PCI0 #6",
                "Scope \\_SB.PCI0.S18",
            ])
        );
        assert_eq!(
            removed,
            set(&[
                "Method \\_SB.PCI0.S00._DSM",
                "Method \\_SB.PCI0.S08._DSM",
                "Method \\_SB.PCI0.S10._DSM",
                "Name \\_SB.PCI0.S00.ASUN",
                "Name \\_SB.PCI0.S08.ASUN",
                "Name \\_SB.PCI0.S10.ASUN",
                "Name \\_SB.PCI0._ADR",
            ])
        );
        let mut want = set(&[
            "Method \\_SB.CPUS.CSCN",
            "Method \\_SB.PCI0.PDSM",
            "Method \\_SB.PCI0._PRT",
            "definition-block",
        ]);
        want.extend(
            (0x18..=0xf8)
                .step_by(8)
                .map(|slot| format!("Method \\_SB.PCI0.S{slot:X}._DSM")),
        );
        assert_eq!(changed, want);
    }

    /// An SSDT compiled by iasl 20200925 from ASL using most namespace operators; the
    /// expected values restate that ASL.
    #[test]
    fn iasl_compiled_operators() {
        let aml = unhex(
            "535344544d01000002f454455354000053594e000000000001000000494e544c250920201044115c5f53425f5b82420c
             44455631085f4849440d414350493030303100085f434944120a020c41d00c020d5800084255463011050a0401020856
             504b5f130a0b0001010d610962005b8052454730000b00100a105b8115524547303249445830104441543010424e4b30
             085b86194944583044415430010004494630300401030049463031205b871452454730424e4b300a0201004004424630
             30080642554630414c53308a4255463000434457305b13425546300a030a0543464c305b014d545830035b0245565430
             a0105b125c5f4f53490008494e49460a55a10808494e454c0a665b850d545a3030085f544d500bb80b5b841150575230
             01020014085f53544108a4015b830b4350553003100400000610135c2e5f53425f44455631085e5e4e58545fff",
        );
        let d = decode(&aml);
        assert!(errors(&d).is_empty(), "{:?}", errors(&d));
        // If (CondRefOf (\_OSI)): 5b 12, the name, a null target.
        let cond = h16(&unhex("5b125c5f4f534900"));
        let want = [
            ("Device \\_SB.DEV1", "device".to_string()),
            ("Name \\_SB.DEV1._HID", "\"ACPI0001\"".into()),
            ("Name \\_SB.DEV1._CID", "Package(2) {PNP0C02, \"X\"}".into()),
            ("Name \\_SB.DEV1.BUF0", "Buffer(size 0x4) {01 02}".into()),
            ("Name \\_SB.DEV1.VPK", "VarPackage(0x100) {0x1, \"a\\x09b\"}".into()),
            ("OperationRegion \\_SB.DEV1.REG0", "SystemMemory 0x1000 len 0x10".into()),
            (
                "Field \\_SB.DEV1.BNK0",
                "region REG0, bit offset 32, width 8, WordAcc".into(),
            ),
            (
                "Field list \\_SB.DEV1 on REG0",
                "region REG0, WordAcc, Lock, WriteAsOnes: 3 units, 40 bits".into(),
            ),
            (
                "IndexField \\_SB.DEV1.IF00",
                "index IDX0, data DAT0, bit offset 4, width 4, ByteAcc".into(),
            ),
            (
                "IndexField \\_SB.DEV1.IF01",
                "index IDX0, data DAT0, bit offset 8, width 32, AccessAs DWordAcc, attrib 0x0".into(),
            ),
            (
                "BankField \\_SB.DEV1.BF00",
                "region REG0, bank BNK0, bank value 0x2, bit offset 64, width 8, ByteAcc".into(),
            ),
            ("Alias \\_SB.DEV1.ALS0", "target BUF0".into()),
            ("CreateDWordField \\_SB.DEV1.CDW0", "buffer BUF0, byte index 0x0".into()),
            (
                "CreateField \\_SB.DEV1.CFL0",
                "buffer BUF0, bit index 0x3, bits 0x5".into(),
            ),
            ("Mutex \\_SB.DEV1.MTX0", "sync level 3".into()),
            ("Event \\_SB.DEV1.EVT0", "event".into()),
            (&format!("If \\_SB {cond}"), format!("predicate expr {cond} (8 bytes)")),
            ("Name \\_SB.INIF", format!("0x55 [if {cond}]")),
            ("Name \\_SB.INEL", format!("0x66 [else {cond}]")),
            ("ThermalZone \\_SB.TZ00", "thermal zone".into()),
            ("Name \\_SB.TZ00._TMP", "0xbb8".into()),
            (
                "PowerResource \\_SB.PWR0",
                "system level 0x1, resource order 0x2".into(),
            ),
            ("Processor \\_SB.CPU0", "id 0x3, pblk 0x410, len 6".into()),
            // Name (^^NXT, Ones) inside Scope (\_SB.DEV1).
            ("Name \\NXT", "Ones".into()),
        ];
        for (k, v) in want {
            assert_eq!(d.get(k), Some(v.as_str()), "{k}");
        }
        assert!(d.get("Method \\_SB.PWR0._STA").unwrap().ends_with("(2 bytes)"));
    }

    /// Resource descriptors, from a `_CRS` iasl compiled (expected values restate its ASL).
    #[test]
    fn iasl_compiled_resources() {
        let aml = unhex(
            "53534454dc00000002d7544553540000524553000000000001000000494e544c250920205b82460b5c52455330085f43
             525311490a0aa5231800192a04054b6000048511000100100000002000000001000000040000820c0001080001341200
             000000000088180001030200000010ff1f10000010075c5f53422e5043493000891000060109000000025c5f53422e47
             5349008b3500000c06010000000000000000000000001000000000ffffff1f0000000000000000000000000000001000
             000000080000000000000031094700f802f802080838730102037900",
        );
        let d = decode(&aml);
        let want = [
            ("IRQ", "IRQ(Edge, ActiveLow, Shared, {3,4})"),
            ("DMA", "DMA(Compatibility, BusMaster, Transfer8_16, {2})"),
            ("FixedIO", "FixedIO(0x60, len 0x4)"),
            (
                "Memory32",
                "Memory32(ReadWrite, min 0x1000, max 0x2000, align 0x100, len 0x400)",
            ),
            (
                "Register",
                "Register(SystemIO, width 8, offset 0, access 0x1, address 0x1234)",
            ),
            (
                "WordIO",
                "WordIO(min 0x1000, max 0x1fff, len 0x1000, tra 0x10, consumer, SubDecode, ISAOnlyRanges, \
                 source 0x7 \"\\\\_SB.PCI0\")",
            ),
            (
                "Interrupt",
                "Interrupt(producer, Edge, ActiveLow, Exclusive, {0x9}, source 0x2 \"\\\\_SB.GSI\")",
            ),
            (
                "ExtendedMemory",
                "ExtendedMemory(min 0x10000000, max 0x1fffffff, len 0x10000000, producer, MinFixed, MaxFixed, \
                 Prefetchable, ReadOnly, rev 0x1, attributes 0x8)",
            ),
            ("StartDependentFn", "StartDependentFn(priority 1, robustness 2)"),
            ("IO", "IO(Decode10, min 0x2f8, max 0x2f8, align 0x8, len 0x8)"),
            ("EndDependentFn", "EndDependentFn"),
            ("VendorShort", "VendorShort(01 02 03)"),
        ];
        for (kind, v) in want {
            assert_eq!(d.get(&format!("Name \\RES0._CRS[{kind}]")), Some(v), "{kind}");
        }
        assert_eq!(d.len(), 2 + 1 + want.len());
    }

    #[test]
    fn external_data_region_and_calls() {
        let body = [
            // External (\_SB.EXTM, MethodObj) with 2 arguments.
            &unhex("15 5c 2e 5f53425f 4558544d 08 02")[..],
            // DataTableRegion (DTR0, "FACP", "", "")
            &unhex("5b88 44545230 0d 46414350 00 0d 00 0d 00"),
            // \_SB.EXTM (1, 2) at namespace level: the call takes both arguments.
            &unhex("5c 2e 5f53425f 4558544d 01 0a 02"),
            // Name (^^UP, 1) at the root: the lost parents stay visible.
            &unhex("08 5e5e 55505f5f 01"),
        ]
        .concat();
        let d = decode(&table(&body));
        assert!(errors(&d).is_empty(), "{:?}", errors(&d));
        assert_eq!(d.get("External \\_SB.EXTM"), Some("MethodObj, 2 args"));
        assert_eq!(
            d.get("DataTableRegion \\DTR0"),
            Some("signature \"FACP\", oem id \"\", oem table id \"\"")
        );
        let call = d.get("statement \\").unwrap();
        assert!(call.starts_with("call, 13 bytes, hash "), "{call}");
        assert_eq!(d.get("Name \\^^.UP"), Some("0x1"));
        assert_eq!(d.len(), 5);
    }

    #[test]
    fn eisa_ids() {
        // `0c 41 d0 0a 08` in the q35 DSDT is EisaId ("PNP0A08").
        assert_eq!(eisa(0x080a_d041).as_deref(), Some("PNP0A08"));
        assert_eq!(eisa(0x030a_d041).as_deref(), Some("PNP0A03"));
        assert_eq!(eisa(1), None);
        assert_eq!(eisa(0x1_0000_0000), None);
    }

    #[test]
    fn truncated_table() {
        let full = dsdt("pc-q35-7.2-default-on-7.2.22");
        let d = decode(&full[..4000]);
        assert_eq!(
            d.get("error"),
            Some("truncated: table length 0x20ec but only 0xfa0 bytes")
        );
        assert_eq!(d.get("Device \\_SB.PCI0"), Some("device"));
        assert!(errors(&d).len() >= 2, "the cut term is reported too: {:?}", errors(&d));
        for n in [0, 1, 8, 35] {
            let d = decode(&full[..n]);
            assert!(d.get("error").unwrap().starts_with(&format!("truncated: {n} bytes")));
            assert_eq!(d.len(), 1);
        }
        // Cut at every length: never a panic, always an error once the cut is inside the AML.
        for n in (HEADER_LEN..full.len()).step_by(7) {
            assert!(decode(&full[..n]).get("error").is_some());
        }
    }

    #[test]
    fn lying_length() {
        let mut t = dsdt("pc-q35-7.2-default-on-7.2.22");
        t[4..8].copy_from_slice(&100u32.to_le_bytes());
        let d = decode(&t);
        let e = d.get("error").unwrap();
        assert!(
            e.starts_with("table length 0x64 but 0x20ec bytes given; 8328 trailing bytes (hash "),
            "{e}"
        );
        assert_eq!(d.get("definition-block"), Some("64 bytes, 3 objects"));
        assert_eq!(d.get("OperationRegion \\DBG"), Some("SystemIO 0x402 len 0x1"));
        t[4..8].copy_from_slice(&10u32.to_le_bytes());
        let d = decode(&t);
        assert_eq!(
            d.get("error"),
            Some("table length 0xa is shorter than the header; walking all 0x20ec bytes")
        );
        assert_eq!(d.get("Device \\_SB.PCI0"), Some("device"));
    }

    #[test]
    fn pkg_length_past_end() {
        // Scope (\_SB) { Name (X, 1) } whose PkgLength claims 0x30 bytes.
        let body = unhex("10 30 5c5f53425f 08 585f5f5f 01");
        let d = decode(&table(&body));
        assert_eq!(
            d.get("error @0x25"),
            Some("PkgLength 0x30 runs past the enclosing package (0xc bytes left)")
        );
        assert_eq!(d.get("Name \\_SB.X"), Some("0x1"));
        // A method whose length runs past the table: the body is cut, not read beyond.
        let d = decode(&table(&unhex("14 3f 4d455448 00 a4 01")));
        assert!(d.get("error @0x25").is_some());
        assert!(d.get("Method \\METH").unwrap().ends_with("(2 bytes)"));
    }

    #[test]
    fn unknown_opcode_inside_scope() {
        let inner = unhex("08 415f5f5f 01  5b 99 01 02 03  08 425f5f5f 0a02");
        let body = [
            pkg(&[0x10], &[&unhex("5c5f53425f")[..], &inner].concat()),
            unhex("08 435f5f5f 0a03"),
        ]
        .concat();
        let d = decode(&table(&body));
        assert_eq!(d.get("Name \\_SB.A"), Some("0x1"));
        assert_eq!(d.get("Name \\_SB.B"), None);
        assert_eq!(d.get("Name \\C"), Some("0x3"));
        let skipped = unhex("5b 99 01 02 03  08 425f5f5f 0a02");
        let want = format!("opcode 0x5b 0x99, 12 bytes skipped (hash {})", h16(&skipped));
        assert_eq!(d.get("unknown \\_SB @0x31"), Some(want.as_str()));
        // An unknown opcode at the top level ends the walk there.
        let d = decode(&table(&unhex("08 415f5f5f 01 02 08 425f5f5f 02")));
        assert!(d
            .get("unknown \\ @0x2a")
            .unwrap()
            .starts_with("opcode 0x02, 7 bytes skipped"));
        assert_eq!(d.get("Name \\B"), None);
    }

    #[test]
    fn deep_nesting() {
        let mut aml = unhex("08 585f5f5f 01");
        for _ in 0..100 {
            aml = pkg(&[0x10], &[&unhex("5f5f5f5f")[..], &aml].concat());
        }
        let d = decode(&table(&aml));
        let (k, v) = errors(&d)[0];
        assert!(
            k.starts_with("error \\_._._") && v.starts_with("nesting deeper than 64"),
            "{k} {v}"
        );
        assert_eq!(d.items().keys().filter(|k| k.starts_with("Scope")).count(), 65);
        // Packages nested 100 deep in a Name.
        let mut p = vec![0x01];
        for _ in 0..100 {
            p = pkg(&[0x12], &[&[1u8][..], &p].concat());
        }
        let d = decode(&table(&[&unhex("08 505f5f5f")[..], &p].concat()));
        assert!(errors(&d)[0].1.starts_with("nesting deeper than 64"));
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..2000 {
            let len = 36 + round % 300;
            let mut body = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                body.push((x >> 24) as u8);
            }
            let d = decode(&table(&body));
            assert!(d.get("definition-block").is_some());
        }
        for b in [0x00, 0xff, 0x5b, 0x10, 0x12, 0x5e] {
            decode(&table(&[b; 500]));
        }
        // Thousands of identical declarations stop at the item limit.
        let d = decode(&table(&unhex("08 585f5f5f 00").repeat(30_000)));
        let (k, v) = errors(&d)[0];
        assert!(
            k.starts_with("error \\ @") && v.starts_with("more than 20000 items"),
            "{k} {v}"
        );
    }

    /// Every byte the decoder is responsible for (the length field and the AML) shows up:
    /// flipping any one of them changes the decoded items.
    #[test]
    fn every_byte_counts() {
        let t = dsdt("pc-q35-7.2-default-on-7.2.22");
        let base = decode(&t);
        let mut m = t.clone();
        for i in (4..8).chain(HEADER_LEN..t.len()) {
            m[i] ^= 0xff;
            assert_ne!(decode(&m), base, "byte {i:#x} is not covered");
            m[i] = t[i];
        }
    }
}
