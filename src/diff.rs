//! The diff engine: flatten two fact documents into `path → value` maps and
//! report every difference as a [`Drift`]. Bytes are compared first (blob
//! ids); where a blob differs, the first differing offset is located.

use guest_probe::blob::BlobId;
use guest_probe::Facts;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// Where a fact lives in the document, e.g.
/// `acpi.APIC.header.revision` or `pci."0000:00:02.0".capabilities[offset=0xc8].id`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FactPath(String);

impl FactPath {
    /// The path text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The top-level section (`pci`, `acpi`, `smbios`, …).
    pub fn category(&self) -> &str {
        self.0.split(['.', '[']).next().unwrap_or("")
    }

    fn child(&self, key: &str) -> FactPath {
        let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let seg = if plain { key.to_string() } else { format!("\"{key}\"") };
        FactPath(if self.0.is_empty() {
            seg
        } else {
            format!("{}.{seg}", self.0)
        })
    }

    fn element(&self, label: &str) -> FactPath {
        FactPath(format!("{}[{label}]", self.0))
    }
}

impl fmt::Display for FactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One fact that differs between the baseline and the new observation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// Which fact.
    pub path: FactPath,
    /// Baseline value; `None` when the fact is new.
    pub old: Option<String>,
    /// Observed value; `None` when the fact disappeared.
    pub new: Option<String>,
    /// For blobs: sizes and the first differing byte.
    pub detail: Option<String>,
}

/// List elements that carry their own identity are keyed by it, so that an
/// inserted capability does not make every later one look changed.
const IDENTITY_FIELDS: [&str; 5] = ["index", "offset", "handle", "cpu", "start"];

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

fn walk(path: FactPath, v: &Value, out: &mut BTreeMap<FactPath, String>) {
    match v {
        Value::Object(map) => {
            if map.is_empty() {
                out.insert(path.clone(), "{}".into());
            }
            for (k, child) in map {
                walk(path.child(k), child, out);
            }
        }
        Value::Array(items) => {
            if items.is_empty() {
                out.insert(path, "[]".into());
                return;
            }
            let key_field = IDENTITY_FIELDS.iter().find(|f| {
                let keys: Option<Vec<String>> = items.iter().map(|i| i.get(**f).map(scalar)).collect();
                keys.is_some_and(|mut k| {
                    let n = k.len();
                    k.sort();
                    k.dedup();
                    k.len() == n
                })
            });
            for (i, item) in items.iter().enumerate() {
                let label = match key_field {
                    Some(f) => format!("{f}={}", item.get(*f).map(scalar).unwrap_or_default()),
                    None => i.to_string(),
                };
                walk(path.element(&label), item, out);
            }
        }
        leaf => {
            out.insert(path, scalar(leaf));
        }
    }
}

/// Flatten a fact document into `path → value`.
pub fn flatten(facts: &Facts) -> BTreeMap<FactPath, String> {
    let mut out = BTreeMap::new();
    // Facts are plain data; serialising them to a JSON value cannot fail.
    if let Ok(v) = serde_json::to_value(facts) {
        walk(FactPath(String::new()), &v, &mut out);
    }
    out.retain(|p, _| p.category() != "probe");
    out
}

/// Compare two fact documents. `old_blob`/`new_blob` fetch blob bytes so a
/// changed blob can be located; they may return `None`.
pub fn diff(
    old: &Facts,
    new: &Facts,
    old_blob: &dyn Fn(&BlobId) -> Option<Vec<u8>>,
    new_blob: &dyn Fn(&BlobId) -> Option<Vec<u8>>,
) -> Vec<Drift> {
    let a = flatten(old);
    let b = flatten(new);
    let mut out = Vec::new();
    let mut paths: Vec<&FactPath> = a.keys().chain(b.keys()).collect();
    paths.sort();
    paths.dedup();
    for p in paths {
        let (x, y) = (a.get(p), b.get(p));
        if x == y {
            continue;
        }
        let detail = match (x.and_then(|s| BlobId::parse(s)), y.and_then(|s| BlobId::parse(s))) {
            (Some(i), Some(j)) => match (old_blob(&i), new_blob(&j)) {
                (Some(u), Some(v)) => Some(blob_detail(&u, &v)),
                _ => None,
            },
            _ => None,
        };
        out.push(Drift {
            path: p.clone(),
            old: x.cloned(),
            new: y.cloned(),
            detail,
        });
    }
    out
}

/// Describe how two byte strings differ: sizes, count and first offset.
pub fn blob_detail(a: &[u8], b: &[u8]) -> String {
    let common = a.len().min(b.len());
    let differing = (0..common).filter(|&i| a[i] != b[i]).count() + a.len().max(b.len()) - common;
    let first = (0..common).find(|&i| a[i] != b[i]).unwrap_or(common);
    let size = if a.len() == b.len() {
        format!("{} bytes", a.len())
    } else {
        format!("{} → {} bytes", a.len(), b.len())
    };
    format!("{size}, {differing} differ, first at offset {first:#x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn paths_quote_what_needs_it() {
        let root = FactPath(String::new());
        assert_eq!(root.child("acpi").child("APIC").as_str(), "acpi.APIC");
        assert_eq!(root.child("fw_cfg").child("etc/e820").as_str(), "fw_cfg.\"etc/e820\"");
        assert_eq!(
            root.child("pci").child("0000:00:02.0").element("offset=0xc8").as_str(),
            "pci.\"0000:00:02.0\"[offset=0xc8]"
        );
        assert_eq!(FactPath("pci.\"x\"".into()).category(), "pci");
    }

    #[test]
    fn lists_keyed_by_identity() {
        let v: Value = serde_json::json!({
            "caps": [{"offset": "0x40", "id": "0x05"}, {"offset": "0x50", "id": "0x10"}],
            "words": ["0x1", "0x2"],
            "empty": [],
        });
        let mut out = BTreeMap::new();
        walk(FactPath(String::new()), &v, &mut out);
        let keys: Vec<&str> = out.keys().map(FactPath::as_str).collect();
        assert_eq!(
            keys,
            [
                "caps[offset=0x40].id",
                "caps[offset=0x40].offset",
                "caps[offset=0x50].id",
                "caps[offset=0x50].offset",
                "empty",
                "words[0]",
                "words[1]"
            ]
        );
    }

    #[test]
    fn blob_details() {
        assert_eq!(blob_detail(b"abcd", b"abxd"), "4 bytes, 1 differ, first at offset 0x2");
        assert_eq!(
            blob_detail(b"ab", b"abcd"),
            "2 → 4 bytes, 2 differ, first at offset 0x2"
        );
    }
}
