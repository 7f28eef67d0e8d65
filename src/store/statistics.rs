//! Planner statistics after large imports. PostgreSQL plans from
//! statistics that autovacuum refreshes only every minute or so; right
//! after a bulk import of thousands of users it has none for the new rows,
//! and it then picks a scan of the organization's rows over the unique
//! index on the user name (a `userName eq` filter took 7.9 ms instead of
//! 0.37 ms). So every SCIM create (one by one or in Bulk) tells this
//! module, and once the rows created since the last refresh reach as many
//! as there were then (at least 1,000), the tables SCIM reads are
//! analyzed, in the background. A 100,000-user import is analyzed about
//! seven times.
//! SQLite plans from its indexes without such statistics: nothing to do.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::Db;

/// Rows created since the last refresh, and at the last refresh.
static SINCE: AtomicU64 = AtomicU64::new(0);
static AT_LAST: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicBool = AtomicBool::new(false);

/// The fewest new rows worth a refresh.
const MIN_ROWS: u64 = 1_000;

/// Notes `created` new rows, and refreshes the statistics in the
/// background when enough have come.
pub fn rows_created(db: &Db, created: u64) {
    let Db::Postgres(pool, ..) = db else {
        return;
    };
    let since = SINCE.fetch_add(created, Ordering::AcqRel) + created;
    if since < AT_LAST.load(Ordering::Acquire).max(MIN_ROWS) {
        return;
    }
    if RUNNING.swap(true, Ordering::AcqRel) {
        return;
    }
    SINCE.store(0, Ordering::Release);
    AT_LAST.fetch_add(since, Ordering::AcqRel);
    let pool = pool.clone();
    tokio::spawn(async move {
        let analyzed = sqlx::query("ANALYZE members, scim_values, scim_groups, scim_group_members")
            .execute(&pool)
            .await;
        if let Err(e) = analyzed {
            tracing::warn!(error = %e, "refreshing planner statistics failed");
        }
        RUNNING.store(false, Ordering::Release);
    });
}
