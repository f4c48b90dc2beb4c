//! Comparing host-side facts (compat tables, QMP facts, vmstate schema) of
//! two records. Bytes first again: the QMP facts and the vmstate dump are
//! blobs, parsed only when their ids differ.

use crate::compare::facts::BlobSource;
use crate::compare::memo::Memo;
use crate::compare::vmstate;
use crate::rules;
use abi_model::blob::BlobId;
use abi_model::drift::{Drift, FactPath};
use abi_model::facts::Probed;
use abi_model::host::HostSide;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn root() -> FactPath {
    FactPath::new("host")
}

/// Every difference between two host sections. vmstate findings are kept
/// for the machine type's own devices and for `added` (the device models
/// the profile puts on the command line).
pub fn compare(old: &HostSide, new: &HostSide, ob: BlobSource, nb: BlobSource, added: &BTreeSet<String>) -> Vec<Drift> {
    if old == new {
        return Vec::new();
    }
    let mut out = Vec::new();
    compat(old, new, &mut out);
    let (qa, qb) = (qmp_json(&old.qmp, ob), qmp_json(&new.qmp, nb));
    if old.qmp != new.qmp {
        match (qa.as_deref(), qb.as_deref()) {
            (Some(Some(a)), Some(Some(b))) => qmp(a, b, &mut out),
            _ => availability("qmp", &old.qmp, &new.qmp, &mut out),
        }
    }
    if old.vmstate != new.vmstate {
        match vmstate_findings(&old.vmstate, &new.vmstate, ob, nb).as_deref() {
            Some(Some(pair)) => {
                let types_of = |q: &Option<Arc<Option<Value>>>| device_types(q.as_deref().and_then(Option::as_ref));
                let (ta, tb) = (types_of(&qa), types_of(&qb));
                let in_both: BTreeSet<String> = ta.intersection(&tb).cloned().collect();
                let types = ta.into_iter().chain(tb).chain(added.iter().cloned()).collect();
                vmstate_drift(pair, &types, &in_both, &mut out);
            }
            _ => availability("vmstate", &old.vmstate, &new.vmstate, &mut out),
        }
    }
    device_tree(old, new, ob, nb, &mut out);
    out.sort_by(|x, y| x.path.cmp(&y.path));
    out
}

/// The device tree QEMU generates (`dumpdtb`), decoded when it differs.
fn device_tree(old: &HostSide, new: &HostSide, ob: BlobSource, nb: BlobSource, out: &mut Vec<Drift>) {
    let (a, b) = (old.device_tree.as_ref(), new.device_tree.as_ref());
    if a == b {
        return;
    }
    let at = root().child("device_tree");
    let bytes = |p: Option<&Probed<BlobId>>, src: BlobSource| p.and_then(|p| p.available()).and_then(src);
    match (bytes(a, ob), bytes(b, nb)) {
        (Some(x), Some(y)) => out.extend(crate::compare::dtb::drifts(
            &at,
            &abi_decode::device_tree(&x),
            &abi_decode::device_tree(&y),
        )),
        // Recorded on one side only (a record made before dumpdtb was a
        // host fact has none): nothing to compare, nothing to say.
        _ if a.is_none() || b.is_none() => {}
        _ => {
            let unknown = Probed::Unavailable {
                unavailable: "not recorded".into(),
            };
            availability("device_tree", a.unwrap_or(&unknown), b.unwrap_or(&unknown), out)
        }
    }
}

fn availability<T: PartialEq>(what: &str, a: &Probed<T>, b: &Probed<T>, out: &mut Vec<Drift>) {
    let text = |p: &Probed<T>| match p {
        Probed::Available(_) => "available".to_string(),
        Probed::Unavailable { unavailable } => format!("unavailable: {unavailable}"),
    };
    out.push(rules::drift(
        "host-unavailable",
        root().child(what),
        Some(text(a)),
        Some(text(b)),
    ));
}

fn compat(old: &HostSide, new: &HostSide, out: &mut Vec<Drift>) {
    let (Some(a), Some(b)) = (old.compat.available(), new.compat.available()) else {
        if old.compat != new.compat {
            availability("compat", &old.compat, &new.compat, out);
        }
        return;
    };
    let render = |t: &abi_model::host::AppliedTable| {
        let e: Vec<String> = t
            .entries
            .iter()
            .map(|c| format!("{}.{}={}", c.driver, c.property, c.value))
            .collect();
        format!("{} entries: {}", e.len(), e.join(" "))
    };
    let names: BTreeSet<&String> = a.iter().chain(b).map(|t| &t.name).collect();
    for n in names {
        let x = a.iter().find(|t| &t.name == n).map(render);
        let y = b.iter().find(|t| &t.name == n).map(render);
        if x != y {
            out.push(rules::drift(
                "host-compat-changed",
                root().child("compat").child(n),
                x,
                y,
            ));
        }
    }
}

/// QMP facts, parsed once per blob per run (every profile of a machine type
/// shares them). `None` when the blob is not there; `Some(None)` when it
/// does not parse.
fn qmp_json(p: &Probed<BlobId>, src: BlobSource) -> Option<Arc<Option<Value>>> {
    static PARSED: Memo<BlobId, Option<Value>> = Memo::new(8);
    let id = p.available()?;
    let bytes = src(id)?;
    Some(PARSED.get_or(id, || serde_json::from_slice(&bytes).ok()))
}

/// The vmstate comparison of two dumps in both directions, with the
/// sections each dump lists: computed once per pair of blobs per run.
struct VmstatePair {
    forward: Vec<vmstate::Finding>,
    backward: Vec<vmstate::Finding>,
    old_sections: BTreeSet<String>,
    new_sections: BTreeSet<String>,
}

impl VmstatePair {
    fn of(x: &abi_decode::vmstate::VmstateDump, y: &abi_decode::vmstate::VmstateDump) -> VmstatePair {
        let names = |d: &abi_decode::vmstate::VmstateDump| d.sections.iter().map(|s| s.name.clone()).collect();
        VmstatePair {
            forward: vmstate::compare(x, y),
            backward: vmstate::compare(y, x),
            old_sections: names(x),
            new_sections: names(y),
        }
    }
}

fn vmstate_findings(
    a: &Probed<BlobId>,
    b: &Probed<BlobId>,
    ob: BlobSource,
    nb: BlobSource,
) -> Option<Arc<Option<VmstatePair>>> {
    static PAIRS: Memo<(BlobId, BlobId), Option<VmstatePair>> = Memo::new(8);
    let (ia, ib) = (a.available()?, b.available()?);
    let (ba, bb) = (ob(ia)?, nb(ib)?);
    Some(PAIRS.get_or(&(ia.clone(), ib.clone()), || {
        let parse = |bytes: &[u8]| abi_decode::vmstate::parse(&String::from_utf8_lossy(bytes)).ok();
        Some(VmstatePair::of(&parse(&ba)?, &parse(&bb)?))
    }))
}

/// QOM types of the machine's default devices.
fn device_types(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(|v| v.get("devices"))
        .and_then(Value::as_object)
        .map(|d| {
            d.values()
                .filter_map(|x| x.get("qom-type").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Devices keyed by what the guest sees and what stays stable across
/// releases: QOM type plus PCI slot and function when it has one (from
/// `legacy-addr`, or from the `addr` devfn, since QEMU 11 dropped
/// `legacy-addr`), else its occurrence among devices of that type in QOM
/// path order. QOM paths under `/machine/unattached` are renumbered
/// between releases.
fn devices(v: &Value) -> BTreeMap<String, BTreeMap<String, String>> {
    let Some(d) = v.get("devices").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    // Devices by their identity without a number: type@slot.function, or
    // the type alone. Several devices of one identity (two i8257 DMA
    // controllers) are numbered in the order of their properties, not of
    // their QOM paths, which another release may create in another order.
    let mut by_identity: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for dev in d.values() {
        let ty = dev.get("qom-type").and_then(Value::as_str).unwrap_or("?").to_string();
        let props = dev.get("properties").and_then(Value::as_object);
        let addr = props
            .and_then(|p| p.get("legacy-addr"))
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .or_else(|| {
                let devfn = props?.get("addr")?.as_i64().filter(|a| (0..256).contains(a))?;
                Some(format!("{:02x}.{:x}", devfn >> 3, devfn & 7))
            });
        let identity = match addr {
            Some(a) => format!("{ty}@{a}"),
            None => ty,
        };
        let map = props
            .map(|p| {
                p.iter()
                    .filter(|(k, _)| !DERIVED_CPU_PROPERTIES.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), scalar(v)))
                    .collect()
            })
            .unwrap_or_default();
        by_identity.entry(identity).or_default().push(map);
    }
    let mut out = BTreeMap::new();
    for (identity, mut maps) in by_identity {
        maps.sort();
        for (i, map) in maps.into_iter().enumerate() {
            let key = if i == 0 {
                identity.clone()
            } else {
                format!("{identity} #{}", i + 1)
            };
            out.insert(key, map);
        }
    }
    out
}

/// CPU properties that restate the CPUID words the guest-side facts record.
const DERIVED_CPU_PROPERTIES: [&str; 2] = ["feature-words", "filtered-features"];

fn flat_object(v: Option<&Value>, skip: &[&str]) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !skip.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), scalar(v)))
                .collect()
        })
        .unwrap_or_default()
}

fn map_drift(
    rule: &str,
    at: &FactPath,
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
    out: &mut Vec<Drift>,
) {
    // A property that went and one that came with the same value and the
    // same name once QEMU's stabilising conventions are undone (`x-` prefix,
    // `_` for `-`) is one rename, not a removal and an addition.
    let stem = |k: &str| k.trim_start_matches("x-").replace('_', "-").to_ascii_lowercase();
    let mut renamed: BTreeSet<&String> = BTreeSet::new();
    for (k, v) in a.iter().filter(|(k, _)| !b.contains_key(*k)) {
        let to = b
            .iter()
            .find(|(n, w)| !a.contains_key(*n) && *w == v && stem(n) == stem(k) && !renamed.contains(n));
        if let Some((n, _)) = to {
            renamed.extend([k, n]);
            out.push(rules::drift(
                "host-property-renamed",
                at.child(k),
                Some(k.clone()),
                Some(format!("renamed to {n} (same value {v})")),
            ));
        }
    }
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        if x == y || renamed.contains(k) {
            continue;
        }
        // A property (or a field QMP did not report before) that exists on one
        // side only is a new or retired knob; compat tables pin the values
        // that matter. A value that changed is the finding.
        let reported = |v: Option<&String>| v.is_some_and(|v| v != "null");
        let rule = if reported(x) && reported(y) {
            rule
        } else {
            "host-property-set"
        };
        out.push(rules::drift(rule, at.child(k), x.cloned(), y.cloned()));
    }
}

fn qmp(a: &Value, b: &Value, out: &mut Vec<Drift>) {
    // The machine's own properties. compat-props repeat the ELF tables; the
    // alias and default flag move to the newest machine type every release.
    // Deprecation is policy, reported apart from the machine's defaults.
    let skip = ["compat-props", "name", "alias", "is-default", "deprecated"];
    map_drift(
        "host-machine-changed",
        &root().child("machine"),
        &flat_object(a.get("machine"), &skip),
        &flat_object(b.get("machine"), &skip),
        out,
    );
    let policy = |v: &Value| flat_object(v.get("machine"), &[]).remove("deprecated");
    let (pa, pb) = (policy(a), policy(b));
    if pa != pb {
        out.push(rules::drift(
            "host-machine-policy",
            root().child("machine").child("deprecated"),
            pa,
            pb,
        ));
    }
    let (da, mut db) = (devices(a), devices(b));
    // A device whose QOM type name changed only in its spelling (QEMU 6.x
    // made "ICH9 SMB" "ICH9-SMB") at the same address is the same device: a
    // rename, and its properties are compared under the old key.
    let spelling = |k: &str| {
        let (ty, at) = k.split_once('@').unwrap_or((k, ""));
        let ty: String = ty
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_'))
            .collect::<String>()
            .to_ascii_lowercase();
        (ty, at.to_string())
    };
    let gone: Vec<&String> = da.keys().filter(|n| !db.contains_key(*n)).collect();
    for n in gone {
        let to = db
            .keys()
            .find(|m| !da.contains_key(*m) && spelling(m) == spelling(n))
            .cloned();
        if let Some(m) = to {
            if let Some(mut props) = db.remove(&m) {
                // The `type` property restates the QOM type: renamed with it.
                let ty = |k: &str| k.split_once('@').map_or(k, |(t, _)| t).to_string();
                if props.get("type") == Some(&ty(&m)) && da.get(n).and_then(|p| p.get("type")) == Some(&ty(n)) {
                    props.insert("type".into(), ty(n));
                }
                out.push(rules::drift(
                    "host-property-renamed",
                    root().child("devices").child(n),
                    Some(n.clone()),
                    Some(format!("QOM type renamed: {m}")),
                ));
                db.insert(n.clone(), props);
            }
        }
    }
    let names: BTreeSet<&String> = da.keys().chain(db.keys()).collect();
    for n in names {
        let at = root().child("devices").child(n);
        match (da.get(n), db.get(n)) {
            (Some(x), Some(y)) => map_drift("host-device-changed", &at, x, y, out),
            (x, y) => out.push(rules::drift(
                "host-device-changed",
                at,
                x.map(|_| "present".to_string()),
                y.map(|_| "present".to_string()),
            )),
        }
    }
    let cpu = |v: &Value| {
        let c = v.get("cpu-model");
        let mut m = flat_object(c.and_then(|c| c.get("properties")), &DERIVED_CPU_PROPERTIES);
        if let Some(model) = c.and_then(|c| c.get("model")) {
            m.insert("model".into(), scalar(model));
        }
        m
    };
    map_drift(
        "host-cpu-model-changed",
        &root().child("cpu_model"),
        &cpu(a),
        &cpu(b),
        out,
    );
}

/// vmstate findings of the devices in `types`. A device the machine type
/// instantiates on both sides (`in_both`) whose section only the new dump
/// lists was registered outside its class in the old build (at realize, as
/// piix3-ide was up to QEMU 8.0): `-dump-vmstate` cannot show it, so that
/// is a note, not a finding about the stream.
fn vmstate_drift(pair: &VmstatePair, types: &BTreeSet<String>, in_both: &BTreeSet<String>, out: &mut Vec<Drift>) {
    // The dump lists every device class the binary has; only the devices the
    // machine type instantiates matter for it (all, when QMP facts are missing).
    let relevant = |section: &str| types.is_empty() || types.contains(section);
    // Only a section the OLD dump lacks: a section the new dump lacks could
    // be a device that lost its state description, which old sources would
    // still send (a forward break), so that stays a finding.
    let undumped = |section: &str| {
        in_both.contains(section) && !pair.old_sections.contains(section) && pair.new_sections.contains(section)
    };
    for (direction, findings, break_rule) in [
        ("forward", &pair.forward, "host-vmstate-break"),
        ("backward", &pair.backward, "host-vmstate-backward"),
    ] {
        for f in findings.iter().filter(|f| relevant(&f.section)) {
            let at = root()
                .child("vmstate")
                .child(direction)
                .child(format!("{} {}", f.section, f.path).trim());
            if undumped(&f.section) {
                let note = "not in the old build's -dump-vmstate although the machine type has the device on \
                            both sides: registered outside its class there, so the dumps cannot compare it"
                    .to_string();
                out.push(rules::drift("host-vmstate-info", at, None, Some(note)));
                continue;
            }
            // The section's own version only: a subsection goes on the wire
            // only when its needed() test says so, not for every guest.
            let version = f.path.is_empty()
                && matches!(
                    f.kind,
                    vmstate::FindingKind::VersionTooNew | vmstate::FindingKind::BelowMinimumVersion
                );
            let rule = match f.severity {
                // The section's version goes on the wire whatever the guest
                // did: rolling back to the release fails for every guest.
                vmstate::Severity::Break if direction == "backward" && version => "host-vmstate-backward-version",
                vmstate::Severity::Break => break_rule,
                vmstate::Severity::Info => "host-vmstate-info",
            };
            out.push(rules::drift(rule, at, None, Some(f.message.clone())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules;

    #[test]
    fn rule_ids_exist() {
        for id in [
            "host-compat-changed",
            "host-machine-changed",
            "host-device-changed",
            "host-cpu-model-changed",
            "host-vmstate-break",
            "host-vmstate-backward",
            "host-vmstate-backward-version",
            "host-vmstate-info",
            "host-unavailable",
            "host-property-set",
            "host-property-renamed",
            "host-machine-policy",
        ] {
            assert!(rules::rule(id).is_some(), "{id}");
        }
    }

    #[test]
    fn a_device_keeps_its_identity_when_qemu_drops_legacy_addr() {
        // QEMU 10.0 reports legacy-addr next to the devfn; QEMU 11 only the devfn.
        let a: Value = serde_json::json!({"devices": {
            "/machine/unattached/device[26]": {"qom-type": "e1000e",
                "properties": {"addr": 16, "legacy-addr": "02.0", "mac": "52:54:00:12:34:56"}},
        }});
        let b: Value = serde_json::json!({"devices": {
            "/machine/unattached/device[30]": {"qom-type": "e1000e",
                "properties": {"addr": 16, "mac": "52:54:00:12:34:57"}},
        }});
        let mut out = Vec::new();
        qmp(&a, &b, &mut out);
        let got: Vec<(&str, &str)> = out.iter().map(|d| (d.rule.as_str(), d.path.as_str())).collect();
        assert_eq!(
            got,
            [
                ("host-property-set", "host.devices.\"e1000e@02.0\".legacy-addr"),
                ("host-device-changed", "host.devices.\"e1000e@02.0\".mac"),
            ],
            "the device is the same one; only what changed on it is reported"
        );
    }

    #[test]
    fn twin_devices_pair_by_their_properties_not_their_qom_paths() {
        // Two i8257 DMA controllers, created in the other order by another release.
        let a: Value = serde_json::json!({"devices": {
            "/machine/unattached/device[5]": {"qom-type": "i8257", "properties": {"base": 0, "page-base": 135}},
            "/machine/unattached/device[6]": {"qom-type": "i8257", "properties": {"base": 192, "page-base": 143}},
        }});
        let b: Value = serde_json::json!({"devices": {
            "/machine/unattached/device[5]": {"qom-type": "i8257", "properties": {"base": 192, "page-base": 143}},
            "/machine/unattached/device[9]": {"qom-type": "i8257", "properties": {"base": 0, "page-base": 135}},
        }});
        let mut out = Vec::new();
        qmp(&a, &b, &mut out);
        assert!(out.is_empty(), "{out:#?}");
    }

    #[test]
    fn a_stabilised_property_name_is_a_rename() {
        let a: Value = serde_json::json!({"devices": {"/machine/q35/mch": {"qom-type": "mch",
            "properties": {"addr": 0, "x-pci-hole64-fix": true, "other": 1}}}});
        let b: Value = serde_json::json!({"devices": {"/machine/q35/mch": {"qom-type": "mch",
            "properties": {"addr": 0, "pci_hole64_fix": true, "another": 1}}}});
        let mut out = Vec::new();
        qmp(&a, &b, &mut out);
        let got: Vec<(&str, &str, Option<&str>)> = out
            .iter()
            .map(|d| (d.rule.as_str(), d.path.as_str(), d.new.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "host-property-renamed",
                    "host.devices.\"mch@00.0\".x-pci-hole64-fix",
                    Some("renamed to pci_hole64_fix (same value true)")
                ),
                ("host-property-set", "host.devices.\"mch@00.0\".another", Some("1")),
                ("host-property-set", "host.devices.\"mch@00.0\".other", None),
            ],
            "same value, same stem: a rename; same value, another name: not one"
        );
    }

    #[test]
    fn devices_are_keyed_by_type_and_address_not_qom_path() {
        let a: Value = serde_json::json!({"devices": {
            "/machine/unattached/device[8]": {"qom-type": "mc146818rtc", "properties": {"iobase": 112}},
            "/machine/q35/mch": {"qom-type": "mch", "properties": {"legacy-addr": "00.0", "x": 1}},
        }});
        let b: Value = serde_json::json!({"devices": {
            "/machine/unattached/device[2]/rtc": {"qom-type": "mc146818rtc", "properties": {"iobase": 112}},
            "/machine/q35/mch": {"qom-type": "mch", "properties": {"legacy-addr": "00.0", "x": 2}},
        }});
        let mut out = Vec::new();
        qmp(&a, &b, &mut out);
        let paths: Vec<(&str, Option<&str>, Option<&str>)> = out
            .iter()
            .map(|d| (d.path.as_str(), d.old.as_deref(), d.new.as_deref()))
            .collect();
        assert_eq!(paths, [("host.devices.\"mch@00.0\".x", Some("1"), Some("2"))]);
    }

    #[test]
    fn a_respelled_qom_type_at_the_same_address_is_a_rename() {
        // QEMU 5.2 -> 7.2, pc-q35: the SMBus function's type "ICH9 SMB" became
        // "ICH9-SMB"; a property that changed with it is still reported.
        let a: Value = serde_json::json!({"devices": {
            "/machine/q35/pcie.0/smbus": {"qom-type": "ICH9 SMB", "properties": {"legacy-addr": "1f.3", "x": 1, "type": "ICH9 SMB"}},
        }});
        let mut b = a.clone();
        b["devices"]["/machine/q35/pcie.0/smbus"]["qom-type"] = "ICH9-SMB".into();
        b["devices"]["/machine/q35/pcie.0/smbus"]["properties"]["type"] = "ICH9-SMB".into();
        b["devices"]["/machine/q35/pcie.0/smbus"]["properties"]["x"] = 2.into();
        let mut out = Vec::new();
        qmp(&a, &b, &mut out);
        let got: Vec<(&str, &str, Option<&str>)> = out
            .iter()
            .map(|d| (d.rule.as_str(), d.path.as_str(), d.new.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "host-property-renamed",
                    "host.devices.\"ICH9 SMB@1f.3\"",
                    Some("QOM type renamed: ICH9-SMB@1f.3")
                ),
                ("host-device-changed", "host.devices.\"ICH9 SMB@1f.3\".x", Some("2")),
            ]
        );
        // Another type at the address is no rename.
        b["devices"]["/machine/q35/pcie.0/smbus"]["qom-type"] = "ICH9-LPC".into();
        let mut out = Vec::new();
        qmp(&a, &b, &mut out);
        assert!(out.iter().all(|d| d.rule == "host-device-changed"), "{out:#?}");
    }
}

#[cfg(test)]
mod undumped_tests {
    use super::*;

    fn real(version: &str) -> abi_decode::vmstate::VmstateDump {
        let p = format!(
            "{}/tests/data/vmstate/qemu-{version}-pc-q35-7.2.json",
            concat!(env!("CARGO_MANIFEST_DIR"), "/..")
        );
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        abi_decode::vmstate::parse(&text).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_device_of_both_releases_missing_from_one_dump_is_a_note_not_a_break() {
        // 7.2 registers piix3-ide's state at realize: its dump lacks the section.
        let (old, new) = (real("7.2"), real("10.0"));
        assert!(old.section("piix3-ide").is_none() && new.section("piix3-ide").is_some());
        let types = set(&["piix3-ide"]);
        let mut out = Vec::new();
        vmstate_drift(&VmstatePair::of(&old, &new), &types, &types, &mut out);
        assert!(!out.is_empty());
        assert!(out.iter().all(|d| d.rule == "host-vmstate-info"), "{out:#?}");
        assert!(out.iter().all(|d| d
            .new
            .as_deref()
            .is_some_and(|m| m.contains("old build's -dump-vmstate"))));
        // A device only the new build instantiates keeps its finding.
        let mut out = Vec::new();
        vmstate_drift(&VmstatePair::of(&old, &new), &types, &BTreeSet::new(), &mut out);
        assert!(out.iter().any(|d| d.rule == "host-vmstate-backward"), "{out:#?}");
        // A section only the OLD dump has (the new build lost the device's
        // state description) stays a forward break: old sources still send it.
        let mut out = Vec::new();
        vmstate_drift(&VmstatePair::of(&new, &old), &types, &types, &mut out);
        assert!(out.iter().any(|d| d.rule == "host-vmstate-break"), "{out:#?}");
    }
}
