//! Which permissions each token exercised, and when, without a write per
//! request: requests count in memory; a background task adds the counts to
//! `token_permission_usage` (one row per token, permission and day) in one
//! transaction every few seconds, and once more when it is stopped. Several
//! instances add up, since each adds only what it counted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use super::TokenId;
use super::last_used::Flusher;
use crate::store::dynamic::{Arg, SqlParts};
use crate::store::{Db, StoreError, Timestamp};
use crate::{on_db, on_tx};

/// A token's use of one permission on one day (`YYYY-MM-DD`, UTC).
type Key = (TokenId, String, String);
/// How often, and when last.
type Count = (i64, Timestamp);

#[derive(Clone, Debug, Default)]
pub struct UsageRecorder {
    pending: Arc<Mutex<HashMap<Key, Count>>>,
}

/// What a token did with one permission over a period.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Used {
    pub permission: String,
    pub count: i64,
    pub last_used_at: Timestamp,
}

fn day(at: Timestamp) -> String {
    let d = at.inner().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

impl UsageRecorder {
    /// Counts one use of `permission` by token `id`.
    pub fn note(&self, id: &TokenId, permission: &str, at: Timestamp) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        merge(
            &mut pending,
            (id.clone(), permission.to_string(), day(at)),
            (1, at),
        );
    }

    /// Writes every count so far; on failure they are put back for the next
    /// flush.
    pub async fn flush(&self, db: &Db) -> Result<usize, StoreError> {
        let mut batch: Vec<(Key, Count)> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.drain().collect()
        };
        if batch.is_empty() {
            return Ok(0);
        }
        // One order for every instance: no deadlock between two flushes.
        batch.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        match write(db, &batch).await {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                for (k, c) in batch {
                    merge(&mut pending, k, c);
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
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = &mut stopped => break,
                }
                if let Err(e) = this.flush(&db).await {
                    tracing::warn!(error = %e, "flushing permission usage failed; will retry");
                }
            }
            if let Err(e) = this.flush(&db).await {
                tracing::error!(error = %e, "final flush of permission usage failed");
            }
        });
        Flusher::new(stop, task)
    }
}

fn merge(pending: &mut HashMap<Key, Count>, key: Key, (n, at): Count) {
    let entry = pending.entry(key).or_insert((0, at));
    entry.0 += n;
    if at > entry.1 {
        entry.1 = at;
    }
}

async fn write(db: &Db, batch: &[(Key, Count)]) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    for ((id, permission, day), (n, at)) in batch {
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO token_permission_usage (token_id, permission, day, uses, last_used_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (token_id, permission, day) DO UPDATE SET \
                 uses = token_permission_usage.uses + excluded.uses, \
                 last_used_at = CASE WHEN excluded.last_used_at > token_permission_usage.last_used_at \
                   THEN excluded.last_used_at ELSE token_permission_usage.last_used_at END",
            )
            .bind(id.as_str())
            .bind(permission)
            .bind(day)
            .bind(*n)
            .bind(*at)
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })?;
    }
    tx.commit().await.map(|_| ())
}

#[derive(sqlx::FromRow)]
struct Row {
    token_id: String,
    permission: String,
    count: i64,
    last_used_at: Timestamp,
}

/// What the given tokens exercised since `since` (by day), per token,
/// most used first.
pub async fn used_since(
    db: &Db,
    ids: &[String],
    since: Timestamp,
) -> Result<HashMap<String, Vec<Used>>, StoreError> {
    let mut out: HashMap<String, Vec<Used>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let mut q = SqlParts::new();
        q.sql(
            "SELECT token_id, permission, CAST(SUM(uses) AS BIGINT) AS count, \
             MAX(last_used_at) AS last_used_at FROM token_permission_usage WHERE day >= ",
        )
        .bind(Arg::Text(day(since)))
        .sql(" AND token_id IN (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                q.sql(", ");
            }
            q.bind(Arg::Text(id.clone()));
        }
        q.sql(") GROUP BY token_id, permission ORDER BY token_id, count DESC, permission");
        let rows: Vec<Row> = on_db!(db, pool => q.build().build_query_as().fetch_all(pool).await)?;
        for r in rows {
            out.entry(r.token_id).or_default().push(Used {
                permission: r.permission,
                count: r.count,
                last_used_at: r.last_used_at,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_token_permission_and_day() {
        let r = UsageRecorder::default();
        let id = TokenId::generate();
        let t = Timestamp::now();
        r.note(&id, "scim:read", t);
        r.note(&id, "scim:read", t);
        r.note(&id, "scim:write", t);
        let pending = r.pending.lock().unwrap();
        assert_eq!(pending[&(id.clone(), "scim:read".into(), day(t))].0, 2);
        assert_eq!(pending[&(id, "scim:write".into(), day(t))].0, 1);
    }
}
