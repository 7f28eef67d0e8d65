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
mod held;
pub mod in_place_tx;
pub mod index_file;
mod inline;
pub mod page_anchors;
pub mod settings;
pub mod statistics;
mod timestamp;
mod wal;
mod writer;

pub use connect::{DatabaseUrl, Durability, connect, connect_with};
pub use held::{Held, HeldConn};
pub use in_place_tx::SqliteTx;
pub use inline::{FromInPlace, InOrder, InPlaceValues, InlineReads, unconverted};
pub use timestamp::Timestamp;
pub use wal::{WalCheckpointer, take_over_checkpoints};
pub use writer::{WriterGate, WriterTurn};

use std::sync::Arc;

use sqlx::{PgPool, Postgres, QueryBuilder, Sqlite, SqlitePool, Transaction};

/// Errors from the storage layer. Callers usually wrap this in their own
/// error type; the HTTP edge turns it into a 500 (or 503 for readiness).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("invalid database url: {0}")]
    Url(String),
}

impl StoreError {
    /// True when an in-place write found the database locked by another
    /// connection (another instance, the CLI) and did not wait for it.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
        )
    }

    /// True when the error is a unique-constraint violation, which callers map
    /// to a conflict rather than a server error.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sqlx(sqlx::Error::Database(e)) => e.is_unique_violation(),
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ),
            _ => false,
        }
    }
}

/// A connection pool on one of the two backends.
#[derive(Clone, Debug)]
pub enum Db {
    /// The readers' pool, the writer, and the readers that run in place
    /// (see [`InlineReads`]).
    Sqlite(SqlitePool, WriterGate, InlineReads),
    /// The pool, the connections that commit without waiting for the WAL
    /// flush (see [`LazyPool`]), and the pool's connections held for the
    /// hot path (see [`Held`], [`on_db_held!`](crate::on_db_held)).
    Postgres(PgPool, LazyPool, Arc<Held>),
}

/// PostgreSQL connections whose commits do not wait for the server's WAL
/// flush (`synchronous_commit` off for the session), for the records of
/// reads and refusals alone: one statement, one round trip, where a
/// transaction with `SET LOCAL` took five. Nothing waits on those records
/// but their own reads' answers, and any later commit that does wait (a
/// change's, a signed checkpoint's) flushes them first, because the WAL is
/// flushed in order. What a crash of the database server can lose is the
/// last few hundred milliseconds of read records, never a change's.
#[derive(Clone, Debug)]
pub struct LazyPool(pub(crate) Arc<Held>);

/// One pool's connections at a moment (see [`Db::pool_use`]).
#[derive(Clone, Copy, Debug)]
pub struct PoolUse {
    pub name: &'static str,
    /// Connections open, idle or in use.
    pub size: u32,
    pub idle: u32,
}

/// A write transaction, and the rows it changed that credential checks
/// read (see [`Touched`]).
pub struct Tx {
    pub conn: TxConn,
    touched: Vec<Touched>,
    /// Members one of whose access sources changed, for the change's own
    /// code to recompute (see `identity::access`).
    access_sources: Vec<uuid::Uuid>,
    /// Rows a change already holds as they now stand (the member row its
    /// UPDATE returned), for a later step of the same change to take
    /// instead of reading them again (see [`Tx::access_source_changed_to`]).
    known: Vec<(uuid::Uuid, Box<dyn std::any::Any + Send>)>,
}

/// The transaction itself. For SQLite it also holds the writer gate,
/// released when the transaction ends, and runs some statements in place
/// (see [`SqliteTx`]).
pub enum TxConn {
    Sqlite(SqliteTx),
    Postgres(Transaction<'static, Postgres>),
}

/// A row that verifying a credential reads, changed by a transaction. The
/// transaction carries these to its commit, after which whoever keeps
/// verified credentials in memory forgets what they depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Touched {
    Token(String),
    Member(uuid::Uuid),
    Workspace(uuid::Uuid),
}

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`. The body is
/// compiled once per backend.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool, ..) => $body,
            $crate::store::Db::Postgres($pool, ..) => $body,
        }
    };
}

/// [`on_db!`] for a body that uses `$pool` once, as an executor, and
/// returns a `Result`: on PostgreSQL `$pool` is then a connection held
/// out of sqlx's pool (see [`Held`]), put back only if the body succeeded.
/// Evaluates to `Result<_, StoreError>`.
#[macro_export]
macro_rules! on_db_held {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool, ..) => $body.map_err($crate::store::StoreError::from),
            $crate::store::Db::Postgres(_, _, held) => match held.take().await {
                Err(e) => Err(e),
                Ok(mut held) => {
                    let out = {
                        let $pool = held.conn();
                        $body
                    };
                    if out.is_ok() {
                        held.done();
                    }
                    out.map_err($crate::store::StoreError::from)
                }
            },
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
        match &($tx).conn {
            $crate::store::TxConn::Sqlite(..) => concat!($($sql)+),
            $crate::store::TxConn::Postgres(_) => concat!($($sql)+, " FOR UPDATE"),
        }
    };
}

/// Runs `$body` with `$conn` bound to the concrete connection of the
/// transaction `$tx`. Use `&mut *$conn` as the executor.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match &mut ($tx).conn {
            $crate::store::TxConn::Sqlite(t) => {
                let $conn = t.sqlx();
                $body
            }
            $crate::store::TxConn::Postgres(t) => {
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
        let turn = self.writer_turn().await;
        self.begin_in(turn).await
    }

    /// [`Self::begin`], then `first` (statements of ours, such as a
    /// savepoint): on PostgreSQL in the BEGIN's own round trip, where each
    /// round trip of a shared transaction is time every writer in it waits.
    pub async fn begin_with(&self, first: &[&'static str]) -> Result<Tx, StoreError> {
        match self {
            Db::Sqlite(..) => {
                let mut tx = self.begin().await?;
                tx.execute_statements(first).await?;
                Ok(tx)
            }
            Db::Postgres(pool, ..) => {
                let begin = std::iter::once("BEGIN").chain(first.iter().copied());
                let begin = begin.collect::<Vec<_>>().join("; ");
                Ok(Tx::new(TxConn::Postgres(
                    pool.begin_with(sqlx::AssertSqlSafe(begin)).await?,
                )))
            }
        }
    }

    /// Waits for this process's turn to write: on SQLite the writer gate,
    /// held until the returned turn is dropped or handed to [`Self::begin_in`]
    /// or [`run_script`]; on PostgreSQL, which has row locks, no wait.
    /// Taking the turn early lets a caller keep its place in line.
    pub async fn writer_turn(&self) -> WriterTurn {
        match self {
            Db::Sqlite(_, gate, _) => WriterTurn(Some(gate.turn.clone().lock_owned().await)),
            Db::Postgres(..) => WriterTurn(None),
        }
    }

    /// [`Self::begin`] with a turn already taken.
    pub async fn begin_in(&self, turn: WriterTurn) -> Result<Tx, StoreError> {
        match self {
            Db::Sqlite(_, gate, _) => {
                let guard = match turn.0 {
                    Some(guard) => guard,
                    None => gate.turn.clone().lock_owned().await,
                };
                let tx = SqliteTx::begin(guard, gate.statements.clone(), gate.commit_in_place);
                Ok(Tx::new(TxConn::Sqlite(tx.await?)))
            }
            Db::Postgres(pool, ..) => Ok(Tx::new(TxConn::Postgres(pool.begin().await?))),
        }
    }

    /// Runs the migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(pool, ..) => migrations::sqlite().run(pool).await?,
            Db::Postgres(pool, ..) => migrations::postgres().run(pool).await?,
        }
        Ok(())
    }

    /// A trivial round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Runs `read` in place on SQLite (see [`InlineReads`]); `None` on
    /// PostgreSQL or an in-memory SQLite database, for the caller to take
    /// the pool.
    pub fn read_in_place<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<Result<T, StoreError>> {
        match self {
            Db::Sqlite(_, _, inline) => inline.read(read),
            Db::Postgres(..) => None,
        }
    }

    /// Runs `write` in place on SQLite's writer of records alone (see
    /// [`InlineReads`]), in the caller's `turn`; `None` where
    /// [`Self::read_in_place`] is.
    pub fn write_in_place<T>(
        &self,
        turn: &WriterTurn,
        write: impl FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<Result<T, StoreError>> {
        match self {
            Db::Sqlite(_, _, inline) if turn.0.is_some() => inline.write(turn, write),
            _ => None,
        }
    }

    /// Every row of `sql` with `params`, read in place on SQLite; `None`
    /// where [`Self::read_in_place`] is.
    pub fn fetch_in_place<T: FromInPlace>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Option<Result<Vec<T>, StoreError>> {
        self.read_in_place(|conn| inline::rows(conn, sql, params))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite(..) => "sqlite",
            Db::Postgres(..) => "postgres",
        }
    }

    /// Each pool's open and idle connections, for the metrics sampled at
    /// scrape time: SQLite's readers and its one writer, or PostgreSQL's
    /// one pool.
    pub fn pool_use(&self) -> Vec<PoolUse> {
        let of = |name, size: u32, idle: usize| PoolUse {
            name,
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
        };
        match self {
            Db::Sqlite(readers, gate, _) => vec![
                of("sqlite_readers", readers.size(), readers.num_idle()),
                of("sqlite_writer", 1, usize::from(!gate.busy())),
            ],
            Db::Postgres(pool, lazy, _) => vec![
                of("postgres", pool.size(), pool.num_idle()),
                of(
                    "postgres_lazy",
                    lazy.0.pool().size(),
                    lazy.0.pool().num_idle(),
                ),
            ],
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(readers, gate, _) => {
                readers.close().await;
                gate.close().await;
            }
            Db::Postgres(pool, lazy, held) => {
                held.release_all();
                lazy.0.release_all();
                pool.close().await;
                lazy.0.pool().close().await;
            }
        }
    }
}

/// Runs a script of SQLite statements that is a whole transaction
/// (`BEGIN IMMEDIATE; …; COMMIT`) in one round trip to the connection's
/// worker thread, in the caller's turn (see [`Db::writer_turn`]), and returns the integers its
/// `SELECT`s produced. (Row counts of a script cannot be read from the
/// result: SQLite reports a `COMMIT` as changing what the statement before
/// it changed. A script that needs one selects `changes()`.) If the script
/// fails midway, its transaction is rolled back before the turn is let go
/// (or, failing that, by the writer's next holder). On PostgreSQL, which takes
/// one statement per round trip with bound values, this is refused.
pub async fn run_script(
    db: &Db,
    turn: &mut WriterTurn,
    mut script: QueryBuilder<Sqlite>,
) -> Result<Vec<i64>, StoreError> {
    let (Db::Sqlite(..), Some(writer)) = (db, turn.0.as_mut()) else {
        return Err(StoreError::Url(
            "a statement script needs SQLite's writer turn".into(),
        ));
    };
    let conn = writer.connection().await?;
    match script.build_query_scalar().fetch_all(&mut *conn).await {
        Ok(values) => Ok(values),
        Err(e) => {
            if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
                // No transaction was open, or the connection is broken:
                // the next holder tries again.
                writer.unended = true;
            }
            Err(e.into())
        }
    }
}

/// Runs one statement on PostgreSQL's [`LazyPool`], in a transaction of
/// its own, and returns the rows it affected. On SQLite, refused.
pub async fn execute_lazily(
    db: &Db,
    mut statement: QueryBuilder<Postgres>,
) -> Result<u64, StoreError> {
    let Db::Postgres(_, lazy, _) = db else {
        return Err(StoreError::Url("a lazy commit needs PostgreSQL".into()));
    };
    let mut held = lazy.0.take().await?;
    let done = statement.build().execute(held.conn()).await?;
    held.done();
    Ok(done.rows_affected())
}

impl Tx {
    fn new(conn: TxConn) -> Self {
        Self {
            conn,
            touched: Vec::new(),
            access_sources: Vec::new(),
            known: Vec::new(),
        }
    }

    /// Forgets what an earlier change of a shared transaction noted (its
    /// savepoint may have been rolled back): the group commit calls it as
    /// each change starts (`audit::group_commit`).
    pub fn start_change(&mut self) {
        self.access_sources.clear();
        self.known.clear();
    }

    /// Notes that this transaction changed a row credential checks read.
    pub fn touch(&mut self, row: Touched) {
        if !self.touched.contains(&row) {
            self.touched.push(row);
        }
    }

    /// Notes that a source of `member`'s effective access changed (a group
    /// membership, the active flag).
    pub fn access_source_changed(&mut self, member: uuid::Uuid) {
        self.access_sources.push(member);
        // Whatever row was known may be stale now.
        self.known.retain(|(id, _)| *id != member);
    }

    /// [`Self::access_source_changed`], with `member`'s row as the change
    /// has just written it (on PostgreSQL, returned by its UPDATE), so that
    /// recomputing the access need not read it again: on PostgreSQL each
    /// statement is a round trip in the shared transaction's turn.
    pub fn access_source_changed_to<T: std::any::Any + Send>(
        &mut self,
        member: uuid::Uuid,
        row: T,
    ) {
        self.access_source_changed(member);
        self.known.push((member, Box::new(row)));
    }

    /// The row noted for `member` by [`Self::access_source_changed_to`]
    /// in this change, if it is of type `T`; taken, so used once.
    pub fn take_known<T: std::any::Any>(&mut self, member: uuid::Uuid) -> Option<T> {
        let at = self
            .known
            .iter()
            .position(|(id, row)| *id == member && row.is::<T>())?;
        self.known
            .swap_remove(at)
            .1
            .downcast::<T>()
            .ok()
            .map(|row| *row)
    }

    /// The members noted by [`Self::access_source_changed`] since the last
    /// call.
    pub fn take_access_source_changes(&mut self) -> Vec<uuid::Uuid> {
        std::mem::take(&mut self.access_sources)
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self.conn, TxConn::Sqlite(..))
    }

    /// Commits, and returns what the transaction touched.
    /// Lets this transaction's commit return before the write-ahead log
    /// is flushed to disk: PostgreSQL's `synchronous_commit = off`, for
    /// this transaction alone. The log is flushed in order, so the next
    /// flushed commit (any change's) makes this one durable too, and
    /// PostgreSQL's WAL writer does so within three `wal_writer_delay`s
    /// (0.6 s by default). A crashed scimitar loses nothing; a crashed
    /// database server can lose what committed in that window. On SQLite,
    /// whose flushing is set per connection ([`Durability`]), it does
    /// nothing.
    pub async fn flush_lazily(&mut self) -> Result<(), StoreError> {
        if let TxConn::Postgres(tx) = &mut self.conn {
            sqlx::query("SET LOCAL synchronous_commit TO OFF")
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<Vec<Touched>, StoreError> {
        match self.conn {
            TxConn::Sqlite(tx) => tx.commit().await?,
            TxConn::Postgres(tx) => tx.commit().await?,
        }
        Ok(self.touched)
    }
}

/// Fresh, migrated databases for unit tests.
#[cfg(test)]
pub mod testing {
    use std::path::PathBuf;

    /// A new database file in the temp dir, migrated, and its path.
    pub async fn migrated_sqlite_file() -> (super::Db, PathBuf) {
        let dir = std::env::temp_dir().join("scimitar-tests");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("unit-{}.db", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}", path.display()).parse().unwrap();
        let db = super::connect(&url, 4).await.unwrap();
        db.migrate().await.unwrap();
        (db, path)
    }

    /// [`migrated_sqlite_file`] without the path.
    pub async fn migrated_sqlite() -> super::Db {
        migrated_sqlite_file().await.0
    }

    /// A fresh, migrated schema of the PostgreSQL database named by
    /// `SCIMITAR_TEST_POSTGRES_URL`, if it is set.
    pub async fn migrated_postgres() -> Option<super::Db> {
        use sqlx::Connection;
        let base = std::env::var("SCIMITAR_TEST_POSTGRES_URL").ok()?;
        if base.is_empty() {
            return None;
        }
        let schema = format!("unit_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options[search_path]={schema}");
        let db = super::connect(&url.parse().unwrap(), 4).await.unwrap();
        db.migrate().await.unwrap();
        Some(db)
    }

    /// A migrated SQLite database, and a PostgreSQL one when the tests
    /// have one: for a test that must hold on both backends.
    pub async fn each_backend() -> Vec<super::Db> {
        let mut dbs = vec![migrated_sqlite().await];
        dbs.extend(migrated_postgres().await);
        dbs
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
                (8, "password_change"),
                (9, "access"),
                (11, "audit_streams"),
                (13, "lean_audit_indexes"),
                (14, "sso"),
                (15, "audit_intake"),
                (16, "lean_search_index"),
                (17, "audit_filter_index"),
                (18, "audit_index_file")
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
                (8, "password_change"),
                (9, "access"),
                (11, "audit_streams"),
                (13, "lean_audit_indexes"),
                (14, "sso"),
                (15, "audit_intake"),
                (16, "lean_search_index"),
                (17, "audit_filter_index"),
                (18, "audit_index_file")
            ]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row noted with an access source is taken once, by its type; a
    /// later note of the same member without a row, or the start of the
    /// next change, forgets it (it may be stale, or rolled back).
    #[tokio::test]
    async fn a_known_row_serves_once_and_only_while_it_is_the_latest() {
        let db = testing::migrated_sqlite().await;
        let mut tx = db.begin().await.unwrap();
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        tx.access_source_changed_to(a, 7_u32);
        tx.access_source_changed_to(b, 8_u32);
        assert_eq!(tx.take_known::<String>(a), None, "another type is not it");
        assert_eq!(tx.take_known::<u32>(a), Some(7));
        assert_eq!(tx.take_known::<u32>(a), None, "taken once");
        tx.access_source_changed(b);
        assert_eq!(tx.take_known::<u32>(b), None, "a later note without a row");
        tx.access_source_changed_to(a, 9_u32);
        tx.start_change();
        assert_eq!(tx.take_known::<u32>(a), None, "the next change");
        assert!(tx.take_access_source_changes().is_empty());
        drop(tx);
    }

    /// `flush_lazily` turns PostgreSQL's synchronous commit off for its own
    /// transaction only: the next transaction on the same connection syncs
    /// again. (On SQLite there is nothing to check; the test then returns.)
    #[tokio::test]
    async fn a_lazy_flush_is_for_one_transaction() {
        let url = match std::env::var("SCIMITAR_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => return,
        };
        let db = connect(&url.parse().unwrap(), 1).await.unwrap();
        let mut setting = Vec::new();
        for lazy in [true, false] {
            let mut tx = db.begin().await.unwrap();
            if lazy {
                tx.flush_lazily().await.unwrap();
            }
            let value: String = on_tx!(tx, conn => sqlx::query_scalar("SHOW synchronous_commit")
                .fetch_one(&mut *conn)
                .await)
            .unwrap();
            tx.commit().await.unwrap();
            setting.push(value);
        }
        assert_eq!(setting, ["off", "on"]);
    }
}
