//! Generating and checking high-entropy secrets (API keys, client secrets,
//! refresh tokens, codes). Such secrets are hashed with SHA-256, which is
//! enough when the secret carries ≥128 random bits; argon2 is for passwords.

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `len` characters of base62 from the operating system's CSPRNG (through
/// the thread-local ChaCha generator it seeds). 22 characters carry 130 bits.
pub fn random_base62(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares a presented secret with a stored digest in constant time.
pub fn matches_digest(secret: &str, stored_digest: &[u8]) -> bool {
    sha256(secret).ct_eq(stored_digest).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_secrets_are_base62_and_distinct() {
        let a = random_base62(32);
        let b = random_base62(32);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn digests_match_only_their_secret() {
        let digest = sha256("s3cret");
        assert!(matches_digest("s3cret", &digest));
        assert!(!matches_digest("s3creT", &digest));
        assert!(!matches_digest("s3cret", &digest[..31]));
    }
}
