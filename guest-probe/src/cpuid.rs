//! CPUID: every leaf and subleaf of the basic, hypervisor and extended ranges
//! on every online vCPU, with subleaf-indexed leaves enumerated by their rules.

use crate::source::Source;
use abi_model::facts::CpuCpuid;
use std::collections::BTreeMap;
use std::io;

/// The kernel's list of online CPUs.
pub const ONLINE: &str = "/sys/devices/system/cpu/online";
/// Bound on leaves per range and subleaves per leaf: real ranges are far
/// smaller, and a bogus maximum must not make the probe spin.
const MAX_RANGE: u32 = 0x100;
const MAX_SUB: u32 = 64;

/// Parse a kernel CPU list such as `0-3,6`.
pub fn parse_cpu_list(text: &str) -> io::Result<Vec<u32>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad CPU list {text:?}"));
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
        if b < a || b - a > 8192 {
            return Err(bad());
        }
        cpus.extend(a..=b);
    }
    Ok(cpus)
}

/// Collect CPUID of every online CPU.
pub fn collect(src: &dyn Source) -> io::Result<Vec<CpuCpuid>> {
    let cpus = parse_cpu_list(&String::from_utf8_lossy(&src.read_file(ONLINE)?))?;
    cpus.into_iter()
        .map(|cpu| {
            Ok(CpuCpuid {
                cpu,
                leaves: dump(&|l, s| src.cpuid(cpu, l, s))?,
            })
        })
        .collect()
}

type Regs = [u32; 4];

/// Dump every leaf reachable through `cpuid(leaf, subleaf)`.
pub fn dump(cpuid: &dyn Fn(u32, u32) -> io::Result<Regs>) -> io::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut put = |leaf: u32, sub: u32, r: Regs| {
        out.insert(
            format!("{leaf:08x}.{sub:08x}"),
            format!("{:08x} {:08x} {:08x} {:08x}", r[0], r[1], r[2], r[3]),
        );
    };
    let max_basic = cpuid(0, 0)?[0].min(MAX_RANGE - 1);
    let hypervisor = max_basic >= 1 && cpuid(1, 0)?[2] & (1 << 31) != 0;
    let mut ranges = vec![(0u32, max_basic)];
    if hypervisor {
        let top = cpuid(0x4000_0000, 0)?[0];
        let top = if (0x4000_0000..0x4000_0000 + MAX_RANGE).contains(&top) {
            top
        } else {
            0x4000_0000
        };
        ranges.push((0x4000_0000, top));
    }
    let ext = cpuid(0x8000_0000, 0)?[0];
    if (0x8000_0000..0x8000_0000 + MAX_RANGE).contains(&ext) {
        ranges.push((0x8000_0000, ext));
    }
    for (first, last) in ranges {
        for leaf in first..=last {
            for (sub, r) in subleaves(cpuid, leaf)? {
                put(leaf, sub, r);
            }
        }
    }
    Ok(out)
}

/// The subleaves of one leaf, by the rule the architecture gives for it.
fn subleaves(cpuid: &dyn Fn(u32, u32) -> io::Result<Regs>, leaf: u32) -> io::Result<Vec<(u32, Regs)>> {
    let s0 = cpuid(leaf, 0)?;
    let mut out = vec![(0, s0)];
    // Enumerate while `more(regs)` holds, keeping the terminating subleaf.
    let walk = |out: &mut Vec<(u32, Regs)>, more: &dyn Fn(&Regs) -> bool| -> io::Result<()> {
        let mut r = s0;
        let mut sub = 0;
        while more(&r) && sub + 1 < MAX_SUB {
            sub += 1;
            r = cpuid(leaf, sub)?;
            out.push((sub, r));
        }
        Ok(())
    };
    match leaf {
        // Deterministic cache parameters: until cache type 0.
        0x4 | 0x8000_001d => walk(&mut out, &|r| r[0] & 0x1f != 0)?,
        // Topology: until level type 0.
        0xb | 0x1f | 0x8000_0026 => walk(&mut out, &|r| (r[2] >> 8) & 0xff != 0)?,
        // Subleaf 0 EAX holds the highest subleaf.
        0x7 | 0x14 | 0x17 | 0x18 | 0x1d | 0x20 | 0x23 => {
            for sub in 1..=s0[0].min(MAX_SUB - 1) {
                out.push((sub, cpuid(leaf, sub)?));
            }
        }
        // XSAVE: subleaves 0, 1 and every state component the masks name.
        0xd => {
            let s1 = cpuid(leaf, 1)?;
            out.push((1, s1));
            let mask = u64::from(s0[0]) | (u64::from(s0[3]) << 32) | u64::from(s1[2]) | (u64::from(s1[3]) << 32);
            for sub in (2..MAX_SUB).filter(|i| mask & (1 << i) != 0) {
                out.push((sub, cpuid(leaf, sub)?));
            }
        }
        0xf => out.push((1, cpuid(leaf, 1)?)),
        0x10 => {
            for sub in 1..4 {
                out.push((sub, cpuid(leaf, sub)?));
            }
        }
        0x12 => {
            out.push((1, cpuid(leaf, 1)?));
            let mut sub = 2;
            loop {
                let r = cpuid(leaf, sub)?;
                out.push((sub, r));
                if r[0] & 0xf == 0 || sub + 1 >= MAX_SUB {
                    break;
                }
                sub += 1;
            }
        }
        // Any other leaf: if ECX changes the answer it is subleaf-indexed in a
        // way we do not know; keep every subleaf up to the last non-zero one.
        _ => {
            let s1 = cpuid(leaf, 1)?;
            if s1 != s0 {
                let mut rest = vec![(1, s1)];
                for sub in 2..MAX_SUB {
                    rest.push((sub, cpuid(leaf, sub)?));
                }
                while rest.last().is_some_and(|(_, r)| *r == [0; 4]) {
                    rest.pop();
                }
                out.extend(rest);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,6\n").unwrap(), vec![0, 1, 2, 3, 6]);
        assert_eq!(parse_cpu_list("0").unwrap(), vec![0]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
    }

    #[test]
    fn bogus_maximum_is_bounded() {
        // A CPU that claims 2^32-1 basic leaves and answers the same everywhere.
        let n = dump(&|_, _| Ok([0xffff_ffff, 0, 0, 0])).unwrap();
        assert!(n.len() <= 3 * (MAX_RANGE * MAX_SUB) as usize, "{}", n.len());
        assert!(n.contains_key("000000ff.00000000"));
        assert!(!n.contains_key("00000100.00000000"));
    }
}
