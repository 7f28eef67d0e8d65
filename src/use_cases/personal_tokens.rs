//! Personal Access Tokens: any active member creates, lists and revokes
//! their own. A PAT acts for its member, narrowed at creation to part of
//! the member's access if asked: its power is its scope intersected with
//! the member's access at each request. It dies when the member is
//! deactivated or deleted (or demoted by hand). The operator, who is no
//! member, creates none but may revoke any.

use serde_json::json;
use uuid::Uuid;

use super::call::Done;
use super::service_tokens::{target, token_id};
use super::{Call, Change, Expiry, Services, UseCaseError, write};
use crate::identity::{orgs, workspaces};
use crate::permissions::{Access, Action, Principal, Scope, ScopeError};
use crate::store::Timestamp;
use crate::tokens::{self, ListFilter, NewToken, Owner, PlainToken, TokenKind, TokenView};

/// A PAT to create for the calling member.
#[derive(Clone, Debug, Default)]
pub struct NewPat {
    pub name: String,
    pub description: Option<String>,
    pub expiry: Expiry,
    pub allowed_cidrs: Vec<String>,
    /// Narrows the PAT to these permissions (`None`: the member's whole
    /// access, whatever it is at each request).
    pub permissions: Option<Vec<String>>,
    /// The workspace (id or name) whose permissions `permissions` names.
    pub workspace: Option<String>,
}

/// The member a PAT belongs to: the caller's own. A principal that is no
/// member has no PATs to manage.
fn own_member(call: &Call<'_>) -> Result<Uuid, UseCaseError> {
    call.principal()
        .member_id()
        .ok_or_else(|| UseCaseError::Forbidden {
            missing: Action::ManageOwnPersonalTokens.required_permission(),
        })
}

/// Creates a PAT for the calling member and records `pat.create`.
pub async fn create(
    services: &Services,
    call: &Call<'_>,
    new: NewPat,
) -> Result<(TokenView, PlainToken), UseCaseError> {
    call.authorize(Action::ManageOwnPersonalTokens)?;
    let member_id = own_member(call)?;
    let now = Timestamp::now();
    let org = orgs::get(&services.db, call.org_id()?).await?;
    let scope = scope(services, call, org.id, &new).await?;
    let token = NewToken {
        org_id: org.id,
        owner: Owner::Member(member_id, scope.clone()),
        name: new.name,
        description: new.description,
        permissions: Vec::new(),
        expires_at: new.expiry.resolve(now)?,
        allowed_cidrs: new.allowed_cidrs,
        max_lifetime_days: org.max_token_lifetime_days.map(i64::from),
    };
    write(services, call, async |tx| {
        let (view, plain) =
            tokens::create(tx, &services.peppers, token, call.principal(), now).await?;
        let changes = json!({
            "member_id": member_id,
            "expires_at": view.expires_at,
            "permissions": scope.names(),
            "workspace": scope.workspace_id(),
        });
        let event = call
            .event("pat.create", Done::Created, Some(changes))
            .target(target(&view));
        Ok(Change::Made((view, plain), event))
    })
    .await
}

/// The scope asked for, within what the caller holds: a PAT never holds
/// more than the credential that made it. A PAT that makes another must
/// name its permissions (its own scope is not the member's whole access).
async fn scope(
    services: &Services,
    call: &Call<'_>,
    org: Uuid,
    new: &NewPat,
) -> Result<Scope, UseCaseError> {
    let Some(names) = &new.permissions else {
        if new.workspace.is_some() {
            return Err(UseCaseError::Invalid(
                "a workspace is named but no permission".into(),
            ));
        }
        if matches!(call.principal(), Principal::Pat { .. }) {
            return Err(UseCaseError::Invalid(
                "a token made with a personal access token names its permissions".into(),
            ));
        }
        return Ok(Scope::Whole);
    };
    let workspace = match &new.workspace {
        Some(w) => Some(
            workspaces::find(&services.db, org, w)
                .await?
                .ok_or(UseCaseError::NotFound("workspace"))?
                .id,
        ),
        None => None,
    };
    let scope = Scope::parse(names, workspace).map_err(|e| match e {
        ScopeError::WorkspaceMissing | ScopeError::WorkspaceUnused => {
            UseCaseError::Invalid(e.to_string())
        }
        other => UseCaseError::InvalidPermission(other.to_string()),
    })?;
    let held = call
        .principal()
        .access()
        .cloned()
        .unwrap_or_else(Access::none);
    if let Some(missing) = scope.beyond(&held).into_iter().next() {
        return Err(UseCaseError::Forbidden { missing });
    }
    Ok(scope)
}

/// The calling member's own PATs, newest first.
pub async fn list(services: &Services, call: &Call<'_>) -> Result<Vec<TokenView>, UseCaseError> {
    call.authorize(Action::ManageOwnPersonalTokens)?;
    let filter = ListFilter {
        kind: Some(TokenKind::Pat),
        member_id: Some(own_member(call)?),
        ..ListFilter::default()
    };
    Ok(tokens::list(&services.db, call.org_id()?, &filter, Timestamp::now()).await?)
}

/// Revokes one of the caller's PATs (the operator: anyone's). Another
/// member's PAT is not found, exactly like another organization's. Only the
/// first revoke is recorded (`pat.revoke`).
pub async fn revoke(
    services: &Services,
    call: &Call<'_>,
    id: &str,
) -> Result<(TokenView, bool), UseCaseError> {
    call.authorize(Action::ManageOwnPersonalTokens)?;
    let (owner, reason) = match call.principal() {
        Principal::Operator => (None, "revoked by the operator"),
        _ => (Some(own_member(call)?), "revoked by its owner"),
    };
    let org_id = call.org_id()?;
    let id = token_id(id)?;
    let now = Timestamp::now();
    let existing = tokens::get(&services.db, org_id, &id, now).await?;
    if owner.is_some_and(|me| existing.member_id != Some(me)) {
        return Err(UseCaseError::NotFound("token"));
    }
    write(services, call, async |tx| {
        let (view, revoked) = tokens::revoke(tx, org_id, &id, TokenKind::Pat, reason, now).await?;
        if !revoked {
            return Ok(Change::Unchanged((view, false)));
        }
        let event = call
            .event("pat.revoke", Done::Removed, None)
            .target(target(&view));
        Ok(Change::Made((view, true), event))
    })
    .await
}
