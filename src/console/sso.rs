//! The console's side of signing in through the identity provider: the
//! end of a sign-in the console started (only admins get a console
//! session, as with a password), and its refusals as pages. The round trip
//! itself is `sso_login`'s. The sign-in page's form asks for the
//! organization and leads to a link that starts it: a link, not a form,
//! because the console's `form-action 'self'` would stop a form's
//! redirect to the identity provider.

use axum::http::{HeaderMap, StatusCode, Uri, header};
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
        // The effective role, group mappings included (issue 13).
        access: member.access(),
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

/// The sign-in page's way to the identity provider.
pub fn button() -> maud::Markup {
    html! {
        hr;
        form method="get" action="/console/sign-in/sso" class="stack narrow" {
            label for="sso_organization" { "Organization" }
            input id="sso_organization" name="organization" type="text" required
                autocomplete="organization";
            button type="submit" { "Sign in with your identity provider" }
        }
    }
}

/// `GET /console/sign-in/sso?organization=…`: the link that starts the
/// round trip for the console.
pub async fn continue_page(uri: Uri) -> Response {
    let q = super::session::FormData::from_query(uri.query());
    let organization = q.text("organization").unwrap_or_default();
    let organization = organization.trim();
    if organization.is_empty() || organization.chars().count() > 100 {
        return refused(
            StatusCode::BAD_REQUEST,
            "Give your organization's name.",
            "organization_missing",
        );
    }
    let start = format!(
        "/api/v1/auth/sso/start?{}",
        serde_urlencoded::to_string([("organization", organization), ("for", "console")])
            .unwrap_or_default()
    );
    let body = html! {
        h1 { "Sign in with your identity provider" }
        p { "Organization " strong { (organization) } " signs you in through its identity provider." }
        p { a href=(start) class="button primary" id="sso-continue" { "Continue to your identity provider" } }
        p { a href="/console/sign-in" { "Back to sign-in" } }
    };
    layout::respond(StatusCode::OK, layout::page("Sign in", None, body))
}
