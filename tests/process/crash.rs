//! Crash safety: under a write load the server is killed with SIGKILL at a
//! random moment, then restarted on the same file. Every write that was
//! acknowledged with 200 must be there, the file must pass
//! `PRAGMA integrity_check`, and the server must answer again. Repeated.

use crate::fixture::{self, Server, eventually};
use rand::Rng;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;
const WRITERS: usize = 16;

fn cli(db: &Path, args: &[&str]) -> Value {
    let output = fixture::enlist(db.parent().unwrap())
        .arg("--database")
        .arg(db)
        .args(args)
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
    let mut command = fixture::enlist(db.parent().unwrap());
    command
        .arg("--database")
        .arg(db)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("ENLIST_LOG__LEVEL", "warn,enlist=info");
    Server::start(command)
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
    if fixture::sqlite_suite("crash") {
        return;
    }
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
                server.url(""),
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
        // Killed at a random moment of the load: after a random number of
        // this round's writes were acknowledged (few enough that five rounds
        // stay under the organization's 500 messages an hour).
        let before = acknowledged.lock().unwrap().len();
        let kill_after = rand::rng().random_range(1..=50);
        eventually(
            Duration::from_secs(10),
            "writes acknowledged under load",
            || (acknowledged.lock().unwrap().len() >= before + kill_after).then_some(()),
        )
        .await;
        server.kill(); // SIGKILL
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
        let ready = client.get(server.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        let listed: Value = client
            .get(server.url("/v1/organization/invitations?limit=1&includeExpired=true"))
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
            "round {round}: killed after {kill_after} more writes; {} acknowledged so far, {} stored",
            acknowledged.len(),
            stored.len()
        );
    }
}
