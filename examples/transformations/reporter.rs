//! Reporting what the service did to scimitar's audit log: every operation
//! performed with a workspace SAT or an exchanged JWT becomes an event for
//! `POST /api/v1/audit-logs/events`, sent in batches (up to 500, every
//! `interval`) with the service's own organization SAT holding
//! `audit_logs:write`. scimitar verifies each event and records it under
//! the caller's SAT, in its workspace, naming this service.
//!
//! A batch that could not be delivered (network error, 5xx, 429) is sent
//! again, as it was, with growing pauses: each event keeps its id, and
//! scimitar answers a retried id as it did the first time and records it
//! once. An event is given up once it is older than scimitar's lateness
//! window (10 minutes), since scimitar would refuse it then. A batch
//! scimitar refused as a whole (400, 401, 403: this service's own token or
//! request is wrong) is logged and dropped; a refused event is logged with
//! its reason.
//!
//! The subject token's value travels in the event (scimitar must check
//! it) and is held only in memory until the event is delivered.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Most events in one call (scimitar's limit).
pub const MAX_BATCH: usize = 500;
/// scimitar refuses events older than this.
const LATENESS: Duration = Duration::from_secs(10 * 60);
/// Longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where to report, and how.
#[derive(Clone, Debug)]
pub struct ReportConfig {
    /// scimitar's base URL.
    pub scimitar_url: String,
    /// The service's organization SAT holding `audit_logs:write`.
    pub token: String,
    /// How long events gather before a batch is sent.
    pub interval: Duration,
}

/// One operation to report.
pub struct Operation<'a> {
    /// The bearer value the operation was performed with.
    pub subject_token: &'a str,
    /// `transformations.<verb>`.
    pub action: &'a str,
    pub target: Value,
    /// `None` for success, else the reason it failed.
    pub failure: Option<String>,
    pub changes: Option<Value>,
    pub request_id: Option<String>,
    pub user_agent: Option<String>,
}

/// The sending side: cheap to clone, never blocks a request.
#[derive(Clone)]
pub struct Reporter {
    queue: mpsc::UnboundedSender<(Instant, Value)>,
}

impl Reporter {
    /// Starts the sending task.
    pub fn spawn(config: ReportConfig, http: reqwest::Client) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(deliver(config, http, rx));
        Self { queue }
    }

    /// Queues `op` for the next batch.
    pub fn report(&self, op: Operation<'_>) {
        let occurred_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut event = json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "subject_token": op.subject_token,
            "action": op.action,
            "target": op.target,
            "outcome": if op.failure.is_some() { "failure" } else { "success" },
            "occurred_at": occurred_at,
        });
        let fields = [
            ("reason", op.failure.map(Value::from)),
            ("changes", op.changes),
            ("request_id", op.request_id.map(Value::from)),
            ("user_agent", op.user_agent.map(Value::from)),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                event[name] = v;
            }
        }
        let _ = self.queue.send((Instant::now(), event));
    }
}

/// Gathers events for `interval`, sends them, and retries until delivered.
async fn deliver(
    config: ReportConfig,
    http: reqwest::Client,
    mut rx: mpsc::UnboundedReceiver<(Instant, Value)>,
) {
    let url = format!("{}/api/v1/audit-logs/events", config.scimitar_url);
    let mut pending: Vec<(Instant, Value)> = Vec::new();
    let mut backoff = config.interval;
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(e) => pending.push(e),
                None => return,
            }
            tokio::time::sleep(config.interval).await;
        }
        while let Ok(e) = rx.try_recv() {
            pending.push(e);
        }
        pending.retain(|(queued, event)| {
            let fresh = queued.elapsed() < LATENESS;
            if !fresh {
                tracing::warn!(id = %event["id"], "audit event given up: older than the lateness window");
            }
            fresh
        });
        let take = pending.len().min(MAX_BATCH);
        if take == 0 {
            continue;
        }
        let batch: Vec<Value> = pending[..take].iter().map(|(_, e)| e.clone()).collect();
        match send(&http, &url, &config.token, batch).await {
            Sent::Done => {
                pending.drain(..take);
                backoff = config.interval;
            }
            Sent::Dropped => {
                pending.drain(..take);
            }
            Sent::Retry => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

enum Sent {
    Done,
    /// Refused as a whole: retrying would not help.
    Dropped,
    Retry,
}

async fn send(http: &reqwest::Client, url: &str, token: &str, events: Vec<Value>) -> Sent {
    let resp = match http
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "events": events }))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "reporting audit events failed; will retry");
            return Sent::Retry;
        }
    };
    let status = resp.status();
    if status.is_server_error() || status.as_u16() == 429 {
        tracing::warn!(%status, "reporting audit events failed; will retry");
        return Sent::Retry;
    }
    if !status.is_success() {
        tracing::error!(%status, "scimitar refused the audit events; dropped");
        return Sent::Dropped;
    }
    let answers: Value = resp.json().await.unwrap_or_default();
    for a in answers["results"].as_array().into_iter().flatten() {
        if a["status"] != 201 {
            tracing::warn!(id = %a["id"], error = %a["error"], detail = %a["detail"], "audit event refused");
        }
    }
    Sent::Done
}
