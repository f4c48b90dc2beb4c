//! Which device sits at each PCI slot of a record, in the developer's words
//! (`e1000e (nic1)`), from the record's own data: the boot's command line
//! (the profile's `-device`s, with their ids and `addr=`) and the host-side
//! QMP facts (the machine type's own devices, their QOM type and `addr`).
//! Findings name the slot and this, so `0000:00:09.0 revision` reads
//! `0000:00:09.0 e1000e (nic1) revision`.

use crate::compare::facts::BlobSource;
use abi_model::drift::{Category, Drift};
use abi_model::host::HostFacts;
use abi_model::record::Record;
use std::collections::{BTreeMap, BTreeSet};

/// `0000:00:SS.F` of a root-bus device function number.
fn slot(devfn: u64) -> String {
    format!("0000:00:{:02x}.{}", (devfn >> 3) & 0x1f, devfn & 7)
}

/// The devfn of an `addr=` value: `0x09`, `9`, `0x1f.2`, `1f.2`.
fn parse_addr(addr: &str) -> Option<u64> {
    let (dev, func) = match addr.split_once('.') {
        Some((d, f)) => (d, f.parse::<u64>().ok()?),
        None => (addr, 0),
    };
    let dev = match dev.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        // QEMU reads a bare addr= as hex too (`addr=1f.2`).
        None => u64::from_str_radix(dev, 16).ok()?,
    };
    (dev < 32 && func < 8).then_some((dev << 3) | func)
}

/// The profile's devices on the root bus, by slot: `-device
/// MODEL,id=ID,addr=…` without `bus=` (or on `pcie.0`/`pci.0`). A PCI
/// device (`…-pci`) without `addr=` takes the first slot not in `taken`,
/// in command-line order, as QEMU assigns it; `taken` holds the slots of
/// the machine's own devices.
pub fn from_command_line(command_line: &[String], taken: &mut BTreeSet<u64>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for w in command_line.windows(2).filter(|w| w[0] == "-device") {
        let mut parts = w[1].split(',');
        let Some(model) = parts.next() else { continue };
        let (mut id, mut addr, mut root) = (None, None, true);
        for kv in parts {
            match kv.split_once('=') {
                Some(("id", v)) => id = Some(v),
                Some(("addr", v)) => addr = parse_addr(v),
                Some(("bus", v)) => root = matches!(v, "pcie.0" | "pci.0"),
                _ => {}
            }
        }
        let pci = model.ends_with("-pci") || model.contains("-pci-");
        let devfn = match addr {
            Some(d) => Some(d),
            None if pci => (0..32).find(|s| !taken.contains(s)).map(|s| s << 3),
            None => None,
        };
        let Some(devfn) = devfn.filter(|_| root) else { continue };
        taken.insert(devfn >> 3);
        let name = match id {
            Some(id) => format!("{model} ({id})"),
            None => model.to_string(),
        };
        out.insert(slot(devfn), name);
    }
    out
}

/// The machine type's own PCI devices by devfn, from its host-side QMP
/// facts: every device with an integer `addr` (its devfn on the root bus),
/// named by QOM type, and by id when it sits under `/machine/peripheral/`.
/// With `without_nics`, devices with a `mac` (the default NIC, which a
/// `-netdev` on the boot's command line replaces) are left out.
pub fn from_host_facts(facts: &HostFacts, without_nics: bool) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    for (path, d) in &facts.devices {
        let Some(devfn) = d.properties.get("addr").and_then(|v| v.as_u64()) else {
            continue;
        };
        if devfn > 0xff || (without_nics && d.properties.contains_key("mac")) {
            continue;
        }
        let name = match path.strip_prefix("/machine/peripheral/") {
            Some(id) if !id.contains('/') => format!("{} ({id})", d.qom_type),
            _ => d.qom_type.clone(),
        };
        out.insert(devfn, name);
    }
    out
}

/// Every named slot of a record: the machine's own devices (host-side
/// facts), then the profile's (its command line).
pub fn names(record: &Record, blobs: BlobSource) -> BTreeMap<String, String> {
    let line = &record.provenance.command_line;
    let replaces_nic = line.iter().any(|a| a == "-netdev" || a == "-nic");
    let own = record
        .host
        .as_ref()
        .and_then(|h| h.qmp.available())
        .and_then(blobs)
        .and_then(|bytes| serde_json::from_slice::<HostFacts>(&bytes).ok())
        .map(|f| from_host_facts(&f, replaces_nic))
        .unwrap_or_default();
    let mut taken: BTreeSet<u64> = own.keys().map(|d| d >> 3).collect();
    let mut out: BTreeMap<String, String> = own.into_iter().map(|(d, n)| (slot(d), n)).collect();
    out.extend(from_command_line(line, &mut taken));
    out
}

/// Name the device of every PCI and virtio drift: the observed record's
/// name for its slot, else the baseline's.
pub fn name_drifts(drifts: &mut [Drift], baseline: &Record, observed: &Record, ob: BlobSource, nb: BlobSource) {
    let wanted = |d: &Drift| matches!(d.category, Category::Pci | Category::Virtio);
    if !drifts.iter().any(wanted) {
        return;
    }
    let new = names(observed, nb);
    let old = names(baseline, ob);
    for d in drifts.iter_mut().filter(|d| wanted(d)) {
        let Some(slot) = d.path.segments().get(1).cloned() else {
            continue;
        };
        d.device = new.get(&slot).or_else(|| old.get(&slot)).cloned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_devices_by_slot() {
        let line: Vec<String> = [
            "$QEMU",
            "-device",
            "e1000e,id=nic1,netdev=net1,mac=52:54:00:00:02:09,addr=0x09",
            "-device",
            "virtio-blk-pci,id=blk0,drive=d0,addr=1f.2",
            "-device",
            "usb-tablet,id=tab,bus=usb.0",
            "-device",
            "nvme,id=nvme0,bus=pcie.0,addr=0x0c,serial=x",
            "-device",
            "e1000,addr=0x03,bus=rp1",
        ]
        .map(String::from)
        .into();
        let mut taken = BTreeSet::from([0, 1, 2]);
        let m = from_command_line(&line, &mut taken);
        assert_eq!(m.get("0000:00:09.0").map(String::as_str), Some("e1000e (nic1)"));
        assert_eq!(m.get("0000:00:1f.2").map(String::as_str), Some("virtio-blk-pci (blk0)"));
        assert_eq!(m.get("0000:00:0c.0").map(String::as_str), Some("nvme (nvme0)"));
        assert_eq!(m.len(), 3, "devices off the root bus are not named: {m:?}");
        // Without addr=, PCI devices take the free slots in order.
        let line: Vec<String> = [
            "-device",
            "virtio-net-pci,netdev=n",
            "-device",
            "usb-kbd",
            "-device",
            "virtio-rng-pci",
        ]
        .map(String::from)
        .into();
        let m = from_command_line(&line, &mut BTreeSet::from([0, 1, 3]));
        assert_eq!(m.get("0000:00:02.0").map(String::as_str), Some("virtio-net-pci"));
        assert_eq!(m.get("0000:00:04.0").map(String::as_str), Some("virtio-rng-pci"));
        assert_eq!(m.len(), 2, "{m:?}");
    }

    #[test]
    fn host_facts_of_a_real_record_name_the_default_devices() {
        // The host-side QMP facts of pc-q35-7.2 on QEMU 7.2.22, legacy-nic
        // profile, from the project's database.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../abi-db");
        let text = std::fs::read_to_string(root.join("records/x86_64/pc-q35-7.2/legacy-nic/7.2.22.toml"))
            .expect("record in abi-db");
        let record: Record = toml::from_str(&text).expect("record");
        let db = abi_store::Db::open(&root).expect("abi-db");
        let read = |id: &abi_model::BlobId| db.blob(id).ok();
        let m = names(&record, &read);
        assert_eq!(m.get("0000:00:01.0").map(String::as_str), Some("VGA"));
        assert_eq!(m.get("0000:00:1f.2").map(String::as_str), Some("ich9-ahci"));
        assert_eq!(m.get("0000:00:00.0").map(String::as_str), Some("mch"));
        assert_eq!(m.get("0000:00:09.0").map(String::as_str), Some("e1000e (nic1)"));
        assert_eq!(m.get("0000:00:0b.0").map(String::as_str), Some("pcnet (nic3)"));
    }
}
