//! `/api/v1/service-access-tokens`: org admins create, list, change, rotate
//! and revoke Service Access Tokens. The value is shown once, in the
//! response to create or rotate.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ExpiryInput, nullable, show_once};
use crate::audit::{self, Target};
use crate::http::AppState;
use crate::http::{ApiError, ApiJson, ApiPath, ApiQuery, Caller};
use crate::identity::{orgs, workspaces};
use crate::permissions::{Action, TokenLevel};
use crate::store::Timestamp;
use crate::tokens::{
    self, ListFilter, NewToken, Owner, PlainToken, TokenChanges, TokenId, TokenKind, TokenView,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Create {
    pub name: String,
    pub description: Option<String>,
    pub workspace_id: Option<Uuid>,
    pub permissions: Vec<String>,
    #[serde(flatten)]
    pub expiry: ExpiryInput,
    pub allowed_cidrs: Option<Vec<String>>,
}

fn target(view: &TokenView) -> Target {
    Target::new("sat", &view.id, Some(&view.name))
}

/// Parses a token id from the path; anything else cannot exist.
pub fn token_id(raw: &str) -> Result<TokenId, ApiError> {
    TokenId::parse(raw).ok_or_else(|| ApiError::NotFound("token".into()))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Create>,
) -> Result<Response, ApiError> {
    let (view, plain) = create_sat(&state, &caller, body).await?;
    let location = format!("/api/v1/service-access-tokens/{}", view.id);
    Ok(show_once(StatusCode::CREATED, view, &plain, Some(location)))
}

/// Creates a SAT and records `sat.create` in the same transaction. The API
/// and the console both call this, so their audit records are the same.
pub async fn create_sat(
    state: &AppState,
    caller: &Caller,
    body: Create,
) -> Result<(TokenView, PlainToken), ApiError> {
    caller.require(state, Action::ManageServiceTokens).await?;
    let now = Timestamp::now();
    let org_id = caller.org_id();
    let expires_at = body.expiry.resolve(now)?;
    let org = orgs::get(&state.db, org_id).await?;
    let mut tx = state.db.begin().await?;
    let owner = match body.workspace_id {
        Some(ws) => Owner::Workspace(workspaces::get_in(&mut tx, org_id, ws).await?.id),
        None => Owner::Organization,
    };
    let new = NewToken {
        org_id,
        owner,
        name: body.name,
        description: body.description,
        permissions: body.permissions,
        expires_at,
        allowed_cidrs: body.allowed_cidrs.unwrap_or_default(),
        max_lifetime_days: org.max_token_lifetime_days.map(i64::from),
    };
    let (view, plain) =
        tokens::create(&mut tx, &state.peppers, new, &caller.principal, now).await?;
    let event = caller
        .event("sat.create")
        .workspace(view.workspace_id)
        .target(target(&view))
        .status(201)
        .changes(json!({
            "level": view.level,
            "workspace_id": view.workspace_id,
            "permissions": view.permissions,
            "expires_at": view.expires_at,
            "allowed_cidrs": view.allowed_cidrs,
        }));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok((view, plain))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    level: Option<TokenLevel>,
    workspace_id: Option<Uuid>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let tokens = list_sats(&state, &caller, q.level, q.workspace_id).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

/// The organization's SATs, newest first (API and console).
pub async fn list_sats(
    state: &AppState,
    caller: &Caller,
    level: Option<TokenLevel>,
    workspace_id: Option<Uuid>,
) -> Result<Vec<TokenView>, ApiError> {
    caller.require(state, Action::ManageServiceTokens).await?;
    let filter = ListFilter {
        kind: Some(TokenKind::Sat),
        level,
        workspace_id,
        member_id: None,
    };
    Ok(tokens::list(&state.db, caller.org_id(), &filter, Timestamp::now()).await?)
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TokenView>, ApiError> {
    Ok(Json(get_sat(&state, &caller, &id).await?))
}

/// One SAT of the caller's organization (a PAT id is not found).
pub async fn get_sat(state: &AppState, caller: &Caller, id: &str) -> Result<TokenView, ApiError> {
    caller.require(state, Action::ManageServiceTokens).await?;
    let view = tokens::get(&state.db, caller.org_id(), &token_id(id)?, Timestamp::now()).await?;
    if view.kind != TokenKind::Sat {
        return Err(ApiError::NotFound("token".into()));
    }
    Ok(view)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    allowed_cidrs: Option<Option<Vec<String>>>,
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Update>,
) -> Result<Json<TokenView>, ApiError> {
    caller.require(&state, Action::ManageServiceTokens).await?;
    let id = token_id(&id)?;
    if body.name.is_none() && body.description.is_none() && body.allowed_cidrs.is_none() {
        return Err(ApiError::BadRequest(
            "nothing to change: give name, description or allowed_cidrs".into(),
        ));
    }
    let changed: Vec<&str> = [
        body.name.as_ref().map(|_| "name"),
        body.description.as_ref().map(|_| "description"),
        body.allowed_cidrs.as_ref().map(|_| "allowed_cidrs"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let changes = TokenChanges {
        name: body.name,
        description: body.description,
        allowed_cidrs: body.allowed_cidrs.map(Option::unwrap_or_default),
    };
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let view = tokens::update(&mut tx, caller.org_id(), &id, TokenKind::Sat, changes, now).await?;
    let event = caller
        .event("sat.update")
        .workspace(view.workspace_id)
        .target(target(&view))
        .status(200)
        .changes(
            json!({ "fields": changed, "name": view.name, "allowed_cidrs": view.allowed_cidrs }),
        );
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(Json(view))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    revoke_sat(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes a SAT (API and console); only the first revoke is recorded, as
/// `sat.revoke`. Returns the view and whether this call revoked it.
pub async fn revoke_sat(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(TokenView, bool), ApiError> {
    caller.require(state, Action::ManageServiceTokens).await?;
    let id = token_id(id)?;
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let (view, changed) = tokens::revoke(
        &mut tx,
        caller.org_id(),
        &id,
        TokenKind::Sat,
        "revoked by an admin",
        now,
    )
    .await?;
    if changed {
        let event = caller
            .event("sat.revoke")
            .workspace(view.workspace_id)
            .target(target(&view))
            .status(204);
        audit::record(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok((view, changed))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    #[serde(default)]
    grace_period_seconds: i64,
}

pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: Option<ApiJson<Rotate>>,
) -> Result<Response, ApiError> {
    let grace = body
        .map(|ApiJson(b)| b)
        .unwrap_or_default()
        .grace_period_seconds;
    let (view, plain) = rotate_sat(&state, &caller, &id, grace).await?;
    Ok(show_once(StatusCode::OK, view, &plain, None))
}

/// Rotates a SAT's secret and records `sat.rotate` (API and console).
pub async fn rotate_sat(
    state: &AppState,
    caller: &Caller,
    id: &str,
    grace: i64,
) -> Result<(TokenView, PlainToken), ApiError> {
    caller.require(state, Action::ManageServiceTokens).await?;
    let id = token_id(id)?;
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let (view, plain) = tokens::rotate(
        &mut tx,
        &state.peppers,
        caller.org_id(),
        &id,
        TokenKind::Sat,
        grace,
        now,
    )
    .await?;
    let event = caller
        .event("sat.rotate")
        .workspace(view.workspace_id)
        .target(target(&view))
        .status(200)
        .changes(json!({ "grace_period_seconds": grace, "previous_secret_valid_until": view.previous_secret_valid_until }));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok((view, plain))
}
