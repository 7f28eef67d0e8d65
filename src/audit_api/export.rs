//! `GET /api/v1/audit-logs/export`: every matching record, oldest first, as
//! NDJSON (one record per line, hashes included, verifiable offline) or CSV,
//! streamed a page at a time so that memory stays flat however many
//! records match. `cursor` resumes after a given sequence number.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use super::handlers::chain_of;
use super::query::{AuditQuery, RawQuery};
use crate::audit::StoredEvent;
use crate::http::AppState;
use crate::http::{ApiError, ApiQuery, Caller};
use crate::permissions::Action;
use crate::store::Db;

/// Records fetched per page of the stream.
const BATCH: i64 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

impl Format {
    pub fn parse(s: Option<&str>) -> Result<Self, ApiError> {
        match s.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("ndjson") => Ok(Format::Ndjson),
            Some("csv") => Ok(Format::Csv),
            Some(_) => Err(ApiError::BadRequest(
                "`format` must be ndjson or csv".into(),
            )),
        }
    }
}

pub const CSV_COLUMNS: [&str; 22] = [
    "id",
    "chain",
    "seq",
    "org_id",
    "workspace_id",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "actor_display",
    "action",
    "target_type",
    "target_id",
    "target_display",
    "outcome",
    "reason",
    "http_status",
    "request_id",
    "source_ip",
    "user_agent",
    "changes",
    "prev_hash",
    "hash",
];

/// The first characters that make a spreadsheet read a cell as a formula
/// (OWASP, "CSV Injection"). Audit records carry text anyone can choose
/// without a credential (a refused sign-in's user name and User-Agent), so
/// an export opened in a spreadsheet must never run it.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One CSV cell: a would-be formula is prefixed with `'` (shown as text,
/// the value otherwise intact), then quoted when it holds a separator, a
/// quote or a line break (RFC 4180).
fn csv_field(s: &str) -> String {
    let guarded;
    let s = if s.starts_with(FORMULA_TRIGGERS) {
        guarded = format!("'{s}");
        guarded.as_str()
    } else {
        s
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One record as a CSV row, in the order of [`CSV_COLUMNS`].
pub fn csv_row(r: &StoredEvent) -> String {
    let v = serde_json::to_value(r).unwrap_or_default();
    let cells: Vec<String> = CSV_COLUMNS
        .iter()
        .map(|c| match &v[*c] {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => csv_field(s),
            other => csv_field(&other.to_string()),
        })
        .collect();
    cells.join(",") + "\n"
}

/// One record as an NDJSON line.
pub fn ndjson_line(r: &StoredEvent) -> String {
    serde_json::to_string(r).unwrap_or_default() + "\n"
}

/// The pages of an export as byte chunks.
pub fn stream_records(
    db: Db,
    chain: String,
    query: AuditQuery,
    format: Format,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let header = (format == Format::Csv).then(|| CSV_COLUMNS.join(",") + "\n");
    let start = AuditQuery {
        limit: BATCH,
        descending: false,
        ..query
    };
    stream::unfold((Some(start), header), move |(next, header)| {
        let db = db.clone();
        let chain = chain.clone();
        async move {
            let q = next?;
            let page = match q.page(&db, &chain).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "audit export failed mid-stream");
                    return Some((Err(std::io::Error::other("export failed")), (None, None)));
                }
            };
            let mut chunk = header.unwrap_or_default();
            for r in &page {
                chunk.push_str(&match format {
                    Format::Ndjson => ndjson_line(r),
                    Format::Csv => csv_row(r),
                });
            }
            let following = match page.last() {
                Some(last) if page.len() as i64 == BATCH => Some(q.after(last.seq)),
                _ => None,
            };
            if chunk.is_empty() && following.is_none() {
                return None;
            }
            Some((Ok(Bytes::from(chunk)), (following, None)))
        }
    })
}

pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(raw): ApiQuery<RawQuery>,
) -> Result<Response, ApiError> {
    caller.require(&state, Action::ReadAuditLogs).await?;
    let format = Format::parse(raw.format.as_deref())?;
    let query = AuditQuery::parse(&raw).map_err(|e| ApiError::BadRequest(e.0))?;
    if query.descending {
        return Err(ApiError::BadRequest(
            "exports run oldest first: use order=asc".into(),
        ));
    }
    let body = Body::from_stream(stream_records(
        state.db.clone(),
        chain_of(&caller),
        query,
        format,
    ));
    let (ct, ext) = match format {
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"audit-log.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn csv_cells_that_would_be_formulas_are_text() {
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-2"), "'-2");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("\tx"), "'\tx");
        assert_eq!(csv_field("\rx"), "\"'\rx\"");
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        // Only the first character matters.
        assert_eq!(csv_field("a=b"), "a=b");
        assert_eq!(csv_field(""), "");
    }
}
