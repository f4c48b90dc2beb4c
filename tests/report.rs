//! Reports on real records, without booting: the project's QEMU 7.2.22
//! records in tests/data/db-qemu-7.2.22 against QEMU 10.0.2 records of the same machine types
//! (tests/data/db-qemu-10.0.2, made by `machine-abi record` with the pinned
//! builds of scripts/fetch-qemu).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn machine_abi(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_machine-abi"))
        .args(args)
        .current_dir(repo())
        .env_remove("CI")
        .output()
        .unwrap_or_else(|e| panic!("cannot run machine-abi: {e}"));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The QEMU 7.2.22 records of pc-q35-7.2 and pc-i440fx-7.2 (default and
/// virtio profiles as they were defined when captured).
const OLD: &str = "tests/data/db-qemu-7.2.22";
const NEW: &str = "tests/data/db-qemu-10.0.2";

fn diff(format: &str) -> Run {
    let run = machine_abi(&["diff", OLD, NEW, "--format", format, "--color", "never"]);
    assert_eq!(
        run.code,
        Some(1),
        "diff 7.2 → 10.0 must report drift\n{}{}",
        run.stdout,
        run.stderr
    );
    run
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("docs/report.schema.json")).expect("docs/report.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn json_report() -> serde_json::Value {
    let run = diff("json");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON: {e}\n{}", run.stdout))
}

#[test]
fn json_report_validates_against_its_schema() {
    let doc = json_report();
    let validator = schema();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");

    // The schema is not vacuous: a wrong severity, a missing field and an
    // unknown field are each rejected.
    let mut bad = doc.clone();
    bad["drifts"][0]["severity"] = "fatal".into();
    assert!(!validator.is_valid(&bad));
    let mut bad = doc.clone();
    bad["drifts"][0].as_object_mut().map(|o| o.remove("rule"));
    assert!(!validator.is_valid(&bad));
    let mut bad = doc.clone();
    bad["summary"]["surprise"] = 1.into();
    assert!(!validator.is_valid(&bad));
}

#[test]
fn json_report_is_consistent_with_itself() {
    let doc = json_report();
    let drifts = doc["drifts"].as_array().expect("drifts");
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), 4);
    let summary = &doc["summary"];
    let count = |sev: &str| drifts.iter().filter(|d| d["severity"] == sev).count() as u64;
    assert_eq!(summary["breaks"].as_u64(), Some(count("break")));
    assert_eq!(summary["warnings"].as_u64(), Some(count("warn")));
    assert_eq!(summary["info"].as_u64(), Some(count("info")));
    for r in results {
        let n = drifts
            .iter()
            .filter(|d| d["machine"] == r["machine"] && d["profile"] == r["profile"])
            .count() as u64;
        assert_eq!(r["drift_count"].as_u64(), Some(n), "{r}");
        assert!(
            Path::new(&repo()).join(r["record"].as_str().unwrap_or("")).is_file(),
            "{r}"
        );
    }
    for d in drifts {
        let id = d["rule"].as_str().unwrap_or("");
        let rule = abi_check::rules::rule(id).unwrap_or_else(|| panic!("unknown rule {id}"));
        assert_eq!(d["severity"], rule.severity.as_str(), "{d}");
        assert_eq!(d["category"], rule.category.as_str(), "{d}");
    }
}

#[test]
fn same_records_are_clean_in_every_format() {
    for (format, drift_marker) in [
        ("text", " break "),
        ("json", "\"severity\""),
        ("junit", "<failure"),
        ("github", "::error"),
    ] {
        let run = machine_abi(&["diff", OLD, OLD, "--format", format]);
        assert_eq!(run.code, Some(0), "{format}: {}{}", run.stdout, run.stderr);
        assert!(!run.stdout.contains(drift_marker), "{format}: {}", run.stdout);
        // Every format says how many pairs were compared, and that none drifted.
        let counted = match format {
            "json" => {
                let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
                doc["summary"]["checked"] == 4 && doc["summary"]["drifted"] == 0 && doc["exit_code"] == 0
            }
            "junit" => run.stdout.contains("tests=\"4\" failures=\"0\" errors=\"0\""),
            _ => run.stdout.contains("4 machine types checked, 0 drifted"),
        };
        assert!(counted, "{format}: {}", run.stdout);
    }
}

#[test]
fn junit_has_one_testcase_per_machine_type() {
    let run = diff("junit");
    let xml = &run.stdout;
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
    assert_eq!(xml.matches("<failure type=\"drift\"").count(), 4, "{xml}");
    assert!(xml.contains("tests=\"4\" failures=\"4\" errors=\"0\""), "{xml}");
    for m in ["pc-q35-7.2", "pc-i440fx-7.2"] {
        assert!(xml.contains(&format!("name=\"{m}\"")), "{xml}");
    }
    // Every element opened is closed.
    assert_eq!(
        xml.matches("<testcase ").count(),
        xml.matches("</testcase>").count(),
        "{xml}"
    );
    assert!(xml.trim_end().ends_with("</testsuites>"), "{xml}");
}

#[test]
fn github_annotations_point_at_the_baseline_records() {
    let run = diff("github");
    let annotations: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert!(!annotations.is_empty(), "{}", run.stdout);
    for a in &annotations {
        assert!(
            a.starts_with("::error file=tests/data/db-qemu-7.2.22/records/x86_64/")
                || a.starts_with("::warning file=tests/data/db-qemu-7.2.22/records/x86_64/"),
            "{a}"
        );
        assert!(a.contains(",title=machine-abi "), "{a}");
        assert!(!a.contains('\n'));
    }
    let last = run.stdout.lines().last().unwrap_or("");
    assert!(last.starts_with("4 machine types checked, 4 drifted"), "{}", run.stdout);
}

#[test]
fn history_counts_what_the_diff_of_the_same_pair_reports() {
    // One database with both releases' records of the same machine types.
    let tmp = tempfile::tempdir().expect("tmp");
    let db = tmp.path().join("db");
    for side in [OLD, NEW] {
        let run = machine_abi(&["merge", "--db", db.to_str().unwrap_or(""), side]);
        assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    }
    let run = machine_abi(&[
        "history",
        "--db",
        db.to_str().unwrap_or(""),
        "pc-q35-7.2",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let h: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let diff: serde_json::Value = serde_json::from_str(&diff("json").stdout).expect("JSON");
    let profiles = h.as_array().expect("one history per profile");
    assert_eq!(profiles.len(), 2, "default and virtio");
    for p in profiles {
        let profile = p["profile"].as_str().unwrap_or("");
        assert_eq!(p["versions"], serde_json::json!(["7.2.22", "10.0.2"]));
        let step = &p["steps"][0];
        let count = |sev: &str| {
            diff["drifts"]
                .as_array()
                .map(|ds| {
                    ds.iter()
                        .filter(|d| d["machine"] == "pc-q35-7.2" && d["profile"] == profile && d["severity"] == sev)
                        .count() as u64
                })
                .unwrap_or(0)
        };
        for sev in ["break", "warn", "info"] {
            assert_eq!(
                step["unwaived"][sev].as_u64().unwrap_or(0),
                count(sev),
                "{profile} {sev}: {step}"
            );
        }
        assert!(count("break") > 0, "the pair drifted");
    }
    let text = machine_abi(&["history", "--db", db.to_str().unwrap_or(""), "pc-q35-7.2"]);
    assert!(
        text.stdout
            .contains("pc-q35-7.2 (default): records of QEMU 7.2.22, 10.0.2\n  7.2.22 → 10.0.2: "),
        "{}",
        text.stdout
    );
}
