//! The command line. Every command that creates something prints exactly
//! one JSON object on stdout (the only place a new secret is ever shown);
//! logs and errors go to stderr.

use crate::api::dto::{AccountBody, OrganizationBody};
use crate::auth::password;
use crate::config::{ConfigError, Settings, Sources};
use crate::domain::event::{EventType, Origin};
use crate::domain::{Email, Millis, Scope};
use crate::domain::{OrgId, UserId};
use crate::services::StorageError;
use crate::services::operations::{Database, ServeLock, absolute_path};
use crate::services::{self, ServiceError};
use crate::startup::{Application, StartupError};
use crate::telemetry;
use crate::views::ApiKeyBody;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "enlist",
    version,
    about = "Self-hosted organization membership and invitations"
)]
pub struct Cli {
    /// Configuration file (default: ./config.toml when it exists).
    #[arg(long, global = true, env = "ENLIST_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// SQLite database file (default: database.path, ./data/enlist.db).
    #[arg(long, global = true, env = "ENLIST_DATABASE", value_name = "PATH")]
    pub database: Option<PathBuf>,
    /// PostgreSQL instead of the SQLite file: postgres://user:password@host/db
    /// (also postgresql://; sslmode honoured). Default: database.url, unset.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP APIs (the default when no command is given). Creates
    /// the database when it does not exist; one server per database file.
    Serve(ServeArgs),
    /// Fill an empty database (or, with --reset, a new one) with a demo
    /// organization, print every credential and URL as one JSON object,
    /// then serve.
    Demo(DemoArgs),
    /// Create the database file (and its folder) if it does not exist and
    /// bring its schema up to date. Every other command but `serve` and
    /// `dev seed` refuses to create one.
    Init,
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage organization API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth2 clients of the invitee API.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the keys that sign access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Look into the outbox: the messages sent (or still to send), with their links.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Read an organization's audit log.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Copy the live database to a file (SQLite's online backup; the server keeps serving).
    Backup {
        /// The copy to write.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Check the database file for damage (PRAGMA integrity_check); exits 1 if any is found.
    Check,
    /// Copy this SQLite database into an empty PostgreSQL database (migrated
    /// first), as one snapshot, then compare every table's rows and the
    /// counters; refuses a target that holds data. Stop the server first, or
    /// writes made during the copy stay behind.
    Copy {
        /// The PostgreSQL database: postgres://user:password@host/db
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Invite everyone listed in a CSV file (columns `email,role` and an
    /// optional third, `teams`: team names separated by `;`; a header row is
    /// optional) in one transaction, as the bulk API does; prints one JSON
    /// line per row. Messages are queued for the server to send.
    Invite {
        /// The organization's id.
        #[arg(long)]
        org: i64,
        /// The CSV file.
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// The inviting admin's email (default: the organization's first admin).
        #[arg(long, value_name = "EMAIL")]
        inviter: Option<String>,
    },
    /// Development and benchmarking tools.
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Fill the database with generated organizations, members and
    /// invitations, fast (one transaction, no fsync until it commits).
    /// Prints the organizations, an API key with every scope for the first
    /// (measured) one, and OAuth clients for the invitee side.
    Seed(SeedArgs),
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Organizations to create; each gets an admin.
    #[arg(long, default_value_t = 1)]
    pub orgs: u32,
    /// Invitations of every organization (mixed statuses and roles).
    #[arg(long, default_value_t = 1000)]
    pub invitations: u64,
    /// Invitations of the organizations after the first, when they should
    /// differ from --invitations.
    #[arg(long, value_name = "N")]
    pub other_invitations: Option<u64>,
    /// Members of every organization, besides its admin.
    #[arg(long, default_value_t = 10)]
    pub members: u64,
    /// Share of the invitations that have already expired.
    #[arg(long, value_name = "F", default_value_t = 0.1)]
    pub expired_fraction: f64,
    /// Pending invitations addressed to one account (the acceptor), in an
    /// organization of their own, for accept benchmarks.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub accept_pool: u64,
    /// Write the accept pool's invitation UUIDs here, one per line.
    #[arg(long, value_name = "FILE")]
    pub accept_pool_out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; a confidential client's secret is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// A redirect URI the client may use, matched exactly; repeat for several.
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// A client that cannot keep a secret (a browser or mobile app): no
        /// secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// Bind this confidential client to an account, for the
        /// client-credentials grant: its tokens act for that account.
        #[arg(long, value_name = "EMAIL")]
        user: Option<String>,
        /// Where RP-initiated logout (`/oauth/logout`) may send the browser
        /// back to, matched exactly; repeat for several.
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// An app that is not the operator's own: people are asked to
        /// consent before it gets their data.
        #[arg(long)]
        third_party: bool,
        /// An API (RFC 8707 resource indicator) the client may ask tokens
        /// for, with that API as their audience; repeat for several.
        #[arg(long = "resource", value_name = "URI")]
        resources: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key that signs every access token from now on (a
    /// running server switches at its next token request). The old key
    /// stays in the JWKS until every token it signed has expired.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Messages, newest first, as JSON lines: recipient, subject, link,
    /// status (pending, sent, failed) and attempts.
    List {
        /// Only messages to this address (compared case-insensitively).
        #[arg(long, value_name = "EMAIL")]
        to: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: i64,
    },
    /// The link in the newest message to EMAIL, alone on one line: the one
    /// a person would click. Exits 1 when no message went there.
    Link {
        #[arg(long, value_name = "EMAIL")]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Events, newest first, one JSON line each (as the audit API lists
    /// them). When more remain, the cursor that continues is printed on
    /// stderr as `next: CURSOR` (pass it as --after).
    List {
        /// The organization's id.
        #[arg(long)]
        org: i64,
        /// Only these types (repeat, or separate with commas).
        #[arg(long = "type", value_name = "TYPE")]
        types: Vec<String>,
        /// At most this many (1 to 1000).
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: i64,
        /// Continue after this cursor.
        #[arg(long, value_name = "CURSOR")]
        after: Option<String>,
    },
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Listen address, overriding server.bind.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Delete the database file first (every organization, account and key in it).
    #[arg(long)]
    pub reset: bool,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Every organization, by id, as JSON lines.
    List,
    /// Create an organization and its first admin (names need not be
    /// unique; a name another organization has is allowed, with a warning).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "URL")]
        logo_url: Option<String>,
        /// The first admin; an existing account with this email is reused
        /// when its email is verified (a new one counts as verified: you vouch for it).
        #[arg(long, value_name = "EMAIL")]
        admin_email: String,
        #[arg(long, value_name = "NAME", default_value = "")]
        admin_first_name: String,
        #[arg(long, value_name = "NAME", default_value = "")]
        admin_last_name: String,
        /// Take over an existing account with that email whose address was
        /// never verified: its password, sessions and tokens end.
        #[arg(long)]
        claim_unverified: bool,
    },
    /// Print everything the organization holds as one JSON document (the
    /// same as `GET /v1/organization/export`; no secrets).
    Export {
        #[arg(long, value_name = "ORG_ID")]
        org: i64,
    },
    /// Delete the organization after writing its export to
    /// `organizations.export_dir`; prints what went and the export.
    Delete {
        #[arg(long, value_name = "ORG_ID")]
        org: i64,
        /// The organization's name, exactly: a typo deletes nothing.
        #[arg(long, value_name = "NAME")]
        confirm: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key for an admin of the organization; the key is printed once.
    Create {
        #[arg(long, value_name = "ORG_ID")]
        org: i64,
        /// The admin the key acts for (the inviter of invitations it creates).
        #[arg(long, value_name = "USER_ID")]
        user: i64,
        /// Comma-separated: organization:read, organization:write, invitations:read,
        /// invitations:write, users:read, users:write, events:read,
        /// webhooks:read, webhooks:write, roles:read, roles:write, teams:read,
        /// teams:write, domains:read, domains:write.
        #[arg(long, value_name = "S1,S2,...")]
        scopes: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List an organization's keys (never their secrets).
    List {
        #[arg(long, value_name = "ORG_ID")]
        org: i64,
    },
    /// Revoke a key; it stops working at once.
    Revoke { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, value_name = "NAME", default_value = "")]
        first_name: String,
        #[arg(long, value_name = "NAME", default_value = "")]
        last_name: String,
        /// Read a password from standard input (one line), so it never
        /// appears in the shell history or the process list.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Show an account: its fields and its identities at OpenID providers
    /// (provider, issuer and subject; never a token), as one JSON object.
    Show {
        #[arg(long)]
        email: String,
    },
    /// Set or replace an account's password (read from standard input, one line).
    SetPassword {
        #[arg(long)]
        email: String,
        /// Required: the password is only ever read from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// An account's second factor (its authenticator app and recovery codes).
    #[command(subcommand)]
    Mfa(MfaCommand),
}

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Remove an account's second factor, for a person locked out of it
    /// (they set up a new one from their account page); audited as
    /// `user.mfa_reset` in each of their organizations.
    Reset {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("{0}")]
    Storage(#[from] StorageError),
    #[error("{}", describe(.0))]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the integrity check found damage; restore from a backup")]
    Damaged,
    #[error("{0}")]
    Lock(#[from] crate::services::operations::LockError),
}

fn describe(error: &ServiceError) -> String {
    match error {
        ServiceError::Invalid { field, detail } => format!("invalid {field}: {detail}"),
        other => other.to_string(),
    }
}

pub fn main(cli: Cli) -> ExitCode {
    // Whatever the process creates (SQLite's journal files, a backup's
    // journal) is owner-only; files holding secrets get 0600 explicitly too.
    crate::private_files::restrict_umask();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    let settings = Settings::load(&Sources {
        file: cli.config,
        database: cli.database,
        database_url: cli.database_url,
    })?;
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(settings, args),
        Command::Demo(args) => demo(settings, args),
        Command::Check if settings.database.postgres_url().is_some() => {
            // PostgreSQL checks its own pages; what enlist can check is that
            // the server answers and the schema is one this binary knows.
            let db = Database::open_existing(&settings.database)?;
            let version = db.read_blocking(|conn| {
                services::operations::probe(conn)?;
                services::operations::schema_version(conn)
            })?;
            print_json(
                &serde_json::json!({ "ok": true, "engine": "postgresql", "schema_version": version }),
            )
        }
        Command::Check => {
            if !settings.database.path.is_file() {
                return Err(StorageError::Missing(absolute_path(&settings.database.path)).into());
            }
            let problems = services::operations::integrity_check(&settings.database.path);
            let ok = problems == ["ok"];
            print_json(&serde_json::json!({ "ok": ok, "integrity_check": problems }))?;
            if ok { Ok(()) } else { Err(CliError::Damaged) }
        }
        command => {
            // Commands print JSON; only warnings and errors belong on stderr.
            let mut log = settings.log.clone();
            if std::env::var_os("RUST_LOG").is_none() {
                log.level = "warn".into();
            }
            telemetry::init(&log);
            // Only `init` and `dev seed` may create the file; anything else
            // on a path with no database is a mistyped path, not a wish.
            let db = match command {
                Command::Init | Command::Dev(_) => Database::open(&settings.database)?,
                _ => Database::open_existing(&settings.database)?,
            };
            administer(&db, &settings, command)
        }
    }
}

fn demo(mut settings: Settings, args: DemoArgs) -> Result<(), CliError> {
    if let Some(bind) = &args.serve.bind {
        settings.server.bind = bind.clone();
    }
    let path = settings.database.path.clone();
    if args.reset && settings.database.postgres_url().is_some() {
        return Err(CliError::Usage(
            "--reset deletes the SQLite file; on PostgreSQL drop and create the database \
             yourself (dropdb, createdb), then run demo without --reset"
                .into(),
        ));
    }
    // Refused before anything is created or deleted: a demo that cannot
    // serve must not leave a database (or a deleted one) behind, nor pull
    // a file from under a running server.
    settings.check_serving()?;
    ensure_bindable(&settings)?;
    let lock = lock_database(&settings)?;
    if args.reset {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let public_url = settings.public_url(None);
    let password = crate::auth::secrets::random_base62(16);
    let hash = password::hash(&password).map_err(|e| CliError::Usage(e.to_string()))?;
    let composer = crate::delivery::Composer::new(&settings.delivery.templates, &public_url)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let demo = {
        let db = Database::open(&settings.database)?;
        db.write_blocking(|tx| {
            crate::seeding::demo::build(tx, &hash, &public_url, &composer, Millis::now())
        })?
    };
    let pending = demo
        .invitations
        .iter()
        .find(|i| i.status == crate::domain::InvitationStatus::Pending)
        .map(|i| format!("{public_url}/invite/{}", i.uuid));
    let join_url = format!("{public_url}/join/{}", demo.join_link_token);
    print_json(&serde_json::json!({
        "organization": OrganizationBody::from(demo.organization),
        "admin": {
            "id": demo.admin_id,
            "email": crate::seeding::demo::ADMIN_EMAIL,
            "password": password,
            "console": format!("{public_url}/admin"),
        },
        "members": demo.members,
        "invitations": demo.invitations.into_iter().map(|i| serde_json::json!({
            "id": i.id,
            "uuid": i.uuid,
            "inviteeEmail": i.invitee_email,
            "status": i.status,
            "url": format!("{public_url}/invite/{}", i.uuid),
        })).collect::<Vec<_>>(),
        "joinLink": { "url": join_url },
        "apiKey": { "key": demo.api_key, "scopes": Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>() },
        "oauthClient": { "client_id": demo.client_id, "client_secret": demo.client_secret },
        "urls": {
            "home": format!("{public_url}/"),
            "console": format!("{public_url}/admin"),
            "docs": format!("{public_url}/docs/"),
            "invitation": pending,
            "joinLink": join_url,
            "organization": format!("{public_url}/v1/organization"),
        },
    }))?;
    telemetry::init(&settings.log);
    run_server(settings, lock)
}

fn serve(mut settings: Settings, args: ServeArgs) -> Result<(), CliError> {
    telemetry::init(&settings.log);
    if let Some(bind) = args.bind {
        settings.server.bind = bind;
    }
    ensure_bindable(&settings)?;
    let lock = lock_database(&settings)?;
    run_server(settings, lock)
}

/// Fails, naming `--bind`, when the address cannot be listened on, before
/// anything (folder, lock, database) is created. The server binds again
/// when it starts; this only moves the common failure ahead of the files.
fn ensure_bindable(settings: &Settings) -> Result<(), CliError> {
    std::net::TcpListener::bind(&settings.server.bind)
        .map(drop)
        .map_err(|source| {
            StartupError::Bind {
                addr: settings.server.bind.clone(),
                source,
            }
            .into()
        })
}

/// One server per SQLite file: the lock `serve` holds for as long as it
/// runs (`None` on PostgreSQL, where any number of nodes share the
/// database, and nothing in them relies on being the only one).
fn lock_database(settings: &Settings) -> Result<Option<ServeLock>, CliError> {
    if settings.database.postgres_url().is_some() {
        return Ok(None);
    }
    let database = &settings.database.path;
    if let Some(parent) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| StorageError::Folder {
            path: parent.display().to_string(),
            source,
        })?;
    }
    // The kernel drops it if the process dies.
    let lock = ServeLock::acquire(database)?;
    tracing::debug!(lock = %lock.path().display(), "holding the database lock");
    Ok(Some(lock))
}

/// Serves until stopped, holding `_lock` until it returns.
fn run_server(settings: Settings, _lock: Option<ServeLock>) -> Result<(), CliError> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        app.run_until_stopped().await?;
        Ok(())
    })
}

#[derive(Serialize)]
struct CreatedOrganization {
    organization: OrganizationBody,
    admin: AccountBody,
}

/// OAuth2 field names, as client libraries expect them.
#[derive(Serialize)]
struct CreatedClient {
    client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    name: String,
    redirect_uris: Vec<String>,
    public: bool,
    user_id: Option<i64>,
    post_logout_redirect_uris: Vec<String>,
    first_party: bool,
    resources: Vec<String>,
}

#[expect(
    clippy::too_many_lines,
    reason = "one arm per administrative command, each a few lines calling one service"
)]
fn administer(db: &Database, settings: &Settings, command: Command) -> Result<(), CliError> {
    let now = Millis::now();
    match command {
        Command::Keys(KeysCommand::Rotate) => {
            if let Some(path) = &settings.auth.signing_key_file {
                return Err(CliError::Usage(format!(
                    "the signing key is auth.signing_key_file ({}); to rotate it, put a new key \
                     in that file and restart the server",
                    path.display()
                )));
            }
            let retention =
                services::signing_keys::retention(settings.auth.access_token_lifetime.0);
            let rotated =
                db.write_blocking(|tx| services::signing_keys::rotate(tx, retention, now))?;
            print_json(&rotated)
        }
        Command::Serve(_) | Command::Demo(_) => unreachable_serve(),
        Command::Init => {
            let version = db.read_blocking(|conn| services::operations::schema_version(conn))?;
            let database = services::operations::database_name(&settings.database);
            print_json(&serde_json::json!({ "database": database, "schemaVersion": version }))
        }
        Command::Invite { org, csv, inviter } => invite_csv(db, settings, org, &csv, inviter, now),
        Command::Org(OrgCommand::List) => {
            let orgs = db.read_blocking(|conn| services::orgs::list(conn))?;
            for org in orgs {
                print_json(&OrganizationBody::from(org))?;
            }
            Ok(())
        }
        Command::Org(OrgCommand::Export { org }) => {
            let export = db.read_blocking(|conn| services::org_export::of(conn, org, now))?;
            print_json(&export)
        }
        Command::Org(OrgCommand::Delete { org, confirm }) => {
            let dir = &settings.organizations.export_dir;
            let deleted = db.write_blocking(|tx| {
                services::orgs::delete(tx, &Origin::cli(), org, &confirm, dir, now)
            })?;
            eprintln!(
                "organization {} deleted; its export is {}",
                deleted.organization.id,
                dir.join(&deleted.export_file).display()
            );
            print_json(&crate::api::dto::DeletedOrganizationBody::from(deleted))
        }
        Command::Outbox(OutboxCommand::List { to, limit }) => {
            let to = to.as_deref().map(parse_email).transpose()?;
            let messages =
                db.read_blocking(|conn| services::outbox::newest(conn, to.as_ref(), limit))?;
            for message in messages {
                print_json(&OutboxLine::from(message))?;
            }
            Ok(())
        }
        Command::Events(EventsCommand::List {
            org,
            types,
            limit,
            after,
        }) => {
            let query = services::events::EventQuery {
                types: EventType::parse_lists(&types).map_err(|e| {
                    CliError::Usage(format!("--type: {e}; known types: {}", EventType::known()))
                })?,
                before_id: after
                    .as_deref()
                    .map(|cursor| {
                        services::events::decode_cursor(cursor).ok_or_else(|| {
                            CliError::Usage("--after must be a cursor enlist printed".into())
                        })
                    })
                    .transpose()?,
                ..Default::default()
            };
            if !(1..=services::events::LIMIT_MAX).contains(&limit) {
                return Err(CliError::Usage(format!(
                    "--limit must be between 1 and {}",
                    services::events::LIMIT_MAX
                )));
            }
            let page = db.read_blocking(|conn| {
                services::orgs::get(conn, org)?;
                services::events::list(conn, org, &query, limit)
            })?;
            for event in &page.items {
                println!("{event}");
            }
            if let Some(cursor) = page.next_cursor {
                eprintln!("next: {cursor}");
            }
            Ok(())
        }
        Command::Outbox(OutboxCommand::Link { to }) => {
            let email = parse_email(&to)?;
            let newest =
                db.read_blocking(|conn| services::outbox::newest(conn, Some(&email), 1))?;
            match newest.into_iter().next() {
                Some(message) if !message.link.is_empty() => {
                    println!("{}", message.link);
                    Ok(())
                }
                Some(done) => match sent_link(settings, &done) {
                    Some(link) => {
                        println!("{link}");
                        Ok(())
                    }
                    None => Err(CliError::Usage(match done.sent_at {
                        Some(at) => format!(
                            "the newest message to {email} (id {}) was sent at {}, and its link left the outbox with it: \
                             links are capabilities, so only the recipient's mail keeps them \
                             (with the file transport, its .eml in {})",
                            done.id,
                            at.to_rfc3339(),
                            settings.delivery.file.dir.display()
                        ),
                        None => format!(
                            "the newest message to {email} (id {}) was never delivered ({}), and its link left the outbox: \
                             send the invitation again",
                            done.id,
                            done.last_error.as_deref().unwrap_or("given up")
                        ),
                    })),
                },
                None => Err(CliError::Usage(format!(
                    "no message to {email} in the outbox of {}",
                    services::operations::database_name(&settings.database)
                ))),
            }
        }
        Command::Org(OrgCommand::Create {
            name,
            logo_url,
            admin_email,
            admin_first_name,
            admin_last_name,
            claim_unverified,
        }) => {
            let new = services::orgs::NewOrganization {
                name,
                logo_url,
                admin_email: parse_email(&admin_email)?,
                admin_first_name,
                admin_last_name,
                claim_unverified,
            };
            let (same_name, (org, admin)) = db.write_blocking(|tx| {
                let same_name = services::orgs::others_named(tx, &new.name)?;
                Ok::<_, ServiceError>((same_name, services::orgs::create(tx, &new, now)?))
            })?;
            if !same_name.is_empty() {
                let ids: Vec<String> = same_name.iter().map(i64::to_string).collect();
                eprintln!(
                    "warning: organization {} has the same name as organization {} (names need not be unique)",
                    org.id,
                    ids.join(", ")
                );
            }
            print_json(&CreatedOrganization {
                organization: org.into(),
                admin: admin.into(),
            })
        }
        Command::ApiKey(ApiKeyCommand::Create {
            org,
            user,
            scopes,
            name,
        }) => {
            let scopes = Scope::parse_list(&scopes).map_err(|e| CliError::Usage(e.to_string()))?;
            let issued = db.write_blocking(|tx| {
                services::api_keys::create(
                    tx,
                    &Origin::cli(),
                    OrgId(org),
                    UserId(user),
                    &name,
                    &scopes,
                    now,
                )
            })?;
            print_json(&ApiKeyBody::new(issued.key, Some(issued.plaintext)))
        }
        Command::ApiKey(ApiKeyCommand::List { org }) => {
            let keys = db.read_blocking(|conn| services::api_keys::list(conn, org))?;
            let keys: Vec<_> = keys.into_iter().map(|k| ApiKeyBody::new(k, None)).collect();
            print_json(&serde_json::json!({ "items": keys }))
        }
        Command::ApiKey(ApiKeyCommand::Revoke { id }) => {
            let key =
                db.write_blocking(|tx| services::api_keys::revoke(tx, &Origin::cli(), id, now))?;
            print_json(&ApiKeyBody::new(key, None))
        }
        Command::Client(ClientCommand::Create {
            name,
            redirect_uris,
            public,
            user,
            post_logout_redirect_uris,
            third_party,
            resources,
        }) => {
            let new = services::oauth::NewClient {
                name,
                redirect_uris,
                public,
                user: user.as_deref().map(parse_email).transpose()?,
                third_party,
                post_logout_redirect_uris,
                resources,
            };
            let (client, secret) =
                db.write_blocking(|tx| services::oauth::create_client(tx, &new, now))?;
            print_json(&CreatedClient {
                client_id: client.client_id,
                client_secret: secret,
                name: client.name,
                redirect_uris: client.redirect_uris,
                public: !client.confidential,
                user_id: client.user_id,
                post_logout_redirect_uris: client.post_logout_redirect_uris,
                first_party: client.first_party,
                resources: client.resources,
            })
        }
        Command::User(UserCommand::Show { email }) => {
            let email = parse_email(&email)?;
            let (user, identities) =
                db.read_blocking(|conn| services::identities::show(conn, &email))?;
            let mut body = serde_json::to_value(AccountBody::from(user))
                .map_err(|e| CliError::Usage(e.to_string()))?;
            if let Some(fields) = body.as_object_mut() {
                fields.insert(
                    "identities".into(),
                    serde_json::json!(
                        identities
                            .iter()
                            .map(|identity| serde_json::json!({
                                "id": identity.id,
                                "provider": identity.provider,
                                "issuer": identity.issuer,
                                "subject": identity.subject,
                                "email": identity.email,
                                "createdAt": identity.created_at,
                                "lastUsedAt": identity.last_used_at,
                            }))
                            .collect::<Vec<_>>()
                    ),
                );
            }
            print_json(&body)
        }
        Command::User(UserCommand::Mfa(MfaCommand::Reset { email })) => {
            let email = parse_email(&email)?;
            let reset = db.write_blocking(|tx| {
                services::second_factor::reset(tx, &Origin::cli(), &email, now)
            })?;
            eprintln!(
                "{}",
                if reset.had_second_factor {
                    "removed the account's authenticator app and recovery codes; its sessions stay signed in, and the person can set up a new factor from their account page"
                } else {
                    "the account had no second factor; nothing was removed (the reset is recorded all the same)"
                }
            );
            print_json(&reset)
        }
        Command::User(UserCommand::SetPassword { email, .. }) => {
            let email = parse_email(&email)?;
            let hash = password::hash(&read_password_line()?)
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let (user, revoked) = db.write_blocking(|tx| {
                services::users::set_password(tx, &Origin::cli(), &email, &hash, now)
            })?;
            if revoked > 0 {
                eprintln!(
                    "revoked {revoked} API key(s) this account had minted in the console (keys made with `enlist api-key create` stay)"
                );
            }
            print_json(&AccountBody::from(user))
        }
        Command::Backup { to, force } => {
            if db.dialect() == crate::db::Dialect::Postgres {
                // Refused (pointing at pg_dump) before the target's folder
                // is checked: no folder would make the command work.
                db.backup_to(&to)?;
            }
            if let Some(folder) = to.parent().filter(|p| !p.as_os_str().is_empty())
                && !folder.is_dir()
            {
                return Err(CliError::Usage(format!(
                    "the folder {} does not exist; create it or choose another --to",
                    absolute_path(folder).display()
                )));
            }
            if to.exists() && !force {
                return Err(CliError::Usage(format!(
                    "{} exists; pass --force to replace it",
                    to.display()
                )));
            }
            let bytes = db.backup_to(&to)?;
            print_json(&serde_json::json!({ "backup": to.display().to_string(), "bytes": bytes }))
        }
        Command::Check => unreachable_serve(),
        Command::Copy { to } => {
            let copied = db.copy_to_postgres(&settings.database, &to)?;
            print_json(&serde_json::json!({
                "to": services::operations::masked_url(&to),
                "rows": copied.rows,
                "tables": copied.tables.iter().map(|(t, n)| (t.clone(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
            }))
        }

        Command::Dev(DevCommand::Seed(args)) => seed(db, args, now),
        Command::User(UserCommand::Create {
            email,
            first_name,
            last_name,
            password_stdin,
        }) => {
            let email = parse_email(&email)?;
            let password_hash = if password_stdin {
                let password = read_password_line()?;
                Some(password::hash(&password).map_err(|e| CliError::Usage(e.to_string()))?)
            } else {
                None
            };
            // The operator vouches for the address.
            let new = services::users::NewAccount {
                email,
                first_name,
                last_name,
                password_hash,
                email_verified: true,
            };
            let user = db.write_blocking(|tx| services::users::create(tx, &new, now))?;
            print_json(&AccountBody::from(user))
        }
    }
}

/// The link of a message the outbox has forgotten, read back from the
/// `file` transport's copy, if there is one.
fn sent_link(settings: &Settings, message: &services::outbox::OutboxEntry) -> Option<String> {
    // Whatever this command's settings say, the server may have used the
    // `file` transport: its copy is looked for either way.
    crate::delivery::transport::link_in_copy(
        &settings.delivery.file.dir,
        message.id,
        &settings.public_url(None),
    )
}

/// One line of `enlist outbox list`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutboxLine {
    id: i64,
    to: String,
    subject: String,
    /// Always null: a link carries its message's secret, which only
    /// `enlist outbox link` shows (the operator's own mail).
    link: Option<String>,
    /// `pending` (not yet sent, maybe retrying), `sent` or `failed` (given up).
    status: &'static str,
    attempts: u32,
    created_at: Millis,
    sent_at: Option<Millis>,
    last_error: Option<String>,
}

impl From<services::outbox::OutboxEntry> for OutboxLine {
    fn from(entry: services::outbox::OutboxEntry) -> Self {
        let status = match (entry.sent_at, entry.failed_at) {
            (Some(_), _) => "sent",
            (None, Some(_)) => "failed",
            (None, None) => "pending",
        };
        Self {
            id: entry.id,
            to: entry.recipient,
            subject: entry.subject,
            link: None,
            status,
            attempts: entry.attempts,
            created_at: entry.created_at,
            sent_at: entry.sent_at,
            last_error: entry.last_error,
        }
    }
}

fn seed(db: &Database, args: SeedArgs, now: Millis) -> Result<(), CliError> {
    let plan = crate::seeding::bulk::SeedPlan {
        orgs: args.orgs,
        invitations: args.invitations,
        other_invitations: args.other_invitations.unwrap_or(args.invitations),
        members: args.members,
        expired_fraction: args.expired_fraction,
        accept_pool: args.accept_pool,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let out = db.bulk_write_blocking(plan.cache_kib(), |tx| {
        crate::seeding::bulk::run(tx, &plan, now)
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &args.accept_pool_out {
        let mut text = String::with_capacity(out.seeded.accept_pool_uuids.len() * 37);
        for uuid in &out.seeded.accept_pool_uuids {
            text.push_str(&uuid.to_string());
            text.push('\n');
        }
        std::fs::write(path, text)?;
    }
    let organizations: Vec<_> = out
        .seeded
        .orgs
        .iter()
        .map(|o| {
            serde_json::json!({
                "id": o.id, "uuid": o.uuid, "adminUserId": o.admin_user_id,
                "invitations": o.invitations, "members": o.members,
            })
        })
        .collect();
    let (invitee_id, invitee_secret) = &out.invitee_client;
    print_json(&serde_json::json!({
        "organizations": organizations,
        "measuredOrganizationId": out.seeded.orgs.first().map(|o| o.id),
        "apiKey": out.api_key.plaintext,
        "inviteeClient": {
            "clientId": invitee_id, "clientSecret": invitee_secret,
            "userId": out.seeded.invitee_user_id, "email": out.seeded.invitee_email,
        },
        "acceptPool": out.acceptor_client.as_ref().map(|(id, secret)| serde_json::json!({
            "clientId": id, "clientSecret": secret,
            "userId": out.seeded.acceptor_user_id, "email": out.seeded.acceptor_email,
            "organizationId": out.seeded.accept_pool_org_id,
            "count": out.seeded.accept_pool_uuids.len(),
            "uuidsFile": args.accept_pool_out.as_ref().map(|p| p.display().to_string()),
        })),
        "seconds": (seconds * 1000.0).round() / 1000.0,
    }))
}

fn unreachable_serve() -> Result<(), CliError> {
    Err(CliError::Usage(
        "serve is handled before opening the database".into(),
    ))
}

fn parse_email(raw: &str) -> Result<Email, CliError> {
    Email::parse(raw).map_err(|e| CliError::Usage(e.to_string()))
}

fn read_password_line() -> Result<String, CliError> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let password = input.lines().next().unwrap_or("").to_owned();
    if password.is_empty() {
        return Err(CliError::Usage(
            "--password-stdin read no password from standard input".into(),
        ));
    }
    Ok(password)
}

/// One row of an `email,role[,teams]` CSV file.
struct CsvRow {
    line: usize,
    email: String,
    role: String,
    /// Team names, as written (matched case-insensitively, like the API's
    /// unique names).
    teams: Vec<String>,
}

/// The rows of an `email,role[,teams]` CSV file. Blank lines are skipped,
/// and a first row whose first cell is `email` is a header. Teams are names
/// separated by `;`, since `,` separates the cells.
fn csv_rows(text: &str) -> Vec<CsvRow> {
    let mut rows = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut cells = line
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_owned());
        let email = cells.next().unwrap_or_default();
        let role = cells.next().unwrap_or_default();
        let teams = cells
            .next()
            .unwrap_or_default()
            .split(';')
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .collect();
        if rows.is_empty() && number == 0 && email.eq_ignore_ascii_case("email") {
            continue;
        }
        rows.push(CsvRow {
            line: number + 1,
            email,
            role,
            teams,
        });
    }
    rows
}

/// One CSV row's outcome, as `enlist invite --csv` prints it.
#[derive(Serialize)]
struct InviteLine {
    line: usize,
    email: String,
    #[serde(flatten)]
    outcome: crate::api::dto::BulkItemBody,
}

fn invite_csv(
    db: &Database,
    settings: &Settings,
    org_id: i64,
    csv: &std::path::Path,
    inviter: Option<String>,
    now: Millis,
) -> Result<(), CliError> {
    let text = std::fs::read_to_string(csv)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", csv.display())))?;
    let rows = csv_rows(&text);
    let inviter = inviter.as_deref().map(parse_email).transpose()?;
    let composer =
        crate::delivery::Composer::new(&settings.delivery.templates, &settings.public_url(None))
            .map_err(|e| CliError::Usage(e.to_string()))?;
    let rules = services::invitations::SendRules::from_settings(&settings.invitations);
    let items: Vec<Result<_, ServiceError>> = rows
        .iter()
        .map(|CsvRow { email, role, .. }| {
            Ok(services::invitations::NewInvitation {
                invitee: Email::parse(email)
                    .map_err(|e| ServiceError::invalid("email", e.to_string()))?,
                role: role.parse().map_err(|_| {
                    ServiceError::invalid(
                        "role",
                        format!("role must be ADMIN, MEMBER or one of the organization's role keys, got `{role}`"),
                    )
                })?,
                options: Default::default(),
                team_ids: Vec::new(),
            })
        })
        .collect();
    let outcomes = db.write_blocking(|tx| {
        let inviter_id = services::members::inviter(tx, org_id, inviter.as_ref())?;
        // Team names become ids in the write, where they are the organization's.
        let items = items
            .into_iter()
            .zip(&rows)
            .map(|(item, row)| {
                let mut new = item?;
                new.team_ids = services::teams::ids_named(tx, org_id, &row.teams)?;
                Ok(new)
            })
            .collect();
        services::invitations::create_many(
            tx,
            &Origin::cli(),
            org_id,
            inviter_id,
            items,
            rules,
            &composer,
            now,
        )
    })?;
    for (outcome, CsvRow { line, email, .. }) in outcomes.into_iter().zip(rows) {
        print_json(&InviteLine {
            line,
            email,
            outcome: outcome.into(),
        })?;
    }
    Ok(())
}

fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string(value).map_err(|e| CliError::Usage(e.to_string()))?;
    println!("{text}");
    Ok(())
}
