//! Workspaces: admins (and the operator) create, list, read, rename and
//! delete them. Deleting one revokes its Service Access Tokens in the same
//! transaction.

use serde_json::json;
use uuid::Uuid;

use super::call::Done;
use super::write::refresh_access;
use super::{Call, Change, Services, UseCaseError, write, write_changing_access};
use crate::audit::Target;
use crate::identity::access;
use crate::identity::workspaces::{self, Workspace};
use crate::permissions::Action;
use crate::store::Timestamp;

fn target(ws: &Workspace) -> Target {
    Target::new("workspace", ws.id, Some(&ws.name))
}

/// Creates a workspace and records `workspace.create`.
pub async fn create(
    services: &Services,
    call: &Call<'_>,
    name: &str,
) -> Result<Workspace, UseCaseError> {
    call.authorize(Action::ManageWorkspaces)?;
    let org_id = call.org_id()?;
    write(services, call, async |tx| {
        let ws = workspaces::create(tx, org_id, name, Timestamp::now()).await?;
        let event = call
            .event("workspace.create", Done::Created, None)
            .workspace(Some(ws.id))
            .target(target(&ws));
        Ok(Change::Made(ws, event))
    })
    .await
}

/// The organization's live workspaces.
pub async fn list(services: &Services, call: &Call<'_>) -> Result<Vec<Workspace>, UseCaseError> {
    call.authorize(Action::ManageWorkspaces)?;
    Ok(workspaces::list(&services.db, call.org_id()?).await?)
}

/// One live workspace.
pub async fn get(
    services: &Services,
    call: &Call<'_>,
    id: Uuid,
) -> Result<Workspace, UseCaseError> {
    call.authorize(Action::ManageWorkspaces)?;
    Ok(workspaces::get(&services.db, call.org_id()?, id).await?)
}

/// Renames a workspace and records `workspace.update`.
pub async fn rename(
    services: &Services,
    call: &Call<'_>,
    id: Uuid,
    name: &str,
) -> Result<Workspace, UseCaseError> {
    call.authorize(Action::ManageWorkspaces)?;
    let org_id = call.org_id()?;
    write(services, call, async |tx| {
        let ws = workspaces::rename(tx, org_id, id, name, Timestamp::now()).await?;
        let changes = json!({ "name": ws.name });
        let event = call
            .event("workspace.update", Done::Changed, Some(changes))
            .workspace(Some(ws.id))
            .target(target(&ws));
        Ok(Change::Made(ws, event))
    })
    .await
}

/// Deletes a workspace, revoking its SATs, and records `workspace.delete`
/// with the tokens revoked.
pub async fn delete(
    services: &Services,
    call: &Call<'_>,
    id: Uuid,
) -> Result<Workspace, UseCaseError> {
    call.authorize(Action::ManageWorkspaces)?;
    let org_id = call.org_id()?;
    write_changing_access(services, call, async |tx| {
        let (ws, revoked) = workspaces::delete(tx, org_id, id, Timestamp::now()).await?;
        // Whoever held permissions in it holds them no more.
        let holders = access::forget_workspace(tx, org_id, ws.id).await?;
        let cause = json!({ "action": "workspace.delete", "workspace_id": ws.id });
        let access = refresh_access(tx, call, &holders, cause, true).await?;
        let changes = json!({ "revoked_service_access_tokens": revoked });
        let event = call
            .event("workspace.delete", Done::Removed, Some(changes))
            .workspace(Some(ws.id))
            .target(target(&ws));
        Ok(Change::Made((ws, access), event))
    })
    .await
}
