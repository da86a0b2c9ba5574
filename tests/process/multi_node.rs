//! Several `enlist serve` processes on one PostgreSQL database: they start
//! together (one migrates, one makes the secrets and the signing key), every
//! race the single-node suite runs holds across nodes, and each queued
//! message is sent once by one of them.
//!
//! Runs with `ENLIST_TEST_BACKEND=postgres` (the README's test command does);
//! on the SQLite run it says it was skipped: one SQLite file has one server.

use crate::fixture::{self, EXIT_WITHIN, Server, eventually};
use crate::test_postgres;
use crate::webhook_receiver;

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const NODES: usize = 3;
const ALL_SCOPES: &str = "organization:read,invitations:read,invitations:write,users:read,\
                          users:write,events:read,webhooks:read,webhooks:write";

fn enlist(database_url: &str, dir: &Path) -> Command {
    let mut command = fixture::enlist(dir);
    command
        .env("ENLIST_DATABASE__URL", database_url)
        .env("ENLIST_LIMITS__ADMIN_PER_MINUTE", "0");
    command
}

/// Runs a command and answers its one JSON line.
fn cli(database_url: &str, dir: &Path, args: &[&str]) -> Value {
    let output = enlist(database_url, dir).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "enlist {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Starts `count` nodes at once on `database_url`, every one delivering
/// messages as files into `outbox`, and waits until each serves.
fn start_nodes(count: usize, database_url: &str, dir: &Path, outbox: &Path) -> Vec<Server> {
    start_nodes_with(count, database_url, dir, outbox, &[])
}

/// [`start_nodes`] with extra settings for every node.
fn start_nodes_with(
    count: usize,
    database_url: &str,
    dir: &Path,
    outbox: &Path,
    env: &[(&str, &str)],
) -> Vec<Server> {
    let starting: Vec<_> = (0..count)
        .map(|_| {
            let mut command = enlist(database_url, dir);
            command
                .args(["serve", "--bind", "127.0.0.1:0"])
                .env("ENLIST_SERVER__WORKERS", "2")
                .env("ENLIST_DELIVERY__TRANSPORT", "file")
                .env("ENLIST_DELIVERY__FILE__DIR", outbox)
                .env("ENLIST_DELIVERY__POLL_INTERVAL", "100ms")
                // What the load balancer answers at: the tokens' issuer and
                // the links' host, the same on every node.
                .env("ENLIST_SERVER__PUBLIC_URL", "http://enlist.test")
                // The mail caps (held in the database, so global) would stop
                // the rounds that invite one address again and again.
                .env("ENLIST_INVITATIONS__MESSAGES_PER_ADDRESS_PER_DAY", "0")
                .env("ENLIST_INVITATIONS__MESSAGES_PER_ORG_PER_HOUR", "0")
                // Webhook receivers are on this machine.
                .env("ENLIST_WEBHOOKS__ALLOW_HTTP_LOOPBACK", "true")
                .env("ENLIST_WEBHOOKS__POLL_INTERVAL", "50ms")
                .envs(env.iter().copied());
            Server::spawn(command)
        })
        .collect();
    starting.into_iter().map(|node| node.ready()).collect()
}

struct Cluster {
    nodes: Vec<Server>,
    client: reqwest::Client,
    key: String,
    dir: tempfile::TempDir,
    database_url: String,
}

impl Cluster {
    async fn request(
        &self,
        node: usize,
        method: reqwest::Method,
        path: &str,
        auth: (&str, &str),
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, self.nodes[node % NODES].url(path))
            .header(auth.0, auth.1);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn admin(
        &self,
        node: usize,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.request(node, method, path, ("X-API-Key", &self.key), body)
            .await
    }

    /// An admin POST with `Idempotency-Key: idempotency_key` to node
    /// `node`: status, whether it was a replay, body.
    async fn idempotent_post(
        &self,
        node: usize,
        path: &str,
        idempotency_key: &str,
        body: &Value,
    ) -> (u16, bool, Value) {
        let response = self
            .client
            .post(self.nodes[node % NODES].url(path))
            .header("X-API-Key", &self.key)
            .header("Idempotency-Key", idempotency_key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        let text = response.text().await.unwrap();
        (
            status,
            replayed,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// `Bearer …` for the account `email`: a client bound to it (made with
    /// the CLI) takes a client-credentials token from node `node`.
    async fn bearer_for(&self, email: &str, node: usize) -> String {
        let client = self.cli(&["client", "create", "--name", email, "--user", email]);
        let reply = self
            .client
            .post(self.nodes[node % NODES].url("/oauth/token"))
            .basic_auth(
                client["client_id"].as_str().unwrap(),
                client["client_secret"].as_str(),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        format!("Bearer {}", reply["access_token"].as_str().unwrap())
    }

    fn cli(&self, args: &[&str]) -> Value {
        cli(&self.database_url, self.dir.path(), args)
    }

    /// Stops every node cleanly (SIGTERM to all, then each exit): what
    /// they were sending is sent, and nothing more can be.
    fn stop(&mut self) {
        for node in &self.nodes {
            node.signal("TERM");
        }
        for node in &mut self.nodes {
            node.wait_for_exit(EXIT_WITHIN);
        }
    }

    /// Errors any node logged at `error` level (a 500, a failed start).
    fn logged_errors(&self) -> Vec<String> {
        self.nodes
            .iter()
            .flat_map(Server::log)
            .filter(|line| line.contains("\"level\":\"ERROR\""))
            .collect()
    }
}

/// True (and says so) on the SQLite run: one SQLite file has one server.
fn skipped() -> bool {
    if !test_postgres::enabled() {
        eprintln!(
            "skipped: several nodes share a PostgreSQL database (ENLIST_TEST_BACKEND=postgres)"
        );
    }
    !test_postgres::enabled()
}

/// Creates an organization (admin ada@acme.test) with the CLI; answers
/// the admin's all-scopes key.
fn org_with_key(database_url: &str, dir: &Path) -> String {
    let org = cli(
        database_url,
        dir,
        &[
            "org",
            "create",
            "--name",
            "Acme",
            "--admin-email",
            "ada@acme.test",
        ],
    );
    let (org_id, admin_id) = (
        org["organization"]["id"].to_string(),
        org["admin"]["id"].to_string(),
    );
    cli(
        database_url,
        dir,
        &[
            "api-key", "create", "--org", &org_id, "--user", &admin_id, "--scopes", ALL_SCOPES,
        ],
    )["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One `SELECT COUNT(*) …` straight on the database, as an operator would.
fn count(database_url: &str, sql: &str) -> i64 {
    let (url, sql) = (database_url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client.query_one(&sql, &[]).unwrap().get(0)
    })
    .join()
    .unwrap()
}

/// A fresh database, three nodes started together on it, an organization
/// with an admin (ada, user 1) and her key.
fn cluster() -> Option<Cluster> {
    if skipped() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let database_url = test_postgres::fresh_database();
    // Started before anything else touches the database: they race to
    // migrate it and to create its secrets and signing key.
    let nodes = start_nodes(NODES, &database_url, dir.path(), &outbox);
    let key = org_with_key(&database_url, dir.path());
    Some(Cluster {
        nodes,
        client: reqwest::Client::new(),
        key,
        dir,
        database_url,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_started_together_share_one_schema_one_secret_set_and_one_signing_key() {
    let Some(cluster) = cluster() else { return };
    let version = cluster.cli(&["check"]);
    assert_eq!(version["ok"], true, "{version}");
    assert_eq!(version["engine"], "postgresql");
    // Every node publishes the same one signing key.
    let mut published = Vec::new();
    for node in 0..NODES {
        let (status, jwks) = cluster
            .request(
                node,
                reqwest::Method::GET,
                "/.well-known/jwks.json",
                ("Accept", "*/*"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{jwks}");
        published.push(jwks["keys"].clone());
    }
    assert!(published.windows(2).all(|w| w[0] == w[1]), "{published:?}");
    assert_eq!(
        published[0].as_array().map(Vec::len),
        Some(1),
        "{published:?}"
    );
    assert!(
        cluster.logged_errors().is_empty(),
        "{:?}",
        cluster.logged_errors()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_invitations_of_one_email_on_every_node_create_exactly_one() {
    let Some(cluster) = cluster() else { return };
    for round in 0..10 {
        let email = format!("round{round}@example.test");
        let replies = futures_join(
            (0..12)
                .map(|i| {
                    cluster.admin(
                        i,
                        reqwest::Method::POST,
                        "/v1/organization/invitations",
                        Some(json!({ "inviteeEmail": email, "role": "MEMBER" })),
                    )
                })
                .collect(),
        )
        .await;
        let created = replies.iter().filter(|(status, _)| *status == 200).count();
        assert_eq!(created, 1, "round {round}: {replies:?}");
        for (status, body) in replies.iter().filter(|(status, _)| *status != 200) {
            assert_eq!(*status, 409, "{body}");
            assert_eq!(body["code"], "invitation_pending", "{body}");
        }
    }
    let (_, page) = cluster
        .admin(
            0,
            reqwest::Method::GET,
            "/v1/organization/invitations?limit=100",
            None,
        )
        .await;
    assert_eq!(page["totalCount"], 10, "{page}");
    assert!(
        cluster.logged_errors().is_empty(),
        "{:?}",
        cluster.logged_errors()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accept_on_one_node_racing_revoke_on_another_has_exactly_one_winner() {
    let Some(cluster) = cluster() else { return };
    cluster.cli(&["user", "create", "--email", "iris@example.test"]);
    let token = cluster.bearer_for("iris@example.test", 2).await;
    let (mut accepted, mut revoked) = (0, 0);
    for round in 0..20 {
        let (status, invitation) = cluster
            .admin(
                round,
                reqwest::Method::POST,
                "/v1/organization/invitations",
                Some(json!({ "inviteeEmail": "iris@example.test", "role": "MEMBER" })),
            )
            .await;
        assert_eq!(status, 200, "{invitation}");
        let id = invitation["id"].as_i64().unwrap();
        let (_, mine) = cluster
            .request(
                round + 1,
                reqwest::Method::GET,
                "/invitations",
                ("Authorization", &token),
                None,
            )
            .await;
        let uuid = mine[0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("the invitee lists its invitation: {mine}"))
            .to_owned();
        let accept_path = format!("/invitations/{uuid}?accept=true");
        let revoke_path = format!("/v1/organization/invitations/{id}/revoke");
        let (accept, revoke) = tokio::join!(
            cluster.request(
                round + 1,
                reqwest::Method::POST,
                &accept_path,
                ("Authorization", &token),
                None
            ),
            cluster.admin(round + 2, reqwest::Method::POST, &revoke_path, None),
        );
        match (accept.0, revoke.0) {
            (200, 409) => {
                accepted += 1;
                assert_eq!(revoke.1["code"], "invitation_not_revocable", "{}", revoke.1);
                // Out again, for the next round's invitation.
                let (status, body) = cluster
                    .admin(
                        round,
                        reqwest::Method::DELETE,
                        "/v1/organization/users/2",
                        None,
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
            }
            (409, 200) => revoked += 1,
            other => panic!("round {round}: both or neither won: {other:?} {accept:?} {revoke:?}"),
        }
    }
    assert_eq!(accepted + revoked, 20);
    assert!(
        cluster.logged_errors().is_empty(),
        "{:?}",
        cluster.logged_errors()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_two_admins_removing_each_other_on_two_nodes_leave_one() {
    let Some(cluster) = cluster() else { return };
    for round in 0..8 {
        // An organization of its own per round: admin A, and B made an admin
        // through an invitation B accepts with a token of its own.
        let (a, b) = (
            format!("a{round}@example.test"),
            format!("b{round}@example.test"),
        );
        let org = cluster.cli(&[
            "org",
            "create",
            "--name",
            &format!("Org {round}"),
            "--admin-email",
            &a,
        ]);
        let org_id = org["organization"]["id"].as_i64().unwrap().to_string();
        let a_id = org["admin"]["id"].as_i64().unwrap();
        let key_of = |user: i64| {
            cluster.cli(&[
                "api-key",
                "create",
                "--org",
                &org_id,
                "--user",
                &user.to_string(),
                "--scopes",
                ALL_SCOPES,
            ])["key"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let a_key = key_of(a_id);
        let b_id = cluster.cli(&["user", "create", "--email", &b])["id"]
            .as_i64()
            .unwrap();
        let bearer = cluster.bearer_for(&b, 0).await;
        let invite = json!({ "inviteeEmail": b, "role": "ADMIN" });
        let (status, body) = cluster
            .request(
                0,
                reqwest::Method::POST,
                "/v1/organization/invitations",
                ("X-API-Key", &a_key),
                Some(invite),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (_, mine) = cluster
            .request(
                1,
                reqwest::Method::GET,
                "/invitations",
                ("Authorization", &bearer),
                None,
            )
            .await;
        let uuid = mine[0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("the invitee lists its invitation: {mine}"))
            .to_owned();
        let accept = format!("/invitations/{uuid}?accept=true");
        let (status, body) = cluster
            .request(
                1,
                reqwest::Method::POST,
                &accept,
                ("Authorization", &bearer),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let b_key = key_of(b_id);

        // A removes B on one node while B removes A on another.
        let (remove_b, remove_a) = (
            format!("/v1/organization/users/{b_id}"),
            format!("/v1/organization/users/{a_id}"),
        );
        let (one, two) = tokio::join!(
            cluster.request(
                round,
                reqwest::Method::DELETE,
                &remove_b,
                ("X-API-Key", &a_key),
                None
            ),
            cluster.request(
                round + 1,
                reqwest::Method::DELETE,
                &remove_a,
                ("X-API-Key", &b_key),
                None
            ),
        );
        let winners: Vec<_> = [&one, &two].into_iter().filter(|r| r.0 == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {one:?} {two:?}");
        let loser = if one.0 == 200 { &two } else { &one };
        // The loser's key died with its membership, or it met the last-admin rule.
        assert!(
            loser.0 == 401 || (loser.0 == 409 && loser.1["code"] == "last_admin"),
            "round {round}: {loser:?}"
        );
        let survivor_key = if one.0 == 200 { &a_key } else { &b_key };
        let (_, members) = cluster
            .request(
                2,
                reqwest::Method::GET,
                "/v1/organization/users?limit=100",
                ("X-API-Key", survivor_key),
                None,
            )
            .await;
        let admins = members["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "ADMIN")
            .count();
        assert_eq!(admins, 1, "round {round}: {members}");
    }
    assert!(
        cluster.logged_errors().is_empty(),
        "{:?}",
        cluster.logged_errors()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_queued_message_is_sent_once_by_one_of_the_nodes() {
    let Some(mut cluster) = cluster() else { return };
    const INVITATIONS: usize = 60;
    let replies = futures_join(
        (0..INVITATIONS)
            .map(|i| {
                cluster.admin(
                    i,
                    reqwest::Method::POST,
                    "/v1/organization/invitations",
                    Some(json!({ "inviteeEmail": format!("guest{i}@example.test"), "role": "MEMBER" })),
                )
            })
            .collect(),
    )
    .await;
    assert!(
        replies.iter().all(|(status, _)| *status == 200),
        "{replies:?}"
    );
    let outbox = cluster.dir.path().join("outbox");
    let list = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&outbox)
            .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    eventually(Duration::from_secs(30), "every message written", || {
        (list().len() >= INVITATIONS).then_some(())
    })
    .await;
    // Stopped cleanly: a message on its way a second time would be written by now.
    cluster.stop();
    let files = list();
    let mut recipients: Vec<String> = files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            text.lines()
                .find_map(|line| line.strip_prefix("To: "))
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    recipients.sort();
    let sent = recipients.len();
    recipients.dedup();
    assert_eq!(sent, INVITATIONS, "every message once: {sent} files");
    assert_eq!(recipients.len(), INVITATIONS, "no recipient twice");
    // Which nodes wrote them (each logs every message it writes).
    let per_node: Vec<usize> = cluster
        .nodes
        .iter()
        .map(|node| {
            node.log()
                .iter()
                .filter(|line| line.contains("invitation message written"))
                .count()
        })
        .collect();
    assert_eq!(per_node.iter().sum::<usize>(), INVITATIONS, "{per_node:?}");
    eprintln!("{INVITATIONS} messages written once each; per node: {per_node:?}");
    let backlog = count(
        &cluster.database_url,
        "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL",
    );
    assert_eq!(backlog, 0);
    assert!(
        cluster.logged_errors().is_empty(),
        "{:?}",
        cluster.logged_errors()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_reaches_a_webhook_once_whichever_node_sends_it() {
    let Some(mut cluster) = cluster() else { return };
    let receiver = webhook_receiver::Receiver::start(vec![]);
    let (status, endpoint) = cluster
        .admin(
            0,
            reqwest::Method::POST,
            "/v1/organization/webhooks",
            Some(json!({ "url": receiver.url, "events": ["invitation.created"] })),
        )
        .await;
    assert_eq!(status, 200, "{endpoint}");
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    const INVITATIONS: usize = 45;
    let replies = futures_join(
        (0..INVITATIONS)
            .map(|i| {
                cluster.admin(
                    i,
                    reqwest::Method::POST,
                    "/v1/organization/invitations",
                    Some(json!({ "inviteeEmail": format!("hook{i}@example.test"), "role": "MEMBER" })),
                )
            })
            .collect(),
    )
    .await;
    assert!(
        replies.iter().all(|(status, _)| *status == 200),
        "{replies:?}"
    );
    let got = receiver.wait_for(INVITATIONS).await;
    // Stopped cleanly: a delivery on its way a second time would have arrived by now.
    cluster.stop();
    let got_now = receiver.received();
    assert_eq!(got_now.len(), INVITATIONS, "every event once");
    let mut ids: Vec<String> = got
        .iter()
        .map(|delivery| {
            delivery.verify(&secret).unwrap();
            delivery.header("webhook-id").to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), INVITATIONS, "no webhook-id twice");
    let delivered = count(
        &cluster.database_url,
        "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'delivered'",
    );
    assert_eq!(delivered, INVITATIONS as i64);
    let attempts = count(
        &cluster.database_url,
        "SELECT COUNT(*) FROM webhook_attempts",
    );
    assert_eq!(attempts, INVITATIONS as i64, "one attempt each");
    assert!(
        cluster.logged_errors().is_empty(),
        "{:?}",
        cluster.logged_errors()
    );
}

/// What a replay of `first` answers: the same, except that a join link's
/// `url` (its token) is never stored, and the replay says so.
fn replay_of(first: &Value) -> Value {
    let mut replay = first.clone();
    if let Some(object) = replay.as_object_mut()
        && object.remove("url").is_some()
    {
        object.insert("secretOmitted".into(), Value::Bool(true));
    }
    replay
}

/// Sends one POST with one `Idempotency-Key` to two nodes at once, then
/// again to a third: one of the two ran, the other answered the replay or
/// 409 `idempotency_key_in_use`, the third the replay. Answers the body of
/// the one that ran and whether the other was a replay.
async fn race_one_key(
    cluster: &Cluster,
    round: usize,
    path: &str,
    key: &str,
    body: &Value,
) -> (Value, bool) {
    let (one, two) = tokio::join!(
        cluster.idempotent_post(round, path, key, body),
        cluster.idempotent_post(round + 1, path, key, body),
    );
    let (ran, other) = match (&one, &two) {
        ((200, false, _), _) => (&one.2, &two),
        (_, (200, false, _)) => (&two.2, &one),
        _ => panic!("{path} round {round}: neither ran: {one:?} {two:?}"),
    };
    let replayed = match other {
        (200, true, replay) => {
            assert_eq!(replay, &replay_of(ran), "{path} round {round}");
            true
        }
        (409, false, problem) if problem["code"] == "idempotency_key_in_use" => false,
        _ => panic!("{path} round {round}: both ran, or a wrong answer: {one:?} {two:?}"),
    };
    let again = cluster.idempotent_post(round + 2, path, key, body).await;
    assert_eq!(
        again,
        (200, true, replay_of(ran)),
        "{path} round {round}: the stored answer is the one that ran"
    );
    (ran.clone(), replayed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_idempotency_key_sent_to_two_nodes_at_once_has_one_side_effect() {
    let Some(cluster) = cluster() else { return };
    const ROUNDS: usize = 30;
    let (mut replays, mut in_use) = (0, 0);
    let mut tally = |replayed: bool| {
        if replayed {
            replays += 1;
        } else {
            in_use += 1;
        }
    };
    for round in 0..ROUNDS {
        // An invitation: one row, one message, one event.
        let email = format!("race{round}@example.test");
        let body = json!({ "inviteeEmail": email, "role": "MEMBER" });
        let path = "/v1/organization/invitations";
        let (_, replayed) = race_one_key(&cluster, round, path, &format!("i{round}"), &body).await;
        tally(replayed);
        for (what, sql) in [
            (
                "invitation",
                format!("SELECT COUNT(*) FROM invitations WHERE invitee_email = '{email}'"),
            ),
            (
                "message",
                format!("SELECT COUNT(*) FROM outbox WHERE recipient = '{email}'"),
            ),
            (
                "event",
                format!(
                    "SELECT COUNT(*) FROM events \
                     WHERE type = 'invitation.created' AND body LIKE '%\"{email}\"%'"
                ),
            ),
        ] {
            assert_eq!(
                count(&cluster.database_url, &sql),
                1,
                "round {round}: one {what}"
            );
        }

        // A join link, which no other rule would stop from being made twice.
        let body = json!({ "maxUses": 1, "expiresIn": "1d" });
        let path = "/v1/organization/join-links";
        let (link, replayed) =
            race_one_key(&cluster, round, path, &format!("j{round}"), &body).await;
        tally(replayed);
        assert!(link["url"].is_string(), "{link}");
        assert_eq!(
            count(&cluster.database_url, "SELECT COUNT(*) FROM join_links"),
            round as i64 + 1,
            "round {round}: one join link"
        );
    }
    eprintln!("{ROUNDS} rounds of two races: {replays} replayed, {in_use} answered 409");
    assert!(
        cluster.logged_errors().is_empty(),
        "{:?}",
        cluster.logged_errors()
    );
}

/// Awaits every future concurrently; their outputs in order.
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    futures_util::future::join_all(futures).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_while_holding_a_claim_leaves_its_messages_to_another() {
    if skipped() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let database_url = test_postgres::fresh_database();
    // A mail server that accepts the connection and never answers: the
    // first node's send hangs with the message claimed.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = black_hole.local_addr().unwrap().port().to_string();
    let lease = [("ENLIST_DELIVERY__CLAIM_LEASE", "2s")];
    let mut stuck = start_nodes_with(
        1,
        &database_url,
        dir.path(),
        &dir.path().join("unused"),
        &[
            lease[0],
            ("ENLIST_DELIVERY__TRANSPORT", "smtp"),
            ("ENLIST_DELIVERY__SMTP__HOST", "127.0.0.1"),
            ("ENLIST_DELIVERY__SMTP__PORT", &port),
            ("ENLIST_DELIVERY__SMTP__TLS", "none"),
            ("ENLIST_DELIVERY__SMTP__TIMEOUT", "60s"),
        ],
    );
    let key = org_with_key(&database_url, dir.path());
    let reply = reqwest::Client::new()
        .post(stuck[0].url("/v1/organization/invitations"))
        .header("X-API-Key", &key)
        .json(&json!({ "inviteeEmail": "bob@example.test", "role": "MEMBER" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    // The first node claims the message and hangs in its send.
    let claimed = || {
        count(
            &database_url,
            "SELECT COUNT(*) FROM outbox WHERE claimed_until IS NOT NULL AND sent_at IS NULL",
        )
    };
    eventually(
        Duration::from_secs(10),
        "the first node to claim it",
        || (claimed() > 0).then_some(()),
    )
    .await;
    // It dies holding the claim (no clean stop to give it back).
    stuck[0].kill();
    stuck.clear();

    let outbox = dir.path().join("outbox");
    let _second = start_nodes_with(1, &database_url, dir.path(), &outbox, &lease);
    let files = eventually(
        Duration::from_secs(20),
        "the second node to send the message the first one held",
        || {
            let files: Vec<_> = std::fs::read_dir(&outbox)
                .map(|d| d.filter_map(Result::ok).collect())
                .unwrap_or_default();
            (!files.is_empty()).then_some(files)
        },
    )
    .await;
    assert_eq!(files.len(), 1);
    drop(black_hole);
}
