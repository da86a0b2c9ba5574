//! Generating and checking high-entropy secrets (API keys, client secrets,
//! refresh tokens, codes). Such secrets are hashed with SHA-256, which is
//! enough when the secret carries ≥128 random bits; argon2 is for passwords.

use hmac::{Hmac, Mac};
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

/// A number in `0..bound`, uniformly, from the same generator.
pub fn random_below(bound: u32) -> u32 {
    rand::rng().random_range(0..bound.max(1))
}

/// HMAC-SHA-256 of `message` under a server key: the digest of a secret too
/// short to store as a bare hash (a copy of the database could enumerate
/// every value), useless without the key.
pub fn keyed_digest(key: &[u8], message: &str) -> [u8; 32] {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Compares a presented secret with its stored [`keyed_digest`] in constant time.
pub fn matches_keyed_digest(key: &[u8], message: &str, stored_digest: &[u8]) -> bool {
    keyed_digest(key, message).ct_eq(stored_digest).into()
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
    fn keyed_digests_need_the_key() {
        let digest = keyed_digest(&[1; 32], "12345678");
        assert!(matches_keyed_digest(&[1; 32], "12345678", &digest));
        assert!(!matches_keyed_digest(&[2; 32], "12345678", &digest));
        assert!(!matches_keyed_digest(&[1; 32], "12345679", &digest));
        assert_ne!(digest, sha256("12345678"));
        assert!((0..1000).all(|_| random_below(10) < 10));
    }

    #[test]
    fn digests_match_only_their_secret() {
        let digest = sha256("s3cret");
        assert!(matches_digest("s3cret", &digest));
        assert!(!matches_digest("s3creT", &digest));
        assert!(!matches_digest("s3cret", &digest[..31]));
    }
}
