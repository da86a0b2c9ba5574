//! The composition root: open the database, build the HTTP server, start
//! the background work.

use crate::api;
use crate::api::metrics::Metrics;
use crate::auth::jwt::{SigningError, TokenSigner};
use crate::auth::keys::{KeyFileError, read_key_file};
use crate::auth::password::PasswordPool;
use crate::auth::throttle::{KeyedLimiter, SignInPolicy, SignInThrottle};
use crate::config::CorsSettings;
use crate::config::Settings;
use crate::db::{Database, StorageError};
use crate::delivery::worker::RetryPolicy;
use crate::delivery::{Composer, DeliveryError, OutboxWorker, Transport};
use crate::domain::Clock;
use crate::domain::net::TrustedProxies;
use crate::services;
use crate::services::ServiceError;
use crate::services::accounts::{AccountLimits, AccountSettings, Accounts, AccountsParts};
use crate::state::AppState;
use crate::webhooks::WebhookWorker;
use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::Condition;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
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
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
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
    transport: Transport,
    /// Built with the server, so a misconfiguration stops the start and
    /// serving begins with nothing left to prepare.
    webhooks: WebhookWorker,
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
        let db = Database::open(&settings.database)?;
        let listener =
            TcpListener::bind(&settings.server.bind).map_err(|source| StartupError::Bind {
                addr: settings.server.bind.clone(),
                source,
            })?;
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
                .wrap(from_fn(api::body_deadline::enforce))
                .wrap(from_fn(api::pages::docs_headers))
                .wrap(from_fn(api::edge::guard))
                .wrap(from_fn(api::request_log::log_requests))
                .app_data(app_state.clone())
                .app_data(app_metrics.clone())
                .app_data(web::Data::new(api::request_log::RouteTemplates::default()))
                .configure(|cfg| api::configure(cfg, json_limit, metrics_here))
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
        let webhooks = WebhookWorker::new(
            state.db.clone(),
            state.clock.clone(),
            &state.settings.webhooks,
        )
        .map_err(StartupError::Webhooks)?;
        Ok(Self {
            addr,
            server,
            metrics_server,
            state,
            transport,
            webhooks,
            empty,
        })
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
        let interval = self.state.settings.invitations.expiry_sweep_interval.0;
        let sweeper = tokio::spawn(sweep(
            self.state.clone(),
            interval,
            self.state.settings.auth.unverified_account_lifetime.0,
        ));
        let delivery = &self.state.settings.delivery;
        let worker = OutboxWorker::new(
            self.state.db.clone(),
            self.transport,
            RetryPolicy {
                max_attempts: delivery.max_attempts,
                initial: delivery.retry_initial.0,
                max: delivery.retry_max.0,
            },
            delivery.poll_interval.0,
        )
        .with_clock(self.state.clock.clone())
        .with_claim_lease(delivery.claim_lease.0);
        let (stop_worker, stopped) = watch::channel(false);
        let webhooks = tokio::spawn(self.webhooks.run(stopped.clone()));
        let worker = tokio::spawn(worker.run(stopped));
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
        if let Some(metrics_server) = metrics_server {
            let _ = metrics_server.await;
        }
        sweeper.abort();
        // The worker finishes the message in hand, so nothing is sent twice.
        let _ = stop_worker.send(true);
        let _ = worker.await;
        let _ = webhooks.await;
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
                let _ = interrupt.await;
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

/// Stores EXPIRED on invitations whose expiry passed (with their
/// `invitation.expired` events), so the count of "pending but expired" rows
/// that reads must subtract stays small; queues due expiry reminders;
/// deletes accounts whose email was never proven in time, expired
/// idempotency keys and events past their retention.
async fn sweep(state: web::Data<AppState>, every: Duration, unverified_lifetime: Duration) {
    let (db, clock) = (state.db.clone(), state.clock.clone());
    let retention = state.settings.events.retention.0;
    // The first pass one interval after the start, not at it: serving begins
    // before this task first runs, and reads apply expiry themselves, so a
    // pass at once would only race the first requests.
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = clock.now();
        match db
            .write(move |tx| services::accounts::sweep(tx, unverified_lifetime, now))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                accounts = n,
                "deleted accounts whose email was never verified"
            ),
            Err(error) => tracing::warn!(%error, "unverified-account sweep failed; retrying later"),
        }
        let now = clock.now();
        if let Err(error) = db
            .write(move |tx| services::idempotency::prune(tx, now))
            .await
        {
            tracing::warn!(%error, "pruning idempotency keys failed; retrying later");
        }
        loop {
            let now = clock.now();
            let swept = db
                .write(move |tx| services::invitations::sweep_expired(tx, now))
                .await;
            match swept {
                Ok(n) if n >= services::invitations::SWEEP_BATCH => continue,
                Ok(0) => break,
                Ok(n) => {
                    tracing::debug!(invitations = n, "stored expiry of invitations");
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "expiry sweep failed; retrying later");
                    break;
                }
            }
        }
        if state.settings.invitations.reminder_before.is_some() {
            let app = state.clone();
            let now = clock.now();
            match db
                .write(move |tx| services::invitations::send_reminders(tx, &app.composer, now))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::debug!(invitations = n, "queued expiry reminders"),
                Err(error) => tracing::warn!(%error, "queuing reminders failed; retrying later"),
            }
        }
        loop {
            let now = clock.now();
            match db
                .write(move |tx| services::events::prune(tx, retention, now))
                .await
            {
                Ok(n) if n >= services::events::PRUNE_BATCH => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "pruning old events failed; retrying later");
                    break;
                }
            }
        }
    }
}
