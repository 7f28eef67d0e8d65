//! Storage: the one place that knows there are two database backends.
//!
//! Every other module talks to [`Db`] (a pool) or [`Tx`] (a transaction) and
//! writes its SQL once, with `$1`-style placeholders that both SQLite and
//! PostgreSQL accept. The [`on_db!`](crate::on_db) and [`on_tx!`](crate::on_tx)
//! macros compile a query body once per backend, so a module never matches on
//! the backend itself. What genuinely differs between the dialects (timestamp
//! encoding, how a write transaction starts, connection options) lives here.

mod connect;
pub mod dynamic;
pub mod page_anchors;
pub mod settings;
mod timestamp;

pub use connect::{DatabaseUrl, connect};
pub use timestamp::Timestamp;

use std::sync::Arc;

use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Errors from the storage layer. Callers usually wrap this in their own
/// error type; the HTTP edge turns it into a 500 (or 503 for readiness).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid database url: {0}")]
    Url(String),
}

impl StoreError {
    /// True when the error is a unique-constraint violation, which callers map
    /// to a conflict rather than a server error.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sqlx(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

/// A connection pool on one of the two backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool, WriterGate),
    Postgres(PgPool),
}

/// SQLite allows one writer at a time. Letting pooled connections race for
/// the file lock keeps throughput but makes tail latency 10-20x worse, so
/// writers queue here, in process, and then `BEGIN IMMEDIATE`.
#[derive(Clone, Debug, Default)]
pub struct WriterGate(Arc<Mutex<()>>);

/// A write transaction. For SQLite it also holds the writer gate, released
/// when the transaction ends.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>, OwnedMutexGuard<()>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`. The body is
/// compiled once per backend.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool, _) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

/// A SELECT text that holds its rows until commit: the pieces are joined
/// with `concat!`, and `FOR UPDATE` is appended on PostgreSQL only. SQLite
/// has no such clause and needs none: its write transaction already excludes
/// every other writer. Both texts are compile-time constants.
#[macro_export]
macro_rules! locking_select {
    ($tx:expr, $($sql:tt)+) => {
        match $tx {
            $crate::store::Tx::Sqlite(..) => concat!($($sql)+),
            $crate::store::Tx::Postgres(_) => concat!($($sql)+, " FOR UPDATE"),
        }
    };
}

/// Runs `$body` with `$conn` bound to the concrete connection of the
/// transaction `$tx`. Use `&mut *$conn` as the executor.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t, _) => {
                let $conn = &mut **t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

impl Db {
    /// Starts a write transaction: on SQLite after taking the writer gate and
    /// with `BEGIN IMMEDIATE`, so the transaction never has to upgrade its lock
    /// halfway (which is where SQLite returns SQLITE_BUSY).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        match self {
            Db::Sqlite(pool, gate) => {
                let guard = gate.0.clone().lock_owned().await;
                let tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(Tx::Sqlite(tx, guard))
            }
            Db::Postgres(pool) => Ok(Tx::Postgres(pool.begin().await?)),
        }
    }

    /// Runs the migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(pool, _) => migrations::sqlite().run(pool).await?,
            Db::Postgres(pool) => migrations::postgres().run(pool).await?,
        }
        Ok(())
    }

    /// A trivial round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite(..) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx, _guard) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

mod migrations {
    //! Migrations are embedded in the binary so that it runs from anywhere.
    //! Each backend has its own folder; a migration added to one must be
    //! added to the other with the same number.
    use sqlx::SqlSafeStr;
    use sqlx::migrate::{Migration, MigrationType, Migrator};

    macro_rules! embed {
        ($dir:literal, [$(($version:literal, $name:literal)),* $(,)?]) => {
            Migrator::with_migrations(vec![$(
                Migration::new(
                    $version,
                    $name.into(),
                    MigrationType::Simple,
                    include_str!(concat!("../../migrations/", $dir, "/", stringify!($version), "_", $name, ".sql")).into_sql_str(),
                    false,
                )
            ),*])
        };
    }

    pub fn sqlite() -> Migrator {
        embed!(
            "sqlite",
            [
                (1, "foundation"),
                (2, "scim"),
                (3, "audit_api"),
                (4, "signing"),
                (5, "list_versions"),
                (6, "ended_sessions"),
                (7, "scim_passwords"),
                (8, "password_change")
            ]
        )
    }

    pub fn postgres() -> Migrator {
        embed!(
            "postgres",
            [
                (1, "foundation"),
                (2, "scim"),
                (3, "audit_api"),
                (4, "signing"),
                (5, "list_versions"),
                (6, "ended_sessions"),
                (7, "scim_passwords"),
                (8, "password_change")
            ]
        )
    }
}
