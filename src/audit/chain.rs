//! The hash chain: its names and its first link, and recomputing a chain
//! to prove it intact (records are appended by [`super::append`]).

use serde::Serialize;
use uuid::Uuid;

use super::AuditError;
use super::event::{StoredEvent, stored_columns};
use crate::on_db;
use crate::store::Db;

/// The chain of refusals that cannot be tied to an organization (a token id
/// that does not exist, a value that is not a token at all).
pub const UNATTRIBUTED_CHAIN: &str = "unattributed";

/// What the first record of a chain links to.
pub(super) const GENESIS: [u8; 32] = [0; 32];

/// The chain of an organization's records: its id.
pub fn org_chain(org: Uuid) -> String {
    org.to_string()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ChainBreak {
    /// A record's hash does not match its contents and its predecessor.
    HashMismatch { seq: i64 },
    /// A record does not point at the hash of the record before it.
    BrokenLink { seq: i64 },
    /// Sequence numbers skip: records are missing.
    Gap { expected: i64, found: i64 },
    /// The newest records are missing: the chain head says there were more.
    Truncated { last_found: i64, head: i64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub chain: String,
    pub from_seq: i64,
    pub records: u64,
    pub last_seq: i64,
    /// Whether the first record was checked against its predecessor (false
    /// when the predecessor is gone, by retention).
    pub anchored: bool,
    pub ok: bool,
    pub first_break: Option<ChainBreak>,
}

/// The hash the record at `seq` must link to: genesis, its predecessor's
/// hash, or, when retention removed the predecessor, the signed checkpoint
/// at that sequence number. `None` when none of these exists.
async fn anchor(db: &Db, chain: &str, seq: i64) -> Result<Option<Vec<u8>>, AuditError> {
    if seq <= 1 {
        return Ok(Some(GENESIS.to_vec()));
    }
    let previous: Option<Vec<u8>> = on_db!(db, pool => {
        sqlx::query_scalar("SELECT hash FROM audit_events WHERE chain = $1 AND seq = $2")
            .bind(chain)
            .bind(seq - 1)
            .fetch_optional(pool)
            .await
    })?;
    if previous.is_some() {
        return Ok(previous);
    }
    let checkpoint: Option<Vec<u8>> = on_db!(db, pool => {
        sqlx::query_scalar("SELECT hash FROM audit_checkpoints WHERE chain = $1 AND seq = $2")
            .bind(chain)
            .bind(seq - 1)
            .fetch_optional(pool)
            .await
    })?;
    Ok(checkpoint)
}

/// Recomputes a whole chain.
pub async fn verify_chain(db: &Db, chain: &str) -> Result<ChainReport, AuditError> {
    verify_range(db, chain, 1, None).await
}

/// Recomputes records `from..=to` of a chain in sequence order, a page at a
/// time, and reports the first broken link. Without `to`, runs to the end
/// and also checks that no record after the last one is missing. A range
/// that is not `1 <= from <= to` is refused.
pub async fn verify_range(
    db: &Db,
    chain: &str,
    from: i64,
    to: Option<i64>,
) -> Result<ChainReport, AuditError> {
    const PAGE: i64 = 1000;
    if from < 1 || to.is_some_and(|t| t < from) {
        return Err(AuditError::Invalid("need 1 <= from_seq <= to_seq".into()));
    }
    let to = to.unwrap_or(i64::MAX);
    // Retention may have removed the oldest records: start at the oldest
    // one left.
    let oldest: Option<i64> = on_db!(db, pool => {
        sqlx::query_scalar("SELECT MIN(seq) FROM audit_events WHERE chain = $1")
            .bind(chain)
            .fetch_one(pool)
            .await
    })?;
    let from = from.max(oldest.unwrap_or(1));
    let mut report = ChainReport {
        chain: chain.to_string(),
        from_seq: from,
        records: 0,
        last_seq: from - 1,
        anchored: true,
        ok: true,
        first_break: None,
    };
    let mut prev_hash = anchor(db, chain, from).await?;
    report.anchored = prev_hash.is_some();
    loop {
        let sql = concat!(
            "SELECT ",
            stored_columns!(),
            " FROM audit_events WHERE chain = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4"
        );
        let page: Vec<StoredEvent> = on_db!(db, pool => {
            sqlx::query_as(sql).bind(chain).bind(report.last_seq).bind(to).bind(PAGE).fetch_all(pool).await
        })?;
        let done = (page.len() as i64) < PAGE;
        for record in page {
            let expected = report.last_seq + 1;
            // Without an anchor, the first record's own link is taken as given.
            let prev = prev_hash
                .clone()
                .unwrap_or_else(|| record.prev_hash.clone());
            // An unanchored range may start wherever retention left it.
            let may_start_anywhere = report.records == 0 && !report.anchored;
            let problem = if record.seq != expected && !may_start_anywhere {
                Some(ChainBreak::Gap {
                    expected,
                    found: record.seq,
                })
            } else if record.prev_hash != prev {
                Some(ChainBreak::BrokenLink { seq: record.seq })
            } else if record.compute_hash() != record.hash {
                Some(ChainBreak::HashMismatch { seq: record.seq })
            } else {
                None
            };
            if let Some(problem) = problem {
                report.ok = false;
                report.first_break = Some(problem);
                return Ok(report);
            }
            report.records += 1;
            report.last_seq = record.seq;
            prev_hash = Some(record.hash);
        }
        if done {
            break;
        }
    }
    if to == i64::MAX {
        let head: Option<i64> = on_db!(db, pool => {
            sqlx::query_scalar("SELECT last_seq FROM audit_chain_heads WHERE chain = $1")
                .bind(chain)
                .fetch_optional(pool)
                .await
        })?;
        if let Some(head) = head.filter(|h| *h > report.last_seq) {
            report.ok = false;
            report.first_break = Some(ChainBreak::Truncated {
                last_found: report.last_seq,
                head,
            });
        }
    }
    Ok(report)
}
