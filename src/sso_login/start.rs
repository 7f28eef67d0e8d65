//! `GET /api/v1/auth/sso/start?organization=acme`: sends the browser to
//! the organization's identity provider, with a new flow sealed in a
//! cookie. `&for=console` asks for the console's session at the end
//! (the console's sign-in page starts here); otherwise the callback
//! answers an API session.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::refusal::{Failed, answer};
use crate::http::extract::RequestMeta;
use crate::http::{ApiError, AppState};
use crate::identity::orgs;
use crate::sso::config;
use crate::sso::flow::{self, FLOW_TTL_SECONDS, Flow, Outcome};
use crate::sso::{Refusal, SsoError};
use crate::store::Timestamp;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartQuery {
    organization: String,
    #[serde(rename = "for")]
    for_: Option<String>,
}

/// The `Set-Cookie` of a flow (or, with `max_age` 0, its removal). `Lax`,
/// not `Strict`: the callback is a navigation from the provider's site.
pub fn flow_cookie(
    state: &AppState,
    headers: &HeaderMap,
    value: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = crate::console::sso::served_over_tls(state, headers);
    let secure = if secure { "; Secure" } else { "" };
    let s = format!(
        "{}={value}; Path=/api/v1/auth/sso; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        flow::COOKIE
    );
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[utoipa::path(
    get,
    path = "/auth/sso/start",
    tag = "Authentication",
    summary = "Start signing in through the organization's identity provider",
    description = "Public: no credential. Redirects the browser to the provider (authorization \
        code flow with PKCE, state and nonce); the callback then answers like `/auth/login`, or \
        sets the console's cookie with `for=console`.",
    params(
        ("organization" = String, Query, description = "The organization's name or id"),
        ("for" = Option<String>, Query, description = "`console` for a console sign-in"),
    ),
    responses((status = 303, description = "To the identity provider")),
    security(())
)]
pub async fn start(
    State(state): State<AppState>,
    RequestMeta(ctx): RequestMeta,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let query: StartQuery = match serde_urlencoded::from_str(uri.query().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => {
            return ApiError::BadRequest(format!(
                "give the organization: ?organization=<name> ({e})"
            ))
            .into_response();
        }
    };
    let outcome = match query.for_.as_deref() {
        None | Some("api") => Outcome::Api,
        Some("console") => Outcome::Console,
        Some(_) => {
            return ApiError::BadRequest("`for` is `api` or `console`".into()).into_response();
        }
    };
    match begin(&state, &query.organization, outcome).await {
        Ok((location, cookie)) => {
            let mut resp = (StatusCode::SEE_OTHER, ()).into_response();
            let h = resp.headers_mut();
            match HeaderValue::from_str(&location) {
                Ok(v) => h.insert(header::LOCATION, v),
                Err(_) => {
                    return ApiError::internal("authorization URL is not a header").into_response();
                }
            };
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.append(
                header::SET_COOKIE,
                flow_cookie(&state, &headers, &cookie, FLOW_TTL_SECONDS),
            );
            resp
        }
        Err(failed) => answer(&state, &ctx, failed, false).await,
    }
}

/// The provider's authorization URL and the sealed flow, for `organization`.
async fn begin(
    state: &AppState,
    organization: &str,
    outcome: Outcome,
) -> Result<(String, String), Failed> {
    let internal = |e: &dyn std::fmt::Display| Failed::Internal(e.to_string());
    let org = orgs::find(&state.db, organization)
        .await
        .map_err(|e| internal(&e))?;
    let Some(org) = org else {
        return Err(Failed::refused(
            Refusal::NotConfigured,
            "no such organization",
            None,
            outcome,
        ));
    };
    let fail = |e: SsoError| Failed::from_sso(e, Some(org.id), outcome);
    let Some(config) = config::get(&state.db, org.id).await.map_err(fail)? else {
        return Err(Failed::refused(
            Refusal::NotConfigured,
            "the organization has no SSO configuration",
            Some(org.id),
            outcome,
        ));
    };
    let discovery = state.sso.discovery(&config.issuer).await.map_err(fail)?;
    let flow = Flow::begin(org.id, outcome, Timestamp::now());
    let location = state
        .sso
        .authorize_url(&discovery, &config.client_id, &flow)
        .map_err(fail)?;
    Ok((location, flow.seal(state.signer.kek())))
}
