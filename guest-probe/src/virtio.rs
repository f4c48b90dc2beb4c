//! virtio-pci: what each device offers, read from the device's own registers
//! (not what a driver negotiated): feature words, queues and their maximum
//! sizes, and the device-specific configuration.
//!
//! A queue's size register is read-write in virtio 1.x: it reads as the
//! device's maximum until a driver writes a smaller size. Firmware does:
//! SeaBIOS writes 256 (its limit) into the queues of the virtio-blk and
//! virtio-scsi devices it can boot from, and leaves them so. A device no OS
//! driver is bound to (sysfs `driver` link absent: the bare probe always,
//! the Linux probe unless a module bound one) is therefore reset first, by
//! writing 0 to its status register; QEMU's reset (`virtio_reset`) puts every
//! queue back to the size the device offers. A device an OS driver is bound
//! to is left alone: the driver reset it when it probed, and what its queues
//! read is what that driver set up.
//!
//! The feature words are the device's own (the driver's are separate
//! registers) and do not change with the reset. The device config is read
//! before the reset, as the machine handed it over: the reset changes one
//! byte of it, virtio-blk's `writeback` (offset 32), which QEMU derives from
//! the features the last driver accepted ("auto writethrough": SeaBIOS does
//! not accept FLUSH, so it reads 0) and a reset puts back to the drive's own
//! cache mode (1). Reading it after the reset would be the device's value,
//! but would change every recorded virtio-blk config; that is a decision for
//! a re-recording of the database, not a side effect of this one.

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
const DEVICE_STATUS: u64 = 0x14;
const QUEUE_SIZE: u64 = 0x18;
// Legacy I/O BAR 0 layout (virtio 0.9.5).
const LEGACY_FEATURES: u64 = 0x00;
const LEGACY_QUEUE_SIZE: u64 = 0x0c;
const LEGACY_QUEUE_SELECT: u64 = 0x0e;
const LEGACY_STATUS: u64 = 0x12;
const LEGACY_CONFIG: u64 = 0x14;
/// Reads of the status register, after writing 0, before a device that
/// never reads 0 is given up on (virtio 1.x 4.1.4.3.2: the driver waits for
/// 0). QEMU resets synchronously: the first read is 0.
const RESET_POLLS: u32 = 100;

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

/// Whether an OS driver is bound to the function: its sysfs `driver` link
/// exists. Any answer but "there" or "not there" is an error: resetting a
/// device a driver uses would pull it from under that driver, and reading
/// without the reset may report what firmware wrote.
fn driver_bound(src: &dyn Source, dev: &str) -> io::Result<bool> {
    let path = format!("{DEVICES}/{dev}/driver");
    match src.read_link(&path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("{path}: cannot tell whether a driver is bound: {e}"),
        )),
    }
}

/// Reset the device: write 0 to its status register (1 byte at `offset` in
/// `bar`), then wait until it reads 0.
fn reset(src: &dyn Source, dev: &str, bar: u8, offset: u64) -> io::Result<()> {
    src.bar_write(dev, bar, offset, 1, 0)?;
    let mut status = 0;
    for _ in 0..RESET_POLLS {
        status = src.bar_read(dev, bar, offset, 1)?;
        if status == 0 {
            return Ok(());
        }
    }
    Err(io::Error::other(format!(
        "device status still {status:#04x} after writing 0 (reset) and {RESET_POLLS} reads"
    )))
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
    let reset_first = !driver_bound(src, &dev)?;
    match common {
        Some(c) => modern(src, &dev, f, &c, devcfg.as_ref(), reset_first),
        None => legacy(src, &dev, f, reset_first),
    }
}

fn modern(
    src: &dyn Source,
    dev: &str,
    f: &PciFunction,
    c: &Region,
    devcfg: Option<&Region>,
    reset_first: bool,
) -> io::Result<VirtioDevice> {
    let mut features = Vec::new();
    for word in 0..FEATURE_WORDS {
        src.bar_write(dev, c.bar, c.offset + DEVICE_FEATURE_SELECT, 4, word)?;
        features.push(Hex32(src.bar_read(dev, c.bar, c.offset + DEVICE_FEATURE, 4)?));
    }
    // Config as handed over, before the reset (see the module doc).
    let config = match devcfg {
        Some(d) => read_config(src, dev, d.bar, d.offset, u64::from(d.length))?,
        None => Vec::new(),
    };
    if reset_first {
        reset(src, dev, c.bar, c.offset + DEVICE_STATUS)?;
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
    Ok(VirtioDevice {
        pci_device: Hex16(f.device.0),
        transport: "modern".into(),
        features,
        num_queues,
        queue_sizes,
        config: bytes_to_hex(&config),
    })
}

fn legacy(src: &dyn Source, dev: &str, f: &PciFunction, reset_first: bool) -> io::Result<VirtioDevice> {
    let bar = f.bars.iter().find(|b| b.index == 0 && b.kind == "io").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "neither virtio 1.x capabilities nor a legacy I/O BAR 0",
        )
    })?;
    let features = vec![Hex32(src.bar_read(dev, 0, LEGACY_FEATURES, 4)?)];
    // Config as handed over, before the reset (see the module doc).
    let config = read_config(src, dev, 0, LEGACY_CONFIG, bar.size.0.saturating_sub(LEGACY_CONFIG))?;
    // Legacy queue sizes are read-only in QEMU (only the modern interface
    // writes them), so the reset changes nothing read here today; it keeps
    // the rule one for both transports: queue sizes come from a reset device.
    if reset_first {
        reset(src, dev, 0, LEGACY_STATUS)?;
    }
    let mut queue_sizes = Vec::new();
    for q in 0..MAX_QUEUES {
        src.bar_write(dev, 0, LEGACY_QUEUE_SELECT, 2, u32::from(q))?;
        let size = src.bar_read(dev, 0, LEGACY_QUEUE_SIZE, 2)? as u16;
        if size == 0 {
            break;
        }
        queue_sizes.push(size);
    }
    Ok(VirtioDevice {
        pci_device: Hex16(f.device.0),
        transport: "legacy".into(),
        features,
        num_queues: queue_sizes.len() as u16,
        queue_sizes,
        config: bytes_to_hex(&config),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FwCfgPort;
    use abi_model::facts::Bar;
    use abi_model::hex::{Hex64, Hex8};
    use abi_model::BlobId;
    use std::cell::RefCell;

    const DEV: &str = "0000:00:09.0";
    const DRIVER: &str = "/sys/bus/pci/devices/0000:00:09.0/driver";
    const DEVCFG: u64 = 0x2000;

    /// One virtio-blk-pci function as QEMU models its registers: modern
    /// (common config at BAR 4 offset 0, device config at 0x2000) or legacy
    /// (I/O BAR 0 only). A queue size write sticks until a reset (status 0)
    /// puts back what the device offers.
    struct Model {
        legacy: bool,
        /// `Ok(target)`: a driver is bound; `Err(kind)`: reading the link fails so.
        driver: Result<&'static str, io::ErrorKind>,
        offered: Vec<u16>,
        sizes: RefCell<Vec<u16>>,
        status: RefCell<u8>,
        /// The status register never reads 0 again.
        stuck: bool,
        sel: RefCell<u16>,
        status_writes: RefCell<Vec<u32>>,
    }

    impl Model {
        /// SeaBIOS's leftovers: queue 0 written down to 256, DRIVER_OK set.
        fn after_firmware(legacy: bool, offered: &[u16]) -> Model {
            let mut sizes = offered.to_vec();
            if !legacy {
                sizes[0] = sizes[0].min(256);
            }
            Model {
                legacy,
                driver: Err(io::ErrorKind::NotFound),
                offered: offered.to_vec(),
                sizes: RefCell::new(sizes),
                status: RefCell::new(0x0f),
                stuck: false,
                sel: RefCell::new(0),
                status_writes: RefCell::new(Vec::new()),
            }
        }

        fn config(&self) -> Vec<u8> {
            let mut c = vec![0u8; 256];
            c[0..2].copy_from_slice(&VENDOR.to_le_bytes());
            c[2..4].copy_from_slice(&(if self.legacy { 0x1001u16 } else { 0x1042 }).to_le_bytes());
            if self.legacy {
                return c;
            }
            c[6] = 0x10;
            c[0x34] = 0x40;
            // (at, next, cfg_type, offset, length)
            for (at, next, kind, offset, length) in [(0x40, 0x54, 1u8, 0u32, 0x38u32), (0x54, 0, 4, 0x2000, 0x3c)] {
                c[at] = 0x09;
                c[at + 1] = next;
                c[at + 2] = 16;
                c[at + 3] = kind;
                c[at + 4] = 4;
                c[at + 8..at + 12].copy_from_slice(&offset.to_le_bytes());
                c[at + 12..at + 16].copy_from_slice(&length.to_le_bytes());
            }
            c
        }

        fn function(&self) -> PciFunction {
            let bar = |index, kind: &str, size| Bar {
                index,
                kind: kind.into(),
                prefetchable: false,
                size: Hex64(size),
            };
            PciFunction {
                vendor: Hex16(VENDOR),
                device: Hex16(if self.legacy { 0x1001 } else { 0x1042 }),
                subsystem_vendor: Hex16(VENDOR),
                subsystem: Hex16(2),
                class: Hex32(0x010000),
                revision: Hex8(0),
                header_type: Hex8(0),
                interrupt_pin: 1,
                express: false,
                config_size: 256,
                config: BlobId::of(&self.config()),
                parents: Vec::new(),
                bars: if self.legacy {
                    vec![bar(0, "io", 0x40)]
                } else {
                    vec![bar(4, "mem64", 0x4000)]
                },
                rom_size: None,
                capabilities: Vec::new(),
                ext_capabilities: Vec::new(),
                bridge: None,
            }
        }

        fn status_register(&self) -> (u8, u64) {
            if self.legacy {
                (0, LEGACY_STATUS)
            } else {
                (4, DEVICE_STATUS)
            }
        }

        fn collect(&self) -> Probed<VirtioDevice> {
            let addr = PciAddress::parse(DEV).unwrap();
            let pci = BTreeMap::from([(addr, Probed::Available(self.function()))]);
            collect(self, &pci).remove(&addr).expect("the function is virtio")
        }
    }

    fn unsupported<T>() -> io::Result<T> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "not modelled"))
    }

    impl Source for Model {
        fn arch(&self) -> io::Result<String> {
            Ok("x86_64".into())
        }
        fn read_file(&self, path: &str) -> io::Result<Vec<u8>> {
            match path == format!("{DEVICES}/{DEV}/config") {
                true => Ok(self.config()),
                false => unsupported(),
            }
        }
        fn read_dir(&self, _: &str) -> io::Result<Vec<String>> {
            unsupported()
        }
        fn read_link(&self, path: &str) -> io::Result<String> {
            assert_eq!(path, DRIVER);
            self.driver.map(String::from).map_err(|k| io::Error::new(k, "modelled"))
        }
        fn cpuid(&self, _: u32, _: u32, _: u32) -> io::Result<[u32; 4]> {
            unsupported()
        }
        fn fw_cfg_read(&self, _: FwCfgPort, _: u16, _: usize) -> io::Result<Vec<u8>> {
            unsupported()
        }
        fn id_register(&self, _: u32, _: &str) -> io::Result<u64> {
            unsupported()
        }
        fn phys_read32(&self, _: u64) -> io::Result<u32> {
            unsupported()
        }
        fn kernel_log(&self) -> io::Result<Vec<u8>> {
            unsupported()
        }
        fn bar_read(&self, dev: &str, bar: u8, offset: u64, _: u8) -> io::Result<u32> {
            assert_eq!(dev, DEV);
            let size = || {
                u32::from(
                    self.sizes
                        .borrow()
                        .get(*self.sel.borrow() as usize)
                        .copied()
                        .unwrap_or(0),
                )
            };
            Ok(match (self.legacy, bar, offset) {
                (_, _, o) if (bar, o) == self.status_register() => match self.stuck {
                    true => 0x40,
                    false => u32::from(*self.status.borrow()),
                },
                (false, 4, DEVICE_FEATURE) => 0x0000_0001,
                (false, 4, NUM_QUEUES) => self.offered.len() as u32,
                (false, 4, QUEUE_SIZE) => size(),
                // Like virtio-blk's `writeback`: 0 as firmware left it, 1 after a reset.
                (false, 4, o) if o == DEVCFG + 7 => {
                    u32::from(*self.status.borrow() == 0 && !self.status_writes.borrow().is_empty())
                }
                (false, 4, o) if (DEVCFG..DEVCFG + 8).contains(&o) => 0x08,
                (true, 0, LEGACY_FEATURES) => 0x7100_0000,
                (true, 0, LEGACY_QUEUE_SIZE) => size(),
                (true, 0, o) if (LEGACY_CONFIG..LEGACY_CONFIG + 8).contains(&o) => 0x08,
                _ => 0xff,
            })
        }
        fn bar_write(&self, dev: &str, bar: u8, offset: u64, _: u8, value: u32) -> io::Result<()> {
            assert_eq!(dev, DEV);
            if (bar, offset) == self.status_register() {
                self.status_writes.borrow_mut().push(value);
                *self.status.borrow_mut() = value as u8;
                if value == 0 {
                    *self.sizes.borrow_mut() = self.offered.clone();
                }
            } else if (self.legacy, offset) == (false, QUEUE_SELECT)
                || (self.legacy, offset) == (true, LEGACY_QUEUE_SELECT)
            {
                *self.sel.borrow_mut() = value as u16;
            }
            Ok(())
        }
    }

    fn available(p: Probed<VirtioDevice>) -> VirtioDevice {
        match p {
            Probed::Available(d) => d,
            Probed::Unavailable { unavailable } => panic!("unavailable: {unavailable}"),
        }
    }

    fn unavailable(p: Probed<VirtioDevice>) -> String {
        match p {
            Probed::Unavailable { unavailable } => unavailable,
            Probed::Available(d) => panic!("read: {d:?}"),
        }
    }

    #[test]
    fn without_a_driver_queue_sizes_are_the_offer_not_what_firmware_wrote() {
        let m = Model::after_firmware(false, &[512, 512]);
        let d = available(m.collect());
        assert_eq!((d.num_queues, d.queue_sizes.as_slice()), (2, &[512u16, 512][..]));
        assert_eq!(*m.status_writes.borrow(), [0], "one reset");
        assert_eq!(d.config, "0808080808080800", "config as handed over, before the reset");
    }

    #[test]
    fn a_device_a_driver_is_bound_to_is_not_reset() {
        let mut m = Model::after_firmware(false, &[512, 512]);
        m.driver = Ok("../../../bus/pci/drivers/virtio-pci");
        let d = available(m.collect());
        assert_eq!(d.queue_sizes, [256, 512], "what the driver set up");
        assert!(m.status_writes.borrow().is_empty());
    }

    #[test]
    fn a_driver_link_that_cannot_be_read_makes_the_device_unavailable() {
        let mut m = Model::after_firmware(false, &[512]);
        m.driver = Err(io::ErrorKind::PermissionDenied);
        let why = unavailable(m.collect());
        assert!(why.contains("cannot tell whether a driver is bound"), "{why}");
        assert!(why.contains(DRIVER), "{why}");
        assert!(m.status_writes.borrow().is_empty());
    }

    #[test]
    fn a_device_that_does_not_finish_its_reset_is_unavailable() {
        let mut m = Model::after_firmware(false, &[512]);
        m.stuck = true;
        let why = unavailable(m.collect());
        assert!(why.contains("still 0x40 after writing 0"), "{why}");
    }

    #[test]
    fn a_legacy_device_is_reset_through_its_status_register() {
        let m = Model::after_firmware(true, &[128, 128]);
        let d = available(m.collect());
        assert_eq!(
            (d.transport.as_str(), d.queue_sizes.as_slice()),
            ("legacy", &[128u16, 128][..])
        );
        assert_eq!(*m.status_writes.borrow(), [0]);
    }
}
