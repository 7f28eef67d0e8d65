//! `/api/v1/workspaces`: admins create, list, rename and delete workspaces
//! (`use_cases::workspaces`). Deleting one revokes its Service Access
//! Tokens.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::AppState;
use crate::http::{ApiError, ApiJson, ApiPath, Caller};
use crate::identity::workspaces::Workspace;
use crate::use_cases::workspaces;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Named {
    name: String,
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Named>,
) -> Result<Response, ApiError> {
    let ws = workspaces::create(&state, &caller.call(), &body.name).await?;
    let location = format!("/api/v1/workspaces/{}", ws.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ws),
    )
        .into_response())
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let list = workspaces::list(&state, &caller.call()).await?;
    Ok(Json(json!({ "workspaces": list })))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Workspace>, ApiError> {
    Ok(Json(workspaces::get(&state, &caller.call(), id).await?))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Named>,
) -> Result<Json<Workspace>, ApiError> {
    Ok(Json(
        workspaces::rename(&state, &caller.call(), id, &body.name).await?,
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    workspaces::delete(&state, &caller.call(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
