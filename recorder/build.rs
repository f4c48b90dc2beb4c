//! Build the bare probe (../bare-probe, a no_std Multiboot image with its own
//! workspace, linker script and flags) with a nested cargo of the same
//! toolchain, turn its ELF into the flat image QEMU's Multiboot loader takes
//! (`objcopy -O binary`), and leave it in OUT_DIR for `include_bytes!`
//! (recorder/src/bare/mod.rs). A fresh clone needs nothing but the toolchain
//! and binutils, which linking already needs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Multiboot v1 header magic; it must sit in the first 8 KiB of the image.
const MULTIBOOT_MAGIC: u32 = 0x1BAD_B002;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let image = out.join("bare-probe.bin");
    let guest = manifest.join("../bare-probe");
    for p in ["src", "Cargo.toml", "Cargo.lock", "link.ld", ".cargo/config.toml"] {
        println!("cargo:rerun-if-changed={}", guest.join(p).display());
    }
    // The image is x86 code built by the host toolchain: only an x86_64 host
    // can build it. Elsewhere machine-abi ships without it and says so when
    // the bare probe is asked for.
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("x86_64") {
        std::fs::write(&image, b"").unwrap_or_else(|e| fail(&format!("{}: {e}", image.display())));
        return;
    }
    let elf = build_guest(&guest, &out.join("bare-probe-target"));
    let status = Command::new("objcopy")
        .args(["-O", "binary"])
        .arg(&elf)
        .arg(&image)
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run objcopy (binutils): {e}")));
    if !status.success() {
        fail(&format!("objcopy -O binary {} failed: {status}", elf.display()));
    }
    let bytes = std::fs::read(&image).unwrap_or_else(|e| fail(&format!("{}: {e}", image.display())));
    let has_header = bytes
        .chunks_exact(4)
        .take(8192 / 4)
        .any(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) == MULTIBOOT_MAGIC);
    if !has_header {
        fail(&format!("{}: no Multiboot header in the first 8 KiB", image.display()));
    }
}

/// `cargo build --release` of the guest crate; returns the ELF.
fn build_guest(guest: &Path, target_dir: &Path) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--locked", "--quiet"])
        .arg("--manifest-path")
        .arg(guest.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        // Its .cargo/config.toml (link script, static, no start files) is
        // found from the working directory.
        .current_dir(guest);
    // What the outer build sets for its own crates must not reach the
    // guest: flags for a std target, clippy as the compiler, a --target.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run cargo for {}: {e}", guest.display())));
    if !status.success() {
        fail(&format!(
            "building the bare probe ({}) failed: {status}",
            guest.display()
        ));
    }
    target_dir.join("release/bare-probe")
}

fn fail(msg: &str) -> ! {
    eprintln!("recorder/build.rs: {msg}");
    std::process::exit(1)
}
