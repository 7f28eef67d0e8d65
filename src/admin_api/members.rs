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

#[utoipa::path(
    get,
    path = "/members",
    tag = "Members",
    summary = "List members",
    description = "Requires `members:manage` (an admin's session or PAT).",
    responses((status = 200, description = "The members", body = super::doc::MemberList)),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let members = members::list_with_access(&state, &caller.call()).await?;
    Ok(Json(json!({ "members": members })))
}

#[utoipa::path(
    get,
    path = "/members/{id}",
    tag = "Members",
    summary = "Get a member with their effective access",
    description = "Requires `members:manage` (an admin's session or PAT).",
    params(("id" = Uuid, Path, description = "The member id")),
    responses((status = 200, description = "The member", body = super::doc::Member)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<MemberView>, ApiError> {
    Ok(Json(members::get(&state, &caller.call(), id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MemberChanges)]
pub struct Update {
    #[schema(value_type = Option<super::doc::RoleName>)]
    role: Option<Role>,
    active: Option<bool>,
    /// Replaces the member's direct workspace permissions.
    workspace_permissions: Option<Vec<WorkspacePermissions>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DirectWorkspacePermissions)]
pub struct WorkspacePermissions {
    /// A workspace id or name.
    workspace: String,
    permissions: Vec<String>,
}

#[utoipa::path(
    patch,
    path = "/members/{id}",
    tag = "Members",
    summary = "Change a member's direct role, active flag or direct workspace permissions",
    description = "Requires `members:manage` (an admin's session or PAT). 409 if it would leave no active admin.",
    params(("id" = Uuid, Path, description = "The member id")),
    request_body = Update,
    responses(
        (status = 200, description = "The member", body = super::doc::Member),
        (status = 409, description = "It would leave no active admin", body = crate::http::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
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
