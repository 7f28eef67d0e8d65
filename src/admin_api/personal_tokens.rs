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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewPersonalAccessToken)]
pub struct Create {
    name: String,
    description: Option<String>,
    #[serde(flatten)]
    expiry: ExpiryInput,
    allowed_cidrs: Option<Vec<String>>,
    permissions: Option<Vec<String>>,
    workspace: Option<String>,
}

#[utoipa::path(
    post,
    path = "/personal-access-tokens",
    tag = "Personal Access Tokens",
    summary = "Create a PAT",
    description = "Creates a Personal Access Token for the calling member, acting with the member's role. Its value is in this answer only. Requires `personal_access_tokens:manage` (an admin's session or PAT; PATs are for admins).",
    request_body = Create,
    responses((status = 201, description = "Created; `Location` names it", body = super::doc::TokenWithValue,
        headers(("Location" = String, description = "/api/v1/personal-access-tokens/{id}")))),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    get,
    path = "/personal-access-tokens",
    tag = "Personal Access Tokens",
    summary = "List own PATs",
    description = "The calling member's own PATs. Requires `personal_access_tokens:manage` (an admin's session or PAT; PATs are for admins).",
    responses((status = 200, description = "The tokens", body = super::doc::TokenList)),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let tokens = personal_tokens::list(&state, &caller.call()).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

#[utoipa::path(
    delete,
    path = "/personal-access-tokens/{id}",
    tag = "Personal Access Tokens",
    summary = "Revoke an own PAT",
    description = "Another member's PAT is 404. Requires `personal_access_tokens:manage` (an admin's session or PAT; PATs are for admins).",
    params(("id" = String, Path, description = "The token id")),
    responses((status = 204, description = "Revoked")),
    security(("bearer" = []))
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    personal_tokens::revoke(&state, &caller.call(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
