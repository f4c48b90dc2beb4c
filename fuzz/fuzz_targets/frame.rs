//! Fuzz target: the serial stream decoder (`frame::unpack`) and the
//! collection built from its entries (`Collection::from_entries`) must
//! return `Ok` or an error for any text a guest can send, never panic,
//! loop or allocate beyond the input.
//!
//! Blake3 sums guard the payload, each data line and each entry, and no
//! mutation forges them, so most inputs would stop at the first sum. The
//! first byte therefore picks a mode: even, the text as it is (the sums
//! and their error paths); odd, the text *resealed* first (every sum
//! recomputed over the bytes it covers, as an honest but buggy probe would
//! write them), so that lengths, sequence numbers, duplicate names, entry
//! slicing and the fact document's TOML are reached too.
#![no_main]

use guest_probe::{base64, frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Some((&mode, rest)) = bytes.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let text = if mode & 1 == 1 { reseal(&text) } else { text.into_owned() };
    match frame::unpack(&text) {
        Ok(entries) => {
            // What unpack promises: names unique, sizes within the payload.
            let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(n, names.len(), "duplicate entry names accepted");
            let total: usize = entries.iter().map(|e| e.data.len()).sum();
            assert!(total as u64 <= frame::MAX_PAYLOAD_BYTES);
            let _ = guest_probe::Collection::from_entries(entries);
        }
        Err(e) => {
            // Every error renders (Display may not panic either).
            let _ = e.to_string();
        }
    }
});

fn short_sum(data: &[u8]) -> String {
    blake3::hash(data).to_hex()[..8].to_string()
}

/// Recompute every checksum of a framed text over the bytes it covers:
/// data lines' chunk sums, BEGIN's payload length and hash, ENTRY hashes (entries cut
/// from the payload by their declared lengths, as far as the payload goes).
fn reseal(text: &str) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let mut payload = Vec::new();
    for l in lines.iter_mut() {
        let w: Vec<&str> = l.split(' ').collect();
        if let ["MABI1", "D", seq, _, data] = w[..] {
            if let Some(b) = base64::decode(data) {
                payload.extend_from_slice(&b);
                *l = format!("MABI1 D {seq} {} {data}", short_sum(&b));
            }
        }
    }
    let mut at = 0usize;
    for l in lines.iter_mut() {
        let w: Vec<&str> = l.split(' ').collect();
        match w[..] {
            ["MABI1", "BEGIN", n, _, _] => {
                *l = format!(
                    "MABI1 BEGIN {n} bytes={} blake3={}",
                    payload.len(),
                    blake3::hash(&payload).to_hex()
                );
            }
            ["MABI1", "ENTRY", name, len, _] => {
                let n = len.parse::<usize>().unwrap_or(0);
                let end = at.saturating_add(n).min(payload.len());
                let slice = &payload[at.min(end)..end];
                *l = format!("MABI1 ENTRY {name} {len} {}", blake3::hash(slice).to_hex());
                at = end;
            }
            _ => {}
        }
    }
    lines.join("\n")
}
