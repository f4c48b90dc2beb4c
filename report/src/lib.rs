//! Reports of machine-abi: one [`Verdict`] rendered for people (text), for
//! programs (versioned JSON), for CI dashboards (JUnit XML) and for GitHub
//! Actions (workflow annotations). Every format reports the verdict's own
//! exit status; none decides one of its own.

#![deny(missing_docs)]

pub mod asl;
pub mod describe;
pub mod github;
pub mod json;
pub mod junit;
pub mod summary;
pub mod text;

use abi_check::verdict::Verdict;

pub use describe::{change, location};
pub use summary::Summary;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Render a verdict in the chosen format.
pub fn render(v: &Verdict, format: Format, style: TextStyle) -> String {
    match format {
        Format::Text => text::text(v, style),
        Format::Json => json::json(v),
        Format::Junit => junit::junit(v),
        Format::Github => github::github(v),
    }
}

#[cfg(test)]
mod tests {
    //! One verdict, four formats: each must report the exit status the
    //! process returns, for every outcome, `--fail-on` and `--strict`.
    use super::*;
    use abi_check::outcome::{MachineResult, Outcome};
    use abi_check::rules;
    use abi_check::verdict::{Policy, Verdict, WaiverUse, EXIT_CLEAN, EXIT_DRIFT, EXIT_ERROR};
    use abi_model::drift::{FactPath, Severity};
    use abi_model::record::RecordKey;
    use abi_model::{MachineType, QemuIdentity, Version};

    fn result(db: &abi_store::Db, outcome: Outcome) -> MachineResult {
        let key = RecordKey {
            arch: "x86_64".into(),
            machine: MachineType("pc-q35-7.2".into()),
            profile: "default".into(),
            qemu_version: Version::parse("7.2.22").expect("version"),
        };
        MachineResult::new(db, &key, "default", outcome)
    }

    fn drifted(rule: &str) -> Outcome {
        Outcome::Drifted {
            drifts: vec![rules::drift(
                rule,
                FactPath::new("acpi.APIC.header.revision"),
                Some("1".into()),
                Some("3".into()),
            )],
        }
    }

    /// What each format says about failing: the JSON exit code; JUnit's
    /// failures + errors; GitHub's `::error` lines.
    fn reported(v: &Verdict) -> (i64, bool, bool) {
        let json: serde_json::Value = serde_json::from_str(&json::json(v)).expect("JSON");
        let xml = junit::junit(v);
        let junit_fails = !xml.contains("failures=\"0\" errors=\"0\"");
        let gh_fails = github::github(v).lines().any(|l| l.starts_with("::error"));
        (json["exit_code"].as_i64().unwrap_or(-1), junit_fails, gh_fails)
    }

    #[test]
    fn every_format_reports_the_one_exit_status() {
        let tmp = tempfile::tempdir().expect("tmp");
        let db = abi_store::Db::open_or_create(tmp.path()).expect("db");
        let qemu = QemuIdentity {
            version: Version::parse("10.0.2").expect("version"),
            package: "test".into(),
            blake3: "0".repeat(64),
            build_id: None,
        };
        let outcomes: Vec<(&str, Outcome)> = vec![
            ("clean", Outcome::Clean),
            ("info", drifted("acpi-derived")),
            ("warn", drifted("smbios-firmware-string")),
            ("break", drifted("acpi-table-revision")),
            (
                "failed",
                Outcome::Failed {
                    error: "QEMU crashed".into(),
                },
            ),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (name, outcome) in &outcomes {
            for fail_on in [Severity::Break, Severity::Warn, Severity::Info] {
                for strict in [false, true] {
                    for stale in [false, true] {
                        let policy = Policy { fail_on, strict };
                        let mut v = Verdict::new(qemu.clone(), vec![result(&db, outcome.clone())], policy);
                        if stale {
                            v.waivers = WaiverUse {
                                stale: vec!["gone".into()],
                                ..WaiverUse::default()
                            };
                        }
                        let code = v.exit_code();
                        let expected = match (*name, fail_on) {
                            ("failed", _) => EXIT_ERROR,
                            ("break", _) => EXIT_DRIFT,
                            ("warn", Severity::Warn | Severity::Info) => EXIT_DRIFT,
                            ("info", Severity::Info) => EXIT_DRIFT,
                            _ if strict && stale => EXIT_DRIFT,
                            _ => EXIT_CLEAN,
                        };
                        assert_eq!(code, expected, "{name} fail_on={fail_on} strict={strict} stale={stale}");
                        let (json_code, junit_fails, gh_fails) = reported(&v);
                        let case = format!("{name} fail_on={fail_on} strict={strict} stale={stale}");
                        assert_eq!(json_code, i64::from(code), "JSON, {case}");
                        assert_eq!(junit_fails, code != EXIT_CLEAN, "JUnit, {case}:\n{}", junit::junit(&v));
                        assert_eq!(gh_fails, code != EXIT_CLEAN, "GitHub, {case}:\n{}", github::github(&v));
                        seen.insert(code);
                    }
                }
            }
        }
        assert_eq!(seen.len(), 3, "the matrix reaches every exit status");
    }
}
