//! The token authority for workspace services: introspection (RFC 7662) and
//! exchange of a SAT for a short-lived signed JWT (RFC 8693) that services
//! verify offline against `/.well-known/jwks.json`.

mod doc;
mod exchange;
mod form;
mod introspect;
mod jwks;

use crate::http::AppState;
use crate::http::route::{Routes, post};

pub use doc::OAuthApi;
pub use exchange::{EXCHANGED_TOKEN_TTL_SECONDS, ExchangedClaims};
pub use jwks::jwks;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route(
            "/tokens/introspect",
            post("token.introspect", introspect::introspect),
        )
        .route(
            "/tokens/exchange",
            post("token.exchange", exchange::exchange),
        )
}
