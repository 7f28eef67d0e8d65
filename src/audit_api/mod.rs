//! The Audit Log API under `/api/v1/audit-logs`: filtered queries with
//! stable cursors, record lookup, streaming export (NDJSON or CSV), chain
//! verification, signed checkpoints and the keys that verify them, for
//! organization SATs with `audit_logs:read` and for org admins; the event
//! intake for workspace services (`audit_logs:write`, `intake`); and the
//! audit streams to a SIEM under `/api/v1/audit-streams`, for org admins. Only the
//! HTTP side lives here (parse, authorize, call `crate::audit`, render); the
//! queries, encodings and verification are the audit module's.

mod checkpoints;
mod doc;
mod export;
mod handlers;
mod intake;
mod streams;

use crate::http::AppState;
use crate::http::route::{Routes, get, post};
use crate::use_cases::audit_intake;

pub use doc::AuditApi;

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
        .route(
            "/audit-logs/events",
            post(audit_intake::INGEST_ACTION, intake::ingest).layer(
                axum::extract::DefaultBodyLimit::max(intake::MAX_INTAKE_BODY),
            ),
        )
        .route("/audit-logs/{id}", get("audit_logs.read", handlers::get))
        .merge(streams::routes())
}
