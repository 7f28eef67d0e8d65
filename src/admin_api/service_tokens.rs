//! `/api/v1/service-access-tokens`: org admins create, list, change, rotate
//! and revoke Service Access Tokens (`use_cases::service_tokens`). The
//! value is shown once, in the response to create or rotate.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ExpiryInput, nullable, show_once};
use crate::http::AppState;
use crate::http::{ApiError, ApiJson, ApiPath, ApiQuery, Caller};
use crate::permissions::TokenLevel;
use crate::store::Timestamp;
use crate::tokens::{TokenChanges, TokenView};
use crate::use_cases::service_tokens::{self, NewSat};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewServiceAccessToken)]
pub struct Create {
    name: String,
    description: Option<String>,
    workspace_id: Option<Uuid>,
    permissions: Vec<String>,
    #[serde(flatten)]
    expiry: ExpiryInput,
    allowed_cidrs: Option<Vec<String>>,
}

#[utoipa::path(
    post,
    path = "/service-access-tokens",
    tag = "Service Access Tokens",
    summary = "Create a SAT",
    description = "Creates an organization or workspace Service Access Token. Its value is in this answer only. Requires `service_access_tokens:manage` (an admin's session or PAT).",
    request_body = Create,
    responses((status = 201, description = "Created; `Location` names it", body = super::doc::TokenWithValue,
        headers(("Location" = String, description = "/api/v1/service-access-tokens/{id}")))),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Create>,
) -> Result<Response, ApiError> {
    let new = NewSat {
        name: body.name,
        description: body.description,
        workspace_id: body.workspace_id,
        permissions: body.permissions,
        expiry: body.expiry.expiry()?,
        allowed_cidrs: body.allowed_cidrs.unwrap_or_default(),
    };
    let (view, plain) = service_tokens::create(&state, &caller.call(), new).await?;
    let location = format!("/api/v1/service-access-tokens/{}", view.id);
    Ok(show_once(StatusCode::CREATED, view, &plain, Some(location)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<super::doc::TokenLevelName>)]
    level: Option<TokenLevel>,
    workspace_id: Option<Uuid>,
}

#[utoipa::path(
    get,
    path = "/service-access-tokens",
    tag = "Service Access Tokens",
    summary = "List SATs",
    description = "The organization's SATs, newest first, revoked and expired ones included (see `status`). Requires `service_access_tokens:manage` (an admin's session or PAT).",
    params(ListQuery),
    responses((status = 200, description = "The tokens", body = super::doc::TokenList)),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let tokens = service_tokens::list(&state, &caller.call(), q.level, q.workspace_id).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

#[utoipa::path(
    get,
    path = "/service-access-tokens/{id}",
    tag = "Service Access Tokens",
    summary = "Get a SAT",
    description = "One SAT (404 for a PAT id or another organization's token). Requires `service_access_tokens:manage` (an admin's session or PAT).",
    params(("id" = String, Path, description = "The token id")),
    responses((status = 200, description = "The token", body = super::doc::Token)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TokenView>, ApiError> {
    Ok(Json(
        service_tokens::get(&state, &caller.call(), &id).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ServiceAccessTokenChanges)]
pub struct Update {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    allowed_cidrs: Option<Option<Vec<String>>>,
    permissions: Option<Vec<String>>,
    /// RFC 3339; earlier than the current expiry.
    expires_at: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/service-access-tokens/{id}",
    tag = "Service Access Tokens",
    summary = "Change a SAT",
    description = "Changes name, description or allowlist; `null` clears description or allowlist. Requires `service_access_tokens:manage` (an admin's session or PAT).",
    params(("id" = String, Path, description = "The token id")),
    request_body = Update,
    responses(
        (status = 200, description = "The token", body = super::doc::Token),
        (status = 409, description = "The token is revoked", body = crate::http::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Update>,
) -> Result<Json<TokenView>, ApiError> {
    let changes = TokenChanges {
        name: body.name,
        description: body.description,
        // `null` clears the allowlist.
        allowed_cidrs: body.allowed_cidrs.map(Option::unwrap_or_default),
        permissions: body.permissions,
        expires_at: body
            .expires_at
            .as_deref()
            .map(|e| {
                Timestamp::parse_rfc3339(e).ok_or_else(|| {
                    ApiError::BadRequest("expires_at must be an RFC 3339 date and time".into())
                })
            })
            .transpose()?,
    };
    Ok(Json(
        service_tokens::update(&state, &caller.call(), &id, changes).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/service-access-tokens/{id}",
    tag = "Service Access Tokens",
    summary = "Revoke a SAT",
    description = "Revokes the token at once, on every instance; revoking it again is also 204. Requires `service_access_tokens:manage` (an admin's session or PAT).",
    params(("id" = String, Path, description = "The token id")),
    responses((status = 204, description = "Revoked")),
    security(("bearer" = []))
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    service_tokens::revoke(&state, &caller.call(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Rotation)]
pub struct Rotate {
    #[serde(default)]
    grace_period_seconds: i64,
}

#[utoipa::path(
    post,
    path = "/service-access-tokens/{id}/rotate",
    tag = "Service Access Tokens",
    summary = "Rotate a SAT",
    description = "A new secret for the same id; the old one keeps working for `grace_period_seconds` (default 0, at most 604800). The body is optional. The new value is in this answer only. Requires `service_access_tokens:manage` (an admin's session or PAT).",
    params(("id" = String, Path, description = "The token id")),
    request_body(content = Option<Rotate>),
    responses(
        (status = 200, description = "Rotated", body = super::doc::TokenWithValue),
        (status = 409, description = "The token is revoked", body = crate::http::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: Option<ApiJson<Rotate>>,
) -> Result<Response, ApiError> {
    let grace = body
        .map(|ApiJson(b)| b)
        .unwrap_or_default()
        .grace_period_seconds;
    let (view, plain) = service_tokens::rotate(&state, &caller.call(), &id, grace).await?;
    Ok(show_once(StatusCode::OK, view, &plain, None))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    days: Option<i64>,
}

/// `GET /api/v1/service-access-tokens/{id}/usage?days=30`: the
/// least-privilege advisor.
#[utoipa::path(
    get,
    path = "/service-access-tokens/{id}/usage",
    tag = "Service access tokens",
    summary = "Which of its permissions a SAT used (the least-privilege advisor)",
    description = "Requires `service_access_tokens:manage` (an admin's session or PAT).",
    params(
        ("id" = String, Path, description = "The token id"),
        ("days" = Option<i64>, Query, description = "1 to 365, default 30"),
    ),
    responses((status = 200, description = "Granted, used, unused and suggested permissions", body = super::doc::TokenUsage)),
    security(("bearer" = []))
)]
pub async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> Result<Json<service_tokens::Usage>, ApiError> {
    let days = q.days.unwrap_or(30);
    Ok(Json(
        service_tokens::usage(&state, &caller.call(), &id, days).await?,
    ))
}
