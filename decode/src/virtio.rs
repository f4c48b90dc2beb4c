//! virtio feature bits by name, per device type (virtio 1.2 spec, section
//! "Reserved Feature Bits" and each device's "Feature bits").

use super::Decoded;

/// Transport and ring feature bits, common to every device type.
const COMMON: &[(u32, &str)] = &[
    (24, "NOTIFY_ON_EMPTY"),
    (27, "ANY_LAYOUT"),
    (28, "RING_INDIRECT_DESC"),
    (29, "RING_EVENT_IDX"),
    (30, "BAD_FEATURE"),
    (32, "VERSION_1"),
    (33, "ACCESS_PLATFORM"),
    (34, "RING_PACKED"),
    (35, "IN_ORDER"),
    (36, "ORDER_PLATFORM"),
    (37, "SR_IOV"),
    (38, "NOTIFICATION_DATA"),
    (39, "NOTIF_CONFIG_DATA"),
    (40, "RING_RESET"),
    (41, "ADMIN_VQ"),
];

const NET: &[(u32, &str)] = &[
    (0, "NET_CSUM"),
    (1, "NET_GUEST_CSUM"),
    (2, "NET_CTRL_GUEST_OFFLOADS"),
    (3, "NET_MTU"),
    (5, "NET_MAC"),
    (6, "NET_GSO"),
    (7, "NET_GUEST_TSO4"),
    (8, "NET_GUEST_TSO6"),
    (9, "NET_GUEST_ECN"),
    (10, "NET_GUEST_UFO"),
    (11, "NET_HOST_TSO4"),
    (12, "NET_HOST_TSO6"),
    (13, "NET_HOST_ECN"),
    (14, "NET_HOST_UFO"),
    (15, "NET_MRG_RXBUF"),
    (16, "NET_STATUS"),
    (17, "NET_CTRL_VQ"),
    (18, "NET_CTRL_RX"),
    (19, "NET_CTRL_VLAN"),
    (20, "NET_CTRL_RX_EXTRA"),
    (21, "NET_GUEST_ANNOUNCE"),
    (22, "NET_MQ"),
    (23, "NET_CTRL_MAC_ADDR"),
    (52, "NET_VQ_NOTF_COAL"),
    (53, "NET_NOTF_COAL"),
    (54, "NET_GUEST_USO4"),
    (55, "NET_GUEST_USO6"),
    (56, "NET_HOST_USO"),
    (57, "NET_HASH_REPORT"),
    (59, "NET_GUEST_HDRLEN"),
    (60, "NET_RSS"),
    (61, "NET_RSC_EXT"),
    (62, "NET_STANDBY"),
    (63, "NET_SPEED_DUPLEX"),
];

const BLK: &[(u32, &str)] = &[
    (0, "BLK_BARRIER"),
    (1, "BLK_SIZE_MAX"),
    (2, "BLK_SEG_MAX"),
    (4, "BLK_GEOMETRY"),
    (5, "BLK_RO"),
    (6, "BLK_BLK_SIZE"),
    (7, "BLK_SCSI"),
    (9, "BLK_FLUSH"),
    (10, "BLK_TOPOLOGY"),
    (11, "BLK_CONFIG_WCE"),
    (12, "BLK_MQ"),
    (13, "BLK_DISCARD"),
    (14, "BLK_WRITE_ZEROES"),
    (15, "BLK_LIFETIME"),
    (16, "BLK_SECURE_ERASE"),
    (17, "BLK_ZONED"),
];

const CONSOLE: &[(u32, &str)] = &[
    (0, "CONSOLE_SIZE"),
    (1, "CONSOLE_MULTIPORT"),
    (2, "CONSOLE_EMERG_WRITE"),
];

const BALLOON: &[(u32, &str)] = &[
    (0, "BALLOON_MUST_TELL_HOST"),
    (1, "BALLOON_STATS_VQ"),
    (2, "BALLOON_DEFLATE_ON_OOM"),
    (3, "BALLOON_FREE_PAGE_HINT"),
    (4, "BALLOON_PAGE_POISON"),
    (5, "BALLOON_REPORTING"),
];

const SCSI: &[(u32, &str)] = &[
    (0, "SCSI_INOUT"),
    (1, "SCSI_HOTPLUG"),
    (2, "SCSI_CHANGE"),
    (3, "SCSI_T10_PI"),
];

const NINEP: &[(u32, &str)] = &[(0, "9P_MOUNT_TAG")];

const GPU: &[(u32, &str)] = &[
    (0, "GPU_VIRGL"),
    (1, "GPU_EDID"),
    (2, "GPU_RESOURCE_UUID"),
    (3, "GPU_RESOURCE_BLOB"),
    (4, "GPU_CONTEXT_INIT"),
];

const VSOCK: &[(u32, &str)] = &[(0, "VSOCK_SEQPACKET")];

/// The virtio device type of a virtio-pci function's PCI device id:
/// 0x1040 + type for modern devices, a fixed table for transitional ones.
pub fn device_type(pci_device: u16) -> Option<u16> {
    match pci_device {
        0x1041..=0x107f => Some(pci_device - 0x1040),
        0x1000 => Some(1),
        0x1001 => Some(2),
        0x1002 => Some(5),
        0x1003 => Some(3),
        0x1004 => Some(8),
        0x1005 => Some(4),
        0x1009 => Some(9),
        _ => None,
    }
}

/// Name of a virtio device type.
pub fn device_name(device_type: u16) -> &'static str {
    match device_type {
        1 => "net",
        2 => "block",
        3 => "console",
        4 => "entropy",
        5 => "balloon",
        8 => "scsi",
        9 => "9p",
        16 => "gpu",
        18 => "input",
        19 => "vsock",
        26 => "fs",
        _ => "unknown",
    }
}

fn device_bits(device_type: Option<u16>) -> &'static [(u32, &'static str)] {
    match device_type {
        Some(1) => NET,
        Some(2) => BLK,
        Some(3) => CONSOLE,
        Some(5) => BALLOON,
        Some(8) => SCSI,
        Some(9) => NINEP,
        Some(16) => GPU,
        Some(19) => VSOCK,
        _ => &[],
    }
}

/// Decode the device-offered feature words (word 0 = bits 0–31) of a
/// virtio-pci function: one `0`/`1` item per named bit (`bit 40
/// RING_RESET`), and the set bits without a name as `unnamed`.
pub fn features(pci_device: u16, words: &[u32]) -> Decoded {
    let mut d = Decoded::new();
    let bit = |n: u32| words.get((n / 32) as usize).is_some_and(|w| w >> (n % 32) & 1 == 1);
    let named: Vec<(u32, &str)> = COMMON
        .iter()
        .chain(device_bits(device_type(pci_device)))
        .copied()
        .collect();
    for (n, name) in &named {
        d.put(format!("bit {n} {name}"), if bit(*n) { "1" } else { "0" });
    }
    let unnamed: Vec<String> = (0..(words.len() as u32).saturating_mul(32))
        .filter(|n| bit(*n) && !named.iter().any(|(m, _)| m == n))
        .map(|n| n.to_string())
        .collect();
    d.put(
        "unnamed",
        if unnamed.is_empty() {
            "none".to_string()
        } else {
            format!("bits {}", unnamed.join(","))
        },
    );
    d
}

/// One field of a device's config space: name, offset, size in bytes
/// (1, 2, 4 or 8: a little-endian number; other sizes: bytes as hex).
type Field = (&'static str, usize, usize);

const NET_CONFIG: &[Field] = &[
    ("mac", 0, 6),
    ("status", 6, 2),
    ("max_virtqueue_pairs", 8, 2),
    ("mtu", 10, 2),
    ("speed", 12, 4),
    ("duplex", 16, 1),
    ("rss_max_key_size", 17, 1),
    ("rss_max_indirection_table_length", 18, 2),
    ("supported_hash_types", 20, 4),
];

const BLK_CONFIG: &[Field] = &[
    ("capacity", 0, 8),
    ("size_max", 8, 4),
    ("seg_max", 12, 4),
    ("geometry.cylinders", 16, 2),
    ("geometry.heads", 18, 1),
    ("geometry.sectors", 19, 1),
    ("blk_size", 20, 4),
    ("topology.physical_block_exp", 24, 1),
    ("topology.alignment_offset", 25, 1),
    ("topology.min_io_size", 26, 2),
    ("topology.opt_io_size", 28, 4),
    ("writeback", 32, 1),
    ("unused0", 33, 1),
    ("num_queues", 34, 2),
    ("max_discard_sectors", 36, 4),
    ("max_discard_seg", 40, 4),
    ("discard_sector_alignment", 44, 4),
    ("max_write_zeroes_sectors", 48, 4),
    ("max_write_zeroes_seg", 52, 4),
    ("write_zeroes_may_unmap", 56, 1),
    ("unused1", 57, 3),
    ("max_secure_erase_sectors", 60, 4),
    ("max_secure_erase_seg", 64, 4),
    ("secure_erase_sector_alignment", 68, 4),
    ("zoned.zone_sectors", 72, 4),
    ("zoned.max_open_zones", 76, 4),
    ("zoned.max_active_zones", 80, 4),
    ("zoned.max_append_sectors", 84, 4),
    ("zoned.write_granularity", 88, 4),
    ("zoned.model", 92, 1),
];

const CONSOLE_CONFIG: &[Field] = &[
    ("cols", 0, 2),
    ("rows", 2, 2),
    ("max_nr_ports", 4, 4),
    ("emerg_wr", 8, 4),
];

const BALLOON_CONFIG: &[Field] = &[
    ("num_pages", 0, 4),
    ("actual", 4, 4),
    ("free_page_hint_cmd_id", 8, 4),
    ("poison_val", 12, 4),
];

const SCSI_CONFIG: &[Field] = &[
    ("num_queues", 0, 4),
    ("seg_max", 4, 4),
    ("max_sectors", 8, 4),
    ("cmd_per_lun", 12, 4),
    ("event_info_size", 16, 4),
    ("sense_size", 20, 4),
    ("cdb_size", 24, 4),
    ("max_channel", 28, 2),
    ("max_target", 30, 2),
    ("max_lun", 32, 4),
];

const GPU_CONFIG: &[Field] = &[
    ("events_read", 0, 4),
    ("events_clear", 4, 4),
    ("num_scanouts", 8, 4),
    ("num_capsets", 12, 4),
];

const INPUT_CONFIG: &[Field] = &[("select", 0, 1), ("subsel", 1, 1), ("size", 2, 1), ("reserved", 3, 5)];

const VSOCK_CONFIG: &[Field] = &[("guest_cid", 0, 8)];

/// The config layout of a device type, and where its fields end.
fn config_layout(device_type: Option<u16>) -> &'static [Field] {
    match device_type {
        Some(1) => NET_CONFIG,
        Some(2) => BLK_CONFIG,
        Some(3) => CONSOLE_CONFIG,
        Some(5) => BALLOON_CONFIG,
        Some(8) => SCSI_CONFIG,
        Some(16) => GPU_CONFIG,
        Some(18) => INPUT_CONFIG,
        Some(19) => VSOCK_CONFIG,
        _ => &[],
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decode a virtio-pci function's device-specific config space, as the
/// probe stores it (the bytes up to the last one that is not `ff`; QEMU
/// answers `ff` past the end of a device's config), into named fields per
/// device type (virtio 1.2, each device's "Device configuration layout"):
/// `seg_max`, `geometry.heads`, `num_queues`, … A field the bytes end
/// within is read with the `ff` the probe trimmed; one past the end is
/// left out. `length` is the number of bytes; bytes after the known
/// fields are one `rest` item, so every change of the input shows.
/// Entropy devices have no config; 9p's is its mount tag (`tag_len`,
/// `tag`); virtio-fs has `tag` and `num_request_queues`; input devices
/// answer the selected query (`select`, `subsel`, `size`, then `u`).
pub fn config(pci_device: u16, bytes: &[u8]) -> Decoded {
    let mut d = Decoded::new();
    let ty = device_type(pci_device);
    d.put("device_type", ty.map_or("unknown", device_name));
    d.put("length", bytes.len().to_string());
    let at = |off: usize, len: usize| -> Option<Vec<u8>> {
        (off < bytes.len()).then(|| {
            (off..off + len)
                .map(|i| bytes.get(i).copied().unwrap_or(0xff))
                .collect()
        })
    };
    let number = |v: &[u8]| -> String {
        let n = v.iter().rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if v.len() == 1 {
            n.to_string()
        } else {
            format!("{n} (0x{n:0w$x})", w = v.len() * 2)
        }
    };
    let mut end = 0;
    let mut put_fields = |d: &mut Decoded, fields: &[Field]| {
        for &(name, off, len) in fields {
            if let Some(v) = at(off, len) {
                let value = if matches!(len, 1 | 2 | 4 | 8) && name != "mac" {
                    number(&v)
                } else if name == "mac" {
                    v.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
                } else {
                    hex(&v)
                };
                d.put(name, value);
            }
            end = end.max(off + len);
        }
    };
    match ty {
        Some(9) | Some(26) => {
            // 9p: le16 tag_len, then the tag. virtio-fs: tag[36], le32 num_request_queues.
            let (tag, tag_end) = if ty == Some(9) {
                let n = at(0, 2).map_or(0, |v| usize::from(u16::from_le_bytes([v[0], v[1]])));
                put_fields(&mut d, &[("tag_len", 0, 2)]);
                (bytes.get(2..(2 + n).min(bytes.len())).unwrap_or(&[]), 2 + n)
            } else {
                put_fields(&mut d, &[("num_request_queues", 36, 4)]);
                (bytes.get(..36.min(bytes.len())).unwrap_or(&[]), 36)
            };
            let text: String = tag
                .iter()
                .take_while(|&&b| b != 0)
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        char::from(b)
                    } else {
                        '?'
                    }
                })
                .collect();
            d.put("tag", format!("{text:?} ({})", hex(tag)));
            end = end.max(tag_end);
        }
        Some(18) => {
            put_fields(&mut d, INPUT_CONFIG);
            let size = at(2, 1).map_or(0, |v| usize::from(v[0]));
            if let Some(u) = at(8, size.max(1)).filter(|_| size > 0) {
                d.put("u", hex(&u));
            }
            end = end.max(8 + size);
        }
        _ => put_fields(&mut d, config_layout(ty)),
    }
    if bytes.len() > end {
        d.put(format!("rest[0x{end:02x}]"), hex(&bytes[end..]));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_features_of_qemu_7_2() {
        // virtio-net-pci (0x1041) of pc-q35-7.2 on QEMU 7.2.22, from abi-db.
        let d = features(0x1041, &[0x30bf8024, 0x00000101, 0, 0]);
        assert_eq!(d.get("bit 5 NET_MAC"), Some("1"));
        assert_eq!(d.get("bit 2 NET_CTRL_GUEST_OFFLOADS"), Some("1"));
        assert_eq!(d.get("bit 0 NET_CSUM"), Some("0"));
        assert_eq!(d.get("bit 15 NET_MRG_RXBUF"), Some("1"));
        assert_eq!(d.get("bit 32 VERSION_1"), Some("1"));
        assert_eq!(d.get("bit 40 RING_RESET"), Some("1"));
        assert_eq!(d.get("bit 28 RING_INDIRECT_DESC"), Some("1"));
        assert_eq!(d.get("unnamed"), Some("none"));
    }

    #[test]
    fn every_bit_change_shows() {
        let base = [0x30bf8024u32, 0x101, 0, 0];
        let d0 = features(0x1041, &base);
        for n in 0..128 {
            let mut w = base;
            w[n / 32] ^= 1 << (n % 32);
            assert_ne!(features(0x1041, &w), d0, "bit {n}");
        }
    }

    #[test]
    fn device_types() {
        assert_eq!(device_type(0x1041).map(device_name), Some("net"));
        assert_eq!(device_type(0x1000).map(device_name), Some("net"));
        assert_eq!(device_type(0x1050).map(device_name), Some("gpu"));
        assert_eq!(device_type(0x1234), None);
        // Unknown device: only the common bits are named.
        let d = features(0x1234, &[1, 0]);
        assert_eq!(d.get("unnamed"), Some("bits 0"));
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn blk_config_of_qemu_7_2_names_seg_max() {
        // virtio-blk-pci (0x1001) of pc-q35-7.2, virtio profile, QEMU 7.2.22
        // (tests/data/db-qemu-7.2.22): a 1 MiB null-co disk.
        let raw = unhex("000800000000000000000000fe0000000200103f00020000000000000000000000000200ffff3f000100000001000000ffff3f000100000001");
        let d = config(0x1001, &raw);
        assert_eq!(d.get("device_type"), Some("block"));
        assert_eq!(d.get("capacity"), Some("2048 (0x0000000000000800)"));
        assert_eq!(d.get("seg_max"), Some("254 (0x000000fe)"));
        assert_eq!(d.get("geometry.heads"), Some("16"));
        assert_eq!(d.get("geometry.sectors"), Some("63"));
        assert_eq!(d.get("blk_size"), Some("512 (0x00000200)"));
        assert_eq!(d.get("num_queues"), Some("2 (0x0002)"));
        assert_eq!(d.get("max_discard_sectors"), Some("4194303 (0x003fffff)"));
        assert_eq!(d.get("write_zeroes_may_unmap"), Some("1"));
        // The probe trimmed the trailing ff: fields past the end are absent.
        assert_eq!(d.get("max_secure_erase_sectors"), None);
        assert!(!d.items().keys().any(|k| k.starts_with("rest")), "{d:?}");
        let mut seg126 = raw.clone();
        seg126[12] = 0x7e;
        assert_eq!(config(0x1001, &seg126).get("seg_max"), Some("126 (0x0000007e)"));
    }

    #[test]
    fn net_console_scsi_balloon_gpu_9p_input_configs() {
        // Config bytes of pc-q35-7.2's virtio profile on QEMU 7.2.22
        // (abi-db/records/x86_64/pc-q35-7.2/virtio/7.2.22.toml).
        let net = config(0x1000, &unhex("5254000001080100"));
        assert_eq!(net.get("mac"), Some("52:54:00:00:01:08"));
        assert_eq!(net.get("status"), Some("1 (0x0001)"));
        assert_eq!(
            net.get("max_virtqueue_pairs"),
            None,
            "no MQ: the config ends after status"
        );
        let scsi = config(
            0x1004,
            &unhex("02000000fe000000ffff0000800000001000000060000000200000000000ff00ff3f0000"),
        );
        assert_eq!(scsi.get("num_queues"), Some("2 (0x00000002)"));
        assert_eq!(scsi.get("seg_max"), Some("254 (0x000000fe)"));
        assert_eq!(scsi.get("max_sectors"), Some("65535 (0x0000ffff)"));
        assert_eq!(scsi.get("cmd_per_lun"), Some("128 (0x00000080)"));
        assert_eq!(scsi.get("cdb_size"), Some("32 (0x00000020)"));
        assert_eq!(scsi.get("max_target"), Some("255 (0x00ff)"));
        assert_eq!(scsi.get("max_lun"), Some("16383 (0x00003fff)"));
        let console = config(0x1003, &unhex("000000001f00000000000000"));
        assert_eq!(console.get("max_nr_ports"), Some("31 (0x0000001f)"));
        assert_eq!(console.get("emerg_wr"), Some("0 (0x00000000)"));
        let balloon = config(0x1002, &unhex("00000000000000000000000000000000"));
        assert_eq!(balloon.get("poison_val"), Some("0 (0x00000000)"));
        let gpu = config(0x1050, &unhex("00000000000000000100000000000000"));
        assert_eq!(gpu.get("num_scanouts"), Some("1 (0x00000001)"));
        assert_eq!(gpu.get("num_capsets"), Some("0 (0x00000000)"));
        let p9 = config(0x1009, &unhex("05007368617265"));
        assert_eq!(p9.get("tag_len"), Some("5 (0x0005)"));
        assert_eq!(p9.get("tag"), Some("\"share\" (7368617265)"));
        let input = config(
            0x1052,
            &unhex("00000000000000000000000000000000000000000000000000000000000000000000000000"),
        );
        assert_eq!(input.get("select"), Some("0"));
        assert_eq!(input.get("size"), Some("0"));
        assert_eq!(input.get("device_type"), Some("input"));
        assert_eq!(config(0x1005, &[]).get("length"), Some("0"), "entropy: no config");
    }

    #[test]
    fn every_config_byte_change_shows() {
        let raw = unhex("000800000000000000000000fe0000000200103f00020000000000000000000000000200ffff3f000100000001000000ffff3f000100000001");
        for dev in [
            0x1000, 0x1001, 0x1002, 0x1003, 0x1004, 0x1009, 0x1050, 0x1052, 0x1053, 0x105a, 0x1234,
        ] {
            let base = config(dev, &raw);
            for i in 0..raw.len() {
                let mut b = raw.clone();
                b[i] ^= 0x5a;
                assert_ne!(config(dev, &b), base, "device {dev:#x} byte {i}");
            }
            assert_ne!(config(dev, &raw[..raw.len() - 1]), base, "length");
        }
    }
}
