//! `/api/v1/members`: admins list members and change their role or active
//! flag (`use_cases::members`). (SCIM manages the same members.)

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::AppState;
use crate::http::{ApiError, ApiJson, ApiPath, Caller};
use crate::identity::members::Member;
use crate::permissions::Role;
use crate::use_cases::members;

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
    let members = members::list(&state, &caller.call()).await?;
    Ok(Json(json!({ "members": members })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MemberChanges)]
pub struct Update {
    #[schema(value_type = Option<super::doc::RoleName>)]
    role: Option<Role>,
    active: Option<bool>,
}

#[utoipa::path(
    patch,
    path = "/members/{id}",
    tag = "Members",
    summary = "Change a member's role or active flag",
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
) -> Result<Json<Member>, ApiError> {
    let m = members::update(&state, &caller.call(), id, body.role, body.active).await?;
    Ok(Json(m))
}
