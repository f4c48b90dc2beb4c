//! Every collector replayed against fixture trees captured from real VMs
//! (QEMU 7.2.22, SeaBIOS 1.16.3, Debian cloud kernel 6.1) with
//! `machine-abi record --capture-fixtures`. The expected document is the one
//! the probe itself produced inside that VM.

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
