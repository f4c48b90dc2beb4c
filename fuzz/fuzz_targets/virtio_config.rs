//! Fuzz target: the virtio config decoder must return a `Decoded` for any
//! PCI device id and config bytes, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first two bytes are the virtio-pci device id (little-endian), the
    // rest the device-specific config as the probe stores it.
    if let [lo, hi, config @ ..] = data {
        let _ = abi_decode::virtio::config(u16::from_le_bytes([*lo, *hi]), config);
    }
});
