//! Workspaces of an organization. Deleting one is soft (the row stays for
//! the audit trail) and revokes its Service Access Tokens in the same
//! transaction.

use serde::Serialize;
use uuid::Uuid;

use super::{IdentityError, check_name};
use crate::store::{Db, Timestamp, Touched, Tx};
use crate::{on_db, on_tx, tokens};

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Workspace {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The column list, as a macro so that query texts can be built with
/// `concat!` at compile time rather than formatted at run time.
macro_rules! columns {
    () => {
        "id, org_id, name, created_at, updated_at"
    };
}

fn conflict(name: &str) -> impl FnOnce() -> String + '_ {
    move || format!("a workspace named `{name}` already exists")
}

pub async fn create(
    tx: &mut Tx,
    org_id: Uuid,
    name: &str,
    now: Timestamp,
) -> Result<Workspace, IdentityError> {
    let name = check_name("workspace", name)?;
    let ws = Workspace {
        id: Uuid::now_v7(),
        org_id,
        name,
        created_at: now,
        updated_at: now,
    };
    on_tx!(tx, conn => {
        sqlx::query("INSERT INTO workspaces (id, org_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
            .bind(ws.id)
            .bind(org_id)
            .bind(&ws.name)
            .bind(now)
            .execute(&mut *conn)
            .await.map(|r| r.rows_affected())
    })
    .map_err(|e| IdentityError::conflict_on_unique(e, conflict(&ws.name)))?;
    Ok(ws)
}

pub async fn list(db: &Db, org_id: Uuid) -> Result<Vec<Workspace>, IdentityError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM workspaces WHERE org_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
    );
    Ok(on_db!(db, pool => sqlx::query_as(sql).bind(org_id).fetch_all(pool).await)?)
}

/// A live workspace of the organization, by id or name.
pub async fn find(
    db: &Db,
    org_id: Uuid,
    name_or_id: &str,
) -> Result<Option<Workspace>, IdentityError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM workspaces WHERE org_id = $1 AND deleted_at IS NULL AND (id = $2 OR name = $3)"
    );
    let id = Uuid::parse_str(name_or_id).unwrap_or(Uuid::nil());
    Ok(on_db!(db, pool => {
        sqlx::query_as(sql).bind(org_id).bind(id).bind(name_or_id).fetch_optional(pool).await
    })?)
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Workspace, IdentityError> {
    find(db, org_id, &id.to_string())
        .await?
        .ok_or(IdentityError::NotFound("workspace"))
}

/// The live workspace, read inside a write transaction (so that a token is
/// never created for a workspace being deleted at the same moment).
pub async fn get_in(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<Workspace, IdentityError> {
    let sql = crate::locking_select!(
        tx,
        "SELECT ",
        columns!(),
        " FROM workspaces WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL"
    );
    let ws: Option<Workspace> = on_tx!(tx, conn => {
        sqlx::query_as(sql).bind(org_id).bind(id).fetch_optional(&mut *conn).await
    })?;
    ws.ok_or(IdentityError::NotFound("workspace"))
}

pub async fn rename(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    name: &str,
    now: Timestamp,
) -> Result<Workspace, IdentityError> {
    let name = check_name("workspace", name)?;
    let mut ws = get_in(tx, org_id, id).await?;
    on_tx!(tx, conn => {
        sqlx::query("UPDATE workspaces SET name = $1, updated_at = $2 WHERE id = $3 AND org_id = $4")
            .bind(&name)
            .bind(now)
            .bind(id)
            .bind(org_id)
            .execute(&mut *conn)
            .await.map(|r| r.rows_affected())
    })
    .map_err(|e| IdentityError::conflict_on_unique(e, conflict(&name)))?;
    ws.name = name;
    ws.updated_at = now;
    Ok(ws)
}

/// Deletes the workspace and revokes its tokens. Returns the workspace and
/// the ids of the tokens revoked.
pub async fn delete(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    now: Timestamp,
) -> Result<(Workspace, Vec<String>), IdentityError> {
    let ws = get_in(tx, org_id, id).await?;
    on_tx!(tx, conn => {
        sqlx::query("UPDATE workspaces SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND org_id = $3")
            .bind(now)
            .bind(id)
            .bind(org_id)
            .execute(&mut *conn)
            .await.map(|r| r.rows_affected())
    })?;
    tx.touch(Touched::Workspace(id));
    let revoked = tokens::revoke_for_workspace(tx, id, "workspace deleted", now).await?;
    Ok((ws, revoked))
}
