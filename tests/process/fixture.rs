//! The one fixture of the process-level suites: the built binary run as a
//! process, and waiting on conditions instead of for fixed times.
//!
//! - [`enlist`]: the binary in a folder, with no `ENLIST_*` setting and no
//!   `RUST_LOG` filter inherited from the test's environment.
//! - [`Server::start`] spawns a prepared `serve` (or `demo`) command, keeps
//!   every line it writes, and returns once it logged `enlist is serving`
//!   (with its address), or panics with the log when it exits first or
//!   [`READY_WITHIN`] passes. [`Server::spawn`] and [`Starting::ready`]
//!   split that in two, to start several servers at once. A server is
//!   killed when dropped, pass or fail; [`Server::stop`] is the clean
//!   SIGTERM.
//! - [`wait_for`] and [`eventually`] poll a condition until it holds, with
//!   a deadline: the suites' only waits (besides a fake server's scripted
//!   slowness).

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The built binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_enlist");

/// How long a server may take to say it serves (a deadline, not a wait:
/// the start returns as soon as it does).
pub const READY_WITHIN: Duration = Duration::from_secs(60);

/// How long a stopped server may take to exit.
pub const EXIT_WITHIN: Duration = Duration::from_secs(30);

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(20);

/// The binary, run in `dir`, with no enlist settings or log filter
/// inherited from the environment.
pub fn enlist(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(dir).env_remove("RUST_LOG");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ENLIST_") {
            command.env_remove(name);
        }
    }
    command
}

/// Runs a one-shot command with `stdin` written to it (a password, say)
/// and collects what it printed.
pub fn output_with_stdin(mut command: Command, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Asserts success and stdout holding exactly one JSON object on one line.
pub fn one_json_object(output: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line expected: {stdout}");
    let value: Value = serde_json::from_str(lines[0]).unwrap();
    assert!(value.is_object(), "{value}");
    value
}

/// True (and says so) on the PostgreSQL run, for a suite that is the
/// SQLite file's: the README's test command reruns the `cli`, `multi_node`
/// and `postgres` suites on PostgreSQL, not this one.
pub fn sqlite_suite(suite: &str) -> bool {
    let postgres = crate::test_postgres::enabled();
    if postgres {
        eprintln!("skipped on PostgreSQL: the {suite} suite runs on the SQLite file");
    }
    postgres
}

/// A server process spawned, not yet serving: [`Starting::ready`] waits.
pub struct Starting {
    server: Server,
    serving: Receiver<String>,
}

/// A running `enlist serve` (or `demo`): its address and everything it
/// wrote. Killed when dropped.
pub struct Server {
    child: Option<Child>,
    addr: String,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

/// The address in a startup line, JSON (`"addr"`) or text (`addr=…`).
fn serving_addr(line: &str) -> Option<String> {
    match serde_json::from_str::<Value>(line) {
        Ok(event) => (event["message"] == "enlist is serving")
            .then(|| event["addr"].as_str().unwrap_or_default().to_owned()),
        Err(_) => line.contains("enlist is serving").then(|| {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix("addr="))
                .unwrap_or_default()
                .to_owned()
        }),
    }
}

impl Server {
    /// Spawns `command` (the binary with its arguments and settings, e.g.
    /// from [`enlist`] with `serve --bind 127.0.0.1:0`), with JSON logs
    /// unless it sets `ENLIST_LOG__FORMAT`, and returns once it serves.
    pub fn start(command: Command) -> Self {
        Self::spawn(command).ready()
    }

    /// Spawns `command` as [`Server::start`] does, without waiting.
    pub fn spawn(mut command: Command) -> Starting {
        if !command
            .get_envs()
            .any(|(name, value)| name == "ENLIST_LOG__FORMAT" && value.is_some())
        {
            command.env("ENLIST_LOG__FORMAT", "json");
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{BIN}: {e}"));
        let stdout: Arc<Mutex<Vec<String>>> = Arc::default();
        let stderr: Arc<Mutex<Vec<String>>> = Arc::default();
        let (sender, serving) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let kept = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let serving = serving_addr(&line);
                // Kept first: once it serves, its log holds the line saying so.
                kept.lock().unwrap().push(line);
                if let Some(addr) = serving {
                    let _ = sender.send(addr);
                }
            }
        });
        let pipe = child.stdout.take().unwrap();
        let kept = Arc::clone(&stdout);
        let stdout_reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Starting {
            server: Self {
                child: Some(child),
                addr: String::new(),
                stderr,
                stdout,
                readers: vec![stderr_reader, stdout_reader],
            },
            serving,
        }
    }

    /// `host:port` it listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `http://host:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server runs").id()
    }

    /// Every line it wrote to stderr (its log) so far.
    pub fn log(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// The log lines that are JSON events.
    pub fn events(&self) -> Vec<Value> {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Every event's message, in order.
    pub fn messages(&self) -> Vec<String> {
        self.events()
            .iter()
            .filter_map(|e| e["message"].as_str().map(str::to_owned))
            .collect()
    }

    /// The first event with this message; panics, showing the messages,
    /// when there is none.
    pub fn event(&self, message: &str) -> Value {
        self.events()
            .into_iter()
            .find(|e| e["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} in the log: {:?}", self.messages()))
    }

    /// Every line it wrote to stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// `kill -<signal> <pid>`, as an operator or a service manager would.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits up to `limit` for the process to exit: its status and how long
    /// it took. Afterwards every line it wrote has been read.
    pub fn wait_for_exit(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let child = self.child.as_mut().expect("the server runs");
        let status = poll(limit, || child.try_wait().unwrap())
            .unwrap_or_else(|| panic!("still running after {limit:?}; log: {:#?}", self.log()));
        let took = started.elapsed();
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        self.child = None;
        (status, took)
    }

    /// SIGTERM, then the exit (within [`EXIT_WITHIN`]).
    pub fn stop(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait_for_exit(EXIT_WITHIN).0
    }

    /// SIGKILL, then the exit.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("the server runs");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Starting {
    /// Waits until the server logs that it serves (within [`READY_WITHIN`]);
    /// panics with its log when it exits first or never does.
    pub fn ready(mut self) -> Server {
        match self.serving.recv_timeout(READY_WITHIN) {
            Ok(addr) => {
                self.server.addr = addr;
                self.server
            }
            Err(RecvTimeoutError::Timeout) => panic!(
                "the server did not serve within {READY_WITHIN:?}; log: {:#?}",
                self.server.log()
            ),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.server.child.as_mut().map(|c| c.wait());
                for reader in self.server.readers.drain(..) {
                    let _ = reader.join();
                }
                panic!(
                    "the server exited ({status:?}) before serving; log: {:#?}",
                    self.server.log()
                )
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `check` until it answers `Some`, blocking the thread; `None`
/// once `within` passed.
pub fn poll<T>(within: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `check` until it answers `Some`, blocking the thread (for tests
/// without a runtime); panics naming `what` after `within`.
pub fn wait_for<T>(within: Duration, what: &str, check: impl FnMut() -> Option<T>) -> T {
    poll(within, check).unwrap_or_else(|| panic!("timed out after {within:?} waiting for {what}"))
}

/// Polls `check` until it answers `Some`, without blocking the runtime;
/// panics naming `what` after `within`.
pub async fn eventually<T>(
    within: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    eventually_ok(within, what, || {
        std::future::ready(check().ok_or("not yet"))
    })
    .await
}

/// Polls the future `check` makes until it answers `Ok`, without blocking
/// the runtime; panics naming `what` and the last `Err` after `within`.
pub async fn eventually_ok<T, E: std::fmt::Display, F>(
    within: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T
where
    F: std::future::Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + within;
    loop {
        match check().await {
            Ok(found) => return found,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {within:?} waiting for {what}: {last}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}
