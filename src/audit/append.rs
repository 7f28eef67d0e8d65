//! Appending records to their hash chains, inside the caller's transaction,
//! many at a time: per chain one head statement that reserves a block of
//! sequence numbers, one multi-row insert and one head update, whether the
//! batch holds one record or a thousand. The group-commit writer hands
//! every batch here; a single record is a batch of one.

use sqlx::QueryBuilder;
use uuid::Uuid;

use super::AuditError;
use super::chain::{GENESIS, UNATTRIBUTED_CHAIN, org_chain};
use super::event::{AuditEvent, StoredEvent};
use crate::on_tx;
use crate::store::{Timestamp, Tx};

/// Longest text kept from client-controlled fields (user agent, request id),
/// so that a hostile client cannot bloat the log.
const MAX_CLIENT_TEXT: usize = 512;

/// Rows per INSERT: 22 bound values a row stays far below both backends'
/// limits on bound values per statement (32,766 and 65,535).
const ROWS_PER_INSERT: usize = 500;

fn clip(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|s| s.chars().take(MAX_CLIENT_TEXT).collect())
}

/// Appends one record. See [`append`].
pub async fn record(tx: &mut Tx, event: AuditEvent) -> Result<StoredEvent, AuditError> {
    let mut stored = append(tx, vec![event]).await?;
    Ok(stored.pop().expect("one record appended"))
}

/// Appends `events` to their chains, in order, inside `tx`. If this fails
/// the caller's transaction fails with it, so no change goes unrecorded.
pub async fn append(tx: &mut Tx, events: Vec<AuditEvent>) -> Result<Vec<StoredEvent>, AuditError> {
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
    let mut stored = Vec::new();
    for (chain, events) in by_chain {
        stored.extend(append_to_chain(tx, chain, events).await?);
    }
    Ok(stored)
}

async fn append_to_chain(
    tx: &mut Tx,
    chain: String,
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
        .bind(&chain)
        .bind(count)
        .bind(&GENESIS[..])
        .fetch_one(&mut *conn)
        .await
    })?;
    let mut seq = last_seq - count;
    let mut prev_hash = prev_hash;
    // Times never go backwards along a chain (even across instances with
    // skewed clocks), so that a time range is a sequence range and time
    // queries can page by sequence number.
    let mut floor = last_time;
    let stored: Vec<StoredEvent> = events
        .into_iter()
        .map(|event| {
            seq += 1;
            let occurred_at = floor.map_or(event.occurred_at, |t| t.max(event.occurred_at));
            floor = Some(occurred_at);
            let mut s = stored_event(&chain, seq, occurred_at, event);
            s.prev_hash = std::mem::take(&mut prev_hash);
            s.hash = s.compute_hash();
            prev_hash = s.hash.clone();
            s
        })
        .collect();
    for rows in stored.chunks(ROWS_PER_INSERT) {
        insert(tx, rows).await?;
    }
    let last = stored.last().expect("a chain's batch is never empty");
    on_tx!(tx, conn => {
        sqlx::query("UPDATE audit_chain_heads SET last_hash = $1, last_time = $2 WHERE chain = $3")
            .bind(&last.hash)
            .bind(last.occurred_at)
            .bind(&chain)
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
        id: Uuid::now_v7(),
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
        prev_hash: Vec::new(),
        hash: Vec::new(),
    }
}

/// One multi-row INSERT of `rows`.
async fn insert(tx: &mut Tx, rows: &[StoredEvent]) -> Result<(), AuditError> {
    on_tx!(tx, conn => {
        let mut q = QueryBuilder::new(
            "INSERT INTO audit_events (id, chain, seq, org_id, workspace_id, occurred_at, actor_kind, \
             actor_id, actor_display, action, target_type, target_id, target_display, outcome, reason, \
             http_status, request_id, source_ip, user_agent, changes, prev_hash, hash) ",
        );
        q.push_values(rows, |mut b, s| {
            b.push_bind(s.id)
                .push_bind(&s.chain)
                .push_bind(s.seq)
                .push_bind(s.org_id)
                .push_bind(s.workspace_id)
                .push_bind(s.occurred_at)
                .push_bind(&s.actor_kind)
                .push_bind(&s.actor_id)
                .push_bind(&s.actor_display)
                .push_bind(&s.action)
                .push_bind(&s.target_type)
                .push_bind(&s.target_id)
                .push_bind(&s.target_display)
                .push_bind(&s.outcome)
                .push_bind(&s.reason)
                .push_bind(s.http_status)
                .push_bind(&s.request_id)
                .push_bind(&s.source_ip)
                .push_bind(&s.user_agent)
                .push_bind(&s.changes)
                .push_bind(&s.prev_hash)
                .push_bind(&s.hash);
        });
        q.build().execute(&mut *conn).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}
