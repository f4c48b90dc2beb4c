//! The device tree: the raw blob the kernel was handed, and a small reader
//! of the kernel's unflattened copy (`/sys/firmware/devicetree/base`) that
//! other collectors use to find a device's registers.

use crate::source::Source;
use abi_model::blob::Blobs;
use abi_model::facts::DeviceTree;
use std::io;

/// The blob as the kernel received it (exposed when unmodified since boot).
pub const FDT: &str = "/sys/firmware/fdt";
/// The kernel's unflattened tree.
pub const BASE: &str = "/sys/firmware/devicetree/base";

/// Collect the raw blob, without its trailing zero bytes (see
/// [`DeviceTree::blob`]).
pub fn collect(src: &dyn Source, blobs: &mut Blobs) -> io::Result<DeviceTree> {
    let mut raw = src.read_file(FDT)?;
    let size = u32::try_from(raw.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("{FDT}: {} bytes", raw.len())))?;
    let used = raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    raw.truncate(used);
    Ok(DeviceTree {
        size,
        blob: blobs.put(raw),
    })
}

/// Big-endian 32-bit cells of a property.
fn cells(raw: &[u8]) -> Vec<u32> {
    raw.chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A `#address-cells`/`#size-cells` property of the root, or the
/// specification's default when absent.
fn root_cells(src: &dyn Source, name: &str, default: usize) -> io::Result<usize> {
    match src.read_file(&format!("{BASE}/{name}")) {
        Ok(raw) => match cells(&raw)[..] {
            [n] if n <= 2 => Ok(n as usize),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{BASE}/{name}: {raw:02x?}"),
            )),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(default),
        Err(e) => Err(e),
    }
}

/// The first `reg` region (base, size) of the first child of the root whose
/// `compatible` list names one of `compatible`, with the node's path;
/// `Ok(None)` when no node matches (a UEFI boot's tree has none).
pub fn find_region(src: &dyn Source, compatible: &[&str]) -> io::Result<Option<(String, u64, u64)>> {
    let nodes = match src.read_dir(BASE) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let (ac, sc) = (
        root_cells(src, "#address-cells", 2)?,
        root_cells(src, "#size-cells", 1)?,
    );
    for node in nodes {
        let compat = match src.read_file(&format!("{BASE}/{node}/compatible")) {
            Ok(c) => c,
            // Properties are files; nodes without `compatible` are skipped.
            Err(_) => continue,
        };
        if !compat
            .split(|&b| b == 0)
            .any(|c| compatible.iter().any(|want| c == want.as_bytes()))
        {
            continue;
        }
        let reg_path = format!("{BASE}/{node}/reg");
        let reg = cells(&src.read_file(&reg_path)?);
        if reg.len() < ac + sc {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{reg_path}: {} cells, expected {ac} + {sc}", reg.len()),
            ));
        }
        let join = |c: &[u32]| c.iter().fold(0u64, |a, &x| (a << 32) | u64::from(x));
        return Ok(Some((format!("/{node}"), join(&reg[..ac]), join(&reg[ac..ac + sc]))));
    }
    Ok(None)
}
