//! `POST /api/v1/audit-logs/events`: the audit event intake for workspace
//! services (`use_cases::audit_intake`). A body is one event, answered as
//! itself (201 with its answer, or the refusal in problem form), or
//! `{"events": [...]}`, answered 200 with one answer per event, in order,
//! like SCIM Bulk.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::{ApiError, ApiJson, AppState, Caller, problem_response};
use crate::oauth::EXCHANGED_TOKEN_TTL_SECONDS;
use crate::store::Timestamp;
use crate::use_cases::audit_intake::{self, Answer, LATENESS, MAX_EVENTS};

/// The largest body: 500 events of a few KiB each (the server-wide limit
/// is for one resource at a time).
pub const MAX_INTAKE_BODY: usize = 8 * 1024 * 1024;

#[utoipa::path(
    post,
    path = "/audit-logs/events",
    tag = "Audit logs",
    summary = "Report workspace services' events to the audit log",
    description = "Requires `audit_logs:write` (an organization SAT; no other credential may \
        write audit events). For workspace services, which report \
        what they did with a workspace SAT (or the JWT exchanged for one). Each event is verified \
        (the subject token was good for this organization at `occurred_at`, within the clock \
        skew and lateness window; it holds a permission on the action's resource at the level \
        the verb needs) and recorded in the organization's chain under the subject SAT, in its \
        workspace, with `reported_by` naming the caller. A refused event is recorded as a \
        failure of `audit_logs.ingest` in the caller's name. The same `id` from the same caller \
        is answered as the first time and recorded once; a different body under it is 409. \
        The body is one event (answered as itself) or `{\"events\": [...]}` of up to 500 \
        (answered 200, per event).",
    request_body = super::doc::IntakeBody,
    responses(
        (status = 200, description = "A batch: one answer per event, in order", body = super::doc::IntakeResults),
        (status = 201, description = "One event, recorded (or a retry of one)", body = super::doc::IntakeAnswer),
        (status = 400, description = "A malformed body or event", body = super::doc::IntakeProblem, content_type = "application/problem+json"),
        (status = 409, description = "One event: its id was reported before with a different body", body = super::doc::IntakeProblem, content_type = "application/problem+json"),
        (status = 422, description = "One event, refused after checking: the problem's `error` says why", body = super::doc::IntakeProblem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let (events, batch) = match body.get("events") {
        Some(Value::Array(events)) if body.as_object().is_some_and(|b| b.len() == 1) => {
            (events.clone(), true)
        }
        Some(_) => {
            return Err(ApiError::BadRequest(format!(
                "a batch is `{{\"events\": [...]}}` with 1 to {MAX_EVENTS} events and nothing else"
            )));
        }
        None => (vec![body], false),
    };
    let lifetime = time::Duration::seconds(EXCHANGED_TOKEN_TTL_SECONDS) + LATENESS;
    let jwks = state.signer.token_jwks(Timestamp::now(), lifetime);
    let answers = audit_intake::ingest(&state, &caller.call(), &jwks, &events).await?;
    if batch {
        return Ok(Json(json!({ "results": answers })).into_response());
    }
    let answer = answers.into_iter().next().expect("one answer per event");
    Ok(single(answer))
}

/// One event's answer as the whole response.
fn single(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST);
    if status.is_success() {
        return (status, Json(answer)).into_response();
    }
    let title = match answer.status {
        409 => "Conflict",
        400 => "Invalid event",
        _ => "Event refused",
    };
    let slug = answer.error.clone().unwrap_or_default().replace('_', "-");
    let detail = answer.detail.clone().unwrap_or_default();
    problem_response(
        status,
        &slug,
        title,
        &detail,
        json!({ "id": answer.id, "error": answer.error }),
    )
}
