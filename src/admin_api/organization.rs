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

pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<Org>, ApiError> {
    Ok(Json(organizations::get(&state, &caller.call()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    scim_passwords: Option<bool>,
}

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
