//! `GET /.well-known/jwks.json`: the public keys token verifiers need.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::EXCHANGED_TOKEN_TTL_SECONDS;
use crate::http::AppState;

/// `GET /.well-known/jwks.json`: the public keys token verifiers need, for
/// anyone: the current key, and superseded keys until the last token they
/// signed (an exchanged token or a session) has expired, plus
/// [`crate::signing::JWKS_MARGIN`]. Audit checkpoints
/// are verified against every key ever used: `/api/v1/audit-logs/jwks`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let longest = EXCHANGED_TOKEN_TTL_SECONDS.max(state.sessions.ttl_seconds());
    let keys = state.signer.token_jwks(
        crate::store::Timestamp::now(),
        time::Duration::seconds(longest),
    );
    let mut resp = axum::Json(keys).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}
