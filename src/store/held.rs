//! PostgreSQL connections held out of sqlx's pool between uses, for the
//! statements of the hot path (a SCIM read, a page, the records of reads).
//!
//! sqlx tests every connection given back to its pool with a round trip to
//! the server (`ping`: a Sync message and its answer), in a task of its
//! own. Every `GET /Users/{id}` gave back one connection (its read) and a
//! share of another (its record): a profile on PostgreSQL found the kernel
//! sending those pings in 8% of scimitar's samples, and each woke a
//! PostgreSQL backend for nothing. A connection taken here comes back here
//! untested, but only from a use that ran to its end ([`HeldConn::done`]):
//! one dropped midway (an error, a cancelled request) goes back to sqlx,
//! whose ping waits out whatever was left unread and closes it if broken.
//! One that sat idle here for [`IDLE`] goes back to sqlx too, which pings
//! it before handing it out again (see `connect::postgres_pool`), so a
//! restarted server or a dropped link is noticed as before.
//!
//! Connections held here count as in use to sqlx's pool: at most `keep`
//! are kept, the rest go back as they are done.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

use super::StoreError;

/// How long a connection may sit here unused before it goes back to sqlx
/// (to be pinged when next handed out), as the pool's own idle check.
const IDLE: Duration = Duration::from_secs(1);

/// The held connections of one pool.
#[derive(Debug)]
pub struct Held {
    pool: PgPool,
    idle: Mutex<Vec<(PoolConnection<Postgres>, Instant)>>,
    keep: usize,
    /// Set before the pool closes, which waits for every connection:
    /// from then on a connection done with goes straight back.
    closing: AtomicBool,
}

impl Held {
    /// Holds up to `keep` connections of `pool`.
    pub fn new(pool: PgPool, keep: usize) -> Self {
        Self {
            pool,
            idle: Mutex::new(Vec::new()),
            keep,
            closing: AtomicBool::new(false),
        }
    }

    /// The pool the connections come from.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A connection: one held here and used within [`IDLE`], or else one
    /// from the pool.
    pub async fn take(&self) -> Result<HeldConn<'_>, StoreError> {
        let mut stale = Vec::new();
        let fresh = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                match idle.pop() {
                    Some((conn, since)) if since.elapsed() < IDLE => break Some(conn),
                    Some((conn, _)) => stale.push(conn),
                    None => break None,
                }
            }
        };
        // Given back to sqlx outside the lock.
        drop(stale);
        let conn = match fresh {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        Ok(HeldConn {
            conn: Some(conn),
            home: self,
        })
    }

    /// Gives every held connection back to the pool, and every one in use
    /// as it is done, for the pool to close.
    pub fn release_all(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let all = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        drop(all);
    }
}

/// A connection taken from [`Held`]. Dropped without [`Self::done`], it
/// goes back to sqlx's pool, which tests it.
pub struct HeldConn<'a> {
    conn: Option<PoolConnection<Postgres>>,
    home: &'a Held,
}

impl HeldConn<'_> {
    /// The connection, as an executor.
    pub fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("a held connection until done")
    }

    /// Puts the connection back for the next use. Only once every
    /// statement run on it has run to its end, its rows read.
    pub fn done(mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let mut idle = self.home.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.home.keep && !self.home.closing.load(Ordering::SeqCst) {
            idle.push((conn, Instant::now()));
        } else {
            drop(idle);
            drop(conn);
        }
    }
}
