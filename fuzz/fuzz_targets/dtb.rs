//! Fuzz target: the device tree decoder must return a `Decoded` for any
//! byte string, never panic or loop.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = abi_decode::dtb::decode(bytes);
});
