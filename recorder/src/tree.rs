//! A QEMU build tree as a developer has it after `ninja`: the binary in the
//! build directory, the option ROMs it built in `pc-bios/optionrom`, and the
//! source tree's `pc-bios/` (which meson-info names). Firmware the tree
//! lacks (QEMU 10's build directory holds none; a Debian source package has
//! the prebuilt blobs stripped) comes from fallback directories, such as the
//! pinned SeaBIOS and iPXE ROMs.

use std::path::{Path, PathBuf};

/// Where one data directory of a build tree comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataDir {
    /// The directory.
    pub path: PathBuf,
    /// What it is, for messages: `build tree option ROMs`, `source tree
    /// pc-bios`, `fallback`.
    pub role: String,
}

/// A build tree, resolved.
#[derive(Clone, Debug)]
pub struct BuildTree {
    /// The build directory.
    pub dir: PathBuf,
    /// The source directory (from `meson-info/meson-info.json`), if known.
    pub source: Option<PathBuf>,
    /// The system emulator binary.
    pub binary: PathBuf,
    /// Data directories in search order: the tree's own first, then the
    /// fallbacks.
    pub data_dirs: Vec<DataDir>,
}

/// Whether `dir` is a meson build directory (`meson-info/` or `build.ninja`).
pub fn is_build_dir(dir: &Path) -> bool {
    dir.join("meson-info").is_dir() || dir.join("build.ninja").is_file()
}

/// The build directory a binary sits in, if it sits in one.
pub fn build_dir_of(binary: &Path) -> Option<PathBuf> {
    let dir = binary.parent()?;
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    is_build_dir(dir).then(|| dir.to_path_buf())
}

/// The source directory meson recorded for a build directory
/// (`meson-info/meson-info.json`, `directories.source`).
pub fn source_dir(build: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(build.join("meson-info/meson-info.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let src = json.get("directories")?.get("source")?.as_str()?;
    Some(PathBuf::from(src))
}

/// Resolve a build directory: `binary_name` in it (e.g.
/// `qemu-system-x86_64`), then its data directories in the order QEMU
/// should search them: `pc-bios/optionrom` and `pc-bios` of the build
/// directory, `pc-bios` of the source directory, then `fallback`.
pub fn open(dir: &Path, binary_name: &str, fallback: &[DataDir]) -> Result<BuildTree, String> {
    if !dir.is_dir() {
        return Err(format!("--qemu-build {}: no such directory", dir.display()));
    }
    let binary = dir.join(binary_name);
    if !binary.is_file() {
        return Err(format!(
            "--qemu-build {}: no {binary_name} in it (configure with --target-list=x86_64-softmmu and run ninja)",
            dir.display()
        ));
    }
    let source = source_dir(dir);
    let mut data_dirs = Vec::new();
    let mut add = |path: PathBuf, role: &str| {
        if path.is_dir() && !data_dirs.iter().any(|d: &DataDir| d.path == path) {
            data_dirs.push(DataDir {
                path,
                role: role.into(),
            });
        }
    };
    add(dir.join("pc-bios/optionrom"), "build tree option ROMs");
    add(dir.join("pc-bios"), "build tree pc-bios");
    if let Some(src) = &source {
        add(src.join("pc-bios"), "source tree pc-bios");
    }
    for f in fallback {
        add(f.path.clone(), &f.role);
    }
    Ok(BuildTree {
        dir: dir.to_path_buf(),
        source,
        binary,
        data_dirs,
    })
}

/// The first data directory holding `file`, as QEMU's `-L` search finds it.
pub fn find<'a>(dirs: &'a [DataDir], file: &str) -> Option<&'a DataDir> {
    dirs.iter().find(|d| d.path.join(file).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_resolves_source_and_orders_its_dirs_before_fallbacks() {
        let tmp = tempfile::tempdir().expect("tmp");
        let build = tmp.path().join("build");
        let src = tmp.path().join("src");
        std::fs::create_dir_all(build.join("pc-bios/optionrom")).expect("mkdir");
        std::fs::create_dir_all(build.join("meson-info")).expect("mkdir");
        std::fs::create_dir_all(src.join("pc-bios")).expect("mkdir");
        let fw = tmp.path().join("fw");
        std::fs::create_dir_all(&fw).expect("mkdir");
        std::fs::write(
            build.join("meson-info/meson-info.json"),
            format!(r#"{{"directories": {{"source": "{}", "build": "x"}}}}"#, src.display()),
        )
        .expect("write");
        std::fs::write(build.join("qemu-system-x86_64"), b"").expect("write");
        std::fs::write(build.join("pc-bios/optionrom/multiboot_dma.bin"), b"tree").expect("write");
        std::fs::write(fw.join("multiboot_dma.bin"), b"pinned").expect("write");
        std::fs::write(fw.join("bios-256k.bin"), b"pinned").expect("write");
        assert!(is_build_dir(&build));
        assert_eq!(build_dir_of(&build.join("qemu-system-x86_64")), Some(build.clone()));
        assert_eq!(build_dir_of(&fw.join("bios-256k.bin")), None);
        let fallback = [DataDir {
            path: fw.clone(),
            role: "pinned firmware".into(),
        }];
        let t = open(&build, "qemu-system-x86_64", &fallback).expect("tree");
        assert_eq!(t.source.as_deref(), Some(src.as_path()));
        let roles: Vec<&str> = t.data_dirs.iter().map(|d| d.role.as_str()).collect();
        assert_eq!(
            roles,
            [
                "build tree option ROMs",
                "build tree pc-bios",
                "source tree pc-bios",
                "pinned firmware"
            ]
        );
        assert_eq!(
            find(&t.data_dirs, "multiboot_dma.bin").map(|d| d.role.as_str()),
            Some("build tree option ROMs")
        );
        assert_eq!(
            find(&t.data_dirs, "bios-256k.bin").map(|d| d.role.as_str()),
            Some("pinned firmware")
        );
        assert!(find(&t.data_dirs, "kvmvapic.bin").is_none());
        let e = open(&src, "qemu-system-x86_64", &[]).expect_err("no binary");
        assert!(e.contains("no qemu-system-x86_64"), "{e}");
    }
}
