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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkspaceName)]
pub struct Named {
    name: String,
}

#[utoipa::path(
    post,
    path = "/workspaces",
    tag = "Workspaces",
    summary = "Create a workspace",
    description = "Requires `workspaces:manage` (an admin's session or PAT).",
    request_body = Named,
    responses(
        (status = 201, description = "Created; `Location` names it", body = super::doc::Workspace,
            headers(("Location" = String, description = "/api/v1/workspaces/{id}"))),
        (status = 409, description = "The name is taken", body = crate::http::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    get,
    path = "/workspaces",
    tag = "Workspaces",
    summary = "List workspaces",
    description = "Requires `workspaces:manage` (an admin's session or PAT).",
    responses((status = 200, description = "The workspaces", body = super::doc::WorkspaceList)),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let list = workspaces::list(&state, &caller.call()).await?;
    Ok(Json(json!({ "workspaces": list })))
}

#[utoipa::path(
    get,
    path = "/workspaces/{id}",
    tag = "Workspaces",
    summary = "Get a workspace",
    description = "Requires `workspaces:manage` (an admin's session or PAT).",
    params(("id" = Uuid, Path, description = "The workspace id")),
    responses((status = 200, description = "The workspace", body = super::doc::Workspace)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Workspace>, ApiError> {
    Ok(Json(workspaces::get(&state, &caller.call(), id).await?))
}

#[utoipa::path(
    patch,
    path = "/workspaces/{id}",
    tag = "Workspaces",
    summary = "Rename a workspace",
    description = "Requires `workspaces:manage` (an admin's session or PAT).",
    params(("id" = Uuid, Path, description = "The workspace id")),
    request_body = Named,
    responses(
        (status = 200, description = "The workspace", body = super::doc::Workspace),
        (status = 409, description = "The name is taken", body = crate::http::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    delete,
    path = "/workspaces/{id}",
    tag = "Workspaces",
    summary = "Delete a workspace",
    description = "Soft delete; revokes the workspace's SATs. Requires `workspaces:manage` (an admin's session or PAT).",
    params(("id" = Uuid, Path, description = "The workspace id")),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    workspaces::delete(&state, &caller.call(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
