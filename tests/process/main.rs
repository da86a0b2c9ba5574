//! The process-level test binary: every suite here runs the built `enlist`
//! binary as a process (its commands, `serve`, signals, restarts, several
//! nodes), through the one fixture in `fixture.rs`. The in-process suites
//! are `tests/api/`.
//!
//! On `ENLIST_TEST_BACKEND=postgres` the `cli`, `multi_node` and `postgres`
//! suites run on PostgreSQL; the others are the SQLite file's and say they
//! were skipped.

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

#[path = "../support/oidc_provider.rs"]
mod oidc_provider;
#[path = "../support/postgres.rs"]
mod test_postgres;
#[path = "../support/webhook_receiver.rs"]
mod webhook_receiver;

mod fixture;

mod cli;
mod crash;
mod delivery_restart;
mod lifecycle;
mod multi_node;
mod postgres;
mod readme;
