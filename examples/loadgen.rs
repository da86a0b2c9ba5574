//! The benchmark's load driver for requests that must differ from one
//! another (a load generator such as oha repeats one request):
//!
//! - `create`: `POST /v1/organization/invitations`, a new email each time;
//! - `revoke`: `POST /v1/organization/invitations/{id}/revoke`, each on a
//!   pending invitation (collected first, untimed, from the list API);
//! - `accept`: `POST /invitations/{uuid}?accept=true`, each on a fresh
//!   invitation of the accept pool (`enlist dev seed --accept-pool`).
//!
//! Runs `--concurrency` connections for `--seconds` (or until the prepared
//! work runs out) and prints one JSON object: requests, requests/s, p50,
//! p99, p99.9 latency in milliseconds, and non-2xx answers by status.
//!
//! `cargo run --release --example loadgen -- --mode create --base
//! http://127.0.0.1:8080 --api-key enl_...`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Options {
    mode: String,
    base: String,
    concurrency: usize,
    seconds: f64,
    api_key: String,
    token: String,
    uuids_file: String,
    /// Pending invitations to collect for `revoke`.
    pool: usize,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        mode: String::new(),
        base: "http://127.0.0.1:8080".into(),
        concurrency: 32,
        seconds: 5.0,
        api_key: String::new(),
        token: String::new(),
        uuids_file: String::new(),
        pool: 100_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--mode" => o.mode = value,
            "--base" => o.base = value.trim_end_matches('/').into(),
            "--concurrency" => o.concurrency = number(&value)? as usize,
            "--seconds" => o.seconds = number(&value)?,
            "--api-key" => o.api_key = value,
            "--token" => o.token = value,
            "--uuids-file" => o.uuids_file = value,
            "--pool" => o.pool = number(&value)? as usize,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(o)
}

/// Work items: what differs between requests.
enum Work {
    /// Unique emails come from a counter, the start time and the process
    /// (two generators started together must not invite the same people).
    Create {
        run: u64,
    },
    Revoke(Vec<i64>),
    Accept(Vec<String>),
}

async fn prepare(o: &Options, client: &reqwest::Client) -> Result<Work, String> {
    match o.mode.as_str() {
        "create" => Ok(Work::Create {
            run: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        }),
        "revoke" => {
            let mut ids = Vec::new();
            let mut offset = 0;
            while ids.len() < o.pool {
                let url = format!(
                    "{}/v1/organization/invitations?status=PENDING&limit=1000&offset={offset}",
                    o.base
                );
                let page: serde_json::Value = client
                    .get(&url)
                    .header("X-API-Key", &o.api_key)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                let items = page
                    .get("items")
                    .and_then(|items| items.as_array())
                    .cloned()
                    .unwrap_or_default();
                if items.is_empty() {
                    break;
                }
                ids.extend(items.iter().filter_map(|i| i["id"].as_i64()));
                offset += items.len();
            }
            ids.truncate(o.pool);
            Ok(Work::Revoke(ids))
        }
        "accept" => {
            let text = std::fs::read_to_string(&o.uuids_file)
                .map_err(|e| format!("{}: {e}", o.uuids_file))?;
            Ok(Work::Accept(text.lines().map(str::to_owned).collect()))
        }
        other => Err(format!("unknown mode `{other}` (create, revoke, accept)")),
    }
}

fn request(
    o: &Options,
    client: &reqwest::Client,
    work: &Work,
    n: usize,
) -> Option<reqwest::RequestBuilder> {
    match work {
        Work::Create { run } => Some(
            client
                .post(format!("{}/v1/organization/invitations", o.base))
                .header("X-API-Key", &o.api_key)
                .header("Content-Type", "application/json")
                .body(format!(
                    r#"{{"inviteeEmail":"load.{run}.{pid}.{n}@load.example.test","role":"MEMBER"}}"#,
                    pid = std::process::id()
                )),
        ),
        Work::Revoke(ids) => ids.get(n).map(|id| {
            client
                .post(format!(
                    "{}/v1/organization/invitations/{id}/revoke",
                    o.base
                ))
                .header("X-API-Key", &o.api_key)
        }),
        Work::Accept(uuids) => uuids.get(n).map(|uuid| {
            client
                .post(format!("{}/invitations/{uuid}?accept=true", o.base))
                .bearer_auth(&o.token)
        }),
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    failures: u64,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let at = rank.clamp(1, sorted.len()) - 1;
    f64::from(sorted.get(at).copied().unwrap_or_default()) / 1000.0
}

#[tokio::main]
async fn main() {
    let o = match options() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| {
            eprintln!("loadgen: {e}");
            std::process::exit(2)
        });
    let work = match prepare(&o, &client).await {
        Ok(w) => Arc::new(w),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let prepared = match &*work {
        Work::Create { .. } => None,
        Work::Revoke(ids) => Some(ids.len()),
        Work::Accept(uuids) => Some(uuids.len()),
    };
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(o.seconds);
    let mut tasks = Vec::new();
    for _ in 0..o.concurrency {
        let (o, client, work, next) = (o.clone(), client.clone(), work.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(req) = request(&o, &client, &work, n) else {
                    break;
                };
                let sent = Instant::now();
                let outcome = req.send().await;
                let body = match outcome {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        // Read the whole answer: latency includes the body.
                        // A body cut short still ends the request; its status is counted.
                        response.bytes().await.ok();
                        Some(status)
                    }
                    Err(_) => None,
                };
                let us = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                tally.latencies_us.push(us);
                match body {
                    Some(status) => *tally.statuses.entry(status).or_default() += 1,
                    None => tally.failures += 1,
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        if let Ok(t) = task.await {
            all.latencies_us.extend(t.latencies_us);
            for (status, n) in t.statuses {
                *all.statuses.entry(status).or_default() += n;
            }
            all.failures += t.failures;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let requests = all.latencies_us.len() as u64;
    let errors = all.failures
        + all
            .statuses
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(_, n)| n)
            .sum::<u64>();
    let statuses: BTreeMap<String, u64> = all
        .statuses
        .iter()
        .map(|(s, n)| (s.to_string(), *n))
        .collect();
    let report = serde_json::json!({
        "mode": o.mode,
        "requests": requests,
        "seconds": elapsed,
        "rps": requests as f64 / elapsed,
        "p50_ms": percentile(&all.latencies_us, 50.0),
        "p99_ms": percentile(&all.latencies_us, 99.0),
        "p999_ms": percentile(&all.latencies_us, 99.9),
        "errors": errors,
        "connection_failures": all.failures,
        "statuses": statuses,
        "prepared": prepared,
        "exhausted": prepared.is_some_and(|p| requests as usize >= p),
    });
    println!("{report}");
}
