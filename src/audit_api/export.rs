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
