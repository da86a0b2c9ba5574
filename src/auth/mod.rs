//! Who is calling: API keys for the admin API.

pub mod api_key;
pub mod bearer;
pub mod csrf;
pub mod device;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod secrets;
pub mod throttle;
