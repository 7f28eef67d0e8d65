//! Where a stream may send: an `http(s)` URL without credentials, and, unless
//! the operator allows private addresses (`--audit-stream-allow-private`),
//! never a loopback, link-local, private or otherwise non-public address.
//! The URL's text is checked when a stream is created or changed; the
//! addresses its name resolves to are checked again at each connection
//! ([`GuardedResolver`]), so that a name re-pointed at an internal address
//! (DNS rebinding) is refused too.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;
use url::Url;

use super::StreamError;

/// Longest stream URL accepted.
const MAX_URL: usize = 2048;

/// Checks a stream URL: `http` or `https`, a host, no user or password, and
/// (unless `allow_private`) no non-public address or local name as host.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, StreamError> {
    let invalid = |m: &str| StreamError::Invalid(format!("`url` {m}"));
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL {
        return Err(invalid("must be an http(s) URL of at most 2048 characters"));
    }
    let url = Url::parse(raw).map_err(|_| invalid("is not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must use http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "must not carry credentials: the receiver checks the signature instead",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid("must not have a fragment"));
    }
    if !allow_private {
        check_host(&url)?;
    }
    Ok(url)
}

/// Refuses a URL whose host is a non-public address literal or a local name.
/// Names are resolved (and checked) only when connecting.
pub fn check_host(url: &Url) -> Result<(), StreamError> {
    let refused = || {
        StreamError::Invalid(
            "`url` must not target a loopback, link-local or private address \
             (the operator may allow them with --audit-stream-allow-private)"
                .into(),
        )
    };
    let host = url
        .host_str()
        .ok_or_else(|| StreamError::Invalid("`url` must name a host".into()))?;
    // The URL parser has already normalized numeric forms (`2130706433`,
    // `0x7f.1`) to dotted quads; IPv6 literals keep their brackets.
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return if is_public(ip) {
            Ok(())
        } else {
            Err(refused())
        };
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return Err(refused());
    }
    Ok(())
}

/// Whether an address is on the public internet: not loopback, private,
/// link-local, shared (CGNAT), unspecified, multicast, broadcast or
/// documentation space, and for IPv6 not unique-local, link-local, or an
/// IPv4-mapped or NAT64 form of such an IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (RFC 6598).
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments (RFC 6890).
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking (RFC 2544) and reserved (240/4).
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0) {
        let [.., hi, lo] = s;
        return is_public_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local (fc00::/7) and link-local (fe80::/10).
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        // Site-local (deprecated, fec0::/10) and documentation (2001:db8::/32).
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        // IPv4-compatible (deprecated) ::a.b.c.d.
        || s[..6].iter().all(|&x| x == 0))
}

/// The resolver of the delivery client: resolves a name and refuses it
/// when any of its addresses is not public (unless private addresses are
/// allowed). The connection is then made to the addresses it checked.
#[derive(Clone)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl GuardedResolver {
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }
}

impl tower::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(std::io::Error::other(format!(
                    "{host} resolves to {}, which is not a public address",
                    bad.ip()
                )));
            }
            Ok(addrs.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_recognized() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://siem.example.com/ingest?x=1", false).is_ok());
        assert!(check_url("http://siem.example.com:8088/", false).is_ok());
        for bad in [
            "ftp://siem.example.com/",
            "https://user:pass@siem.example.com/",
            "https://user@siem.example.com/",
            "not a url",
            "",
            "https://siem.example.com/#frag",
            "http://127.0.0.1:9000/",
            "http://[::1]/",
            "http://10.0.0.8/",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost:8080/",
            "http://api.localhost/",
            "http://2130706433/",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        // Allowed private addresses, never other schemes or credentials.
        assert!(check_url("http://127.0.0.1:9000/", true).is_ok());
        assert!(check_url("http://localhost/", true).is_ok());
        assert!(check_url("https://u:p@10.0.0.1/", true).is_err());
        assert!(check_url("file:///etc/passwd", true).is_err());
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_local_addresses() {
        use tower::Service;
        let name: Name = "localhost".parse().unwrap();
        let refused = GuardedResolver::new(false).call(name).await;
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("not a public address")
        );
        let name: Name = "localhost".parse().unwrap();
        let allowed = GuardedResolver::new(true).call(name).await;
        assert!(allowed.unwrap().next().is_some());
    }
}
