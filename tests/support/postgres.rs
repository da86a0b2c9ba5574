#![allow(dead_code)] // each test binary uses its own subset

//! A real PostgreSQL server for the tests that run on that backend.
//!
//! `ENLIST_TEST_BACKEND=postgres` runs the suites on PostgreSQL instead of
//! SQLite. The server is `ENLIST_TEST_POSTGRES_URL` when set (any server
//! where the URL's role may create databases); otherwise one throwaway
//! cluster per test binary, made with the machine's PostgreSQL binaries
//! (Debian's `postgresql` package) under the temporary folder, on a free
//! loopback port, and stopped and removed by a watchdog once the test
//! process is gone. Every test gets a database of its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether this run is on PostgreSQL.
pub fn enabled() -> bool {
    std::env::var("ENLIST_TEST_BACKEND").is_ok_and(|backend| backend == "postgres")
}

/// True (and says so) when this run is on PostgreSQL, for a test of what
/// only the SQLite backend has: its files, its query plans, its single
/// writer's queue. PostgreSQL's equivalents are the server's own.
pub fn skip_sqlite_only(what: &str) -> bool {
    if enabled() {
        eprintln!("skipped on PostgreSQL: {what} is the SQLite backend's");
    }
    enabled()
}

/// The URL of a new, empty database on the test server.
pub fn fresh_database() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let server = server();
    let name = format!(
        "enlist_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = format!("{server}/postgres");
    // The blocking client cannot run on an async test's thread.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut client = postgres::Client::connect(&admin, postgres::NoTls)
                    .unwrap_or_else(|e| panic!("test PostgreSQL at {server}: {e}"));
                client
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
            })
            .join()
            .expect("database created")
    });
    format!("{server}/{name}")
}

/// `postgres://user@host:port` of the server (no database part).
fn server() -> &'static str {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    match SERVER.get_or_init(|| match std::env::var("ENLIST_TEST_POSTGRES_URL") {
        Ok(url) => Ok(url.trim_end_matches('/').to_owned()),
        Err(_) => start_cluster(),
    }) {
        Ok(url) => url,
        Err(why) => panic!(
            "ENLIST_TEST_BACKEND=postgres needs a PostgreSQL server: {why}. Install Debian's \
             `postgresql` package (its binaries under /usr/lib/postgresql/*/bin start a \
             throwaway cluster), or point ENLIST_TEST_POSTGRES_URL at a server"
        ),
    }
}

fn bin_dir() -> Result<PathBuf, String> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("/usr/lib/postgresql: {e}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions
        .pop()
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".into())
}

/// PostgreSQL refuses to run as root: as root, the cluster's commands run
/// as the `postgres` account the Debian package creates.
fn as_server_user(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| out.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

fn run(mut command: Command, what: &str) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{what}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn start_cluster() -> Result<String, String> {
    Cluster::start().map(|cluster| {
        let url = cluster.url.clone();
        // Lives as long as the test process; the watchdog removes it.
        std::mem::forget(cluster);
        url
    })
}

/// A throwaway PostgreSQL cluster of this test process: `postgres://…` with
/// no database part in `url`. Stopped and removed once the process exits.
pub struct Cluster {
    pub url: String,
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    options: String,
}

impl Cluster {
    pub fn start() -> Result<Self, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let bin = bin_dir()?;
        let dir = std::env::temp_dir().join(format!(
            "enlist-test-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // Owned by whoever runs the server (postgres when we are root).
        let _ = Command::new("chown").arg("postgres").arg(&dir).status();
        let data = dir.join("data");
        let mut initdb = as_server_user(&bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(initdb, "initdb")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("a free port: {e}"))?
            .port();
        // Durability settings off: a test cluster that crashes is thrown away.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            dir.display()
        );
        let cluster = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}"),
            log: dir.join("server.log"),
            bin: bin.clone(),
            data: data.clone(),
            options,
        };
        cluster.resume()?;
        // Stops and removes the cluster once this test process has exited (the
        // watchdog runs as us, so it may watch our process; the stop as the
        // server's account).
        let watchdog = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {runuser} '{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            runuser = if running_as_root() {
                "runuser -u postgres --"
            } else {
                ""
            },
            pg_ctl = bin.join("pg_ctl").display(),
            data = data.display(),
            dir = dir.display(),
        );
        Command::new("/bin/sh")
            .args(["-c", &watchdog])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("watchdog: {e}"))?;
        Ok(cluster)
    }

    /// Stops the server, cutting every client's connection (`fast`: what was
    /// committed stays, which this cluster's relaxed durability settings
    /// would not promise after a crash).
    pub fn stop(&self) -> Result<(), String> {
        let mut stop = as_server_user(&self.bin.join("pg_ctl"));
        stop.arg("-D").arg(&self.data).args(["-m", "fast", "stop"]);
        run(stop, "pg_ctl stop")
    }

    /// Starts the server (again), waiting until it accepts connections.
    pub fn resume(&self) -> Result<(), String> {
        let mut start = as_server_user(&self.bin.join("pg_ctl"));
        start
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-l"])
            .arg(&self.log)
            .args(["-o", &self.options, "start"]);
        run(start, "pg_ctl start")
    }

    /// A new, empty database on this cluster.
    pub fn database(&self, name: &str) -> String {
        let admin = format!("{}/postgres", self.url);
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let mut client = postgres::Client::connect(&admin, postgres::NoTls)
                        .unwrap_or_else(|e| panic!("test PostgreSQL at {}: {e}", self.url));
                    client
                        .batch_execute(&format!("CREATE DATABASE {name}"))
                        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
                })
                .join()
                .expect("database created")
        });
        format!("{}/{name}", self.url)
    }
}
