//! Response headers every API and SCIM answer carries unless its handler
//! set its own: `X-Content-Type-Options: nosniff` (a JSON body is never
//! sniffed into something a browser would run), and, under `/api` and
//! `/scim`, `Cache-Control: no-store`: these answers hold tokens, sessions,
//! identities and audit records, which no shared or browser cache should
//! keep. Handlers that want caching (the public JWKS) set their own header,
//! and it wins.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

pub async fn middleware(req: Request, next: Next) -> Response {
    let private = {
        let path = req.uri().path();
        path.starts_with("/api/") || path.starts_with("/scim/")
    };
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    if private {
        h.entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    resp
}
