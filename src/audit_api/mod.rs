//! The Audit Log API under `/api/v1/audit-logs`: filtered queries with
//! stable cursors, record lookup, streaming export (NDJSON or CSV) and chain
//! verification, for organization SATs with `audit_logs:read` and for org
//! admins.

pub mod checkpoints;
mod export;
mod handlers;
pub mod offline;
mod query;

use crate::app::AppState;
use crate::http::route::{Routes, get};

pub use checkpoints::{CheckpointPolicy, spawn_checkpointer};
pub use export::{CSV_COLUMNS, Format, csv_row, export, ndjson_line, stream_records};
pub use handlers::{VerifyQuery, chain_of, verify};
pub use query::{AuditQuery, QueryError, RawQuery, find};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route("/audit-logs", get("audit_logs.list", handlers::list))
        .route(
            "/audit-logs/export",
            get("audit_logs.export", export::export),
        )
        .route(
            "/audit-logs/verify",
            get("audit_logs.verify", handlers::verify),
        )
        .route(
            "/audit-logs/checkpoints",
            get("audit_logs.checkpoints", checkpoints::checkpoints),
        )
        .route("/audit-logs/jwks", get("audit_logs.jwks", handlers::jwks))
        .route("/audit-logs/{id}", get("audit_logs.read", handlers::get))
}
