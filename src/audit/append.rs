//! Appending records to their hash chains, many at a time: per chain one
//! head statement that reserves a block of sequence numbers, one multi-row
//! insert and one head update, whether the batch holds one record or a
//! thousand. The group-commit writer hands every batch here; a single
//! record is a batch of one.
//!
//! The writer also remembers each chain's head as it last wrote it
//! ([`Heads`]). With that, the head need not be read first: the batch is
//! appended by a head update that only matches if the head is still as
//! remembered, and an insert that only runs if it matched. If another
//! process (an instance, the CLI) wrote to the chain since, nothing is
//! written and the batch takes the reading path. On SQLite the pair runs
//! in place, with no round trip; on PostgreSQL it is one statement (the
//! head update in a data-modifying `WITH`). A batch of records with no
//! change beside them is one round trip in all, its `BEGIN` and `COMMIT`
//! included.

use std::collections::HashMap;

use sqlx::QueryBuilder;
use uuid::Uuid;

use super::AuditError;
use super::chain::{GENESIS, UNATTRIBUTED_CHAIN, org_chain};
use super::event::{AuditEvent, StoredEvent, stored_columns};
use crate::store::{Db, InPlaceValues, Timestamp, Tx, TxConn, WriterTurn};
use crate::{on_tx, store};

/// Longest text kept from client-controlled fields (user agent, request id),
/// so that a hostile client cannot bloat the log.
const MAX_CLIENT_TEXT: usize = 512;

/// Rows per INSERT: 23 bound values a row stays far below both backends'
/// limits on bound values per statement (32,766 and 65,535).
const ROWS_PER_INSERT: usize = 500;

/// Binds a record's columns, in `stored_columns!` order, to one row of a
/// `push_values`.
macro_rules! bind_row {
    ($b:expr, $s:expr) => {{
        let s = $s;
        $b.push_bind(s.id)
            .push_bind(s.chain)
            .push_bind(s.seq)
            .push_bind(s.org_id)
            .push_bind(s.workspace_id)
            .push_bind(s.occurred_at)
            .push_bind(s.actor_kind)
            .push_bind(s.actor_id)
            .push_bind(s.actor_display)
            .push_bind(s.action)
            .push_bind(s.target_type)
            .push_bind(s.target_id)
            .push_bind(s.target_display)
            .push_bind(s.outcome)
            .push_bind(s.reason)
            .push_bind(s.http_status)
            .push_bind(s.request_id)
            .push_bind(s.source_ip)
            .push_bind(s.user_agent)
            .push_bind(s.changes)
            .push_bind(s.reported_by)
            .push_bind(s.prev_hash)
            .push_bind(s.hash);
    }};
}

fn clip(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|s| s.chars().take(MAX_CLIENT_TEXT).collect())
}

/// A chain's head as this process last wrote it.
#[derive(Clone, Debug)]
pub struct Head {
    seq: i64,
    hash: Vec<u8>,
    time: Timestamp,
}

/// The heads this process wrote, by chain. A remembered head is a guess
/// that is checked as it is used, never trusted.
pub type Heads = HashMap<String, Head>;

/// Appends one record. See [`append`].
pub async fn record(tx: &mut Tx, event: AuditEvent) -> Result<StoredEvent, AuditError> {
    let mut stored = append(tx, vec![event]).await?;
    Ok(stored.pop().expect("one record appended"))
}

/// Appends `events` to their chains, in order, inside `tx`. If this fails
/// the caller's transaction fails with it, so no change goes unrecorded.
async fn append(tx: &mut Tx, events: Vec<AuditEvent>) -> Result<Vec<StoredEvent>, AuditError> {
    append_remembering(tx, &mut Heads::new(), events).await
}

/// [`append`], starting from remembered heads where there are some, and
/// remembering the heads it leaves. A head is forgotten until the
/// transaction's outcome is known: the caller puts back what it returns
/// only once committed.
pub async fn append_remembering(
    tx: &mut Tx,
    heads: &mut Heads,
    events: Vec<AuditEvent>,
) -> Result<Vec<StoredEvent>, AuditError> {
    let mut stored = Vec::new();
    for (chain, events) in by_chain(events) {
        let appended = match heads.remove(&chain) {
            Some(head) => match append_after(tx, &chain, &head, &events).await? {
                Some(appended) => appended,
                None => append_to_chain(tx, &chain, events).await?,
            },
            None => append_to_chain(tx, &chain, events).await?,
        };
        stored.extend(appended);
    }
    Ok(stored)
}

/// Remembers the heads `stored` (committed) left.
pub fn remember(heads: &mut Heads, stored: &[StoredEvent]) {
    for s in stored {
        heads.insert(
            s.chain.clone(),
            Head {
                seq: s.seq,
                hash: s.hash.clone(),
                time: s.occurred_at,
            },
        );
    }
}

/// Appends records that accompany no change, in a transaction of their
/// own, in the caller's `turn` to write, in a single round trip when the
/// batch has one chain whose head is remembered: on SQLite a script with
/// its `BEGIN` and `COMMIT`; on PostgreSQL, when `lazily` (the records of
/// reads need not wait for the WAL flush), one statement on the
/// [`LazyPool`](crate::store::LazyPool). If it cannot (another kind of
/// batch, or the remembered head was stale, and then nothing was
/// written), it hands the turn back for the caller to append in a
/// transaction.
pub async fn append_alone(
    db: &Db,
    mut turn: WriterTurn,
    heads: &mut Heads,
    events: &[AuditEvent],
    lazily: bool,
) -> Result<Option<WriterTurn>, AuditError> {
    let mut chains = by_chain(events.to_vec());
    let (Some((chain, events)), true) = (chains.pop(), chains.is_empty()) else {
        return Ok(Some(turn));
    };
    if events.len() > ROWS_PER_INSERT || (matches!(db, Db::Postgres(..)) && !lazily) {
        return Ok(Some(turn));
    }
    let Some(head) = heads.remove(&chain) else {
        return Ok(Some(turn));
    };
    let stored = chained(&chain, head.seq, head.hash.clone(), Some(head.time), events);
    let inserted = match db {
        Db::Sqlite(..) => {
            let in_place = lazily
                .then(|| {
                    db.write_in_place(&turn, |conn| {
                        guarded_append_in_place(conn, &chain, &head, &stored)
                    })
                })
                .flatten();
            match in_place {
                // Locked by another connection: waiting is for the path
                // below, whose wait is on sqlx's thread, not this one.
                Some(Err(e)) if !e.is_busy() => return Err(e.into()),
                Some(Ok(inserted)) => inserted,
                _ => {
                    let mut script = QueryBuilder::new("BEGIN IMMEDIATE; ");
                    guarded_append(&mut script, &chain, &head, &stored);
                    script.push("; COMMIT");
                    store::run_script(db, &mut turn, script)
                        .await?
                        .first()
                        .copied()
                }
            }
        }
        Db::Postgres(..) => {
            let mut statement = QueryBuilder::new("");
            guarded_append_postgres(&mut statement, &chain, &head, &stored);
            i64::try_from(store::execute_lazily(db, statement).await?).ok()
        }
    };
    if inserted != Some(stored.len() as i64) {
        return Ok(Some(turn));
    }
    remember(heads, &stored);
    Ok(None)
}

fn by_chain(events: Vec<AuditEvent>) -> Vec<(String, Vec<AuditEvent>)> {
    let mut by_chain: Vec<(String, Vec<AuditEvent>)> = Vec::new();
    for event in events {
        let chain = event
            .org_id
            .map(org_chain)
            .unwrap_or_else(|| UNATTRIBUTED_CHAIN.to_string());
        match by_chain.iter_mut().find(|(c, _)| *c == chain) {
            Some((_, list)) => list.push(event),
            None => by_chain.push((chain, vec![event])),
        }
    }
    by_chain
}

/// The head update of a guarded append: `stored` becomes the chain's head
/// only if the head is still the remembered `head`.
fn move_head<DB: sqlx::Database>(
    q: &mut QueryBuilder<DB>,
    chain: &str,
    head: &Head,
    stored: &[StoredEvent],
) where
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Vec<u8>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Timestamp: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let last = stored.last().expect("a chain's batch is never empty");
    q.push("UPDATE audit_chain_heads SET last_seq = ")
        .push_bind(last.seq)
        .push(", last_hash = ")
        .push_bind(last.hash.clone())
        .push(", last_time = ")
        .push_bind(last.occurred_at)
        .push(" WHERE chain = ")
        .push_bind(chain.to_string())
        .push(" AND last_seq = ")
        .push_bind(head.seq)
        .push(" AND last_hash = ")
        .push_bind(head.hash.clone());
}

/// The SQLite statements that append `stored` after the remembered
/// `head`: a head update that matches only if the head is unchanged, then
/// the records, inserted only if it matched (`changes()` is the row count
/// of the statement before), then the number of records inserted.
fn guarded_append(
    q: &mut QueryBuilder<sqlx::Sqlite>,
    chain: &str,
    head: &Head,
    stored: &[StoredEvent],
) {
    move_head(q, chain, head, stored);
    q.push("; INSERT INTO audit_events (");
    q.push(stored_columns!()).push(") SELECT * FROM (");
    q.push_values(stored, |mut b, s| {
        bind_row!(b, s.clone());
    });
    q.push(") WHERE changes() = 1; SELECT changes()");
}

/// [`guarded_append`] in place on SQLite's writer of records alone (see
/// [`crate::store::InlineReads`]), as a transaction of its own: no round
/// trip to a worker thread at all. `None` if the head has moved, and then
/// nothing was written.
fn guarded_append_in_place(
    conn: &mut rusqlite::Connection,
    chain: &str,
    head: &Head,
    stored: &[StoredEvent],
) -> rusqlite::Result<Option<i64>> {
    let tx = rusqlite::Transaction::new(conn, rusqlite::TransactionBehavior::Immediate)?;
    let inserted = guarded_statements_in_place(&tx, chain, head, stored)?;
    if inserted.is_some() {
        tx.commit()?;
    }
    // Otherwise dropped: rolled back.
    Ok(inserted)
}

/// The statements of [`guarded_append`], run in place inside a transaction
/// already open on `conn`. `None` if the head has moved, and then nothing
/// was written.
fn guarded_statements_in_place(
    conn: &rusqlite::Connection,
    chain: &str,
    head: &Head,
    stored: &[StoredEvent],
) -> rusqlite::Result<Option<i64>> {
    let last = stored.last().expect("a chain's batch is never empty");
    let moved = conn
        .prepare_cached(
            "UPDATE audit_chain_heads SET last_seq = ?1, last_hash = ?2, last_time = ?3 \
             WHERE chain = ?4 AND last_seq = ?5 AND last_hash = ?6",
        )?
        .execute((
            last.seq,
            &last.hash,
            last.occurred_at,
            chain,
            head.seq,
            &head.hash,
        ))?;
    if moved != 1 {
        return Ok(None);
    }
    let mut values = InPlaceValues::default();
    for s in stored {
        bind_row!(values, s.clone());
    }
    let row = format!("({})", vec!["?"; COLUMNS].join(", "));
    // OR FAIL: a failing row fails the statement without undoing the rows
    // before it, so SQLite keeps no statement journal for it (copying
    // every page the insert touched, a tenth of a read's CPU). Nothing
    // is lost: a failure fails the whole transaction, which is rolled back.
    let sql = format!(
        "INSERT OR FAIL INTO audit_events ({}) VALUES {}",
        stored_columns!(),
        vec![row; stored.len()].join(", ")
    );
    let inserted = conn
        .prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(values.into_values()?))?;
    Ok(Some(inserted as i64))
}

/// The columns of a stored record (`stored_columns!`).
const COLUMNS: usize = 23;

/// [`guarded_append`] as one PostgreSQL statement: the head update in a
/// data-modifying `WITH`, and the records inserted only if it matched. It
/// affects as many rows as it inserted.
fn guarded_append_postgres(
    q: &mut QueryBuilder<sqlx::Postgres>,
    chain: &str,
    head: &Head,
    stored: &[StoredEvent],
) {
    q.push("WITH moved AS (");
    move_head(q, chain, head, stored);
    q.push(" RETURNING 1) INSERT INTO audit_events (");
    q.push(stored_columns!()).push(") SELECT * FROM (");
    q.push_values(stored, |mut b, s| {
        bind_row!(b, s.clone());
    });
    q.push(") AS v (")
        .push(stored_columns!())
        .push(") WHERE EXISTS (SELECT 1 FROM moved)");
}

/// Appends after the remembered `head`, inside `tx`. `None` if the head
/// has moved, and then nothing was written.
async fn append_after(
    tx: &mut Tx,
    chain: &str,
    head: &Head,
    events: &[AuditEvent],
) -> Result<Option<Vec<StoredEvent>>, AuditError> {
    if events.len() > ROWS_PER_INSERT {
        // Too many values for one guarded statement: read the head instead.
        return Ok(None);
    }
    let stored = chained(
        chain,
        head.seq,
        head.hash.clone(),
        Some(head.time),
        events.to_vec(),
    );
    // The head update and the insert together: in place on SQLite, one
    // statement on PostgreSQL, where each statement is a round trip inside
    // the batch's transaction, which holds every change in it until the
    // commit.
    let inserted = match &mut tx.conn {
        TxConn::Sqlite(t) => {
            let conn = t.in_place().await?;
            guarded_statements_in_place(conn, chain, head, &stored)
                .map_err(crate::store::StoreError::from)?
                .map_or(0, |n| n as u64)
        }
        TxConn::Postgres(t) => {
            let mut statement = QueryBuilder::new("");
            guarded_append_postgres(&mut statement, chain, head, &stored);
            statement.build().execute(&mut **t).await?.rows_affected()
        }
    };
    Ok((inserted == stored.len() as u64).then_some(stored))
}

/// The records of `events`, chained after `seq` and `prev_hash`.
fn chained(
    chain: &str,
    seq: i64,
    prev_hash: Vec<u8>,
    last_time: Option<Timestamp>,
    events: Vec<AuditEvent>,
) -> Vec<StoredEvent> {
    let mut seq = seq;
    let mut prev_hash = prev_hash;
    // Times never go backwards along a chain (even across instances with
    // skewed clocks), so that a time range is a sequence range and time
    // queries can page by sequence number.
    let mut floor = last_time;
    events
        .into_iter()
        .map(|event| {
            seq += 1;
            let occurred_at = floor.map_or(event.occurred_at, |t| t.max(event.occurred_at));
            floor = Some(occurred_at);
            let mut s = stored_event(chain, seq, occurred_at, event);
            s.prev_hash = std::mem::take(&mut prev_hash);
            s.hash = s.compute_hash();
            prev_hash = s.hash.clone();
            s
        })
        .collect()
}

/// Appends `events` after reading the chain's head, inside `tx`.
async fn append_to_chain(
    tx: &mut Tx,
    chain: &str,
    events: Vec<AuditEvent>,
) -> Result<Vec<StoredEvent>, AuditError> {
    let count = events.len() as i64;
    // The upsert reserves `count` sequence numbers at once and takes the
    // chain head's row lock (PostgreSQL) until commit, so concurrent
    // writers to one chain queue here, sequence numbers have no gaps, and
    // the lock is held only from here to the commit. RETURNING gives the
    // last reserved number and the hash and time of the record before the
    // block.
    let (last_seq, prev_hash, last_time): (i64, Vec<u8>, Option<Timestamp>) = on_tx!(tx, conn => {
        sqlx::query_as(
            "INSERT INTO audit_chain_heads (chain, last_seq, last_hash) VALUES ($1, $2, $3) \
             ON CONFLICT (chain) DO UPDATE SET last_seq = audit_chain_heads.last_seq + $2 \
             RETURNING last_seq, last_hash, last_time",
        )
        .bind(chain)
        .bind(count)
        .bind(&GENESIS[..])
        .fetch_one(&mut *conn)
        .await
    })?;
    let stored = chained(chain, last_seq - count, prev_hash, last_time, events);
    for rows in stored.chunks(ROWS_PER_INSERT) {
        insert(tx, rows).await?;
    }
    let last = stored.last().expect("a chain's batch is never empty");
    on_tx!(tx, conn => {
        sqlx::query("UPDATE audit_chain_heads SET last_hash = $1, last_time = $2 WHERE chain = $3")
            .bind(&last.hash)
            .bind(last.occurred_at)
            .bind(chain)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(stored)
}

fn stored_event(chain: &str, seq: i64, occurred_at: Timestamp, event: AuditEvent) -> StoredEvent {
    let (target_type, target_id, target_display) = match event.target {
        Some(t) => (Some(t.kind), t.id, t.display),
        None => (None, None, None),
    };
    StoredEvent {
        id: event.record_id.unwrap_or_else(Uuid::now_v7),
        chain: chain.to_string(),
        seq,
        org_id: event.org_id,
        workspace_id: event.workspace_id,
        occurred_at,
        actor_kind: event.actor.kind,
        actor_id: event.actor.id,
        actor_display: event.actor.display,
        action: event.action,
        target_type,
        target_id,
        target_display,
        outcome: event.outcome.as_str().to_string(),
        reason: event.reason,
        http_status: event.http_status.map(i32::from),
        request_id: clip(&event.context.request_id),
        source_ip: event.context.source_ip,
        user_agent: clip(&event.context.user_agent),
        changes: event.changes.map(|c| c.to_string()),
        reported_by: event.reported_by,
        prev_hash: Vec::new(),
        hash: Vec::new(),
    }
}

/// One multi-row INSERT of `rows`.
async fn insert(tx: &mut Tx, rows: &[StoredEvent]) -> Result<(), AuditError> {
    on_tx!(tx, conn => {
        let mut q = QueryBuilder::new("INSERT INTO audit_events (");
        q.push(stored_columns!()).push(") ");
        q.push_values(rows, |mut b, s| {
            bind_row!(b, s.clone());
        });
        q.build().execute(&mut *conn).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_in_place_insert_has_a_value_for_every_column() {
        assert_eq!(stored_columns!().split(',').count(), COLUMNS);
    }
}
