//! Every collector replayed against fixture trees captured from real VMs
//! (QEMU 7.2.22, SeaBIOS 1.16.3, Debian cloud kernel 6.1) with
//! `machine-abi record --capture-fixtures`; and the aarch64 ones (QEMU
//! 7.2.22 `virt-7.2`, cortex-a57, Debian arm64 cloud kernel 6.1, booted
//! directly and through edk2 2022.11) with `scripts/boot-aarch64 --capture`.
//! The expected document is the one the probe itself produced inside that VM.
//!
//! `pc-q35-7.2-virtio` keeps the six-device virtio profile it was first
//! captured with; re-capture it (after a change to what the probe reads)
//! with that profile, tests/capture-profiles/:
//! ```text
//! source scripts/env.sh
//! machine-abi record $(qemu_args 7.2) --probe-kind linux $(linux_args) --db SCRATCH \
//!     --machine pc-q35-7.2 --profile-dir guest-probe/tests/capture-profiles \
//!     --profile virtio --no-host-facts --capture-fixtures OUT
//! ```

use abi_model::facts::{PciAddress, Probed};
use guest_probe::collect::collect;
use guest_probe::source::Fixture;
use guest_probe::Collection;
use pretty_assertions::assert_eq;
use std::path::PathBuf;

fn replay(name: &str) -> (Collection, String) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let src = Fixture::open(&dir).expect("fixture opens");
    let expected = std::fs::read_to_string(dir.join("facts.toml")).expect("facts.toml");
    (collect(&src, Vec::new()), expected)
}

fn pci(c: &Collection, addr: &str) -> abi_model::facts::PciFunction {
    let map = c.facts.pci.available().expect("pci available");
    map[&PciAddress::parse(addr).unwrap()]
        .available()
        .expect("function readable")
        .clone()
}

#[test]
fn q35_replay_matches_what_the_vm_produced() {
    let (c, expected) = replay("pc-q35-7.2-virtio");
    assert_eq!(c.document(), expected);
}

#[test]
fn i440fx_replay_matches_what_the_vm_produced() {
    let (c, expected) = replay("pc-i440fx-7.2-default");
    assert_eq!(c.document(), expected);
}

#[test]
fn q35_default_replay_matches_what_the_vm_produced() {
    let (c, expected) = replay("pc-q35-7.2-default");
    assert_eq!(c.document(), expected);
}

#[test]
fn q35_pci_facts() {
    let (c, _) = replay("pc-q35-7.2-default");
    let lpc = pci(&c, "0000:00:1f.0");
    assert_eq!((lpc.vendor.0, lpc.device.0, lpc.class.0), (0x8086, 0x2918, 0x060100));
    let nic = pci(&c, "0000:00:02.0");
    assert!(nic.express, "q35's e1000e is PCIe");
    assert_eq!(nic.config_size, 4096);
    assert_eq!(nic.ext_capabilities.first().map(|e| e.id.0), Some(0x0001), "AER first");
    let config = c.blobs.get(&nic.config).expect("config blob");
    assert_eq!(&config[0..4], &[0x86, 0x80, 0xd3, 0x10]);
}

#[test]
fn q35_acpi_smbios_cpuid_memmap_fw_cfg() {
    let (c, _) = replay("pc-q35-7.2-virtio");
    let acpi = c.facts.acpi.available().unwrap();
    for t in ["APIC", "DSDT", "FACP", "FACS", "MCFG"] {
        assert!(acpi.contains_key(t), "{t} missing: {:?}", acpi.keys());
    }
    let apic = acpi["APIC"].available().unwrap().header.clone().unwrap();
    assert_eq!(
        (apic.signature.as_str(), apic.revision, apic.oem_id.as_str()),
        ("APIC", 1, "BOCHS")
    );
    assert!(
        acpi["FACS"].available().unwrap().header.is_none(),
        "FACS has no standard header"
    );

    let smbios = c.facts.smbios.available().unwrap();
    assert!(smbios
        .structures
        .iter()
        .any(|s| s.kind == 1 && s.strings.iter().any(|x| x == "QEMU")));
    assert_eq!(smbios.structures.last().map(|s| s.kind), Some(127));

    let cpus = c.facts.cpuid.available().unwrap();
    assert_eq!(cpus.len(), 2);
    let leaf0 = &cpus[0].leaves["00000000.00000000"];
    assert!(
        leaf0.ends_with("68747541 444d4163 69746e65") || leaf0.contains("756e6547"),
        "vendor id: {leaf0}"
    );
    assert!(cpus[0].leaves.contains_key("80000000.00000000"));

    let map = c.facts.memory_map.available().unwrap();
    assert!(map.iter().any(|r| r.kind == "System RAM" && r.start.0 == 0));
    assert!(map.windows(2).all(|w| w[0].start <= w[1].start));

    let fw = c.facts.fw_cfg.available().unwrap();
    assert_eq!(fw.keys["signature"], Probed::Available("51454d55".into()));
    assert!(fw.files.contains_key("etc/e820"));
    assert!(fw
        .files
        .values()
        .all(|f| f.content.is_some() || f.size.is_none() || f.size > Some(1 << 20)));
}

#[test]
fn q35_virtio_devices_read_from_registers() {
    let (c, _) = replay("pc-q35-7.2-virtio");
    let virtio = c.facts.virtio.available().unwrap();
    assert_eq!(virtio.len(), 6);
    let net = virtio
        .values()
        .filter_map(Probed::available)
        .find(|d| d.pci_device.0 == 0x1000)
        .expect("virtio-net");
    assert_eq!(net.transport, "modern");
    assert_ne!(net.features[1].0 & 1, 0, "VIRTIO_F_VERSION_1 (bit 32) offered");
    assert_eq!(net.num_queues as usize, net.queue_sizes.len());
    assert!(
        net.config.starts_with("525400123456"),
        "default MAC first: {}",
        net.config
    );
}

#[test]
fn i440fx_is_conventional_pci() {
    let (c, _) = replay("pc-i440fx-7.2-default");
    let map = c.facts.pci.available().unwrap();
    assert!(map
        .values()
        .filter_map(Probed::available)
        .all(|f| f.config_size == 256 && !f.express));
    assert!(!c.facts.acpi.available().unwrap().contains_key("MCFG"));
    assert!(c.facts.virtio.available().unwrap().is_empty());
}

#[test]
fn replay_is_deterministic() {
    let (a, _) = replay("pc-q35-7.2-virtio");
    let (b, _) = replay("pc-q35-7.2-virtio");
    assert_eq!(a, b);
}

#[test]
fn missing_file_is_recorded_as_unavailable() {
    // A tree without fs/sys/firmware/dmi: SMBIOS unavailable with a reason,
    // everything else still collected.
    let tmp = std::env::temp_dir().join(format!("probe-fixture-{}", std::process::id()));
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pc-i440fx-7.2-default");
    copy_dir(&src, &tmp);
    std::fs::remove_dir_all(tmp.join("fs/sys/firmware/dmi")).unwrap();
    let c = collect(&Fixture::open(&tmp).unwrap(), Vec::new());
    std::fs::remove_dir_all(&tmp).unwrap();
    match &c.facts.smbios {
        Probed::Unavailable { unavailable } => assert!(unavailable.contains("No such file"), "{unavailable}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert!(c.facts.pci.available().is_some());
    assert!(c.document().contains("unavailable = "));
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn virt_direct_replay_matches_what_the_vm_produced() {
    let (c, expected) = replay("virt-7.2-direct");
    assert_eq!(c.document(), expected);
}

#[test]
fn virt_uefi_virtio_replay_matches_what_the_vm_produced() {
    let (c, expected) = replay("virt-7.2-uefi-virtio");
    assert_eq!(c.document(), expected);
}

fn unavailable(p: &Probed<impl std::fmt::Debug>) -> &str {
    match p {
        Probed::Unavailable { unavailable } => unavailable,
        other => panic!("expected unavailable, got {other:?}"),
    }
}

/// A direct -kernel boot: QEMU's device tree, no ACPI, no SMBIOS.
#[test]
fn virt_direct_facts() {
    let (c, _) = replay("virt-7.2-direct");
    let f = &c.facts;
    assert_eq!(f.probe.arch, "aarch64");
    assert!(unavailable(&f.cpuid).contains("only on x86"));
    assert!(unavailable(&f.acpi).contains("No such file"));
    assert!(unavailable(&f.smbios).contains("No such file"));

    let dt = f
        .device_tree
        .as_ref()
        .and_then(Probed::available)
        .expect("device tree read");
    assert_eq!(dt.size, 1 << 20, "virt's tree is 1 MiB");
    let blob = c.blobs.get(&dt.blob).expect("device tree blob");
    assert!(blob.len() < 16 << 10, "zero tail trimmed: {} bytes", blob.len());
    assert_eq!(&blob[..4], &[0xd0, 0x0d, 0xfe, 0xed]);

    let cpus = f
        .cpu_id_registers
        .as_ref()
        .and_then(Probed::available)
        .expect("ID registers");
    assert_eq!(cpus.len(), 2);
    for cpu in cpus {
        // cortex-a57 r1p0: implementer 0x41 (Arm), part 0xd07.
        assert_eq!(cpu.midr_el1, Probed::Available(abi_model::hex::Hex64(0x411f_d070)));
        let regs = cpu.registers.available().expect("EL0 mrs emulated");
        assert_eq!(regs["MIDR_EL1"].0, 0x411f_d070);
        // AdvSIMD and FP implemented, EL0/EL1 AArch64 only (sanitised view).
        assert_eq!(regs["ID_AA64PFR0_EL1"].0 & 0xff, 0x11);
    }

    let fw = f.fw_cfg.available().expect("fw_cfg over MMIO");
    assert_eq!(fw.access.as_deref(), Some("mmio 0x0000000009020000"));
    assert_eq!(fw.keys["signature"], Probed::Available("51454d55".into()));
    assert!(!fw.keys.keys().any(|k| k.starts_with("x86_")));
    assert!(
        fw.files.contains_key("etc/acpi/tables"),
        "ACPI is built even for a DT boot"
    );

    let arm = f
        .arm_platform
        .as_ref()
        .and_then(Probed::available)
        .expect("arm platform");
    let gic = arm.gic.available().expect("GIC distributor read");
    assert_eq!((gic.base.0, gic.described_by.as_str()), (0x800_0000, "/intc@8000000"));
    assert_eq!((gic.pidr2.0 >> 4) & 0xf, 2, "GICv2: virt's default");
    let psci = arm.psci.available().expect("psci lines");
    assert!(
        psci.iter().any(|l| l == "psci: PSCIv1.1 detected in firmware."),
        "{psci:?}"
    );
    assert!(
        psci.iter().any(|l| l == "psci: probing for conduit method from DT."),
        "{psci:?}"
    );
    assert!(
        psci.iter().any(|l| l.starts_with("psci: SMC Calling Convention v")),
        "{psci:?}"
    );

    let virtio = f.virtio.available().unwrap();
    let net = virtio
        .values()
        .filter_map(Probed::available)
        .next()
        .expect("default virtio-net");
    assert_eq!((net.pci_device.0, net.transport.as_str()), (0x1000, "modern"));
}

/// A UEFI boot with the `virtio` profile's ten devices: ACPI with the Arm
/// tables, SMBIOS 3.0, only the EFI stub's tree, and every virtio function
/// read from its registers (edk2 leaves the virtio-rng it drove decoding
/// I/O only; the probe turns memory decoding on).
#[test]
fn virt_uefi_facts() {
    let (c, _) = replay("virt-7.2-uefi-virtio");
    let f = &c.facts;
    let acpi = f.acpi.available().expect("ACPI");
    for t in ["APIC", "DBG2", "DSDT", "FACP", "GTDT", "IORT", "MCFG", "PPTT", "SPCR"] {
        assert!(acpi.contains_key(t), "{t} missing: {:?}", acpi.keys());
    }
    let smbios = f.smbios.available().expect("SMBIOS");
    assert_eq!((smbios.anchor.as_str(), smbios.version.as_str()), ("_SM3_", "3.0"));
    assert!(smbios
        .structures
        .iter()
        .any(|s| s.kind == 1 && s.strings.iter().any(|x| x == "virt-7.2")));

    let dt = f.device_tree.as_ref().and_then(Probed::available).expect("stub tree");
    assert!(dt.size < 4096, "the EFI stub's tree is small: {}", dt.size);

    let fw = f.fw_cfg.available().expect("fw_cfg found through /proc/iomem");
    assert_eq!(fw.access.as_deref(), Some("mmio 0x0000000009020000"));

    let arm = f
        .arm_platform
        .as_ref()
        .and_then(Probed::available)
        .expect("arm platform");
    let gic = arm.gic.available().expect("GIC distributor read");
    assert_eq!((gic.base.0, gic.described_by.as_str()), (0x800_0000, "MADT"));
    let psci = arm.psci.available().expect("psci lines");
    assert!(
        psci.iter().any(|l| l == "psci: probing for conduit method from ACPI."),
        "{psci:?}"
    );

    let virtio = f.virtio.available().unwrap();
    assert_eq!(virtio.len(), 10);
    let devices: Vec<u16> = virtio
        .values()
        .filter_map(Probed::available)
        .map(|d| d.pci_device.0)
        .collect();
    assert_eq!(
        devices,
        [0x1000, 0x1001, 0x1004, 0x1003, 0x1005, 0x1002, 0x1050, 0x1052, 0x1052, 0x1009]
    );
    let rng = virtio[&PciAddress::parse("0000:00:0c.0").unwrap()]
        .available()
        .expect("virtio-rng read");
    assert_eq!((rng.num_queues, rng.queue_sizes.as_slice()), (1, &[8u16][..]));
}

#[test]
fn missing_id_register_emulation_is_unavailable_with_the_reason() {
    // The same tree with AT_HWCAP's CPUID bit cleared: no mrs is attempted.
    let tmp = std::env::temp_dir().join(format!("probe-fixture-hwcap-{}", std::process::id()));
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/virt-7.2-uefi-virtio");
    copy_dir(&src, &tmp);
    let auxv = tmp.join("fs/proc/self/auxv");
    let mut a = std::fs::read(&auxv).unwrap();
    let at = a
        .chunks_exact(16)
        .position(|p| p[..8] == 16u64.to_le_bytes())
        .expect("AT_HWCAP");
    a[at * 16 + 8 + 1] &= !(1 << 3); // bit 11
    std::fs::write(&auxv, a).unwrap();
    let c = collect(&Fixture::open(&tmp).unwrap(), Vec::new());
    std::fs::remove_dir_all(&tmp).unwrap();
    let cpus = c.facts.cpu_id_registers.as_ref().and_then(Probed::available).unwrap();
    assert!(unavailable(&cpus[0].registers).contains("no HWCAP_CPUID"));
    assert!(cpus[0].midr_el1.available().is_some(), "sysfs still read");
}
