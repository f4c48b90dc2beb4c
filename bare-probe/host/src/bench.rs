//! Measurements that decide the design: firmware-only boot, serial
//! throughput, request/response latency, AP bring-up.

use crate::qemu::{self, Qemu, Serial};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Host TSC frequency (TCG's guest TSC is the host TSC plus an offset).
pub fn tsc_hz() -> f64 {
    let t = Instant::now();
    // SAFETY: RDTSC has no preconditions on x86_64.
    let a = unsafe { core::arch::x86_64::_rdtsc() };
    std::thread::sleep(Duration::from_millis(200));
    let b = unsafe { core::arch::x86_64::_rdtsc() };
    (b - a) as f64 / t.elapsed().as_secs_f64()
}

pub fn stats(v: &mut [f64]) -> String {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n == 0 {
        return "-".into();
    }
    format!("min {:.3} med {:.3} max {:.3} (n={n})", v[0], v[n / 2], v[n - 1])
}

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split_whitespace().find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// Firmware-only boots: the image powers off at once.
pub fn firmware(qemus: &[Qemu], machines: &[&str], image: &Path, reps: usize, scratch: &Path) {
    for q in qemus {
        for m in machines {
            let mut t = Vec::new();
            for _ in 0..reps {
                let serial = scratch.join("serial.txt");
                let r = qemu::start(q, m, image, "mode=exit", Serial::File(&serial), &[]).expect("start");
                let f = qemu::finish(r, Duration::from_secs(60));
                assert!(f.ok, "{}", f.stderr);
                t.push(f.elapsed.as_secs_f64());
            }
            println!("firmware-only  qemu {:5} {:16} {}", q.name, m, stats(&mut t));
        }
    }
}

/// Guest writes `n` bytes to COM1 (`how`), host receives through a file or
/// a socket; reports boot time, guest-side time and bytes received.
pub fn throughput(q: &Qemu, m: &str, image: &Path, n: usize, how: &str, socket: bool, scratch: &Path, hz: f64) {
    let append = format!("mode=tput n={n} how={how}");
    let file = scratch.join("serial.txt");
    let sock = scratch.join("serial.sock");
    let mut r = qemu::start(q, m, image, &append, if socket { Serial::Socket(&sock) } else { Serial::File(&file) }, &[])
        .expect("start");
    let mut received = Vec::new();
    if let Some(mut s) = r.stream.take() {
        let _ = s.read_to_end(&mut received);
    }
    let f = qemu::finish(r, Duration::from_secs(120));
    if !socket {
        received = std::fs::read(&file).unwrap_or_default();
    }
    let text = String::from_utf8_lossy(&received);
    let line = text.lines().find(|l| l.starts_with("TPUT")).unwrap_or("");
    let ticks: f64 = field(line, "ticks").and_then(|t| t.parse().ok()).unwrap_or(f64::NAN);
    let payload = received.len().saturating_sub(line.len() + 2);
    let secs = ticks / hz;
    println!(
        "throughput     qemu {:5} {:16} {:4} {:6} bytes {n:7} received {payload:7} guest {:.3} s = {:7.0} kB/s, boot {:.3} s",
        q.name,
        m,
        if socket { "sock" } else { "file" },
        how,
        secs,
        n as f64 / secs / 1000.0,
        f.elapsed.as_secs_f64()
    );
}

/// Round trips of `len`-byte requests echoed by the guest.
pub fn latency(q: &Qemu, m: &str, image: &Path, scratch: &Path) {
    let sock = scratch.join("serial.sock");
    let mut r = qemu::start(q, m, image, "mode=echo", Serial::Socket(&sock), &[]).expect("start");
    let mut s = r.stream.take().expect("socket");
    // Wait for the ready line.
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while s.read_exact(&mut b).is_ok() {
        line.push(b[0]);
        if line.ends_with(b"ECHO ready") {
            break;
        }
    }
    let mut rest = Vec::new();
    while s.read_exact(&mut b).is_ok() && b[0] != b'\n' {
        rest.push(b[0]);
    }
    for (len, reps) in [(1usize, 300usize), (8, 1000), (64, 300), (255, 100)] {
        let mut t = Vec::new();
        let req: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
        let mut msg = vec![len as u8];
        msg.extend_from_slice(&req);
        let mut back = vec![0u8; len];
        for _ in 0..reps {
            let t0 = Instant::now();
            s.write_all(&msg).expect("send");
            s.read_exact(&mut back).expect("receive");
            t.push(t0.elapsed().as_secs_f64() * 1e6);
            assert_eq!(back, req);
        }
        println!("round trip     qemu {:5} {:16} request {len:3} + 1 B, answer {len:3} B: µs {}", q.name, m, stats(&mut t));
    }
    s.write_all(&[0]).expect("end");
    let mut tail = Vec::new();
    let _ = s.read_to_end(&mut tail);
    let f = qemu::finish(r, Duration::from_secs(60));
    assert!(f.ok, "{}", f.stderr);
}

/// AP bring-up and CPUID superset cost, as the guest measures it.
pub fn smp(q: &Qemu, m: &str, image: &Path, scratch: &Path, hz: f64, reps: usize) {
    let mut bring = Vec::new();
    let mut bsp = Vec::new();
    let mut all = Vec::new();
    let mut boot = Vec::new();
    for _ in 0..reps {
        let file = scratch.join("serial.txt");
        let r = qemu::start(q, m, image, "mode=smp", Serial::File(&file), &[]).expect("start");
        let f = qemu::finish(r, Duration::from_secs(60));
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let line = text.lines().find(|l| l.starts_with("SMP")).unwrap_or("");
        let ms = |k: &str| field(line, k).and_then(|t| t.parse::<f64>().ok()).unwrap_or(f64::NAN) / hz * 1e3;
        assert_eq!(field(line, "alive"), Some("1"), "{text}");
        bring.push(ms("bringup_ticks"));
        bsp.push(ms("bsp_cpuid_ticks"));
        all.push(ms("all_done_ticks"));
        boot.push(f.elapsed.as_secs_f64());
    }
    println!("ap bring-up    qemu {:5} {:16} ms {}", q.name, m, stats(&mut bring));
    println!("cpuid bsp      qemu {:5} {:16} ms {}", q.name, m, stats(&mut bsp));
    println!("cpuid all      qemu {:5} {:16} ms {}", q.name, m, stats(&mut all));
    println!("smp boot       qemu {:5} {:16} s  {}", q.name, m, stats(&mut boot));
}

/// Round trips through the shared-memory mailbox (NOP, and 4 KiB reads).
pub fn shm_latency(q: &Qemu, m: &str, image: &Path, scratch: &Path) {
    use crate::mailbox::{self, op, Mailbox};
    let ram = crate::ram_file(scratch);
    let serial = scratch.join("serial.txt");
    let mut r = qemu::start(q, m, image, "mode=serve", Serial::File(&serial), &mailbox::qemu_args(&ram, 512))
        .expect("start");
    let (mut mb, info) = Mailbox::connect(&ram, &mut r.child, Duration::from_secs(60)).expect("connect");
    let ready = r.started.elapsed();
    for (name, opc, args, reps) in [
        ("nop", op::NOP, vec![], 2000usize),
        ("cpuid cpu0", op::CPUID, vec![0, 1, 0], 500),
        ("cpuid cpu1", op::CPUID, vec![1, 1, 0], 500),
        ("read 4 KiB RAM", op::READ_PHYS, vec![0xe0000, 4096], 500),
        ("ecam 4 KiB", op::MMIO_READ_BULK, vec![0xb000_0000, 4096, 4], 200),
        ("fw_cfg 4 B", op::FW_CFG_READ, vec![0, 4, 0], 500),
    ] {
        if m.contains("i440fx") && name.starts_with("ecam") {
            continue;
        }
        let mut t = Vec::new();
        for _ in 0..reps {
            let t0 = Instant::now();
            mb.call(opc, &args, &[]).expect(name);
            t.push(t0.elapsed().as_secs_f64() * 1e6);
        }
        println!("shm round trip qemu {:5} {:16} {name:16} µs {}", q.name, m, stats(&mut t));
    }
    let _ = mb.call(op::POWER_OFF, &[], &[]);
    let f = qemu::finish(r, Duration::from_secs(60));
    let _ = std::fs::remove_file(&ram);
    println!(
        "shm boot       qemu {:5} {:16} ready after {:.3} s (cpus {:?}), exit after {:.3} s ok={}",
        q.name, m, ready.as_secs_f64(), info.apic_ids, f.elapsed.as_secs_f64(), f.ok
    );
}

/// Side by side, interleaved, per boot: firmware-only image, firmware-only
/// with guest RAM on a shared file, the bare probe (every fact), the Linux
/// kernel powering off at once, the Linux probe (every fact).
pub fn side_by_side(qemus: &[Qemu], machines: &[&str], image: &Path, scratch: &Path, reps: usize, linux: Option<&crate::linux::Linux>) {
    use crate::mailbox;
    for q in qemus {
        for m in machines {
            let mut t: [Vec<f64>; 5] = Default::default();
            for _ in 0..reps {
                let serial = scratch.join("serial.txt");
                let r = qemu::start(q, m, image, "mode=exit", Serial::File(&serial), &[]).expect("start");
                let f = qemu::finish(r, Duration::from_secs(60));
                assert!(f.ok, "{}", f.stderr);
                t[0].push(f.elapsed.as_secs_f64());
                let ram = crate::ram_file(scratch);
                let r = qemu::start(q, m, image, "mode=exit", Serial::File(&serial), &mailbox::qemu_args(&ram, 512)).expect("start");
                let f = qemu::finish(r, Duration::from_secs(60));
                let _ = std::fs::remove_file(&ram);
                assert!(f.ok, "{}", f.stderr);
                t[1].push(f.elapsed.as_secs_f64());
                match crate::probe::run(q, m, image, scratch, &[]) {
                    Ok(o) => t[2].push(o.timing.exited.as_secs_f64()),
                    Err(e) => println!("bare probe failed: {e}"),
                }
                if let Some(l) = linux {
                    let (d, ok) = l.boot(q, m, true, scratch);
                    if ok {
                        t[3].push(d.as_secs_f64());
                    }
                    let (d, ok) = l.boot(q, m, false, scratch);
                    if ok {
                        t[4].push(d.as_secs_f64());
                    } else {
                        println!("linux probe boot failed");
                    }
                }
            }
            let names = ["firmware-only", "firmware-only+shm", "bare probe", "linux bare boot", "linux probe"];
            let med = |v: &mut Vec<f64>| {
                v.sort_by(|a, b| a.partial_cmp(b).unwrap());
                v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
            };
            let mut meds = [0.0; 5];
            for (i, v) in t.iter_mut().enumerate() {
                meds[i] = med(v);
                println!("side-by-side   qemu {:5} {:16} {:18} s {}", q.name, m, names[i], stats(v));
            }
            println!(
                "side-by-side   qemu {:5} {:16} bare probe / firmware-only {:.2}x; linux probe / bare probe {:.1}x",
                q.name,
                m,
                meds[2] / meds[0],
                meds[4] / meds[2]
            );
        }
    }
}
