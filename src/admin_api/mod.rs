//! The admin API under `/api/v1`: sign-in, Service Access Tokens,
//! Personal Access Tokens, members, group mappings, workspaces and the
//! organization's settings. Handlers are thin: parse the request, call the use case (which
//! authorizes, changes and records in one transaction), render its answer,
//! or its refusal as problem+json (`error`). Sign-in and sign-out are
//! authentication, not admin operations, and stay here (`auth`).

pub mod auth;
mod doc;
mod error;
mod group_mappings;
mod members;
mod organization;
mod password_policy;
mod permissions;
mod personal_tokens;
mod service_tokens;
mod sso;
mod token_self;
mod workspaces;

use crate::http::ApiError;
use crate::http::AppState;
use crate::http::route::{Routes, delete, get, post};
use crate::tokens::{PlainToken, TokenView};
use crate::use_cases::Expiry;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use doc::AdminApi;
use serde::{Deserialize, Deserializer, Serialize};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route("/auth/login", post("auth.login", auth::login))
        .route("/auth/logout", post("auth.logout", auth::logout))
        .route(
            "/auth/password",
            post("auth.password", auth::change_password),
        )
        .route(
            "/service-access-tokens",
            post("sat.create", service_tokens::create).get("sat.list", service_tokens::list),
        )
        .route(
            "/service-access-tokens/{id}",
            get("sat.read", service_tokens::get)
                .patch("sat.update", service_tokens::update)
                .delete("sat.delete", service_tokens::revoke),
        )
        .route(
            "/service-access-tokens/{id}/usage",
            get("sat.usage", service_tokens::usage),
        )
        .route(
            "/service-access-tokens/{id}/rotate",
            post("sat.rotate", service_tokens::rotate),
        )
        .route(
            "/personal-access-tokens",
            post("pat.create", personal_tokens::create).get("pat.list", personal_tokens::list),
        )
        .route(
            "/personal-access-tokens/{id}",
            delete("pat.delete", personal_tokens::revoke),
        )
        .route("/tokens/self", get("token.self", token_self::get))
        .route("/permissions", get("permission.list", permissions::list))
        .route(
            "/organization",
            get("org.read", organization::get).patch("org.update", organization::update),
        )
        .route(
            "/sso",
            get("sso.read", sso::get)
                .put("sso.update", sso::put)
                .delete("sso.delete", sso::delete),
        )
        .route("/members", get("member.list", members::list))
        .route(
            "/members/{id}",
            get("member.read", members::get).patch("member.update", members::update),
        )
        .route(
            "/group-mappings",
            post("group_mapping.create", group_mappings::create)
                .get("group_mapping.list", group_mappings::list),
        )
        .route(
            "/group-mappings/{id}",
            delete("group_mapping.delete", group_mappings::delete),
        )
        .route(
            "/workspaces",
            post("workspace.create", workspaces::create).get("workspace.list", workspaces::list),
        )
        .route(
            "/workspaces/{id}",
            get("workspace.read", workspaces::get)
                .patch("workspace.update", workspaces::update)
                .delete("workspace.delete", workspaces::delete),
        )
}

/// `expires_at` (RFC 3339) or `expires_in_days`, never both, as a request
/// body gives them. The use case checks the bound on days.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ExpiryInput {
    /// RFC 3339, in the future.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// 1 to 3650.
    pub expires_in_days: Option<i64>,
}

impl ExpiryInput {
    pub fn expiry(&self) -> Result<Expiry, ApiError> {
        Ok(Expiry::from_parts(
            self.expires_at.as_deref(),
            self.expires_in_days,
        )?)
    }
}

/// A token view with its value: the one response that shows it. Marked
/// `no-store` so that no cache keeps it.
#[derive(Serialize)]
pub struct WithValue {
    #[serde(flatten)]
    pub view: TokenView,
    pub token: String,
}

pub fn show_once(
    status: StatusCode,
    view: TokenView,
    plain: &PlainToken,
    location: Option<String>,
) -> Response {
    let body = WithValue {
        view,
        token: plain.reveal(),
    };
    let mut resp = (status, Json(body)).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(loc) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, loc);
    }
    resp
}

/// Distinguishes an absent field (`None`) from an explicit null
/// (`Some(None)`) in PATCH bodies.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
