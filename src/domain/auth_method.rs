//! How the holder of a browser session proved who they are: the methods
//! used, as stored with the session, and what they add up to (the `amr`
//! values of RFC 8176 an ID token and the sign-in events carry, and whether
//! the session has a second factor).

use std::fmt;

/// One way of proving who you are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthMethod {
    /// The account's password.
    Password,
    /// A code or link mailed to the account's address (proof of the inbox).
    EmailCode,
    /// A sign-in at an upstream OpenID provider.
    Provider,
    /// A passkey (WebAuthn, user verification required).
    Passkey,
    /// A time-based one-time password from an authenticator app.
    Totp,
    /// One of the account's single-use recovery codes.
    RecoveryCode,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 6] = [
        AuthMethod::Password,
        AuthMethod::EmailCode,
        AuthMethod::Provider,
        AuthMethod::Passkey,
        AuthMethod::Totp,
        AuthMethod::RecoveryCode,
    ];

    /// The name stored with a session and shown in events.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::EmailCode => "email_code",
            AuthMethod::Provider => "provider",
            AuthMethod::Passkey => "passkey",
            AuthMethod::Totp => "totp",
            AuthMethod::RecoveryCode => "recovery_code",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.as_str() == name)
    }

    /// RFC 8176 names. A provider sign-in is `fed` (not registered in RFC
    /// 8176; Microsoft Entra uses the same word): enlist cannot see how the
    /// provider checked the person.
    fn amr_values(self) -> &'static [&'static str] {
        match self {
            AuthMethod::Password => &["pwd"],
            AuthMethod::EmailCode | AuthMethod::Totp | AuthMethod::RecoveryCode => &["otp"],
            AuthMethod::Provider => &["fed"],
            AuthMethod::Passkey => &["hwk", "user"],
        }
    }

    /// A second factor: on its own after a first one, it makes two.
    pub fn is_second_factor(self) -> bool {
        matches!(
            self,
            AuthMethod::Totp | AuthMethod::RecoveryCode | AuthMethod::Passkey
        )
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The methods a session's holder used, in the order first used, each once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthMethods(Vec<AuthMethod>);

impl AuthMethods {
    pub fn one(method: AuthMethod) -> Self {
        Self(vec![method])
    }

    /// The stored form: the names, space-separated. Unknown names (from a
    /// newer binary) are skipped; an empty column reads as a password.
    pub fn parse(stored: &str) -> Self {
        let mut methods = Self::default();
        for method in stored.split_whitespace().filter_map(AuthMethod::parse) {
            methods.add(method);
        }
        if methods.0.is_empty() {
            methods.add(AuthMethod::Password);
        }
        methods
    }

    pub fn stored(&self) -> String {
        self.0
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn add(&mut self, method: AuthMethod) {
        if !self.0.contains(&method) {
            self.0.push(method);
        }
    }

    pub fn contains(&self, method: AuthMethod) -> bool {
        self.0.contains(&method)
    }

    pub fn methods(&self) -> &[AuthMethod] {
        &self.0
    }

    /// Two factors: a passkey (possession plus the user verification it
    /// requires), or a second factor beside another method.
    pub fn is_multi_factor(&self) -> bool {
        self.contains(AuthMethod::Passkey)
            || (self.0.iter().any(|m| m.is_second_factor()) && self.0.len() > 1)
    }

    /// The RFC 8176 `amr` values, each once, with `mfa` when
    /// [`Self::is_multi_factor`].
    pub fn amr(&self) -> Vec<&'static str> {
        let mut values: Vec<&'static str> = Vec::new();
        for value in self.0.iter().flat_map(|m| m.amr_values()) {
            if !values.contains(value) {
                values.push(value);
            }
        }
        if self.is_multi_factor() {
            values.push("mfa");
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_round_trips_and_tolerates_unknown_names() {
        let mut methods = AuthMethods::one(AuthMethod::Password);
        methods.add(AuthMethod::Totp);
        methods.add(AuthMethod::Password);
        assert_eq!(methods.stored(), "password totp");
        assert_eq!(AuthMethods::parse("password totp"), methods);
        assert_eq!(
            AuthMethods::parse("password smoke-signal").methods(),
            &[AuthMethod::Password]
        );
        assert_eq!(AuthMethods::parse("").methods(), &[AuthMethod::Password]);
        for method in AuthMethod::ALL {
            assert_eq!(AuthMethod::parse(method.as_str()), Some(method));
        }
    }

    #[test]
    fn amr_values_follow_rfc_8176() {
        let amr = |methods: &[AuthMethod]| {
            let mut all = AuthMethods::default();
            for m in methods {
                all.add(*m);
            }
            all.amr()
        };
        assert_eq!(amr(&[AuthMethod::Password]), ["pwd"]);
        assert_eq!(amr(&[AuthMethod::EmailCode]), ["otp"]);
        assert_eq!(amr(&[AuthMethod::Provider]), ["fed"]);
        assert_eq!(
            amr(&[AuthMethod::Password, AuthMethod::Totp]),
            ["pwd", "otp", "mfa"]
        );
        assert_eq!(
            amr(&[AuthMethod::Password, AuthMethod::RecoveryCode]),
            ["pwd", "otp", "mfa"]
        );
        assert_eq!(amr(&[AuthMethod::Passkey]), ["hwk", "user", "mfa"]);
        // A mailed code alone is one factor.
        assert!(!AuthMethods::one(AuthMethod::EmailCode).is_multi_factor());
        assert!(!AuthMethods::one(AuthMethod::Totp).is_multi_factor());
    }
}
