//! Last-used time and address, without a write per request. Requests note
//! their use in memory; a background task flushes the newest note per token
//! in one transaction every few seconds, and once more at shutdown. Several
//! instances merge naturally: the UPDATE only moves `last_used_at` forward.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::TokenId;
use crate::on_tx;
use crate::store::{Db, StoreError, Timestamp};

/// When and from where a token was last used.
type Use = (Timestamp, Option<String>);

#[derive(Clone, Debug, Default)]
pub struct LastUsedRecorder {
    pending: Arc<Mutex<HashMap<TokenId, Use>>>,
}

impl LastUsedRecorder {
    pub fn note(&self, id: &TokenId, at: Timestamp, ip: Option<String>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match pending.get_mut(id) {
            Some(entry) if entry.0 >= at => {}
            Some(entry) => *entry = (at, ip),
            None => {
                pending.insert(id.clone(), (at, ip));
            }
        }
    }

    /// Writes everything noted so far. On failure the notes are put back so
    /// the next flush retries them.
    pub async fn flush(&self, db: &Db) -> Result<usize, StoreError> {
        let batch: Vec<_> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.drain().collect()
        };
        if batch.is_empty() {
            return Ok(0);
        }
        match write(db, &batch).await {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                for (id, (at, ip)) in batch {
                    self.note(&id, at, ip);
                }
                Err(e)
            }
        }
    }

    /// Flushes every `interval` until the returned handle is aborted.
    pub fn spawn_flusher(&self, db: Db, interval: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(e) = this.flush(&db).await {
                    tracing::warn!(error = %e, "flushing token last-used data failed; will retry");
                }
            }
        })
    }
}

async fn write(db: &Db, batch: &[(TokenId, Use)]) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    for (id, (at, ip)) in batch {
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE tokens SET last_used_at = $1, last_used_ip = $2 \
                 WHERE id = $3 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(*at)
            .bind(ip.as_deref())
            .bind(id.as_str())
            .execute(&mut *conn)
            .await.map(|r| r.rows_affected())
        })?;
    }
    tx.commit().await
}
