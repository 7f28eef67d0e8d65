//! The Audit Log API under `/api/v1/audit-logs`: filtered queries with
//! stable cursors, record lookup, streaming export (NDJSON or CSV) and chain
//! verification, for organization SATs with `audit_logs:read` and for org
//! admins.

mod export;
mod handlers;
mod query;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

pub use query::{AuditQuery, QueryError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit-logs", get(handlers::list))
        .route("/audit-logs/export", get(export::export))
        .route("/audit-logs/verify", get(handlers::verify))
        .route("/audit-logs/{id}", get(handlers::get))
}
