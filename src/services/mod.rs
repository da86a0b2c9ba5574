//! Use cases. Each function runs inside one storage call (a read connection
//! or a write transaction) and speaks in domain types and [`ServiceError`];
//! none of it knows about HTTP.

pub mod accounts;
pub mod api_keys;
pub mod console;
pub mod domains;
pub mod error_code;
pub mod events;
pub mod idempotency;
pub mod identities;
pub mod invitations;
pub mod invite_page;
pub mod invitee;
pub mod join_links;
pub mod labels;
pub mod list_cursor;
pub mod members;
pub mod oauth;
pub mod oidc;
pub mod operations;
pub mod org_export;
pub mod orgs;
pub mod outbox;
pub mod roles;
pub mod second_factor;
pub mod sessions;
pub mod signing_keys;
pub mod teams;
pub mod users;
pub mod webhooks;

/// The storage connection service calls run on, as callers pass it through.
pub use crate::db::Conn;
/// The storage layer's error, as services hand it on (inside [`ServiceError::Storage`]).
pub use crate::db::StorageError;
pub use error_code::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input breaks a rule; `field` names the offending input.
    #[error("{detail}")]
    Invalid { field: &'static str, detail: String },
    /// `after` is not a cursor this server gave for this list, organization
    /// and filters (tampered with, or taken from elsewhere).
    #[error("after must be a nextCursor this list answered, with the same filters")]
    InvalidCursor,
    /// The thing does not exist, or not for this caller.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request contradicts the current state.
    #[error("{detail}")]
    Conflict { code: ErrorCode, detail: String },
    /// The thing existed but can no longer be used.
    #[error("{detail}")]
    Gone { code: ErrorCode, detail: String },
    /// The same request came too soon after the previous one.
    #[error("{detail}")]
    TooSoon {
        detail: String,
        retry_after_secs: u64,
    },
    /// The caller is known but may not do this.
    #[error("{detail}")]
    Forbidden { code: ErrorCode, detail: String },
    /// The credentials presented prove nothing (wrong password, unknown account).
    #[error("{0}")]
    Unauthorized(String),
    /// Something the request needs is overloaded right now; retry shortly.
    #[error("{detail}")]
    Unavailable {
        detail: String,
        retry_after_secs: u64,
    },
    /// Failed on our side for a reason the caller cannot act on.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Storage(StorageError),
    #[error(transparent)]
    Delivery(#[from] crate::delivery::DeliveryError),
}

impl From<StorageError> for ServiceError {
    fn from(error: StorageError) -> Self {
        match error {
            // Input PostgreSQL cannot hold is the caller's to fix.
            StorageError::NulCharacter => {
                ServiceError::invalid("input", "text may not contain NUL characters (U+0000)")
            }
            error => ServiceError::Storage(error),
        }
    }
}

impl From<crate::domain::scope::GrantRefused> for ServiceError {
    fn from(refused: crate::domain::scope::GrantRefused) -> Self {
        ServiceError::Forbidden {
            code: ErrorCode::MissingScope,
            detail: refused.to_string(),
        }
    }
}

impl From<crate::domain::name::ControlCharacter> for ServiceError {
    fn from(error: crate::domain::name::ControlCharacter) -> Self {
        ServiceError::invalid(error.field, error.to_string())
    }
}

impl ServiceError {
    pub fn invalid(field: &'static str, detail: impl Into<String>) -> Self {
        ServiceError::Invalid {
            field,
            detail: detail.into(),
        }
    }

    pub fn conflict(code: ErrorCode, detail: impl Into<String>) -> Self {
        ServiceError::Conflict {
            code,
            detail: detail.into(),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
