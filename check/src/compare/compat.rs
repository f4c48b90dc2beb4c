//! Compat tables as a maintainer reads them: which `hw_compat_X_Y` and
//! `pc_compat_X_Y` tables a machine type applies, and how the tables of two
//! binaries differ. The tables themselves are read from the ELF file by
//! `recorder::elf`; nothing here runs QEMU.

use abi_model::host::{CompatProperty, CompatTables};
use serde::Serialize;
use std::collections::BTreeSet;

pub use abi_model::host::{applied, table_version, AppliedTable};

/// How one table differs between two binaries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableDiff {
    /// Table name.
    pub table: String,
    /// The table exists only in the second binary.
    pub added: bool,
    /// The table exists only in the first binary.
    pub removed: bool,
    /// Entries only in the second binary.
    pub entries_added: Vec<CompatProperty>,
    /// Entries only in the first binary.
    pub entries_removed: Vec<CompatProperty>,
}

/// Table-by-table difference of two binaries' compat tables. Entries are
/// compared as (driver, property, value); a changed value shows as one
/// removed and one added entry.
pub fn compare(a: &CompatTables, b: &CompatTables) -> Vec<TableDiff> {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for n in names {
        let (x, y) = (a.get(n), b.get(n));
        let xs: Vec<&CompatProperty> = x.map(|v| v.iter().collect()).unwrap_or_default();
        let ys: Vec<&CompatProperty> = y.map(|v| v.iter().collect()).unwrap_or_default();
        let d = TableDiff {
            table: n.clone(),
            added: x.is_none(),
            removed: y.is_none(),
            entries_added: ys.iter().filter(|e| !xs.contains(e)).map(|e| (*e).clone()).collect(),
            entries_removed: xs.iter().filter(|e| !ys.contains(e)).map(|e| (*e).clone()).collect(),
        };
        if d.added || d.removed || !d.entries_added.is_empty() || !d.entries_removed.is_empty() {
            out.push(d);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(d: &str, p: &str, v: &str) -> CompatProperty {
        CompatProperty {
            driver: d.into(),
            property: p.into(),
            value: v.into(),
        }
    }

    fn tables() -> CompatTables {
        [
            ("hw_compat_7_1", vec![prop("virtio-device", "queue_reset", "false")]),
            ("hw_compat_7_2", vec![prop("e1000e", "migrate-timadj", "off")]),
            (
                "hw_compat_8_0",
                vec![prop("migration", "multifd-flush-after-each-section", "on")],
            ),
            ("pc_compat_7_2", vec![prop("ICH9-LPC", "noreboot", "true")]),
            ("hw_compat_2_12", vec![]),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect()
    }

    #[test]
    fn diff_of_tables() {
        let a = tables();
        let mut b = tables();
        b.remove("hw_compat_7_1");
        b.insert("hw_compat_9_0".into(), vec![prop("x", "y", "z")]);
        if let Some(t) = b.get_mut("hw_compat_7_2") {
            t.push(prop("virtio-mem", "x-early-migration", "false"));
        }
        let d = compare(&a, &b);
        let summary: Vec<(&str, bool, bool, usize, usize)> = d
            .iter()
            .map(|t| {
                (
                    t.table.as_str(),
                    t.added,
                    t.removed,
                    t.entries_added.len(),
                    t.entries_removed.len(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("hw_compat_7_1", false, true, 0, 1),
                ("hw_compat_7_2", false, false, 1, 0),
                ("hw_compat_9_0", true, false, 1, 0)
            ]
        );
    }
}
