//! Exports: every matching record, oldest first, as NDJSON (one record per
//! line, hashes included, verifiable offline) or CSV, read a page at a time
//! so that memory stays flat however many records match. The API and the
//! console stream the pages as chunks; the CLI writes them to a file.

use futures_util::{Stream, stream};

use super::AuditError;
use super::csv::{csv_header, csv_row};
use super::event::StoredEvent;
use super::query::{AuditQuery, RawQuery};
use crate::store::Db;

/// Records fetched per page.
const BATCH: i64 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv,
}

impl Format {
    /// `ndjson` (the default) or `csv`.
    pub fn parse(s: Option<&str>) -> Result<Self, AuditError> {
        match s.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("ndjson") => Ok(Format::Ndjson),
            Some("csv") => Ok(Format::Csv),
            Some(_) => Err(AuditError::Invalid("`format` must be ndjson or csv".into())),
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The name an export is saved under by default.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Ndjson => "audit-log.ndjson",
            Format::Csv => "audit-log.csv",
        }
    }

    /// What comes before the first record.
    pub fn header(self) -> Option<String> {
        (self == Format::Csv).then(csv_header)
    }

    /// One record, with its line end.
    pub fn encode(self, r: &StoredEvent) -> String {
        match self {
            Format::Ndjson => ndjson_line(r),
            Format::Csv => csv_row(r),
        }
    }
}

/// One record as an NDJSON line.
fn ndjson_line(r: &StoredEvent) -> String {
    serde_json::to_string(r).unwrap_or_default() + "\n"
}

/// The format and query of an export, validated (format first). Exports run
/// oldest first, so that a cursor can resume one.
pub fn parse_export(
    format: Option<&str>,
    filters: &RawQuery,
) -> Result<(Format, AuditQuery), AuditError> {
    let format = Format::parse(format)?;
    let query = AuditQuery::parse(filters)?;
    if query.descending {
        return Err(AuditError::Invalid(
            "exports run oldest first: use order=asc".into(),
        ));
    }
    Ok((format, query))
}

/// The records of an export, a page at a time, oldest first.
pub struct ExportPages {
    db: Db,
    chain: String,
    next: Option<AuditQuery>,
}

impl ExportPages {
    pub fn new(db: Db, chain: String, query: AuditQuery) -> Self {
        let first = AuditQuery {
            limit: BATCH,
            descending: false,
            ..query
        };
        Self {
            db,
            chain,
            next: Some(first),
        }
    }

    /// The next page (possibly empty), or `None` after the last one: a page
    /// shorter than a batch, or a failed read.
    pub async fn next_page(&mut self) -> Result<Option<Vec<StoredEvent>>, AuditError> {
        let Some(q) = self.next.take() else {
            return Ok(None);
        };
        let page = q.page(&self.db, &self.chain).await?;
        self.next = match page.last() {
            Some(last) if page.len() as i64 == BATCH => Some(q.after(last.seq)),
            _ => None,
        };
        Ok(Some(page))
    }
}

/// The pages of an export as text chunks, the header with the first. A
/// failed read ends the stream with an error (the reason is logged), so
/// that a truncated download is not taken for a whole one.
pub fn stream_records(
    db: Db,
    chain: String,
    query: AuditQuery,
    format: Format,
) -> impl Stream<Item = Result<String, std::io::Error>> + Send {
    let pages = ExportPages::new(db, chain, query);
    stream::unfold(Some((pages, format.header())), move |state| async move {
        let (mut pages, header) = state?;
        let page = match pages.next_page().await {
            Ok(Some(page)) => page,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(error = %e, "audit export failed mid-stream");
                return Some((Err(std::io::Error::other("export failed")), None));
            }
        };
        let mut chunk = header.unwrap_or_default();
        for r in &page {
            chunk.push_str(&format.encode(r));
        }
        // Only the last page can be empty.
        if chunk.is_empty() {
            return None;
        }
        Some((Ok(chunk), Some((pages, None))))
    })
}
