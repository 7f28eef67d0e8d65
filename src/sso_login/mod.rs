//! Sign-in through the organization's identity provider, over HTTP: the
//! browser's round trip `GET /api/v1/auth/sso/start` → the provider →
//! `GET /api/v1/auth/sso/callback`, answered as an API session (the body
//! `/api/v1/auth/login` answers) or, when the console started it, with the
//! console's session cookie. The protocol is in `sso`; this edge parses,
//! records every outcome (`auth.sso`, with a reason code when refused) and
//! renders. It sits beside `admin_api` and `console` because it answers in
//! the forms of both.

mod callback;
mod doc;
mod refusal;
mod start;

pub use doc::SsoLoginApi;

use crate::http::AppState;
use crate::http::route::{Routes, get};

/// The action every record of an SSO sign-in is filed under.
pub const ACTION: &str = "auth.sso";

/// Routes under `/api/v1`.
pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route("/auth/sso/start", get(ACTION, start::start))
        .route("/auth/sso/callback", get(ACTION, callback::callback))
}
