//! `/api/v1/organization`: the caller's organization and the settings its
//! admins may change through the API: today `scim_passwords`, whether the
//! identity provider may set the passwords of members who are not admins
//! (`use_cases::organizations`).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::http::AppState;
use crate::http::{ApiError, ApiJson, Caller};
use crate::identity::orgs::Org;
use crate::use_cases::organizations::{self, Settings};

#[utoipa::path(
    get,
    path = "/organization",
    tag = "Organization",
    summary = "The caller's organization",
    description = "Requires `members:manage` (an admin's session or PAT).",
    responses((status = 200, description = "The organization", body = super::doc::Organization)),
    security(("bearer" = []))
)]
pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<Org>, ApiError> {
    Ok(Json(organizations::get(&state, &caller.call()).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrganizationChanges)]
pub struct Update {
    scim_passwords: Option<bool>,
}

#[utoipa::path(
    patch,
    path = "/organization",
    tag = "Organization",
    summary = "Change the organization's settings",
    description = "Admins may change `scim_passwords`. Requires `members:manage` (an admin's session or PAT); \
        the token lifetime cap and audit retention are the operator's (CLI).",
    request_body = Update,
    responses((status = 200, description = "The organization", body = super::doc::Organization)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Update>,
) -> Result<Json<Org>, ApiError> {
    let settings = Settings {
        scim_passwords: body.scim_passwords,
        ..Settings::default()
    };
    Ok(Json(
        organizations::update(&state, &caller.call(), settings).await?,
    ))
}
