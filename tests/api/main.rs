#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

//! The one integration-test binary: every test drives the real HTTP stack
//! over a fresh temporary SQLite file.

mod helpers;
mod oauth_helpers;

mod admin_invitations;
mod admin_organization;
mod invitee;
mod oauth_authorize;
mod oauth_library;
mod oauth_token;
