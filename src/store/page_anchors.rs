//! Page anchors: the id found at every [`SPACING`]-th position of an
//! organization's unfiltered, id-ordered list (its SCIM Users or Groups).
//!
//! SCIM pages by `startIndex`, so a page deep in a list is an OFFSET, and an
//! OFFSET walks the index from the first row: at 100,000 users, a page near
//! the end costs more than the rest of the request put together. Knowing the
//! id at position k·SPACING, a page at offset `o` starts from
//! `id >= anchor[o / SPACING]` and skips fewer than SPACING rows.
//!
//! Anchors hold for one version of a list: the organization's
//! `member_version` or `group_version`, which every insert and delete moves in
//! its own transaction and which the list reads together with its count. The
//! version lives in the database, so a change made through another instance
//! invalidates this one's anchors too. A request that finds no anchors for
//! the current version pages the slow way and starts one rebuild in the
//! background: during a provisioning burst no request waits for a rebuild.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use uuid::Uuid;

/// Rows between two anchors: at most this many minus one are skipped by
/// OFFSET. 100,000 rows need 391 anchors (6 KiB).
pub const SPACING: i64 = 256;

/// One list: an organization's rows of one table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListKey {
    pub org_id: Uuid,
    pub table: &'static str,
}

/// Where a page starts.
#[derive(Debug, PartialEq, Eq)]
pub enum Start {
    /// Near the first row: a plain OFFSET is as cheap as an anchor.
    Head,
    /// At the first row whose id is at least `at`, then `skip` rows on.
    At { at: Uuid, skip: i64 },
    /// No anchors for this version: a plain OFFSET. `rebuild` is true for
    /// exactly one of the requests that see this version missing.
    Missing { rebuild: bool },
}

/// The anchors of every list that has been paged deeply, shared by all
/// requests of one process.
#[derive(Clone, Debug, Default)]
pub struct PageAnchors(Arc<Mutex<HashMap<ListKey, Entry>>>);

#[derive(Debug)]
struct Entry {
    version: i64,
    /// None while a rebuild for `version` runs.
    ids: Option<Arc<[Uuid]>>,
}

impl PageAnchors {
    /// Where the page at `offset` of `key`'s list, now at `version`, starts.
    pub fn start(&self, key: ListKey, version: i64, offset: i64) -> Start {
        if offset < SPACING {
            return Start::Head;
        }
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(&key) {
            Some(Entry {
                version: v,
                ids: Some(ids),
            }) if *v == version => match ids.len() {
                // The list was empty when read: nothing to skip.
                0 => Start::Head,
                n => {
                    let i = usize::try_from(offset / SPACING)
                        .unwrap_or(usize::MAX)
                        .min(n - 1);
                    Start::At {
                        at: ids[i],
                        skip: offset - i as i64 * SPACING,
                    }
                }
            },
            // A rebuild for this version runs, or this request read the
            // version before a change that another request has seen.
            Some(e) if e.version > version || (e.version == version && e.ids.is_none()) => {
                Start::Missing { rebuild: false }
            }
            _ => {
                map.insert(key, Entry { version, ids: None });
                Start::Missing { rebuild: true }
            }
        }
    }

    /// Keeps the anchors read at `version`, unless a newer version has been
    /// seen since (a rebuild that raced a change must not win over it).
    pub fn store(&self, key: ListKey, version: i64, ids: Vec<Uuid>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(&key).is_some_and(|e| e.version > version) {
            return;
        }
        map.insert(
            key,
            Entry {
                version,
                ids: Some(ids.into()),
            },
        );
    }

    /// Forgets a rebuild that failed, so that a later request tries again.
    pub fn abandon(&self, key: ListKey, version: i64) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map
            .get(&key)
            .is_some_and(|e| e.version == version && e.ids.is_none())
        {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ListKey {
        ListKey {
            org_id: Uuid::from_u128(7),
            table: "members",
        }
    }

    fn ids(n: u128) -> Vec<Uuid> {
        (0..n).map(|i| Uuid::from_u128(1000 + i)).collect()
    }

    #[test]
    fn shallow_pages_need_no_anchor() {
        let a = PageAnchors::default();
        assert_eq!(a.start(key(), 1, 0), Start::Head);
        assert_eq!(a.start(key(), 1, SPACING - 1), Start::Head);
    }

    #[test]
    fn one_rebuild_per_version_then_anchored_pages() {
        let a = PageAnchors::default();
        assert_eq!(a.start(key(), 3, 600), Start::Missing { rebuild: true });
        assert_eq!(a.start(key(), 3, 600), Start::Missing { rebuild: false });
        a.store(key(), 3, ids(4));
        assert_eq!(
            a.start(key(), 3, 600),
            Start::At {
                at: Uuid::from_u128(1002),
                skip: 600 - 2 * SPACING
            }
        );
        assert_eq!(
            a.start(key(), 3, SPACING),
            Start::At {
                at: Uuid::from_u128(1001),
                skip: 0
            }
        );
        // Beyond the last anchor: the last one, with the rest skipped.
        assert_eq!(
            a.start(key(), 3, 10 * SPACING + 5),
            Start::At {
                at: Uuid::from_u128(1003),
                skip: 7 * SPACING + 5
            }
        );
    }

    #[test]
    fn a_new_version_invalidates_and_an_old_rebuild_cannot_win() {
        let a = PageAnchors::default();
        assert_eq!(a.start(key(), 1, 600), Start::Missing { rebuild: true });
        // A change lands while version 1 is being rebuilt.
        assert_eq!(a.start(key(), 2, 600), Start::Missing { rebuild: true });
        a.store(key(), 1, ids(4));
        assert_eq!(a.start(key(), 2, 600), Start::Missing { rebuild: false });
        a.store(key(), 2, ids(3));
        assert!(matches!(a.start(key(), 2, 600), Start::At { .. }));
        // Stale anchors are never used.
        assert_eq!(a.start(key(), 3, 600), Start::Missing { rebuild: true });
    }

    #[test]
    fn a_failed_rebuild_lets_the_next_request_try() {
        let a = PageAnchors::default();
        assert_eq!(a.start(key(), 1, 600), Start::Missing { rebuild: true });
        a.abandon(key(), 1);
        assert_eq!(a.start(key(), 1, 600), Start::Missing { rebuild: true });
    }

    #[test]
    fn lists_do_not_share_anchors() {
        let a = PageAnchors::default();
        a.store(key(), 1, ids(4));
        let groups = ListKey {
            table: "scim_groups",
            ..key()
        };
        assert_eq!(a.start(groups, 1, 600), Start::Missing { rebuild: true });
    }
}
