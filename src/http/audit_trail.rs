//! The audit trail of every authenticated call. Changes are recorded by
//! their use cases (or handlers), in their own transaction, and refused
//! authentications by the authentication extractor; this middleware records
//! everything else a caller did (reads, searches, exports, permission
//! refusals a use case answered, and writes that failed before changing
//! anything) through the group-commit writer, and answers only once that
//! record is durable. It names the call by the action its route was
//! registered with (see [`super::route`]), or `auth.denied` for a refusal.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use serde_json::json;

use super::ApiError;
use crate::audit::{Actor, AuditEvent, RequestContext, Target};
use crate::http::AppState;
use crate::permissions::Denied;
use crate::use_cases::Witness;

/// A refusal's reason code, put on an error response by the edge that
/// refused, so that the trail's record names what was refused rather than
/// only the status.
#[derive(Clone, Copy, Debug)]
pub struct AuditReason(pub &'static str);

/// A permission refusal, put on the response by the edge that answered it
/// (a use case's `Forbidden`): the trail records it as `auth.denied` naming
/// the missing permission, as the authentication extractor records its own.
#[derive(Clone, Debug)]
pub struct AuditDenied(pub String);

/// The action a route was registered with, put on each of its handler's
/// responses by [`super::route`] for the trail to name the call by.
#[derive(Clone, Copy, Debug)]
pub struct AuditAction(pub &'static str);

/// The name of a call no route named. Only a fallback (an unknown path, an
/// unsupported method) answers without a name, and none of them
/// authenticates, so nothing is recorded under it today.
const UNNAMED: &str = "api.request";

/// What the request's handler has told the trail.
#[derive(Debug, Default)]
struct Slot {
    /// The authenticated caller: organization, actor, request context.
    caller: Option<(Option<uuid::Uuid>, Actor, RequestContext)>,
    /// A record was already written for this request (a change or a refusal).
    recorded: bool,
}

/// Shared between the middleware and the extractors of one request.
#[derive(Clone, Debug, Default)]
pub struct AuditSlot(Arc<Mutex<Slot>>);

/// A use case that recorded the call tells the slot, and the trail adds
/// nothing.
impl Witness for AuditSlot {
    fn recorded(&self) {
        self.mark_recorded();
    }
}

impl AuditSlot {
    pub fn set_caller(&self, org: Option<uuid::Uuid>, actor: Actor, ctx: RequestContext) {
        if let Ok(mut s) = self.0.lock() {
            s.caller = Some((org, actor, ctx));
        }
    }

    pub fn mark_recorded(&self) {
        if let Ok(mut s) = self.0.lock() {
            s.recorded = true;
        }
    }

    fn take(&self) -> Option<(Option<uuid::Uuid>, Actor, RequestContext)> {
        let s = self.0.lock().ok()?;
        if s.recorded { None } else { s.caller.clone() }
    }
}

pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map(|u| u.0.path().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let resp = next.run(req).await;
    let Some((org, actor, ctx)) = slot.take() else {
        return resp;
    };
    let status = resp.status();
    let action = match resp.extensions().get::<AuditAction>() {
        Some(&AuditAction(name)) => name,
        None => UNNAMED,
    };
    let endpoint = Target::new("endpoint", format!("{method} {path}"), None);
    let mut event = AuditEvent::new(org, actor.clone(), action, &ctx)
        .target(endpoint.clone())
        .status(status.as_u16());
    if let Some(AuditDenied(missing)) = resp.extensions().get::<AuditDenied>() {
        let denied = Denied {
            missing: missing.clone(),
        };
        event = AuditEvent::new(org, actor, "auth.denied", &ctx)
            .target(endpoint)
            .failure(denied.to_string())
            .status(status.as_u16())
            .changes(json!({ "missing_permission": denied.missing }));
    } else if status.is_client_error() || status.is_server_error() {
        let reason = match resp.extensions().get::<AuditReason>() {
            Some(AuditReason(code)) => code,
            None => status.canonical_reason().unwrap_or("error"),
        };
        event = event.failure(reason.to_string());
    }
    match state.audit.record(event).await {
        Ok(()) => resp,
        Err(e) => {
            // An unrecorded answer must not go out.
            let err = ApiError::Unavailable(format!("audit record not written: {e}"));
            let mut r = err.into_response();
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            r
        }
    }
}
