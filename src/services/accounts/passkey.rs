//! Passkeys (WebAuthn, docs/passkeys.md): registering them on the account
//! page and signing in with one on every sign-in form.
//!
//! The ceremonies are webauthn-rs's (it checks the origin, the RP id, user
//! verification, the signature and the counter). Each ceremony is two
//! requests: the first stores webauthn-rs's state server-side under the
//! SHA-256 of a random id and hands the browser the id with the options;
//! the second takes (deletes) the state and checks the browser's answer
//! against it, so a challenge is answered once, within
//! [`CEREMONY_LIFETIME`]. Sign-in is discoverable: the authenticator says
//! whose passkey it is (the account's random user handle), and the answer
//! is checked against that one stored credential.

use super::{
    Accounts, FormContext, FormOutcome, PasskeyAnswer, SignInMethod, SignedIn, session_ended,
};
use crate::auth::secrets;
use crate::auth::throttle::KeyedLimiter;
use crate::db::passkeys::CeremonyPurpose;
use crate::db::{self, passkeys};
use crate::domain::event::EventType;
use crate::domain::{AuthMethod, Email, Millis};
use crate::services::error_code::ErrorCode;
use crate::services::{ServiceError, ServiceResult, sessions};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::time::Duration;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
    WebauthnError,
};

/// How long a browser has to answer a challenge.
pub const CEREMONY_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// The longest name a passkey may be given.
pub const NAME_MAX_CHARS: usize = 60;
/// Sign-in challenges per client address within [`STARTS_WINDOW`]: each
/// one stores a row, so an unauthenticated page cannot flood the writer.
const STARTS_PER_ADDRESS: usize = 60;
const STARTS_WINDOW: Duration = Duration::from_secs(10 * 60);
const TRACKED_ADDRESSES: usize = 100_000;
/// Passkeys one account may register.
const PER_ACCOUNT: usize = 20;

/// The relying party for `public_url`: its host is the RP id, the URL's
/// origin the one origin answers may come from. `None` when the host is
/// an IP address (WebAuthn needs a domain name) or the URL has none:
/// passkeys are then simply not offered.
pub fn relying_party(public_url: &str) -> Option<Webauthn> {
    let origin = Url::parse(public_url).ok()?;
    let Some(url::Host::Domain(host)) = origin.host() else {
        return None;
    };
    let host = host.to_owned();
    match WebauthnBuilder::new(&host, &origin)
        .and_then(|builder| builder.rp_name("enlist").timeout(CEREMONY_LIFETIME).build())
    {
        Ok(webauthn) => Some(webauthn),
        Err(error) => {
            tracing::warn!(%error, %public_url, "passkeys are off: server.public_url is not a WebAuthn origin");
            None
        }
    }
}

/// The in-memory bound on sign-in challenges per client address.
pub struct PasskeyLimits {
    starts_per_address: KeyedLimiter,
}

impl Default for PasskeyLimits {
    fn default() -> Self {
        Self {
            starts_per_address: KeyedLimiter::new(
                STARTS_WINDOW,
                STARTS_PER_ADDRESS,
                TRACKED_ADDRESSES,
            ),
        }
    }
}

/// A ceremony begun: the id the browser sends back with its answer, and
/// the options for `navigator.credentials.create` or `.get` (JSON, binary
/// fields in base64url). Not `Debug`: the id is a bearer of the ceremony.
pub struct PasskeyChallenge {
    pub ceremony: String,
    pub options: serde_json::Value,
}

/// One of the account's passkeys, as its page lists it.
#[derive(Debug, Clone)]
pub struct PasskeyView {
    /// The credential id, base64url: what the remove form posts.
    pub id: String,
    pub name: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
}

/// The account's passkeys, oldest first.
pub fn list(conn: &db::Conn, user_id: i64) -> ServiceResult<Vec<PasskeyView>> {
    Ok(passkeys::list(conn, user_id)?
        .into_iter()
        .map(|row| PasskeyView {
            id: URL_SAFE_NO_PAD.encode(&row.credential_id),
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        })
        .collect())
}

fn invalid(detail: &str) -> ServiceError {
    ServiceError::invalid("passkey", detail)
}

fn not_offered() -> ServiceError {
    ServiceError::NotFound("passkeys")
}

fn ceremony_gone() -> ServiceError {
    ServiceError::Gone {
        code: ErrorCode::LinkUsedOrExpired,
        detail: "This passkey request has expired or was already used. Try again.".into(),
    }
}

/// What a refused WebAuthn answer means to the person: a 4xx saying so,
/// never a 500 (the library's own words stay in the log).
fn refused(error: &WebauthnError) -> ServiceError {
    tracing::info!(%error, "a passkey answer was refused");
    match error {
        WebauthnError::CredentialPossibleCompromise => ServiceError::Unauthorized(
            "This passkey's signature counter went backwards: it may have been copied (a cloned \
             authenticator). It was refused; sign in another way and remove it from your account."
                .into(),
        ),
        WebauthnError::UserNotVerified => ServiceError::Unauthorized(
            "The passkey did not verify you (no PIN, fingerprint or face check). Try again and \
             confirm it is you on your device."
                .into(),
        ),
        WebauthnError::InvalidRPOrigin | WebauthnError::InvalidRPIDHash => {
            ServiceError::Unauthorized(
                "This passkey answer was made for another site. Open this page at its own address \
                 and try again."
                    .into(),
            )
        }
        WebauthnError::MismatchedChallenge | WebauthnError::ChallengeNotFound => ceremony_gone(),
        WebauthnError::CredentialExcludedFromRequest | WebauthnError::CredentialAlreadyExists => {
            ServiceError::Conflict {
                code: ErrorCode::DuplicateItem,
                detail: "This passkey is already registered.".into(),
            }
        }
        _ => ServiceError::Unauthorized("The passkey's answer could not be verified.".into()),
    }
}

/// A refused confirmation (an answer [`refused`], a ceremony gone) as a
/// sentence beside the form's passkey button: the person is still signed
/// in, only this answer was wrong. Never given an ended session.
fn as_passkey_field(error: ServiceError) -> ServiceError {
    match error {
        ServiceError::Unauthorized(detail)
        | ServiceError::Gone { detail, .. }
        | ServiceError::Conflict { detail, .. } => ServiceError::Invalid {
            field: "passkey",
            detail,
        },
        other => other,
    }
}

/// The account's passkeys, each with its credential id as stored.
fn stored_passkeys(tx: &db::Conn, user_id: i64) -> ServiceResult<Vec<(Vec<u8>, Passkey)>> {
    passkeys::list(tx, user_id)?
        .into_iter()
        .map(|row| {
            let passkey: Passkey =
                serde_json::from_str(&row.passkey).map_err(|e| internal("a stored passkey", e))?;
            Ok((row.credential_id, passkey))
        })
        .collect()
}

fn internal(what: &str, error: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("{what}: {error}"))
}

/// A new ceremony's id, stored as its digest with `state`.
fn store_ceremony(
    tx: &db::Conn,
    purpose: CeremonyPurpose,
    user_id: Option<i64>,
    name: Option<&str>,
    state: &str,
    now: Millis,
) -> ServiceResult<String> {
    let ceremony = secrets::random_base62(43);
    passkeys::insert_ceremony(
        tx,
        &passkeys::NewCeremony {
            id_sha256: &secrets::sha256(&ceremony),
            purpose,
            user_id,
            name,
            state,
            expires_at: now.plus(CEREMONY_LIFETIME),
        },
        now,
    )?;
    Ok(ceremony)
}

/// Takes the ceremony `ceremony` names: gone once read, refused when
/// unknown, used or expired.
fn take_ceremony(
    tx: &db::Conn,
    ceremony: &str,
    now: Millis,
) -> ServiceResult<passkeys::CeremonyRow> {
    let row = passkeys::take_ceremony(tx, &secrets::sha256(ceremony))?.ok_or_else(ceremony_gone)?;
    if row.expires_at <= now {
        return Err(ceremony_gone());
    }
    Ok(row)
}

/// The name a passkey is stored under.
fn passkey_name(typed: &str) -> ServiceResult<String> {
    let name = typed.trim();
    if name.is_empty() {
        return Ok("Passkey".to_owned());
    }
    if name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "name",
            format!("A passkey's name is at most {NAME_MAX_CHARS} characters, on one line."),
        ));
    }
    Ok(name.to_owned())
}

impl Accounts {
    /// Counts a challenge asked for from `address`; 429 past the bound
    /// (each challenge stores a row).
    fn count_start(&self, address: &str, now: Millis) -> ServiceResult<()> {
        let limiter = &self.passkey_limits.starts_per_address;
        if let Some(wait) = limiter.blocked(address, now) {
            return Err(ServiceError::TooSoon {
                detail: "Too many passkey requests were started from your network. Try again in a \
                         few minutes."
                    .into(),
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        limiter.record(address, now);
        Ok(())
    }

    /// Whether passkeys are offered at all (`server.public_url` has a
    /// domain name).
    pub fn passkeys_offered(&self) -> bool {
        self.webauthn.is_some()
    }

    fn webauthn(&self) -> ServiceResult<&Webauthn> {
        self.webauthn.as_ref().ok_or_else(not_offered)
    }

    /// [`Self::webauthn`] for a form's answer: a sentence, not a 404.
    fn webauthn_for_form(&self) -> ServiceResult<&Webauthn> {
        self.webauthn
            .as_ref()
            .ok_or_else(|| invalid("Passkeys are not offered on this server."))
    }

    /// "Add a passkey": a registration challenge for the session's account,
    /// excluding the passkeys it already has. The account gets its random
    /// user handle on its first passkey.
    pub async fn start_passkey_registration(
        &self,
        session: &str,
        name: &str,
        address: &str,
    ) -> ServiceResult<PasskeyChallenge> {
        let webauthn = self.webauthn()?.clone();
        let name = passkey_name(name)?;
        let now = self.clock.now();
        self.count_start(address, now)?;
        let token = session.to_owned();
        self.db
            .write(move |tx| {
                let user = sessions::find(tx, &token, now)?.ok_or_else(session_ended)?;
                let existing = passkeys::list(tx, user.user_id)?;
                if existing.len() >= PER_ACCOUNT {
                    return Err(invalid(&format!(
                        "An account can have at most {PER_ACCOUNT} passkeys. Remove one first."
                    )));
                }
                let handle = match passkeys::handle_of(tx, user.user_id)? {
                    Some(handle) => {
                        Uuid::parse_str(&handle).map_err(|e| internal("a stored user handle", e))?
                    }
                    None => {
                        let handle = Uuid::new_v4();
                        passkeys::insert_handle(tx, user.user_id, &handle.to_string())?;
                        handle
                    }
                };
                let exclude = existing.into_iter().map(|row| row.credential_id);
                let (options, state) = webauthn
                    .start_passkey_registration(
                        handle,
                        &user.email,
                        &user.email,
                        Some(exclude.collect()),
                    )
                    .map_err(|e| internal("starting a passkey registration", e))?;
                let state = serde_json::to_string(&state)
                    .map_err(|e| internal("a registration's state", e))?;
                let ceremony = store_ceremony(
                    tx,
                    CeremonyPurpose::Register,
                    Some(user.user_id),
                    Some(&name),
                    &state,
                    now,
                )?;
                let mut options = serde_json::to_value(&options)
                    .map_err(|e| internal("a registration's options", e))?;
                // Discoverable credentials: sign-in names no account, so the
                // authenticator must keep the credential (webauthn-rs asks
                // for a non-resident one). User verification stays required.
                if let Some(selection) = options
                    .pointer_mut("/publicKey/authenticatorSelection")
                    .and_then(serde_json::Value::as_object_mut)
                {
                    selection.insert("residentKey".into(), "required".into());
                    selection.insert("requireResidentKey".into(), true.into());
                    selection.insert("userVerification".into(), "required".into());
                }
                Ok(PasskeyChallenge { ceremony, options })
            })
            .await
    }

    /// The browser's answer to a registration challenge: checked, and the
    /// passkey stored on the session's account (the one the challenge was
    /// for).
    pub async fn finish_passkey_registration(
        &self,
        session: &str,
        ceremony: &str,
        response: &str,
    ) -> ServiceResult<()> {
        let webauthn = self.webauthn_for_form()?.clone();
        let credential: RegisterPublicKeyCredential = serde_json::from_str(response)
            .map_err(|_| invalid("The passkey's answer could not be read. Try again."))?;
        let now = self.clock.now();
        let (token, ceremony) = (session.to_owned(), ceremony.to_owned());
        // Taken in a transaction of its own: a refused answer used it up.
        let row = self
            .db
            .write(move |tx| take_ceremony(tx, &ceremony, now))
            .await?;
        self.db
            .write(move |tx| {
                let user = sessions::find(tx, &token, now)?.ok_or_else(session_ended)?;
                if row.purpose != CeremonyPurpose::Register || row.user_id != Some(user.user_id) {
                    return Err(ceremony_gone());
                }
                let state: PasskeyRegistration = serde_json::from_str(&row.state)
                    .map_err(|e| internal("a stored registration", e))?;
                let passkey = webauthn
                    .finish_passkey_registration(&credential, &state)
                    .map_err(|e| refused(&e))?;
                let stored =
                    serde_json::to_string(&passkey).map_err(|e| internal("a passkey", e))?;
                let inserted = passkeys::insert(
                    tx,
                    &passkeys::NewPasskey {
                        credential_id: passkey.cred_id().as_ref(),
                        user_id: user.user_id,
                        name: row.name.as_deref().unwrap_or("Passkey"),
                        passkey: &stored,
                    },
                    now,
                );
                match inserted {
                    Err(error) if db::is_unique_violation(&error) => {
                        return Err(ServiceError::Conflict {
                            code: ErrorCode::DuplicateItem,
                            detail: "This passkey is already registered.".into(),
                        });
                    }
                    other => other?,
                }
                crate::services::second_factor::record_passkey(
                    tx,
                    user.user_id,
                    EventType::MfaEnrolled,
                    now,
                )?;
                Ok(())
            })
            .await
    }

    /// Removes one of the session's account's passkeys. Removing a factor
    /// needs a factor (docs/second-factor.md): a second factor proved in
    /// this session within the step-up window (a passkey sign-in or
    /// confirmation, an app code), a passkey confirmed now (`passkey`), or
    /// a code of the authenticator app typed now.
    pub async fn remove_passkey(
        &self,
        session: &str,
        credential_id: &str,
        code: Option<&str>,
        passkey: Option<PasskeyAnswer<'_>>,
    ) -> ServiceResult<()> {
        let id = URL_SAFE_NO_PAD
            .decode(credential_id.trim())
            .map_err(|_| ServiceError::NotFound("passkey"))?;
        if let Some(passkey) = passkey {
            self.confirm_with_passkey(session, passkey).await?;
        }
        let now = self.clock.now();
        let token = session.to_owned();
        let code = code
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        let window = i64::try_from(super::STEP_UP_WINDOW.as_millis()).unwrap_or(i64::MAX);
        self.db
            .write(move |tx| {
                let digest = secrets::sha256(&token);
                let check =
                    db::sessions::password_check(tx, &digest, now)?.ok_or_else(session_ended)?;
                let recent = check
                    .factor_at
                    .is_some_and(|at| now.0.saturating_sub(at.0) < window);
                if !recent {
                    let Some(code) = code else {
                        return Err(ServiceError::Forbidden {
                            code: ErrorCode::Unauthorized,
                            detail: "Removing a passkey needs a second factor: confirm with a \
                                     passkey (or enter a code from your authenticator app)."
                                .into(),
                        });
                    };
                    crate::services::second_factor::checked(
                        crate::services::second_factor::prove(
                            tx,
                            &token,
                            check.user_id,
                            &code,
                            now,
                        )?,
                    )?;
                }
                if !passkeys::delete(tx, check.user_id, &id)? {
                    return Err(ServiceError::NotFound("passkey"));
                }
                crate::services::second_factor::record_passkey(
                    tx,
                    check.user_id,
                    EventType::MfaRemoved,
                    now,
                )?;
                Ok(())
            })
            .await
    }

    /// "Use a passkey" where a signed-in person is asked for their second
    /// factor (the console's door and step-up, removing a passkey): a
    /// challenge only the session's account's passkeys can answer, with
    /// user verification required.
    pub async fn start_passkey_confirmation(
        &self,
        session: &str,
        address: &str,
    ) -> ServiceResult<PasskeyChallenge> {
        let webauthn = self.webauthn()?.clone();
        let now = self.clock.now();
        self.count_start(address, now)?;
        let token = session.to_owned();
        self.db
            .write(move |tx| {
                let user = sessions::find(tx, &token, now)?.ok_or_else(session_ended)?;
                let credentials = stored_passkeys(tx, user.user_id)?
                    .into_iter()
                    .map(|(_, passkey)| passkey)
                    .collect::<Vec<_>>();
                if credentials.is_empty() {
                    return Err(invalid("Your account has no passkey."));
                }
                let (options, state) = webauthn
                    .start_passkey_authentication(&credentials)
                    .map_err(|e| internal("starting a passkey confirmation", e))?;
                let state = serde_json::to_string(&state)
                    .map_err(|e| internal("a confirmation's state", e))?;
                let ceremony = store_ceremony(
                    tx,
                    CeremonyPurpose::Confirm,
                    Some(user.user_id),
                    None,
                    &state,
                    now,
                )?;
                let options = serde_json::to_value(&options)
                    .map_err(|e| internal("a confirmation's options", e))?;
                Ok(PasskeyChallenge { ceremony, options })
            })
            .await
    }

    /// Checks the browser's answer to [`Self::start_passkey_confirmation`]
    /// and marks the second factor proved in this same session: nothing
    /// new is started, so the session the person already holds is the one
    /// that may now do what asked for it. A refusal is a sentence about
    /// the field `passkey`.
    pub async fn confirm_with_passkey(
        &self,
        session: &str,
        answer: PasskeyAnswer<'_>,
    ) -> ServiceResult<()> {
        let webauthn = self.webauthn_for_form()?.clone();
        let credential: PublicKeyCredential = serde_json::from_str(answer.response)
            .map_err(|_| invalid("The passkey's answer could not be read. Try again."))?;
        let now = self.clock.now();
        let (token, ceremony) = (session.to_owned(), answer.ceremony.to_owned());
        // Taken in a transaction of its own: a refused answer used it up.
        let row = self
            .db
            .write(move |tx| take_ceremony(tx, &ceremony, now))
            .await
            .map_err(as_passkey_field)?;
        self.db
            .write(move |tx| {
                let user = sessions::find(tx, &token, now)?.ok_or_else(session_ended)?;
                if row.purpose != CeremonyPurpose::Confirm || row.user_id != Some(user.user_id) {
                    return Err(as_passkey_field(ceremony_gone()));
                }
                let state: PasskeyAuthentication = serde_json::from_str(&row.state)
                    .map_err(|e| internal("a stored confirmation", e))?;
                let result = webauthn
                    .finish_passkey_authentication(&credential, &state)
                    .map_err(|e| as_passkey_field(refused(&e)))?;
                let used = stored_passkeys(tx, user.user_id)?
                    .into_iter()
                    .find(|(_, passkey)| passkey.cred_id() == result.cred_id());
                // The state allowed only this account's passkeys; one removed
                // meanwhile is simply no longer a factor.
                let Some((credential_id, mut passkey)) = used else {
                    return Err(invalid(
                        "This passkey is not registered here (it may have been removed).",
                    ));
                };
                passkey.update_credential(&result);
                let stored =
                    serde_json::to_string(&passkey).map_err(|e| internal("a passkey", e))?;
                passkeys::mark_used(tx, &credential_id, &stored, now)?;
                sessions::add_method(tx, &token, AuthMethod::Passkey, now)?
                    .ok_or_else(session_ended)?;
                Ok(())
            })
            .await
    }

    /// "Sign in with a passkey": a discoverable authentication challenge
    /// (no account named; user verification required).
    pub async fn start_passkey_sign_in(&self, address: &str) -> ServiceResult<PasskeyChallenge> {
        let webauthn = self.webauthn()?;
        let now = self.clock.now();
        self.count_start(address, now)?;
        let (mut options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| internal("starting a passkey sign-in", e))?;
        // A button click asks with the browser's ordinary dialog, not the
        // autofill (conditional) one webauthn-rs sets up.
        options.mediation = None;
        let state = serde_json::to_string(&state).map_err(|e| internal("a sign-in's state", e))?;
        let options =
            serde_json::to_value(&options).map_err(|e| internal("a sign-in's options", e))?;
        let ceremony = self
            .db
            .write(move |tx| store_ceremony(tx, CeremonyPurpose::SignIn, None, None, &state, now))
            .await?;
        Ok(PasskeyChallenge { ceremony, options })
    }

    /// Signs in with a passkey: the browser's answer to the challenge
    /// `ceremony`, checked against the credential it names. A passkey
    /// proves who the person is (two factors: something they have, and
    /// their PIN or body), nothing about their inbox: an unverified
    /// account stays unverified, and goes where only proven addresses go
    /// after proving it, as a password sign-in does.
    pub async fn sign_in_with_passkey(
        &self,
        ceremony: &str,
        response: &str,
        context: &FormContext,
    ) -> ServiceResult<FormOutcome> {
        let webauthn = self.webauthn_for_form()?.clone();
        let credential: PublicKeyCredential = serde_json::from_str(response)
            .map_err(|_| invalid("The passkey's answer could not be read. Try again."))?;
        let (handle, credential_id) = webauthn
            .identify_discoverable_authentication(&credential)
            .map_err(|e| refused(&e))?;
        let (handle, credential_id) = (handle.to_string(), credential_id.to_vec());
        let now = self.clock.now();
        let ceremony = ceremony.to_owned();
        let lifetime = self.settings.session_lifetime;
        let invited = context.invited.clone();
        let needs_proof = context.needs_proven_inbox();
        // The ceremony is taken in a transaction of its own, so a refused
        // answer still used it up (the rest of a refusal rolls back).
        let state = self
            .db
            .write(move |tx| take_ceremony(tx, &ceremony, now))
            .await?;
        if state.purpose != CeremonyPurpose::SignIn {
            return Err(ceremony_gone());
        }
        let checked = self
            .db
            .write(move |tx| -> ServiceResult<PasskeyOutcome> {
                let state: DiscoverableAuthentication = serde_json::from_str(&state.state)
                    .map_err(|e| internal("a stored sign-in", e))?;
                let unknown = || {
                    ServiceError::Unauthorized(
                        "This passkey is not registered here (it may have been removed). Sign \
                         in another way."
                            .into(),
                    )
                };
                let row = passkeys::find(tx, &credential_id)?.ok_or_else(unknown)?;
                let owner = passkeys::user_of_handle(tx, &handle)?;
                if owner != Some(row.user_id) {
                    return Err(unknown());
                }
                let mut passkey: Passkey = serde_json::from_str(&row.passkey)
                    .map_err(|e| internal("a stored passkey", e))?;
                let result = webauthn
                    .finish_discoverable_authentication_v2(&credential, state, &passkey)
                    .map_err(|e| refused(&e))?;
                passkey.update_credential(&result);
                let stored =
                    serde_json::to_string(&passkey).map_err(|e| internal("a passkey", e))?;
                passkeys::mark_used(tx, &credential_id, &stored, now)?;
                let user = db::users::get(tx, row.user_id)?.ok_or_else(unknown)?;
                let was_invited = invited.as_ref().is_some_and(|invited| {
                    Email::parse(&user.email).is_ok_and(|email| email.key() == invited.key())
                });
                let verified = user.email_verified() || was_invited;
                if !verified && needs_proof {
                    return Ok(PasskeyOutcome::ProveInbox {
                        user_id: user.id,
                        email: user.email,
                    });
                }
                if was_invited && !user.email_verified() {
                    crate::services::users::mark_verified(tx, user.id, now)?;
                }
                let session = sessions::start(tx, user.id, AuthMethod::Passkey, lifetime, now)?;
                Ok(PasskeyOutcome::SignedIn(SignedIn {
                    user_id: user.id,
                    email: user.email,
                    email_verified: verified,
                    session,
                    device: None,
                }))
            })
            .await?;
        match checked {
            PasskeyOutcome::SignedIn(signed_in) => {
                self.sign_ins.count(SignInMethod::Passkey);
                Ok(FormOutcome::SignedIn(signed_in))
            }
            PasskeyOutcome::ProveInbox { user_id, email } => {
                self.ask_to_prove_inbox(user_id, email, context, now).await
            }
        }
    }
}

/// What checking a passkey sign-in came to, inside its transaction.
enum PasskeyOutcome {
    SignedIn(SignedIn),
    /// The passkey is right, but the account's address was never proven
    /// and the form leads where only proven addresses go.
    ProveInbox {
        user_id: i64,
        email: String,
    },
}

#[cfg(test)]
mod tests {
    use super::relying_party;

    #[test]
    fn passkeys_need_a_domain_name() {
        assert!(relying_party("https://enlist.example.com").is_some());
        assert!(relying_party("http://localhost:8080").is_some());
        assert!(relying_party("http://127.0.0.1:8080").is_none());
        assert!(relying_party("http://[::1]:8080").is_none());
        assert!(relying_party("not a url").is_none());
    }
}
