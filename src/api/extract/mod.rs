//! Who is calling, read from the HTTP request: the admin API's key and the
//! invitee API's bearer token. They speak HTTP, so they live with the HTTP
//! layer; the primitives they use (secrets, tokens) are in `auth`.

pub mod api_key;
pub mod bearer;
