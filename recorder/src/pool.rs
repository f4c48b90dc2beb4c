//! One worker pool for every parallel job of the recorder (boots, host-side
//! facts): `jobs` threads take items in order, and each result is handed to
//! the caller's thread as soon as it is done, so the caller can report
//! progress and drop what it no longer needs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Run `work(i)` for every `i` in `0..n` on up to `jobs` threads and call
/// `done(i, result)` on the calling thread as each finishes. Returns the
/// indices whose worker ended without a result (a panic in `work`), so the
/// caller never mistakes a lost item for a finished one.
pub fn run_each<T: Send>(
    n: usize,
    jobs: usize,
    work: impl Fn(usize) -> T + Sync,
    mut done: impl FnMut(usize, T),
) -> Vec<usize> {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    let mut finished = vec![false; n];
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1).min(n.max(1)) {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    break;
                }
                // A panicking item is reported as lost, not as the whole run's panic.
                let Ok(r) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(i))) else {
                    continue;
                };
                if tx.send((i, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            finished[i] = true;
            done(i, r);
        }
    });
    finished
        .iter()
        .enumerate()
        .filter(|(_, f)| !**f)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_done_once_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let mut seen = Vec::new();
        let lost = run_each(
            10,
            3,
            |i| i * 2,
            |i, r| {
                assert_eq!(std::thread::current().id(), caller);
                seen.push((i, r));
            },
        );
        seen.sort();
        assert!(lost.is_empty());
        assert_eq!(seen, (0..10).map(|i| (i, i * 2)).collect::<Vec<_>>());
        assert!(run_each(0, 4, |i| i, |_, _| panic!("no items")).is_empty());
        let lost = run_each(4, 2, |i| if i == 2 { panic!("item 2") } else { i }, |_, _| {});
        assert_eq!(lost, [2]);
    }
}
