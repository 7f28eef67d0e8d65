//! The Audit Log API's filter index (`audit_index`): the columns a query
//! filters on, copied from the records in batches ten times a second
//! ([`EVERY`]), with an index per filter.
//!
//! Those indexes used to sit on the records table, and every append wrote
//! them: seven B-trees more per commit, most of whose pages were the same
//! right-hand edge rewritten commit after commit. Every read is recorded
//! before it is answered, so that commit is most of what a read costs. A
//! batch of records writes each of those pages once.
//!
//! Nothing waits for the index: on SQLite it lives in a file of its own
//! (`store::index_file`), whose write lock its catch-up takes instead of
//! the records'. A filtered query reads the part of a chain
//! the index holds through it, and the records past it (the tail, at most
//! a moment's worth) straight from the records table (see
//! `query_sql::Source`). The index holds, for each chain, every record up
//! to its newest entry: it is filled in sequence order, and records commit
//! in sequence order (the chain head is moved in the same transaction).
//! It is derived from the records and never the other way round: emptied,
//! it fills again from them.

use std::time::Duration;

use sqlx::SqliteConnection;

use super::AuditError;
use crate::on_db;
use crate::store::Db;

/// The newest sequence number the index holds for the chain that the SQL
/// expression `$chain` names (0 for none): the index holds every record of
/// that chain up to there, and none past it.
macro_rules! indexed_upto {
    ($chain:literal) => {
        concat!(
            "(SELECT COALESCE(MAX(seq), 0) FROM audit_index WHERE chain = ",
            $chain,
            ")"
        )
    };
}
pub(crate) use indexed_upto;

/// Records indexed per statement. Nothing waits for it (on SQLite it
/// writes the index's own file); the larger the batch, the more of its
/// pages (the right-hand edges of six indexes, the target index's leaves)
/// it writes once for many records. Against 250: 6-8% more GETs a second
/// (the catch-up's commits and its file's checkpoints were a fifth of the
/// server's CPU), for 3-5 MiB more memory after a Bulk import (its
/// connection's page cache holds what it changes until it commits).
const BATCH: i64 = 1000;

/// How often the index catches up with the records.
pub const EVERY: Duration = Duration::from_millis(100);

/// Copies the filter columns of the next `BATCH` records of `chain` past
/// the index's newest entry. A second instance doing the same at the same
/// moment (PostgreSQL) inserts nothing twice.
const CATCH_UP: &str = concat!(
    "INSERT INTO audit_index \
     (chain, seq, occurred_at, actor_kind, actor_id, action, target_type, target_id, workspace_id, outcome) \
     SELECT chain, seq, occurred_at, actor_kind, actor_id, action, target_type, target_id, workspace_id, outcome \
     FROM audit_events WHERE chain = $1 AND seq > ",
    indexed_upto!("$1"),
    " ORDER BY seq LIMIT $2 ON CONFLICT DO NOTHING"
);

/// Indexes every record not indexed yet; returns how many.
pub async fn catch_up(db: &Db) -> Result<u64, AuditError> {
    catch_up_on(db, None).await
}

/// Runs `$run` with `$e` the catch-up's own connection if it has one
/// (`store::index_file::catch_up_connection`), else a pooled one.
macro_rules! on_own_or_pool {
    ($db:expr, $own:expr, $e:ident => $run:expr) => {
        match $own {
            Some(conn) => {
                let $e = &mut *conn;
                $run
            }
            None => on_db!($db, $e => $run),
        }
    };
}

/// [`catch_up`], on `own` when given.
async fn catch_up_on(db: &Db, mut own: Option<&mut SqliteConnection>) -> Result<u64, AuditError> {
    // The chains whose head is past their newest indexed record: one
    // lookup per chain (there is one chain per organization).
    let behind: Vec<String> = on_own_or_pool!(db, own.as_deref_mut(), e => {
        sqlx::query_scalar(concat!(
            "SELECT h.chain FROM audit_chain_heads h WHERE h.last_seq > ",
            indexed_upto!("h.chain")
        ))
        .fetch_all(e)
        .await
    })?;
    let mut indexed = 0;
    for chain in behind {
        loop {
            // One statement, its own transaction, never in the writers'
            // turn: on SQLite it writes only the index's file
            // (`store::index_file`), so the records' commits do not wait
            // for it.
            let n = for_chain_on(db, own.as_deref_mut(), CATCH_UP, &chain, BATCH).await?;
            indexed += n;
            if n < BATCH as u64 {
                break;
            }
        }
    }
    Ok(indexed)
}

/// Records not indexed yet, over every chain: what a filtered query reads
/// from the records rather than through the index (for `/metrics`). It
/// stays near zero while the server runs; a count that only grows means
/// the index cannot keep up, and filtered queries slow down with it.
pub async fn lag(db: &Db) -> Result<i64, AuditError> {
    Ok(on_db!(db, pool => {
        // PostgreSQL's SUM of a BIGINT is a NUMERIC.
        sqlx::query_scalar(concat!(
            "SELECT CAST(COALESCE(SUM((SELECT COUNT(*) FROM audit_events e \
             WHERE e.chain = h.chain AND e.seq > ",
            indexed_upto!("h.chain"),
            ")), 0) AS BIGINT) FROM audit_chain_heads h"
        ))
        .fetch_one(pool)
        .await
    })?)
}

/// Drops the entries past each chain's head, before the server takes
/// requests (after, a new record could take a dropped one's place before
/// it is dropped): the index may hold records that the database no longer
/// does when the two are separate files (on SQLite) and a power loss took
/// the last commits of the records' WAL but not of the index's. Left
/// there, they would stand for the records that take their sequence
/// numbers next.
pub async fn trim(db: &Db) -> Result<u64, AuditError> {
    let heads: Vec<(String, i64)> = on_db!(db, pool => {
        sqlx::query_as("SELECT chain, last_seq FROM audit_chain_heads").fetch_all(pool).await
    })?;
    let mut trimmed = 0;
    for (chain, head) in heads {
        trimmed += for_chain(
            db,
            "DELETE FROM audit_index WHERE chain = $1 AND seq > $2",
            &chain,
            head,
        )
        .await?;
    }
    Ok(trimmed)
}

/// Runs `sql` (`$1` a chain, `$2` a number) as a statement of its own on a
/// pooled connection, never in the writers' turn; returns the rows it
/// changed.
pub(super) async fn for_chain(
    db: &Db,
    sql: &'static str,
    chain: &str,
    n: i64,
) -> Result<u64, AuditError> {
    for_chain_on(db, None, sql, chain, n).await
}

/// [`for_chain`], on `own` when given.
async fn for_chain_on(
    db: &Db,
    own: Option<&mut SqliteConnection>,
    sql: &'static str,
    chain: &str,
    n: i64,
) -> Result<u64, AuditError> {
    Ok(on_own_or_pool!(db, own, e => {
        sqlx::query(sql)
            .bind(chain)
            .bind(n)
            .execute(e)
            .await
            .map(|r| r.rows_affected())
    })?)
}

/// Catches up every `every` until the handle is aborted, on a connection
/// of its own on SQLite (see `store::index_file::catch_up_connection`).
pub fn spawn(db: Db, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut own = match crate::store::index_file::catch_up_connection(&db).await {
            Ok(own) => own,
            Err(e) => {
                // The pool serves as well, with less room for the index.
                tracing::warn!(error = %e, "opening the audit index's own connection failed");
                None
            }
        };
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = catch_up_on(&db, own.as_mut()).await {
                // Queries read the unindexed tail from the records, so a
                // lagging index costs time, never results.
                tracing::warn!(error = %e, "indexing audit records failed; will retry");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{
        Actor, AuditEvent, AuditQuery, Kinds, RequestContext, StoredEvent, Target,
        UNATTRIBUTED_CHAIN, record,
    };

    fn operator(id: Option<String>) -> Actor {
        Actor {
            kind: "operator".into(),
            id,
            display: None,
        }
    }

    async fn append(db: &Db, from: usize, to: usize) {
        for i in from..to {
            let actor = operator(Some(format!("actor-{}", i % 2)));
            let action = if i % 3 == 0 {
                "token.create"
            } else {
                "scim.user.read"
            };
            let mut event = AuditEvent::new(None, actor, action, &RequestContext::default())
                .target(Target::new("user", format!("u{}", i % 4), None));
            if i % 5 == 0 {
                event = event.failure("refused");
            }
            let mut tx = db.begin().await.unwrap();
            record(&mut tx, event).await.unwrap();
            tx.commit().await.unwrap();
        }
    }

    fn query(limit: i64, descending: bool) -> AuditQuery {
        AuditQuery {
            since: None,
            until: None,
            actor_type: None,
            actor_id: None,
            action: None,
            target_type: None,
            target_id: None,
            workspace_id: None,
            outcome: None,
            kinds: None,
            limit,
            descending,
            cursor: None,
        }
    }

    /// Every page of `q`, following its cursor.
    async fn walk(db: &Db, mut q: AuditQuery) -> Vec<i64> {
        let mut seqs = Vec::new();
        loop {
            let page = q.page(db, UNATTRIBUTED_CHAIN).await.unwrap();
            let Some(last) = page.last() else {
                return seqs;
            };
            q.cursor = Some(last.seq);
            seqs.extend(page.iter().map(|e| e.seq));
        }
    }

    /// The filters of the Audit Log API, each with what it must select.
    fn filters(all: &[StoredEvent]) -> Vec<(AuditQuery, Vec<i64>)> {
        let pick = |keep: &dyn Fn(&StoredEvent) -> bool| -> Vec<i64> {
            all.iter().filter(|e| keep(e)).map(|e| e.seq).collect()
        };
        let middle = all[all.len() / 2].occurred_at;
        let q = query(4, false);
        vec![
            (
                AuditQuery {
                    action: Some(("token.create".into(), false)),
                    ..q.clone()
                },
                pick(&|e| e.action == "token.create"),
            ),
            (
                AuditQuery {
                    action: Some(("scim.".into(), true)),
                    ..q.clone()
                },
                pick(&|e| e.action.starts_with("scim.")),
            ),
            (
                AuditQuery {
                    target_id: Some("u1".into()),
                    ..q.clone()
                },
                pick(&|e| e.target_id.as_deref() == Some("u1")),
            ),
            (
                AuditQuery {
                    actor_id: Some("actor-0".into()),
                    outcome: Some("failure".into()),
                    ..q.clone()
                },
                pick(&|e| e.actor_id.as_deref() == Some("actor-0") && e.outcome == "failure"),
            ),
            (
                AuditQuery {
                    since: Some(middle),
                    ..q.clone()
                },
                pick(&|e| e.occurred_at >= middle),
            ),
            (
                AuditQuery {
                    until: Some(middle),
                    ..q.clone()
                },
                pick(&|e| e.occurred_at < middle),
            ),
            (
                AuditQuery {
                    kinds: Some(Kinds {
                        read: true,
                        ..Kinds::default()
                    }),
                    ..q.clone()
                },
                pick(&|e| e.outcome == "success" && e.action.ends_with(".read")),
            ),
        ]
    }

    /// Filtered queries find the records the index holds and those past
    /// it alike, in both orders, across pages that span the two.
    #[tokio::test]
    async fn queries_read_the_index_and_the_tail_past_it_alike() {
        for db in crate::store::testing::each_backend().await {
            index_and_tail_alike(&db).await;
        }
    }

    async fn index_and_tail_alike(db: &Db) {
        append(db, 0, 23).await;
        assert_eq!(lag(db).await.unwrap(), 23);
        assert_eq!(catch_up(db).await.unwrap(), 23);
        assert_eq!(lag(db).await.unwrap(), 0);
        append(db, 23, 37).await;
        assert_eq!(lag(db).await.unwrap(), 14);
        let all = walk(db, query(1000, false)).await;
        assert_eq!(all, (1..=37).collect::<Vec<_>>());
        let all = query(1000, false)
            .page(db, UNATTRIBUTED_CHAIN)
            .await
            .unwrap();
        for (q, expected) in filters(&all) {
            assert!(!expected.is_empty(), "{q:?}");
            assert_eq!(walk(db, q.clone()).await, expected, "{q:?}");
            let mut newest_first = expected.clone();
            newest_first.reverse();
            let down = AuditQuery {
                descending: true,
                ..q.clone()
            };
            assert_eq!(walk(db, down).await, newest_first, "{q:?} descending");
        }
        // Once the index holds everything, the same answers.
        assert_eq!(catch_up(db).await.unwrap(), 14);
        assert_eq!(catch_up(db).await.unwrap(), 0);
        assert_eq!(lag(db).await.unwrap(), 0);
        for (q, expected) in filters(&all) {
            assert_eq!(walk(db, q.clone()).await, expected, "{q:?} all indexed");
        }
    }

    /// The index catches up in batches, each its own transaction, and
    /// leaves nothing behind.
    #[tokio::test]
    async fn catching_up_takes_batches_until_nothing_is_left() {
        for db in crate::store::testing::each_backend().await {
            batches_until_nothing_is_left(&db).await;
        }
    }

    async fn batches_until_nothing_is_left(db: &Db) {
        let mut tx = db.begin().await.unwrap();
        for i in 0..(BATCH as usize + 5) {
            let action = if i % 2 == 0 { "a.one" } else { "a.two" };
            let event = AuditEvent::new(None, operator(None), action, &RequestContext::default());
            record(&mut tx, event).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(catch_up(db).await.unwrap(), BATCH as u64 + 5);
        let indexed: i64 = on_db!(db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_index").fetch_one(pool).await
        })
        .unwrap();
        assert_eq!(indexed, BATCH + 5);
    }

    /// On SQLite the index is a file of its own: the catch-up runs while
    /// the writers' turn is held (as a batch of records holds it), and the
    /// database file has no index table left.
    #[tokio::test]
    async fn on_sqlite_the_catch_up_never_waits_for_the_writers_turn() {
        let (db, path) = crate::store::testing::migrated_sqlite_file().await;
        append(&db, 0, 7).await;
        let turn = db.writer_turn().await;
        let caught_up = tokio::time::timeout(Duration::from_secs(5), catch_up(&db))
            .await
            .expect("the catch-up waited for the writers' turn");
        assert_eq!(caught_up.unwrap(), 7);
        drop(turn);

        let file = rusqlite::Connection::open(&path).unwrap();
        let tables: i64 = file
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'audit_index'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "the database file keeps no filter index");
        let index = rusqlite::Connection::open(crate::store::index_file::path_for(&path)).unwrap();
        let entries: i64 = index
            .query_row("SELECT COUNT(*) FROM audit_index", [], |r| r.get(0))
            .unwrap();
        assert_eq!(entries, 7);
    }

    /// On SQLite the catch-up has a connection of its own, with a bigger
    /// page cache for the index than the pool's; on it the index fills as
    /// through the pool, which sees what it wrote. PostgreSQL has none.
    #[tokio::test]
    async fn on_sqlite_the_catch_up_runs_on_a_connection_of_its_own() {
        let (db, _path) = crate::store::testing::migrated_sqlite_file().await;
        append(&db, 0, 9).await;
        let mut own = crate::store::index_file::catch_up_connection(&db)
            .await
            .unwrap()
            .expect("a SQLite file gives the catch-up a connection");
        let cache: i64 = sqlx::query_scalar("PRAGMA audit_filter.cache_size")
            .fetch_one(&mut own)
            .await
            .unwrap();
        let pooled: i64 = on_db!(&db, pool => {
            sqlx::query_scalar("PRAGMA audit_filter.cache_size").fetch_one(pool).await
        })
        .unwrap();
        assert!(
            cache < pooled,
            "{cache} KiB (negative) against the pool's {pooled}"
        );
        assert_eq!(catch_up_on(&db, Some(&mut own)).await.unwrap(), 9);
        assert_eq!(lag(&db).await.unwrap(), 0);
        append(&db, 9, 12).await;
        assert_eq!(catch_up_on(&db, Some(&mut own)).await.unwrap(), 3);
        assert_eq!(
            catch_up(&db).await.unwrap(),
            0,
            "the pool sees what it wrote"
        );

        if let Some(db) = crate::store::testing::migrated_postgres().await {
            let own = crate::store::index_file::catch_up_connection(&db)
                .await
                .unwrap();
            assert!(own.is_none());
        }
    }

    /// Index entries past a chain's head (a power loss took the records'
    /// last commits but not the index's) are dropped, and only those.
    #[tokio::test]
    async fn trimming_drops_the_entries_past_the_chain_head() {
        for db in crate::store::testing::each_backend().await {
            append(&db, 0, 5).await;
            catch_up(&db).await.unwrap();
            orphan_entry(&db, 9).await;
            assert_eq!(trim(&db).await.unwrap(), 1);
            assert_eq!(trim(&db).await.unwrap(), 0);
            let newest: i64 = on_db!(&db, pool => {
                sqlx::query_scalar("SELECT MAX(seq) FROM audit_index").fetch_one(pool).await
            })
            .unwrap();
            assert_eq!(newest, 5);
        }
    }

    /// An entry of the unattributed chain at `seq`, with no record behind
    /// it, that every filter below matches (actor `actor-1`).
    async fn orphan_entry(db: &Db, seq: i64) {
        on_db!(db, pool => {
            sqlx::query(
                "INSERT INTO audit_index (chain, seq, occurred_at, actor_kind, actor_id, action, outcome) \
                 SELECT chain, $1, occurred_at, actor_kind, actor_id, action, outcome \
                 FROM audit_index WHERE chain = $2 AND actor_id = 'actor-1' ORDER BY seq DESC LIMIT 1",
            )
            .bind(seq)
            .bind(UNATTRIBUTED_CHAIN)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .unwrap();
    }

    /// A statement may see the index (its own file on SQLite) at a later
    /// moment than the records: an entry past the chain head it reads is
    /// left out, and the page is still full.
    #[tokio::test]
    async fn a_page_takes_nothing_from_the_index_past_the_chain_head() {
        for db in crate::store::testing::each_backend().await {
            append(&db, 0, 6).await;
            catch_up(&db).await.unwrap();
            orphan_entry(&db, 7).await;
            let newest = AuditQuery {
                actor_id: Some("actor-1".into()),
                ..query(1, true)
            };
            let page = newest.page(&db, UNATTRIBUTED_CHAIN).await.unwrap();
            let seqs: Vec<i64> = page.iter().map(|e| e.seq).collect();
            assert_eq!(seqs, vec![6], "the newest record of actor-1");
        }
    }
}
