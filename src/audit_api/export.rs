//! `GET /api/v1/audit-logs/export`: every matching record, oldest first, as
//! NDJSON or CSV (see `crate::audit::export`), streamed as a download.
//! `cursor` resumes after a given sequence number.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;

use super::handlers::chain_of;
use crate::audit::{self, RawQuery};
use crate::http::{ApiError, ApiQuery, AppState, Caller, download};
use crate::permissions::Action;

#[utoipa::path(
    get,
    path = "/audit-logs/export",
    tag = "Audit logs",
    summary = "Export the audit log",
    description = "Every matching record, oldest first, streamed as a download: NDJSON (one \
        record a line, as in a page) or CSV. Requires `audit_logs:read` (an organization SAT holding it, or an admin's session or PAT).",
    params(
        ("since" = Option<String>, Query, description = "RFC 3339; records at or after"),
        ("until" = Option<String>, Query, description = "RFC 3339; records before"),
        ("actor_type" = Option<String>, Query, description = "e.g. `sat`, `pat`, `member_session`, `operator`"),
        ("actor_id" = Option<String>, Query),
        ("action" = Option<String>, Query, description = "Exact, or a prefix ending in `.*` (`sat.*`)"),
        ("target_type" = Option<String>, Query),
        ("target_id" = Option<String>, Query),
        ("workspace_id" = Option<String>, Query),
        ("outcome" = Option<String>, Query, description = "`success` or `failure`"),
        ("limit" = Option<String>, Query, description = "1 to 1000, default 100"),
        ("order" = Option<String>, Query, description = "`asc` (default) or `desc`"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before"),
        ("format" = Option<String>, Query, description = "`ndjson` (default) or `csv`"),
    ),
    responses((status = 200, description = "The records",
        content(
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        ))),
    security(("bearer" = []))
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(raw): ApiQuery<RawQuery>,
) -> Result<Response, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    let (format, query) = audit::parse_export(&raw)?;
    let chunks = audit::stream_records(state.db.clone(), chain_of(&caller), query, format);
    let body = Body::from_stream(chunks);
    Ok(download::attachment(
        format.media_type(),
        format.file_name(),
        body,
    ))
}
