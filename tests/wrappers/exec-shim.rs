//! ELF stand-in for `qemu-system-x86_64` that hands over to a shell script.
//!
//! machine-abi reads the `--qemu` file as an ELF image (for its build-id), so
//! a shell script cannot be passed as `--qemu` directly. tests/e2e.rs compiles
//! this file with rustc and passes the result instead; it replaces itself
//! (same pid) with `/bin/sh $MABI_WRAPPER_SCRIPT <arguments>`.

use std::os::unix::process::CommandExt;
use std::process::Command;

fn main() {
    let Some(script) = std::env::var_os("MABI_WRAPPER_SCRIPT") else {
        eprintln!("exec-shim: MABI_WRAPPER_SCRIPT is not set");
        std::process::exit(127);
    };
    let err = Command::new("/bin/sh").arg(&script).args(std::env::args_os().skip(1)).exec();
    eprintln!("exec-shim: cannot run /bin/sh {}: {err}", script.to_string_lossy());
    std::process::exit(127);
}
