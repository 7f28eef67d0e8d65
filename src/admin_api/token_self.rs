//! `GET /api/v1/tokens/self`: any valid credential learns what it is (like
//! Cloudflare's token verify). Lets an integration check its token without
//! needing any permission. Every kind of credential answers with the same
//! keys, `null` where one does not apply, so that a client reads one shape.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::{ApiError, Caller};
use crate::identity::orgs;
use crate::permissions::Principal;

#[utoipa::path(
    get,
    path = "/tokens/self",
    tag = "Tokens",
    summary = "What the calling credential is",
    description = "Any valid credential (SAT, PAT or session) learns what it is. No permission \
        needed.",
    responses((status = 200, description = "The credential", body = super::doc::SelfView)),
    security(("bearer" = []))
)]
pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let org = orgs::get(&state.db, caller.org_id()).await?;
    let token = caller.token.as_ref();
    let mut body = json!({
        "id": token.map(|t| t.token_id.as_str()),
        "kind": caller.principal.kind().as_str(),
        "level": null,
        "name": token.map(|t| &t.name),
        "org_id": org.id,
        "org_name": org.name,
        "workspace_id": null,
        "member_id": caller.principal.member_id(),
        "user_name": null,
        "role": null,
        "permissions": [],
        "workspace_permissions": [],
        "expires_at": caller.expires_at,
        "status": "active",
    });
    match &caller.principal {
        Principal::Sat {
            workspace_id,
            permissions,
            ..
        } => {
            body["level"] = json!(if workspace_id.is_some() {
                "workspace"
            } else {
                "organization"
            });
            body["workspace_id"] = json!(workspace_id);
            body["permissions"] = json!(permissions.names());
        }
        // A person's credential holds their effective access (a PAT: as
        // far as its scope lets it).
        Principal::Pat {
            user_name, access, ..
        }
        | Principal::Session {
            user_name, access, ..
        } => {
            body["user_name"] = json!(user_name);
            body["role"] = json!(access.role);
            body["permissions"] = json!(access.names());
            body["workspace_id"] = json!(access.only_workspace());
            body["workspace_permissions"] = access.workspaces_json();
        }
        Principal::Operator => {
            return Err(ApiError::internal("unexpected principal on /tokens/self"));
        }
    }
    Ok(Json(body))
}
