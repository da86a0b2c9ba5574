//! A sign-in code mailed to an inbox: what one looks like, how it is typed
//! back, and the bounds on trying it.

use std::time::Duration;

/// Digits in a code. Eight, not six: a code may be tried from anywhere
/// the person's address can be typed, and a hundred million values keep
/// the bounded guesses (see [`TRIES_PER_CODE`]) hopeless for years.
pub const DIGITS: usize = 8;

/// How many codes there are: 10^[`DIGITS`].
pub const SPACE: u32 = 100_000_000;

/// How long a code works after it was sent.
pub const LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Tries of one code, the right one included: the fifth wrong one ends it.
pub const TRIES_PER_CODE: i64 = 5;

/// Eight decimal digits, as typed back by the person (or filled in by the
/// mailed link). Not `Debug`: it is a secret until used.
#[derive(Clone, PartialEq, Eq)]
pub struct SignInCode(String);

/// Why a typed code is not a code at all (nothing is tried for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadCode {
    Empty,
    /// Something besides digits, spaces and hyphens.
    NotDigits,
    /// Too few or too many digits.
    WrongLength,
}

impl BadCode {
    /// What the page says.
    pub fn sentence(self) -> String {
        match self {
            BadCode::Empty => format!("Enter the {DIGITS}-digit code from the message."),
            BadCode::NotDigits => format!("The code is {DIGITS} digits (0 to 9), nothing else."),
            BadCode::WrongLength => {
                format!("The code is exactly {DIGITS} digits; check that you copied all of it.")
            }
        }
    }
}

impl SignInCode {
    /// Reads a typed code. Spaces and hyphens are ignored (the message
    /// shows the code in two groups of four, people copy it as they see it).
    pub fn parse(typed: &str) -> Result<Self, BadCode> {
        // Far past any spelling of a code: refused before it is scanned.
        if typed.len() > 64 {
            return Err(BadCode::WrongLength);
        }
        let mut digits = String::with_capacity(DIGITS);
        for c in typed.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '\t' => {}
                _ => return Err(BadCode::NotDigits),
            }
        }
        match digits.len() {
            0 => Err(BadCode::Empty),
            DIGITS => Ok(Self(digits)),
            _ => Err(BadCode::WrongLength),
        }
    }

    /// The code numbered `value` (below [`SPACE`]), zero-padded.
    pub fn from_number(value: u32) -> Option<Self> {
        (value < SPACE).then(|| Self(format!("{value:0width$}", width = DIGITS)))
    }

    /// The digits alone, as the mailed link carries them.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// The code as a person reads it: `1234 5678`.
    pub fn grouped(&self) -> String {
        match self.0.split_at_checked(DIGITS / 2) {
            Some((first, second)) => format!("{first} {second}"),
            None => self.0.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_keep_their_digits_only() {
        for typed in ["12345678", "1234 5678", " 1234-5678 ", "12 34 56 78"] {
            assert_eq!(SignInCode::parse(typed).unwrap().digits(), "12345678");
        }
        assert_eq!(SignInCode::parse("").err(), Some(BadCode::Empty));
        assert_eq!(SignInCode::parse("  ").err(), Some(BadCode::Empty));
        assert_eq!(
            SignInCode::parse("1234567a").err(),
            Some(BadCode::NotDigits)
        );
        // Digits of other scripts are not ASCII digits.
        assert_eq!(
            SignInCode::parse("１２３４５６７８").err(),
            Some(BadCode::NotDigits)
        );
        assert_eq!(
            SignInCode::parse("1234567").err(),
            Some(BadCode::WrongLength)
        );
        assert_eq!(
            SignInCode::parse("123456789").err(),
            Some(BadCode::WrongLength)
        );
        assert_eq!(
            SignInCode::parse(&"1".repeat(100)).err(),
            Some(BadCode::WrongLength)
        );
    }

    #[test]
    fn codes_are_padded_and_grouped() {
        let code = SignInCode::from_number(42).unwrap();
        assert_eq!(code.digits(), "00000042");
        assert_eq!(code.grouped(), "0000 0042");
        assert_eq!(SPACE, 10_u32.pow(DIGITS as u32));
        assert_eq!(
            SignInCode::from_number(SPACE - 1).unwrap().digits(),
            "99999999"
        );
        assert!(SignInCode::from_number(SPACE).is_none());
    }
}
