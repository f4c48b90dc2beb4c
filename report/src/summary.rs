//! Counts over a whole run, and the closing line every format shares.

use abi_check::outcome::Outcome;
use abi_check::verdict::Verdict;
use abi_model::drift::Severity;
use serde::Serialize;
use std::fmt::Write;

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
    /// Count a v.
    pub fn of(v: &Verdict) -> Summary {
        let mut s = Summary {
            checked: v.results.len(),
            ..Summary::default()
        };
        for r in &v.results {
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
        s.waivers_used = v.waivers.matched.len();
        s.stale_waivers = v.waivers.stale.len();
        s
    }

    /// Facts changed at any severity, waived or not.
    pub fn facts(&self) -> usize {
        self.breaks + self.warnings + self.info + self.waived
    }

    /// The closing line of the text v.
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

/// The status word of an outcome, as the JSON report spells it.
pub fn status(o: &Outcome) -> &'static str {
    match o {
        Outcome::Clean => "clean",
        Outcome::Drifted { .. } => "drifted",
        Outcome::Failed { .. } => "failed",
    }
}
