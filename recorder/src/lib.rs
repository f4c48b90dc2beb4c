//! The host side of machine-abi: inspect a QEMU binary, build the probe's
//! initramfs, boot machine types under TCG and capture verified facts.

#![deny(missing_docs)]

pub mod arch;
pub mod bare;
pub mod boot;
pub mod datafiles;
pub mod elf;
pub mod host_facts;
pub mod initramfs;
pub mod kmod;
pub mod migrate;
pub mod pool;
pub mod profile;
pub mod qemu;
pub mod qmp;
pub mod record;
pub mod tree;
