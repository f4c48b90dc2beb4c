//! Migration stream schemas compared: a `-dump-vmstate` dump of the
//! source build against one of the destination build, for migration in one
//! direction (parsed by [`abi_decode::vmstate`], whose module text gives the
//! wire rules followed here).
//!
//! The comparison works on the flattened layout of each description (sizes,
//! array lengths, which fields a given stream version carries) and treats
//! names only as labels. That is what lets a renamed field, a renamed QOM
//! type, or fields moved into a substruct come out as `info` instead of a
//! failure, with no table of known renames.

use abi_decode::vmstate::{Description, Field, FieldKind, Section, VmstateDump, MACHINE_KEY};
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// How much a finding matters for migration in the compared direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The destination would reject or misread the stream.
    Break,
    /// A change that keeps the wire format (or cannot be judged from a dump).
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Break => "break",
            Severity::Info => "info",
        })
    }
}

/// Which rule produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// The dumps were taken with different machine types.
    MachineDiffers,
    /// One dump records no array lengths (QEMU before 8.1): lengths were not compared.
    ArrayLengthsUnknown,
    /// No section on the destination carries the source section's description.
    SectionMissing,
    /// A section only the destination has.
    SectionAdded,
    /// The QOM type is named differently (or gone) but a destination type sends
    /// the same description name with the same layout.
    SectionRenamed,
    /// The description name, which is part of the wire section id, changed.
    SectionIdChanged,
    /// The source sends a newer version than the destination accepts.
    VersionTooNew,
    /// The source's version is below the destination's `minimum_version_id`.
    BelowMinimumVersion,
    /// Same field, different element size.
    SizeMismatch,
    /// Different array length, or a field became an array or stopped being one.
    ArrayLengthMismatch,
    /// The source sends a field the destination does not read.
    FieldMissing,
    /// The destination reads a field the source does not send.
    FieldExtra,
    /// Fields at the same position disagree in size and cannot be aligned.
    LayoutMismatch,
    /// A field (or struct) is named differently, or moved into or out of a
    /// substruct, with the same flattened layout.
    Renamed,
    /// Padding replaced fields (or the reverse) with the same byte count.
    PaddingReplaced,
    /// Whether a field is sent is decided at run time (`field_exists`) on one
    /// side only, or a field only one side has is behind such a test. QEMU ties
    /// these tests to machine-type properties; a dump cannot show their result.
    RuntimeTest,
    /// The source has a subsection the destination does not know.
    SubsectionMissing,
    /// A subsection only the destination has; the source never sends it.
    SubsectionAdded,
}

/// One result of [`compare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Break or info.
    pub severity: Severity,
    /// Which rule fired.
    pub kind: FindingKind,
    /// Section (QOM type name) of the source, of the destination for sections new there, or
    /// `vmschkmachine` for dump-wide findings.
    pub section: String,
    /// Dotted field path inside the section (subsections as `name/`), empty for
    /// the section itself.
    pub path: String,
    /// What differs and why it matters.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.severity, self.section)?;
        if !self.path.is_empty() {
            write!(f, " {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Element count of a flattened field, as far as the dump tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    /// The dump format records no lengths.
    Unknown,
    /// Not a fixed array (a single value, or a run-time sized one).
    Single,
    /// A fixed array of this many elements.
    Fixed(u32),
}

impl Count {
    fn compatible(self, other: Count) -> bool {
        match (self, other) {
            (Count::Unknown, _) | (_, Count::Unknown) => true,
            (Count::Single, Count::Fixed(n)) | (Count::Fixed(n), Count::Single) => n == 1,
            (a, b) => a == b,
        }
    }

    fn factor(self) -> u64 {
        match self {
            Count::Fixed(n) => u64::from(n),
            Count::Unknown | Count::Single => 1,
        }
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Unknown => f.write_str("unknown length"),
            Count::Single => f.write_str("not an array"),
            Count::Fixed(n) => write!(f, "{n} elements"),
        }
    }
}

/// One non-struct field after nested structs are inlined: the unit of the
/// flattened wire layout.
#[derive(Debug, Clone)]
struct Leaf {
    /// Field names from the description being compared down to this field.
    path: Vec<String>,
    /// Element size in bytes.
    size: u64,
    /// Own element count.
    count: Count,
    /// Lengths of the struct arrays this field sits in, outermost first;
    /// `None` when the dump cannot tell arrays from single structs.
    outer: Option<Vec<u32>>,
    /// Sent or not at run time (own or an enclosing struct's `field_exists`).
    conditional: bool,
    /// `VMSTATE_UNUSED` padding.
    padding: bool,
}

impl Leaf {
    fn path_string(&self) -> String {
        self.path.join(".")
    }

    fn bytes(&self) -> u64 {
        self.size.saturating_mul(self.count.factor())
    }
}

/// The flattened view of one description at one version.
#[derive(Default)]
struct Flat<'a> {
    leaves: Vec<Leaf>,
    /// Subsections of the description and of its nested structs, by name in
    /// order of first appearance (they are matched by name on the wire).
    subsections: Vec<(String, &'a Description)>,
}

/// Inline `fields` as the wire carries them when the stream (or, for nested
/// structs, the side's own description) is at `version`.
fn flatten<'a>(fields: &'a [Field], subsections: &'a [Description], version: u32, lengths: bool) -> Flat<'a> {
    let mut flat = Flat::default();
    let outer = if lengths { Some(Vec::new()) } else { None };
    flatten_into(fields, subsections, version, lengths, &[], &outer, false, &mut flat);
    flat
}

#[allow(clippy::too_many_arguments)]
fn flatten_into<'a>(
    fields: &'a [Field],
    subsections: &'a [Description],
    version: u32,
    lengths: bool,
    prefix: &[String],
    outer: &Option<Vec<u32>>,
    conditional: bool,
    flat: &mut Flat<'a>,
) {
    for field in fields {
        // QEMU ignores version_id for fields with an exists test.
        if !field.exists_test && field.version_id > version {
            continue;
        }
        let count = match (lengths, field.num) {
            (false, _) => Count::Unknown,
            (true, Some(n)) => Count::Fixed(n),
            (true, None) => Count::Single,
        };
        let mut path = prefix.to_vec();
        path.push(field.name.clone());
        let conditional = conditional || field.exists_test;
        match &field.kind {
            FieldKind::Struct(desc) => {
                let outer = match (outer, count) {
                    (Some(o), Count::Fixed(n)) => Some(o.iter().copied().chain([n]).collect()),
                    (o, _) => o.clone(),
                };
                // A nested struct carries no version on the wire: each side
                // uses its own description's version.
                flatten_into(
                    &desc.fields,
                    &desc.subsections,
                    desc.version_id,
                    lengths,
                    &path,
                    &outer,
                    conditional,
                    flat,
                );
            }
            FieldKind::Scalar | FieldKind::Padding => flat.leaves.push(Leaf {
                path,
                size: field.size,
                count,
                outer: outer.clone(),
                conditional,
                padding: field.kind == FieldKind::Padding,
            }),
        }
    }
    for sub in subsections {
        if !flat.subsections.iter().any(|(name, _)| name == &sub.name) {
            flat.subsections.push((sub.name.clone(), sub));
        }
    }
}

/// Compare two dumps for migration from `src` to `dst`: which sections the
/// destination would reject or misread, and which changes keep the wire
/// format. Run it twice, swapping the arguments, for both directions.
pub fn compare(src: &VmstateDump, dst: &VmstateDump) -> Vec<Finding> {
    // Lengths are compared only when both sides record them; otherwise an
    // array and a single element must look alike on both sides.
    let lengths = src.records_array_lengths && dst.records_array_lengths;
    let mut ctx = Ctx {
        lengths,
        section: MACHINE_KEY.to_string(),
        out: Vec::new(),
    };
    if src.machine != dst.machine {
        let name = |m: &Option<String>| m.clone().unwrap_or_else(|| "(none)".to_string());
        ctx.push(
            Severity::Info,
            FindingKind::MachineDiffers,
            "",
            format!(
                "dumps are for different machine types: {} and {}",
                name(&src.machine),
                name(&dst.machine)
            ),
        );
    }
    if !lengths {
        let which = if src.records_array_lengths {
            "destination"
        } else {
            "source"
        };
        ctx.push(
            Severity::Info,
            FindingKind::ArrayLengthsUnknown,
            "",
            format!("the {which} dump records no array lengths (QEMU before 8.1); array lengths were not compared"),
        );
    }

    let src_names: HashSet<&str> = src.sections.iter().map(|s| s.name.as_str()).collect();
    let mut by_vmsd: BTreeMap<&str, Vec<&Section>> = BTreeMap::new();
    for d in &dst.sections {
        by_vmsd.entry(d.vmsd_name.as_str()).or_default().push(d);
    }
    let mut rename_targets: HashSet<&str> = HashSet::new();

    for s in &src.sections {
        ctx.section = s.name.clone();
        if let Some(d) = dst.section(&s.name) {
            if d.vmsd_name != s.vmsd_name {
                ctx.push(
                    Severity::Break,
                    FindingKind::SectionIdChanged,
                    "",
                    format!(
                        "description renamed from \"{}\" to \"{}\"; the wire section id contains it",
                        s.vmsd_name, d.vmsd_name
                    ),
                );
            }
            compare_versioned(&mut ctx, "", &View::of_section(s), &View::of_section(d));
            continue;
        }
        // The QOM type is gone. Prefer types new on dst (a true rename), then
        // any dst type that sends the same description.
        let mut candidates: Vec<&Section> = by_vmsd.get(s.vmsd_name.as_str()).cloned().unwrap_or_default();
        // Among equals, the most similar QOM name reads best in the report.
        let shared_prefix = |c: &Section| c.name.bytes().zip(s.name.bytes()).take_while(|(x, y)| x == y).count();
        candidates.sort_by_key(|c| (src_names.contains(c.name.as_str()), std::cmp::Reverse(shared_prefix(c))));
        if let Some(same) = candidates.iter().find(|c| accepts_unchanged(s, c, lengths)) {
            let message = if src_names.contains(same.name.as_str()) {
                format!(
                    "QOM type absent on dst, renamed or merged, same layout: dst type \"{}\" sends description \"{}\" \
                     version {} with the same layout",
                    same.name, s.vmsd_name, same.version_id
                )
            } else {
                rename_targets.insert(same.name.as_str());
                format!(
                    "QOM type renamed to \"{}\" on dst, same layout (description \"{}\")",
                    same.name, s.vmsd_name
                )
            };
            ctx.push(Severity::Info, FindingKind::SectionRenamed, "", message);
            continue;
        }
        // A type new on dst with the same description name is this type
        // renamed: compare the two and report what changed.
        if let Some(renamed) = candidates.iter().find(|c| !src_names.contains(c.name.as_str())) {
            rename_targets.insert(renamed.name.as_str());
            let message = format!(
                "QOM type renamed to \"{}\" on dst (same description name)",
                renamed.name
            );
            ctx.push(Severity::Info, FindingKind::SectionRenamed, "", message);
            compare_versioned(&mut ctx, "", &View::of_section(s), &View::of_section(renamed));
            continue;
        }
        if !candidates.is_empty() {
            let others: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
            let message = format!(
                "QOM type absent on dst; dst types {others:?} send description \"{}\" but with another layout",
                s.vmsd_name
            );
            ctx.push(Severity::Break, FindingKind::SectionMissing, "", message);
            continue;
        }
        // Same layout under another description name still breaks: QEMU
        // looks sections up by that name.
        // An empty layout matches any other empty one and proves nothing.
        let has_layout = !flatten(&s.fields, &s.subsections, s.version_id, lengths)
            .leaves
            .is_empty();
        let structural: Vec<&Section> = dst
            .sections
            .iter()
            .filter(|d| has_layout && !src_names.contains(d.name.as_str()))
            .filter(|d| !rename_targets.contains(d.name.as_str()) && accepts_unchanged(s, d, lengths))
            .collect();
        if let [only] = structural.as_slice() {
            rename_targets.insert(only.name.as_str());
            ctx.push(
                Severity::Break,
                FindingKind::SectionIdChanged,
                "",
                format!(
                    "not on dst; dst type \"{}\" has the same layout but description \"{}\" instead of \"{}\", \
                     and the wire section id contains the description name",
                    only.name, only.vmsd_name, s.vmsd_name
                ),
            );
            continue;
        }
        ctx.push(
            Severity::Break,
            FindingKind::SectionMissing,
            "",
            format!(
                "no section on dst sends description \"{}\"; dst cannot load this device",
                s.vmsd_name
            ),
        );
    }

    for d in &dst.sections {
        if !src_names.contains(d.name.as_str()) && !rename_targets.contains(d.name.as_str()) {
            ctx.section = d.name.clone();
            ctx.push(
                Severity::Info,
                FindingKind::SectionAdded,
                "",
                "new on dst; src never sends it".to_string(),
            );
        }
    }
    ctx.out
}

/// Whether `dst` loads `src`'s stream with no break: same versions and a
/// layout that differs at most in names.
fn accepts_unchanged(src: &Section, dst: &Section, lengths: bool) -> bool {
    if src.version_id != dst.version_id || src.minimum_version_id != dst.minimum_version_id {
        return false;
    }
    let mut probe = Ctx {
        lengths,
        section: src.name.clone(),
        out: Vec::new(),
    };
    compare_versioned(&mut probe, "", &View::of_section(src), &View::of_section(dst));
    probe.out.iter().all(|f| f.severity == Severity::Info)
}

/// Collects findings for the section being compared.
struct Ctx {
    lengths: bool,
    section: String,
    out: Vec<Finding>,
}

impl Ctx {
    fn push(&mut self, severity: Severity, kind: FindingKind, path: &str, message: String) {
        self.out.push(Finding {
            severity,
            kind,
            section: self.section.clone(),
            path: path.to_string(),
            message,
        });
    }
}

/// The parts of a section or subsection that the comparison needs.
struct View<'a> {
    version_id: u32,
    minimum_version_id: u32,
    fields: &'a [Field],
    subsections: &'a [Description],
}

impl<'a> View<'a> {
    fn of_section(s: &'a Section) -> Self {
        View {
            version_id: s.version_id,
            minimum_version_id: s.minimum_version_id,
            fields: &s.fields,
            subsections: &s.subsections,
        }
    }

    fn of_description(d: &'a Description) -> Self {
        View {
            version_id: d.version_id,
            minimum_version_id: d.minimum_version_id,
            fields: &d.fields,
            subsections: &d.subsections,
        }
    }
}

/// Compare a unit that carries its version on the wire (a section or a
/// subsection): version acceptance first, then the layout at the source's version.
fn compare_versioned(ctx: &mut Ctx, base: &str, src: &View<'_>, dst: &View<'_>) {
    if src.version_id > dst.version_id {
        let message = format!(
            "src sends version {}, dst accepts at most {}",
            src.version_id, dst.version_id
        );
        ctx.push(Severity::Break, FindingKind::VersionTooNew, base, message);
        return;
    }
    if src.version_id < dst.minimum_version_id {
        let message = format!(
            "src sends version {}, dst accepts only {} and later (minimum_version_id)",
            src.version_id, dst.minimum_version_id
        );
        ctx.push(Severity::Break, FindingKind::BelowMinimumVersion, base, message);
        return;
    }
    // The loader reads the fields of the stream's version, i.e. the source's.
    let version = src.version_id;
    let s = flatten(src.fields, src.subsections, version, ctx.lengths);
    let d = flatten(dst.fields, dst.subsections, version, ctx.lengths);
    compare_leaves(ctx, base, &s.leaves, &d.leaves);
    for (name, ssub) in &s.subsections {
        let sub_base = format!("{base}{name}/");
        match d.subsections.iter().find(|(n, _)| n == name) {
            Some((_, dsub)) => {
                compare_versioned(ctx, &sub_base, &View::of_description(ssub), &View::of_description(dsub))
            }
            None => ctx.push(
                Severity::Break,
                FindingKind::SubsectionMissing,
                &sub_base,
                "subsection unknown to dst; whenever src's needed() test sends it, dst fails the load".to_string(),
            ),
        }
    }
    for (name, _) in &d.subsections {
        if !s.subsections.iter().any(|(n, _)| n == name) {
            ctx.push(
                Severity::Info,
                FindingKind::SubsectionAdded,
                &format!("{base}{name}/"),
                "subsection new on dst; src never sends it".to_string(),
            );
        }
    }
}

/// A run of consecutive fields renamed the same way.
struct RenameRun {
    /// Position in the source leaves of the run's last field.
    last: usize,
    /// Field path both sides share before the change.
    prefix: Vec<String>,
    /// What the source calls the changed part (empty: moved into a substruct).
    src_part: Vec<String>,
    /// What the destination calls it (empty: moved out of a substruct).
    dst_part: Vec<String>,
    /// Full source path of the run's first field.
    first_src: String,
    /// Full destination path of the run's first field.
    first_dst: String,
    /// How many fields.
    fields: usize,
}

/// Split two paths into shared prefix, the differing middles, and drop the
/// shared suffix: `a.dev.config` / `a.parent_obj.config` gives `a`, `dev`, `parent_obj`.
fn split_rename(a: &[String], b: &[String]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let max_suffix = a.len().min(b.len()) - prefix;
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max_suffix)
        .take_while(|(x, y)| x == y)
        .count();
    (
        a[..prefix].to_vec(),
        a[prefix..a.len() - suffix].to_vec(),
        b[prefix..b.len() - suffix].to_vec(),
    )
}

fn record_rename(runs: &mut Vec<RenameRun>, i: usize, a: &Leaf, b: &Leaf) {
    let (prefix, src_part, dst_part) = split_rename(&a.path, &b.path);
    if let Some(run) = runs.last_mut() {
        if run.last + 1 == i && run.prefix == prefix && run.src_part == src_part && run.dst_part == dst_part {
            run.last = i;
            run.fields += 1;
            return;
        }
    }
    runs.push(RenameRun {
        last: i,
        prefix,
        src_part,
        dst_part,
        first_src: a.path_string(),
        first_dst: b.path_string(),
        fields: 1,
    });
}

fn report_renames(ctx: &mut Ctx, base: &str, runs: Vec<RenameRun>) {
    for run in runs {
        let n = run.fields;
        let what = if n == 1 {
            "1 field".to_string()
        } else {
            format!("{n} fields")
        };
        let joined = |parts: &[String]| run.prefix.iter().chain(parts).cloned().collect::<Vec<_>>().join(".");
        let (path, message) = if run.src_part.is_empty() {
            let into = joined(&run.dst_part);
            (
                run.first_src.clone(),
                format!("moved into substruct \"{into}\" ({what}), renamed, same layout"),
            )
        } else if run.dst_part.is_empty() {
            let from = joined(&run.src_part);
            (
                from,
                format!(
                    "substruct dissolved on dst ({what}, first \"{}\"), renamed, same layout",
                    run.first_dst
                ),
            )
        } else if n == 1 {
            (
                run.first_src.clone(),
                format!("renamed to \"{}\", same layout", run.first_dst),
            )
        } else {
            let to = joined(&run.dst_part);
            (
                joined(&run.src_part),
                format!("renamed to \"{to}\" ({what}), same layout"),
            )
        };
        ctx.push(Severity::Info, FindingKind::Renamed, &format!("{base}{path}"), message);
    }
}

fn describe(leaf: &Leaf) -> String {
    match leaf.count {
        Count::Fixed(n) => format!("\"{}\" ({} x {} bytes)", leaf.path_string(), n, leaf.size),
        _ => format!("\"{}\" ({} bytes)", leaf.path_string(), leaf.size),
    }
}

/// Walk both flattened layouts position by position, the way the loader
/// consumes the stream.
fn compare_leaves(ctx: &mut Ctx, base: &str, s: &[Leaf], d: &[Leaf]) {
    let mut runs = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < s.len() && j < d.len() {
        let (a, b) = (&s[i], &d[j]);
        let at = format!("{base}{}", a.path_string());
        if a.size == b.size {
            if !a.count.compatible(b.count) {
                let message = format!("array length changes: {} on src, {} on dst", a.count, b.count);
                ctx.push(Severity::Break, FindingKind::ArrayLengthMismatch, &at, message);
            } else if let (Some(x), Some(y)) = (&a.outer, &b.outer) {
                if x != y {
                    let message = format!("enclosing struct array lengths change: {x:?} on src, {y:?} on dst");
                    ctx.push(Severity::Break, FindingKind::ArrayLengthMismatch, &at, message);
                }
            }
            if a.conditional != b.conditional {
                let side = if a.conditional { "src" } else { "dst" };
                let message = format!(
                    "only {side} decides at run time whether this field is sent (field_exists); \
                     the dump cannot tell whether both agree"
                );
                ctx.push(Severity::Info, FindingKind::RuntimeTest, &at, message);
            }
            if a.padding != b.padding {
                let message = if a.padding {
                    format!(
                        "{} bytes of padding became {} on dst, same byte count",
                        a.bytes(),
                        describe(b)
                    )
                } else {
                    format!("replaced by {} bytes of padding on dst, same byte count", b.bytes())
                };
                ctx.push(Severity::Info, FindingKind::PaddingReplaced, &at, message);
            } else if a.path != b.path {
                record_rename(&mut runs, i, a, b);
            }
            i += 1;
            j += 1;
            continue;
        }
        if a.padding || b.padding {
            if let Some((ni, nj)) = padding_span(s, d, i, j) {
                let message = if a.padding {
                    format!(
                        "{} bytes of padding replaced by {} field(s) on dst, same byte count",
                        a.bytes(),
                        nj - j
                    )
                } else {
                    format!(
                        "{} field(s) replaced by {} bytes of padding on dst, same byte count",
                        ni - i,
                        b.bytes()
                    )
                };
                ctx.push(Severity::Info, FindingKind::PaddingReplaced, &at, message);
                i = ni;
                j = nj;
                continue;
            }
        }
        if a.path == b.path {
            let message = format!("size changes from {} to {} bytes", a.size, b.size);
            ctx.push(Severity::Break, FindingKind::SizeMismatch, &at, message);
            i += 1;
            j += 1;
            continue;
        }
        // Re-synchronise on an exact path when fields were inserted or
        // removed, so later differences are still reported.
        if let Some(k) = d[j + 1..].iter().position(|x| x.path == a.path) {
            let message = format!(
                "dst reads {} field(s) src does not send, first {}, before {}",
                k + 1,
                describe(b),
                describe(a)
            );
            ctx.push(
                Severity::Break,
                FindingKind::FieldExtra,
                &format!("{base}{}", b.path_string()),
                message,
            );
            j += k + 1;
            continue;
        }
        if let Some(k) = s[i + 1..].iter().position(|x| x.path == b.path) {
            let message = format!("src sends {} field(s) dst does not read, first {}", k + 1, describe(a));
            ctx.push(Severity::Break, FindingKind::FieldMissing, &at, message);
            i += k + 1;
            continue;
        }
        let message = format!(
            "src sends {} where dst expects {}; the rest cannot be aligned",
            describe(a),
            describe(b)
        );
        ctx.push(Severity::Break, FindingKind::LayoutMismatch, &at, message);
        report_renames(ctx, base, runs);
        return;
    }
    // Trailing fields that are all behind a run-time test are the usual way
    // QEMU adds state tied to a machine-type property: not a provable break.
    if i < s.len() {
        let at = format!("{base}{}", s[i].path_string());
        let first = describe(&s[i]);
        if s[i..].iter().all(|l| l.conditional) {
            let message = format!(
                "src sends {} more field(s) only when a run-time test passes; dst does not read them, first {first}",
                s.len() - i
            );
            ctx.push(Severity::Info, FindingKind::RuntimeTest, &at, message);
        } else {
            let message = format!(
                "src sends {} more field(s) dst does not read, first {first}",
                s.len() - i
            );
            ctx.push(Severity::Break, FindingKind::FieldMissing, &at, message);
        }
    }
    if j < d.len() {
        let at = format!("{base}{}", d[j].path_string());
        let first = describe(&d[j]);
        if d[j..].iter().all(|l| l.conditional) {
            let message = format!(
                "dst reads {} more field(s) only when a run-time test passes; src never sends them, first {first}",
                d.len() - j
            );
            ctx.push(Severity::Info, FindingKind::RuntimeTest, &at, message);
        } else {
            let message = format!(
                "dst reads {} more field(s) src does not send at this version, first {first}",
                d.len() - j
            );
            ctx.push(Severity::Break, FindingKind::FieldExtra, &at, message);
        }
    }
    report_renames(ctx, base, runs);
}

/// When padding on one side covers several fields on the other, the leaf
/// positions just past the matching byte run on each side.
fn padding_span(s: &[Leaf], d: &[Leaf], i: usize, j: usize) -> Option<(usize, usize)> {
    let cover = |pad: u64, other: &[Leaf], start: usize| -> Option<usize> {
        let mut sum = 0u64;
        for (k, leaf) in other.iter().enumerate().skip(start) {
            sum = sum.saturating_add(leaf.bytes());
            if sum == pad {
                return Some(k + 1);
            }
            if sum > pad {
                return None;
            }
        }
        None
    };
    // Padding is a plain buffer: its size is its byte count in every dump
    // format. Without array lengths, the field facing the padding may be an
    // array that fills it alone, so that pairing is a candidate too.
    let mut candidates = Vec::new();
    if s[i].padding {
        candidates.extend(cover(s[i].bytes(), d, j).map(|nj| (i + 1, nj)));
        if d[j].count == Count::Unknown && d[j].size > 0 && s[i].bytes().is_multiple_of(d[j].size) {
            candidates.push((i + 1, j + 1));
        }
    }
    if d[j].padding {
        candidates.extend(cover(d[j].bytes(), s, i).map(|ni| (ni, j + 1)));
        if s[i].count == Count::Unknown && s[i].size > 0 && d[j].bytes().is_multiple_of(s[i].size) {
            candidates.push((i + 1, j + 1));
        }
    }
    // Keep the pairing after which the most fields line up again by name.
    let agreement = |(ni, nj): (usize, usize)| -> usize {
        let tail = s[ni..]
            .iter()
            .zip(&d[nj..])
            .take(4)
            .take_while(|(x, y)| x.path == y.path)
            .count();
        if ni + tail == s.len() && nj + tail == d.len() {
            usize::MAX
        } else {
            tail
        }
    };
    let mut best: Option<((usize, usize), usize)> = None;
    for c in candidates {
        let score = agreement(c);
        if best.is_none_or(|(_, b)| score > b) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_decode::vmstate::{load, parse};
    use serde_json::{json, Map, Value};
    use std::path::Path;

    fn field(name: &str, size: u64) -> Value {
        json!({"field": name, "version_id": 0, "field_exists": false, "size": size})
    }

    fn field_v(name: &str, size: u64, version_id: u32) -> Value {
        json!({"field": name, "version_id": version_id, "field_exists": false, "size": size})
    }

    fn field_test(name: &str, size: u64) -> Value {
        json!({"field": name, "version_id": 0, "field_exists": true, "size": size})
    }

    fn array(name: &str, size: u64, num: u32) -> Value {
        json!({"field": name, "version_id": 0, "field_exists": false, "num": num, "size": size})
    }

    fn strukt(name: &str, desc: Value) -> Value {
        json!({"field": name, "version_id": 0, "field_exists": false, "size": 999, "Description": desc})
    }

    fn desc(name: &str, version: u32, min: u32, fields: Vec<Value>, subs: Vec<Value>) -> Value {
        let mut d = json!({"name": name, "version_id": version, "minimum_version_id": min, "Fields": fields});
        if !subs.is_empty() {
            d["Subsections"] = Value::Array(subs);
        }
        d
    }

    /// A dump of `(QOM type, description)` sections for machine `m`.
    fn dump(sections: Vec<(&str, Value)>) -> VmstateDump {
        let mut top = Map::new();
        top.insert(MACHINE_KEY.to_string(), json!({"Name": "m"}));
        for (key, d) in sections {
            let entry = json!({"Name": key, "version_id": d["version_id"], "minimum_version_id": d["minimum_version_id"],
                "Description": d});
            top.insert(key.to_string(), entry);
        }
        match parse(&Value::Object(top).to_string()) {
            Ok(d) => d,
            Err(e) => panic!("test dump does not parse: {e}"),
        }
    }

    fn one(name: &str, version: u32, fields: Vec<Value>) -> VmstateDump {
        dump(vec![(name, desc(name, version, 1, fields, vec![]))])
    }

    /// `compare` without the dump-wide note that hand-written dumps without
    /// any array trigger.
    fn cmp(src: &VmstateDump, dst: &VmstateDump) -> Vec<Finding> {
        compare(src, dst)
            .into_iter()
            .filter(|f| f.kind != FindingKind::ArrayLengthsUnknown)
            .collect()
    }

    fn breaks(findings: &[Finding]) -> Vec<(FindingKind, String)> {
        findings
            .iter()
            .filter(|f| f.severity == Severity::Break)
            .map(|f| (f.kind, f.path.clone()))
            .collect()
    }

    fn of_kind(findings: &[Finding], kind: FindingKind) -> Vec<&Finding> {
        findings.iter().filter(|f| f.kind == kind).collect()
    }

    #[test]
    fn parse_reads_sections_fields_structs_and_subsections() {
        let inner = desc("inner", 3, 1, vec![field("x", 2)], vec![]);
        let sub = desc("dev/extra", 1, 1, vec![field("e", 8)], vec![]);
        let d = dump(vec![(
            "dev-type",
            desc(
                "dev",
                2,
                1,
                vec![
                    field("a", 4),
                    array("regs", 2, 10),
                    strukt("s", inner),
                    field("unused", 6),
                ],
                vec![sub],
            ),
        )]);
        assert_eq!(d.machine.as_deref(), Some("m"));
        assert!(d.records_array_lengths);
        let s = d.section("dev-type").expect("section parsed");
        assert_eq!(
            (s.vmsd_name.as_str(), s.version_id, s.minimum_version_id),
            ("dev", 2, 1)
        );
        assert_eq!(s.fields.len(), 4);
        assert_eq!((s.fields[1].num, s.fields[1].size), (Some(10), 2));
        match &s.fields[2].kind {
            FieldKind::Struct(inner) => assert_eq!(
                (inner.name.as_str(), inner.version_id, inner.fields.len()),
                ("inner", 3, 1)
            ),
            other => panic!("expected a struct, got {other:?}"),
        }
        assert_eq!(s.fields[3].kind, FieldKind::Padding);
        assert_eq!(s.subsections[0].name, "dev/extra");
        assert!(!one("x", 1, vec![field("a", 4)]).records_array_lengths);
    }

    #[test]
    fn parse_errors_say_where() {
        let bad_size = r#"{"dev": {"Name": "dev", "version_id": 1, "minimum_version_id": 1, "Description":
            {"name": "dev", "version_id": 1, "minimum_version_id": 1,
             "Fields": [{"field": "mac", "version_id": 0, "field_exists": false, "size": "4"}]}}}"#;
        let e = parse(bad_size).expect_err("string size must be refused");
        assert_eq!(e.location, r#"section "dev" > Description "dev" > Fields[0] "mac""#);
        assert!(e.message.contains("\"size\""), "{e}");
        let e = parse(r#"{"dev": {"Name": "dev"}}"#).expect_err("no Description");
        assert_eq!(e.to_string(), r#"section "dev": no "Description""#);
        let e = parse("[1").expect_err("not JSON");
        assert!(e.message.starts_with("not valid JSON"), "{e}");
        let mismatch =
            r#"{"dev": {"version_id": 2, "Description": {"name": "dev", "version_id": 1, "minimum_version_id": 1}}}"#;
        assert!(parse(mismatch).is_err());
        let e = load(Path::new("/nonexistent/dump.json")).expect_err("missing file");
        assert!(e.to_string().starts_with("/nonexistent/dump.json: cannot read"), "{e}");
    }

    #[test]
    fn identical_dumps_have_no_findings() {
        let a = one("dev", 1, vec![field("a", 4), field("b", 1)]);
        assert_eq!(cmp(&a, &a), vec![]);
    }

    #[test]
    fn missing_and_added_sections() {
        let src = dump(vec![("dev", desc("dev", 1, 1, vec![field("a", 4)], vec![]))]);
        let dst = dump(vec![("other", desc("other", 1, 1, vec![field("b", 8)], vec![]))]);
        let f = cmp(&src, &dst);
        assert_eq!(breaks(&f), vec![(FindingKind::SectionMissing, String::new())]);
        assert_eq!(f[0].section, "dev");
        let added = of_kind(&f, FindingKind::SectionAdded);
        assert_eq!(
            (added.len(), added[0].section.as_str(), added[0].severity),
            (1, "other", Severity::Info)
        );
    }

    #[test]
    fn versions_dst_cannot_accept() {
        let v3 = dump(vec![("dev", desc("dev", 3, 2, vec![field("a", 4)], vec![]))]);
        let v2 = dump(vec![("dev", desc("dev", 2, 1, vec![field("a", 4)], vec![]))]);
        assert_eq!(
            breaks(&cmp(&v3, &v2)),
            vec![(FindingKind::VersionTooNew, String::new())]
        );
        let v1 = dump(vec![("dev", desc("dev", 1, 1, vec![field("a", 4)], vec![]))]);
        assert_eq!(
            breaks(&cmp(&v1, &v3)),
            vec![(FindingKind::BelowMinimumVersion, String::new())]
        );
        assert_eq!(breaks(&cmp(&v2, &v3)), vec![]);
    }

    #[test]
    fn field_size_removal_and_insertion() {
        let base = one("dev", 1, vec![field("a", 4), field("b", 4), field("c", 2)]);
        let resized = one("dev", 1, vec![field("a", 4), field("b", 8), field("c", 2)]);
        assert_eq!(
            breaks(&cmp(&base, &resized)),
            vec![(FindingKind::SizeMismatch, "b".to_string())]
        );
        let removed = one("dev", 1, vec![field("a", 4), field("c", 2)]);
        assert_eq!(
            breaks(&cmp(&base, &removed)),
            vec![(FindingKind::FieldMissing, "b".to_string())]
        );
        assert_eq!(
            breaks(&cmp(&removed, &base)),
            vec![(FindingKind::FieldExtra, "b".to_string())]
        );
        let appended = one(
            "dev",
            1,
            vec![field("a", 4), field("b", 4), field("c", 2), field("d", 1)],
        );
        assert_eq!(
            breaks(&cmp(&base, &appended)),
            vec![(FindingKind::FieldExtra, "d".to_string())]
        );
        assert_eq!(
            breaks(&cmp(&appended, &base)),
            vec![(FindingKind::FieldMissing, "d".to_string())]
        );
        let other = one("dev", 1, vec![field("a", 4), field("x", 2), field("y", 1)]);
        assert_eq!(
            breaks(&cmp(&base, &other)),
            vec![(FindingKind::LayoutMismatch, "b".to_string())]
        );
    }

    #[test]
    fn version_gated_field_follows_the_stream_version() {
        let old = one("dev", 1, vec![field("a", 4)]);
        let new = one("dev", 2, vec![field("a", 4), field_v("b", 4, 2)]);
        // dst reads only the fields of version 1, which is what src sends.
        assert_eq!(cmp(&old, &new), vec![]);
        assert_eq!(
            breaks(&cmp(&new, &old)),
            vec![(FindingKind::VersionTooNew, String::new())]
        );
    }

    #[test]
    fn nested_struct_versions_are_not_on_the_wire() {
        let inner_v1 = desc("inner", 1, 1, vec![field("x", 4)], vec![]);
        let inner_v2 = desc("inner", 2, 1, vec![field("x", 4), field_v("y", 4, 2)], vec![]);
        let src = one("dev", 1, vec![strukt("s", inner_v1)]);
        let dst = one("dev", 1, vec![strukt("s", inner_v2)]);
        // dst loads the struct at its own version 2 and expects y.
        assert_eq!(
            breaks(&cmp(&src, &dst)),
            vec![(FindingKind::FieldExtra, "s.y".to_string())]
        );
    }

    #[test]
    fn renamed_field_with_same_layout_is_info() {
        let src = one("dev", 1, vec![field("a", 4), field("old_name", 2), field("c", 1)]);
        let dst = one("dev", 1, vec![field("a", 4), field("new_name", 2), field("c", 1)]);
        let f = cmp(&src, &dst);
        assert_eq!(breaks(&f), vec![]);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].kind, f[0].severity, f[0].path.as_str()),
            (FindingKind::Renamed, Severity::Info, "old_name")
        );
        assert_eq!(f[0].message, "renamed to \"new_name\", same layout");
    }

    #[test]
    fn renamed_struct_is_one_finding() {
        let pci = || {
            desc(
                "PCIDevice",
                2,
                1,
                vec![field("version_id", 4), field("config", 256)],
                vec![],
            )
        };
        let src = one("dev", 1, vec![strukt("dev", pci()), field("x", 4)]);
        let dst = one("dev", 1, vec![strukt("parent_obj", pci()), field("x", 4)]);
        let f = cmp(&src, &dst);
        assert_eq!(breaks(&f), vec![]);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].kind, f[0].path.as_str()), (FindingKind::Renamed, "dev"));
        assert_eq!(f[0].message, "renamed to \"parent_obj\" (2 fields), same layout");
    }

    #[test]
    fn fields_moved_into_a_substruct_keep_the_layout() {
        let flat = one(
            "dev",
            1,
            vec![field("a", 4), field("b", 8), field("c", 1), field("d", 2)],
        );
        let sub = desc("regs", 1, 1, vec![field("b", 8), field("c", 1)], vec![]);
        let nested = one("dev", 1, vec![field("a", 4), strukt("regs", sub), field("d", 2)]);
        let f = cmp(&flat, &nested);
        assert_eq!(breaks(&f), vec![]);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].kind, f[0].path.as_str()), (FindingKind::Renamed, "b"));
        assert_eq!(
            f[0].message,
            "moved into substruct \"regs\" (2 fields), renamed, same layout"
        );
        // The way back (a newer source talking to an older destination).
        let back = cmp(&nested, &flat);
        assert_eq!(breaks(&back), vec![]);
        assert_eq!((back.len(), back[0].path.as_str()), (1, "regs"));
        // A substruct that also changes a size is not a rename.
        let sub_resized = desc("regs", 1, 1, vec![field("b", 4), field("c", 1)], vec![]);
        let resized = one(
            "dev",
            1,
            vec![field("a", 4), strukt("regs", sub_resized), field("d", 2)],
        );
        assert_eq!(
            breaks(&cmp(&flat, &resized)),
            vec![(FindingKind::LayoutMismatch, "b".to_string())]
        );
    }

    #[test]
    fn renamed_section_with_same_layout_is_info() {
        let layout = || vec![field("a", 4), field("b", 2)];
        let src = dump(vec![("ICH9 LPC", desc("ICH9LPC", 1, 1, layout(), vec![]))]);
        let dst = dump(vec![("ICH9-LPC", desc("ICH9LPC", 1, 1, layout(), vec![]))]);
        let f = cmp(&src, &dst);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].kind, f[0].severity, f[0].section.as_str()),
            (FindingKind::SectionRenamed, Severity::Info, "ICH9 LPC")
        );
        assert!(f[0].message.contains("\"ICH9-LPC\""), "{}", f[0].message);
        // The description name is part of the wire section id: same layout
        // under another description name still breaks.
        let renamed_vmsd = dump(vec![("ICH9-LPC", desc("ICH9-LPC", 1, 1, layout(), vec![]))]);
        assert_eq!(
            breaks(&cmp(&src, &renamed_vmsd)),
            vec![(FindingKind::SectionIdChanged, String::new())]
        );
        // A renamed type whose layout changed is compared field by field.
        let changed = dump(vec![(
            "ICH9-LPC",
            desc("ICH9LPC", 1, 1, vec![field("a", 4), field("b", 4)], vec![]),
        )]);
        assert_eq!(
            breaks(&cmp(&src, &changed)),
            vec![(FindingKind::SizeMismatch, "b".to_string())]
        );
    }

    #[test]
    fn subsections_missing_added_and_versioned() {
        let sub = |v: u32, min: u32| desc("dev/extra", v, min, vec![field("e", 8)], vec![]);
        let plain = dump(vec![("dev", desc("dev", 1, 1, vec![field("a", 4)], vec![]))]);
        let with = |v, min| dump(vec![("dev", desc("dev", 1, 1, vec![field("a", 4)], vec![sub(v, min)]))]);
        assert_eq!(
            breaks(&cmp(&with(1, 1), &plain)),
            vec![(FindingKind::SubsectionMissing, "dev/extra/".to_string())]
        );
        let added = cmp(&plain, &with(1, 1));
        assert_eq!(added.len(), 1);
        assert_eq!(
            (added[0].kind, added[0].severity),
            (FindingKind::SubsectionAdded, Severity::Info)
        );
        assert_eq!(
            breaks(&cmp(&with(2, 1), &with(1, 1))),
            vec![(FindingKind::VersionTooNew, "dev/extra/".to_string())]
        );
        assert_eq!(
            breaks(&cmp(&with(1, 1), &with(2, 2))),
            vec![(FindingKind::BelowMinimumVersion, "dev/extra/".to_string())]
        );
        // Subsections of nested structs are found too.
        let nested = |subs| {
            one(
                "dev",
                1,
                vec![strukt("s", desc("inner", 1, 1, vec![field("x", 1)], subs))],
            )
        };
        let f = cmp(&nested(vec![sub(1, 1)]), &nested(vec![]));
        assert_eq!(
            breaks(&f),
            vec![(FindingKind::SubsectionMissing, "dev/extra/".to_string())]
        );
    }

    #[test]
    fn array_lengths_compared_only_when_both_dumps_record_them() {
        let five = one("dev", 1, vec![array("regs", 4, 5)]);
        let six = one("dev", 1, vec![array("regs", 4, 6)]);
        assert_eq!(
            breaks(&compare(&five, &six)),
            vec![(FindingKind::ArrayLengthMismatch, "regs".to_string())]
        );
        let struct_array = |n| {
            let elem = desc("elem", 1, 1, vec![field("x", 4)], vec![]);
            one(
                "dev",
                1,
                vec![
                    json!({"field": "ports", "version_id": 0, "field_exists": false, "num": n, "size": 80,
                "Description": elem}),
                ],
            )
        };
        assert_eq!(
            breaks(&compare(&struct_array(2), &struct_array(4))),
            vec![(FindingKind::ArrayLengthMismatch, "ports.x".to_string())]
        );
        // A pre-8.1 dump has no `num`: the same field cannot be checked.
        let old = one("dev", 1, vec![field("regs", 4)]);
        let f = compare(&old, &six);
        assert_eq!(breaks(&f), vec![]);
        assert_eq!(
            f.iter().map(|f| f.kind).collect::<Vec<_>>(),
            vec![FindingKind::ArrayLengthsUnknown]
        );
    }

    #[test]
    fn padding_that_covers_the_same_bytes_is_info() {
        let fields = one(
            "dev",
            1,
            vec![field("irq", 4), field("dma", 4), field("port", 4), field("next", 1)],
        );
        let padded = one("dev", 1, vec![field("unused", 12), field("next", 1)]);
        let f = cmp(&fields, &padded);
        assert_eq!(breaks(&f), vec![]);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].kind, f[0].path.as_str()), (FindingKind::PaddingReplaced, "irq"));
        assert_eq!(breaks(&cmp(&padded, &fields)), vec![]);
        let short = one("dev", 1, vec![field("unused", 10), field("next", 1)]);
        assert!(!breaks(&cmp(&fields, &short)).is_empty());
    }

    #[test]
    fn run_time_tests_are_info() {
        let base = one("dev", 1, vec![field("a", 4)]);
        let tested = one("dev", 1, vec![field("a", 4), field_test("t", 8)]);
        let f = cmp(&base, &tested);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].kind, f[0].severity, f[0].path.as_str()),
            (FindingKind::RuntimeTest, Severity::Info, "t")
        );
        let cond = one("dev", 1, vec![field_test("a", 4)]);
        let f = cmp(&base, &cond);
        assert_eq!((f.len(), f[0].kind), (1, FindingKind::RuntimeTest));
        // A field with a test ignores its version_id, as QEMU does.
        let gated = one(
            "dev",
            1,
            vec![
                field("a", 4),
                json!({"field": "t", "version_id": 9, "field_exists": true, "size": 8}),
            ],
        );
        assert_eq!(cmp(&tested, &gated), vec![]);
    }

    #[test]
    fn finding_display_names_section_and_path() {
        let f = Finding {
            severity: Severity::Break,
            kind: FindingKind::SizeMismatch,
            section: "e1000".to_string(),
            path: "mac_reg".to_string(),
            message: "size changes from 4 to 8 bytes".to_string(),
        };
        assert_eq!(f.to_string(), "[break] e1000 mac_reg: size changes from 4 to 8 bytes");
    }

    // Real dumps: `qemu-system-x86_64 -M pc-q35-7.2 -accel tcg -display none
    // -dump-vmstate FILE` from Debian's QEMU 7.2.22 and 10.0.2 builds, with
    // QEMU_MODULE_DIR pointing at each build's modules (tests/data/vmstate/README.md).
    fn real(version: &str) -> VmstateDump {
        let path = format!(
            "{}/tests/data/vmstate/qemu-{version}-pc-q35-7.2.json",
            concat!(env!("CARGO_MANIFEST_DIR"), "/..")
        );
        match load(Path::new(&path)) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    fn triples(findings: &[Finding], severity: Severity) -> Vec<(String, FindingKind, String)> {
        let mut v: Vec<_> = findings
            .iter()
            .filter(|f| f.severity == severity && f.kind != FindingKind::SectionAdded)
            .map(|f| (f.section.clone(), f.kind, f.path.clone()))
            .collect();
        v.sort();
        v
    }

    fn t(section: &str, kind: FindingKind, path: &str) -> (String, FindingKind, String) {
        (section.to_string(), kind, path.to_string())
    }

    #[test]
    fn real_dumps_parse() {
        let (old, new) = (real("7.2"), real("10.0"));
        assert_eq!(
            (old.machine.as_deref(), new.machine.as_deref()),
            (Some("pc-q35-7.2"), Some("pc-q35-7.2"))
        );
        assert_eq!((old.sections.len(), new.sections.len()), (207, 222));
        // `num` for arrays appeared in QEMU 8.1.
        assert_eq!((old.records_array_lengths, new.records_array_lengths), (false, true));
        let hpet = new.section("hpet").expect("hpet in 10.0");
        assert_eq!(
            (hpet.vmsd_name.as_str(), hpet.version_id, hpet.minimum_version_id),
            ("hpet", 2, 1)
        );
        assert_eq!(hpet.fields[3].name, "num_timers_save");
        let esp = old.section("am53c974").expect("am53c974 in 7.2");
        match &esp.fields[3].kind {
            FieldKind::Struct(d) => assert_eq!(
                (d.name.as_str(), d.version_id, d.subsections[0].name.as_str()),
                ("esp", 6, "esp/pdma")
            ),
            other => panic!("esp is not a struct: {other:?}"),
        }
    }

    #[test]
    fn real_7_2_to_10_0() {
        use FindingKind::*;
        let f = compare(&real("7.2"), &real("10.0"));
        let mut expected_breaks = vec![
            t("am53c974", FieldExtra, "esp.drq_state"),
            t("am53c974", SubsectionMissing, "esp/pdma/"),
            t("dc390", FieldExtra, "esp.drq_state"),
            t("dc390", SubsectionMissing, "esp/pdma/"),
            t("sysbus-ahci", SectionMissing, ""),
            t("sysbus-esp", FieldExtra, "esp.drq_state"),
            t("sysbus-esp", SubsectionMissing, "esp/pdma/"),
            t("vhost-user-fs-device", FieldExtra, "virtio"),
        ];
        expected_breaks.sort();
        assert_eq!(triples(&f, Severity::Break), expected_breaks);
        let info = triples(&f, Severity::Info);
        for expected in [
            t("hpet", Renamed, "num_timers"),
            t("acpi-ged", Renamed, "acpi-ged/ghes/ghes_state.ghes_addr_le"),
            t("am53c974", Renamed, "esp.data_in_ready"),
            t("e1000e", PaddingReplaced, "core.itr_intr_pending"),
            t("e1000e", PaddingReplaced, "core.eitr_intr_pending"),
            t("e1000e", RuntimeTest, "core.timadj"),
            t("sb16", PaddingReplaced, "irq"),
            t("sd-card", PaddingReplaced, "enable"),
            t("pci-piix3", SectionRenamed, ""),
            t("PIIX3-xen", SectionRenamed, ""),
            t("acpi-ged-x86", SectionRenamed, ""),
            t("serial-mm", SectionRenamed, ""),
            t("virtio-vga-gl", SectionRenamed, ""),
            t("isa-i8259", SubsectionAdded, "i8259/ltim/"),
            t("vmschkmachine", ArrayLengthsUnknown, ""),
        ] {
            assert!(info.contains(&expected), "missing {expected:?}");
        }
        assert_eq!(info.len(), 27);
        assert_eq!(of_kind(&f, SectionAdded).len(), 22);
        let hpet = f.iter().find(|x| x.section == "hpet").expect("hpet finding");
        assert_eq!(hpet.message, "renamed to \"num_timers_save\", same layout");
    }

    #[test]
    fn real_10_0_to_7_2() {
        use FindingKind::*;
        let f = compare(&real("10.0"), &real("7.2"));
        let broken = triples(&f, Severity::Break);
        let mut expected = vec![
            t("acpi-ged", SubsectionMissing, "acpi-ged/cpuhp/"),
            t("am53c974", FieldMissing, "esp.drq_state"),
            t("dc390", FieldMissing, "esp.drq_state"),
            t("isa-i8259", SubsectionMissing, "i8259/ltim/"),
            t("kvm-i8259", SubsectionMissing, "i8259/ltim/"),
            t("pic-common", SubsectionMissing, "i8259/ltim/"),
            t("sd-card", SubsectionMissing, "sd-card/ext_csd_modes-state/"),
            t("sysbus-esp", FieldMissing, "esp.drq_state"),
            t("vhost-user-fs-device", FieldMissing, "virtio"),
            t("vhost-user-fs-device", SubsectionMissing, "vhost-user-fs-backend/"),
            t("virtio-gpu-device", SubsectionMissing, "virtio-gpu/blob/"),
        ];
        for missing in [
            "emmc",
            "igb",
            "piix3-ide",
            "piix4-ide",
            "piix4-isa",
            "ramfb",
            "sd-card-spi",
            "sdmmc-common",
            "uefi-vars-sysbus",
            "uefi-vars-x64",
            "ufs",
            "vhost-user-device",
            "vhost-user-snd",
            "vhost-vdpa-device",
            "virtio-sound-device",
            "vmclock",
            "xen-evtchn",
            "xen-gnttab",
            "xen-overlay",
            "xen-platform",
            "xen-xenstore",
        ] {
            expected.push(t(missing, SectionMissing, ""));
        }
        expected.sort();
        assert_eq!(broken, expected);
        let info = triples(&f, Severity::Info);
        assert_eq!(info.len(), 18);
        assert!(info.contains(&t("virtio-multitouch-device", SectionRenamed, "")));
        assert!(info.contains(&t("hpet", Renamed, "num_timers_save")));
        assert!(info.contains(&t("am53c974", SubsectionAdded, "esp/pdma/")));
    }
}
