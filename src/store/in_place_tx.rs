//! SQLite write transactions whose hot statements run in place.
//!
//! sqlx runs each SQLite connection on a thread of its own, and every
//! statement is a round trip to it: two thread wake-ups, 30-50 µs on these
//! machines. A write holds the writer's turn for all its statements, so on
//! the write path those round trips are not only CPU but the length of
//! the line every other writer waits in (a PATCH that deactivates a user
//! made 12 of them; a profile showed the server under one core busy and
//! half of that in the kernel, switching threads).
//!
//! sqlx lets its caller borrow the connection's `sqlite3` handle
//! (`lock_handle`: one round trip, after which the worker thread waits
//! until the handle is given back). A [`SqliteTx`] takes the handle the
//! first time a statement asks to run in place and keeps it for every
//! in-place statement that follows, giving it back only when a statement
//! goes through sqlx again or the transaction ends. Statements run through
//! rusqlite (the same libsqlite3 as sqlx's) on the borrowed handle, on the
//! calling thread, so that a run of them costs one round trip in all.

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, ToSql};
use sqlx::sqlite::{LockedSqliteHandle, SqliteConnection};
use tokio::sync::OwnedMutexGuard;

use super::dynamic::SqlParts;
use super::writer::Writer;
use super::{FromInPlace, StoreError};

/// SQLite's write transaction: the writer's turn and connection, and,
/// while statements run in place, the borrowed handle. It begins, commits
/// and rolls back in place too where it can, so that a transaction whose
/// statements all run in place costs one round trip to sqlx's worker (the
/// borrow) where sqlx's own transaction took three more (`BEGIN`,
/// `COMMIT`, the pool's checkout and return).
pub struct SqliteTx {
    /// Declared first, so dropped first: the handle goes back to sqlx's
    /// worker before the turn is let go.
    in_place: Option<InPlace>,
    /// Declared before `turn`: if this transaction holds the last handles
    /// on the database, the kept statements go before the connection.
    statements: KeptStatements,
    turn: OwnedMutexGuard<Writer>,
    commit_in_place: bool,
    /// Committed or rolled back, or never begun: nothing to end on drop.
    ended: bool,
}

/// The rusqlite connection over the writer's handle, kept from one
/// transaction to the next with the statements it has prepared: preparing
/// the in-place statements again for each transaction was 8% of a PATCH's
/// CPU, inside the writer's turn. It is only used while the handle is
/// borrowed, and holds the handle it wraps as its identity.
///
/// Its statements must be finalized before sqlx closes the connection
/// (sqlx panics when `sqlite3_close` finds statements open), so the
/// writer's connection is never recycled (see `store::connect`) and
/// [`Db::close`](super::Db::close) drops them first. The writer is opened
/// in SQLite's serialized mode, so dropping them (when the last handle on
/// the database goes, say) is safe on any thread, even beside a statement
/// sqlx's worker is still running.
pub type KeptStatements = Arc<Mutex<Option<Connection>>>;

/// Statements kept per writer: enough for every in-place statement of the
/// write path, and the record inserts of the usual batch sizes.
const KEPT_STATEMENTS: usize = 96;

/// The borrowed handle and the rusqlite connection over it.
struct InPlace {
    /// Put back into `statements` as the borrow ends (before the handle).
    conn: Option<Connection>,
    statements: KeptStatements,
    _lock: LockedSqliteHandle<'static>,
}

impl Drop for InPlace {
    fn drop(&mut self) {
        // Runs before the fields drop: the connection goes back while the
        // handle is still this thread's.
        *self.statements.lock().unwrap_or_else(|e| e.into_inner()) = self.conn.take();
    }
}

impl SqliteTx {
    /// Begins a write transaction (`BEGIN IMMEDIATE`) on the writer whose
    /// turn this is.
    pub(super) async fn begin(
        mut turn: OwnedMutexGuard<Writer>,
        statements: KeptStatements,
        commit_in_place: bool,
    ) -> Result<Self, StoreError> {
        turn.connection().await?;
        let mut tx = Self {
            in_place: None,
            statements,
            turn,
            commit_in_place,
            ended: true,
        };
        let began = begin_without_waiting(tx.in_place().await?);
        if let Err(e) = began {
            let e = StoreError::from(e);
            if !e.is_busy() {
                return Err(e);
            }
            // Another process (an instance, the CLI) holds SQLite's write
            // lock: wait for it on sqlx's thread, never on this one, whose
            // other tasks may be what the holder waits for.
            sqlx::query("BEGIN IMMEDIATE").execute(tx.sqlx()).await?;
        }
        tx.ended = false;
        Ok(tx)
    }

    /// The writer's connection, for a statement through sqlx: the handle
    /// is given back first if it was borrowed.
    pub fn sqlx(&mut self) -> &mut SqliteConnection {
        self.in_place = None;
        self.turn
            .conn_mut()
            .expect("a transaction begins only on an open writer")
    }

    /// The connection to run statements in place on, borrowing the handle
    /// if it is not borrowed yet.
    pub async fn in_place(&mut self) -> Result<&Connection, StoreError> {
        if self.in_place.is_none() {
            let conn = self
                .turn
                .conn_mut()
                .ok_or_else(|| StoreError::Url("the database is closed".into()))?;
            let lock = conn.lock_handle().await?;
            // SAFETY: the guard borrows the connection's shared state,
            // which lives as long as the connection, owned by the writer
            // whose turn `self.turn` holds. `in_place` is declared before
            // `turn`, so it is dropped first, and it is cleared by `sqlx()`
            // before the connection is used again: the guard never
            // outlives the connection nor coexists with a use of it
            // through sqlx.
            let mut lock: LockedSqliteHandle<'static> = unsafe { std::mem::transmute(lock) };
            let handle = lock.as_raw_handle().as_ptr();
            let kept = self
                .statements
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let conn = match kept {
                // SAFETY (of using it): the same handle, borrowed again.
                Some(conn) if unsafe { conn.handle() } == handle => conn,
                // The first borrow of this writer's handle (each writer
                // has its own slot, and its connection is never reopened).
                _ => {
                    // SAFETY: the handle is valid while the guard is held,
                    // and the guard means sqlx's worker thread makes no
                    // call on it; the rusqlite connection does not own it
                    // (it never closes it) and is only used while the
                    // handle is borrowed again.
                    let conn = unsafe { Connection::from_handle(handle)? };
                    conn.set_prepared_statement_cache_capacity(KEPT_STATEMENTS);
                    conn
                }
            };
            self.in_place = Some(InPlace {
                conn: Some(conn),
                statements: self.statements.clone(),
                _lock: lock,
            });
        }
        let in_place = self.in_place.as_ref().expect("borrowed above");
        Ok(in_place.conn.as_ref().expect("held while borrowed"))
    }

    pub async fn commit(mut self) -> Result<(), StoreError> {
        if self.commit_in_place {
            self.in_place().await?.execute_batch("COMMIT")?;
        } else {
            sqlx::query("COMMIT").execute(self.sqlx()).await?;
        }
        self.ended = true;
        Ok(())
    }
}

impl Drop for SqliteTx {
    /// Rolls back an unfinished transaction (its request was cancelled, or
    /// it failed): on the spot if the handle is borrowed, else as soon as
    /// the turn is free, before any other use of the writer (see
    /// [`Writer`]).
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let rolled_back = self
            .in_place
            .as_ref()
            .and_then(|p| p.conn.as_ref())
            .is_some_and(|conn| conn.execute_batch("ROLLBACK").is_ok());
        if !rolled_back {
            self.turn.unended = true;
            // Until then the transaction holds SQLite's write lock, which
            // other processes wait on: the next holder may be a while.
            // Whoever takes the turn first rolls it back.
            let writer = OwnedMutexGuard::mutex(&self.turn).clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(e) = writer.lock().await.connection().await {
                        tracing::warn!(error = %e, "rolling back an unfinished write");
                    }
                });
            }
        }
    }
}

/// `BEGIN IMMEDIATE` in place, failing at once (`SQLITE_BUSY`) rather than
/// waiting for another process's write lock on this thread.
fn begin_without_waiting(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::ZERO)?;
    let began = conn.execute_batch("BEGIN IMMEDIATE");
    conn.busy_timeout(super::connect::BUSY_TIMEOUT)?;
    began
}

/// Binds `args` to the parameters of `statement` as sqlx does: `$N` or
/// `?N` is the N-th value (SQLite numbers named parameters in order of
/// appearance, so `$2 … $1` would otherwise swap), and a bare `?` the
/// next one.
fn bind(
    statement: &mut rusqlite::CachedStatement<'_>,
    args: &[&dyn ToSql],
) -> rusqlite::Result<()> {
    let mut next = 0;
    for i in 1..=statement.parameter_count() {
        let n = match statement.parameter_name(i) {
            Some(name) => match name[1..].parse::<usize>() {
                Ok(n) if n >= 1 => n - 1,
                _ => return Err(rusqlite::Error::InvalidParameterName(name.to_owned())),
            },
            None => next,
        };
        next = n + 1;
        let arg = args
            .get(n)
            .ok_or(rusqlite::Error::InvalidParameterCount(n + 1, args.len()))?;
        statement.raw_bind_parameter(i, arg)?;
    }
    Ok(())
}

/// Runs one statement in place and returns the rows it changed (see
/// [`crate::tx_execute`]).
pub fn execute(conn: &Connection, sql: &str, args: &[&dyn ToSql]) -> Result<u64, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    bind(&mut statement, args)?;
    Ok(statement.raw_execute()? as u64)
}

/// Every row of one statement run in place (see [`crate::tx_fetch`]).
pub fn fetch<T: FromInPlace>(
    conn: &Connection,
    sql: &str,
    args: &[&dyn ToSql],
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    bind(&mut statement, args)?;
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(T::from_in_place(row)?);
    }
    Ok(out)
}

/// Runs one statement of a write transaction and evaluates to the rows it
/// changed (`Result<u64, StoreError>`): on SQLite in place (see
/// [`SqliteTx`]), on PostgreSQL through sqlx. The text uses `$N`
/// placeholders; each value must bind on both (rusqlite's `ToSql`, sqlx's
/// `Encode`).
#[macro_export]
macro_rules! tx_execute {
    ($tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        match &mut ($tx).conn {
            $crate::store::TxConn::Sqlite(t) => match t.in_place().await {
                Ok(conn) => $crate::store::in_place_tx::execute(
                    conn,
                    $sql,
                    &[$(&$arg as &dyn rusqlite::ToSql),*],
                ),
                Err(e) => Err(e),
            },
            $crate::store::TxConn::Postgres(t) => sqlx::query($sql)
                $(.bind($arg))*
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected())
                .map_err($crate::store::StoreError::from),
        }
    };
}

/// Every row (`Result<Vec<$row>, StoreError>`) of one statement of a write
/// transaction, run as [`tx_execute!`](crate::tx_execute) runs it; `$row`
/// decodes itself from both (`FromInPlace` and sqlx's `FromRow`).
#[macro_export]
macro_rules! tx_fetch {
    ($tx:expr, $row:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match &mut ($tx).conn {
            $crate::store::TxConn::Sqlite(t) => match t.in_place().await {
                Ok(conn) => $crate::store::in_place_tx::fetch::<$row>(
                    conn,
                    $sql,
                    &[$(&$arg as &dyn rusqlite::ToSql),*],
                ),
                Err(e) => Err(e),
            },
            $crate::store::TxConn::Postgres(t) => sqlx::query_as::<_, $row>($sql)
                $(.bind($arg))*
                .fetch_all(&mut **t)
                .await
                .map_err($crate::store::StoreError::from),
        }
    };
}

impl super::Tx {
    /// Runs `parts` inside this transaction and returns the rows it
    /// changed: on SQLite in place (see [`SqliteTx`]), on PostgreSQL
    /// through sqlx.
    pub async fn execute_parts(&mut self, parts: &SqlParts) -> Result<u64, StoreError> {
        match &mut self.conn {
            super::TxConn::Sqlite(t) => {
                let conn = t.in_place().await?;
                let mut statement = conn.prepare_cached(&parts.preview())?;
                let changed =
                    statement.execute(rusqlite::params_from_iter(parts.in_place_values()))?;
                Ok(changed as u64)
            }
            super::TxConn::Postgres(t) => Ok(parts
                .build::<sqlx::Postgres>()
                .build()
                .execute(&mut **t)
                .await?
                .rows_affected()),
        }
    }

    /// Runs statements without bound values (savepoint bookkeeping) inside
    /// this transaction, in order: on SQLite each in place, on PostgreSQL
    /// all in one round trip (the simple query protocol takes several
    /// statements in one message, where a prepared statement is one).
    pub async fn execute_statements(
        &mut self,
        statements: &[&'static str],
    ) -> Result<(), StoreError> {
        match &mut self.conn {
            super::TxConn::Sqlite(t) => {
                let conn = t.in_place().await?;
                for sql in statements {
                    conn.prepare_cached(sql)?.execute([])?;
                }
            }
            super::TxConn::Postgres(t) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(statements.join("; ")))
                    .execute(&mut **t)
                    .await?;
            }
        }
        Ok(())
    }

    /// Every row of `parts` inside this transaction: on SQLite in place
    /// (see [`SqliteTx`]), on PostgreSQL through sqlx.
    pub async fn fetch_parts<T>(&mut self, parts: &SqlParts) -> Result<Vec<T>, StoreError>
    where
        T: FromInPlace + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    {
        match &mut self.conn {
            super::TxConn::Sqlite(t) => {
                let conn = t.in_place().await?;
                let mut statement = conn.prepare_cached(&parts.preview())?;
                let rows = statement
                    .query_map(rusqlite::params_from_iter(parts.in_place_values()), |row| {
                        T::from_in_place(row)
                    })?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            }
            super::TxConn::Postgres(t) => Ok(parts
                .build::<sqlx::Postgres>()
                .build_query_as()
                .fetch_all(&mut **t)
                .await?),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::on_tx;
    use crate::store::Db;

    async fn sqlite() -> Db {
        crate::store::testing::migrated_sqlite().await
    }

    async fn settings(db: &Db) -> i64 {
        crate::on_db!(db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM server_settings WHERE key LIKE 'in-place-%'"
        ).fetch_one(pool).await)
        .unwrap()
    }

    /// SQLite numbers `$N` parameters in order of appearance; they are
    /// bound by their number, as sqlx binds them.
    #[tokio::test]
    async fn numbered_parameters_bind_by_their_number() {
        let db = sqlite().await;
        let mut tx = db.begin().await.unwrap();
        let rows = crate::tx_fetch!(&mut tx, (i64, i64), "SELECT $2, $1", 1_i64, 2_i64).unwrap();
        assert_eq!(rows, vec![(2, 1)]);
        let rows =
            crate::tx_fetch!(&mut tx, (i64, i64), "SELECT $1, $1 + $2", 5_i64, 1_i64).unwrap();
        assert_eq!(rows, vec![(5, 6)]);
    }

    /// Statements in place and through sqlx are one transaction: each sees
    /// what the other wrote, a commit keeps both, and a transaction dropped
    /// uncommitted (its request cancelled) keeps neither.
    #[tokio::test]
    async fn in_place_and_sqlx_statements_are_one_transaction() {
        let db = sqlite().await;
        let insert = "INSERT INTO server_settings (key, value) VALUES ($1, 'x')";
        for commit in [false, true] {
            let mut tx = db.begin().await.unwrap();
            crate::tx_execute!(&mut tx, insert, "in-place-a").unwrap();
            let seen: i64 = on_tx!(&mut tx, conn => sqlx::query_scalar(
                "SELECT COUNT(*) FROM server_settings WHERE key = 'in-place-a'"
            ).fetch_one(&mut *conn).await)
            .unwrap();
            assert_eq!(seen, 1, "sqlx sees the write made in place");
            on_tx!(&mut tx, conn => sqlx::query(insert)
                .bind("in-place-b")
                .execute(&mut *conn)
                .await
                .map(|_| ()))
            .unwrap();
            let seen = crate::tx_fetch!(
                &mut tx,
                (i64,),
                "SELECT COUNT(*) FROM server_settings WHERE key LIKE 'in-place-%'"
            )
            .unwrap();
            assert_eq!(
                seen,
                vec![(2,)],
                "in place sees the write made through sqlx"
            );
            if commit {
                tx.commit().await.unwrap();
                assert_eq!(settings(&db).await, 2);
            } else {
                drop(tx);
                assert_eq!(
                    settings(&db).await,
                    0,
                    "a dropped transaction keeps nothing"
                );
            }
        }
    }

    /// The open statements of one in-place text on the writer's handle,
    /// between transactions (SQLite lists every statement a connection
    /// has open).
    fn kept(db: &Db, sql: &str) -> Vec<usize> {
        let Db::Sqlite(_, gate, _) = db else {
            unreachable!("SQLite")
        };
        let kept = gate.statements.lock().unwrap();
        let Some(conn) = kept.as_ref() else {
            return Vec::new();
        };
        let mut found = Vec::new();
        // SAFETY: the writer is in serialized mode and idle between
        // transactions; the statements are only listed, not run.
        unsafe {
            let db = conn.handle();
            let mut stmt = rusqlite::ffi::sqlite3_next_stmt(db, std::ptr::null_mut());
            while !stmt.is_null() {
                let text = std::ffi::CStr::from_ptr(rusqlite::ffi::sqlite3_sql(stmt));
                if text.to_str() == Ok(sql) {
                    found.push(stmt as usize);
                }
                stmt = rusqlite::ffi::sqlite3_next_stmt(db, stmt);
            }
        }
        found
    }

    /// A statement run in place is prepared once, not once per
    /// transaction: it stays open between transactions, and the next one
    /// runs the same prepared statement. Closing the database finalizes it
    /// first (sqlx's close of the writer would fail, and panic, with a
    /// statement still open).
    #[tokio::test]
    async fn in_place_statements_are_kept_from_one_transaction_to_the_next() {
        let db = sqlite().await;
        let insert = "INSERT INTO server_settings (key, value) VALUES ($1, 'kept')";
        let mut seen = Vec::new();
        for key in ["in-place-1", "in-place-2"] {
            let mut tx = db.begin().await.unwrap();
            crate::tx_execute!(&mut tx, insert, key).unwrap();
            // A statement through sqlx in between gives the handle back.
            on_tx!(&mut tx, conn => sqlx::query("SELECT 1").execute(&mut *conn).await.map(|_| ()))
                .unwrap();
            tx.commit().await.unwrap();
            seen.push(kept(&db, insert));
        }
        assert_eq!(seen[0].len(), 1, "kept after the commit: {seen:?}");
        assert_eq!(seen[0], seen[1], "the same statement, run again");
        assert_eq!(settings(&db).await, 2);
        tokio::time::timeout(std::time::Duration::from_secs(10), db.close())
            .await
            .expect("the writer closes");
    }

    /// A transaction dropped right after a statement through sqlx (the
    /// handle not borrowed, so it cannot roll back on the spot) still lets
    /// go of SQLite's write lock at once, without waiting for the writer's
    /// next user: another process can write, and nothing of it is kept.
    #[tokio::test]
    async fn a_dropped_transaction_lets_go_of_the_lock_without_another_write() {
        let (db, path) = crate::store::testing::migrated_sqlite_file().await;
        let mut tx = db.begin().await.unwrap();
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO server_settings (key, value) VALUES ('in-place-x', 'x')"
        ).execute(&mut *conn).await.map(|_| ()))
        .unwrap();
        drop(tx);
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        let write =
            tokio::task::spawn_blocking(move || other.execute_batch("BEGIN IMMEDIATE; ROLLBACK"));
        tokio::time::timeout(std::time::Duration::from_secs(3), write)
            .await
            .expect("the lock is let go at once")
            .unwrap()
            .unwrap();
        assert_eq!(settings(&db).await, 0, "nothing of it is kept");
    }
}
