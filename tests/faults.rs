//! Adversarial cases: what a hostile guest, a broken database, a QEMU that
//! crashes, hangs or lies, and an impatient user do to a run. Each case was
//! a wrong answer, a crash or a leak once (issue "Never a silent pass");
//! each must now end with a clear error (exit 2) and nothing lost.

mod common;

#[path = "faults/run.rs"]
mod run;
