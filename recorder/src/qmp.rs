//! A small QMP client of our own and the host-side facts read through it.
//!
//! QEMU is started paused (`-S`) under TCG with its QMP monitor on stdio, so
//! no guest runs and no socket path is needed. Every read has a deadline: a
//! reader thread turns QEMU's stdout into lines on a channel and the client
//! waits with `recv_timeout`, so a QEMU that hangs or dies gives an error
//! naming the machine type and the command instead of a hang.

use abi_model::host::{
    CompatProp, CompatProps, CpuModelFacts, DeviceFacts, HostFacts, MachineFacts, QmpVersion, QomPath,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The pseudo-command named in errors that happen before any command is sent.
pub const GREETING: &str = "(greeting)";

/// Deepest QOM path below `/machine` that the device walk descends to; the
/// default device trees of the PC machines are 3 levels deep.
pub const MAX_QOM_DEPTH: usize = 12;

/// Most QOM objects the walk visits before giving up; a PC machine has ~300.
pub const MAX_QOM_OBJECTS: usize = 8192;

/// Longest single QMP line accepted (the 10.0 `query-machines` with
/// compat-props is ~0.5 MB), so a runaway QEMU cannot exhaust memory.
const MAX_LINE_BYTES: u64 = 64 << 20;

/// How much of QEMU's stderr is kept for error messages.
const STDERR_TAIL_BYTES: usize = 4096;

/// What went wrong talking to QEMU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QmpErrorKind {
    /// The binary could not be started or written to.
    Io(String),
    /// No reply within the deadline.
    Timeout(Duration),
    /// QEMU closed its QMP output (it exited or crashed).
    Exited {
        /// Exit status, if QEMU was reaped in time.
        status: Option<ExitStatus>,
        /// The end of QEMU's stderr.
        stderr: String,
    },
    /// QEMU sent something that is not the QMP we expect.
    Protocol(String),
    /// QEMU answered the command with a QMP error.
    Command {
        /// The QMP error class, e.g. `GenericError`.
        class: String,
        /// QEMU's description of the error.
        desc: String,
    },
    /// The reply was QMP but not what the fact collection needs.
    Unexpected(String),
}

/// An error from the QMP client or the fact collection, with its context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QmpError {
    /// The QEMU binary.
    pub binary: PathBuf,
    /// The machine type QEMU was started with.
    pub machine: String,
    /// The QMP command being run, or [`GREETING`].
    pub command: String,
    /// What failed.
    pub kind: QmpErrorKind,
}

impl fmt::Display for QmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "QEMU {} -M {}: {}: ",
            self.binary.display(),
            self.machine,
            self.command
        )?;
        match &self.kind {
            QmpErrorKind::Io(e) => write!(f, "{e}"),
            QmpErrorKind::Timeout(d) => write!(f, "no reply within {:.1}s", d.as_secs_f64()),
            QmpErrorKind::Exited { status, stderr } => {
                write!(f, "QEMU exited")?;
                if let Some(s) = status {
                    write!(f, " ({s})")?;
                }
                if !stderr.trim().is_empty() {
                    write!(f, "; stderr: {}", stderr.trim())?;
                }
                Ok(())
            }
            QmpErrorKind::Protocol(e) => write!(f, "bad QMP: {e}"),
            QmpErrorKind::Command { class, desc } => write!(f, "{class}: {desc}"),
            QmpErrorKind::Unexpected(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for QmpError {}

/// One line from QEMU's stdout, or why reading stopped early.
type Line = Result<String, String>;

/// A running, paused QEMU with its QMP monitor on stdio. QEMU is killed when
/// this is dropped.
pub struct Qmp {
    binary: PathBuf,
    machine: String,
    timeout: Duration,
    child: abi_process::Started,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<StderrTail>>,
    greeting: Value,
    next_id: u64,
}

/// The end of QEMU's stderr, filled by a thread.
#[derive(Default)]
struct StderrTail {
    text: String,
    /// Bytes of text received so far, the trimmed ones included: where
    /// `text` ends in the whole stream.
    total: usize,
    closed: bool,
}

impl StderrTail {
    /// What was received after `mark` (a [`StderrTail::total`] of earlier),
    /// as far as the kept tail reaches back.
    fn since(&self, mark: usize) -> String {
        let start = self.total - self.text.len();
        let mut from = mark.saturating_sub(start).min(self.text.len());
        while !self.text.is_char_boundary(from) {
            from += 1;
        }
        self.text[from..].to_string()
    }
}

impl Qmp {
    /// Start `binary` paused under TCG for `machine` (with `-L` for each data
    /// directory), read the greeting and negotiate capabilities. `timeout`
    /// bounds the wait for each reply, the greeting included.
    pub fn start(binary: &Path, data_dirs: &[PathBuf], machine: &str, timeout: Duration) -> Result<Qmp, QmpError> {
        Qmp::start_with(
            &crate::qemu::Qemu::new(binary.to_path_buf(), data_dirs.to_vec()),
            machine,
            timeout,
        )
    }

    /// [`Qmp::start`] for a QEMU as configured (its sysroot, if any).
    pub fn start_with(q: &crate::qemu::Qemu, machine: &str, timeout: Duration) -> Result<Qmp, QmpError> {
        Qmp::start_args(q, machine, &[], timeout)
    }

    /// [`Qmp::start_with`] with more QEMU arguments (devices, `-incoming`).
    pub fn start_args(
        q: &crate::qemu::Qemu,
        machine: &str,
        extra: &[String],
        timeout: Duration,
    ) -> Result<Qmp, QmpError> {
        let (binary, data_dirs) = (q.binary.as_path(), q.data_dirs.as_slice());
        // With QEMU_MODULE_DIR: an unpacked build finds its modules only through it.
        let mut cmd = q.command();
        for dir in data_dirs {
            cmd.arg("-L").arg(dir);
        }
        // No -nodefaults: the machine's own default devices are the point.
        cmd.args([
            "-M", machine, "-accel", "tcg", "-S", "-display", "none", "-qmp", "stdio",
        ]);
        cmd.args(extra);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let err = |kind| QmpError {
            binary: binary.to_path_buf(),
            machine: machine.to_string(),
            command: GREETING.to_string(),
            kind,
        };
        let mut child =
            abi_process::spawn(&mut cmd).map_err(|e| err(QmpErrorKind::Io(format!("cannot start: {e}"))))?;
        let (Some(stdout), Some(stderr_pipe)) = (child.0.stdout.take(), child.0.stderr.take()) else {
            return Err(err(QmpErrorKind::Io("no stdout/stderr pipe".into())));
        };
        let stdin = child.0.stdin.take();
        let mut qmp = Qmp {
            binary: binary.to_path_buf(),
            machine: machine.to_string(),
            timeout,
            child,
            stdin,
            lines: spawn_line_reader(stdout),
            stderr: spawn_stderr_reader(stderr_pipe),
            greeting: Value::Null,
            next_id: 0,
        };
        let deadline = Instant::now() + timeout;
        let greeting = qmp.read_message(GREETING, deadline)?;
        if greeting.get("QMP").is_none() {
            return Err(qmp.err(
                GREETING,
                QmpErrorKind::Protocol(format!("expected a greeting, got {greeting}")),
            ));
        }
        qmp.greeting = greeting;
        qmp.execute("qmp_capabilities", None)?;
        Ok(qmp)
    }

    /// The greeting QEMU sent (`{"QMP": {"version": ..., "capabilities": ...}}`).
    pub fn greeting(&self) -> &Value {
        &self.greeting
    }

    /// The process id of QEMU.
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// The machine type this QEMU was started with.
    pub fn machine(&self) -> &str {
        &self.machine
    }

    fn err(&self, command: &str, kind: QmpErrorKind) -> QmpError {
        QmpError {
            binary: self.binary.clone(),
            machine: self.machine.clone(),
            command: command.to_string(),
            kind,
        }
    }

    /// Run one QMP command and return its `return` value. Asynchronous events
    /// and replies to earlier, timed-out commands are skipped.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        self.next_id += 1;
        let id = self.next_id;
        let mut request = Map::new();
        request.insert("execute".into(), Value::String(command.to_string()));
        if let Some(args) = arguments {
            request.insert("arguments".into(), args);
        }
        request.insert("id".into(), json!(id));
        let mut text = Value::Object(request).to_string();
        text.push('\n');
        let written = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(text.as_bytes()).and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("stdin already closed")),
        };
        if let Err(e) = written {
            // A broken pipe means QEMU is gone; report it like a closed stdout.
            return Err(match e.kind() {
                std::io::ErrorKind::BrokenPipe => self.exited(command),
                _ => self.err(command, QmpErrorKind::Io(format!("cannot send: {e}"))),
            });
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            let message = self.read_message(command, deadline)?;
            if message.get("event").is_some() {
                continue;
            }
            // QEMU echoes our id; a reply without one (e.g. to unparsable input) is ours too.
            match message.get("id") {
                Some(got) if got != &json!(id) => continue,
                _ => {}
            }
            if let Some(value) = message.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = message.get("error") {
                let field = |name: &str| error.get(name).and_then(Value::as_str).unwrap_or("").to_string();
                return Err(self.err(
                    command,
                    QmpErrorKind::Command {
                        class: field("class"),
                        desc: field("desc"),
                    },
                ));
            }
            return Err(self.err(command, QmpErrorKind::Protocol(format!("unexpected message {message}"))));
        }
    }

    /// Read the next JSON message, waiting at most until `deadline`.
    fn read_message(&mut self, command: &str, deadline: Instant) -> Result<Value, QmpError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Ok(line)) => {
                    if line.trim().is_empty() {
                        continue;
                    }
                    return serde_json::from_str(&line).map_err(|e| {
                        let shown: String = line.chars().take(200).collect();
                        self.err(command, QmpErrorKind::Protocol(format!("{e} in {shown:?}")))
                    });
                }
                Ok(Err(e)) => return Err(self.err(command, QmpErrorKind::Io(e))),
                Err(RecvTimeoutError::Timeout) => return Err(self.err(command, QmpErrorKind::Timeout(self.timeout))),
                Err(RecvTimeoutError::Disconnected) => return Err(self.exited(command)),
            }
        }
    }

    /// A mark in QEMU's stderr, for [`Qmp::stderr_since`]: everything it
    /// wrote so far. What QEMU wrote before its last QMP reply is in the
    /// pipe by then; this waits until the reader has taken it (no new bytes
    /// for 20 ms, at most half a second).
    pub fn stderr_mark(&self) -> usize {
        let total = || self.stderr.lock().map(|t| t.total).unwrap_or(0);
        let until = Instant::now() + Duration::from_millis(500);
        let mut seen = total();
        loop {
            thread::sleep(Duration::from_millis(20));
            let now = total();
            if now == seen || Instant::now() >= until {
                return now;
            }
            seen = now;
        }
    }

    /// What QEMU wrote to stderr after `mark` ([`Qmp::stderr_mark`]), as far
    /// as the kept tail reaches back: its words about a later command
    /// without the warnings of its start.
    pub fn stderr_since(&self, mark: usize) -> String {
        self.stderr.lock().map(|t| t.since(mark)).unwrap_or_default()
    }

    /// The error for a QEMU that closed its output: reap it briefly for the
    /// exit status and let the stderr thread catch up, without blocking long.
    fn exited(&mut self, command: &str) -> QmpError {
        let until = Instant::now() + Duration::from_millis(500);
        let mut status = None;
        while Instant::now() < until {
            if status.is_none() {
                status = self.child.0.try_wait().ok().flatten();
            }
            let closed = self.stderr.lock().map(|t| t.closed).unwrap_or(true);
            if status.is_some() && closed {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let stderr = self.stderr.lock().map(|t| t.text.clone()).unwrap_or_default();
        self.err(command, QmpErrorKind::Exited { status, stderr })
    }
}

impl Drop for Qmp {
    fn drop(&mut self) {
        // Closing stdin first lets a well-behaved QEMU see EOF; the kill is what counts.
        drop(self.stdin.take());
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
    }
}

/// Turn QEMU's stdout into lines on a channel; the channel closes at EOF.
fn spawn_line_reader(stdout: impl Read + Send + 'static) -> Receiver<Line> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut buf = Vec::new();
            match reader.by_ref().take(MAX_LINE_BYTES).read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) if !buf.ends_with(b"\n") && buf.len() as u64 >= MAX_LINE_BYTES => {
                    let _ = tx.send(Err(format!("QMP line longer than {MAX_LINE_BYTES} bytes")));
                    break;
                }
                Ok(_) => {
                    if tx.send(Ok(String::from_utf8_lossy(&buf).into_owned())).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("reading QMP output: {e}")));
                    break;
                }
            }
        }
    });
    rx
}

/// Keep the last [`STDERR_TAIL_BYTES`] of QEMU's stderr; draining it also
/// keeps QEMU from blocking on a full pipe.
fn spawn_stderr_reader(stderr: impl Read + Send + 'static) -> Arc<Mutex<StderrTail>> {
    let tail = Arc::new(Mutex::new(StderrTail::default()));
    let shared = Arc::clone(&tail);
    thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut chunk = [0u8; 4096];
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Ok(mut t) = shared.lock() {
                let text = String::from_utf8_lossy(&chunk[..n]);
                t.total += text.len();
                t.text.push_str(&text);
                if t.text.len() > STDERR_TAIL_BYTES {
                    let mut cut = t.text.len() - STDERR_TAIL_BYTES;
                    while !t.text.is_char_boundary(cut) {
                        cut += 1;
                    }
                    t.text.drain(..cut);
                }
            }
        }
        if let Ok(mut t) = shared.lock() {
            t.closed = true;
        }
    });
    tail
}

/// QOM property types whose values are the current time, not an ABI fact.
const VOLATILE_PROPERTY_TYPES: &[&str] = &["struct tm"];

/// One entry of `qom-list`.
#[derive(Deserialize)]
struct QomProperty {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

/// One entry of `query-cpu-definitions`, the fields we need.
#[derive(Deserialize)]
struct CpuDefinition {
    name: String,
    typename: Option<String>,
}

/// Start `binary` paused for `machine` and collect its [`HostFacts`].
/// `timeout` bounds startup and every single QMP reply; the QOM walk is
/// bounded by [`MAX_QOM_DEPTH`] and [`MAX_QOM_OBJECTS`], and exceeding them
/// is an error rather than a silently partial result.
pub fn host_facts(q: &crate::qemu::Qemu, machine: &str, timeout: Duration) -> Result<HostFacts, QmpError> {
    let mut qmp = Qmp::start_with(q, machine, timeout)?;
    let qemu = greeting_version(&qmp)?;
    let machine_facts = query_machine(&mut qmp)?;
    let devices = devices(&mut qmp)?;
    let cpu_model = match &machine_facts.default_cpu_type {
        Some(cpu_type) => Some(cpu_model(&mut qmp, cpu_type)?),
        None => None,
    };
    Ok(HostFacts {
        qemu,
        machine: machine_facts,
        devices,
        cpu_model,
    })
}

/// The QOM types of the devices a machine type creates by itself when QEMU
/// runs with its defaults (no `-nodefaults`, no devices given): the
/// children of `/machine/unattached`, in QEMU's order. Among them are the
/// default display (`VGA`, or `cirrus-vga` on pc-i440fx-2.1 and older) and
/// the default NIC (`e1000`, `e1000e`, …), whose option ROMs a boot loads.
pub fn default_device_types(q: &crate::qemu::Qemu, machine: &str, timeout: Duration) -> Result<Vec<String>, QmpError> {
    const PATH: &str = "/machine/unattached";
    let mut qmp = Qmp::start_with(q, machine, timeout)?;
    let reply = qom_command(&mut qmp, "qom-list", PATH, json!({ "path": PATH }))?;
    let properties: Vec<QomProperty> = decode(&qmp, "qom-list", reply)?;
    Ok(child_types(properties))
}

/// The types of the `child<TYPE>` properties of a `qom-list` reply.
fn child_types(properties: Vec<QomProperty>) -> Vec<String> {
    properties
        .into_iter()
        .filter_map(|p| {
            p.kind
                .strip_prefix("child<")
                .and_then(|t| t.strip_suffix('>'))
                .map(str::to_string)
        })
        .collect()
}

/// Decode a reply into `T`, naming the command when it does not fit.
fn decode<T: for<'de> Deserialize<'de>>(qmp: &Qmp, command: &str, value: Value) -> Result<T, QmpError> {
    serde_json::from_value(value).map_err(|e| qmp.err(command, QmpErrorKind::Unexpected(format!("reply: {e}"))))
}

fn greeting_version(qmp: &Qmp) -> Result<QmpVersion, QmpError> {
    let version = &qmp.greeting()["QMP"]["version"];
    let number = |field: &str| version["qemu"][field].as_u64();
    match (number("major"), number("minor"), number("micro")) {
        (Some(major), Some(minor), Some(micro)) => Ok(QmpVersion {
            major,
            minor,
            micro,
            package: version["package"].as_str().unwrap_or("").to_string(),
        }),
        _ => Err(qmp.err(
            GREETING,
            QmpErrorKind::Protocol(format!("no version in greeting {}", qmp.greeting())),
        )),
    }
}

/// `query-machines` as QEMU sends it; unknown fields (e.g. `kvm-type`) are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawMachine {
    name: String,
    alias: Option<String>,
    #[serde(default)]
    is_default: bool,
    default_cpu_type: Option<String>,
    default_ram_id: Option<String>,
    hotpluggable_cpus: bool,
    numa_mem_supported: bool,
    deprecated: bool,
    cpu_max: u64,
    acpi: Option<bool>,
    compat_props: Option<Vec<CompatProp>>,
}

/// The `query-machines` entry for the running machine type, with compat
/// props when this QEMU can report them (the argument exists since 9.1).
fn query_machine(qmp: &mut Qmp) -> Result<MachineFacts, QmpError> {
    const COMMAND: &str = "query-machines";
    let (reply, unsupported) = match qmp.execute(COMMAND, Some(json!({ "compat-props": true }))) {
        Ok(reply) => (reply, None),
        // 7.2 answers "Parameter 'compat-props' is unexpected"; any other error is real.
        Err(QmpError {
            kind: QmpErrorKind::Command { desc, .. },
            ..
        }) if desc.contains("compat-props") => (qmp.execute(COMMAND, None)?, Some(desc)),
        Err(e) => return Err(e),
    };
    let machines: Vec<RawMachine> = decode(qmp, COMMAND, reply)?;
    let wanted = qmp.machine().to_string();
    let raw = machines
        .into_iter()
        .find(|m| m.name == wanted || m.alias.as_deref() == Some(wanted.as_str()))
        .ok_or_else(|| {
            qmp.err(
                COMMAND,
                QmpErrorKind::Unexpected(format!("no entry for machine type {wanted}")),
            )
        })?;
    let compat_props = match (raw.compat_props, unsupported) {
        (Some(props), _) => CompatProps::Supported(props),
        (None, Some(reason)) => CompatProps::Unsupported(reason),
        (None, None) => {
            let why = "compat-props accepted but not returned";
            return Err(qmp.err(COMMAND, QmpErrorKind::Unexpected(why.into())));
        }
    };
    Ok(MachineFacts {
        name: raw.name,
        alias: raw.alias,
        is_default: raw.is_default,
        default_cpu_type: raw.default_cpu_type,
        default_ram_id: raw.default_ram_id,
        hotpluggable_cpus: raw.hotpluggable_cpus,
        numa_mem_supported: raw.numa_mem_supported,
        deprecated: raw.deprecated,
        cpu_max: raw.cpu_max,
        acpi: raw.acpi,
        compat_props,
    })
}

/// Run a command about one QOM path, naming the path in any error.
fn qom_command(qmp: &mut Qmp, command: &str, path: &str, args: Value) -> Result<Value, QmpError> {
    qmp.execute(command, Some(args)).map_err(|mut e| {
        e.command = format!("{command} {path}");
        e
    })
}

/// Walk the QOM composition tree under `/machine` and read the properties
/// of every object whose type is a device.
fn devices(qmp: &mut Qmp) -> Result<BTreeMap<QomPath, DeviceFacts>, QmpError> {
    const TYPES: &str = "qom-list-types";
    let reply = qmp.execute(TYPES, Some(json!({ "implements": "device", "abstract": true })))?;
    let device_types: BTreeSet<String> = decode::<Vec<QomTypeName>>(qmp, TYPES, reply)?
        .into_iter()
        .map(|t| t.name)
        .collect();

    let mut devices = BTreeMap::new();
    // Depth-first, children in name order, so a bound that trips trips the same way each run.
    let mut pending: Vec<(String, String, usize)> = vec![("/machine".to_string(), String::new(), 0)];
    let mut visited = 0usize;
    while let Some((path, qom_type, depth)) = pending.pop() {
        visited += 1;
        if visited > MAX_QOM_OBJECTS {
            let why = format!("more than {MAX_QOM_OBJECTS} QOM objects under /machine");
            return Err(qmp.err("qom-list", QmpErrorKind::Unexpected(why)));
        }
        let reply = qom_command(qmp, "qom-list", &path, json!({ "path": path }))?;
        let mut properties: Vec<QomProperty> = decode(qmp, "qom-list", reply)?;
        properties.sort_by(|a, b| a.name.cmp(&b.name));
        if device_types.contains(&qom_type) {
            let facts = device_facts(qmp, &path, &qom_type, &properties)?;
            devices.insert(path.clone(), facts);
        }
        let mut children = Vec::new();
        for p in &properties {
            let Some(child_type) = p.kind.strip_prefix("child<").and_then(|t| t.strip_suffix('>')) else {
                continue;
            };
            if depth + 1 > MAX_QOM_DEPTH {
                let why = format!("QOM tree deeper than {MAX_QOM_DEPTH} at {path}/{}", p.name);
                return Err(qmp.err("qom-list", QmpErrorKind::Unexpected(why)));
            }
            children.push((format!("{path}/{}", p.name), child_type.to_string(), depth + 1));
        }
        // Reversed so that popping visits them in name order.
        pending.extend(children.into_iter().rev());
    }
    Ok(devices)
}

/// An entry of `qom-list-types`; only the name matters.
#[derive(Deserialize)]
struct QomTypeName {
    name: String,
}

/// Read every plain property of one device with `qom-get`.
fn device_facts(qmp: &mut Qmp, path: &str, qom_type: &str, props: &[QomProperty]) -> Result<DeviceFacts, QmpError> {
    let mut facts = DeviceFacts {
        qom_type: qom_type.to_string(),
        properties: BTreeMap::new(),
        unreadable: BTreeMap::new(),
        volatile: BTreeMap::new(),
    };
    for p in props {
        // Links and children are structure, walked separately, not values.
        if p.kind.starts_with("link<") || p.kind.starts_with("child<") {
            continue;
        }
        if VOLATILE_PROPERTY_TYPES.contains(&p.kind.as_str()) {
            facts.volatile.insert(p.name.clone(), p.kind.clone());
            continue;
        }
        match qom_command(qmp, "qom-get", path, json!({ "path": path, "property": p.name })) {
            Ok(value) => {
                facts.properties.insert(p.name.clone(), value);
            }
            Err(QmpError {
                kind: QmpErrorKind::Command { desc, .. },
                ..
            }) => {
                facts.unreadable.insert(p.name.clone(), desc);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(facts)
}

/// Fully expand the CPU model whose QOM type is `cpu_type`.
fn cpu_model(qmp: &mut Qmp, cpu_type: &str) -> Result<CpuModelFacts, QmpError> {
    const DEFINITIONS: &str = "query-cpu-definitions";
    const EXPANSION: &str = "query-cpu-model-expansion";
    let reply = qmp.execute(DEFINITIONS, None)?;
    let definitions: Vec<CpuDefinition> = decode(qmp, DEFINITIONS, reply)?;
    // The expansion wants a model name; the machine gives a QOM type name.
    let name = definitions
        .into_iter()
        .find(|d| d.typename.as_deref() == Some(cpu_type))
        .map(|d| d.name)
        .ok_or_else(|| {
            let why = format!("no CPU model has QOM type {cpu_type}");
            qmp.err(DEFINITIONS, QmpErrorKind::Unexpected(why))
        })?;
    let reply = qmp.execute(EXPANSION, Some(json!({ "type": "full", "model": { "name": name } })))?;
    #[derive(Deserialize)]
    struct Expansion {
        model: ExpandedModel,
    }
    #[derive(Deserialize)]
    struct ExpandedModel {
        name: String,
        #[serde(default)]
        props: BTreeMap<String, Value>,
    }
    let expansion: Expansion = decode(qmp, EXPANSION, reply)?;
    Ok(CpuModelFacts {
        model: expansion.model.name,
        properties: expansion.model.props,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu::Qemu;

    /// The real QEMU of `version` and its `-L` directories; `None` (after
    /// saying so) when the fixture is missing, a failure under CI.
    fn fixture(version: &str) -> Option<(PathBuf, Vec<PathBuf>)> {
        let root = testkit::fixture_dir();
        let binary = root.join(format!("qemu-{version}/usr/bin/qemu-system-x86_64"));
        if !testkit::require(&format!("QMP tests of QEMU {version}"), &[&binary]) {
            return None;
        }
        let dirs = vec![
            root.join("firmware"),
            root.join(format!("qemu-{version}/usr/share/qemu")),
        ];
        Some((binary, dirs))
    }

    const TIMEOUT: Duration = Duration::from_secs(30);

    #[test]
    fn stderr_since_a_mark_leaves_out_what_came_before() {
        let mut t = StderrTail::default();
        let put = |t: &mut StderrTail, s: &str, keep: usize| {
            t.total += s.len();
            t.text.push_str(s);
            let cut = t.text.len().saturating_sub(keep);
            t.text.drain(..cut);
        };
        put(&mut t, "warning: Machine type 'pc-q35-7.2' is deprecated\n", 4096);
        let mark = t.total;
        assert_eq!(t.since(mark), "");
        put(&mut t, "Missing section footer for 0000:00:0c.0/pciespscsi\n", 4096);
        assert_eq!(t.since(mark), "Missing section footer for 0000:00:0c.0/pciespscsi\n");
        assert_eq!(t.since(0), t.text);
        // The tail was trimmed past the mark: what is kept is all after it.
        put(&mut t, "load of migration failed: Invalid argument\n", 20);
        assert_eq!(t.since(mark), "d: Invalid argument\n");
    }

    /// The one device of `qom_type`, by its QOM type rather than its path,
    /// since `/machine/unattached/device[N]` numbering differs by version.
    fn device<'a>(facts: &'a HostFacts, qom_type: &str) -> (&'a str, &'a DeviceFacts) {
        let found: Vec<_> = facts.devices.iter().filter(|(_, d)| d.qom_type == qom_type).collect();
        assert_eq!(found.len(), 1, "devices of type {qom_type}: {found:?}");
        (found[0].0.as_str(), found[0].1)
    }

    /// Facts every pc-q35-7.2 shares whichever binary runs it (checked by
    /// hand with a QMP session on both 7.2.22 and 10.0.2).
    fn check_q35_7_2_common(facts: &HostFacts) {
        let m = &facts.machine;
        assert_eq!(m.name, "pc-q35-7.2");
        assert_eq!(m.default_cpu_type.as_deref(), Some("qemu64-x86_64-cpu"));
        assert_eq!(m.default_ram_id.as_deref(), Some("pc.ram"));
        assert_eq!((m.cpu_max, m.hotpluggable_cpus, m.deprecated), (288, true, false));
        assert!(!m.numa_mem_supported);
        assert_eq!(
            facts.devices.len(),
            38,
            "{:?}",
            facts.devices.keys().collect::<Vec<_>>()
        );

        let (path, lpc) = device(facts, "ICH9-LPC");
        assert!(path.starts_with("/machine/unattached/device["), "{path}");
        assert_eq!(lpc.properties["noreboot"], json!(true));
        assert_eq!(lpc.properties["addr"], json!(0xf8)); // 1f.0
        assert_eq!(lpc.properties["legacy-addr"], json!("1f.0"));
        assert_eq!(lpc.properties["gpe0_blk"], json!(32));

        let host = &facts.devices["/machine/q35"];
        assert_eq!(host.qom_type, "q35-pcihost");
        assert_eq!(host.properties["pci-hole64-size"], json!(32u64 << 30));
        assert_eq!(facts.devices["/machine/q35/mch"].qom_type, "mch");

        // The RTC's date is the wall clock: skipped, not recorded.
        let (_, rtc) = device(facts, "mc146818rtc");
        assert_eq!(rtc.volatile.get("date").map(String::as_str), Some("struct tm"));
        assert!(!rtc.properties.contains_key("date"));
        assert_eq!(rtc.properties["iobase"], json!(0x70));

        let (_, cpu) = device(facts, "qemu64-x86_64-cpu");
        assert_eq!(cpu.properties["model-id"], json!("QEMU Virtual CPU version 2.5+"));
        assert_eq!(
            cpu.unreadable.get("crash-information").map(String::as_str),
            Some("No crash occurred")
        );

        let model = facts.cpu_model.as_ref().expect("qemu64 expansion");
        assert_eq!(model.model, "qemu64");
        assert_eq!(model.properties["cmov"], json!(true));
        assert_eq!(model.properties["aes"], json!(false));
        assert_eq!(model.properties["xlevel"], json!(0x8000_000a_u64));
    }

    #[test]
    fn qemu_7_2_pc_q35_7_2() {
        let Some((binary, dirs)) = fixture("7.2") else { return };
        let facts = host_facts(&Qemu::new(binary.clone(), dirs.clone()), "pc-q35-7.2", TIMEOUT).expect("host facts");
        check_q35_7_2_common(&facts);
        assert_eq!((facts.qemu.major, facts.qemu.minor, facts.qemu.micro), (7, 2, 22));
        assert_eq!(facts.machine.alias.as_deref(), Some("q35"));
        assert_eq!(facts.machine.acpi, None);
        assert_eq!(
            facts.machine.compat_props,
            CompatProps::Unsupported("Parameter 'compat-props' is unexpected".into())
        );
        let (_, lpc) = device(&facts, "ICH9-LPC");
        assert_eq!(lpc.properties["rombar"], json!(1));
        // 7.2 creates the RTC on its own; 10.0 makes it a child of the LPC bridge.
        assert_eq!(device(&facts, "mc146818rtc").0, "/machine/unattached/device[8]");
        assert_eq!(facts.cpu_model.as_ref().map(|m| m.properties.len()), Some(430));
    }

    #[test]
    fn qemu_10_0_pc_q35_7_2() {
        let Some((binary, dirs)) = fixture("10.0") else { return };
        let facts = host_facts(&Qemu::new(binary.clone(), dirs.clone()), "pc-q35-7.2", TIMEOUT).expect("host facts");
        check_q35_7_2_common(&facts);
        assert_eq!((facts.qemu.major, facts.qemu.minor, facts.qemu.micro), (10, 0, 2));
        assert_eq!(facts.machine.alias, None);
        assert_eq!(facts.machine.acpi, Some(true));
        let compat = &facts.machine.compat_props;
        let CompatProps::Supported(list) = compat else {
            panic!("10.0 reports compat props: {compat:?}")
        };
        assert_eq!(list.len(), 44);
        // pc_compat_7_2 and hw_compat_7_2.
        assert_eq!(compat.get("ICH9-LPC", "noreboot"), Some("true"));
        assert_eq!(compat.get("e1000e", "migrate-timadj"), Some("off"));
        assert_eq!(compat.get("migration", "x-preempt-pre-7-2"), Some("true"));
        // Listed twice (9.2's 39 then an older 64): the later entry is the effective one.
        assert_eq!(
            list.iter()
                .filter(|p| p.qom_type == "virtio-iommu-pci" && p.property == "aw-bits")
                .count(),
            2
        );
        assert_eq!(compat.get("virtio-iommu-pci", "aw-bits"), Some("64"));
        let (_, lpc) = device(&facts, "ICH9-LPC");
        assert_eq!(lpc.properties["rombar"], json!(-1));
        assert_eq!(lpc.properties["x-smi-swsmi-timer"], json!(false));
        assert_eq!(device(&facts, "mc146818rtc").0, "/machine/unattached/device[2]/rtc");
        assert_eq!(facts.cpu_model.as_ref().map(|m| m.properties.len()), Some(499));
    }

    #[test]
    fn qemu_10_0_compat_props_reach_devices() {
        let Some((binary, dirs)) = fixture("10.0") else { return };
        // From 8.0 on the ICH9-LPC default is noreboot=false; only pre-8.0 compat sets it.
        let facts = host_facts(&Qemu::new(binary.clone(), dirs.clone()), "pc-q35-8.0", TIMEOUT).expect("host facts");
        assert_eq!(facts.machine.compat_props.get("ICH9-LPC", "noreboot"), None);
        assert_eq!(device(&facts, "ICH9-LPC").1.properties["noreboot"], json!(false));

        let facts = host_facts(&Qemu::new(binary.clone(), dirs.clone()), "pc-i440fx-7.2", TIMEOUT).expect("host facts");
        let host = &facts.devices["/machine/i440fx"];
        assert_eq!(host.qom_type, "i440FX-pcihost");
        assert_eq!(host.properties["pci-hole64-size"], json!(2u64 << 30));
        assert_eq!(host.properties["pci-type"], json!("i440FX"));
        assert_eq!(
            facts.devices["/machine/i440fx/ioapic"].properties["version"],
            json!(0x20)
        );
        assert_eq!(device(&facts, "PIIX3").0, "/machine/unattached/device[3]");
        assert_eq!(device(&facts, "PIIX4_PM").0, "/machine/unattached/device[3]/pm");
    }

    #[test]
    fn facts_round_trip_through_json() {
        let Some((binary, dirs)) = fixture("7.2") else { return };
        let facts = host_facts(&Qemu::new(binary.clone(), dirs.clone()), "pc-i440fx-7.2", TIMEOUT).expect("host facts");
        let text = serde_json::to_string(&facts).expect("serialise");
        let back: HostFacts = serde_json::from_str(&text).expect("deserialise");
        assert_eq!(back, facts);
        // A second run gives the same facts: nothing volatile slipped through.
        assert_eq!(
            host_facts(&Qemu::new(binary.clone(), dirs.clone()), "pc-i440fx-7.2", TIMEOUT).expect("host facts"),
            facts
        );
        assert!(text.contains(r#""compat-props":{"unsupported":"Parameter 'compat-props' is unexpected"}"#));
    }

    /// Not a check: wall time of `host_facts` per binary and over every
    /// versioned PC machine type of 10.0. Run with `--ignored --nocapture`.
    #[test]
    #[ignore]
    fn measure_host_facts() {
        for version in ["7.2", "10.0"] {
            let Some((binary, dirs)) = fixture(version) else {
                continue;
            };
            let start = Instant::now();
            let facts =
                host_facts(&Qemu::new(binary.clone(), dirs.clone()), "pc-q35-7.2", TIMEOUT).expect("host facts");
            let props: usize = facts.devices.values().map(|d| d.properties.len()).sum();
            eprintln!(
                "{version} pc-q35-7.2: {:?}, {} devices, {props} properties",
                start.elapsed(),
                facts.devices.len()
            );
        }
        let Some((binary, dirs)) = fixture("10.0") else { return };
        let help = std::process::Command::new(&binary)
            .args(["-machine", "help"])
            .output()
            .expect("-machine help");
        let help = String::from_utf8_lossy(&help.stdout);
        let machines: Vec<&str> = help
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with("pc-q35-") || n.starts_with("pc-i440fx-"))
            .collect();
        let start = Instant::now();
        let mut slowest = (Duration::ZERO, "");
        for machine in &machines {
            let one = Instant::now();
            host_facts(&Qemu::new(binary.clone(), dirs.clone()), machine, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
            slowest = slowest.max((one.elapsed(), machine));
        }
        eprintln!(
            "10.0: {} machine types in {:?}, slowest {slowest:?}",
            machines.len(),
            start.elapsed()
        );
    }
}

/// Error handling against fake QEMUs: tiny shell scripts that exit, hang or
/// misbehave. These test the client, not QEMU.
#[cfg(test)]
mod fake_qemu_tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const GREETING_LINE: &str = r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 0, "major": 99}, "package": "fake"}, "capabilities": []}}"#;

    /// Write `body` as an executable `/bin/sh` script unique to `name`.
    fn script(name: &str, body: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("qmp-fake-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let path = dir.join("qemu-system-x86_64");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    /// `host_facts`, retrying the spawn while another test thread's fork
    /// still holds the freshly written script open (ETXTBSY).
    fn run(binary: &Path, timeout: Duration) -> (Result<HostFacts, QmpError>, Duration) {
        loop {
            let start = Instant::now();
            let result = host_facts(
                &crate::qemu::Qemu::new(binary.to_path_buf(), vec![]),
                "pc-q35-7.2",
                timeout,
            );
            match &result {
                Err(QmpError {
                    kind: QmpErrorKind::Io(e),
                    ..
                }) if e.contains("Text file busy") => thread::sleep(Duration::from_millis(20)),
                _ => return (result, start.elapsed()),
            }
        }
    }

    const SHORT: Duration = Duration::from_millis(800);
    /// Slack for process start and the brief wait for the exit status.
    const SLACK: Duration = Duration::from_secs(2);

    #[test]
    fn binary_that_exits_at_once() {
        let bin = script("exits", "echo 'qemu: unsupported machine type' >&2\nexit 3");
        let (result, took) = run(&bin, Duration::from_secs(20));
        let err = result.expect_err("a QEMU that exits cannot give facts");
        assert!(took < SLACK, "took {took:?}");
        assert_eq!((err.machine.as_str(), err.command.as_str()), ("pc-q35-7.2", GREETING));
        let QmpErrorKind::Exited { status, stderr } = &err.kind else {
            panic!("{err}")
        };
        assert_eq!(status.and_then(|s| s.code()), Some(3));
        assert_eq!(stderr.trim(), "qemu: unsupported machine type");
        let text = err.to_string();
        assert!(
            text.contains("-M pc-q35-7.2: (greeting): QEMU exited (exit status: 3)"),
            "{text}"
        );
    }

    #[test]
    fn binary_that_never_answers() {
        let bin = script("silent", "exec sleep 60");
        let (result, took) = run(&bin, SHORT);
        let err = result.expect_err("a silent QEMU cannot give facts");
        assert!(took >= SHORT && took < SHORT + SLACK, "took {took:?}");
        assert_eq!(err.kind, QmpErrorKind::Timeout(SHORT));
        assert_eq!(err.command, GREETING);
        assert!(err.to_string().contains("no reply within 0.8s"), "{err}");
    }

    #[test]
    fn binary_that_hangs_on_a_command() {
        // Greets, accepts capabilities (after an event, which must be skipped), then stalls.
        let body = format!(
            "echo '{GREETING_LINE}'\nread line\necho '{{\"event\": \"RESUME\"}}'\necho '{{\"return\": {{}}}}'\n\
             read line\nexec sleep 60"
        );
        let bin = script("stalls", &body);
        let (result, took) = run(&bin, SHORT);
        let err = result.expect_err("a stalled QEMU cannot give facts");
        assert!(took >= SHORT && took < SHORT + SLACK, "took {took:?}");
        assert_eq!(
            (err.command.as_str(), &err.kind),
            ("query-machines", &QmpErrorKind::Timeout(SHORT))
        );
        assert!(
            err.to_string().contains("-M pc-q35-7.2: query-machines: no reply"),
            "{err}"
        );
    }

    #[test]
    fn binary_that_dies_on_a_command() {
        let body = format!("echo '{GREETING_LINE}'\nread line\necho '{{\"return\": {{}}}}'\nread line\nexit 1");
        let bin = script("dies", &body);
        let (result, took) = run(&bin, Duration::from_secs(20));
        let err = result.expect_err("a dead QEMU cannot give facts");
        assert!(took < SLACK, "took {took:?}");
        assert_eq!(err.command, "query-machines");
        assert!(
            matches!(&err.kind, QmpErrorKind::Exited { status: Some(s), .. } if s.code() == Some(1)),
            "{err}"
        );
    }

    #[test]
    fn events_and_stale_replies_are_skipped_and_drop_kills() {
        // Before each real reply: an event and a reply carrying someone else's id.
        let body = format!(
            "echo '{GREETING_LINE}'\nwhile read line; do\n  echo '{{\"event\": \"STOP\"}}'\n  \
             echo '{{\"return\": \"stale\", \"id\": 999}}'\n  echo '{{\"return\": {{\"answer\": 42}}}}'\ndone"
        );
        let bin = script("events", &body);
        let mut qmp = loop {
            match Qmp::start(&bin, &[], "pc-q35-7.2", Duration::from_secs(20)) {
                Err(e) if e.to_string().contains("Text file busy") => thread::sleep(Duration::from_millis(20)),
                other => break other.expect("fake QEMU starts"),
            }
        };
        assert_eq!(qmp.greeting()["QMP"]["version"]["qemu"]["major"], json!(99));
        assert_eq!(
            qmp.execute("query-status", None).expect("reply"),
            json!({ "answer": 42 })
        );
        let proc_dir = PathBuf::from(format!("/proc/{}", qmp.pid()));
        assert!(proc_dir.exists());
        drop(qmp);
        assert!(!proc_dir.exists(), "QEMU still running after drop");
    }

    #[test]
    fn qmp_errors_and_garbage_are_reported() {
        let body = format!(
            "echo '{GREETING_LINE}'\nread line\necho '{{\"return\": {{}}}}'\nread line\n\
             echo '{{\"error\": {{\"class\": \"CommandNotFound\", \"desc\": \"no such command\"}}}}'\n\
             read line\necho 'not json'\nexec sleep 60"
        );
        let bin = script("errors", &body);
        let mut qmp = loop {
            match Qmp::start(&bin, &[], "pc-i440fx-7.2", SHORT) {
                Err(e) if e.to_string().contains("Text file busy") => thread::sleep(Duration::from_millis(20)),
                other => break other.expect("fake QEMU starts"),
            }
        };
        let err = qmp.execute("query-nothing", None).expect_err("QMP error");
        assert_eq!(
            err.kind,
            QmpErrorKind::Command {
                class: "CommandNotFound".into(),
                desc: "no such command".into()
            }
        );
        assert!(err
            .to_string()
            .ends_with("-M pc-i440fx-7.2: query-nothing: CommandNotFound: no such command"));
        let err = qmp.execute("query-status", None).expect_err("garbage");
        assert!(
            matches!(&err.kind, QmpErrorKind::Protocol(e) if e.contains("\"not json\\n\"")),
            "{err}"
        );
    }
}
