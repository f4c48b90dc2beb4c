//! The framed serial stream comes from the guest: untrusted. Exactly one
//! BEGIN…END per boot, every entry name once, sizes checked before use,
//! and a cut stream called truncated.

use crate::real_stream;
use guest_probe::frame::{pack, unpack, Entry};
use guest_probe::Collection;

/// 1-based line numbers of the lines of `text` starting with `start`.
fn lines_of(text: &str, start: &str) -> Vec<usize> {
    text.split('\n')
        .enumerate()
        .filter(|(_, l)| l.starts_with(start))
        .map(|(i, _)| i + 1)
        .collect()
}

/// The error of a stream that must be refused (without dumping its entries).
fn refused(text: &str, what: &str) -> String {
    match unpack(text) {
        Ok(entries) => panic!("{what}: accepted ({} entries)", entries.len()),
        Err(e) => e.to_string(),
    }
}

fn assert_names_lines(err: &str, lines: &[usize]) {
    for l in lines {
        assert!(
            err.contains(&format!("line {l}")) || err.contains(&format!("lines {l}")) || err.contains(&format!("–{l}")),
            "error does not name line {l}: {err}"
        );
    }
}

#[test]
fn a_second_stream_appended_is_refused_naming_both() {
    let one = real_stream("pc-q35-7.2-default");
    let text = format!(
        "{one}[    9.1] reboot: Power down\n{}",
        real_stream("pc-q35-7.2-virtio")
    );
    let err = refused(&text, "two streams in one boot");
    let begins = lines_of(&text, "MABI1 BEGIN");
    let ends = lines_of(&text, "MABI1 END");
    assert_eq!(begins.len(), 2);
    assert_names_lines(&err, &[begins[0], ends[0], begins[1]]);
    // The same stream twice is no better: the boot printed two streams.
    let twice = format!("{one}{one}");
    refused(&twice, "the same stream twice");
}

#[test]
fn a_different_stream_prepended_is_refused() {
    let real = real_stream("pc-q35-7.2-default");
    let planted = real_stream("pc-i440fx-7.2-default");
    let text = format!("[    0.0] Linux version 6.1\n{planted}{real}");
    let err = refused(&text, "a planted stream before the real one");
    let begins = lines_of(&text, "MABI1 BEGIN");
    assert_names_lines(&err, &begins);
}

#[test]
fn a_framing_line_after_end_is_refused() {
    let one = real_stream("pc-q35-7.2-default");
    let text = format!("{one}MABI1 D 000000 00000000 AAAA\n");
    let err = refused(&text, "framing after END");
    assert_names_lines(&err, &[one.lines().count() + 1]);
}

#[test]
fn duplicate_entry_names_are_refused() {
    let c = {
        let dir = crate::repo().join("guest-probe/tests/fixtures/pc-q35-7.2-default");
        let src = guest_probe::source::Fixture::open(&dir).expect("fixture");
        guest_probe::collect::collect(&src, Vec::new())
    };
    let mut entries = c.to_entries();
    // A second facts.toml, last: whichever one wins, the stream lies.
    let mut other = entries[0].clone();
    other.data = other
        .data
        .iter()
        .copied()
        .chain(b"# planted\n".iter().copied())
        .collect();
    entries.push(other);
    let text = pack(&entries);
    let err = refused(&text, "two facts.toml entries");
    let declared = lines_of(&text, "MABI1 ENTRY facts.toml ");
    assert_eq!(declared.len(), 2);
    assert!(err.contains("facts.toml"), "{err}");
    assert_names_lines(&err, &declared);

    // Any name twice, even with the same bytes.
    let mut entries = c.to_entries();
    entries.push(entries[1].clone());
    let err = refused(&pack(&entries), "a blob entry twice");
    assert!(err.contains(&entries[1].name), "{err}");

    // And from entries that did not come through the framing.
    let mut entries = c.to_entries();
    entries.push(entries[0].clone());
    let err = match Collection::from_entries(entries) {
        Ok(_) => panic!("two documents accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("facts.toml") && err.contains("more than once"), "{err}");
}

/// A stream whose ENTRY lines declare `lens` for a payload made of the
/// bytes of `entries` (BEGIN and data lines stay valid).
fn with_declared_lengths(entries: &[Entry], lens: &[u64]) -> String {
    let text = pack(entries);
    let mut i = 0;
    text.split_inclusive('\n')
        .map(|l| {
            if let Some(rest) = l.strip_prefix("MABI1 ENTRY ") {
                let w: Vec<&str> = rest.split(' ').collect();
                let out = format!("MABI1 ENTRY {} {} {}", w[0], lens[i], w[2]);
                i += 1;
                out
            } else {
                l.to_string()
            }
        })
        .collect()
}

fn two_entries() -> Vec<Entry> {
    vec![
        Entry {
            name: "facts.toml".into(),
            data: b"schema = 1\n".to_vec(),
        },
        Entry {
            name: "blobs/x".into(),
            data: vec![7; 100],
        },
    ]
}

#[test]
fn entry_lengths_that_wrap_u64_are_an_error_not_a_panic() {
    // u64::MAX + 112 wraps to 111, the payload's true length.
    let text = with_declared_lengths(&two_entries(), &[u64::MAX, 112]);
    let got = std::panic::catch_unwind(|| unpack(&text));
    let err = match got.expect("unpack panicked") {
        Ok(_) => panic!("wrapping lengths accepted"),
        Err(e) => e,
    };
    assert!(
        err.to_string().contains("line 2") || err.to_string().contains("line 3"),
        "{err}"
    );
}

#[test]
fn sizes_beyond_the_limit_are_refused_at_their_line() {
    use guest_probe::frame::MAX_PAYLOAD_BYTES;
    let huge = MAX_PAYLOAD_BYTES + 1;
    let text = with_declared_lengths(&two_entries(), &[huge, 0]);
    let err = refused(&text, "an entry beyond the limit");
    assert!(err.starts_with("line 2:") && err.contains("limit"), "{err}");
    let text = pack(&two_entries()).replacen("bytes=111", &format!("bytes={huge}"), 1);
    let err = refused(&text, "a payload beyond the limit");
    assert!(err.starts_with("line 1:") && err.contains("limit"), "{err}");
}

#[test]
fn a_stream_cut_mid_line_is_truncated() {
    let text = real_stream("pc-q35-7.2-default");
    let data = lines_of(&text, "MABI1 D ");
    // Cut in the middle of the tenth data line, inside its base64.
    let start: usize = text.split_inclusive('\n').take(data[9] - 1).map(str::len).sum();
    for cut in [start + 30, start + 50, start + 70] {
        let msg = refused(&text[..cut], "a cut stream");
        assert!(msg.contains("truncated"), "cut at byte {cut}: {msg}");
        assert!(msg.contains(&format!("line {}", data[9])), "cut at byte {cut}: {msg}");
        // Kernel messages after the cut (the VM went on, the probe did not).
        let noisy = format!("{}\r\n[  120.0] reboot: Power down\r\n", &text[..cut]);
        let msg = refused(&noisy, "a cut stream");
        assert!(msg.contains("truncated"), "cut at byte {cut} then noise: {msg}");
    }
    // A corrupt line that the stream goes on after is still corruption.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[data[9] - 1].replace_range(30..31, "#");
    let msg = refused(&lines.join("\n"), "corrupt");
    assert!(msg.contains("corrupt") && !msg.contains("truncated"), "{msg}");
}

#[test]
fn a_framing_line_before_begin_is_refused() {
    let one = real_stream("pc-q35-7.2-default");
    let text = format!("[    0.0] Linux version 6.1\nMABI1 ENTRY facts.toml 3 abc\n{one}");
    let err = refused(&text, "an ENTRY before BEGIN");
    assert!(err.starts_with("line 2:") && err.contains("before any BEGIN"), "{err}");
}

#[test]
fn many_entries_take_linear_time() {
    // 100,000 ENTRY lines (8 MB of text a guest can send in seconds): the
    // duplicate-name check must not compare each name with every earlier
    // one (5·10⁹ comparisons).
    let n = 100_000;
    let mut text = format!("MABI1 BEGIN entries={n} bytes=0 blake3={}\n", "0".repeat(64));
    for i in 0..n {
        text.push_str(&format!("MABI1 ENTRY blobs/{i:064} 0 {}\n", "0".repeat(64)));
    }
    text.push_str("MABI1 END chunks=0\n");
    let started = std::time::Instant::now();
    let err = refused(&text, "an empty payload with a wrong hash");
    let took = started.elapsed();
    assert!(err.contains("blake3"), "{err}");
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
}
