//! Browser sessions for the hosted pages. The cookie carries a random
//! token; only its SHA-256 is stored.

use super::ServiceResult;
use crate::auth::secrets;
use crate::db;
use crate::db::Conn;
use crate::domain::event::{EventType, Origin};
use crate::domain::{AuthMethod, AuthMethods, Millis};
use std::time::Duration;

/// The person a session belongs to, and how they signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub user_id: i64,
    pub email: String,
    pub email_verified: bool,
    /// How the holder proved who they are, in this session.
    pub methods: AuthMethods,
    /// When they did (OIDC's `auth_time`): a session starts at a sign-in.
    pub signed_in_at: Millis,
}

/// Starts a session for someone who just signed in with `method`, and
/// writes `user.signed_in` in each of their organizations; answers the
/// token for the cookie. A password typed or a fresh sign-in at a provider
/// counts as a recent password check (see `Accounts::step_up`).
pub fn start(
    tx: &Conn,
    user_id: i64,
    method: AuthMethod,
    lifetime: Duration,
    now: Millis,
) -> ServiceResult<String> {
    let token = secrets::random_base62(43);
    let digest = secrets::sha256(&token);
    let methods = AuthMethods::one(method);
    db::sessions::insert(
        tx,
        &db::sessions::NewSession {
            token_sha256: &digest,
            user_id,
            methods: &methods.stored(),
            expires_at: now.plus(lifetime),
        },
        now,
    )?;
    if matches!(method, AuthMethod::Password | AuthMethod::Provider) {
        db::sessions::mark_password(tx, &digest, now)?;
    }
    if method.is_second_factor() {
        db::sessions::mark_factor(tx, &digest, now)?;
    }
    record_sign_in(tx, user_id, method, &methods, now)?;
    Ok(token)
}

/// `user.signed_in`, in every organization the person belongs to: the
/// method just used and what the session now adds up to, never a secret.
pub fn record_sign_in(
    tx: &Conn,
    user_id: i64,
    method: AuthMethod,
    methods: &AuthMethods,
    now: Millis,
) -> ServiceResult<()> {
    let orgs = db::members::org_ids_of(tx, user_id)?;
    if orgs.is_empty() {
        return Ok(());
    }
    let Some(user) = db::users::get(tx, user_id)? else {
        return Ok(());
    };
    let data = serde_json::json!({
        "user": {"id": user.id, "email": user.email},
        "method": method.as_str(),
        "amr": methods.amr(),
    });
    let origin = Origin::user(user_id);
    for org_id in orgs {
        super::events::record(tx, &origin, org_id, EventType::SignedIn, data.clone(), now)?;
    }
    Ok(())
}

pub fn find(conn: &Conn, token: &str, now: Millis) -> ServiceResult<Option<SessionUser>> {
    Ok(
        db::sessions::find(conn, &secrets::sha256(token), now)?.map(|row| SessionUser {
            user_id: row.user_id,
            email: row.email,
            email_verified: row.email_verified,
            methods: AuthMethods::parse(&row.methods),
            signed_in_at: row.created_at,
        }),
    )
}

/// Adds a method to a live session (a second factor after the first), and
/// writes `user.signed_in` for it; answers what the session now adds up to.
pub fn add_method(
    tx: &Conn,
    token: &str,
    method: AuthMethod,
    now: Millis,
) -> ServiceResult<Option<AuthMethods>> {
    let digest = secrets::sha256(token);
    let Some(row) = db::sessions::find(tx, &digest, now)? else {
        return Ok(None);
    };
    let mut methods = AuthMethods::parse(&row.methods);
    methods.add(method);
    db::sessions::set_methods(tx, &digest, &methods.stored())?;
    if method.is_second_factor() {
        // When it was last proved: the console's step-up asks again after a while.
        db::sessions::mark_factor(tx, &digest, now)?;
    }
    record_sign_in(tx, row.user_id, method, &methods, now)?;
    Ok(Some(methods))
}

pub fn end(tx: &Conn, token: &str) -> ServiceResult<()> {
    Ok(db::sessions::delete(tx, &secrets::sha256(token))?)
}

/// The key that signs CSRF tokens, generated on first start.
pub fn csrf_key(tx: &Conn, now: Millis) -> ServiceResult<Vec<u8>> {
    Ok(db::oauth::server_secret(
        tx,
        "csrf_hmac_sha256",
        || {
            use rand::RngCore;
            let mut key = vec![0_u8; 32];
            rand::rng().fill_bytes(&mut key);
            key
        },
        now,
    )?)
}
