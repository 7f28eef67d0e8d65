//! Opening a pool from a database URL, with the options each backend needs.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};

use super::{Db, Held, InlineReads, LazyPool, StoreError, WriterGate};

/// A parsed `--database-url`. Its Debug form hides any password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(s) => write!(f, "Sqlite({s:?})"),
            DatabaseUrl::Postgres(s) => write!(f, "Postgres({:?})", redact_password(s)),
        }
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

impl FromStr for DatabaseUrl {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("sqlite:") {
            Ok(DatabaseUrl::Sqlite(s.to_string()))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(s.to_string()))
        } else {
            Err(StoreError::Url(
                "expected sqlite://PATH or postgres://...".to_string(),
            ))
        }
    }
}

/// How long a SQLite connection waits for another's lock (a CLI command
/// running beside the server waits instead of failing).
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The writer connection's page cache, in KiB (as SQLite's negative
/// `cache_size`): memory is taken only as a transaction needs it.
const WRITER_CACHE_KIB: &str = "-16384";

/// The pooled readers' page cache, in KiB.
const READER_CACHE_KIB: &str = "-512";

/// How much a committed SQLite write survives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// A killed process (WAL with synchronous=NORMAL).
    #[default]
    Normal,
    /// A power loss too (synchronous=FULL: every commit is synced).
    Full,
}

/// Opens a pool with [`Durability::Normal`]; see [`connect_with`].
pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Db, StoreError> {
    connect_with(url, max_connections, Durability::Normal).await
}

/// Opens a pool. SQLite: the file is created if missing, WAL journal,
/// synchronous as `durability` says, foreign keys on, and a busy timeout so
/// that a CLI command running beside the server waits instead of failing.
pub async fn connect_with(
    url: &DatabaseUrl,
    max_connections: u32,
    durability: Durability,
) -> Result<Db, StoreError> {
    match url {
        DatabaseUrl::Sqlite(s) => {
            let synchronous = match durability {
                Durability::Normal => SqliteSynchronous::Normal,
                Durability::Full => SqliteSynchronous::Full,
            };
            let options = SqliteConnectOptions::from_str(s)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .foreign_keys(true)
                .busy_timeout(BUSY_TIMEOUT);
            let pool = |n| {
                SqlitePoolOptions::new()
                    .max_connections(n)
                    // A liveness ping before each checkout costs a round trip
                    // to the worker thread for nothing on an embedded database.
                    .test_before_acquire(false)
            };
            let inline = InlineReads::of(options.get_filename());
            // Every connection reads (and the pooled ones write) the filter
            // index through its own file (see `store::index_file`).
            let index = super::index_file::path_for(options.get_filename());
            // The pooled readers serve the reads off the hot path (which
            // are read in place): a small page cache each keeps memory low.
            let readers = pool(max_connections)
                .after_connect({
                    let index = index.clone();
                    move |conn, _| {
                        let index = index.clone();
                        Box::pin(async move { super::index_file::attach(conn, &index).await })
                    }
                })
                .connect_with(options.clone().pragma("cache_size", READER_CACHE_KIB))
                .await?;
            // Writes take turns anyway (see `WriterGate`): one connection,
            // with room in its page cache for a Bulk request's transaction
            // (SQLite writes pages out early, mid-transaction, when a
            // transaction's changes outgrow the cache). Its temporary files
            // in memory: the statement journal of every savepoint and
            // multi-row statement (a Bulk request's run of creates) was a
            // temp file, a fifth of a Bulk import's time in the kernel. It
            // only ever serves rolling back inside a live transaction, so
            // durability does not change.
            //
            // The one connection is opened once, outside any pool (see
            // `store::writer`): the statements prepared on it in place are
            // kept across transactions (`in_place_tx::KeptStatements`), as
            // are the WAL settings the checkpointer gives it (`store::wal`).
            // Serialized mode (SQLite's own mutex per connection,
            // uncontended) makes those kept statements safe to finalize
            // from any thread.
            let mut writer = SqliteConnection::connect_with(
                &options
                    .serialized(true)
                    .pragma("cache_size", WRITER_CACHE_KIB)
                    .pragma("temp_store", "MEMORY"),
            )
            .await?;
            super::index_file::attach(&mut writer, &index).await?;
            let commit_in_place = durability == Durability::Normal;
            Ok(Db::Sqlite(
                readers,
                WriterGate::new(writer, commit_in_place),
                inline,
            ))
        }
        DatabaseUrl::Postgres(s) => {
            let options = PgConnectOptions::from_str(s)?;
            let pool = postgres_pool(max_connections)
                .connect_with(options.clone())
                .await?;
            // One statement at a time is appended this way (the group
            // commit's committer), so two connections are plenty; opened
            // when first used.
            let lazy = postgres_pool(2)
                .connect_lazy_with(options.options([("synchronous_commit", "off")]));
            // Half the pool at most sits held, the rest stays free for
            // writes and everything else (a pool of one holds none).
            let held = Held::new(pool.clone(), max_connections as usize / 2);
            Ok(Db::Postgres(
                pool,
                LazyPool(Arc::new(Held::new(lazy, 2))),
                Arc::new(held),
            ))
        }
    }
}

/// How long a PostgreSQL connection may sit idle before a checkout checks
/// that it still works.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// PostgreSQL pool options. sqlx pings every connection it hands out, by
/// default: a round trip before every statement of the hot path (a GET
/// made four where two do). A connection in steady use is known to work,
/// so only one that sat idle (when a restarted server or a dropped link
/// would show) is pinged; sqlx then replaces it if the ping fails.
fn postgres_pool(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_password() {
        let url: DatabaseUrl = "postgres://app:hunter2@db:5432/scim".parse().unwrap();
        let shown = format!("{url:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app:***@db:5432/scim"));
    }

    #[test]
    fn only_known_schemes_are_accepted() {
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
        assert!("sqlite://x.db".parse::<DatabaseUrl>().is_ok());
        assert!("postgresql://h/d".parse::<DatabaseUrl>().is_ok());
    }
}
