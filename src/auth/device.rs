//! Device cookies (OWASP's "device cookie" against lockout): a browser that
//! signed in to an account gets a cookie naming the account, signed with a
//! server key, so later attempts from it are told apart from an attacker's.

use crate::auth::secrets;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub struct DeviceCookies {
    key: Vec<u8>,
}

impl DeviceCookies {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, device: &str, account: &str) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).ok()?;
        mac.update(device.as_bytes());
        mac.update(b"\n");
        mac.update(account.as_bytes());
        Some(mac)
    }

    /// A new cookie value for a browser that just signed in to `account`
    /// (the account's email key): `<device id>.<signature>`.
    pub fn mint(&self, account: &str) -> String {
        let device = secrets::random_base62(22);
        let signature = self
            .mac(&device, account)
            .map(|mac| URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
            .unwrap_or_default();
        format!("{device}.{signature}")
    }

    /// The device id, when `cookie` was minted by this server for `account`.
    pub fn device(&self, cookie: &str, account: &str) -> Option<String> {
        let (device, signature) = cookie.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.mac(device, account)?.verify_slice(&signature).ok()?;
        Some(device.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_names_its_account_and_cannot_be_forged() {
        let cookies = DeviceCookies::new(&[7; 32]);
        let cookie = cookies.mint("ada@x.test");
        let device = cookies.device(&cookie, "ada@x.test").unwrap();
        assert!(cookie.starts_with(&device));
        assert_eq!(cookies.device(&cookie, "bob@x.test"), None);
        assert_eq!(
            DeviceCookies::new(&[8; 32]).device(&cookie, "ada@x.test"),
            None
        );
        let (_, signature) = cookie.split_once('.').unwrap();
        assert_eq!(
            cookies.device(&format!("other.{signature}"), "ada@x.test"),
            None
        );
        assert_eq!(cookies.device("garbage", "ada@x.test"), None);
    }
}
