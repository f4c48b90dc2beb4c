//! Host-side facts read straight from a QEMU system emulator binary (design §4).
//!
//! Two things are extracted without running anything:
//!
//! * the GNU build-id ([`build_id`]), which pins exactly which build was recorded;
//! * QEMU's machine compat tables ([`compat_tables`]): the `hw_compat_X_Y` and
//!   `pc_compat_X_Y` arrays of `GlobalProperty` that versioned machine types apply
//!   on top of the current defaults. QEMU 7.2 has no QMP `compat-props`, so reading
//!   the binary is the only way to get them from older releases.
//!
//! In Debian's `qemu-system-x86_64` builds every table is exported in `.dynsym`
//! together with a `const size_t <table>_len` companion. A `GlobalProperty` starts
//! with three `const char *` fields (`driver`, `property`, `value`) followed by
//! flags (`bool used; bool optional;` in QEMU 7.2 and 10.0, 32 bytes per entry on
//! x86_64). Only the three leading pointers are decoded; the entry stride is
//! derived from the symbol size divided by `<table>_len` instead of being assumed.
//!
//! The binaries are position independent, so each pointer is resolved through
//! its `R_X86_64_RELATIVE` dynamic relocation (the addend is the string's
//! virtual address); the virtual address is then mapped to a file offset via the
//! `PT_LOAD` program headers and the NUL-terminated string is read from there.
//!
//! Every read is bounds-checked: a truncated or corrupt file yields an
//! [`ElfError`] naming the symbol and the address or offset that failed.

use std::collections::HashMap;
use std::fmt;

use abi_model::host::{CompatProperty, CompatTables};
use goblin::elf::header::{EM_X86_64, ET_EXEC};
use goblin::elf::program_header::{PT_LOAD, PT_NOTE};
use goblin::elf::reloc::R_X86_64_RELATIVE;
use goblin::elf::Elf;

/// `NT_GNU_BUILD_ID`: the note type of the GNU build-id note (owner `"GNU"`).
const NT_GNU_BUILD_ID: u32 = 3;

/// `DT_RELR`: packed relative relocations (their addends live in the file).
const DT_RELR: u64 = 36;

/// Size of a pointer in the ELF64 binaries this module decodes.
const PTR_SIZE: u64 = 8;

/// The `GlobalProperty` fields decoded, in their order in the struct.
const FIELDS: [&str; 3] = ["driver", "property", "value"];

/// Table name prefixes exported by QEMU's x86 system emulators.
const TABLE_PREFIXES: [&str; 2] = ["hw_compat_", "pc_compat_"];

/// Why reading an ELF binary failed, with the symbol and address that failed.
///
/// `what` fields describe the datum being read, e.g. ``entry 2 field `value` `` or
/// ``length `hw_compat_7_2_len` ``.
#[derive(Debug)]
#[non_exhaustive]
pub enum ElfError {
    /// goblin could not parse the ELF headers (not an ELF file, or truncated).
    Parse(goblin::error::Error),
    /// A well-formed ELF of a kind this module does not decode.
    Unsupported {
        /// What is unsupported (class, byte order, machine).
        reason: String,
    },
    /// A note in a `PT_NOTE` segment is malformed or runs past its segment.
    MalformedNote {
        /// File offset of the note header.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A compat table has no `<table>_len` companion symbol.
    MissingLength {
        /// The table symbol.
        symbol: String,
    },
    /// The table's symbol size is inconsistent with its `_len` entry count.
    BadLayout {
        /// The table symbol.
        symbol: String,
        /// `st_size` of the table symbol, in bytes.
        size: u64,
        /// Value of `<table>_len`.
        len: u64,
        /// What is inconsistent.
        reason: String,
    },
    /// A virtual address is not backed by file bytes of any `PT_LOAD` segment.
    UnmappedAddress {
        /// The symbol being decoded.
        symbol: String,
        /// The datum being read.
        what: String,
        /// The virtual address that could not be mapped.
        vaddr: u64,
        /// Number of bytes that were needed at `vaddr`.
        len: u64,
    },
    /// A virtual address maps to a file range beyond the end of the file.
    Truncated {
        /// The symbol being decoded.
        symbol: String,
        /// The datum being read.
        what: String,
        /// The virtual address being read.
        vaddr: u64,
        /// The file offset it maps to.
        offset: u64,
        /// Number of bytes needed from `offset`.
        len: u64,
        /// Actual length of the file.
        file_len: u64,
    },
    /// A pointer slot in a position-independent binary has no dynamic relocation.
    MissingRelocation {
        /// The table symbol.
        symbol: String,
        /// The field being resolved.
        what: String,
        /// Virtual address of the pointer slot.
        vaddr: u64,
    },
    /// A pointer slot carries a relocation other than a relative one.
    UnsupportedRelocation {
        /// The table symbol.
        symbol: String,
        /// The field being resolved.
        what: String,
        /// Virtual address of the pointer slot.
        vaddr: u64,
        /// The relocation type (`r_type`).
        r_type: u32,
    },
    /// A pointer resolves to NULL or to a negative address.
    BadPointer {
        /// The table symbol.
        symbol: String,
        /// The field being resolved.
        what: String,
        /// Virtual address of the pointer slot.
        vaddr: u64,
        /// The value it resolved to.
        target: i64,
    },
    /// No NUL terminator before the end of the segment's file bytes.
    UnterminatedString {
        /// The table symbol.
        symbol: String,
        /// The field being read.
        what: String,
        /// Virtual address of the string.
        vaddr: u64,
        /// File offset of the string.
        offset: u64,
    },
    /// The string is not valid UTF-8.
    InvalidUtf8 {
        /// The table symbol.
        symbol: String,
        /// The field being read.
        what: String,
        /// Virtual address of the string.
        vaddr: u64,
        /// File offset of the string.
        offset: u64,
    },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::Parse(e) => write!(f, "cannot parse ELF: {e}"),
            ElfError::Unsupported { reason } => write!(f, "unsupported ELF: {reason}"),
            ElfError::MalformedNote { offset, reason } => {
                write!(f, "malformed ELF note at file offset {offset:#x}: {reason}")
            }
            ElfError::MissingLength { symbol } => {
                write!(f, "{symbol}: no `{symbol}_len` symbol giving its entry count")
            }
            ElfError::BadLayout {
                symbol,
                size,
                len,
                reason,
            } => write!(
                f,
                "{symbol}: symbol size {size:#x} bytes does not fit {len} entries: {reason}"
            ),
            ElfError::UnmappedAddress {
                symbol,
                what,
                vaddr,
                len,
            } => write!(
                f,
                "{symbol}: {what}: {len} bytes at vaddr {vaddr:#x} are not file-backed by any PT_LOAD segment"
            ),
            ElfError::Truncated {
                symbol,
                what,
                vaddr,
                offset,
                len,
                file_len,
            } => write!(
                f,
                "{symbol}: {what}: vaddr {vaddr:#x} maps to file offset {offset:#x}+{len:#x}, past the end of the {file_len:#x}-byte file (truncated?)"
            ),
            ElfError::MissingRelocation {
                symbol,
                what,
                vaddr,
            } => write!(
                f,
                "{symbol}: {what}: pointer slot at vaddr {vaddr:#x} has no dynamic relocation"
            ),
            ElfError::UnsupportedRelocation {
                symbol,
                what,
                vaddr,
                r_type,
            } => write!(
                f,
                "{symbol}: {what}: pointer slot at vaddr {vaddr:#x} has relocation type {r_type}, expected R_X86_64_RELATIVE"
            ),
            ElfError::BadPointer {
                symbol,
                what,
                vaddr,
                target,
            } => write!(
                f,
                "{symbol}: {what}: pointer slot at vaddr {vaddr:#x} resolves to invalid address {target:#x}"
            ),
            ElfError::UnterminatedString {
                symbol,
                what,
                vaddr,
                offset,
            } => write!(
                f,
                "{symbol}: {what}: string at vaddr {vaddr:#x} (file offset {offset:#x}) has no NUL terminator within its segment"
            ),
            ElfError::InvalidUtf8 {
                symbol,
                what,
                vaddr,
                offset,
            } => write!(
                f,
                "{symbol}: {what}: string at vaddr {vaddr:#x} (file offset {offset:#x}) is not valid UTF-8"
            ),
        }
    }
}

impl std::error::Error for ElfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ElfError::Parse(e) => Some(e),
            _ => None,
        }
    }
}

impl From<goblin::error::Error> for ElfError {
    fn from(e: goblin::error::Error) -> Self {
        ElfError::Parse(e)
    }
}

/// Returns the GNU build-id (`NT_GNU_BUILD_ID` note) of an ELF file as lowercase hex.
///
/// `Ok(None)` means the file is a valid ELF without a build-id note. Notes are
/// looked up in the `PT_NOTE` segments (which survive stripping of section
/// headers); each note is bounds-checked against its segment.
pub fn build_id(elf: &[u8]) -> Result<Option<String>, ElfError> {
    let parsed = Elf::parse(elf)?;
    let little_endian = parsed.little_endian;
    for ph in &parsed.program_headers {
        if ph.p_type != PT_NOTE {
            continue;
        }
        let start = ph.p_offset;
        let end = start
            .checked_add(ph.p_filesz)
            .filter(|&end| end <= elf.len() as u64)
            .ok_or_else(|| ElfError::MalformedNote {
                offset: start,
                reason: format!(
                    "PT_NOTE segment {start:#x}+{:#x} extends past the end of the {:#x}-byte file",
                    ph.p_filesz,
                    elf.len()
                ),
            })?;
        // Both bounds are <= elf.len(), which is a usize, so these conversions are lossless.
        let segment = &elf[start as usize..end as usize];
        // ELF64 notes may be 8-byte aligned (p_align 8); otherwise 4 (also for 32-bit).
        let align = if ph.p_align == 8 { 8 } else { 4 };
        if let Some(id) = find_build_id(segment, start, align, little_endian)? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Walks the notes of one `PT_NOTE` segment looking for the GNU build-id.
fn find_build_id(
    segment: &[u8],
    segment_offset: u64,
    align: usize,
    little_endian: bool,
) -> Result<Option<String>, ElfError> {
    let mut pos = 0usize;
    while pos < segment.len() {
        let note_offset = segment_offset + pos as u64;
        let malformed = |reason: String| ElfError::MalformedNote {
            offset: note_offset,
            reason,
        };
        let header = segment
            .get(pos..pos + 12)
            .ok_or_else(|| malformed("note header runs past the end of its segment".into()))?;
        let word = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&header[i * 4..i * 4 + 4]);
            if little_endian {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            }
        };
        let (namesz, descsz, n_type) = (word(0) as usize, word(1) as usize, word(2));
        let name_start = pos + 12;
        let desc_start = name_start
            .checked_add(namesz)
            .and_then(|n| align_up(n, align))
            .ok_or_else(|| malformed(format!("name size {namesz:#x} overflows")))?;
        let desc_end = desc_start
            .checked_add(descsz)
            .ok_or_else(|| malformed(format!("descriptor size {descsz:#x} overflows")))?;
        let name = segment
            .get(name_start..name_start + namesz)
            .ok_or_else(|| malformed(format!("name ({namesz:#x} bytes) runs past the end of its segment")))?;
        let desc = segment.get(desc_start..desc_end).ok_or_else(|| {
            malformed(format!(
                "descriptor ({descsz:#x} bytes) runs past the end of its segment"
            ))
        })?;
        if n_type == NT_GNU_BUILD_ID && name == b"GNU\0" {
            if desc.is_empty() {
                return Err(malformed("build-id note has an empty descriptor".into()));
            }
            return Ok(Some(desc.iter().map(|b| format!("{b:02x}")).collect()));
        }
        // The last note's padding may be missing; stop cleanly at the segment end.
        pos = match align_up(desc_end, align) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(None)
}

/// Rounds `n` up to a multiple of `align` (a power of two), `None` on overflow.
fn align_up(n: usize, align: usize) -> Option<usize> {
    n.checked_add(align - 1).map(|n| n & !(align - 1))
}

/// Reads QEMU's machine compat tables (`hw_compat_X_Y`, `pc_compat_X_Y`) from an
/// x86_64 QEMU system emulator binary.
///
/// Tables are found by name in `.dynsym` (and in `.symtab` when the binary is not
/// stripped); each needs its `<table>_len` companion. An ELF without any such
/// symbol yields an empty map. See the [module documentation](self) for how the
/// entries are decoded.
pub fn compat_tables(elf: &[u8]) -> Result<CompatTables, ElfError> {
    let parsed = Elf::parse(elf)?;
    if !parsed.is_64 || !parsed.little_endian || parsed.header.e_machine != EM_X86_64 {
        return Err(ElfError::Unsupported {
            reason: format!(
                "compat tables are only decoded from little-endian ELF64 x86_64 binaries \
                 (got {}-bit, {}-endian, e_machine {})",
                if parsed.is_64 { 64 } else { 32 },
                if parsed.little_endian { "little" } else { "big" },
                parsed.header.e_machine
            ),
        });
    }

    let symbols = table_symbols(&parsed);
    let tables: Vec<(&str, Symbol)> = symbols
        .iter()
        .filter(|(name, _)| is_table_name(name))
        .map(|(name, sym)| (*name, *sym))
        .collect();
    if tables.is_empty() {
        return Ok(CompatTables::new());
    }

    let image = Image {
        data: elf,
        segments: parsed
            .program_headers
            .iter()
            .filter(|ph| ph.p_type == PT_LOAD)
            .map(|ph| Segment {
                vaddr: ph.p_vaddr,
                offset: ph.p_offset,
                filesz: ph.p_filesz,
            })
            .collect(),
    };

    // Keep only relocations within the span covering all tables (~1.7k
    // of the ~130k entries in .rela.dyn).
    let lo = tables.iter().map(|(_, s)| s.value).min().unwrap_or(0);
    let hi = tables
        .iter()
        .map(|(_, s)| s.value.saturating_add(s.size))
        .max()
        .unwrap_or(0);
    let mut relocs = HashMap::new();
    for r in parsed.dynrelas.iter().chain(parsed.dynrels.iter()) {
        if (lo..hi).contains(&r.r_offset) {
            relocs.insert(
                r.r_offset,
                Reloc {
                    r_type: r.r_type,
                    addend: r.r_addend,
                },
            );
        }
    }
    // Without a relocation the file holds the final pointer value in a non-PIE
    // executable, and the implicit addend for packed (DT_RELR) relocations.
    let has_relr = parsed
        .dynamic
        .as_ref()
        .is_some_and(|d| d.dyns.iter().any(|d| d.d_tag == DT_RELR));
    let pointers = Pointers {
        image: &image,
        relocs,
        file_values_are_final: parsed.header.e_type == ET_EXEC || has_relr,
    };

    let mut out = CompatTables::new();
    for (name, sym) in tables {
        let len_name = format!("{name}_len");
        let len_sym = symbols.get(len_name.as_str()).ok_or_else(|| ElfError::MissingLength {
            symbol: name.to_string(),
        })?;
        let len = image.read_u64(len_sym.value, name, &format!("length `{len_name}`"))?;
        let entries = decode_table(&pointers, name, sym, len)?;
        out.insert(name.to_string(), entries);
    }
    Ok(out)
}

/// The parts of an ELF symbol this module needs.
#[derive(Debug, Clone, Copy)]
struct Symbol {
    value: u64,
    size: u64,
}

/// Defined symbols whose names could belong to a compat table or its `_len`,
/// from `.dynsym` first, then `.symtab`.
fn table_symbols<'a>(parsed: &Elf<'a>) -> HashMap<&'a str, Symbol> {
    let mut out = HashMap::new();
    let tables = [(&parsed.dynsyms, &parsed.dynstrtab), (&parsed.syms, &parsed.strtab)];
    for (symtab, strtab) in tables {
        for sym in symtab.iter() {
            if sym.st_shndx == 0 {
                continue; // undefined
            }
            let Some(name) = strtab.get_at(sym.st_name) else {
                continue;
            };
            if TABLE_PREFIXES.iter().any(|p| name.starts_with(p)) {
                out.entry(name).or_insert(Symbol {
                    value: sym.st_value,
                    size: sym.st_size,
                });
            }
        }
    }
    out
}

/// `hw_compat_7_2`, `pc_compat_2_12`, ... (but not their `_len` companions).
fn is_table_name(name: &str) -> bool {
    let Some(version) = TABLE_PREFIXES.iter().find_map(|p| name.strip_prefix(p)) else {
        return false;
    };
    let parts: Vec<&str> = version.split('_').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Decodes the `len` entries of one table.
fn decode_table(pointers: &Pointers<'_>, name: &str, sym: Symbol, len: u64) -> Result<Vec<CompatProperty>, ElfError> {
    let bad = |reason: String| ElfError::BadLayout {
        symbol: name.to_string(),
        size: sym.size,
        len,
        reason,
    };
    if len == 0 {
        return if sym.size == 0 {
            Ok(Vec::new())
        } else {
            Err(bad("non-empty symbol for a zero-length table".into()))
        };
    }
    // `checked_rem` rather than `%`: neutral between MSRV 1.80 and clippy's
    // `manual_is_multiple_of` on newer toolchains.
    if sym.size.checked_rem(len) != Some(0) {
        return Err(bad("size is not a multiple of the entry count".into()));
    }
    let stride = sym.size / len;
    let min = PTR_SIZE * FIELDS.len() as u64;
    if stride < min || stride.checked_rem(PTR_SIZE) != Some(0) {
        return Err(bad(format!(
            "entry stride {stride} bytes is not a pointer-aligned size of at least {min}"
        )));
    }
    // Check the whole table is file-backed once, so a bogus `_len` fails here
    // rather than allocating or reading garbage.
    pointers.image.slice(sym.value, sym.size, name, "table contents")?;

    let mut entries = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    for i in 0..len {
        let base = sym.value + i * stride;
        let mut fields: [String; 3] = Default::default();
        for (f, (slot, field)) in fields.iter_mut().zip(FIELDS.iter()).enumerate() {
            let what = format!("entry {i} field `{field}`");
            let target = pointers.resolve(base + f as u64 * PTR_SIZE, name, &what)?;
            *slot = pointers.image.read_cstr(target, name, &what)?;
        }
        let [driver, property, value] = fields;
        entries.push(CompatProperty {
            driver,
            property,
            value,
        });
    }
    Ok(entries)
}

/// A `PT_LOAD` segment's file-backed part.
#[derive(Debug, Clone, Copy)]
struct Segment {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

/// The file bytes plus the mapping from virtual addresses to file offsets.
struct Image<'a> {
    data: &'a [u8],
    segments: Vec<Segment>,
}

impl<'a> Image<'a> {
    /// The segment whose file bytes contain `[vaddr, vaddr + len)`, if any.
    fn segment_for(&self, vaddr: u64, len: u64) -> Option<&Segment> {
        self.segments.iter().find(|s| {
            vaddr >= s.vaddr
                && vaddr
                    .checked_add(len)
                    .is_some_and(|end| end <= s.vaddr.saturating_add(s.filesz))
        })
    }

    /// File offset of `vaddr` within `seg`, and the end of `seg`'s file bytes,
    /// checked against the file length.
    fn file_range(
        &self,
        seg: &Segment,
        vaddr: u64,
        len: u64,
        symbol: &str,
        what: &str,
    ) -> Result<(usize, usize), ElfError> {
        let offset = seg.offset.saturating_add(vaddr - seg.vaddr);
        let truncated = || ElfError::Truncated {
            symbol: symbol.to_string(),
            what: what.to_string(),
            vaddr,
            offset,
            len,
            file_len: self.data.len() as u64,
        };
        let seg_end = seg.offset.checked_add(seg.filesz).ok_or_else(truncated)?;
        let end = offset.checked_add(len).ok_or_else(truncated)?;
        if end > self.data.len() as u64 {
            return Err(truncated());
        }
        // Strings are searched up to the segment end, clamped to the file.
        let seg_end = seg_end.min(self.data.len() as u64);
        // Both are <= data.len(), a usize.
        Ok((offset as usize, seg_end as usize))
    }

    /// The `len` file bytes backing `[vaddr, vaddr + len)`.
    fn slice(&self, vaddr: u64, len: u64, symbol: &str, what: &str) -> Result<&'a [u8], ElfError> {
        let seg = self.segment_for(vaddr, len).ok_or_else(|| ElfError::UnmappedAddress {
            symbol: symbol.to_string(),
            what: what.to_string(),
            vaddr,
            len,
        })?;
        let (start, _) = self.file_range(seg, vaddr, len, symbol, what)?;
        // file_range checked start + len <= data.len().
        Ok(&self.data[start..start + len as usize])
    }

    /// A little-endian `u64` at `vaddr`.
    fn read_u64(&self, vaddr: u64, symbol: &str, what: &str) -> Result<u64, ElfError> {
        let bytes = self.slice(vaddr, 8, symbol, what)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(b))
    }

    /// The NUL-terminated UTF-8 string at `vaddr`, which must end within its segment.
    fn read_cstr(&self, vaddr: u64, symbol: &str, what: &str) -> Result<String, ElfError> {
        let seg = self.segment_for(vaddr, 1).ok_or_else(|| ElfError::UnmappedAddress {
            symbol: symbol.to_string(),
            what: what.to_string(),
            vaddr,
            len: 1,
        })?;
        let (start, seg_end) = self.file_range(seg, vaddr, 1, symbol, what)?;
        let tail = &self.data[start..seg_end.max(start)];
        let nul = tail
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| ElfError::UnterminatedString {
                symbol: symbol.to_string(),
                what: what.to_string(),
                vaddr,
                offset: start as u64,
            })?;
        String::from_utf8(tail[..nul].to_vec()).map_err(|_| ElfError::InvalidUtf8 {
            symbol: symbol.to_string(),
            what: what.to_string(),
            vaddr,
            offset: start as u64,
        })
    }
}

/// A dynamic relocation applying to a pointer slot.
#[derive(Debug, Clone, Copy)]
struct Reloc {
    r_type: u32,
    /// `None` for `REL` entries, whose addend is stored in the slot itself.
    addend: Option<i64>,
}

/// Resolves pointer slots to the virtual addresses the loader would store there.
struct Pointers<'a> {
    image: &'a Image<'a>,
    relocs: HashMap<u64, Reloc>,
    /// The value in the file is the pointer (non-PIE, or implicit RELR addends).
    file_values_are_final: bool,
}

impl Pointers<'_> {
    fn resolve(&self, slot: u64, symbol: &str, what: &str) -> Result<u64, ElfError> {
        let target = match self.relocs.get(&slot) {
            Some(r) if r.r_type != R_X86_64_RELATIVE => {
                return Err(ElfError::UnsupportedRelocation {
                    symbol: symbol.to_string(),
                    what: what.to_string(),
                    vaddr: slot,
                    r_type: r.r_type,
                })
            }
            Some(Reloc { addend: Some(a), .. }) => *a,
            // REL: implicit addend in the slot (reinterpreting the bits is intended).
            Some(Reloc { addend: None, .. }) => self.image.read_u64(slot, symbol, what)? as i64,
            None if self.file_values_are_final => self.image.read_u64(slot, symbol, what)? as i64,
            None => {
                // Make sure the slot itself is readable before blaming the relocations.
                self.image.slice(slot, PTR_SIZE, symbol, what)?;
                return Err(ElfError::MissingRelocation {
                    symbol: symbol.to_string(),
                    what: what.to_string(),
                    vaddr: slot,
                });
            }
        };
        u64::try_from(target)
            .ok()
            .filter(|&t| t != 0)
            .ok_or_else(|| ElfError::BadPointer {
                symbol: symbol.to_string(),
                what: what.to_string(),
                vaddr: slot,
                target,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real `qemu-system-x86_64` of a pinned release, fetched by scripts/fetch-qemu.
    ///
    /// Missing fixtures skip the test locally but fail it under CI=true.
    fn fixture(release: &str) -> Option<Vec<u8>> {
        let path = testkit::fixture_dir().join(format!("qemu-{release}/usr/bin/qemu-system-x86_64"));
        if !testkit::require(&format!("elf tests of QEMU {release}"), &[&path]) {
            return None;
        }
        Some(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    fn prop(driver: &str, property: &str, value: &str) -> CompatProperty {
        CompatProperty {
            driver: driver.into(),
            property: property.into(),
            value: value.into(),
        }
    }

    fn props(list: &[(&str, &str, &str)]) -> Vec<CompatProperty> {
        list.iter().map(|(d, p, v)| prop(d, p, v)).collect()
    }

    #[test]
    fn elf_build_ids_of_real_binaries() {
        for (release, expected) in [
            ("7.2", "d9541fd67c4ea37f9ca7fca0f5096f32b3b7e7e0"),
            ("10.0", "0fbbd5ca8d2d0a32532049e20739f3e0d521c5ed"),
        ] {
            let Some(bin) = fixture(release) else {
                continue;
            };
            let id = build_id(&bin).expect("build_id").expect("has a build-id");
            assert_eq!(id.len(), 40, "{release}: {id}");
            assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            // Matches `readelf -n` on the pinned Debian package.
            assert_eq!(id, expected, "{release}");
        }
    }

    #[test]
    fn elf_compat_tables_qemu_10_0() {
        let Some(bin) = fixture("10.0") else { return };
        let t = compat_tables(&bin).expect("compat tables");

        // hw/core/machine.c, hw_compat_7_2 (added for the 8.0 machine types).
        assert_eq!(
            t["hw_compat_7_2"],
            props(&[
                ("e1000e", "migrate-timadj", "off"),
                ("virtio-mem", "x-early-migration", "false"),
                ("migration", "x-preempt-pre-7-2", "true"),
                ("pci-device", "x-pcie-err-unc-mask", "off"),
            ])
        );
        assert_eq!(
            t["hw_compat_7_1"],
            props(&[
                ("virtio-device", "queue_reset", "false"),
                ("virtio-rng-pci", "vectors", "0"),
                ("virtio-rng-pci-transitional", "vectors", "0"),
                ("virtio-rng-pci-non-transitional", "vectors", "0"),
            ])
        );
        // Order is kept; the two `optional` entries decode like the others.
        assert_eq!(
            t["hw_compat_2_6"],
            props(&[
                ("virtio-mmio", "format_transport_address", "off"),
                ("virtio-pci", "disable-modern", "on"),
                ("virtio-pci", "disable-legacy", "off"),
            ])
        );
        // hw/i386/pc.c.
        assert_eq!(
            t["pc_compat_9_1"],
            props(&[
                ("ICH9-LPC", "x-smi-swsmi-timer", "off"),
                ("ICH9-LPC", "x-smi-periodic-timer", "off"),
                ("intel-iommu", "stale-tm", "on"),
                ("intel-iommu", "aw-bits", "39"),
            ])
        );
        assert_eq!(
            t["pc_compat_9_0"][0],
            prop("x86_64-cpu", "x-amd-topoext-features-only", "false")
        );
        // Empty tables exist (they live in .bss with size 0).
        assert_eq!(t["hw_compat_3_0"], Vec::new());
        assert_eq!(t["pc_compat_9_2"], Vec::new());
        // Machine types older than 2.4 were removed before 10.0.
        assert!(!t.contains_key("hw_compat_2_3"));
        assert!(!t.contains_key("pc_compat_2_3"));
        assert!(t.contains_key("hw_compat_9_2"));
        assert!(!t.contains_key("hw_compat_10_0"));
        // Sanity over everything: no empty strings, no `_len` keys.
        for (name, entries) in &t {
            assert!(is_table_name(name), "{name}");
            for e in entries {
                assert!(!e.driver.is_empty() && !e.property.is_empty(), "{name}: {e:?}");
            }
        }
    }

    #[test]
    fn elf_compat_tables_qemu_7_2() {
        let Some(bin) = fixture("7.2") else { return };
        let t = compat_tables(&bin).expect("compat tables");

        // hw_compat_7_2 was created for QEMU 8.0's machine types.
        assert!(!t.contains_key("hw_compat_7_2"));
        assert_eq!(
            t["hw_compat_7_1"],
            props(&[
                ("virtio-device", "queue_reset", "false"),
                ("virtio-rng-pci", "vectors", "0"),
                ("virtio-rng-pci-transitional", "vectors", "0"),
                ("virtio-rng-pci-non-transitional", "vectors", "0"),
            ])
        );
        assert_eq!(
            t["hw_compat_2_1"],
            props(&[
                ("intel-hda", "old_msi_addr", "on"),
                ("VGA", "qemu-extended-regs", "off"),
                ("secondary-vga", "qemu-extended-regs", "off"),
                ("virtio-scsi-pci", "any_layout", "off"),
                ("usb-mouse", "usb_version", "1"),
                ("usb-kbd", "usb_version", "1"),
                ("virtio-pci", "virtio-pci-bus-master-bug-migration", "on"),
            ])
        );
        assert_eq!(t["hw_compat_2_2"], Vec::new());
        assert!(t.contains_key("pc_compat_1_4"));
        assert_eq!(t["pc_compat_7_1"], Vec::new());
        assert!(t.keys().any(|k| k.starts_with("pc_compat_")));
    }

    #[test]
    fn elf_tables_shared_between_releases_agree_where_unchanged() {
        let (Some(old), Some(new)) = (fixture("7.2"), fixture("10.0")) else {
            return;
        };
        let (old, new) = (compat_tables(&old).expect("7.2"), compat_tables(&new).expect("10.0"));
        // hw_compat_4_1 has not changed between the two releases.
        assert_eq!(old["hw_compat_4_1"], new["hw_compat_4_1"]);
        assert_eq!(new["hw_compat_4_1"], props(&[("virtio-pci", "x-pcie-flr-init", "off")]));
    }

    #[test]
    fn elf_garbage_and_truncated_input_is_an_error() {
        for bytes in [
            &b""[..],
            &b"\x7fELF"[..],
            &b"not an elf file at all, just some words"[..],
            &[0xffu8; 4096][..],
        ] {
            assert!(build_id(bytes).is_err());
            assert!(compat_tables(bytes).is_err());
        }
        // A bare ELF64 header (e_machine 0): parses, but is not x86_64.
        let mut header_only = b"\x7fELF\x02\x01\x01".to_vec();
        header_only.resize(64, 0);
        assert!(matches!(compat_tables(&header_only), Err(ElfError::Unsupported { .. })));

        if let Some(bin) = fixture("10.0") {
            for cut in [16, 64, 1000, 4096, bin.len() / 2, bin.len() - 1] {
                let err = compat_tables(&bin[..cut]).expect_err("truncated must fail");
                assert!(!err.to_string().is_empty());
                assert!(build_id(&bin[..cut]).is_err());
            }
        }
    }

    /// File offset of a defined dynamic symbol's value in a fixture.
    fn symbol_file_offset(bin: &[u8], name: &str) -> (u64, usize) {
        let parsed = Elf::parse(bin).expect("parse fixture");
        let sym = parsed
            .dynsyms
            .iter()
            .find(|s| parsed.dynstrtab.get_at(s.st_name) == Some(name))
            .expect("symbol present");
        let ph = parsed
            .program_headers
            .iter()
            .find(|ph| ph.p_type == PT_LOAD && (ph.p_vaddr..ph.p_vaddr + ph.p_filesz).contains(&sym.st_value))
            .expect("symbol is file-backed");
        let offset = ph.p_offset + (sym.st_value - ph.p_vaddr);
        (sym.st_value, usize::try_from(offset).expect("offset fits"))
    }

    #[test]
    fn elf_corrupt_tables_are_errors_with_context() {
        let Some(bin) = fixture("10.0") else { return };

        // hw_compat_7_2 is 4 entries / 0x80 bytes; claim 3 entries instead.
        let mut bad_len = bin.clone();
        let (_, off) = symbol_file_offset(&bin, "hw_compat_7_2_len");
        bad_len[off..off + 8].copy_from_slice(&3u64.to_le_bytes());
        let err = compat_tables(&bad_len).expect_err("inconsistent length");
        assert!(
            matches!(&err, ElfError::BadLayout { symbol, size: 0x80, len: 3, .. } if symbol == "hw_compat_7_2"),
            "{err}"
        );

        // Point the relocation of hw_compat_7_2[0].driver somewhere unmapped.
        let mut bad_reloc = bin.clone();
        let (slot, _) = symbol_file_offset(&bin, "hw_compat_7_2");
        let mut pattern = slot.to_le_bytes().to_vec();
        pattern.extend(u64::from(R_X86_64_RELATIVE).to_le_bytes());
        let at = bin
            .windows(16)
            .position(|w| w == pattern.as_slice())
            .expect("RELA entry for the slot");
        bad_reloc[at + 16..at + 24].copy_from_slice(&0x7fff_0000_0000u64.to_le_bytes());
        let err = compat_tables(&bad_reloc).expect_err("unmapped string");
        assert!(
            matches!(&err, ElfError::UnmappedAddress { symbol, vaddr: 0x7fff_0000_0000, what, .. }
                if symbol == "hw_compat_7_2" && what == "entry 0 field `driver`"),
            "{err}"
        );
        assert!(err.to_string().contains("0x7fff00000000"), "{err}");
    }

    #[test]
    fn elf_image_reads_are_bounds_checked() {
        let data = b"abc\0def";
        let image = Image {
            data,
            segments: vec![Segment {
                vaddr: 0x1000,
                offset: 0,
                filesz: 7,
            }],
        };
        assert_eq!(image.read_cstr(0x1000, "t", "s").expect("abc"), "abc");
        assert!(matches!(
            image.read_cstr(0x1004, "t", "s"),
            Err(ElfError::UnterminatedString { vaddr: 0x1004, .. })
        ));
        assert!(matches!(
            image.read_cstr(0x2000, "t", "s"),
            Err(ElfError::UnmappedAddress { vaddr: 0x2000, .. })
        ));
        assert!(matches!(
            image.read_u64(0x1000, "t", "s"),
            Err(ElfError::UnmappedAddress { .. })
        ));
        // A segment claiming more bytes than the file has.
        let short = Image {
            data,
            segments: vec![Segment {
                vaddr: 0,
                offset: 4,
                filesz: 100,
            }],
        };
        let err = short.read_u64(0x10, "hw_compat_9_9", "entry 0").unwrap_err();
        assert!(matches!(err, ElfError::Truncated { offset: 0x14, .. }), "{err}");
        assert!(err.to_string().contains("hw_compat_9_9"));

        let pointers = Pointers {
            image: &image,
            relocs: HashMap::from([
                (
                    0x1000,
                    Reloc {
                        r_type: 1,
                        addend: Some(0),
                    },
                ),
                (
                    0x1001,
                    Reloc {
                        r_type: R_X86_64_RELATIVE,
                        addend: Some(0x1004),
                    },
                ),
            ]),
            file_values_are_final: false,
        };
        assert!(matches!(
            pointers.resolve(0x1000, "t", "p"),
            Err(ElfError::UnsupportedRelocation { r_type: 1, .. })
        ));
        assert_eq!(pointers.resolve(0x1001, "t", "p").expect("reloc"), 0x1004);
    }

    #[test]
    fn elf_build_id_note_walker() {
        let mut seg = Vec::new();
        // An ABI-tag note first, then the build-id.
        for (name, n_type, desc) in [
            (
                &b"GNU\0"[..],
                1u32,
                &[0u8, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0][..],
            ),
            (&b"GNU\0"[..], NT_GNU_BUILD_ID, &[0xde, 0xad, 0xbe, 0xef][..]),
        ] {
            seg.extend((name.len() as u32).to_le_bytes());
            seg.extend((desc.len() as u32).to_le_bytes());
            seg.extend(n_type.to_le_bytes());
            seg.extend(name);
            seg.extend(desc);
        }
        assert_eq!(
            find_build_id(&seg, 0, 4, true).expect("ok").as_deref(),
            Some("deadbeef")
        );
        // Cut inside the second note's descriptor.
        let err = find_build_id(&seg[..seg.len() - 1], 0x390, 4, true).unwrap_err();
        assert!(matches!(err, ElfError::MalformedNote { offset, .. } if offset > 0x390));
        // A huge size must not overflow or panic.
        let mut huge = seg.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(find_build_id(&huge, 0, 4, true).is_err());
    }

    #[test]
    fn elf_table_names() {
        assert!(is_table_name("hw_compat_7_2"));
        assert!(is_table_name("pc_compat_2_12"));
        assert!(!is_table_name("hw_compat_7_2_len"));
        assert!(!is_table_name("hw_compat_7"));
        assert!(!is_table_name("hw_compat_"));
        assert!(!is_table_name("pc_compat_x_y"));
        assert!(!is_table_name("spapr_compat_7_2"));
    }
}
