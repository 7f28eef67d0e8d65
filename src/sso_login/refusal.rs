//! A refused SSO sign-in: recorded as `auth.sso` with its reason code (in
//! the organization's chain when the organization is known), and answered
//! as problem+json, or as a console page when the console started it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{Actor, AuditEvent, RequestContext};
use crate::http::AppState;
use crate::http::problem_response;
use crate::permissions::PrincipalKind;
use crate::sso::flow::Outcome;
use crate::sso::{Refusal, SsoError};

/// A sign-in that did not sign anyone in.
pub struct Refused {
    pub refusal: Refusal,
    /// For the logs and the audit record: never a secret or a token.
    pub detail: String,
    pub org_id: Option<Uuid>,
    /// The claim's value, when the provider vouched for one.
    pub who: Option<String>,
    pub outcome: Outcome,
}

/// What failed: a refusal, or the server itself.
pub enum Failed {
    Refused(Box<Refused>),
    Internal(String),
}

impl Failed {
    pub fn from_sso(e: SsoError, org_id: Option<Uuid>, outcome: Outcome) -> Self {
        match e {
            SsoError::Refused(refusal, detail) => Failed::Refused(Box::new(Refused {
                refusal,
                detail,
                org_id,
                who: None,
                outcome,
            })),
            SsoError::SecretUnreadable => Failed::Refused(Box::new(Refused {
                refusal: Refusal::NotConfigured,
                detail: e.to_string(),
                org_id,
                who: None,
                outcome,
            })),
            other => Failed::Internal(other.to_string()),
        }
    }

    pub fn refused(refusal: Refusal, detail: &str, org_id: Option<Uuid>, outcome: Outcome) -> Self {
        Failed::Refused(Box::new(Refused {
            refusal,
            detail: detail.to_string(),
            org_id,
            who: None,
            outcome,
        }))
    }
}

fn status_of(refusal: Refusal) -> StatusCode {
    match refusal {
        Refusal::NotConfigured => StatusCode::NOT_FOUND,
        Refusal::BadState => StatusCode::BAD_REQUEST,
        Refusal::IssuerUnreachable => StatusCode::BAD_GATEWAY,
        _ => StatusCode::UNAUTHORIZED,
    }
}

/// The record of a refusal.
pub fn event(r: &Refused, ctx: &RequestContext) -> AuditEvent {
    let actor = Actor {
        kind: PrincipalKind::Anonymous.as_str().to_string(),
        id: None,
        display: r.who.as_ref().map(|w| w.chars().take(256).collect()),
    };
    AuditEvent::new(r.org_id, actor, super::ACTION, ctx)
        .failure(r.refusal.message())
        .status(status_of(r.refusal).as_u16())
        .changes(json!({ "reason_code": r.refusal.code(), "detail": r.detail }))
}

/// Records a refusal (unless `recorded`) and answers it.
pub async fn answer(
    state: &AppState,
    ctx: &RequestContext,
    failed: Failed,
    recorded: bool,
) -> Response {
    let r = match failed {
        Failed::Refused(r) => r,
        Failed::Internal(cause) => {
            return crate::http::ApiError::Internal(cause).into_response();
        }
    };
    tracing::info!(reason = r.refusal.code(), detail = %r.detail, "SSO sign-in refused");
    if !recorded && let Err(e) = state.audit.record(event(&r, ctx)).await {
        return crate::http::ApiError::from(e).into_response();
    }
    let status = status_of(r.refusal);
    match r.outcome {
        Outcome::Api => problem_response(
            status,
            &format!("sso-{}", r.refusal.code().replace('_', "-")),
            "Sign-in refused",
            r.refusal.message(),
            json!({ "reason_code": r.refusal.code() }),
        ),
        Outcome::Console => {
            crate::console::sso::refused(status, r.refusal.message(), r.refusal.code())
        }
    }
}
