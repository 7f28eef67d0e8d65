//! `GET /api/v1/tokens/self`: any valid credential learns what it is (like
//! Cloudflare's token verify). Lets an integration check its token without
//! needing any permission.

use axum::Json;
use serde_json::{Value, json};

use crate::http::{ApiError, Caller};
use crate::permissions::Principal;

pub async fn get(caller: Caller) -> Result<Json<Value>, ApiError> {
    let body = match (&caller.principal, &caller.token) {
        (
            Principal::Sat {
                token_id,
                name,
                org_id,
                workspace_id,
                permissions,
            },
            Some(v),
        ) => json!({
            "id": token_id.as_str(),
            "kind": "sat",
            "level": if workspace_id.is_some() { "workspace" } else { "organization" },
            "name": name,
            "org_id": org_id,
            "workspace_id": workspace_id,
            "permissions": permissions.names(),
            "expires_at": v.expires_at,
            "status": "active",
        }),
        (
            Principal::Pat {
                token_id,
                org_id,
                member_id,
                user_name,
                role,
            },
            Some(v),
        ) => json!({
            "id": token_id.as_str(),
            "kind": "pat",
            "org_id": org_id,
            "member_id": member_id,
            "user_name": user_name,
            "role": role,
            "expires_at": v.expires_at,
            "status": "active",
        }),
        (
            Principal::Session {
                org_id,
                member_id,
                user_name,
                role,
            },
            _,
        ) => json!({
            "kind": "member_session",
            "org_id": org_id,
            "member_id": member_id,
            "user_name": user_name,
            "role": role,
            "status": "active",
        }),
        _ => return Err(ApiError::internal("unexpected principal on /tokens/self")),
    };
    Ok(Json(body))
}
