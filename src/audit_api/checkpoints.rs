//! `GET /api/v1/audit-logs/checkpoints`: the signed checkpoints (signed by
//! `crate::audit::checkpoints`) that an offline verifier checks an export
//! against.

use axum::Json;
use axum::extract::State;

use super::handlers::{SeqRange, chain_of};
use crate::audit::checkpoints;
use crate::http::AppState;
use crate::http::{ApiError, ApiQuery, Caller};
use crate::permissions::Action;

/// `GET /api/v1/audit-logs/checkpoints?from_seq=&to_seq=`: the caller's
/// organization's checkpoints, oldest first.
#[utoipa::path(
    get,
    path = "/audit-logs/checkpoints",
    tag = "Audit logs",
    summary = "Signed checkpoints",
    description = "The organization's signed checkpoints, oldest first, for verifying an \
        export offline. Requires `audit_logs:read` (an organization SAT holding it, or an admin's session or PAT).",
    params(
        ("from_seq" = Option<i64>, Query, description = "First sequence number (inclusive)"),
        ("to_seq" = Option<i64>, Query, description = "Last sequence number (inclusive)"),
    ),
    responses((status = 200, description = "The checkpoints", body = super::doc::CheckpointList)),
    security(("bearer" = []))
)]
pub async fn checkpoints(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SeqRange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    let found = checkpoints::list(&state.db, &chain_of(&caller), q.from_seq, q.to_seq).await?;
    Ok(Json(serde_json::json!({ "checkpoints": found })))
}
