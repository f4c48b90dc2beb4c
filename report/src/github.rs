//! GitHub Actions workflow commands: one annotation per distinct change.

use crate::describe::{change, location};
use crate::summary::Summary;
use abi_check::outcome::Outcome;
use abi_check::verdict::Verdict;
use abi_model::drift::{Drift, FactPath, Severity};
use std::collections::HashMap;
use std::fmt::Write;

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
pub fn github(v: &Verdict) -> String {
    let mut changes: Vec<(&Drift, String, Vec<String>)> = Vec::new();
    // (path, old, new) → index in `changes`, in first-seen order.
    let mut index: HashMap<(&FactPath, &Option<String>, &Option<String>), usize> = HashMap::new();
    let mut out = String::new();
    for r in &v.results {
        let who = format!("{} ({})", r.machine, r.profile);
        let file = gh_property(&r.record.display().to_string());
        if let Outcome::Failed { error } = &r.outcome {
            let _ = writeln!(
                out,
                "::error title=machine-abi: could not check::{}",
                gh_data(&format!("{who}: {error}"))
            );
        }
        // Info drift is left out, unless the policy fails on it.
        for d in r
            .drifts()
            .iter()
            .filter(|d| (d.severity != Severity::Info || d.severity >= v.policy.fail_on) && d.unwaived())
        {
            match index.get(&(&d.path, &d.old, &d.new)) {
                Some(&i) => changes[i].2.push(who.clone()),
                None => {
                    index.insert((&d.path, &d.old, &d.new), changes.len());
                    changes.push((d, file.clone(), vec![who.clone()]));
                }
            }
        }
    }
    for (d, file, who) in changes {
        // An error is what fails the run; the rest is worth a look.
        let level = if d.severity >= v.policy.fail_on {
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
    for m in &v.new_machines {
        let _ = writeln!(
            out,
            "::notice title=machine-abi new machine type::{}",
            gh_data(&format!(
                "{m} has no baseline yet; record it with machine-abi snapshot or record"
            ))
        );
    }
    for id in &v.waivers.stale {
        let _ = writeln!(
            out,
            "::{} title=machine-abi stale waiver::{}",
            if v.policy.strict { "error" } else { "warning" },
            gh_data(&format!("waiver {id} matched nothing in this check; remove it"))
        );
    }
    let _ = writeln!(out, "{}", Summary::of(v).line());
    out
}
