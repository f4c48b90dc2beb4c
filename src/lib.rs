//! machine-abi: record the guest ABI of every versioned machine type and
//! fail when a later build changes it.
//!
//! Data flows one way: the guest probe's facts are captured by the
//! recorder, stored in the [`db`], compared by [`diff`] and [`check`], and
//! rendered by [`report`].

pub mod asl;
pub mod check;
pub mod compat;
pub mod db;
pub mod decode;
pub mod diff;
pub mod host;
pub mod partial;
pub mod quirks;
pub mod report;
pub mod review;
pub mod rules;
pub mod shard;
pub mod snapshot;
pub mod vmstate;
pub mod waiver;
