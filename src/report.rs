//! Rendering a check: text for terminals, versioned JSON for programs,
//! JUnit XML for CI dashboards and GitHub Actions workflow annotations.

use crate::check::{CheckReport, MachineResult, Outcome};
use crate::diff::Drift;
use crate::rules::{Category, Severity};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Output formats of `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable text, grouped by machine type then category.
    Text,
    /// One JSON document, schema `docs/report.schema.json`.
    Json,
    /// JUnit XML, one test case per machine type and profile.
    Junit,
    /// GitHub Actions workflow commands (`::error …`), one per change.
    Github,
}

/// Options of the text format.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextStyle {
    /// ANSI colours.
    pub color: bool,
    /// Also list info-level drift (checksums, lengths, shifted selectors).
    pub verbose: bool,
}

/// Render in the chosen format.
pub fn render(report: &CheckReport, format: Format, style: TextStyle) -> String {
    match format {
        Format::Text => text(report, style),
        Format::Json => json(report),
        Format::Junit => junit(report),
        Format::Github => github(report),
    }
}

/// Version of the JSON report format; bump on incompatible changes.
pub const JSON_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    format: &'static str,
    format_version: u32,
    tool_version: &'static str,
    qemu: &'a recorder::qemu::QemuIdentity,
    exit_code: i32,
    summary: Summary,
    results: Vec<JsonResult<'a>>,
    drifts: Vec<JsonDrift<'a>>,
    waivers: &'a crate::waiver::WaiverUse,
}

#[derive(Serialize)]
struct JsonResult<'a> {
    machine: &'a str,
    profile: &'a str,
    baseline_qemu_version: String,
    record: String,
    status: &'static str,
    error: Option<&'a str>,
    drift_count: usize,
    input_notes: &'a [String],
}

#[derive(Serialize)]
struct JsonDrift<'a> {
    machine: &'a str,
    profile: &'a str,
    #[serde(flatten)]
    drift: &'a Drift,
}

/// Counts over a whole check.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// (machine type, profile) pairs checked.
    pub checked: usize,
    /// Pairs with no drift.
    pub clean: usize,
    /// Pairs with drift.
    pub drifted: usize,
    /// Pairs whose machine type the binary no longer offers.
    pub removed: usize,
    /// Pairs that could not be checked.
    pub failed: usize,
    /// Changed facts at each severity.
    pub breaks: usize,
    /// Changed facts at warn severity.
    pub warnings: usize,
    /// Changed facts at info severity.
    pub info: usize,
    /// Changed facts a waiver accepts (not counted above).
    pub waived: usize,
    /// Waivers that accepted at least one fact.
    pub waivers_used: usize,
    /// Waivers that apply to this check but matched nothing.
    pub stale_waivers: usize,
}

impl Summary {
    /// Count a report.
    pub fn of(report: &CheckReport) -> Summary {
        let mut s = Summary {
            checked: report.results.len(),
            ..Summary::default()
        };
        for r in &report.results {
            match &r.outcome {
                Outcome::Clean => s.clean += 1,
                Outcome::Drifted { drifts } => {
                    if r.is_removed() {
                        s.removed += 1;
                    }
                    s.drifted += 1;
                    for d in drifts {
                        if !d.unwaived() {
                            s.waived += 1;
                            continue;
                        }
                        match d.severity {
                            Severity::Break => s.breaks += 1,
                            Severity::Warn => s.warnings += 1,
                            Severity::Info => s.info += 1,
                        }
                    }
                }
                Outcome::Failed { .. } => s.failed += 1,
            }
        }
        s.waivers_used = report.waivers.matched.len();
        s.stale_waivers = report.waivers.stale.len();
        s
    }

    /// Facts changed at any severity, waived or not.
    pub fn facts(&self) -> usize {
        self.breaks + self.warnings + self.info + self.waived
    }

    /// The closing line of the text report.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} machine types checked, {} drifted, {} facts changed ({} break, {} warn, {} info unwaived)",
            self.checked,
            self.drifted,
            self.facts(),
            self.breaks,
            self.warnings,
            self.info
        );
        if self.waived > 0 {
            let _ = write!(
                s,
                ", {} waived by {} waiver{}",
                self.waived,
                self.waivers_used,
                if self.waivers_used == 1 { "" } else { "s" }
            );
        }
        if self.stale_waivers > 0 {
            let _ = write!(
                s,
                ", {} stale waiver{}",
                self.stale_waivers,
                if self.stale_waivers == 1 { "" } else { "s" }
            );
        }
        if self.removed > 0 {
            let _ = write!(s, ", {} removed", self.removed);
        }
        if self.failed > 0 {
            let _ = write!(s, ", {} could not be checked", self.failed);
        }
        s
    }
}

fn status(o: &Outcome) -> &'static str {
    match o {
        Outcome::Clean => "clean",
        Outcome::Drifted { .. } => "drifted",
        Outcome::Failed { .. } => "failed",
    }
}

/// The JSON report: one object per result and one per drift.
pub fn json(report: &CheckReport) -> String {
    let doc = JsonReport {
        format: "machine-abi-check",
        format_version: JSON_FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION"),
        qemu: &report.qemu,
        exit_code: report.exit_code(Severity::Break),
        summary: Summary::of(report),
        results: report
            .results
            .iter()
            .map(|r| JsonResult {
                machine: &r.machine.0,
                profile: &r.profile,
                baseline_qemu_version: r.baseline.qemu_version.to_string(),
                record: r.record.display().to_string(),
                status: status(&r.outcome),
                error: match &r.outcome {
                    Outcome::Failed { error } => Some(error),
                    _ => None,
                },
                drift_count: r.drifts().len(),
                input_notes: &r.input_notes,
            })
            .collect(),
        drifts: report
            .results
            .iter()
            .flat_map(|r| {
                r.drifts().iter().map(|d| JsonDrift {
                    machine: &r.machine.0,
                    profile: &r.profile,
                    drift: d,
                })
            })
            .collect(),
        waivers: &report.waivers,
    };
    serde_json::to_string_pretty(&doc)
        .map(|s| s + "\n")
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}\n"))
}

/// Where a drift is, for people: the path without its category, unquoted,
/// e.g. `APIC header.revision`, `DSDT Method \_SB.PCI0.EDSM`,
/// `0000:00:1f.2 cap PCIe.slot_cap.HPC`.
pub fn location(d: &Drift) -> String {
    let segs = d.path.segments();
    let rest = segs.get(1..).unwrap_or(&[]);
    if d.category == Category::Cpuid {
        // cpuid [cpu=N] leaves L.S item…
        let leaf = rest.get(2).map(String::as_str).unwrap_or("");
        let item = rest.get(3..).map(|s| s.join(".")).unwrap_or_default();
        return format!("leaf {leaf} {item}").trim_end().to_string();
    }
    let mut out = String::new();
    for (i, s) in rest.iter().enumerate() {
        if i == 0 || s.starts_with('[') {
            out.push_str(s);
        } else if i == 1 {
            out.push(' ');
            out.push_str(s);
        } else {
            out.push('.');
            out.push_str(s);
        }
    }
    out
}

fn shorten(v: &str) -> String {
    const MAX: usize = 120;
    if v.chars().count() <= MAX {
        v.to_string()
    } else {
        let head: String = v.chars().take(MAX).collect();
        format!("{head}…")
    }
}

/// What happened to the fact, for people: `1 → 3`, `added: …`, `removed (was …)`.
pub fn change(d: &Drift) -> String {
    let mut s = match (&d.old, &d.new) {
        (Some(o), Some(n)) => {
            let (o, n) = differing_parts(o, n);
            format!("{} → {}", shorten(&o), shorten(&n))
        }
        (None, Some(n)) => format!("added: {}", shorten(n)),
        (Some(o), None) => format!("removed (was {})", shorten(o)),
        (None, None) => "changed".to_string(),
    };
    if let Some(detail) = &d.detail {
        let _ = write!(s, " ({detail})");
    }
    s
}

/// Of two comma-separated descriptions with the same number of parts
/// (`5 args, serialized, body … (84 bytes)`), keep only the parts that
/// differ, so the eye lands on the change.
fn differing_parts(old: &str, new: &str) -> (String, String) {
    let a: Vec<&str> = old.split(", ").collect();
    let b: Vec<&str> = new.split(", ").collect();
    if a.len() < 2 || a.len() != b.len() {
        return (old.to_string(), new.to_string());
    }
    let keep: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    let pick = |v: &[&str]| keep.iter().map(|&i| v[i]).collect::<Vec<_>>().join(", ");
    (pick(&a), pick(&b))
}

/// A drift as the text report groups it: CPUID drift seen on every vCPU is
/// one change, not one per vCPU.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Line {
    category: Category,
    severity: std::cmp::Reverse<Severity>,
    location: String,
    change: String,
    rule: String,
}

fn lines(r: &MachineResult, verbose: bool) -> (Vec<Line>, usize) {
    let mut cpus: BTreeMap<Line, Vec<String>> = BTreeMap::new();
    let mut hidden = 0;
    for d in r.drifts() {
        if (d.severity == Severity::Info || !d.unwaived()) && !verbose {
            hidden += 1;
            continue;
        }
        let line = Line {
            category: d.category,
            severity: std::cmp::Reverse(d.severity),
            location: location(d),
            change: change(d),
            rule: match &d.waiver {
                Some(w) => format!("{}, waived by {w}", d.rule),
                None => d.rule.clone(),
            },
        };
        let cpu = d.path.segments().get(1).filter(|s| s.starts_with("[cpu=")).cloned();
        cpus.entry(line).or_default().extend(cpu);
    }
    let n_cpus = cpus.values().map(Vec::len).max().unwrap_or(0);
    let out = cpus
        .into_iter()
        .map(|(mut l, c)| {
            if !c.is_empty() && c.len() < n_cpus {
                let ids: Vec<&str> = c
                    .iter()
                    .map(|s| s.trim_start_matches("[cpu=").trim_end_matches(']'))
                    .collect();
                l.location = format!("{} (cpu {})", l.location, ids.join(","));
            }
            l
        })
        .collect();
    (out, hidden)
}

/// The same change on many objects (a method body changed in 30 hot-plug
/// slots) is one line: `DSDT Method \_SB.PCI0.S{18,20,…}._DSM (30 objects)`.
fn merge_similar(lines: &[&Line]) -> Vec<Line> {
    const MIN: usize = 3;
    let mut groups: Vec<Vec<&Line>> = Vec::new();
    for l in lines {
        let same = |g: &Vec<&Line>| {
            let f = g[0];
            (f.category, f.severity, &f.rule, &f.change) == (l.category, l.severity, &l.rule, &l.change)
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.push(l),
            None => groups.push(vec![l]),
        }
    }
    let mut out = Vec::new();
    for g in groups {
        if g.len() < MIN {
            out.extend(g.into_iter().cloned());
            continue;
        }
        let locs: Vec<Vec<char>> = g.iter().map(|l| l.location.chars().collect()).collect();
        let shortest = locs.iter().map(Vec::len).min().unwrap_or(0);
        let prefix = (0..shortest)
            .take_while(|&i| locs.iter().all(|c| c[i] == locs[0][i]))
            .count();
        let suffix = (0..shortest - prefix)
            .take_while(|&i| {
                locs.iter()
                    .all(|c| c[c.len() - 1 - i] == locs[0][locs[0].len() - 1 - i])
            })
            .count();
        let middles: Vec<String> = locs
            .iter()
            .map(|c| c[prefix..c.len() - suffix].iter().collect())
            .collect();
        let head: String = locs[0][..prefix].iter().collect();
        let tail: String = locs[0][locs[0].len() - suffix..].iter().collect();
        // A screen line, not a list: name the first few, count the rest.
        const SHOW: usize = 8;
        let mut shown: Vec<String> = middles.iter().take(SHOW).cloned().collect();
        if middles.len() > SHOW {
            shown.push("…".into());
        }
        let mut merged = g[0].clone();
        merged.location = format!("{head}{{{}}}{tail} ({} objects)", shown.join(","), g.len());
        out.push(merged);
    }
    out.sort();
    out
}

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn severity(&self, s: Severity) -> String {
        let label = format!("{:5}", s.as_str());
        match s {
            Severity::Break => self.wrap("1;31", &label),
            Severity::Warn => self.wrap("33", &label),
            Severity::Info => self.wrap("2", &label),
        }
    }
}

/// Short text. Machine types with the same changes share one block; a
/// change already listed for an earlier block is not repeated.
pub fn text(report: &CheckReport, style: TextStyle) -> String {
    let paint = Paint(style.color);
    let mut out = String::new();
    let q = &report.qemu;
    let _ = writeln!(out, "machine-abi check of QEMU {} ({})", q.version, q.package);

    // Group drifted results with identical visible changes.
    let mut groups: Vec<(Vec<&MachineResult>, Vec<Line>, usize)> = Vec::new();
    for r in &report.results {
        match &r.outcome {
            Outcome::Drifted { .. } => {
                let (ls, hidden) = lines(r, style.verbose);
                match groups.iter_mut().find(|(_, g, h)| *g == ls && *h == hidden) {
                    Some(g) => g.0.push(r),
                    None => groups.push((vec![r], ls, hidden)),
                }
            }
            Outcome::Clean => {}
            Outcome::Failed { error } => {
                let _ = writeln!(
                    out,
                    "\n{} ({}): {} {error}",
                    paint.wrap("1", &r.machine.0),
                    r.profile,
                    paint.wrap("1;31", "COULD NOT CHECK:")
                );
            }
        }
    }

    let mut shown: BTreeMap<&Line, String> = BTreeMap::new();
    for (members, ls, hidden) in &groups {
        let names: Vec<String> = members
            .iter()
            .map(|r| format!("{} ({})", r.machine, r.profile))
            .collect();
        let label = names.first().cloned().unwrap_or_default();
        let mut versions: Vec<String> = members.iter().map(|r| r.baseline.qemu_version.to_string()).collect();
        versions.dedup();
        let breaks = ls.iter().filter(|l| l.severity.0 == Severity::Break).count();
        let warns = ls.iter().filter(|l| l.severity.0 == Severity::Warn).count();
        let mut head = format!(
            "\n{} against QEMU {}: {} change{} ({breaks} break, {warns} warn",
            paint.wrap("1", &names.join(", ")),
            versions.join(", "),
            ls.len(),
            if ls.len() == 1 { "" } else { "s" }
        );
        if *hidden > 0 {
            let _ = write!(head, ", {hidden} info or waived hidden");
        }
        head.push(')');
        let _ = writeln!(out, "{head}");
        let mut repeated: BTreeMap<String, usize> = BTreeMap::new();
        let mut fresh: Vec<&Line> = Vec::new();
        for l in ls {
            if let Some(first) = shown.get(l) {
                *repeated.entry(first.clone()).or_default() += 1;
                continue;
            }
            shown.insert(l, label.clone());
            fresh.push(l);
        }
        let mut category = None;
        for l in merge_similar(&fresh) {
            if category != Some(l.category) {
                category = Some(l.category);
                let _ = writeln!(out, "  {}", paint.wrap("1", l.category.as_str()));
            }
            let _ = writeln!(
                out,
                "    {} {}: {}  {}",
                paint.severity(l.severity.0),
                l.location,
                l.change,
                paint.wrap("2", &format!("[{}]", l.rule))
            );
        }
        for (first, n) in repeated {
            let _ = writeln!(
                out,
                "  … and {n} change{} as listed for {first}",
                if n == 1 { "" } else { "s" }
            );
        }
        let mut notes: Vec<&String> = members.iter().flat_map(|r| &r.input_notes).collect();
        notes.sort();
        notes.dedup();
        for n in notes {
            let _ = writeln!(out, "  note: {n}");
        }
    }
    waiver_notes(report, &paint, &mut out);
    let summary = Summary::of(report);
    let _ = writeln!(out, "\n{}", summary.line());
    out
}

fn waiver_notes(report: &CheckReport, paint: &Paint, out: &mut String) {
    let w = &report.waivers;
    if w.stale.is_empty() && w.broad.is_empty() {
        return;
    }
    out.push('\n');
    for id in &w.stale {
        let _ = writeln!(
            out,
            "{} waiver {id} matched nothing in this check: the change it accepts is gone; remove it{}",
            paint.wrap(if report.strict { "1;31" } else { "33" }, "stale:"),
            if report.strict {
                " (--strict: this fails the check)"
            } else {
                ""
            }
        );
    }
    for id in &w.broad {
        let n = w.matched.get(id).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "{} waiver {id} accepted {n} facts; a waiver that broad can hide a real break, narrow its selector",
            paint.wrap("33", "broad:")
        );
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab/newline are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

fn drift_line(d: &Drift) -> String {
    let waived = d
        .waiver
        .as_ref()
        .map(|w| format!(" (waived by {w})"))
        .unwrap_or_default();
    format!("{} [{}] {}: {}{waived}", d.severity, d.rule, location(d), change(d))
}

/// JUnit XML: one test case per (machine type, profile). Drift at break
/// severity and removed machine types are failures; a machine type that
/// could not be checked is an error.
pub fn junit(report: &CheckReport) -> String {
    let s = Summary::of(report);
    let failures = report
        .results
        .iter()
        .filter(|r| r.fails(Severity::Break) && !matches!(r.outcome, Outcome::Failed { .. }))
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let name = xml_escape(&format!("machine-abi check of QEMU {}", report.qemu.version));
    let _ = writeln!(
        out,
        "<testsuites name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\">",
        s.checked, s.failed
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\" skipped=\"0\">",
        s.checked, s.failed
    );
    for r in &report.results {
        let _ = write!(
            out,
            "    <testcase classname=\"machine-abi.{}\" name=\"{}\"",
            xml_escape(&r.profile),
            xml_escape(&r.machine.0)
        );
        let body: Vec<String> = r.drifts().iter().map(drift_line).collect();
        match &r.outcome {
            Outcome::Clean => out.push_str("/>\n"),
            Outcome::Drifted { drifts } => {
                out.push_str(">\n");
                let breaks = drifts
                    .iter()
                    .filter(|d| d.severity == Severity::Break && d.unwaived())
                    .count();
                let text = xml_escape(&body.join("\n"));
                if breaks > 0 {
                    let _ = writeln!(
                        out,
                        "      <failure type=\"drift\" message=\"{breaks} breaking change{} against QEMU {}\">{text}</failure>",
                        if breaks == 1 { "" } else { "s" },
                        r.baseline.qemu_version
                    );
                } else {
                    let _ = writeln!(out, "      <system-out>{text}</system-out>");
                }
                out.push_str("    </testcase>\n");
            }
            Outcome::Failed { error } => {
                out.push_str(">\n");
                let _ = writeln!(
                    out,
                    "      <error type=\"could-not-check\" message=\"{}\"/>",
                    xml_escape(error)
                );
                out.push_str("    </testcase>\n");
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Escape the message of a workflow command.
fn gh_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escape a property value of a workflow command.
fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions annotations: one per distinct change (break → error,
/// warn → warning; info is left out), pointing at the baseline record and
/// naming every machine type it was seen on.
pub fn github(report: &CheckReport) -> String {
    let mut changes: Vec<(&Drift, String, Vec<String>)> = Vec::new();
    let mut out = String::new();
    for r in &report.results {
        let who = format!("{} ({})", r.machine, r.profile);
        let file = gh_property(&r.record.display().to_string());
        if let Outcome::Failed { error } = &r.outcome {
            let _ = writeln!(
                out,
                "::error title=machine-abi: could not check::{}",
                gh_data(&format!("{who}: {error}"))
            );
        }
        for d in r
            .drifts()
            .iter()
            .filter(|d| d.severity != Severity::Info && d.unwaived())
        {
            let same = changes
                .iter_mut()
                .find(|(x, _, _)| (&x.path, &x.old, &x.new) == (&d.path, &d.old, &d.new));
            match same {
                Some((_, _, who_list)) => who_list.push(who.clone()),
                None => changes.push((d, file.clone(), vec![who.clone()])),
            }
        }
    }
    for (d, file, who) in changes {
        let level = if d.severity == Severity::Break {
            "error"
        } else {
            "warning"
        };
        let _ = writeln!(
            out,
            "::{level} file={file},title={}::{}",
            gh_property(&format!("machine-abi {}", d.rule)),
            gh_data(&format!("{}: {}: {}", who.join(", "), location(d), change(d)))
        );
    }
    for id in &report.waivers.stale {
        let _ = writeln!(
            out,
            "::{} title=machine-abi stale waiver::{}",
            if report.strict { "error" } else { "warning" },
            gh_data(&format!("waiver {id} matched nothing in this check; remove it"))
        );
    }
    let _ = writeln!(out, "{}", Summary::of(report).line());
    out
}
