//! Device profiles: named sets of devices added to a machine type's own, as
//! small TOML files. Most ABI breaks hide in devices a user adds, so each
//! machine type is recorded once per profile. Devices carry fixed ids and
//! addresses so that the topology is the same on every run.
//!
//! The shipped profiles (`profiles/*.toml` in the repository) are built in;
//! a distribution can keep its own set in a directory.

use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// The shipped profiles, in the order they are recorded.
const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../profiles/default.toml")),
    ("virtio", include_str!("../../profiles/virtio.toml")),
    ("legacy-nic", include_str!("../../profiles/legacy-nic.toml")),
    ("storage", include_str!("../../profiles/storage.toml")),
    ("usb", include_str!("../../profiles/usb.toml")),
    ("direct", include_str!("../../profiles/direct.toml")),
];

/// QEMU options a profile may use to define backends (no guest-visible
/// device of their own).
const BACKEND_OPTIONS: &[&str] = &["netdev", "blockdev", "fsdev", "chardev", "object", "audiodev"];

/// Placeholders a profile may use; the recorder fills them in per boot.
pub const SHARE_PLACEHOLDER: &str = "$SHARE";

/// A named set of devices added to the machine type's own defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Name recorded in every record (`default`, `virtio`).
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Backends as (QEMU option without dash, value).
    pub backends: Vec<(String, String)>,
    /// `-device` values.
    pub devices: Vec<Device>,
    /// Extra `-machine` options (`key=value`), appended to the machine type.
    pub machine_options: Vec<String>,
    /// `-global` values (`driver.property=value`).
    pub globals: Vec<String>,
    /// Guest architectures it applies to (QMP `query-target` names); empty:
    /// every architecture.
    pub arches: Vec<String>,
    /// How the guest is started: [`Firmware::Default`], the architecture's
    /// own firmware (SeaBIOS on x86, edk2 UEFI on aarch64), or
    /// [`Firmware::None`], the kernel loaded by QEMU itself.
    pub firmware: Firmware,
}

/// The boot path a profile asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// The architecture's default firmware.
    #[default]
    Default,
    /// No firmware: QEMU loads the kernel and hands it its own description
    /// (on Arm's virt: the device tree, without ACPI or SMBIOS).
    None,
}

/// One `-device` of a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The device model (`virtio-net-pci`), the first part of the value.
    pub driver: String,
    /// The whole `-device` value.
    pub spec: String,
}

/// The file format; turned into a [`Profile`] by [`Profile::parse`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    description: String,
    #[serde(default)]
    backends: Vec<String>,
    #[serde(default)]
    devices: Vec<String>,
    #[serde(default)]
    machine: Vec<String>,
    #[serde(default)]
    globals: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    firmware: Firmware,
}

/// A profile file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    /// The file (or `built-in NAME`).
    pub origin: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "profile {}: {}", self.origin, self.message)
    }
}

impl std::error::Error for ProfileError {}

/// `key=value` pairs of a comma-separated QEMU option value.
fn keys(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value.split(',').skip(1).filter_map(|kv| kv.split_once('='))
}

impl Profile {
    /// Parse and check one profile file. `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let err = |message: String| ProfileError {
            origin: origin.to_string(),
            message,
        };
        let file: ProfileFile = toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
        let name_ok = !file.name.is_empty()
            && file
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(err(format!(
                "name {:?} must be lower-case letters, digits and '-' (it is a directory name in the database)",
                file.name
            )));
        }
        let mut backends = Vec::new();
        for b in &file.backends {
            let (option, value) = b.split_once(' ').ok_or_else(|| {
                err(format!(
                    "backend {b:?} must be \"OPTION VALUE\", e.g. \"netdev hubport,id=n0,hubid=0\""
                ))
            })?;
            if !BACKEND_OPTIONS.contains(&option) {
                return Err(err(format!(
                    "backend option {option:?} is not one of {}",
                    BACKEND_OPTIONS.join(", ")
                )));
            }
            backends.push((option.to_string(), value.trim().to_string()));
        }
        let mut ids = BTreeSet::new();
        let mut devices = Vec::new();
        for spec in &file.devices {
            let driver = spec.split(',').next().unwrap_or_default().to_string();
            if driver.is_empty() || driver.contains('=') {
                return Err(err(format!("device {spec:?} must start with the device model")));
            }
            let id = keys(spec)
                .find(|(k, _)| *k == "id")
                .map(|(_, v)| v.to_string())
                .ok_or_else(|| err(format!("device {spec:?} needs an id= (a stable QOM path)")))?;
            if !keys(spec).any(|(k, _)| k == "addr" || k == "bus") {
                return Err(err(format!(
                    "device {spec:?} needs addr= or bus= (a fixed place, so the topology is stable)"
                )));
            }
            if !ids.insert(id.clone()) {
                return Err(err(format!("device id {id:?} is used twice")));
            }
            devices.push(Device {
                driver,
                spec: spec.clone(),
            });
        }
        for m in &file.machine {
            if !m.contains('=') || m.contains(',') {
                return Err(err(format!("machine option {m:?} must be one key=value")));
            }
        }
        for g in &file.globals {
            let ok = g.split_once('=').is_some_and(|(k, _)| k.contains('.'));
            if !ok {
                return Err(err(format!("global {g:?} must be driver.property=value")));
            }
        }
        Ok(Profile {
            name: file.name,
            description: file.description,
            backends,
            devices,
            machine_options: file.machine,
            globals: file.globals,
            arches: file.arches,
            firmware: file.firmware,
        })
    }

    /// The QEMU arguments this profile adds (machine options excepted; they
    /// go into the `-machine` value).
    pub fn args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (option, value) in &self.backends {
            out.push(format!("-{option}"));
            out.push(value.clone());
        }
        for d in &self.devices {
            out.push("-device".into());
            out.push(d.spec.clone());
        }
        for g in &self.globals {
            out.push("-global".into());
            out.push(g.clone());
        }
        out
    }

    /// Whether this profile applies to guests of `arch`.
    pub fn applies_to(&self, arch: &str) -> bool {
        self.arches.is_empty() || self.arches.iter().any(|a| a == arch)
    }

    /// Device models this profile needs that `available` lacks, sorted.
    pub fn missing_devices(&self, available: &BTreeSet<String>) -> Vec<String> {
        let missing: BTreeSet<&String> = self
            .devices
            .iter()
            .map(|d| &d.driver)
            .filter(|d| !available.contains(*d))
            .collect();
        missing.into_iter().cloned().collect()
    }
}

/// A set of profiles with distinct names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profiles(Vec<Profile>);

impl Profiles {
    /// The shipped profiles.
    pub fn builtin() -> Result<Profiles, ProfileError> {
        let list = BUILTIN
            .iter()
            .map(|(name, text)| Profile::parse(text, &format!("built-in {name}")))
            .collect::<Result<Vec<_>, _>>()?;
        Profiles::new(list, "built-in profiles")
    }

    /// Every `*.toml` in `dir`, in name order; each file is named after its
    /// profile (`virtio.toml` holds `name = "virtio"`).
    pub fn load_dir(dir: &Path) -> Result<Profiles, ProfileError> {
        let io = |p: &Path, e: std::io::Error| ProfileError {
            origin: p.display().to_string(),
            message: e.to_string(),
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut list = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f).map_err(|e| io(f, e))?;
            let p = Profile::parse(&text, &f.display().to_string())?;
            let stem = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if stem != p.name {
                return Err(ProfileError {
                    origin: f.display().to_string(),
                    message: format!("holds profile {:?}; name the file {}.toml", p.name, p.name),
                });
            }
            list.push(p);
        }
        Profiles::new(list, &dir.display().to_string())
    }

    fn new(list: Vec<Profile>, origin: &str) -> Result<Profiles, ProfileError> {
        if list.is_empty() {
            return Err(ProfileError {
                origin: origin.to_string(),
                message: "no profiles (*.toml) found".into(),
            });
        }
        let mut seen = BTreeSet::new();
        for p in &list {
            if !seen.insert(&p.name) {
                return Err(ProfileError {
                    origin: origin.to_string(),
                    message: format!("profile {:?} is defined twice", p.name),
                });
            }
        }
        Ok(Profiles(list))
    }

    /// Look a profile up by name.
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.0.iter().find(|p| p.name == name)
    }

    /// All of them, in order.
    pub fn all(&self) -> &[Profile] {
        &self.0
    }

    /// Their names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|p| p.name.as_str()).collect()
    }
}

/// Device model names in the output of `qemu-system-* -device help`
/// (lines such as `name "virtio-net-pci", bus PCI, alias "virtio-net"`).
/// Aliases count as names.
pub fn parse_device_help(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        for key in ["name \"", "alias \""] {
            if let Some(rest) = line.split(key).nth(1) {
                if let Some(end) = rest.find('"') {
                    out.insert(rest[..end].to_string());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_parse_with_fixed_places() {
        let all = Profiles::builtin().expect("built-in profiles");
        assert_eq!(
            all.names(),
            ["default", "virtio", "legacy-nic", "storage", "usb", "direct"]
        );
        let direct = all.get("direct").expect("direct");
        assert_eq!(direct.firmware, Firmware::None);
        assert!(direct.applies_to("aarch64") && !direct.applies_to("x86_64"));
        assert!(all
            .get("virtio")
            .is_some_and(|p| p.applies_to("aarch64") && p.applies_to("x86_64")));
        assert!(all.get("default").is_some_and(|p| p.args().is_empty()));
        let virtio = all.get("virtio").expect("virtio");
        let drivers: Vec<&str> = virtio.devices.iter().map(|d| d.driver.as_str()).collect();
        for d in ["virtio-net-pci", "virtio-blk-pci", "virtio-gpu-pci", "virtio-9p-pci"] {
            assert!(drivers.contains(&d), "{d} missing from {drivers:?}");
        }
        // Every PCI slot is used once across a profile.
        for p in all.all() {
            let addrs: Vec<&str> = p
                .devices
                .iter()
                .filter_map(|d| keys(&d.spec).find(|(k, _)| *k == "addr").map(|(_, v)| v))
                .collect();
            let unique: BTreeSet<&&str> = addrs.iter().collect();
            assert_eq!(unique.len(), addrs.len(), "{}: {addrs:?}", p.name);
        }
    }

    #[test]
    fn args_in_order_backends_devices_globals() {
        let p = Profile::parse(
            r#"name = "x"
description = "d"
backends = ["netdev hubport,id=n0,hubid=0"]
devices = ["e1000,id=nic0,netdev=n0,addr=0x8"]
globals = ["e1000.mitigation=off"]
machine = ["usb=on"]
"#,
            "x.toml",
        )
        .expect("valid");
        assert_eq!(
            p.args(),
            [
                "-netdev",
                "hubport,id=n0,hubid=0",
                "-device",
                "e1000,id=nic0,netdev=n0,addr=0x8",
                "-global",
                "e1000.mitigation=off"
            ]
        );
        assert_eq!(p.machine_options, ["usb=on"]);
    }

    #[test]
    fn bad_profiles_are_refused_with_the_reason() {
        let bad = |body: &str, expect: &str| {
            let text = format!("name = \"x\"\ndescription = \"d\"\n{body}");
            let e = Profile::parse(&text, "x.toml").expect_err(body);
            assert!(e.to_string().contains(expect), "{body}: {e}");
            assert!(e.to_string().contains("x.toml"), "{e}");
        };
        bad("devices = [\"e1000,addr=0x8\"]", "needs an id=");
        bad("devices = [\"e1000,id=a\"]", "needs addr= or bus=");
        bad("devices = [\"e1000,id=a,addr=8\", \"e1000,id=a,addr=9\"]", "used twice");
        bad("devices = [\"id=a,addr=8\"]", "device model");
        bad("backends = [\"drive file=x\"]", "is not one of");
        bad("backends = [\"netdev\"]", "OPTION VALUE");
        bad("machine = [\"usb=on,x=y\"]", "one key=value");
        bad("globals = [\"mitigation=off\"]", "driver.property");
        bad("device = []", "unknown field");
        bad("firmware = \"ovmf\"", "unknown variant");
        let e = Profile::parse("name = \"Bad Name\"\ndescription = \"d\"", "y.toml").expect_err("name");
        assert!(e.message.contains("lower-case"), "{e}");
    }

    #[test]
    fn missing_devices_are_named() {
        let p = Profiles::builtin().expect("built-in");
        let virtio = p.get("virtio").expect("virtio");
        let mut have: BTreeSet<String> = virtio.devices.iter().map(|d| d.driver.clone()).collect();
        assert!(virtio.missing_devices(&have).is_empty());
        have.remove("virtio-9p-pci");
        assert_eq!(virtio.missing_devices(&have), ["virtio-9p-pci"]);
    }

    #[test]
    fn device_help_names_and_aliases() {
        let text =
            "Network devices:\nname \"e1000\", bus PCI, alias \"e1000-82540em\", desc \"Intel Gigabit Ethernet\"\n\
                    name \"virtio-net-pci\", bus PCI, alias \"virtio-net\"\nname \"usb-kbd\", bus usb-bus\n";
        let names = parse_device_help(text);
        for n in ["e1000", "e1000-82540em", "virtio-net-pci", "virtio-net", "usb-kbd"] {
            assert!(names.contains(n), "{n}: {names:?}");
        }
        assert_eq!(names.len(), 5);
    }

    #[test]
    fn a_directory_of_profiles_loads_and_checks_file_names() {
        let dir = std::env::temp_dir().join(format!("mabi-profiles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("tmp dir");
        std::fs::write(dir.join("mine.toml"), "name = \"mine\"\ndescription = \"d\"\n").expect("write");
        assert_eq!(Profiles::load_dir(&dir).expect("loads").names(), ["mine"]);
        std::fs::write(dir.join("other.toml"), "name = \"mine2\"\ndescription = \"d\"\n").expect("write");
        let e = Profiles::load_dir(&dir).expect_err("misnamed");
        assert!(e.to_string().contains("name the file mine2.toml"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
        let empty = std::env::temp_dir().join(format!("mabi-profiles-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).expect("tmp dir");
        assert!(Profiles::load_dir(&empty).is_err());
        let _ = std::fs::remove_dir_all(&empty);
    }
}
