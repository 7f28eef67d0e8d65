//! The admin web console under `/console`: server-rendered pages (maud) for
//! org admins to manage Service Access Tokens and workspaces and to read the
//! audit log. It owns no business logic: every action calls the same
//! functions as the API, with the API's `Caller` built from the session
//! cookie, so it is authorized by the permission core and recorded exactly
//! as the API records it (actor kind `member_session`). Assets are embedded;
//! pages make no outside request and run no inline script.

mod assets;
mod audit_logs;
mod error;
mod layout;
mod session;
mod sign_in;
mod tokens;
mod workspaces;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::http::ApiError;
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/tokens") }))
        .route("/sign-in", get(sign_in::page).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/new", get(tokens::new))
        .route(
            "/tokens/{id}/revoke",
            get(tokens::confirm_revoke).post(tokens::revoke),
        )
        .route(
            "/tokens/{id}/rotate",
            get(tokens::confirm_rotate).post(tokens::rotate),
        )
        .route(
            "/workspaces",
            get(workspaces::list).post(workspaces::create),
        )
        .route("/audit-logs", get(audit_logs::list))
        .route("/audit-logs/export", get(audit_logs::export))
        .route("/audit-logs/verify", get(audit_logs::verify))
        .route("/audit-logs/{id}", get(audit_logs::detail))
        .route("/assets/console.css", get(assets::css))
        .route("/assets/console.js", get(assets::js))
        .route("/assets/favicon.svg", get(assets::icon))
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
}

async fn not_found() -> Response {
    error::ConsoleError::Api(ApiError::NotFound("page".into())).into_response()
}

/// Headers on every console response: only our own embedded script and
/// style may run, no framing, no referrer, no MIME sniffing. Pages are not
/// cached (assets set their own policy).
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// The audit-trail action of a console request that no handler recorded
/// (`rest` is the path after `/console`): named like the API call it
/// mirrors, so a page of tokens is `sat.list` wherever it was read.
pub fn trail_action(method: &Method, rest: &[&str]) -> String {
    let get = *method == Method::GET || *method == Method::HEAD;
    let post = *method == Method::POST;
    match rest {
        ["tokens"] if get => "sat.list",
        ["tokens"] if post => "sat.create",
        ["tokens", _, "revoke"] if post => "sat.revoke",
        ["tokens", _, "rotate"] if post => "sat.rotate",
        ["tokens", _, _] if get => "sat.read",
        ["workspaces"] if get => "workspace.list",
        ["workspaces"] if post => "workspace.create",
        ["audit-logs"] if get => "audit_logs.list",
        ["audit-logs", "export"] => "audit_logs.export",
        ["audit-logs", "verify"] => "audit_logs.verify",
        ["audit-logs", _] if get => "audit_logs.read",
        _ => "console.view",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_calls_are_named_like_the_api_calls_they_mirror() {
        let cases: [(Method, &[&str], &str); 7] = [
            (Method::GET, &["tokens"], "sat.list"),
            (Method::POST, &["tokens"], "sat.create"),
            (Method::POST, &["tokens", "x", "rotate"], "sat.rotate"),
            (Method::GET, &["audit-logs"], "audit_logs.list"),
            (Method::GET, &["audit-logs", "export"], "audit_logs.export"),
            (Method::GET, &["audit-logs", "x"], "audit_logs.read"),
            (Method::GET, &["tokens", "new"], "console.view"),
        ];
        for (m, rest, want) in cases {
            assert_eq!(trail_action(&m, rest), want, "{m} {rest:?}");
        }
    }
}
