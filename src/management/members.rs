//! `/api/v1/members`: admins list members and change their role or active
//! flag. (SCIM manages the same members.) Taking away access ends the
//! member's sessions and revokes their PATs in the same transaction; SATs
//! they created keep working.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::{self, Target};
use crate::http::AppState;
use crate::http::{ApiError, ApiJson, ApiPath, Caller};
use crate::identity::members::{self, Member};
use crate::permissions::{Action, Role};
use crate::store::Timestamp;

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(&state, Action::ManageMembers).await?;
    let members = members::list(&state.db, caller.org_id()).await?;
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
    caller.require(&state, Action::ManageMembers).await?;
    if body.role.is_none() && body.active.is_none() {
        return Err(ApiError::BadRequest(
            "nothing to change: give role or active".into(),
        ));
    }
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let update = members::update(&mut tx, caller.org_id(), id, body.role, body.active, now).await?;
    // Through the API an organization never loses its last admin; the
    // operator CLI and the identity provider (SCIM) are not held back.
    if update.before_role == Role::Admin
        && members::active_admins_in(&mut tx, caller.org_id()).await? == 0
    {
        return Err(ApiError::Conflict(
            "this would leave the organization without an active admin".into(),
        ));
    }
    let m = &update.member;
    let event = caller
        .event("member.update")
        .target(Target::new("member", m.id, Some(&m.user_name)))
        .status(200)
        .changes(json!({
            "role": { "from": update.before_role, "to": m.role() },
            "active": { "from": update.before_active, "to": m.active },
            "revoked_personal_access_tokens": update.revoked_tokens,
        }));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(Json(update.member))
}
