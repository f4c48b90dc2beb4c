//! The checker of machine-abi: compare an observed record with its
//! baseline, classify every difference under a rule, apply reviewed
//! waivers, and decide one verdict for every command and output format.
//! Nothing here boots QEMU or prints.

#![deny(missing_docs)]

pub mod compare;
pub mod devices;
pub mod history;
pub mod outcome;
pub mod partial;
pub mod proof;
pub mod quirks;
pub mod review;
pub mod rules;
pub mod selection;
pub mod shard;
pub mod unversioned;
pub mod verdict;
pub mod waiver;
