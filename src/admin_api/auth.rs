//! `POST /api/v1/auth/login`: a member signs in with organization, user name
//! and password and gets a short-lived session JWT. Every failure is the
//! same 401 after the same work (one argon2 verification), so the response
//! says nothing about which part was wrong. `POST /api/v1/auth/logout` ends
//! the calling session before it expires.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{Actor, AuditEvent, RequestContext, Target};
use crate::http::AppState;
use crate::http::extract::RequestMeta;
use crate::http::{ApiError, ApiJson, Caller};
use crate::identity::members::{self, Member};
use crate::identity::{orgs, passwords};
use crate::permissions::{Principal, PrincipalKind};
use crate::store::Timestamp;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    organization: String,
    user_name: String,
    password: String,
}

const REFUSED: &str = "invalid organization, user name or password";

pub async fn login(
    State(state): State<AppState>,
    RequestMeta(ctx): RequestMeta,
    ApiJson(body): ApiJson<Login>,
) -> Result<Json<Value>, ApiError> {
    let (_, jwt) = sign_in(
        &state,
        &ctx,
        &body.organization,
        &body.user_name,
        body.password,
    )
    .await?;
    Ok(Json(json!({
        "access_token": jwt,
        "token_type": "Bearer",
        "expires_in": state.sessions.ttl_seconds(),
    })))
}

/// Checks a member's password and issues a session, recording `auth.login`
/// either way (the API and the console sign in through this). Every failure
/// is the same 401.
pub async fn sign_in(
    state: &AppState,
    ctx: &RequestContext,
    organization: &str,
    user_name: &str,
    password: String,
) -> Result<(Member, String), ApiError> {
    let org = orgs::find(&state.db, organization).await?;
    let creds = match &org {
        Some(org) => members::credentials(&state.db, org.id, user_name).await?,
        None => None,
    };
    let stored = creds.as_ref().and_then(|c| c.password_hash.clone());
    let password_ok = passwords::verify(password, stored).await;
    let member = creds
        .filter(|c| password_ok && c.member.active)
        .map(|c| c.member);

    let org_id = org.as_ref().map(|o| o.id);
    let Some(member) = member else {
        let actor = Actor {
            kind: PrincipalKind::MemberSession.as_str().to_string(),
            id: None,
            display: Some(user_name.chars().take(256).collect()),
        };
        let event = AuditEvent::new(org_id, actor, "auth.login", ctx)
            .failure(REFUSED)
            .status(401);
        state.audit.record(event).await?;
        // Password guessing is what the per-address failure limit is for.
        let source = ctx.source_ip.as_deref().and_then(|ip| ip.parse().ok());
        state
            .limits
            .auth_failed(source, None, std::time::Instant::now());
        return Err(ApiError::Unauthorized {
            detail: REFUSED.into(),
        });
    };

    let now = Timestamp::now();
    let jwt = state
        .sessions
        .issue(member.org_id, member.id, now)
        .map_err(ApiError::internal)?;
    let actor = Actor {
        kind: PrincipalKind::MemberSession.as_str().to_string(),
        id: Some(member.id.to_string()),
        display: Some(member.user_name.clone()),
    };
    let event = AuditEvent::new(org_id, actor, "auth.login", ctx)
        .target(Target::new("member", member.id, Some(&member.user_name)))
        .status(200);
    state.audit.record(event).await?;
    Ok((member, jwt))
}

/// `POST /api/v1/auth/logout`: the calling session stops working at once,
/// on every instance (tokens are revoked instead: this is for sessions).
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let jwt = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    end_session(&state, &caller, jwt).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends the session `jwt` of `caller`, recording `auth.logout` (the API and
/// the console sign out through this).
pub async fn end_session(state: &AppState, caller: &Caller, jwt: &str) -> Result<(), ApiError> {
    let Principal::Session {
        member_id,
        user_name,
        ..
    } = &caller.principal
    else {
        return Err(ApiError::BadRequest(
            "only a session signs out; a token is revoked instead".into(),
        ));
    };
    let event = caller
        .event("auth.logout")
        .target(Target::new("member", member_id, Some(user_name)))
        .status(204);
    state.sessions.end(&state.audit, jwt, event).await?;
    Ok(())
}
