//! Accounts from identities at OpenID providers: signing in at an upstream
//! provider (begun here, the browser sent there, finished when it comes
//! back) and bearer tokens of trusted issuers.
//!
//! An identity `(issuer, sub)` links to one account, for good. Its first
//! use finds the account:
//! - a provider that vouches for the email (`email_verified: true`) proves
//!   the inbox as a mailed link does: the account of that address is
//!   linked, made (without a password) when there is none, or claimed when
//!   it was never proven (whoever held it loses every credential);
//! - a provider that does not vouch gets a new, unverified account and the
//!   ordinary verification message; an address that already has an account
//!   is not linked (that would hand the account to whoever typed the
//!   address at a provider that checks nothing).

use super::{Accounts, FormOutcome, Resume, SignedIn, claim};
use crate::auth::secrets;
use crate::db::identities::{IdentityRow, NewIdentity};
use crate::db::oidc_logins::{NewLogin, PendingLogin};
use crate::db::{self, Conn};
use crate::delivery::compose::AccountMessage;
use crate::domain::LinkPurpose as Purpose;
use crate::domain::event::{EventType, Origin};
use crate::domain::{AuthMethod, Email, Millis, User};
use crate::federation::ExternalIdentity;
use crate::federation::upstream::UpstreamError;
use crate::services::error_code::ErrorCode;
use crate::services::users::NewAccount;
use crate::services::{ServiceError, ServiceResult, sessions};
use std::time::Duration;

/// How long a person may take at the provider.
const LOGIN_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The paths a sign-in at a provider may return to: the pages that offer it.
const RETURN_PREFIXES: &[&str] = &[
    "/invite/",
    "/join/",
    "/oauth/authorize?",
    "/admin",
    "/account",
];

/// Where a person goes back to after the provider: a path of ours, never
/// another site's (an open redirect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(String);

impl ReturnTo {
    pub fn parse(path: &str) -> Option<Self> {
        let ours = path.len() <= 4096
            && RETURN_PREFIXES
                .iter()
                .any(|prefix| path.starts_with(prefix))
            && !path.contains('\\')
            && path.bytes().all(|b| b.is_ascii_graphic());
        if !ours {
            return None;
        }
        // An invitation page's link carries the message's secret: it is not
        // kept with the login. Back from a provider that vouched for the
        // address, the person's proven account answers the invitation
        // without it.
        let path = match path.strip_prefix("/invite/") {
            Some(rest) => format!("/invite/{}", rest.split('?').next().unwrap_or_default()),
            None => path.to_owned(),
        };
        Some(ReturnTo(path))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where an emailed verification link resumes, for the pages that have one.
    fn resume(&self) -> Option<Resume> {
        let path = self.0.as_str();
        if let Some(query) = path.strip_prefix("/oauth/authorize?") {
            return Some(Resume::Authorize(query.to_owned()));
        }
        if let Some(rest) = path.strip_prefix("/invite/") {
            let uuid = rest.split(['/', '?']).next().unwrap_or_default();
            return uuid::Uuid::parse_str(uuid).ok().map(Resume::Invitation);
        }
        path.starts_with("/admin").then_some(Resume::Console)
    }
}

/// A sign-in at a provider begun: the browser goes to `redirect`, carrying
/// `browser` (the cookie that ties the return to it).
pub struct LoginBegun {
    pub redirect: String,
    pub browser: String,
}

/// What the provider's answer leads to.
pub enum LoginFinished {
    /// Signed in (or told to check the inbox); then on to `return_to`.
    Outcome {
        outcome: FormOutcome,
        return_to: ReturnTo,
    },
    /// The provider answered with an error (the person declined, say): back
    /// to the page they started from, which says so.
    Declined { return_to: ReturnTo },
    /// A signed-in holder connected the identity to their account.
    Connected,
}

/// The provider's answer at the callback, as its query carries it.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

fn upstream(error: UpstreamError) -> ServiceError {
    match error {
        UpstreamError::UnknownProvider(_) => ServiceError::NotFound("identity provider"),
        UpstreamError::Unavailable(why) => {
            tracing::warn!(%why, "identity provider unavailable");
            ServiceError::Unavailable {
                detail: "The identity provider is not answering right now. Try again in a \
                         moment, or sign in with your password."
                    .into(),
                retry_after_secs: 10,
            }
        }
        UpstreamError::Refused(why) => {
            tracing::info!(%why, "identity provider answer refused");
            ServiceError::Unauthorized(
                "The identity provider's answer could not be accepted. Start again from the \
                 sign-in page."
                    .into(),
            )
        }
    }
}

fn sign_in_again() -> ServiceError {
    ServiceError::Gone {
        code: ErrorCode::LinkUsedOrExpired,
        detail: "This sign-in was already finished, has expired, or was started in another \
                 browser. Start again from the sign-in page."
            .into(),
    }
}

/// How an identity's account was found.
enum Found {
    /// Linked already, or linked now to a proven (or claimed) account.
    Account(User),
    /// A new account whose address is still to prove.
    Unverified(User),
}

impl Accounts {
    /// Starts a sign-in at provider `id` for a person going to `return_to`.
    /// The browser gets a new cookie every time: one it already carries may
    /// have been planted (a sibling subdomain over plain http), and a login
    /// tied to a value someone else knows is a login they can finish. So a
    /// sign-in begun in a second tab ends the first.
    pub async fn begin_federated(
        &self,
        id: &str,
        return_to: &ReturnTo,
        address: &str,
        connect_user_id: Option<i64>,
    ) -> ServiceResult<LoginBegun> {
        let now = self.clock.now();
        let starts = &self.limits.federated_starts_per_address;
        if let Some(wait) = starts.blocked(address, now) {
            return Err(ServiceError::TooSoon {
                detail: "Too many sign-ins were started from your network; try again in a \
                         minute."
                    .into(),
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        starts.record(address, now);
        let begun = self.providers.begin(id, now).await.map_err(upstream)?;
        let browser = secrets::random_base62(43);
        let (state, provider) = (secrets::sha256(&begun.state), id.to_owned());
        let (browser_digest, return_to) = (secrets::sha256(&browser), return_to.0.clone());
        let (nonce, verifier) = (begun.nonce, begun.pkce_verifier);
        self.db
            .write(move |tx| {
                db::oidc_logins::insert(
                    tx,
                    &NewLogin {
                        state_sha256: &state,
                        provider: &provider,
                        browser_sha256: &browser_digest,
                        nonce: &nonce,
                        pkce_verifier: &verifier,
                        return_to: &return_to,
                        expires_at: now.plus(LOGIN_LIFETIME),
                        connect_user_id,
                    },
                    now,
                )
            })
            .await?;
        Ok(LoginBegun {
            redirect: begun.authorization_url,
            browser,
        })
    }

    /// Finishes a sign-in at provider `id` when the browser comes back.
    /// The `state` works once, only in the browser that began it, and only
    /// for the provider it began at; nothing is linked or made unless the
    /// provider's answer holds.
    pub async fn finish_federated(
        &self,
        id: &str,
        callback: &Callback,
        browser: Option<&str>,
        address: &str,
        session_user: Option<i64>,
    ) -> ServiceResult<LoginFinished> {
        let now = self.clock.now();
        // Only a browser that began a sign-in can finish one: the others
        // are refused before anything is written.
        let browser = Some(browser.ok_or_else(sign_in_again)?);
        let state = callback.state.as_deref().filter(|s| !s.is_empty());
        let digest = state.map(secrets::sha256).ok_or_else(sign_in_again)?;
        let pending = self
            .db
            .write(move |tx| Ok::<_, ServiceError>(db::oidc_logins::take(tx, &digest)?))
            .await?
            .filter(|login| login.expires_at > now && login.provider == id)
            .filter(|login| {
                browser.is_some_and(|b| secrets::matches_digest(b, &login.browser_sha256))
            })
            .ok_or_else(sign_in_again)?;
        let return_to = ReturnTo::parse(&pending.return_to).ok_or_else(sign_in_again)?;
        if callback.error.is_some() {
            return Ok(LoginFinished::Declined { return_to });
        }
        let code = callback
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ServiceError::invalid("code", "The provider sent no code."))?;
        let identity = self.identity_from(id, code, &pending, now).await?;
        if let Some(holder) = pending.connect_user_id {
            // Connecting: the account that asked must still be signed in here.
            if session_user != Some(holder) {
                return Err(sign_in_again());
            }
            let provider = id.to_owned();
            self.db
                .write(move |tx| connect(tx, &identity, &provider, holder, now))
                .await?;
            return Ok(LoginFinished::Connected);
        }
        let outcome = self
            .sign_in_identity(identity, Some(id), &return_to, address)
            .await?;
        if matches!(outcome, FormOutcome::SignedIn(_)) {
            self.sign_ins.count(super::SignInMethod::Oidc);
        }
        Ok(LoginFinished::Outcome { outcome, return_to })
    }

    async fn identity_from(
        &self,
        id: &str,
        code: &str,
        pending: &PendingLogin,
        now: Millis,
    ) -> ServiceResult<ExternalIdentity> {
        self.providers
            .finish(id, code, &pending.pkce_verifier, &pending.nonce, now)
            .await
            .map_err(upstream)
    }

    /// Signs the identity's person in: a browser session when the account's
    /// address is proven; otherwise the verification message and "check
    /// your inbox".
    async fn sign_in_identity(
        &self,
        identity: ExternalIdentity,
        provider: Option<&str>,
        return_to: &ReturnTo,
        address: &str,
    ) -> ServiceResult<FormOutcome> {
        let now = self.clock.now();
        let lifetime = self.settings.session_lifetime;
        let provider = provider.map(str::to_owned);
        // Only an address the provider does not vouch for may need the
        // verification message: only then is its budget spent.
        let claimed_email = identity.email.as_deref().and_then(|e| Email::parse(e).ok());
        let allowed = !identity.email_verified
            && claimed_email
                .as_ref()
                .is_some_and(|email| self.message_allowed(email, address));
        let link = self.link_for(Purpose::Verify, return_to.resume(), now);
        let browser = secrets::random_base62(32);
        let composer = self.composer.clone();
        let cookie = browser.clone();
        let outcome = self
            .db
            .write(move |tx| -> ServiceResult<FormOutcome> {
                match find_or_link(tx, &identity, provider.as_deref(), now)? {
                    Found::Account(user) if user.email_verified() => {
                        // A fresh sign-in at the provider counts as a fresh
                        // authentication, as a typed password does.
                        let session =
                            sessions::start(tx, user.id, AuthMethod::Provider, lifetime, now)?;
                        Ok(FormOutcome::SignedIn(SignedIn {
                            user_id: user.id,
                            email: user.email,
                            email_verified: true,
                            session,
                            device: None,
                        }))
                    }
                    Found::Account(user) | Found::Unverified(user) => {
                        if allowed {
                            link.store(
                                tx,
                                AccountMessage::Verification,
                                user.id,
                                Some(&browser),
                                None,
                                &composer,
                                &user.email,
                                now,
                            )?;
                        }
                        Ok(FormOutcome::CheckInbox {
                            email: user.email,
                            browser: Some(browser),
                        })
                    }
                }
            })
            .await?;
        Ok(match outcome {
            FormOutcome::CheckInbox { email, .. } => FormOutcome::CheckInbox {
                email,
                browser: Some(cookie),
            },
            signed_in => signed_in,
        })
    }

    /// The account behind a trusted issuer's bearer token, linking (or
    /// making) it on first use, as a sign-in would. A token whose email the
    /// issuer does not vouch for finds only an identity linked before, and
    /// makes nothing.
    pub async fn bearer_account(&self, identity: ExternalIdentity) -> ServiceResult<User> {
        let now = self.clock.now();
        if let Some(user) = self.linked_account(&identity).await? {
            return Ok(user);
        }
        if !identity.email_verified {
            return Err(email_unverified());
        }
        let lookup = identity.clone();
        let written = self
            .db
            .write(move |tx| match find_or_link(tx, &identity, None, now)? {
                Found::Account(user) | Found::Unverified(user) => Ok::<_, ServiceError>(user),
            })
            .await;
        match written {
            Ok(user) => {
                self.sign_ins.count(super::SignInMethod::TrustedToken);
                Ok(user)
            }
            // An app's first requests often come at once: another one may
            // have linked the identity meanwhile (a UNIQUE violation here).
            Err(error) => self.linked_account(&lookup).await?.ok_or(error),
        }
    }

    /// The account the identity is linked to, if it is.
    async fn linked_account(&self, identity: &ExternalIdentity) -> ServiceResult<Option<User>> {
        let (issuer, subject) = (identity.issuer.clone(), identity.subject.clone());
        self.db
            .read(move |conn| {
                let linked = db::identities::find(conn, &issuer, &subject)?
                    .filter(|row| row.unlinked_at.is_none());
                let Some(row) = linked else {
                    return Ok(None);
                };
                Ok(db::users::get(conn, row.user_id)?)
            })
            .await
    }
}

fn email_unverified() -> ServiceError {
    ServiceError::Forbidden {
        code: ErrorCode::EmailUnverified,
        detail: "the identity provider has not verified this token's email address".into(),
    }
}

/// The identity's account: the one it is linked to, or (first use) the one
/// its email leads to, linked now. See the module's rules.
fn find_or_link(
    tx: &Conn,
    identity: &ExternalIdentity,
    provider: Option<&str>,
    now: Millis,
) -> ServiceResult<Found> {
    // Two first uses at once (an app's parallel requests) wait for each
    // other on PostgreSQL; SQLite's writes already run one at a time.
    tx.lock_key(&format!(
        "identity {}\n{}",
        identity.issuer, identity.subject
    ))?;
    if let Some(row) = db::identities::find(tx, &identity.issuer, &identity.subject)? {
        if row.unlinked_at.is_some() {
            return Err(ServiceError::conflict(
                ErrorCode::IdentityUnlinked,
                "This identity was unlinked from its enlist account. Sign in with the \
                 account's password, then connect it again on your account page.",
            ));
        }
        db::identities::touch(tx, row.id, now)?;
        let mut user = db::users::get(tx, row.user_id)?.ok_or(ServiceError::NotFound("account"))?;
        // The provider vouches now for the address it did not vouch for at
        // the link (and it is still the account's): proven, as by the mail.
        let vouched = identity.email_verified
            && identity
                .email
                .as_deref()
                .and_then(|email| Email::parse(email).ok())
                .is_some_and(|email| {
                    Email::parse(&user.email).is_ok_and(|own| own.key() == email.key())
                });
        if !user.email_verified() && vouched {
            crate::services::users::mark_verified(tx, user.id, now)?;
            user = db::users::get(tx, user.id)?.ok_or(ServiceError::NotFound("account"))?;
        }
        return Ok(Found::Account(user));
    }
    let email = identity
        .email
        .as_deref()
        .and_then(|email| Email::parse(email).ok())
        .ok_or_else(|| {
            ServiceError::invalid(
                "email",
                "The identity provider did not share a usable email address; enlist needs one \
                 to match invitations.",
            )
        })?;
    let existing = db::users::find_by_email(tx, &email)?;
    let found = match existing {
        Some(user) if identity.email_verified && user.email_verified() => Found::Account(user),
        Some(user) if identity.email_verified => {
            // The provider proved the inbox: whoever registered the address
            // before loses the account, as with a mailed link.
            claim(tx, &Origin::user(user.id), user.id, None, now)?;
            let user = db::users::get(tx, user.id)?.ok_or(ServiceError::NotFound("account"))?;
            Found::Account(user)
        }
        Some(_) => {
            return Err(ServiceError::conflict(
                ErrorCode::EmailTaken,
                "An account already uses this email address, and your identity provider has \
                 not verified it. Sign in with that account's password instead.",
            ));
        }
        None => {
            let (first_name, last_name) = names_of(identity);
            let user = crate::services::users::create(
                tx,
                &NewAccount {
                    email,
                    first_name,
                    last_name,
                    password_hash: None,
                    email_verified: identity.email_verified,
                },
                now,
            )?;
            if identity.email_verified {
                Found::Account(user)
            } else {
                Found::Unverified(user)
            }
        }
    };
    let user = match &found {
        Found::Account(user) | Found::Unverified(user) => user,
    };
    let row = db::identities::insert(
        tx,
        &NewIdentity {
            user_id: user.id,
            issuer: &identity.issuer,
            subject: &identity.subject,
            provider,
            email: identity.email.as_deref(),
        },
        now,
    )?;
    identity_event(
        tx,
        &Origin::user(user.id),
        EventType::IdentityLinked,
        user,
        &row,
        now,
    )?;
    Ok(found)
}

/// Connects the identity to the signed-in holder's account: a new one is
/// linked, one they unlinked is linked again, one linked elsewhere refused.
fn connect(
    tx: &Conn,
    identity: &ExternalIdentity,
    provider: &str,
    user_id: i64,
    now: Millis,
) -> ServiceResult<()> {
    tx.lock_key(&format!(
        "identity {}\n{}",
        identity.issuer, identity.subject
    ))?;
    let user = db::users::get(tx, user_id)?.ok_or(ServiceError::NotFound("account"))?;
    let row = match db::identities::find(tx, &identity.issuer, &identity.subject)? {
        Some(row) if row.user_id != user_id => {
            return Err(ServiceError::conflict(
                ErrorCode::IdentityTaken,
                "This identity is linked to another enlist account.",
            ));
        }
        Some(row) if row.unlinked_at.is_none() => return Ok(()),
        Some(row) => {
            db::identities::relink(tx, row.id, now)?;
            row
        }
        None => db::identities::insert(
            tx,
            &NewIdentity {
                user_id,
                issuer: &identity.issuer,
                subject: &identity.subject,
                provider: Some(provider),
                email: identity.email.as_deref(),
            },
            now,
        )?,
    };
    identity_event(
        tx,
        &Origin::user(user_id),
        EventType::IdentityLinked,
        &user,
        &row,
        now,
    )
}

/// The names the provider gives, kept only when they are names enlist
/// accepts (a provider's odd value never blocks the sign-in).
fn names_of(identity: &ExternalIdentity) -> (String, String) {
    let clip = |value: Option<&str>| -> String {
        value
            .map(str::trim)
            .filter(|v| !v.chars().any(char::is_control))
            .map(|v| v.chars().take(100).collect())
            .unwrap_or_default()
    };
    let (first, last) = match (&identity.given_name, &identity.family_name, &identity.name) {
        (None, None, Some(name)) => match name.trim().split_once(' ') {
            Some((first, last)) => (clip(Some(first)), clip(Some(last))),
            None => (clip(Some(name)), String::new()),
        },
        (given, family, _) => (clip(given.as_deref()), clip(family.as_deref())),
    };
    (first, last)
}

/// `user.identity_linked` or `user.identity_unlinked`, in every organization
/// the person belongs to (events live in organizations; a person in none
/// has no audience for it).
pub(crate) fn identity_event(
    tx: &Conn,
    origin: &Origin,
    kind: EventType,
    user: &User,
    identity: &IdentityRow,
    now: Millis,
) -> ServiceResult<()> {
    let data = serde_json::json!({
        "user": {"id": user.id, "email": user.email},
        "identity": {
            "id": identity.id,
            "provider": identity.provider,
            "issuer": identity.issuer,
            "subject": identity.subject,
        },
    });
    for org_id in db::members::org_ids_of(tx, user.id)? {
        crate::services::events::record(tx, origin, org_id, kind, data.clone(), now)?;
    }
    Ok(())
}
