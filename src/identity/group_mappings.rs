//! Group mappings: a SCIM group mapped to the admin role, or to permissions
//! in one workspace, so that the identity provider decides who may do what.
//! A mapping names its group by id, so renaming the group keeps it;
//! deleting the group deletes its mappings.
//!
//! Whoever changes a mapping or a mapped group's members refreshes the
//! effective access of the members concerned ([`super::access::refresh`])
//! in the same transaction.

use serde::Serialize;
use uuid::Uuid;

use super::IdentityError;
use crate::permissions::PermissionSet;
use crate::store::{Db, Timestamp, Tx};
use crate::{on_db, on_tx};

/// What a mapping grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    Admin,
    Workspace(Uuid, PermissionSet),
}

/// A mapping as shown.
#[derive(Clone, Debug, Serialize)]
pub struct Mapping {
    pub id: Uuid,
    /// The SCIM group's id.
    pub group: Uuid,
    pub group_display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    group_id: Uuid,
    group_name: String,
    role: Option<String>,
    workspace_id: Option<Uuid>,
    permissions: Option<String>,
    created_at: Timestamp,
}

impl From<Row> for Mapping {
    fn from(r: Row) -> Self {
        Mapping {
            id: r.id,
            group: r.group_id,
            group_display_name: r.group_name,
            role: r.role,
            workspace: r.workspace_id,
            permissions: r
                .permissions
                .map(|p| PermissionSet::from_stored(&p).names()),
            created_at: r.created_at,
        }
    }
}

macro_rules! select {
    () => {
        "SELECT gm.id, gm.group_id, g.display_name AS group_name, gm.role, gm.workspace_id, \
         gm.permissions, gm.created_at FROM group_mappings gm JOIN scim_groups g ON g.id = gm.group_id "
    };
}

/// The organization's mappings, oldest first.
pub async fn list(db: &Db, org: Uuid) -> Result<Vec<Mapping>, IdentityError> {
    let sql = concat!(
        select!(),
        "WHERE gm.org_id = $1 ORDER BY gm.created_at, gm.id"
    );
    let rows: Vec<Row> = on_db!(db, pool => sqlx::query_as(sql).bind(org).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(Mapping::from).collect())
}

async fn get_in(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<Option<Mapping>, IdentityError> {
    let sql = concat!(select!(), "WHERE gm.org_id = $1 AND gm.id = $2");
    let row: Option<Row> = on_tx!(tx, conn => {
        sqlx::query_as(sql).bind(org).bind(id).fetch_optional(&mut *conn).await
    })?;
    Ok(row.map(Mapping::from))
}

/// Creates a mapping of `group` (which must be a group of the organization;
/// a workspace grant's workspace is checked by the caller).
pub async fn create(
    tx: &mut Tx,
    org: Uuid,
    group: Uuid,
    grant: &Grant,
    now: Timestamp,
) -> Result<Mapping, IdentityError> {
    let exists: Option<i32> = on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT 1 FROM scim_groups WHERE org_id = $1 AND id = $2")
            .bind(org)
            .bind(group)
            .fetch_optional(&mut *conn)
            .await
    })?;
    if exists.is_none() {
        return Err(IdentityError::NotFound("group"));
    }
    let id = Uuid::now_v7();
    let (role, workspace, permissions) = match grant {
        Grant::Admin => (Some("admin"), None, None),
        Grant::Workspace(w, p) => (None, Some(*w), Some(p.to_stored())),
    };
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO group_mappings (id, org_id, group_id, role, workspace_id, permissions, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(org)
        .bind(group)
        .bind(role)
        .bind(workspace)
        .bind(&permissions)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    get_in(tx, org, id)
        .await?
        .ok_or(IdentityError::NotFound("group mapping"))
}

/// Deletes a mapping; answers with it.
pub async fn delete(tx: &mut Tx, org: Uuid, id: Uuid) -> Result<Mapping, IdentityError> {
    let mapping = get_in(tx, org, id)
        .await?
        .ok_or(IdentityError::NotFound("group mapping"))?;
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM group_mappings WHERE org_id = $1 AND id = $2")
            .bind(org)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    Ok(mapping)
}

/// Deletes every mapping of a group being deleted; answers whether there
/// were any.
pub async fn delete_for_group(tx: &mut Tx, org: Uuid, group: Uuid) -> Result<bool, IdentityError> {
    let n = on_tx!(tx, conn => {
        sqlx::query("DELETE FROM group_mappings WHERE org_id = $1 AND group_id = $2")
            .bind(org)
            .bind(group)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Whether any mapping names `group`: only then do its members' changes
/// change anyone's access.
pub async fn is_mapped(tx: &mut Tx, group: Uuid) -> Result<bool, IdentityError> {
    let found: Option<i32> = on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT 1 FROM group_mappings WHERE group_id = $1 LIMIT 1")
            .bind(group)
            .fetch_optional(&mut *conn)
            .await
    })?;
    Ok(found.is_some())
}

/// The users who are direct members of `group`.
pub async fn users_of(tx: &mut Tx, org: Uuid, group: Uuid) -> Result<Vec<Uuid>, IdentityError> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_scalar(
            "SELECT member_id FROM scim_group_members WHERE org_id = $1 AND group_id = $2 AND member_type = 'User'",
        )
        .bind(org)
        .bind(group)
        .fetch_all(&mut *conn)
        .await
    })?)
}

/// The organization's SCIM groups, by name (the first 1,000), for a form
/// that picks one.
pub async fn groups(db: &Db, org: Uuid) -> Result<Vec<(Uuid, String)>, IdentityError> {
    Ok(on_db!(db, pool => {
        sqlx::query_as(
            "SELECT id, display_name FROM scim_groups WHERE org_id = $1 ORDER BY display_name_key LIMIT 1000",
        )
        .bind(org)
        .fetch_all(pool)
        .await
    })?)
}
