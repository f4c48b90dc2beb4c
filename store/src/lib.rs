//! The abi-db of machine-abi: records as canonical TOML files and the raw
//! bytes they refer to as blake3-named blobs, in a directory that diffs
//! well in git. Writes are atomic; reads verify what they read.

#![deny(missing_docs)]

pub mod audit;
pub mod db;
pub mod git;
pub mod lock;

pub use db::{Db, DbError, Written};
pub use lock::WriteLock;
