//! Accounts: signing up and in, proving that an email is the person's
//! (verification), taking an address back from whoever registered it
//! first (claim), and resetting a password.
//!
//! The rule behind all of it: an email is proven only by possession of a
//! secret enlist delivered to that inbox (an invitation link whose invitee
//! is the account's email, a verification link, a reset link) or by the
//! operator who made the account. An unverified account never blocks the
//! inbox's owner: proving the inbox for it lets the owner set their own
//! password, and everything the previous holder had ends.
//!
//! Password work runs on the dedicated argon2 pool, never on the executor
//! nor inside a write transaction; each use case then makes one write.

mod email_code;
mod federated;
mod passkey;

pub use super::second_factor::Factors;
pub use email_code::{CODE_PAGE, CodeSent, CodeSignedIn, CodeState, CodeView};
pub use passkey::{PasskeyChallenge, PasskeyView, relying_party};
pub mod passkeys {
    //! The account page's view of its passkeys.
    pub use super::passkey::{NAME_MAX_CHARS, list};
}
pub(crate) use federated::identity_event;
pub use federated::{Callback, LoginBegun, LoginFinished, ReturnTo};

use super::{ServiceError, ServiceResult, sessions};
use crate::auth::device::DeviceCookies;
use crate::auth::password::{self, PasswordPool, PoolError};
use crate::auth::secrets;
use crate::auth::throttle::{KeyedLimiter, SignInThrottle, Verdict};
use crate::db::Conn;
use crate::db::email_links::{self, Purpose};
use crate::db::{self, Database};
use crate::delivery::Composer;
use crate::delivery::compose::{AccountEmail, AccountMessage};
use crate::domain::event::{EventType, Origin};
use crate::domain::{AuthMethod, Clock, Email, KeyRevocation, Millis};
use crate::services::error_code::ErrorCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// Ends everything that lets someone act as the account: browser sessions,
/// refresh tokens (every client, every family) and authorization codes not
/// yet exchanged. Access tokens already issued run out their short lifetime.
pub fn end_every_credential(conn: &Conn, user_id: i64, now: Millis) -> ServiceResult<()> {
    db::sessions::delete_for_user(conn, user_id)?;
    db::oauth::revoke_refresh_tokens_of_user(conn, user_id, now)?;
    db::oauth::delete_codes_of_user(conn, user_id)?;
    Ok(())
}

/// Lifetimes of what this service hands out.
#[derive(Debug, Clone, Copy)]
pub struct AccountSettings {
    pub session_lifetime: Duration,
    pub verification_lifetime: Duration,
    pub reset_lifetime: Duration,
    pub unverified_lifetime: Duration,
}

/// Where a person was going when they had to prove their inbox; followed
/// again once they have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// An OAuth2 authorization request, as its query string.
    Authorize(String),
    /// The hosted page of an invitation.
    Invitation(Uuid),
    /// The admin console (`/admin`).
    Console,
}

impl Resume {
    /// `authorize:<query>` or `invite:<uuid>`: as stored, and as the reset
    /// form carries it (it is checked again when followed).
    pub fn encode(&self) -> String {
        match self {
            Resume::Authorize(query) => format!("authorize:{query}"),
            Resume::Invitation(uuid) => format!("invite:{uuid}"),
            Resume::Console => "admin:".to_owned(),
        }
    }

    pub fn decode(stored: &str) -> Option<Self> {
        match stored.split_once(':')? {
            ("authorize", query) => Some(Resume::Authorize(query.to_owned())),
            ("invite", uuid) => Uuid::parse_str(uuid).ok().map(Resume::Invitation),
            ("admin", "") => Some(Resume::Console),
            _ => None,
        }
    }
}

/// The page a sign-in or sign-up form was sent from.
#[derive(Debug, Clone, Default)]
pub struct FormContext {
    /// The client's address, for throttling.
    pub address: String,
    /// The device cookie the browser sent, if any.
    pub device: Option<String>,
    /// Where to go after an emailed link.
    pub resume: Option<Resume>,
    /// The invitee address of the invitation page the form is on, when the
    /// page was reached with the secret of a message sent to that inbox
    /// (the page's uuid alone proves nothing: its organization knows it).
    pub invited: Option<Email>,
}

impl FormContext {
    fn was_invited(&self, email: &Email) -> bool {
        self.invited
            .as_ref()
            .is_some_and(|invited| invited.key() == email.key())
    }

    /// Whether the form leads somewhere only a proven address may go: an
    /// app's authorization, the admin console, or answering an invitation.
    fn needs_proven_inbox(&self) -> bool {
        matches!(
            self.resume,
            Some(Resume::Authorize(_) | Resume::Console | Resume::Invitation(_))
        )
    }
}

/// How long a typed password lets a session mint API keys in the console.
pub const STEP_UP_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Whether a session may do what needs a recent password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUp {
    Fresh,
    PasswordNeeded,
    /// The account has a second factor: it is asked, not the password.
    FactorNeeded(Factors),
}

/// A browser's answer to a passkey confirmation: the ceremony it was
/// given and the authenticator's assertion (JSON). Not `Debug`: the
/// ceremony id is a bearer of the challenge.
#[derive(Clone, Copy)]
pub struct PasskeyAnswer<'a> {
    pub ceremony: &'a str,
    pub response: &'a str,
}

impl<'a> PasskeyAnswer<'a> {
    /// The answer a form carried, if it carried one.
    pub fn from_form(ceremony: Option<&'a str>, response: Option<&'a str>) -> Option<Self> {
        match (ceremony, response) {
            (Some(ceremony), Some(response)) if !ceremony.is_empty() && !response.is_empty() => {
                Some(Self { ceremony, response })
            }
            _ => None,
        }
    }
}

/// What a form that may need a step-up carries: the password, a code of
/// the second factor (TOTP or recovery code), or a passkey's answer.
#[derive(Clone, Copy, Default)]
pub struct StepUpAnswer<'a> {
    pub password: Option<&'a str>,
    pub code: Option<&'a str>,
    pub passkey: Option<PasskeyAnswer<'a>>,
}

/// A person who proved who they are, with the browser session started for them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: i64,
    pub email: String,
    pub email_verified: bool,
    /// The session cookie's value.
    pub session: String,
    /// A device cookie remembering that this browser signed in to the
    /// account, when the person proved the password just now.
    pub device: Option<String>,
}

/// What a sign-in or sign-up form leads to.
#[derive(Debug)]
pub enum FormOutcome {
    SignedIn(SignedIn),
    /// A message is on its way to the address (or nothing is, and the
    /// answer must not say which). `browser` is the cookie that marks this
    /// browser as the one that asked, when it should be set.
    CheckInbox {
        email: String,
        browser: Option<String>,
    },
}

/// What following an emailed link asks of the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    pub email: String,
    /// Whether the person must choose a password: always for a reset, and
    /// for a verification link followed outside the browser that asked for
    /// it (the address is being claimed by its owner).
    pub choose_password: bool,
    /// Where the person goes once the link is followed.
    pub resume: Option<Resume>,
}

/// The person signed in by an emailed link, and where they were going.
#[derive(Debug)]
pub struct Followed {
    pub signed_in: SignedIn,
    pub resume: Option<Resume>,
    /// API keys revoked because the password changed (see [`claim`]).
    pub keys_revoked: usize,
}

pub struct SignUp {
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
}

const WRONG_CREDENTIALS: &str = "The email or password is incorrect.";

/// Links that expired this long ago are deleted (until then they answer
/// "expired" rather than "unknown").
const KEEP_EXPIRED_LINKS: Duration = Duration::from_secs(7 * 24 * 3600);
/// Unverified accounts deleted per sweep at most.
const SWEEP_BATCH: i64 = 500;

pub struct Accounts {
    db: Database,
    passwords: PasswordPool,
    limits: AccountLimits,
    /// Password jobs in flight per client address, so that one address
    /// cannot fill the argon2 queue for everyone.
    password_jobs: Mutex<HashMap<String, usize>>,
    devices: DeviceCookies,
    composer: Arc<Composer>,
    clock: Clock,
    settings: AccountSettings,
    /// Upstream OpenID providers people may sign in with.
    providers: Arc<crate::federation::upstream::Providers>,
    sign_ins: SignIns,
    /// The bound on wrong sign-in codes per address.
    email_codes: email_code::CodeLimits,
    /// The relying party passkeys are registered with (None: not offered).
    webauthn: Option<webauthn_rs::Webauthn>,
    passkey_limits: passkey::PasskeyLimits,
}

/// Sign-ins that succeeded since start, by how the person proved who they
/// are (`/metrics`).
#[derive(Debug, Default)]
pub struct SignIns {
    password: std::sync::atomic::AtomicU64,
    email_code: std::sync::atomic::AtomicU64,
    oidc: std::sync::atomic::AtomicU64,
    trusted_token: std::sync::atomic::AtomicU64,
    passkey: std::sync::atomic::AtomicU64,
}

/// How a person proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    Password,
    /// A code mailed to the address.
    EmailCode,
    /// At an upstream OpenID provider.
    Oidc,
    /// A trusted issuer's bearer token, on first use by its identity.
    TrustedToken,
    /// A passkey (WebAuthn).
    Passkey,
}

impl SignIns {
    pub fn count(&self, method: SignInMethod) {
        let counter = match method {
            SignInMethod::Password => &self.password,
            SignInMethod::EmailCode => &self.email_code,
            SignInMethod::Oidc => &self.oidc,
            SignInMethod::TrustedToken => &self.trusted_token,
            SignInMethod::Passkey => &self.passkey,
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// `(method label, count)` for every method.
    pub fn snapshot(&self) -> [(&'static str, u64); 5] {
        let read = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        [
            ("password", read(&self.password)),
            ("email_code", read(&self.email_code)),
            ("oidc", read(&self.oidc)),
            ("trusted_token", read(&self.trusted_token)),
            ("passkey", read(&self.passkey)),
        ]
    }
}

/// Everything that keeps one client (or one target) from taking more than
/// its share. In memory, per server process.
pub struct AccountLimits {
    pub sign_in: SignInThrottle,
    pub sign_ups_per_address: KeyedLimiter,
    pub messages_per_email: KeyedLimiter,
    pub messages_per_address: KeyedLimiter,
    /// Password jobs one address may have waiting or running at once.
    pub password_jobs_per_address: usize,
    /// Sign-ins begun at identity providers per client address: each one
    /// stores a login, so an unauthenticated page cannot flood the writer.
    pub federated_starts_per_address: KeyedLimiter,
}

pub struct AccountsParts {
    pub db: Database,
    pub passwords: PasswordPool,
    pub limits: AccountLimits,
    /// The key device cookies are signed with.
    pub device_key: Vec<u8>,
    pub composer: Arc<Composer>,
    pub clock: Clock,
    pub settings: AccountSettings,
    pub providers: Arc<crate::federation::upstream::Providers>,
    /// The relying party for passkeys ([`relying_party`]), when offered.
    pub webauthn: Option<webauthn_rs::Webauthn>,
}

/// One password job of `address`, counted while it lives.
struct PasswordJob<'a> {
    jobs: &'a Mutex<HashMap<String, usize>>,
    address: String,
}

impl Drop for PasswordJob<'_> {
    fn drop(&mut self) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = jobs.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                jobs.remove(&self.address);
            }
        }
    }
}

impl From<PoolError> for ServiceError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Busy => ServiceError::Unavailable {
                detail: "Too many people are signing in right now; try again in a moment.".into(),
                retry_after_secs: 1,
            },
            PoolError::Stopped => ServiceError::Internal(error.to_string()),
        }
    }
}

impl Accounts {
    pub fn new(parts: AccountsParts) -> Self {
        Self {
            db: parts.db,
            passwords: parts.passwords,
            limits: parts.limits,
            password_jobs: Mutex::default(),
            devices: DeviceCookies::new(&parts.device_key),
            composer: parts.composer,
            clock: parts.clock,
            settings: parts.settings,
            providers: parts.providers,
            sign_ins: SignIns::default(),
            email_codes: email_code::CodeLimits::default(),
            webauthn: parts.webauthn,
            passkey_limits: passkey::PasskeyLimits::default(),
        }
    }

    /// The upstream providers every sign-in page offers.
    pub fn providers(&self) -> &crate::federation::upstream::Providers {
        &self.providers
    }

    /// Sign-ins since start, by method.
    pub fn sign_ins(&self) -> &SignIns {
        &self.sign_ins
    }

    /// How many argon2 hashes and checks have run: the work every answer costs.
    pub fn password_work(&self) -> u64 {
        self.passwords.operations()
    }

    /// A place in the argon2 queue for `address`, within its share.
    fn password_job(&self, address: &str) -> ServiceResult<PasswordJob<'_>> {
        let jobs = &self.password_jobs;
        let mut counts = jobs.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(address.to_owned()).or_default();
        if *count >= self.limits.password_jobs_per_address {
            return Err(ServiceError::TooSoon {
                detail: "Too many sign-ins from your network are waiting; try again in a moment."
                    .into(),
                retry_after_secs: 1,
            });
        }
        *count += 1;
        Ok(PasswordJob {
            jobs,
            address: address.to_owned(),
        })
    }

    /// Checks an email and password. Unknown accounts, accounts without a
    /// password and wrong passwords answer alike, after the same work;
    /// failures count against the account and the client address.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        context: &FormContext,
    ) -> ServiceResult<FormOutcome> {
        // No account has a spelling the parser refuses, so there is nothing
        // to guess at: refused before anything counts, since each variant
        // would otherwise be a fresh limiter key.
        let Ok(typed) = Email::parse(email) else {
            return Err(ServiceError::Unauthorized(WRONG_CREDENTIALS.into()));
        };
        // The account's credentials first (a read, no password work): a
        // device cookie counts only for the password it was earned with.
        let key = typed.clone();
        let account = self
            .db
            .read(move |conn| Ok::<_, ServiceError>(db::users::credentials(conn, &key)?))
            .await?;
        let stored = account
            .as_ref()
            .and_then(|credentials| credentials.password_hash.clone());
        let device_account = device_account(&typed, stored.as_deref());
        let device = context
            .device
            .as_deref()
            .and_then(|cookie| self.devices.device(cookie, &device_account));
        let now = self.clock.now();
        match self
            .limits
            .sign_in
            .verdict(&typed, &context.address, device.as_deref(), now)
        {
            Verdict::Go => {}
            // Slower, never refused: the owner still gets in, an attacker
            // guesses at a crawl.
            Verdict::SlowDown(wait) => tokio::time::sleep(wait).await,
            Verdict::Refuse(wait) => {
                let minutes = wait.as_secs().div_ceil(60).max(1);
                return Err(ServiceError::TooSoon {
                    detail: format!("Too many failed sign-ins. Try again in {minutes} minute(s)."),
                    retry_after_secs: wait.as_secs().max(1),
                });
            }
        }
        let _job = self.password_job(&context.address)?;
        let account = account.map(|credentials| (typed.clone(), credentials));
        let matches = self.passwords.verify(password.to_owned(), stored).await?;
        let Some((email, account)) = account.filter(|(_, a)| matches && a.password_hash.is_some())
        else {
            self.limits
                .sign_in
                .record_failure(&typed, &context.address, device.as_deref(), now);
            return Err(ServiceError::Unauthorized(WRONG_CREDENTIALS.into()));
        };
        let device_cookie = Some(self.devices.mint(&device_account));
        let lifetime = self.settings.session_lifetime;
        let user_id = account.user_id;
        let verify_now = !account.email_verified && context.was_invited(&email);
        if !account.email_verified && !verify_now && context.needs_proven_inbox() {
            // Apps get codes, the console admits, and invitations are answered
            // only by proven addresses: the inbox first.
            return self
                .ask_to_prove_inbox(user_id, account.email, context, now)
                .await;
        }
        let signed_in = self
            .db
            .write(move |tx| {
                if verify_now {
                    super::users::mark_verified(tx, user_id, now)?;
                }
                let session = sessions::start(tx, user_id, AuthMethod::Password, lifetime, now)?;
                Ok::<_, ServiceError>(SignedIn {
                    user_id,
                    email: account.email,
                    email_verified: account.email_verified || verify_now,
                    session,
                    device: device_cookie,
                })
            })
            .await?;
        self.sign_ins.count(SignInMethod::Password);
        Ok(FormOutcome::SignedIn(signed_in))
    }

    /// "Check your inbox" for a sign-in whose account's address was never
    /// proven, on a form that leads where only proven addresses go: a
    /// verification link is mailed (within the message limits; the answer
    /// is the same either way) for this browser.
    async fn ask_to_prove_inbox(
        &self,
        user_id: i64,
        account_email: String,
        context: &FormContext,
        now: Millis,
    ) -> ServiceResult<FormOutcome> {
        let browser = secrets::random_base62(32);
        let sent = Email::parse(&account_email)
            .is_ok_and(|email| self.message_allowed(&email, &context.address));
        if sent {
            let link = self.link_for(Purpose::Verify, context.resume.clone(), now);
            let (to, browser) = (account_email.clone(), browser.clone());
            let composer = self.composer.clone();
            self.db
                .write(move |tx| {
                    link.store(
                        tx,
                        link.message(),
                        user_id,
                        Some(&browser),
                        None,
                        &composer,
                        &to,
                        now,
                    )
                })
                .await?;
        }
        Ok(FormOutcome::CheckInbox {
            email: account_email,
            browser: Some(browser),
        })
    }

    /// Signs up. Whether or not the address already has an account, the
    /// answer is the same ("check your inbox") after the same password
    /// work, except on an invitation page reached through a link to that
    /// very address, where the link is the proof and the person is signed
    /// in (an unverified account holding the address is claimed).
    #[expect(
        clippy::too_many_lines,
        reason = "sign-up's branches must do the same password work whatever the address; kept together so that stays visible"
    )]
    pub async fn sign_up(
        &self,
        form: &SignUp,
        context: &FormContext,
    ) -> ServiceResult<FormOutcome> {
        let email = Email::parse(&form.email)
            .map_err(|_| ServiceError::invalid("email", "Enter a valid email address."))?;
        password::validate(&form.password)
            .map_err(|e| ServiceError::invalid("password", sentence(&e.to_string())))?;
        super::users::validate_names(&form.first_name, &form.last_name)?;
        let now = self.clock.now();
        let address = &context.address;
        if let Some(wait) = self.limits.sign_ups_per_address.blocked(address, now) {
            return Err(ServiceError::TooSoon {
                detail: "Too many accounts were created from your network; try again later.".into(),
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        self.limits.sign_ups_per_address.record(address, now);
        let _job = self.password_job(address)?;
        let hash = self
            .passwords
            .hash(form.password.clone())
            .await?
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let invited = context.was_invited(&email);
        let message_allowed = self.message_allowed(&email, &context.address);
        let browser = secrets::random_base62(32);
        let verify = self.link_for(Purpose::Verify, context.resume.clone(), now);
        let reset = self.link_for(Purpose::Reset, context.resume.clone(), now);
        let settings = self.settings;
        let composer = self.composer.clone();
        let new = super::users::NewAccount {
            email: email.clone(),
            first_name: form.first_name.clone(),
            last_name: form.last_name.clone(),
            password_hash: Some(hash.clone()),
            email_verified: invited,
        };
        let browser_cookie = browser.clone();
        let outcome = self
            .db
            .write(move |tx| -> ServiceResult<FormOutcome> {
                let existing = db::users::find_by_email(tx, &email)?;
                // Whatever the case, the answer names the address as typed.
                let check_inbox = |_stored: String, _browser: Option<String>| {
                    Ok(FormOutcome::CheckInbox {
                        email: email.as_str().to_owned(),
                        browser: None,
                    })
                };
                match existing {
                    None if invited => {
                        let user = super::users::create(tx, &new, now)?;
                        signed_in(tx, user.id, user.email, AuthMethod::Password, settings, now)
                    }
                    None => {
                        let user = super::users::create(tx, &new, now)?;
                        if message_allowed {
                            verify.store(
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
                        check_inbox(user.email, Some(browser))
                    }
                    Some(user) if !user.email_verified() && invited => {
                        claim(tx, &Origin::user(user.id), user.id, Some(&hash), now)?;
                        signed_in(tx, user.id, user.email, AuthMethod::Password, settings, now)
                    }
                    Some(user) if !user.email_verified() => {
                        // Whoever follows the link in this browser gets the
                        // password typed here; anywhere else, their own.
                        if message_allowed {
                            verify.store(
                                tx,
                                AccountMessage::Verification,
                                user.id,
                                Some(&browser),
                                Some(&hash),
                                &composer,
                                &user.email,
                                now,
                            )?;
                        }
                        check_inbox(user.email, Some(browser))
                    }
                    Some(user) => {
                        if message_allowed {
                            reset.store(
                                tx,
                                AccountMessage::SignUpAttempt,
                                user.id,
                                Some(&browser),
                                None,
                                &composer,
                                &user.email,
                                now,
                            )?;
                        }
                        check_inbox(user.email, Some(browser))
                    }
                }
            })
            .await?;
        Ok(match outcome {
            // The cookie is set whether or not a link was stored for it, so
            // the answer looks the same either way.
            FormOutcome::CheckInbox { email, .. } => FormOutcome::CheckInbox {
                email,
                browser: Some(browser_cookie),
            },
            signed_in => signed_in,
        })
    }

    /// Whether the session's holder typed the account's password within
    /// [`STEP_UP_WINDOW`], or types it now (`password`): what minting an
    /// API key in the console asks. An account with a second factor is
    /// asked for it instead: a code (`code`) or a passkey confirmed now
    /// (`passkey`; docs/second-factor.md). A wrong password counts as a
    /// failed sign-in (the same limits), so a borrowed session cannot
    /// guess it.
    pub async fn step_up(
        &self,
        session: &str,
        answer: StepUpAnswer<'_>,
        address: &str,
    ) -> ServiceResult<StepUp> {
        let now = self.clock.now();
        let digest = secrets::sha256(session);
        let lookup = digest;
        let passkeys_offered = self.passkeys_offered();
        let Some((check, factors)) = self
            .db
            .read(move |conn| {
                let Some(check) = db::sessions::password_check(conn, &lookup, now)? else {
                    return Ok::<_, ServiceError>(None);
                };
                let factors = super::second_factor::factors(conn, check.user_id, passkeys_offered)?;
                Ok(Some((check, factors)))
            })
            .await?
        else {
            return Err(session_ended());
        };
        let window = i64::try_from(STEP_UP_WINDOW.as_millis()).unwrap_or(i64::MAX);
        let recent = |at: Option<Millis>| at.is_some_and(|at| now.0.saturating_sub(at.0) < window);
        // With a second factor, it is what is asked again: a password
        // alone is what a stolen session's thief may also have phished.
        if factors.any() {
            if recent(check.factor_at) {
                return Ok(StepUp::Fresh);
            }
            if let Some(passkey) = answer.passkey.filter(|_| factors.passkey) {
                self.confirm_with_passkey(session, passkey).await?;
                return Ok(StepUp::Fresh);
            }
            let Some(code) = answer.code.filter(|c| factors.code && !c.trim().is_empty()) else {
                return Ok(StepUp::FactorNeeded(factors));
            };
            let (token, code, user_id) = (session.to_owned(), code.to_owned(), check.user_id);
            self.db
                .write(move |tx| super::second_factor::prove(tx, &token, user_id, &code, now))
                .await
                .and_then(super::second_factor::checked)?;
            return Ok(StepUp::Fresh);
        }
        let password = answer.password;
        if recent(check.password_at) {
            return Ok(StepUp::Fresh);
        }
        let Some(password) = password.filter(|p| !p.is_empty()) else {
            return Ok(StepUp::PasswordNeeded);
        };
        let email = Email::parse(&check.email)
            .map_err(|_| ServiceError::Internal("a stored email does not parse".into()))?;
        match self.limits.sign_in.verdict(&email, address, None, now) {
            Verdict::Go => {}
            Verdict::SlowDown(wait) => tokio::time::sleep(wait).await,
            Verdict::Refuse(wait) => {
                return Err(ServiceError::TooSoon {
                    detail: "Too many wrong passwords. Try again later.".into(),
                    retry_after_secs: wait.as_secs().max(1),
                });
            }
        }
        let _job = self.password_job(address)?;
        if !self
            .passwords
            .verify(password.to_owned(), check.password_hash)
            .await?
        {
            self.limits
                .sign_in
                .record_failure(&email, address, None, now);
            return Err(ServiceError::invalid(
                "password",
                "The password is incorrect.",
            ));
        }
        self.db
            .write(move |tx| Ok::<_, ServiceError>(db::sessions::mark_password(tx, &digest, now)?))
            .await?;
        Ok(StepUp::Fresh)
    }

    /// Proves the session's second factor in place (the console's door):
    /// a passkey's answer when one is given, else `code` (the
    /// authenticator app's, or a recovery code).
    pub async fn prove_second_factor(
        &self,
        session: &str,
        code: &str,
        passkey: Option<PasskeyAnswer<'_>>,
    ) -> ServiceResult<()> {
        if let Some(passkey) = passkey {
            return self.confirm_with_passkey(session, passkey).await;
        }
        let now = self.clock.now();
        let (token, code) = (session.to_owned(), code.to_owned());
        self.db
            .write(move |tx| {
                let user = sessions::find(tx, &token, now)?.ok_or_else(session_ended)?;
                super::second_factor::prove(tx, &token, user.user_id, &code, now)
            })
            .await
            .and_then(super::second_factor::checked)
            .map(|_| ())
    }

    /// The second factors the session's account can answer a check with
    /// here (what a form asking again offers).
    pub async fn second_factors(&self, session: &str) -> ServiceResult<Factors> {
        let now = self.clock.now();
        let token = session.to_owned();
        let passkeys_offered = self.passkeys_offered();
        self.db
            .read(move |conn| {
                let user = sessions::find(conn, &token, now)?.ok_or_else(session_ended)?;
                super::second_factor::factors(conn, user.user_id, passkeys_offered)
            })
            .await
    }

    /// "Forgot your password?": mails a reset link when the address has an
    /// account. The answer never says whether it has; past the limits for
    /// the address (or the client), nothing is sent. Answers the cookie
    /// that marks this browser as the one that asked (set either way).
    pub async fn request_reset(
        &self,
        email: &str,
        address: &str,
        resume: Option<Resume>,
    ) -> ServiceResult<String> {
        let email = Email::parse(email)
            .map_err(|_| ServiceError::invalid("email", "Enter a valid email address."))?;
        let browser = secrets::random_base62(32);
        if !self.message_allowed(&email, address) {
            return Ok(browser);
        }
        let asking = browser.clone();
        let now = self.clock.now();
        let reset = self.link_for(Purpose::Reset, resume, now);
        let composer = self.composer.clone();
        self.db
            .write(move |tx| -> ServiceResult<()> {
                let Some(user) = db::users::find_by_email(tx, &email)? else {
                    return Ok(());
                };
                reset.store(
                    tx,
                    AccountMessage::PasswordReset,
                    user.id,
                    Some(&asking),
                    None,
                    &composer,
                    &user.email,
                    now,
                )?;
                Ok(())
            })
            .await?;
        Ok(browser)
    }

    /// What the page behind an emailed link shows; 404 for an unknown
    /// link, 410 for a used or expired one.
    pub async fn open_link(
        &self,
        purpose: Purpose,
        token: &str,
        browser: Option<&str>,
    ) -> ServiceResult<LinkView> {
        let now = self.clock.now();
        let link = self.usable_link(purpose, token, now).await?;
        Ok(LinkView {
            email: link.email.clone(),
            choose_password: needs_password(purpose, &link, browser),
            resume: link.resume.as_deref().and_then(Resume::decode),
        })
    }

    /// Follows an emailed link: the address is proven, the person is signed
    /// in, and a password they chose (reset, or a claim) replaces the old
    /// one, ending every session, token and code the account had.
    pub async fn follow_link(
        &self,
        purpose: Purpose,
        token: &str,
        browser: Option<&str>,
        new_password: Option<&str>,
    ) -> ServiceResult<Followed> {
        let now = self.clock.now();
        let link = self.usable_link(purpose, token, now).await?;
        let chosen = if needs_password(purpose, &link, browser) {
            let password = new_password.unwrap_or("");
            password::validate(password)
                .map_err(|e| ServiceError::invalid("password", sentence(&e.to_string())))?;
            Some(
                self.passwords
                    .hash(password.to_owned())
                    .await?
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
            )
        } else {
            None
        };
        let digest = secrets::sha256(token);
        let settings = self.settings;
        // An app's authorization resumes only in the browser that started it:
        // anywhere else the code would reach a browser the app never saw
        // (and the request may have been a stranger's). Invitations resume anywhere.
        let resume = match link.resume.as_deref().and_then(Resume::decode) {
            Some(Resume::Authorize(_)) if !same_browser(&link, browser) => None,
            other => other,
        };
        let followed = self
            .db
            .write(move |tx| -> ServiceResult<Followed> {
                if !email_links::consume(tx, &digest, purpose, now)? {
                    return Err(link_gone(purpose));
                }
                // A password chosen now, or the one typed in this browser
                // when it signed up again for an address it did not own.
                let keys_revoked = match chosen.as_deref().or(link.password_hash.as_deref()) {
                    Some(hash) => claim(
                        tx,
                        &Origin::user(link.user_id),
                        link.user_id,
                        Some(hash),
                        now,
                    )?,
                    None => {
                        super::users::mark_verified(tx, link.user_id, now)?;
                        0
                    }
                };
                let FormOutcome::SignedIn(signed_in) = signed_in(
                    tx,
                    link.user_id,
                    link.email,
                    AuthMethod::EmailCode,
                    settings,
                    now,
                )?
                else {
                    return Err(ServiceError::Internal("no session was started".into()));
                };
                Ok(Followed {
                    signed_in,
                    resume,
                    keys_revoked,
                })
            })
            .await?;
        Ok(followed)
    }

    async fn usable_link(
        &self,
        purpose: Purpose,
        token: &str,
        now: Millis,
    ) -> ServiceResult<email_links::LinkRow> {
        let digest = secrets::sha256(token);
        let link = self
            .db
            .read(move |conn| Ok::<_, ServiceError>(email_links::find(conn, &digest, purpose)?))
            .await?
            .ok_or(ServiceError::NotFound("link"))?;
        if link.used_at.is_some() || link.expires_at <= now {
            return Err(link_gone(purpose));
        }
        Ok(link)
    }

    /// Counts a message to `email` from `address`; false past either limit.
    fn message_allowed(&self, email: &Email, address: &str) -> bool {
        let now = self.clock.now();
        let limits = &self.limits;
        if limits
            .messages_per_email
            .blocked(email.key(), now)
            .is_some()
            || limits.messages_per_address.blocked(address, now).is_some()
        {
            tracing::info!("account message not sent: over the per-email or per-address limit");
            return false;
        }
        limits.messages_per_email.record(email.key(), now);
        limits.messages_per_address.record(address, now);
        true
    }

    fn link_for(&self, purpose: Purpose, resume: Option<Resume>, now: Millis) -> PendingLink {
        let lifetime = match purpose {
            Purpose::Verify => self.settings.verification_lifetime,
            Purpose::Reset => self.settings.reset_lifetime,
        };
        PendingLink {
            purpose,
            token: secrets::random_base62(43),
            resume: resume.map(|r| r.encode()),
            expires_at: now.plus(lifetime),
        }
    }
}

/// What a device cookie is signed for: the account and its current password
/// (a digest of the stored hash, which changes with every new password), so
/// a claim, a reset or `set-password` ends every earlier browser's standing.
/// What a form of a session that ended (or expired) is answered.
fn session_ended() -> ServiceError {
    ServiceError::Unauthorized("Your session has ended; sign in again.".into())
}

fn device_account(email: &Email, password_hash: Option<&str>) -> String {
    let digest = secrets::sha256(password_hash.unwrap_or(""));
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}\n{hex}", email.key())
}

/// Deletes accounts whose email was never proven within `lifetime` (and
/// that joined no organization), links and sign-in codes long expired, and sign-ins at
/// identity providers never finished. Run by the
/// background sweep; answers how many accounts went.
pub fn sweep(tx: &Conn, lifetime: Duration, now: Millis) -> ServiceResult<usize> {
    let cutoff = Millis(
        now.0
            .saturating_sub(i64::try_from(lifetime.as_millis()).unwrap_or(0)),
    );
    let deleted = db::users::delete_unverified_before(tx, cutoff, SWEEP_BATCH)?;
    let keep = i64::try_from(KEEP_EXPIRED_LINKS.as_millis()).unwrap_or(0);
    email_links::delete_expired_before(tx, Millis(now.0.saturating_sub(keep)))?;
    // A day is long enough to tell a late comer "expired"; its address was
    // typed by anyone, so not the week links keep.
    let keep_codes = i64::try_from(email_code::KEEP_EXPIRED.as_millis()).unwrap_or(0);
    db::email_codes::delete_expired_before(tx, Millis(now.0.saturating_sub(keep_codes)))?;
    db::passkeys::delete_expired_ceremonies(tx, now)?;
    // Sign-ins abandoned at an identity provider.
    db::oidc_logins::delete_expired(tx, now)?;
    Ok(deleted)
}

/// A link about to be mailed: the token exists only in the message.
struct PendingLink {
    purpose: Purpose,
    token: String,
    resume: Option<String>,
    expires_at: Millis,
}

impl PendingLink {
    fn path(&self) -> String {
        match self.purpose {
            Purpose::Verify => format!("/verify/{}", self.token),
            Purpose::Reset => format!("/reset/{}", self.token),
        }
    }

    fn message(&self) -> AccountMessage {
        match self.purpose {
            Purpose::Verify => AccountMessage::Verification,
            Purpose::Reset => AccountMessage::PasswordReset,
        }
    }

    /// Stores the link's digest and queues its message (`kind`), in `tx`.
    /// `browser`: the asking browser's cookie; `password_hash`: a password
    /// that browser chose, applied only when the link is followed there.
    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        tx: &Conn,
        kind: AccountMessage,
        user_id: i64,
        browser: Option<&str>,
        password_hash: Option<&str>,
        composer: &Composer,
        to: &str,
        now: Millis,
    ) -> ServiceResult<()> {
        let browser = browser.map(secrets::sha256);
        email_links::insert(
            tx,
            &email_links::NewLink {
                token_sha256: &secrets::sha256(&self.token),
                purpose: self.purpose,
                user_id,
                browser_sha256: browser.as_ref().map(|d| d.as_slice()),
                password_hash,
                resume: self.resume.as_deref(),
                expires_at: self.expires_at,
            },
            now,
        )?;
        self.queue(tx, kind, composer, to, now)
    }

    fn queue(
        &self,
        tx: &Conn,
        kind: AccountMessage,
        composer: &Composer,
        to: &str,
        now: Millis,
    ) -> ServiceResult<()> {
        let link = composer.link(&self.path());
        let message = composer.account(
            kind,
            &AccountEmail {
                email: to.to_owned(),
                link: link.clone(),
                expires_at: self.expires_at,
            },
        )?;
        db::outbox::insert(
            tx,
            &db::outbox::NewMessage {
                kind: kind.kind(),
                invitation_id: None,
                recipient: to,
                link: &link,
                subject: &message.subject,
                text_body: &message.text,
                html_body: &message.html,
            },
            now,
        )?;
        Ok(())
    }
}

/// The inbox's owner takes the account: their password (or none, when the
/// operator takes it over), a proven address, and nothing left of whoever
/// held it before: no session, refresh token, code or mailed link.
///
/// An account whose address was not proven changed hands: every API key,
/// bound OAuth client and identity at a provider it held goes too. A proven one only had its
/// password reset: the keys it minted itself in the console go (whoever
/// knew the old password may have made them), the operator's stay.
/// Answers how many keys were revoked.
pub fn claim(
    tx: &Conn,
    origin: &Origin,
    user_id: i64,
    password_hash: Option<&str>,
    now: Millis,
) -> ServiceResult<usize> {
    let was_proven = db::users::get(tx, user_id)?
        .ok_or(ServiceError::NotFound("account"))?
        .email_verified();
    db::users::set_password_hash_of(tx, user_id, password_hash, now)?;
    super::users::mark_verified(tx, user_id, now)?;
    end_every_credential(tx, user_id, now)?;
    email_links::retire_for_user(tx, user_id, now)?;
    if was_proven {
        return super::api_keys::revoke_of_user(
            tx,
            origin,
            user_id,
            true,
            KeyRevocation::PasswordReset,
            now,
        );
    }
    db::oauth::delete_clients_of_user(tx, user_id)?;
    // Identities linked while the address was unproven were the earlier
    // holder's way back in.
    if let Some(user) = db::users::get(tx, user_id)? {
        for identity in db::identities::delete_all_of_user(tx, user_id)? {
            identity_event(
                tx,
                origin,
                EventType::IdentityUnlinked,
                &user,
                &identity,
                now,
            )?;
        }
    }
    super::api_keys::revoke_of_user(
        tx,
        origin,
        user_id,
        false,
        KeyRevocation::AccountClaimed,
        now,
    )
}

fn signed_in(
    tx: &Conn,
    user_id: i64,
    email: String,
    method: AuthMethod,
    settings: AccountSettings,
    now: Millis,
) -> ServiceResult<FormOutcome> {
    let session = sessions::start(tx, user_id, method, settings.session_lifetime, now)?;
    let email_verified = db::users::get(tx, user_id)?
        .ok_or(ServiceError::NotFound("account"))?
        .email_verified();
    Ok(FormOutcome::SignedIn(SignedIn {
        user_id,
        email,
        email_verified,
        session,
        device: None,
    }))
}

/// Whether the link is followed in the browser that asked for it.
fn same_browser(link: &email_links::LinkRow, browser: Option<&str>) -> bool {
    match (&link.browser_sha256, browser) {
        (Some(digest), Some(cookie)) => secrets::matches_digest(cookie, digest),
        _ => false,
    }
}

fn needs_password(purpose: Purpose, link: &email_links::LinkRow, browser: Option<&str>) -> bool {
    match purpose {
        Purpose::Reset => true,
        Purpose::Verify => !same_browser(link, browser),
    }
}

fn link_gone(purpose: Purpose) -> ServiceError {
    let what = match purpose {
        Purpose::Verify => "verification",
        Purpose::Reset => "password reset",
    };
    ServiceError::Gone {
        code: ErrorCode::LinkUsedOrExpired,
        detail: format!("This {what} link was already used or has expired."),
    }
}

/// "the password must be…" → "The password must be…."
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_targets_survive_storage() {
        for resume in [
            Resume::Authorize("client_id=a&state=x%3Ay".into()),
            Resume::Invitation(Uuid::new_v4()),
        ] {
            assert_eq!(Resume::decode(&resume.encode()), Some(resume));
        }
        assert_eq!(Resume::decode("elsewhere:x"), None);
        assert_eq!(Resume::decode("invite:not-a-uuid"), None);
    }
}
