//! The text report, for people at a terminal: machine types with the same
//! changes share one block, a change is listed once, the same change on
//! many objects is folded into one line.

use crate::describe::{change, location};
use crate::summary::Summary;
use crate::TextStyle;
use abi_check::outcome::{MachineResult, Outcome};
use abi_check::verdict::{RunKind, Verdict};
use abi_model::drift::{Category, Severity};
use std::collections::BTreeMap;
use std::fmt::Write;

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
    (label_cpus(cpus), hidden)
}

/// Each line with the vCPUs it was seen on (`[cpu=N]` path segments).
fn label_cpus(cpus: BTreeMap<Line, Vec<String>>) -> Vec<Line> {
    // `[cpu=*]`: the comparison found the change on every vCPU alike. Any
    // other line then names its vCPUs, as does one seen on fewer vCPUs
    // than the most any line shows.
    const EVERY: &str = "[cpu=*]";
    let any_every = cpus.values().any(|c| c.iter().any(|s| s == EVERY));
    let n_cpus = cpus.values().map(Vec::len).max().unwrap_or(0);
    cpus.into_iter()
        .map(|(mut l, c)| {
            let every = c.iter().any(|s| s == EVERY);
            if !c.is_empty() && !every && (any_every || c.len() < n_cpus) {
                let ids: Vec<&str> = c
                    .iter()
                    .map(|s| s.trim_start_matches("[cpu=").trim_end_matches(']'))
                    .collect();
                l.location = format!("{} (cpu {})", l.location, ids.join(","));
            }
            l
        })
        .collect()
}

/// The same change on many objects (a method body changed in 30 hot-plug
/// slots) is one line: `DSDT Method \_SB.PCI0.S{18,20,…}._DSM (30 objects)`.
fn merge_similar(lines: &[&Line]) -> Vec<Line> {
    const MIN: usize = 3;
    let mut groups: Vec<Vec<&Line>> = Vec::new();
    // (category, severity, rule, change) → index in `groups`, first-seen order.
    let mut index: BTreeMap<(Category, std::cmp::Reverse<Severity>, &str, &str), usize> = BTreeMap::new();
    for l in lines {
        match index.get(&(l.category, l.severity, l.rule.as_str(), l.change.as_str())) {
            Some(&i) => groups[i].push(l),
            None => {
                index.insert((l.category, l.severity, &l.rule, &l.change), groups.len());
                groups.push(vec![l]);
            }
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
        let mut prefix = (0..shortest)
            .take_while(|&i| locs.iter().all(|c| c[i] == locs[0][i]))
            .count();
        let mut suffix = (0..shortest - prefix)
            .take_while(|&i| {
                locs.iter()
                    .all(|c| c[c.len() - 1 - i] == locs[0][locs[0].len() - 1 - i])
            })
            .count();
        // Fold whole names only: the varying part starts after a separator
        // and ends before one, and holds no space (else it spans names).
        let boundary = |c: char| " .[]:/,".contains(c);
        while prefix > 0 && !boundary(locs[0][prefix - 1]) {
            prefix -= 1;
        }
        while suffix > 0 && !boundary(locs[0][locs[0].len() - suffix]) {
            suffix -= 1;
        }
        let middles: Vec<String> = locs
            .iter()
            .map(|c| c[prefix..c.len() - suffix].iter().collect())
            .collect();
        if middles.iter().any(|m| m.is_empty() || m.contains(' ')) {
            out.extend(g.into_iter().cloned());
            continue;
        }
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
pub fn text(v: &Verdict, style: TextStyle) -> String {
    let paint = Paint(style.color);
    let mut out = String::new();
    let q = &v.qemu;
    let build = if q.package.is_empty() {
        format!("QEMU {}", q.version)
    } else {
        format!("QEMU {} ({})", q.version, q.package)
    };
    let _ = match v.kind {
        RunKind::Check => writeln!(out, "machine-abi check of {build}"),
        RunKind::Diff => writeln!(out, "machine-abi diff: records of {build} against the baselines"),
        RunKind::Review => writeln!(
            out,
            "machine-abi review: pending records of {build} against their baselines"
        ),
    };

    // Group drifted results with identical visible changes.
    let mut groups: Vec<(Vec<&MachineResult>, Vec<Line>, usize)> = Vec::new();
    // (visible lines, hidden count) → index in `groups`, in first-seen order.
    let mut index: BTreeMap<(Vec<Line>, usize), usize> = BTreeMap::new();
    for r in &v.results {
        match &r.outcome {
            Outcome::Drifted { .. } => {
                let key = lines(r, style.verbose);
                match index.get(&key) {
                    Some(&i) => groups[i].0.push(r),
                    None => {
                        index.insert(key.clone(), groups.len());
                        groups.push((vec![r], key.0, key.1));
                    }
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
    new_machines(v, &paint, &mut out);
    waiver_notes(v, &paint, &mut out);
    let summary = Summary::of(v);
    let _ = writeln!(out, "\n{}", summary.line());
    out
}

/// A list of names for one line: the first few, then how many more.
fn some_of(names: &[String]) -> String {
    const SHOW: usize = 6;
    let mut s = names.iter().take(SHOW).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > SHOW {
        let _ = write!(s, " and {} more", names.len() - SHOW);
    }
    s
}

fn new_machines(v: &Verdict, paint: &Paint, out: &mut String) {
    if v.new_machines.is_empty() {
        return;
    }
    let names: Vec<String> = v.new_machines.iter().map(|m| m.0.clone()).collect();
    let release = v.qemu.version.truncated(2);
    let _ = writeln!(
        out,
        "\n{} {} machine type{} of this binary ha{} no baseline yet: {}; record them with `machine-abi snapshot \
         --release {release} …` (or `record --machine NAME`)",
        paint.wrap("36", "new:"),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        if names.len() == 1 { "s" } else { "ve" },
        some_of(&names)
    );
}

fn waiver_notes(v: &Verdict, paint: &Paint, out: &mut String) {
    let w = &v.waivers;
    if !w.not_exercised.is_empty() {
        let _ = writeln!(
            out,
            "\n{} {} waiver{} matched nothing in a run that checked only part of what {}: {}",
            paint.wrap("2", "not exercised:"),
            w.not_exercised.len(),
            if w.not_exercised.len() == 1 { "" } else { "s" },
            if w.not_exercised.len() == 1 {
                "it covers"
            } else {
                "they cover"
            },
            some_of(&w.not_exercised)
        );
    }
    if w.stale.is_empty() && w.broad.is_empty() {
        return;
    }
    out.push('\n');
    for id in &w.stale {
        let _ = writeln!(
            out,
            "{} waiver {id} matched nothing in this check: the change it accepts is gone; remove it{}",
            paint.wrap(if v.policy.strict { "1;31" } else { "33" }, "stale:"),
            if v.policy.strict {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(location: &str) -> Line {
        Line {
            category: Category::Virtio,
            severity: std::cmp::Reverse(Severity::Break),
            location: location.into(),
            change: "256 → 1024".into(),
            rule: "virtio-queue-changed".into(),
        }
    }

    fn folded(locations: &[&str]) -> Vec<String> {
        let lines: Vec<Line> = locations.iter().map(|l| line(l)).collect();
        let refs: Vec<&Line> = lines.iter().collect();
        merge_similar(&refs).into_iter().map(|l| l.location).collect()
    }

    #[test]
    fn the_same_change_on_many_objects_folds_at_name_boundaries() {
        assert_eq!(
            folded(&[
                "DSDT Method \\_SB.PCI0.S18._DSM",
                "DSDT Method \\_SB.PCI0.S20._DSM",
                "DSDT Method \\_SB.PCI0.S28._DSM"
            ]),
            ["DSDT Method \\_SB.PCI0.{S18,S20,S28}._DSM (3 objects)"]
        );
        // The varying part would span two names: no fold, every line stays.
        let queues = [
            "0000:00:08.0 queue_sizes[0]",
            "0000:00:09.0 queue_sizes[1]",
            "0000:00:0a.0 queue_sizes[2]",
        ];
        assert_eq!(folded(&queues), queues);
    }

    /// A change on every vCPU alike (`[cpu=*]`) is not labelled; a change
    /// on vCPU 0 only is, even when it is the only line of its vCPU.
    #[test]
    fn a_change_on_one_vcpu_says_which() {
        let cpus = BTreeMap::from([
            (line("leaf 00000001.00000000 ecx.popcnt"), vec!["[cpu=*]".to_string()]),
            (
                line("leaf 80000008.00000000 eax.phys_addr_bits"),
                vec!["[cpu=0]".to_string()],
            ),
        ]);
        let locations: Vec<String> = label_cpus(cpus).into_iter().map(|l| l.location).collect();
        assert_eq!(
            locations,
            [
                "leaf 00000001.00000000 ecx.popcnt",
                "leaf 80000008.00000000 eax.phys_addr_bits (cpu 0)"
            ]
        );
        // Without the collapse: two vCPUs on one line, one on the other.
        let cpus = BTreeMap::from([
            (line("a"), vec!["[cpu=0]".to_string(), "[cpu=1]".to_string()]),
            (line("b"), vec!["[cpu=1]".to_string()]),
        ]);
        let locations: Vec<String> = label_cpus(cpus).into_iter().map(|l| l.location).collect();
        assert_eq!(locations, ["a", "b (cpu 1)"]);
    }

    #[test]
    fn a_removed_machine_type_has_a_location() {
        let d = abi_check::rules::drift(
            "machine-type-removed",
            abi_model::FactPath::new("machine"),
            Some("pc-i440fx-1.4".into()),
            None,
        );
        assert_eq!(crate::describe::location(&d), "machine");
    }

    #[test]
    fn pci_findings_name_the_device_next_to_the_slot() {
        let mut d = abi_check::rules::classified(
            abi_model::FactPath::new("pci.\"0000:00:02.0\".revision"),
            Some("0x00".into()),
            Some("0x01".into()),
            false,
        );
        assert_eq!(crate::describe::location(&d), "0000:00:02.0 revision");
        d.device = Some("e1000e (nic0)".into());
        assert_eq!(
            format!("{} {}", crate::describe::location(&d), crate::describe::change(&d)),
            "0000:00:02.0 e1000e (nic0) revision 0x00 → 0x01"
        );
        d.path = abi_model::FactPath::new("pci.\"0000:00:02.0\"[offset=0xc8]");
        assert_eq!(
            crate::describe::location(&d),
            "0000:00:02.0 e1000e (nic0) [offset=0xc8]"
        );
    }
}
