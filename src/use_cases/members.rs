//! Members: admins list them and change their role or active flag; the
//! operator also creates them. Taking away access (deactivation, demotion
//! from admin) ends the member's sessions and revokes their PATs in the same
//! transaction; SATs they created keep working.

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::call::Done;
use super::write::refresh_access;
use super::{Call, Change, Services, UseCaseError, write, write_changing_access};
use crate::audit::Target;
use crate::identity::access::{self, Grants, Source, WorkspaceGrant};
use crate::identity::members::{self, Member, NewMember};
use crate::identity::{passwords, workspaces};
use crate::permissions::{Action, PermissionSet, Principal, Role, TokenLevel};
use crate::store::Timestamp;

fn target(m: &Member) -> Target {
    Target::new("member", m.id, Some(&m.user_name))
}

/// The organization's members.
pub async fn list(services: &Services, call: &Call<'_>) -> Result<Vec<Member>, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    Ok(members::list(&services.db, call.org_id()?).await?)
}

/// A member with their effective access and where each part of it comes
/// from (see `identity::access`).
#[derive(Clone, Debug, Serialize)]
pub struct MemberView {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_name: String,
    pub display_name: Option<String>,
    pub active: bool,
    /// The effective role: `admin` directly or through a mapped group.
    pub role: Role,
    /// The role given by hand.
    pub direct_role: Role,
    /// What makes the member an admin (empty for a plain member).
    pub role_sources: Vec<Source>,
    /// Workspace permissions, one entry per workspace and source.
    pub workspace_permissions: Vec<WorkspaceGrant>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl MemberView {
    fn new(m: Member, grants: Option<Grants>) -> Self {
        let direct_role = m.role();
        let (role, role_sources, workspace_permissions) = match grants.filter(|g| g.active) {
            Some(g) => {
                let role = g.effective().role;
                let mut sources = Vec::new();
                if direct_role == Role::Admin {
                    sources.push(Source::Direct);
                }
                sources.extend(g.admin_from);
                (role, sources, g.workspaces)
            }
            None => (Role::Member, Vec::new(), Vec::new()),
        };
        MemberView {
            id: m.id,
            org_id: m.org_id,
            user_name: m.user_name,
            display_name: m.display_name,
            active: m.active,
            role,
            direct_role,
            role_sources,
            workspace_permissions,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

async fn views(
    services: &Services,
    org: Uuid,
    members: Vec<Member>,
) -> Result<Vec<MemberView>, UseCaseError> {
    let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
    let mut grants = access::grants(&services.db, org, &ids).await?;
    Ok(members
        .into_iter()
        .map(|m| {
            let g = grants.remove(&m.id);
            MemberView::new(m, g)
        })
        .collect())
}

/// The organization's members with their effective access.
pub async fn list_with_access(
    services: &Services,
    call: &Call<'_>,
) -> Result<Vec<MemberView>, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    let org = call.org_id()?;
    let members = members::list(&services.db, org).await?;
    views(services, org, members).await
}

/// One member with their effective access.
pub async fn get(
    services: &Services,
    call: &Call<'_>,
    id: Uuid,
) -> Result<MemberView, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    let org = call.org_id()?;
    let m = members::get(&services.db, org, id).await?;
    Ok(views(services, org, vec![m]).await?.remove(0))
}

/// A member's direct workspace permissions, as asked for: a workspace (id
/// or name) and its permissions.
#[derive(Clone, Debug)]
pub struct DirectGrant {
    pub workspace: String,
    pub permissions: Vec<String>,
}

/// Replaces a member's direct workspace permissions and records
/// `member.update`, and their access change.
pub async fn set_workspace_permissions(
    services: &Services,
    call: &Call<'_>,
    member_id: Uuid,
    grants: Vec<DirectGrant>,
) -> Result<MemberView, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    let org = call.org_id()?;
    let mut resolved = Vec::new();
    for g in grants {
        let perms = PermissionSet::for_level(TokenLevel::Workspace, &g.permissions)
            .map_err(|e| UseCaseError::InvalidPermission(e.to_string()))?;
        let ws = workspaces::find(&services.db, org, &g.workspace)
            .await?
            .ok_or(UseCaseError::NotFound("workspace"))?;
        if resolved.iter().any(|(w, _)| *w == ws.id) {
            return Err(UseCaseError::Invalid(format!(
                "workspace `{}` is named twice",
                g.workspace
            )));
        }
        resolved.push((ws.id, perms));
    }
    write_changing_access(services, call, async |tx| {
        for (ws, _) in &resolved {
            workspaces::get_in(tx, org, *ws).await?;
        }
        let m = members::get_in(tx, org, member_id).await?;
        access::set_direct(tx, org, member_id, &resolved).await?;
        let cause = json!({ "action": "member.update" });
        let access = refresh_access(tx, call, &[member_id], cause, true).await?;
        let changes = json!({
            "workspace_permissions": resolved.iter().map(|(w, p)| {
                json!({ "workspace_id": w, "permissions": p.names() })
            }).collect::<Vec<_>>(),
        });
        let event = call
            .event("member.update", Done::Changed, Some(changes))
            .target(target(&m));
        Ok(Change::Made(((), access), event))
    })
    .await?;
    get(services, call, member_id).await
}

/// A member to create. Without a password the member cannot sign in.
pub struct NewMemberRequest {
    pub user_name: String,
    pub role: Role,
    pub password: Option<String>,
}

/// Creates a member (password hashed first, outside the transaction: it
/// costs tens of milliseconds) and records `member.create`.
pub async fn create(
    services: &Services,
    call: &Call<'_>,
    new: NewMemberRequest,
) -> Result<Member, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    let org_id = call.org_id()?;
    let password_set = new.password.is_some();
    let password_hash = match new.password {
        Some(password) => {
            passwords::check_policy(&password, &new.user_name).map_err(UseCaseError::Invalid)?;
            Some(
                passwords::hash(password)
                    .await
                    .map_err(UseCaseError::Internal)?,
            )
        }
        None => None,
    };
    let now = Timestamp::now();
    write(services, call, async |tx| {
        let row = NewMember {
            org_id,
            user_name: &new.user_name,
            display_name: None,
            role: new.role,
            password_hash,
        };
        let m = members::create(tx, row, now).await?;
        let changes = json!({ "role": new.role, "password_set": password_set });
        let event = call
            .event("member.create", Done::Created, Some(changes))
            .target(target(&m));
        Ok(Change::Made(m, event))
    })
    .await
}

/// Changes a member's role and/or active flag and records `member.update`
/// (role and active from and to, the PATs revoked). An admin may not leave
/// the organization without an active admin; the operator, who stands
/// outside it, may (so may the identity provider, through SCIM).
pub async fn update(
    services: &Services,
    call: &Call<'_>,
    member_id: Uuid,
    role: Option<Role>,
    active: Option<bool>,
) -> Result<Member, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    let org_id = call.org_id()?;
    if role.is_none() && active.is_none() {
        return Err(UseCaseError::Invalid(
            "nothing to change: give role or active".into(),
        ));
    }
    let guard_last_admin = !matches!(call.principal(), Principal::Operator);
    let now = Timestamp::now();
    write_changing_access(services, call, async |tx| {
        let update = members::update(tx, org_id, member_id, role, active, now).await?;
        let cause = json!({ "action": "member.update" });
        tx.start_change();
        let access = refresh_access(tx, call, &[member_id], cause, false).await?;
        if guard_last_admin
            && update.before_role == Role::Admin
            && access::active_admins_in(tx, org_id).await? == 0
        {
            return Err(UseCaseError::Conflict(
                "this would leave the organization without an active admin".into(),
            ));
        }
        let m = update.member;
        let changes = json!({
            "role": { "from": update.before_role, "to": m.role() },
            "active": { "from": update.before_active, "to": m.active },
            "revoked_personal_access_tokens": update.revoked_tokens,
        });
        let event = call
            .event("member.update", Done::Changed, Some(changes))
            .target(target(&m));
        Ok(Change::Made((m, access), event))
    })
    .await
}

/// Gives a member a password chosen by someone else (an admin or the
/// operator) and records `member.password_reset`. `one_time` marks a
/// password that was shown to that someone: the member must set their own
/// before signing in. Every session of the member ends.
pub async fn reset_password(
    services: &Services,
    call: &Call<'_>,
    member_id: Uuid,
    password: String,
    one_time: bool,
) -> Result<Member, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    let org_id = call.org_id()?;
    let current = members::get(&services.db, org_id, member_id).await?;
    passwords::check_policy(&password, &current.user_name).map_err(UseCaseError::Invalid)?;
    let hash = passwords::hash(password)
        .await
        .map_err(UseCaseError::Internal)?;
    let now = Timestamp::now();
    write(services, call, async |tx| {
        let m = members::set_password(tx, org_id, member_id, &hash, one_time, now).await?;
        let changes = json!({ "password_change_required": one_time });
        let event = call
            .event("member.password_reset", Done::Changed, Some(changes))
            .target(target(&m));
        Ok(Change::Made(m, event))
    })
    .await
}

/// A member replaces their own password (the caller has proved the current
/// one: `call` is the member) and records `auth.password`. The new one must
/// pass the policy and differ from the current one; it clears a required
/// change and ends the member's other sessions.
pub async fn change_own_password(
    services: &Services,
    call: &Call<'_>,
    current_hash: Option<String>,
    new_password: String,
) -> Result<Member, UseCaseError> {
    let Principal::Session {
        org_id,
        member_id,
        user_name,
        ..
    } = call.principal()
    else {
        return Err(UseCaseError::Invalid(
            "only a member changes their own password".into(),
        ));
    };
    passwords::check_policy(&new_password, user_name).map_err(UseCaseError::Invalid)?;
    if passwords::verify(new_password.clone(), current_hash).await {
        return Err(UseCaseError::Invalid(
            "the new password must differ from the current one".into(),
        ));
    }
    let hash = passwords::hash(new_password)
        .await
        .map_err(UseCaseError::Internal)?;
    let (org_id, member_id) = (*org_id, *member_id);
    let now = Timestamp::now();
    write(services, call, async |tx| {
        let m = members::set_password(tx, org_id, member_id, &hash, false, now).await?;
        let event = call
            .event("auth.password", Done::Changed, None)
            .target(target(&m));
        Ok(Change::Made(m, event))
    })
    .await
}
