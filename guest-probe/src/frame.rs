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
use std::collections::BTreeMap;
use std::fmt;

/// Start of every framing line.
pub const PREFIX: &str = "MABI1 ";
/// Raw bytes per data line (57 bytes = 76 base64 characters).
const CHUNK: usize = 57;
/// Largest payload (and so largest entry) a stream may declare: 256 MiB.
/// The largest real payload in abi-db/ (pc-q35-4.0.1 with the `storage`
/// profile: document plus blobs) is 189 KB, and a fixture tree
/// (`--capture-fixtures`) adds about 0.4 MB; 256 MiB leaves room for guests
/// with far more devices. The host holds the whole payload in memory, so a
/// guest that declares more is refused at its BEGIN or ENTRY line, before
/// anything is added up, allocated or sliced.
pub const MAX_PAYLOAD_BYTES: u64 = 256 << 20;

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
    /// The stream stops in the middle of a line, before its END line (the
    /// guest stopped, or the capture was cut).
    CutMidLine {
        /// The line cut short: the last framing line of the capture.
        line: usize,
        /// Payload bytes received before it.
        bytes: u64,
        /// Payload bytes BEGIN announced.
        expected_bytes: u64,
    },
    /// A second BEGIN inside a stream.
    Restarted {
        /// Line of the first BEGIN.
        first: usize,
        /// Line of the second BEGIN.
        line: usize,
    },
    /// Framing after the END line: a second stream appended, or the first
    /// stream was planted before the real one. A boot prints exactly one.
    AfterEnd {
        /// BEGIN line of the complete stream.
        begin: usize,
        /// Its END line.
        end: usize,
        /// The framing line after it.
        line: usize,
        /// True when that line is a BEGIN: a whole second stream.
        second_begin: bool,
    },
    /// A framing line other than BEGIN or FATAL before any BEGIN.
    BeforeBegin {
        /// Line of the capture.
        line: usize,
    },
    /// Two ENTRY lines with the same name (whichever one was used, the
    /// stream would lie about the other).
    DuplicateEntry {
        /// Entry name.
        name: Box<str>,
        /// Line of the first ENTRY.
        first: usize,
        /// Line of the second.
        line: usize,
    },
    /// A declared size beyond [`MAX_PAYLOAD_BYTES`], or entry sizes that
    /// add up to more than the payload.
    TooLarge {
        /// Line of the capture.
        line: usize,
        /// What is too large.
        why: String,
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
            FrameError::CutMidLine {
                line,
                bytes,
                expected_bytes,
            } => write!(
                f,
                "line {line}: stream truncated in the middle of this line: received {bytes} of {expected_bytes} \
                 bytes, and no END line"
            ),
            FrameError::PayloadMismatch(m) => write!(f, "payload does not match its BEGIN line: {m}"),
            FrameError::EntryMismatch { name } => write!(f, "entry {name}: bytes do not match its declared blake3"),
            FrameError::Restarted { first, line } => write!(
                f,
                "line {line}: a second BEGIN before the stream that began at line {first} ended"
            ),
            FrameError::AfterEnd {
                begin,
                end,
                line,
                second_begin,
            } => write!(
                f,
                "line {line}: {} after the complete stream of lines {begin}–{end}; a boot prints exactly one \
                 stream (a second one was appended, or the first was planted before it)",
                if *second_begin {
                    "a second stream begins"
                } else {
                    "a framing line"
                }
            ),
            FrameError::BeforeBegin { line } => write!(f, "line {line}: framing line before any BEGIN line"),
            FrameError::DuplicateEntry { name, first, line } => write!(
                f,
                "line {line}: entry {name} declared a second time (first at line {first})"
            ),
            FrameError::TooLarge { line, why } => write!(f, "line {line}: {why}"),
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
    /// Line of its ENTRY.
    line: usize,
}

/// Decode the one framed stream in captured console text.
///
/// Lines without the prefix are ignored (kernel messages); carriage returns
/// from the serial console are tolerated. Everything declared is verified,
/// every size is checked against [`MAX_PAYLOAD_BYTES`] before it is used,
/// and anything but exactly one BEGIN…END (or one FATAL) is an error that
/// names the lines concerned.
pub fn unpack(text: &str) -> Result<Vec<Entry>, FrameError> {
    // The last line with framing on it: a stream that breaks off there was
    // cut (the guest stopped), not corrupted in transit.
    let last_framing = text
        .split('\n')
        .enumerate()
        .filter(|(_, l)| l.contains(PREFIX))
        .map(|(i, _)| i + 1)
        .last();
    let mut s = Stream::default();
    for (idx, raw) in text.split('\n').enumerate() {
        let line = idx + 1;
        let raw = raw.trim_end_matches('\r');
        let Some(pos) = raw.find(PREFIX) else {
            continue;
        };
        if let Some((begin, end)) = s.ended {
            return Err(FrameError::AfterEnd {
                begin,
                end,
                line,
                second_begin: pos == 0 && raw[PREFIX.len()..].starts_with("BEGIN "),
            });
        }
        let step = if pos != 0 {
            Err(FrameError::Malformed {
                line,
                why: "framing line does not start the line (interleaved output)".into(),
            })
        } else {
            s.line(line, &raw[PREFIX.len()..])
        };
        match step {
            Ok(()) => {}
            // Broken off in the middle of its last line: truncated.
            Err(FrameError::Malformed { .. } | FrameError::CorruptChunk { .. })
                if Some(line) == last_framing && s.begin.is_some() =>
            {
                return Err(FrameError::CutMidLine {
                    line,
                    bytes: s.payload.len() as u64,
                    expected_bytes: s.expected_bytes(),
                });
            }
            Err(e) => return Err(e),
        }
    }
    s.finish()
}

/// What has been read of a stream so far.
#[derive(Default)]
struct Stream {
    /// Line of BEGIN, declared entry count, payload bytes, payload hash.
    begin: Option<(usize, u64, u64, String)>,
    declared: Vec<Declared>,
    /// Line of each declared entry name.
    names: BTreeMap<String, usize>,
    /// Sum of the declared entry lengths so far (never above the payload's).
    declared_bytes: u64,
    payload: Vec<u8>,
    next_seq: u64,
    /// BEGIN and END lines, once END was read.
    ended: Option<(usize, usize)>,
}

impl Stream {
    fn expected_bytes(&self) -> u64 {
        self.begin.as_ref().map_or(0, |b| b.2)
    }

    /// One framing line (`rest` follows the prefix).
    fn line(&mut self, line: usize, rest: &str) -> Result<(), FrameError> {
        let mut words = rest.split(' ');
        let kind = words.next().unwrap_or("");
        match kind {
            "FATAL" => {
                let msg = words
                    .next()
                    .and_then(base64::decode)
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
                Err(FrameError::Fatal(msg.unwrap_or_else(|| "(unreadable message)".into())))
            }
            "BEGIN" => {
                if let Some((first, ..)) = self.begin {
                    return Err(FrameError::Restarted { first, line });
                }
                let n = number(field(words.next(), "entries", line)?, line)?;
                let bytes = number(field(words.next(), "bytes", line)?, line)?;
                let hash = field(words.next(), "blake3", line)?.to_string();
                if bytes > MAX_PAYLOAD_BYTES {
                    return Err(FrameError::TooLarge {
                        line,
                        why: format!("payload of {bytes} bytes declared, beyond the limit of {MAX_PAYLOAD_BYTES}"),
                    });
                }
                self.begin = Some((line, n, bytes, hash));
                Ok(())
            }
            _ if self.begin.is_none() => Err(FrameError::BeforeBegin { line }),
            "ENTRY" => {
                let (Some(name), Some(len), Some(hash), None) =
                    (words.next(), words.next(), words.next(), words.next())
                else {
                    return Err(FrameError::Malformed {
                        line,
                        why: "ENTRY needs name, length, hash".into(),
                    });
                };
                let len = number(len, line)?;
                // By name, not by scanning the list: a guest may send a
                // hundred thousand entries.
                if let Some(&first) = self.names.get(name) {
                    return Err(FrameError::DuplicateEntry {
                        name: name.into(),
                        first,
                        line,
                    });
                }
                if len > MAX_PAYLOAD_BYTES {
                    return Err(FrameError::TooLarge {
                        line,
                        why: format!("entry {name} of {len} bytes, beyond the limit of {MAX_PAYLOAD_BYTES}"),
                    });
                }
                let payload = self.expected_bytes();
                let total = self.declared_bytes.checked_add(len).filter(|t| *t <= payload);
                let Some(total) = total else {
                    return Err(FrameError::TooLarge {
                        line,
                        why: format!(
                            "entry {name} of {len} bytes makes the entries larger than the {payload}-byte payload"
                        ),
                    });
                };
                self.declared_bytes = total;
                self.names.insert(name.to_string(), line);
                self.declared.push(Declared {
                    name: name.to_string(),
                    len,
                    hash: hash.to_string(),
                    line,
                });
                Ok(())
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
                if seq != self.next_seq {
                    return Err(FrameError::Sequence {
                        line,
                        expected: self.next_seq,
                        found: seq,
                    });
                }
                let bytes = base64::decode(data).ok_or(FrameError::CorruptChunk { line, seq })?;
                if short_sum(&bytes) != sum {
                    return Err(FrameError::CorruptChunk { line, seq });
                }
                let payload = self.expected_bytes();
                if self.payload.len() as u64 + bytes.len() as u64 > payload {
                    return Err(FrameError::TooLarge {
                        line,
                        why: format!("data beyond the {payload} bytes BEGIN declared"),
                    });
                }
                self.payload.extend_from_slice(&bytes);
                self.next_seq += 1;
                Ok(())
            }
            "END" => {
                let chunks = number(field(words.next(), "chunks", line)?, line)?;
                if chunks != self.next_seq {
                    return Err(FrameError::PayloadMismatch(format!(
                        "END says {chunks} chunks, received {}",
                        self.next_seq
                    )));
                }
                let begin = self.begin.as_ref().map_or(0, |b| b.0);
                self.ended = Some((begin, line));
                Ok(())
            }
            other => Err(FrameError::Malformed {
                line,
                why: format!("unknown record {other:?}"),
            }),
        }
    }

    /// The entries of a stream read to its end, verified.
    fn finish(self) -> Result<Vec<Entry>, FrameError> {
        if self.begin.is_none() {
            return Err(FrameError::NoBegin);
        }
        if self.ended.is_none() {
            return Err(FrameError::Truncated {
                chunks: self.next_seq,
                bytes: self.payload.len() as u64,
                expected_bytes: self.expected_bytes(),
            });
        }
        let Some((_, n, bytes, hash)) = self.begin else {
            return Err(FrameError::NoBegin);
        };
        if self.payload.len() as u64 != bytes {
            return Err(FrameError::PayloadMismatch(format!(
                "{} bytes received, {bytes} declared",
                self.payload.len()
            )));
        }
        if blake3::hash(&self.payload).to_hex().as_str() != hash {
            return Err(FrameError::PayloadMismatch("blake3 of the payload differs".into()));
        }
        if self.declared.len() as u64 != n {
            return Err(FrameError::PayloadMismatch(format!(
                "{} entries listed, {n} declared",
                self.declared.len()
            )));
        }
        if self.declared_bytes != bytes {
            return Err(FrameError::PayloadMismatch(format!(
                "entries add up to {} bytes, payload has {bytes}",
                self.declared_bytes
            )));
        }
        let mut entries = Vec::with_capacity(self.declared.len());
        let mut rest = self.payload.as_slice();
        for d in self.declared {
            // Each length is at most the payload (checked at its ENTRY line),
            // and together they are exactly the payload: no slice can fail.
            let Some((data, tail)) = usize::try_from(d.len).ok().and_then(|n| rest.split_at_checked(n)) else {
                return Err(FrameError::PayloadMismatch(format!(
                    "entry {} (line {}) runs past the payload",
                    d.name, d.line
                )));
            };
            rest = tail;
            if blake3::hash(data).to_hex().as_str() != d.hash {
                return Err(FrameError::EntryMismatch { name: d.name });
            }
            entries.push(Entry {
                name: d.name,
                data: data.to_vec(),
            });
        }
        Ok(entries)
    }
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
