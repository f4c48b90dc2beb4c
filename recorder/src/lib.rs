//! The host side of machine-abi: inspect a QEMU binary, build the probe's
//! initramfs, boot machine types under TCG and capture verified facts.

pub mod boot;
pub mod elf;
pub mod host;
pub mod initramfs;
pub mod kmod;
pub mod profile;
pub mod qemu;
pub mod qmp;
pub mod record;
