//! The review flow: `review` shows what pending records change, `accept`
//! turns the changes into waivers with a reason, `reject` discards them.

use crate::args::{Failure, OutputArgs};
use abi_check::outcome::Outcome;
use abi_check::review::{self, Change};
use abi_check::selection::Baselines;
use abi_check::verdict::{self, EXIT_CLEAN, EXIT_ERROR};
use abi_check::waiver::{Waivers, WAIVERS_FILE};
use abi_model::glob::glob_match;
use abi_store::Db;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// `review`: what each pending record changes, judged like a check.
pub fn review(db: &Path, globs: &[String], out: &OutputArgs) -> Result<i32, Failure> {
    let db = Db::open(db)?;
    let baselines = Baselines::of(db.index()?);
    let known = baselines.machines();
    let pending = review::pending(&db, &baselines, globs)?;
    let Some(first) = pending.first() else {
        println!("nothing pending in {}", db.root().display());
        return Ok(EXIT_CLEAN);
    };
    let qemu = first.record.provenance.qemu.clone();
    let waivers = out.waivers(&db, &known)?;
    let scope = baselines.slots(&first.record.key.arch);
    let mut verdict = out.judge(
        qemu,
        pending.into_iter().map(|p| p.result).collect(),
        waivers.as_ref(),
        Some(&scope),
    );
    verdict.kind = abi_check::verdict::RunKind::Review;
    let code = out.print(&verdict);
    if code == EXIT_ERROR {
        // A pending record that could not be compared is not reviewable.
        return Ok(EXIT_ERROR);
    }
    // On stderr: stdout is the report, which may be JSON or JUnit.
    eprintln!(
        "accept with `machine-abi accept --db {} --reason …`, or reject",
        db.root().display()
    );
    Ok(EXIT_CLEAN)
}

/// Arguments of `accept`.
#[derive(clap::Args)]
pub struct AcceptArgs {
    /// Database directory.
    #[arg(long)]
    db: PathBuf,
    /// Only these machine types (globs).
    #[arg(long = "machine")]
    machines: Vec<String>,
    /// Only changes whose fact path matches this glob.
    #[arg(long)]
    path: Option<String>,
    /// Only changes under this rule.
    #[arg(long)]
    rule: Option<String>,
    /// Why the changes are accepted (asked for on a terminal when absent).
    #[arg(long)]
    reason: Option<String>,
    /// Commit, thread or bug that explains the changes.
    #[arg(long)]
    link: Option<String>,
}

/// `accept`: append waivers for the pending changes, then remove the
/// pending records whose every change was accepted.
pub fn accept(a: &AcceptArgs) -> Result<i32, Failure> {
    let db_dir = a.db.as_path();
    // Locked from the first read to the last write: no other writer may
    // change the waivers or the pending records in between.
    let db = Db::open(db_dir)?.locked()?;
    let baselines = Baselines::of(db.index()?);
    let known = baselines.machines();
    // The file is read once: what is parsed is what is appended to.
    let file = db.root().join(WAIVERS_FILE);
    let mut all = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "# Reviewed, intentional ABI changes. Each [[waiver]] needs a reason; see `machine-abi accept`.\n".into()
        }
        Err(e) => return Err(Failure(format!("{}: {e}", file.display()))),
    };
    let waivers = Waivers::parse(&all, &file, &known)?;
    let mut pending = review::pending(&db, &baselines, &a.machines)?;
    if pending.is_empty() {
        return Err(Failure(format!("nothing pending in {}", db_dir.display())));
    }
    // What could not be compared cannot be accepted (and its pending record
    // must not be removed as if it had been).
    let failed: Vec<String> = pending
        .iter()
        .filter_map(|p| match &p.result.outcome {
            Outcome::Failed { error } => Some(format!("{}: {error}", p.file.display())),
            _ => None,
        })
        .collect();
    if !failed.is_empty() {
        return Err(Failure(format!(
            "nothing accepted: {} pending record(s) could not be compared:\n{}",
            failed.len(),
            failed.join("\n")
        )));
    }
    // Drift already waived needs no new waiver.
    for p in &mut pending {
        verdict::mark(&waivers, &mut p.result, &p.record.key.qemu_version);
    }
    let selected: Vec<Change> = review::changes(&pending)
        .into_iter()
        .filter(|c| a.path.as_deref().is_none_or(|g| glob_match(g, c.drift.path.as_str())))
        .filter(|c| a.rule.as_deref().is_none_or(|r| r == c.drift.rule))
        .collect();
    let filtered = a.path.is_some() || a.rule.is_some();
    let interactive = std::io::stdin().is_terminal() && std::env::var_os("CI").is_none();
    let mut accepted = Vec::new();
    let offered = selected.len();
    for c in selected {
        let why = match &a.reason {
            Some(r) => r.clone(),
            None if interactive => {
                println!(
                    "{} on {}:\n  {}: {}",
                    c.drift.rule,
                    c.machines.iter().cloned().collect::<Vec<_>>().join(", "),
                    abi_report::location(&c.drift),
                    abi_report::change(&c.drift)
                );
                print!("reason (empty to skip): ");
                let _ = std::io::Write::flush(&mut std::io::stdout());
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                if line.trim().is_empty() {
                    continue;
                }
                line.trim().to_string()
            }
            None => {
                return Err(Failure(
                    "accept needs --reason (nothing is accepted without a reason, and never implicitly in CI)".into(),
                ))
            }
        };
        accepted.push((c, why, a.link.clone()));
    }
    if accepted.is_empty() {
        println!("nothing accepted");
        return Ok(EXIT_CLEAN);
    }
    let text = review::waiver_text(&accepted, &waivers).map_err(Failure)?;
    if !all.ends_with('\n') {
        all.push('\n');
    }
    all.push('\n');
    all.push_str(&text);
    // Refuse to write a file that would not load.
    Waivers::parse(&all, &file, &known)?;
    abi_store::db::write_atomic(&file, all.as_bytes())?;
    println!("{} waivers appended to {}", accepted.len(), file.display());
    // A pending record is done when every change in it was accepted (none
    // filtered out, none skipped at the prompt).
    if !filtered && accepted.len() == offered {
        for p in &pending {
            std::fs::remove_file(&p.file).map_err(|e| Failure(format!("{}: {e}", p.file.display())))?;
            println!("removed {}", p.file.display());
        }
    } else {
        println!("pending records kept: not every change was accepted; run review again");
    }
    Ok(EXIT_CLEAN)
}

/// `reject`: discard pending records.
pub fn reject(db: &Path, globs: &[String]) -> Result<i32, Failure> {
    let db = Db::open(db)?.locked()?;
    let mut n = 0;
    for (key, file) in db.pending_index()? {
        if globs.is_empty() || globs.iter().any(|g| glob_match(g, &key.machine.0)) {
            std::fs::remove_file(&file).map_err(|e| Failure(format!("{}: {e}", file.display())))?;
            println!("removed {}", file.display());
            n += 1;
        }
    }
    println!("{n} pending records rejected");
    Ok(EXIT_CLEAN)
}
