//! Second factors: enrolling an authenticator app (TOTP) with its ten
//! recovery codes, proving one in a browser session (which then counts two
//! factors), removing it, and the operator's reset. Every check of a typed
//! code goes through `prove_code`, so the bound on wrong codes and the
//! refusal of a replayed code hold everywhere. A refused check still
//! commits (it counted a wrong code): the answers are `Ok(Err(Refused))`.

use super::{ServiceError, ServiceResult, sessions};
use crate::auth::secrets;
use crate::db;
use crate::db::Conn;
use crate::domain::event::{EventType, Origin};
use crate::domain::second_factor::{
    self as rules, Failures, RecoveryCode, TotpCheck, TotpSecret, Typed,
};
use crate::domain::{AuthMethod, AuthMethods, Email, Millis};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The name apps show beside the account.
pub const ISSUER: &str = "enlist";

/// Why a typed code was not taken (nothing it guards was done).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Neither six digits nor a recovery code.
    Malformed,
    /// Not a code of the factor (or a recovery code unknown or used).
    Wrong,
    /// The right TOTP code, already used once.
    Replayed,
    /// Too many wrong codes: checks are refused for this long.
    Locked(Duration),
    /// The account has no such factor (any more).
    NotEnrolled,
}

impl From<Refused> for ServiceError {
    fn from(refused: Refused) -> Self {
        let invalid = |detail: &str| ServiceError::invalid("code", detail);
        match refused {
            Refused::Malformed => invalid(
                "Enter the 6-digit code from your authenticator app, or one of your recovery codes.",
            ),
            Refused::Wrong => invalid(
                "That code is not right, or it has run out (the app's codes change every 30 \
                 seconds), or that recovery code was already used. Check your authenticator \
                 app and try again.",
            ),
            Refused::Replayed => invalid(
                "That code was already used. Wait for the next code in your authenticator app.",
            ),
            Refused::Locked(wait) => {
                let minutes = wait.as_secs().div_ceil(60).max(1);
                ServiceError::TooSoon {
                    detail: format!(
                        "Too many wrong codes. Second-factor checks for your account are paused \
                         for {minutes} minute{}; your password still works everywhere else.",
                        if minutes == 1 { "" } else { "s" }
                    ),
                    retry_after_secs: wait.as_secs().max(1),
                }
            }
            Refused::NotEnrolled => invalid("Your account has no second factor to check."),
        }
    }
}

/// Flattens a check's answer once it committed: a refusal becomes the
/// error that says why.
pub fn checked<T>(answer: Result<T, Refused>) -> ServiceResult<T> {
    answer.map_err(ServiceError::from)
}

/// An account's second factors, as its owner and the console see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// A confirmed authenticator app.
    pub totp: bool,
    /// Recovery codes not used yet.
    pub recovery_codes_left: usize,
}

pub fn status(conn: &Conn, user_id: i64) -> ServiceResult<Status> {
    let totp =
        db::second_factors::totp_of(conn, user_id)?.is_some_and(|row| row.confirmed_at.is_some());
    let recovery_codes_left = if totp {
        db::second_factors::unused_recovery_codes(conn, user_id)?.len()
    } else {
        0
    };
    Ok(Status {
        totp,
        recovery_codes_left,
    })
}

/// The second factors an account can answer a check with on this server:
/// a code (its authenticator app, or a recovery code) and a passkey (when
/// it has one and the server offers passkeys).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Factors {
    pub code: bool,
    pub passkey: bool,
}

impl Factors {
    pub fn any(self) -> bool {
        self.code || self.passkey
    }
}

/// The account's [`Factors`]; `passkeys_offered` is whether this server
/// offers passkeys at all (its public URL has a domain name).
pub fn factors(conn: &Conn, user_id: i64, passkeys_offered: bool) -> ServiceResult<Factors> {
    Ok(Factors {
        code: status(conn, user_id)?.totp,
        passkey: passkeys_offered && db::passkeys::any(conn, user_id)?,
    })
}

/// Whether the account has a second factor: an authenticator app or a
/// passkey (docs/passkeys.md). What the console's `required` asks for.
pub fn enrolled(conn: &Conn, user_id: i64) -> ServiceResult<bool> {
    Ok(status(conn, user_id)?.totp || db::passkeys::any(conn, user_id)?)
}

/// An authenticator app being set up: what the page shows, once.
pub struct Enrolment {
    /// Base32, grouped by four.
    pub secret_text: String,
    /// The `otpauth://` URI the QR code holds.
    pub uri: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment(…)")
    }
}

/// Starts setting up an authenticator app: a new secret (replacing one
/// never confirmed), counted only once a code from it is typed back.
pub fn begin_totp(tx: &Conn, user_id: i64, now: Millis) -> ServiceResult<Enrolment> {
    if status(tx, user_id)?.totp {
        return Err(ServiceError::invalid(
            "factor",
            "You already have an authenticator app. Remove it first to set up another.",
        ));
    }
    let user = db::users::get(tx, user_id)?.ok_or(ServiceError::NotFound("account"))?;
    let secret = TotpSecret::generate();
    db::second_factors::put_pending(tx, user_id, secret.bytes(), now)?;
    Ok(Enrolment {
        secret_text: secret.base32_grouped(),
        uri: secret.otpauth_uri(ISSUER, &user.email),
    })
}

/// Recovery codes as shown once, `xxxx-xxxx-xxxx-xxxx`.
pub struct ShownCodes(pub Vec<String>);

impl std::fmt::Debug for ShownCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShownCodes({} codes)", self.0.len())
    }
}

/// Finishes setting up the app with a code from it: the factor counts
/// from now on, the session has proved it, and ten recovery codes are made
/// (answered once, stored as digests).
pub fn confirm_totp(
    tx: &Conn,
    origin: &Origin,
    session_token: &str,
    user_id: i64,
    typed: &str,
    now: Millis,
) -> ServiceResult<Result<ShownCodes, Refused>> {
    let Some(row) = db::second_factors::totp_of(tx, user_id)? else {
        return Ok(Err(Refused::NotEnrolled));
    };
    if row.confirmed_at.is_some() {
        return Err(ServiceError::invalid(
            "factor",
            "Your authenticator app is already set up.",
        ));
    }
    let Typed::Totp(code) = Typed::parse(typed) else {
        return Ok(Err(Refused::Malformed));
    };
    if let Err(refused) = check_totp(tx, user_id, &row, &code, now)? {
        return Ok(Err(refused));
    }
    let codes = new_recovery_codes(tx, user_id, now)?;
    sessions::add_method(tx, session_token, AuthMethod::Totp, now)?;
    record(
        tx,
        origin,
        user_id,
        EventType::MfaEnrolled,
        None,
        now,
        "totp",
    )?;
    Ok(Ok(codes))
}

/// Proves the account's second factor in this session with `typed` (a
/// TOTP code or a recovery code, used up): the session now counts two
/// factors. Answers what it adds up to.
pub fn prove(
    tx: &Conn,
    session_token: &str,
    user_id: i64,
    typed: &str,
    now: Millis,
) -> ServiceResult<Result<AuthMethods, Refused>> {
    let method = match prove_code(tx, user_id, typed, now)? {
        Ok(method) => method,
        Err(refused) => return Ok(Err(refused)),
    };
    match sessions::add_method(tx, session_token, method, now)? {
        Some(methods) => Ok(Ok(methods)),
        None => Err(ServiceError::Unauthorized(
            "Your session has ended; sign in again.".into(),
        )),
    }
}

/// Removes the authenticator app and the recovery codes, once `typed`
/// proves the factor.
pub fn remove(
    tx: &Conn,
    origin: &Origin,
    user_id: i64,
    typed: &str,
    now: Millis,
) -> ServiceResult<Result<(), Refused>> {
    if let Err(refused) = prove_code(tx, user_id, typed, now)? {
        return Ok(Err(refused));
    }
    db::second_factors::delete_all(tx, user_id)?;
    record(
        tx,
        origin,
        user_id,
        EventType::MfaRemoved,
        None,
        now,
        "totp",
    )?;
    Ok(Ok(()))
}

/// Ten new recovery codes in place of the old ones, once `typed` proves
/// the factor.
pub fn renew_recovery_codes(
    tx: &Conn,
    user_id: i64,
    typed: &str,
    now: Millis,
) -> ServiceResult<Result<ShownCodes, Refused>> {
    if let Err(refused) = prove_code(tx, user_id, typed, now)? {
        return Ok(Err(refused));
    }
    Ok(Ok(new_recovery_codes(tx, user_id, now)?))
}

/// What the operator's reset did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reset {
    pub user_id: i64,
    pub email: String,
    /// Whether the account had a second factor (it has none now).
    pub had_second_factor: bool,
    /// Organizations whose audit log got `user.mfa_reset`.
    pub organizations: usize,
}

/// `enlist user mfa reset`: removes the account's second factors (a locked
/// out admin enrols again), audited in each of their organizations.
pub fn reset(tx: &Conn, origin: &Origin, email: &Email, now: Millis) -> ServiceResult<Reset> {
    let user = db::users::find_by_email(tx, email)?.ok_or(ServiceError::NotFound("account"))?;
    let had_app = db::second_factors::delete_all(tx, user.id)?;
    // Passkeys are second factors too: someone who lost the device that
    // held theirs is locked out of the console just the same.
    let had_passkeys = db::passkeys::delete_all(tx, user.id)? > 0;
    let had_second_factor = had_app || had_passkeys;
    let organizations = record(
        tx,
        origin,
        user.id,
        EventType::MfaReset,
        Some(had_second_factor),
        now,
        // The reset removes every kind at once.
        "all",
    )?;
    Ok(Reset {
        user_id: user.id,
        email: user.email,
        had_second_factor,
        organizations,
    })
}

/// Checks `typed` against the account's confirmed factor: a TOTP code
/// (not replayed) or an unused recovery code (used up now). A wrong one
/// counts toward the lock; while locked, nothing is checked.
fn prove_code(
    tx: &Conn,
    user_id: i64,
    typed: &str,
    now: Millis,
) -> ServiceResult<Result<AuthMethod, Refused>> {
    let Some(row) =
        db::second_factors::totp_of(tx, user_id)?.filter(|row| row.confirmed_at.is_some())
    else {
        return Ok(Err(Refused::NotEnrolled));
    };
    match Typed::parse(typed) {
        Typed::Malformed => Ok(Err(Refused::Malformed)),
        Typed::Totp(code) => {
            Ok(check_totp(tx, user_id, &row, &code, now)?.map(|()| AuthMethod::Totp))
        }
        Typed::Recovery(code) => {
            if let Some(wait) = row.failures.locked(now) {
                return Ok(Err(Refused::Locked(wait)));
            }
            let digest = secrets::sha256(&code);
            let unused = db::second_factors::unused_recovery_codes(tx, user_id)?;
            // Each stored digest is compared, in constant time.
            let known = unused.iter().fold(false, |found, stored| {
                found | bool::from(digest.ct_eq(stored))
            });
            if known && db::second_factors::use_recovery_code(tx, user_id, &digest, now)? {
                db::second_factors::set_failures(tx, user_id, &Failures::default())?;
                Ok(Ok(AuthMethod::RecoveryCode))
            } else {
                Ok(Err(wrong(tx, user_id, &row.failures, now)?))
            }
        }
    }
}

fn check_totp(
    tx: &Conn,
    user_id: i64,
    row: &db::second_factors::TotpRow,
    code: &str,
    now: Millis,
) -> ServiceResult<Result<(), Refused>> {
    if let Some(wait) = row.failures.locked(now) {
        return Ok(Err(Refused::Locked(wait)));
    }
    let secret = TotpSecret::from_bytes(row.secret.clone());
    match rules::check_totp(&secret, code, now, row.last_step) {
        TotpCheck::Accepted { step } => {
            db::second_factors::accept_step(tx, user_id, step, now)?;
            db::second_factors::set_failures(tx, user_id, &Failures::default())?;
            Ok(Ok(()))
        }
        // A replay counts too: whoever has it saw a code, not the app.
        TotpCheck::Replayed => {
            wrong(tx, user_id, &row.failures, now)?;
            Ok(Err(Refused::Replayed))
        }
        TotpCheck::Wrong => Ok(Err(wrong(tx, user_id, &row.failures, now)?)),
    }
}

/// Counts a wrong code; answers the refusal to give (the lock, when this
/// one reached the bound).
fn wrong(tx: &Conn, user_id: i64, failures: &Failures, now: Millis) -> ServiceResult<Refused> {
    let after = failures.after_wrong(now);
    db::second_factors::set_failures(tx, user_id, &after)?;
    // Only reached while unlocked: a lock now is this code's doing.
    Ok(after.locked(now).map_or(Refused::Wrong, Refused::Locked))
}

fn new_recovery_codes(tx: &Conn, user_id: i64, now: Millis) -> ServiceResult<ShownCodes> {
    let codes: Vec<RecoveryCode> = (0..rules::RECOVERY_CODES)
        .map(|_| RecoveryCode::generate())
        .collect();
    let digests: Vec<[u8; 32]> = codes.iter().map(|c| secrets::sha256(&c.normal)).collect();
    db::second_factors::replace_recovery_codes(tx, user_id, &digests, now)?;
    Ok(ShownCodes(codes.iter().map(RecoveryCode::shown).collect()))
}

/// `user.mfa_*` in every organization the person belongs to; answers how
/// many. `data` holds the user and the factor, never a secret.
/// `user.mfa_enrolled` or `.mfa_removed` for a passkey added or removed.
pub fn record_passkey(
    tx: &Conn,
    user_id: i64,
    kind: EventType,
    now: Millis,
) -> ServiceResult<usize> {
    record(
        tx,
        &Origin::user(user_id),
        user_id,
        kind,
        None,
        now,
        "passkey",
    )
}

fn record(
    tx: &Conn,
    origin: &Origin,
    user_id: i64,
    kind: EventType,
    had_second_factor: Option<bool>,
    now: Millis,
    factor: &str,
) -> ServiceResult<usize> {
    let orgs = db::members::org_ids_of(tx, user_id)?;
    let Some(user) = db::users::get(tx, user_id)? else {
        return Ok(0);
    };
    let mut data = serde_json::json!({
        "user": {"id": user.id, "email": user.email},
        "factor": factor,
    });
    if let (Some(had), Some(fields)) = (had_second_factor, data.as_object_mut()) {
        fields.insert("hadSecondFactor".into(), had.into());
    }
    for org_id in &orgs {
        super::events::record(tx, origin, *org_id, kind, data.clone(), now)?;
    }
    Ok(orgs.len())
}
