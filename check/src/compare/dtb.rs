//! Device tree drift: the decoded items of two trees (`abi_decode::dtb`),
//! with a node that came or went reported once, as the node, not once per
//! property and subnode, and its parent's child list left out when the
//! node explains its change.

use crate::rules;
use abi_decode::Decoded;
use abi_model::drift::{Drift, FactPath};
use std::collections::BTreeSet;

/// The node a decoded key belongs to (`/a/b:prop` → `/a/b`), if it is a
/// node's key at all (not `header.*` or `memreserve[i]`).
fn node_of(key: &str) -> Option<&str> {
    key.starts_with('/').then(|| key.split(':').next().unwrap_or(key))
}

fn nodes(d: &Decoded) -> BTreeSet<&str> {
    d.items().keys().filter_map(|k| node_of(k)).collect()
}

/// `node` is `top` or lies below it.
fn within(node: &str, top: &str) -> bool {
    node == top || (node.starts_with(top) && (top == "/" || node.as_bytes().get(top.len()) == Some(&b'/')))
}

/// The children list of a node's item (`children: a, b`).
fn children(v: Option<&str>) -> Vec<&str> {
    v.and_then(|v| v.strip_prefix("children:"))
        .map(|l| l.split(',').map(str::trim).filter(|c| !c.is_empty()).collect())
        .unwrap_or_default()
}

/// One line about a node: its properties, by name.
fn summary(d: &Decoded, node: &str) -> String {
    let prefix = format!("{node}:");
    let props: Vec<&str> = d.items().keys().filter_map(|k| k.strip_prefix(&prefix)).collect();
    let below = nodes(d).into_iter().filter(|n| *n != node && within(n, node)).count();
    let mut s = format!("node with {} properties ({})", props.len(), props.join(", "));
    if below > 0 {
        s.push_str(&format!(" and {below} nodes below it"));
    }
    if let Some(c) = d.get(&format!("{node}:compatible")) {
        s.push_str(&format!(", compatible = {c}"));
    }
    s
}

/// Every difference between two decoded trees, below `at`.
pub fn drifts(at: &FactPath, old: &Decoded, new: &Decoded) -> Vec<Drift> {
    let (na, nb) = (nodes(old), nodes(new));
    let top = |set: &BTreeSet<&str>, other: &BTreeSet<&str>| -> Vec<String> {
        let gone: Vec<&str> = set.difference(other).copied().collect();
        gone.iter()
            .filter(|n| !gone.iter().any(|m| m != *n && within(n, m)))
            .map(|n| n.to_string())
            .collect()
    };
    let (removed, added) = (top(&na, &nb), top(&nb, &na));
    let whole: Vec<&String> = removed.iter().chain(&added).collect();
    let keys: BTreeSet<&String> = old.items().keys().chain(new.items().keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        let (x, y) = (old.get(k), new.get(k));
        if x == y {
            continue;
        }
        if let Some(n) = node_of(k) {
            if whole.iter().any(|w| within(n, w)) {
                continue;
            }
            // A parent whose child list changed only by the nodes that came
            // or went: the nodes say it.
            if !k.contains(':') {
                let (mut cx, mut cy) = (children(x), children(y));
                let gone = |c: &str| whole.iter().any(|w| w.as_str() == child_path(n, c));
                cx.retain(|c| !gone(c));
                cy.retain(|c| !gone(c));
                if cx == cy {
                    continue;
                }
            }
        }
        out.push(rules::drift(
            rules::dt_rule(k, x, y),
            at.item(k),
            x.map(str::to_string),
            y.map(str::to_string),
        ));
    }
    for n in &removed {
        out.push(rules::drift("dt-node-removed", at.item(n), Some(summary(old, n)), None));
    }
    for n in &added {
        out.push(rules::drift("dt-node-added", at.item(n), None, Some(summary(new, n))));
    }
    out
}

fn child_path(node: &str, child: &str) -> String {
    if node == "/" {
        format!("/{child}")
    } else {
        format!("{node}/{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(items: &[(&str, &str)]) -> Decoded {
        let mut d = Decoded::new();
        for (k, v) in items {
            d.put(*k, *v);
        }
        d
    }

    #[test]
    fn a_node_that_came_is_one_drift_and_explains_its_parent() {
        let old = tree(&[
            ("/", "children: chosen"),
            ("/chosen", "children: "),
            ("/:model", "\"x\""),
        ]);
        let new = tree(&[
            ("/", "children: aliases, chosen"),
            ("/aliases", "children: "),
            ("/aliases:serial0", "\"/pl011@9000000\""),
            ("/chosen", "children: "),
            ("/:model", "\"x\""),
            ("/:dma-coherent", "<empty>"),
        ]);
        let d = drifts(&FactPath::new("device_tree"), &old, &new);
        let got: Vec<(&str, &str)> = d.iter().map(|d| (d.rule.as_str(), d.path.as_str())).collect();
        assert_eq!(
            got,
            [
                ("dt-property-changed", "device_tree.\"/:dma-coherent\""),
                ("dt-node-added", "device_tree.\"/aliases\"")
            ],
            "{d:#?}"
        );
        assert!(d[1].new.as_deref().is_some_and(|s| s.contains("serial0")), "{d:#?}");
        // Reordered children are a change of their own.
        let moved = tree(&[
            ("/", "children: chosen, aliases"),
            ("/aliases", "children: "),
            ("/chosen", "children: "),
        ]);
        let before = tree(&[
            ("/", "children: aliases, chosen"),
            ("/aliases", "children: "),
            ("/chosen", "children: "),
        ]);
        let d = drifts(&FactPath::new("device_tree"), &before, &moved);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].rule, "dt-property-changed");
    }

    #[test]
    fn boot_payload_is_its_own_rule() {
        let old = tree(&[("/chosen:linux,initrd-end", "<0x4a000000>")]);
        let new = tree(&[("/chosen:linux,initrd-end", "<0x0 0x4a000000>")]);
        let d = drifts(&FactPath::new("device_tree"), &old, &new);
        assert_eq!(d[0].rule, "dt-boot-payload");
    }
}
