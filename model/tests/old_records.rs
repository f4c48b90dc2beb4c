//! Records written before the aarch64 facts existed still parse, and
//! re-serialise to exactly the bytes on disk: the new fields are optional
//! and absent from x86 documents, so no x86 record changes.

use abi_model::record::Record;
use std::path::{Path, PathBuf};

fn records(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            records(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
}

#[test]
fn x86_records_round_trip_byte_identically() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    let mut found = Vec::new();
    for db in ["db-qemu-7.2.22", "db-qemu-10.0.2"] {
        records(&root.join(db).join("records"), &mut found);
    }
    assert!(found.len() >= 8, "expected the x86 test databases, found {found:?}");
    for p in found {
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let record = Record::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(record.facts.device_tree.is_none() && record.facts.cpu_id_registers.is_none());
        let again = record.to_toml().unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(again == text, "{}: re-serialised record differs", p.display());
    }
}
