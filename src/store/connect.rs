//! Opening a pool from a database URL, with the options each backend needs.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Db, StoreError, WriterGate};

/// A parsed `--database-url`. Kept as the original string for display, with
/// any password removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
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

/// Opens a pool. SQLite: the file is created if missing, WAL journal,
/// synchronous=NORMAL (durable across process crashes, which is what WAL
/// needs), foreign keys on, and a busy timeout so that a CLI command running
/// beside the server waits instead of failing.
pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Db, StoreError> {
    match url {
        DatabaseUrl::Sqlite(s) => {
            let options = SqliteConnectOptions::from_str(s)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                // A liveness ping before each checkout costs a round trip to
                // the worker thread for nothing on an embedded database.
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool, WriterGate::default()))
        }
        DatabaseUrl::Postgres(s) => {
            let options = PgConnectOptions::from_str(s)?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        }
    }
}
