//! `/api/v1/group-mappings`: admins map SCIM groups to the admin role or to
//! workspace permissions (`use_cases::group_mappings`), list and remove
//! the mappings.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::AppState;
use crate::http::{ApiError, ApiJson, ApiPath, Caller};
use crate::use_cases::group_mappings::{self, NewMapping};

/// Either `role` (`admin`), or `workspace` with `permissions`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewGroupMapping)]
pub struct Create {
    /// The SCIM group's id.
    group: String,
    /// `admin`: the group's members are org admins.
    role: Option<String>,
    /// A workspace id or name.
    workspace: Option<String>,
    /// Workspace permissions from the catalogue (`transformations:edit`, …).
    permissions: Option<Vec<String>>,
}

#[utoipa::path(
    post,
    path = "/group-mappings",
    tag = "Group mappings",
    summary = "Map a SCIM group to the admin role or to workspace permissions",
    description = "Requires `members:manage` (an admin's session or PAT). 404 if the group or workspace does not exist, 400 for an unknown permission.",
    request_body = Create,
    responses(
        (status = 201, description = "Created; `Location` names it", body = super::doc::GroupMapping,
            headers(("Location" = String, description = "/api/v1/group-mappings/{id}"))),
        (status = 404, description = "No such group or workspace", body = crate::http::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Create>,
) -> Result<Response, ApiError> {
    let new = NewMapping {
        group: body.group,
        role: body.role,
        workspace: body.workspace,
        permissions: body.permissions,
    };
    let mapping = group_mappings::create(&state, &caller.call(), new).await?;
    let mut resp = (StatusCode::CREATED, Json(&mapping)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/group-mappings/{}", mapping.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

#[utoipa::path(
    get,
    path = "/group-mappings",
    tag = "Group mappings",
    summary = "List group mappings",
    description = "Requires `members:manage` (an admin's session or PAT).",
    responses((status = 200, description = "The mappings", body = super::doc::GroupMappingList)),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let mappings = group_mappings::list(&state, &caller.call()).await?;
    Ok(Json(json!({ "group_mappings": mappings })))
}

#[utoipa::path(
    delete,
    path = "/group-mappings/{id}",
    tag = "Group mappings",
    summary = "Remove a group mapping",
    description = "Requires `members:manage` (an admin's session or PAT). Its members' access changes in the same transaction.",
    params(("id" = Uuid, Path, description = "The mapping id")),
    responses((status = 204, description = "Removed")),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    group_mappings::delete(&state, &caller.call(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
