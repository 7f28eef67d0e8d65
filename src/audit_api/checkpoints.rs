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
pub async fn checkpoints(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SeqRange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    let found = checkpoints::list(&state.db, &chain_of(&caller), q.from_seq, q.to_seq).await?;
    Ok(Json(serde_json::json!({ "checkpoints": found })))
}
