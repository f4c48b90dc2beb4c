//! fw_cfg: QEMU's firmware configuration device: the fixed keys, the file
//! directory and the contents of the files. On x86 it is read through its
//! I/O ports; elsewhere (Arm's virt) through its memory-mapped registers,
//! found in the device tree (direct boots) or, on ACPI boots, in the
//! resource the kernel registered for the ACPI device `QEMU0002`
//! (`/proc/iomem`). The kernel's `qemu_fw_cfg` driver is not used: it shows
//! only the files, not the fixed keys, and once loaded it holds the
//! registers, which `/dev/mem` then refuses (`CONFIG_IO_STRICT_DEVMEM`).

use crate::devicetree;
use crate::source::{FwCfgPort, Source};
use abi_model::blob::Blobs;
use abi_model::facts::{FwCfg, FwCfgFile, Probed};
use abi_model::hex::{bytes_to_hex, Hex16, Hex64};
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

/// Fixed keys worth recording: (name, selector, bytes to read); `x86_*`
/// keys only on x86. The kernel,
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

/// Device tree `compatible` of the MMIO fw_cfg device.
pub const DT_COMPATIBLE: &str = "qemu,fw-cfg-mmio";
/// ACPI hardware id of the fw_cfg device.
pub const ACPI_HID: &str = "QEMU0002";
/// Where the kernel lists the resources it registered.
const IOMEM: &str = "/proc/iomem";

/// How to reach fw_cfg on this machine, and how the record says so
/// (`None` for the fixed x86 ports).
fn locate(src: &dyn Source) -> io::Result<(FwCfgPort, Option<String>)> {
    if src.arch()? == "x86_64" {
        return Ok((FwCfgPort::Io, None));
    }
    let base = match devicetree::find_region(src, &[DT_COMPATIBLE])? {
        Some((_, base, _)) => base,
        None => iomem_base(&String::from_utf8_lossy(&src.read_file(IOMEM)?), ACPI_HID)?,
    };
    Ok((FwCfgPort::Mmio(base), Some(format!("mmio {}", Hex64(base)))))
}

/// The start of the first `/proc/iomem` range whose name starts with `name`
/// (`09020000-09020017 : QEMU0002:00`).
pub fn iomem_base(iomem: &str, name: &str) -> io::Result<u64> {
    for line in iomem.lines() {
        let Some((range, owner)) = line.trim_start().split_once(" : ") else {
            continue;
        };
        if !owner.starts_with(name) {
            continue;
        }
        let start = range.split('-').next().unwrap_or_default();
        return u64::from_str_radix(start, 16)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{IOMEM}: {line:?}: {e}")));
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no fw_cfg device: no {DT_COMPATIBLE} device tree node and no {name} in {IOMEM}"),
    ))
}

/// Collect keys, directory and file contents.
pub fn collect(src: &dyn Source, blobs: &mut Blobs) -> io::Result<FwCfg> {
    let (port, access) = locate(src)?;
    let sig = src.fw_cfg_read(port, SIGNATURE, 4)?;
    if sig != b"QEMU" {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no fw_cfg device (signature {sig:02x?})"),
        ));
    }
    // The 0x8000 keys are architecture-local: x86's exist only there (other
    // architectures read them as zeros).
    let x86 = port == FwCfgPort::Io;
    let keys = KEYS
        .iter()
        .filter(|(name, _, _)| x86 || !name.starts_with("x86_"))
        .map(|&(name, sel, len)| {
            (
                name.to_string(),
                Probed::from_result(src.fw_cfg_read(port, sel, len).map(|b| bytes_to_hex(&b))),
            )
        })
        .collect();
    let count = src.fw_cfg_read(port, FILE_DIR, 4)?;
    let count = u32::from_be_bytes([count[0], count[1], count[2], count[3]]) as usize;
    if count > 4096 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("fw_cfg directory claims {count} files"),
        ));
    }
    let dir = src.fw_cfg_read(port, FILE_DIR, 4 + 64 * count)?;
    let mut files = BTreeMap::new();
    for e in dir[4..].chunks_exact(64) {
        let size = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        let selector = u16::from_be_bytes([e[4], e[5]]);
        let name_end = e[8..].iter().position(|&b| b == 0).unwrap_or(56);
        let name = String::from_utf8_lossy(&e[8..8 + name_end]).into_owned();
        let payload = name.starts_with(BOOT_PAYLOAD);
        let content = (!payload && size <= MAX_CONTENT)
            .then(|| Probed::from_result(src.fw_cfg_read(port, selector, size as usize).map(|b| blobs.put(b))));
        files.insert(
            name,
            FwCfgFile {
                selector: Hex16(selector),
                size: (!payload).then_some(size),
                content,
            },
        );
    }
    Ok(FwCfg { access, keys, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iomem_names_the_acpi_device() {
        let iomem = "09000000-09000fff : ARMH0011:00\n  09000000-09000fff : ARMH0011:00 ARMH0011:00\n\
                     09020000-09020017 : QEMU0002:00\n40000000-bfffffff : System RAM\n";
        assert_eq!(iomem_base(iomem, ACPI_HID).unwrap(), 0x0902_0000);
        let e = iomem_base("40000000-bfffffff : System RAM\n", ACPI_HID).unwrap_err();
        assert!(e.to_string().contains("no QEMU0002"), "{e}");
    }
}
