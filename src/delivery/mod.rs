//! Delivering invitations: messages are composed from templates and queued
//! in the outbox inside the transaction that creates (or resends) the
//! invitation; the outbox worker (`workers::outbox`) sends them through the
//! configured transport, with retries and exponential backoff, and survives
//! restarts.

pub mod compose;
pub mod transport;

pub use compose::{Composer, InvitationEmail};
pub use transport::Transport;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    #[error("cannot read template {path}: {source}")]
    TemplateFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid address: {0}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Message(String),
    #[error("cannot write the message file: {0}")]
    File(#[source] std::io::Error),
    #[error("smtp: {0}")]
    Smtp(String),
}
