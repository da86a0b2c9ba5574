//! enlist: a self-hosted organization membership and invitation service.
//!
//! Layers, outermost first: `routes` composes the HTTP surfaces, `api`
//! for programs (JSON) and `web` for people (HTML), over `http` (what both
//! share); handlers parse, authorize, call, map. `auth` (who is calling),
//! `federation` (identities other providers vouch for), `services` (use
//! cases), `domain` (types and rules), `db` (every SQL statement).
//! `workers` are the background loops (mail, webhooks, the sweep).
//! `startup` wires them and spawns the workers; `cli` is the command line,
//! `seeding` its demo and benchmark data.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod delivery;
pub mod dns;
pub mod domain;
pub mod federation;
pub mod http;
pub mod private_files;
pub mod routes;
pub mod seeding;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod views;
pub mod web;
pub mod webhooks;
pub mod workers;
