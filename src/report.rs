//! Rendering a check for people (text) and for programs (JSON).

use crate::check::{CheckReport, Outcome};
use std::fmt::Write;

/// Output formats of `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// One JSON document (the serialised report).
    Json,
}

/// Render in the chosen format.
pub fn render(report: &CheckReport, format: Format) -> String {
    match format {
        Format::Text => text(report),
        Format::Json => serde_json::to_string_pretty(report)
            .map(|s| s + "\n")
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}\n")),
    }
}

/// Short text: one block per machine type that is not clean, then a summary.
pub fn text(report: &CheckReport) -> String {
    let mut out = String::new();
    let q = &report.qemu;
    let _ = writeln!(out, "machine-abi check of QEMU {} ({})", q.version, q.package);
    let (mut drifted, mut facts, mut failed, mut removed) = (0, 0, 0, 0);
    for r in &report.results {
        let head = format!("{} ({}) against QEMU {}", r.machine, r.profile, r.baseline.qemu_version);
        match &r.outcome {
            Outcome::Clean => {}
            Outcome::Drifted { drifts } => {
                drifted += 1;
                facts += drifts.len();
                let _ = writeln!(out, "\n{head}: {} facts changed", drifts.len());
                for d in drifts {
                    let old = d.old.as_deref().unwrap_or("(absent)");
                    let new = d.new.as_deref().unwrap_or("(absent)");
                    let _ = write!(out, "  {}: {old} → {new}", d.path);
                    if let Some(detail) = &d.detail {
                        let _ = write!(out, " ({detail})");
                    }
                    out.push('\n');
                }
            }
            Outcome::Removed => {
                removed += 1;
                let _ = writeln!(out, "\n{head}: machine type no longer offered by this binary");
            }
            Outcome::Failed { error } => {
                failed += 1;
                let _ = writeln!(out, "\n{head}: COULD NOT CHECK: {error}");
            }
        }
        if !matches!(r.outcome, Outcome::Clean) {
            for n in &r.input_notes {
                let _ = writeln!(out, "  note: {n}");
            }
        }
    }
    let _ = write!(
        out,
        "\n{} machine types checked, {drifted} drifted, {facts} facts changed",
        report.results.len()
    );
    if removed > 0 {
        let _ = write!(out, ", {removed} removed");
    }
    if failed > 0 {
        let _ = write!(out, ", {failed} could not be checked");
    }
    out.push('\n');
    out
}
