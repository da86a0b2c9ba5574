//! Second factors: time-based one-time passwords (RFC 6238, as every
//! authenticator app reads them: HMAC-SHA-1, six digits, 30-second steps),
//! single-use recovery codes, and the bound on wrong codes that locks the
//! factor check of one account for a while (never its other sign-ins).

use super::Millis;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Bytes of a new TOTP secret: 160 bits, RFC 4226's recommendation.
pub const SECRET_BYTES: usize = 20;
/// Seconds a TOTP code stands for.
pub const STEP_SECS: i64 = 30;
/// Digits of a TOTP code.
pub const DIGITS: usize = 6;
/// Steps either side of the current one a code may come from: a phone's
/// clock a little off, or a code typed as it turned.
pub const SKEW_STEPS: i64 = 1;
/// Recovery codes made at once.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code: 16 of Crockford's base32, 80 bits.
const RECOVERY_LEN: usize = 16;
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Wrong codes (TOTP or recovery) within [`FAILURE_WINDOW`] that lock the
/// account's factor check for [`LOCK_FOR`].
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
pub const LOCK_FOR: Duration = Duration::from_secs(15 * 60);

/// A TOTP secret (the key the app and the server share).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

impl TotpSecret {
    /// A new secret from the operating system's CSPRNG.
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut bytes = vec![0_u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as people type it into an app: base32 (RFC 4648), no padding.
    pub fn base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.0)
    }

    /// The same secret grouped by four, easier to copy by hand.
    pub fn base32_grouped(&self) -> String {
        let plain = self.base32();
        let mut grouped = String::with_capacity(plain.len() + plain.len() / 4);
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                grouped.push(' ');
            }
            grouped.push(c);
        }
        grouped
    }

    /// The `otpauth://` URI apps read from the QR code (Google's Key Uri
    /// Format): `issuer` and `account` name the entry in the app.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let encode = |text: &str| {
            percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        };
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            encode(issuer),
            encode(account),
            self.base32(),
            encode(issuer),
        )
    }

    /// The code of `step` (RFC 4226's HOTP with the step as its counter).
    pub fn code_at(&self, step: i64) -> String {
        hotp(&self.0, step)
    }
}

fn hotp(key: &[u8], counter: i64) -> String {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        // HMAC takes a key of any length; this is never reached.
        return String::new();
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest.get(19).copied().unwrap_or(0) & 0x0f);
    let mut word = [0_u8; 4];
    for (i, byte) in word.iter_mut().enumerate() {
        *byte = digest.get(offset + i).copied().unwrap_or(0);
    }
    let binary = u32::from_be_bytes(word) & 0x7fff_ffff;
    format!("{:06}", binary % 1_000_000)
}

/// The step the time `at` falls in.
pub fn step_of(at: Millis) -> i64 {
    at.0.div_euclid(STEP_SECS * 1000)
}

/// What a typed TOTP code is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpCheck {
    /// Right, for this step (remembered, so it is not taken twice).
    Accepted {
        step: i64,
    },
    /// Right, but for a step already used: a replay.
    Replayed,
    Wrong,
}

/// Checks `code` (six digits) against the codes of the steps around `now`;
/// `last_step` is the step of the last code accepted, never taken again.
pub fn check_totp(
    secret: &TotpSecret,
    code: &str,
    now: Millis,
    last_step: Option<i64>,
) -> TotpCheck {
    let current = step_of(now);
    let mut found = None;
    // Every candidate is computed and compared, so the time taken does not
    // tell which step matched.
    for step in current - SKEW_STEPS..=current + SKEW_STEPS {
        let expected = secret.code_at(step);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    match found {
        None => TotpCheck::Wrong,
        Some(step) if last_step.is_some_and(|last| step <= last) => TotpCheck::Replayed,
        Some(step) => TotpCheck::Accepted { step },
    }
}

/// What someone typed where a second factor is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// Six digits: a code from the app.
    Totp(String),
    /// A recovery code, in its stored form (lower case, no separators).
    Recovery(String),
    /// Neither.
    Malformed,
}

impl Typed {
    /// Spaces and hyphens are ignored; recovery codes in any case, with
    /// Crockford's look-alikes (`i`, `l` for one, `o` for zero) read as meant.
    pub fn parse(raw: &str) -> Self {
        let compact: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if compact.len() == DIGITS && compact.bytes().all(|b| b.is_ascii_digit()) {
            return Typed::Totp(compact);
        }
        let normal: String = compact
            .to_ascii_lowercase()
            .chars()
            .map(|c| match c {
                'i' | 'l' => '1',
                'o' => '0',
                other => other,
            })
            .collect();
        if normal.len() == RECOVERY_LEN && normal.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)) {
            Typed::Recovery(normal)
        } else {
            Typed::Malformed
        }
    }
}

/// A new recovery code: its stored form (what is hashed) and how it is shown.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode {
    pub normal: String,
}

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(…)")
    }
}

impl RecoveryCode {
    pub fn generate() -> Self {
        use rand::Rng;
        let mut rng = rand::rng();
        let normal = (0..RECOVERY_LEN)
            .map(|_| {
                let index = rng.random_range(0..RECOVERY_ALPHABET.len());
                char::from(RECOVERY_ALPHABET.get(index).copied().unwrap_or(b'0'))
            })
            .collect();
        Self { normal }
    }

    /// `xxxx-xxxx-xxxx-xxxx`.
    pub fn shown(&self) -> String {
        self.normal
            .as_bytes()
            .chunks(4)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// Wrong codes counted against one account's factor check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    /// Wrong codes since `since` (within [`FAILURE_WINDOW`] of it).
    pub count: i64,
    pub since: Option<Millis>,
    /// Factor checks are refused until then.
    pub locked_until: Option<Millis>,
}

impl Failures {
    /// How long the check stays locked, if it is at `now`.
    pub fn locked(&self, now: Millis) -> Option<Duration> {
        let until = self.locked_until?;
        (until.0 > now.0)
            .then(|| Duration::from_millis(u64::try_from(until.0 - now.0).unwrap_or(0)))
    }

    /// The count after one more wrong code at `now`; reaching
    /// [`MAX_FAILURES`] within the window locks the check and starts over.
    pub fn after_wrong(&self, now: Millis) -> Self {
        let window = i64::try_from(FAILURE_WINDOW.as_millis()).unwrap_or(i64::MAX);
        let (count, since) = match self.since {
            Some(since) if now.0.saturating_sub(since.0) < window => (self.count + 1, since),
            _ => (1, now),
        };
        if count >= MAX_FAILURES {
            Self {
                count: 0,
                since: None,
                locked_until: Some(now.plus(LOCK_FOR)),
            }
        } else {
            Self {
                count,
                since: Some(since),
                locked_until: self.locked_until,
            }
        }
    }
}

/// `auth.admin_mfa`: what the console asks of an administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminMfa {
    /// No second factor is asked (people may still enrol one).
    Off,
    /// Asked of the administrators who enrolled one.
    #[default]
    Optional,
    /// Asked of every administrator; one without a factor enrols first.
    Required,
}

/// What an administrator must do before the console admits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleStep {
    Admit,
    /// Prove the factor they have (TOTP or a recovery code).
    Verify,
    /// Enrol a factor first.
    Enrol,
}

impl AdminMfa {
    pub const ALL: [AdminMfa; 3] = [AdminMfa::Off, AdminMfa::Optional, AdminMfa::Required];

    pub fn as_str(self) -> &'static str {
        match self {
            AdminMfa::Off => "off",
            AdminMfa::Optional => "optional",
            AdminMfa::Required => "required",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|policy| raw.trim().eq_ignore_ascii_case(policy.as_str()))
    }

    /// The step for an administrator who has a factor enrolled (`enrolled`)
    /// and whose session already counts two factors (`multi_factor`): a
    /// passkey session counts, whatever the factor enrolled.
    pub fn console_step(self, enrolled: bool, multi_factor: bool) -> ConsoleStep {
        match self {
            _ if multi_factor => ConsoleStep::Admit,
            AdminMfa::Off => ConsoleStep::Admit,
            AdminMfa::Optional | AdminMfa::Required if enrolled => ConsoleStep::Verify,
            AdminMfa::Optional => ConsoleStep::Admit,
            AdminMfa::Required => ConsoleStep::Enrol,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 seed, eight digits there (the last
    /// six of each are ours).
    #[test]
    fn codes_follow_rfc_6238() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        for (seconds, eight_digits) in [
            (59_i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let step = step_of(Millis(seconds * 1000));
            assert_eq!(secret.code_at(step), eight_digits[2..], "at {seconds}");
        }
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn a_code_is_taken_around_its_step_once() {
        let secret = TotpSecret::generate();
        assert_eq!(secret.bytes().len(), 20);
        let now = Millis(1_800_000_000_000);
        let step = step_of(now);
        let code = secret.code_at(step);
        assert_eq!(
            check_totp(&secret, &code, now, None),
            TotpCheck::Accepted { step }
        );
        assert_eq!(
            check_totp(&secret, &code, now, Some(step)),
            TotpCheck::Replayed
        );
        // The previous step's code, typed as the step turned.
        let previous = secret.code_at(step - 1);
        assert_eq!(
            check_totp(&secret, &previous, now, None),
            TotpCheck::Accepted { step: step - 1 }
        );
        assert_eq!(
            check_totp(&secret, &previous, now, Some(step)),
            TotpCheck::Replayed
        );
        // Two steps away: too old.
        let old = secret.code_at(step - 2);
        if old != code && old != previous && old != secret.code_at(step + 1) {
            assert_eq!(check_totp(&secret, &old, now, None), TotpCheck::Wrong);
        }
    }

    #[test]
    fn typed_codes_are_told_apart() {
        assert_eq!(Typed::parse(" 123 456 "), Typed::Totp("123456".into()));
        assert_eq!(Typed::parse("12345"), Typed::Malformed);
        let code = RecoveryCode::generate();
        assert_eq!(code.normal.len(), 16);
        let shown = code.shown();
        assert_eq!(shown.len(), 19);
        assert_eq!(
            Typed::parse(&shown.to_uppercase()),
            Typed::Recovery(code.normal.clone())
        );
        assert_eq!(
            Typed::parse("0ILO-abcd-efgh-jkmn"),
            Typed::Recovery("0110abcdefghjkmn".into())
        );
        assert_eq!(Typed::parse("uuuu-abcd-efgh-jkmn"), Typed::Malformed);
        assert_ne!(RecoveryCode::generate(), RecoveryCode::generate());
    }

    #[test]
    fn five_wrong_codes_in_the_window_lock_the_check() {
        let start = Millis(1_000_000);
        let mut failures = Failures::default();
        for i in 0..4 {
            failures = failures.after_wrong(start.plus(Duration::from_secs(i)));
            assert_eq!(failures.locked(start), None);
        }
        failures = failures.after_wrong(start.plus(Duration::from_secs(60)));
        let at = start.plus(Duration::from_secs(61));
        assert!(failures.locked(at).is_some());
        assert_eq!(failures.locked(at.plus(LOCK_FOR)), None);
        // Wrong codes far apart never lock.
        let mut spread = Failures::default();
        for i in 0..10 {
            spread = spread.after_wrong(start.plus(FAILURE_WINDOW * i));
        }
        assert_eq!(spread.locked_until, None);
    }

    #[test]
    fn the_policy_asks_admins_for_what_they_have() {
        use ConsoleStep::*;
        for (policy, enrolled, multi, step) in [
            (AdminMfa::Off, true, false, Admit),
            (AdminMfa::Off, false, false, Admit),
            (AdminMfa::Optional, false, false, Admit),
            (AdminMfa::Optional, true, false, Verify),
            (AdminMfa::Optional, true, true, Admit),
            (AdminMfa::Required, false, false, Enrol),
            (AdminMfa::Required, true, false, Verify),
            (AdminMfa::Required, true, true, Admit),
            (AdminMfa::Required, false, true, Admit),
        ] {
            assert_eq!(policy.console_step(enrolled, multi), step, "{policy:?}");
        }
        assert_eq!(AdminMfa::parse("Required"), Some(AdminMfa::Required));
        assert_eq!(AdminMfa::parse("sometimes"), None);
        assert_eq!(AdminMfa::default(), AdminMfa::Optional);
    }

    #[test]
    fn the_uri_names_the_issuer_and_the_account() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        assert_eq!(
            secret.otpauth_uri("enlist", "ada@acme.test"),
            "otpauth://totp/enlist:ada%40acme%2Etest?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=enlist&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            secret.base32_grouped(),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
    }
}
