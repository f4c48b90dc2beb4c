//! `history`: the ABI changelog of a machine type, read from the database.

use crate::args::{load_waivers, Failure, PlainFormatArg};
use abi_check::history::{self, History};
use abi_check::selection::Baselines;
use abi_check::verdict::EXIT_CLEAN;
use abi_model::drift::Severity;
use abi_model::MachineType;
use abi_store::Db;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Arguments of `history`.
#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Database directory.
    #[arg(long)]
    db: PathBuf,
    /// Machine type, e.g. pc-q35-7.2.
    machine: String,
    /// Only these device profiles (default: every profile recorded).
    #[arg(long = "profile")]
    profiles: Vec<String>,
    /// Guest architecture of the records.
    #[arg(long, default_value = "x86_64")]
    arch: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: PlainFormatArg,
}

/// Print one line per release pair of each profile.
pub fn run(a: &HistoryArgs) -> Result<i32, Failure> {
    let db = Db::open(&a.db)?;
    let machine = MachineType(a.machine.clone());
    let known = Baselines::of(db.index()?).machines();
    let waivers = load_waivers(&db, &known, &[])?;
    let histories = history::of(&db, Some(&waivers), &a.arch, &machine, &a.profiles)?;
    if histories.is_empty() {
        return Err(Failure(format!(
            "{} has no record of {machine} ({}){}",
            a.db.display(),
            a.arch,
            if a.profiles.is_empty() {
                String::new()
            } else {
                format!(" with profile {}", a.profiles.join(", "))
            }
        )));
    }
    let text = match a.format {
        PlainFormatArg::Json => serde_json::to_string_pretty(&histories)? + "\n",
        PlainFormatArg::Text => histories.iter().map(text).collect(),
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    Ok(EXIT_CLEAN)
}

/// `name ×n, …` of a count map, most frequent first.
fn tally(m: &std::collections::BTreeMap<String, usize>) -> String {
    let mut v: Vec<(&String, &usize)> = m.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .map(|(k, n)| if **n == 1 { k.to_string() } else { format!("{k} ×{n}") })
        .collect::<Vec<_>>()
        .join(", ")
}

fn text(h: &History) -> String {
    let versions: Vec<String> = h.versions.iter().map(ToString::to_string).collect();
    let mut out = format!(
        "{} ({}): records of QEMU {}\n",
        h.machine,
        h.profile,
        versions.join(", ")
    );
    if h.steps.is_empty() {
        let _ = writeln!(out, "  only the baseline: no later release recorded it yet");
    }
    for s in &h.steps {
        let _ = write!(out, "  {} → {}: ", s.from, s.to);
        if let Some(e) = &s.error {
            let _ = writeln!(out, "could not compare: {e}");
            continue;
        }
        let n = |sev| s.unwaived.get(&sev).copied().unwrap_or(0);
        let (b, w, i) = (n(Severity::Break), n(Severity::Warn), n(Severity::Info));
        if b + w + i + s.waived == 0 {
            let _ = writeln!(out, "no change");
            continue;
        }
        let _ = write!(out, "{b} break, {w} warn, {i} info");
        // The rules worth a look; info rules are in the JSON.
        let notable: std::collections::BTreeMap<String, usize> = s
            .rules
            .iter()
            .filter(|(id, _)| abi_check::rules::rule(id).is_some_and(|r| r.severity > Severity::Info))
            .map(|(id, n)| (id.clone(), *n))
            .collect();
        if !notable.is_empty() {
            let _ = write!(out, " [{}]", tally(&notable));
        }
        if s.waived > 0 {
            let _ = write!(out, "; {} waived [{}]", s.waived, tally(&s.waivers));
        }
        out.push('\n');
    }
    out
}
