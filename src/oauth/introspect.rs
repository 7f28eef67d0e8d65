//! `POST /api/v1/tokens/introspect` (RFC 7662): a service holding an
//! organization SAT with `tokens:introspect` asks whether a token is active.
//! An inactive token (unknown, revoked, expired, rotated out, another
//! organization's) gets exactly `{"active":false}`; the audit record
//! (`token.introspect`) says why. A bad body is an OAuth error, as RFC 7662
//! §2.1 asks; the caller's own credential is checked (and refused) like any
//! API caller's.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use super::form::{OAuthError, OAuthForm};
use crate::audit::Target;
use crate::http::AppState;
use crate::http::{ApiError, Caller};
use crate::permissions::{Action, OrgPermission, Permission, Principal, authorize};
use crate::store::Timestamp;
use crate::tokens::{self, PlainToken, Source, TokenRefusal, Verified, VerifyError};

#[utoipa::path(
    post,
    path = "/tokens/introspect",
    tag = "Token authority",
    summary = "Introspect a token (RFC 7662)",
    description = "Whether a SAT or PAT is active, and what it may do. Requires \
        `tokens:introspect` (an organization SAT holding it). The token's CIDR allowlist is \
        not applied (the caller sees the client's address, not scimitar).",
    request_body(content(
        (super::doc::IntrospectionRequest = "application/x-www-form-urlencoded"),
        (super::doc::IntrospectionRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "The answer", body = super::doc::Introspection),
        (status = 400, description = "A bad body: an OAuth error", body = super::doc::OAuthErrorBody),
        (status = 415, description = "Neither a form nor JSON: an OAuth error", body = super::doc::OAuthErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn introspect(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<OAuthForm, OAuthError>,
) -> Result<Response, ApiError> {
    caller.require(&state, Action::IntrospectTokens).await?;
    let form = match form {
        Ok(f) => f,
        Err(e) => return Ok(e.into_response()),
    };
    let token = match form.require("token") {
        Ok(t) => t,
        Err(e) => return Ok(e.into_response()),
    };
    // The permission a service is about to let the token exercise: the
    // answer says whether the token holds it, and a held one is counted
    // for the least-privilege advisor.
    let wanted = match form.get("permission") {
        None => None,
        Some(p) => match p.parse::<Permission>() {
            Ok(p) => Some(p),
            Err(e) => {
                return Ok(
                    OAuthError::invalid_request("invalid_permission", e.to_string())
                        .into_response(),
                );
            }
        },
    };
    // The workspace the permission is wanted in; by default the token's
    // own (a workspace SAT's, or the one workspace a PAT holds
    // permissions in).
    let in_workspace = match form.get("workspace_id").map(Uuid::parse_str) {
        None => None,
        Some(Ok(w)) => Some(w),
        Some(Err(_)) => {
            return Ok(OAuthError::invalid_request(
                "invalid_workspace_id",
                "workspace_id is not a workspace id",
            )
            .into_response());
        }
    };
    let now = Timestamp::now();
    let verified = match tokens::verify_from(
        &state.db,
        &state.peppers,
        &state.tokens,
        token,
        Source::Unchecked,
        now,
    )
    .await
    {
        Err(VerifyError::Store(e)) => return Err(e.into()),
        Ok(v) => Ok(v),
        Err(VerifyError::Refused(r)) => Err(r),
    };
    let org = caller.org_id();
    let inactive = json!({ "active": false });
    // Another organization's tokens are none of this organization's
    // business: their records name no target.
    let (answer, reason, target) = match verified {
        Ok(v) if v.principal.org_id() == Some(org) => {
            state.last_used.note(&v.token_id, now, None);
            let mut answer = active(&v);
            if let Some(p) = wanted {
                let allowed = holds(&v.principal, p, in_workspace);
                if allowed {
                    state.usage.note(&v.token_id, &p.to_string(), now);
                }
                answer["allowed"] = allowed.into();
            }
            (answer, None, Some(v.token_id))
        }
        Ok(_) => (inactive, Some("other_organization"), None),
        Err(r) if r.org_id.is_some_and(|o| o != org) => match r.refusal {
            // Without its secret, another organization's token id reads as
            // unknown, so that no record confirms it exists.
            TokenRefusal::BadSecret => (inactive, Some("unknown_token"), r.token_id),
            _ => (inactive, Some("other_organization"), None),
        },
        Err(r) => {
            let id = r.token_id.or_else(|| PlainToken::id_hint(token));
            (inactive, Some(r.refusal.code()), id)
        }
    };
    let mut changes = json!({ "active": answer["active"], "reason": reason });
    if let Some(p) = wanted {
        changes["permission"] = p.to_string().into();
        changes["allowed"] = answer.get("allowed").cloned().unwrap_or(false.into());
    }
    let mut event = caller
        .event("token.introspect")
        .status(200)
        .changes(changes);
    if let Some(id) = &target {
        event = event.target(Target::new("token", id, None));
    }
    state.audit.record(event).await?;
    Ok(Json(answer).into_response())
}

/// Whether the verified principal holds `p`: a workspace permission in
/// `workspace`, or else in the token's own workspace (a SAT's, or the one a
/// PAT holds permissions in).
fn holds(principal: &Principal, p: Permission, workspace: Option<Uuid>) -> bool {
    let own = match principal {
        Principal::Sat { workspace_id, .. } => *workspace_id,
        Principal::Pat { access, .. } => access.only_workspace(),
        _ => None,
    };
    let action = match p {
        Permission::Workspace(resource, level) => match workspace.or(own) {
            Some(workspace_id) => Action::Workspace {
                workspace_id,
                resource,
                level,
            },
            None => return false,
        },
        Permission::Org(o) => match o {
            OrgPermission::ScimRead => Action::ScimRead,
            OrgPermission::ScimWrite => Action::ScimWrite,
            OrgPermission::AuditLogsRead => Action::ReadAuditLogs,
            OrgPermission::AuditLogsWrite => Action::WriteAuditLogs,
            OrgPermission::TokensIntrospect => Action::IntrospectTokens,
        },
    };
    authorize(principal, action).is_ok()
}

/// The answer for an active token. Absent values are left out, not null
/// (RFC 7662 §2.2): `exp` for a token that never expires.
fn active(v: &Verified) -> Value {
    let mut answer = match &v.principal {
        Principal::Sat {
            token_id,
            name,
            org_id,
            workspace_id,
            permissions,
        } => json!({
            "active": true,
            "token_type": "sat",
            "scope": permissions.names().join(" "),
            "client_id": token_id.as_str(),
            "sub": token_id.as_str(),
            "org_id": org_id,
            "workspace_id": workspace_id,
            "name": name,
        }),
        // A PAT acts for its member: the subject is the member (the
        // resource owner), the scope what the token may do now (its own
        // scope within the member's current access).
        Principal::Pat {
            token_id,
            org_id,
            member_id,
            user_name,
            access,
        } => json!({
            "active": true,
            "token_type": "pat",
            "scope": access.names().join(" "),
            "client_id": token_id.as_str(),
            "sub": member_id,
            "org_id": org_id,
            "workspace_id": access.only_workspace(),
            "workspace_permissions": access.workspaces_json(),
            "role": access.role,
            "name": user_name,
            "username": user_name,
        }),
        _ => return json!({ "active": false }),
    };
    answer["iat"] = v.created_at.unix_seconds().into();
    if let Some(exp) = v.expires_at {
        answer["exp"] = exp.unix_seconds().into();
    }
    answer
}
