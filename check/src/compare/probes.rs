//! Records made by different probes. The Linux probe reads the machine
//! after Linux booted it; the bare probe reads it as the firmware handed it
//! over. A few registers Linux writes at boot therefore differ between the
//! two, though the machine is the same. The guest ABI is the value the
//! machine hands over (the bare probe's): Linux's writes are one operating
//! system's policy, and what makes them (the DSDT's `_DIS`, the device's
//! capability layout) is recorded and compared where it lives.
//!
//! Only when baseline and observation come from different probe kinds, and
//! only for the exact bits listed in [`OS_WRITES`], the baseline's bits are
//! replaced by the observation's before the comparison, and each replaced
//! byte is reported as one `probe-os-written` (info) drift naming the
//! cause. Any other difference in the same config space is compared and
//! reported as usual. The boot payload each probe brings in fw_cfg is
//! relabelled `probe-boot-payload` (info) the same way ([`relabel_payload`]).

use crate::rules;
use abi_model::blob::BlobId;
use abi_model::drift::{Drift, FactPath};
use abi_model::Facts;
use std::collections::BTreeMap;

/// Which functions an entry applies to.
#[derive(Clone, Copy, Debug)]
pub enum Function {
    /// A vendor:device pair.
    Id(u16, u16),
    /// A class code (base, sub, programming interface).
    Class(u32),
}

/// Where the bits are.
#[derive(Clone, Copy, Debug)]
pub enum Register {
    /// A byte at a fixed config space offset.
    Byte(usize),
    /// The high byte of the MSI-X Message Control register (enable, function mask).
    MsixControlHigh,
}

/// Bits an operating system writes at boot, before a probe under it reads them.
#[derive(Debug)]
pub struct OsWrite {
    /// The functions.
    pub function: Function,
    /// The register.
    pub register: Register,
    /// The bits of that byte.
    pub mask: u8,
    /// The register's name.
    pub name: &'static str,
    /// Who writes it and why.
    pub cause: &'static str,
}

const PIRQ_DIS: &str = "Linux evaluates _DIS on every PCI interrupt link at boot (drivers/acpi/pci_link.c, \
                        acpi_pci_link_add: \"disable all links\"), and QEMU's LNKx._DIS sets bit 7 (routing \
                        disabled); the firmware left the link routed";
const NVME: &str = "the Debian cloud kernel's built-in nvme driver bound the device before the Linux probe ran";

/// Every OS-written register the two probes are known to see differently,
/// found by comparing all 55 QEMU 7.2 machine types x 5 profiles recorded by
/// both (bare-probe/README.md).
pub const OS_WRITES: &[OsWrite] = &[
    // ICH9 LPC (q35): PIRQA-D at 0x60-0x63, PIRQE-H at 0x68-0x6b.
    pirq(0x2918, 0x60, "PIRQA_ROUT"),
    pirq(0x2918, 0x61, "PIRQB_ROUT"),
    pirq(0x2918, 0x62, "PIRQC_ROUT"),
    pirq(0x2918, 0x63, "PIRQD_ROUT"),
    pirq(0x2918, 0x68, "PIRQE_ROUT"),
    pirq(0x2918, 0x69, "PIRQF_ROUT"),
    pirq(0x2918, 0x6a, "PIRQG_ROUT"),
    pirq(0x2918, 0x6b, "PIRQH_ROUT"),
    // PIIX3 ISA bridge (i440fx): PIRQA-D at 0x60-0x63.
    pirq(0x7000, 0x60, "PIRQRCA"),
    pirq(0x7000, 0x61, "PIRQRCB"),
    pirq(0x7000, 0x62, "PIRQRCC"),
    pirq(0x7000, 0x63, "PIRQRCD"),
    OsWrite {
        function: Function::Id(0x8086, 0x7000),
        register: Register::Byte(0x82),
        mask: 0x02,
        name: "DLC passive release",
        cause: "Linux's quirk_passive_release (drivers/pci/quirks.c, a fixup on the 82441 host bridge) sets \
                Passive Release in the PIIX3's DLC register",
    },
    OsWrite {
        function: Function::Class(0x01_08_02),
        register: Register::Byte(0x04),
        mask: 0x04,
        name: "command.MASTER",
        cause: NVME,
    },
    OsWrite {
        function: Function::Class(0x01_08_02),
        register: Register::Byte(0x05),
        mask: 0x04,
        name: "command.INTX_DISABLE",
        cause: NVME,
    },
    OsWrite {
        function: Function::Class(0x01_08_02),
        register: Register::MsixControlHigh,
        mask: 0x80,
        name: "MSI-X enable",
        cause: NVME,
    },
];

const fn pirq(device: u16, offset: usize, name: &'static str) -> OsWrite {
    OsWrite {
        function: Function::Id(0x8086, device),
        register: Register::Byte(offset),
        mask: 0x80,
        name,
        cause: PIRQ_DIS,
    }
}

fn applies(w: &OsWrite, config: &[u8]) -> bool {
    let b = |o: usize| config.get(o).copied().unwrap_or(0);
    let u16_at = |o: usize| u16::from(b(o)) | u16::from(b(o + 1)) << 8;
    match w.function {
        Function::Id(v, d) => u16_at(0) == v && u16_at(2) == d,
        Function::Class(c) => (u32::from(b(0x0b)) << 16 | u32::from(b(0x0a)) << 8 | u32::from(b(0x09))) == c,
    }
}

/// The config space offset of `r`, if the function has it.
fn offset(r: Register, config: &[u8]) -> Option<usize> {
    match r {
        Register::Byte(o) => Some(o),
        Register::MsixControlHigh => {
            let b = |o: usize| config.get(o).copied().unwrap_or(0);
            if b(6) & 0x10 == 0 {
                return None;
            }
            let mut p = b(0x34) & 0xfc;
            for _ in 0..48 {
                if p < 0x40 {
                    return None;
                }
                if b(p as usize) == 0x11 {
                    return Some(p as usize + 3);
                }
                p = b(p as usize + 1) & 0xfc;
            }
            None
        }
    }
}

/// A baseline with the OS-written bits taken from the observation.
pub struct Reconciled {
    /// The baseline's facts, each changed config space under its new blob id.
    pub facts: Facts,
    /// The changed config spaces by their new blob ids.
    pub blobs: BTreeMap<BlobId, Vec<u8>>,
    /// One `probe-os-written` drift per byte that differed in those bits.
    pub drifts: Vec<Drift>,
}

/// The baseline with the OS-written bits of every PCI function replaced by
/// the observation's. `None` when nothing differs there.
pub fn reconcile(
    old: &Facts,
    new: &Facts,
    old_blob: super::facts::BlobSource,
    new_blob: super::facts::BlobSource,
) -> Option<Reconciled> {
    let (a, b) = (old.pci.available()?, new.pci.available()?);
    let mut patched = old.clone();
    let mut blobs = BTreeMap::new();
    let mut drifts = Vec::new();
    for (addr, f) in a {
        let (Some(f), Some(g)) = (f.available(), b.get(addr).and_then(|g| g.available())) else {
            continue;
        };
        if f.config == g.config {
            continue;
        }
        let (Some(mut x), Some(y)) = (old_blob(&f.config), new_blob(&g.config)) else {
            continue;
        };
        let before = x.clone();
        for w in OS_WRITES.iter().filter(|w| applies(w, &before) && applies(w, &y)) {
            let (Some(o), Some(p)) = (offset(w.register, &before), offset(w.register, &y)) else {
                continue;
            };
            let (Some(&u), Some(&v)) = (before.get(o), y.get(p)) else {
                continue;
            };
            if o != p || (u ^ v) & w.mask == 0 {
                continue;
            }
            x[o] = (u & !w.mask) | (v & w.mask);
            let mut d = rules::drift(
                "probe-os-written",
                FactPath::root()
                    .child("pci")
                    .child(&addr.to_string())
                    .item(&format!("{} ({o:#04x})", w.name)),
                Some(format!("{u:#04x}")),
                Some(format!("{v:#04x}")),
            );
            d.detail = Some(format!("bits {:#04x}: {}", w.mask, w.cause));
            drifts.push(d);
        }
        if x != before {
            let id = BlobId::of(&x);
            if let abi_model::Probed::Available(m) = &mut patched.pci {
                if let Some(abi_model::Probed::Available(pf)) = m.get_mut(addr) {
                    pf.config = id.clone();
                }
            }
            blobs.insert(id, x);
        }
    }
    (!drifts.is_empty()).then_some(Reconciled {
        facts: patched,
        blobs,
        drifts,
    })
}

/// Each probe kind brings its own boot payload (a Linux kernel and
/// linuxboot_dma.bin, or the bare probe's Multiboot image and
/// multiboot_dma.bin): across kinds, the payload drifts of `out` are the
/// probes' difference, `probe-boot-payload`, naming both kinds.
pub fn relabel_payload(
    out: &mut [Drift],
    baseline: abi_model::provenance::ProbeKind,
    observed: abi_model::provenance::ProbeKind,
) {
    let kinds = format!("baseline by the {baseline} probe, observation by the {observed} probe");
    for d in out.iter_mut().filter(|d| d.rule == "fw_cfg-payload-file") {
        let mut e = rules::drift("probe-boot-payload", d.path.clone(), d.old.take(), d.new.take());
        e.detail = Some(match d.detail.take() {
            Some(x) => format!("{kinds}; {x}"),
            None => kinds.clone(),
        });
        *d = e;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_model::provenance::ProbeKind;
    use abi_model::{Probed, Record};
    use abi_store::Db;
    use std::path::Path;

    /// The PIIX3 of a real Linux-probe record (pc-i440fx-7.2 on QEMU 7.2.22).
    fn record() -> (Db, Record) {
        let db = Db::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/db-qemu-7.2.22")).expect("db");
        let key = db
            .index()
            .expect("index")
            .into_iter()
            .find(|k| k.machine.0 == "pc-i440fx-7.2" && k.profile == "default")
            .expect("a pc-i440fx-7.2 default record");
        let r = db.load(&key).expect("record");
        (db, r)
    }

    fn piix3(r: &mut Record) -> &mut abi_model::facts::PciFunction {
        let Probed::Available(m) = &mut r.facts.pci else {
            panic!("no PCI facts")
        };
        let Some((_, Probed::Available(f))) = m.iter_mut().find(|(a, _)| a.to_string() == "0000:00:01.0") else {
            panic!("no PIIX3")
        };
        f
    }

    #[test]
    fn os_written_bits_are_info_only_across_probe_kinds() {
        let (db, linux) = record();
        let mut bare = linux.clone();
        let config = db.blob(&piix3(&mut bare).config).expect("PIIX3 config");
        assert_eq!(&config[0x60..0x64], [0x8a, 0x8a, 0x8b, 0x8b], "what Linux leaves");
        assert_eq!(config[0x82], 0x02);
        let mut as_handed_over = config.clone();
        for b in &mut as_handed_over[0x60..0x64] {
            *b &= 0x7f;
        }
        as_handed_over[0x82] = 0;
        // A real change next to them must still be reported.
        as_handed_over[0x64] ^= 0x01;
        piix3(&mut bare).config = BlobId::of(&as_handed_over);
        bare.provenance.probe.kind = ProbeKind::Bare;
        let ob = |id: &BlobId| db.blob(id).ok();
        let nb = |id: &BlobId| {
            if *id == BlobId::of(&as_handed_over) {
                Some(as_handed_over.clone())
            } else {
                db.blob(id).ok()
            }
        };
        let drifts = crate::outcome::drifts(&linux, &bare, &ob, &nb);
        let got: Vec<(&str, &str, &str, &str)> = drifts
            .iter()
            .map(|d| {
                (
                    d.rule.as_str(),
                    d.path.as_str(),
                    d.old.as_deref().unwrap_or(""),
                    d.new.as_deref().unwrap_or(""),
                )
            })
            .collect();
        let os = |reg: &'static str, old, new| ("probe-os-written", reg, old, new);
        let path = |s: &str| format!("pci.\"0000:00:01.0\".\"{s}\"");
        let expected = [
            os("DLC passive release (0x82)", "0x02", "0x00"),
            os("PIRQRCA (0x60)", "0x8a", "0x0a"),
            os("PIRQRCB (0x61)", "0x8a", "0x0a"),
            os("PIRQRCC (0x62)", "0x8b", "0x0b"),
            os("PIRQRCD (0x63)", "0x8b", "0x0b"),
        ];
        for (rule, reg, old, new) in expected {
            assert!(
                got.iter().any(|g| *g == (rule, path(reg).as_str(), old, new)),
                "{reg}: {got:#?}"
            );
        }
        // The real change, as a raw run of the decoded config space (runs
        // are keyed by offset, so the run may now start at 0x60), with the
        // reconciled bits equal on both sides.
        let others: Vec<_> = got.iter().filter(|g| g.0 != "probe-os-written").collect();
        assert!(!others.is_empty(), "the change at 0x64 is lost: {got:#?}");
        assert!(others.iter().all(|g| g.0 == "pci-config-changed"), "{others:#?}");
        assert!(others.iter().any(|g| g.3.starts_with("0a0a0b0b01")), "{others:#?}");
        assert!(others.iter().all(|g| !g.2.contains("8a8a")), "{others:#?}");
        assert!(drifts
            .iter()
            .all(|d| d.rule != "probe-os-written" || d.severity == abi_model::Severity::Info));
        let detail = drifts.iter().find_map(|d| d.detail.as_deref()).unwrap_or("");
        assert!(
            detail.contains("_DIS") || detail.contains("quirk_passive_release"),
            "{detail}"
        );

        // The same probe on both sides: every bit is compared as always.
        bare.provenance.probe.kind = ProbeKind::Linux;
        let same = crate::outcome::drifts(&linux, &bare, &ob, &nb);
        assert!(same.iter().all(|d| d.rule != "probe-os-written"), "{same:#?}");
        assert!(same.iter().any(|d| d.rule == "pci-config-changed"));
    }

    #[test]
    fn msix_enable_is_found_through_the_capability_list() {
        let mut c = vec![0u8; 256];
        c[0x06] = 0x10; // capability list
        c[0x34] = 0x40;
        c[0x40] = 0x11; // MSI-X
        c[0x41] = 0x00;
        assert_eq!(offset(Register::MsixControlHigh, &c), Some(0x43));
        c[0x40] = 0x05;
        assert_eq!(offset(Register::MsixControlHigh, &c), None);
        c[0x09..0x0c].copy_from_slice(&[0x02, 0x08, 0x01]);
        assert!(OS_WRITES.iter().filter(|w| applies(w, &c)).count() == 3, "nvme entries");
    }
}
