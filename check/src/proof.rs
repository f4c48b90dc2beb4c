//! Migration proof of vmstate findings: what a real migration between the
//! baseline release's binary and the build showed (the recorder runs it),
//! attached to the findings of its direction. A backward finding is a
//! break once a real migration fails on its device; a failure that names
//! another device proves nothing about it.

use abi_decode::vmstate::VmstateDump;
use abi_model::drift::{Drift, Severity};
use std::collections::{BTreeMap, BTreeSet};

/// The vmstate rules whose findings a real migration can prove.
pub const VMSTATE_RULES: [&str; 3] = [
    "host-vmstate-break",
    "host-vmstate-backward",
    "host-vmstate-backward-version",
];

/// One migration's result, in one direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// Source release, e.g. `7.2.22`.
    pub from: String,
    /// Destination release, e.g. `10.0.2`.
    pub to: String,
    /// `Ok(None)`: the destination loaded the stream; `Ok(Some(reason))`:
    /// the load failed, in QEMU's words; `Err`: the migration could not be
    /// tried.
    pub result: Result<Option<String>, String>,
    /// The devices the source refused to migrate at all, so the migration
    /// went without them.
    pub left_out: Vec<LeftOut>,
}

/// A device a migration went without.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftOut {
    /// Its device model (`-device` driver), e.g. `nvme`.
    pub device: String,
    /// The section id QEMU refused to migrate, e.g. `0000:00:0b.0/nvme`.
    pub section: String,
}

impl Proof {
    /// `proven: migration 7.2.22 → 10.0.2 of a never-started guest: …`.
    pub fn describe(&self) -> String {
        let head = self.head();
        let note = if self.left_out.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = self.left_out.iter().map(|l| l.device.as_str()).collect();
            format!(" (without {}: not migratable)", names.join(", "))
        };
        match &self.result {
            Ok(None) => format!("proven: {head}: loaded{note}"),
            Ok(Some(why)) => format!("proven: {head}: load fails ({why}){note}"),
            Err(e) => format!("unproven: {head} could not be tried: {e}"),
        }
    }

    fn head(&self) -> String {
        format!("migration {} → {} of a never-started guest", self.from, self.to)
    }

    /// The left-out device that is `device` (a QOM type): by model, or by
    /// the section QEMU refused (through `sections`).
    fn left_out(&self, device: &str, sections: &Sections) -> Option<&LeftOut> {
        self.left_out
            .iter()
            .find(|l| l.device == device || sections.is_of(vmsd_name(&l.section), device))
    }
}

/// The migration section ids a QEMU load failure names, in order: `0000:00:0c.0/pciespscsi` (instance path, then the description
/// name) or a bare description name (`timer`). Read from the messages of
/// QEMU 5.2 to 11.1 that name the section being loaded:
///
/// - `Missing section footer for ID`
/// - `error while loading state for instance 0x0 of device 'ID'`
/// - `Unknown savevm section or instance 'ID' 0` (11.1: `Unknown section or instance`)
/// - `savevm: unsupported version 2 for 'ID' v1`
/// - `State blocked by non-migratable device 'ID'`
///
/// Lines that name only a (possibly nested) description and field
/// (`Failed to load PCIDevice:config`) or nothing (`load of migration
/// failed: Invalid argument`) name no section.
pub fn section_ids(message: &str) -> Vec<String> {
    // Markers an id in single quotes follows (after `N for` for the version).
    const QUOTED: [&str; 4] = [
        "of device '",
        "section or instance '",
        "non-migratable device '",
        "unsupported version ",
    ];
    let mut out: Vec<String> = Vec::new();
    let mut push = |id: &str| {
        let id = id.trim();
        if !id.is_empty() && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    };
    for (at, _) in message.match_indices("Missing section footer for ") {
        let rest = &message[at + "Missing section footer for ".len()..];
        let end = rest.find(|c: char| c.is_whitespace() || c == ';').unwrap_or(rest.len());
        push(&rest[..end]);
    }
    for marker in QUOTED {
        for (at, _) in message.match_indices(marker) {
            let mut rest = &message[at + marker.len()..];
            if marker == "unsupported version " {
                // `unsupported version 2 for 'ID' v1`
                let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
                match rest[digits..].strip_prefix(" for '") {
                    Some(r) if digits > 0 => rest = r,
                    _ => continue,
                }
            }
            if let Some(end) = rest.find('\'') {
                push(&rest[..end]);
            }
        }
    }
    // savevm.c, for an iterative section (`ram`) that fails to load.
    for (at, _) in message.match_indices("state section id ") {
        let rest = &message[at + "state section id ".len()..];
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if let Some(r) = rest[digits..].strip_prefix('(') {
            if let Some(end) = r.find(')') {
                push(&r[..end]);
            }
        }
    }
    out
}

/// The description (vmsd) name of a section id: what follows the instance
/// path (`0000:00:0c.0/pciespscsi` → `pciespscsi`; SCSI disks have
/// `0000:00:09.0/0:0:0/scsi-disk`).
pub fn vmsd_name(section_id: &str) -> &str {
    section_id.rsplit('/').next().unwrap_or(section_id)
}

/// Which devices (QOM types) send each description (vmsd) name as a
/// migration section, from the `-dump-vmstate` facts of the records: the
/// only way from a section id (`…/pciespscsi`) to a finding's device
/// (`am53c974`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sections(BTreeMap<String, BTreeSet<String>>);

impl Sections {
    /// Add every section of a dump.
    pub fn add(&mut self, dump: &VmstateDump) {
        for s in &dump.sections {
            self.0.entry(s.vmsd_name.clone()).or_default().insert(s.name.clone());
        }
    }

    /// Add the dump a record's host-side facts hold (`host.vmstate`), read
    /// with `blob`; `Err` when it is not there or does not parse.
    pub fn add_record(
        &mut self,
        record: &abi_model::record::Record,
        blob: &dyn Fn(&abi_model::blob::BlobId) -> Option<Vec<u8>>,
    ) -> Result<(), String> {
        let host = record.host.as_ref().ok_or("no host-side facts")?;
        let id = match &host.vmstate {
            abi_model::facts::Probed::Available(id) => id,
            abi_model::facts::Probed::Unavailable { unavailable } => return Err(unavailable.clone()),
        };
        let bytes = blob(id).ok_or_else(|| format!("vmstate blob {id} missing"))?;
        let dump = abi_decode::vmstate::parse(&String::from_utf8_lossy(&bytes)).map_err(|e| e.to_string())?;
        self.add(&dump);
        Ok(())
    }

    /// True when a section of description name `vmsd` is `device`'s: the
    /// dumps say `device` sends it, or `vmsd` is `device` itself (`nvme`).
    /// Exact names only: `esp` is not `pciespscsi`.
    pub fn is_of(&self, vmsd: &str, device: &str) -> bool {
        vmsd == device || self.0.get(vmsd).is_some_and(|types| types.contains(device))
    }
}

/// The device (QOM type) a vmstate finding is about: the first word of its
/// last path segment (`"am53c974 esp.drq_state"` → `am53c974`).
fn device(d: &Drift) -> Option<String> {
    let seg = d.path.segments();
    let device = seg.last()?.split_whitespace().next()?.to_string();
    (!device.is_empty()).then_some(device)
}

/// Attach `forward` (release → build) and `backward` (build → release) to
/// every vmstate finding of their direction. A backward finding whose
/// migration failed on a section of its device (by `sections`) becomes a
/// break; a failure on another section, or on none, proves nothing about it.
/// A finding on a device the migration went without is unproven, whatever
/// the rest of the stream did.
pub fn attach(drifts: &mut [Drift], forward: &Proof, backward: &Proof, sections: &Sections) {
    for d in drifts.iter_mut().filter(|d| VMSTATE_RULES.contains(&d.rule.as_str())) {
        let is_backward = d.path.as_str().starts_with("host.vmstate.backward");
        let proof = if is_backward { backward } else { forward };
        let mut text = proof.describe();
        if let (Ok(result), Some(l)) = (&proof.result, device(d).and_then(|dev| proof.left_out(&dev, sections))) {
            let outcome = match result {
                None => "loaded".to_string(),
                Some(why) => format!("load fails ({why})"),
            };
            d.detail = Some(format!(
                "unproven (device not migrated: {} refuses to migrate {} ({}); without it, the {}: {outcome})",
                proof.from,
                l.device,
                l.section,
                proof.head()
            ));
            continue;
        }
        if let Ok(Some(why)) = &proof.result {
            let ids = section_ids(why);
            let own = device(d).is_some_and(|dev| ids.iter().any(|id| sections.is_of(vmsd_name(id), &dev)));
            if own {
                if is_backward {
                    d.severity = Severity::Break;
                }
            } else if ids.is_empty() {
                text.push_str("; the failure names no device, so it proves nothing about this one");
            } else {
                text.push_str(&format!(
                    "; the failure names {}, another device, so it proves nothing about this one",
                    ids.join(", ")
                ));
            }
        }
        d.detail = Some(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_model::FactPath;

    fn backward(section_path: &str) -> Drift {
        crate::rules::drift(
            "host-vmstate-backward",
            FactPath::root()
                .child("host")
                .child("vmstate")
                .child("backward")
                .child(section_path),
            None,
            Some("subsection unknown to dst".into()),
        )
    }

    fn proof(result: Result<Option<String>, String>) -> Proof {
        Proof {
            from: "11.1.3".into(),
            to: "10.0.2".into(),
            result,
            left_out: Vec::new(),
        }
    }

    #[test]
    fn a_backward_finding_proven_on_its_device_is_a_break() {
        let mut d = vec![backward("nvme nvme/sub/"), backward("scsi-hd scsi-disk/pr/")];
        assert_eq!(d[0].severity, Severity::Warn);
        let failed = proof(Ok(Some(
            "State blocked by non-migratable device '0000:00:0b.0/nvme'; load of migration failed".into(),
        )));
        attach(&mut d, &proof(Ok(None)), &failed, &Sections::default());
        assert_eq!(d[0].severity, Severity::Break, "{:?}", d[0]);
        assert!(d[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .starts_with("proven: migration 11.1.3 → 10.0.2 of a never-started guest: load fails (State blocked"));
        assert_eq!(d[1].severity, Severity::Warn, "the failure is nvme's, not scsi-hd's");
        assert!(d[1]
            .detail
            .as_deref()
            .unwrap_or("")
            .ends_with("proves nothing about this one"));
    }

    #[test]
    fn loads_and_untried_migrations_keep_the_severity() {
        let mut d = vec![backward("isa-i8259 i8259/ltim/")];
        attach(&mut d, &proof(Ok(None)), &proof(Ok(None)), &Sections::default());
        assert_eq!(d[0].severity, Severity::Warn);
        assert_eq!(
            d[0].detail.as_deref(),
            Some("proven: migration 11.1.3 → 10.0.2 of a never-started guest: loaded")
        );
        attach(
            &mut d,
            &proof(Ok(None)),
            &proof(Err("source: no such device".into())),
            &Sections::default(),
        );
        assert_eq!(d[0].severity, Severity::Warn);
        assert!(d[0].detail.as_deref().unwrap_or("").starts_with("unproven: "));
    }

    /// Load failures as the pinned builds print them (QEMU's stderr lines
    /// joined as `migrate::reason` joins them), and the section ids in them.
    const REAL: [(&str, &str, &[&str]); 8] = [
        (
            "10.0.2 loading 7.2.22's am53c974 (F1)",
            "Missing section footer for 0000:00:0c.0/pciespscsi; load of migration failed: Invalid argument",
            &["0000:00:0c.0/pciespscsi"],
        ),
        (
            "11.1.3 loading 7.2.22's am53c974",
            "warning: Machine type 'pc-q35-7.2' is deprecated: machines more than 3 years old are subject to \
             deletion after 6 years; Missing section footer for 0000:00:01.0/pciespscsi; load of migration \
             failed: Invalid argument: Section footer error, section_id: 38",
            &["0000:00:01.0/pciespscsi"],
        ),
        (
            "5.2 loading 10.0.2's am53c974",
            "savevm: unsupported version 2 for '0000:00:0c.0/pciespscsi' v1; load of migration failed: Invalid argument",
            &["0000:00:0c.0/pciespscsi"],
        ),
        (
            "10.0.2 without the source's am53c974",
            "Unknown savevm section or instance '0000:00:0c.0/pciespscsi' 0. Make sure that your current VM setup \
             matches your saved VM setup, including any hotplugged devices; load of migration failed: Invalid \
             argument",
            &["0000:00:0c.0/pciespscsi"],
        ),
        (
            "11.1.3 without the source's am53c974",
            "load of migration failed: Invalid argument: Unknown section or instance '0000:00:0c.0/pciespscsi' 0. \
             Make sure that your current VM setup matches your saved VM setup, including any hotplugged devices",
            &["0000:00:0c.0/pciespscsi"],
        ),
        (
            "10.0.2 loading a virtio-blk-pci of 4 queues into one of 1",
            "get_pci_config_device: Bad config data: i=0x9a read: 4 device: 1 cmask: ff wmask: 0 w1cmask:0; \
             Failed to load PCIDevice:config; Failed to load virtio-blk:virtio; error while loading state for \
             instance 0x0 of device '0000:00:09.0/virtio-blk'; load of migration failed: Invalid argument",
            &["0000:00:09.0/virtio-blk"],
        ),
        (
            "11.1.3 loading a virtio-blk-pci of 4 queues into one of 1",
            "get_pci_config_device: Bad config data: i=0x9a read: 4 device: 1 cmask: ff wmask: 0 w1cmask:0; \
             Failed to load element of type pci config for config; load of migration failed: Invalid argument: \
             error while loading state for instance 0x0 of device '0000:00:09.0/virtio-blk': Failed to load \
             element of type virtio for virtio",
            &["0000:00:09.0/virtio-blk"],
        ),
        (
            "10.0.2 loading 11.1.3's nvme",
            "State blocked by non-migratable device '0000:00:0b.0/nvme'; load of migration failed: Invalid argument",
            &["0000:00:0b.0/nvme"],
        ),
    ];

    #[test]
    fn section_ids_are_read_from_real_load_failures() {
        for (what, message, ids) in REAL {
            assert_eq!(section_ids(message), ids, "{what}: {message}");
        }
        assert!(section_ids("load of migration failed: Invalid argument").is_empty());
        assert!(section_ids("QEMU exited without a message").is_empty());
        assert_eq!(section_ids("error while loading state section id 2(ram)"), ["ram"]);
        assert_eq!(vmsd_name("0000:00:09.0/0:0:0/scsi-disk"), "scsi-disk");
        assert_eq!(vmsd_name("timer"), "timer");
    }

    /// The vmstate dumps of 7.2.22 and 10.0.2 (pc-q35-7.2), as records carry them.
    fn real_sections() -> Sections {
        let mut sections = Sections::default();
        for version in ["7.2", "10.0"] {
            let p = format!(
                "{}/../tests/data/vmstate/qemu-{version}-pc-q35-7.2.json",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
            sections.add(&abi_decode::vmstate::parse(&text).unwrap_or_else(|e| panic!("{p}: {e}")));
        }
        sections
    }

    #[test]
    fn a_failure_names_a_device_by_its_exact_section_not_a_substring() {
        let sections = real_sections();
        // pciespscsi is am53c974's description; esp is only nested in it
        // (and in sysbus-esp's), never a section of its own.
        assert!(sections.is_of("pciespscsi", "am53c974"));
        assert!(!sections.is_of("pciespscsi", "sysbus-esp"));
        assert!(!sections.is_of("esp", "am53c974"));
        assert!(sections.is_of("virtio-blk", "virtio-blk-device"));
        assert!(sections.is_of("scsi-disk", "scsi-hd"));
        let esp = REAL[0].1;
        let blk = REAL[5].1;
        let mut d = vec![
            backward("am53c974 esp.drq_state"),
            // `esp` and `scsi` both occur inside "pciespscsi"; neither is its section.
            backward("sysbus-esp esp.drq_state"),
            backward("scsi-hd scsi-disk/pr/"),
        ];
        attach(&mut d, &proof(Ok(None)), &proof(Ok(Some(esp.into()))), &sections);
        let severities: Vec<Severity> = d.iter().map(|d| d.severity).collect();
        assert_eq!(severities, [Severity::Break, Severity::Warn, Severity::Warn], "{d:#?}");
        assert!(d[1].detail.as_deref().unwrap_or("").ends_with(
            "the failure names 0000:00:0c.0/pciespscsi, another device, so it proves nothing about this one"
        ));
        // A section-level finding whose QOM type the message never spells
        // out: virtio-blk is virtio-blk-device's section.
        let mut d = vec![backward("virtio-blk-device"), backward("virtio-net-device virtio-net/")];
        attach(&mut d, &proof(Ok(None)), &proof(Ok(Some(blk.into()))), &sections);
        assert_eq!(d[0].severity, Severity::Break, "{:?}", d[0]);
        assert_eq!(d[1].severity, Severity::Warn, "{:?}", d[1]);
        // A failure that names no section proves nothing about any device.
        let mut d = vec![backward("am53c974 esp.drq_state")];
        let bare = "load of migration failed: Invalid argument";
        attach(&mut d, &proof(Ok(None)), &proof(Ok(Some(bare.into()))), &sections);
        assert_eq!(d[0].severity, Severity::Warn);
        assert!(d[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .ends_with("names no device, so it proves nothing about this one"));
    }

    #[test]
    fn a_finding_on_a_device_left_out_is_unproven() {
        // 7.2.22 refuses to migrate nvme: the storage profile migrates
        // without it, and the stream of the rest loads.
        let mut without_nvme = proof(Ok(None));
        without_nvme.from = "7.2.22".into();
        without_nvme.left_out = vec![LeftOut {
            device: "nvme".into(),
            section: "0000:00:0b.0/nvme".into(),
        }];
        let mut d = vec![backward("nvme"), backward("scsi-hd scsi-disk/pr/")];
        attach(&mut d, &proof(Ok(None)), &without_nvme, &real_sections());
        let nvme = d[0].detail.as_deref().unwrap_or("");
        assert!(
            nvme.starts_with("unproven (device not migrated: 7.2.22 refuses to migrate nvme (0000:00:0b.0/nvme)"),
            "{nvme}"
        );
        assert!(!nvme.contains("proven:"), "{nvme}");
        assert_eq!(
            d[1].detail.as_deref(),
            Some("proven: migration 7.2.22 → 10.0.2 of a never-started guest: loaded (without nvme: not migratable)")
        );
        // Nor does a failure elsewhere prove anything about it, or make it a break.
        let mut failed = without_nvme.clone();
        failed.result = Ok(Some(REAL[0].1.into()));
        let mut d = vec![backward("nvme")];
        attach(&mut d, &proof(Ok(None)), &failed, &real_sections());
        assert_eq!(d[0].severity, Severity::Warn);
        assert!(d[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .starts_with("unproven (device not migrated: "));
    }
}
