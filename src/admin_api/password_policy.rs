//! Whether a password may sign this member in: when the organization signs
//! in through its identity provider with `password_sign_in:
//! break_glass_only`, only members the operator marked break-glass may,
//! and each such sign-in is recorded as `auth.break_glass`. Anyone else is
//! refused (403, recorded as `auth.login` with reason code
//! `password_sign_in_disabled`) after the password was checked, so the
//! answer says nothing to someone who does not know it.

use serde_json::json;

use crate::audit::{Actor, AuditEvent, RequestContext, Target};
use crate::http::{ApiError, AppState};
use crate::identity::members::Member;
use crate::permissions::PrincipalKind;
use crate::sso::break_glass::{PasswordUse, password_use};

/// What a member refused a password is told.
pub const SSO_ONLY: &str = "this organization signs in through its identity provider: \
     use GET /api/v1/auth/sso/start?organization=<name> (or the console's \
     \"Sign in with your identity provider\")";

/// Checks the organization's password policy for `member`, whose password
/// was right, recording a break-glass use or a refusal.
pub async fn check(
    state: &AppState,
    ctx: &RequestContext,
    member: &Member,
) -> Result<(), ApiError> {
    let decision = password_use(&state.db, member.org_id, member.id)
        .await
        .map_err(ApiError::internal)?;
    let target = Target::new("member", member.id, Some(&member.user_name));
    match decision {
        PasswordUse::Allowed => Ok(()),
        PasswordUse::BreakGlass => {
            let actor = Actor {
                kind: PrincipalKind::MemberSession.as_str().to_string(),
                id: Some(member.id.to_string()),
                display: Some(member.user_name.clone()),
            };
            let event = AuditEvent::new(Some(member.org_id), actor, "auth.break_glass", ctx)
                .target(target)
                .status(200)
                .changes(json!({ "method": "password", "password_sign_in": "break_glass_only" }));
            state.audit.record(event).await?;
            Ok(())
        }
        PasswordUse::Refused => {
            let actor = Actor {
                kind: PrincipalKind::Anonymous.as_str().to_string(),
                id: None,
                display: Some(member.user_name.clone()),
            };
            let event = AuditEvent::new(Some(member.org_id), actor, "auth.login", ctx)
                .target(target)
                .failure("password sign-in is for break-glass members only")
                .status(403)
                .changes(json!({ "reason_code": "password_sign_in_disabled" }));
            state.audit.record(event).await?;
            Err(ApiError::Denied {
                slug: "password-sign-in-disabled",
                detail: SSO_ONLY.into(),
            })
        }
    }
}
