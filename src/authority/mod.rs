//! The token authority for workspace services: introspection (RFC 7662) and
//! exchange of a SAT for a short-lived signed JWT (RFC 8693) that services
//! verify offline against `/.well-known/jwks.json`.

mod exchange;
mod form;
mod introspect;

use axum::Router;
use axum::routing::post;

use crate::http::AppState;

pub use exchange::{EXCHANGED_TOKEN_TTL_SECONDS, ExchangedClaims};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens/introspect", post(introspect::introspect))
        .route("/tokens/exchange", post(exchange::exchange))
}
