//! What differs between guest architectures when a machine type boots: the
//! console, the pinned vCPU model, machine options that make the machine's
//! description canonical, and the firmware.
//!
//! x86 PC machine types boot as they always did (SeaBIOS from the data
//! directories, no `-cpu`: the machine type's default model is part of what
//! it versions). Arm's `virt` needs more:
//! - `console=ttyAMA0` (the PL011 UART), not `ttyS0`;
//! - `-cpu cortex-a57`, pinned: virt's default (`cortex-a15`) is 32-bit,
//!   `max` changes with every release and is not ABI; cortex-a57 is known to
//!   every QEMU release this project records;
//! - `dtb-randomness=off`: otherwise the generated device tree carries a
//!   random `kaslr-seed`/`rng-seed` and differs on every boot;
//! - edk2 (`AAVMF_CODE.fd` and a fresh copy of `AAVMF_VARS.fd` per boot as
//!   two pflash drives) as the default firmware: the UEFI + ACPI path ARM
//!   clouds use. A profile with `firmware = "none"` boots the kernel
//!   directly (device tree only).

use crate::boot::BootSettings;

/// The vCPU model every aarch64 recording pins.
pub const AARCH64_CPU: &str = "cortex-a57";

/// The edk2 build for QEMU's virt machine: its code and variable store
/// images, found in the data directories (`qemu-efi-aarch64` ships them).
pub const AARCH64_EFI_CODE: &str = "AAVMF_CODE.fd";
/// See [`AARCH64_EFI_CODE`]; copied before every boot, never written in place.
pub const AARCH64_EFI_VARS: &str = "AAVMF_VARS.fd";

/// The firmware file a recording of `arch` names in its provenance.
pub fn firmware_file(arch: &str) -> &'static str {
    match arch {
        "aarch64" => AARCH64_EFI_CODE,
        _ => "bios-256k.bin",
    }
}

/// Adjust the boot settings to the guest architecture: console, vCPU model,
/// machine options and firmware. x86_64 settings are left as they are.
pub fn adapt(settings: &mut BootSettings, arch: &str) {
    if arch == "aarch64" {
        settings.append = settings.append.replace("console=ttyS0", "console=ttyAMA0");
        settings.cpu = Some(AARCH64_CPU.into());
        settings.machine_options = vec!["dtb-randomness=off".into()];
        settings.uefi = true;
    }
}

/// Whether QEMU for `arch` can write the device tree it generates
/// (`-machine …,dumpdtb=FILE`): the machines that describe themselves to
/// the guest with one.
pub fn has_device_tree(arch: &str) -> bool {
    arch == "aarch64"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aarch64_boots_pinned_and_canonical() {
        let mut s = BootSettings::default();
        adapt(&mut s, "aarch64");
        assert!(s.append.contains("console=ttyAMA0") && !s.append.contains("ttyS0"));
        assert_eq!(s.cpu.as_deref(), Some("cortex-a57"));
        assert_eq!(s.machine_options, ["dtb-randomness=off"]);
        assert!(s.uefi);
        let mut x = BootSettings::default();
        adapt(&mut x, "x86_64");
        assert_eq!(x.append, BootSettings::default().append);
        assert!(x.cpu.is_none() && x.machine_options.is_empty() && !x.uefi);
    }
}
