//! Turning a [`LimitRefusal`] into an answer: the audit record (when this key's
//! refusals are due one, see [`super::bucket::RECORD_EVERY`]) and the 429.

use serde_json::json;

use super::LimitRefusal;
use crate::audit::{Actor, AuditEvent, RequestContext, Target};
use crate::http::ApiError;
use crate::http::AppState;

/// Records the refusal if it is due a record (through the group-commit
/// writer, like the request trail: a flood of refusals costs at most one
/// record per key per minute) and returns the 429 to answer with. If the
/// record cannot be written the answer is a 503, as for any request whose
/// record is lost.
pub async fn refuse(
    state: &AppState,
    refusal: LimitRefusal,
    org_id: Option<uuid::Uuid>,
    actor: Actor,
    ctx: &RequestContext,
    endpoint: &str,
) -> ApiError {
    let detail = refusal.detail();
    metrics::counter!(
        crate::http::metrics::LIMIT_REFUSALS,
        "reason" => refusal.reason_code(),
        "limit" => refusal.scope_name()
    )
    .increment(1);
    if let Some(unrecorded) = refusal.record {
        let event = AuditEvent::new(org_id.or(refusal.org_id), actor, "auth.denied", ctx)
            .target(Target::new("endpoint", endpoint, None))
            .failure(detail.clone())
            .status(429)
            .changes(json!({
                "reason_code": refusal.reason_code(),
                "limit": refusal.scope_name(),
                "retry_after_seconds": refusal.retry_after_seconds,
                "unrecorded_refusals": unrecorded,
            }));
        if let Err(e) = state.audit.record(event).await {
            return ApiError::Unavailable(format!("audit record not written: {e}"));
        }
    }
    ApiError::TooManyRequests {
        detail,
        retry_after_seconds: refusal.retry_after_seconds,
    }
}
