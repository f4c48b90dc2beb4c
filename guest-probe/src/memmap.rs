//! The memory map the firmware handed to the kernel (e820 on x86).

use crate::source::Source;
use abi_model::facts::MemoryRange;
use abi_model::hex::Hex64;
use std::io;

/// The kernel's copy of the firmware memory map.
pub const MEMMAP: &str = "/sys/firmware/memmap";

fn number(src: &dyn Source, path: &str) -> io::Result<u64> {
    let text = String::from_utf8_lossy(&src.read_file(path)?).trim().to_string();
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{path}: {text:?}: {e}")))
}

/// Collect the map, sorted by address.
pub fn collect(src: &dyn Source) -> io::Result<Vec<MemoryRange>> {
    let mut out = Vec::new();
    for entry in src.read_dir(MEMMAP)? {
        let dir = format!("{MEMMAP}/{entry}");
        out.push(MemoryRange {
            start: Hex64(number(src, &format!("{dir}/start"))?),
            end: Hex64(number(src, &format!("{dir}/end"))?),
            kind: String::from_utf8_lossy(&src.read_file(&format!("{dir}/type"))?)
                .trim()
                .to_string(),
        });
    }
    out.sort_by(|a, b| (a.start, a.end, &a.kind).cmp(&(b.start, b.end, &b.kind)));
    Ok(out)
}
