//! `POST /api/v1/tokens/introspect` (RFC 7662): a service holding an
//! organization SAT with `tokens:introspect` asks whether a token is active.
//! An inactive token (unknown, revoked, expired, rotated out, another
//! organization's) gets exactly `{"active":false}`; the audit record
//! (`token.introspect`) says why.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::form::{FormRejection, OAuthForm};
use crate::app::AppState;
use crate::audit::Target;
use crate::http::{ApiError, Caller};
use crate::permissions::{Action, Principal};
use crate::store::Timestamp;
use crate::tokens::{self, PlainToken, Source, Verified};

pub async fn introspect(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<OAuthForm, FormRejection>,
) -> Result<Response, ApiError> {
    caller.require(&state, Action::IntrospectTokens).await?;
    let form = form.map_err(|e| ApiError::BadRequest(e.0))?;
    let token = form
        .get("token")
        .ok_or_else(|| ApiError::BadRequest("`token` is required".into()))?;
    let now = Timestamp::now();
    let verified =
        tokens::verify_from(&state.db, &state.peppers, token, Source::Unchecked, now).await?;
    let org = caller.org_id();
    let (answer, reason, token_id) = match verified {
        Ok(v) if v.principal.org_id() == Some(org) => {
            state.last_used.note(&v.token_id, now, None);
            (active(&v), None, Some(v.token_id.to_string()))
        }
        Ok(v) => (
            json!({ "active": false }),
            Some("another organization's token"),
            Some(v.token_id.to_string()),
        ),
        Err(refused) => {
            let id = refused
                .token_id
                .or_else(|| PlainToken::id_hint(token))
                .map(|i| i.to_string());
            (json!({ "active": false }), Some(refused.refusal.code()), id)
        }
    };
    let mut event = caller
        .event("token.introspect")
        .status(200)
        .changes(json!({ "active": answer["active"], "reason": reason }));
    if let Some(id) = &token_id {
        event = event.target(Target::new("token", id, None));
    }
    state.audit.record(event).await?;
    Ok(Json(answer).into_response())
}

fn active(v: &Verified) -> Value {
    let exp = v.expires_at.map(|e| e.unix_seconds());
    let iat = v.created_at.unix_seconds();
    match &v.principal {
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
            "exp": exp,
            "iat": iat,
            "name": name,
        }),
        Principal::Pat {
            token_id,
            org_id,
            member_id,
            user_name,
            role,
        } => json!({
            "active": true,
            "token_type": "pat",
            "scope": format!("role:{}", role.as_str()),
            "client_id": token_id.as_str(),
            "sub": member_id,
            "org_id": org_id,
            "workspace_id": null,
            "exp": exp,
            "iat": iat,
            "name": user_name,
            "username": user_name,
        }),
        _ => json!({ "active": false }),
    }
}
