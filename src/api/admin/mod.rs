//! The organization admin API, called with API keys.

pub mod events;
pub mod invitations;
pub mod join_links;
pub mod organization;
pub mod users;
pub mod webhooks;
