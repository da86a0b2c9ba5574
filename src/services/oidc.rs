//! enlist as an OpenID provider, beside the OAuth2 rules of
//! [`super::oauth`]: what a client may read about a person (the ID token's
//! and `userinfo`'s claims), the consent third-party clients need, where
//! RP-initiated logout may return to, and who may introspect which token
//! (RFC 7662).

use super::ServiceResult;
use super::oauth::{Authorization, Client, OAuthError};
use super::sessions::SessionUser;
use crate::db::{self, Conn};
use crate::domain::Millis;
pub use crate::domain::oidc::PersonClaims;
use crate::domain::oidc::{OrganizationsClaim, Prompt, ScopeName, Scopes};

/// Why `userinfo` refuses a token (RFC 6750 3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserinfoRefusal {
    /// The account is gone.
    InvalidToken,
    /// The token was not granted `openid`.
    InsufficientScope,
}

/// `userinfo` for a verified access token's account and scope.
/// The `organizations` claim for `user_id` when `scopes` ask for it: one
/// read of their memberships, one past the cap to know whether it cut.
pub fn organizations_claim(
    conn: &Conn,
    user_id: i64,
    scopes: &Scopes,
) -> Result<Option<OrganizationsClaim>, crate::db::StorageError> {
    if !scopes.contains(ScopeName::Organizations) {
        return Ok(None);
    }
    let cap = OrganizationsClaim::MAX as i64 + 1;
    let read = db::roles::claims_of(conn, user_id, cap)?;
    Ok(Some(OrganizationsClaim::capped(read)))
}

pub fn userinfo(
    conn: &Conn,
    user_id: i64,
    scope: &str,
) -> ServiceResult<Result<PersonClaims, UserinfoRefusal>> {
    let Ok(scopes) = Scopes::parse(Some(scope)) else {
        return Ok(Err(UserinfoRefusal::InsufficientScope));
    };
    if !scopes.contains(ScopeName::OpenId) {
        return Ok(Err(UserinfoRefusal::InsufficientScope));
    }
    Ok(match db::users::get(conn, user_id)? {
        Some(user) => Ok(PersonClaims {
            organizations: organizations_claim(conn, user.id, &scopes)?,
            ..PersonClaims::of(&user, &scopes)
        }),
        None => Err(UserinfoRefusal::InvalidToken),
    })
}

/// What an authorization request needs next, given the browser's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// The sign-in page.
    SignIn,
    /// The consent page (signed in, a third-party client not yet allowed).
    Consent,
    /// A code, straight back to the client (single sign-on).
    Issue,
    /// Back to the client with an error (`prompt=none` that cannot be met).
    Refuse {
        error: &'static str,
        description: &'static str,
    },
}

/// OIDC Core 3.1.2.3: a live session answers without a page unless the
/// client asks for a fresh sign-in (`prompt=login`, or a `max_age` the
/// sign-in is older than) or a third-party client needs the person's
/// consent; `prompt=none` never shows a page.
pub fn next_step(
    conn: &Conn,
    authorization: &Authorization,
    session: Option<&SessionUser>,
    now: Millis,
) -> ServiceResult<NextStep> {
    let fresh = session.filter(|s| authorization.sign_in_fresh_enough(s.signed_in_at, now));
    let Some(session) = fresh.filter(|_| !authorization.prompt.login) else {
        return Ok(if authorization.prompt.none {
            NextStep::Refuse {
                error: "login_required",
                description: "the person is not signed in (or not recently enough)",
            }
        } else {
            NextStep::SignIn
        });
    };
    let consent = consent_needed(
        conn,
        &authorization.client,
        session.user_id,
        &authorization.scope,
        authorization.prompt,
    )?;
    Ok(match (consent, authorization.prompt.none) {
        (false, _) => NextStep::Issue,
        (true, false) => NextStep::Consent,
        (true, true) => NextStep::Refuse {
            error: "consent_required",
            description: "the person has not allowed this application",
        },
    })
}

/// What follows a sign-in made for an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterSignIn {
    /// A code for the client, issued for the new session.
    Code(String),
    /// A third-party client the person has not allowed: its consent page.
    Consent,
    /// The session ended before the code (nothing issued).
    SessionGone,
}

/// One storage call once a form signed someone in for `authorization`:
/// their session, the consent rule, and the code when none is needed.
pub fn code_after_sign_in(
    tx: &Conn,
    authorization: &Authorization,
    session_token: &str,
    now: Millis,
) -> ServiceResult<AfterSignIn> {
    let Some(session) = super::sessions::find(tx, session_token, now)? else {
        return Ok(AfterSignIn::SessionGone);
    };
    if consent_needed(
        tx,
        &authorization.client,
        session.user_id,
        &authorization.scope,
        authorization.prompt,
    )? {
        return Ok(AfterSignIn::Consent);
    }
    let code = super::oauth::issue_code(
        tx,
        &super::oauth::NewCode {
            authorization,
            user_id: session.user_id,
            auth_time: session.signed_in_at,
            methods: &session.methods,
        },
        now,
    )?;
    Ok(AfterSignIn::Code(code))
}

/// Whether the person must be asked before `client` gets `scopes`: never
/// for a first-party client; for a third-party one, the first time, when it
/// asks for more than was granted, or when it asks again (`prompt=consent`).
pub fn consent_needed(
    conn: &Conn,
    client: &Client,
    user_id: i64,
    scopes: &Scopes,
    prompt: Prompt,
) -> ServiceResult<bool> {
    if client.first_party {
        return Ok(false);
    }
    if prompt.consent {
        return Ok(true);
    }
    let granted = db::oauth::consent(conn, user_id, client.id)?;
    Ok(!granted
        .and_then(|granted| Scopes::parse(Some(&granted)).ok())
        .is_some_and(|granted| scopes.is_within(&granted)))
}

/// Remembers the person's consent, widened by `scopes`.
pub fn grant_consent(
    tx: &Conn,
    client: &Client,
    user_id: i64,
    scopes: &Scopes,
    now: Millis,
) -> ServiceResult<()> {
    let granted = db::oauth::consent(tx, user_id, client.id)?
        .and_then(|granted| Scopes::parse(Some(&granted)).ok())
        .map_or_else(|| scopes.clone(), |granted| granted.union(scopes));
    db::oauth::save_consent(tx, user_id, client.id, &granted.as_string(), now)?;
    Ok(())
}

/// A consent as the account page shows it.
#[derive(Debug, Clone)]
pub struct Consent {
    /// The client's row id (what the revoke form names).
    pub client: i64,
    pub client_name: String,
    pub scopes: Scopes,
    pub granted_at: Millis,
}

pub fn consents(conn: &Conn, user_id: i64) -> ServiceResult<Vec<Consent>> {
    Ok(db::oauth::consents_of_user(conn, user_id)?
        .into_iter()
        .filter_map(|row| {
            Some(Consent {
                client: row.client,
                client_name: row.client_name,
                scopes: Scopes::parse(Some(&row.scope)).ok()?,
                granted_at: row.granted_at,
            })
        })
        .collect())
}

/// Withdraws the person's consent to a client and ends what it gave: the
/// client's refresh tokens for them. True when there was a consent.
pub fn revoke_consent(tx: &Conn, user_id: i64, client: i64, now: Millis) -> ServiceResult<bool> {
    let revoked = db::oauth::delete_consent(tx, user_id, client)?;
    if revoked {
        db::oauth::revoke_refresh_tokens_of_client(tx, user_id, client, now)?;
    }
    Ok(revoked)
}

/// What an `id_token_hint` says, once its signature checked out (its
/// expiry does not matter: OIDC RP-Initiated Logout 1.0, section 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenHint {
    pub user_id: Option<i64>,
    pub client_id: String,
}

/// Why a logout request is refused: shown on a page, never redirected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutRefusal {
    UnknownClient,
    ClientMismatch,
    UnregisteredRedirect,
    RedirectWithoutClient,
}

impl LogoutRefusal {
    pub fn message(&self) -> &'static str {
        match self {
            LogoutRefusal::UnknownClient => "The application is not registered with this server.",
            LogoutRefusal::ClientMismatch => {
                "The sign-out request names one application and its token another."
            }
            LogoutRefusal::UnregisteredRedirect => {
                "The application asked to return to an address it has not registered for sign-out."
            }
            LogoutRefusal::RedirectWithoutClient => {
                "The sign-out request names a return address but not the application."
            }
        }
    }
}

/// Where RP-initiated logout sends the browser afterwards: the client's
/// registered `post_logout_redirect_uri` (exactly), or nowhere (our page).
pub fn logout_return(
    conn: &Conn,
    hint: Option<&IdTokenHint>,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
) -> ServiceResult<Result<Option<String>, LogoutRefusal>> {
    let named = match (hint.map(|h| h.client_id.as_str()), client_id) {
        (Some(from_hint), Some(given)) if from_hint != given => {
            return Ok(Err(LogoutRefusal::ClientMismatch));
        }
        (from_hint, given) => from_hint.or(given),
    };
    let Some(uri) = post_logout_redirect_uri.filter(|u| !u.is_empty()) else {
        return Ok(Ok(None));
    };
    let Some(client_id) = named else {
        return Ok(Err(LogoutRefusal::RedirectWithoutClient));
    };
    let Some(client) = db::oauth::find_client(conn, client_id)?.map(Client::from) else {
        return Ok(Err(LogoutRefusal::UnknownClient));
    };
    if client.post_logout_redirect_uris.iter().any(|r| r == uri) {
        Ok(Ok(Some(uri.to_owned())))
    } else {
        Ok(Err(LogoutRefusal::UnregisteredRedirect))
    }
}

/// The client that introspects, authenticated: only confidential clients
/// may (RFC 7662 2.1 asks for authorization; a public client proves nothing).
pub fn introspector(
    conn: &Conn,
    client_id: &str,
    secret: Option<&str>,
) -> Result<Client, OAuthError> {
    let client = super::oauth::authenticate_client(conn, client_id, secret)?;
    if client.confidential {
        Ok(client)
    } else {
        Err(OAuthError::InvalidClient)
    }
}

/// Whether `caller` may learn about an access token issued to `token_client`
/// for `audience`: its own tokens, and tokens for an API it is registered
/// for (a resource server introspecting what it is sent). Any other token
/// is reported inactive.
pub fn may_introspect(caller: &Client, token_client: &str, audience: &str) -> bool {
    caller.client_id == token_client || caller.resources.iter().any(|r| r == audience)
}

/// A refresh token, as RFC 7662 describes it to the client that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenInfo {
    pub scope: String,
    pub user_id: i64,
    pub expires_at: Millis,
}

/// The caller's own live refresh token; None for anything else.
pub fn introspect_refresh_token(
    conn: &Conn,
    caller: &Client,
    token: &str,
    now: Millis,
) -> ServiceResult<Option<RefreshTokenInfo>> {
    let Some(row) = db::oauth::find_refresh_token(conn, &crate::auth::secrets::sha256(token))?
    else {
        return Ok(None);
    };
    let live = row.client == caller.id
        && row.used_at.is_none()
        && row.revoked_at.is_none()
        && row.expires_at > now;
    Ok(live.then_some(RefreshTokenInfo {
        scope: row.scope,
        user_id: row.user_id,
        expires_at: row.expires_at,
    }))
}
