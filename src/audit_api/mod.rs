//! The Audit Log API under `/api/v1/audit-logs`: filtered queries with
//! stable cursors, record lookup, streaming export (NDJSON or CSV) and chain
//! verification, for organization SATs with `audit_logs:read` and for org
//! admins.

pub mod checkpoints;
mod export;
mod handlers;
pub mod offline;
mod query;

use axum::Router;
use axum::routing::get;

use crate::http::AppState;

pub use checkpoints::{CheckpointPolicy, spawn_checkpointer};
pub use export::{CSV_COLUMNS, Format, csv_row, export, ndjson_line, stream_records};
pub use handlers::{VerifyQuery, chain_of, verify};
pub use query::{AuditQuery, QueryError, RawQuery, find};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit-logs", get(handlers::list))
        .route("/audit-logs/export", get(export::export))
        .route("/audit-logs/verify", get(handlers::verify))
        .route("/audit-logs/checkpoints", get(checkpoints::checkpoints))
        .route("/audit-logs/jwks", get(handlers::jwks))
        .route("/audit-logs/{id}", get(handlers::get))
}
