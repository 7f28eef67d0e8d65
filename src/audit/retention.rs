//! Retention: records older than their organization's retention period are
//! deleted, in batches, but only up to a signed checkpoint, so that the
//! oldest retained record is always anchored by a checkpoint and the rest of
//! the chain still verifies.

use super::AuditError;
use super::chain::org_chain;
use crate::store::{Db, Timestamp};
use crate::{on_db, on_tx};

/// Records deleted per transaction.
const BATCH: i64 = 1000;

/// Deletes expired records of every organization; returns how many.
pub async fn purge(db: &Db, now: Timestamp) -> Result<u64, AuditError> {
    let orgs: Vec<(uuid::Uuid, i32)> = on_db!(db, pool => {
        sqlx::query_as("SELECT id, audit_retention_days FROM organizations").fetch_all(pool).await
    })?;
    let mut deleted = 0;
    for (org, days) in orgs {
        let cutoff = now - time::Duration::days(i64::from(days.max(1)));
        deleted += purge_chain(db, &org_chain(org), cutoff).await?;
    }
    Ok(deleted)
}

/// Deletes the records of `chain` up to the newest checkpoint whose record
/// is older than `cutoff`.
pub async fn purge_chain(db: &Db, chain: &str, cutoff: Timestamp) -> Result<u64, AuditError> {
    let boundary: Option<i64> = on_db!(db, pool => {
        sqlx::query_scalar(
            "SELECT MAX(c.seq) FROM audit_checkpoints c JOIN audit_events e ON e.chain = c.chain AND e.seq = c.seq \
             WHERE c.chain = $1 AND e.occurred_at < $2",
        )
        .bind(chain)
        .bind(cutoff)
        .fetch_one(pool)
        .await
    })?;
    let Some(boundary) = boundary else {
        return Ok(0);
    };
    // Their filter index entries first (see `filter_index`): on SQLite the
    // index is a file of its own, which does not commit with the records.
    // Gone first, the records are only missed by filtered queries until
    // they go too (if the server stops in between, until its next purge);
    // gone after, the index would name records that no longer exist.
    super::filter_index::for_chain(
        db,
        "DELETE FROM audit_index WHERE chain = $1 AND seq <= $2",
        chain,
        boundary,
    )
    .await?;
    let mut deleted = 0;
    loop {
        let mut tx = db.begin().await?;
        let n = on_tx!(&mut tx, conn => {
            sqlx::query(
                "DELETE FROM audit_events WHERE id IN \
                 (SELECT id FROM audit_events WHERE chain = $1 AND seq <= $2 ORDER BY seq LIMIT $3)",
            )
            .bind(chain)
            .bind(boundary)
            .bind(BATCH)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
        })?;
        tx.commit().await?;
        deleted += n;
        if n < BATCH as u64 {
            return Ok(deleted);
        }
    }
}

/// Purges every `interval` until the handle is aborted.
pub fn spawn(db: Db, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match purge(&db, Timestamp::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(records = n, "purged expired audit records"),
                Err(e) => tracing::warn!(error = %e, "audit retention purge failed; will retry"),
            }
            // The intake's answers kept for retries (not records).
            if let Err(e) = super::intake::forget_old(&db, Timestamp::now()).await {
                tracing::warn!(error = %e, "forgetting old intake answers failed; will retry");
            }
        }
    })
}
