//! README.md and docs/api.md are executed: every fenced `sh` block under a
//! "Walk-through" heading runs, README.md's first, then docs/api.md's, in
//! order and as written, in one `bash` (`set -euo pipefail`, so state such
//! as `$API` and `$KEY` carries from block to block and from file to file)
//! in an empty folder, beside a real `enlist serve` started there on a free
//! port with the `file` transport. Each block's output must hold, in order,
//! every `# → …` line of the block (`…` stands for anything). A failure
//! names the file and line of the block.
//!
//! The docs also cannot drift on scopes: the scopes they list are the
//! code's (`Scope::ALL`).
//!
//! What differs from a person pasting the blocks, and why:
//! - `cargo` is a stand-in on `PATH` that runs the already built binary for
//!   `cargo run --quiet --release -- ARGS` (and refuses anything else), so
//!   the test takes seconds, not a release build.
//! - The docs' `127.0.0.1:8080` reads as the test server's address.
//! - `curl` fails on an HTTP error (`--fail-with-body`), so a walk-through
//!   step that answers 4xx fails the test instead of printing a problem.
//! - Where the README has a person accept in a browser, the test does what
//!   the browser would, over HTTP, between two blocks.
//! - The identity-provider walk-through's ports (8081 for its second
//!   enlist, 9400 for the provider) read as free ports, and its
//!   `tests/oidc-provider` is the clone's (the files copied, the installed
//!   packages linked).

use crate::fixture::{self, BIN, Server};
use enlist::domain::Scope;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const README: &str = include_str!("../../README.md");
const API_DOC: &str = include_str!("../../docs/api.md");
const ARCHITECTURE_DOC: &str = include_str!("../../docs/architecture.md");
/// The files whose walk-throughs run, in the order they run: the README's
/// first walk-through sets up what docs/api.md's continue from.
const WALK_THROUGH_FILES: [(&str, &str); 2] = [("README.md", README), ("docs/api.md", API_DOC)];
const DONE: &str = "__readme_block_done__";
/// A pattern line: `# → {"id":1,…}`.
const EXPECT: &str = "# → ";

/// One fenced `sh` block of a walk-through, with where it came from.
struct Block {
    file: &'static str,
    heading: String,
    line: usize,
    code: String,
}

impl Block {
    fn expectations(&self) -> Vec<&str> {
        self.code
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix(EXPECT))
            .map(str::trim_end)
            .collect()
    }
}

/// The walk-through blocks of every file of `WALK_THROUGH_FILES`, in order.
fn all_walk_through_blocks() -> Vec<Block> {
    WALK_THROUGH_FILES
        .iter()
        .flat_map(|&(file, markdown)| walk_through_blocks(file, markdown))
        .collect()
}

/// The `sh` blocks under `## Walk-through…` headings, in file order.
/// Blocks in other languages (`json`, `text`) are shown, not run.
fn walk_through_blocks(file: &'static str, markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut heading = "";
    // The block being read: its first line, its code, whether it runs.
    let mut open: Option<(usize, String, bool)> = None;
    for (index, line) in markdown.lines().enumerate() {
        match open.as_mut() {
            Some((start, code, runs)) => {
                if line.trim_end() == "```" {
                    if *runs {
                        blocks.push(Block {
                            file,
                            heading: heading.to_owned(),
                            line: *start,
                            code: std::mem::take(code),
                        });
                    }
                    open = None;
                } else {
                    code.push_str(line);
                    code.push('\n');
                }
            }
            None => {
                if let Some(title) = line.strip_prefix("## ") {
                    heading = title.trim();
                } else if let Some(info) = line.strip_prefix("```") {
                    let runs = info.trim() == "sh" && heading.starts_with("Walk-through:");
                    open = Some((index + 1, String::new(), runs));
                }
            }
        }
    }
    blocks
}

/// Whether `output` holds every piece of `pattern` (split at `…`) in
/// order, starting at `from`; answers where the match ended.
fn find_pattern(output: &str, from: usize, pattern: &str) -> Option<usize> {
    let mut at = from;
    for piece in pattern.split('…').filter(|p| !p.is_empty()) {
        at += output[at..].find(piece)? + piece.len();
    }
    Some(at)
}

/// The clone's OpenID provider project in `dir/tests/oidc-provider`, as the
/// walk-through finds it in a clone: its files copied, its installed
/// packages linked (so the walk-through's `npm ci` is not needed).
fn provider_project(dir: &Path) {
    crate::oidc_provider::install();
    let source = crate::oidc_provider::project_dir();
    let target = dir.join("tests/oidc-provider");
    std::fs::create_dir_all(&target).unwrap();
    for file in ["package.json", "package-lock.json", "server.mjs"] {
        std::fs::copy(source.join(file), target.join(file)).unwrap();
    }
    std::os::unix::fs::symlink(source.join("node_modules"), target.join("node_modules")).unwrap();
}

/// Ends the processes whose command lines hold these patterns, when dropped.
struct Reaper(Vec<String>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pattern in &self.0 {
            let _ = Command::new("pkill")
                .args(["-KILL", "-f", pattern])
                .status();
        }
    }
}

/// A loopback port nothing listens on now.
fn fixture_free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves in `dir` on a free port with its defaults (so the database is
/// `./data/enlist.db`, the one the README's commands use) and the `file`
/// transport.
fn serve(dir: &Path) -> Server {
    let mut command = fixture::enlist(dir);
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("ENLIST_DELIVERY__TRANSPORT", "file")
        .env("ENLIST_DELIVERY__POLL_INTERVAL", "100ms")
        .env("ENLIST_SERVER__WORKERS", "1");
    Server::start(command)
}

/// The stand-in for `cargo`: `cargo run --quiet --release -- ARGS` runs
/// the built binary with ARGS.
fn cargo_stand_in(bin_dir: &Path) {
    let script = format!(
        "#!/bin/sh\n\
         # tests/process/readme.rs: the README's `cargo run --quiet --release --` is the built binary.\n\
         if [ \"$1\" = run ] && [ \"$2\" = --quiet ] && [ \"$3\" = --release ] && [ \"$4\" = -- ]; then\n\
         \x20 shift 4; exec '{BIN}' \"$@\"\n\
         fi\n\
         echo \"tests/process/readme.rs: unexpected cargo $*\" >&2\n\
         exit 2\n"
    );
    let path = bin_dir.join("cargo");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// One `bash` that runs block after block, so variables carry over.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    stdout: Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Shell {
    fn start(dir: &Path, bin_dir: &Path) -> Self {
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc"])
            .current_dir(dir)
            .env("PATH", path)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Not inherited: the README's commands must find the database alone.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ENLIST_") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().expect("bash runs");
        let mut stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr_pipe = child.stderr.take().unwrap();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let collected = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                collected
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        writeln!(
            stdin,
            "set -euo pipefail\ncurl() {{ command curl --fail-with-body \"$@\"; }}"
        )
        .unwrap();
        Self {
            child,
            stdin,
            stdout: receiver,
            stderr,
        }
    }

    /// Runs `code` and answers what it printed on stdout; panics, showing
    /// the block and its stderr, if the shell exits or takes too long.
    fn run(&mut self, block: &Block, code: &str) -> String {
        self.stderr.lock().unwrap().clear();
        write!(self.stdin, "{code}\nprintf '\\n%s\\n' {DONE}\n").unwrap();
        self.stdin.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut output = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line == DONE => return output,
                Ok(line) => {
                    output.push_str(&line);
                    output.push('\n');
                }
                Err(error) => {
                    let why = match error {
                        RecvTimeoutError::Timeout => "took over 60 s".to_owned(),
                        RecvTimeoutError::Disconnected => {
                            let exited = fixture::poll(Duration::from_secs(5), || {
                                self.child.try_wait().unwrap()
                            });
                            format!("failed (bash exited: {exited:?})")
                        }
                    };
                    panic!(
                        "{} line {} ({}): the block {why}\n--- block\n{}--- stdout\n{output}--- stderr\n{}",
                        block.file,
                        block.line,
                        block.heading,
                        block.code,
                        self.stderr.lock().unwrap()
                    );
                }
            }
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `value` of the first hidden `csrf_token` input after `marker`.
fn csrf_token_after(html: &str, marker: &str) -> String {
    let from = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in the page: {html}"));
    let needle = r#"name="csrf_token" value=""#;
    let start = from + html[from..].find(needle).expect("a CSRF token") + needle.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

/// What the person does in the browser: open the emailed link, create an
/// account as the invited address, press Accept.
async fn accept_in_the_browser(link: &str, email: &str) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let page = client.get(link).send().await.unwrap();
    assert_eq!(page.status(), 200, "{link}");
    let html = page.text().await.unwrap();
    assert!(html.contains("Join Acme"), "{html}");
    let token = csrf_token_after(&html, r#"id="signup-heading""#);
    let signed_up = client
        .post(link)
        .form(&[
            ("csrf_token", token.as_str()),
            ("intent", "signup"),
            ("email", email),
            ("first_name", "You"),
            ("last_name", ""),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    let html = signed_up.text().await.unwrap();
    assert!(html.contains("Accept invitation"), "{html}");
    let token = csrf_token_after(&html, "/respond");
    // The answer goes where the page's form sends it: the page's own
    // address (with the link's secret) and `/respond`.
    let respond = match link.split_once('?') {
        Some((page, query)) => format!("{page}/respond?{query}"),
        None => format!("{link}/respond"),
    };
    assert!(
        html.contains(&respond[respond.find("/invite/").unwrap()..]),
        "{html}"
    );
    let accepted = client
        .post(&respond)
        .form(&[("csrf_token", token.as_str()), ("decision", "accept")])
        .send()
        .await
        .unwrap();
    let status = accepted.status();
    let html = accepted.text().await.unwrap();
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Welcome to Acme"), "{html}");
}

#[test]
fn the_walk_through_blocks_are_found() {
    if fixture::sqlite_suite("readme") {
        return;
    }
    let blocks = all_walk_through_blocks();
    let headings: Vec<(&str, &str)> = blocks
        .iter()
        .map(|b| (b.file, b.heading.as_str()))
        .collect();
    for heading in [
        ("README.md", "Walk-through: your first admin API call"),
        (
            "docs/api.md",
            "Walk-through: invite yourself and accept in a browser",
        ),
        ("docs/api.md", "Walk-through: the invitee API with curl"),
        (
            "docs/api.md",
            "Walk-through: sign in to your app with enlist",
        ),
        ("docs/api.md", "Walk-through: every admin endpoint"),
    ] {
        assert!(headings.contains(&heading), "{heading:?}: {headings:?}");
    }
    // The files run in order: every README.md block before docs/api.md's.
    let files: Vec<&str> = blocks.iter().map(|b| b.file).collect();
    assert!(files.is_sorted_by_key(|f| *f != "README.md"), "{files:?}");
    assert!(blocks.len() >= 6, "{}", blocks.len());
    // The first block is the one that makes `enlist` a command.
    assert!(blocks[0].code.contains("enlist() {"), "{}", blocks[0].code);
    // A shown-only block (json) is not among them.
    assert!(
        blocks
            .iter()
            .all(|b| !b.code.contains("urn:enlist:problem"))
    );
    assert!(blocks.iter().map(|b| b.expectations().len()).sum::<usize>() >= 10);
}

#[test]
fn patterns_match_pieces_in_order() {
    if fixture::sqlite_suite("readme") {
        return;
    }
    assert_eq!(
        find_pattern(r#"{"id":1,"x":2}"#, 0, r#"{"id":1,…}"#),
        Some(14)
    );
    assert_eq!(find_pattern(r#"{"id":2}"#, 0, r#"{"id":1,…}"#), None);
    assert_eq!(find_pattern("a b c", 0, "a…c"), Some(5));
    assert_eq!(find_pattern("c b a", 0, "a…c"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walk_throughs_run_as_written_on_an_empty_database() {
    if fixture::sqlite_suite("readme") {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let bin_dir = tempfile::tempdir().unwrap();
    cargo_stand_in(bin_dir.path());
    let server = serve(scratch.path());
    provider_project(scratch.path());
    let (sso_port, idp_port) = (fixture_free_port(), fixture_free_port());
    // Whatever a failing block leaves running goes with the test.
    let _left_running = Reaper(vec![
        format!("server.mjs --port {idp_port}"),
        format!("serve --bind 127.0.0.1:{sso_port}"),
    ]);
    let mut shell = Shell::start(scratch.path(), bin_dir.path());

    let blocks = all_walk_through_blocks();
    let mut accepted = false;
    for block in &blocks {
        let code = block
            .code
            .replace("127.0.0.1:8080", server.addr())
            .replace("127.0.0.1:8081", &format!("127.0.0.1:{sso_port}"))
            .replace("127.0.0.1:9400", &format!("127.0.0.1:{idp_port}"))
            .replace("--port 9400", &format!("--port {idp_port}"));
        let output = tokio::task::block_in_place(|| shell.run(block, &code));
        let mut at = 0;
        for pattern in block.expectations() {
            at = find_pattern(&output, at, pattern).unwrap_or_else(|| {
                panic!(
                    "{} line {} ({}): the output does not show\n{pattern}\n--- output\n{output}",
                    block.file, block.line, block.heading
                )
            });
        }
        // The person opens the link the block printed and accepts.
        if block
            .code
            .contains("enlist outbox link --to you@example.com")
        {
            let link = output
                .lines()
                .rev()
                .find(|l| l.contains("/invite/"))
                .expect("the block prints the link")
                .trim()
                .to_owned();
            assert!(
                link.starts_with(&format!("http://{}/invite/", server.addr())),
                "{link}"
            );
            accept_in_the_browser(&link, "you@example.com").await;
            accepted = true;
        }
    }
    assert!(accepted, "the browser step ran");

    // The `file` transport's names sort in creation order: the last file
    // by name is the newest message (there are more than a few by now).
    let outbox = scratch.path().join("data/outbox");
    let mut names: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml") && !n.starts_with('.'))
        .collect();
    names.sort();
    let newest = fixture::enlist(scratch.path())
        .args(["outbox", "list", "--limit", "1"])
        .output()
        .unwrap();
    let newest: Value = serde_json::from_slice(&newest.stdout).unwrap();
    let id = newest["id"].as_i64().unwrap();
    assert_eq!(names.last(), Some(&format!("{id:012}.eml")), "{names:?}");
    drop(shell);
    drop(server);
}

/// The README's own commands: the first `sh` block of the file (before any
/// walk-through) serves, then tests.
fn readme_commands() -> Vec<String> {
    let start = README.find("```sh\n").expect("a first sh block") + "```sh\n".len();
    let end = start + README[start..].find("```").unwrap();
    README[start..end].lines().map(str::to_owned).collect()
}

#[test]
fn ci_runs_exactly_the_readmes_test_command() {
    if fixture::sqlite_suite("readme") {
        return;
    }
    let commands = readme_commands();
    assert_eq!(
        commands,
        [
            "cargo run --release",
            "cargo test --locked && ENLIST_TEST_BACKEND=postgres cargo test --locked --test api \
             --test process"
        ]
    );
    let ci = include_str!("../../.ci/run");
    let last = ci
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap();
    assert_eq!(
        last, commands[1],
        ".ci/run ends with the README's test command"
    );
}

/// The backticked scope names (`a:b`) in `text`.
fn scopes_named_in(text: &str) -> BTreeSet<&str> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.split_once(':').is_some_and(|(a, b)| {
                [a, b]
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            })
        })
        .collect()
}

#[test]
fn the_docs_list_exactly_the_codes_scopes() {
    if fixture::sqlite_suite("readme") {
        return;
    }
    let code: BTreeSet<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(code.len(), Scope::ALL.len());
    // Every scope is named, in backticks, where the API is documented.
    for scope in &code {
        let quoted = format!("`{scope}`");
        assert!(
            README.contains(&quoted) || API_DOC.contains(&quoted),
            "{quoted} is in neither README.md nor docs/api.md"
        );
    }
    // docs/api.md's "Scopes" table has one row per scope, no more, no fewer.
    let start = API_DOC
        .find("\n## Scopes\n")
        .expect("docs/api.md has ## Scopes");
    let section = &API_DOC[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let rows: BTreeSet<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(scope, _)| scope)
        .collect();
    assert_eq!(rows, code, "the rows of docs/api.md's Scopes table");
    // The list in "Choices where the API documents are silent" too.
    let start = ARCHITECTURE_DOC
        .find("- **Scopes**:")
        .expect("docs/architecture.md lists the scopes");
    let bullet = &ARCHITECTURE_DOC[start..];
    let bullet = &bullet[..bullet.find(" (what each allows").expect("the list ends")];
    assert_eq!(
        scopes_named_in(bullet),
        code,
        "the Scopes bullet of docs/architecture.md"
    );
    // Nothing else is named like a scope in the Scopes section.
    assert_eq!(scopes_named_in(section), code, "{section}");
}
