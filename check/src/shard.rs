//! Splitting a run across CI jobs: `--shard I/N` takes every N-th
//! (machine type, profile) pair of the sorted work list, starting at the
//! I-th. Round robin over a sorted list keeps the shards within one pair of
//! each other in size and mixes old and new machine types in each.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One shard of N: `index` counts from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, 1 ≤ index ≤ count.
    pub index: usize,
    /// How many shards there are.
    pub count: usize,
}

impl Shard {
    /// The whole run as one shard.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// The items of this shard, in their order. `items` must already be in
    /// the same order in every job (sorted by key).
    pub fn take<T>(&self, items: impl IntoIterator<Item = T>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index - 1)
            .map(|(_, x)| x)
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("shard {s:?} must be I/N with 1 ≤ I ≤ N, e.g. 2/3");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_work_and_stay_balanced() {
        let items: Vec<usize> = (0..110).collect();
        for n in 1..=7 {
            let mut seen = Vec::new();
            let mut sizes = Vec::new();
            for i in 1..=n {
                let part = Shard { index: i, count: n }.take(items.clone());
                sizes.push(part.len());
                seen.extend(part);
            }
            seen.sort();
            assert_eq!(seen, items, "N={n}: every item exactly once");
            let (min, max) = (sizes.iter().min(), sizes.iter().max());
            assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1), "N={n}: {sizes:?}");
        }
    }

    #[test]
    fn parse_and_refuse() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!("1/1".parse::<Shard>(), Ok(Shard::ALL));
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "1/-2", ""] {
            let e = bad.parse::<Shard>().expect_err(bad);
            assert!(e.contains("I/N"), "{bad}: {e}");
        }
        assert_eq!(Shard { index: 2, count: 5 }.to_string(), "2/5");
    }
}
