//! CPUID leaves: named feature bits and multi-bit fields of one leaf/subleaf.
//!
//! Keys are `<register>.<name>` (`ecx.sse3` → `1`, `eax.family` → `0xf`,
//! `ebx.logical_count` → `2`); register-spanning strings get a key of their
//! own (`vendor`, `signature`, `brand`). Every named bit is listed even when
//! clear, so a drift reads `ecx.avx: 0 → 1`. Set bits without a name are kept
//! in `<register>.unnamed_bits` (hex mask), and leaves (or subleaves) with
//! no decoder keep all four registers as `raw.eax` … `raw.edx`, so any
//! change of any register bit changes at least one value (completeness).
//!
//! Vendor-specific leaves (0x80000001 and up) are named by the vendor of
//! leaf 0: the AMD layout for `AuthenticAMD`/`HygonGenuine` and unknown
//! vendors (AMD defined those leaves), the Intel subset for `GenuineIntel`
//! and Intel-compatible vendors. Hypervisor leaves 0x40000001.. are decoded
//! as KVM leaves only when `vendor` is the hypervisor signature `KVMKVMKVM`
//! (see [`hypervisor`]); otherwise they stay raw.

use super::{quote_bytes, Decoded};

/// A named single bit of a register: (bit number, name).
type Flag = (u8, &'static str);

/// The vendor string of CPUID leaf 0 (`leaf0` = eax, ebx, ecx, edx): the
/// twelve bytes of ebx, edx, ecx, with trailing NULs removed.
pub fn vendor(leaf0: [u32; 4]) -> String {
    let [_, b, c, d] = leaf0;
    lossy_string(&[b, d, c])
}

/// The hypervisor signature of leaf 0x40000000 (ebx, ecx, edx in that
/// order, e.g. `KVMKVMKVM`, `TCGTCGTCGTCG`). Pass it as `vendor` to
/// [`decode_leaf`] for leaves 0x40000001.. so KVM leaves get named bits.
pub fn hypervisor(leaf: [u32; 4]) -> String {
    let [_, b, c, d] = leaf;
    lossy_string(&[b, c, d])
}

/// Decode one CPUID leaf (`regs` = eax, ebx, ecx, edx) of a CPU whose leaf 0
/// names `vendor` (see the module documentation for the key format).
/// Never panics; every register bit is reflected in some value.
pub fn decode_leaf(vendor: &str, leaf: u32, subleaf: u32, regs: [u32; 4]) -> Decoded {
    let mut d = Decoded::new();
    let class = VendorClass::of(vendor);
    let known = match leaf {
        0x0 => leaf_0(&mut d, regs),
        0x1 => leaf_1(&mut d, regs),
        0x4 => cache_params(&mut d, regs),
        0x5 => leaf_5(&mut d, regs),
        0x6 => leaf_6(&mut d, regs),
        0x7 => leaf_7(&mut d, subleaf, regs),
        0xa => leaf_a(&mut d, regs),
        0xb | 0x1f => topology(&mut d, regs),
        0xd => leaf_d(&mut d, subleaf, regs),
        0x14 => leaf_14(&mut d, subleaf, regs),
        0x15 => leaf_15(&mut d, regs),
        0x16 => leaf_16(&mut d, regs),
        0x24 if subleaf == 0 => leaf_24(&mut d, regs),
        0x4000_0000 => hv_0(&mut d, regs),
        0x4000_0001 if class == VendorClass::Kvm => kvm_features(&mut d, regs),
        0x8000_0000 => ext_0(&mut d, regs),
        0x8000_0001 => ext_1(&mut d, class, regs),
        0x8000_0002..=0x8000_0004 => brand(&mut d, regs),
        0x8000_0005 if class == VendorClass::Amd => amd_l1(&mut d, regs),
        0x8000_0006 => l2_l3(&mut d, class, regs),
        0x8000_0007 => ext_7(&mut d, class, regs),
        0x8000_0008 => ext_8(&mut d, class, regs),
        0x8000_000a if class == VendorClass::Amd => svm(&mut d, regs),
        0x8000_001d if class == VendorClass::Amd => cache_params(&mut d, regs),
        0x8000_001e if class == VendorClass::Amd => amd_topology(&mut d, regs),
        0x8000_001f if class == VendorClass::Amd => sev(&mut d, regs),
        0x8000_0021 if class == VendorClass::Amd => ext_21(&mut d, regs),
        // Leaf 2 (legacy cache descriptors) and everything else: raw.
        _ => false,
    };
    if !known {
        raw(&mut d, regs);
    }
    d
}

/// How vendor-specific leaves are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VendorClass {
    /// Intel and CPUs following Intel's layout of the extended leaves.
    Intel,
    /// AMD, Hygon, and any vendor we do not know.
    Amd,
    /// The KVM hypervisor signature, for leaves 0x40000001..
    Kvm,
}

impl VendorClass {
    fn of(vendor: &str) -> Self {
        match vendor.trim_end_matches('\0') {
            "GenuineIntel" | "CentaurHauls" | "  Shanghai  " => Self::Intel,
            "KVMKVMKVM" => Self::Kvm,
            _ => Self::Amd,
        }
    }
}

// ---------------------------------------------------------------------------
// Register access with coverage tracking
// ---------------------------------------------------------------------------

/// One register being decoded: every bit a flag or field consumes is marked,
/// so `finish` can report the set bits nobody named (completeness).
struct Reg<'a> {
    d: &'a mut Decoded,
    name: &'static str,
    value: u32,
    claimed: u32,
}

/// A mask of `width` bits starting at bit `lo` (saturating at 32 bits).
fn mask(lo: u32, width: u32) -> u32 {
    let low = if width >= 32 { u32::MAX } else { (1u32 << width) - 1 };
    low.checked_shl(lo).unwrap_or(0)
}

impl<'a> Reg<'a> {
    fn new(d: &'a mut Decoded, name: &'static str, value: u32) -> Self {
        Self {
            d,
            name,
            value,
            claimed: 0,
        }
    }

    /// Mark bits `lo..lo+width` as decoded and return their value.
    fn take(&mut self, lo: u32, width: u32) -> u32 {
        let m = mask(lo, width);
        self.claimed |= m;
        (self.value & m).checked_shr(lo).unwrap_or(0)
    }

    /// Add `<reg>.<key>` with a value computed elsewhere.
    fn put(&mut self, key: &str, value: impl Into<String>) {
        self.d.put(format!("{}.{key}", self.name), value);
    }

    /// Every named bit as `0`/`1`.
    fn flags(&mut self, flags: &[Flag]) {
        for &(bit, name) in flags {
            let v = self.take(u32::from(bit), 1);
            self.put(name, v.to_string());
        }
    }

    /// A multi-bit field shown in hex (ids, masks, registers).
    fn hex(&mut self, key: &str, lo: u32, width: u32) -> u32 {
        let v = self.take(lo, width);
        self.put(key, format!("{v:#x}"));
        v
    }

    /// A multi-bit field shown in decimal (counts, sizes).
    fn dec(&mut self, key: &str, lo: u32, width: u32) -> u32 {
        let v = self.take(lo, width);
        self.put(key, v.to_string());
        v
    }

    /// A field encoded as "value minus one", shown as the real count.
    fn plus_one(&mut self, key: &str, lo: u32, width: u32) -> u64 {
        let v = u64::from(self.take(lo, width)) + 1;
        self.put(key, v.to_string());
        v
    }

    /// Report the set bits no flag or field consumed.
    fn finish(self) {
        let rest = self.value & !self.claimed;
        if rest != 0 {
            self.d.put(format!("{}.unnamed_bits", self.name), format!("{rest:#x}"));
        }
    }
}

/// The four registers of a leaf (or subleaf) without a decoder, in hex.
fn raw(d: &mut Decoded, regs: [u32; 4]) {
    for (name, v) in REG_NAMES.iter().zip(regs) {
        d.put(format!("raw.{name}"), format!("{v:#010x}"));
    }
}

const REG_NAMES: [&str; 4] = ["eax", "ebx", "ecx", "edx"];

/// A register with nothing named: only its set bits, as unnamed.
fn unnamed(d: &mut Decoded, name: &'static str, value: u32) {
    Reg::new(d, name, value).finish();
}

// ---------------------------------------------------------------------------
// Strings spread over registers
// ---------------------------------------------------------------------------

/// The little-endian bytes of `regs`, in order.
fn reg_bytes(regs: &[u32]) -> Vec<u8> {
    regs.iter().flat_map(|r| r.to_le_bytes()).collect()
}

/// Bytes as text for callers that want a plain string (vendor matching).
fn lossy_string(regs: &[u32]) -> String {
    let bytes = reg_bytes(regs);
    String::from_utf8_lossy(&bytes).trim_end_matches('\0').to_string()
}

/// Bytes as a quoted, escaped string for an item value. Trailing NULs are
/// dropped (the byte count is fixed per key, so nothing is lost); any other
/// unprintable byte, `"` and `\` are escaped, so the rendering is
/// one-to-one with the bytes.
fn quoted(regs: &[u32]) -> String {
    let bytes = reg_bytes(regs);
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    quote_bytes(bytes.get(..end).unwrap_or(&[]))
}

// ---------------------------------------------------------------------------
// Basic leaves
// ---------------------------------------------------------------------------

/// Leaf 0: highest basic leaf and vendor string.
fn leaf_0(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    d.put("eax.max_leaf", format!("{a:#x}"));
    d.put("vendor", quoted(&[b, dx, c]));
    true
}

/// Leaf 1: signature, brand/APIC fields and the original feature flags.
fn leaf_1(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    signature(d, a);
    let mut r = Reg::new(d, "ebx", b);
    r.hex("brand_index", 0, 8);
    let line = r.take(8, 8);
    // Encoded in 8-byte units.
    r.put("clflush_size", (line * 8).to_string());
    r.dec("logical_count", 16, 8);
    r.hex("apic_id", 24, 8);
    r.finish();
    let mut r = Reg::new(d, "ecx", c);
    r.flags(LEAF1_ECX);
    r.finish();
    let mut r = Reg::new(d, "edx", dx);
    r.flags(LEAF1_EDX);
    r.finish();
    true
}

/// Family/model/stepping as in leaf 1 eax (and AMD's 0x80000001 eax).
/// `family`/`model` are the effective values (extended fields folded in as
/// the SDM and APM prescribe); the extended fields are kept too, so the
/// mapping stays one-to-one.
fn signature(d: &mut Decoded, a: u32) {
    let mut r = Reg::new(d, "eax", a);
    let stepping = r.take(0, 4);
    let base_model = r.take(4, 4);
    let base_family = r.take(8, 4);
    let ty = r.take(12, 2);
    let ext_model = r.take(16, 4);
    let ext_family = r.take(20, 8);
    let family = if base_family == 0xf {
        base_family + ext_family
    } else {
        base_family
    };
    let model = if base_family == 0x6 || base_family == 0xf {
        (ext_model << 4) | base_model
    } else {
        base_model
    };
    r.put("family", format!("{family:#x}"));
    r.put("model", format!("{model:#x}"));
    r.put("stepping", format!("{stepping:#x}"));
    r.put("type", format!("{ty:#x}"));
    r.put("ext_family", format!("{ext_family:#x}"));
    r.put("ext_model", format!("{ext_model:#x}"));
    r.finish();
}

#[rustfmt::skip]
const LEAF1_ECX: &[Flag] = &[
    (0, "sse3"), (1, "pclmulqdq"), (2, "dtes64"), (3, "monitor"), (4, "ds_cpl"), (5, "vmx"), (6, "smx"),
    (7, "est"), (8, "tm2"), (9, "ssse3"), (10, "cnxt_id"), (11, "sdbg"), (12, "fma"), (13, "cx16"),
    (14, "xtpr"), (15, "pdcm"), (17, "pcid"), (18, "dca"), (19, "sse4_1"), (20, "sse4_2"), (21, "x2apic"),
    (22, "movbe"), (23, "popcnt"), (24, "tsc_deadline"), (25, "aes"), (26, "xsave"), (27, "osxsave"),
    (28, "avx"), (29, "f16c"), (30, "rdrand"), (31, "hypervisor"),
];

#[rustfmt::skip]
const LEAF1_EDX: &[Flag] = &[
    (0, "fpu"), (1, "vme"), (2, "de"), (3, "pse"), (4, "tsc"), (5, "msr"), (6, "pae"), (7, "mce"),
    (8, "cx8"), (9, "apic"), (11, "sep"), (12, "mtrr"), (13, "pge"), (14, "mca"), (15, "cmov"),
    (16, "pat"), (17, "pse36"), (18, "psn"), (19, "clflush"), (21, "ds"), (22, "acpi"), (23, "mmx"),
    (24, "fxsr"), (25, "sse"), (26, "sse2"), (27, "ss"), (28, "htt"), (29, "tm"), (30, "ia64"), (31, "pbe"),
];

/// Leaf 4 (Intel) and 0x8000001d (AMD): one cache per subleaf.
fn cache_params(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    let mut r = Reg::new(d, "eax", a);
    let ty = r.take(0, 5);
    r.put("cache_type", cache_type(ty));
    r.dec("level", 5, 3);
    r.flags(&[(8, "self_init"), (9, "fully_associative")]);
    r.plus_one("max_sharing_ids", 14, 12);
    r.plus_one("max_core_ids", 26, 6);
    r.finish();
    let mut r = Reg::new(d, "ebx", b);
    let line = r.plus_one("line_size", 0, 12);
    let parts = r.plus_one("partitions", 12, 10);
    let ways = r.plus_one("ways", 22, 10);
    r.finish();
    let mut r = Reg::new(d, "ecx", c);
    let sets = r.plus_one("sets", 0, 32);
    r.finish();
    if ty != 0 {
        // Derived, for a readable drift; the fields above carry the bits.
        let size = line.saturating_mul(parts).saturating_mul(ways).saturating_mul(sets);
        d.put("size", size.to_string());
    }
    let mut r = Reg::new(d, "edx", dx);
    r.flags(&[(0, "wbinvd_not_inclusive"), (1, "inclusive"), (2, "complex_indexing")]);
    r.finish();
    true
}

/// The cache type of leaf 4 eax[4:0].
fn cache_type(ty: u32) -> String {
    match ty {
        0 => "none".into(),
        1 => "data".into(),
        2 => "instruction".into(),
        3 => "unified".into(),
        _ => format!("reserved ({ty:#x})"),
    }
}

/// Leaf 5: MONITOR/MWAIT.
fn leaf_5(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    let mut r = Reg::new(d, "eax", a);
    r.dec("min_monitor_line", 0, 16);
    r.finish();
    let mut r = Reg::new(d, "ebx", b);
    r.dec("max_monitor_line", 0, 16);
    r.finish();
    let mut r = Reg::new(d, "ecx", c);
    r.flags(&[(0, "emx"), (1, "ibe")]);
    r.finish();
    let mut r = Reg::new(d, "edx", dx);
    for n in 0..8u32 {
        r.dec(&format!("c{n}_substates"), n * 4, 4);
    }
    r.finish();
    true
}

/// Leaf 6: thermal and power management.
fn leaf_6(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    let mut r = Reg::new(d, "eax", a);
    r.flags(LEAF6_EAX);
    r.finish();
    let mut r = Reg::new(d, "ebx", b);
    r.dec("interrupt_thresholds", 0, 4);
    r.finish();
    let mut r = Reg::new(d, "ecx", c);
    r.flags(&[(0, "aperfmperf"), (3, "energy_perf_bias")]);
    r.dec("thread_director_classes", 8, 8);
    r.finish();
    let mut r = Reg::new(d, "edx", dx);
    r.flags(&[(0, "hfi_performance"), (1, "hfi_efficiency")]);
    r.plus_one("hfi_table_pages", 8, 4);
    r.hex("hfi_row_index", 16, 16);
    r.finish();
    true
}

#[rustfmt::skip]
const LEAF6_EAX: &[Flag] = &[
    (0, "dtherm"), (1, "turbo_boost"), (2, "arat"), (4, "pln"), (5, "ecmd"), (6, "pts"), (7, "hwp"),
    (8, "hwp_notify"), (9, "hwp_activity_window"), (10, "hwp_epp"), (11, "hwp_pkg_req"), (13, "hdc"),
    (14, "turbo_boost_max3"), (15, "hwp_capabilities"), (16, "hwp_peci_override"), (17, "hwp_flexible"),
    (18, "hwp_fast_msr"), (19, "hfi"), (20, "hwp_ignore_idle"), (23, "thread_director"),
];

/// Leaf 7: structured extended features, subleaves 0 to 2.
fn leaf_7(d: &mut Decoded, subleaf: u32, [a, b, c, dx]: [u32; 4]) -> bool {
    let (eax, ebx, ecx, edx): (&[Flag], &[Flag], &[Flag], &[Flag]) = match subleaf {
        0 => (&[], LEAF7_0_EBX, LEAF7_0_ECX, LEAF7_0_EDX),
        1 => (LEAF7_1_EAX, LEAF7_1_EBX, &[], LEAF7_1_EDX),
        2 => (&[], &[], &[], LEAF7_2_EDX),
        _ => return false,
    };
    let mut r = Reg::new(d, "eax", a);
    if subleaf == 0 {
        r.hex("max_subleaf", 0, 32);
    }
    r.flags(eax);
    r.finish();
    let mut r = Reg::new(d, "ebx", b);
    r.flags(ebx);
    r.finish();
    let mut r = Reg::new(d, "ecx", c);
    r.flags(ecx);
    if subleaf == 0 {
        // MAWAU: the MPX address-width adjust, a 5-bit field.
        r.dec("mawau", 17, 5);
    }
    r.finish();
    let mut r = Reg::new(d, "edx", dx);
    r.flags(edx);
    r.finish();
    true
}

#[rustfmt::skip]
const LEAF7_0_EBX: &[Flag] = &[
    (0, "fsgsbase"), (1, "tsc_adjust"), (2, "sgx"), (3, "bmi1"), (4, "hle"), (5, "avx2"),
    (6, "fdp_excptn_only"), (7, "smep"), (8, "bmi2"), (9, "erms"), (10, "invpcid"), (11, "rtm"),
    (12, "rdt_m"), (13, "zero_fcs_fds"), (14, "mpx"), (15, "rdt_a"), (16, "avx512f"), (17, "avx512dq"),
    (18, "rdseed"), (19, "adx"), (20, "smap"), (21, "avx512ifma"), (22, "pcommit"), (23, "clflushopt"),
    (24, "clwb"), (25, "intel_pt"), (26, "avx512pf"), (27, "avx512er"), (28, "avx512cd"), (29, "sha_ni"),
    (30, "avx512bw"), (31, "avx512vl"),
];

#[rustfmt::skip]
const LEAF7_0_ECX: &[Flag] = &[
    (0, "prefetchwt1"), (1, "avx512vbmi"), (2, "umip"), (3, "pku"), (4, "ospke"), (5, "waitpkg"),
    (6, "avx512vbmi2"), (7, "cet_ss"), (8, "gfni"), (9, "vaes"), (10, "vpclmulqdq"), (11, "avx512vnni"),
    (12, "avx512bitalg"), (13, "tme"), (14, "avx512_vpopcntdq"), (16, "la57"), (22, "rdpid"), (23, "kl"),
    (24, "bus_lock_detect"), (25, "cldemote"), (27, "movdiri"), (28, "movdir64b"), (29, "enqcmd"),
    (30, "sgx_lc"), (31, "pks"),
];

#[rustfmt::skip]
const LEAF7_0_EDX: &[Flag] = &[
    (1, "sgx_keys"), (2, "avx512_4vnniw"), (3, "avx512_4fmaps"), (4, "fsrm"), (5, "uintr"),
    (8, "avx512_vp2intersect"), (9, "srbds_ctrl"), (10, "md_clear"), (11, "rtm_always_abort"),
    (13, "tsx_force_abort"), (14, "serialize"), (15, "hybrid"), (16, "tsxldtrk"), (18, "pconfig"),
    (19, "arch_lbr"), (20, "cet_ibt"), (22, "amx_bf16"), (23, "avx512_fp16"), (24, "amx_tile"),
    (25, "amx_int8"), (26, "spec_ctrl"), (27, "stibp"), (28, "flush_l1d"), (29, "arch_capabilities"),
    (30, "core_capabilities"), (31, "ssbd"),
];

#[rustfmt::skip]
const LEAF7_1_EAX: &[Flag] = &[
    (0, "sha512"), (1, "sm3"), (2, "sm4"), (3, "rao_int"), (4, "avx_vnni"), (5, "avx512_bf16"),
    (6, "lass"), (7, "cmpccxadd"), (8, "arch_perfmon_ext"), (10, "fzrm"), (11, "fsrs"), (12, "fsrc"),
    (17, "fred"), (18, "lkgs"), (19, "wrmsrns"), (21, "amx_fp16"), (22, "hreset"), (23, "avx_ifma"),
    (26, "lam"), (27, "msrlist"),
];

#[rustfmt::skip]
const LEAF7_1_EBX: &[Flag] = &[(0, "ppin")];

#[rustfmt::skip]
const LEAF7_1_EDX: &[Flag] = &[
    (4, "avx_vnni_int8"), (5, "avx_ne_convert"), (8, "amx_complex"), (10, "avx_vnni_int16"),
    (14, "prefetchiti"), (18, "cet_sss"), (19, "avx10"),
];

#[rustfmt::skip]
const LEAF7_2_EDX: &[Flag] = &[
    (0, "psfd"), (1, "ipred_ctrl"), (2, "rrsba_ctrl"), (3, "ddpd_u"), (4, "bhi_ctrl"), (5, "mcdt_no"),
];

/// Leaf 0xa: architectural performance monitoring.
fn leaf_a(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    let mut r = Reg::new(d, "eax", a);
    r.dec("version", 0, 8);
    r.dec("gp_counters", 8, 8);
    r.dec("gp_counter_width", 16, 8);
    r.dec("event_mask_length", 24, 8);
    r.finish();
    // A set bit means the event is *not* available.
    let mut r = Reg::new(d, "ebx", b);
    r.flags(&[
        (0, "no_core_cycles"),
        (1, "no_instructions_retired"),
        (2, "no_reference_cycles"),
        (3, "no_llc_references"),
        (4, "no_llc_misses"),
        (5, "no_branches_retired"),
        (6, "no_branch_misses_retired"),
        (7, "no_topdown_slots"),
    ]);
    r.finish();
    let mut r = Reg::new(d, "ecx", c);
    r.hex("fixed_counter_mask", 0, 32);
    r.finish();
    let mut r = Reg::new(d, "edx", dx);
    r.dec("fixed_counters", 0, 5);
    r.dec("fixed_counter_width", 5, 8);
    r.flags(&[(15, "anythread_deprecated")]);
    r.finish();
    true
}

/// Leaves 0xb and 0x1f: one topology level per subleaf.
fn topology(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    let mut r = Reg::new(d, "eax", a);
    r.dec("x2apic_shift", 0, 5);
    r.finish();
    let mut r = Reg::new(d, "ebx", b);
    r.dec("logical_processors", 0, 16);
    r.finish();
    let mut r = Reg::new(d, "ecx", c);
    r.dec("level", 0, 8);
    let ty = r.take(8, 8);
    r.put("level_type", level_type(ty));
    r.finish();
    let mut r = Reg::new(d, "edx", dx);
    r.hex("x2apic_id", 0, 32);
    r.finish();
    true
}

/// The level type of leaf 0xb/0x1f ecx[15:8].
fn level_type(ty: u32) -> String {
    match ty {
        0 => "invalid".into(),
        1 => "smt".into(),
        2 => "core".into(),
        3 => "module".into(),
        4 => "tile".into(),
        5 => "die".into(),
        _ => format!("reserved ({ty:#x})"),
    }
}

/// XSAVE state components of XCR0 (user state), by bit number.
#[rustfmt::skip]
const XCR0_LO: &[Flag] = &[
    (0, "x87"), (1, "sse"), (2, "avx"), (3, "bndregs"), (4, "bndcsr"), (5, "opmask"), (6, "zmm_hi256"),
    (7, "hi16_zmm"), (9, "pkru"), (17, "xtilecfg"), (18, "xtiledata"), (19, "apx"),
];

/// XSAVE state components of IA32_XSS (supervisor state), by bit number.
#[rustfmt::skip]
const XSS_LO: &[Flag] = &[
    (8, "pt"), (10, "pasid"), (11, "cet_u"), (12, "cet_s"), (13, "hdc"), (14, "uintr"), (15, "lbr"),
    (16, "hwp"),
];

/// The name of XSAVE component `n` (a subleaf of leaf 0xd from 2 on).
fn xsave_component(n: u32) -> String {
    XCR0_LO
        .iter()
        .chain(XSS_LO)
        .find(|f| u32::from(f.0) == n)
        .map(|f| f.1.to_string())
        .unwrap_or_else(|| {
            if n == 62 {
                "lwp".into()
            } else {
                format!("component {n}")
            }
        })
}

/// Leaf 0xd: XSAVE. Subleaf 0 lists the user components and area sizes,
/// subleaf 1 the XSAVE extensions and supervisor components, subleaves 2..63
/// one component's size and offset.
fn leaf_d(d: &mut Decoded, subleaf: u32, [a, b, c, dx]: [u32; 4]) -> bool {
    match subleaf {
        0 => {
            let mut r = Reg::new(d, "eax", a);
            r.flags(XCR0_LO);
            r.finish();
            let mut r = Reg::new(d, "ebx", b);
            r.dec("enabled_size", 0, 32);
            r.finish();
            let mut r = Reg::new(d, "ecx", c);
            r.dec("max_size", 0, 32);
            r.finish();
            // XCR0 bits 32..63; bit 62 is AMD's lightweight profiling.
            let mut r = Reg::new(d, "edx", dx);
            r.flags(&[(30, "lwp")]);
            r.finish();
        }
        1 => {
            let mut r = Reg::new(d, "eax", a);
            r.flags(&[
                (0, "xsaveopt"),
                (1, "xsavec"),
                (2, "xgetbv1"),
                (3, "xsaves"),
                (4, "xfd"),
            ]);
            r.finish();
            let mut r = Reg::new(d, "ebx", b);
            r.dec("enabled_size", 0, 32);
            r.finish();
            let mut r = Reg::new(d, "ecx", c);
            r.flags(XSS_LO);
            r.finish();
            unnamed(d, "edx", dx);
        }
        2..=63 => {
            d.put("component", xsave_component(subleaf));
            let mut r = Reg::new(d, "eax", a);
            r.dec("size", 0, 32);
            r.finish();
            let mut r = Reg::new(d, "ebx", b);
            r.dec("offset", 0, 32);
            r.finish();
            let mut r = Reg::new(d, "ecx", c);
            r.flags(&[(0, "supervisor"), (1, "align64"), (2, "xfd_faulting")]);
            r.finish();
            unnamed(d, "edx", dx);
        }
        _ => return false,
    }
    true
}

/// Leaf 0x14: Intel Processor Trace, subleaves 0 and 1.
fn leaf_14(d: &mut Decoded, subleaf: u32, [a, b, c, dx]: [u32; 4]) -> bool {
    match subleaf {
        0 => {
            let mut r = Reg::new(d, "eax", a);
            r.hex("max_subleaf", 0, 32);
            r.finish();
            let mut r = Reg::new(d, "ebx", b);
            r.flags(&[
                (0, "cr3_filter"),
                (1, "psb_cyc"),
                (2, "ip_filter"),
                (3, "mtc"),
                (4, "ptwrite"),
                (5, "power_event_trace"),
                (6, "psb_pmi_preserve"),
                (7, "event_trace"),
                (8, "tnt_disable"),
            ]);
            r.finish();
            let mut r = Reg::new(d, "ecx", c);
            r.flags(&[
                (0, "topa"),
                (1, "topa_multiple_entries"),
                (2, "single_range"),
                (3, "trace_transport"),
                (31, "lip"),
            ]);
            r.finish();
            unnamed(d, "edx", dx);
        }
        1 => {
            let mut r = Reg::new(d, "eax", a);
            r.dec("address_ranges", 0, 3);
            r.hex("mtc_period_mask", 16, 16);
            r.finish();
            let mut r = Reg::new(d, "ebx", b);
            r.hex("cyc_threshold_mask", 0, 16);
            r.hex("psb_frequency_mask", 16, 16);
            r.finish();
            unnamed(d, "ecx", c);
            unnamed(d, "edx", dx);
        }
        _ => return false,
    }
    true
}

/// Leaf 0x15: TSC to core crystal clock ratio.
fn leaf_15(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    d.put("eax.tsc_ratio_denominator", a.to_string());
    d.put("ebx.tsc_ratio_numerator", b.to_string());
    d.put("ecx.crystal_hz", c.to_string());
    unnamed(d, "edx", dx);
    if a != 0 && c != 0 {
        // Derived: the TSC frequency the guest computes from this leaf.
        let hz = u64::from(c).saturating_mul(u64::from(b)) / u64::from(a);
        d.put("tsc_hz", hz.to_string());
    }
    true
}

/// Leaf 0x16: processor frequencies in MHz.
fn leaf_16(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    for (name, key, v) in [("eax", "base_mhz", a), ("ebx", "max_mhz", b), ("ecx", "bus_mhz", c)] {
        let mut r = Reg::new(d, name, v);
        r.dec(key, 0, 16);
        r.finish();
    }
    unnamed(d, "edx", dx);
    true
}

/// Leaf 0x24 subleaf 0: AVX10 converged vector ISA.
fn leaf_24(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    let mut r = Reg::new(d, "eax", a);
    r.hex("max_subleaf", 0, 32);
    r.finish();
    let mut r = Reg::new(d, "ebx", b);
    r.dec("avx10_version", 0, 8);
    r.flags(&[(16, "avx10_128"), (17, "avx10_256"), (18, "avx10_512")]);
    r.finish();
    unnamed(d, "ecx", c);
    unnamed(d, "edx", dx);
    true
}

// ---------------------------------------------------------------------------
// Hypervisor leaves
// ---------------------------------------------------------------------------

/// Leaf 0x40000000: highest hypervisor leaf and hypervisor signature.
fn hv_0(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    d.put("eax.max_leaf", format!("{a:#x}"));
    d.put("signature", quoted(&[b, c, dx]));
    true
}

/// Leaf 0x40000001 of KVM: paravirtual features and hints.
fn kvm_features(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    let mut r = Reg::new(d, "eax", a);
    r.flags(KVM_EAX);
    r.finish();
    unnamed(d, "ebx", b);
    unnamed(d, "ecx", c);
    let mut r = Reg::new(d, "edx", dx);
    r.flags(&[(0, "hint_realtime")]);
    r.finish();
    true
}

#[rustfmt::skip]
const KVM_EAX: &[Flag] = &[
    (0, "clocksource"), (1, "nopiodelay"), (2, "mmu_op"), (3, "clocksource2"), (4, "async_pf"),
    (5, "steal_time"), (6, "pv_eoi"), (7, "pv_unhalt"), (9, "pv_tlb_flush"), (10, "async_pf_vmexit"),
    (11, "pv_send_ipi"), (12, "poll_control"), (13, "pv_sched_yield"), (14, "async_pf_int"),
    (15, "msi_ext_dest_id"), (16, "hc_map_gpa_range"), (17, "migration_control"),
    (24, "clocksource_stable_bit"),
];

// ---------------------------------------------------------------------------
// Extended leaves
// ---------------------------------------------------------------------------

/// Leaf 0x80000000: highest extended leaf (and AMD's copy of the vendor).
fn ext_0(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    d.put("eax.max_leaf", format!("{a:#x}"));
    d.put("vendor", quoted(&[b, dx, c]));
    true
}

/// Leaf 0x80000001: extended signature and features. Intel defines only a
/// few bits here (at the same positions as AMD), so the rest stays unnamed.
fn ext_1(d: &mut Decoded, class: VendorClass, [a, b, c, dx]: [u32; 4]) -> bool {
    if class == VendorClass::Intel {
        unnamed(d, "eax", a);
        unnamed(d, "ebx", b);
        let mut r = Reg::new(d, "ecx", c);
        r.flags(&[(0, "lahf_lm"), (5, "lzcnt"), (8, "prefetchw")]);
        r.finish();
        let mut r = Reg::new(d, "edx", dx);
        r.flags(&[(11, "syscall"), (20, "nx"), (26, "pdpe1gb"), (27, "rdtscp"), (29, "lm")]);
        r.finish();
        return true;
    }
    signature(d, a);
    let mut r = Reg::new(d, "ebx", b);
    r.hex("brand_id", 0, 16);
    r.hex("pkg_type", 28, 4);
    r.finish();
    let mut r = Reg::new(d, "ecx", c);
    r.flags(AMD_EXT1_ECX);
    r.finish();
    let mut r = Reg::new(d, "edx", dx);
    r.flags(AMD_EXT1_EDX);
    r.finish();
    true
}

#[rustfmt::skip]
const AMD_EXT1_ECX: &[Flag] = &[
    (0, "lahf_lm"), (1, "cmp_legacy"), (2, "svm"), (3, "extapic"), (4, "cr8_legacy"), (5, "abm"),
    (6, "sse4a"), (7, "misalignsse"), (8, "3dnowprefetch"), (9, "osvw"), (10, "ibs"), (11, "xop"),
    (12, "skinit"), (13, "wdt"), (15, "lwp"), (16, "fma4"), (17, "tce"), (19, "nodeid_msr"), (21, "tbm"),
    (22, "topoext"), (23, "perfctr_core"), (24, "perfctr_nb"), (26, "bpext"), (27, "ptsc"),
    (28, "perfctr_llc"), (29, "mwaitx"), (30, "addr_mask_ext"),
];

/// AMD duplicates most of leaf 1 edx here; the names follow the APM.
#[rustfmt::skip]
const AMD_EXT1_EDX: &[Flag] = &[
    (0, "fpu"), (1, "vme"), (2, "de"), (3, "pse"), (4, "tsc"), (5, "msr"), (6, "pae"), (7, "mce"),
    (8, "cx8"), (9, "apic"), (11, "syscall"), (12, "mtrr"), (13, "pge"), (14, "mca"), (15, "cmov"),
    (16, "pat"), (17, "pse36"), (20, "nx"), (22, "mmxext"), (23, "mmx"), (24, "fxsr"), (25, "fxsr_opt"),
    (26, "pdpe1gb"), (27, "rdtscp"), (29, "lm"), (30, "3dnowext"), (31, "3dnow"),
];

/// Leaves 0x80000002..4: sixteen bytes of the brand string each.
fn brand(d: &mut Decoded, regs: [u32; 4]) -> bool {
    d.put("brand", quoted(&regs));
    true
}

/// Leaf 0x80000005 (AMD): L1 caches and TLBs.
fn amd_l1(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    for (name, v, page) in [("eax", a, "2m"), ("ebx", b, "4k")] {
        let mut r = Reg::new(d, name, v);
        let n = r.take(0, 8);
        r.put(&format!("itlb_{page}_entries"), n.to_string());
        let w = r.take(8, 8);
        r.put(&format!("itlb_{page}_assoc"), l1_assoc(w));
        let n = r.take(16, 8);
        r.put(&format!("dtlb_{page}_entries"), n.to_string());
        let w = r.take(24, 8);
        r.put(&format!("dtlb_{page}_assoc"), l1_assoc(w));
        r.finish();
    }
    for (name, v) in [("ecx", c), ("edx", dx)] {
        let mut r = Reg::new(d, name, v);
        r.dec("line_size", 0, 8);
        r.dec("lines_per_tag", 8, 8);
        let w = r.take(16, 8);
        r.put("assoc", l1_assoc(w));
        r.dec("size_kb", 24, 8);
        r.finish();
    }
    true
}

/// Associativity of leaf 0x80000005: the number of ways, 0xff = full.
fn l1_assoc(w: u32) -> String {
    match w {
        0 => "reserved (0x0)".into(),
        0xff => "full".into(),
        _ => format!("{w}-way"),
    }
}

/// Associativity of leaf 0x80000006: a 4-bit code (APM and SDM agree on
/// the codes both define).
fn l2_assoc(w: u32) -> String {
    let ways = match w {
        0 => return "disabled".into(),
        0xf => return "full".into(),
        // AMD: "see leaf 0x8000001d".
        9 => return "see 0x8000001d".into(),
        1 => 1,
        2 => 2,
        4 => 4,
        6 => 8,
        8 => 16,
        0xa => 32,
        0xb => 48,
        0xc => 64,
        0xd => 96,
        0xe => 128,
        _ => return format!("reserved ({w:#x})"),
    };
    format!("{ways}-way")
}

/// Leaf 0x80000006: L2 cache (both vendors) and, on AMD, L2 TLBs and L3.
fn l2_l3(d: &mut Decoded, class: VendorClass, [a, b, c, dx]: [u32; 4]) -> bool {
    if class == VendorClass::Amd {
        for (name, v, page) in [("eax", a, "2m"), ("ebx", b, "4k")] {
            let mut r = Reg::new(d, name, v);
            let n = r.take(0, 12);
            r.put(&format!("itlb_{page}_entries"), n.to_string());
            let w = r.take(12, 4);
            r.put(&format!("itlb_{page}_assoc"), l2_assoc(w));
            let n = r.take(16, 12);
            r.put(&format!("dtlb_{page}_entries"), n.to_string());
            let w = r.take(28, 4);
            r.put(&format!("dtlb_{page}_assoc"), l2_assoc(w));
            r.finish();
        }
    } else {
        unnamed(d, "eax", a);
        unnamed(d, "ebx", b);
    }
    let mut r = Reg::new(d, "ecx", c);
    r.dec("l2_line_size", 0, 8);
    if class == VendorClass::Amd {
        r.dec("l2_lines_per_tag", 8, 4);
    }
    let w = r.take(12, 4);
    r.put("l2_assoc", l2_assoc(w));
    r.dec("l2_size_kb", 16, 16);
    r.finish();
    if class != VendorClass::Amd {
        unnamed(d, "edx", dx);
        return true;
    }
    let mut r = Reg::new(d, "edx", dx);
    r.dec("l3_line_size", 0, 8);
    r.dec("l3_lines_per_tag", 8, 4);
    let w = r.take(12, 4);
    r.put("l3_assoc", l2_assoc(w));
    // In 512 KiB units.
    let units = r.take(18, 14);
    r.put("l3_size_kb", (units * 512).to_string());
    r.finish();
    true
}

/// Leaf 0x80000007: RAS and power management (Intel: invariant TSC only).
fn ext_7(d: &mut Decoded, class: VendorClass, [a, b, c, dx]: [u32; 4]) -> bool {
    unnamed(d, "eax", a);
    if class != VendorClass::Amd {
        unnamed(d, "ebx", b);
        unnamed(d, "ecx", c);
        let mut r = Reg::new(d, "edx", dx);
        r.flags(&[(8, "invtsc")]);
        r.finish();
        return true;
    }
    let mut r = Reg::new(d, "ebx", b);
    r.flags(&[
        (0, "mca_overflow_recov"),
        (1, "succor"),
        (2, "hwa"),
        (3, "scalable_mca"),
        (4, "pfeh"),
    ]);
    r.finish();
    d.put("ecx.power_sample_ratio", c.to_string());
    let mut r = Reg::new(d, "edx", dx);
    r.flags(AMD_EXT7_EDX);
    r.finish();
    true
}

#[rustfmt::skip]
const AMD_EXT7_EDX: &[Flag] = &[
    (0, "ts"), (1, "fid"), (2, "vid"), (3, "ttp"), (4, "htc"), (6, "100mhz_steps"), (7, "hw_pstate"),
    (8, "invtsc"), (9, "cpb"), (10, "eff_freq_ro"), (11, "proc_feedback"), (12, "proc_power_reporting"),
    (13, "connected_standby"), (14, "rapl"), (15, "fast_cppc"),
];

/// Leaf 0x80000008: address sizes, and on AMD extended features and the
/// core count.
fn ext_8(d: &mut Decoded, class: VendorClass, [a, b, c, dx]: [u32; 4]) -> bool {
    let mut r = Reg::new(d, "eax", a);
    r.dec("phys_addr_bits", 0, 8);
    r.dec("lin_addr_bits", 8, 8);
    r.dec("guest_phys_addr_bits", 16, 8);
    r.finish();
    if class != VendorClass::Amd {
        let mut r = Reg::new(d, "ebx", b);
        r.flags(&[(9, "wbnoinvd")]);
        r.finish();
        unnamed(d, "ecx", c);
        unnamed(d, "edx", dx);
        return true;
    }
    let mut r = Reg::new(d, "ebx", b);
    r.flags(AMD_EXT8_EBX);
    r.finish();
    let mut r = Reg::new(d, "ecx", c);
    r.plus_one("core_count", 0, 8);
    r.dec("apic_id_size", 12, 4);
    r.dec("perf_tsc_size", 16, 2);
    r.finish();
    let mut r = Reg::new(d, "edx", dx);
    r.dec("invlpgb_count_max", 0, 16);
    r.dec("max_rdpru_id", 16, 10);
    r.finish();
    true
}

#[rustfmt::skip]
const AMD_EXT8_EBX: &[Flag] = &[
    (0, "clzero"), (1, "irperf"), (2, "xsaveerptr"), (3, "invlpgb"), (4, "rdpru"), (6, "mbe"),
    (8, "mcommit"), (9, "wbnoinvd"), (12, "ibpb"), (13, "int_wbinvd"), (14, "ibrs"), (15, "stibp"),
    (16, "ibrs_always_on"), (17, "stibp_always_on"), (18, "ibrs_preferred"), (19, "ibrs_same_mode"),
    (20, "efer_lmsle_unsupported"), (21, "invlpgb_nested"), (23, "ppin"), (24, "ssbd"), (25, "virt_ssbd"),
    (26, "ssb_no"), (27, "cppc"), (28, "psfd"), (29, "btc_no"), (30, "ibpb_ret"),
];

/// Leaf 0x8000000a (AMD): SVM revision, ASIDs and features.
fn svm(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    let mut r = Reg::new(d, "eax", a);
    r.hex("svm_revision", 0, 8);
    r.finish();
    d.put("ebx.asids", b.to_string());
    unnamed(d, "ecx", c);
    let mut r = Reg::new(d, "edx", dx);
    r.flags(SVM_EDX);
    r.finish();
    true
}

#[rustfmt::skip]
const SVM_EDX: &[Flag] = &[
    (0, "npt"), (1, "lbrv"), (2, "svm_lock"), (3, "nrip_save"), (4, "tsc_scale"), (5, "vmcb_clean"),
    (6, "flushbyasid"), (7, "decodeassists"), (10, "pause_filter"), (12, "pfthreshold"), (13, "avic"),
    (15, "v_vmsave_vmload"), (16, "vgif"), (17, "gmet"), (18, "x2avic"), (19, "sss_check"),
    (20, "v_spec_ctrl"), (21, "rogpt"), (23, "host_mce_override"), (24, "tlbictl"), (25, "vnmi"),
    (26, "ibs_virt"), (28, "svme_addr_chk"),
];

/// Leaf 0x8000001e (AMD): extended APIC id, core and node ids.
fn amd_topology(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    d.put("eax.ext_apic_id", format!("{a:#x}"));
    let mut r = Reg::new(d, "ebx", b);
    r.hex("core_id", 0, 8);
    r.plus_one("threads_per_core", 8, 8);
    r.finish();
    let mut r = Reg::new(d, "ecx", c);
    r.hex("node_id", 0, 8);
    r.plus_one("nodes_per_processor", 8, 3);
    r.finish();
    unnamed(d, "edx", dx);
    true
}

/// Leaf 0x8000001f (AMD): memory encryption (SME/SEV).
fn sev(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    let mut r = Reg::new(d, "eax", a);
    r.flags(SEV_EAX);
    r.finish();
    let mut r = Reg::new(d, "ebx", b);
    r.dec("c_bit", 0, 6);
    r.dec("phys_addr_reduction", 6, 6);
    r.dec("vmpl_count", 12, 4);
    r.finish();
    d.put("ecx.encrypted_guests", c.to_string());
    d.put("edx.min_sev_no_es_asid", dx.to_string());
    true
}

#[rustfmt::skip]
const SEV_EAX: &[Flag] = &[
    (0, "sme"), (1, "sev"), (2, "vm_page_flush"), (3, "sev_es"), (4, "sev_snp"), (5, "vmpl"),
    (6, "rmpquery"), (7, "vmpl_sss"), (8, "secure_tsc"), (9, "tsc_aux_virtualization"),
    (10, "coherency_enforced"), (11, "host_64bit_only"), (12, "restricted_injection"),
    (13, "alternate_injection"), (14, "debug_swap"), (15, "prevent_host_ibs"), (16, "vte"),
];

/// Leaf 0x80000021 (AMD): extended features 2.
fn ext_21(d: &mut Decoded, [a, b, c, dx]: [u32; 4]) -> bool {
    let mut r = Reg::new(d, "eax", a);
    r.flags(&[
        (0, "no_nested_data_bp"),
        (2, "lfence_always_serializing"),
        (6, "null_sel_clr_base"),
        (8, "auto_ibrs"),
        (24, "eraps"),
        (27, "sbpb"),
        (28, "ibpb_brtype"),
        (29, "srso_no"),
        (30, "srso_user_kernel_no"),
    ]);
    r.finish();
    unnamed(d, "ebx", b);
    unnamed(d, "ecx", c);
    unnamed(d, "edx", dx);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The captures of one record: `LLLLLLLL.SSSSSSSS eax ebx ecx edx` lines.
    fn capture(dir: &str) -> Vec<(u32, u32, [u32; 4])> {
        let path = format!(
            "{}/tests/data/{dir}/cpuid0.txt",
            concat!(env!("CARGO_MANIFEST_DIR"), "/..")
        );
        let text = String::from_utf8(std::fs::read(path).expect("capture present")).expect("text");
        text.lines()
            .filter_map(|line| {
                let mut it = line.split_whitespace();
                let (l, s) = it.next()?.split_once('.')?;
                let mut regs = [0u32; 4];
                for r in &mut regs {
                    *r = u32::from_str_radix(it.next()?, 16).ok()?;
                }
                Some((u32::from_str_radix(l, 16).ok()?, u32::from_str_radix(s, 16).ok()?, regs))
            })
            .collect()
    }

    const Q35_72: &str = "pc-q35-7.2-default-on-7.2.22";
    const Q35_100: &str = "pc-q35-7.2-default-on-10.0.2";

    /// Decode leaf/subleaf of a capture with the capture's own vendor.
    fn decoded(dir: &str, leaf: u32, subleaf: u32) -> Decoded {
        let cap = capture(dir);
        let v = cap
            .iter()
            .find(|e| e.0 == 0 && e.1 == 0)
            .map(|e| vendor(e.2))
            .expect("leaf 0");
        let regs = cap
            .iter()
            .find(|e| e.0 == leaf && e.1 == subleaf)
            .expect("leaf captured")
            .2;
        decode_leaf(&v, leaf, subleaf, regs)
    }

    #[test]
    fn leaf0_vendor_and_max_leaf() {
        let d = decoded(Q35_72, 0, 0);
        assert_eq!(d.get("eax.max_leaf"), Some("0xd"));
        assert_eq!(d.get("vendor"), Some("\"AuthenticAMD\""));
        assert_eq!(vendor([0xd, 0x68747541, 0x444d4163, 0x69746e65]), "AuthenticAMD");
    }

    #[test]
    fn leaf1_qemu64_on_amd() {
        // 00060fb1 00020800 80002001 178bfbfd, decoded by hand:
        // eax: stepping 1, model 0xb, family 0xf, ext model 6 → model 0x6b.
        let d = decoded(Q35_72, 1, 0);
        assert_eq!(d.get("eax.family"), Some("0xf"));
        assert_eq!(d.get("eax.model"), Some("0x6b"));
        assert_eq!(d.get("eax.stepping"), Some("0x1"));
        assert_eq!(d.get("eax.ext_model"), Some("0x6"));
        // ebx: apic id 0, 2 logical processors, clflush 8 × 8 bytes.
        assert_eq!(d.get("ebx.apic_id"), Some("0x0"));
        assert_eq!(d.get("ebx.logical_count"), Some("2"));
        assert_eq!(d.get("ebx.clflush_size"), Some("64"));
        // ecx 0x80002001: bits 0, 13, 31.
        assert_eq!(d.get("ecx.sse3"), Some("1"));
        assert_eq!(d.get("ecx.cx16"), Some("1"));
        assert_eq!(d.get("ecx.hypervisor"), Some("1"));
        assert_eq!(d.get("ecx.avx"), Some("0"));
        assert_eq!(d.get("ecx.unnamed_bits"), None);
        // edx 0x178bfbfd: vme (bit 1) clear, htt (bit 28) set, bits 10/20 reserved and clear.
        assert_eq!(d.get("edx.fpu"), Some("1"));
        assert_eq!(d.get("edx.vme"), Some("0"));
        assert_eq!(d.get("edx.htt"), Some("1"));
        assert_eq!(d.get("edx.sse2"), Some("1"));
        assert_eq!(d.get("edx.ss"), Some("0"));
        assert_eq!(d.get("edx.unnamed_bits"), None);
    }

    #[test]
    fn leaf5_monitor_mwait() {
        // 00000000 00000000 00000003 00000000: EMX and IBE, line sizes 0.
        let d = decoded(Q35_72, 5, 0);
        assert_eq!(d.get("ecx.emx"), Some("1"));
        assert_eq!(d.get("ecx.ibe"), Some("1"));
        assert_eq!(d.get("eax.min_monitor_line"), Some("0"));
        assert_eq!(d.get("edx.c1_substates"), Some("0"));
    }

    #[test]
    fn leaf7_all_clear_under_qemu64() {
        let d = decoded(Q35_72, 7, 0);
        assert_eq!(d.get("eax.max_subleaf"), Some("0x0"));
        assert_eq!(d.get("ebx.avx2"), Some("0"));
        assert_eq!(d.get("ecx.la57"), Some("0"));
        assert_eq!(d.get("edx.md_clear"), Some("0"));
        assert!(d
            .items()
            .keys()
            .all(|k| !k.contains("unnamed") && !k.starts_with("raw")));
    }

    #[test]
    fn topology_leaf_b() {
        // 0xb.0: 00000000 00000001 00000100 → SMT level, shift 0, 1 thread.
        let d = decoded(Q35_72, 0xb, 0);
        assert_eq!(d.get("ecx.level_type"), Some("smt"));
        assert_eq!(d.get("ecx.level"), Some("0"));
        assert_eq!(d.get("eax.x2apic_shift"), Some("0"));
        assert_eq!(d.get("ebx.logical_processors"), Some("1"));
        assert_eq!(d.get("edx.x2apic_id"), Some("0x0"));
        // 0xb.1: 00000001 00000002 00000201 → core level, shift 1, 2 threads.
        let d = decoded(Q35_72, 0xb, 1);
        assert_eq!(d.get("ecx.level_type"), Some("core"));
        assert_eq!(d.get("ecx.level"), Some("1"));
        assert_eq!(d.get("eax.x2apic_shift"), Some("1"));
        assert_eq!(d.get("ebx.logical_processors"), Some("2"));
        // 0xb.2: ecx 00000002 → the terminating invalid level.
        assert_eq!(decoded(Q35_72, 0xb, 2).get("ecx.level_type"), Some("invalid"));
    }

    #[test]
    fn xsave_leaf_d() {
        // qemu64 has no XSAVE: everything zero.
        let d = decoded(Q35_72, 0xd, 0);
        assert_eq!(d.get("eax.x87"), Some("0"));
        assert_eq!(d.get("ecx.max_size"), Some("0"));
        // A hand-made AVX machine: x87|sse|avx, 832-byte area.
        let d = decode_leaf("GenuineIntel", 0xd, 0, [0x7, 0x340, 0x340, 0]);
        assert_eq!(d.get("eax.avx"), Some("1"));
        assert_eq!(d.get("eax.opmask"), Some("0"));
        assert_eq!(d.get("ebx.enabled_size"), Some("832"));
        let d = decode_leaf("GenuineIntel", 0xd, 2, [0x100, 0x240, 0, 0]);
        assert_eq!(d.get("component"), Some("avx"));
        assert_eq!(d.get("eax.size"), Some("256"));
        assert_eq!(d.get("ebx.offset"), Some("576"));
        assert_eq!(d.get("ecx.supervisor"), Some("0"));
    }

    #[test]
    fn intel_cache_leaf_4() {
        // A Skylake L1d as documented in the SDM's leaf 4 layout, by hand:
        // type 1 level 1 self-init, 2 sharing, 8 cores, 64 B × 1 × 8 ways × 64 sets.
        let d = decode_leaf("GenuineIntel", 4, 0, [0x1c00_4121, 0x01c0_003f, 0x3f, 0]);
        assert_eq!(d.get("eax.cache_type"), Some("data"));
        assert_eq!(d.get("eax.level"), Some("1"));
        assert_eq!(d.get("eax.self_init"), Some("1"));
        assert_eq!(d.get("eax.max_sharing_ids"), Some("2"));
        assert_eq!(d.get("eax.max_core_ids"), Some("8"));
        assert_eq!(d.get("ebx.line_size"), Some("64"));
        assert_eq!(d.get("ebx.ways"), Some("8"));
        assert_eq!(d.get("ecx.sets"), Some("64"));
        assert_eq!(d.get("size"), Some("32768"));
        // The all-zero leaf of the capture is the "no more caches" entry.
        assert_eq!(decoded(Q35_72, 4, 0).get("eax.cache_type"), Some("none"));
    }

    #[test]
    fn hypervisor_leaves() {
        // 40000001 54474354 43544743 47435447: "TCGT" "CGTC" "GTCG".
        let d = decoded(Q35_72, 0x4000_0000, 0);
        assert_eq!(d.get("eax.max_leaf"), Some("0x40000001"));
        assert_eq!(d.get("signature"), Some("\"TCGTCGTCGTCG\""));
        assert_eq!(
            hypervisor([0x4000_0001, 0x5447_4354, 0x4354_4743, 0x4743_5447]),
            "TCGTCGTCGTCG"
        );
        // Not KVM: the features leaf stays raw.
        let d = decoded(Q35_72, 0x4000_0001, 0);
        assert_eq!(d.get("raw.eax"), Some("0x00000000"));
        // KVM's signature "KVMKVMKVM\0\0\0" and a typical feature word.
        let kvm = hypervisor([0x4000_0001, 0x4b4d_564b, 0x564b_4d56, 0x0000_004d]);
        assert_eq!(kvm, "KVMKVMKVM");
        let d = decode_leaf(&kvm, 0x4000_0001, 0, [0x0100_00fb, 0, 0, 0]);
        assert_eq!(d.get("eax.clocksource"), Some("1"));
        assert_eq!(d.get("eax.nopiodelay"), Some("1"));
        assert_eq!(d.get("eax.mmu_op"), Some("0"));
        assert_eq!(d.get("eax.pv_unhalt"), Some("1"));
        assert_eq!(d.get("eax.clocksource_stable_bit"), Some("1"));
        assert_eq!(d.get("edx.hint_realtime"), Some("0"));
    }

    #[test]
    fn extended_leaves_amd() {
        let d = decoded(Q35_72, 0x8000_0000, 0);
        assert_eq!(d.get("eax.max_leaf"), Some("0x8000000a"));
        assert_eq!(d.get("vendor"), Some("\"AuthenticAMD\""));
        // 80000001: 00060fb1 00000000 00000007 2193fbfd.
        let d = decoded(Q35_72, 0x8000_0001, 0);
        assert_eq!(d.get("eax.model"), Some("0x6b"));
        for on in ["lahf_lm", "cmp_legacy", "svm"] {
            assert_eq!(d.get(&format!("ecx.{on}")), Some("1"), "{on}");
        }
        assert_eq!(d.get("ecx.abm"), Some("0"));
        for on in ["fpu", "syscall", "nx", "lm", "mmx", "fxsr", "pse36", "cmov"] {
            assert_eq!(d.get(&format!("edx.{on}")), Some("1"), "{on}");
        }
        for off in ["vme", "mmxext", "rdtscp", "pdpe1gb", "3dnow"] {
            assert_eq!(d.get(&format!("edx.{off}")), Some("0"), "{off}");
        }
        assert_eq!(d.get("edx.unnamed_bits"), None);
    }

    #[test]
    fn brand_string_pieces() {
        assert_eq!(
            decoded(Q35_72, 0x8000_0002, 0).get("brand"),
            Some("\"QEMU Virtual CPU\"")
        );
        assert_eq!(decoded(Q35_72, 0x8000_0003, 0).get("brand"), Some("\" version 2.5+\""));
        assert_eq!(decoded(Q35_72, 0x8000_0004, 0).get("brand"), Some("\"\""));
    }

    #[test]
    fn amd_cache_and_tlb_leaves() {
        // 80000005: 01ff01ff 01ff01ff 40020140 40020140.
        let d = decoded(Q35_72, 0x8000_0005, 0);
        assert_eq!(d.get("eax.itlb_2m_entries"), Some("255"));
        assert_eq!(d.get("eax.dtlb_2m_assoc"), Some("1-way"));
        assert_eq!(d.get("ecx.size_kb"), Some("64"));
        assert_eq!(d.get("ecx.assoc"), Some("2-way"));
        assert_eq!(d.get("ecx.line_size"), Some("64"));
        assert_eq!(d.get("edx.lines_per_tag"), Some("1"));
        // 80000006: 00000000 42004200 02008140 00808140.
        let d = decoded(Q35_72, 0x8000_0006, 0);
        assert_eq!(d.get("eax.itlb_2m_assoc"), Some("disabled"));
        assert_eq!(d.get("ebx.dtlb_4k_entries"), Some("512"));
        assert_eq!(d.get("ebx.dtlb_4k_assoc"), Some("4-way"));
        assert_eq!(d.get("ecx.l2_size_kb"), Some("512"));
        assert_eq!(d.get("ecx.l2_assoc"), Some("16-way"));
        assert_eq!(d.get("edx.l3_size_kb"), Some("16384"));
        assert_eq!(d.get("edx.l3_assoc"), Some("16-way"));
        assert_eq!(d.get("edx.l3_line_size"), Some("64"));
    }

    #[test]
    fn address_sizes_cores_and_svm() {
        // 80000008: 00003028 00000000 00001001 00000000.
        let d = decoded(Q35_72, 0x8000_0008, 0);
        assert_eq!(d.get("eax.phys_addr_bits"), Some("40"));
        assert_eq!(d.get("eax.lin_addr_bits"), Some("48"));
        assert_eq!(d.get("eax.guest_phys_addr_bits"), Some("0"));
        assert_eq!(d.get("ecx.core_count"), Some("2"));
        assert_eq!(d.get("ecx.apic_id_size"), Some("1"));
        assert_eq!(d.get("ebx.ibpb"), Some("0"));
        // 8000000a: 00000001 00000010 00000000 00000000.
        let d = decoded(Q35_72, 0x8000_000a, 0);
        assert_eq!(d.get("eax.svm_revision"), Some("0x1"));
        assert_eq!(d.get("ebx.asids"), Some("16"));
        assert_eq!(d.get("edx.npt"), Some("0"));
    }

    #[test]
    fn intel_names_only_intel_bits_of_80000001() {
        // lahf_lm|lzcnt|prefetchw, syscall|nx|pdpe1gb|rdtscp|lm, plus svm (bit 2), which Intel leaves reserved.
        let regs = [0, 0, 0x0000_0125, 0x2c10_0800];
        let d = decode_leaf("GenuineIntel", 0x8000_0001, 0, regs);
        assert_eq!(d.get("ecx.lzcnt"), Some("1"));
        assert_eq!(d.get("ecx.svm"), None);
        assert_eq!(d.get("ecx.unnamed_bits"), Some("0x4"));
        assert_eq!(d.get("edx.lm"), Some("1"));
        assert_eq!(d.get("edx.fpu"), None);
        assert_eq!(d.get("eax.family"), None);
        // The same bits named the AMD way.
        let d = decode_leaf("AuthenticAMD", 0x8000_0001, 0, regs);
        assert_eq!(d.get("ecx.abm"), Some("1"));
        assert_eq!(d.get("ecx.svm"), Some("1"));
        assert_eq!(d.get("edx.fpu"), Some("0"));
        assert_eq!(d.get("edx.lm"), Some("1"));
    }

    #[test]
    fn no_difference_between_7_2_and_10_0() {
        // The captures are byte-identical; so, in particular, are leaves 1 and 7.
        for (old, new) in [
            (Q35_72, Q35_100),
            ("pc-q35-7.2-virtio-on-7.2.22", "pc-q35-7.2-virtio-on-10.0.2"),
            ("pc-i440fx-7.2-default-on-7.2.22", "pc-i440fx-7.2-default-on-10.0.2"),
        ] {
            let (a, b) = (capture(old), capture(new));
            assert_eq!(a.len(), b.len());
            for leaf in [1, 7] {
                assert_eq!(decoded(old, leaf, 0), decoded(new, leaf, 0), "{old} leaf {leaf}");
            }
            for (x, y) in a.iter().zip(&b) {
                assert_eq!((x.0, x.1), (y.0, y.1));
                assert_eq!(
                    decode_leaf("AuthenticAMD", x.0, x.1, x.2),
                    decode_leaf("AuthenticAMD", y.0, y.1, y.2)
                );
            }
        }
    }

    #[test]
    fn unknown_and_out_of_range_leaves_are_raw() {
        let regs = [1, 0x22, 0x333, 0xdead_beef];
        for (leaf, sub) in [
            (2, 0),
            (3, 0),
            (0x7, 3),
            (0xd, 64),
            (0x14, 2),
            (0x24, 1),
            (0x1234_5678, 0),
        ] {
            let d = decode_leaf("AuthenticAMD", leaf, sub, regs);
            assert_eq!(d.get("raw.eax"), Some("0x00000001"), "{leaf:#x}.{sub}");
            assert_eq!(d.get("raw.edx"), Some("0xdeadbeef"));
            assert_eq!(d.len(), 4);
        }
        // AMD-only leaves of an Intel CPU.
        assert_eq!(
            decode_leaf("GenuineIntel", 0x8000_000a, 0, regs).get("raw.ebx"),
            Some("0x00000022")
        );
    }

    #[test]
    fn reserved_bits_and_odd_strings() {
        // Reserved cache type, reserved bits 13:10 of leaf 4 eax.
        let d = decode_leaf("GenuineIntel", 4, 0, [0x0000_3c1f, 0, 0, 0]);
        assert_eq!(d.get("eax.cache_type"), Some("reserved (0x1f)"));
        assert_eq!(d.get("eax.unnamed_bits"), Some("0x3c00"));
        // Reserved bit 16 of leaf 1 ecx.
        assert_eq!(
            decode_leaf("x", 1, 0, [0, 0, 1 << 16, 0]).get("ecx.unnamed_bits"),
            Some("0x10000")
        );
        // ebx edx ecx = "AB\"\0" "C\0\x01\\" "\0\0\0\0": unprintable bytes, quotes and embedded
        // NULs are escaped, trailing NULs dropped.
        let d = decode_leaf("x", 0, 0, [0, 0x0022_4241, 0x0000_0000, 0x5c01_0043]);
        assert_eq!(d.get("vendor"), Some("\"AB\\\"\\x00C\\x00\\x01\\\\\""));
        assert_eq!(vendor([0, 0, 0, 0]), "");
    }

    /// Leaves worth fuzzing: every leaf with a decoder, and subleaf edges.
    const LEAVES: &[(u32, u32)] = &[
        (0, 0),
        (1, 0),
        (2, 0),
        (4, 0),
        (5, 0),
        (6, 0),
        (7, 0),
        (7, 1),
        (7, 2),
        (7, 3),
        (0xa, 0),
        (0xb, 1),
        (0x1f, 2),
        (0xd, 0),
        (0xd, 1),
        (0xd, 2),
        (0xd, 62),
        (0xd, 63),
        (0xd, 64),
        (0x14, 0),
        (0x14, 1),
        (0x15, 0),
        (0x16, 0),
        (0x24, 0),
        (0x4000_0000, 0),
        (0x4000_0001, 0),
        (0x8000_0000, 0),
        (0x8000_0001, 0),
        (0x8000_0002, 0),
        (0x8000_0005, 0),
        (0x8000_0006, 0),
        (0x8000_0007, 0),
        (0x8000_0008, 0),
        (0x8000_000a, 0),
        (0x8000_001d, 0),
        (0x8000_001e, 0),
        (0x8000_001f, 0),
        (0x8000_0021, 0),
        (0xffff_ffff, 0xffff_ffff),
    ];

    const VENDORS: &[&str] = &["AuthenticAMD", "GenuineIntel", "KVMKVMKVM", ""];

    /// Flipping any one register bit changes the decoded view.
    fn assert_complete(vendor: &str, leaf: u32, sub: u32, regs: [u32; 4]) {
        let base = decode_leaf(vendor, leaf, sub, regs);
        for reg in 0..4 {
            for bit in 0..32 {
                let mut m = regs;
                if let Some(r) = m.get_mut(reg) {
                    *r ^= 1 << bit;
                }
                let d = decode_leaf(vendor, leaf, sub, m);
                assert_ne!(d, base, "{vendor} {leaf:#x}.{sub} reg {reg} bit {bit}");
            }
        }
    }

    #[test]
    fn every_bit_of_the_real_capture_matters() {
        let cap = capture(Q35_72);
        let v = vendor(cap.first().expect("leaf 0").2);
        for &(leaf, sub, regs) in &cap {
            assert_complete(&v, leaf, sub, regs);
            // The same bytes as one byte per xor: the brief's byte-wise mutation.
            for reg in 0..4 {
                for byte in 0..4 {
                    let mut m = regs;
                    if let Some(r) = m.get_mut(reg) {
                        *r ^= 0xff << (byte * 8);
                    }
                    assert_ne!(decode_leaf(&v, leaf, sub, m), decode_leaf(&v, leaf, sub, regs));
                }
            }
        }
    }

    #[test]
    fn garbage_never_panics_and_stays_complete() {
        // A small xorshift generator: deterministic garbage without a dependency.
        let mut x: u32 = 0x9e37_79b9;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for &v in VENDORS {
            for &(leaf, sub) in LEAVES {
                for regs in [
                    [0; 4],
                    [u32::MAX; 4],
                    [next(), next(), next(), next()],
                    [next(), next(), next(), next()],
                ] {
                    assert_complete(v, leaf, sub, regs);
                }
            }
        }
    }
}
