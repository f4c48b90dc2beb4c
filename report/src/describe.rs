//! A drift in words: where it is and what happened to it, shared by every
//! format.

use abi_model::drift::{Category, Drift};
use std::fmt::Write;

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
    if rest.is_empty() {
        // The whole category is the fact (a removed machine type).
        return d.category.as_str().to_string();
    }
    let mut out = String::new();
    for (i, s) in rest.iter().enumerate() {
        if i == 0 {
            out.push_str(s);
            if let Some(device) = &d.device {
                out.push(' ');
                out.push_str(device);
            }
        } else if s.starts_with('[') {
            if i == 1 && d.device.is_some() {
                out.push(' ');
            }
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

/// One line per drift: severity, rule, location, change, waiver.
pub fn drift_line(d: &Drift) -> String {
    let waived = d
        .waiver
        .as_ref()
        .map(|w| format!(" (waived by {w})"))
        .unwrap_or_default();
    format!("{} [{}] {}: {}{waived}", d.severity, d.rule, location(d), change(d))
}
