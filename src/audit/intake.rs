//! The audit intake's memory of what each workspace service reported
//! (`audit_intake`): one row per (reporting SAT, event id) with a digest of
//! the event as sent and the answer it got, written in the transaction
//! that records the event, so that a retry is answered as the first call
//! was and recorded nothing twice. The rules (what is accepted, what a
//! digest covers) are the use case's (`use_cases::audit_intake`); this is
//! only their storage.

use std::collections::HashMap;

use sqlx::QueryBuilder;
use uuid::Uuid;

use super::AuditError;
use crate::store::{Db, Timestamp, Tx};
use crate::{on_db, on_tx};

/// How long an answer is kept for retries: far longer than the lateness
/// window within which a service may report an event at all, after which
/// a retry would be refused as too late in any case.
pub const KEEP_ANSWERS: time::Duration = time::Duration::days(1);

/// Rows per statement: 6 bound values a row, far below both backends'
/// limits.
const ROWS_PER_STATEMENT: usize = 500;

/// An event's entry: its id, the digest of its body, the answer it got.
#[derive(Clone, Debug)]
pub struct Entry {
    pub event_id: String,
    pub digest: Vec<u8>,
    /// The answer, as JSON text.
    pub answer: String,
}

/// What an earlier call left for one event id.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Prior {
    pub event_id: String,
    pub body_digest: Vec<u8>,
    pub answer: String,
}

/// Inserts the entries whose ids `reporter` has not used before, and
/// returns the ids inserted. Ids already there (from an earlier call, or
/// from a concurrent one that committed first) are left as they are.
pub async fn claim(
    tx: &mut Tx,
    org_id: Uuid,
    reporter: &str,
    entries: &[Entry],
) -> Result<Vec<String>, AuditError> {
    let now = Timestamp::now();
    let mut inserted = Vec::with_capacity(entries.len());
    for rows in entries.chunks(ROWS_PER_STATEMENT) {
        let ids: Vec<String> = on_tx!(tx, conn => {
            let mut q = QueryBuilder::new(
                "INSERT INTO audit_intake (reporter_id, event_id, org_id, body_digest, answer, created_at) ",
            );
            q.push_values(rows, |mut b, e| {
                b.push_bind(reporter)
                    .push_bind(e.event_id.clone())
                    .push_bind(org_id)
                    .push_bind(e.digest.clone())
                    .push_bind(e.answer.clone())
                    .push_bind(now);
            });
            q.push(" ON CONFLICT (reporter_id, event_id) DO NOTHING RETURNING event_id");
            q.build_query_scalar().fetch_all(&mut *conn).await
        })?;
        inserted.extend(ids);
    }
    Ok(inserted)
}

/// What earlier calls left for `event_ids` of `reporter`, by event id.
pub async fn priors(
    tx: &mut Tx,
    reporter: &str,
    event_ids: &[&str],
) -> Result<HashMap<String, Prior>, AuditError> {
    let mut found = HashMap::new();
    for ids in event_ids.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<Prior> = on_tx!(tx, conn => {
            let mut q = QueryBuilder::new(
                "SELECT event_id, body_digest, answer FROM audit_intake WHERE reporter_id = ",
            );
            q.push_bind(reporter).push(" AND event_id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(id.to_string());
            }
            q.push(")");
            q.build_query_as().fetch_all(&mut *conn).await
        })?;
        found.extend(rows.into_iter().map(|p| (p.event_id.clone(), p)));
    }
    Ok(found)
}

/// Forgets answers older than [`KEEP_ANSWERS`] (run by the retention
/// task); returns how many.
pub async fn forget_old(db: &Db, now: Timestamp) -> Result<u64, AuditError> {
    let cutoff = now - KEEP_ANSWERS;
    let n = on_db!(db, pool => {
        sqlx::query("DELETE FROM audit_intake WHERE created_at < $1")
            .bind(cutoff)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n)
}
