//! Arm platform interfaces outside the tables: the GIC distributor's own
//! identification registers, and the PSCI/SMCCC versions the kernel
//! negotiated with the firmware.

use crate::devicetree;
use crate::source::Source;
use abi_model::facts::{ArmPlatform, GicDistributor, Probed};
use abi_model::hex::{Hex32, Hex64};
use std::io;

/// Device tree `compatible` values of the GIC distributors QEMU's virt
/// describes: GICv2 first, then GICv3.
pub const GIC_V2_COMPATIBLE: &[&str] = &["arm,cortex-a15-gic", "arm,gic-400"];
/// GICv3 (and v4) distributors.
pub const GIC_V3_COMPATIBLE: &[&str] = &["arm,gic-v3"];
/// Where the kernel exposes the MADT.
const MADT: &str = "/sys/firmware/acpi/tables/APIC";
/// MADT interrupt controller structure type of a GIC distributor.
const MADT_GICD: u8 = 0xc;

/// GICD register offsets (GIC architecture specifications).
const GICD_TYPER: u64 = 0x0004;
const GICD_IIDR: u64 = 0x0008;
/// GICv1/v2 ICPIDR2: the distributor's register frame is 4 KiB.
const GICD_PIDR2_V2: u64 = 0x0fe8;
/// GICv3/v4 GICD_PIDR2: its frame is 64 KiB. Reading the other generation's
/// offset hits an unimplemented register, which QEMU may answer with a bus
/// error (SIGBUS in the probe), so the offset follows the description.
const GICD_PIDR2_V3: u64 = 0xffe8;

/// Collect both.
pub fn collect(src: &dyn Source) -> ArmPlatform {
    ArmPlatform {
        gic: Probed::from_result(gic(src)),
        psci: Probed::from_result(psci(src)),
    }
}

/// The distributor's base from the device tree (direct boots) or the MADT
/// (UEFI boots), then its registers through `/dev/mem`.
fn gic(src: &dyn Source) -> io::Result<GicDistributor> {
    let dt = match devicetree::find_region(src, GIC_V3_COMPATIBLE)? {
        Some((node, base, _)) => Some((node, base, GICD_PIDR2_V3)),
        None => devicetree::find_region(src, GIC_V2_COMPATIBLE)?.map(|(node, base, _)| (node, base, GICD_PIDR2_V2)),
    };
    let (described_by, base, pidr2) = match dt {
        Some(found) => found,
        None => match src.read_file(MADT) {
            Ok(madt) => {
                let (base, version) = madt_gicd(&madt)?;
                let pidr2 = match version {
                    1 | 2 => GICD_PIDR2_V2,
                    3 | 4 => GICD_PIDR2_V3,
                    v => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "MADT GIC distributor at {base:#x} has version {v}: which register frame is unknown"
                            ),
                        ))
                    }
                };
                ("MADT".to_string(), base, pidr2)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "no GIC distributor: neither a device tree node nor a MADT",
                ))
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("{MADT}: {e}"))),
        },
    };
    let reg = |off: u64| {
        src.phys_read32(base + off).map_err(|e| {
            // /dev/mem refuses a region a driver holds (CONFIG_IO_STRICT_DEVMEM):
            // the GICv3 driver requests its distributor, the GICv2 one does not.
            let holder = match e.kind() {
                io::ErrorKind::PermissionDenied => src
                    .read_file("/proc/iomem")
                    .ok()
                    .and_then(|t| iomem_holder(&String::from_utf8_lossy(&t), base + off))
                    .map(|h| format!(" (/proc/iomem: held by {h})"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            io::Error::new(e.kind(), format!("GICD at {base:#x} + {off:#x}: {e}{holder}"))
        })
    };
    Ok(GicDistributor {
        base: Hex64(base),
        described_by,
        pidr2: Hex32(reg(pidr2)?),
        iidr: Hex32(reg(GICD_IIDR)?),
        typer: Hex32(reg(GICD_TYPER)?),
    })
}

/// The physical base and GIC version of the first GIC distributor
/// structure of a MADT.
pub fn madt_gicd(madt: &[u8]) -> io::Result<(u64, u8)> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, format!("MADT: {what}"));
    let mut off = 0x2c;
    while off + 2 <= madt.len() {
        let (ty, len) = (madt[off], usize::from(madt[off + 1]));
        if len < 2 || off + len > madt.len() {
            return Err(bad(format!("entry at {off:#x} has length {len}")));
        }
        if ty == MADT_GICD {
            let b = madt
                .get(off + 8..off + 21)
                .ok_or_else(|| bad(format!("GIC distributor entry at {off:#x} is {len} bytes")))?;
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[..8]);
            return Ok((u64::from_le_bytes(a), b[12]));
        }
        off += len;
    }
    Err(bad("no GIC distributor structure".into()))
}

/// The innermost `/proc/iomem` range holding `addr`, as `start-end name`.
pub fn iomem_holder(iomem: &str, addr: u64) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in iomem.lines() {
        let depth = line.len() - line.trim_start().len();
        let Some((range, name)) = line.trim_start().split_once(" : ") else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        if (a..=b).contains(&addr) && best.as_ref().is_none_or(|(d, _)| depth >= *d) {
            best = Some((depth, format!("{range} {name}")));
        }
    }
    best.map(|(_, h)| h)
}

/// The kernel's `psci:` log lines, without their level prefix and timestamp.
fn psci(src: &dyn Source) -> io::Result<Vec<String>> {
    let log = src.kernel_log()?;
    let lines = psci_lines(&String::from_utf8_lossy(&log));
    if lines.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no psci: lines in the kernel log",
        ));
    }
    Ok(lines)
}

/// `<6>[    0.000000] psci: PSCIv1.1 detected in firmware.` →
/// `psci: PSCIv1.1 detected in firmware.`, for every line whose message
/// starts with `psci: `.
pub fn psci_lines(log: &str) -> Vec<String> {
    log.lines()
        .map(|l| {
            let l = match l.strip_prefix('<').and_then(|r| r.split_once('>')) {
                Some((level, rest)) if level.bytes().all(|b| b.is_ascii_digit()) => rest,
                _ => l,
            };
            match l.strip_prefix('[').and_then(|r| r.split_once("] ")) {
                Some((_, rest)) => rest,
                None => l,
            }
        })
        .filter(|m| m.starts_with("psci: "))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psci_lines_lose_level_and_timestamp() {
        let log = "<6>[    0.000000] psci: probing for conduit method from DT.\n\
                   <6>[    0.000000] psci: PSCIv1.1 detected in firmware.\n\
                   <5>[    0.000001] Linux version 6.1\n\
                   psci: bare\n";
        assert_eq!(
            psci_lines(log),
            vec![
                "psci: probing for conduit method from DT.",
                "psci: PSCIv1.1 detected in firmware.",
                "psci: bare"
            ]
        );
    }

    #[test]
    fn iomem_holder_is_the_innermost_range() {
        let iomem = "08000000-0800ffff : GICD\n  08000000-0800ffff : GICD\n09000000-09000fff : pl011@9000000\n";
        assert_eq!(
            iomem_holder(iomem, 0x800_ffe8).as_deref(),
            Some("08000000-0800ffff GICD")
        );
        assert_eq!(iomem_holder(iomem, 0x700_0000), None);
    }

    #[test]
    fn madt_without_gicd_is_an_error() {
        let mut madt = vec![0u8; 0x2c];
        madt.extend_from_slice(&[0x0b, 4, 0, 0]);
        assert!(madt_gicd(&madt).unwrap_err().to_string().contains("no GIC distributor"));
        madt.extend_from_slice(&[0x0c, 1]);
        assert!(madt_gicd(&madt).unwrap_err().to_string().contains("length 1"));
    }
}
