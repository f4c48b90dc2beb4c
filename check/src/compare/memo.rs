//! Results of pure, expensive steps keyed by the content hashes of their
//! inputs, so that one run does not redo them for every profile of a
//! machine type: the host-side facts (QMP blob, `-dump-vmstate` blob) are
//! the same for all of a machine type's profiles, and parsing and comparing
//! two 750 kB vmstate dumps is most of a host-side comparison. Bounded:
//! a run checks the profiles of one machine type together, so a few recent
//! entries are all that is ever hit again.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// A small least-recently-inserted cache, safe to share between threads.
pub struct Memo<K, V> {
    entries: Mutex<VecDeque<(K, Arc<V>)>>,
    capacity: usize,
}

impl<K: PartialEq + Clone, V> Memo<K, V> {
    /// An empty memo holding at most `capacity` results.
    pub const fn new(capacity: usize) -> Memo<K, V> {
        Memo {
            entries: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    /// The result for `key`, computed by `f` if it is not held. `f` runs
    /// outside the lock; two threads may compute the same key once each.
    pub fn get_or(&self, key: &K, f: impl FnOnce() -> V) -> Arc<V> {
        if let Ok(e) = self.entries.lock() {
            if let Some((_, v)) = e.iter().find(|(k, _)| k == key) {
                return v.clone();
            }
        }
        let v = Arc::new(f());
        if let Ok(mut e) = self.entries.lock() {
            if e.len() >= self.capacity {
                e.pop_front();
            }
            e.push_back((key.clone(), v.clone()));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_and_stays_bounded() {
        let m: Memo<u32, u32> = Memo::new(2);
        let mut calls = 0;
        assert_eq!(
            *m.get_or(&1, || {
                calls += 1;
                10
            }),
            10
        );
        assert_eq!(
            *m.get_or(&1, || {
                calls += 1;
                11
            }),
            10
        );
        assert_eq!(calls, 1);
        m.get_or(&2, || 20);
        m.get_or(&3, || 30);
        // 1 was dropped to keep two entries.
        assert_eq!(*m.get_or(&1, || 12), 12);
    }
}
