//! `/api/v1/members`: admins list members with their effective access (and
//! where it comes from), read one, and change their role, active flag or
//! direct workspace permissions (`use_cases::members`). (SCIM manages the
//! same members.)

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::AppState;
use crate::http::{ApiError, ApiJson, ApiPath, Caller};
use crate::permissions::Role;
use crate::use_cases::members::{self, DirectGrant, MemberView};

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let members = members::list_with_access(&state, &caller.call()).await?;
    Ok(Json(json!({ "members": members })))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<MemberView>, ApiError> {
    Ok(Json(members::get(&state, &caller.call(), id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    role: Option<Role>,
    active: Option<bool>,
    /// Replaces the member's direct workspace permissions.
    workspace_permissions: Option<Vec<WorkspacePermissions>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePermissions {
    workspace: String,
    permissions: Vec<String>,
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Update>,
) -> Result<Json<MemberView>, ApiError> {
    let call = caller.call();
    if body.role.is_some() || body.active.is_some() || body.workspace_permissions.is_none() {
        members::update(&state, &call, id, body.role, body.active).await?;
    }
    if let Some(grants) = body.workspace_permissions {
        let grants = grants
            .into_iter()
            .map(|g| DirectGrant {
                workspace: g.workspace,
                permissions: g.permissions,
            })
            .collect();
        members::set_workspace_permissions(&state, &call, id, grants).await?;
    }
    Ok(Json(members::get(&state, &call, id).await?))
}
