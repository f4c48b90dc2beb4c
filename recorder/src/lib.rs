//! Recorder library.
pub mod elf;
pub mod initramfs;
pub mod kmod;
