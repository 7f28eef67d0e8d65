//! Members: admins list them and change their role or active flag; the
//! operator also creates them. Taking away access (deactivation, demotion
//! from admin) ends the member's sessions and revokes their PATs in the same
//! transaction; SATs they created keep working.

use serde_json::json;
use uuid::Uuid;

use super::call::Done;
use super::{Call, Change, Services, UseCaseError, write};
use crate::audit::Target;
use crate::identity::members::{self, Member, NewMember};
use crate::identity::passwords;
use crate::permissions::{Action, Principal, Role};
use crate::store::Timestamp;

fn target(m: &Member) -> Target {
    Target::new("member", m.id, Some(&m.user_name))
}

/// The organization's members.
pub async fn list(services: &Services, call: &Call<'_>) -> Result<Vec<Member>, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    Ok(members::list(&services.db, call.org_id()?).await?)
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
    write(services, call, async |tx| {
        let update = members::update(tx, org_id, member_id, role, active, now).await?;
        if guard_last_admin
            && update.before_role == Role::Admin
            && members::active_admins_in(tx, org_id).await? == 0
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
        Ok(Change::Made(m, event))
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
