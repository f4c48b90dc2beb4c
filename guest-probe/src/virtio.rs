//! virtio-pci: what each device offers, read from the device's own registers
//! (not what a driver negotiated): feature words, queues and their maximum
//! sizes, and the device-specific configuration.

use crate::pci::{Config, DEVICES};
use crate::source::Source;
use abi_model::facts::{PciAddress, PciFunction, Probed, VirtioDevice};
use abi_model::hex::{bytes_to_hex, Hex16, Hex32};
use std::collections::BTreeMap;
use std::io;

const VENDOR: u16 = 0x1af4;
/// Feature words read: 128 bits, every bit any QEMU defines.
pub const FEATURE_WORDS: u32 = 4;
const MAX_QUEUES: u16 = 1024;
const MAX_CONFIG: u32 = 4096;

// virtio_pci_common_cfg register offsets (virtio 1.x, 4.1.4.3).
const DEVICE_FEATURE_SELECT: u64 = 0x00;
const DEVICE_FEATURE: u64 = 0x04;
const NUM_QUEUES: u64 = 0x12;
const QUEUE_SELECT: u64 = 0x16;
const QUEUE_SIZE: u64 = 0x18;
// Legacy I/O BAR 0 layout (virtio 0.9.5).
const LEGACY_FEATURES: u64 = 0x00;
const LEGACY_QUEUE_SIZE: u64 = 0x0c;
const LEGACY_QUEUE_SELECT: u64 = 0x0e;
const LEGACY_CONFIG: u64 = 0x14;

/// QEMU reads `ff` past the end of a device's config; a run this long means
/// we are past it (no device config has that many `ff` bytes in a row).
const FF_RUN: usize = 64;

/// Read device config bytewise from `offset` in a BAR, at most `length` (and
/// [`MAX_CONFIG`]) bytes, stopping past the end and trimming the `ff` tail.
fn read_config(src: &dyn Source, dev: &str, bar: u8, offset: u64, length: u64) -> io::Result<Vec<u8>> {
    let mut config = Vec::new();
    for i in 0..length.min(u64::from(MAX_CONFIG)) {
        config.push(src.bar_read(dev, bar, offset + i, 1)? as u8);
        if config.len() >= FF_RUN && config[config.len() - FF_RUN..].iter().all(|&b| b == 0xff) {
            break;
        }
    }
    while config.last() == Some(&0xff) {
        config.pop();
    }
    Ok(config)
}

/// A virtio vendor capability: where one register block lives.
struct Region {
    bar: u8,
    offset: u64,
    length: u32,
}

/// Collect every virtio function among the PCI functions already read.
pub fn collect(
    src: &dyn Source,
    pci: &BTreeMap<PciAddress, Probed<PciFunction>>,
) -> BTreeMap<PciAddress, Probed<VirtioDevice>> {
    pci.iter()
        .filter_map(|(addr, f)| {
            let f = f.available()?;
            (f.vendor.0 == VENDOR && (0x1000..=0x107f).contains(&f.device.0))
                .then(|| (*addr, Probed::from_result(device(src, *addr, f))))
        })
        .collect()
}

fn device(src: &dyn Source, addr: PciAddress, f: &PciFunction) -> io::Result<VirtioDevice> {
    let dev = addr.to_string();
    let raw = src.read_file(&format!("{DEVICES}/{dev}/config"))?;
    let cfg = Config(&raw);
    let mut common = None;
    let mut devcfg = None;
    for (off, id) in cfg.capabilities()? {
        if id != 0x09 {
            continue;
        }
        let o = off as usize;
        let region = Region {
            bar: cfg.u8(o + 4)?,
            offset: u64::from(cfg.u32(o + 8)?),
            length: cfg.u32(o + 12)?,
        };
        match cfg.u8(o + 3)? {
            1 if common.is_none() => common = Some(region),
            4 if devcfg.is_none() => devcfg = Some(region),
            _ => {}
        }
    }
    match common {
        Some(c) => modern(src, &dev, f, &c, devcfg.as_ref()),
        None => legacy(src, &dev, f),
    }
}

fn modern(
    src: &dyn Source,
    dev: &str,
    f: &PciFunction,
    c: &Region,
    devcfg: Option<&Region>,
) -> io::Result<VirtioDevice> {
    let mut features = Vec::new();
    for word in 0..FEATURE_WORDS {
        src.bar_write(dev, c.bar, c.offset + DEVICE_FEATURE_SELECT, 4, word)?;
        features.push(Hex32(src.bar_read(dev, c.bar, c.offset + DEVICE_FEATURE, 4)?));
    }
    let num_queues = src.bar_read(dev, c.bar, c.offset + NUM_QUEUES, 2)? as u16;
    if num_queues > MAX_QUEUES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("device reports {num_queues} queues"),
        ));
    }
    let mut queue_sizes = Vec::new();
    for q in 0..num_queues {
        src.bar_write(dev, c.bar, c.offset + QUEUE_SELECT, 2, u32::from(q))?;
        queue_sizes.push(src.bar_read(dev, c.bar, c.offset + QUEUE_SIZE, 2)? as u16);
    }
    let config = match devcfg {
        Some(d) => read_config(src, dev, d.bar, d.offset, u64::from(d.length))?,
        None => Vec::new(),
    };
    Ok(VirtioDevice {
        pci_device: Hex16(f.device.0),
        transport: "modern".into(),
        features,
        num_queues,
        queue_sizes,
        config: bytes_to_hex(&config),
    })
}

fn legacy(src: &dyn Source, dev: &str, f: &PciFunction) -> io::Result<VirtioDevice> {
    let bar = f.bars.iter().find(|b| b.index == 0 && b.kind == "io").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "neither virtio 1.x capabilities nor a legacy I/O BAR 0",
        )
    })?;
    let features = vec![Hex32(src.bar_read(dev, 0, LEGACY_FEATURES, 4)?)];
    let mut queue_sizes = Vec::new();
    for q in 0..MAX_QUEUES {
        src.bar_write(dev, 0, LEGACY_QUEUE_SELECT, 2, u32::from(q))?;
        let size = src.bar_read(dev, 0, LEGACY_QUEUE_SIZE, 2)? as u16;
        if size == 0 {
            break;
        }
        queue_sizes.push(size);
    }
    let config = read_config(src, dev, 0, LEGACY_CONFIG, bar.size.0.saturating_sub(LEGACY_CONFIG))?;
    Ok(VirtioDevice {
        pci_device: Hex16(f.device.0),
        transport: "legacy".into(),
        features,
        num_queues: queue_sizes.len() as u16,
        queue_sizes,
        config: bytes_to_hex(&config),
    })
}
