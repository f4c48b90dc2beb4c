//! Waivers: reviewed, intentional drift, recorded in `waivers.toml` of the
//! database (and extra files given with `--waivers`).
//!
//! ```toml
//! [[waiver]]
//! id = "madt-revision-3"
//! machines = ["pc-q35-7.2", "pc-i440fx-7.2"]
//! rule = "acpi-table-revision"          # rule id, and/or
//! path = "acpi.APIC.header.revision"    # fact path glob (* and ? only)
//! since = "8.0"                         # QEMU versions checked (inclusive)
//! until = "10.0"                        # optional; 10.0 covers 10.0.x
//! baseline_until = "10.0"               # optional: only against baselines recorded up to this release
//! old = "1"                             # optional, exact
//! new = "3"                             # optional, exact
//! renames = [["GSI0", "L000"]]          # optional: new is old with these renamed, all at once
//! probe = "linux"                       # optional: only observations of this probe kind
//! reason = "MADT revision raised to 3 for all machine types (ACPI 6.x)"
//! link = "https://…"                    # optional
//! ```
//!
//! A waiver is strict by construction: it names machine types, a selector
//! and a reason. Unknown keys, empty reasons and selectors that cannot
//! match any fact are load errors naming the file and line.
//!
//! `renames` pins the values of a change that differs from fact to fact
//! but is always the same rename (the rows of a `_PRT` that name moved link
//! devices): the drift must have both values, and `old` with every
//! `[from, to]` pair replaced, in the order given, must be `new` exactly,
//! so a row whose slot or pin changed as well is not accepted.

use crate::rules;
use abi_model::drift::{Category, Drift};
use abi_model::glob::glob_match;
use abi_model::{MachineType, Version};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The database's own waiver file.
pub const WAIVERS_FILE: &str = "waivers.toml";

/// A waiver file that cannot be used.
#[derive(Debug)]
pub struct WaiverError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for WaiverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for WaiverError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    waiver: Vec<Spanned<RawWaiver>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    id: Spanned<String>,
    machines: Spanned<Vec<String>>,
    #[serde(default)]
    profiles: Vec<String>,
    rule: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    since: Option<Spanned<String>>,
    until: Option<Spanned<String>>,
    baseline_until: Option<Spanned<String>>,
    old: Option<String>,
    new: Option<String>,
    renames: Option<Spanned<Vec<[String; 2]>>>,
    probe: Option<Spanned<String>>,
    reason: Spanned<String>,
    link: Option<String>,
}

/// One waiver, validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Waiver {
    /// Unique id, referred to by reports.
    pub id: String,
    /// Machine type globs.
    pub machines: Vec<String>,
    /// Profile names (empty: every profile).
    pub profiles: Vec<String>,
    /// Rule id the drift must have.
    pub rule: Option<String>,
    /// Glob over the drift's fact path.
    pub path: Option<String>,
    /// First QEMU version (of the build checked) the waiver applies to.
    pub since: Option<Version>,
    /// Last QEMU version it applies to; `10.0` covers `10.0.x`.
    pub until: Option<Version>,
    /// Last QEMU version of the baseline record it applies to (`10.0`
    /// covers `10.0.x`): a change accepted against old baselines is not
    /// accepted against the records of later releases.
    pub baseline_until: Option<Version>,
    /// Exact baseline value.
    pub old: Option<String>,
    /// Exact observed value.
    pub new: Option<String>,
    /// `[from, to]` substrings: the observed value must be the baseline
    /// value with each replaced, in turn (empty: no such constraint).
    pub renames: Vec<[String; 2]>,
    /// Only observations made by this probe (a change that exists because
    /// of how that probe boots, e.g. the Linux kernel in fw_cfg).
    pub probe: Option<abi_model::provenance::ProbeKind>,
    /// Why the change is accepted.
    pub reason: String,
    /// Commit, thread or bug.
    pub link: Option<String>,
    /// File it was read from.
    #[serde(skip)]
    pub file: PathBuf,
    /// Line of its `[[waiver]]` header.
    #[serde(skip)]
    pub line: usize,
}

/// Line numbers of byte offsets, in O(log n) each: a waiver file of
/// thousands of waivers must not cost a scan per waiver.
struct Lines(Vec<usize>);

impl Lines {
    fn of(text: &str) -> Lines {
        Lines(text.match_indices('\n').map(|(i, _)| i).collect())
    }

    /// 1-based line of `offset`.
    fn at(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

/// Why a path glob can never match a fact path: an unbalanced quote, or a
/// segment that fact paths always quote (`pci."0000:00:02.0"`) written
/// without quotes. Segments with wildcards may stand for anything.
fn path_syntax(pattern: &str) -> Option<String> {
    if !pattern.matches('"').count().is_multiple_of(2) {
        return Some("has an unbalanced '\"'".into());
    }
    let mut quoted = false;
    let mut seg = String::new();
    let mut segs = Vec::new();
    for c in pattern.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' | '[' | ']' if !quoted => segs.push(std::mem::take(&mut seg)),
            _ if quoted => {}
            c => seg.push(c),
        }
    }
    segs.push(seg);
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-=*?".contains(&b));
    segs.into_iter().find(|s| !s.is_empty() && !plain(s)).map(|s| {
        format!("has the unquoted segment {s:?}; fact paths quote such names (write \"{s}…\" in quotes, as `machine-abi show` prints them)")
    })
}

/// The fact categories a path can start with.
const PATH_ROOTS: &[&str] = &[
    "acpi",
    "pci",
    "smbios",
    "cpuid",
    "memory_map",
    "fw_cfg",
    "virtio",
    "device_tree",
    "host",
    "machine",
];

fn version_key(v: &Spanned<String>, file: &Path, lines: &Lines) -> Result<Version, WaiverError> {
    Version::parse(v.get_ref()).ok_or_else(|| WaiverError {
        file: file.to_path_buf(),
        line: Some(lines.at(v.span().start)),
        message: format!("{:?} is not a QEMU version (like 8.0 or 10.0.2)", v.get_ref()),
    })
}

/// `v` is at most `until` (no bound: always), comparing only as many
/// components as `until` has: 10.0 covers 10.0.2.
fn up_to(until: Option<&Version>, v: &Version) -> bool {
    until.is_none_or(|u| v.truncated(u.parts().len()) <= *u)
}

impl Waiver {
    /// True when the waiver applies to checks of QEMU `v`.
    pub fn covers_version(&self, v: &Version) -> bool {
        self.since.as_ref().is_none_or(|s| v >= s) && up_to(self.until.as_ref(), v)
    }

    /// True when the waiver applies to drift against a baseline recorded
    /// by QEMU `v`.
    pub fn covers_baseline(&self, v: &Version) -> bool {
        up_to(self.baseline_until.as_ref(), v)
    }

    /// True when the waiver applies to this (machine type, profile).
    pub fn covers_machine(&self, machine: &MachineType, profile: &str) -> bool {
        self.machines.iter().any(|g| glob_match(g, &machine.0))
            && (self.profiles.is_empty() || self.profiles.iter().any(|p| p == profile))
    }

    /// True when the waiver applies to an observation of this probe kind
    /// (`None`: nothing was booted, which only a waiver for any probe covers).
    pub fn covers_probe(&self, probe: Option<abi_model::provenance::ProbeKind>) -> bool {
        self.probe.is_none() || self.probe == probe
    }

    /// True when the drift is one this waiver accepts (machine, profile and
    /// version already checked).
    pub fn matches(&self, d: &Drift) -> bool {
        self.rule.as_ref().is_none_or(|r| *r == d.rule)
            && self.path.as_ref().is_none_or(|p| glob_match(p, d.path.as_str()))
            && self.old.as_ref().is_none_or(|o| Some(o) == d.old.as_ref())
            && self.new.as_ref().is_none_or(|n| Some(n) == d.new.as_ref())
            && (self.renames.is_empty() || self.renamed(d))
    }

    /// True when the drift's new value is its old value with the renames
    /// applied at once, left to right, the longest `from` first where two
    /// start at one place (both values present). At once: with
    /// `[A, B]` and `[B, C]`, `A` may become `B`, never `C`.
    fn renamed(&self, d: &Drift) -> bool {
        let (Some(old), Some(new)) = (&d.old, &d.new) else {
            return false;
        };
        let mut v = String::with_capacity(old.len());
        let mut rest = old.as_str();
        while let Some(c) = rest.chars().next() {
            let hit = self
                .renames
                .iter()
                .filter(|[from, _]| rest.starts_with(from.as_str()))
                .max_by_key(|[from, _]| from.len());
            match hit {
                Some([from, to]) => {
                    v.push_str(to);
                    rest = &rest[from.len()..];
                }
                None => {
                    v.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        v == *new
    }
}

/// Every waiver in force for a check.
#[derive(Clone, Debug, Default)]
pub struct Waivers {
    /// In file order.
    pub list: Vec<Waiver>,
}

impl Waivers {
    /// Parse one waiver file's text. `known_machines` are the machine types
    /// of the database: a waiver whose globs match none of them is an error.
    pub fn parse(text: &str, file: &Path, known_machines: &[MachineType]) -> Result<Waivers, WaiverError> {
        let err = |line: Option<usize>, message: String| WaiverError {
            file: file.to_path_buf(),
            line,
            message,
        };
        let lines = Lines::of(text);
        let doc: FileDoc = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| lines.at(s.start));
            // The toml message repeats the source line; keep its first line only.
            let msg = e.message().lines().next().unwrap_or("invalid TOML").to_string();
            err(line, msg)
        })?;
        let mut list: Vec<Waiver> = Vec::new();
        let mut ids: HashMap<String, usize> = HashMap::new();
        for w in doc.waiver {
            let line = lines.at(w.span().start);
            let raw = w.into_inner();
            let at = |s: &std::ops::Range<usize>| Some(lines.at(s.start));
            let id = raw.id.get_ref().trim().to_string();
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
                return Err(err(
                    at(&raw.id.span()),
                    format!("waiver id {id:?} must be non-empty letters, digits, '-', '_' or '.'"),
                ));
            }
            if let Some(first) = ids.get(&id) {
                return Err(err(
                    at(&raw.id.span()),
                    format!("duplicate waiver id {id:?} (first at line {first})"),
                ));
            }
            ids.insert(id.clone(), line);
            if raw.reason.get_ref().trim().is_empty() {
                return Err(err(
                    at(&raw.reason.span()),
                    format!("waiver {id:?} has an empty reason; say why the change is accepted"),
                ));
            }
            if raw.machines.get_ref().is_empty() {
                return Err(err(
                    at(&raw.machines.span()),
                    format!("waiver {id:?} names no machine types"),
                ));
            }
            if !known_machines.is_empty() {
                for g in raw.machines.get_ref() {
                    if !known_machines.iter().any(|m| glob_match(g, &m.0)) {
                        return Err(err(
                            at(&raw.machines.span()),
                            format!("waiver {id:?}: machine glob {g:?} matches no machine type in the database"),
                        ));
                    }
                }
            }
            if raw.rule.is_none() && raw.path.is_none() {
                return Err(err(
                    Some(line),
                    format!("waiver {id:?} has no fact selector: give `rule`, `path` or both"),
                ));
            }
            let rule = match &raw.rule {
                Some(r) => {
                    let Some(found) = rules::rule(r.get_ref()) else {
                        return Err(err(
                            at(&r.span()),
                            format!(
                                "waiver {id:?}: no rule {:?} (`machine-abi explain` lists them)",
                                r.get_ref()
                            ),
                        ));
                    };
                    Some(found)
                }
                None => None,
            };
            if let Some(p) = &raw.path {
                if let Some(why) = path_syntax(p.get_ref()) {
                    return Err(err(
                        at(&p.span()),
                        format!("waiver {id:?}: path {:?} cannot match any fact: it {why}", p.get_ref()),
                    ));
                }
                let root = p.get_ref().split(['.', '[']).next().unwrap_or("");
                let root_ok = PATH_ROOTS.iter().any(|r| glob_match(root, r));
                if !root_ok {
                    return Err(err(
                        at(&p.span()),
                        format!(
                            "waiver {id:?}: path {:?} cannot match any fact (paths start with one of {})",
                            p.get_ref(),
                            PATH_ROOTS.join(", ")
                        ),
                    ));
                }
                if let Some(r) = rule {
                    let cat = category_root(r.category);
                    if !root.contains('*') && cat.is_some_and(|c| c != root) {
                        return Err(err(
                            at(&p.span()),
                            format!(
                                "waiver {id:?}: rule {} is about {} facts, path {:?} is not; the waiver cannot match",
                                r.id,
                                r.category,
                                p.get_ref()
                            ),
                        ));
                    }
                }
            }
            let probe = match &raw.probe {
                Some(p) => Some(
                    p.get_ref()
                        .parse()
                        .map_err(|e| err(at(&p.span()), format!("waiver {id:?}: {e}")))?,
                ),
                None => None,
            };
            if let Some(r) = &raw.renames {
                if r.get_ref().is_empty() || r.get_ref().iter().any(|[from, _]| from.is_empty()) {
                    return Err(err(
                        at(&r.span()),
                        format!("waiver {id:?}: renames must be a non-empty list of [from, to] with a non-empty from"),
                    ));
                }
            }
            let since = raw.since.as_ref().map(|v| version_key(v, file, &lines)).transpose()?;
            let until = raw.until.as_ref().map(|v| version_key(v, file, &lines)).transpose()?;
            let baseline_until = raw
                .baseline_until
                .as_ref()
                .map(|v| version_key(v, file, &lines))
                .transpose()?;
            if let (Some(s), Some(u), Some(span)) = (&since, &until, &raw.until) {
                if !up_to(Some(u), s) {
                    return Err(err(
                        at(&span.span()),
                        format!("waiver {id:?}: until {u} is before since {s}; it could never apply"),
                    ));
                }
            }
            list.push(Waiver {
                id,
                machines: raw.machines.into_inner(),
                profiles: raw.profiles,
                rule: raw.rule.map(Spanned::into_inner),
                path: raw.path.map(Spanned::into_inner),
                since,
                until,
                baseline_until,
                old: raw.old,
                new: raw.new,
                renames: raw.renames.map(Spanned::into_inner).unwrap_or_default(),
                probe,
                reason: raw.reason.into_inner().trim().to_string(),
                link: raw.link,
                file: file.to_path_buf(),
                line,
            });
        }
        Ok(Waivers { list })
    }

    /// Load a waiver file; a missing file is no waivers.
    pub fn load(file: &Path, known_machines: &[MachineType]) -> Result<Waivers, WaiverError> {
        match std::fs::read_to_string(file) {
            Ok(text) => Waivers::parse(&text, file, known_machines),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Waivers::default()),
            Err(e) => Err(WaiverError {
                file: file.to_path_buf(),
                line: None,
                message: e.to_string(),
            }),
        }
    }

    /// Add another file's waivers; ids must stay unique.
    pub fn merge(&mut self, other: Waivers) -> Result<(), WaiverError> {
        for w in other.list {
            if let Some(prev) = self.list.iter().find(|p| p.id == w.id) {
                return Err(WaiverError {
                    file: w.file.clone(),
                    line: Some(w.line),
                    message: format!(
                        "duplicate waiver id {:?} (also in {}:{})",
                        w.id,
                        prev.file.display(),
                        prev.line
                    ),
                });
            }
            self.list.push(w);
        }
        Ok(())
    }

    /// The first waiver that accepts `d` on `machine` with `profile`,
    /// observed by `probe`, when checking QEMU `v` against a baseline
    /// recorded by QEMU `baseline`.
    pub fn find(
        &self,
        machine: &MachineType,
        profile: &str,
        probe: Option<abi_model::provenance::ProbeKind>,
        d: &Drift,
        v: &Version,
        baseline: &Version,
    ) -> Option<&Waiver> {
        self.list.iter().find(|w| {
            w.covers_version(v)
                && w.covers_baseline(baseline)
                && w.covers_machine(machine, profile)
                && w.covers_probe(probe)
                && w.matches(d)
        })
    }
}

/// The first segment of fact paths a rule category is about.
fn category_root(c: Category) -> Option<&'static str> {
    Some(match c {
        Category::Acpi => "acpi",
        Category::Pci => "pci",
        Category::Smbios => "smbios",
        Category::Cpuid => "cpuid",
        Category::MemoryMap => "memory_map",
        Category::FwCfg => "fw_cfg",
        Category::Virtio => "virtio",
        Category::HostSide => "host",
        Category::Machine => "machine",
        // Both the guest's `device_tree` and the host's `host.device_tree`.
        Category::Probe | Category::DeviceTree => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machines() -> Vec<MachineType> {
        ["pc-q35-7.2", "pc-i440fx-7.2", "pc-q35-7.1"]
            .iter()
            .map(|m| MachineType(m.to_string()))
            .collect()
    }

    fn parse(text: &str) -> Result<Waivers, WaiverError> {
        Waivers::parse(text, Path::new("waivers.toml"), &machines())
    }

    const GOOD: &str = r#"
[[waiver]]
id = "madt-revision"
machines = ["pc-q35-7.*"]
rule = "acpi-table-revision"
path = "acpi.APIC.header.revision"
since = "8.0"
until = "10.0"
old = "1"
new = "3"
reason = "MADT revision 3 since QEMU 8.0"
link = "https://example.invalid/commit"
"#;

    #[test]
    fn parses_a_good_file() {
        let w = parse(GOOD).expect("valid");
        assert_eq!(w.list.len(), 1);
        let w = &w.list[0];
        assert_eq!(w.id, "madt-revision");
        assert_eq!(w.line, 2);
        assert!(w.covers_version(&Version::parse("10.0.2").expect("v")));
        assert!(w.covers_version(&Version::parse("8.0").expect("v")));
        assert!(!w.covers_version(&Version::parse("7.2.22").expect("v")));
        assert!(!w.covers_version(&Version::parse("10.1").expect("v")));
        assert!(w.covers_machine(&MachineType("pc-q35-7.1".into()), "virtio"));
        assert!(!w.covers_machine(&MachineType("pc-i440fx-7.2".into()), "default"));
    }

    fn error_of(text: &str) -> String {
        parse(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "no error".into())
    }

    #[test]
    fn a_waiver_can_be_for_one_probe_kind() {
        use abi_model::provenance::ProbeKind;
        let text = GOOD.replace("link =", "probe = \"linux\"\nlink =");
        let w = parse(&text).expect("valid");
        let w = &w.list[0];
        assert_eq!(w.probe, Some(ProbeKind::Linux));
        assert!(w.covers_probe(Some(ProbeKind::Linux)));
        assert!(!w.covers_probe(Some(ProbeKind::Bare)));
        assert!(!w.covers_probe(None), "nothing booted: not a Linux-probe observation");
        let any = &parse(GOOD).expect("valid").list[0];
        assert!(any.covers_probe(Some(ProbeKind::Bare)) && any.covers_probe(None));
        let e = error_of(&GOOD.replace("link =", "probe = \"kvm\"\nlink ="));
        assert!(
            e.starts_with("waivers.toml:12: ") && e.contains("unknown probe kind \"kvm\""),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_names_its_line() {
        let text = GOOD.replace("link =", "lnik =");
        let e = error_of(&text);
        assert!(e.starts_with("waivers.toml:12: "), "{e}");
        assert!(e.contains("lnik"), "{e}");
    }

    #[test]
    fn empty_reason_is_an_error() {
        let e = error_of(&GOOD.replace("MADT revision 3 since QEMU 8.0", "  "));
        assert!(e.starts_with("waivers.toml:11: ") && e.contains("empty reason"), "{e}");
    }

    #[test]
    fn selectors_that_cannot_match_are_errors() {
        let e = error_of(&GOOD.replace("acpi.APIC.header.revision", "apci.APIC.header.revision"));
        assert!(e.contains("cannot match any fact"), "{e}");
        let e = error_of(&GOOD.replace("acpi.APIC.header.revision", "pci.*"));
        assert!(e.contains("is about acpi facts"), "{e}");
        let e = error_of(&GOOD.replace("acpi-table-revision", "acpi-table-revison"));
        assert!(e.contains("no rule \"acpi-table-revison\""), "{e}");
        let e = error_of(&GOOD.replace("pc-q35-7.*", "pc-q35-9.*"));
        assert!(e.contains("matches no machine type"), "{e}");
        let text = GOOD
            .replace("rule = \"acpi-table-revision\"\n", "")
            .replace("path = \"acpi.APIC.header.revision\"\n", "");
        assert!(error_of(&text).contains("no fact selector"));
        let e = error_of(&GOOD.replace("since = \"8.0\"", "since = \"eight\""));
        assert!(
            e.starts_with("waivers.toml:7: ") && e.contains("not a QEMU version"),
            "{e}"
        );
        let e = error_of(&format!("{GOOD}{GOOD}"));
        assert!(e.contains("duplicate waiver id"), "{e}");
    }

    #[test]
    fn baseline_until_limits_the_baselines_a_waiver_accepts() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("w.toml");
        std::fs::write(
            &f,
            "[[waiver]]\nid = \"old-only\"\nmachines = [\"pc-q35-*\"]\npath = \"host.vmstate.backward.nvme\"\n\
             baseline_until = \"10.0\"\nreason = \"nvme was not migratable up to 10.x\"\n",
        )
        .expect("write");
        let w = Waivers::load(&f, &[]).expect("loads");
        let d = rules::drift(
            "host-vmstate-backward",
            abi_model::drift::FactPath::new("host.vmstate.backward.nvme"),
            None,
            None,
        );
        let m = MachineType("pc-q35-10.0".into());
        let v = |s: &str| Version::parse(s).expect("version");
        let build = v("12.0");
        assert!(w.find(&m, "storage", None, &d, &build, &v("10.0.2")).is_some());
        assert!(w.find(&m, "storage", None, &d, &build, &v("11.1.3")).is_none());
    }

    #[test]
    fn renames_pin_a_change_that_is_only_a_rename() {
        let text = "[[waiver]]\nid = \"prt\"\nmachines = [\"pc-q35-*\"]\nrule = \"aml-object-changed\"\n\
                    path = 'acpi.DSDT.\"Name \\_SB.PCI0._PRT[*]\"'\n\
                    renames = [[\"GSI0\", \"L000\"], [\"GSI1\", \"L001\"]]\nreason = \"links moved\"\n";
        let w = parse(text).unwrap_or_else(|e| panic!("{e}"));
        let w = &w.list[0];
        let row = |old: Option<&str>, new: Option<&str>| {
            rules::drift(
                "aml-object-changed",
                abi_model::drift::FactPath::new("acpi.DSDT.\"Name \\_SB.PCI0._PRT[7]\""),
                old.map(str::to_string),
                new.map(str::to_string),
            )
        };
        let (gsi1, l001) = (
            "Package(4) {0x1ffff, 0x3, GSI1, 0x0}",
            "Package(4) {0x1ffff, 0x3, L001, 0x0}",
        );
        assert!(w.matches(&row(Some(gsi1), Some(l001))));
        // The same rename and another change in the row: not accepted.
        assert!(!w.matches(&row(Some(gsi1), Some("Package(4) {0x2ffff, 0x3, L001, 0x0}"))));
        // Renamed to another link, or not a rename at all.
        assert!(!w.matches(&row(Some(gsi1), Some("Package(4) {0x1ffff, 0x3, L000, 0x0}"))));
        assert!(!w.matches(&row(None, Some(l001))));
        assert!(!w.matches(&row(Some(gsi1), None)));
        // All at once: a chain of renames does not compose (GSI0 -> GSI1 -> L001).
        let chain =
            parse(&text.replace("[\"GSI0\", \"L000\"]", "[\"GSI0\", \"GSI1\"]")).unwrap_or_else(|e| panic!("{e}"));
        let chain = &chain.list[0];
        let gsi0 = "Package(4) {0x1ffff, 0x3, GSI0, 0x0}";
        assert!(chain.matches(&row(Some(gsi0), Some(gsi1))));
        assert!(!chain.matches(&row(Some(gsi0), Some(l001))));
        let e = error_of(&text.replace("[[\"GSI0\", \"L000\"], [\"GSI1\", \"L001\"]]", "[]"));
        assert!(e.starts_with("waivers.toml:6: ") && e.contains("renames"), "{e}");
        let e = error_of(&text.replace("[\"GSI0\", \"L000\"]", "[\"GSI0\"]"));
        assert!(e.starts_with("waivers.toml:6: "), "{e}");
    }

    #[test]
    fn until_before_since_is_an_error() {
        let e = error_of(&GOOD.replace("until = \"10.0\"", "until = \"7.2\""));
        assert!(
            e.starts_with("waivers.toml:8: ") && e.contains("until 7.2 is before since 8.0"),
            "{e}"
        );
        // A range of one release is fine, and so is `until` 10.0 with `since` 10.0.2.
        assert!(parse(&GOOD.replace("until = \"10.0\"", "until = \"8.0\"")).is_ok());
        assert!(parse(&GOOD.replace("since = \"8.0\"", "since = \"10.0.2\"")).is_ok());
    }

    #[test]
    fn unquoted_path_segments_that_need_quotes_cannot_match() {
        let good = GOOD
            .replace("rule = \"acpi-table-revision\"\n", "")
            .replace("acpi.APIC.header.revision", "pci.\\\"0000:00:02.0\\\".revision");
        assert!(parse(&good).is_ok(), "{:?}", parse(&good).err().map(|e| e.to_string()));
        let bad = good.replace("pci.\\\"0000:00:02.0\\\".revision", "pci.0000:00:02.0.revision");
        let e = error_of(&bad);
        assert!(e.contains("cannot match") && e.contains("\"0000:00"), "{e}");
        let unbalanced = good.replace("pci.\\\"0000:00:02.0\\\".revision", "pci.\\\"0000:00:02.0.revision");
        assert!(error_of(&unbalanced).contains("cannot match"));
        // Wildcards stand for anything, quoting included.
        let glob = good.replace("pci.\\\"0000:00:02.0\\\".revision", "pci.*.revision");
        assert!(parse(&glob).is_ok());
    }

    #[test]
    fn bad_toml_names_its_line() {
        let e = error_of("[[waiver]]\nid = \"x\"\nmachines = [\n");
        assert!(e.starts_with("waivers.toml:"), "{e}");
    }

    #[test]
    fn globs() {
        assert!(glob_match("pc-q35-*", "pc-q35-7.2"));
        assert!(glob_match("acpi.DSDT.*", "acpi.DSDT.\"Method \\_SB.PCI0.EDSM\""));
        assert!(glob_match(
            "cpuid[cpu=?].leaves.*",
            "cpuid[cpu=1].leaves.\"00000001.00000000\""
        ));
        assert!(!glob_match("pc-q35-7.?", "pc-q35-7.10"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "acd"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
    }
}
