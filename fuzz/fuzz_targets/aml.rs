//! Fuzz target: the AML namespace walker must return a `Decoded` (with
//! `error` items) for any byte string, never panic or loop.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|table: &[u8]| {
    // The input is a whole DSDT/SSDT, header included, as the recorder stores it.
    let _ = abi_decode::aml::decode(table);
});
