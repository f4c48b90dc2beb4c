//! Machine types and QEMU versions: the names every record is keyed by.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// A machine type name such as `pc-q35-7.2`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MachineType(pub String);

impl MachineType {
    /// The version a versioned machine type promises, e.g. `7.2` of
    /// `pc-q35-7.2`; `None` for unversioned types (`microvm`, `isapc`).
    pub fn version(&self) -> Option<Version> {
        let (_, v) = self.0.rsplit_once('-')?;
        Version::parse(v)
    }

    /// The family without the version, e.g. `pc-q35`.
    pub fn family(&self) -> &str {
        match self.version() {
            Some(_) => self.0.rsplit_once('-').map_or(&self.0, |(f, _)| f),
            None => &self.0,
        }
    }

    /// Check a machine type glob before it is used: an invalid pattern would
    /// otherwise match nothing, silently.
    pub fn check_glob(pattern: &str) -> Result<(), String> {
        ::glob::Pattern::new(pattern)
            .map(|_| ())
            .map_err(|e| format!("{pattern:?} is not a valid glob: {e}"))
    }

    /// Whether `pattern` (shell glob: `*`, `?`, `[...]`) matches the name.
    pub fn matches(&self, pattern: &str) -> bool {
        ::glob::Pattern::new(pattern).is_ok_and(|p| p.matches(&self.0))
    }
}

impl fmt::Display for MachineType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A dotted numeric version (`7.2`, `10.0.2`), ordered numerically.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version(Vec<u32>);

impl Version {
    /// Parse `N(.N)*`.
    pub fn parse(text: &str) -> Option<Version> {
        let parts: Option<Vec<u32>> = text.split('.').map(|p| p.parse().ok()).collect();
        parts.filter(|p| !p.is_empty()).map(Version)
    }

    /// The numeric components.
    pub fn parts(&self) -> &[u32] {
        &self.0
    }

    /// The first `n` components (all of them if there are fewer): `10.0.2`
    /// truncated to 2 is `10.0`.
    pub fn truncated(&self, n: usize) -> Version {
        Version(self.0.iter().take(n.max(1)).copied().collect())
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.0.len().max(other.0.len());
        (0..n)
            .map(|i| self.0.get(i).unwrap_or(&0).cmp(other.0.get(i).unwrap_or(&0)))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&s.join("."))
    }
}

impl TryFrom<String> for Version {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Version::parse(&s).ok_or_else(|| format!("not a version: {s:?}"))
    }
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.to_string()
    }
}
