//! Fuzz target: both SMBIOS decoders must return a `Decoded` for any byte
//! string, never panic or loop.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    // One corpus serves both decoders: entry points and structure tables are
    // seeds alike, and each decoder sees every input, so mutations of one
    // kind also probe the other's error paths.
    let _ = abi_decode::smbios::decode_table(bytes);
    let _ = abi_decode::smbios::decode_entry_point(bytes);
});
