//! The Audit Log API's filter index (`audit_index`, filled by
//! `audit::filter_index`) in a SQLite file of its own, beside the
//! database: `<database>-audit-index`, attached to every connection that
//! reads it as the schema `audit_filter`. PostgreSQL keeps the table in
//! its one database.
//!
//! SQLite lets one connection write a file at a time. In the database
//! file itself, each catch-up of the index held that lock 10-15 ms every
//! 100 ms (the copy of several hundred records into eight B-trees and its
//! commit), and every request's audit record waited behind it: a read's
//! p99 was 13-15 ms, and a test build without the catch-up served a fifth
//! more reads. In a file of its own the catch-up takes that file's lock,
//! and the records never wait for it.
//!
//! Nothing needs the two files to commit together: the index is derived
//! from the records and can be emptied and filled again from them. What a
//! reader must mind (see `audit::query_sql`) is that one statement reads
//! each file at its own moment, so the index may hold a record the
//! statement's view of the records lacks yet; a query bounds what it takes
//! from the index by the chain head it reads.
//!
//! Names in SQL stay unqualified (`audit_index`): once migration 18 has
//! dropped the table from the database file, SQLite finds it in the
//! attached file. An in-memory database attaches an in-memory index.

use std::path::Path;

use rusqlite::Connection;
use sqlx::{Connection as _, SqliteConnection};

use super::{Db, StoreError};

/// The schema name the index file is attached as.
pub const SCHEMA: &str = "audit_filter";

/// The index file's page cache on each connection, in KiB (negative: a
/// size, not a page count, as SQLite takes it).
const CACHE_KIB: i64 = -512;

/// The index's tables, created where missing (the same columns and indexes
/// as migration 17 created in the database file). A rowid table, as the
/// records are: see that migration for why not WITHOUT ROWID.
const CREATE: &str = "
CREATE TABLE IF NOT EXISTS audit_filter.audit_index (
    chain        TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    occurred_at  TEXT NOT NULL,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT,
    action       TEXT NOT NULL,
    target_type  TEXT,
    target_id    TEXT,
    workspace_id BLOB,
    outcome      TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX IF NOT EXISTS audit_filter.audit_index_action ON audit_index (chain, action, seq);
CREATE INDEX IF NOT EXISTS audit_filter.audit_index_actor ON audit_index (chain, actor_id, seq);
CREATE INDEX IF NOT EXISTS audit_filter.audit_index_actor_kind ON audit_index (chain, actor_kind, seq);
CREATE INDEX IF NOT EXISTS audit_filter.audit_index_target ON audit_index (chain, target_id, seq);
CREATE INDEX IF NOT EXISTS audit_filter.audit_index_workspace ON audit_index (chain, workspace_id, seq);
CREATE INDEX IF NOT EXISTS audit_filter.audit_index_outcome ON audit_index (chain, outcome, seq);
CREATE INDEX IF NOT EXISTS audit_filter.audit_index_time ON audit_index (chain, occurred_at, seq);
";

/// The index file for the database file `db` (`:memory:` for an in-memory
/// database, whose connections each attach their own).
pub fn path_for(db: &Path) -> String {
    let name = db.to_string_lossy();
    if name.is_empty() || name == ":memory:" {
        ":memory:".to_string()
    } else {
        format!("{name}-audit-index")
    }
}

/// Attaches the index to a connection of sqlx's and creates its tables if
/// they are missing. Its commits wait for the disk as the records' do in
/// `Durability::Normal`, whatever the server's durability
/// (`synchronous` is per file; SQLite's default would sync every
/// catch-up): what a power loss may take from it is its last commits,
/// which the catch-up copies again from the records. Each attached file
/// has a page cache of its own on every connection, 2 MiB by default:
/// [`CACHE_KIB`] keeps the server's memory near where it was (with the
/// default, about 10 MiB more after a Bulk import).
pub async fn attach(conn: &mut SqliteConnection, index: &str) -> Result<(), sqlx::Error> {
    sqlx::query("ATTACH DATABASE $1 AS audit_filter")
        .bind(index)
        .execute(&mut *conn)
        .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "PRAGMA audit_filter.journal_mode = WAL; PRAGMA audit_filter.synchronous = NORMAL; \
         PRAGMA audit_filter.cache_size = {CACHE_KIB};"
    )))
    .execute(&mut *conn)
    .await?;
    sqlx::raw_sql(CREATE).execute(&mut *conn).await?;
    Ok(())
}

/// The page cache of the catch-up's own connection for the index file, in
/// KiB (see [`catch_up_connection`]).
const CATCH_UP_CACHE_KIB: i64 = -4096;

/// WAL pages past which the catch-up's commit checkpoints the index file
/// (SQLite's default is 1,000).
const CATCH_UP_CHECKPOINT_PAGES: i64 = 4000;

/// A connection of its own for the filter index's catch-up on SQLite,
/// beside the pool (`None` on PostgreSQL, where the pool serves). A
/// profile of `GET /Users/{id}` put 18% of the server's CPU in the
/// catch-up, on pooled connections: two fifths of that reading pages back
/// and spilling them from a 512 KiB cache too small for what a batch
/// changes (a read's target id lands on a random leaf of its index), a
/// third the index file's WAL checkpoints, which its commits ran every
/// 1,000 pages, each with its `fsync`. A bigger cache on every pooled
/// connection would have cost memory on each of them; here it is paid
/// once, and the checkpoints come a fourth as often, each copying back
/// once the pages the commits in between wrote again and again (the
/// right-hand edges of six of the indexes).
pub async fn catch_up_connection(db: &Db) -> Result<Option<SqliteConnection>, StoreError> {
    let Db::Sqlite(readers, ..) = db else {
        return Ok(None);
    };
    // The pool's own options, and the index they attach (`store::connect`).
    let options = readers.connect_options();
    let mut conn = SqliteConnection::connect_with(&options).await?;
    attach(&mut conn, &path_for(options.get_filename())).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "PRAGMA audit_filter.cache_size = {CATCH_UP_CACHE_KIB}; \
         PRAGMA wal_autocheckpoint = {CATCH_UP_CHECKPOINT_PAGES};"
    )))
    .execute(&mut conn)
    .await?;
    Ok(Some(conn))
}

/// Attaches the index to an in-place reader, which only reads it (its
/// tables exist: the pool's first connection created them).
pub fn attach_reader(conn: &Connection, index: &str) -> Result<(), StoreError> {
    conn.execute("ATTACH DATABASE ?1 AS audit_filter", [index])?;
    conn.pragma_update(Some(SCHEMA), "cache_size", CACHE_KIB)?;
    Ok(())
}
