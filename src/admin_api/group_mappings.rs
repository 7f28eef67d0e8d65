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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Create {
    group: String,
    role: Option<String>,
    workspace: Option<String>,
    permissions: Option<Vec<String>>,
}

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

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let mappings = group_mappings::list(&state, &caller.call()).await?;
    Ok(Json(json!({ "group_mappings": mappings })))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    group_mappings::delete(&state, &caller.call(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
