//! Runs that cannot compare anything, QEMU that hangs or fails host-side
//! facts, and interrupts.

use crate::common::*;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const OLD_DB: &str = "tests/data/db-qemu-7.2.22";

fn repo_path(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn an_invalid_machine_glob_is_an_error_not_an_empty_pass() {
    let db = repo_path(OLD_DB);
    let run = machine_abi(
        [
            "check",
            "--qemu",
            "/nonexistent/qemu",
            "--kernel",
            "/nonexistent/vmlinuz",
            "--db",
            db.to_str().unwrap_or(""),
            "--machine",
            "pc-[q35",
        ],
        &[],
    );
    run.expect_code(2);
    assert!(
        run.stderr.contains("--machine \"pc-[q35\" is not a valid glob"),
        "{run}"
    );
}

#[test]
fn a_check_that_selects_nothing_is_exit_2() {
    let Some(fx) = fixtures("a_check_that_selects_nothing_is_exit_2") else {
        return;
    };
    let db = repo_path(OLD_DB);
    for (extra, says) in [
        (
            vec!["--machine", "no-such-machine-*"],
            "matching --machine no-such-machine-*",
        ),
        (vec!["--profile", "storage"], "with --profile storage"),
    ] {
        let run = machine_abi(check_args(fx, Release::V7_2, None, &db, &extra), &[]);
        run.expect_code(2);
        assert!(
            run.stderr.contains("nothing to check") && run.stderr.contains("x86_64") && run.stderr.contains(says),
            "{run}"
        );
    }
}

#[test]
fn a_hung_version_query_has_a_deadline() {
    let Some(fx) = fixtures("a_hung_version_query_has_a_deadline") else {
        return;
    };
    let envs = wrapper_env(fx, "qemu-query-hangs.sh", Release::V7_2);
    let started = Instant::now();
    let db = tempfile::tempdir_in(&fx.work).expect("tmp");
    let mut args = vec![OsString::from("record")];
    args.extend(fx.boot_args(Release::V7_2, Some(shim(fx))));
    args.extend(["--db".into(), db.path().into(), "--timeout".into(), "3".into()]);
    let run = machine_abi(args, &envs);
    run.expect_code(2);
    assert!(run.stderr.contains("-version: did not finish within 3 s"), "{run}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn host_facts_that_fail_are_not_recorded_and_cannot_be_checked() {
    let Some(fx) = fixtures("host_facts_that_fail_are_not_recorded_and_cannot_be_checked") else {
        return;
    };
    let envs = wrapper_env(fx, "qemu-fails-host-facts.sh", Release::V7_2);
    let db = tempfile::tempdir_in(&fx.work).expect("tmp");
    let record = |extra: &[&str]| {
        let mut args = vec![OsString::from("record")];
        args.extend(fx.boot_args(Release::V7_2, Some(shim(fx))));
        args.extend(["--db".into(), db.path().into(), "--machine".into(), Q35.into()]);
        args.extend(["--profile".into(), "default".into()]);
        args.extend(extra.iter().map(OsString::from));
        machine_abi(args, &envs)
    };
    let run = record(&[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("host-side facts could not be gathered: QMP:"),
        "{run}"
    );
    assert!(run.stderr.contains("--allow-unavailable"), "{run}");
    assert!(!db.path().join("records").exists(), "nothing may be written\n{run}");

    let run = record(&["--allow-unavailable"]);
    run.expect_code(0);
    let text = std::fs::read_to_string(only_record(db.path(), Q35, "default")).expect("record");
    assert!(text.contains("[host.qmp]") && text.contains("unavailable = "), "{text}");

    // Checking a baseline whose host facts were read, with a QEMU that
    // cannot give them now: could not check, not a warning.
    assert_check_fails(fx, Probe::Bare, Some(shim(fx)), &["--profile", "default"], &envs, "QMP");
}

/// Start a check whose boot hangs, wait until QEMU runs, and hand over the
/// child (the caller waits for it) and QEMU's pid.
#[allow(clippy::zombie_processes)]
fn hanging_check(fx: &Fixtures, pidfile: &Path) -> (std::process::Child, i32) {
    let mut envs = wrapper_env(fx, "qemu-hangs.sh", Release::V7_2);
    envs.push(("MABI_PIDFILE", pidfile.into()));
    let db = baseline(fx);
    let args = check_args(
        fx,
        Release::V7_2,
        Some(shim(fx)),
        db,
        &["--machine", Q35, "--profile", "default"],
    );
    let mut cmd = Command::new(BIN);
    cmd.args(&args).stdout(Stdio::null()).stderr(Stdio::piped());
    for (k, v) in &envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("machine-abi starts");
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
            }
            panic!("machine-abi ended ({status}) before QEMU started: {stderr}");
        }
        if let Ok(text) = std::fs::read_to_string(pidfile) {
            if let Some(pid) = text.lines().next().and_then(|l| l.trim().parse().ok()) {
                return (child, pid);
            }
        }
        assert!(started.elapsed() < Duration::from_secs(120), "QEMU never started");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alive(pid: i32) -> bool {
    // A zombie is dead: only its parent has not waited for it yet.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn scratch_dirs(pid: u32) -> Vec<PathBuf> {
    let tag = format!("-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("machine-abi-") && n.contains(&tag))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The bare probe's guest RAM files of machine-abi process `pid` on /dev/shm.
fn ram_files(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("machine-abi-ram-{pid}-");
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_interrupt_kills_qemu_and_removes_scratch_directories() {
    let Some(fx) = fixtures("an_interrupt_kills_qemu_and_removes_scratch_directories") else {
        return;
    };
    for (signal, code) in [(libc_sig::INT, 130), (libc_sig::TERM, 143)] {
        let work = tempfile::tempdir_in(&fx.work).expect("tmp");
        let (mut child, qemu) = hanging_check(fx, &work.path().join("pids"));
        assert!(alive(qemu));
        assert!(
            !scratch_dirs(child.id()).is_empty(),
            "a running check has its scratch directory"
        );
        assert!(
            !ram_files(child.id()).is_empty(),
            "a running bare-probe boot has its guest RAM file"
        );
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status();
        assert!(status.is_ok_and(|s| s.success()));
        let started = Instant::now();
        let exit = child.wait().expect("machine-abi ends");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        assert_eq!(exit.code(), Some(code), "{signal}: {stderr}");
        assert!(stderr.contains("interrupted by signal"), "{stderr}");
        wait_until("QEMU killed", Duration::from_secs(5), || !alive(qemu));
        assert!(scratch_dirs(child.id()).is_empty(), "{:?}", scratch_dirs(child.id()));
        assert!(ram_files(child.id()).is_empty(), "{:?}", ram_files(child.id()));
    }
}

#[test]
fn a_killed_run_leaves_no_qemu_behind() {
    let Some(fx) = fixtures("a_killed_run_leaves_no_qemu_behind") else {
        return;
    };
    let work = tempfile::tempdir_in(&fx.work).expect("tmp");
    let (mut child, qemu) = hanging_check(fx, &work.path().join("pids"));
    let pid = child.id();
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    // No handler runs on SIGKILL: the parent-death signal ends QEMU.
    wait_until("QEMU ends with its parent", Duration::from_secs(5), || !alive(qemu));
    // And the next run removes the scratch directory the killed one left.
    assert!(
        !scratch_dirs(pid).is_empty(),
        "a killed run leaves its scratch directory"
    );
    assert!(!ram_files(pid).is_empty(), "a killed run leaves its guest RAM file");
    let run = machine_abi(
        {
            let mut a = vec![OsString::from("record")];
            a.extend(fx.boot_args(Release::V7_2, None));
            a.extend([
                "--db".into(),
                work.path().join("db").into(),
                "--machine".into(),
                "none-such".into(),
            ]);
            a
        },
        &[],
    );
    run.expect_code(2);
    assert!(
        scratch_dirs(pid).is_empty(),
        "stale scratch of {pid} left: {:?}",
        scratch_dirs(pid)
    );
    assert!(
        ram_files(pid).is_empty(),
        "stale RAM file of {pid} left: {:?}",
        ram_files(pid)
    );
}

/// Signal names for kill(1).
mod libc_sig {
    pub const INT: &str = "INT";
    pub const TERM: &str = "TERM";
}

#[test]
fn inputs_that_cannot_work_are_named_before_any_boot() {
    let Some(fx) = fixtures("inputs_that_cannot_work_are_named_before_any_boot") else {
        return;
    };
    let db = tempfile::tempdir_in(&fx.work).expect("tmp");
    let record = |replace: &str, with: &Path| {
        let mut args = vec![OsString::from("record")];
        let mut boot = fx.linux_boot_args(Release::V7_2, None);
        if let Some(i) = boot.iter().position(|a| a == replace) {
            boot[i + 1] = with.into();
        }
        args.extend(boot);
        args.extend(["--db".into(), db.path().into(), "--machine".into(), Q35.into()]);
        machine_abi(args, &[])
    };
    // Every --data-dir must exist, the first as much as the second.
    let run = record("--data-dir", Path::new("/nonexistent/firmware"));
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("data directory /nonexistent/firmware does not exist"),
        "{run}"
    );
    // A kernel that is not a kernel is named as such, not in QEMU's words.
    let not_a_kernel = fx.work.join("not-a-kernel");
    std::fs::write(&not_a_kernel, vec![0u8; 4096]).expect("write");
    let run = record("--kernel", &not_a_kernel);
    run.expect_code(2);
    assert!(run.stderr.contains("is not a Linux boot image for x86_64"), "{run}");
    // A probe that is not a static x86_64 executable is refused before a boot.
    let run = record("--probe", Path::new("/bin/sh"));
    run.expect_code(2);
    assert!(run.stderr.contains("dynamically linked"), "{run}");
    // The Linux probe without a kernel, asked for or needed by a machine
    // type the bare probe is not for: named before any boot.
    let mut args = vec![OsString::from("record")];
    args.extend(fx.boot_args(Release::V7_2, None));
    args.extend(["--db".into(), db.path().into(), "--machine".into(), Q35.into()]);
    args.extend(["--probe-kind".into(), "linux".into()]);
    let run = machine_abi(&args, &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("needs a guest kernel: give --kernel"), "{run}");
    let mut args = vec![OsString::from("record")];
    args.extend(fx.boot_args(Release::V7_2, None));
    args.extend(["--db".into(), db.path().into(), "--machine".into(), "microvm".into()]);
    args.push("--all-machines".into());
    let run = machine_abi(&args, &[]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("microvm needs the Linux probe") && run.stderr.contains("give --kernel"),
        "{run}"
    );
    assert!(!db.path().join("records").exists());
}
