//! Query, lookup and verification handlers.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::audit::verify::Report;
use crate::audit::{self, AuditQuery, RawQuery};
use crate::http::AppState;
use crate::http::{ApiError, ApiPath, ApiQuery, Caller};
use crate::permissions::Action;

/// The chain of the caller's organization.
pub fn chain_of(caller: &Caller) -> String {
    audit::org_chain(caller.org_id())
}

/// `GET /api/v1/audit-logs`: one page, oldest first by default, with
/// `next_cursor` and a `Link: rel="next"` header. In ascending order the
/// cursor is always given, even on an empty page, so that a poller can ask
/// again later for what is new.
#[utoipa::path(
    get,
    path = "/audit-logs",
    tag = "Audit logs",
    summary = "Query the audit log",
    description = "One page of the organization's records, oldest first by default, with \
        `next_cursor` and a `Link: rel=\"next\"` header. Requires `audit_logs:read` (an organization SAT holding it, or an admin's session or PAT).",
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
        ("limit" = Option<String>, Query, description = "1 to 1000, default 100"),
        ("order" = Option<String>, Query, description = "`asc` (default) or `desc`"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the page before"),
    ),
    responses((status = 200, description = "One page", body = super::doc::AuditPage,
        headers(("Link" = String, description = "The next page, `rel=\"next\"`")))),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(raw): ApiQuery<RawQuery>,
) -> Result<Response, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    let q = AuditQuery::parse(&raw)?;
    let chain = chain_of(&caller);
    q.check_cursor(&state.db, &chain).await?;
    let records = q.page(&state.db, &chain).await?;
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
    if let Some(n) = next
        && let Ok(v) = HeaderValue::from_str(&next_link(&q, n))
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    Ok(resp)
}

/// The `Link` to the page after `cursor`: the same filters, canonical.
fn next_link(q: &AuditQuery, cursor: i64) -> String {
    let next = RawQuery {
        cursor: Some(cursor.to_string()),
        ..q.to_raw()
    };
    format!(
        "</api/v1/audit-logs?{}>; rel=\"next\"",
        serde_urlencoded::to_string(&next).unwrap_or_default()
    )
}

/// No query parameters: any name is refused, as on every audit endpoint.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// `GET /api/v1/audit-logs/{id}`.
#[utoipa::path(
    get,
    path = "/audit-logs/{id}",
    tag = "Audit logs",
    summary = "One record",
    description = "Requires `audit_logs:read` (an organization SAT holding it, or an admin's session or PAT).",
    params(("id" = Uuid, Path, description = "The record id")),
    responses((status = 200, description = "The record", body = super::doc::AuditRecord)),
    security(("bearer" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<uuid::Uuid>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Response, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    let record = audit::find_record(&state.db, &chain_of(&caller), id)
        .await?
        .ok_or_else(|| ApiError::NotFound("audit record".into()))?;
    Ok(Json(record).into_response())
}

/// `?from_seq=&to_seq=`: a range of sequence numbers, both ends optional
/// and inclusive (verification and checkpoints).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqRange {
    pub from_seq: Option<i64>,
    pub to_seq: Option<i64>,
}

/// `GET /api/v1/audit-logs/verify?from_seq=&to_seq=`: verifies the chain
/// against its signed checkpoints and reports the first break.
#[utoipa::path(
    get,
    path = "/audit-logs/verify",
    tag = "Audit logs",
    summary = "Verify the hash chain",
    description = "Recomputes the organization's chain over a range, checks it against every \
        signed checkpoint in range, and reports the first break. Requires `audit_logs:read` \
        (an organization SAT holding it, or an admin's session or PAT).",
    params(
        ("from_seq" = Option<i64>, Query, description = "First sequence number (inclusive)"),
        ("to_seq" = Option<i64>, Query, description = "Last sequence number (inclusive)"),
    ),
    responses((status = 200, description = "The report", body = super::doc::ChainReport)),
    security(("bearer" = []))
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SeqRange>,
) -> Result<Json<Report>, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    let from = q.from_seq.unwrap_or(1);
    let jwks = state.signer.jwks();
    let report = audit::verify_range(&state.db, &chain_of(&caller), from, q.to_seq, &jwks).await?;
    Ok(Json(report))
}

/// `GET /api/v1/audit-logs/jwks`: every signing key ever used, retired ones
/// included, to verify checkpoints of any age.
#[utoipa::path(
    get,
    path = "/audit-logs/jwks",
    tag = "Audit logs",
    summary = "Keys that verify checkpoints",
    description = "Every signing key ever used, retired ones included. Requires `audit_logs:read` (an organization SAT holding it, or an admin's session or PAT).",
    responses((status = 200, description = "The keys", body = super::doc::Jwks)),
    security(("bearer" = []))
)]
pub async fn jwks(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    Ok(Json(state.signer.jwks()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_repeats_the_filters_in_canonical_form() {
        let raw: RawQuery = serde_urlencoded::from_str(
            "outcome=failure&action=scim.*&since=2026-01-02T03:04:05Z&cursor=3",
        )
        .unwrap();
        let q = AuditQuery::parse(&raw).unwrap();
        assert_eq!(
            next_link(&q, 7),
            "</api/v1/audit-logs?since=2026-01-02T03%3A04%3A05.000000Z&action=scim.*\
             &outcome=failure&limit=100&order=asc&cursor=7>; rel=\"next\""
        );
    }
}
