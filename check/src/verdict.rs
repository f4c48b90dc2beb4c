//! The verdict of a run: every result with the waivers applied, how the
//! waivers fared, and the one rule that turns them into an exit status.
//! Every command and every output format asks this module, so a machine
//! reader and the process can never disagree.

use crate::outcome::{MachineResult, Outcome};
use crate::waiver::Waivers;
use abi_model::drift::{FactPath, Severity};
use abi_model::{MachineType, QemuIdentity, Version};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Exit status: nothing drifted that the policy fails on.
pub const EXIT_CLEAN: i32 = 0;
/// Exit status: unwaived drift at or above the policy's threshold, or a
/// stale waiver under `--strict`.
pub const EXIT_DRIFT: i32 = 1;
/// Exit status: something could not be checked.
pub const EXIT_ERROR: i32 = 2;
/// Exit status under `--bisect` when something could not be checked and
/// nothing checked failed: `git bisect run`'s "skip this commit".
pub const EXIT_BISECT_SKIP: i32 = 125;

/// What makes a run fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Lowest severity of unwaived drift that fails the run.
    pub fail_on: Severity,
    /// A waiver that matched nothing fails the run.
    pub strict: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            fail_on: Severity::Break,
            strict: false,
        }
    }
}

/// How each waiver fared in one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WaiverUse {
    /// Waiver id → number of drifts it accepted.
    pub matched: BTreeMap<String, usize>,
    /// Waivers that apply to this run (version and a checked machine type)
    /// but accepted nothing, although the run checked every (machine type,
    /// profile) they cover: the change they describe is gone.
    pub stale: Vec<String>,
    /// Waivers that accepted nothing in a run that checked only part of
    /// what they cover (`--machine`, `--profile`, a shard): whether the
    /// change is gone cannot be said, so they are not called stale.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_exercised: Vec<String>,
    /// Waivers that accepted more distinct facts than the threshold.
    pub broad: Vec<String>,
}

/// What produced the results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// `check`: a binary booted against its baselines.
    #[default]
    Check,
    /// `diff`: records compared without booting.
    Diff,
    /// `review`: pending records against their baselines.
    Review,
}

/// A judged run.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// What produced the results.
    pub kind: RunKind,
    /// The QEMU build checked.
    pub qemu: QemuIdentity,
    /// Per (machine type, profile), sorted.
    pub results: Vec<MachineResult>,
    /// How the waivers fared (empty when none were applied).
    pub waivers: WaiverUse,
    /// What fails the run.
    pub policy: Policy,
    /// Versioned machine types the binary offers (within the selection) that
    /// the database has no baseline for: nothing to compare them with yet.
    pub new_machines: Vec<MachineType>,
}

impl Verdict {
    /// Judge results without waivers.
    pub fn new(qemu: QemuIdentity, mut results: Vec<MachineResult>, policy: Policy) -> Verdict {
        crate::unversioned::annotate(&mut results, &qemu.version);
        Verdict {
            kind: RunKind::Check,
            qemu,
            results,
            waivers: WaiverUse::default(),
            policy,
            new_machines: Vec::new(),
        }
    }

    /// Judge results with waivers: mark every drift a waiver accepts and say
    /// which waivers matched nothing and which matched suspiciously much
    /// (more than `broad_threshold` distinct facts). `scope` is every
    /// (machine type, profile) the database could have checked in this run
    /// (`None`: the results are all of them): a waiver is stale only when
    /// the run checked everything of `scope` it covers.
    pub fn with_waivers(
        qemu: QemuIdentity,
        mut results: Vec<MachineResult>,
        waivers: &Waivers,
        broad_threshold: usize,
        policy: Policy,
        scope: Option<&[(MachineType, String)]>,
    ) -> Verdict {
        let version = qemu.version.clone();
        let mut used = WaiverUse::default();
        // Breadth is the number of distinct facts a waiver accepts: one change
        // seen on every machine type of a full database is one fact, not 200.
        let mut facts: BTreeMap<String, BTreeSet<FactPath>> = BTreeMap::new();
        for r in &mut results {
            for id in mark(waivers, r, &version) {
                *used.matched.entry(id).or_default() += 1;
            }
            for d in r.drifts() {
                if let Some(w) = &d.waiver {
                    facts.entry(w.clone()).or_default().insert(d.path.clone());
                }
            }
        }
        crate::unversioned::annotate(&mut results, &version);
        let checked: BTreeSet<(&MachineType, &str)> =
            results.iter().map(|r| (&r.machine, r.profile.as_str())).collect();
        for w in &waivers.list {
            let applies = w.covers_version(&version)
                && results.iter().any(|r| {
                    w.covers_machine(&r.machine, &r.profile)
                        && w.covers_probe(r.probe)
                        && w.covers_baseline(&r.baseline.qemu_version)
                });
            let n = used.matched.get(&w.id).copied().unwrap_or(0);
            if applies && n == 0 {
                let whole = scope.is_none_or(|s| {
                    s.iter()
                        .filter(|(m, p)| w.covers_machine(m, p))
                        .all(|(m, p)| checked.contains(&(m, p.as_str())))
                });
                if whole {
                    used.stale.push(w.id.clone());
                } else {
                    used.not_exercised.push(w.id.clone());
                }
            }
            if facts.get(&w.id).map_or(0, BTreeSet::len) > broad_threshold {
                used.broad.push(w.id.clone());
            }
        }
        Verdict {
            kind: RunKind::Check,
            qemu,
            results,
            waivers: used,
            policy,
            new_machines: Vec::new(),
        }
    }

    /// True when a result could not be checked.
    pub fn has_errors(&self) -> bool {
        self.results.iter().any(|r| matches!(r.outcome, Outcome::Failed { .. }))
    }

    /// True when `r` makes the run fail under the policy.
    pub fn fails(&self, r: &MachineResult) -> bool {
        r.fails(self.policy.fail_on)
    }

    /// The exit status: 2 if anything could not be checked, else 1 if a
    /// result fails the policy (unwaived drift at or above its threshold) or,
    /// when strict, a waiver is stale, else 0.
    pub fn exit_code(&self) -> i32 {
        self.exit_code_as(false)
    }

    /// The exit status for `git bisect run` (`--bisect`): a result that
    /// fails the policy makes the commit bad (1) even when another could
    /// not be checked, since that failure is a verdict on the commit; only
    /// when nothing failed and something could not be checked is it skip
    /// ([`EXIT_BISECT_SKIP`]). Otherwise as [`Verdict::exit_code`].
    pub fn bisect_exit_code(&self) -> i32 {
        self.exit_code_as(true)
    }

    fn exit_code_as(&self, bisect: bool) -> i32 {
        if bisect && self.has_errors() {
            let checked = |r: &&MachineResult| !matches!(r.outcome, Outcome::Failed { .. });
            return if self.results.iter().filter(checked).any(|r| self.fails(r)) {
                EXIT_DRIFT
            } else {
                EXIT_BISECT_SKIP
            };
        }
        if self.has_errors() {
            EXIT_ERROR
        } else if self.results.iter().any(|r| self.fails(r)) || (self.policy.strict && !self.waivers.stale.is_empty()) {
            EXIT_DRIFT
        } else {
            EXIT_CLEAN
        }
    }
}

/// Set `Drift::waiver` on every drift of `r` that a waiver accepts when
/// checking QEMU `v`; returns the id of each waiver used, once per drift.
pub fn mark(waivers: &Waivers, r: &mut MachineResult, v: &Version) -> Vec<String> {
    let (machine, profile, probe) = (r.machine.clone(), r.profile.clone(), r.probe);
    let baseline = r.baseline.qemu_version.clone();
    let mut used = Vec::new();
    if let Outcome::Drifted { drifts } = &mut r.outcome {
        for d in drifts.iter_mut() {
            d.waiver = waivers
                .find(&machine, &profile, probe, d, v, &baseline)
                .map(|w| w.id.clone());
            used.extend(d.waiver.clone());
        }
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;
    use abi_model::drift::FactPath;
    use abi_model::record::RecordKey;

    fn result(machine: &str) -> MachineResult {
        let key = RecordKey {
            arch: "x86_64".into(),
            machine: MachineType(machine.into()),
            profile: "default".into(),
            qemu_version: Version::parse("7.2.22").expect("version"),
        };
        let d = rules::drift(
            "acpi-table-revision",
            FactPath::new("acpi.APIC.header.revision"),
            None,
            None,
        );
        MachineResult {
            machine: key.machine.clone(),
            profile: key.profile.clone(),
            baseline: key,
            record: "r.toml".into(),
            outcome: Outcome::Drifted { drifts: vec![d] },
            input_notes: Vec::new(),
            compat_unchanged: None,
            probe: None,
        }
    }

    #[test]
    fn a_waiver_is_stale_only_when_the_run_checked_all_it_covers() {
        let text = r#"
[[waiver]]
id = "dsdt"
machines = ["pc-q35-*"]
path = "acpi.DSDT.*"
reason = "a DSDT change of every pc-q35 type"
"#;
        let machines = [MachineType("pc-q35-5.2".into()), MachineType("pc-q35-7.2".into())];
        let w = Waivers::parse(text, std::path::Path::new("w.toml"), &machines).expect("valid");
        let qemu = QemuIdentity {
            version: Version::parse("10.0.2").expect("version"),
            package: String::new(),
            blake3: String::new(),
            build_id: None,
        };
        let scope: Vec<(MachineType, String)> = machines.iter().map(|m| (m.clone(), "default".into())).collect();
        // --machine pc-q35-7.2: the waiver may be needed by pc-q35-5.2.
        let v = Verdict::with_waivers(
            qemu.clone(),
            vec![result("pc-q35-7.2")],
            &w,
            40,
            Policy::default(),
            Some(&scope),
        );
        assert_eq!(
            (v.waivers.stale.len(), v.waivers.not_exercised.as_slice()),
            (0, ["dsdt".to_string()].as_slice())
        );
        // The whole database checked, and nothing matched: stale.
        let all = vec![result("pc-q35-5.2"), result("pc-q35-7.2")];
        let v = Verdict::with_waivers(qemu, all, &w, 40, Policy::default(), Some(&scope));
        assert_eq!(v.waivers.stale, ["dsdt"]);
        assert!(v.waivers.not_exercised.is_empty());
    }

    #[test]
    fn under_bisect_a_failing_result_is_bad_even_beside_one_not_checked() {
        let qemu = QemuIdentity {
            version: Version::parse("10.0.2").expect("version"),
            package: String::new(),
            blake3: String::new(),
            build_id: None,
        };
        let broke = result("pc-q35-7.2");
        assert_eq!(broke.drifts()[0].severity, abi_model::drift::Severity::Break);
        let mut not_checked = result("pc-q35-5.2");
        not_checked.outcome = Outcome::Failed {
            error: "boot hung".into(),
        };
        let mut clean = result("pc-q35-6.2");
        clean.outcome = Outcome::Clean;
        let verdict = |results: Vec<MachineResult>| Verdict::new(qemu.clone(), results, Policy::default());
        // Both: 2 wins over 1 (README), but git bisect must hear "bad".
        let mixed = verdict(vec![broke.clone(), not_checked.clone()]);
        assert_eq!((mixed.exit_code(), mixed.bisect_exit_code()), (EXIT_ERROR, EXIT_DRIFT));
        // Nothing failed and something could not be checked: skip.
        let unsure = verdict(vec![clean.clone(), not_checked]);
        assert_eq!(
            (unsure.exit_code(), unsure.bisect_exit_code()),
            (EXIT_ERROR, EXIT_BISECT_SKIP)
        );
        // Without errors the two agree.
        for (results, code) in [(vec![broke], EXIT_DRIFT), (vec![clean], EXIT_CLEAN)] {
            let v = verdict(results);
            assert_eq!((v.exit_code(), v.bisect_exit_code()), (code, code));
        }
    }
}
