//! Group mappings: an admin maps a SCIM group to the admin role or to
//! permissions in a workspace (`identity::group_mappings`), and the
//! effective access of the group's members changes in the same
//! transaction, each change recorded as `member.access_change` with the
//! mapping as its cause.

use serde_json::json;
use uuid::Uuid;

use super::call::Done;
use super::write::refresh_access;
use super::{Call, Change, Services, UseCaseError, write_changing_access};
use crate::audit::Target;
use crate::identity::group_mappings::{self, Grant, Mapping};
use crate::identity::workspaces;
use crate::permissions::{Action, PermissionSet, TokenLevel};
use crate::store::Timestamp;

/// A mapping as asked for: a group, and either `role` or `workspace` with
/// `permissions`.
#[derive(Clone, Debug, Default)]
pub struct NewMapping {
    pub group: String,
    pub role: Option<String>,
    pub workspace: Option<String>,
    pub permissions: Option<Vec<String>>,
}

fn target(m: &Mapping) -> Target {
    Target::new("group_mapping", m.id, Some(&m.group_display_name))
}

/// The organization's mappings.
pub async fn list(services: &Services, call: &Call<'_>) -> Result<Vec<Mapping>, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    Ok(group_mappings::list(&services.db, call.org_id()?).await?)
}

/// The organization's SCIM groups (id, name), for picking one to map.
pub async fn groups(
    services: &Services,
    call: &Call<'_>,
) -> Result<Vec<(Uuid, String)>, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    Ok(group_mappings::groups(&services.db, call.org_id()?).await?)
}

/// Maps a group and records `group_mapping.create`.
pub async fn create(
    services: &Services,
    call: &Call<'_>,
    new: NewMapping,
) -> Result<Mapping, UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    let org = call.org_id()?;
    let grant = match (new.role.as_deref(), new.workspace, new.permissions) {
        (Some("admin"), None, None) => Grant::Admin,
        (Some(other), None, None) => {
            return Err(UseCaseError::Invalid(format!(
                "a group can be mapped to the role `admin` only, not `{other}`"
            )));
        }
        (None, Some(ws), Some(perms)) => {
            let perms = PermissionSet::for_level(TokenLevel::Workspace, &perms)
                .map_err(|e| UseCaseError::InvalidPermission(e.to_string()))?;
            let ws = workspaces::find(&services.db, org, &ws)
                .await?
                .ok_or(UseCaseError::NotFound("workspace"))?;
            Grant::Workspace(ws.id, perms)
        }
        _ => {
            return Err(UseCaseError::Invalid(
                "give either `role`, or `workspace` and `permissions`".into(),
            ));
        }
    };
    let group = Uuid::parse_str(new.group.trim()).map_err(|_| UseCaseError::NotFound("group"))?;
    let now = Timestamp::now();
    write_changing_access(services, call, async |tx| {
        if let Grant::Workspace(ws, _) = &grant {
            // Under its lock: never a mapping to a workspace being deleted.
            workspaces::get_in(tx, org, *ws).await?;
        }
        let mapping = group_mappings::create(tx, org, group, &grant, now).await?;
        let members = group_mappings::users_of(tx, org, group).await?;
        let cause = json!({ "action": "group_mapping.create", "mapping_id": mapping.id });
        let access = refresh_access(tx, call, &members, cause, true).await?;
        let changes = json!({
            "group": mapping.group,
            "role": mapping.role,
            "workspace": mapping.workspace,
            "permissions": mapping.permissions,
        });
        let event = call
            .event("group_mapping.create", Done::Created, Some(changes))
            .target(target(&mapping));
        Ok(Change::Made((mapping, access), event))
    })
    .await
}

/// Removes a mapping and records `group_mapping.delete`.
pub async fn delete(services: &Services, call: &Call<'_>, id: Uuid) -> Result<(), UseCaseError> {
    call.authorize(Action::ManageMembers)?;
    let org = call.org_id()?;
    write_changing_access(services, call, async |tx| {
        let mapping = group_mappings::delete(tx, org, id).await?;
        let members = group_mappings::users_of(tx, org, mapping.group).await?;
        let cause = json!({ "action": "group_mapping.delete", "mapping_id": mapping.id });
        let access = refresh_access(tx, call, &members, cause, true).await?;
        let event = call
            .event("group_mapping.delete", Done::Removed, None)
            .target(target(&mapping));
        Ok(Change::Made(((), access), event))
    })
    .await
}
