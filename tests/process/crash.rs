//! Crash safety: under a write load the server is killed with SIGKILL at a
//! random moment, then restarted on the same file. Every write that was
//! acknowledged with 200 must be there, the file must pass
//! `PRAGMA integrity_check`, and the server must answer again. Repeated.

use rand::Rng;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_enlist");
const ROUNDS: usize = 5;
const WRITERS: usize = 16;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(db: &Path, args: &[&str]) -> Value {
    let output = Command::new(BIN)
        .arg("--database")
        .arg(db)
        .args(args)
        .env_remove("ENLIST_CONFIG")
        .current_dir(db.parent().unwrap())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn start(db: &Path) -> Server {
    let mut child = Command::new(BIN)
        .arg("--database")
        .arg(db)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(db.parent().unwrap())
        .env_remove("ENLIST_CONFIG")
        .env("ENLIST_LOG__FORMAT", "json")
        .env("ENLIST_LOG__LEVEL", "warn,enlist=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str::<Value>(&line)
                && event["message"] == "enlist is serving"
            {
                let _ = sender.send(event["addr"].as_str().unwrap_or_default().to_owned());
            }
        }
    });
    let addr = receiver
        .recv_timeout(Duration::from_secs(20))
        .expect("the server logs its address");
    Server {
        child,
        base: format!("http://{addr}"),
    }
}

/// Invitation emails committed in the database file.
fn stored_emails(db: &Path) -> std::collections::HashSet<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT invitee_email FROM invitations")
        .unwrap();
    stmt.query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn integrity(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("PRAGMA integrity_check").unwrap();
    stmt.query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("enlist.db");
    cli(&db, &["init"]);
    let created = cli(
        &db,
        &[
            "org",
            "create",
            "--name",
            "Crash",
            "--admin-email",
            "admin@crash.test",
        ],
    );
    let (org, admin) = (
        created["organization"]["id"].as_i64().unwrap().to_string(),
        created["admin"]["id"].as_i64().unwrap().to_string(),
    );
    let key = cli(
        &db,
        &[
            "api-key",
            "create",
            "--org",
            &org,
            "--user",
            &admin,
            "--scopes",
            "invitations:write,invitations:read",
        ],
    )["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));

    for round in 0..ROUNDS {
        let mut server = start(&db);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut writers = Vec::new();
        for writer in 0..WRITERS {
            let (client, key, base, acknowledged) = (
                client.clone(),
                key.clone(),
                server.base.clone(),
                acknowledged.clone(),
            );
            writers.push(tokio::spawn(async move {
                for n in 0.. {
                    if Instant::now() > deadline {
                        break;
                    }
                    let email = format!("r{round}-w{writer}-n{n}@crash.test");
                    let sent = client
                        .post(format!("{base}/v1/organization/invitations"))
                        .header("X-API-Key", &key)
                        .json(&serde_json::json!({ "inviteeEmail": email, "role": "MEMBER" }))
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == 200 => {
                            acknowledged.lock().unwrap().push(email)
                        }
                        Ok(response) => {
                            let status = response.status();
                            assert!(
                                status != 500,
                                "a 500 under load: {}",
                                response.text().await.unwrap_or_default()
                            );
                        }
                        // The server is gone: this writer's work is over.
                        Err(_) => break,
                    }
                }
            }));
        }
        let kill_after = Duration::from_millis(rand::rng().random_range(150..900));
        tokio::time::sleep(kill_after).await;
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        for writer in writers {
            writer.await.unwrap();
        }

        let stored = stored_emails(&db);
        let acknowledged = acknowledged.lock().unwrap().clone();
        assert!(
            !acknowledged.is_empty(),
            "round {round}: no write was acknowledged before the kill"
        );
        let lost: Vec<_> = acknowledged
            .iter()
            .filter(|e| !stored.contains(*e))
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged but lost: {lost:?}"
        );
        assert_eq!(integrity(&db), ["ok"], "round {round}");

        // The server starts again on the file and answers, with the right count.
        let server = start(&db);
        let ready = client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
        let listed: Value = client
            .get(format!(
                "{}/v1/organization/invitations?limit=1&includeExpired=true",
                server.base
            ))
            .header("X-API-Key", &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            listed["totalCount"].as_u64().unwrap() as usize,
            stored.len(),
            "round {round}"
        );
        eprintln!(
            "round {round}: killed after {kill_after:?}; {} acknowledged so far, {} stored",
            acknowledged.len(),
            stored.len()
        );
    }
}
