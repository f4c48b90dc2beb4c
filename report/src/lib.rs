//! Reports of machine-abi: one [`Verdict`] rendered for people (text), for
//! programs (versioned JSON), for CI dashboards (JUnit XML) and for GitHub
//! Actions (workflow annotations). Every format reports the verdict's own
//! exit status; none decides one of its own.

#![deny(missing_docs)]

pub mod asl;
pub mod describe;
pub mod github;
pub mod json;
pub mod junit;
pub mod summary;
pub mod text;

use abi_check::verdict::Verdict;

pub use describe::{change, location};
pub use summary::Summary;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text, grouped by machine type then category.
    Text,
    /// One JSON document, schema `docs/report.schema.json`.
    Json,
    /// JUnit XML, one test case per machine type and profile.
    Junit,
    /// GitHub Actions workflow commands (`::error …`), one per change.
    Github,
}

/// Options of the text format.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextStyle {
    /// ANSI colours.
    pub color: bool,
    /// Also list info-level drift (checksums, lengths, shifted selectors).
    pub verbose: bool,
}

/// Render a verdict in the chosen format.
pub fn render(v: &Verdict, format: Format, style: TextStyle) -> String {
    match format {
        Format::Text => text::text(v, style),
        Format::Json => json::json(v),
        Format::Junit => junit::junit(v),
        Format::Github => github::github(v),
    }
}
