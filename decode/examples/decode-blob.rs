//! Print the decoded view of one raw blob: `decode-blob dtb|acpi FILE`.
//! A by-hand aid for reading captured data; `check` decodes on its own.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, file] = &args[..] else {
        eprintln!("usage: decode-blob dtb|acpi|pci|smbios FILE");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("decode-blob: {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let d = match kind.as_str() {
        "dtb" => abi_decode::device_tree(&bytes),
        "acpi" => abi_decode::acpi_table(&bytes),
        "pci" => abi_decode::pci_config(&bytes),
        "smbios" => abi_decode::smbios_table(&bytes),
        _ => {
            eprintln!("decode-blob: unknown kind {kind:?}");
            return ExitCode::from(2);
        }
    };
    for (k, v) in d.items() {
        println!("{k} = {v}");
    }
    ExitCode::SUCCESS
}
