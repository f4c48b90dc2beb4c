//! One bare-probe boot: QEMU with guest RAM shared, the collectors run on
//! the host over `source::Bare`, power-off.

use crate::mailbox::{self, op, Mailbox};
use crate::qemu::{self, Qemu, Serial};
use crate::source::Bare;
use guest_probe::collect::Collection;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Timing {
    pub ready: Duration,
    pub discovered: Duration,
    pub collected: Duration,
    pub exited: Duration,
    /// Guest TSC ticks from entry to ready (firmware excluded).
    pub guest_setup_ticks: u64,
    pub requests: u64,
}

pub struct Outcome {
    pub collection: Collection,
    pub timing: Timing,
    pub bare: BareSummary,
}

pub struct BareSummary {
    pub raw_mmap: Vec<(u64, u64, u32)>,
    pub ecam: Option<u64>,
    pub functions: usize,
}

pub fn run(q: &Qemu, machine: &str, image: &Path, scratch: &Path, extra: &[String]) -> Result<Outcome, String> {
    let ram = crate::ram_file(scratch);
    let serial = scratch.join("serial.txt");
    let mut args = mailbox::qemu_args(&ram, 512);
    args.extend_from_slice(extra);
    let mut r = qemu::start(q, machine, image, "mode=serve", Serial::File(&serial), &args).map_err(|e| e.to_string())?;
    let started = r.started;
    let result = (|| -> Result<(Collection, Timing, BareSummary), String> {
        let (mb, info) = Mailbox::connect(&ram, &mut r.child, Duration::from_secs(60)).map_err(|e| e.to_string())?;
        let ready = started.elapsed();
        let guest_setup_ticks = info.tsc_ready - info.tsc_entry;
        let bare = Bare::discover(mb, info).map_err(|e| format!("discovery: {e}"))?;
        let discovered = started.elapsed();
        let collection = guest_probe::collect(&bare, Vec::new());
        let collected = started.elapsed();
        let requests = bare.mailbox().calls.iter().sum();
        let _ = bare.mailbox().call(op::POWER_OFF, &[], &[]);
        let summary = BareSummary {
            raw_mmap: bare.raw_mmap.clone(),
            ecam: bare.ecam,
            functions: bare.pci.len(),
        };
        Ok((
            collection,
            Timing {
                ready,
                discovered,
                collected,
                exited: Duration::ZERO,
                guest_setup_ticks,
                requests,
            },
            summary,
        ))
    })();
    if result.is_err() {
        let _ = r.child.kill();
    }
    let f = qemu::finish(r, Duration::from_secs(60));
    let _ = std::fs::remove_file(&ram);
    match result {
        Ok((collection, mut timing, bare)) => {
            timing.exited = f.elapsed;
            if !f.ok {
                return Err(format!("QEMU did not exit cleanly: {}", f.stderr));
            }
            Ok(Outcome {
                collection,
                timing,
                bare,
            })
        }
        Err(e) => {
            let tail = std::fs::read_to_string(&serial).unwrap_or_default();
            Err(format!("{machine} on QEMU {}: {e}\nserial: {}\nstderr: {}", q.name, tail.trim(), f.stderr.trim()))
        }
    }
}
