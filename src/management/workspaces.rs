//! `/api/v1/workspaces`: admins create, list, rename and delete workspaces.
//! Deleting one revokes its Service Access Tokens.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::{self, Target};
use crate::http::AppState;
use crate::http::{ApiError, ApiJson, ApiPath, Caller};
use crate::identity::workspaces::{self, Workspace};
use crate::permissions::Action;
use crate::store::Timestamp;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Named {
    name: String,
}

fn target(ws: &Workspace) -> Target {
    Target::new("workspace", ws.id, Some(&ws.name))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Named>,
) -> Result<Response, ApiError> {
    let ws = create_workspace(&state, &caller, &body.name).await?;
    let location = format!("/api/v1/workspaces/{}", ws.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ws),
    )
        .into_response())
}

/// Creates a workspace and records `workspace.create` (API and console).
pub async fn create_workspace(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<Workspace, ApiError> {
    caller.require(state, Action::ManageWorkspaces).await?;
    let mut tx = state.db.begin().await?;
    let ws = workspaces::create(&mut tx, caller.org_id(), name, Timestamp::now()).await?;
    let event = caller
        .event("workspace.create")
        .workspace(Some(ws.id))
        .target(target(&ws))
        .status(201);
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(ws)
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let list = list_workspaces(&state, &caller).await?;
    Ok(Json(json!({ "workspaces": list })))
}

/// The organization's live workspaces (API and console).
pub async fn list_workspaces(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<Workspace>, ApiError> {
    caller.require(state, Action::ManageWorkspaces).await?;
    Ok(workspaces::list(&state.db, caller.org_id()).await?)
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Workspace>, ApiError> {
    caller.require(&state, Action::ManageWorkspaces).await?;
    Ok(Json(workspaces::get(&state.db, caller.org_id(), id).await?))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Named>,
) -> Result<Json<Workspace>, ApiError> {
    caller.require(&state, Action::ManageWorkspaces).await?;
    let mut tx = state.db.begin().await?;
    let ws = workspaces::rename(&mut tx, caller.org_id(), id, &body.name, Timestamp::now()).await?;
    let event = caller
        .event("workspace.update")
        .workspace(Some(ws.id))
        .target(target(&ws))
        .status(200)
        .changes(json!({ "name": ws.name }));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(Json(ws))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(&state, Action::ManageWorkspaces).await?;
    let mut tx = state.db.begin().await?;
    let (ws, revoked) = workspaces::delete(&mut tx, caller.org_id(), id, Timestamp::now()).await?;
    let event = caller
        .event("workspace.delete")
        .workspace(Some(ws.id))
        .target(target(&ws))
        .status(204)
        .changes(json!({ "revoked_service_access_tokens": revoked }));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
