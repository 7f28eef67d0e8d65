//! SQLite reads run in place, on the calling thread.
//!
//! sqlx runs every SQLite connection on a thread of its own, and each
//! statement is a round trip to it: the caller wakes the worker, the worker
//! wakes the caller. A profile of `GET /Users/{id}` under load spent half
//! the server's time in those threads, most of it in the kernel switching
//! between them, for a statement that takes SQLite itself a few tens of
//! microseconds out of its page cache. The reads on the hot path (a SCIM
//! resource by id, a token's row) run here instead: they take an idle
//! connection of this small pool, run their statement where they are (no
//! longer than the other work a request does between two awaits), and put
//! it back. Nothing here writes: the connections are `query_only`.
//!
//! A database with no file (`sqlite::memory:`) has none of these: each
//! in-memory connection would be a database of its own. Callers then take
//! the sqlx path.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::FromSql;
use rusqlite::{Connection, OpenFlags, Params, Row};

use super::StoreError;

/// The page cache of each in-place reader, in KiB (as SQLite's negative
/// `cache_size`).
const READER_CACHE_KIB: i64 = -256;

/// The in-place readers of one SQLite file, and its in-place writer of
/// records. Cloning shares them.
#[derive(Clone, Debug, Default)]
pub struct InlineReads(Option<Arc<Readers>>);

#[derive(Debug)]
struct Readers {
    path: PathBuf,
    /// Connections not in use. A connection is in use only for the length
    /// of one synchronous call, so there are never more of them than
    /// threads that read at once.
    idle: Mutex<Vec<Connection>>,
    /// The connection that appends batches of records alone (see
    /// [`InlineReads::write`]), opened when first used.
    writer: Mutex<Option<Connection>>,
}

impl InlineReads {
    /// Readers of the file at `path`; none for an in-memory database.
    pub fn of(path: &std::path::Path) -> Self {
        let name = path.to_string_lossy();
        if name.is_empty() || name == ":memory:" {
            return Self(None);
        }
        Self(Some(Arc::new(Readers {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
        })))
    }

    /// The database file, if there is one.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.0.as_deref().map(|r| r.path.as_path())
    }

    /// Runs `read` on an idle connection, or `None` when this database has
    /// no in-place readers.
    pub fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Option<Result<T, StoreError>> {
        let readers = self.0.as_ref()?;
        Some(readers.read(read))
    }
}

/// Reads a row's columns one after the other, in the order they were
/// selected. By position, because `Row::get` by name scans the columns and
/// compares their names for every value: a tenth of the CPU of a page of
/// users. Debug builds check each column's name, so that the test suites
/// hold the decoding and the statement's text to the same order.
pub struct InOrder<'r, 's> {
    row: &'r Row<'s>,
    next: usize,
}

impl<'r, 's> InOrder<'r, 's> {
    pub fn new(row: &'r Row<'s>) -> Self {
        Self { row, next: 0 }
    }

    /// The next column, which is named `name`.
    pub fn get<T: FromSql>(&mut self, name: &str) -> rusqlite::Result<T> {
        let i = self.next;
        self.next += 1;
        debug_assert_eq!(
            self.row.as_ref().column_name(i).ok(),
            Some(name),
            "column {i} of the statement"
        );
        self.row.get(i)
    }
}

/// A row type read in place: how it decodes from SQLite's row, beside its
/// sqlx `FromRow`.
pub trait FromInPlace: Sized {
    fn from_in_place(row: &Row<'_>) -> rusqlite::Result<Self>;
}

impl FromInPlace for i64 {
    fn from_in_place(row: &Row<'_>) -> rusqlite::Result<Self> {
        row.get(0)
    }
}

impl FromInPlace for uuid::Uuid {
    fn from_in_place(row: &Row<'_>) -> rusqlite::Result<Self> {
        row.get(0)
    }
}

impl<A: FromSql> FromInPlace for (A,) {
    fn from_in_place(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?,))
    }
}

impl<A: FromSql, B: FromSql> FromInPlace for (A, B) {
    fn from_in_place(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?))
    }
}

impl<A: FromSql, B: FromSql, C: FromSql> FromInPlace for (A, B, C) {
    fn from_in_place(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    }
}

/// A column's text that did not convert to its type (an unknown role).
pub fn unconverted(column: &str, why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("{column}: {why}").into(),
    )
}

/// Every row of `sql` (cached as a prepared statement) with `params`.
pub fn rows<T: FromInPlace>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> rusqlite::Result<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| T::from_in_place(row))?;
    rows.collect()
}

/// Values bound in place, gathered with the same `push_bind` calls that
/// bind them to a sqlx `QueryBuilder`, so that a row's columns are listed
/// once for both.
#[derive(Default)]
pub struct InPlaceValues {
    pub values: Vec<rusqlite::types::Value>,
    failed: Option<rusqlite::Error>,
}

impl InPlaceValues {
    pub fn push_bind<T: rusqlite::types::ToSql>(&mut self, value: T) -> &mut Self {
        use rusqlite::types::{ToSqlOutput, Value};
        match value.to_sql() {
            Ok(ToSqlOutput::Owned(v)) => self.values.push(v),
            Ok(ToSqlOutput::Borrowed(v)) => match Value::try_from(v) {
                Ok(v) => self.values.push(v),
                Err(e) => self.failed = Some(e.into()),
            },
            Ok(_) => self.values.push(Value::Null),
            Err(e) => self.failed = Some(e),
        }
        self
    }

    /// The values, or the first that would not convert.
    pub fn into_values(self) -> rusqlite::Result<Vec<rusqlite::types::Value>> {
        match self.failed {
            Some(e) => Err(e),
            None => Ok(self.values),
        }
    }
}

impl InlineReads {
    /// Runs `write` on the in-place writer, in the caller's turn to write;
    /// `None` when this database has none.
    pub fn write<T>(
        &self,
        _turn: &super::WriterTurn,
        write: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Option<Result<T, StoreError>> {
        let readers = self.0.as_ref()?;
        Some(readers.write(write))
    }
}

impl Readers {
    fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let out = read(&conn)?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        Ok(out)
    }

    fn write<T>(
        &self,
        write: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| StoreError::Url("the in-place writer was poisoned".into()))?;
        let conn = match writer.as_mut() {
            Some(conn) => conn,
            None => writer.insert(self.open_writer()?),
        };
        let out = write(conn);
        if out.is_err() {
            // Whatever state it is in, the next batch starts afresh.
            *writer = None;
        }
        Ok(out?)
    }

    fn open_writer(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open(&self.path)?;
        // Never wait for the write lock here: this runs on the calling
        // thread, and a wait there would stall every task of that thread,
        // among them, with two instances in one process (tests), the one
        // holding the lock. A busy database is the caller's to take the
        // waiting path for (see `StoreError::is_busy`).
        conn.busy_timeout(Duration::ZERO)?;
        // As the server's other connections in `Durability::Normal` (the
        // only one this writer serves): a commit survives a killed process.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Never a checkpoint inside a commit: the server's checkpointer
        // (`store::wal`) or the sqlx writer takes them.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(conn)
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A reader of a WAL database waits only while another connection
        // recovers the WAL index, as sqlx's connections do.
        conn.busy_timeout(Duration::from_secs(10))?;
        super::index_file::attach_reader(&conn, &super::index_file::path_for(&self.path))?;
        conn.pragma_update(None, "query_only", true)?;
        // Any commit by another connection (every request's audit record)
        // makes SQLite empty this connection's page cache before its next
        // read, and emptying it walks the whole cache: a large one only
        // costs. One statement's pages fit in this.
        conn.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
        Ok(conn)
    }
}
