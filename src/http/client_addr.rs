//! The client's address: the TCP peer, or, when the peer is a configured
//! trusted proxy, the address that proxy (and any trusted proxy before it)
//! says it forwarded for in `X-Forwarded-For`.
//!
//! Why one place: audit records, token CIDR allowlists, last-used data and
//! the per-address abuse limits must all agree on who the client is. Behind
//! a load balancer the peer is always the balancer, which makes allowlists
//! useless and lumps every client into one rate-limit key; but the header is
//! written by whoever sends the request, so it is believed only from peers
//! the operator named. The middleware runs before the limits and stores
//! [`ClientAddr`] as a request extension; everything else reads that.

use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::tokens::parse_network;

/// The address a request is attributed to (IPv4-mapped IPv6 addresses as
/// plain IPv4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Networks whose `X-Forwarded-For` is believed. Empty (the default): the
/// header is ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses CIDRs or bare addresses (one host); blank items are skipped,
    /// so an empty setting means none.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, String> {
        items
            .iter()
            .map(|s| s.as_ref().trim())
            .filter(|s| !s.is_empty())
            .map(|s| parse_network(s).map_err(|e| format!("trusted proxy {e}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn trusts(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client of a request from `peer`: walk `X-Forwarded-For` from
    /// the right (each proxy appends the address it received from) for as
    /// long as the current hop is trusted. Entries left of the first
    /// untrusted address are whatever the client chose to send, and an
    /// entry that is not an address ends the walk at the last good one.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if self.0.is_empty() {
            return client;
        }
        // Header lines in order make one list; a line that is not text
        // counts as one unparsable entry.
        let entries = headers
            .get_all("x-forwarded-for")
            .iter()
            .rev()
            .flat_map(|line| line.to_str().unwrap_or("").rsplit(','));
        for entry in entries {
            if !self.trusts(client) {
                break;
            }
            match parse_entry(entry) {
                Some(addr) => client = addr,
                None => break,
            }
        }
        client
    }
}

/// An address, or an IPv4 address with a port (some proxies add one).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| {
            entry
                .parse::<SocketAddrV4>()
                .ok()
                .map(|a| IpAddr::V4(*a.ip()))
        })
        .map(|a| a.to_canonical())
}

/// Stores the request's [`ClientAddr`] (absent only when the server was not
/// started through [`super::listener`], which gives the peer).
pub async fn middleware(
    State(proxies): State<Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let client = proxies.client(peer.ip(), req.headers());
        req.extensions_mut().insert(ClientAddr(client));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const PEER: &str = "10.0.0.5";

    fn proxies(items: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(items).unwrap()
    }

    fn headers(lines: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append("x-forwarded-for", HeaderValue::from_bytes(l).unwrap());
        }
        h
    }

    fn client(p: &TrustedProxies, peer: &str, lines: &[&[u8]]) -> String {
        p.client(peer.parse().unwrap(), &headers(lines)).to_string()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::default();
        assert_eq!(client(&none, PEER, &[b"203.0.113.7"]), PEER);
        assert_eq!(client(&none, PEER, &[]), PEER);
    }

    #[test]
    fn a_trusted_peer_forwards_for_the_rightmost_untrusted_address() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(client(&p, PEER, &[b"203.0.113.7"]), "203.0.113.7");
        // No header: the proxy itself is the client.
        assert_eq!(client(&p, PEER, &[]), PEER);
        // An untrusted peer's header is not read.
        assert_eq!(client(&p, "192.0.2.1", &[b"203.0.113.7"]), "192.0.2.1");
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_walked_and_spoofed_entries_ignored() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.1"]);
        let got = client(&p, PEER, &[b"1.1.1.1, 203.0.113.7 ,192.168.1.1, 10.9.9.9"]);
        assert_eq!(got, "203.0.113.7");
        // Whatever the client put left of itself is never reached, trusted
        // addresses included.
        let got = client(&p, PEER, &[b"10.1.1.1, 198.51.100.4, 10.2.2.2"]);
        assert_eq!(got, "198.51.100.4");
        // All trusted: the leftmost is the client.
        assert_eq!(client(&p, PEER, &[b"10.1.1.1, 10.2.2.2"]), "10.1.1.1");
    }

    #[test]
    fn an_entry_that_is_not_an_address_stops_at_the_last_good_one() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(client(&p, PEER, &[b"203.0.113.7, unknown"]), PEER);
        assert_eq!(client(&p, PEER, &[b"203.0.113.7, 10.1.1.1, "]), PEER);
        assert_eq!(
            client(&p, PEER, &[b"203.0.113.7, nope, 10.1.1.1"]),
            "10.1.1.1"
        );
        assert_eq!(client(&p, PEER, &[b"\xff\xfe"]), PEER);
        // IPv4 with a port is an address; bracketed IPv6 is not accepted.
        assert_eq!(client(&p, PEER, &[b"203.0.113.7:4711"]), "203.0.113.7");
        assert_eq!(client(&p, PEER, &[b"[2001:db8::1]:443"]), PEER);
        assert_eq!(client(&p, PEER, &[b"2001:db8::1"]), "2001:db8::1");
    }

    #[test]
    fn several_header_lines_make_one_list_in_order() {
        let p = proxies(&["10.0.0.0/8"]);
        let got = client(&p, PEER, &[b"198.51.100.1, 203.0.113.7", b"10.1.1.1"]);
        assert_eq!(got, "203.0.113.7");
        let got = client(&p, PEER, &[b"198.51.100.1", b"10.1.1.1, 10.2.2.2"]);
        assert_eq!(got, "198.51.100.1");
    }

    #[test]
    fn mapped_ipv6_matches_ipv4_networks_and_is_reported_as_ipv4() {
        let p = proxies(&["10.0.0.0/8"]);
        let got = client(&p, "::ffff:10.0.0.5", &[b"::ffff:203.0.113.7"]);
        assert_eq!(got, "203.0.113.7");
        let none = TrustedProxies::default();
        assert_eq!(client(&none, "::ffff:10.0.0.5", &[]), PEER);
    }

    #[test]
    fn configuration_is_checked() {
        assert_eq!(proxies(&["", " "]), TrustedProxies::default());
        assert_eq!(proxies(&["10.1.2.3/8"]), proxies(&["10.0.0.0/8"]));
        let err = TrustedProxies::parse(&["10.0.0.0/8", "proxy.internal"]).unwrap_err();
        assert!(err.contains("proxy.internal"), "{err}");
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
    }
}
