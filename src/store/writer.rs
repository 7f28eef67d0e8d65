//! SQLite's one writer: the turn every write of this process takes, and
//! the connection it writes on.
//!
//! SQLite allows one writer at a time. Letting pooled connections race for
//! the file lock keeps throughput but makes tail latency 10-20x worse, so
//! writers queue here, in process, and then `BEGIN IMMEDIATE` on the one
//! connection kept for writing. One connection, because SQLite empties a
//! connection's page cache whenever another connection has written: the
//! writer that always writes keeps the pages it writes to in memory, where
//! a write on any pooled connection would read them again from the file.
//!
//! The connection is owned by the turn itself rather than checked out of a
//! pool for each transaction: a pool's checkout and return cost a round
//! trip to sqlx's worker thread each (the return pings the connection),
//! inside the line every writer waits in.

use std::sync::Arc;

use sqlx::SqliteConnection;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::StoreError;
use super::in_place_tx::KeptStatements;

/// The writer's turn and connection. Cloning shares them.
#[derive(Clone)]
pub struct WriterGate {
    /// Declared before `turn`, so dropped first: the statements kept on
    /// the writer's handle are finalized before sqlx closes it.
    pub(super) statements: KeptStatements,
    pub(super) turn: Arc<Mutex<Writer>>,
    /// Whether a transaction commits on the calling thread: only when a
    /// commit does not wait for the disk ([`Durability::Normal`]). A
    /// synced commit (`Full`) waits on sqlx's thread, not a runtime's.
    ///
    /// [`Durability::Normal`]: super::Durability::Normal
    pub(super) commit_in_place: bool,
}

impl std::fmt::Debug for WriterGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterGate").finish_non_exhaustive()
    }
}

impl WriterGate {
    pub(crate) fn new(conn: SqliteConnection, commit_in_place: bool) -> Self {
        Self {
            statements: Arc::default(),
            turn: Arc::new(Mutex::new(Writer {
                conn: Some(conn),
                unended: false,
            })),
            commit_in_place,
        }
    }

    /// Whether a writer holds the turn now (for the pool metrics).
    pub(super) fn busy(&self) -> bool {
        self.turn.try_lock().is_err()
    }

    /// Finalizes the kept statements and closes the connection, in the
    /// writer's turn (so that no transaction is using either).
    pub(super) async fn close(&self) {
        let mut writer = self.turn.lock().await;
        drop(
            self.statements
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        if let Some(conn) = writer.conn.take() {
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

/// The writer's connection, held by whoever has the turn.
pub struct Writer {
    conn: Option<SqliteConnection>,
    /// A transaction was dropped unfinished at a moment it could not roll
    /// back on the spot (a statement of it was in sqlx's hands): the next
    /// holder rolls it back before anything else.
    pub(super) unended: bool,
}

impl Writer {
    /// The connection, with nothing left open of an earlier transaction.
    pub async fn connection(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| StoreError::Url("the database is closed".into()))?;
        if self.unended {
            // It fails only if no transaction is open, which is the aim.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            self.unended = false;
        }
        Ok(conn)
    }
}

impl Writer {
    /// The connection as it is (for a transaction already begun on it).
    pub(super) fn conn_mut(&mut self) -> Option<&mut SqliteConnection> {
        self.conn.as_mut()
    }
}

/// A turn to write (see [`Db::writer_turn`](super::Db::writer_turn)).
pub struct WriterTurn(pub(super) Option<OwnedMutexGuard<Writer>>);
