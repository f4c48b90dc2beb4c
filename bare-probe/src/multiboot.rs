//! The Multiboot v1 information structure QEMU's loader hands over (the
//! host reads its memory map itself, through the mailbox).

use crate::arch::{peek32, peek8};

pub const MAGIC: u32 = 0x2BAD_B002;

#[derive(Clone, Copy)]
pub struct Info(pub u64);

impl Info {
    fn flags(&self) -> u32 {
        peek32(self.0)
    }

    /// The command line (QEMU: kernel file name, a space, `-append`).
    pub fn cmdline(&self) -> &'static str {
        if self.flags() & (1 << 2) == 0 {
            return "";
        }
        let p = u64::from(peek32(self.0 + 16));
        let len = (0..4096).find(|&i| peek8(p + i) == 0).unwrap_or(0);
        // SAFETY: identity-mapped memory the loader filled; not written later.
        let s = unsafe { core::slice::from_raw_parts(p as *const u8, len as usize) };
        core::str::from_utf8(s).unwrap_or("")
    }
}

/// `key=value` from the command line.
pub fn arg(cmdline: &'static str, key: &str) -> Option<&'static str> {
    cmdline
        .split(' ')
        .filter_map(|w| w.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

pub fn number(s: Option<&str>, default: u64) -> u64 {
    s.and_then(|s| s.parse().ok()).unwrap_or(default)
}
