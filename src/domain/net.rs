//! Address ranges: which peers are trusted reverse proxies.

use std::net::IpAddr;
use std::str::FromStr;

/// An address or a CIDR range (`10.0.0.0/8`, `::1`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an IP address or CIDR range")]
pub struct InvalidRange(pub String);

impl FromStr for IpRange {
    type Err = InvalidRange;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidRange(text.to_owned());
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().map_err(|_| invalid())?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse::<u8>().map_err(|_| invalid())?,
            None => width,
        };
        if prefix > width {
            return Err(invalid());
        }
        Ok(Self { network, prefix })
    }
}

impl IpRange {
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        match (canonical(self.network), address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// IPv4 peers reached over an IPv6 socket (`::ffff:10.0.0.1`) compare as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The client as the per-address limits count it: an IPv4 address, or the
/// /64 an IPv6 address is in (one subscriber's or host's network: a client
/// holds the whole /64 and could otherwise take a fresh address per try).
fn limit_key(address: IpAddr) -> String {
    match canonical(address) {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !u128::from(u64::MAX);
            format!("{}/64", std::net::Ipv6Addr::from(network))
        }
        v4 => v4.to_string(),
    }
}

/// The reverse proxies whose forwarding header (`server.client_address_header`) counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpRange>);

impl TrustedProxies {
    pub fn parse<S: AsRef<str>>(ranges: &[S]) -> Result<Self, InvalidRange> {
        ranges
            .iter()
            .map(|r| r.as_ref().parse())
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(address))
    }

    /// The client behind a chain of proxies: walking the forwarded addresses
    /// from the nearest hop, the first one that is not a trusted proxy (what
    /// the last trusted proxy saw connecting). The peer itself when it is
    /// not trusted: then nothing it claims counts.
    pub fn client(&self, peer: IpAddr, forwarded: &[String]) -> String {
        if !self.trusts(peer) {
            return limit_key(peer);
        }
        for hop in forwarded.iter().rev() {
            match parse_hop(hop) {
                Some(address) if self.trusts(address) => continue,
                Some(address) => return limit_key(address),
                // An obfuscated or unknown hop ("unknown", "_hidden") is
                // what that proxy says; it is the client as far as we know.
                None => return hop.trim().to_owned(),
            }
        }
        forwarded
            .first()
            .and_then(|hop| parse_hop(hop))
            .map_or_else(|| limit_key(peer), limit_key)
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443`, `2001:db8::1`, with or without quotes.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(address) = hop.parse() {
        return Some(address);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    hop.rsplit_once(':')?
        .0
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let range: IpRange = "10.0.0.0/8".parse().unwrap();
        assert!(range.contains(ip("10.200.3.4")));
        assert!(range.contains(ip("::ffff:10.1.1.1")));
        assert!(!range.contains(ip("11.0.0.1")));
        let one: IpRange = "192.168.1.7".parse().unwrap();
        assert!(one.contains(ip("192.168.1.7")) && !one.contains(ip("192.168.1.8")));
        let v6: IpRange = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(
            "0.0.0.0/0"
                .parse::<IpRange>()
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
        for bad in ["", "10.0.0.0/33", "::/129", "nope", "10.0.0.0/x"] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_a_trusted_peer_may_say_who_the_client_is() {
        let proxies = TrustedProxies::parse(&["127.0.0.1", "10.0.0.0/8"]).unwrap();
        let hops = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        // An untrusted peer's headers are ignored.
        assert_eq!(
            proxies.client(ip("203.0.113.9"), &hops(&["1.1.1.1"])),
            "203.0.113.9"
        );
        // Through two trusted proxies, the first untrusted hop from the right.
        assert_eq!(
            proxies.client(
                ip("127.0.0.1"),
                &hops(&["6.6.6.6", "198.51.100.4", "10.0.0.5"])
            ),
            "198.51.100.4",
            "what a client wrote on the left does not count"
        );
        // IPv6 clients count by their /64: the addresses in it are one client's.
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &hops(&["[2001:db8::1]:443"])),
            "2001:db8::/64"
        );
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &hops(&["[2001:db8::abcd:1:2:3]:443"])),
            "2001:db8::/64"
        );
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &hops(&["[2001:db8:0:1::1]:443"])),
            "2001:db8:0:1::/64"
        );
        assert_eq!(
            TrustedProxies::default().client(ip("::ffff:192.0.2.1"), &[]),
            "192.0.2.1"
        );
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &hops(&["198.51.100.4:5555"])),
            "198.51.100.4"
        );
        // No header: the proxy itself.
        assert_eq!(proxies.client(ip("127.0.0.1"), &[]), "127.0.0.1");
        assert_eq!(
            TrustedProxies::default().client(ip("127.0.0.1"), &hops(&["1.1.1.1"])),
            "127.0.0.1"
        );
    }
}
