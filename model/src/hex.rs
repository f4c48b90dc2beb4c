//! Fixed-width hexadecimal numbers as they appear in fact documents.
//!
//! Register values read best in hex, and TOML integers are signed 64-bit, so
//! every hardware number is written as a `"0x…"` string of its natural width.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! hex_type {
    ($name:ident, $int:ty, $width:expr, $doc:expr) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub $int);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "0x{:0width$x}", self.0, width = $width)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                let digits = text
                    .strip_prefix("0x")
                    .ok_or_else(|| serde::de::Error::custom(format!("expected 0x-prefixed hex, got {text:?}")))?;
                <$int>::from_str_radix(digits, 16)
                    .map($name)
                    .map_err(|e| serde::de::Error::custom(format!("bad hex {text:?}: {e}")))
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                $name(v)
            }
        }
    };
}

hex_type!(Hex8, u8, 2, "An 8-bit register value, written `0x12`.");
hex_type!(Hex16, u16, 4, "A 16-bit register value, written `0x1234`.");
hex_type!(Hex32, u32, 8, "A 32-bit register value, written `0x12345678`.");
hex_type!(
    Hex64,
    u64,
    16,
    "A 64-bit value (address, size), written with 16 digits."
);

/// Lowercase hex of a byte string, for small inline binary values.
pub fn bytes_to_hex(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len() * 2);
    for b in data {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Inverse of [`bytes_to_hex`]; `None` on odd length or a non-hex digit.
pub fn hex_to_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_fixed_width() {
        assert_eq!(Hex16(0x86).to_string(), "0x0086");
        assert_eq!(Hex64(1).to_string(), "0x0000000000000001");
    }

    #[test]
    fn bytes_round_trip() {
        assert_eq!(bytes_to_hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(hex_to_bytes("00ab10"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(hex_to_bytes("0g"), None);
        assert_eq!(hex_to_bytes("abc"), None);
    }
}
