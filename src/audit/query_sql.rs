//! The SQL an [`AuditQuery`] becomes (through the store's dynamic SQL
//! helpers), and one record by id. Pages walk the (chain, seq) order, which
//! an index serves, rather than sorting what matches.

use uuid::Uuid;

use super::AuditError;
use super::event::{StoredEvent, stored_columns};
use super::filter_index::indexed_upto;
use super::query::{AuditQuery, Kinds, READ_VERBS};
use crate::store::dynamic::{Arg, SqlParts};
use crate::store::{Db, StoreError, Timestamp};

/// Above this many actions under one prefix, a page merges too many index
/// ranges to beat reading the chain in order (a prefix this broad is a
/// common one, whose records are never far apart).
const MAX_MERGED_ACTIONS: usize = 16;

/// The distinct actions recorded in `chain`: one seek each in the filter
/// index, from the smallest to the next larger, rather than a scan of the
/// records (there are dozens of actions and millions of records), and
/// those of the short tail the index does not hold yet.
async fn distinct_actions(db: &Db, chain: &str) -> Result<Vec<String>, StoreError> {
    let sql = concat!(
        "WITH RECURSIVE acts(action) AS ( \
         SELECT MIN(action) FROM audit_index WHERE chain = $1 \
         UNION ALL \
         SELECT (SELECT MIN(e.action) FROM audit_index e WHERE e.chain = $1 AND e.action > acts.action) \
         FROM acts WHERE acts.action IS NOT NULL) \
         SELECT action FROM acts WHERE action IS NOT NULL \
         UNION SELECT action FROM audit_events WHERE chain = $1 AND seq > ",
        indexed_upto!("$1")
    );
    Ok(crate::on_db!(db, pool => sqlx::query_scalar(sql).bind(chain).fetch_all(pool).await)?)
}

/// Where a query's scope reads a chain from.
#[derive(Clone, Copy, PartialEq)]
enum Source {
    /// The records themselves, the whole chain: for a query with nothing
    /// to filter, which walks the chain in sequence order.
    Records,
    /// The filter index (`audit_index`), which holds the chain up to some
    /// record and is kept off the write path by `audit::filter_index`.
    Index,
    /// The records past those the index holds: a short tail, read in
    /// sequence order and filtered as it is read.
    Tail,
}

/// `(action LIKE '%.read' OR …)`: the action is a read's.
fn is_read(q: &mut SqlParts) {
    q.sql("(");
    for (i, verb) in READ_VERBS.iter().enumerate() {
        if i > 0 {
            q.sql(" OR ");
        }
        q.sql("action LIKE ").bind(Arg::Text(format!("%.{verb}")));
    }
    q.sql(")");
}

/// The records of `kinds`: refusals failed, reads and changes succeeded
/// (reads by their action's last segment, changes by all others).
fn kind_filter(q: &mut SqlParts, kinds: Kinds) {
    let mut parts = 0;
    q.sql("(");
    let mut or = |q: &mut SqlParts| {
        if parts > 0 {
            q.sql(" OR ");
        }
        parts += 1;
    };
    if kinds.refusal {
        or(q);
        q.sql("outcome = 'failure'");
    }
    if kinds.read {
        or(q);
        q.sql("(outcome = 'success' AND ");
        is_read(q);
        q.sql(")");
    }
    if kinds.change {
        or(q);
        q.sql("(outcome = 'success' AND NOT ");
        is_read(q);
        q.sql(")");
    }
    if parts == 0 {
        q.sql("1 = 0");
    }
    q.sql(")");
}

/// The chain head's sequence number (0 for a chain with no record).
async fn head_seq(db: &Db, chain: &str) -> Result<i64, StoreError> {
    let head: Option<i64> = crate::on_db!(db, pool => {
        sqlx::query_scalar("SELECT last_seq FROM audit_chain_heads WHERE chain = $1")
            .bind(chain)
            .fetch_optional(pool)
            .await
    })?;
    Ok(head.unwrap_or(0))
}

impl AuditQuery {
    /// Refuses a cursor past the chain head: no record was ever there, so
    /// a poller holding it would get nothing, forever, without a word.
    pub async fn check_cursor(&self, db: &Db, chain: &str) -> Result<(), AuditError> {
        let Some(cursor) = self.cursor else {
            return Ok(());
        };
        let head = head_seq(db, chain).await?;
        if cursor > head {
            return Err(AuditError::Invalid(format!(
                "`cursor` {cursor} is past the newest record (seq {head}): it is not one this API gave out"
            )));
        }
        Ok(())
    }

    /// Whether the query asks for anything but a range of the chain in
    /// sequence order: such a query is served through the filter index.
    fn filters(&self) -> bool {
        self.actor_type.is_some()
            || self.actor_id.is_some()
            || self.target_type.is_some()
            || self.target_id.is_some()
            || self.outcome.is_some()
            || self.action.is_some()
            || self.workspace_id.is_some()
            || self.kinds.is_some()
            || self.since.is_some()
            || self.until.is_some()
    }

    /// The FROM and WHERE clauses for `chain` read from `source`, with the
    /// cursor applied.
    fn scope(&self, chain: &str, source: Source) -> SqlParts {
        let mut q = SqlParts::new();
        q.sql(match source {
            Source::Index => " FROM audit_index WHERE chain = ",
            Source::Records | Source::Tail => " FROM audit_events WHERE chain = ",
        })
        .bind(Arg::Text(chain.to_string()));
        if source == Source::Index {
            // On SQLite the index is a file of its own (`store::index_file`),
            // which one statement reads at another moment than the records:
            // it may already hold records this statement's view of them
            // lacks. Those would take places in the page's LIMIT and then
            // find no record, leaving the page short (read as the end); the
            // chain head read here bounds what is taken from the index.
            q.sql(" AND seq <= (SELECT last_seq FROM audit_chain_heads WHERE chain = ")
                .bind(Arg::Text(chain.to_string()))
                .sql(")");
        }
        if source == Source::Tail {
            // The chain is bound here, so that the bound is a constant the
            // (chain, seq) index ranges over; `indexed_upto!` names the
            // chain by an SQL expression.
            q.sql(" AND seq > (SELECT COALESCE(MAX(seq), 0) FROM audit_index WHERE chain = ")
                .bind(Arg::Text(chain.to_string()))
                .sql(")");
        }
        let eq = |q: &mut SqlParts, col: &str, v: &Option<String>| {
            if let Some(v) = v {
                q.sql(format!(" AND {col} = ")).bind(Arg::Text(v.clone()));
            }
        };
        eq(&mut q, "actor_kind", &self.actor_type);
        eq(&mut q, "actor_id", &self.actor_id);
        eq(&mut q, "target_type", &self.target_type);
        eq(&mut q, "target_id", &self.target_id);
        eq(&mut q, "outcome", &self.outcome);
        match &self.action {
            Some((a, false)) => {
                q.sql(" AND action = ").bind(Arg::Text(a.clone()));
            }
            Some((prefix, true)) => {
                let escaped = prefix
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                q.sql(" AND action LIKE ")
                    .bind(Arg::Text(format!("{escaped}%")))
                    .sql(" ESCAPE '\\'");
            }
            None => {}
        }
        if let Some(w) = self.workspace_id {
            q.sql(" AND workspace_id = ").bind(Arg::Uuid(w));
        }
        if let Some(kinds) = self.kinds {
            q.sql(" AND ");
            kind_filter(&mut q, kinds);
        }
        // Times only grow along a chain, so a time bound is also a sequence
        // bound: the first indexed record at or after it. The index then
        // walks the (chain, seq) order instead of sorting a whole time
        // window. The tail is short: its times are compared as it is read.
        let first_at = |q: &mut SqlParts, t: Timestamp| {
            q.sql("COALESCE((SELECT b.seq FROM audit_index b WHERE b.chain = ")
                .bind(Arg::Text(chain.to_string()))
                .sql(" AND b.occurred_at >= ")
                .bind(Arg::Time(t))
                .sql(" ORDER BY b.occurred_at, b.seq LIMIT 1), ")
                .bind(Arg::Int(i64::MAX))
                .sql(")");
        };
        if let Some(t) = self.since {
            q.sql(" AND occurred_at >= ").bind(Arg::Time(t));
            if source == Source::Index {
                q.sql(" AND seq >= ");
                first_at(&mut q, t);
            }
        }
        if let Some(t) = self.until {
            q.sql(" AND occurred_at < ").bind(Arg::Time(t));
            if source == Source::Index {
                q.sql(" AND seq < ");
                first_at(&mut q, t);
            }
        }
        if let Some(c) = self.cursor {
            q.sql(if self.descending {
                " AND seq < "
            } else {
                " AND seq > "
            })
            .bind(Arg::Int(c));
        }
        q
    }

    /// The sequence numbers of a filtered page: the first `limit` the index
    /// holds, and those of the tail past it (few: the index is at most a
    /// moment behind).
    fn matching(&self, chain: &str) -> SqlParts {
        let mut q = SqlParts::new();
        q.sql("SELECT seq FROM (SELECT seq")
            .append(self.scope(chain, Source::Index))
            .sql(self.order_by())
            .sql(" LIMIT ")
            .bind(Arg::Int(self.limit))
            .sql(") AS indexed UNION ALL SELECT seq")
            .append(self.scope(chain, Source::Tail));
        q
    }

    /// One page of matching records.
    pub async fn page(&self, db: &Db, chain: &str) -> Result<Vec<StoredEvent>, AuditError> {
        let mut q = SqlParts::new();
        q.sql(concat!("SELECT ", stored_columns!()));
        match &self.action {
            Some((prefix, true)) => {
                let actions: Vec<String> = distinct_actions(db, chain)
                    .await?
                    .into_iter()
                    .filter(|a| a.starts_with(prefix.as_str()))
                    .collect();
                match actions.len() {
                    0 => return Ok(Vec::new()),
                    n if n <= MAX_MERGED_ACTIONS => q.append(self.merged_scope(chain, &actions)),
                    _ => q.append(self.filtered_scope(chain)),
                };
            }
            _ if self.filters() => {
                q.append(self.filtered_scope(chain));
            }
            _ => {
                q.append(self.scope(chain, Source::Records));
            }
        }
        q.sql(self.order_by());
        q.sql(" LIMIT ").bind(Arg::Int(self.limit));
        Ok(crate::on_db!(db, pool => q.build().build_query_as().fetch_all(pool).await)?)
    }

    fn order_by(&self) -> &'static str {
        if self.descending {
            " ORDER BY seq DESC"
        } else {
            " ORDER BY seq ASC"
        }
    }

    /// The scope of a filtered query: the records whose sequence numbers
    /// [`Self::matching`] gives.
    fn filtered_scope(&self, chain: &str) -> SqlParts {
        let mut q = SqlParts::new();
        q.sql(" FROM audit_events WHERE chain = ")
            .bind(Arg::Text(chain.to_string()))
            .sql(" AND seq IN (")
            .append(self.matching(chain))
            .sql(")");
        q
    }

    /// The scope of a prefix filter that names `actions`: the page's
    /// sequence numbers are the first `limit` of the first `limit` of each
    /// action, each read from the (chain, action, seq) index. A LIKE over
    /// the chain in sequence order would read every record before the page
    /// when the prefix is rare, and the whole chain when it matches nothing.
    fn merged_scope(&self, chain: &str, actions: &[String]) -> SqlParts {
        let mut q = SqlParts::new();
        q.sql(" FROM audit_events WHERE chain = ")
            .bind(Arg::Text(chain.to_string()))
            .sql(" AND seq IN (");
        for (i, a) in actions.iter().enumerate() {
            let one = Self {
                action: Some((a.clone(), false)),
                ..self.clone()
            };
            if i > 0 {
                q.sql(" UNION ALL ");
            }
            q.sql("SELECT seq FROM (")
                .append(one.matching(chain))
                .sql(format!(") AS a{i}"));
        }
        q.sql(self.order_by())
            .sql(" LIMIT ")
            .bind(Arg::Int(self.limit))
            .sql(")");
        q
    }
}

/// One record of a chain by id.
pub async fn find_record(
    db: &Db,
    chain: &str,
    id: Uuid,
) -> Result<Option<StoredEvent>, AuditError> {
    let sql = concat!(
        "SELECT ",
        stored_columns!(),
        " FROM audit_events WHERE chain = $1 AND id = $2"
    );
    Ok(
        crate::on_db!(db, pool => sqlx::query_as(sql).bind(chain).bind(id).fetch_optional(pool).await)?,
    )
}
