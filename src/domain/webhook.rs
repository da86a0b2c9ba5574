//! Webhook endpoints and the rules for where enlist may send: an outbound
//! request must never become a way into the network enlist runs in.

use super::Millis;
use super::event::EventType;
use std::net::IpAddr;

/// An organization's webhook endpoint (its secrets stay in storage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: i64,
    pub org_id: i64,
    pub url: String,
    /// The types it wants; empty: every type.
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    pub description: String,
    /// Why enlist disabled it, when it did.
    pub disabled_reason: Option<String>,
    /// Since when every attempt to it has failed, if the last one did.
    pub failing_since: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// When a failed delivery is tried again: `initial` after the first
/// failure, doubling up to `max`, each wait moved by up to a fifth either
/// way (`jitter` in -1..=1) so endpoints that failed together do not all
/// come back at once; no more after `max_attempts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    pub initial: std::time::Duration,
    pub max: std::time::Duration,
    pub max_attempts: u32,
}

impl RetrySchedule {
    /// The longest a delivery can stay pending: every wait at its longest.
    pub fn longest_window(&self) -> std::time::Duration {
        (1..self.max_attempts)
            .filter_map(|attempt| self.wait_after(attempt, 1.0))
            .fold(std::time::Duration::ZERO, |sum, wait| {
                sum.saturating_add(wait)
            })
    }

    /// The wait after attempt number `attempt` (1 for the first) failed, or
    /// `None` when it was the last.
    pub fn wait_after(&self, attempt: u32, jitter: f64) -> Option<std::time::Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let doubled = self
            .initial
            .saturating_mul(1u32 << (attempt - 1).min(30))
            .min(self.max);
        Some(doubled.mul_f64(1.0 + 0.2 * jitter.clamp(-1.0, 1.0)))
    }
}

/// The longest endpoint URL accepted.
pub const URL_MAX: usize = 2048;

/// The most endpoints one organization may have.
pub const ENDPOINTS_PER_ORG_MAX: i64 = 20;

/// Where deliveries may go, from the `webhooks.*` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// `http://` to loopback addresses (and loopback at all) is allowed.
    pub allow_http_loopback: bool,
    /// Hosts (names or addresses, lower case) exempt from the address rule.
    pub allowed_hosts: Vec<String>,
}

/// The one answer for every address a delivery may not go to, whatever the
/// reason (private, loopback, link-local, reserved, or a name that does not
/// resolve): saying which, or naming the address, would let anyone with
/// `webhooks:write` map the network and DNS enlist runs in.
pub const REFUSED_TARGET: &str = "url must lead to a public address: hosts that resolve to a \
     private, loopback, link-local or reserved address, or do not resolve, are refused unless \
     listed in webhooks.allowed_hosts";

/// Why a URL may not be an endpoint. What is wrong with the text itself is
/// said; where it leads is not ([`REFUSED_TARGET`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlRefused {
    /// Its length, scheme, credentials or syntax: the caller wrote it.
    Text(String),
    /// The address it names or resolves to, or a lookup that failed;
    /// `reason` says which, for the operator's log only.
    Target { reason: String },
}

impl UrlRefused {
    /// The whole reason, address included: for a debug log line, never an answer.
    pub fn reason(&self) -> &str {
        match self {
            UrlRefused::Text(text) => text,
            UrlRefused::Target { reason } => reason,
        }
    }

    fn text(text: impl Into<String>) -> Self {
        UrlRefused::Text(text.into())
    }
}

impl std::fmt::Display for UrlRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlRefused::Text(text) => f.write_str(text),
            UrlRefused::Target { .. } => f.write_str(REFUSED_TARGET),
        }
    }
}

impl std::error::Error for UrlRefused {}

/// A URL checked for the rules that need no name lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl {
    pub url: url::Url,
    /// The host as written (lower case; IPv6 without brackets).
    pub host: String,
    pub port: u16,
}

impl TargetPolicy {
    pub fn exempts(&self, host: &str) -> bool {
        self.allowed_hosts.iter().any(|allowed| allowed == host)
    }

    /// Checks what can be checked without resolving the host: the length,
    /// the scheme (`https`, or `http` only to a loopback address when
    /// allowed), no credentials, and an address written as the host.
    pub fn check_url(&self, raw: &str) -> Result<TargetUrl, UrlRefused> {
        if raw.len() > URL_MAX {
            return Err(UrlRefused::text(format!(
                "url must be at most {URL_MAX} bytes long"
            )));
        }
        let url = url::Url::parse(raw)
            .map_err(|e| UrlRefused::text(format!("url is not an absolute URL: {e}")))?;
        let host = match url.host() {
            Some(url::Host::Domain(name)) => name.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(UrlRefused::text("url must name a host")),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefused::text(
                "url must not carry a user name or password",
            ));
        }
        let literal: Option<IpAddr> = host.parse().ok();
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http_loopback && is_loopback_name(&host, literal) => {}
            "http" => {
                return Err(UrlRefused::text(
                    "url must use https:// (http:// is allowed only to a loopback address, \
                     with webhooks.allow_http_loopback = true)",
                ));
            }
            other => {
                return Err(UrlRefused::text(format!(
                    "url must use https://, not {other}://"
                )));
            }
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| UrlRefused::text("url has no port"))?;
        let target = TargetUrl { url, host, port };
        if let Some(address) = literal {
            self.check_address(&target.host, address)?;
        }
        Ok(target)
    }

    /// Whether a delivery may connect to `address`, which `host` resolved to.
    pub fn check_address(&self, host: &str, address: IpAddr) -> Result<(), UrlRefused> {
        if self.exempts(host) {
            return Ok(());
        }
        match AddressClass::of(address) {
            AddressClass::Public => Ok(()),
            AddressClass::Loopback if self.allow_http_loopback => Ok(()),
            class => Err(UrlRefused::Target {
                reason: format!("{host} resolves to {address}, a {} address", class.name()),
            }),
        }
    }
}

fn is_loopback_name(host: &str, literal: Option<IpAddr>) -> bool {
    match literal {
        Some(address) => AddressClass::of(address) == AddressClass::Loopback,
        None => host == "localhost" || host.ends_with(".localhost"),
    }
}

/// What kind of network an address is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    Loopback,
    /// RFC 1918, unique local (fc00::/7), shared address space (100.64/10).
    Private,
    LinkLocal,
    /// Unspecified, multicast, broadcast, documentation and reserved ranges:
    /// nowhere a webhook lives.
    Special,
}

impl AddressClass {
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => {
                let [a, b, ..] = v4.octets();
                if v4.is_loopback() {
                    AddressClass::Loopback
                } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                    AddressClass::Private
                } else if v4.is_link_local() {
                    AddressClass::LinkLocal
                } else if v4.is_unspecified()
                    || v4.is_multicast()
                    || v4.is_broadcast()
                    || v4.is_documentation()
                    || a == 0
                    || a >= 240
                    || (a == 192 && b == 0 && v4.octets()[2] == 0)
                    || (a == 198 && (18..20).contains(&b))
                {
                    AddressClass::Special
                } else {
                    AddressClass::Public
                }
            }
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return AddressClass::of(IpAddr::V4(v4));
                }
                let segments = v6.segments();
                let first = segments[0];
                if first == 0x2002 {
                    // 6to4: the IPv4 address it tunnels to is what counts.
                    let [a, b] = segments[1].to_be_bytes();
                    let [c, d] = segments[2].to_be_bytes();
                    return AddressClass::of(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
                }
                if v6.is_loopback() {
                    AddressClass::Loopback
                } else if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfec0 {
                    // Unique local, and the deprecated site-local range.
                    AddressClass::Private
                } else if first & 0xffc0 == 0xfe80 {
                    AddressClass::LinkLocal
                } else if (first == 0x2001 && segments[1] == 0)
                    // Teredo tunnels to whatever its peer says.
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || first == 0x2001 && v6.segments()[1] == 0x0db8
                    // IPv4-compatible and NAT64 forms embed an IPv4 address
                    // that may well be private.
                    || first == 0
                    || first == 0x0064
                {
                    AddressClass::Special
                } else {
                    AddressClass::Public
                }
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Special => "reserved",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(address: &str) -> AddressClass {
        AddressClass::of(address.parse().unwrap())
    }

    #[test]
    fn addresses_fall_in_the_classes_that_keep_deliveries_outside() {
        assert_eq!(class("127.0.0.1"), AddressClass::Loopback);
        assert_eq!(class("::1"), AddressClass::Loopback);
        assert_eq!(class("::ffff:127.0.0.1"), AddressClass::Loopback);
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "fd00::1",
        ] {
            assert_eq!(class(private), AddressClass::Private, "{private}");
        }
        for link in ["169.254.169.254", "fe80::1"] {
            assert_eq!(class(link), AddressClass::LinkLocal, "{link}");
        }
        assert_eq!(
            class("2002:0a00:0001::1"),
            AddressClass::Private,
            "6to4 of 10.0.0.1"
        );
        assert_eq!(
            class("2002:5db8:d822::1"),
            AddressClass::Public,
            "6to4 of a public address"
        );
        assert_eq!(class("fec0::1"), AddressClass::Private);
        assert_eq!(
            class("2001:0:4136:e378::1"),
            AddressClass::Special,
            "Teredo"
        );
        for special in [
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
            "::10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert_eq!(class(special), AddressClass::Special, "{special}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1", "1.1.1.1"] {
            assert_eq!(class(public), AddressClass::Public, "{public}");
        }
    }

    #[test]
    fn retries_double_up_to_the_cap_and_stop_after_the_last_attempt() {
        use std::time::Duration;
        let schedule = RetrySchedule {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(3600),
            max_attempts: 10,
        };
        let waits: Vec<u64> = (1..10)
            .map(|n| schedule.wait_after(n, 0.0).unwrap().as_secs())
            .collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 640, 1280]);
        assert_eq!(schedule.wait_after(10, 0.0), None);
        assert_eq!(schedule.wait_after(1, 1.0), Some(Duration::from_secs(6)));
        assert_eq!(schedule.wait_after(1, -1.0), Some(Duration::from_secs(4)));
        let capped = RetrySchedule {
            max_attempts: 40,
            ..schedule
        };
        assert_eq!(capped.wait_after(35, 0.0), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn every_refused_address_says_the_same_and_only_the_log_says_which() {
        let strict = TargetPolicy::default();
        for url in [
            "https://127.0.0.1/in",
            "https://10.1.2.3/in",
            "https://[fe80::1]/in",
            "https://[::ffff:192.168.0.1]/in",
            "https://0.0.0.0/in",
        ] {
            let refused = strict.check_url(url).unwrap_err();
            assert_eq!(refused.to_string(), REFUSED_TARGET, "{url}");
            let address = url
                .trim_start_matches("https://")
                .trim_end_matches("/in")
                .trim_matches(['[', ']']);
            assert!(!REFUSED_TARGET.contains(address), "{url}");
            assert!(refused.reason().contains("resolves to"), "{refused:?}");
        }
        let text = strict
            .check_url("https://user:pw@example.com/")
            .unwrap_err();
        assert_eq!(text.to_string(), text.reason());
    }

    #[test]
    fn urls_must_be_https_except_to_allowed_loopback() {
        let strict = TargetPolicy::default();
        let loopback = TargetPolicy {
            allow_http_loopback: true,
            ..TargetPolicy::default()
        };
        assert!(strict.check_url("https://hooks.example.com/in").is_ok());
        assert!(strict.check_url("http://hooks.example.com/in").is_err());
        assert!(strict.check_url("http://127.0.0.1:9000/in").is_err());
        assert!(strict.check_url("https://127.0.0.1:9000/in").is_err());
        assert!(loopback.check_url("http://127.0.0.1:9000/in").is_ok());
        assert!(loopback.check_url("http://localhost:9000/in").is_ok());
        assert!(loopback.check_url("http://hooks.example.com/in").is_err());
        assert!(loopback.check_url("http://10.0.0.1/in").is_err());
        assert!(strict.check_url("ftp://hooks.example.com/in").is_err());
        assert!(
            strict
                .check_url("https://user:pw@hooks.example.com/in")
                .is_err()
        );
        assert!(strict.check_url("https://[fe80::1]/in").is_err());
        let long = format!("https://hooks.example.com/{}", "a".repeat(URL_MAX));
        assert!(
            strict
                .check_url(&long)
                .unwrap_err()
                .to_string()
                .contains("2048")
        );
        let exempt = TargetPolicy {
            allowed_hosts: vec!["10.0.0.7".into()],
            ..TargetPolicy::default()
        };
        assert!(exempt.check_url("https://10.0.0.7/in").is_ok());
    }
}
