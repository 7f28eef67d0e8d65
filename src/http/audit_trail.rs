//! The audit trail of every authenticated call. Changes are recorded by
//! their handlers, in their own transaction, and refusals by the
//! authentication extractor; this middleware records everything else a
//! caller did (reads, searches, exports, and writes that failed before
//! changing anything) through the group-commit writer, and answers only once
//! that record is durable.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::audit::{Actor, AuditEvent, RequestContext, Target};
use crate::http::AppState;

/// A refusal's reason code, put on an error response by the edge that
/// refused, so that the trail's record names what was refused rather than
/// only the status.
#[derive(Clone, Copy, Debug)]
pub struct AuditReason(pub &'static str);

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
    let mut event = AuditEvent::new(org, actor, &action_for(&method, &path), &ctx)
        .target(Target::new("endpoint", format!("{method} {path}"), None))
        .status(status.as_u16());
    if status.is_client_error() || status.is_server_error() {
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

/// The action name of a call, from its method and path.
pub fn action_for(method: &Method, path: &str) -> String {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let verb = |list: bool| -> &'static str {
        match *method {
            Method::GET | Method::HEAD if list => "list",
            Method::GET | Method::HEAD => "read",
            Method::POST => "create",
            Method::PUT => "replace",
            Method::PATCH => "update",
            Method::DELETE => "delete",
            _ => "request",
        }
    };
    match segs.as_slice() {
        ["scim", "v2", kind @ ("Users" | "Groups"), rest @ ..] => {
            let noun = if *kind == "Users" { "user" } else { "group" };
            match rest {
                [".search"] => format!("scim.{noun}.search"),
                [] => format!("scim.{noun}.{}", verb(true)),
                [_] if *method == Method::PATCH => format!("scim.{noun}.patch"),
                _ => format!("scim.{noun}.{}", verb(false)),
            }
        }
        ["scim", "v2", ".search"] => "scim.search".into(),
        ["scim", "v2", "Bulk"] => "scim.bulk".into(),
        ["scim", "v2", ..] => "scim.discovery.read".into(),
        ["api", "v1", "audit-logs", "export"] => "audit_logs.export".into(),
        ["api", "v1", "audit-logs", "verify"] => "audit_logs.verify".into(),
        ["api", "v1", "audit-logs", "checkpoints"] => "audit_logs.checkpoints".into(),
        ["api", "v1", "audit-logs", "jwks"] => "audit_logs.jwks".into(),
        ["api", "v1", "audit-logs", rest @ ..] => format!("audit_logs.{}", verb(rest.is_empty())),
        ["api", "v1", "service-access-tokens", rest @ ..] => match rest {
            [_, "rotate"] => "sat.rotate".into(),
            [] => format!("sat.{}", verb(true)),
            _ => format!("sat.{}", verb(false)),
        },
        ["api", "v1", "personal-access-tokens", rest @ ..] => {
            format!("pat.{}", verb(rest.is_empty()))
        }
        ["api", "v1", "members", rest @ ..] => format!("member.{}", verb(rest.is_empty())),
        ["api", "v1", "workspaces", rest @ ..] => format!("workspace.{}", verb(rest.is_empty())),
        ["api", "v1", "organization"] => format!("org.{}", verb(false)),
        ["api", "v1", "tokens", "self"] => "token.self".into(),
        ["api", "v1", "tokens", "introspect"] => "token.introspect".into(),
        ["api", "v1", "tokens", "exchange"] => "token.exchange".into(),
        ["api", "v1", "auth", "login"] => "auth.login".into(),
        ["api", "v1", "auth", "logout"] => "auth.logout".into(),
        ["console", rest @ ..] => crate::console::trail_action(method, rest),
        _ => "api.request".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_named_after_the_resource() {
        let cases = [
            (Method::GET, "/scim/v2/Users", "scim.user.list"),
            (Method::GET, "/scim/v2/Users/1", "scim.user.read"),
            (Method::POST, "/scim/v2/Users/.search", "scim.user.search"),
            (Method::PATCH, "/scim/v2/Groups/1", "scim.group.patch"),
            (Method::GET, "/scim/v2/Schemas", "scim.discovery.read"),
            (Method::GET, "/api/v1/audit-logs", "audit_logs.list"),
            (
                Method::GET,
                "/api/v1/audit-logs/export",
                "audit_logs.export",
            ),
            (
                Method::POST,
                "/api/v1/service-access-tokens/x/rotate",
                "sat.rotate",
            ),
            (Method::GET, "/api/v1/service-access-tokens", "sat.list"),
            (Method::GET, "/api/v1/tokens/self", "token.self"),
            (
                Method::POST,
                "/api/v1/tokens/introspect",
                "token.introspect",
            ),
            (Method::POST, "/api/v1/auth/logout", "auth.logout"),
        ];
        for (m, p, want) in cases {
            assert_eq!(action_for(&m, p), want, "{m} {p}");
        }
    }
}
