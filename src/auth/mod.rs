//! Security primitives, the bottom layer: secret generation and digests,
//! password hashing, access-token signing and keys, CSRF tokens, device
//! cookies and rate limiters. Nothing here knows about HTTP, services or
//! storage; `api` and `services` build on it.

pub mod csrf;
pub mod device;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod secrets;
pub mod throttle;
pub mod webhook_signing;
