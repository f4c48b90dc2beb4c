//! Compare a bare-probe collection with a Linux-probe record, fact class by
//! fact class, and show every byte that differs.

use guest_probe::blob::BlobId;
use guest_probe::collect::Collection;
use guest_probe::facts::{Facts, Probed};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

pub struct Record {
    pub facts: Facts,
    blob_dir: std::path::PathBuf,
}

impl Record {
    pub fn load(path: &Path, db: &Path) -> Result<Record, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let v: toml::Value = toml::from_str(&text).map_err(|e| e.to_string())?;
        let facts = v.get("facts").ok_or("record without [facts]")?;
        let doc = toml::to_string(facts).map_err(|e| e.to_string())?;
        let facts = guest_probe::collect::parse_document(&doc).map_err(|e| e.to_string())?;
        Ok(Record {
            facts,
            blob_dir: db.join("blobs"),
        })
    }

    fn blob(&self, id: &BlobId) -> Option<Vec<u8>> {
        std::fs::read(self.blob_dir.join(&id.as_str()[..2]).join(id.as_str())).ok()
    }
}

/// Per fact class: (compared, identical, lines describing differences).
#[derive(Default)]
pub struct Class {
    pub compared: usize,
    pub identical: usize,
    pub diffs: Vec<String>,
}

fn byte_diff(old: &[u8], new: &[u8]) -> String {
    let mut s = String::new();
    if old.len() != new.len() {
        let _ = write!(s, "length {} -> {}; ", old.len(), new.len());
    }
    let mut n = 0;
    let mut i = 0;
    let len = old.len().min(new.len());
    while i < len {
        if old[i] != new[i] {
            let start = i;
            while i < len && old[i] != new[i] && i - start < 8 {
                i += 1;
            }
            if n < 12 {
                let _ = write!(
                    s,
                    "@{start:#05x}: {} -> {}; ",
                    guest_probe::hex::bytes_to_hex(&old[start..i]),
                    guest_probe::hex::bytes_to_hex(&new[start..i])
                );
            }
            n += 1;
        } else {
            i += 1;
        }
    }
    if n > 12 {
        let _ = write!(s, "… {} differing runs in all", n);
    }
    s
}

fn avail<T>(p: &Probed<T>) -> Option<&T> {
    p.available()
}

pub fn compare(new: &Collection, rec: &Record) -> BTreeMap<&'static str, Class> {
    let mut out: BTreeMap<&'static str, Class> = BTreeMap::new();
    let nb = |id: &BlobId| new.blobs.get(id).map(<[u8]>::to_vec).unwrap_or_default();
    let (o, n) = (&rec.facts, &new.facts);

    // ACPI
    let c = out.entry("acpi").or_default();
    match (avail(&o.acpi), avail(&n.acpi)) {
        (Some(a), Some(b)) => {
            let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for name in names {
                c.compared += 1;
                match (a.get(name).and_then(avail), b.get(name).and_then(avail)) {
                    (Some(x), Some(y)) if x.blob == y.blob => c.identical += 1,
                    (Some(x), Some(y)) => c.diffs.push(format!(
                        "{name}: {}",
                        byte_diff(&rec.blob(&x.blob).unwrap_or_default(), &nb(&y.blob))
                    )),
                    (x, y) => c.diffs.push(format!("{name}: linux {} bare {}", x.is_some(), y.is_some())),
                }
            }
        }
        (a, b) => c.diffs.push(format!("acpi available: linux {} bare {}", a.is_some(), b.is_some())),
    }

    // SMBIOS
    let c = out.entry("smbios").or_default();
    match (avail(&o.smbios), avail(&n.smbios)) {
        (Some(a), Some(b)) => {
            for (what, x, y) in [("entry point", &a.entry_point, &b.entry_point), ("table", &a.table, &b.table)] {
                c.compared += 1;
                if x == y {
                    c.identical += 1;
                } else {
                    c.diffs.push(format!("{what}: {}", byte_diff(&rec.blob(x).unwrap_or_default(), &nb(y))));
                }
            }
        }
        (a, b) => c.diffs.push(format!("smbios available: linux {} bare {}", a.is_some(), b.is_some())),
    }

    // PCI: config bytes, and the decoded rest (BARs, sizes, topology) apart.
    match (avail(&o.pci), avail(&n.pci)) {
        (Some(a), Some(b)) => {
            let names: BTreeSet<_> = a.keys().chain(b.keys()).collect();
            for name in names {
                let (x, y) = (a.get(name).and_then(avail), b.get(name).and_then(avail));
                let (Some(x), Some(y)) = (x, y) else {
                    let c = out.entry("pci config").or_default();
                    c.compared += 1;
                    c.diffs.push(format!("{name}: linux {} bare {}", x.is_some(), y.is_some()));
                    continue;
                };
                let c = out.entry("pci config").or_default();
                c.compared += 1;
                if x.config == y.config {
                    c.identical += 1;
                } else {
                    c.diffs.push(format!(
                        "{name} ({:04x}:{:04x}): {}",
                        x.vendor.0,
                        x.device.0,
                        byte_diff(&rec.blob(&x.config).unwrap_or_default(), &nb(&y.config))
                    ));
                }
                let c = out.entry("pci bars/topology").or_default();
                c.compared += 1;
                let mut x2 = x.clone();
                x2.config = y.config.clone();
                if x2 == *y {
                    c.identical += 1;
                } else {
                    let mut d = Vec::new();
                    if x.bars != y.bars {
                        d.push(format!("bars linux {:?} bare {:?}", x.bars, y.bars));
                    }
                    if x.rom_size != y.rom_size {
                        d.push(format!("rom_size linux {:?} bare {:?}", x.rom_size, y.rom_size));
                    }
                    if x.config_size != y.config_size {
                        d.push(format!("config_size {} -> {}", x.config_size, y.config_size));
                    }
                    if x.parents != y.parents {
                        d.push(format!("parents {:?} -> {:?}", x.parents, y.parents));
                    }
                    if d.is_empty() {
                        d.push("decoded fields differ (follow from the config bytes)".into());
                    }
                    c.diffs.push(format!("{name}: {}", d.join("; ")));
                }
            }
        }
        (a, b) => out
            .entry("pci config")
            .or_default()
            .diffs
            .push(format!("pci available: linux {} bare {}", a.is_some(), b.is_some())),
    }

    // CPUID
    let c = out.entry("cpuid").or_default();
    match (avail(&o.cpuid), avail(&n.cpuid)) {
        (Some(a), Some(b)) => {
            for cpu in a.iter().map(|x| x.cpu).chain(b.iter().map(|x| x.cpu)).collect::<BTreeSet<_>>() {
                c.compared += 1;
                let x = a.iter().find(|x| x.cpu == cpu);
                let y = b.iter().find(|x| x.cpu == cpu);
                match (x, y) {
                    (Some(x), Some(y)) if x.leaves == y.leaves => c.identical += 1,
                    (Some(x), Some(y)) => {
                        let keys: BTreeSet<_> = x.leaves.keys().chain(y.leaves.keys()).collect();
                        let d: Vec<String> = keys
                            .into_iter()
                            .filter(|k| x.leaves.get(*k) != y.leaves.get(*k))
                            .map(|k| format!("{k}: {:?} -> {:?}", x.leaves.get(k), y.leaves.get(k)))
                            .collect();
                        c.diffs.push(format!("cpu {cpu}: {}", d.join("; ")));
                    }
                    _ => c.diffs.push(format!("cpu {cpu}: linux {} bare {}", x.is_some(), y.is_some())),
                }
            }
        }
        (a, b) => c.diffs.push(format!("cpuid available: linux {} bare {}", a.is_some(), b.is_some())),
    }

    // Memory map
    let c = out.entry("memory map").or_default();
    c.compared += 1;
    if o.memory_map == n.memory_map {
        c.identical += 1;
    } else {
        let show = |m: &Probed<Vec<guest_probe::facts::MemoryRange>>| match m.available() {
            Some(v) => v.iter().map(|r| format!("{}-{} {}", r.start, r.end, r.kind)).collect::<Vec<_>>().join(", "),
            None => "unavailable".into(),
        };
        c.diffs.push(format!("linux [{}]\n        bare  [{}]", show(&o.memory_map), show(&n.memory_map)));
    }

    // fw_cfg
    match (avail(&o.fw_cfg), avail(&n.fw_cfg)) {
        (Some(a), Some(b)) => {
            let c = out.entry("fw_cfg keys").or_default();
            for k in a.keys.keys().chain(b.keys.keys()).collect::<BTreeSet<_>>() {
                c.compared += 1;
                if a.keys.get(k) == b.keys.get(k) {
                    c.identical += 1;
                } else {
                    c.diffs.push(format!("{k}: {:?} -> {:?}", a.keys.get(k), b.keys.get(k)));
                }
            }
            let c = out.entry("fw_cfg files").or_default();
            for k in a.files.keys().chain(b.files.keys()).collect::<BTreeSet<_>>() {
                c.compared += 1;
                match (a.files.get(k), b.files.get(k)) {
                    (Some(x), Some(y)) if x == y => c.identical += 1,
                    (Some(x), Some(y)) => {
                        let mut d = Vec::new();
                        if x.selector != y.selector {
                            d.push(format!("selector {} -> {}", x.selector, y.selector));
                        }
                        if x.size != y.size {
                            d.push(format!("size {:?} -> {:?}", x.size, y.size));
                        }
                        if let (Some(Probed::Available(p)), Some(Probed::Available(q))) = (&x.content, &y.content) {
                            if p != q {
                                d.push(format!("content {}", byte_diff(&rec.blob(p).unwrap_or_default(), &nb(q))));
                            }
                        } else if x.content != y.content {
                            d.push(format!("content {:?} -> {:?}", x.content, y.content));
                        }
                        c.diffs.push(format!("{k}: {}", d.join("; ")));
                    }
                    (x, y) => c.diffs.push(format!("{k}: only in {}", if x.is_some() { "linux" } else { "bare" })),
                }
            }
        }
        (a, b) => out
            .entry("fw_cfg keys")
            .or_default()
            .diffs
            .push(format!("fw_cfg available: linux {} bare {}", a.is_some(), b.is_some())),
    }

    // virtio
    let c = out.entry("virtio").or_default();
    match (avail(&o.virtio), avail(&n.virtio)) {
        (Some(a), Some(b)) => {
            for k in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
                c.compared += 1;
                if a.get(k) == b.get(k) {
                    c.identical += 1;
                } else {
                    c.diffs.push(format!("{k}: linux {:?}\n        bare  {:?}", a.get(k), b.get(k)));
                }
            }
        }
        (a, b) => c.diffs.push(format!("virtio available: linux {} bare {}", a.is_some(), b.is_some())),
    }
    out
}
