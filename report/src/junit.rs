//! JUnit XML for CI dashboards: one test case per (machine type, profile).

use crate::describe::drift_line;
use crate::summary::Summary;
use abi_check::outcome::Outcome;
use abi_check::verdict::Verdict;
use abi_model::drift::Severity;
use std::fmt::Write;

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab/newline are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test case per (machine type, profile). Unwaived drift at
/// or above the policy's threshold (`--fail-on`) and removed machine types
/// are failures; a machine type that could not be checked is an error.
/// Under `--strict`, stale waivers are one more failing test case, so the
/// dashboard fails exactly when the process does.
pub fn junit(v: &Verdict) -> String {
    let s = Summary::of(v);
    let threshold = v.policy.fail_on;
    let stale = v.policy.strict && !v.waivers.stale.is_empty();
    let failures = v
        .results
        .iter()
        .filter(|r| v.fails(r) && !matches!(r.outcome, Outcome::Failed { .. }))
        .count()
        + usize::from(stale);
    let tests = s.checked + usize::from(stale);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let name = xml_escape(&format!("machine-abi check of QEMU {}", v.qemu.version));
    let _ = writeln!(
        out,
        "<testsuites name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{}\">",
        s.failed
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{}\" skipped=\"0\">",
        s.failed
    );
    for r in &v.results {
        let _ = write!(
            out,
            "    <testcase classname=\"machine-abi.{}\" name=\"{}\"",
            xml_escape(&r.profile),
            xml_escape(&r.machine.0)
        );
        let body: Vec<String> = r.drifts().iter().map(drift_line).collect();
        match &r.outcome {
            Outcome::Clean => out.push_str("/>\n"),
            Outcome::Drifted { drifts } => {
                out.push_str(">\n");
                let failing = drifts
                    .iter()
                    .filter(|d| d.severity >= threshold && d.unwaived())
                    .count();
                let text = xml_escape(&body.join("\n"));
                if failing > 0 {
                    let what = if threshold == Severity::Break {
                        "breaking change".to_string()
                    } else {
                        format!("change at or above {threshold}")
                    };
                    let _ = writeln!(
                        out,
                        "      <failure type=\"drift\" message=\"{failing} {what}{} against QEMU {}\">{text}</failure>",
                        if failing == 1 { "" } else { "s" },
                        r.baseline.qemu_version
                    );
                } else {
                    let _ = writeln!(out, "      <system-out>{text}</system-out>");
                }
                out.push_str("    </testcase>\n");
            }
            Outcome::Failed { error } => {
                out.push_str(">\n");
                let _ = writeln!(
                    out,
                    "      <error type=\"could-not-check\" message=\"{}\"/>",
                    xml_escape(error)
                );
                out.push_str("    </testcase>\n");
            }
        }
    }
    if stale {
        let _ = writeln!(
            out,
            "    <testcase classname=\"machine-abi.waivers\" name=\"stale waivers\">\n      \
             <failure type=\"stale-waiver\" message=\"{} stale waiver{} (--strict)\">{}</failure>\n    </testcase>",
            v.waivers.stale.len(),
            if v.waivers.stale.len() == 1 { "" } else { "s" },
            xml_escape(&v.waivers.stale.join("\n"))
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
