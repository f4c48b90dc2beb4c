//! Arm CPU identification registers of every online vCPU.
//!
//! Two views, both recorded, neither decoded here:
//!
//! - `MIDR_EL1` and `REVIDR_EL1` from sysfs (`regs/identification`): the
//!   values the kernel read at EL1 on each CPU, unmodified.
//! - The AArch64 ID register space (`ID_AA64*_EL1`, and `MIDR_EL1` again)
//!   read at EL0 with `mrs`, pinned to each CPU. EL0 may not read these
//!   registers; Linux traps the instruction and emulates it with the
//!   *sanitised* system-wide value, showing only the fields it declares
//!   visible to user space (Documentation/arm64/cpu-feature-registers.rst)
//!   and the safe value elsewhere. That is exactly what applications in the
//!   guest see, and the only view of ID_AA64* EL0 has. `MPIDR_EL1` and
//!   `REVIDR_EL1` are left out of this view: the emulation answers a
//!   constant (`0x80000000`, `0`) for them on every CPU, so they would
//!   record the kernel, not the machine.
//!
//! The emulation is announced by `HWCAP_CPUID`; without it an `mrs` would
//! kill the probe with SIGILL, so it is checked first.

use crate::cpuid::{parse_cpu_list, ONLINE};
use crate::source::Source;
use abi_model::facts::{CpuIdRegisters, Probed};
use abi_model::hex::Hex64;
use std::collections::BTreeMap;
use std::io;

/// Registers read with EL0 `mrs`, by architectural name: every AArch64 ID
/// register (op0 3, op1 0, CRn 0, CRm 4–7) Linux 6.x emulates, plus
/// `MIDR_EL1`. Registers a kernel does not track read as 0 (the emulation's
/// answer for reserved encodings). Their encodings are in [`mrs`].
pub const EL0_REGISTERS: &[&str] = &[
    "MIDR_EL1",
    "ID_AA64PFR0_EL1",
    "ID_AA64PFR1_EL1",
    "ID_AA64PFR2_EL1",
    "ID_AA64ZFR0_EL1",
    "ID_AA64SMFR0_EL1",
    "ID_AA64DFR0_EL1",
    "ID_AA64DFR1_EL1",
    "ID_AA64AFR0_EL1",
    "ID_AA64AFR1_EL1",
    "ID_AA64ISAR0_EL1",
    "ID_AA64ISAR1_EL1",
    "ID_AA64ISAR2_EL1",
    "ID_AA64MMFR0_EL1",
    "ID_AA64MMFR1_EL1",
    "ID_AA64MMFR2_EL1",
    "ID_AA64MMFR3_EL1",
    "ID_AA64MMFR4_EL1",
];

/// `HWCAP_CPUID` (arch/arm64/include/uapi/asm/hwcap.h): the kernel emulates
/// EL0 reads of the ID registers.
pub const HWCAP_CPUID: u64 = 1 << 11;

/// Where the kernel shows each CPU's MIDR/REVIDR.
fn sysfs(cpu: u32, reg: &str) -> String {
    format!("/sys/devices/system/cpu/cpu{cpu}/regs/identification/{reg}")
}

fn sysfs_reg(src: &dyn Source, cpu: u32, reg: &str) -> io::Result<Hex64> {
    let path = sysfs(cpu, reg);
    let text = String::from_utf8_lossy(&src.read_file(&path)?).trim().to_string();
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .map(Hex64)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{path}: {text:?}: {e}")))
}

/// Collect both views on every online CPU.
pub fn collect(src: &dyn Source) -> io::Result<Vec<CpuIdRegisters>> {
    let cpus = parse_cpu_list(&String::from_utf8_lossy(&src.read_file(ONLINE)?))?;
    let emulated = hwcap(src).map(|h| h & HWCAP_CPUID != 0);
    Ok(cpus
        .into_iter()
        .map(|cpu| {
            let registers = match &emulated {
                Err(e) => Err(io::Error::new(e.kind(), format!("AT_HWCAP: {e}"))),
                Ok(false) => Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "the kernel does not emulate EL0 ID register reads (no HWCAP_CPUID)",
                )),
                Ok(true) => EL0_REGISTERS
                    .iter()
                    .map(|&name| Ok((name.to_string(), Hex64(src.id_register(cpu, name)?))))
                    .collect::<io::Result<BTreeMap<_, _>>>(),
            };
            CpuIdRegisters {
                cpu,
                midr_el1: Probed::from_result(sysfs_reg(src, cpu, "midr_el1")),
                revidr_el1: Probed::from_result(sysfs_reg(src, cpu, "revidr_el1")),
                registers: Probed::from_result(registers),
            }
        })
        .collect())
}

/// `AT_HWCAP` from `/proc/self/auxv` (pairs of native-endian u64).
pub fn hwcap(src: &dyn Source) -> io::Result<u64> {
    const AT_HWCAP: u64 = 16;
    let auxv = src.read_file("/proc/self/auxv")?;
    for pair in auxv.chunks_exact(16) {
        let word = |b: &[u8]| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        };
        let (key, value) = (word(&pair[..8]), word(&pair[8..]));
        if key == AT_HWCAP {
            return Ok(value);
        }
        if key == 0 {
            break;
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "no AT_HWCAP in /proc/self/auxv",
    ))
}

/// Read one register of [`EL0_REGISTERS`] with `mrs` on the current CPU
/// (encodings `S3_<op1>_C<CRn>_C<CRm>_<op2>`, so the assembler needs to
/// know no register names).
#[cfg(target_arch = "aarch64")]
pub fn mrs(name: &str) -> io::Result<u64> {
    macro_rules! read {
        ($($name:literal => $enc:literal),* $(,)?) => {
            match name {
                $($name => {
                    let v: u64;
                    // SAFETY: an ID register read; Linux emulates it at EL0
                    // (the caller checked HWCAP_CPUID).
                    unsafe { std::arch::asm!(concat!("mrs {}, ", $enc), out(reg) v, options(nomem, nostack, preserves_flags)) };
                    Ok(v)
                })*
                _ => Err(io::Error::new(io::ErrorKind::InvalidInput, format!("unknown ID register {name:?}"))),
            }
        };
    }
    read!(
        "MIDR_EL1" => "S3_0_C0_C0_0",
        "ID_AA64PFR0_EL1" => "S3_0_C0_C4_0",
        "ID_AA64PFR1_EL1" => "S3_0_C0_C4_1",
        "ID_AA64PFR2_EL1" => "S3_0_C0_C4_2",
        "ID_AA64ZFR0_EL1" => "S3_0_C0_C4_4",
        "ID_AA64SMFR0_EL1" => "S3_0_C0_C4_5",
        "ID_AA64DFR0_EL1" => "S3_0_C0_C5_0",
        "ID_AA64DFR1_EL1" => "S3_0_C0_C5_1",
        "ID_AA64AFR0_EL1" => "S3_0_C0_C5_4",
        "ID_AA64AFR1_EL1" => "S3_0_C0_C5_5",
        "ID_AA64ISAR0_EL1" => "S3_0_C0_C6_0",
        "ID_AA64ISAR1_EL1" => "S3_0_C0_C6_1",
        "ID_AA64ISAR2_EL1" => "S3_0_C0_C6_2",
        "ID_AA64MMFR0_EL1" => "S3_0_C0_C7_0",
        "ID_AA64MMFR1_EL1" => "S3_0_C0_C7_1",
        "ID_AA64MMFR2_EL1" => "S3_0_C0_C7_2",
        "ID_AA64MMFR3_EL1" => "S3_0_C0_C7_3",
        "ID_AA64MMFR4_EL1" => "S3_0_C0_C7_4",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_names_are_unique() {
        let mut names = EL0_REGISTERS.to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), EL0_REGISTERS.len());
    }
}
