//! The full ASL view of a changed DSDT/SSDT, when `iasl` (Debian's
//! acpica-tools) is installed: both tables disassembled, the header
//! comment that names the input file and the tool version stripped (as
//! QEMU's bios-tables-test does), and a unified diff of the rest. The
//! built-in AML decoder works without it; this is for reading the code of
//! a method whose body changed.

use std::fmt;
use std::path::Path;
use std::process::Command;

/// Why the ASL diff could not be made.
#[derive(Debug)]
pub enum AslError {
    /// `iasl` is not on PATH.
    NoIasl,
    /// iasl ran but failed on a table.
    Iasl {
        /// Table name.
        table: String,
        /// What iasl said.
        message: String,
    },
    /// A temporary file could not be written or read.
    Io(String),
}

impl fmt::Display for AslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AslError::NoIasl => write!(f, "iasl not found on PATH (install Debian's acpica-tools)"),
            AslError::Iasl { table, message } => write!(f, "iasl -d failed on {table}: {message}"),
            AslError::Io(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for AslError {}

/// True when `iasl` can be run.
pub fn available() -> bool {
    abi_process::output(Command::new("iasl").arg("-v"), IASL_TIMEOUT).is_ok_and(|o| o.status.success())
}

/// Deadline of one iasl run: it disassembles a table in milliseconds.
const IASL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Disassemble one table to ASL text, without its header comment.
pub fn disassemble(name: &str, table: &[u8], dir: &Path) -> Result<String, AslError> {
    let aml = dir.join(format!("{name}.aml"));
    std::fs::write(&aml, table).map_err(|e| AslError::Io(format!("{}: {e}", aml.display())))?;
    let out =
        abi_process::output(Command::new("iasl").arg("-d").arg(&aml).current_dir(dir), IASL_TIMEOUT).map_err(|e| {
            match e {
                abi_process::RunError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => AslError::NoIasl,
                e => AslError::Io(format!("cannot run iasl: {e}")),
            }
        })?;
    let dsl = dir.join(format!("{name}.dsl"));
    let text = std::fs::read_to_string(&dsl).map_err(|_| AslError::Iasl {
        table: name.to_string(),
        message: String::from_utf8_lossy(&out.stderr).trim().to_string() + String::from_utf8_lossy(&out.stdout).trim(),
    })?;
    Ok(strip_header(&text))
}

/// Drop the leading comment block iasl writes (tool version, date, file
/// name, table checksum): it differs between any two runs or tables.
pub fn strip_header(dsl: &str) -> String {
    let trimmed = dsl.trim_start();
    match trimmed.strip_prefix("/*").and_then(|rest| rest.split_once("*/")) {
        Some((_, body)) => body.trim_start_matches('\n').to_string(),
        None => dsl.to_string(),
    }
}

/// Unified diff of the ASL of two versions of table `name`.
pub fn unified_diff(name: &str, old: &[u8], new: &[u8]) -> Result<String, AslError> {
    let dir = tempfile::tempdir().map_err(|e| AslError::Io(format!("temporary directory: {e}")))?;
    let a = dir.path().join("old");
    let b = dir.path().join("new");
    for d in [&a, &b] {
        std::fs::create_dir(d).map_err(|e| AslError::Io(format!("{}: {e}", d.display())))?;
    }
    let x = disassemble(name, old, &a)?;
    let y = disassemble(name, new, &b)?;
    Ok(similar::TextDiff::from_lines(&x, &y)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}.dsl"), &format!("b/{name}.dsl"))
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_comment_is_stripped() {
        let dsl = "/*\n * Intel ACPI Component Architecture\n * Disassembly of DSDT.aml\n */\nDefinitionBlock (\"\", \"DSDT\", 1, \"BOCHS \", \"BXPC    \", 0x00000001)\n{\n}\n";
        assert_eq!(
            strip_header(dsl),
            "DefinitionBlock (\"\", \"DSDT\", 1, \"BOCHS \", \"BXPC    \", 0x00000001)\n{\n}\n"
        );
        assert_eq!(strip_header("Scope (_SB) {}\n"), "Scope (_SB) {}\n");
    }

    #[test]
    fn real_q35_dsdt_diff_names_the_new_method() {
        if !available() {
            assert!(
                std::env::var_os("CI").is_none(),
                "iasl is missing under CI (scripts/fetch-qemu installs it)"
            );
            eprintln!("skipped: iasl not installed");
            return;
        }
        let read = |v: &str| {
            let p = format!(
                "{}/tests/data/pc-q35-7.2-default-on-{v}/acpi/DSDT.bin",
                concat!(env!("CARGO_MANIFEST_DIR"), "/..")
            );
            std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
        };
        let diff = unified_diff("DSDT", &read("7.2.22"), &read("10.0.2")).expect("iasl diff");
        assert!(diff.starts_with("--- a/DSDT.dsl\n+++ b/DSDT.dsl\n"), "{diff}");
        assert!(
            diff.lines()
                .any(|l| l.starts_with('+') && l.contains("Method (EDSM, 5, Serialized)")),
            "{diff}"
        );
        assert!(
            diff.lines()
                .any(|l| l.starts_with('-') && l.contains("Method (PCNT, 0, NotSerialized)")),
            "{diff}"
        );
        // Same table twice: nothing to show.
        let same = unified_diff("DSDT", &read("7.2.22"), &read("7.2.22")).expect("iasl");
        assert!(
            !same.lines().any(|l| l.starts_with('+') || l.starts_with('-')),
            "{same}"
        );
    }
}
