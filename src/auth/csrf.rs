//! CSRF tokens for the hosted pages' forms: OWASP's signed double-submit
//! cookie. A token is a random nonce followed by an HMAC-SHA256 tag over the
//! nonce and the visitor's session (the SHA-256 of its cookie, when there is
//! one) under a key only the server knows. The same token goes into the
//! cookie and the form; a post is genuine when both agree and the tag is the
//! server's for the session the post arrives with. Someone able to plant a
//! cookie cannot make up a token the server accepts, nor reuse one minted
//! for another session.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::secrets;

/// Base62 characters of nonce: about 95 bits.
const NONCE_LEN: usize = 16;
/// Bytes of the tag kept (96 bits, as HMAC-SHA256-96), 16 characters of base64url.
const TAG_BYTES: usize = 12;
/// Every token's length: 32 characters, cookie- and form-safe.
pub const TOKEN_LEN: usize = NONCE_LEN + 16;

/// What a token is bound to: the visitor's session cookie, if any.
pub struct Binding(Option<[u8; 32]>);

impl Binding {
    /// `session`: the session cookie's value, when the visitor has one.
    pub fn new(session: Option<&str>) -> Self {
        Self(session.map(secrets::sha256))
    }
}

fn tag(key: &[u8], nonce: &str, binding: &Binding) -> String {
    // Hmac accepts keys of any length; new_from_slice cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(b"enlist-csrf-v1\0");
    mac.update(nonce.as_bytes());
    match &binding.0 {
        Some(session) => {
            mac.update(b"\0session\0");
            mac.update(session);
        }
        None => mac.update(b"\0none"),
    }
    let full = mac.finalize().into_bytes();
    URL_SAFE_NO_PAD.encode(full.get(..TAG_BYTES).unwrap_or(&full))
}

/// A new token for this binding.
pub fn mint(key: &[u8], binding: &Binding) -> String {
    let nonce = secrets::random_base62(NONCE_LEN);
    let tag = tag(key, &nonce, binding);
    format!("{nonce}{tag}")
}

/// Whether the server minted `token` for this binding (constant time in the tag).
pub fn verify(key: &[u8], token: &str, binding: &Binding) -> bool {
    if token.len() != TOKEN_LEN || !token.is_ascii() || key.is_empty() {
        return false;
    }
    let (nonce, presented) = token.split_at(NONCE_LEN);
    let expected = tag(key, nonce, binding);
    expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_key_and_session() {
        let key = [7_u8; 32];
        let none = Binding::new(None);
        let alice = Binding::new(Some("alice-session"));
        let token = mint(&key, &alice);
        assert_eq!(token.len(), TOKEN_LEN);
        assert!(verify(&key, &token, &alice));
        assert!(!verify(&key, &token, &Binding::new(Some("bob-session"))));
        assert!(!verify(&key, &token, &none));
        assert!(!verify(&[8_u8; 32], &token, &alice));
        let signed_out = mint(&key, &none);
        assert!(verify(&key, &signed_out, &none));
        assert!(!verify(&key, &signed_out, &alice));
    }

    #[test]
    fn made_up_and_altered_tokens_fail() {
        let key = [7_u8; 32];
        let none = Binding::new(None);
        assert!(!verify(&key, &"A".repeat(TOKEN_LEN), &none));
        assert!(!verify(&key, "", &none));
        let token = mint(&key, &none);
        let mut altered = token.clone().into_bytes();
        altered[0] = if altered[0] == b'a' { b'b' } else { b'a' };
        assert!(!verify(&key, std::str::from_utf8(&altered).unwrap(), &none));
        assert!(!verify(&[], &token, &none));
    }
}
