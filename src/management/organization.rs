//! `/api/v1/organization`: the caller's organization and the settings its
//! admins may change. Today that is `scim_passwords`, whether the identity
//! provider may set the passwords of members who are not admins; it governs
//! members' credentials, so it needs the same permission as managing them.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use crate::audit::{self, Target};
use crate::http::AppState;
use crate::http::{ApiError, ApiJson, Caller};
use crate::identity::orgs::{self, Org};
use crate::permissions::Action;

pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<Org>, ApiError> {
    caller.require(&state, Action::ManageMembers).await?;
    Ok(Json(orgs::get(&state.db, caller.org_id()).await?))
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
    caller.require(&state, Action::ManageMembers).await?;
    let Some(allowed) = body.scim_passwords else {
        return Err(ApiError::BadRequest(
            "nothing to change: give scim_passwords".into(),
        ));
    };
    let org_id = caller.org_id();
    let mut tx = state.db.begin().await?;
    let before = orgs::set_scim_passwords(&mut tx, org_id, allowed).await?;
    let org = orgs::get_in(&mut tx, org_id).await?;
    let event = caller
        .event("org.update")
        .target(Target::new("organization", org.id, Some(&org.name)))
        .status(200)
        .changes(json!({ "scim_passwords": { "from": before, "to": allowed } }));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(Json(org))
}
