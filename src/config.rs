//! Settings: built-in defaults, then `config.toml`, then `ENLIST_<SECTION>__<KEY>`
//! environment variables, then command-line flags.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub invitations: InvitationSettings,
    pub idempotency: IdempotencySettings,
    pub limits: LimitsSettings,
    pub auth: AuthSettings,
    pub delivery: DeliverySettings,
    pub events: EventSettings,
    pub webhooks: WebhookSettings,
    pub roles: RoleSettings,
    pub teams: TeamSettings,
    pub organizations: OrganizationSettings,
    pub console: ConsoleSettings,
    pub domains: DomainSettings,
    pub metrics: MetricsSettings,
    pub cors: CorsSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Serve Prometheus text at `/metrics`.
    pub enabled: bool,
    /// When set, `/metrics` is served on this address instead of `server.bind`.
    pub bind: Option<String>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: None,
        }
    }
}

/// Cross-origin requests from browsers. Off (no origin allowed) by default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsSettings {
    /// Exact origins such as `https://app.example.com`.
    pub allowed_origins: Vec<String>,
    /// How long browsers may cache a preflight answer.
    pub max_age: HumanDuration,
}

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            max_age: HumanDuration::secs(3600),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub bind: String,
    /// Defaults to `http://` + the address actually bound.
    pub public_url: Option<String>,
    pub shutdown_grace: HumanDuration,
    pub json_body_limit: HumanSize,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// A client must send a request's head within this time (slow clients are cut off).
    pub request_timeout: HumanDuration,
    /// Idle keep-alive connections are closed after this time.
    pub keep_alive: HumanDuration,
    /// Reverse proxies (addresses or CIDR ranges) whose
    /// `client_address_header` says who the client is. Empty: none.
    pub trusted_proxies: Vec<String>,
    /// The one header a trusted proxy names the client in; the other is
    /// ignored, so a client cannot pick its address by sending the header
    /// the proxy passes through untouched.
    pub client_address_header: ClientAddressHeader,
    /// A request's whole body must arrive within this time of its head (408 otherwise).
    pub body_timeout: HumanDuration,
    /// Open connections per worker; beyond it new ones wait in the listen
    /// backlog. Keep `workers × max_connections` under the open-file limit.
    pub max_connections: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            public_url: None,
            shutdown_grace: HumanDuration::secs(10),
            json_body_limit: HumanSize(1024 * 1024),
            workers: 0,
            request_timeout: HumanDuration::secs(5),
            keep_alive: HumanDuration::secs(5),
            trusted_proxies: Vec::new(),
            client_address_header: ClientAddressHeader::default(),
            body_timeout: HumanDuration::secs(10),
            max_connections: 256,
        }
    }
}

/// `server.client_address_header`: `x-forwarded-for` or `forwarded`
/// (RFC 7239), in any case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAddressHeader {
    #[default]
    XForwardedFor,
    Forwarded,
}

impl ClientAddressHeader {
    /// The header's name, lower-cased.
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

impl fmt::Display for ClientAddressHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ClientAddressHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        // Header names are case-insensitive; operators copy them either way.
        [Self::XForwardedFor, Self::Forwarded]
            .into_iter()
            .find(|header| raw.trim().eq_ignore_ascii_case(header.name()))
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{raw}` is not a client address header; write `x-forwarded-for` or `forwarded`"
                ))
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    pub path: PathBuf,
    /// `postgres://…` (or `postgresql://…`) serves from PostgreSQL instead
    /// of the file at `path`; unset, the embedded SQLite file.
    pub url: Option<String>,
    /// Connections for reads. Writes use one dedicated connection.
    pub pool_size: u32,
    /// How long a request waits for a free connection before a 503.
    pub pool_timeout: HumanDuration,
    /// How long SQLite waits for a lock held by another process (the CLI, a backup).
    pub busy_timeout: HumanDuration,
    /// How long a write waits for a place in the writer's queue and for its
    /// answer before a 503; a write that timed out never runs.
    pub write_timeout: HumanDuration,
}

impl DatabaseSettings {
    /// The PostgreSQL URL when `url` is set (empty counts as unset).
    pub fn postgres_url(&self) -> Option<&str> {
        self.url
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty())
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from("./data/enlist.db"),
            url: None,
            pool_size: 8,
            pool_timeout: HumanDuration::secs(5),
            busy_timeout: HumanDuration::secs(5),
            write_timeout: HumanDuration::secs(5),
        }
    }
}

/// Request limits of the admin API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSettings {
    /// Requests per API key per minute; 0 turns the limit off.
    pub admin_per_minute: u32,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        Self {
            admin_per_minute: 600,
        }
    }
}

/// `Idempotency-Key` on the admin API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencySettings {
    /// How long a stored first answer is replayed.
    pub ttl: HumanDuration,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        Self {
            ttl: HumanDuration::secs(24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InvitationSettings {
    pub lifetime: HumanDuration,
    /// The longest `expiresIn` an admin may give one invitation.
    pub max_lifetime: HumanDuration,
    /// How often pending invitations past their expiry are stored as EXPIRED.
    pub expiry_sweep_interval: HumanDuration,
    /// Where the hosted page sends a person after accepting (with
    /// `?organization=<uuid>`); unset shows a confirmation page.
    pub accept_redirect_url: Option<String>,
    /// Invitation messages (creates and resends) to one address from one
    /// organization per 24 hours; 0 turns the cap off.
    pub messages_per_address_per_day: u32,
    /// Invitation messages from one organization per hour; 0 turns the cap off.
    pub messages_per_org_per_hour: u32,
    /// A pending invitation gets one reminder message this long before it
    /// expires; unset sends none.
    pub reminder_before: Option<HumanDuration>,
}

impl Default for InvitationSettings {
    fn default() -> Self {
        Self {
            lifetime: HumanDuration::secs(7 * 24 * 3600),
            max_lifetime: HumanDuration::secs(30 * 24 * 3600),
            expiry_sweep_interval: HumanDuration::secs(10),
            accept_redirect_url: None,
            messages_per_address_per_day: 3,
            messages_per_org_per_hour: 500,
            reminder_before: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub access_token_lifetime: HumanDuration,
    /// Each refresh token's life; rotation starts it again.
    pub refresh_token_lifetime: HumanDuration,
    /// No rotation outlives the family's start (the sign-in) by more than this.
    pub refresh_token_max_lifetime: HumanDuration,
    /// Threads that hash and check passwords (argon2), apart from all other work.
    pub password_threads: usize,
    /// Within `sign_in_window`: failed sign-ins of one account from one
    /// client before that client is refused for the account; failures of one
    /// account from anywhere before attempts on it are slowed down (never
    /// refused); failures from one client address before it is refused.
    pub sign_in_failures_per_account_and_client: usize,
    pub sign_in_failures_per_account: usize,
    pub sign_in_failures_per_address: usize,
    pub sign_in_window: HumanDuration,
    /// The longest a slowed-down sign-in waits (the wait doubles from 1s).
    pub sign_in_slowdown_max: HumanDuration,
    /// Sign-ups allowed per client address within `sign_up_window`,
    /// counted before any password is hashed.
    pub sign_ups_per_address: usize,
    pub sign_up_window: HumanDuration,
    /// Password hashes or checks one client address may have waiting at once:
    /// its share of the argon2 queue.
    pub password_jobs_per_address: usize,
    /// How long a browser that signed in is remembered (the device cookie).
    pub device_cookie_lifetime: HumanDuration,
    /// How long a browser stays signed in to the hosted pages.
    pub session_lifetime: HumanDuration,
    /// How long an email-verification link works.
    pub email_verification_lifetime: HumanDuration,
    /// How long a password-reset link works.
    pub password_reset_lifetime: HumanDuration,
    /// Accounts whose email was never proven are deleted after this long.
    pub unverified_account_lifetime: HumanDuration,
    /// Verification and reset messages allowed per email, and per client
    /// address, within `account_messages_window`.
    pub account_messages_per_email: usize,
    pub account_messages_per_address: usize,
    pub account_messages_window: HumanDuration,
    /// An Ed25519 private key (PKCS#8 PEM, mode 0600) that signs access
    /// tokens, kept outside the database; unset: generated and stored in it.
    pub signing_key_file: Option<std::path::PathBuf>,
    /// Upstream OpenID providers people may sign in with
    /// (`[[auth.oidc_providers]]`), offered on every sign-in page.
    pub oidc_providers: Vec<OidcProviderSettings>,
    /// Issuers whose bearer JWTs the invitee API accepts
    /// (`[[auth.trusted_issuers]]`).
    pub trusted_issuers: Vec<TrustedIssuerSettings>,
    /// `off`, `optional` or `required`: whether the admin console asks
    /// administrators for a second factor (docs/second-factor.md).
    pub admin_mfa: crate::domain::second_factor::AdminMfa,
}

/// One upstream OpenID provider. Its redirect URI is
/// `{public_url}/auth/oidc/{id}/callback`.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OidcProviderSettings {
    /// `[a-z0-9-]{1,32}`: its URLs live under `/auth/oidc/{id}/`.
    pub id: String,
    /// The label people see ("Sign in with {name}").
    pub name: String,
    /// Discovery is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// A file holding the secret (trailing whitespace ignored), instead of
    /// `client_secret`.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
}

fn default_oidc_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}

// The secret never reaches a log line, not even through `{:?}`.
impl std::fmt::Debug for OidcProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProviderSettings")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("client_secret_file", &self.client_secret_file)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl OidcProviderSettings {
    /// The client secret, from the setting or its file.
    pub fn secret(&self) -> Result<String, ConfigError> {
        match (&self.client_secret, &self.client_secret_file) {
            (Some(secret), None) => Ok(secret.clone()),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|secret| secret.trim_end().to_owned())
                .map_err(|error| {
                    ConfigError::Invalid(format!(
                        "auth.oidc_providers `{}`: client_secret_file {}: {error}",
                        self.id,
                        path.display()
                    ))
                }),
            _ => Err(ConfigError::Invalid(format!(
                "auth.oidc_providers `{}`: set exactly one of client_secret and client_secret_file",
                self.id
            ))),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |why: String| {
            Err(ConfigError::Invalid(format!(
                "auth.oidc_providers `{}`: {why}",
                self.id
            )))
        };
        let id_ok = (1..=32).contains(&self.id.len())
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return invalid("id must be 1 to 32 of a-z, 0-9 and -".into());
        }
        if self.name.trim().is_empty() {
            return invalid("name must not be empty".into());
        }
        if self.client_id.is_empty() {
            return invalid("client_id must not be empty".into());
        }
        if let Err(why) = crate::federation::outbound::check_issuer_url(&self.issuer) {
            return invalid(format!("issuer: {why}"));
        }
        if !self.scopes.iter().any(|scope| scope == "openid") {
            return invalid("scopes must include openid".into());
        }
        self.secret().map(|_| ())
    }
}

/// An issuer whose access tokens (JWTs) the invitee API accepts.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuerSettings {
    pub issuer: String,
    /// The token's `aud` must contain it.
    pub audience: String,
    /// Where its keys are; unset: from the issuer's discovery document.
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            access_token_lifetime: HumanDuration::secs(15 * 60),
            refresh_token_lifetime: HumanDuration::secs(30 * 24 * 3600),
            refresh_token_max_lifetime: HumanDuration::secs(90 * 24 * 3600),
            password_threads: 1,
            sign_in_failures_per_account_and_client: 5,
            sign_in_failures_per_account: 5,
            sign_in_failures_per_address: 100,
            sign_in_window: HumanDuration::secs(15 * 60),
            sign_in_slowdown_max: HumanDuration::secs(10),
            sign_ups_per_address: 10,
            sign_up_window: HumanDuration::secs(3600),
            password_jobs_per_address: 8,
            device_cookie_lifetime: HumanDuration::secs(90 * 24 * 3600),
            session_lifetime: HumanDuration::secs(12 * 3600),
            email_verification_lifetime: HumanDuration::secs(24 * 3600),
            password_reset_lifetime: HumanDuration::secs(3600),
            unverified_account_lifetime: HumanDuration::secs(7 * 24 * 3600),
            account_messages_per_email: 3,
            account_messages_per_address: 20,
            account_messages_window: HumanDuration::secs(3600),
            signing_key_file: None,
            oidc_providers: Vec::new(),
            trusted_issuers: Vec::new(),
            admin_mfa: crate::domain::second_factor::AdminMfa::default(),
        }
    }
}

impl<'de> Deserialize<'de> for crate::domain::second_factor::AdminMfa {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{raw}` is not a second-factor policy; write `off`, `optional` or `required`"
            ))
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    pub transport: TransportKind,
    /// The sender of every message.
    pub from: String,
    /// Attempts per message before the worker gives up on it.
    pub max_attempts: u32,
    /// Wait after the first failed attempt; doubles each time up to `retry_max`.
    pub retry_initial: HumanDuration,
    pub retry_max: HumanDuration,
    /// How often the worker looks for due messages when nothing wakes it.
    pub poll_interval: HumanDuration,
    /// On PostgreSQL, how long a node holds the messages it claimed before
    /// another node may send them (it must outlast sending a whole batch).
    pub claim_lease: HumanDuration,
    pub templates: TemplateFiles,
    pub file: FileTransportSettings,
    pub smtp: SmtpSettings,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            transport: TransportKind::Log,
            from: "enlist <noreply@localhost>".into(),
            max_attempts: 8,
            retry_initial: HumanDuration::secs(5),
            retry_max: HumanDuration::secs(3600),
            poll_interval: HumanDuration::secs(5),
            claim_lease: HumanDuration::secs(10 * 60),
            templates: TemplateFiles::default(),
            file: FileTransportSettings::default(),
            smtp: SmtpSettings::default(),
        }
    }
}

/// The event log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventSettings {
    /// Events older than this are deleted (their webhook deliveries too).
    pub retention: HumanDuration,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            retention: HumanDuration::secs(90 * 24 * 3600),
        }
    }
}

/// Organizations' own roles.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoleSettings {
    /// Custom roles one organization may have (the built-ins not counted).
    pub max_per_organization: u32,
}

impl Default for RoleSettings {
    fn default() -> Self {
        Self {
            max_per_organization: 100,
        }
    }
}

/// Organizations' teams.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeamSettings {
    /// Teams one organization may have.
    pub max_per_organization: u32,
}

impl Default for TeamSettings {
    fn default() -> Self {
        Self {
            max_per_organization: 1000,
        }
    }
}

/// Organizations people make and delete themselves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrganizationSettings {
    /// Signed-in people with a verified address may create organizations
    /// (the console, `POST /organizations`), becoming their first admin.
    pub self_serve: bool,
    /// Self-serve creation stops once the person is ADMIN of this many
    /// organizations.
    pub per_user_limit: u32,
    /// Where deleting an organization writes its export first (one
    /// owner-only JSON file per deletion).
    pub export_dir: PathBuf,
}

impl Default for OrganizationSettings {
    fn default() -> Self {
        Self {
            self_serve: false,
            per_user_limit: 5,
            export_dir: PathBuf::from("./data/exports"),
        }
    }
}

/// Organizations' verified email domains.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DomainSettings {
    /// The DNS server TXT challenges are looked up at (`IP:PORT`, UDP with
    /// TCP on truncation); unset: the system's resolvers.
    pub resolver: Option<std::net::SocketAddr>,
    /// How often a verified domain's TXT record is looked up again; one
    /// whose record is gone goes back to unverified.
    pub recheck: HumanDuration,
    /// How long one DNS attempt may take (two attempts per lookup).
    pub lookup_timeout: HumanDuration,
    /// Domains one organization may register.
    pub max_per_organization: u32,
}

impl Default for DomainSettings {
    fn default() -> Self {
        Self {
            resolver: None,
            recheck: HumanDuration(Duration::from_secs(24 * 3600)),
            lookup_timeout: HumanDuration(Duration::from_secs(5)),
            max_per_organization: 20,
        }
    }
}

/// The admin console beyond one organization.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    /// Emails of the accounts that see the operators' page, which lists,
    /// creates and deletes every organization.
    pub operators: Vec<String>,
}

/// Webhook deliveries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Endpoints may be `http://` on a loopback address (tests, a receiver
    /// on the same machine); loopback is refused otherwise.
    pub allow_http_loopback: bool,
    /// Hosts (names or addresses) exempt from the rule that deliveries never
    /// go to private, loopback or link-local addresses.
    pub allowed_hosts: Vec<String>,
    /// Wait after the first failed attempt; doubles each time up to `retry_max`.
    pub retry_initial: HumanDuration,
    pub retry_max: HumanDuration,
    /// Attempts per delivery before it is given up.
    pub max_attempts: u32,
    /// How long one attempt may take, answer included.
    pub timeout: HumanDuration,
    /// An endpoint whose every attempt failed for this long is disabled.
    pub disable_after: HumanDuration,
    /// How often the worker looks for due deliveries when nothing wakes it
    /// (retries coming due, another node's events).
    pub poll_interval: HumanDuration,
    /// Deliveries in flight at once, to different endpoints.
    pub concurrency: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_http_loopback: false,
            allowed_hosts: Vec::new(),
            retry_initial: HumanDuration::secs(5),
            retry_max: HumanDuration::secs(3600),
            max_attempts: 10,
            timeout: HumanDuration::secs(10),
            disable_after: HumanDuration::secs(3 * 24 * 3600),
            poll_interval: HumanDuration::secs(1),
            concurrency: 16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Log,
    File,
    Smtp,
}

/// Files that replace the built-in message templates (minijinja syntax).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemplateFiles {
    pub invitation_subject: Option<PathBuf>,
    pub invitation_text: Option<PathBuf>,
    pub invitation_html: Option<PathBuf>,
    pub reminder_subject: Option<PathBuf>,
    pub reminder_text: Option<PathBuf>,
    pub reminder_html: Option<PathBuf>,
    pub verification_subject: Option<PathBuf>,
    pub verification_text: Option<PathBuf>,
    pub verification_html: Option<PathBuf>,
    pub password_reset_subject: Option<PathBuf>,
    pub password_reset_text: Option<PathBuf>,
    pub password_reset_html: Option<PathBuf>,
    pub sign_up_attempt_subject: Option<PathBuf>,
    pub sign_up_attempt_text: Option<PathBuf>,
    pub sign_up_attempt_html: Option<PathBuf>,
    pub sign_in_code_subject: Option<PathBuf>,
    pub sign_in_code_text: Option<PathBuf>,
    pub sign_in_code_html: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileTransportSettings {
    pub dir: PathBuf,
}

impl Default for FileTransportSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./data/outbox"),
        }
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    pub host: String,
    /// Default: 465 for implicit TLS, 587 for STARTTLS, 25 without TLS.
    pub port: Option<u16>,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// Better set through ENLIST_DELIVERY__SMTP__PASSWORD than in the file.
    pub password: Option<String>,
    pub timeout: HumanDuration,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: None,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            timeout: HumanDuration::secs(10),
        }
    }
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    Starttls,
    Implicit,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A tracing filter: `info`, `debug`, `enlist=debug,actix_web=info`, ...
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A duration written for people: `4s`, `15m`, `7d`, `1h 30m`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub const fn secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }
}

impl fmt::Debug for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        humantime::parse_duration(raw.trim())
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{raw}` is not a duration ({e}); write it like `4s`, `15m` or `7d`"
                ))
            })
    }
}

/// A byte size written for people: `64KiB`, `1MiB`, `1000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanSize(pub u64);

impl<'de> Deserialize<'de> for HumanSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(HumanSize(n)),
            Raw::Text(text) => text
                .trim()
                .parse::<bytesize::ByteSize>()
                .map(|size| HumanSize(size.as_u64()))
                .map_err(|e| {
                    serde::de::Error::custom(format!(
                        "`{text}` is not a size ({e}); write it like `64KiB` or `1MiB`"
                    ))
                }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        ConfigError::Invalid(
            error
                .into_iter()
                .map(|e| described(&e))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// One setting's error in the words of the file or the environment it came
/// from: the key as the settings docs write it (`server.workers`, with the
/// variable's name when it came from the environment), never figment's
/// profile prefix (`default.`), and kinds of value instead of Rust's type
/// names (`usize`).
fn described(error: &figment::Error) -> String {
    use figment::error::Kind;
    let from_env = error
        .metadata
        .as_ref()
        .is_some_and(|md| md.name.contains("environment"));
    let key = error.path.join(".").to_lowercase();
    let place = match &error.metadata {
        Some(_) if from_env => format!(
            " (environment variable ENLIST_{})",
            error.path.join("__").to_uppercase()
        ),
        Some(md) => match &md.source {
            Some(source) => format!(" in {source}"),
            None => format!(" in {}", md.name),
        },
        None => String::new(),
    };
    let what = match &error.kind {
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            format!(
                "expected {}, found {}",
                plain(expected),
                plain(&actual.to_string())
            )
        }
        Kind::UnknownField(field, known) => {
            format!(
                "no setting is called `{field}` here (there are: {})",
                known.join(", ")
            )
        }
        Kind::UnknownVariant(given, known) => {
            format!("`{given}` is not one of: {}", known.join(", "))
        }
        other => plain(&other.to_string()),
    };
    if key.is_empty() {
        format!("{what}{place}")
    } else {
        format!("{key}{place}: {what}")
    }
}

/// Serde's and Rust's words for kinds of values, as people say them.
fn plain(text: &str) -> String {
    const WORDS: [(&str, &str); 12] = [
        ("usize", "a whole number"),
        ("u8", "a whole number"),
        ("u16", "a whole number"),
        ("u32", "a whole number"),
        ("u64", "a whole number"),
        ("isize", "a whole number"),
        ("i8", "a whole number"),
        ("i16", "a whole number"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
        ("f32", "a number"),
        ("f64", "a number"),
    ];
    text.split(' ')
        .map(|word| {
            WORDS
                .iter()
                .find(|(rust, _)| *rust == word)
                .map_or(word, |(_, said)| *said)
        })
        .collect::<Vec<_>>()
        .join(" ")
        // Two words: replaced after the single ones (`unsigned` first).
        .replace("unsigned int", "the number")
        .replace("signed int", "the number")
}

/// Where the settings come from. `file: None` reads `./config.toml` when it exists.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub file: Option<PathBuf>,
    pub database: Option<PathBuf>,
    /// `--database-url`: wins over `database.url` from the file and the environment.
    pub database_url: Option<String>,
}

impl Settings {
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        Self::load_with_env(sources, Env::prefixed("ENLIST_"))
    }

    fn load_with_env(sources: &Sources, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        match &sources.file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.clone())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new("config.toml").exists() => {
                figment = figment.merge(Toml::file_exact("config.toml"))
            }
            None => {}
        }
        // ENLIST_CONFIG and ENLIST_DATABASE are command-line options, not
        // settings: only double-underscore names address a section key.
        let env = env.filter(|key| key.as_str().contains("__")).split("__");
        figment = figment.merge(env);
        let mut settings: Settings = figment.extract()?;
        if let Some(database) = &sources.database {
            settings.database.path = database.clone();
        }
        if let Some(url) = &sources.database_url {
            settings.database.url = Some(url.clone());
        }
        settings.validate()?;
        Ok(settings)
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one check per setting, in the order config.toml lists them"
    )]
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: &str| Err(ConfigError::Invalid(msg.to_owned()));
        if self.database.pool_size == 0 {
            return invalid("database.pool_size must be at least 1");
        }
        if let Err(error) = crate::domain::net::TrustedProxies::parse(&self.server.trusted_proxies)
        {
            return Err(ConfigError::Invalid(format!(
                "server.trusted_proxies: {error}"
            )));
        }
        if self.auth.password_jobs_per_address == 0 || self.auth.sign_ups_per_address == 0 {
            return invalid(
                "auth.password_jobs_per_address and auth.sign_ups_per_address must be at least 1",
            );
        }
        if self.domains.recheck.0.is_zero() || self.domains.lookup_timeout.0.is_zero() {
            return invalid("domains.recheck and domains.lookup_timeout must be longer than zero");
        }
        if self.invitations.lifetime.0.is_zero() {
            return invalid("invitations.lifetime must be longer than zero");
        }
        if self.invitations.max_lifetime.0 < self.invitations.lifetime.0 {
            return invalid("invitations.max_lifetime must be at least invitations.lifetime");
        }
        if self.auth.access_token_lifetime.0.is_zero()
            || self.auth.refresh_token_lifetime.0.is_zero()
            || self.auth.refresh_token_max_lifetime.0.is_zero()
        {
            return invalid("auth token lifetimes must be longer than zero");
        }
        if let Some(url) = &self.invitations.accept_redirect_url
            && url::Url::parse(url).is_err()
        {
            return invalid("invitations.accept_redirect_url must be an absolute URL");
        }
        for origin in &self.cors.allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.ends_with('/')
            {
                return Err(ConfigError::Invalid(format!(
                    "cors.allowed_origins: `{origin}` must be an origin like https://app.example.com"
                )));
            }
        }
        if self.delivery.max_attempts == 0 {
            return invalid("delivery.max_attempts must be at least 1");
        }
        for operator in &self.console.operators {
            if crate::domain::Email::parse(operator).is_err() {
                return Err(ConfigError::Invalid(format!(
                    "console.operators: `{operator}` is not an email address"
                )));
            }
        }
        if self
            .delivery
            .from
            .parse::<lettre::message::Mailbox>()
            .is_err()
        {
            return invalid("delivery.from must be an address like `enlist <noreply@example.com>`");
        }
        if self.server.body_timeout.0.is_zero() {
            return invalid("server.body_timeout must be longer than zero");
        }
        if self.server.max_connections == 0 {
            return invalid("server.max_connections must be at least 1");
        }
        if self.webhooks.max_attempts == 0 {
            return invalid("webhooks.max_attempts must be at least 1");
        }
        if self.webhooks.concurrency == 0 {
            return invalid("webhooks.concurrency must be at least 1");
        }
        for (name, value) in [
            ("webhooks.timeout", self.webhooks.timeout.0),
            ("webhooks.poll_interval", self.webhooks.poll_interval.0),
            ("webhooks.retry_initial", self.webhooks.retry_initial.0),
            ("events.retention", self.events.retention.0),
        ] {
            if value.is_zero() {
                return invalid(&format!("{name} must be longer than zero"));
            }
        }
        let webhooks = &self.webhooks;
        for (name, value, most) in [
            ("webhooks.timeout", webhooks.timeout.0, 3600),
            ("webhooks.retry_initial", webhooks.retry_initial.0, 86_400),
            ("webhooks.retry_max", webhooks.retry_max.0, 7 * 86_400),
        ] {
            if value > Duration::from_secs(most) {
                return invalid(&format!(
                    "{name} must be at most {}",
                    humantime::format_duration(Duration::from_secs(most))
                ));
            }
        }
        if webhooks.max_attempts > 100 {
            return invalid("webhooks.max_attempts must be at most 100");
        }
        if webhooks.retry_initial.0 > webhooks.retry_max.0 {
            return invalid("webhooks.retry_initial must not be longer than webhooks.retry_max");
        }
        let window = crate::domain::webhook::RetrySchedule {
            initial: webhooks.retry_initial.0,
            max: webhooks.retry_max.0,
            max_attempts: webhooks.max_attempts,
        }
        .longest_window();
        if self.events.retention.0 <= window {
            return invalid(&format!(
                "events.retention must be longer than the webhook retries take at most ({}): \
                 pruning an event drops its pending deliveries",
                humantime::format_duration(Duration::from_secs(window.as_secs()))
            ));
        }
        if self
            .invitations
            .reminder_before
            .is_some_and(|d| d.0.is_zero())
        {
            return invalid("invitations.reminder_before must be longer than zero (or unset)");
        }
        if self.invitations.expiry_sweep_interval.0.is_zero() {
            return invalid("invitations.expiry_sweep_interval must be longer than zero");
        }
        if let Some(url) = &self.server.public_url
            && (!(url.starts_with("http://") || url.starts_with("https://"))
                || url::Url::parse(url).is_err())
        {
            return invalid("server.public_url must be an absolute http:// or https:// URL");
        }
        self.validate_identity_providers()
    }

    fn validate_identity_providers(&self) -> Result<(), ConfigError> {
        let mut ids = std::collections::HashSet::new();
        for provider in &self.auth.oidc_providers {
            provider.validate()?;
            if !ids.insert(provider.id.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "auth.oidc_providers: the id `{}` is used twice",
                    provider.id
                )));
            }
        }
        let mut issuers = std::collections::HashSet::new();
        for trusted in &self.auth.trusted_issuers {
            let name = &trusted.issuer;
            if let Err(why) = crate::federation::outbound::check_issuer_url(name) {
                return Err(ConfigError::Invalid(format!(
                    "auth.trusted_issuers `{name}`: issuer: {why}"
                )));
            }
            if let Some(uri) = &trusted.jwks_uri
                && let Err(why) = crate::federation::outbound::check_issuer_url(uri)
            {
                return Err(ConfigError::Invalid(format!(
                    "auth.trusted_issuers `{name}`: jwks_uri: {why}"
                )));
            }
            if trusted.audience.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "auth.trusted_issuers `{name}`: audience must not be empty"
                )));
            }
            if !issuers.insert(name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "auth.trusted_issuers: `{name}` is listed twice"
                )));
            }
        }
        Ok(())
    }

    /// Refuses to serve on an address other than loopback without
    /// `server.public_url`: the default (`http://` + the bound address) would
    /// put an internal or wildcard address into invitation links and the
    /// OAuth2 issuer, and cookies would never be Secure.
    pub fn check_serving(&self) -> Result<(), ConfigError> {
        if self.server.public_url.is_some() || is_loopback(&self.server.bind) {
            return Ok(());
        }
        Err(ConfigError::Invalid(format!(
            "server.bind `{}` is not a loopback address, so server.public_url must be set: \
             invitation links, the OAuth2 issuer and Secure cookies are built from it \
             (set it in config.toml, e.g. public_url = \"https://enlist.example.com\", \
             or in ENLIST_SERVER__PUBLIC_URL)",
            self.server.bind
        )))
    }

    /// The external base URL, without a trailing slash.
    pub fn public_url(&self, bound: Option<std::net::SocketAddr>) -> String {
        match (&self.server.public_url, bound) {
            (Some(url), _) => url.trim_end_matches('/').to_owned(),
            (None, Some(addr)) => format!("http://{addr}"),
            (None, None) => format!("http://{}", self.server.bind),
        }
    }
}

/// Whether a listen address is on loopback only: 127.0.0.0/8, ::1 or `localhost`.
fn is_loopback(bind: &str) -> bool {
    if let Ok(addr) = bind.parse::<std::net::SocketAddr>() {
        return addr.ip().is_loopback();
    }
    let host = bind.rsplit_once(':').map_or(bind, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature
mod tests {
    use super::*;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, toml).unwrap();
        let sources = Sources {
            file: Some(path),
            database: None,
            database_url: None,
        };
        let vars: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // Jail restores the environment when it returns, so read it inside.
        let mut result = None;
        figment::Jail::expect_with(|jail| {
            for (k, v) in &vars {
                jail.set_env(k, v);
            }
            result = Some(Settings::load_with_env(&sources, Env::prefixed("ENLIST_")));
            Ok(())
        });
        result.unwrap()
    }

    #[test]
    fn defaults_apply_without_a_file() {
        let settings = load("", &[]).unwrap();
        assert_eq!(settings.server.bind, "127.0.0.1:8080");
        assert_eq!(settings.database.path, PathBuf::from("./data/enlist.db"));
        assert_eq!(
            settings.invitations.lifetime.0,
            Duration::from_secs(604_800)
        );
        assert_eq!(
            settings.auth.access_token_lifetime.0,
            Duration::from_secs(900)
        );
        assert_eq!(settings.server.json_body_limit.0, 1_048_576);
        assert_eq!(settings.public_url(None), "http://127.0.0.1:8080");
        assert_eq!(settings.server.body_timeout.0, Duration::from_secs(10));
        assert_eq!(settings.server.max_connections, 256);
        assert_eq!(settings.invitations.messages_per_address_per_day, 3);
        assert_eq!(settings.invitations.messages_per_org_per_hour, 500);
        assert!(settings.check_serving().is_ok());
    }

    #[test]
    fn file_then_environment() {
        let settings = load(
            "[invitations]\nlifetime = \"2d\"\n[server]\njson_body_limit = \"64KiB\"\n",
            &[
                ("ENLIST_INVITATIONS__LIFETIME", "4s"),
                ("ENLIST_DATABASE", "ignored.db"),
            ],
        )
        .unwrap();
        assert_eq!(settings.invitations.lifetime.0, Duration::from_secs(4));
        assert_eq!(settings.server.json_body_limit.0, 65_536);
    }

    #[test]
    fn errors_speak_the_file_and_the_environment_not_rust() {
        let err = load("[server]\nworkers = -1\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.workers"), "{err}");
        assert!(err.contains("a whole number"), "{err}");
        assert!(!err.contains("default."), "{err}");
        assert!(!err.contains("usize"), "{err}");
        let err = load("", &[("ENLIST_SERVER__WORKERS", "abc")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("ENLIST_SERVER__WORKERS"), "{err}");
        assert!(err.contains("expected a whole number"), "{err}");
        assert!(!err.contains("usize"), "{err}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = load("[server]\nbnid = \"x\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("bnid"), "{err}");
        let err = load("", &[("ENLIST_SERVER__NOPE", "1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn the_admin_second_factor_policy_is_one_of_three_and_a_bad_one_is_named() {
        use crate::domain::second_factor::AdminMfa;
        assert_eq!(load("", &[]).unwrap().auth.admin_mfa, AdminMfa::Optional);
        let required = load("[auth]\nadmin_mfa = \"required\"\n", &[]).unwrap();
        assert_eq!(required.auth.admin_mfa, AdminMfa::Required);
        let off = load("", &[("ENLIST_AUTH__ADMIN_MFA", "off")]).unwrap();
        assert_eq!(off.auth.admin_mfa, AdminMfa::Off);
        let err = load("[auth]\nadmin_mfa = \"always\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("auth.admin_mfa") && err.contains("always") && err.contains("`required`"),
            "{err}"
        );
    }

    #[test]
    fn the_client_address_header_is_one_of_two_and_a_bad_one_is_named() {
        assert_eq!(
            load("", &[]).unwrap().server.client_address_header,
            ClientAddressHeader::XForwardedFor
        );
        let chosen = load("[server]\nclient_address_header = \"Forwarded\"\n", &[]).unwrap();
        assert_eq!(
            chosen.server.client_address_header,
            ClientAddressHeader::Forwarded
        );
        let from_env = load(
            "[server]\nclient_address_header = \"forwarded\"\n",
            &[("ENLIST_SERVER__CLIENT_ADDRESS_HEADER", "x-forwarded-for")],
        )
        .unwrap();
        assert_eq!(
            from_env.server.client_address_header,
            ClientAddressHeader::XForwardedFor
        );
        for (toml, env) in [
            ("[server]\nclient_address_header = \"x-real-ip\"\n", vec![]),
            (
                "",
                vec![("ENLIST_SERVER__CLIENT_ADDRESS_HEADER", "x-real-ip")],
            ),
        ] {
            // The environment names the key in capitals.
            let err = load(toml, &env).unwrap_err().to_string().to_lowercase();
            assert!(
                err.contains("server.client_address_header")
                    && err.contains("x-real-ip")
                    && err.contains("`forwarded`"),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_durations_are_explained() {
        let err = load("[invitations]\nlifetime = \"soon\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("soon") && err.contains("7d"), "{err}");
    }

    #[test]
    fn serving_beyond_loopback_needs_a_public_url() {
        for bind in [
            "127.0.0.1:8080",
            "127.1.2.3:80",
            "[::1]:8080",
            "localhost:8080",
            "LOCALHOST:1",
        ] {
            let mut settings = Settings::default();
            settings.server.bind = bind.into();
            assert!(settings.check_serving().is_ok(), "{bind}");
        }
        for bind in [
            "0.0.0.0:8080",
            "[::]:8080",
            "192.168.1.5:80",
            "enlist.internal:8080",
        ] {
            let mut settings = Settings::default();
            settings.server.bind = bind.into();
            let err = settings.check_serving().unwrap_err().to_string();
            assert!(
                err.contains(bind) && err.contains("server.public_url") && err.contains("issuer"),
                "{err}"
            );
            settings.server.public_url = Some("https://enlist.example.com".into());
            assert!(settings.check_serving().is_ok(), "{bind}");
        }
    }

    #[test]
    fn the_shipped_config_file_parses_to_the_defaults() {
        let shipped = load(include_str!("../config.toml"), &[]).unwrap();
        // Every setting at once: Debug shows each field (the SMTP password
        // only as set or unset).
        assert_eq!(
            format!("{shipped:#?}"),
            format!("{:#?}", Settings::default())
        );
    }

    #[test]
    fn identity_providers_are_checked_and_a_secret_file_is_read_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("corp-secret");
        std::fs::write(&secret, "s3cret-from-file\n").unwrap();
        let provider = |issuer: &str, secret_line: &str| {
            format!(
                "[[auth.oidc_providers]]\nid = \"corp\"\nname = \"Corp SSO\"\n\
                 issuer = \"{issuer}\"\nclient_id = \"enlist\"\n{secret_line}\n"
            )
        };
        let file_line = format!("client_secret_file = \"{}\"", secret.display());
        let settings = load(&provider("https://idp.corp.test", &file_line), &[]).unwrap();
        let corp = &settings.auth.oidc_providers[0];
        assert_eq!(corp.secret().unwrap(), "s3cret-from-file");
        assert_eq!(corp.scopes, ["openid", "email", "profile"]);
        let shown = format!("{corp:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let inline = load(
            &provider("https://idp.corp.test", "client_secret = \"inline-s3cret\""),
            &[],
        )
        .unwrap();
        assert!(!format!("{:?}", inline.auth.oidc_providers[0]).contains("inline-s3cret"));

        for (issuer, secret_line, says) in [
            ("http://idp.corp.test", file_line.as_str(), "issuer"),
            ("https://idp.corp.test", "", "exactly one of client_secret"),
            (
                "https://idp.corp.test",
                "client_secret_file = \"/nonexistent/x\"",
                "client_secret_file",
            ),
        ] {
            let error = load(&provider(issuer, secret_line), &[])
                .unwrap_err()
                .to_string();
            assert!(error.contains(says), "{issuer} {secret_line}: {error}");
        }
        let loopback = load(&provider("http://127.0.0.1:9400", &file_line), &[]);
        assert!(loopback.is_ok(), "http on loopback is for local providers");
        let trusted =
            "[[auth.trusted_issuers]]\nissuer = \"http://idp.corp.test\"\naudience = \"a\"\n";
        assert!(
            load(trusted, &[])
                .unwrap_err()
                .to_string()
                .contains("trusted_issuers")
        );
    }
}
