//! Prometheus metrics: requests by route template and status, latency
//! histograms, the database pools, and the outbox backlog.

use crate::services::operations::PoolStats;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("encoding metrics: {0}")]
    Encode(#[from] prometheus::Error),
}

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    outbox_backlog: IntGaugeVec,
    password_operations: IntGaugeVec,
    sign_ins: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("enlist".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route template and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer HTTP requests",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database connections by pool and state (in_use, idle, waiting)",
            ),
            &["pool", "state"],
        )?;
        let outbox_backlog = IntGaugeVec::new(
            Opts::new(
                "outbox_backlog",
                "Messages queued and not yet sent or given up on",
            ),
            &[],
        )?;
        let password_operations = IntGaugeVec::new(
            Opts::new(
                "password_operations_total",
                "argon2 password hashes and checks run since start",
            ),
            &[],
        )?;
        let sign_ins = IntCounterVec::new(
            Opts::new(
                "sign_ins_total",
                "Sign-ins that succeeded since start, by method (password, oidc: at an \
                 upstream identity provider, trusted_token: a trusted issuer's bearer token \
                 used by its identity for the first time, passkey)",
            ),
            &["method"],
        )?;
        registry.register(Box::new(sign_ins.clone()))?;
        registry.register(Box::new(password_operations.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(outbox_backlog.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            pool,
            outbox_backlog,
            password_operations,
            sign_ins,
        })
    }

    /// Records one answered request. Every label comes from a fixed set, so
    /// no request adds series without end: `method` is
    /// [`crate::http::edge::method_label`]'s, `route` the matched template
    /// (never the raw path; `(unmatched)` for none), `status` one enlist sent.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// The text exposition, with the gauges read now.
    /// `password_operations`: the argon2 work done so far.
    pub fn render(
        &self,
        stats: PoolStats,
        outbox_backlog: Option<i64>,
        password_operations: u64,
        sign_ins: &[(&'static str, u64)],
    ) -> Result<String, MetricsError> {
        for (method, count) in sign_ins {
            // The service keeps the totals; the counter catches up to them.
            let counter = self.sign_ins.with_label_values(&[*method]);
            counter.inc_by(count.saturating_sub(counter.get()));
        }
        self.password_operations
            .with_label_values(&[] as &[&str])
            .set(i64::try_from(password_operations).unwrap_or(i64::MAX));
        for (pool, state, value) in [
            ("read", "in_use", stats.readers_in_use),
            ("read", "idle", stats.readers_idle),
            ("read", "waiting", stats.readers_waiting),
            ("write", "in_use", stats.writer_in_use),
            ("write", "waiting", stats.writer_waiting),
        ] {
            self.pool.with_label_values(&[pool, state]).set(value);
        }
        if let Some(backlog) = outbox_backlog {
            self.outbox_backlog
                .with_label_values(&[] as &[&str])
                .set(backlog);
        }
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text)?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
}
