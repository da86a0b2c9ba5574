//! The composition root: open the database, build the HTTP server and the
//! background workers (`workers`), and spawn their loops.

use crate::api;
use crate::auth::jwt::{SigningError, TokenSigner};
use crate::auth::keys::{KeyFileError, read_key_file};
use crate::auth::password::PasswordPool;
use crate::auth::throttle::{KeyedLimiter, SignInPolicy, SignInThrottle};
use crate::config::CorsSettings;
use crate::config::{ConfigError, Settings};
use crate::db::{Database, StorageError};
use crate::delivery::{Composer, DeliveryError, Transport};
use crate::domain::Clock;
use crate::domain::net::TrustedProxies;
use crate::http::metrics::Metrics;
use crate::services;
use crate::services::ServiceError;
use crate::services::accounts::{AccountLimits, AccountSettings, Accounts, AccountsParts};
use crate::state::AppState;
use crate::workers::Workers;
use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::Condition;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use utoipa_swagger_ui::{Config, SwaggerUi};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot open the database: {0}")]
    Database(#[from] StorageError),
    #[error("cannot prepare the signing key: {0}")]
    SigningKey(#[from] ServiceError),
    #[error("{0}")]
    SigningKeyFile(#[from] KeyFileError),
    #[error("{0}")]
    Signer(#[from] SigningError),
    #[error("invitation delivery is misconfigured: {0}")]
    Delivery(#[from] DeliveryError),
    #[error("cannot set up metrics: {0}")]
    Metrics(String),
    #[error("cannot set up webhook deliveries: {0}")]
    Webhooks(String),
    #[error("cannot start the password threads: {0}")]
    Threads(std::io::Error),
    #[error("cannot listen on {addr}: {source}{}", bind_hint(source))]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// What to do about an address that cannot be listened on.
fn bind_hint(source: &std::io::Error) -> &'static str {
    match source.kind() {
        std::io::ErrorKind::AddrInUse => {
            " (another process listens there); choose another address with --bind, \
             e.g. `enlist serve --bind 127.0.0.1:8081`, or set server.bind \
             (ENLIST_SERVER__BIND)"
        }
        std::io::ErrorKind::PermissionDenied => {
            " (ports below 1024 need privileges); choose a port above 1024 with --bind \
             or server.bind"
        }
        _ => "; choose the address with --bind or server.bind (ENLIST_SERVER__BIND)",
    }
}

/// Sign-ins waiting for an argon2 thread beyond this answer 503 at once.
const PASSWORD_QUEUE: usize = 256;
/// Keys each in-memory limiter tracks at most (about 100 bytes each).
const THROTTLE_KEYS: usize = 100_000;

pub struct Application {
    addr: SocketAddr,
    server: Server,
    /// `/metrics` on its own address, when `metrics.bind` is set.
    metrics_server: Option<(SocketAddr, Server)>,
    state: web::Data<AppState>,
    /// Built with the server, so a misconfiguration stops the start and
    /// serving begins with nothing left to prepare.
    workers: Workers,
    /// Whether `run_until_stopped` spawns the workers' loops (see
    /// [`Application::without_worker_loops`]).
    worker_loops: bool,
    /// No organization yet: the start log says how to make the first.
    empty: bool,
}

impl Application {
    /// Opens the database and binds the listener; nothing is served until
    /// [`Application::run_until_stopped`]. Port 0 picks a free port.
    pub fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Clock::default())
    }

    /// [`Application::build`] with a clock the caller holds (tests move it).
    #[expect(
        clippy::too_many_lines,
        reason = "the composition root: every part built and wired in one place, in order"
    )]
    pub fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let file_key = match &settings.auth.signing_key_file {
            Some(path) => Some(read_key_file(path)?),
            None => None,
        };
        settings.check_serving()?;
        if let Some(url) = settings.database.postgres_url()
            && let Some(host) = crate::db::unprotected_postgres_host(url)
        {
            tracing::warn!(
                %host,
                database = %crate::db::masked_url(url),
                "database.url reaches PostgreSQL at {host} without sslmode: the connection may \
                 fall back to plain text and the server's certificate is not checked; add \
                 sslmode=verify-full (or require) to the URL, or sslmode=disable to say you mean it"
            );
        }
        // Bound first: a port already in use fails before the database
        // file (or its schema) is created.
        let listener =
            TcpListener::bind(&settings.server.bind).map_err(|source| StartupError::Bind {
                addr: settings.server.bind.clone(),
                source,
            })?;
        let db = Database::open(&settings.database)?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: settings.server.bind.clone(),
            source,
        })?;
        let public_url = settings.public_url(Some(addr));
        let device_key = db.write_blocking(|tx| {
            services::oauth::server_key(tx, "device_cookie_hmac", clock.now())
        })?;
        let trusted_proxies =
            TrustedProxies::parse(&settings.server.trusted_proxies).map_err(|e| {
                StartupError::Config(crate::config::ConfigError::Invalid(e.to_string()))
            })?;
        let csrf_key = db.write_blocking(|tx| services::sessions::csrf_key(tx, clock.now()))?;
        let cursor_key =
            db.write_blocking(|tx| services::list_cursor::CursorKey::load(tx, clock.now()))?;
        let empty = !db.read_blocking(|conn| crate::db::orgs::any(conn))?;
        let auth = &settings.auth;
        let retention = services::signing_keys::retention(auth.access_token_lifetime.0);
        let signing_keys = db.write_blocking(|tx| {
            services::signing_keys::prepare(tx, file_key.as_ref(), retention, clock.now())
        })?;
        let tokens = TokenSigner::new(&signing_keys, &public_url, auth.access_token_lifetime.0)?;
        let passwords = PasswordPool::new(auth.password_threads, PASSWORD_QUEUE)
            .map_err(StartupError::Threads)?;
        let composer = Arc::new(Composer::new(&settings.delivery.templates, &public_url)?);
        let transport = Transport::from_settings(&settings.delivery)?;
        let outbound = Arc::new(
            crate::federation::outbound::Outbound::new(
                crate::federation::outbound::OutboundLimits::default(),
            )
            .map_err(|e| StartupError::Config(ConfigError::Invalid(e)))?,
        );
        let providers = Arc::new(
            crate::federation::upstream::Providers::new(
                provider_configs(&settings)?,
                &public_url,
                outbound.clone(),
            )
            .map_err(|e| StartupError::Config(ConfigError::Invalid(e)))?,
        );
        let trusted_issuers = Arc::new(
            crate::federation::trusted::TrustedIssuers::new(
                settings
                    .auth
                    .trusted_issuers
                    .iter()
                    .map(|t| crate::federation::trusted::TrustedIssuer {
                        issuer: t.issuer.clone(),
                        audience: t.audience.clone(),
                        jwks_uri: t.jwks_uri.clone(),
                    })
                    .collect(),
                outbound.clone(),
            )
            .map_err(|e| StartupError::Config(ConfigError::Invalid(e)))?,
        );
        let accounts = Accounts::new(AccountsParts {
            db: db.clone(),
            passwords,
            limits: AccountLimits {
                sign_in: SignInThrottle::new(SignInPolicy {
                    window: auth.sign_in_window.0,
                    per_account_and_client: auth.sign_in_failures_per_account_and_client,
                    per_account_before_slowdown: auth.sign_in_failures_per_account,
                    slowdown_max: auth.sign_in_slowdown_max.0,
                    per_address: auth.sign_in_failures_per_address,
                    max_keys: THROTTLE_KEYS,
                }),
                sign_ups_per_address: KeyedLimiter::new(
                    auth.sign_up_window.0,
                    auth.sign_ups_per_address,
                    THROTTLE_KEYS,
                ),
                messages_per_email: KeyedLimiter::new(
                    auth.account_messages_window.0,
                    auth.account_messages_per_email,
                    THROTTLE_KEYS,
                ),
                messages_per_address: KeyedLimiter::new(
                    auth.account_messages_window.0,
                    auth.account_messages_per_address,
                    THROTTLE_KEYS,
                ),
                password_jobs_per_address: auth.password_jobs_per_address,
                federated_starts_per_address: KeyedLimiter::new(
                    FEDERATED_STARTS_WINDOW,
                    FEDERATED_STARTS_PER_ADDRESS,
                    THROTTLE_KEYS,
                ),
            },
            device_key,
            composer: composer.clone(),
            clock: clock.clone(),
            settings: AccountSettings {
                session_lifetime: auth.session_lifetime.0,
                verification_lifetime: auth.email_verification_lifetime.0,
                reset_lifetime: auth.password_reset_lifetime.0,
                unverified_lifetime: auth.unverified_account_lifetime.0,
            },
            providers,
            webauthn: crate::services::accounts::relying_party(&public_url),
        });
        if settings.delivery.transport == crate::config::TransportKind::Log
            && !addr.ip().is_loopback()
        {
            tracing::warn!(
                %addr,
                "delivery.transport is `log` on a non-loopback address: invitation, verification \
                 and reset links go to the log, and each is a bearer capability until used; \
                 configure `file` or `smtp` for anything but local use"
            );
        }
        let settings = Arc::new(settings);
        let state = web::Data::new(AppState {
            db,
            settings: settings.clone(),
            public_url,
            tokens,
            accounts,
            composer,
            clock,
            trusted_proxies,
            csrf_key,
            cursor_key,
            trusted_issuers,
            admin_limiter: Arc::default(),
            authenticated_keys: Arc::default(),
            rejected_keys: Arc::default(),
            webhook_policy: Arc::new(crate::webhooks::policy(&settings.webhooks)),
        });
        let metrics =
            web::Data::new(Metrics::new().map_err(|e| StartupError::Metrics(e.to_string()))?);
        let server_settings = &settings.server;
        let json_limit = usize::try_from(server_settings.json_body_limit.0).unwrap_or(usize::MAX);
        let metrics_here = settings.metrics.enabled && settings.metrics.bind.is_none();
        let cors = settings.cors.clone();
        let openapi = api::openapi::document(&state.public_url);
        let (app_state, app_metrics) = (state.clone(), metrics.clone());
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(Condition::new(
                    !cors.allowed_origins.is_empty(),
                    cors_middleware(&cors),
                ))
                .wrap(from_fn(crate::web::body_deadline::enforce))
                .wrap(from_fn(crate::web::render::docs_headers))
                .wrap(from_fn(crate::http::edge::guard))
                .wrap(from_fn(crate::http::request_log::log_requests))
                .app_data(app_state.clone())
                .app_data(app_metrics.clone())
                .app_data(web::Data::new(
                    crate::http::request_log::RouteTemplates::default(),
                ))
                .configure(|cfg| crate::routes::configure(cfg, json_limit, metrics_here))
                .service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .url("/openapi.json", openapi.clone())
                        // Offline: no call to swagger.io's online validator.
                        .config(Config::default().validator_url("none")),
                )
        })
        // Signals are handled in run_until_stopped: SIGINT and SIGTERM both stop gracefully.
        .disable_signals()
        .shutdown_timeout(server_settings.shutdown_grace.0.as_secs())
        .client_request_timeout(server_settings.request_timeout.0)
        .keep_alive(server_settings.keep_alive.0)
        .max_connections(server_settings.max_connections)
        // Database work runs on each worker's blocking threads, and waits for
        // a connection there: more threads than connections only add memory
        // (each keeps a malloc arena) and context switches.
        .worker_max_blocking_threads(settings.database.pool_size as usize + 2);
        if server_settings.workers > 0 {
            server = server.workers(server_settings.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                addr: addr.to_string(),
                source,
            })?
            .run();
        let metrics_server = match (&settings.metrics.bind, settings.metrics.enabled) {
            (Some(bind), true) => Some(metrics_server(bind, state.clone(), metrics.clone())?),
            _ => None,
        };
        let workers = Workers::new(
            &state.db,
            &state.clock,
            transport,
            state.composer.clone(),
            &state.settings,
        )
        .map_err(StartupError::Webhooks)?;
        Ok(Self {
            addr,
            server,
            metrics_server,
            state,
            workers,
            worker_loops: true,
            empty,
        })
    }

    /// The background workers, whose single passes a caller may run
    /// (`run_outbox_once`, `deliver_webhooks_once`, `sweep_once`).
    pub fn workers(&self) -> Workers {
        self.workers.clone()
    }

    /// Serves without starting the workers' loops: the caller runs their
    /// passes itself through [`Application::workers`], so a test sees
    /// exactly the passes it ran and never waits for a loop.
    pub fn without_worker_loops(mut self) -> Self {
        self.worker_loops = false;
        self
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served on its own, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|(addr, _)| *addr)
    }

    /// Serves until the server is stopped (SIGINT or SIGTERM).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let loops = self.worker_loops.then(|| self.workers.spawn());
        let mut handles = vec![self.server.handle()];
        let metrics_server = self.metrics_server.map(|(addr, server)| {
            tracing::info!(%addr, "metrics are served on their own address");
            handles.push(server.handle());
            tokio::spawn(server)
        });
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("stopping: finishing requests in flight");
            for handle in handles {
                handle.stop(true).await;
            }
        });
        let settings = &self.state.settings;
        // Before "enlist is serving", which tests and scripts wait for.
        if self.empty {
            tracing::info!(
                "the database is empty; make a first organization and an API key with \
                 `enlist org create --name NAME --admin-email EMAIL` and then \
                 `enlist api-key create --org 1 --user 1 --scopes {}`",
                crate::domain::Scope::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            );
        }
        tracing::info!(
            addr = %self.addr,
            public_url = %self.state.public_url,
            database = %services::operations::database_name(&settings.database),
            delivery = %describe_transport(&settings.delivery),
            "enlist is serving"
        );
        let result = self.server.await;
        if let Some(metrics_server) = metrics_server
            && let Err(error) = metrics_server.await
        {
            tracing::warn!(%error, "the metrics server stopped with an error");
        }
        // The workers finish what is in hand, so nothing is sent twice.
        if let Some(loops) = loops {
            loops.stop().await;
        }
        let db = self.state.db.clone();
        match tokio::task::spawn_blocking(move || db.checkpoint()).await {
            Ok(Ok(())) => tracing::info!("stopped; the database is checkpointed"),
            Ok(Err(error)) => tracing::warn!(%error, "stopped; the final WAL checkpoint failed"),
            Err(error) => tracing::warn!(%error, "stopped; the final WAL checkpoint did not run"),
        }
        result
    }
}

/// Where messages go, for the start log: `log`, `file (DIR)` or `smtp (HOST:PORT)`.
fn describe_transport(delivery: &crate::config::DeliverySettings) -> String {
    use crate::config::TransportKind;
    match delivery.transport {
        TransportKind::Log => "log".to_owned(),
        TransportKind::File => format!(
            "file ({})",
            crate::db::absolute(&delivery.file.dir).display()
        ),
        TransportKind::Smtp => match delivery.smtp.port {
            Some(port) => format!("smtp ({}:{port})", delivery.smtp.host),
            None => format!("smtp ({})", delivery.smtp.host),
        },
    }
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                if let Err(error) = interrupt.await {
                    tracing::warn!(%error, "cannot listen for Ctrl-C either");
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

fn cors_middleware(settings: &CorsSettings) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "DELETE"])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("x-api-key"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::HeaderName::from_static("x-request-id"),
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
        ])
        .max_age(usize::try_from(settings.max_age.0.as_secs()).ok());
    for origin in &settings.allowed_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

fn metrics_server(
    bind: &str,
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<(SocketAddr, Server), StartupError> {
    let bind_error = |source| StartupError::Bind {
        addr: bind.to_owned(),
        source,
    };
    let listener = TcpListener::bind(bind).map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .service(api::metrics_resource())
    })
    .disable_signals()
    .workers(1)
    .listen(listener)
    .map_err(bind_error)?
    .run();
    Ok((addr, server))
}

/// Sign-ins one client address may begin at identity providers per window:
/// a person needs a few; a script that would fill the login table, many.
const FEDERATED_STARTS_PER_ADDRESS: usize = 30;
const FEDERATED_STARTS_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// The configured upstream providers, their secrets read (from files too).
fn provider_configs(
    settings: &Settings,
) -> Result<Vec<crate::federation::upstream::ProviderConfig>, StartupError> {
    settings
        .auth
        .oidc_providers
        .iter()
        .map(|provider| {
            Ok(crate::federation::upstream::ProviderConfig {
                id: provider.id.clone(),
                name: provider.name.clone(),
                issuer: provider.issuer.clone(),
                client_id: provider.client_id.clone(),
                client_secret: provider.secret().map_err(StartupError::Config)?,
                scopes: provider.scopes.clone(),
            })
        })
        .collect()
}
