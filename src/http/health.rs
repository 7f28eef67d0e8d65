//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the
//! database answers too).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ApiError;
use crate::http::AppState;

/// How long readiness waits for the database. A prober gives up after a few
/// seconds; an unreachable PostgreSQL would otherwise hold the answer for
/// the pool's whole acquire timeout (10 s) while it retries connecting.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(ANSWER_WITHIN, state.db.ping()).await {
        Ok(Ok(())) => Ok(Json(
            json!({ "status": "ready", "database": state.db.backend_name() }),
        )),
        Ok(Err(e)) => Err(ApiError::Unavailable(e.to_string())),
        Err(_) => Err(ApiError::Unavailable(format!(
            "no answer within {ANSWER_WITHIN:?}"
        ))),
    }
}
