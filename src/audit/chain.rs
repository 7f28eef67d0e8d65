//! The hash chain: its names and its first link, and verifying a chain in
//! the database against its signed checkpoints (records are appended by
//! [`super::append`]; what is checked is [`super::verify`]'s).

use serde_json::Value;
use uuid::Uuid;

use super::AuditError;
use super::checkpoints;
use super::event::{StoredEvent, stored_columns};
use super::verify::{Break, Listed, Report, Verifier};
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

/// Why verification stopped early: a break, or a failed read.
enum Stop {
    Broken(Break),
    Failed(AuditError),
}

impl From<Break> for Stop {
    fn from(b: Break) -> Self {
        Stop::Broken(b)
    }
}

impl From<AuditError> for Stop {
    fn from(e: AuditError) -> Self {
        Stop::Failed(e)
    }
}

/// The hash of the record at `seq`, when it is there.
async fn hash_at(db: &Db, chain: &str, seq: i64) -> Result<Option<Vec<u8>>, AuditError> {
    Ok(on_db!(db, pool => {
        sqlx::query_scalar("SELECT hash FROM audit_events WHERE chain = $1 AND seq = $2")
            .bind(chain)
            .bind(seq)
            .fetch_optional(pool)
            .await
    })?)
}

/// Recomputes a whole chain against its checkpoints, with the keys the
/// database publishes (the CLI's and the tests' way; the server passes
/// the keys it holds to [`verify_range`]).
pub async fn verify_chain(db: &Db, chain: &str) -> Result<Report, AuditError> {
    let keys = crate::signing::published_keys(db).await?;
    verify_range(db, chain, 1, None, &crate::signing::jwks_of(&keys)).await
}

/// Verifies records `from..=to` of a chain (without `to`, to its head)
/// against every signed checkpoint of the chain, reading the records in
/// sequence order a page at a time (see [`super::verify`] for what is
/// checked). A range that is not `1 <= from <= to` is refused.
pub async fn verify_range(
    db: &Db,
    chain: &str,
    from: i64,
    to: Option<i64>,
    jwks: &Value,
) -> Result<Report, AuditError> {
    const PAGE: i64 = 1000;
    if from < 1 || to.is_some_and(|t| t < from) {
        return Err(AuditError::Invalid("need 1 <= from_seq <= to_seq".into()));
    }
    // Checkpoints first, then the head: every checkpoint read was signed
    // for a record at or before the head read after it, however many
    // records arrive meanwhile (those after the head are not checked).
    let listed = checkpoints::list(db, chain, None, None).await?;
    let head: Option<(i64, Vec<u8>)> = on_db!(db, pool => {
        sqlx::query_as("SELECT last_seq, last_hash FROM audit_chain_heads WHERE chain = $1")
            .bind(chain)
            .fetch_optional(pool)
            .await
    })?;
    // Retention may have removed the oldest records: start at the oldest
    // one left (after the head when none is).
    let oldest: Option<i64> = on_db!(db, pool => {
        sqlx::query_scalar("SELECT MIN(seq) FROM audit_events WHERE chain = $1")
            .bind(chain)
            .fetch_one(pool)
            .await
    })?;
    let head_seq = head.as_ref().map_or(0, |h| h.0);
    let from = from.max(oldest.unwrap_or(head_seq + 1));
    let mut v = Verifier::new(Some(chain.to_string()));
    let outcome = async {
        v.checkpoints(
            listed.iter().map(|c| Listed {
                seq: Some(c.seq),
                hash: Some(c.hash.clone()),
                jws: Some(&c.jws),
            }),
            jwks,
            true,
        )?;
        let predecessor = if from > 1 {
            hash_at(db, chain, from - 1).await?
        } else {
            None
        };
        v.starting_at(from, predecessor);
        let end = to.unwrap_or(i64::MAX).min(head_seq);
        let mut after = from - 1;
        loop {
            let sql = concat!(
                "SELECT ",
                stored_columns!(),
                " FROM audit_events WHERE chain = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4"
            );
            let page: Vec<StoredEvent> = on_db!(db, pool => {
                sqlx::query_as(sql).bind(chain).bind(after).bind(end).bind(PAGE).fetch_all(pool).await
            })
            .map_err(AuditError::from)?;
            for record in &page {
                v.record(record)?;
                after = record.seq;
            }
            if (page.len() as i64) < PAGE {
                break;
            }
        }
        match to {
            Some(to) if to >= from => v.at_range_end(to.min(head_seq))?,
            Some(_) => {}
            None => v.at_head(head)?,
        }
        Ok::<(), Stop>(())
    }
    .await;
    match outcome {
        Err(Stop::Failed(e)) => Err(e),
        Err(Stop::Broken(b)) => Ok(v.finish(Err(b))),
        Ok(()) => Ok(v.finish(Ok(()))),
    }
}
