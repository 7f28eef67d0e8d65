//! The Audit Log API under `/api/v1/audit-logs`: filtered queries with
//! stable cursors, record lookup, streaming export (NDJSON or CSV), chain
//! verification, signed checkpoints and the keys that verify them, for
//! organization SATs with `audit_logs:read` and for org admins. Only the
//! HTTP side lives here (parse, authorize, call `crate::audit`, render); the
//! queries, encodings and verification are the audit module's.

mod checkpoints;
mod export;
mod handlers;

use axum::Router;
use axum::routing::get;

use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit-logs", get(handlers::list))
        .route("/audit-logs/export", get(export::export))
        .route("/audit-logs/verify", get(handlers::verify))
        .route("/audit-logs/checkpoints", get(checkpoints::checkpoints))
        .route("/audit-logs/jwks", get(handlers::jwks))
        .route("/audit-logs/{id}", get(handlers::get))
}
