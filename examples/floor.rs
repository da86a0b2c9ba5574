//! The floor the benchmark compares enlist's database reads with: the least
//! code that does the same work on the same database file, with nothing of
//! enlist's (no middleware, no request log, no metrics, no problem details).
//!
//! `cargo run --release --example floor -- DATABASE 127.0.0.1:8091 [WORKERS]`
//! opens a database made by `enlist dev seed` and answers, for an
//! `X-API-Key` of that file:
//!
//! - `GET /v1/organization/invitations`: the first page's work: the key
//!   looked up and its digest compared, the organization's counters summed,
//!   100 invitations read newest first from the same index, serialised with
//!   serde_json and chrono's RFC 3339;
//! - `GET /v1/organization`: the key, then the organization's row.
//!
//! Like enlist, every SQLite call runs on the blocking thread pool, on a
//! pooled connection. The JSON has the fields of enlist's answers; it is a
//! baseline, not an implementation: no filters, no paging parameters, no
//! expiry rule beyond the stored status.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use r2d2_sqlite::SqliteConnectionManager;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type Pool = r2d2::Pool<SqliteConnectionManager>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invitation {
    status: String,
    role: String,
    id: i64,
    created_at: String,
    updated_at: String,
    expires_at: String,
    inviter_user_id: Option<i64>,
    invitee_email: String,
    organization_id: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    items: Vec<Invitation>,
    limit: i64,
    offset: i64,
    total_count: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Organization {
    id: String,
    name: String,
    logo_url: Option<String>,
    member_count: i64,
    created_at: String,
    updated_at: String,
}

enum Failure {
    Unauthorized,
    Internal,
}

impl From<rusqlite::Error> for Failure {
    fn from(_: rusqlite::Error) -> Self {
        Failure::Internal
    }
}

impl From<r2d2::Error> for Failure {
    fn from(_: r2d2::Error) -> Self {
        Failure::Internal
    }
}

fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The key check enlist makes: `enl_<public id>_<secret>`, the row found by
/// public id (its owner still an admin), the secret's SHA-256 compared in
/// constant time. Returns the key's organization.
fn organization_of(conn: &rusqlite::Connection, key: &str) -> Result<i64, Failure> {
    let mut parts = key.splitn(3, '_');
    let (Some("enl"), Some(public_id), Some(secret)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(Failure::Unauthorized);
    };
    let found: Option<(i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT k.org_id, k.secret_sha256 FROM api_keys k
             JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.user_id AND m.role = 'ADMIN'
             WHERE k.public_id = ?1 AND k.revoked_at IS NULL",
        )?
        .query_row([public_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    match found {
        Some((org_id, digest)) if bool::from(Sha256::digest(secret).ct_eq(&digest[..])) => {
            Ok(org_id)
        }
        _ => Err(Failure::Unauthorized),
    }
}

fn first_page(pool: &Pool, key: &str) -> Result<Page, Failure> {
    let conn = pool.get()?;
    let org_id = organization_of(&conn, key)?;
    let total_count: i64 = conn
        .prepare_cached("SELECT COALESCE(SUM(n), 0) FROM invitation_counts WHERE org_id = ?1")?
        .query_row([org_id], |row| row.get(0))?;
    let items = conn
        .prepare_cached(
            "SELECT id, org_id, invitee_email, role, status, inviter_user_id,
                    created_at, updated_at, expires_at
             FROM invitations WHERE org_id = ?1
             ORDER BY created_at DESC, id DESC LIMIT 100",
        )?
        .query_map([org_id], |row| {
            Ok(Invitation {
                id: row.get(0)?,
                organization_id: row.get(1)?,
                invitee_email: row.get(2)?,
                role: row.get(3)?,
                status: row.get(4)?,
                inviter_user_id: row.get(5)?,
                created_at: rfc3339(row.get(6)?),
                updated_at: rfc3339(row.get(7)?),
                expires_at: rfc3339(row.get(8)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Page {
        items,
        limit: 100,
        offset: 0,
        total_count,
    })
}

fn organization(pool: &Pool, key: &str) -> Result<Organization, Failure> {
    let conn = pool.get()?;
    let org_id = organization_of(&conn, key)?;
    Ok(conn
        .prepare_cached(
            "SELECT uuid, name, logo_url, member_count, created_at, updated_at
             FROM organizations WHERE id = ?1",
        )?
        .query_row([org_id], |row| {
            Ok(Organization {
                id: row.get(0)?,
                name: row.get(1)?,
                logo_url: row.get(2)?,
                member_count: row.get(3)?,
                created_at: rfc3339(row.get(4)?),
                updated_at: rfc3339(row.get(5)?),
            })
        })?)
}

async fn answer<T: Serialize + Send + 'static>(
    req: HttpRequest,
    pool: web::Data<Pool>,
    work: fn(&Pool, &str) -> Result<T, Failure>,
) -> HttpResponse {
    let key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    match web::block(move || work(&pool, &key)).await {
        Ok(Ok(body)) => HttpResponse::Ok().json(body),
        Ok(Err(Failure::Unauthorized)) => HttpResponse::Unauthorized().finish(),
        _ => HttpResponse::InternalServerError().finish(),
    }
}

async fn ready() -> &'static str {
    "ready"
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let database = args
        .next()
        .ok_or_else(|| std::io::Error::other("usage: floor DATABASE [BIND] [WORKERS]"))?;
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:8091".into());
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    let manager = SqliteConnectionManager::file(&database)
        .with_flags(rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .with_init(|conn| conn.execute_batch("PRAGMA query_only = ON;"));
    let pool = r2d2::Pool::builder()
        .max_size(8)
        .build(manager)
        .map_err(std::io::Error::other)?;
    let pool = web::Data::new(pool);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(pool.clone())
            .route(
                "/v1/organization/invitations",
                web::get().to(|req, pool| answer(req, pool, first_page)),
            )
            .route(
                "/v1/organization",
                web::get().to(|req, pool| answer(req, pool, organization)),
            )
            .route("/readyz", web::get().to(ready))
    });
    if workers > 0 {
        server = server.workers(workers);
    }
    server.bind(bind)?.run().await
}
