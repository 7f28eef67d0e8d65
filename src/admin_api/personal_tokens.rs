//! `/api/v1/personal-access-tokens`: a member's own tokens
//! (`use_cases::personal_tokens`), optionally narrowed to some of the
//! member's permissions. They die when the member is deactivated or
//! deleted.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ExpiryInput, show_once};
use crate::http::AppState;
use crate::http::{ApiError, ApiJson, ApiPath, Caller};
use crate::use_cases::personal_tokens::{self, NewPat};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Create {
    name: String,
    description: Option<String>,
    #[serde(flatten)]
    expiry: ExpiryInput,
    allowed_cidrs: Option<Vec<String>>,
    permissions: Option<Vec<String>>,
    workspace: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Create>,
) -> Result<Response, ApiError> {
    let new = NewPat {
        name: body.name,
        description: body.description,
        expiry: body.expiry.expiry()?,
        allowed_cidrs: body.allowed_cidrs.unwrap_or_default(),
        permissions: body.permissions,
        workspace: body.workspace,
    };
    let (view, plain) = personal_tokens::create(&state, &caller.call(), new).await?;
    let location = format!("/api/v1/personal-access-tokens/{}", view.id);
    Ok(show_once(StatusCode::CREATED, view, &plain, Some(location)))
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tokens = personal_tokens::list(&state, &caller.call()).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    personal_tokens::revoke(&state, &caller.call(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
