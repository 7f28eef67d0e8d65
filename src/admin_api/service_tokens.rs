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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Create {
    name: String,
    description: Option<String>,
    workspace_id: Option<Uuid>,
    permissions: Vec<String>,
    #[serde(flatten)]
    expiry: ExpiryInput,
    allowed_cidrs: Option<Vec<String>>,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    level: Option<TokenLevel>,
    workspace_id: Option<Uuid>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let tokens = service_tokens::list(&state, &caller.call(), q.level, q.workspace_id).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TokenView>, ApiError> {
    Ok(Json(
        service_tokens::get(&state, &caller.call(), &id).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    service_tokens::revoke(&state, &caller.call(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    #[serde(default)]
    grace_period_seconds: i64,
}

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
