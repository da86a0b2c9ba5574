//! What every request handler can reach: the application state, built by
//! `startup` and read by `api`. It sits below both, so neither imports the
//! other for it.

use crate::auth::jwt::TokenSigner;
use crate::config::Settings;
use crate::db::Database;
use crate::delivery::Composer;
use crate::domain::Clock;
use crate::domain::net::TrustedProxies;
use crate::services::accounts::Accounts;
use std::sync::Arc;

/// What every handler can reach.
pub struct AppState {
    pub db: Database,
    pub settings: Arc<Settings>,
    /// The external base URL, without a trailing slash: the token issuer.
    pub public_url: String,
    pub tokens: TokenSigner,
    /// Sign-up, sign-in, verification, claims and resets.
    pub accounts: Accounts,
    /// Renders messages into the outbox.
    pub composer: Arc<Composer>,
    /// "Now" for every rule that depends on time.
    pub clock: Clock,
    /// Peers whose forwarding headers say who the client is.
    pub trusted_proxies: TrustedProxies,
    /// The key that signs the hosted pages' CSRF tokens (generated once,
    /// kept in `server_secrets`).
    pub csrf_key: Vec<u8>,
    /// The key that seals the admin lists' cursors (generated once, kept in
    /// `server_secrets`).
    pub cursor_key: crate::services::list_cursor::CursorKey,
    /// Admin requests per API key (or, for keys not known to be valid, per
    /// client address) this minute (in memory).
    pub admin_limiter: Arc<crate::auth::throttle::AdminRateLimiter>,
    /// API keys that authenticated: counted against the key from the start.
    pub authenticated_keys: Arc<crate::auth::throttle::AuthenticatedKeys>,
    /// API keys presented and found invalid (answered 401 without a read).
    pub rejected_keys: Arc<crate::auth::throttle::RejectedKeys>,
    /// Issuers whose bearer JWTs the invitee API accepts.
    pub trusted_issuers: Arc<crate::federation::trusted::TrustedIssuers>,
    /// Where webhook endpoints may point (`webhooks.*`).
    pub webhook_policy: Arc<crate::domain::webhook::TargetPolicy>,
}
