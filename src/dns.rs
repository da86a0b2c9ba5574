//! DNS lookups leaving the server: the TXT records that prove an
//! organization controls a domain (`services::domains`). Through the server
//! `domains.resolver` names (UDP, TCP when an answer is truncated), or the
//! system's resolvers when it is unset.
//!
//! Each lookup builds its resolver afresh with caching off: a lookup is
//! rare (an admin's verify, the daily recheck), and a cached answer would
//! hide a record that was just added or removed.

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::{ResolveError, TokioResolver};
use std::net::SocketAddr;
use std::time::Duration;

/// What a TXT lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtAnswer {
    /// The name's TXT records, each as one string (a record's
    /// character-strings joined, as RFC 7208 reads them).
    Records(Vec<String>),
    /// The name does not exist, or has no TXT record: an authoritative no.
    None,
}

/// Why a lookup told nothing (a timeout, a refusal, an unreachable
/// server): not evidence that the record is gone.
#[derive(Debug, Clone, thiserror::Error)]
#[error("DNS lookup of {name} failed: {reason}")]
pub struct LookupFailed {
    pub name: String,
    pub reason: String,
}

/// Where TXT lookups go, and how long one may take.
#[derive(Debug, Clone)]
pub struct Resolver {
    server: Option<SocketAddr>,
    timeout: Duration,
}

impl Resolver {
    /// `server`: a DNS server's address (`domains.resolver`); `None`, the system's.
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Self {
        Self { server, timeout }
    }

    /// As `domains.resolver` and `domains.lookup_timeout` say.
    pub fn from_settings(settings: &crate::config::DomainSettings) -> Self {
        Self::new(settings.resolver, settings.lookup_timeout.0)
    }

    fn build(&self) -> Result<TokioResolver, ResolveError> {
        let mut builder = match self.server {
            Some(server) => {
                // UDP first and TCP on truncation: the group holds both.
                let group =
                    NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, Vec::new(), group),
                    TokioConnectionProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio()?,
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.cache_size = 0;
        options.timeout = self.timeout;
        options.attempts = 2;
        // The name is absolute: no search domains appended.
        options.ndots = 0;
        Ok(builder.build())
    }

    /// The TXT records of `name` (an ASCII domain name).
    pub async fn txt(&self, name: &str) -> Result<TxtAnswer, LookupFailed> {
        let failed = |reason: String| LookupFailed {
            name: name.to_owned(),
            reason,
        };
        let resolver = self.build().map_err(|e| failed(e.to_string()))?;
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        // The resolver's own timeout covers each attempt; this bounds the whole.
        let deadline = self.timeout.saturating_mul(3);
        let answer = tokio::time::timeout(deadline, resolver.txt_lookup(fqdn))
            .await
            .map_err(|_| failed(format!("no answer within {deadline:?}")))?;
        match answer {
            Ok(found) => Ok(TxtAnswer::Records(
                found
                    .iter()
                    .map(|txt| {
                        txt.txt_data()
                            .iter()
                            .map(|part| String::from_utf8_lossy(part))
                            .collect::<String>()
                    })
                    .collect(),
            )),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(TxtAnswer::None),
            Err(e) => Err(failed(e.to_string())),
        }
    }
}
