//! Transport framing for the serial line.
//!
//! The probe's output travels over the first serial port, which the kernel
//! console shares. The framing is plain ASCII, one record per line, every line
//! starting with [`PREFIX`], so foreign lines (kernel messages) between them are
//! skipped. The host can prove it got every byte: a BEGIN line declares the
//! entries, their lengths and blake3 hashes and the hash of the whole payload;
//! each data line carries a sequence number and a checksum of its own bytes;
//! an END line closes the stream.
//!
//! ```text
//! MABI1 BEGIN entries=2 bytes=1234 blake3=<hex>
//! MABI1 ENTRY facts.toml 1000 <blake3>
//! MABI1 ENTRY blobs/<id> 234 <blake3>
//! MABI1 D 000000 <8 hex: blake3 prefix of the chunk> <base64 of up to 57 bytes>
//! MABI1 END chunks=22
//! ```
//! A probe that fails altogether sends `MABI1 FATAL <base64 message>` instead.

use crate::base64;
use std::fmt;

/// Start of every framing line.
pub const PREFIX: &str = "MABI1 ";
/// Raw bytes per data line (57 bytes = 76 base64 characters).
const CHUNK: usize = 57;

/// One named piece of the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Name, e.g. `facts.toml` or `blobs/<id>`; no whitespace.
    pub name: String,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Why a stream could not be decoded. Line numbers are 1-based, in the
/// captured text (kernel messages included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// No BEGIN line at all (the probe never ran or printed nothing).
    NoBegin,
    /// The probe itself reported a fatal error.
    Fatal(String),
    /// A framing line that cannot be parsed.
    Malformed {
        /// Line of the capture.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// A data line whose bytes do not match its checksum.
    CorruptChunk {
        /// Line of the capture.
        line: usize,
        /// Sequence number the line carries.
        seq: u64,
    },
    /// A data line out of sequence (lost or duplicated lines).
    Sequence {
        /// Line of the capture.
        line: usize,
        /// Sequence number that was due.
        expected: u64,
        /// Sequence number the line carries.
        found: u64,
    },
    /// The stream stops before its END line.
    Truncated {
        /// Data lines received.
        chunks: u64,
        /// Payload bytes received.
        bytes: u64,
        /// Payload bytes BEGIN announced.
        expected_bytes: u64,
    },
    /// Payload length or hash differs from what BEGIN declared.
    PayloadMismatch(String),
    /// An entry's bytes do not match its declared hash.
    EntryMismatch {
        /// Entry name.
        name: String,
    },
    /// A second BEGIN inside a stream.
    Restarted {
        /// Line of the capture.
        line: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::NoBegin => write!(f, "no probe output: no '{}BEGIN' line in the stream", PREFIX),
            FrameError::Fatal(m) => write!(f, "the probe reported a fatal error: {m}"),
            FrameError::Malformed { line, why } => write!(f, "line {line}: malformed framing line: {why}"),
            FrameError::CorruptChunk { line, seq } => {
                write!(f, "line {line}: data chunk {seq} is corrupt (checksum mismatch)")
            }
            FrameError::Sequence { line, expected, found } => write!(
                f,
                "line {line}: data chunk {found} where chunk {expected} was expected (lines lost or repeated)"
            ),
            FrameError::Truncated {
                chunks,
                bytes,
                expected_bytes,
            } => write!(
                f,
                "stream truncated: received {chunks} chunks, {bytes} of {expected_bytes} bytes, and no END line"
            ),
            FrameError::PayloadMismatch(m) => write!(f, "payload does not match its BEGIN line: {m}"),
            FrameError::EntryMismatch { name } => write!(f, "entry {name}: bytes do not match its declared blake3"),
            FrameError::Restarted { line } => write!(f, "line {line}: a second BEGIN before the first stream ended"),
        }
    }
}

impl std::error::Error for FrameError {}

fn short_sum(data: &[u8]) -> String {
    blake3::hash(data).to_hex()[..8].to_string()
}

/// Encode entries as framed lines (each ending in `\n`).
pub fn pack(entries: &[Entry]) -> String {
    let payload: Vec<u8> = entries.iter().flat_map(|e| e.data.iter().copied()).collect();
    let mut out = String::new();
    out.push_str(&format!(
        "{PREFIX}BEGIN entries={} bytes={} blake3={}\n",
        entries.len(),
        payload.len(),
        blake3::hash(&payload).to_hex()
    ));
    for e in entries {
        out.push_str(&format!(
            "{PREFIX}ENTRY {} {} {}\n",
            e.name,
            e.data.len(),
            blake3::hash(&e.data).to_hex()
        ));
    }
    let mut chunks = 0u64;
    for (seq, chunk) in payload.chunks(CHUNK).enumerate() {
        out.push_str(&format!(
            "{PREFIX}D {seq:06} {} {}\n",
            short_sum(chunk),
            base64::encode(chunk)
        ));
        chunks += 1;
    }
    out.push_str(&format!("{PREFIX}END chunks={chunks}\n"));
    out
}

/// Encode a fatal error report, for a probe that cannot produce facts.
pub fn pack_fatal(message: &str) -> String {
    format!("{PREFIX}FATAL {}\n", base64::encode(message.as_bytes()))
}

fn field<'a>(word: Option<&'a str>, key: &str, line: usize) -> Result<&'a str, FrameError> {
    word.and_then(|w| w.strip_prefix(key))
        .and_then(|w| w.strip_prefix('='))
        .ok_or_else(|| FrameError::Malformed {
            line,
            why: format!("expected {key}=…"),
        })
}

fn number(text: &str, line: usize) -> Result<u64, FrameError> {
    text.parse().map_err(|_| FrameError::Malformed {
        line,
        why: format!("not a number: {text:?}"),
    })
}

struct Declared {
    name: String,
    len: u64,
    hash: String,
}

/// Decode the first framed stream found in captured console text.
///
/// Lines without the prefix are ignored (kernel messages); carriage returns
/// from the serial console are tolerated. Everything declared is verified.
pub fn unpack(text: &str) -> Result<Vec<Entry>, FrameError> {
    let mut begin: Option<(u64, u64, String)> = None; // entries, bytes, hash
    let mut declared: Vec<Declared> = Vec::new();
    let mut payload: Vec<u8> = Vec::new();
    let mut next_seq = 0u64;
    let mut ended = false;
    for (idx, raw) in text.split('\n').enumerate() {
        let line = idx + 1;
        let raw = raw.trim_end_matches('\r');
        // The prefix may follow console noise on the same line only if that
        // noise was there first; we accept it anywhere at the start.
        let Some(pos) = raw.find(PREFIX) else {
            continue;
        };
        if pos != 0 {
            return Err(FrameError::Malformed {
                line,
                why: "framing line does not start the line (interleaved output)".into(),
            });
        }
        let rest = &raw[PREFIX.len()..];
        let mut words = rest.split(' ');
        let kind = words.next().unwrap_or("");
        match kind {
            "FATAL" => {
                let msg = words
                    .next()
                    .and_then(base64::decode)
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
                return Err(FrameError::Fatal(msg.unwrap_or_else(|| "(unreadable message)".into())));
            }
            "BEGIN" => {
                if begin.is_some() {
                    return Err(FrameError::Restarted { line });
                }
                let n = number(field(words.next(), "entries", line)?, line)?;
                let bytes = number(field(words.next(), "bytes", line)?, line)?;
                let hash = field(words.next(), "blake3", line)?.to_string();
                begin = Some((n, bytes, hash));
            }
            _ if begin.is_none() => continue, // stray line before BEGIN: ignore
            "ENTRY" => {
                let (Some(name), Some(len), Some(hash), None) =
                    (words.next(), words.next(), words.next(), words.next())
                else {
                    return Err(FrameError::Malformed {
                        line,
                        why: "ENTRY needs name, length, hash".into(),
                    });
                };
                declared.push(Declared {
                    name: name.to_string(),
                    len: number(len, line)?,
                    hash: hash.to_string(),
                });
            }
            "D" => {
                let (Some(seq), Some(sum), Some(data), None) = (words.next(), words.next(), words.next(), words.next())
                else {
                    return Err(FrameError::Malformed {
                        line,
                        why: "data line needs sequence, checksum, data".into(),
                    });
                };
                let seq = number(seq, line)?;
                if seq != next_seq {
                    return Err(FrameError::Sequence {
                        line,
                        expected: next_seq,
                        found: seq,
                    });
                }
                let bytes = base64::decode(data).ok_or(FrameError::CorruptChunk { line, seq })?;
                if short_sum(&bytes) != sum {
                    return Err(FrameError::CorruptChunk { line, seq });
                }
                payload.extend_from_slice(&bytes);
                next_seq += 1;
            }
            "END" => {
                let chunks = number(field(words.next(), "chunks", line)?, line)?;
                if chunks != next_seq {
                    return Err(FrameError::PayloadMismatch(format!(
                        "END says {chunks} chunks, received {next_seq}"
                    )));
                }
                ended = true;
                break;
            }
            other => {
                return Err(FrameError::Malformed {
                    line,
                    why: format!("unknown record {other:?}"),
                })
            }
        }
    }
    let Some((n, bytes, hash)) = begin else {
        return Err(FrameError::NoBegin);
    };
    if !ended {
        return Err(FrameError::Truncated {
            chunks: next_seq,
            bytes: payload.len() as u64,
            expected_bytes: bytes,
        });
    }
    if payload.len() as u64 != bytes {
        return Err(FrameError::PayloadMismatch(format!(
            "{} bytes received, {bytes} declared",
            payload.len()
        )));
    }
    if blake3::hash(&payload).to_hex().as_str() != hash {
        return Err(FrameError::PayloadMismatch("blake3 of the payload differs".into()));
    }
    if declared.len() as u64 != n {
        return Err(FrameError::PayloadMismatch(format!(
            "{} entries listed, {n} declared",
            declared.len()
        )));
    }
    let total: u64 = declared.iter().map(|d| d.len).sum();
    if total != bytes {
        return Err(FrameError::PayloadMismatch(format!(
            "entries add up to {total} bytes, payload has {bytes}"
        )));
    }
    let mut entries = Vec::with_capacity(declared.len());
    let mut at = 0usize;
    for d in declared {
        let data = payload[at..at + d.len as usize].to_vec();
        at += d.len as usize;
        if blake3::hash(&data).to_hex().as_str() != d.hash {
            return Err(FrameError::EntryMismatch { name: d.name });
        }
        entries.push(Entry { name: d.name, data });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn sample() -> Vec<Entry> {
        vec![
            Entry {
                name: "facts.toml".into(),
                data: b"schema = 1\n".repeat(30),
            },
            Entry {
                name: "blobs/x".into(),
                data: (0..=255u8).collect(),
            },
            Entry {
                name: "empty".into(),
                data: vec![],
            },
        ]
    }

    #[test]
    fn round_trip() {
        let text = pack(&sample());
        assert_eq!(unpack(&text).unwrap(), sample());
    }

    #[test]
    fn survives_kernel_messages_and_crlf() {
        let text = pack(&sample());
        let mut noisy = String::from("[    0.000000] Linux version 6.1.0\r\n");
        for (i, l) in text.lines().enumerate() {
            noisy.push_str(l);
            noisy.push_str("\r\n");
            if i % 3 == 0 {
                noisy.push_str("[    1.234567] virtio_net virtio0: something\r\n");
            }
        }
        assert_eq!(unpack(&noisy).unwrap(), sample());
    }

    #[test]
    fn truncated_stream_is_named() {
        let text = pack(&sample());
        let lines: Vec<&str> = text.lines().collect();
        let cut = lines[..lines.len() - 3].join("\n");
        let err = unpack(&cut).unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { expected_bytes, .. } if expected_bytes == 586),
            "{err:?}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn corrupted_byte_is_located() {
        let text = pack(&sample());
        // Flip one base64 character in the third data line.
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let (idx, line) = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.contains(" D "))
            .nth(2)
            .unwrap();
        let mut bytes = line.clone().into_bytes();
        let last = bytes.len() - 5;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        lines[idx] = String::from_utf8(bytes).unwrap();
        let err = unpack(&lines.join("\n")).unwrap_err();
        assert_eq!(err, FrameError::CorruptChunk { line: idx + 1, seq: 2 });
        assert_eq!(
            err.to_string(),
            format!("line {}: data chunk 2 is corrupt (checksum mismatch)", idx + 1)
        );
    }

    #[test]
    fn lost_line_is_a_sequence_error() {
        let text = pack(&sample());
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("MABI1 D 000001 ")).collect();
        let err = unpack(&lines.join("\n")).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Sequence {
                    expected: 1,
                    found: 2,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn message_inside_a_line_is_malformed() {
        let text = pack(&sample()).replacen("MABI1 D 000001", "[ 2.0] oops MABI1 D 000001", 1);
        let err = unpack(&text).unwrap_err();
        assert!(matches!(err, FrameError::Malformed { .. }), "{err:?}");
    }

    #[test]
    fn no_output_and_fatal() {
        assert_eq!(unpack("[ 0.1] booting\nKernel panic\n"), Err(FrameError::NoBegin));
        let err = unpack(&format!("junk\n{}", pack_fatal("cannot mount /sys: EPERM"))).unwrap_err();
        assert_eq!(err, FrameError::Fatal("cannot mount /sys: EPERM".into()));
    }
}
