//! A bounded map of per-key limit state behind one mutex. Entries that
//! carry nothing worth keeping (a full bucket, a closed failure window) are
//! swept every few seconds; a table that is full of live entries takes no
//! new key. So memory stays bounded whatever keys an attacker invents.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often stale entries are swept in any case.
const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// When the table is full, sweep at most this often (a sweep is a pass
/// over the whole table).
const FULL_SWEEP_EVERY: Duration = Duration::from_secs(1);

/// An entry that can tell when forgetting it would change nothing.
pub trait Entry {
    fn is_stale(&self, now: Instant) -> bool;
}

pub struct Table<K, V> {
    cap: usize,
    inner: Mutex<Inner<K, V>>,
}

struct Inner<K, V> {
    map: HashMap<K, V>,
    next_sweep: Instant,
    next_full_sweep: Instant,
}

impl<K: Hash + Eq, V: Entry> Table<K, V> {
    pub fn new(cap: usize, now: Instant) -> Self {
        Self {
            cap: cap.max(1),
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                next_sweep: now + SWEEP_EVERY,
                next_full_sweep: now,
            }),
        }
    }

    /// Runs `f` on the entry of `key`, made by `new` when there is none.
    /// `None` when the key has no entry and the table is full of live
    /// ones: the caller then lets the request through untracked (see
    /// `docs/security.md`, "Abuse limits").
    pub fn upsert<R>(
        &self,
        key: K,
        now: Instant,
        new: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> Option<R> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.sweep_if_due(now, self.cap);
        if let Some(v) = inner.map.get_mut(&key) {
            return Some(f(v));
        }
        if inner.map.len() >= self.cap {
            return None;
        }
        let v = inner.map.entry(key).or_insert_with(new);
        Some(f(v))
    }

    /// Runs `f` on the entry of `key` if there is one.
    pub fn get<R>(&self, key: &K, now: Instant, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.sweep_if_due(now, self.cap);
        inner.map.get_mut(key).map(f)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }
}

impl<K: Hash + Eq, V: Entry> Inner<K, V> {
    fn sweep_if_due(&mut self, now: Instant, cap: usize) {
        let full = self.map.len() >= cap;
        if now < self.next_sweep && !(full && now >= self.next_full_sweep) {
            return;
        }
        self.map.retain(|_, v| !v.is_stale(now));
        self.next_sweep = now + SWEEP_EVERY;
        self.next_full_sweep = now + FULL_SWEEP_EVERY;
        if self.map.len() >= cap {
            tracing::warn!(
                entries = self.map.len(),
                "an abuse-limit table is full of live entries: new keys go untracked"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Until(Instant);
    impl Entry for Until {
        fn is_stale(&self, now: Instant) -> bool {
            now >= self.0
        }
    }

    #[test]
    fn a_full_table_takes_no_new_key_until_entries_go_stale() {
        let t0 = Instant::now();
        let table: Table<u32, Until> = Table::new(3, t0);
        let live_until = t0 + Duration::from_secs(5);
        for k in 0..3 {
            assert_eq!(table.upsert(k, t0, || Until(live_until), |_| ()), Some(()));
        }
        // Full of live entries: a new key is refused, a known one is served.
        assert_eq!(table.upsert(99, t0, || Until(live_until), |_| ()), None);
        assert_eq!(table.upsert(1, t0, || Until(live_until), |_| ()), Some(()));
        // An attacker's endless new keys never grow it.
        for k in 100..10_000 {
            table.upsert(k, t0 + Duration::from_secs(2), || Until(live_until), |_| ());
        }
        assert_eq!(table.len(), 3);
        // Once the entries are stale, the next full sweep makes room.
        let later = t0 + Duration::from_secs(6);
        assert_eq!(table.upsert(99, later, || Until(later), |_| ()), Some(()));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn stale_entries_are_swept_even_when_the_table_is_not_full() {
        let t0 = Instant::now();
        let table: Table<u32, Until> = Table::new(100, t0);
        for k in 0..10 {
            table.upsert(k, t0, || Until(t0 + Duration::from_secs(1)), |_| ());
        }
        assert_eq!(table.len(), 10);
        table.get(&0, t0 + SWEEP_EVERY, |_| ());
        assert_eq!(table.len(), 0);
    }
}
