//! `POST /api/v1/auth/login`: a member signs in with organization, user name
//! and password and gets a short-lived session JWT. Every failure is the
//! same 401 after the same work (one argon2 verification), so the response
//! says nothing about which part was wrong. A password someone else has
//! seen (the bootstrap admin's, a one-time password) is refused with 403
//! until the member sets their own with `POST /api/v1/auth/password`, which
//! takes the same three fields and the new password and signs in.
//! `POST /api/v1/auth/logout` ends the calling session before it expires.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{Actor, AuditEvent, RequestContext, Target};
use crate::http::AppState;
use crate::http::extract::RequestMeta;
use crate::http::limits::{self, Failed};
use crate::http::{ApiError, ApiJson, Caller};
use crate::identity::members::{self, Credentials, Member};
use crate::identity::{orgs, passwords};
use crate::permissions::{Principal, PrincipalKind};
use crate::store::Timestamp;
use crate::use_cases::Call;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SignIn)]
pub struct Login {
    organization: String,
    user_name: String,
    password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    organization: String,
    user_name: String,
    password: String,
    new_password: String,
}

const REFUSED: &str = "invalid organization, user name or password";

/// What a member must do before a password someone else has seen signs in.
pub const CHANGE_REQUIRED: &str = "this password must be replaced before it signs in: set a new \
     one with POST /api/v1/auth/password (or on the console's sign-in page)";

fn session_body(state: &AppState, jwt: String) -> Json<Value> {
    Json(json!({
        "access_token": jwt,
        "token_type": "Bearer",
        "expires_in": state.sessions.ttl_seconds(),
    }))
}

#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "Authentication",
    summary = "Sign in",
    description = "A member signs in with organization (name or id), user name and password \
        and gets a short-lived session JWT. Public: no credential. Every failure is the same \
        401. A password someone else has seen (the bootstrap admin's, a one-time password) is \
        403 `password-change-required`: set a new one with `POST /api/v1/auth/password`.",
    request_body = Login,
    responses(
        (status = 200, description = "Signed in", body = super::doc::Session),
        (status = 401, description = "Wrong organization, user name or password (one answer for all)", body = crate::http::openapi::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`password-change-required`: set a new password first", body = crate::http::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
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
    Ok(session_body(&state, jwt))
}

/// `POST /api/v1/auth/password`: a member proves their current password and
/// sets a new one (the way out of a required change), and is signed in.
#[utoipa::path(
    post,
    path = "/auth/password",
    tag = "Authentication",
    summary = "Set a new password and sign in",
    description = "A member proves their current password and sets a new one (which must pass \
        the password policy and differ from the current one), ending every earlier session, \
        and is signed in. Public: no credential. A wrong current password is the same 401 as \
        a failed sign-in.",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Password set; signed in", body = super::doc::Session),
        (status = 401, description = "Wrong organization, user name or password (one answer for all)", body = crate::http::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
pub async fn change_password(
    State(state): State<AppState>,
    RequestMeta(ctx): RequestMeta,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Json<Value>, ApiError> {
    let (_, jwt) = change_own_password(
        &state,
        &ctx,
        &body.organization,
        &body.user_name,
        body.password,
        body.new_password,
    )
    .await?;
    Ok(session_body(&state, jwt))
}

/// The actor of a sign-in that did not sign anyone in: nobody is
/// authenticated (no session exists), so it is `anonymous`, with the user
/// name that was tried.
fn anonymous(user_name: &str) -> Actor {
    Actor {
        kind: PrincipalKind::Anonymous.as_str().to_string(),
        id: None,
        display: Some(user_name.chars().take(256).collect()),
    }
}

/// Checks a member's password, recording a failure as `action` (a 401,
/// the same whatever was wrong) and counting it toward the failure limit of
/// this sign-in from this address, which is checked first.
async fn check_password(
    state: &AppState,
    ctx: &RequestContext,
    action: &str,
    organization: &str,
    user_name: &str,
    password: String,
) -> Result<Credentials, ApiError> {
    let source = ctx.source_ip.as_deref().and_then(|ip| ip.parse().ok());
    let key = limits::credential::sign_in(organization, user_name);
    if let Err(refusal) = state
        .limits
        .check_credential_failures(source, &key, Instant::now())
    {
        let endpoint = format!("POST /api/v1/{}", action.replace('.', "/"));
        return Err(
            limits::refuse(state, refusal, None, anonymous(user_name), ctx, &endpoint).await,
        );
    }
    let org = orgs::find(&state.db, organization).await?;
    let creds = match &org {
        Some(org) => members::credentials(&state.db, org.id, user_name).await?,
        None => None,
    };
    let stored = creds.as_ref().and_then(|c| c.password_hash.clone());
    let password_ok = passwords::verify(password, stored).await;
    if let Some(creds) = creds.filter(|c| password_ok && c.member.active) {
        return Ok(creds);
    }
    let org_id = org.as_ref().map(|o| o.id);
    let event = AuditEvent::new(org_id, anonymous(user_name), action, ctx)
        .failure(REFUSED)
        .status(401);
    state.audit.record(event).await?;
    // Counted against this sign-in from this address only: a colleague
    // behind the same address, who types their own password, is not
    // refused for it.
    let failed = Failed::Credential { key: &key, org_id };
    state.limits.auth_failed(source, failed, Instant::now());
    Err(ApiError::Unauthorized {
        detail: REFUSED.into(),
    })
}

/// Checks a member's password and issues a session, recording `auth.login`
/// either way (the API and the console sign in through this). Every failure
/// is the same 401; a password that must be replaced first is a 403.
pub async fn sign_in(
    state: &AppState,
    ctx: &RequestContext,
    organization: &str,
    user_name: &str,
    password: String,
) -> Result<(Member, String), ApiError> {
    let creds = check_password(state, ctx, "auth.login", organization, user_name, password).await?;
    super::password_policy::check(state, ctx, &creds.member).await?;
    let member = creds.member;
    if creds.password_change_required {
        let event = AuditEvent::new(Some(member.org_id), anonymous(user_name), "auth.login", ctx)
            .target(Target::new("member", member.id, Some(&member.user_name)))
            .failure("password change required")
            .status(403)
            .changes(json!({ "reason_code": "password_change_required" }));
        state.audit.record(event).await?;
        return Err(ApiError::Denied {
            slug: "password-change-required",
            detail: CHANGE_REQUIRED.into(),
        });
    }
    let jwt = issue_session(state, ctx, &member).await?;
    Ok((member, jwt))
}

/// Checks a member's current password, sets the new one (the use case
/// `members::change_own_password`, recorded as `auth.password`) and signs
/// the member in (`auth.login`). The API and the console change passwords
/// through this.
pub async fn change_own_password(
    state: &AppState,
    ctx: &RequestContext,
    organization: &str,
    user_name: &str,
    password: String,
    new_password: String,
) -> Result<(Member, String), ApiError> {
    let creds = check_password(
        state,
        ctx,
        "auth.password",
        organization,
        user_name,
        password,
    )
    .await?;
    super::password_policy::check(state, ctx, &creds.member).await?;
    let m = &creds.member;
    let principal = Principal::Session {
        org_id: m.org_id,
        member_id: m.id,
        user_name: m.user_name.clone(),
        access: m.access(),
    };
    let call = Call::new(&principal, ctx);
    let member = crate::use_cases::members::change_own_password(
        state,
        &call,
        creds.password_hash.clone(),
        new_password,
    )
    .await?;
    let jwt = issue_session(state, ctx, &member).await?;
    Ok((member, jwt))
}

/// A session for `member`, recorded as `auth.login`.
async fn issue_session(
    state: &AppState,
    ctx: &RequestContext,
    member: &Member,
) -> Result<String, ApiError> {
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
    let event = AuditEvent::new(Some(member.org_id), actor, "auth.login", ctx)
        .target(Target::new("member", member.id, Some(&member.user_name)))
        .status(200);
    state.audit.record(event).await?;
    Ok(jwt)
}

/// `POST /api/v1/auth/logout`: the calling session stops working at once,
/// on every instance (tokens are revoked instead: this is for sessions).
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "Authentication",
    summary = "Sign out",
    description = "Ends the calling session on every instance. Requires a session (no \
        permission); a SAT or PAT gets 400 (revoke it instead).",
    responses(
        (status = 204, description = "Signed out"),
        (status = 400, description = "The credential is a token, not a session", body = crate::http::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
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
