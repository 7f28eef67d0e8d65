//! `/api/v1/personal-access-tokens`: an admin's own tokens. They act with
//! the member's role and die when the member is deactivated, deleted or
//! demoted.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::service_tokens::token_id;
use super::{ExpiryInput, show_once};
use crate::audit::{self, Target};
use crate::http::AppState;
use crate::http::{ApiError, ApiJson, ApiPath, Caller};
use crate::identity::orgs;
use crate::permissions::Action;
use crate::store::Timestamp;
use crate::tokens::{self, ListFilter, NewToken, Owner, TokenKind};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Create {
    name: String,
    description: Option<String>,
    #[serde(flatten)]
    expiry: ExpiryInput,
    allowed_cidrs: Option<Vec<String>>,
}

fn member_of(caller: &Caller) -> Result<uuid::Uuid, ApiError> {
    caller.principal.member_id().ok_or(ApiError::Forbidden {
        missing: Action::ManageOwnPersonalTokens.required_permission(),
    })
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Create>,
) -> Result<Response, ApiError> {
    caller
        .require(&state, Action::ManageOwnPersonalTokens)
        .await?;
    let member_id = member_of(&caller)?;
    let now = Timestamp::now();
    let org = orgs::get(&state.db, caller.org_id()).await?;
    let new = NewToken {
        org_id: org.id,
        owner: Owner::Member(member_id),
        name: body.name,
        description: body.description,
        permissions: Vec::new(),
        expires_at: body.expiry.resolve(now)?,
        allowed_cidrs: body.allowed_cidrs.unwrap_or_default(),
        max_lifetime_days: org.max_token_lifetime_days.map(i64::from),
    };
    let mut tx = state.db.begin().await?;
    let (view, plain) =
        tokens::create(&mut tx, &state.peppers, new, &caller.principal, now).await?;
    let event = caller
        .event("pat.create")
        .target(Target::new("pat", &view.id, Some(&view.name)))
        .status(201)
        .changes(json!({ "member_id": member_id, "expires_at": view.expires_at }));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    let location = format!("/api/v1/personal-access-tokens/{}", view.id);
    Ok(show_once(StatusCode::CREATED, view, &plain, Some(location)))
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller
        .require(&state, Action::ManageOwnPersonalTokens)
        .await?;
    let filter = ListFilter {
        kind: Some(TokenKind::Pat),
        member_id: Some(member_of(&caller)?),
        ..ListFilter::default()
    };
    let tokens = tokens::list(&state.db, caller.org_id(), &filter, Timestamp::now()).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller
        .require(&state, Action::ManageOwnPersonalTokens)
        .await?;
    let member_id = member_of(&caller)?;
    let id = token_id(&id)?;
    let now = Timestamp::now();
    // Another member's PAT is not found, exactly like another org's.
    let own = tokens::get(&state.db, caller.org_id(), &id, now).await?;
    if own.member_id != Some(member_id) {
        return Err(ApiError::NotFound("token".into()));
    }
    let mut tx = state.db.begin().await?;
    let (view, changed) = tokens::revoke(
        &mut tx,
        caller.org_id(),
        &id,
        TokenKind::Pat,
        "revoked by its owner",
        now,
    )
    .await?;
    if changed {
        let event = caller
            .event("pat.revoke")
            .target(Target::new("pat", &view.id, Some(&view.name)))
            .status(204);
        audit::record(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
