//! The rows of `audit_streams`: the admin operations' reads and writes (in
//! the caller's transaction) and delivery's bookkeeping (the lease, the
//! cursor, the last error), each in a short transaction of its own.

use uuid::Uuid;

use super::{AuditStream, StreamError, StreamFilter, StreamFormat, StreamStatus};
use crate::audit::chain::org_chain;
use crate::audit::event::{StoredEvent, stored_columns};
use crate::store::{Db, Timestamp, Tx};
use crate::{locking_select, on_db, on_tx};

/// A stream's row, sealed secret and lease included.
#[derive(sqlx::FromRow)]
pub(crate) struct StreamRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: String,
    pub format: String,
    pub filter_action: Option<String>,
    pub filter_outcome: Option<String>,
    pub enabled: bool,
    pub secret_enc: Vec<u8>,
    pub secret_nonce: Vec<u8>,
    pub secret_kek_id: String,
    pub cursor_seq: i64,
    pub last_delivered_seq: Option<i64>,
    pub last_delivered_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub failures: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

macro_rules! columns {
    () => {
        "id, org_id, url, format, filter_action, filter_outcome, enabled, secret_enc, \
         secret_nonce, secret_kek_id, cursor_seq, last_delivered_seq, last_delivered_at, \
         last_attempt_at, last_error, failures, created_at, updated_at"
    };
}

impl StreamRow {
    pub fn format(&self) -> StreamFormat {
        // Only ever written from a parsed format.
        StreamFormat::parse(&self.format).unwrap_or(StreamFormat::Ndjson)
    }

    pub fn filter(&self) -> StreamFilter {
        StreamFilter {
            action: self.filter_action.clone(),
            outcome: self.filter_outcome.clone(),
        }
    }

    pub fn view(&self, head_seq: i64) -> AuditStream {
        AuditStream {
            id: self.id,
            org_id: self.org_id,
            url: self.url.clone(),
            format: self.format(),
            filter: self.filter(),
            enabled: self.enabled,
            created_at: self.created_at,
            updated_at: self.updated_at,
            status: StreamStatus {
                cursor_seq: self.cursor_seq,
                head_seq,
                lag: (head_seq - self.cursor_seq).max(0),
                last_delivered_seq: self.last_delivered_seq,
                last_delivered_at: self.last_delivered_at,
                last_attempt_at: self.last_attempt_at,
                last_error: self.last_error.clone(),
                consecutive_failures: self.failures,
            },
        }
    }
}

/// A new stream's row. Its cursor is the chain's head when it is created,
/// so that it delivers only what is written after.
pub(crate) struct NewStream<'a> {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: &'a str,
    pub format: StreamFormat,
    pub filter: &'a StreamFilter,
    pub sealed: (String, Vec<u8>, Vec<u8>),
    pub now: Timestamp,
}

pub(crate) async fn insert_in(tx: &mut Tx, new: &NewStream<'_>) -> Result<StreamRow, StreamError> {
    let cursor = head_seq_in(tx, new.org_id).await?;
    let (kek_id, nonce, ct) = &new.sealed;
    let sql = concat!(
        "INSERT INTO audit_streams (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL, NULL, NULL, 0, $12, $12)"
    );
    on_tx!(tx, conn => {
        sqlx::query(sql)
            .bind(new.id)
            .bind(new.org_id)
            .bind(new.url)
            .bind(new.format.as_str())
            .bind(new.filter.action.as_deref())
            .bind(new.filter.outcome.as_deref())
            .bind(true)
            .bind(ct)
            .bind(nonce)
            .bind(kek_id)
            .bind(cursor)
            .bind(new.now)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    get_in(tx, new.org_id, new.id).await
}

/// The newest seq of the organization's chain (0 when it has none).
async fn head_seq_in(tx: &mut Tx, org_id: Uuid) -> Result<i64, StreamError> {
    let head: Option<i64> = on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT last_seq FROM audit_chain_heads WHERE chain = $1")
            .bind(org_chain(org_id))
            .fetch_optional(&mut *conn)
            .await
    })?;
    Ok(head.unwrap_or(0))
}

pub(crate) async fn head_seq(db: &Db, org_id: Uuid) -> Result<i64, StreamError> {
    let head: Option<i64> = on_db!(db, pool => {
        sqlx::query_scalar("SELECT last_seq FROM audit_chain_heads WHERE chain = $1")
            .bind(org_chain(org_id))
            .fetch_optional(pool)
            .await
    })?;
    Ok(head.unwrap_or(0))
}

/// Every stream's lag (records of its organization's chain written but not
/// yet done with), for the metrics.
pub async fn lags(db: &Db) -> Result<Vec<(Uuid, i64)>, StreamError> {
    let rows: Vec<(Uuid, Uuid, i64)> = on_db!(db, pool => {
        sqlx::query_as("SELECT id, org_id, cursor_seq FROM audit_streams")
            .fetch_all(pool)
            .await
    })?;
    let mut lags = Vec::with_capacity(rows.len());
    for (id, org_id, cursor) in rows {
        lags.push((id, (head_seq(db, org_id).await? - cursor).max(0)));
    }
    Ok(lags)
}

/// The organization's streams, oldest first, with their status.
pub async fn list(db: &Db, org_id: Uuid) -> Result<Vec<AuditStream>, StreamError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM audit_streams WHERE org_id = $1 ORDER BY created_at, id"
    );
    let rows: Vec<StreamRow> =
        on_db!(db, pool => sqlx::query_as(sql).bind(org_id).fetch_all(pool).await)?;
    let head = head_seq(db, org_id).await?;
    Ok(rows.iter().map(|r| r.view(head)).collect())
}

/// One stream of the organization, with its status.
pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<AuditStream, StreamError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM audit_streams WHERE org_id = $1 AND id = $2"
    );
    let row: Option<StreamRow> =
        on_db!(db, pool => sqlx::query_as(sql).bind(org_id).bind(id).fetch_optional(pool).await)?;
    let row = row.ok_or(StreamError::NotFound)?;
    Ok(row.view(head_seq(db, org_id).await?))
}

/// One stream's row in the caller's transaction, locked until it ends.
pub(crate) async fn get_in(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<StreamRow, StreamError> {
    let sql = locking_select!(
        tx,
        "SELECT ",
        columns!(),
        " FROM audit_streams WHERE org_id = $1 AND id = $2"
    );
    let row: Option<StreamRow> = on_tx!(tx, conn => {
        sqlx::query_as(sql).bind(org_id).bind(id).fetch_optional(&mut *conn).await
    })?;
    row.ok_or(StreamError::NotFound)
}

/// The view of a row read in the caller's transaction.
pub(crate) async fn view_in(tx: &mut Tx, row: &StreamRow) -> Result<AuditStream, StreamError> {
    Ok(row.view(head_seq_in(tx, row.org_id).await?))
}

/// Writes a stream's settings (url, format, filter, enabled).
pub(crate) async fn update_in(tx: &mut Tx, row: &StreamRow) -> Result<(), StreamError> {
    on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE audit_streams SET url = $1, format = $2, filter_action = $3, \
             filter_outcome = $4, enabled = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&row.url)
        .bind(&row.format)
        .bind(row.filter_action.as_deref())
        .bind(row.filter_outcome.as_deref())
        .bind(row.enabled)
        .bind(row.updated_at)
        .bind(row.id)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

pub(crate) async fn delete_in(tx: &mut Tx, id: Uuid) -> Result<(), StreamError> {
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM audit_streams WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

// ---- delivery's bookkeeping ----

/// The enabled streams of every organization.
pub(crate) async fn enabled_ids(db: &Db) -> Result<Vec<Uuid>, StreamError> {
    Ok(on_db!(db, pool => {
        sqlx::query_scalar("SELECT id FROM audit_streams WHERE enabled = $1 ORDER BY id")
            .bind(true)
            .fetch_all(pool)
            .await
    })?)
}

/// A stream's row by id alone (delivery works across organizations).
pub(crate) async fn row(db: &Db, id: Uuid) -> Result<Option<StreamRow>, StreamError> {
    let sql = concat!("SELECT ", columns!(), " FROM audit_streams WHERE id = $1");
    Ok(on_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?)
}

/// Whether this instance holds a stream's lease.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lease {
    /// Held (taken or renewed) until the given time.
    Held,
    /// Another instance holds an unexpired lease.
    Elsewhere,
    /// The stream is gone or disabled.
    Gone,
}

/// Takes or renews the lease of stream `id` for `owner` until `until`: only
/// when no one holds it, `owner` does, or the holder's lease has expired.
pub(crate) async fn acquire(
    db: &Db,
    id: Uuid,
    owner: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<Lease, StreamError> {
    let mut tx = db.begin().await?;
    let taken = on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE audit_streams SET lease_owner = $1, lease_expires_at = $2 \
             WHERE id = $3 AND enabled = $4 \
             AND (lease_owner IS NULL OR lease_owner = $1 OR lease_expires_at < $5)",
        )
        .bind(owner)
        .bind(until)
        .bind(id)
        .bind(true)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    if taken == 1 {
        return Ok(Lease::Held);
    }
    Ok(match row(db, id).await? {
        Some(r) if r.enabled => Lease::Elsewhere,
        _ => Lease::Gone,
    })
}

/// Gives up `owner`'s lease, so that another instance may deliver at once.
pub(crate) async fn release(db: &Db, id: Uuid, owner: &str) -> Result<(), StreamError> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE audit_streams SET lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(())
}

/// Moves the cursor from `from` to `to` after a success (`delivered`: the
/// last record sent, if any was). Only while `owner` holds the lease and
/// nobody moved the cursor meanwhile; false otherwise.
pub(crate) async fn advance(
    db: &Db,
    id: Uuid,
    owner: &str,
    from: i64,
    to: i64,
    delivered: Option<i64>,
    now: Timestamp,
) -> Result<bool, StreamError> {
    let delivered_at = delivered.map(|_| now);
    let mut tx = db.begin().await?;
    let moved = on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE audit_streams SET cursor_seq = $1, \
             last_delivered_seq = COALESCE($2, last_delivered_seq), \
             last_delivered_at = COALESCE($3, last_delivered_at), \
             last_attempt_at = COALESCE($3, last_attempt_at), \
             last_error = CASE WHEN $4 THEN NULL ELSE last_error END, \
             failures = CASE WHEN $4 THEN 0 ELSE failures END \
             WHERE id = $5 AND lease_owner = $6 AND cursor_seq = $7",
        )
        .bind(to)
        .bind(delivered)
        .bind(delivered_at)
        .bind(delivered.is_some())
        .bind(id)
        .bind(owner)
        .bind(from)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(moved == 1)
}

/// Records a failed attempt.
pub(crate) async fn failed(
    db: &Db,
    id: Uuid,
    owner: &str,
    error: &str,
    now: Timestamp,
) -> Result<(), StreamError> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, conn => {
        sqlx::query(
            "UPDATE audit_streams SET last_error = $1, last_attempt_at = $2, \
             failures = failures + 1 WHERE id = $3 AND lease_owner = $4",
        )
        .bind(error)
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(())
}

/// Up to `limit` records of the organization's chain after `after`, in
/// chain order.
pub(crate) async fn records_after(
    db: &Db,
    org_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, StreamError> {
    let sql = concat!(
        "SELECT ",
        stored_columns!(),
        " FROM audit_events WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(sql)
            .bind(org_chain(org_id))
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await
    })?)
}
