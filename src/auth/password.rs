//! Password hashing with argon2id (the argon2 crate's recommended
//! parameters). Hashing is slow by design: callers run it off the async
//! executor and outside any write transaction.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

pub const MIN_PASSWORD_LEN: usize = 8;
/// Longer inputs only cost hashing time; nobody types more.
pub const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_PASSWORD_LEN} characters long")]
    TooShort,
    #[error("the password must be at most {MAX_PASSWORD_LEN} characters long")]
    TooLong,
    #[error("hashing failed: {0}")]
    Hashing(argon2::password_hash::Error),
}

pub fn validate(password: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        Err(PasswordError::TooShort)
    } else if chars > MAX_PASSWORD_LEN {
        Err(PasswordError::TooLong)
    } else {
        Ok(())
    }
}

/// An argon2id PHC string for `password`, after checking its length.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    validate(password)?;
    let mut salt = [0_u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(PasswordError::Hashing)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(PasswordError::Hashing)
}

/// Whether `password` matches the stored PHC string. A malformed stored
/// hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify("correct horse", &a));
        assert!(!verify("correct horsE", &a));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[test]
    fn length_rules() {
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
        assert!(matches!(
            validate(&"x".repeat(1025)),
            Err(PasswordError::TooLong)
        ));
        assert!(validate("eight ch").is_ok());
    }
}
