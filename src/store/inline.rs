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

/// The in-place readers of one SQLite file. Cloning shares them.
#[derive(Clone, Debug, Default)]
pub struct InlineReads(Option<Arc<Readers>>);

#[derive(Debug)]
struct Readers {
    path: PathBuf,
    /// Connections not in use. A connection is in use only for the length
    /// of one synchronous call, so there are never more of them than
    /// threads that read at once.
    idle: Mutex<Vec<Connection>>,
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

    fn open(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // A reader of a WAL database waits only while another connection
        // recovers the WAL index, as sqlx's connections do.
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "query_only", true)?;
        // Any commit by another connection (every request's audit record)
        // makes SQLite empty this connection's page cache before its next
        // read, and emptying it walks the whole cache: a large one only
        // costs. One statement's pages fit in this.
        conn.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
        Ok(conn)
    }
}
