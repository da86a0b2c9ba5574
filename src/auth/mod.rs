//! Who is calling: API keys for the admin API.

pub mod api_key;
pub mod password;
pub mod secrets;
