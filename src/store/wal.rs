//! SQLite's WAL checkpoints, taken off the commit path.
//!
//! By default SQLite checkpoints from inside a commit: the commit that
//! takes the WAL past 1,000 pages copies them back into the database file
//! and syncs it, and everyone waiting on that commit (every read whose
//! record is in the batch) waits for the copy. The server instead turns
//! that off on its writer and checkpoints from a thread of its own, a few
//! times a second, in PASSIVE mode, which never blocks a reader or the
//! writer. A CLI command or a test that opens the database without a
//! server keeps SQLite's own checkpoints.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::Mutex;

use super::writer::Writer;
use super::{Db, StoreError};

/// How often the checkpointer looks at the WAL.
const EVERY: Duration = Duration::from_millis(250);

/// The checkpointing thread: it stops when this is dropped.
#[derive(Debug)]
pub struct WalCheckpointer {
    _stop: mpsc::Sender<()>,
}

/// Takes over the checkpoints of `db` (SQLite with a file; `None`
/// otherwise): the writer stops checkpointing, and a thread checkpoints
/// until the returned value is dropped.
pub async fn take_over_checkpoints(db: &Db) -> Result<Option<WalCheckpointer>, StoreError> {
    let (Db::Sqlite(_, gate, _), Some(path)) = (db, db.sqlite_file()) else {
        return Ok(None);
    };
    let conn = open(&path)?;
    let turn = gate.turn.clone();
    let mut writer = gate.turn.lock().await;
    let writer_conn = writer.connection().await?;
    sqlx::query("PRAGMA wal_autocheckpoint = 0")
        .execute(&mut *writer_conn)
        .await?;
    // A burst (a large Bulk request) can grow the WAL file far past its
    // usual size; SQLite cuts it back to this when it next starts over.
    sqlx::query("PRAGMA journal_size_limit = 67108864")
        .execute(&mut *writer_conn)
        .await?;
    drop(writer);
    let (stop, stopped) = mpsc::channel();
    std::thread::Builder::new()
        .name("wal-checkpoints".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                let (log, copied) = match checkpoint(&conn, "PASSIVE") {
                    Ok(progress) => progress,
                    Err(e) => {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                        continue;
                    }
                };
                // SQLite starts the WAL over only at a write that finds it
                // wholly copied and no reader in it, which under steady
                // reads and writes may never happen: the file would grow
                // without end. So once it is long, the rest is copied in
                // the writers' turn (little is left by then), waiting for
                // the readers in it to finish, and the next write starts
                // the WAL over.
                if log > LONG_WAL_PAGES
                    && let Err(e) = restart(&conn, &path, &turn, log - copied)
                {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
            // The last one, as the server stops: a restart finds a short WAL.
            let _ = checkpoint(&conn, "PASSIVE");
        })
        .map_err(|e| StoreError::Url(format!("cannot start the WAL checkpointer: {e}")))?;
    Ok(Some(WalCheckpointer { _stop: stop }))
}

fn open(path: &PathBuf) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_WAIT)?;
    Ok(conn)
}

/// How long a RESTART checkpoint may wait for readers to leave the WAL.
/// It holds SQLite's write lock while it waits, so every writer outside
/// this process's turn (another instance on the same file, the CLI) waits
/// with it; and a reader there may itself be waiting on a write (another
/// instance's transaction that read, then wants to write), which would
/// hold both until a busy timeout ran out. It gives up soon instead, and
/// the thread tries again in its next round.
const RESTART_WAIT: Duration = Duration::from_millis(100);

/// Copies the whole WAL into the database and starts it over, holding the
/// writers' turn only for the frames written since the last PASSIVE round.
///
/// Every request waits for its record's commit while the turn is held,
/// so what the RESTART does there is a read's latency. Alone it synced the
/// WAL, copied what the last PASSIVE round had left (a round's worth of
/// commits) and synced the database file, flushing every page the PASSIVE
/// rounds had copied without a sync. So first, outside the turn, PASSIVE
/// rounds until little is left, and a sync of the database file; the
/// RESTART then syncs and copies only what came after.
/// `left` is what the round that found the WAL long did not copy.
fn restart(
    conn: &Connection,
    path: &Path,
    turn: &Mutex<Writer>,
    mut left: i64,
) -> Result<(i64, i64), StoreError> {
    // Each PASSIVE round copies what was written during the one before;
    // a few rounds leave little for the turn.
    for _ in 0..CATCH_UP_ROUNDS {
        if left <= SHORT_REST {
            break;
        }
        let (log, copied) = checkpoint(conn, "PASSIVE")?;
        left = log - copied;
    }
    std::fs::File::open(path)
        .and_then(|f| f.sync_data())
        .map_err(|e| StoreError::Url(format!("cannot sync the database file: {e}")))?;
    let _turn = turn.blocking_lock();
    let started = std::time::Instant::now();
    conn.busy_handler(Some(wait_briefly))?;
    let done = checkpoint(conn, "RESTART");
    conn.busy_timeout(BUSY_WAIT)?;
    tracing::debug!(
        turn_held_us = started.elapsed().as_micros() as u64,
        "WAL restarted"
    );
    Ok(done?)
}

/// The RESTART's busy handler: readers leave the WAL within a statement,
/// so it looks again every 100 µs (SQLite's own handler sleeps 1, 2, 5,
/// 10 ms… while every writer waits) and gives up after [`RESTART_WAIT`].
fn wait_briefly(attempt: i32) -> bool {
    const STEP: Duration = Duration::from_micros(100);
    if STEP * attempt.max(0) as u32 >= RESTART_WAIT {
        return false;
    }
    std::thread::sleep(STEP);
    true
}

/// PASSIVE rounds before a RESTART, at most, to bring what is left to
/// copy under [`SHORT_REST`] frames.
const CATCH_UP_ROUNDS: usize = 4;
const SHORT_REST: i64 = 200;

/// How long the checkpointer's connection otherwise waits for a lock.
const BUSY_WAIT: Duration = Duration::from_secs(10);

/// How long the WAL may grow, in pages, before the checkpointer catches up
/// in the writers' turn (SQLite's own threshold).
const LONG_WAL_PAGES: i64 = 1000;

/// Copies what it can of the WAL into the database, in `mode` (PASSIVE
/// waits for nobody; RESTART waits for the readers in the WAL), and
/// returns the WAL's length in pages and how many of them are copied.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64)> {
    let sql = match mode {
        "RESTART" => "PRAGMA wal_checkpoint(RESTART)",
        _ => "PRAGMA wal_checkpoint(PASSIVE)",
    };
    conn.query_row(sql, [], |r| Ok((r.get(1)?, r.get(2)?)))
}

impl Db {
    /// The SQLite database file, if there is one.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match self {
            Db::Sqlite(_, _, inline) => inline.path().map(Path::to_path_buf),
            Db::Postgres(..) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::on_tx;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The writer no longer checkpoints, the thread does: a committed row
    /// reaches the database file itself (read with `immutable=1`, which
    /// ignores the WAL) within a few of its rounds.
    #[tokio::test]
    async fn the_thread_moves_commits_into_the_database_file() {
        let (db, path) = crate::store::testing::migrated_sqlite_file().await;
        let _checkpointer = take_over_checkpoints(&db).await.unwrap().expect("a file");
        let Db::Sqlite(_, gate, _) = &db else {
            unreachable!()
        };
        let mut writer = gate.turn.lock().await;
        let auto: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(writer.connection().await.unwrap())
            .await
            .unwrap();
        assert_eq!(auto, 0, "the writer leaves checkpoints to the thread");
        drop(writer);

        let mut tx = db.begin().await.unwrap();
        on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO server_settings (key, value) VALUES ('wal-probe', 'x')"
        ).execute(&mut *conn).await.map(|_| ()))
        .unwrap();
        tx.commit().await.unwrap();

        let file_only = format!("file:{}?immutable=1", path.display());
        let in_file = || -> bool {
            let conn = Connection::open_with_flags(
                &file_only,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )
            .unwrap();
            // Until the migrations themselves are checkpointed, the file
            // has no such table.
            conn.query_row(
                "SELECT COUNT(*) FROM server_settings WHERE key = 'wal-probe'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .is_ok_and(|n| n == 1)
        };
        for _ in 0..40 {
            if in_file() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the commit never reached the database file");
    }

    /// The WAL's checkpoint sequence (its header's fourth word), which
    /// SQLite moves on each time the WAL starts over from its beginning.
    fn wal_restarts(path: &Path) -> u32 {
        let wal = std::fs::read(format!("{}-wal", path.display())).unwrap();
        u32::from_be_bytes(wal[12..16].try_into().unwrap())
    }

    /// The writer never checkpoints, yet under reads and writes that never
    /// pause the WAL is copied and started over from its beginning (by a
    /// write that finds it wholly copied, or by the RESTART in the writers'
    /// turn once it is long), so the file does not grow without end.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_wal_starts_over_under_steady_reads_and_writes() {
        let (db, path) = crate::store::testing::migrated_sqlite_file().await;
        let _checkpointer = take_over_checkpoints(&db).await.unwrap().expect("a file");
        let before = wal_restarts(&path);
        let reading = Arc::new(AtomicBool::new(true));
        let reader = {
            let (db, reading) = (db.clone(), reading.clone());
            tokio::spawn(async move {
                while reading.load(Ordering::Relaxed) {
                    crate::on_db!(&db, pool => sqlx::query_scalar::<_, i64>(
                        "SELECT COUNT(*) FROM server_settings"
                    ).fetch_one(pool).await)
                    .unwrap();
                }
            })
        };
        let page = "x".repeat(3000);
        for i in 0..2000 {
            let mut tx = db.begin().await.unwrap();
            on_tx!(&mut tx, conn => sqlx::query(
                "INSERT INTO server_settings (key, value) VALUES ($1, $2)"
            ).bind(format!("wal-filler-{i}")).bind(&page).execute(&mut *conn).await.map(|_| ()))
            .unwrap();
            tx.commit().await.unwrap();
            if i > LONG_WAL_PAGES as usize && wal_restarts(&path) != before {
                reading.store(false, Ordering::Relaxed);
                return reader.await.unwrap();
            }
        }
        panic!("2000 commits of a page and the WAL never started over");
    }
}
