//! Delivery: a background task per instance that, for each enabled stream
//! whose lease it holds, reads committed records after the stream's cursor,
//! POSTs them in signed batches in chain order, and moves the cursor only
//! after the receiver answered 2xx (at least once: a batch whose answer is
//! lost is sent again). Failures (no connection, 5xx, 429, any non-2xx)
//! are retried with exponential backoff and jitter, at most
//! [`MAX_BACKOFF`] apart, so delivery resumes within that of the receiver's
//! return. The lease (a row column with an expiry, renewed while held)
//! lets one instance at a time deliver a stream; the cursor only moves
//! under the lease, from the value read, so two instances never both
//! advance it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Request, header};
use http_body_util::{BodyExt, Full};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::store::{self, Lease, StreamRow};
use super::{StreamSettings, address, signature};
use crate::store::{Db, Timestamp};

/// Records read (and at most sent) per batch.
const BATCH: i64 = 100;
/// How often an idle stream looks for new records.
const POLL: Duration = Duration::from_millis(500);
/// How often the task looks for streams created or enabled elsewhere.
const SCAN: Duration = Duration::from_secs(1);
/// How long a lease lasts unless renewed; renewed once a third is left.
const LEASE: Duration = Duration::from_secs(15);
const RENEW_BEFORE: Duration = Duration::from_secs(10);
/// Backoff after a failure: doubling from the first, at most the last.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
pub const MAX_BACKOFF: Duration = Duration::from_secs(20);
/// The longest the stored error text may be.
const MAX_ERROR: usize = 300;

/// The running delivery task; [`Deliverer::stop`] ends it and gives up its
/// leases, so that another instance (or this one restarted) resumes at once.
pub struct Deliverer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Deliverer {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// Starts delivering every enabled stream whose lease this instance gets.
pub fn spawn(db: Db, settings: Arc<StreamSettings>) -> Deliverer {
    let (stop, stopped) = watch::channel(false);
    let instance = Uuid::new_v4().to_string();
    let task = tokio::spawn(async move {
        let mut workers: HashMap<Uuid, JoinHandle<()>> = HashMap::new();
        let mut stopped_rx = stopped.clone();
        loop {
            workers.retain(|_, h| !h.is_finished());
            match store::enabled_ids(&db).await {
                Ok(ids) => {
                    for id in ids {
                        workers.entry(id).or_insert_with(|| {
                            let worker = Worker {
                                db: db.clone(),
                                settings: settings.clone(),
                                id,
                                owner: instance.clone(),
                                stopped: stopped.clone(),
                                lease_until: None,
                            };
                            tokio::spawn(worker.run())
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "listing audit streams failed; will retry"),
            }
            if wait_or_stop(&mut stopped_rx, SCAN).await {
                break;
            }
        }
        for (_, h) in workers {
            let _ = h.await;
        }
    });
    Deliverer { stop, task }
}

/// Sleeps for `d`; true if told to stop meanwhile (or before).
async fn wait_or_stop(stopped: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stopped.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stopped.borrow(),
        r = stopped.changed() => r.is_err() || *stopped.borrow(),
    }
}

struct Worker {
    db: Db,
    settings: Arc<StreamSettings>,
    id: Uuid,
    owner: String,
    stopped: watch::Receiver<bool>,
    /// When the lease this worker last took runs out.
    lease_until: Option<std::time::Instant>,
}

/// Why one round of delivery did not move the cursor.
enum Round {
    /// Sent or skipped some records: go on at once.
    Moved,
    /// Nothing new.
    Idle,
    /// The lease is lost or the stream gone: look again later.
    NotOurs,
    Gone,
    Failed(String),
}

impl Worker {
    async fn run(mut self) {
        let mut failures: u32 = 0;
        loop {
            if *self.stopped.borrow() {
                break;
            }
            match self.hold_lease().await {
                Ok(Lease::Held) => {}
                Ok(Lease::Elsewhere) => {
                    if self.wait(LEASE / 3).await {
                        break;
                    }
                    continue;
                }
                Ok(Lease::Gone) => break,
                Err(e) => {
                    tracing::warn!(stream = %self.id, error = %e, "audit stream lease failed");
                    if self.wait(SCAN).await {
                        break;
                    }
                    continue;
                }
            }
            let round = self.round().await;
            let pause = match round {
                Round::Moved => {
                    failures = 0;
                    continue;
                }
                Round::Idle => {
                    failures = 0;
                    POLL
                }
                Round::NotOurs => {
                    self.lease_until = None;
                    LEASE / 3
                }
                Round::Gone => break,
                Round::Failed(error) => {
                    tracing::warn!(stream = %self.id, error = %error, "audit stream delivery failed; will retry");
                    if let Err(e) =
                        store::failed(&self.db, self.id, &self.owner, &error, Timestamp::now())
                            .await
                    {
                        tracing::warn!(stream = %self.id, error = %e, "recording a delivery failure failed");
                    }
                    failures = failures.saturating_add(1);
                    backoff(failures)
                }
            };
            if self.wait(pause).await {
                break;
            }
        }
        if self.lease_until.is_some()
            && let Err(e) = store::release(&self.db, self.id, &self.owner).await
        {
            tracing::warn!(stream = %self.id, error = %e, "releasing an audit stream lease failed");
        }
    }

    /// Takes the lease, or renews it once less than [`RENEW_BEFORE`] is left.
    async fn hold_lease(&mut self) -> Result<Lease, super::StreamError> {
        let now = std::time::Instant::now();
        if let Some(until) = self.lease_until
            && until.saturating_duration_since(now) > RENEW_BEFORE
        {
            return Ok(Lease::Held);
        }
        let at = Timestamp::now();
        let expires = at + time::Duration::try_from(LEASE).expect("short");
        let lease = store::acquire(&self.db, self.id, &self.owner, at, expires).await?;
        self.lease_until = (lease == Lease::Held).then(|| now + LEASE);
        Ok(lease)
    }

    /// Waits, renewing the lease along the way; true when told to stop.
    async fn wait(&mut self, total: Duration) -> bool {
        let mut left = total;
        while !left.is_zero() {
            let step = left.min(Duration::from_secs(4));
            if wait_or_stop(&mut self.stopped, step).await {
                return true;
            }
            left -= step;
            if self.lease_until.is_some() && !left.is_zero() {
                let _ = self.hold_lease().await;
            }
        }
        false
    }

    /// One batch: read, filter, send, move the cursor.
    async fn round(&mut self) -> Round {
        let row = match store::row(&self.db, self.id).await {
            Ok(Some(r)) if r.enabled => r,
            Ok(_) => return Round::Gone,
            Err(e) => return Round::Failed(format!("reading the stream failed: {e}")),
        };
        let records = match store::records_after(&self.db, row.org_id, row.cursor_seq, BATCH).await
        {
            Ok(r) => r,
            Err(e) => return Round::Failed(format!("reading audit records failed: {e}")),
        };
        let Some(last) = records.last().map(|r| r.seq) else {
            return Round::Idle;
        };
        let filter = row.filter();
        let format = row.format();
        let chosen: Vec<_> = records.iter().filter(|r| filter.matches(r)).collect();
        let delivered = match (chosen.first(), chosen.last()) {
            (Some(first), Some(end)) => {
                let body: String = chosen.iter().map(|r| format.line(r)).collect();
                let range = Some((first.seq, end.seq, chosen.len()));
                if let Err(e) = post(&self.settings, &row, body, range).await {
                    return Round::Failed(e);
                }
                Some(end.seq)
            }
            _ => None,
        };
        match store::advance(
            &self.db,
            self.id,
            &self.owner,
            row.cursor_seq,
            last,
            delivered,
            Timestamp::now(),
        )
        .await
        {
            Ok(true) => Round::Moved,
            Ok(false) => Round::NotOurs,
            Err(e) => Round::Failed(format!("saving the cursor failed: {e}")),
        }
    }
}

/// The pause after the `n`th failure in a row: doubling from
/// [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`], with "equal jitter" (half
/// fixed, half random) so that many streams do not retry in step.
fn backoff(n: u32) -> Duration {
    let full = FIRST_BACKOFF
        .saturating_mul(1u32 << n.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let half = full / 2;
    let jitter = rand::random_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter)
}

/// POSTs `body` to the stream's URL, signed. `range`: the first and last
/// seq and the count of the records in it (none for a test). Errors are
/// short texts without the secret or the URL's query.
async fn post(
    settings: &StreamSettings,
    row: &StreamRow,
    body: String,
    range: Option<(i64, i64, usize)>,
) -> Result<u16, String> {
    let url = url::Url::parse(&row.url).map_err(|_| "the stream URL is invalid".to_string())?;
    // Address literals are not resolved, so the resolver cannot check them.
    if !settings.allow_private {
        address::check_host(&url).map_err(|e| e.to_string())?;
    }
    let secret = settings
        .open(
            row.id,
            &row.secret_kek_id,
            &row.secret_nonce,
            &row.secret_enc,
        )
        .map_err(|e| e.to_string())?;
    let timestamp = Timestamp::now().unix_seconds();
    let sig = signature::sign(&secret, timestamp, body.as_bytes());
    let mut req = Request::post(url.as_str())
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .header(
            header::USER_AGENT,
            concat!("scimitar-audit-stream/", env!("CARGO_PKG_VERSION")),
        )
        .header(signature::TIMESTAMP, timestamp.to_string())
        .header(signature::SIGNATURE, sig)
        .header(signature::STREAM_ID, row.id.to_string())
        .header(signature::CHAIN, crate::audit::org_chain(row.org_id));
    req = match range {
        Some((first, last, n)) => req
            .header(signature::SEQ_FIRST, first.to_string())
            .header(signature::SEQ_LAST, last.to_string())
            .header(signature::RECORDS, n.to_string()),
        None => req.header(signature::EVENT, "test"),
    };
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| "the stream URL is invalid".to_string())?;
    let client = settings.client()?;
    let resp = match tokio::time::timeout(super::REQUEST_TIMEOUT, client.request(req)).await {
        Err(_) => return Err("the receiver did not answer in time".into()),
        Ok(Err(e)) => return Err(describe(&e)),
        Ok(Ok(resp)) => resp,
    };
    let status = resp.status();
    // Read (a bounded part of) the answer, so that the connection can be
    // kept for the next batch.
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        http_body_util::Limited::new(resp.into_body(), 64 * 1024).collect(),
    )
    .await;
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(format!("the receiver answered {status}"))
    }
}

/// A transport error as a short text: what failed and its innermost cause
/// (refused, resolves to a private address, a certificate problem), never
/// the URL.
fn describe(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error;
    let head = if e.is_connect() {
        "cannot connect to the receiver"
    } else {
        "sending to the receiver failed"
    };
    let mut deepest = None;
    let mut cause = e.source();
    while let Some(c) = cause {
        deepest = Some(c.to_string());
        cause = c.source();
    }
    let text = match deepest {
        Some(c) => format!("{head}: {c}"),
        None => head.to_string(),
    };
    text.chars().take(MAX_ERROR).collect()
}

/// What a test delivery got.
#[derive(Debug, Serialize)]
pub struct TestOutcome {
    pub delivered: bool,
    /// The receiver's status, when it answered 2xx.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// Sends one signed test line (no record) to the stream `row`, at once.
pub(crate) async fn test_row(settings: &StreamSettings, row: &StreamRow) -> TestOutcome {
    let line = serde_json::json!({
        "type": "scimitar.audit_stream.test",
        "stream_id": row.id.to_string(),
        "sent_at": Timestamp::now().to_canonical(),
    })
    .to_string()
        + "\n";
    match post(settings, row, line, None).await {
        Ok(status) => TestOutcome {
            delivered: true,
            status: Some(status),
            error: None,
        },
        Err(e) => TestOutcome {
            delivered: false,
            status: None,
            error: Some(e),
        },
    }
}

/// [`test_row`] for stream `id` of organization `org_id`.
pub async fn send_test(
    db: &Db,
    settings: &StreamSettings,
    org_id: Uuid,
    id: Uuid,
) -> Result<TestOutcome, super::StreamError> {
    match store::row(db, id).await? {
        Some(row) if row.org_id == org_id => Ok(test_row(settings, &row).await),
        _ => Err(super::StreamError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for n in 1..40 {
            let d = backoff(n);
            assert!(d <= MAX_BACKOFF, "{n}: {d:?}");
            let full = FIRST_BACKOFF
                .saturating_mul(1u32 << (n - 1).min(16))
                .min(MAX_BACKOFF);
            assert!(d >= full / 2, "{n}: {d:?}");
        }
        assert!(backoff(1) <= FIRST_BACKOFF);
        // Resumes within 30 s of the receiver's return: one pause plus one
        // request.
        assert!(MAX_BACKOFF + super::super::REQUEST_TIMEOUT <= Duration::from_secs(30));
    }
}
