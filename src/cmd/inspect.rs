//! Reading a database without checking anything: `list`, `show`, `quirks`,
//! and `explain` of the rules.

use crate::args::{load_waivers, Failure};
use abi_check::compare::facts::flatten;
use abi_check::rules;
use abi_check::selection::Baselines;
use abi_check::verdict::EXIT_CLEAN;
use abi_store::Db;
use std::path::{Path, PathBuf};

/// `list`: one line per record, from the paths and the provenance header.
pub fn list(db: &Path) -> Result<i32, Failure> {
    let db = Db::open(db)?;
    for k in db.index()? {
        let package = db.package(&k)?;
        println!(
            "{}\t{}\t{}\t{}\t{package}",
            k.arch, k.machine, k.profile, k.qemu_version
        );
    }
    Ok(EXIT_CLEAN)
}

/// Arguments of `show`.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// Database directory.
    #[arg(long)]
    db: PathBuf,
    /// Machine type.
    machine: String,
    /// Device profile.
    #[arg(long, default_value = "default")]
    profile: String,
    /// QEMU version of the record (default: the baseline).
    #[arg(long)]
    qemu_version: Option<String>,
    /// Only facts whose path starts with this.
    #[arg(long)]
    path: Option<String>,
}

/// `show`: the facts of one record as `path = value` lines.
pub fn show(a: &ShowArgs) -> Result<i32, Failure> {
    let (machine, profile) = (a.machine.as_str(), a.profile.as_str());
    let (version, prefix) = (a.qemu_version.as_deref(), a.path.as_deref());
    let db = Db::open(&a.db)?;
    let key = db
        .index()?
        .into_iter()
        .filter(|k| k.machine.0 == machine && k.profile == profile)
        .find(|k| version.is_none_or(|v| k.qemu_version.to_string() == v))
        .ok_or_else(|| {
            Failure(format!(
                "no record of {machine} ({profile}){}",
                version.map(|v| format!(" by QEMU {v}")).unwrap_or_default()
            ))
        })?;
    let r = db.load(&key)?;
    println!("# {} — {}", r.key, r.provenance.qemu.package);
    for (p, v) in flatten(&r.facts) {
        if prefix.is_none_or(|x| p.as_str().starts_with(x)) {
            println!("{p} = {v}");
        }
    }
    Ok(EXIT_CLEAN)
}

/// Output formats of `quirks`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QuirksFormat {
    /// TOML (docs/quirks.md).
    Toml,
    /// JSON, the same structure.
    Json,
}

/// `quirks`: the accepted differences per machine type.
pub fn quirks(db: &Path, format: QuirksFormat) -> Result<i32, Failure> {
    let db = Db::open(db)?;
    let mut known = Baselines::of(db.index()?).machines();
    known.dedup();
    let waivers = load_waivers(&db, &known, &[])?;
    let q = abi_check::quirks::export(&waivers, &known);
    let text = match format {
        QuirksFormat::Toml => toml::to_string(&q)?,
        QuirksFormat::Json => serde_json::to_string_pretty(&q)? + "\n",
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    Ok(EXIT_CLEAN)
}

/// `explain`: every rule, or one rule in full.
pub fn explain(id: Option<&str>) -> Result<i32, Failure> {
    let Some(id) = id else {
        for r in rules::RULES {
            println!(
                "{:26} {:10} {:5}  {}",
                r.id,
                r.category.as_str(),
                r.severity.as_str(),
                r.summary
            );
        }
        return Ok(EXIT_CLEAN);
    };
    let Some(r) = rules::rule(id) else {
        let near: Vec<&str> = rules::RULES
            .iter()
            .map(|r| r.id)
            .filter(|r| r.contains(id) || id.contains(r))
            .collect();
        return Err(Failure(format!(
            "no rule {id:?}{}; `machine-abi explain` lists them all",
            if near.is_empty() {
                String::new()
            } else {
                format!(" (did you mean {}?)", near.join(", "))
            }
        )));
    };
    println!("{} ({}, {})\n", r.id, r.category, r.severity);
    println!("{}\n", r.summary);
    println!("Why it matters:\n  {}\n", r.why);
    println!("How it is usually fixed:\n  {}", r.fix);
    Ok(EXIT_CLEAN)
}
