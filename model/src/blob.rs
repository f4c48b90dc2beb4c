//! Content-addressed binary blobs: raw tables and config spaces are stored
//! once, named by the blake3 hash of their bytes, and referred to by that name.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// The blake3 hash naming a blob, as 64 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobId(String);

impl BlobId {
    /// The id of these bytes.
    pub fn of(data: &[u8]) -> BlobId {
        BlobId(blake3::hash(data).to_hex().to_string())
    }

    /// Parse a 64-digit lowercase hex id; `None` if it is not one.
    pub fn parse(text: &str) -> Option<BlobId> {
        (text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then(|| BlobId(text.to_string()))
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for BlobId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BlobId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        BlobId::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("not a blake3 blob id: {text:?}")))
    }
}

/// The blobs one collection produced, keyed by id (so sorted and deduplicated).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blobs(BTreeMap<BlobId, Vec<u8>>);

impl Blobs {
    /// Store bytes and return their id.
    pub fn put(&mut self, data: Vec<u8>) -> BlobId {
        let id = BlobId::of(&data);
        self.0.entry(id.clone()).or_insert(data);
        id
    }

    /// The bytes of a stored blob.
    pub fn get(&self, id: &BlobId) -> Option<&[u8]> {
        self.0.get(id).map(Vec::as_slice)
    }

    /// All blobs in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&BlobId, &Vec<u8>)> {
        self.0.iter()
    }

    /// Number of distinct blobs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no blob is stored.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
