//! `database.url` for PostgreSQL: parsing, `sslmode` as libpq reads it, and
//! the URL with its password masked for every message that names it.
//!
//! `sslmode`: `disable` never encrypts; `prefer` (the default) and `require`
//! encrypt (`prefer` falls back to plain text when the server offers no TLS)
//! without checking the certificate, unless `sslrootcert` names a PEM file,
//! which it must then chain to, as libpq does; `verify-ca` and `verify-full`
//! check the certificate and the host name against `sslrootcert`, or the
//! Mozilla roots when none is given (rustls always checks the name, so
//! `verify-ca` is as strict as `verify-full`).

use super::StorageError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How sessions reach the server.
pub enum Tls {
    Plain,
    Rustls(MakeRustlsConnect),
}

impl Tls {
    pub(super) fn connect(
        &self,
        config: &postgres::Config,
    ) -> Result<postgres::Client, postgres::Error> {
        match self {
            Tls::Plain => config.connect(postgres::NoTls),
            Tls::Rustls(connector) => config.connect(connector.clone()),
        }
    }
}

/// True for the URLs that select PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn masked(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Fails only for URLs that cannot carry a password at all.
                parsed.set_password(Some("***")).ok();
            }
            // libpq also takes the password as a query parameter.
            if parsed.query_pairs().any(|(key, _)| key == "password") {
                let pairs: Vec<(String, String)> = parsed
                    .query_pairs()
                    .map(|(key, value)| {
                        let value = if key == "password" {
                            "***".into()
                        } else {
                            value.into_owned()
                        };
                        (key.into_owned(), value)
                    })
                    .collect();
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        Err(_) => "(an unparsable database.url)".to_owned(),
    }
}

/// The first host a URL that does not say `sslmode` reaches over the
/// network, if any: without it the connection is `prefer`, which falls
/// back to plain text when the server offers no TLS and never checks the
/// certificate, so anyone on the path can read or change the traffic (the
/// password exchange included). Loopback hosts and Unix sockets (a host
/// that is a path, or none) stay on the machine and are not named.
pub fn unprotected_host(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let mut hosts: Vec<String> = parsed
        .host_str()
        .map(|host| host.to_owned())
        .into_iter()
        .collect();
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "sslmode" => return None,
            "host" | "hostaddr" => hosts.extend(value.split(',').map(str::to_owned)),
            _ => {}
        }
    }
    hosts.into_iter().find(|host| {
        let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
        let local = bare.is_empty()
            || bare.starts_with('/')
            || bare.eq_ignore_ascii_case("localhost")
            || bare
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        !local
    })
}

/// A connection failure as one line naming the masked URL.
pub(super) fn masked_error(url: &str, error: &str) -> String {
    format!("cannot reach PostgreSQL at {}: {error}", masked(url))
}

/// Parses `url` into the client's configuration and the TLS it needs.
pub(super) fn parse(url: &str) -> Result<(postgres::Config, Tls), StorageError> {
    let invalid = |why: String| StorageError::BadUrl(format!("{}: {why}", masked(url)));
    let mut parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    let mut sslmode = String::from("prefer");
    let mut rootcert = None;
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(key, value)| match key.as_ref() {
            "sslmode" => {
                sslmode = value.into_owned();
                None
            }
            "sslrootcert" => {
                rootcert = Some(value.into_owned());
                None
            }
            _ => Some((key.into_owned(), value.into_owned())),
        })
        .collect();
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    let mut config: postgres::Config = parsed
        .as_str()
        .parse()
        .map_err(|e: postgres::Error| invalid(e.to_string()))?;
    if config.get_application_name().is_none() {
        config.application_name("enlist");
    }
    let roots = match &rootcert {
        Some(path) => Some(read_roots(path).map_err(invalid)?),
        None => None,
    };
    let tls = match sslmode.as_str() {
        "disable" => {
            config.ssl_mode(postgres::config::SslMode::Disable);
            Tls::Plain
        }
        "prefer" | "require" | "allow" => {
            config.ssl_mode(if sslmode == "require" {
                postgres::config::SslMode::Require
            } else {
                postgres::config::SslMode::Prefer
            });
            Tls::Rustls(match roots {
                Some(roots) => verified(roots),
                None => unverified(),
            })
        }
        "verify-ca" | "verify-full" => {
            config.ssl_mode(postgres::config::SslMode::Require);
            Tls::Rustls(verified(roots.unwrap_or_else(|| RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })))
        }
        other => {
            return Err(invalid(format!(
                "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    Ok((config, tls))
}

fn read_roots(path: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let certificates =
        CertificateDer::pem_file_iter(path).map_err(|e| format!("sslrootcert {path}: {e}"))?;
    for certificate in certificates {
        let certificate = certificate.map_err(|e| format!("sslrootcert {path}: {e}"))?;
        roots
            .add(certificate)
            .map_err(|e| format!("sslrootcert {path}: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("sslrootcert {path} holds no certificate"));
    }
    Ok(roots)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn verified(roots: RootCertStore) -> MakeRustlsConnect {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
    MakeRustlsConnect::new(match config {
        Ok(config) => config,
        // The ring provider supports the default versions; this cannot fail.
        Err(_) => rustls::ClientConfig::builder()
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth(),
    })
}

/// `require` without `sslrootcert`: encrypted, the certificate unchecked
/// (libpq's meaning; say `verify-full` to check it).
fn unverified() -> MakeRustlsConnect {
    let provider = provider();
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|builder| {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth()
        });
    MakeRustlsConnect::new(match config {
        Ok(config) => config,
        Err(_) => rustls::ClientConfig::builder()
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth(),
    })
}

/// Accepts any certificate, still checking that the server holds its key.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_masked_wherever_the_url_carries_it() {
        assert_eq!(
            masked("postgres://enlist:s3cret@db.example:5432/enlist"),
            "postgres://enlist:***@db.example:5432/enlist"
        );
        let masked =
            masked("postgres://enlist@db.example/enlist?password=s3cret&application_name=x");
        assert!(!masked.contains("s3cret"), "{masked}");
        assert!(masked.contains("application_name=x"), "{masked}");
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            masked("postgres://enlist:s3cret@db.example:5432/enlist?sslmode=require"),
            "postgres://enlist:***@db.example:5432/enlist?sslmode=require"
        );
        let error = parse("postgres://enlist:s3cret@db.example/enlist?sslmode=sometimes")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("sslmode"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn only_a_url_to_another_machine_without_sslmode_is_unprotected() {
        for (url, host) in [
            (
                "postgres://u:p@db.example.com/enlist",
                Some("db.example.com"),
            ),
            ("postgres://u:p@10.0.0.5:5432/enlist", Some("10.0.0.5")),
            ("postgresql://u@[2001:db8::1]/enlist", Some("[2001:db8::1]")),
            (
                "postgres://u@localhost/enlist?host=db.internal",
                Some("db.internal"),
            ),
            ("postgres://u:p@db.example.com/enlist?sslmode=require", None),
            ("postgres://u:p@db.example.com/enlist?sslmode=disable", None),
            ("postgres://u:p@localhost/enlist", None),
            ("postgres://u:p@127.0.0.1:5433/enlist", None),
            ("postgres://u:p@[::1]/enlist", None),
            ("postgres://u@/enlist?host=/var/run/postgresql", None),
            ("not a url", None),
        ] {
            assert_eq!(unprotected_host(url).as_deref(), host, "{url}");
        }
    }

    #[test]
    fn every_libpq_sslmode_parses() {
        for mode in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            let url = format!("postgresql://u:p@localhost/db?sslmode={mode}&connect_timeout=5");
            assert!(parse(&url).is_ok(), "{mode}");
        }
        assert!(parse("postgres://u@localhost/db?sslrootcert=/nonexistent.pem").is_err());
    }
}
