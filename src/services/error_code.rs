//! The stable, machine-readable names of the problems the JSON surfaces
//! answer with (`code` in RFC 9457 problem details, and in a bulk item's
//! `error`). One enum, so the list in docs/api.md is checked against it
//! (tests/api/docs_codes.rs) and a new code cannot slip in unlisted.

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order docs/api.md lists them.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }
        }
    };
}

error_codes! {
    /// A parameter, the path or the body breaks a rule (`field` names it).
    ValidationFailed => "validation_failed",
    /// The body is not JSON.
    MalformedJson => "malformed_json",
    /// The body is not sent as `application/json`.
    UnsupportedMediaType => "unsupported_media_type",
    /// The body is larger than `server.json_body_limit`.
    PayloadTooLarge => "payload_too_large",
    /// The body did not arrive in time.
    RequestTimeout => "request_timeout",
    /// No such resource (or not in the caller's organization).
    NotFound => "not_found",
    /// The resource does not take this method (`Allow` lists those it takes).
    MethodNotAllowed => "method_not_allowed",
    /// A method the server does not implement at all.
    MethodNotImplemented => "method_not_implemented",
    /// No API key was sent.
    MissingApiKey => "missing_api_key",
    /// The API key is unknown, revoked or expired.
    InvalidApiKey => "invalid_api_key",
    /// No bearer token was sent.
    MissingToken => "missing_token",
    /// The bearer token is not valid (signature, expiry, audience, revoked).
    InvalidToken => "invalid_token",
    /// The credentials prove nothing.
    Unauthorized => "unauthorized",
    /// The API key lacks the scope the operation needs.
    MissingScope => "missing_scope",
    /// The console: the signed-in member's role lacks the management
    /// permission the page or action needs (or would hand out one it lacks).
    MissingPermission => "missing_permission",
    /// The account's email address is not verified yet.
    EmailUnverified => "email_unverified",
    /// A join link admits only some email domains, not this one.
    EmailDomainNotAllowed => "email_domain_not_allowed",
    /// The API key (or, for unknown keys, the client address) made too many requests this minute.
    RateLimited => "rate_limited",
    /// The same request came too soon after the last one (`Retry-After`).
    TooManyRequests => "too_many_requests",
    /// A request with this `Idempotency-Key` is still running.
    IdempotencyKeyInUse => "idempotency_key_in_use",
    /// This `Idempotency-Key` was used for another request.
    IdempotencyKeyReused => "idempotency_key_reused",
    /// The person is a member already.
    AlreadyMember => "already_member",
    /// A pending invitation for this address exists.
    InvitationPending => "invitation_pending",
    /// The invitation was answered, revoked or expired.
    InvitationNotPending => "invitation_not_pending",
    /// The invitation can no longer be sent again.
    InvitationNotResendable => "invitation_not_resendable",
    /// The invitation can no longer be revoked.
    InvitationNotRevocable => "invitation_not_revocable",
    /// The invitation has expired.
    InvitationExpired => "invitation_expired",
    /// A bulk item repeats an address earlier in the same request.
    DuplicateItem => "duplicate_item",
    /// The join link was revoked, used up or expired.
    JoinLinkClosed => "join_link_closed",
    /// The organization would keep no member who can manage members (ADMIN,
    /// or a role with `members:manage`).
    LastAdmin => "last_admin",
    /// The role is held by members, pending invitations or join links.
    RoleInUse => "role_in_use",
    /// The organization has a role with this key already.
    RoleExists => "role_exists",
    /// ADMIN and MEMBER cannot be changed or deleted.
    BuiltInRole => "built_in_role",
    /// An account's only way to sign in (no password, one identity) cannot
    /// be unlinked.
    LastSignInMethod => "last_sign_in_method",
    /// The identity was unlinked from its account: it signs in again only
    /// once its holder connects it from the account page.
    IdentityUnlinked => "identity_unlinked",
    /// The identity is linked to another account.
    IdentityTaken => "identity_taken",
    /// The email address has an account already.
    EmailTaken => "email_taken",
    /// The account's address was never proven.
    UnverifiedAccount => "unverified_account",
    /// A verification or reset link was used already, or expired.
    LinkUsedOrExpired => "link_used_or_expired",
    /// The webhook endpoint is turned off.
    WebhookDisabled => "webhook_disabled",
    /// The organization has as many webhook endpoints as it may.
    WebhookLimit => "webhook_limit",
    /// The organization has as many custom roles as it may.
    RoleLimit => "role_limit",
    /// The organization has a team with this name already (names differing
    /// only in case are one name).
    TeamNameTaken => "team_name_taken",
    /// The organization has as many teams as it may.
    TeamLimit => "team_limit",
    /// Self-serve creation is off (`organizations.self_serve`).
    SelfServeDisabled => "self_serve_disabled",
    /// The person is ADMIN of `organizations.per_user_limit` organizations.
    OrganizationLimit => "organization_limit",
    /// The organization has registered this domain already.
    DomainExists => "domain_exists",
    /// The organization has as many domains as it may.
    DomainLimit => "domain_limit",
    /// Another organization has verified this domain.
    DomainTaken => "domain_taken",
    /// The domain's TXT challenge record was not found.
    VerificationFailed => "verification_failed",
    /// `after` is not a cursor this list answered for these filters.
    InvalidCursor => "invalid_cursor",
    /// The database is not empty (`enlist demo` needs an empty one).
    NotEmpty => "not_empty",
    /// The server is busy or a dependency is down; retry after `Retry-After`.
    Unavailable => "unavailable",
    /// Failed on our side; the detail says no more.
    InternalError => "internal_error",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
