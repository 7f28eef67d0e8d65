//! The admin web console under `/console`: server-rendered pages (maud) for
//! org admins to manage Service Access Tokens, workspaces, members, group
//! mappings and single sign-on, to read the audit log and to stream it to a
//! SIEM. It owns no business logic: every action calls the
//! API's own use case (`use_cases`), as the API's `Caller` built from the
//! session cookie, so it is authorized by the permission core and recorded
//! exactly as the API records it (actor kind `member_session`); a refusal
//! becomes a page (`error`). Assets are embedded; pages make no outside
//! request and run no inline script.

mod assets;
mod audit_logs;
mod audit_streams;
mod error;
mod group_mappings;
mod layout;
mod members;
mod picker;
mod session;
mod sign_in;
pub mod sso;
mod sso_settings;
mod token_edit;
mod tokens;
mod workspaces;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::http::ApiError;
use crate::http::AppState;
use crate::http::route::{Routes, get, post};

/// The console's routes, each named like the API call it mirrors, so that a
/// page of tokens is `sat.list` wherever it was read; a page that mirrors
/// none is `console.view`.
pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route("/", get(VIEW, || async { Redirect::to("/console/tokens") }))
        .route(
            "/sign-in",
            get(VIEW, sign_in::page).post(VIEW, sign_in::submit),
        )
        .route("/sign-out", post(VIEW, sign_in::sign_out))
        .route("/sign-in/sso", get(VIEW, sso::continue_page))
        .route(
            "/tokens",
            get("sat.list", tokens::list).post("sat.create", tokens::create),
        )
        .route("/tokens/new", get(VIEW, tokens::new))
        .route(
            "/tokens/{id}/edit",
            get("sat.read", token_edit::page).post("sat.update", token_edit::save),
        )
        .route("/tokens/{id}/reduce", post("sat.update", tokens::reduce))
        .route(
            "/tokens/{id}/revoke",
            get("sat.read", tokens::confirm_revoke).post("sat.revoke", tokens::revoke),
        )
        .route(
            "/tokens/{id}/rotate",
            get("sat.read", tokens::confirm_rotate).post("sat.rotate", tokens::rotate),
        )
        .route(
            "/workspaces",
            get("workspace.list", workspaces::list).post("workspace.create", workspaces::create),
        )
        .route("/members", get("member.list", members::list))
        .route("/members/{id}", post("member.update", members::update))
        .route(
            "/group-mappings",
            get("group_mapping.list", group_mappings::list)
                .post("group_mapping.create", group_mappings::create),
        )
        .route(
            "/group-mappings/{id}/delete",
            post("group_mapping.delete", group_mappings::delete),
        )
        .route("/audit-logs", get("audit_logs.list", audit_logs::list))
        .route(
            "/audit-logs/export",
            get("audit_logs.export", audit_logs::export),
        )
        .route(
            "/audit-logs/verify",
            get("audit_logs.verify", audit_logs::verify),
        )
        .route(
            "/audit-logs/{id}",
            get("audit_logs.read", audit_logs::detail),
        )
        .route(
            "/sso",
            get("sso.read", sso_settings::page).post("sso.update", sso_settings::save),
        )
        .route(
            "/sso/remove",
            get("sso.read", sso_settings::confirm_remove).post("sso.delete", sso_settings::remove),
        )
        .route(
            "/audit-streams",
            get("audit_stream.list", audit_streams::list)
                .post("audit_stream.create", audit_streams::create),
        )
        .route("/assets/console.css", get(VIEW, assets::css))
        .route("/assets/console.js", get(VIEW, assets::js))
        .route("/assets/favicon.svg", get(VIEW, assets::icon))
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
}

/// The trail's name for a console page that mirrors no API call.
const VIEW: &str = "console.view";

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
