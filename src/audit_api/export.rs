//! `GET /api/v1/audit-logs/export`: every matching record, oldest first, as
//! NDJSON or CSV (see `crate::audit::export`), streamed as a download.
//! `cursor` resumes after a given sequence number.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;

use super::handlers::chain_of;
use crate::audit::{self, RawExport};
use crate::http::{ApiError, ApiQuery, AppState, Caller, download};
use crate::permissions::Action;

#[utoipa::path(
    get,
    path = "/audit-logs/export",
    tag = "Audit logs",
    summary = "Export the audit log",
    description = "Every matching record, oldest first, streamed as a download: NDJSON (one \
        record a line, as in a page) or CSV. Unknown parameters (`limit`, `order`, …) are refused. Requires `audit_logs:read` (an organization SAT holding it, or an admin's session or PAT).",
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
        ("kind" = Option<String>, Query, description = "`change`, `read` or `refusal`, comma-separated"),
        ("cursor" = Option<String>, Query, description = "Resume after this `seq`"),
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
    ApiQuery(raw): ApiQuery<RawExport>,
) -> Result<Response, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    let (format, filters) = raw.split();
    let (format, query) = audit::parse_export(format.as_deref(), &filters)?;
    let chain = chain_of(&caller);
    query.check_cursor(&state.db, &chain).await?;
    let chunks = audit::stream_records(state.db.clone(), chain, query, format);
    let body = Body::from_stream(chunks);
    Ok(download::attachment(
        format.media_type(),
        format.file_name(),
        body,
    ))
}
