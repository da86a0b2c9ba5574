//! The one integration-test binary: every test drives the real HTTP stack
//! over a fresh temporary SQLite file, or, with
//! `ENLIST_TEST_BACKEND=postgres`, a fresh PostgreSQL database.

// Helpers are not test functions, so clippy's test allowances miss them;
// tests index, panic and drop cleanup results by design.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::too_many_lines,
    clippy::let_underscore_must_use
)]

#[path = "../support/dns_server.rs"]
mod dns_server;
#[path = "../support/oidc_provider.rs"]
mod oidc_provider;
#[path = "../support/postgres.rs"]
mod test_postgres;
#[path = "../support/webhook_receiver.rs"]
mod webhook_receiver;

mod account_helpers;
mod helpers;
mod oauth_helpers;

mod page_helpers;
mod webhook_helpers;

mod accounts;
mod admin_invitations;
mod admin_organization;
mod admin_users;
mod api_key_lifetime;
mod auth;
mod browser;
mod bulk_invites;
mod console;
mod console_domains;
mod console_join_links;
mod console_organizations;
mod console_roles;
mod console_teams;
mod console_webhooks;
mod csrf;
mod delivery;
mod docs_codes;
mod docs_settings;
mod domains;
mod email_codes;
mod errors;
mod events;
mod federation;
mod hostile;
mod idempotency;
mod inbox_proof;
mod invitations_plus;
mod invite_page;
mod invitee;
mod isolation;
mod join_links;
mod limit_bypass;
mod mail_limits;
mod oauth_authorize;
mod oauth_keys;
mod oauth_library;
mod oauth_token;
mod oidc_provider_fixture;
mod openapi;
mod openid_provider;
mod operability;
mod organizations;
mod passkeys;
mod races;
mod rate_limits;
mod relying_parties;
mod reminders;
mod roles;
mod safe_defaults;
mod search;
mod second_factor;
mod secrets_at_rest;
mod slow_bodies;
mod teams;
mod throttling;
mod wakeups;
mod webhooks;
