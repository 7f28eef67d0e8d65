//! Verified token rows kept in memory, so that a request whose token was
//! checked a moment ago does not ask the database again.
//!
//! What is kept is the row verification reads (hashes, status, expiry,
//! permissions, allowlist, the member's and workspace's state), not a
//! verdict: every request still computes both HMACs, compares in constant
//! time and checks expiry and address against the clock and its own source.
//!
//! An entry is forgotten:
//! - on this instance, as soon as a transaction that changed its token,
//!   member or workspace commits ([`crate::store::Touched`]);
//! - everywhere, [`FRESH_FOR`] after it was read, which is how a change
//!   made by another instance (or the CLI) reaches this one. A fixed age
//!   needs no change feed whose gaps could hide a revocation (a sequence
//!   polled on PostgreSQL can skip a number whose transaction commits
//!   late); it costs one lookup per token per instance per second.
//!
//! Only tokens that exist are kept. An unknown id still reads the decoy row
//! from the database on every attempt; that a token id in use answers a
//! little faster than one not in use tells nothing secret, since ids are
//! shown in listings and audit records and the secret is what is compared.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::store::Touched;

/// How long a row read from the database is trusted. A revocation made
/// elsewhere reaches this instance within this time (the product promises
/// one second).
pub const FRESH_FOR: Duration = Duration::from_millis(900);

/// More entries than this and the cache starts over: a bound on memory
/// that no realistic number of live tokens reaches.
const MAX_ENTRIES: usize = 100_000;

/// The part of a cached row that says what it depends on.
pub(super) trait Dependencies {
    fn member_id(&self) -> Option<Uuid>;
    fn workspace_id(&self) -> Option<Uuid>;
}

struct Entry<R> {
    row: R,
    read_at: Instant,
}

/// A generation taken before reading from the database; the row read is
/// kept only if nothing was forgotten in between (the read may predate
/// the change that made us forget).
#[derive(Clone, Copy, Debug)]
pub(super) struct Generation(u64);

pub(super) struct Cache<R> {
    entries: Mutex<HashMap<String, Entry<R>>>,
    generation: AtomicU64,
}

impl<R> Default for Cache<R> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }
}

impl<R> std::fmt::Debug for Cache<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").finish_non_exhaustive()
    }
}

impl<R: Clone + Dependencies> Cache<R> {
    /// The row of token `id`, if it was read less than [`FRESH_FOR`] ago.
    pub(super) fn get(&self, id: &str) -> Option<R> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(id)?;
        (entry.read_at.elapsed() < FRESH_FOR).then(|| entry.row.clone())
    }

    pub(super) fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    /// Keeps `row`, read from the database after `seen` was taken, unless
    /// something was forgotten since.
    pub(super) fn put(&self, id: &str, row: R, seen: Generation, read_at: Instant) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        // Checked under the lock that `forget` bumps under, so a row read
        // before a change cannot slip in after the change was forgotten.
        if self.generation.load(Ordering::Acquire) != seen.0 {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(id.to_string(), Entry { row, read_at });
    }

    /// Forgets every row that depends on what a committed transaction
    /// changed.
    pub(super) fn forget(&self, touched: &[Touched]) {
        if touched.is_empty() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        self.generation.fetch_add(1, Ordering::AcqRel);
        for t in touched {
            match t {
                Touched::Token(id) => {
                    entries.remove(id);
                }
                Touched::Member(m) => entries.retain(|_, e| e.row.member_id() != Some(*m)),
                Touched::Workspace(w) => entries.retain(|_, e| e.row.workspace_id() != Some(*w)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Row {
        member: Option<Uuid>,
        workspace: Option<Uuid>,
    }

    impl Dependencies for Row {
        fn member_id(&self) -> Option<Uuid> {
            self.member
        }
        fn workspace_id(&self) -> Option<Uuid> {
            self.workspace
        }
    }

    fn row(member: Option<Uuid>, workspace: Option<Uuid>) -> Row {
        Row { member, workspace }
    }

    #[test]
    fn a_kept_row_is_served_until_it_is_too_old() {
        let cache = Cache::default();
        let r = row(None, None);
        cache.put("a", r.clone(), cache.generation(), Instant::now());
        assert_eq!(cache.get("a"), Some(r.clone()));
        assert_eq!(cache.get("b"), None);
        let stale = Instant::now() - FRESH_FOR;
        cache.put("old", r, cache.generation(), stale);
        assert_eq!(cache.get("old"), None);
    }

    #[test]
    fn forgetting_removes_exactly_the_dependent_rows() {
        let cache = Cache::default();
        let (m, w) = (Uuid::new_v4(), Uuid::new_v4());
        let g = cache.generation();
        let now = Instant::now();
        cache.put("pat", row(Some(m), None), g, now);
        cache.put("ws", row(None, Some(w)), g, now);
        cache.put("org", row(None, None), g, now);
        cache.forget(&[Touched::Member(m)]);
        assert!(cache.get("pat").is_none());
        assert!(cache.get("ws").is_some() && cache.get("org").is_some());
        cache.forget(&[Touched::Workspace(w), Touched::Token("org".into())]);
        assert!(cache.get("ws").is_none() && cache.get("org").is_none());
    }

    #[test]
    fn a_row_read_before_a_change_is_not_kept_after_it() {
        let cache = Cache::default();
        let seen = cache.generation();
        // The change commits and is forgotten while the read is in flight.
        cache.forget(&[Touched::Token("a".into())]);
        cache.put("a", row(None, None), seen, Instant::now());
        assert!(cache.get("a").is_none());
        cache.put("a", row(None, None), cache.generation(), Instant::now());
        assert!(cache.get("a").is_some());
    }
}
