//! PCI: every function of every domain, raw config space first, then the
//! header fields, BARs, capability chains and bridge windows decoded from it.

use crate::source::Source;
use abi_model::blob::Blobs;
use abi_model::facts::{Bar, Bridge, Capability, ExtCapability, PciAddress, PciFunction, Probed, Window};
use abi_model::hex::{Hex16, Hex32, Hex64, Hex8};
use std::collections::BTreeMap;
use std::io;

/// Where the kernel lists PCI functions.
pub const DEVICES: &str = "/sys/bus/pci/devices";

// Resource flags from include/linux/ioport.h.
const IORESOURCE_IO: u64 = 0x100;
const IORESOURCE_MEM: u64 = 0x200;
const IORESOURCE_PREFETCH: u64 = 0x2000;
const IORESOURCE_MEM_64: u64 = 0x0010_0000;

/// Little-endian reads from config space that fail with the offset named.
pub(crate) struct Config<'a>(pub &'a [u8]);

impl Config<'_> {
    pub(crate) fn u8(&self, off: usize) -> io::Result<u8> {
        self.0.get(off).copied().ok_or_else(|| short(off, self.0.len()))
    }
    pub(crate) fn u16(&self, off: usize) -> io::Result<u16> {
        let b = self.0.get(off..off + 2).ok_or_else(|| short(off, self.0.len()))?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub(crate) fn u32(&self, off: usize) -> io::Result<u32> {
        let b = self.0.get(off..off + 4).ok_or_else(|| short(off, self.0.len()))?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The standard capability list as (offset, id), in list order.
    pub(crate) fn capabilities(&self) -> io::Result<Vec<(u8, u8)>> {
        let mut caps = Vec::new();
        if self.u16(0x06)? & 0x10 == 0 {
            return Ok(caps);
        }
        let header = self.u8(0x0e)? & 0x7f;
        let mut ptr = self.u8(if header == 2 { 0x14 } else { 0x34 })? & 0xfc;
        // At most 48 capabilities fit in 192 bytes; more means a loop.
        while ptr >= 0x40 && caps.len() < 48 {
            caps.push((ptr, self.u8(ptr as usize)?));
            ptr = self.u8(ptr as usize + 1)? & 0xfc;
        }
        Ok(caps)
    }
}

fn short(off: usize, len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("config space read at {off:#x} beyond its {len} bytes"),
    )
}

/// Collect every PCI function.
pub fn collect(src: &dyn Source, blobs: &mut Blobs) -> io::Result<BTreeMap<PciAddress, Probed<PciFunction>>> {
    let mut out = BTreeMap::new();
    for name in src.read_dir(DEVICES)? {
        let Some(addr) = PciAddress::parse(&name) else {
            continue;
        };
        out.insert(addr, Probed::from_result(function(src, &name, blobs)));
    }
    Ok(out)
}

fn function(src: &dyn Source, name: &str, blobs: &mut Blobs) -> io::Result<PciFunction> {
    let base = format!("{DEVICES}/{name}");
    let raw = src.read_file(&format!("{base}/config"))?;
    let cfg = Config(&raw);
    let header_type = cfg.u8(0x0e)?;
    let layout = header_type & 0x7f;
    let caps = cfg.capabilities()?;
    let express = caps.iter().any(|&(_, id)| id == 0x10);
    let ext_capabilities = if express && raw.len() >= 4096 {
        ext_caps(&cfg)?
    } else {
        Vec::new()
    };
    let (bars, rom_size) = resources(
        &String::from_utf8_lossy(&src.read_file(&format!("{base}/resource"))?),
        layout,
    )?;
    let parents = parents(&src.read_link(&base)?, name);
    Ok(PciFunction {
        vendor: Hex16(cfg.u16(0x00)?),
        device: Hex16(cfg.u16(0x02)?),
        subsystem_vendor: Hex16(if layout == 0 { cfg.u16(0x2c)? } else { 0 }),
        subsystem: Hex16(if layout == 0 { cfg.u16(0x2e)? } else { 0 }),
        class: Hex32(cfg.u32(0x08)? >> 8),
        revision: Hex8(cfg.u8(0x08)?),
        header_type: Hex8(header_type),
        interrupt_pin: cfg.u8(0x3d)?,
        express,
        config_size: raw.len() as u32,
        parents,
        bars,
        rom_size,
        capabilities: caps
            .into_iter()
            .map(|(o, id)| Capability {
                offset: Hex8(o),
                id: Hex8(id),
            })
            .collect(),
        ext_capabilities,
        bridge: if layout == 1 { Some(bridge(&cfg)?) } else { None },
        config: blobs.put(raw),
    })
}

fn ext_caps(cfg: &Config) -> io::Result<Vec<ExtCapability>> {
    let mut out = Vec::new();
    let mut off = 0x100usize;
    // 4096-256 bytes hold at most 960 headers; the bound stops loops.
    while off >= 0x100 && out.len() < 960 {
        let h = cfg.u32(off)?;
        if h == 0 || h == 0xffff_ffff {
            break;
        }
        out.push(ExtCapability {
            offset: Hex16(off as u16),
            id: Hex16(h as u16),
            version: ((h >> 16) & 0xf) as u8,
        });
        off = ((h >> 20) & 0xffc) as usize;
    }
    Ok(out)
}

fn bridge(cfg: &Config) -> io::Result<Bridge> {
    let window = |base: u64, limit: u64| {
        (limit >= base).then_some(Window {
            base: Hex64(base),
            limit: Hex64(limit),
        })
    };
    let io_base = cfg.u8(0x1c)?;
    let io_limit = cfg.u8(0x1d)?;
    let (io_hi_b, io_hi_l) = if io_base & 0xf == 1 {
        (u64::from(cfg.u16(0x30)?) << 16, u64::from(cfg.u16(0x32)?) << 16)
    } else {
        (0, 0)
    };
    let mem_base = cfg.u16(0x20)?;
    let mem_limit = cfg.u16(0x22)?;
    let pf_base = cfg.u16(0x24)?;
    let pf_limit = cfg.u16(0x26)?;
    let (pf_hi_b, pf_hi_l) = if pf_base & 0xf == 1 {
        (u64::from(cfg.u32(0x28)?) << 32, u64::from(cfg.u32(0x2c)?) << 32)
    } else {
        (0, 0)
    };
    Ok(Bridge {
        primary: cfg.u8(0x18)?,
        secondary: cfg.u8(0x19)?,
        subordinate: cfg.u8(0x1a)?,
        io: window(
            io_hi_b | (u64::from(io_base & 0xf0) << 8),
            io_hi_l | (u64::from(io_limit & 0xf0) << 8) | 0xfff,
        ),
        memory: window(
            u64::from(mem_base & 0xfff0) << 16,
            (u64::from(mem_limit & 0xfff0) << 16) | 0xf_ffff,
        ),
        prefetchable: window(
            pf_hi_b | (u64::from(pf_base & 0xfff0) << 16),
            pf_hi_l | (u64::from(pf_limit & 0xfff0) << 16) | 0xf_ffff,
        ),
    })
}

/// Parse sysfs `resource` (one `start end flags` line per resource: BARs
/// 0–5, then the expansion ROM) into BARs and the ROM size.
fn resources(text: &str, layout: u8) -> io::Result<(Vec<Bar>, Option<Hex64>)> {
    let nbars = match layout {
        0 => 6,
        1 => 2,
        _ => 1,
    };
    let mut bars = Vec::new();
    let mut rom = None;
    for (i, line) in text.lines().enumerate().take(7) {
        let nums: Vec<u64> = line
            .split_whitespace()
            .map(|w| u64::from_str_radix(w.trim_start_matches("0x"), 16))
            .collect::<Result<_, _>>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("resource line {i} {line:?}: {e}")))?;
        let [start, end, flags] = nums[..] else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("resource line {i} {line:?}"),
            ));
        };
        if flags == 0 {
            continue;
        }
        let size = Hex64(end.wrapping_sub(start).wrapping_add(1));
        if i == 6 {
            rom = Some(size);
        } else if i < nbars {
            let kind = if flags & IORESOURCE_IO != 0 {
                "io"
            } else if flags & IORESOURCE_MEM_64 != 0 {
                "mem64"
            } else if flags & IORESOURCE_MEM != 0 {
                "mem32"
            } else {
                "unknown"
            };
            bars.push(Bar {
                index: i as u8,
                kind: kind.into(),
                prefetchable: flags & IORESOURCE_PREFETCH != 0,
                size,
            });
        }
    }
    Ok((bars, rom))
}

/// Upstream bridges from the sysfs device path, host bridge side first.
fn parents(link: &str, name: &str) -> Vec<abi_model::facts::PciAddress> {
    link.split('/')
        .filter(|c| *c != name)
        .filter_map(PciAddress::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_sizes_and_kinds() {
        let text = "0x00000000fe000000 0x00000000fe7fffff 0x0000000000042208\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                    0x000000000000c000 0x000000000000c01f 0x0000000000040101\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                    0x000000fe00000000 0x000000fe00003fff 0x000000000014220c\n\
                    0x0000000000000000 0x0000000000000000 0x0000000000000000\n\
                    0x00000000000c0000 0x00000000000dffff 0x0000000000000212\n";
        let (bars, rom) = resources(text, 0).unwrap();
        assert_eq!(bars.len(), 3);
        assert_eq!(
            (bars[0].kind.as_str(), bars[0].prefetchable, bars[0].size),
            ("mem32", true, Hex64(0x80_0000))
        );
        assert_eq!(
            (bars[1].index, bars[1].kind.as_str(), bars[1].size),
            (2, "io", Hex64(0x20))
        );
        assert_eq!((bars[2].index, bars[2].kind.as_str()), (4, "mem64"));
        assert_eq!(rom, Some(Hex64(0x2_0000)));
    }

    #[test]
    fn parent_chain_from_link() {
        let p = parents("../../../devices/pci0000:00/0000:00:1c.0/0000:01:00.0", "0000:01:00.0");
        assert_eq!(p, vec![PciAddress::parse("0000:00:1c.0").unwrap()]);
    }

    #[test]
    fn capability_loop_is_bounded() {
        let mut cfg = vec![0u8; 256];
        cfg[0x06] = 0x10;
        cfg[0x34] = 0x40;
        cfg[0x40] = 0x05;
        cfg[0x41] = 0x40; // points at itself
        assert_eq!(Config(&cfg).capabilities().unwrap().len(), 48);
    }
}
