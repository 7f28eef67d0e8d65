//! Requests no HTTP client library will send (a bare LF in a header, `../`
//! left unnormalised in a path, conflicting lengths), written byte for
//! byte on a TCP socket. Those hyper refuses before any route sees them get
//! its bare 400, the HTTP layer's own error form ([`Proto::Http`]).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::case::Proto;
use super::check::Outcome;
use crate::support::TestApp;

/// A request written byte for byte on a socket.
pub struct RawCase {
    pub name: &'static str,
    pub request: Vec<u8>,
    pub proto: Proto,
}

#[rustfmt::skip]
pub fn cases(scim_token: &str) -> Vec<RawCase> {
    let req = |head: &str| format!("{head}\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    let rows: Vec<(&'static str, Proto, Vec<u8>)> = vec![
        ("literal ../ in a SCIM id", Proto::Scim,
            req(&format!("GET /scim/v2/Users/../../../etc/passwd HTTP/1.1\r\nauthorization: Bearer {scim_token}")).into_bytes()),
        ("literal ../ out of /api/v1", Proto::Api,
            req("GET /api/v1/../../etc/passwd HTTP/1.1").into_bytes()),
        ("bare LF header injection in Authorization", Proto::Http,
            b"GET /api/v1/tokens/self HTTP/1.1\r\nauthorization: Bearer x\nx-injected: 1\r\nhost: localhost\r\nconnection: close\r\n\r\n".to_vec()),
        ("NUL in a header value", Proto::Http,
            b"GET /api/v1/tokens/self HTTP/1.1\r\nx-request-id: a\x00b\r\nhost: localhost\r\nconnection: close\r\n\r\n".to_vec()),
        ("CR LF smuggled in the request line", Proto::Scim,
            b"GET /scim/v2/Users%0D%0Ax-injected:%201 HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n".to_vec()),
        ("200 KiB Authorization header", Proto::Http,
            req(&format!("GET /api/v1/tokens/self HTTP/1.1\r\nauthorization: Bearer {}", "a".repeat(200 * 1024))).into_bytes()),
        ("Content-Length and Transfer-Encoding both", Proto::Http,
            b"POST /api/v1/workspaces HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n0\r\n\r\n".to_vec()),
        ("negative Content-Length", Proto::Http,
            b"POST /api/v1/workspaces HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: -1\r\nconnection: close\r\n\r\n{}".to_vec()),
        ("Content-Length beyond the limit (body never sent)", Proto::Api,
            format!("POST /api/v1/workspaces HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{{}}", u64::MAX / 2).into_bytes()),
        ("Host header with markup", Proto::Scim,
            format!("GET /scim/v2/Users/nope HTTP/1.1\r\nhost: evil.example/\"><script>\r\nauthorization: Bearer {scim_token}\r\nconnection: close\r\n\r\n").into_bytes()),
    ];
    rows.into_iter()
        .map(|(name, proto, request)| RawCase { name, request, proto })
        .collect()
}

pub async fn send(app: &TestApp, request: &[u8]) -> Outcome {
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    // The server may answer and close before reading everything.
    let _ = s.write_all(request).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Outcome {
        status,
        headers,
        body: body.as_bytes().to_vec(),
    }
}
