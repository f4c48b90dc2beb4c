//! fw_cfg: QEMU's firmware configuration device, read through its I/O ports:
//! the fixed keys, the file directory and the contents of the files.

use crate::source::Source;
use abi_model::blob::Blobs;
use abi_model::facts::{FwCfg, FwCfgFile, Probed};
use abi_model::hex::{bytes_to_hex, Hex16};
use std::collections::BTreeMap;
use std::io;

const SIGNATURE: u16 = 0x0000;
const FILE_DIR: u16 = 0x0019;
/// Largest file whose contents are read; larger ones are listed with size.
pub const MAX_CONTENT: u32 = 1 << 20;

/// Files under this prefix carry the kernel, initrd and command line the
/// VM was started with (QEMU 10 exposes `-kernel` this way): their size and
/// contents are the probe's own payload and are not recorded.
pub const BOOT_PAYLOAD: &str = "etc/boot/";

/// Fixed keys worth recording: (name, selector, bytes to read). The kernel,
/// initrd and command line keys (0x07–0x0c, 0x11–0x18) are left out: they
/// carry the probe's own boot payload, not the machine's ABI.
pub const KEYS: &[(&str, u16, usize)] = &[
    ("signature", 0x0000, 4),
    ("id", 0x0001, 4),
    ("uuid", 0x0002, 16),
    ("ram_size", 0x0003, 8),
    ("nographic", 0x0004, 2),
    ("nb_cpus", 0x0005, 2),
    ("machine_id", 0x0006, 4),
    ("numa_nodes", 0x000d, 8),
    ("boot_menu", 0x000e, 2),
    ("max_cpus", 0x000f, 2),
    ("x86_acpi_tables", 0x8000, 2),
    ("x86_smbios_entries", 0x8001, 2),
    ("x86_irq0_override", 0x8002, 4),
    ("x86_e820_table", 0x8003, 4),
    ("x86_hpet", 0x8004, 121),
];

/// Collect keys, directory and file contents.
pub fn collect(src: &dyn Source, blobs: &mut Blobs) -> io::Result<FwCfg> {
    let sig = src.fw_cfg_read(SIGNATURE, 4)?;
    if sig != b"QEMU" {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no fw_cfg device (signature {sig:02x?})"),
        ));
    }
    let keys = KEYS
        .iter()
        .map(|&(name, sel, len)| {
            (
                name.to_string(),
                Probed::from_result(src.fw_cfg_read(sel, len).map(|b| bytes_to_hex(&b))),
            )
        })
        .collect();
    let count = src.fw_cfg_read(FILE_DIR, 4)?;
    let count = u32::from_be_bytes([count[0], count[1], count[2], count[3]]) as usize;
    if count > 4096 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("fw_cfg directory claims {count} files"),
        ));
    }
    let dir = src.fw_cfg_read(FILE_DIR, 4 + 64 * count)?;
    let mut files = BTreeMap::new();
    for e in dir[4..].chunks_exact(64) {
        let size = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        let selector = u16::from_be_bytes([e[4], e[5]]);
        let name_end = e[8..].iter().position(|&b| b == 0).unwrap_or(56);
        let name = String::from_utf8_lossy(&e[8..8 + name_end]).into_owned();
        let payload = name.starts_with(BOOT_PAYLOAD);
        let content = (!payload && size <= MAX_CONTENT)
            .then(|| Probed::from_result(src.fw_cfg_read(selector, size as usize).map(|b| blobs.put(b))));
        files.insert(
            name,
            FwCfgFile {
                selector: Hex16(selector),
                size: (!payload).then_some(size),
                content,
            },
        );
    }
    Ok(FwCfg { keys, files })
}
