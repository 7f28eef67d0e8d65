//! The console's side of signing in through the identity provider: the
//! end of a sign-in the console started (only admins get a console
//! session, as with a password), and its refusals as pages. The round trip
//! itself is `sso_login`'s; the sign-in page's button starts it.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::json;

use super::error::error_page;
use super::layout;
use super::session::{SESSION_COOKIE, cookie};
pub use super::session::{read_cookie, served_over_tls};
use crate::audit::{Actor, AuditEvent, RequestContext, Target};
use crate::http::{ApiError, AppState};
use crate::identity::members::Member;
use crate::permissions::{Action, Principal, authorize};

/// Ends a console sign-in: the session cookie and the way in, for admins;
/// for anyone else a page, and the refusal recorded as `auth.denied`.
pub async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    ctx: &RequestContext,
    member: &Member,
    jwt: &str,
) -> Response {
    let principal = Principal::Session {
        org_id: member.org_id,
        member_id: member.id,
        user_name: member.user_name.clone(),
        role: member.role(),
    };
    if let Err(denied) = authorize(&principal, Action::ManageServiceTokens) {
        let event = AuditEvent::new(
            Some(member.org_id),
            Actor::of(&principal),
            "auth.denied",
            ctx,
        )
        .target(Target::new(
            "endpoint",
            "GET /api/v1/auth/sso/callback",
            None,
        ))
        .failure(denied.to_string())
        .status(StatusCode::FORBIDDEN.as_u16())
        .changes(json!({ "missing_permission": denied.missing }));
        if let Err(e) = state.audit.record(event).await {
            return ApiError::from(e).into_response();
        }
        return error_page(
            StatusCode::FORBIDDEN,
            "Admins only",
            "Your identity provider signed you in, but only organization admins can use the \
             console. Ask an admin of your organization if you need access.",
        );
    }
    let secure = served_over_tls(state, headers);
    let mut resp = Redirect::to("/console/tokens").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie(
            SESSION_COOKIE,
            jwt,
            "/console",
            state.sessions.ttl_seconds(),
            secure,
        ),
    );
    resp
}

/// A refused sign-in, as a page with the way back to the sign-in page.
pub fn refused(status: StatusCode, message: &str, code: &str) -> Response {
    let body = html! {
        h1 { "Sign-in refused" }
        p role="alert" { (message) }
        p class="muted" { "Reason: " code { (code) } }
        p { a href="/console/sign-in" { "Back to sign-in" } }
    };
    layout::respond(status, layout::page("Sign-in refused", None, body))
}
