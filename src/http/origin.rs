//! The origin this server names in what it returns (SCIM `meta.location`,
//! `$ref` and `Location`): the configured public URL, or else the request's
//! `Host` header, but only when that is a well-formed `host[:port]`. A Host
//! is whatever the client sent; copied unchecked it would reflect markup or
//! a foreign URL into responses (`evil.example"><x`).

use std::net::Ipv6Addr;

use axum::http::{HeaderMap, header};

/// The origin (`scheme://authority`, no trailing slash) for absolute URLs
/// in a response; `None` when no public URL is configured and the request's
/// Host is missing or not a valid authority.
pub fn request_origin(public_url: Option<&str>, headers: &HeaderMap) -> Option<String> {
    if let Some(url) = public_url {
        return Some(url.trim_end_matches('/').to_string());
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    valid_authority(host).then(|| format!("http://{host}"))
}

/// `host[:port]` as RFC 3986 allows it in a Host header, with the host a
/// DNS name, an IPv4 address or a bracketed IPv6 address; no user info, no
/// path, nothing percent-encoded.
pub fn valid_authority(authority: &str) -> bool {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return false;
        };
        if inside.parse::<Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return false,
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(authority), None),
        }
    };
    host.is_none_or(valid_host_name) && port.is_none_or(valid_port)
}

/// A DNS name or dotted IPv4 address: labels of letters, digits and
/// hyphens, none empty or longer than 63, 253 characters in all.
fn valid_host_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn valid_port(port: &str) -> bool {
    (1..=5).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn ordinary_hosts_are_authorities() {
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:8080",
            "scim.example.com",
            "scim.example.com.",
            "[::1]",
            "[::1]:8080",
            "xn--bcher-kva.example:443",
        ] {
            assert!(valid_authority(ok), "{ok}");
        }
    }

    #[test]
    fn anything_else_is_not() {
        for bad in [
            "",
            "evil.example\"><x",
            "evil.example/path",
            "user@evil.example",
            "evil.example:",
            "evil.example:99999",
            "evil.example:80:80",
            "[::1",
            "[not-ipv6]:80",
            "[::1]x",
            "a..b",
            "-a.example",
            "a b",
            "%65vil.example",
            "host:+80",
        ] {
            assert!(!valid_authority(bad), "{bad:?}");
        }
        assert!(!valid_authority(&"a".repeat(64)));
        assert!(!valid_authority(&["a"; 130].join(".")));
    }

    #[test]
    fn the_public_url_wins_and_a_bad_host_yields_nothing() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("evil.example\"><x"));
        assert_eq!(request_origin(None, &h), None);
        assert_eq!(
            request_origin(Some("https://scim.example.com/"), &h).as_deref(),
            Some("https://scim.example.com")
        );
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(
            request_origin(None, &h).as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(request_origin(None, &HeaderMap::new()), None);
    }
}
