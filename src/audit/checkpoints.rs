//! Signed checkpoints: now and then, for each chain that grew, a JWS signed
//! with the server's current key stating that the chain had `hash` at
//! `seq`. The hash chain alone can be recomputed by anyone who can write to
//! the database; a checkpoint cannot be forged without the private key, so
//! an export verified against checkpoints (offline, with the JWKS) proves
//! that the records up to the last checkpoint are those the server wrote.
//!
//! A background task looks about once a second. For each chain it signs a
//! checkpoint at every `every_records`-th record after the last checkpoint
//! (seq covered + N, covered + 2N, …), and, when none is due that way but
//! the oldest record not yet covered has waited `every`, one at the head.
//! The decision is made from the database, and inserts ignore a checkpoint
//! that already exists, so several instances cooperate without duplicates.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::AuditError;
use crate::signing::Signer;
use crate::store::dynamic::{Arg, SqlParts};
use crate::store::settings::to_hex;
use crate::store::{Db, Timestamp};
use crate::{on_db, on_tx};

/// The `typ` of a checkpoint's JWS header, so that a checkpoint is never
/// mistaken for a token signed with the same key.
pub const CHECKPOINT_TYP: &str = "audit-checkpoint+jwt";

/// How often the background task looks for chains that need a checkpoint.
const TICK: Duration = Duration::from_secs(1);

/// At most this many checkpoints per chain per tick (a backlog, after a
/// stop, is worked off over the following ticks).
const MAX_PER_CHAIN: i64 = 100;

/// When to sign a checkpoint.
#[derive(Clone, Copy, Debug)]
pub struct CheckpointPolicy {
    /// After this many records since the last checkpoint.
    pub every_records: u64,
    /// Or when the oldest record not yet covered is this old.
    pub every: Duration,
}

/// What a checkpoint's JWS signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointClaims {
    pub chain: String,
    pub seq: i64,
    /// Lowercase hex of the record's hash.
    pub hash: String,
    /// RFC 3339, UTC, microseconds.
    pub time: String,
    /// The seq of the chain's checkpoint before this one (0 for the first),
    /// so that a deleted checkpoint is missed by its successor. Checkpoints
    /// signed before it existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<i64>,
}

/// A checkpoint as the API and `scimitar audit checkpoints` give it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub time: String,
    pub kid: String,
    pub jws: String,
}

#[derive(sqlx::FromRow)]
struct CheckpointRow {
    seq: i64,
    hash: Vec<u8>,
    created_at: Timestamp,
    kid: String,
    jws: String,
}

impl From<CheckpointRow> for Checkpoint {
    fn from(r: CheckpointRow) -> Self {
        Checkpoint {
            seq: r.seq,
            hash: to_hex(&r.hash),
            time: r.created_at.to_canonical(),
            kid: r.kid,
            jws: r.jws,
        }
    }
}

/// A chain whose head is past its last checkpoint.
#[derive(sqlx::FromRow)]
struct Pending {
    chain: String,
    last_seq: i64,
    last_hash: Vec<u8>,
    covered: i64,
    first_uncovered_at: Option<Timestamp>,
}

/// Signs a checkpoint for every chain that is due one at `now`. Returns the
/// (chain, seq) of the checkpoints written.
pub async fn create_due(
    db: &Db,
    signer: &Signer,
    policy: CheckpointPolicy,
    now: Timestamp,
) -> Result<Vec<(String, i64)>, AuditError> {
    // One row per chain head, with the last checkpointed seq (an indexed
    // MAX on the primary key) and the time of the first record after it.
    let pending: Vec<Pending> = on_db!(db, pool => {
        sqlx::query_as(
            "SELECT t.chain, t.last_seq, t.last_hash, t.covered, \
             (SELECT e.occurred_at FROM audit_events e WHERE e.chain = t.chain AND e.seq = t.covered + 1) \
               AS first_uncovered_at \
             FROM (SELECT h.chain, h.last_seq, h.last_hash, \
                   COALESCE((SELECT MAX(c.seq) FROM audit_checkpoints c WHERE c.chain = h.chain), 0) AS covered \
                   FROM audit_chain_heads h) t \
             WHERE t.last_seq > t.covered",
        )
        .fetch_all(pool)
        .await
    })?;
    let every = time::Duration::try_from(policy.every).unwrap_or(time::Duration::MAX);
    let step = i64::try_from(policy.every_records.max(1)).unwrap_or(i64::MAX);
    let time = now.to_canonical();
    let mut signed = Vec::new();
    for p in &pending {
        // Every `step` records since the last checkpoint…
        let mut targets: Vec<i64> = (1..=MAX_PER_CHAIN)
            .map_while(|k| p.covered.checked_add(step.checked_mul(k)?))
            .take_while(|seq| *seq <= p.last_seq)
            .collect();
        // …or the head, once its oldest uncovered record has waited long
        // enough (a missing one, deleted by retention, does not wait).
        let waited = p
            .first_uncovered_at
            .is_none_or(|t| now.inner() - t.inner() >= every);
        if targets.is_empty() && waited {
            targets.push(p.last_seq);
        }
        if targets.is_empty() {
            continue;
        }
        let hashes = hashes_at(db, &p.chain, &targets, (p.last_seq, &p.last_hash)).await?;
        // Each links to the one before: the last stored, then the one just
        // signed (a target gone by retention is skipped, and not linked).
        let mut prev = p.covered;
        for (seq, hash) in hashes {
            let claims = CheckpointClaims {
                chain: p.chain.clone(),
                seq,
                hash: to_hex(&hash),
                time: time.clone(),
                prev: Some(prev),
            };
            prev = seq;
            let (jws, kid) = signer.sign_jws_typed(CHECKPOINT_TYP, &claims)?;
            signed.push((p.chain.clone(), seq, hash, kid, jws));
        }
    }
    if signed.is_empty() {
        return Ok(Vec::new());
    }
    let mut written = Vec::new();
    let mut tx = db.begin().await?;
    for (chain, seq, hash, kid, jws) in &signed {
        let n = on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO audit_checkpoints (chain, seq, hash, created_at, kid, jws) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(chain)
            .bind(*seq)
            .bind(hash)
            .bind(now)
            .bind(kid)
            .bind(jws)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
        })?;
        if n == 1 {
            written.push((chain.clone(), *seq));
        }
    }
    tx.commit().await?;
    Ok(written)
}

/// The hashes of the records of `chain` at `seqs` (ascending), the head's
/// from the chain head itself; a record gone by retention is skipped.
async fn hashes_at(
    db: &Db,
    chain: &str,
    seqs: &[i64],
    head: (i64, &[u8]),
) -> Result<Vec<(i64, Vec<u8>)>, AuditError> {
    let inner: Vec<i64> = seqs.iter().copied().filter(|s| *s != head.0).collect();
    let mut found: Vec<(i64, Vec<u8>)> = Vec::with_capacity(seqs.len());
    if !inner.is_empty() {
        let mut q = SqlParts::new();
        q.sql("SELECT seq, hash FROM audit_events WHERE chain = ")
            .bind(Arg::Text(chain.to_string()))
            .sql(" AND seq IN (");
        for (i, seq) in inner.iter().enumerate() {
            if i > 0 {
                q.sql(", ");
            }
            q.bind(Arg::Int(*seq));
        }
        q.sql(") ORDER BY seq");
        found = on_db!(db, pool => q.build().build_query_as().fetch_all(pool).await)?;
    }
    if seqs.contains(&head.0) {
        found.push((head.0, head.1.to_vec()));
    }
    Ok(found)
}

/// Starts the checkpointer, which about once a second signs the checkpoints
/// that are due. Keys are re-read by their own task
/// ([`crate::signing::spawn_refresher`]) so that slow checkpoint work cannot
/// delay a rotation made by another instance.
pub fn spawn_checkpointer(db: Db, signer: Arc<Signer>, policy: CheckpointPolicy) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match create_due(&db, &signer, policy, Timestamp::now()).await {
                Ok(written) => {
                    for (chain, seq) in written {
                        tracing::debug!(%chain, seq, "signed an audit checkpoint");
                    }
                }
                Err(e) => tracing::error!(error = %e, "signing audit checkpoints failed"),
            }
        }
    })
}

/// A chain's checkpoints, oldest first, optionally within `from..=to`.
pub async fn list(
    db: &Db,
    chain: &str,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Vec<Checkpoint>, AuditError> {
    let rows: Vec<CheckpointRow> = on_db!(db, pool => {
        sqlx::query_as(
            "SELECT seq, hash, created_at, kid, jws FROM audit_checkpoints \
             WHERE chain = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq",
        )
        .bind(chain)
        .bind(from.unwrap_or(0))
        .bind(to.unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
    })?;
    Ok(rows.into_iter().map(Checkpoint::from).collect())
}
