//! Query, lookup and verification handlers.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::query::{self, AuditQuery, RawQuery};
use crate::audit::{self, ChainReport};
use crate::http::AppState;
use crate::http::{ApiError, ApiPath, ApiQuery, Caller};
use crate::permissions::Action;

/// The chain of the caller's organization.
pub fn chain_of(caller: &Caller) -> String {
    caller.org_id().to_string()
}

/// `GET /api/v1/audit-logs`: one page, oldest first by default, with
/// `next_cursor` and a `Link: rel="next"` header. In ascending order the
/// cursor is always given, even on an empty page, so that a poller can ask
/// again later for what is new.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(raw): ApiQuery<RawQuery>,
) -> Result<Response, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    let q = AuditQuery::parse(&raw).map_err(|e| ApiError::BadRequest(e.0))?;
    let records = q.page(&state.db, &chain_of(&caller)).await?;
    let last = records.last().map(|r| r.seq);
    let next = match (q.descending, last) {
        (false, Some(seq)) => Some(seq),
        (false, None) => q.cursor.or(Some(0)),
        (true, Some(seq)) if records.len() as i64 == q.limit => Some(seq),
        (true, _) => None,
    };
    let mut resp = Json(json!({
        "records": records,
        "next_cursor": next.map(|n| n.to_string()),
    }))
    .into_response();
    if let Some(n) = next {
        let link = format!(
            "</api/v1/audit-logs?{}>; rel=\"next\"",
            q.to_query_string(&[("cursor", n.to_string())])
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}

/// `GET /api/v1/audit-logs/{id}`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<uuid::Uuid>,
) -> Result<Response, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    let record = query::find(&state.db, &chain_of(&caller), id)
        .await?
        .ok_or_else(|| ApiError::NotFound("audit record".into()))?;
    Ok(Json(record).into_response())
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    pub from_seq: Option<i64>,
    pub to_seq: Option<i64>,
}

/// `GET /api/v1/audit-logs/verify?from_seq=&to_seq=`: recomputes the chain
/// and reports the first broken link.
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> Result<Json<ChainReport>, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    let from = q.from_seq.unwrap_or(1);
    if from < 1 || q.to_seq.is_some_and(|t| t < from) {
        return Err(ApiError::BadRequest("need 1 <= from_seq <= to_seq".into()));
    }
    let report = audit::verify_range(&state.db, &chain_of(&caller), from, q.to_seq).await?;
    Ok(Json(report))
}

/// `GET /api/v1/audit-logs/jwks`: every signing key ever used, retired ones
/// included, to verify checkpoints of any age.
pub async fn jwks(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    Ok(Json(state.signer.jwks()))
}
