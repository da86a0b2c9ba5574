//! Signing in with a code mailed to the inbox ("Email me a code").
//!
//! A code proves the inbox exactly as a mailed link does, so using one
//! signs the person in to the address's account: made (without a password)
//! when there is none, claimed when its address was never proven (see
//! [`claim`]: whoever held it loses everything), or simply signed in to.
//! Asking for a code answers the same, and mails the same message, whether
//! or not the address has an account.
//!
//! What keeps a code from being guessed or stolen:
//! - eight digits from the CSPRNG, valid for ten minutes, used once;
//! - only an HMAC of it is stored, keyed by a server secret;
//! - it works only in the browser that asked for it (a cookie whose
//!   SHA-256 is stored with it), so a code read out to someone, or phished
//!   into another browser, is useless;
//! - each code takes five tries, the right one included, and the wrong
//!   tries of all an address's codes are bounded together; past either,
//!   only codes stop working: the account's password, its providers and
//!   every session stay as they were, for everyone;
//! - asking for codes shares the budget of the other account messages
//!   (per address and per client address), and a new code replaces the
//!   address's previous one.

use super::{Accounts, FormOutcome, ReturnTo, SignInMethod, claim, signed_in};
use crate::auth::secrets;
use crate::auth::throttle::KeyedLimiter;
use crate::db::{self, email_codes};
use crate::delivery::compose::SignInCodeEmail;
use crate::domain::event::Origin;
use crate::domain::sign_in_code::{self, SignInCode};
use crate::domain::{AuthMethod, Email, Millis};
use crate::services::error_code::ErrorCode;
use crate::services::oauth::server_key;
use crate::services::users::NewAccount;
use crate::services::{ServiceError, ServiceResult};
use std::time::Duration;

/// The page a code is typed on; the mailed link opens it with `?code=`.
pub const CODE_PAGE: &str = "/auth/email-code";

/// Codes that expired this long ago are deleted by the sweep (until then
/// they answer "expired" rather than "no longer works").
pub(super) const KEEP_EXPIRED: Duration = Duration::from_secs(24 * 3600);

/// The server secret the codes' HMAC is keyed with.
const CODE_KEY: &str = "email_code_hmac";

/// Wrong codes per address, across all its codes, within
/// [`FAILURES_WINDOW`]: three codes' worth (the message budget sends at
/// most three an hour), less one.
const FAILURES_PER_EMAIL: usize = 10;
const FAILURES_WINDOW: Duration = Duration::from_secs(3600);
/// Addresses the bound remembers at most (about 100 bytes each).
const TRACKED_ADDRESSES: usize = 100_000;

/// The in-memory bound on wrong codes per address.
pub struct CodeLimits {
    failures_per_email: KeyedLimiter,
}

impl Default for CodeLimits {
    fn default() -> Self {
        Self {
            failures_per_email: KeyedLimiter::new(
                FAILURES_WINDOW,
                FAILURES_PER_EMAIL,
                TRACKED_ADDRESSES,
            ),
        }
    }
}

/// A code on its way to `email`. `browser` is the cookie that marks the
/// browser that asked: the code works there only. Not `Debug`: it holds
/// that cookie.
pub struct CodeSent {
    pub email: String,
    pub browser: String,
}

/// Whether a code may still be tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeState {
    Live,
    Used,
    Expired,
    /// Tried [`sign_in_code::TRIES_PER_CODE`] times.
    TriedOut,
}

/// The code a browser asked for, as its page shows it.
#[derive(Debug, Clone)]
pub struct CodeView {
    /// Where the code went.
    pub email: String,
    /// Where the person goes once signed in.
    pub return_to: Option<ReturnTo>,
    pub state: CodeState,
}

impl CodeView {
    fn of(row: &email_codes::CodeRow, now: Millis) -> Self {
        let state = if row.used_at.is_some() {
            CodeState::Used
        } else if row.expires_at <= now {
            CodeState::Expired
        } else if row.attempts >= sign_in_code::TRIES_PER_CODE {
            CodeState::TriedOut
        } else {
            CodeState::Live
        };
        Self {
            email: row.email.clone(),
            return_to: row.return_to.as_deref().and_then(ReturnTo::parse),
            state,
        }
    }

    /// Why the code cannot be tried, when it cannot.
    pub fn refusal(&self) -> Option<ServiceError> {
        let detail = match self.state {
            CodeState::Live => return None,
            CodeState::Used => "This code was already used. Ask for a new code to sign in again.",
            CodeState::Expired => "This code has expired. Ask for a new code.",
            CodeState::TriedOut => {
                "This code was tried too many times and no longer works. Ask for a new code."
            }
        };
        Some(gone(detail))
    }
}

/// Signed in by a code, and where the person was going.
#[derive(Debug)]
pub struct CodeSignedIn {
    pub outcome: FormOutcome,
    pub return_to: Option<ReturnTo>,
}

/// What one try of a code came to, decided inside its transaction.
enum Tried {
    SignedIn(FormOutcome, Option<String>),
    Wrong {
        email_key: String,
        tries_left: i64,
    },
    /// The code could not be tried (used, expired, tried out meanwhile).
    Refused(ServiceError),
}

fn gone(detail: &str) -> ServiceError {
    ServiceError::Gone {
        code: ErrorCode::LinkUsedOrExpired,
        detail: detail.to_owned(),
    }
}

fn another_browser() -> ServiceError {
    ServiceError::invalid(
        "browser",
        "This code was asked for in another browser, and works only there. Type it on the page \
         of the browser where you asked for it, or ask for a new code here.",
    )
}

fn no_longer_valid() -> ServiceError {
    gone(
        "This code no longer works: it expired, was used, or a newer code was sent. Ask for a \
         new code.",
    )
}

/// What the HMAC covers: the address too, so a code's digest says nothing
/// about any other address's.
fn code_message(email_key: &str, code: &SignInCode) -> String {
    format!("{email_key}\n{}", code.digits())
}

impl Accounts {
    /// "Email me a code": mails a new code to `email` (replacing the
    /// address's previous one), for the browser that asked. The same answer
    /// and the same message whether or not the address has an account;
    /// past the message limits of the address or the client, 429 and
    /// nothing changes.
    pub async fn send_code(
        &self,
        email: &str,
        return_to: Option<ReturnTo>,
        address: &str,
    ) -> ServiceResult<CodeSent> {
        let email = Email::parse(email)
            .map_err(|_| ServiceError::invalid("email", "Enter a valid email address."))?;
        let now = self.clock.now();
        self.code_message_allowed(&email, address, now)?;
        let code = SignInCode::from_number(secrets::random_below(sign_in_code::SPACE))
            .ok_or_else(|| ServiceError::Internal("a code out of range".into()))?;
        let browser = secrets::random_base62(43);
        let browser_digest = secrets::sha256(&browser);
        let composer = self.composer.clone();
        let link = composer.link(&format!("{CODE_PAGE}?code={}", code.digits()));
        let lifetime = sign_in_code::LIFETIME;
        let sent_to = email.as_str().to_owned();
        self.db
            .write(move |tx| -> ServiceResult<()> {
                let key = server_key(tx, CODE_KEY, now)?;
                // An account's own spelling of its address, when it has one.
                let to = db::users::find_by_email(tx, &email)?
                    .map_or_else(|| email.as_str().to_owned(), |user| user.email);
                email_codes::replace(
                    tx,
                    &email_codes::NewCode {
                        browser_sha256: &browser_digest,
                        email_key: email.key(),
                        email: email.as_str(),
                        code_hmac: &secrets::keyed_digest(&key, &code_message(email.key(), &code)),
                        return_to: return_to.as_ref().map(ReturnTo::as_str),
                        expires_at: now.plus(lifetime),
                    },
                    now,
                )?;
                let message = composer.sign_in_code(&SignInCodeEmail {
                    email: to.clone(),
                    code: code.grouped(),
                    link: link.clone(),
                    minutes: lifetime.as_secs() / 60,
                })?;
                db::outbox::insert(
                    tx,
                    &db::outbox::NewMessage {
                        kind: SignInCodeEmail::KIND,
                        invitation_id: None,
                        recipient: &to,
                        link: &link,
                        subject: &message.subject,
                        text_body: &message.text,
                        html_body: &message.html,
                    },
                    now,
                )?;
                Ok(())
            })
            .await?;
        Ok(CodeSent {
            email: sent_to,
            browser,
        })
    }

    /// The code the browser (its code cookie) asked for, in whatever state.
    pub async fn code_view(&self, browser: Option<&str>) -> ServiceResult<CodeView> {
        let browser = browser
            .filter(|b| !b.is_empty())
            .ok_or_else(another_browser)?;
        let digest = secrets::sha256(browser);
        let now = self.clock.now();
        let row = self
            .db
            .read(move |conn| Ok::<_, ServiceError>(email_codes::find(conn, &digest)?))
            .await?
            .ok_or_else(no_longer_valid)?;
        Ok(CodeView::of(&row, now))
    }

    /// Signs in with the code typed in the browser that asked for it. A
    /// malformed code is refused before anything counts; a wrong one
    /// counts against the code and against its address.
    pub async fn sign_in_with_code(
        &self,
        browser: Option<&str>,
        typed: &str,
    ) -> ServiceResult<CodeSignedIn> {
        let code = SignInCode::parse(typed)
            .map_err(|bad| ServiceError::invalid("code", bad.sentence()))?;
        let view = self.code_view(browser).await?;
        if let Some(refusal) = view.refusal() {
            return Err(refusal);
        }
        let now = self.clock.now();
        let failures = &self.email_codes.failures_per_email;
        let key_of = |email: &str| Email::parse(email).map(|e| e.key().to_owned()).ok();
        if let Some(wait) = key_of(&view.email).and_then(|key| failures.blocked(&key, now)) {
            let minutes = wait.as_secs().div_ceil(60).max(1);
            return Err(ServiceError::TooSoon {
                detail: format!(
                    "Too many wrong codes were typed for this address. Try again in {minutes} \
                     minute(s), or sign in another way."
                ),
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let digest = secrets::sha256(browser.unwrap_or_default());
        let settings = self.settings;
        let tried = self
            .db
            .write(move |tx| -> ServiceResult<Tried> {
                let counted =
                    email_codes::count_attempt(tx, &digest, sign_in_code::TRIES_PER_CODE, now)?;
                let Some(row) = counted else {
                    // Used, expired or tried out since the page was read.
                    let refusal = email_codes::find(tx, &digest)?
                        .and_then(|row| CodeView::of(&row, now).refusal())
                        .unwrap_or_else(no_longer_valid);
                    return Ok(Tried::Refused(refusal));
                };
                let key = server_key(tx, CODE_KEY, now)?;
                let message = code_message(&row.email_key, &code);
                if !secrets::matches_keyed_digest(&key, &message, &row.code_hmac) {
                    return Ok(Tried::Wrong {
                        email_key: row.email_key,
                        tries_left: sign_in_code::TRIES_PER_CODE - row.attempts,
                    });
                }
                if !email_codes::mark_used(tx, &digest, now)? {
                    return Ok(Tried::Refused(no_longer_valid()));
                }
                let outcome = sign_in_proven(tx, &row.email, settings, now)?;
                Ok(Tried::SignedIn(outcome, row.return_to))
            })
            .await?;
        match tried {
            Tried::SignedIn(outcome, return_to) => {
                self.sign_ins.count(SignInMethod::EmailCode);
                Ok(CodeSignedIn {
                    outcome,
                    return_to: return_to.as_deref().and_then(ReturnTo::parse),
                })
            }
            Tried::Wrong {
                email_key,
                tries_left,
            } => {
                failures.record(&email_key, now);
                Err(match tries_left {
                    0 => gone(
                        "That code is not right, and it was tried too many times: it no longer \
                         works. Ask for a new code.",
                    ),
                    1 => ServiceError::Unauthorized(
                        "That code is not right. You can try once more.".into(),
                    ),
                    left => ServiceError::Unauthorized(format!(
                        "That code is not right. You can try {left} more times."
                    )),
                })
            }
            Tried::Refused(refusal) => Err(refusal),
        }
    }

    /// Counts a code message to `email` from `address` against the budget
    /// every account message shares; 429 past either limit.
    fn code_message_allowed(&self, email: &Email, address: &str, now: Millis) -> ServiceResult<()> {
        let limits = &self.limits;
        let wait = [
            limits.messages_per_email.blocked(email.key(), now),
            limits.messages_per_address.blocked(address, now),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(wait) = wait {
            let minutes = wait.as_secs().div_ceil(60).max(1);
            return Err(ServiceError::TooSoon {
                detail: format!(
                    "Too many messages were sent to this address or from your network. Use the \
                     last code you received, or try again in {minutes} minute(s)."
                ),
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        limits.messages_per_email.record(email.key(), now);
        limits.messages_per_address.record(address, now);
        Ok(())
    }
}

/// Signs in the holder of a proven inbox: its account, made when there is
/// none, claimed when its address was never proven.
fn sign_in_proven(
    tx: &db::Conn,
    email: &str,
    settings: super::AccountSettings,
    now: Millis,
) -> ServiceResult<FormOutcome> {
    let email = Email::parse(email)
        .map_err(|_| ServiceError::Internal("a stored code's address does not parse".into()))?;
    let user = match db::users::find_by_email(tx, &email)? {
        None => crate::services::users::create(
            tx,
            &NewAccount {
                email,
                first_name: String::new(),
                last_name: String::new(),
                password_hash: None,
                email_verified: true,
            },
            now,
        )?,
        Some(user) => {
            if !user.email_verified() {
                // No password survives: it was whoever registered the address.
                claim(tx, &Origin::user(user.id), user.id, None, now)?;
            }
            user
        }
    };
    signed_in(
        tx,
        user.id,
        user.email,
        AuthMethod::EmailCode,
        settings,
        now,
    )
}
