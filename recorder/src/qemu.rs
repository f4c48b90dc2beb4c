//! A QEMU system emulator binary: its version, its machine types, and the
//! provenance facts about it that go into every record.

use crate::elf;
use abi_model::provenance::QemuIdentity;
use abi_model::{MachineType, Version};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One line of `-machine help`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineInfo {
    /// The machine type.
    pub name: MachineType,
    /// Its description.
    pub description: String,
    /// The type this name is an alias of, if it is an alias (`q35`, `pc`).
    pub alias_of: Option<MachineType>,
}

/// Something went wrong running or reading the QEMU binary.
#[derive(Debug)]
pub struct QemuError {
    /// The binary.
    pub binary: PathBuf,
    /// What failed.
    pub message: String,
}

impl fmt::Display for QemuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.binary.display(), self.message)
    }
}

impl std::error::Error for QemuError {}

/// A QEMU binary and the data directories it is run with.
#[derive(Clone, Debug)]
pub struct Qemu {
    /// The `qemu-system-*` executable.
    pub binary: PathBuf,
    /// Directories passed with `-L`, searched in order (firmware first).
    pub data_dirs: Vec<PathBuf>,
    /// Deadline of each query that boots nothing (`-version`, `-machine
    /// help`, `-device help`).
    pub query_timeout: Duration,
    /// Root file system of another distribution release to run the binary
    /// in: it is started through that root's own dynamic loader and
    /// libraries, while the tool keeps reading the real ELF (build-id,
    /// compat tables). A wrapper script would hide the ELF.
    pub sysroot: Option<PathBuf>,
}

/// Deadline of a query that does not boot a guest (`-version`, `-machine
/// help`, `-device help`): they take well under a second; a QEMU that takes
/// this long is hung, and must not hang the tool with it.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(60);

impl Qemu {
    /// A binary with its data directories, queries bounded by [`QUERY_TIMEOUT`].
    pub fn new(binary: PathBuf, data_dirs: Vec<PathBuf>) -> Qemu {
        Qemu {
            binary,
            data_dirs,
            query_timeout: QUERY_TIMEOUT,
            sysroot: None,
        }
    }

    fn err(&self, message: impl Into<String>) -> QemuError {
        QemuError {
            binary: self.binary.clone(),
            message: message.into(),
        }
    }

    fn output(&self, args: &[&str]) -> Result<String, QemuError> {
        let out = abi_process::output(self.command().args(args), self.query_timeout)
            .map_err(|e| self.err(format!("{}: {e}", args.join(" "))))?;
        if !out.status.success() {
            return Err(self.err(format!(
                "{} exited with {}: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Version, package string, hash and build-id of the binary.
    pub fn identity(&self) -> Result<QemuIdentity, QemuError> {
        let text = self.output(&["-version"])?;
        let (version, package) = parse_version_line(text.lines().next().unwrap_or(""))
            .ok_or_else(|| self.err(format!("unrecognised -version output {:?}", text.trim())))?;
        let bytes = std::fs::read(&self.binary).map_err(|e| self.err(format!("cannot read: {e}")))?;
        // A wrapper script in front of QEMU has no build-id; that is not an error.
        let build_id = elf::build_id(&bytes).ok().flatten();
        Ok(QemuIdentity {
            version,
            package,
            blake3: blake3::hash(&bytes).to_hex().to_string(),
            build_id,
        })
    }

    /// Refuse a data directory that is not there: QEMU would quietly skip
    /// it, and a missing firmware file would surface later with a vaguer
    /// message.
    pub fn check_data_dirs(&self) -> Result<(), QemuError> {
        if let Some(d) = self.data_dirs.iter().find(|d| !d.is_dir()) {
            return Err(self.err(format!("data directory {} does not exist", d.display())));
        }
        if let Some(root) = &self.sysroot {
            let loader = root.join("lib64/ld-linux-x86-64.so.2");
            if !loader.exists() {
                return Err(self.err(format!(
                    "--sysroot {}: no dynamic loader at {} (scripts/fetch-suites makes one)",
                    root.display(),
                    loader.display()
                )));
            }
        }
        Ok(())
    }

    /// The guest architecture this binary emulates, as QMP `query-target`
    /// names it (`x86_64`, `aarch64`), asked of a machine-less QEMU.
    pub fn target_arch(&self) -> Result<String, QemuError> {
        let mut qmp =
            crate::qmp::Qmp::start_with(self, "none", self.query_timeout).map_err(|e| self.err(e.to_string()))?;
        let reply = qmp.execute("query-target", None).map_err(|e| self.err(e.to_string()))?;
        reply
            .get("arch")
            .and_then(|a| a.as_str())
            .map(str::to_string)
            .ok_or_else(|| self.err(format!("query-target gave no arch: {reply}")))
    }

    /// A command running this QEMU with its module directory set (see
    /// [`Qemu::module_dir`]); arguments are up to the caller.
    pub fn command(&self) -> Command {
        let mut cmd = match &self.sysroot {
            None => Command::new(&self.binary),
            Some(root) => {
                // --inhibit-cache: never fall back to the host's ld.so.cache,
                // which would mix in the host's libraries.
                let mut c = Command::new(root.join("lib64/ld-linux-x86-64.so.2"));
                let libs = [root.join("lib/x86_64-linux-gnu"), root.join("usr/lib/x86_64-linux-gnu")];
                let path: Vec<String> = libs.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                c.arg("--inhibit-cache")
                    .arg("--library-path")
                    .arg(path.join(":"))
                    .arg(&self.binary);
                c
            }
        };
        if let Some(m) = self.module_dir() {
            cmd.env("QEMU_MODULE_DIR", m);
        }
        cmd
    }

    /// Where a Debian-style unpacked QEMU keeps its loadable modules
    /// (`usr/lib/x86_64-linux-gnu/qemu` next to `usr/bin`). Without
    /// `QEMU_MODULE_DIR` an unpacked 10.0 build loads none of them, and
    /// devices such as `virtio-gpu-pci` do not exist.
    /// In a build tree built with modules, they (`accel-tcg-x86_64.so`,
    /// `hw-display-virtio-gpu.so`, …) sit next to the binary.
    pub fn module_dir(&self) -> Option<PathBuf> {
        let here = self.binary.parent()?;
        let has_modules = std::fs::read_dir(here).is_ok_and(|d| {
            d.flatten().any(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                let kinds = ["accel-", "audio-", "block-", "chardev-", "hw-", "ui-"];
                kinds.iter().any(|k| n.starts_with(k)) && n.ends_with(".so")
            })
        });
        if has_modules && crate::tree::is_build_dir(here) {
            return Some(here.to_path_buf());
        }
        let usr = here.parent()?;
        let dir = usr.join("lib/x86_64-linux-gnu/qemu");
        dir.is_dir().then_some(dir)
    }

    /// Every device model (and alias) the binary offers, modules included.
    pub fn devices(&self) -> Result<std::collections::BTreeSet<String>, QemuError> {
        Ok(crate::profile::parse_device_help(&self.output(&["-device", "help"])?))
    }

    /// Every machine type the binary offers.
    pub fn machines(&self) -> Result<Vec<MachineInfo>, QemuError> {
        Ok(parse_machine_help(&self.output(&["-machine", "help"])?))
    }

    /// Find a file the way QEMU does with `-L`: first data directory that has it.
    pub fn find_data_file(&self, name: &str) -> Option<PathBuf> {
        self.data_dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
    }
}

/// Parse `QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)`.
pub fn parse_version_line(line: &str) -> Option<(Version, String)> {
    let rest = line.strip_prefix("QEMU emulator version ")?;
    let (ver, pkg) = match rest.split_once(' ') {
        Some((v, p)) => (v, p.trim().trim_start_matches('(').trim_end_matches(')').to_string()),
        None => (rest.trim(), String::new()),
    };
    Some((Version::parse(ver)?, pkg))
}

/// Parse the output of `-machine help`.
pub fn parse_machine_help(text: &str) -> Vec<MachineInfo> {
    text.lines()
        .skip_while(|l| !l.starts_with("Supported machines"))
        .skip(1)
        .filter_map(|line| {
            let (name, desc) = line.split_once(' ')?;
            let desc = desc.trim();
            let alias_of = desc
                .rsplit_once("(alias of ")
                .and_then(|(_, a)| a.split_once(')'))
                .map(|(a, _)| MachineType(a.to_string()));
            let description = desc
                .split(" (alias of ")
                .next()
                .unwrap_or(desc)
                .trim_end_matches(" (default)")
                .to_string();
            Some(MachineInfo {
                name: MachineType(name.to_string()),
                description,
                alias_of,
            })
        })
        .collect()
}

/// Select machine types: versioned, non-alias ones matching any glob (all
/// when no glob is given); `all` keeps aliases and unversioned types too.
pub fn select(machines: &[MachineInfo], globs: &[String], all: bool) -> Vec<MachineType> {
    let mut out: Vec<MachineType> = machines
        .iter()
        .filter(|m| all || (m.alias_of.is_none() && m.name.version().is_some()))
        .filter(|m| globs.is_empty() || globs.iter().any(|g| m.name.matches(g)))
        .map(|m| m.name.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The blake3 of a file, for provenance.
pub fn file_blake3(path: &Path) -> std::io::Result<String> {
    Ok(blake3::hash(&std::fs::read(path)?).to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELP: &str = "Supported machines are:\n\
        microvm              microvm (i386)\n\
        pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)\n\
        pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)\n\
        pc-i440fx-7.1        Standard PC (i440FX + PIIX, 1996)\n\
        q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)\n\
        pc-q35-7.2           Standard PC (Q35 + ICH9, 2009)\n\
        pc-q35-2.10          Standard PC (Q35 + ICH9, 2009)\n\
        none                 empty machine\n";

    #[test]
    fn machine_help_and_selection() {
        let m = parse_machine_help(HELP);
        assert_eq!(m.len(), 8);
        assert_eq!(m[1].alias_of, Some(MachineType("pc-i440fx-7.2".into())));
        assert_eq!(m[2].description, "Standard PC (i440FX + PIIX, 1996)");
        let names = |v: Vec<MachineType>| v.into_iter().map(|m| m.0).collect::<Vec<_>>();
        assert_eq!(
            names(select(&m, &[], false)),
            ["pc-i440fx-7.1", "pc-i440fx-7.2", "pc-q35-2.10", "pc-q35-7.2"]
        );
        assert_eq!(
            names(select(&m, &["pc-q35-*".into()], false)),
            ["pc-q35-2.10", "pc-q35-7.2"]
        );
        assert!(select(&m, &[], true).contains(&MachineType("q35".into())));
    }

    #[test]
    fn versions_order_numerically() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("2.10") > v("2.9"));
        assert!(v("10.0") > v("7.2.22"));
        assert_eq!(v("7.2"), v("7.2"));
        assert_eq!(MachineType("pc-q35-2.10".into()).version(), Some(v("2.10")));
        assert_eq!(MachineType("pc-q35-2.10".into()).family(), "pc-q35");
        assert_eq!(MachineType("microvm".into()).version(), None);
        let (ver, pkg) = parse_version_line("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)").unwrap();
        assert_eq!(
            (ver.to_string(), pkg.as_str()),
            ("7.2.22".into(), "Debian 1:7.2+dfsg-7+deb12u18+b3")
        );
    }
}
