//! Last-used time and address, without a write per request. Requests note
//! their use in memory; a background task flushes the newest note per token
//! in one transaction every few seconds, and once more when it is stopped.
//! Several instances merge naturally: the UPDATE only moves `last_used_at`
//! forward, and a use without a known address (an introspection, which sees
//! only the introspecting service) never erases the address already known.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::TokenId;
use crate::on_tx;
use crate::store::{Db, StoreError, Timestamp};

/// When and from where a token was last used.
type Use = (Timestamp, Option<String>);

#[derive(Clone, Debug, Default)]
pub struct LastUsedRecorder {
    pending: Arc<Mutex<HashMap<TokenId, Use>>>,
}

/// The running flusher. Stop it with [`Flusher::stop`], never by aborting
/// its task: an abort in the middle of a write would lose the batch.
#[derive(Debug)]
pub struct Flusher {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Flusher {
    pub(super) fn new(stop: oneshot::Sender<()>, task: JoinHandle<()>) -> Self {
        Self { stop, task }
    }

    /// Lets a write in progress finish, flushes what is left, and returns
    /// when that is done.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl LastUsedRecorder {
    pub fn note(&self, id: &TokenId, at: Timestamp, ip: Option<String>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        merge(&mut pending, id.clone(), (at, ip));
    }

    /// Takes every note, in token id order: two instances flushing at once
    /// then lock rows in the same order and cannot deadlock on PostgreSQL.
    fn take_batch(&self) -> Vec<(TokenId, Use)> {
        let mut batch: Vec<_> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.drain().collect()
        };
        batch.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        batch
    }

    /// Writes everything noted so far. On failure the notes are put back,
    /// merged with any noted since, so that the next flush retries them.
    pub async fn flush(&self, db: &Db) -> Result<usize, StoreError> {
        let batch = self.take_batch();
        if batch.is_empty() {
            return Ok(0);
        }
        match write(db, &batch).await {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                for (id, used) in batch {
                    merge(&mut pending, id, used);
                }
                Err(e)
            }
        }
    }

    /// Flushes every `interval` until stopped, then once more.
    pub fn spawn_flusher(&self, db: Db, interval: Duration) -> Flusher {
        let this = self.clone();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                // Only the wait races the stop signal: a flush, once begun,
                // runs to its end.
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = &mut stopped => break,
                }
                if let Err(e) = this.flush(&db).await {
                    tracing::warn!(error = %e, "flushing token last-used data failed; will retry");
                }
            }
            if let Err(e) = this.flush(&db).await {
                tracing::error!(error = %e, "final flush of token last-used data failed");
            }
        });
        Flusher { stop, task }
    }
}

/// Keeps the newest use. A use without an address keeps the address known
/// from an earlier one.
fn merge(pending: &mut HashMap<TokenId, Use>, id: TokenId, (at, ip): Use) {
    match pending.get_mut(&id) {
        Some(known) if known.0 >= at => {
            if known.1.is_none() {
                known.1 = ip;
            }
        }
        Some(known) => {
            known.0 = at;
            if ip.is_some() {
                known.1 = ip;
            }
        }
        None => {
            pending.insert(id, (at, ip));
        }
    }
}

async fn write(db: &Db, batch: &[(TokenId, Use)]) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    for (id, (at, ip)) in batch {
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE tokens SET last_used_at = $1, last_used_ip = COALESCE($2, last_used_ip) \
                 WHERE id = $3 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(*at)
            .bind(ip.as_deref())
            .bind(id.as_str())
            .execute(&mut *conn)
            .await.map(|r| r.rows_affected())
        })?;
    }
    tx.commit().await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::Principal;
    use crate::tokens::{NewToken, Owner, Peppers, TokenView};
    use time::Duration as Span;
    use uuid::Uuid;

    /// A fresh SQLite database holding one organization SAT.
    async fn db_with_token() -> (Db, Uuid, TokenId) {
        let db = crate::store::testing::migrated_sqlite().await;
        let now = Timestamp::now();
        let org = Uuid::now_v7();
        let mut tx = db.begin().await.unwrap();
        on_tx!(&mut tx, conn => {
            sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, 'unit', $2)")
                .bind(org)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
        })
        .unwrap();
        let new = NewToken {
            org_id: org,
            owner: Owner::Organization,
            name: "ci".into(),
            description: None,
            permissions: vec!["scim:read".into()],
            expires_at: None,
            allowed_cidrs: Vec::new(),
            max_lifetime_days: None,
        };
        let peppers = Peppers::new(1, vec![7; 32]);
        let (view, _) = super::super::create(&mut tx, &peppers, new, &Principal::Operator, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        (db, org, TokenId::parse(&view.id).unwrap())
    }

    async fn stored(db: &Db, org: Uuid, id: &TokenId) -> TokenView {
        super::super::get(db, org, id, Timestamp::now())
            .await
            .unwrap()
    }

    fn ip(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn the_newest_note_wins_and_a_missing_address_keeps_the_known_one() {
        let rec = LastUsedRecorder::default();
        let id = TokenId::generate();
        let t = Timestamp::now();
        rec.note(&id, t, ip("10.0.0.1"));
        rec.note(&id, t + Span::seconds(2), None);
        rec.note(&id, t + Span::seconds(1), ip("10.0.0.2"));
        assert_eq!(
            rec.take_batch(),
            vec![(id, (t + Span::seconds(2), ip("10.0.0.1")))]
        );
    }

    #[test]
    fn a_batch_is_in_token_id_order() {
        let rec = LastUsedRecorder::default();
        let t = Timestamp::now();
        for _ in 0..50 {
            rec.note(&TokenId::generate(), t, None);
        }
        let ids: Vec<TokenId> = rec.take_batch().into_iter().map(|(id, _)| id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[tokio::test]
    async fn an_older_note_flushed_later_does_not_overwrite_a_newer_one() {
        let (db, org, id) = db_with_token().await;
        let rec = LastUsedRecorder::default();
        let newer = Timestamp::now();
        rec.note(&id, newer, ip("10.0.0.2"));
        assert_eq!(rec.flush(&db).await.unwrap(), 1);
        // Another instance's older use arrives after.
        rec.note(&id, newer - Span::seconds(5), ip("10.0.0.1"));
        rec.flush(&db).await.unwrap();
        let t = stored(&db, org, &id).await;
        assert_eq!(t.last_used_at, Some(newer));
        assert_eq!(t.last_used_ip, ip("10.0.0.2"));
    }

    #[tokio::test]
    async fn a_use_without_an_address_keeps_the_stored_address() {
        let (db, org, id) = db_with_token().await;
        let rec = LastUsedRecorder::default();
        let t = Timestamp::now();
        rec.note(&id, t, ip("10.0.0.1"));
        rec.flush(&db).await.unwrap();
        rec.note(&id, t + Span::seconds(1), None);
        rec.flush(&db).await.unwrap();
        let stored = stored(&db, org, &id).await;
        assert_eq!(stored.last_used_at, Some(t + Span::seconds(1)));
        assert_eq!(stored.last_used_ip, ip("10.0.0.1"));
    }

    #[tokio::test]
    async fn a_failed_flush_puts_its_notes_back_under_newer_ones() {
        let (db, org, id) = db_with_token().await;
        let rec = LastUsedRecorder::default();
        let t = Timestamp::now();
        rec.note(&id, t, ip("10.0.0.1"));
        // A second pool on the same file, closed: the write cannot start.
        let broken = match &db {
            Db::Sqlite(pool, ..) => {
                let options = (*pool.connect_options()).clone();
                let writer: sqlx::SqliteConnection =
                    <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
                        .await
                        .unwrap();
                let gate = crate::store::WriterGate::new(writer, true);
                let readers = sqlx::SqlitePool::connect_with(options).await.unwrap();
                Db::Sqlite(readers, gate, Default::default())
            }
            Db::Postgres(..) => unreachable!("unit tests run on SQLite"),
        };
        broken.close().await;
        assert!(rec.flush(&broken).await.is_err());
        rec.note(&id, t + Span::seconds(1), None);
        assert_eq!(rec.flush(&db).await.unwrap(), 1);
        let stored = stored(&db, org, &id).await;
        assert_eq!(stored.last_used_at, Some(t + Span::seconds(1)));
        assert_eq!(stored.last_used_ip, ip("10.0.0.1"));
    }

    /// Stopping while a periodic write waits for the database lets that
    /// write finish (an abort lost its batch: the notes were already taken).
    #[tokio::test]
    async fn stopping_the_flusher_mid_write_keeps_the_batch() {
        let (db, org, id) = db_with_token().await;
        let rec = LastUsedRecorder::default();
        // Hold the writer: the flusher's next write waits for it.
        let blocker = db.begin().await.unwrap();
        let flusher = rec.spawn_flusher(db.clone(), Duration::from_millis(10));
        let t = Timestamp::now();
        rec.note(&id, t, ip("10.0.0.1"));
        while !rec.pending.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let stopping = tokio::spawn(flusher.stop());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!stopping.is_finished(), "the write in progress is awaited");
        blocker.commit().await.unwrap();
        stopping.await.unwrap();
        assert_eq!(stored(&db, org, &id).await.last_used_at, Some(t));
    }

    #[tokio::test]
    async fn stopping_the_flusher_writes_what_is_left() {
        let (db, org, id) = db_with_token().await;
        let rec = LastUsedRecorder::default();
        let flusher = rec.spawn_flusher(db.clone(), Duration::from_secs(3600));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = Timestamp::now();
        rec.note(&id, t, None);
        flusher.stop().await;
        assert_eq!(stored(&db, org, &id).await.last_used_at, Some(t));
    }
}
