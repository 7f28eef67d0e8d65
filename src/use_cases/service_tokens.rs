//! Service Access Tokens: create, list, read, change, rotate and revoke.
//! Org admins (and the operator) manage them; a new or rotated value is
//! returned once, for the edge to show once.

use serde_json::json;
use uuid::Uuid;

use super::call::Done;
use super::{Call, Change, Expiry, Services, UseCaseError, write};
use crate::audit::Target;
use crate::identity::{orgs, workspaces};
use crate::permissions::{Action, PermissionSet, Principal, TokenLevel, advise};
use crate::store::Timestamp;
use crate::tokens::{
    self, ListFilter, NewToken, Owner, PlainToken, TokenChanges, TokenId, TokenKind, TokenView,
};

/// A SAT to create: organization level, or one workspace's.
#[derive(Clone, Debug, Default)]
pub struct NewSat {
    pub name: String,
    pub description: Option<String>,
    pub workspace_id: Option<Uuid>,
    pub permissions: Vec<String>,
    pub expiry: Expiry,
    /// Source networks allowed to use it; empty allows any.
    pub allowed_cidrs: Vec<String>,
}

pub(super) fn target(view: &TokenView) -> Target {
    Target::new(view.kind.as_str(), &view.id, Some(&view.name))
}

/// A token id from an edge; anything that cannot be one is not found.
pub(super) fn token_id(raw: &str) -> Result<TokenId, UseCaseError> {
    TokenId::parse(raw).ok_or(UseCaseError::NotFound("token"))
}

/// Creates a SAT and records `sat.create`.
pub async fn create(
    services: &Services,
    call: &Call<'_>,
    new: NewSat,
) -> Result<(TokenView, PlainToken), UseCaseError> {
    call.authorize(Action::ManageServiceTokens)?;
    let org_id = call.org_id()?;
    let now = Timestamp::now();
    let expires_at = new.expiry.resolve(now)?;
    let org = orgs::get(&services.db, org_id).await?;
    write(services, call, async |tx| {
        let owner = match new.workspace_id {
            // Read under the row lock: the workspace may be being deleted.
            Some(ws) => Owner::Workspace(workspaces::get_in(tx, org_id, ws).await?.id),
            None => Owner::Organization,
        };
        let token = NewToken {
            org_id,
            owner,
            name: new.name,
            description: new.description,
            permissions: new.permissions,
            expires_at,
            allowed_cidrs: new.allowed_cidrs,
            max_lifetime_days: org.max_token_lifetime_days.map(i64::from),
        };
        let (view, plain) =
            tokens::create(tx, &services.peppers, token, call.principal(), now).await?;
        let changes = json!({
            "level": view.level,
            "workspace_id": view.workspace_id,
            "permissions": view.permissions,
            "expires_at": view.expires_at,
            "allowed_cidrs": view.allowed_cidrs,
        });
        let event = call
            .event("sat.create", Done::Created, Some(changes))
            .workspace(view.workspace_id)
            .target(target(&view));
        Ok(Change::Made((view, plain), event))
    })
    .await
}

/// The organization's SATs, newest first, revoked and expired ones too.
pub async fn list(
    services: &Services,
    call: &Call<'_>,
    level: Option<TokenLevel>,
    workspace_id: Option<Uuid>,
) -> Result<Vec<TokenView>, UseCaseError> {
    call.authorize(Action::ManageServiceTokens)?;
    let filter = ListFilter {
        kind: Some(TokenKind::Sat),
        level,
        workspace_id,
        member_id: None,
    };
    Ok(tokens::list(&services.db, call.org_id()?, &filter, Timestamp::now()).await?)
}

/// One SAT of the organization (a PAT's id is not found).
pub async fn get(
    services: &Services,
    call: &Call<'_>,
    id: &str,
) -> Result<TokenView, UseCaseError> {
    call.authorize(Action::ManageServiceTokens)?;
    let id = token_id(id)?;
    let view = tokens::get(&services.db, call.org_id()?, &id, Timestamp::now()).await?;
    if view.kind != TokenKind::Sat {
        return Err(UseCaseError::NotFound("token"));
    }
    Ok(view)
}

/// Changes a live SAT's name, description, allowlist (`Some(vec![])`
/// clears it), permissions (at the token's own level) or expiry (earlier
/// only), and records `sat.update` with each changed field before and
/// after. Cached verification forgets the token at commit on this
/// instance; other instances read it again within a second.
pub async fn update(
    services: &Services,
    call: &Call<'_>,
    id: &str,
    changes: TokenChanges,
) -> Result<TokenView, UseCaseError> {
    call.authorize(Action::ManageServiceTokens)?;
    let org_id = call.org_id()?;
    let id = token_id(id)?;
    let fields: Vec<&str> = [
        changes.name.as_ref().map(|_| "name"),
        changes.description.as_ref().map(|_| "description"),
        changes.allowed_cidrs.as_ref().map(|_| "allowed_cidrs"),
        changes.permissions.as_ref().map(|_| "permissions"),
        changes.expires_at.as_ref().map(|_| "expires_at"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if fields.is_empty() {
        return Err(UseCaseError::Invalid(
            "nothing to change: give name, description, allowed_cidrs, permissions or expires_at"
                .into(),
        ));
    }
    let now = Timestamp::now();
    write(services, call, async |tx| {
        let (before, view) = tokens::update(tx, org_id, &id, TokenKind::Sat, changes, now).await?;
        let (old, new) = (json!(before), json!(view));
        let mut was = serde_json::Map::new();
        let mut is = serde_json::Map::new();
        for f in &fields {
            was.insert(f.to_string(), old[f].clone());
            is.insert(f.to_string(), new[f].clone());
        }
        let changes = json!({
            "fields": fields,
            "name": view.name,
            "allowed_cidrs": view.allowed_cidrs,
            "before": was,
            "after": is,
        });
        let event = call
            .event("sat.update", Done::Changed, Some(changes))
            .workspace(view.workspace_id)
            .target(target(&view));
        Ok(Change::Made(view, event))
    })
    .await
}

/// What a SAT did with its permissions over the last days: the
/// least-privilege advisor's answer.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Usage {
    pub token_id: String,
    pub days: i64,
    pub granted: Vec<String>,
    pub used: Vec<tokens::Used>,
    pub unused: Vec<String>,
    pub suggested_permissions: Vec<String>,
}

/// Days of usage the advisor looks back over, at most.
pub const MAX_USAGE_DAYS: i64 = 365;

/// The usage of one SAT over the last `days` (1 to 365).
pub async fn usage(
    services: &Services,
    call: &Call<'_>,
    id: &str,
    days: i64,
) -> Result<Usage, UseCaseError> {
    let view = get(services, call, id).await?;
    Ok(usage_of(services, vec![view], days).await?.remove(0))
}

/// The usage of several SATs at once (the console's list), in one query.
pub async fn usage_of(
    services: &Services,
    views: Vec<TokenView>,
    days: i64,
) -> Result<Vec<Usage>, UseCaseError> {
    if !(1..=MAX_USAGE_DAYS).contains(&days) {
        return Err(UseCaseError::OutOfRange(format!(
            "days must be between 1 and {MAX_USAGE_DAYS}"
        )));
    }
    let since = Timestamp::now() + time::Duration::days(1 - days);
    let ids: Vec<String> = views.iter().map(|v| v.id.clone()).collect();
    let mut used = tokens::used_since(&services.db, &ids, since).await?;
    Ok(views
        .into_iter()
        .map(|v| {
            let used = used.remove(&v.id).unwrap_or_default();
            let granted = PermissionSet::from_stored(&v.permissions.join(" "));
            let names: Vec<&str> = used.iter().map(|u| u.permission.as_str()).collect();
            let advice = advise(&granted, &names);
            Usage {
                token_id: v.id,
                days,
                granted: v.permissions,
                used,
                unused: advice.unused,
                suggested_permissions: advice.suggested,
            }
        })
        .collect())
}

/// Gives a SAT a new value, the old one working `grace_seconds` longer,
/// and records `sat.rotate`.
pub async fn rotate(
    services: &Services,
    call: &Call<'_>,
    id: &str,
    grace_seconds: i64,
) -> Result<(TokenView, PlainToken), UseCaseError> {
    call.authorize(Action::ManageServiceTokens)?;
    let org_id = call.org_id()?;
    let id = token_id(id)?;
    let now = Timestamp::now();
    write(services, call, async |tx| {
        let (view, plain) = tokens::rotate(
            tx,
            &services.peppers,
            org_id,
            &id,
            TokenKind::Sat,
            grace_seconds,
            now,
        )
        .await?;
        let changes = json!({
            "grace_period_seconds": grace_seconds,
            "previous_secret_valid_until": view.previous_secret_valid_until,
        });
        let event = call
            .event("sat.rotate", Done::Changed, Some(changes))
            .workspace(view.workspace_id)
            .target(target(&view));
        Ok(Change::Made((view, plain), event))
    })
    .await
}

/// Revokes a SAT. Only the first revoke changes anything and is recorded
/// (`sat.revoke`); returns the view and whether this call revoked it.
pub async fn revoke(
    services: &Services,
    call: &Call<'_>,
    id: &str,
) -> Result<(TokenView, bool), UseCaseError> {
    call.authorize(Action::ManageServiceTokens)?;
    let org_id = call.org_id()?;
    let id = token_id(id)?;
    let reason = match call.principal() {
        Principal::Operator => "revoked by the operator",
        _ => "revoked by an admin",
    };
    let now = Timestamp::now();
    write(services, call, async |tx| {
        let (view, revoked) = tokens::revoke(tx, org_id, &id, TokenKind::Sat, reason, now).await?;
        if !revoked {
            return Ok(Change::Unchanged((view, false)));
        }
        let event = call
            .event("sat.revoke", Done::Removed, None)
            .workspace(view.workspace_id)
            .target(target(&view));
        Ok(Change::Made((view, true), event))
    })
    .await
}
