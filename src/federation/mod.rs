//! Identities that other providers vouch for ("bring your own identity"):
//! bearer JWTs from issuers the operator trusts (`trusted`), signing in at
//! an upstream OpenID provider (`upstream`), and the one way enlist fetches
//! anything from an identity provider (`outbound`). Both end in the same
//! [`ExternalIdentity`].

pub mod outbound;
pub mod trusted;
pub mod upstream;

#[cfg(test)]
mod test_idp;

/// Who an identity provider says the caller is, after its signature and
/// claims were checked. `(issuer, subject)` is the identity; the rest is
/// profile the provider chose to share, and may change between tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The issuer as configured (which the token's `iss` equals exactly).
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    /// True only when the provider said so: a JSON `true`, or the string
    /// `"true"` (see `trusted` for why the string counts).
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    /// The client the token was issued to: `azp`, else `client_id`.
    pub client: Option<String>,
}
