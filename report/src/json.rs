//! The JSON report: one versioned document (`docs/report.schema.json`) with
//! one object per result and one per drift, and the run's exit status.

use crate::summary::{status, Summary};
use abi_check::outcome::Outcome;
use abi_check::verdict::{Verdict, WaiverUse};
use abi_model::drift::Drift;
use abi_model::MachineType;
use serde::Serialize;

/// Version of the JSON report format; bump on incompatible changes.
pub const JSON_FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    format: &'static str,
    format_version: u32,
    tool_version: &'static str,
    qemu: &'a abi_model::QemuIdentity,
    exit_code: i32,
    summary: Summary,
    results: Vec<JsonResult<'a>>,
    drifts: Vec<JsonDrift<'a>>,
    waivers: &'a WaiverUse,
    #[serde(skip_serializing_if = "<[MachineType]>::is_empty")]
    new_machine_types: &'a [MachineType],
}

#[derive(Serialize)]
struct JsonResult<'a> {
    machine: &'a str,
    profile: &'a str,
    baseline_qemu_version: String,
    record: String,
    status: &'static str,
    error: Option<&'a str>,
    drift_count: usize,
    input_notes: &'a [String],
}

#[derive(Serialize)]
struct JsonDrift<'a> {
    machine: &'a str,
    profile: &'a str,
    #[serde(flatten)]
    drift: &'a Drift,
}

/// The JSON report: one object per result and one per drift.
pub fn json(v: &Verdict) -> String {
    let doc = JsonReport {
        format: "machine-abi-check",
        format_version: JSON_FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION"),
        qemu: &v.qemu,
        exit_code: v.exit_code(),
        summary: Summary::of(v),
        results: v
            .results
            .iter()
            .map(|r| JsonResult {
                machine: &r.machine.0,
                profile: &r.profile,
                baseline_qemu_version: r.baseline.qemu_version.to_string(),
                record: r.record.display().to_string(),
                status: status(&r.outcome),
                error: match &r.outcome {
                    Outcome::Failed { error } => Some(error),
                    _ => None,
                },
                drift_count: r.drifts().len(),
                input_notes: &r.input_notes,
            })
            .collect(),
        drifts: v
            .results
            .iter()
            .flat_map(|r| {
                r.drifts().iter().map(|d| JsonDrift {
                    machine: &r.machine.0,
                    profile: &r.profile,
                    drift: d,
                })
            })
            .collect(),
        waivers: &v.waivers,
        new_machine_types: &v.new_machines,
    };
    serde_json::to_string_pretty(&doc)
        .map(|s| s + "\n")
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}\n"))
}
