//! Prometheus metrics (`--metrics`): the recorder, installed once per
//! process and only when metrics are on; the description of every series
//! (the list an operator reads in `docs/operations.md`); the middleware that
//! counts each request under its route template; the values sampled when
//! `/metrics` is scraped (database pools, the audit writer's queue, the age
//! of the newest checkpoint); and the `/metrics` handler.
//!
//! The core records through the `metrics` facade (`tokens::verify`, the
//! group-commit writer) and the abuse limits here; with no recorder
//! installed those calls go to the facade's no-op recorder, so metrics that
//! are off cost next to nothing and this middleware is not in the stack.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::task::JoinHandle;

use super::AppState;
use crate::on_db;
use crate::store::Timestamp;

pub const REQUESTS: &str = "scimitar_http_requests_total";
pub const REQUEST_DURATION: &str = "scimitar_http_request_duration_seconds";
pub const TOKEN_VERIFICATIONS: &str = "scimitar_token_verifications_total";
pub const LIMIT_REFUSALS: &str = "scimitar_abuse_limit_refusals_total";
pub const AUDIT_QUEUE_DEPTH: &str = "scimitar_audit_queue_depth";
pub const AUDIT_BATCH_RECORDS: &str = "scimitar_audit_batch_records";
pub const AUDIT_BATCH_SECONDS: &str = "scimitar_audit_batch_commit_seconds";
pub const DB_POOL_CONNECTIONS: &str = "scimitar_db_pool_connections";
pub const DB_POOL_IDLE: &str = "scimitar_db_pool_idle_connections";
pub const CHECKPOINT_AGE: &str = "scimitar_audit_checkpoint_age_seconds";
pub const STREAM_LAG: &str = "scimitar_audit_stream_lag_records";
pub const INDEX_LAG: &str = "scimitar_audit_index_lag_records";

/// Latency buckets, in seconds: a token check from memory is well under a
/// millisecond, a Bulk request may take seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Records per group commit: 1 when idle, up to the thousands of a Bulk.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 256.0, 1024.0, 4096.0];

/// How often histograms are folded in between scrapes, so that their
/// samples do not pile up when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The recorder, installed on first use. One per process: every server of
/// the process (tests start several) records into it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(AUDIT_BATCH_SECONDS.into()),
                        LATENCY_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(AUDIT_BATCH_RECORDS.into()),
                        BATCH_BUCKETS,
                    )
                })
                .expect("bucket lists are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            describe();
            handle
        })
        .clone()
}

/// Folds histogram samples in now and then, for as long as the server runs.
pub fn spawn_upkeep(handle: PrometheusHandle) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    })
}

fn describe() {
    describe_counter!(
        REQUESTS,
        "HTTP requests answered, by route template, method and status"
    );
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by route template and method"
    );
    describe_counter!(
        TOKEN_VERIFICATIONS,
        "SAT and PAT checks, by outcome: ok or the refusal's reason code"
    );
    describe_counter!(
        LIMIT_REFUSALS,
        "Requests refused by an abuse limit, by reason and the limit that refused"
    );
    describe_gauge!(
        AUDIT_QUEUE_DEPTH,
        "Writes and records in the group-commit writer's open batch, waiting for its next commit"
    );
    describe_histogram!(
        AUDIT_BATCH_RECORDS,
        "Audit records committed per group commit"
    );
    describe_histogram!(
        AUDIT_BATCH_SECONDS,
        Unit::Seconds,
        "Time to append a group commit's records and commit"
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Open database connections, idle or in use, by pool"
    );
    describe_gauge!(DB_POOL_IDLE, "Idle database connections, by pool");
    describe_gauge!(
        CHECKPOINT_AGE,
        Unit::Seconds,
        "Seconds since the newest signed audit checkpoint of any chain"
    );
    describe_gauge!(
        STREAM_LAG,
        "Records of its organization's chain an audit stream has not yet delivered (or filtered out)"
    );
    describe_gauge!(
        INDEX_LAG,
        "Audit records the Audit Log API's filter index does not hold yet"
    );
}

/// Labels come from fixed sets only: the route template as registered
/// (never the request's path, which holds ids), a known method, the status.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(req.method());
    let started = Instant::now();
    let resp = next.run(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16().to_string();
    counter!(REQUESTS, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!(REQUEST_DURATION, "route" => route, "method" => method).record(elapsed);
    resp
}

/// Any other method is one label, so that made-up methods cannot grow the
/// series without bound.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// `GET /metrics`: the text format, after sampling what is read at scrape
/// time.
pub async fn scrape(State(state): State<AppState>) -> Response {
    let handle = install();
    sample(&state).await;
    handle.run_upkeep();
    let mut resp = handle.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

async fn sample(state: &AppState) {
    for pool in state.db.pool_use() {
        gauge!(DB_POOL_CONNECTIONS, "pool" => pool.name).set(pool.size);
        gauge!(DB_POOL_IDLE, "pool" => pool.name).set(pool.idle);
    }
    gauge!(AUDIT_QUEUE_DEPTH).set(state.audit.queued() as f64);
    // Read from the table rather than kept by the checkpointer, so that
    // another instance's checkpoints count and a restart starts right.
    let newest: Result<Option<Timestamp>, sqlx::Error> = on_db!(&state.db, pool => {
        sqlx::query_scalar("SELECT MAX(created_at) FROM audit_checkpoints")
            .fetch_one(pool)
            .await
    });
    match newest {
        Ok(Some(at)) => {
            let age = (Timestamp::now().inner() - at.inner()).as_seconds_f64();
            gauge!(CHECKPOINT_AGE).set(age.max(0.0));
        }
        // No checkpoint yet: the series is left out rather than made up.
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "metrics: reading the newest checkpoint failed"),
    }
    match crate::audit::stream::store::lags(&state.db).await {
        Ok(lags) => {
            for (id, lag) in lags {
                gauge!(STREAM_LAG, "stream" => id.to_string()).set(lag as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading the audit streams' lag failed"),
    }
    match crate::audit::filter_index::lag(&state.db).await {
        Ok(lag) => gauge!(INDEX_LAG).set(lag as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: reading the audit index's lag failed"),
    }
}
