//! Group commit: the one path by which every change and every audit record
//! reaches the database. Concurrent callers share one transaction:
//!
//! - a change runs inside its own savepoint of the shared transaction, so
//!   that its failure rolls back only itself;
//! - its audit record, and the records of reads and refusals that change
//!   nothing, are appended when the batch commits, per chain in one
//!   multi-row insert after the head this writer remembers (see
//!   [`super::append`]); a batch of records alone has no transaction open
//!   while it fills, and commits in one round trip on SQLite;
//! - every caller is answered only after the shared commit, so a change is
//!   acknowledged only once it and its record are durable together, and a
//!   read only once its record is.
//!
//! Callers join the open batch one at a time (a fair lock), and a committer
//! task takes the batch when it reaches the lock: everyone who queued
//! before it is in. A commit costs about the same for one record as for
//! ten, so the committer lets a batch fill to the size the last one had
//! (the callers that keep coming back under steady load), for at most
//! [`LINGER`]; alone, a caller gets a batch of one at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard, Notify, watch};
use tokio::task::JoinHandle;

use super::append::{Heads, append_alone, append_remembering, remember};
use super::{AuditError, AuditEvent};
use crate::store::{Db, Durability, StoreError, Touched, Tx, WriterTurn};

/// What a change did.
#[expect(
    clippy::large_enum_variant,
    reason = "one value per write, moved once: boxing the event would only add an allocation"
)]
pub enum Change<T> {
    /// It changed something, described by this event.
    Made(T, AuditEvent),
    /// There was nothing to change (a second revoke, say): its savepoint is
    /// rolled back and nothing is recorded.
    Unchanged(T),
}

/// How a batch ended, shared with everyone in it.
type Outcome = Option<Result<(), String>>;

/// The batch being filled.
struct Batch {
    /// Begun by the first change to join; a batch of records alone has
    /// none until it commits.
    tx: Option<Tx>,
    /// Records to append at commit, in the order their callers joined.
    events: Vec<AuditEvent>,
    done: watch::Sender<Outcome>,
    /// A caller was dropped (its request cancelled) inside its savepoint:
    /// whoever touches the batch next rolls that savepoint back first.
    dangling: bool,
    /// A savepoint could not be released or rolled back, so the
    /// transaction may hold part of a change: it must never commit.
    broken: bool,
    /// The last kept change's savepoint is still open: it is released by
    /// the next change's savepoint, in the same round trip, or by the
    /// commit, which releases every savepoint (see [`Batch::savepoint`]).
    unreleased: bool,
}

/// A savepoint name: a statement naming it acts on the newest savepoint of
/// that name, which is always the current change's, so one name serves all.
const SAVEPOINT: &str = "SAVEPOINT one_write";
const RELEASE: &str = "RELEASE SAVEPOINT one_write";
const ROLLBACK_TO: &str = "ROLLBACK TO SAVEPOINT one_write";

async fn run(tx: &mut Option<Tx>, statements: &[&'static str]) -> Result<(), StoreError> {
    tx.as_mut()
        .expect("a savepoint is taken in a begun transaction")
        .execute_statements(statements)
        .await
}

impl Batch {
    fn new() -> Self {
        Self {
            tx: None,
            events: Vec::new(),
            done: watch::channel(None).0,
            dangling: false,
            broken: false,
            unreleased: false,
        }
    }

    /// Opens a change's savepoint. A kept change's savepoint is released
    /// here rather than when it settled: on PostgreSQL each statement is a
    /// round trip in the writers' turn, and the two go as one.
    async fn savepoint(&mut self) -> Result<(), StoreError> {
        let outcome = if self.unreleased {
            run(&mut self.tx, &[RELEASE, SAVEPOINT]).await
        } else {
            run(&mut self.tx, &[SAVEPOINT]).await
        };
        self.unreleased = false;
        self.broken |= outcome.is_err();
        outcome
    }

    /// Ends the savepoint, keeping its change (released by the next
    /// savepoint or the commit) or not. A failure here breaks the batch.
    async fn settle(&mut self, keep: bool) -> Result<(), StoreError> {
        if keep {
            self.unreleased = true;
            return Ok(());
        }
        // The newest savepoint is this change's; the one a kept change
        // before it left open (if any) stays open below it, unreleased.
        let outcome = run(&mut self.tx, &[ROLLBACK_TO, RELEASE]).await;
        self.broken |= outcome.is_err();
        outcome
    }

    /// Undoes the savepoint of a caller that was dropped inside it.
    async fn heal(&mut self) -> Result<(), StoreError> {
        if self.dangling {
            self.dangling = false;
            self.settle(false).await?;
        }
        Ok(())
    }

    /// Ends a batch that must not commit: its transaction rolls back and
    /// everyone in it is told.
    fn fail(self, why: &str) {
        tracing::error!(records = self.events.len(), why, "group commit abandoned");
        self.done
            .send_replace(Some(Err(format!("group commit abandoned: {why}"))));
    }
}

impl Inner {
    /// Waits until the open batch has `target` callers, or [`LINGER`].
    async fn filled(&self, target: usize) {
        let deadline = tokio::time::Instant::now() + LINGER;
        while self.joined.load(Ordering::Acquire) < target {
            if tokio::time::timeout_at(deadline, self.arrivals.notified())
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// Told, after each commit, which credential rows the batch changed.
pub type OnCommit = Box<dyn Fn(&[Touched]) + Send + Sync>;

/// Longest a batch waits to fill to the size of the one before it.
pub const LINGER: Duration = Duration::from_millis(1);

/// Largest batch the committer waits for.
const MAX_TARGET: usize = 64;

struct Inner {
    db: Db,
    /// Whether a batch of records alone waits for its commit to reach the
    /// disk ([`Durability::Full`]). A batch with a change always does.
    flush_records: bool,
    /// Callers in the open batch, for the committer to judge how full it is.
    joined: AtomicUsize,
    /// Told whenever a caller joins.
    arrivals: Notify,
    on_commit: OnCommit,
    open: Mutex<Option<Batch>>,
    /// Wakes the committer when a batch opens.
    opened: Notify,
}

/// The group-commit writer. Cloning shares it.
#[derive(Clone)]
pub struct AuditWriter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AuditWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditWriter").finish_non_exhaustive()
    }
}

impl AuditWriter {
    /// Starts the committer task. It runs for as long as the process does.
    /// `on_commit` hears of every committed change to a row credential
    /// checks read, before anyone in the batch is answered.
    pub fn spawn(db: Db, durability: Durability, on_commit: OnCommit) -> (Self, JoinHandle<()>) {
        let inner = Arc::new(Inner {
            db,
            flush_records: durability == Durability::Full,
            on_commit,
            open: Mutex::new(None),
            opened: Notify::new(),
            joined: AtomicUsize::new(0),
            arrivals: Notify::new(),
        });
        let committer = inner.clone();
        let task = tokio::spawn(async move {
            // The chain heads this writer last committed, so that the next
            // batch need not read them.
            let mut heads = Heads::new();
            let mut target = 1;
            loop {
                committer.opened.notified().await;
                committer.filled(target).await;
                // The lock is fair: every caller already queued for it joins
                // this batch before the committer takes it.
                let mut open = committer.open.lock().await;
                target = committer
                    .joined
                    .swap(0, Ordering::AcqRel)
                    .clamp(1, MAX_TARGET);
                let Some(batch) = open.take() else {
                    continue;
                };
                // A batch of records alone takes its turn to write before
                // letting the next batch open: otherwise the next batch's
                // first change could begin a transaction (and, on SQLite,
                // hold the one writer's turn) while this one waits for it.
                let turn = match batch.tx {
                    None => Some(committer.db.writer_turn().await),
                    Some(_) => None,
                };
                drop(open);
                commit(batch, turn, &committer, &mut heads).await;
            }
        });
        (Self { inner }, task)
    }

    /// The open batch, opened if there is none (or if the open one broke).
    async fn join(&self) -> Result<MutexGuard<'_, Option<Batch>>, StoreError> {
        let mut open = self.inner.open.lock().await;
        if let Some(batch) = open.as_mut() {
            // A failed heal breaks the batch; it is then replaced below.
            let _ = batch.heal().await;
        }
        if open.as_ref().is_some_and(|b| b.broken) {
            open.take()
                .expect("checked")
                .fail("a savepoint could not be ended");
        }
        if open.is_none() {
            *open = Some(Batch::new());
            self.inner.opened.notify_one();
        }
        self.inner.joined.fetch_add(1, Ordering::AcqRel);
        self.inner.arrivals.notify_one();
        Ok(open)
    }

    /// Callers in the open batch, waiting for its commit (sampled for
    /// `/metrics`).
    pub fn queued(&self) -> usize {
        self.inner.joined.load(Ordering::Relaxed)
    }

    /// Records `event` (a read, a refusal: anything that changes nothing)
    /// and returns once it is committed.
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        let mut run = self.run().await?;
        run.record(event);
        run.finish().await
    }

    /// Runs `change` in its own savepoint of the shared transaction. If it
    /// made a change, its event is recorded with it and the call returns
    /// once both are committed; `on_record` runs as the event is queued,
    /// for an edge that must know a record is this write's to make. An
    /// error (or [`Change::Unchanged`]) rolls back only this change.
    pub async fn write<T, E>(
        &self,
        change: impl AsyncFnOnce(&mut Tx) -> Result<Change<T>, E>,
        on_record: impl FnOnce(),
    ) -> Result<T, E>
    where
        E: From<StoreError> + From<AuditError>,
    {
        let mut run = self.run().await?;
        let value = run.write(change, on_record).await?;
        run.finish().await?;
        Ok(value)
    }

    /// Holds the open batch for a run of writes (the operations of one
    /// Bulk request): each gets its own savepoint, as with [`Self::write`],
    /// and the whole run commits together, after [`Run::finish`]. Nobody
    /// else joins the batch while the run holds it, so keep runs bounded.
    pub async fn run(&self) -> Result<Run<'_>, StoreError> {
        Ok(Run {
            open: self.join().await?,
            db: &self.inner.db,
            queued: false,
        })
    }
}

/// The open batch, held by one caller (see [`AuditWriter::run`]).
pub struct Run<'a> {
    open: MutexGuard<'a, Option<Batch>>,
    db: &'a Db,
    /// Whether the run queued a record (its own or a change's), and so must
    /// wait for the commit.
    queued: bool,
}

impl Run<'_> {
    fn batch(&mut self) -> &mut Batch {
        self.open.as_mut().expect("a run holds an open batch")
    }

    /// Queues a record of something that changed nothing.
    pub fn record(&mut self, event: AuditEvent) {
        self.batch().events.push(event);
        self.queued = true;
    }

    /// Runs `change` in its own savepoint; see [`AuditWriter::write`]. The
    /// change is durable only once [`Self::finish`] returns.
    pub async fn write<T, E>(
        &mut self,
        change: impl AsyncFnOnce(&mut Tx) -> Result<Change<T>, E>,
        on_record: impl FnOnce(),
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let db = self.db;
        let batch = self.batch();
        match batch.tx {
            // The batch's first change: its savepoint goes with the BEGIN.
            None => batch.tx = Some(db.begin_with(&[SAVEPOINT]).await?),
            Some(_) => batch.savepoint().await?,
        }
        // Until the savepoint is settled: if this call is dropped (its
        // request cancelled) in between, the next user of the batch rolls
        // the savepoint back before anything else.
        batch.dangling = true;
        let tx = batch.tx.as_mut().expect("begun above");
        // What an earlier change of the batch noted on the transaction is
        // not this change's (and that change may have been rolled back).
        tx.start_change();
        let outcome = change(tx).await;
        let keep = matches!(outcome, Ok(Change::Made(..)));
        let settled = batch.settle(keep).await;
        batch.dangling = false;
        settled?;
        match outcome {
            Ok(Change::Made(value, event)) => {
                on_record();
                self.record(event);
                Ok(value)
            }
            Ok(Change::Unchanged(value)) => Ok(value),
            Err(e) => Err(e),
        }
    }

    /// Lets the batch go and, if the run queued any record, waits until
    /// the batch is committed.
    pub async fn finish(mut self) -> Result<(), AuditError> {
        if !self.queued {
            return Ok(());
        }
        let done = self.batch().done.subscribe();
        drop(self);
        committed(done).await
    }
}

/// Waits for the batch behind `done` to end.
async fn committed(mut done: watch::Receiver<Outcome>) -> Result<(), AuditError> {
    let outcome = done
        .wait_for(Option::is_some)
        .await
        .map_err(|_| AuditError::Unavailable("the audit writer has stopped".into()))?
        .clone();
    outcome
        .expect("waited for an outcome")
        .map_err(AuditError::Unavailable)
}

/// Appends the batch's records and commits, then tells everyone in it.
async fn commit(mut batch: Batch, turn: Option<WriterTurn>, inner: &Inner, heads: &mut Heads) {
    if let Err(e) = batch.heal().await {
        return batch.fail(&e.to_string());
    }
    if batch.broken {
        return batch.fail("a savepoint could not be ended");
    }
    let Batch {
        tx, events, done, ..
    } = batch;
    let records = events.len();
    let started = std::time::Instant::now();
    let outcome = async {
        if let Some(mut tx) = tx {
            let stored = append_remembering(&mut tx, heads, events).await?;
            let touched = tx.commit().await?;
            remember(heads, &stored);
            (inner.on_commit)(&touched);
        } else if let Some(turn) = turn.filter(|_| !events.is_empty()) {
            let lazily = !inner.flush_records;
            let Some(turn) = append_alone(&inner.db, turn, heads, &events, lazily).await? else {
                return Ok(());
            };
            let mut tx = inner.db.begin_in(turn).await?;
            if !inner.flush_records {
                // The records of reads and refusals: no change waits on
                // them, and a signed checkpoint's commit, like any change's,
                // flushes them first (see `Tx::flush_lazily`).
                tx.flush_lazily().await?;
            }
            let stored = append_remembering(&mut tx, heads, events).await?;
            tx.commit().await?;
            remember(heads, &stored);
        }
        Ok::<_, AuditError>(())
    }
    .await
    .map_err(|e| e.to_string());
    if let Err(e) = &outcome {
        tracing::error!(error = %e, records, "group commit failed");
    }
    let took = started.elapsed();
    tracing::debug!(records, micros = took.as_micros() as u64, "group commit");
    // For `/metrics`: once per batch, never per record.
    metrics::histogram!("scimitar_audit_batch_records").record(records as f64);
    metrics::histogram!("scimitar_audit_batch_commit_seconds").record(took.as_secs_f64());
    done.send_replace(Some(outcome));
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::audit::{Actor, RequestContext};
    use crate::store::Db;
    use crate::{on_db, on_tx};

    async fn sqlite() -> Db {
        crate::store::testing::migrated_sqlite().await
    }

    fn event(action: &str) -> AuditEvent {
        let actor = Actor {
            kind: "operator".into(),
            id: None,
            display: None,
        };
        AuditEvent::new(None, actor, action, &RequestContext::default())
    }

    /// Reads' records and changes interleave, so that a batch of records
    /// alone commits while the next batch's change wants to begin: neither
    /// may wait for the other, and every record lands in one chain.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_and_changes_interleaved_all_commit() {
        let db = sqlite().await;
        let (writer, _) = AuditWriter::spawn(db.clone(), Durability::Normal, Box::new(|_| ()));
        let mut tasks = Vec::new();
        for i in 0..40 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                for j in 0..10 {
                    if (i + j) % 2 == 0 {
                        writer.record(event("read")).await.unwrap();
                    } else {
                        writer
                            .write(
                                async |tx: &mut Tx| -> Result<Change<()>, AuditError> {
                                    on_tx!(tx, conn => sqlx::query("SELECT 1").execute(&mut *conn).await.map(|_| ()))?;
                                    Ok(Change::Made((), event("change")))
                                },
                                || (),
                            )
                            .await
                            .unwrap();
                    }
                }
            }));
        }
        let all = async {
            for t in tasks {
                t.await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(30), all)
            .await
            .expect("every caller is answered");
        let report = crate::audit::verify_chain(&db, crate::audit::UNATTRIBUTED_CHAIN)
            .await
            .unwrap();
        assert!(report.ok, "{report:?}");
        assert_eq!(report.records, 400);
    }

    /// A read's record written while another connection (another
    /// instance, the CLI) holds the write lock waits for it without
    /// stalling its thread: on a one-thread runtime, the holder below
    /// still gets to finish, and the record commits after it.
    #[tokio::test]
    async fn a_record_waits_for_another_connections_lock_off_its_thread() {
        let (db, path) = crate::store::testing::migrated_sqlite_file().await;
        let (writer, _) = AuditWriter::spawn(db.clone(), Durability::Normal, Box::new(|_| ()));
        // The first record makes the chain's head known, so that the next
        // is appended in place.
        writer.record(event("read")).await.unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let holder = async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            other.execute_batch("COMMIT").unwrap();
        };
        let started = std::time::Instant::now();
        let (recorded, ()) = tokio::join!(writer.record(event("read")), holder);
        recorded.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let report = crate::audit::verify_chain(&db, crate::audit::UNATTRIBUTED_CHAIN)
            .await
            .unwrap();
        assert_eq!(report.records, 2);
    }

    /// In one batch, a failed change between two kept ones rolls back
    /// only itself: a kept change's savepoint is released only when the
    /// next one opens, so the rollback must reach exactly the newest.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_change_between_kept_ones_in_one_batch_rolls_back_alone() {
        for db in crate::store::testing::each_backend().await {
            let (writer, _) = AuditWriter::spawn(db.clone(), Durability::Normal, Box::new(|_| ()));
            let mut run = writer.run().await.unwrap();
            for (key, fails) in [("kept-1", false), ("refused", true), ("kept-2", false)] {
                let outcome = run
                    .write(
                        async |tx: &mut Tx| -> Result<Change<()>, AuditError> {
                            on_tx!(tx, conn => sqlx::query(
                                "INSERT INTO server_settings (key, value) VALUES ($1, 'x')",
                            )
                            .bind(key)
                            .execute(&mut *conn)
                            .await
                            .map(|_| ()))?;
                            if fails {
                                return Err(AuditError::Invalid("refused".into()));
                            }
                            Ok(Change::Made((), event(key)))
                        },
                        || (),
                    )
                    .await;
                assert_eq!(outcome.is_err(), fails, "{key} on {}", db.backend_name());
            }
            run.finish().await.unwrap();
            let kept: Vec<String> = on_db!(&db, pool => sqlx::query_scalar(
                "SELECT key FROM server_settings WHERE key IN ('kept-1', 'refused', 'kept-2') ORDER BY key"
            ).fetch_all(pool).await)
            .unwrap();
            assert_eq!(kept, ["kept-1", "kept-2"], "on {}", db.backend_name());
            let report = crate::audit::verify_chain(&db, crate::audit::UNATTRIBUTED_CHAIN)
                .await
                .unwrap();
            assert!(report.ok, "{report:?}");
            assert_eq!(report.records, 2, "on {}", db.backend_name());
        }
    }

    /// Two writers on one database (two instances) append to one chain in
    /// turn: each one's remembered head is stale after the other wrote, so
    /// its guarded append writes nothing and it appends after the head it
    /// reads instead. Every change and record lands, in one unbroken chain.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_of_two_instances_append_to_one_chain_in_turn() {
        for db in crate::store::testing::each_backend().await {
            let writers = [
                AuditWriter::spawn(db.clone(), Durability::Normal, Box::new(|_| ())).0,
                AuditWriter::spawn(db.clone(), Durability::Normal, Box::new(|_| ())).0,
            ];
            for i in 0..6 {
                let writer = &writers[i % 2];
                let key = format!("turn-{i}");
                writer
                    .write(
                        async |tx: &mut Tx| -> Result<Change<()>, AuditError> {
                            on_tx!(tx, conn => sqlx::query(
                                "INSERT INTO server_settings (key, value) VALUES ($1, 'x')",
                            )
                            .bind(&key)
                            .execute(&mut *conn)
                            .await
                            .map(|_| ()))?;
                            Ok(Change::Made((), event("change")))
                        },
                        || (),
                    )
                    .await
                    .unwrap();
                writer.record(event("read")).await.unwrap();
            }
            let kept: i64 = on_db!(&db, pool => sqlx::query_scalar(
                "SELECT COUNT(*) FROM server_settings WHERE key LIKE 'turn-%'"
            ).fetch_one(pool).await)
            .unwrap();
            assert_eq!(kept, 6, "on {}", db.backend_name());
            let report = crate::audit::verify_chain(&db, crate::audit::UNATTRIBUTED_CHAIN)
                .await
                .unwrap();
            assert!(report.ok, "{report:?}");
            assert_eq!(report.records, 12, "on {}", db.backend_name());
        }
    }

    /// A change that fails rolls back only itself; the others in its batch
    /// commit with their records.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_change_rolls_back_only_itself() {
        let db = sqlite().await;
        let (writer, _) = AuditWriter::spawn(db.clone(), Durability::Normal, Box::new(|_| ()));
        let mut tasks = Vec::new();
        for i in 0..20i64 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                writer
                    .write(
                        async |tx: &mut Tx| -> Result<Change<()>, AuditError> {
                            on_tx!(tx, conn => sqlx::query(
                                "INSERT INTO server_settings (key, value) VALUES ($1, 'x')",
                            )
                            .bind(format!("probe-{i}"))
                            .execute(&mut *conn)
                            .await
                            .map(|_| ()))?;
                            if i % 3 == 0 {
                                return Err(AuditError::Invalid("refused".into()));
                            }
                            Ok(Change::Made((), event("change")))
                        },
                        || (),
                    )
                    .await
                    .is_ok()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += i64::from(t.await.unwrap());
        }
        assert_eq!(ok, 13);
        let kept: i64 = on_db!(&db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM server_settings WHERE key LIKE 'probe-%'"
        ).fetch_one(pool).await)
        .unwrap();
        assert_eq!(kept, 13, "the refused changes left nothing");
        let report = crate::audit::verify_chain(&db, crate::audit::UNATTRIBUTED_CHAIN)
            .await
            .unwrap();
        assert_eq!(report.records, 13);
    }
}
