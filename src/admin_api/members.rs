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

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let members = members::list(&state, &caller.call()).await?;
    Ok(Json(json!({ "members": members })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    role: Option<Role>,
    active: Option<bool>,
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Update>,
) -> Result<Json<Member>, ApiError> {
    let m = members::update(&state, &caller.call(), id, body.role, body.active).await?;
    Ok(Json(m))
}
