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
}
