//! Who the client is, for every limit kept per client address (sign-in
//! failures, sign-ups, account mail, password jobs, the admin API's
//! refused keys): the connection's peer, or, when that peer is one of
//! `server.trusted_proxies`, the client named by the one header
//! `server.client_address_header` picks. The other header is never read:
//! a proxy that sets only `X-Forwarded-For` passes a client's own
//! `Forwarded` through untouched, and preferring that one let the client
//! choose its address.

use crate::config::ClientAddressHeader;
use crate::domain::net::TrustedProxies;
use crate::state::AppState;
use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use std::net::IpAddr;

/// The client's address, as every per-address limit counts it.
pub fn client_address(req: &HttpRequest, state: &AppState) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return String::new();
    };
    client_of(
        peer,
        req.headers(),
        &state.trusted_proxies,
        state.settings.server.client_address_header,
    )
}

fn client_of(
    peer: IpAddr,
    headers: &HeaderMap,
    proxies: &TrustedProxies,
    header: ClientAddressHeader,
) -> String {
    // From an untrusted peer nothing it wrote counts, so nothing is parsed.
    if !proxies.trusts(peer) {
        return proxies.client(peer, &[]);
    }
    let elements = headers
        .get_all(header.name())
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim);
    let hops: Vec<String> = match header {
        ClientAddressHeader::XForwardedFor => elements.map(str::to_owned).collect(),
        // RFC 7239: `for=` of each element; elements without one name no hop.
        ClientAddressHeader::Forwarded => elements
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| value.trim().trim_matches('"').to_owned())
                })
            })
            .collect(),
    };
    proxies.client(peer, &hops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn proxy() -> (IpAddr, TrustedProxies) {
        (
            "127.0.0.1".parse().unwrap(),
            TrustedProxies::parse(&["127.0.0.1"]).unwrap(),
        )
    }

    #[test]
    fn only_the_chosen_header_names_the_client() {
        let (peer, proxies) = proxy();
        let both = headers(&[
            ("forwarded", "for=198.51.100.1"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            client_of(peer, &both, &proxies, ClientAddressHeader::XForwardedFor),
            "203.0.113.9"
        );
        assert_eq!(
            client_of(peer, &both, &proxies, ClientAddressHeader::Forwarded),
            "198.51.100.1"
        );
        // The chosen header missing: the proxy itself, never the other header.
        let only_forwarded = headers(&[("forwarded", "for=198.51.100.1")]);
        assert_eq!(
            client_of(
                peer,
                &only_forwarded,
                &proxies,
                ClientAddressHeader::XForwardedFor
            ),
            "127.0.0.1"
        );
        let only_xff = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            client_of(peer, &only_xff, &proxies, ClientAddressHeader::Forwarded),
            "127.0.0.1"
        );
    }

    #[test]
    fn forwarded_elements_and_lines_read_as_one_chain() {
        let (peer, proxies) = proxy();
        let chain = headers(&[
            ("forwarded", "for=6.6.6.6;proto=http"),
            (
                "forwarded",
                "proto=https;For=\"[2001:db8::7]:4711\", by=127.0.0.1",
            ),
        ]);
        assert_eq!(
            client_of(peer, &chain, &proxies, ClientAddressHeader::Forwarded),
            "2001:db8::/64",
            "the nearest untrusted hop (an IPv6 client counts by its /64); an element without for= names none"
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let (_, proxies) = proxy();
        let stranger: IpAddr = "192.0.2.44".parse().unwrap();
        let spoofed = headers(&[
            ("forwarded", "for=198.51.100.1"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        for header in [
            ClientAddressHeader::XForwardedFor,
            ClientAddressHeader::Forwarded,
        ] {
            assert_eq!(
                client_of(stranger, &spoofed, &proxies, header),
                "192.0.2.44"
            );
        }
    }
}
