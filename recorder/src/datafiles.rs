//! The files QEMU loads from its data directories for one machine type,
//! profile and probe: the BIOS, the option ROMs of the machine type's own
//! display and NIC and of the profile's devices, the APIC's vapic ROM and
//! the loader ROM of `-kernel`. Resolved before a boot, so that a missing
//! file fails that machine type at once with the file named, instead of a
//! QEMU that warns on stderr and runs on without it (a `-kernel` without
//! `multiboot_dma.bin` never starts the probe).
//!
//! Which display and NIC a machine type creates by itself is asked of QEMU
//! ([`crate::qmp::default_device_types`]), not assumed: pc-i440fx-2.1 and
//! older have a Cirrus VGA (`vgabios-cirrus.bin`), the others the standard
//! VGA; pc-q35-2.11 and older an e1000, later q35 types an e1000e.
//!
//! Only the x86 PC machine types are known here; for the others the boot's
//! stderr watch ([`crate::boot::load_failure`]) is the only guard.

use crate::profile::Profile;
use abi_model::host::AppliedTable;
use abi_model::provenance::ProbeKind;
use abi_model::MachineType;

/// One file a boot needs, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Needed {
    /// The file name QEMU looks up in its data directories.
    pub file: String,
    /// What loads it (`BIOS`, `ROM of e1000e (nic1)`, …).
    pub why: String,
}

/// The option ROM each PCI device model loads by default (its class's
/// `romfile`), for the models with one. QEMU's `device-list-properties`
/// cannot tell: the default is applied only at realize time.
pub const DEFAULT_ROMS: &[(&str, &str)] = &[
    ("e1000", "efi-e1000.rom"),
    ("e1000-82544gc", "efi-e1000.rom"),
    ("e1000-82545em", "efi-e1000.rom"),
    ("e1000e", "efi-e1000e.rom"),
    ("rtl8139", "efi-rtl8139.rom"),
    ("pcnet", "efi-pcnet.rom"),
    ("ne2k_pci", "efi-ne2k_pci.rom"),
    ("i82550", "efi-eepro100.rom"),
    ("i82551", "efi-eepro100.rom"),
    ("i82557a", "efi-eepro100.rom"),
    ("i82557b", "efi-eepro100.rom"),
    ("i82557c", "efi-eepro100.rom"),
    ("i82558a", "efi-eepro100.rom"),
    ("i82558b", "efi-eepro100.rom"),
    ("i82559a", "efi-eepro100.rom"),
    ("i82559b", "efi-eepro100.rom"),
    ("i82559c", "efi-eepro100.rom"),
    ("i82559er", "efi-eepro100.rom"),
    ("i82562", "efi-eepro100.rom"),
    ("i82801", "efi-eepro100.rom"),
    ("vmxnet3", "efi-vmxnet3.rom"),
    ("virtio-net-pci", "efi-virtio.rom"),
    ("virtio-net-pci-transitional", "efi-virtio.rom"),
    ("virtio-net-pci-non-transitional", "efi-virtio.rom"),
    ("VGA", "vgabios-stdvga.bin"),
    ("secondary-vga", "vgabios-stdvga.bin"),
    ("cirrus-vga", "vgabios-cirrus.bin"),
    ("qxl-vga", "vgabios-qxl.bin"),
    ("qxl", "vgabios-qxl.bin"),
    ("vmware-svga", "vgabios-vmware.bin"),
    ("virtio-vga", "vgabios-virtio.bin"),
    ("bochs-display", "vgabios-bochs-display.bin"),
    ("ati-vga", "vgabios-ati.bin"),
];

/// The value a `-device` spec, a `-global` or the machine type's compat
/// tables give `driver.romfile`: `Some("")` means no ROM.
fn romfile_override(profile: &Profile, spec: Option<&str>, driver: &str, compat: &[AppliedTable]) -> Option<String> {
    if let Some(v) = spec.and_then(|s| s.split(',').skip(1).find_map(|kv| kv.strip_prefix("romfile="))) {
        return Some(v.to_string());
    }
    let global = format!("{driver}.romfile=");
    if let Some(v) = profile.globals.iter().rev().find_map(|g| g.strip_prefix(&global)) {
        return Some(v.to_string());
    }
    // Tables are listed newest first; the oldest (most specific) wins.
    compat
        .iter()
        .rev()
        .flat_map(|t| t.entries.iter().rev())
        .find(|e| e.driver == driver && e.property == "romfile")
        .map(|e| e.value.clone())
}

/// Whether the machine type's compat tables turn fw_cfg DMA off (then
/// `-kernel` loads the DMA-less loader ROMs).
fn fw_cfg_dma_off(compat: &[AppliedTable]) -> bool {
    compat.iter().flat_map(|t| &t.entries).any(|e| {
        e.driver.starts_with("fw_cfg") && e.property == "dma_enabled" && matches!(e.value.as_str(), "off" | "false")
    })
}

/// The `-kernel` loader option ROMs whose file names occur in a QEMU
/// binary (`bytes`): the ones it can load.
pub fn loader_roms_named(bytes: &[u8]) -> std::collections::BTreeSet<&'static str> {
    [
        "multiboot_dma.bin",
        "multiboot.bin",
        "linuxboot_dma.bin",
        "linuxboot.bin",
    ]
    .into_iter()
    .filter(|name| {
        // Names are NUL-terminated C strings in .rodata.
        let mut pattern = name.as_bytes().to_vec();
        pattern.push(0);
        bytes.windows(pattern.len()).any(|w| w == pattern.as_slice())
    })
    .collect()
}

/// True when [`needed`] knows the files of `machine` on a binary of `arch`:
/// the x86 PC machine types.
pub fn known(arch: &str, machine: &MachineType) -> bool {
    arch == "x86_64" && machine.0.starts_with("pc-")
}

/// The default option ROM of a device model ([`DEFAULT_ROMS`]).
fn default_rom(driver: &str) -> Option<&'static str> {
    DEFAULT_ROMS.iter().find(|(d, _)| *d == driver).map(|(_, f)| *f)
}

/// A display device: its ROM is a VGA BIOS (the others in [`DEFAULT_ROMS`]
/// are NICs' network boot ROMs).
fn is_display(driver: &str) -> bool {
    default_rom(driver).is_some_and(|f| f.starts_with("vgabios-"))
}

/// The files a boot of `machine` (an x86 PC machine type on a
/// qemu-system-x86_64) with `profile` and the `kind` probe loads from the
/// data directories; empty for other machine types. `compat` is the compat
/// tables the machine type applies, when known. `own` is the QOM types of
/// the devices the machine type creates by itself
/// ([`crate::qmp::default_device_types`]): the display's ROM, and the NIC's
/// unless the profile brings a `-netdev`, are taken from them; `None` (QEMU
/// could not say) lists neither, and the boot's stderr watch is the guard.
pub fn needed(
    arch: &str,
    machine: &MachineType,
    profile: &Profile,
    kind: ProbeKind,
    compat: &[AppliedTable],
    binary_names: &dyn Fn(&str) -> bool,
    own: Option<&[String]>,
) -> Vec<Needed> {
    if !known(arch, machine) {
        return Vec::new();
    }
    let mut out = vec![
        Needed {
            file: "bios-256k.bin".into(),
            why: "BIOS".into(),
        },
        Needed {
            file: "kvmvapic.bin".into(),
            why: "the APIC's vapic option ROM".into(),
        },
    ];
    let (with_dma, without) = match kind {
        ProbeKind::Bare => ("multiboot_dma.bin", "multiboot.bin"),
        ProbeKind::Linux => ("linuxboot_dma.bin", "linuxboot.bin"),
    };
    // The DMA loader when fw_cfg DMA is on and the binary has one (QEMU
    // 5.2 knows no multiboot_dma.bin and loads multiboot.bin).
    let loader = if !fw_cfg_dma_off(compat) && binary_names(with_dma) {
        with_dma
    } else {
        without
    };
    out.push(Needed {
        file: loader.into(),
        why: format!("-kernel loader of the {} probe", kind.name()),
    });
    let mut rom = |driver: &str, spec: Option<&str>, who: String| {
        let file = romfile_override(profile, spec, driver, compat).or_else(|| default_rom(driver).map(str::to_string));
        if let Some(file) = file.filter(|f| !f.is_empty()) {
            out.push(Needed {
                file,
                why: format!("option ROM of {who}"),
            });
        }
    };
    // The machine's own display and, without a -netdev, its own NIC, in
    // the order QEMU creates them.
    let own = own.unwrap_or_default();
    for d in own.iter().filter(|d| is_display(d)) {
        rom(d, None, format!("the default display ({d})"));
    }
    if !profile.backends.iter().any(|(o, _)| o == "netdev") {
        for d in own.iter().filter(|d| default_rom(d).is_some() && !is_display(d)) {
            rom(d, None, format!("the default NIC ({d})"));
        }
    }
    for d in &profile.devices {
        let id = d
            .spec
            .split(',')
            .find_map(|kv| kv.strip_prefix("id="))
            .map(|id| format!(" ({id})"))
            .unwrap_or_default();
        rom(&d.driver, Some(&d.spec), format!("{}{id}", d.driver));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_model::host::CompatProperty;

    /// The devices QEMU 7.2 creates by itself for `machine` (QMP `qom-list
    /// /machine/unattached` of a never-started pc-q35-7.2, pc-i440fx-2.0,
    /// pc-q35-2.11, trimmed to the ones with a ROM and one chipset device).
    fn own(machine: &str) -> Vec<String> {
        let (vga, nic) = match machine {
            "pc-i440fx-2.0" | "pc-i440fx-2.1" => ("cirrus-vga", "e1000"),
            "pc-q35-2.11" => ("VGA", "e1000"),
            m if m.starts_with("pc-q35-") => ("VGA", "e1000e"),
            _ => ("VGA", "e1000"),
        };
        ["piix3-ide", vga, nic].iter().map(|s| s.to_string()).collect()
    }

    fn files(machine: &str, profile: &str, kind: ProbeKind, compat: &[AppliedTable]) -> Vec<String> {
        let set = crate::profile::Profiles::builtin().expect("built-in profiles");
        let p = set.get(profile).expect("profile");
        let own = own(machine);
        needed(
            "x86_64",
            &MachineType(machine.into()),
            p,
            kind,
            compat,
            &|_| true,
            Some(&own),
        )
        .into_iter()
        .map(|n| n.file)
        .collect()
    }

    #[test]
    fn default_profile_needs_bios_vapic_loader_vga_and_default_nic() {
        // What QEMU 10.0.2 opens (strace -e openat) for these boots.
        assert_eq!(
            files("pc-q35-7.2", "default", ProbeKind::Bare, &[]),
            [
                "bios-256k.bin",
                "kvmvapic.bin",
                "multiboot_dma.bin",
                "vgabios-stdvga.bin",
                "efi-e1000e.rom"
            ]
        );
        assert_eq!(
            files("pc-i440fx-7.2", "default", ProbeKind::Linux, &[]),
            [
                "bios-256k.bin",
                "kvmvapic.bin",
                "linuxboot_dma.bin",
                "vgabios-stdvga.bin",
                "efi-e1000.rom"
            ]
        );
        assert!(files("virt-7.2", "default", ProbeKind::Linux, &[]).is_empty());
    }

    #[test]
    fn the_default_display_and_nic_are_the_ones_qemu_creates() {
        // pc-i440fx-2.1 and older: Cirrus VGA (default_display NULL in
        // QEMU's pc_i440fx_2_1_machine_options); q35 up to 2.11: e1000.
        let f = files("pc-i440fx-2.0", "default", ProbeKind::Bare, &[]);
        assert_eq!(&f[3..], ["vgabios-cirrus.bin", "efi-e1000.rom"]);
        let f = files("pc-q35-2.11", "default", ProbeKind::Bare, &[]);
        assert_eq!(&f[3..], ["vgabios-stdvga.bin", "efi-e1000.rom"]);
        // A -netdev replaces the default NIC, not the display.
        let f = files("pc-i440fx-2.0", "legacy-nic", ProbeKind::Bare, &[]);
        assert_eq!(f[3], "vgabios-cirrus.bin");
        assert!(!f[4..].contains(&"vgabios-cirrus.bin".to_string()), "{f:?}");
        // QEMU could not say: no guess (the boot's stderr watch is the guard).
        let set = crate::profile::Profiles::builtin().expect("built-in profiles");
        let n = needed(
            "x86_64",
            &MachineType("pc-i440fx-2.0".into()),
            set.get("default").expect("default"),
            ProbeKind::Bare,
            &[],
            &|_| true,
            None,
        );
        let n: Vec<&str> = n.iter().map(|n| n.file.as_str()).collect();
        assert_eq!(n, ["bios-256k.bin", "kvmvapic.bin", "multiboot_dma.bin"]);
    }

    #[test]
    fn profile_nics_replace_the_default_nic_and_bring_their_roms() {
        let f = files("pc-q35-7.2", "legacy-nic", ProbeKind::Bare, &[]);
        assert_eq!(
            &f[3..],
            [
                "vgabios-stdvga.bin",
                "efi-e1000.rom",
                "efi-e1000e.rom",
                "efi-rtl8139.rom",
                "efi-pcnet.rom"
            ]
        );
        let set = crate::profile::Profiles::builtin().expect("built-in profiles");
        let n = needed(
            "x86_64",
            &MachineType("pc-q35-7.2".into()),
            set.get("legacy-nic").expect("legacy-nic"),
            ProbeKind::Bare,
            &[],
            &|_| true,
            Some(&own("pc-q35-7.2")),
        );
        assert!(n.iter().any(|n| n.why == "option ROM of e1000e (nic1)"), "{n:?}");
    }

    #[test]
    fn compat_tables_and_specs_override_the_rom() {
        let t = |d: &str, p: &str, v: &str| AppliedTable {
            name: "pc_compat_2_4".into(),
            entries: vec![CompatProperty {
                driver: d.into(),
                property: p.into(),
                value: v.into(),
            }],
        };
        let f = files(
            "pc-i440fx-2.4",
            "default",
            ProbeKind::Bare,
            &[t("e1000", "romfile", "pxe-e1000.rom")],
        );
        assert_eq!(f.last().map(String::as_str), Some("pxe-e1000.rom"));
        let f = files(
            "pc-i440fx-2.4",
            "default",
            ProbeKind::Bare,
            &[t("fw_cfg_io", "dma_enabled", "off")],
        );
        assert_eq!(f[2], "multiboot.bin");
        let mut p = crate::profile::Profiles::builtin()
            .expect("profiles")
            .get("default")
            .cloned()
            .expect("default");
        p.globals.push("VGA.romfile=".into());
        let n = needed(
            "x86_64",
            &MachineType("pc-q35-7.2".into()),
            &p,
            ProbeKind::Bare,
            &[],
            &|_| true,
            Some(&own("pc-q35-7.2")),
        );
        assert!(
            !n.iter().any(|n| n.file.starts_with("vgabios")),
            "romfile= empty means no ROM: {n:?}"
        );
    }

    #[test]
    fn the_loader_is_the_one_the_binary_has() {
        // QEMU 5.2 names multiboot.bin only; its bare probe boots with it.
        let qemu_5_2 = b"x\0genroms/linuxboot.bin\0linuxboot_dma.bin\0multiboot.bin\0pvh.bin\0";
        let names = loader_roms_named(qemu_5_2);
        assert!(
            names.contains("multiboot.bin") && !names.contains("multiboot_dma.bin"),
            "{names:?}"
        );
        let p = crate::profile::Profiles::builtin().expect("built-in profiles");
        let default = p.get("default").expect("default");
        let m = MachineType("pc-i440fx-5.2".into());
        let known = |f: &str| names.contains(f);
        let files = |kind| -> Vec<String> {
            needed("x86_64", &m, default, kind, &[], &known, Some(&own("pc-i440fx-5.2")))
                .into_iter()
                .map(|n| n.file)
                .collect()
        };
        assert_eq!(files(ProbeKind::Bare)[2], "multiboot.bin");
        assert_eq!(files(ProbeKind::Linux)[2], "linuxboot_dma.bin");
        // A binary that has the DMA loader gets it.
        let all = |_: &str| true;
        assert_eq!(
            needed("x86_64", &m, default, ProbeKind::Bare, &[], &all, None)[2].file,
            "multiboot_dma.bin"
        );
    }
}
