//! SCIM Groups' rows (`scim_groups`): the group's columns and its stored
//! document. Its memberships are in [`super::memberships`].

use super::{Meta, memberships, stored_row, written};
use crate::identity::orgs::{self, Counted};
use crate::on_tx;
use crate::scim::error::ScimError;
use crate::store::{FromInPlace, InOrder, StoreError, Timestamp, Tx};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct GroupRow {
    #[sqlx(flatten)]
    pub meta: Meta,
    pub display_name: String,
    pub external_id: Option<String>,
    pub scim_doc: String,
}

stored_row! {
    GroupRow in "scim_groups r" where live "", Counted::Groups,
    columns "r.display_name, r.external_id, r.scim_doc",
}

impl FromInPlace for GroupRow {
    fn from_in_place(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let r = &mut InOrder::new(r);
        Ok(GroupRow {
            meta: Meta::in_place(r)?,
            display_name: r.get("display_name")?,
            external_id: r.get("external_id")?,
            scim_doc: r.get("scim_doc")?,
        })
    }
}

/// What a SCIM write sets on a group.
pub struct GroupWrite<'a> {
    pub display_name: &'a str,
    pub external_id: Option<&'a str>,
    /// The normalized document as JSON text, without its columns and
    /// members.
    pub doc: &'a str,
}

fn map_unique(e: sqlx::Error, name: &str) -> ScimError {
    let e = StoreError::from(e);
    if e.is_unique_violation() {
        ScimError::uniqueness(format!(
            "a group named `{name}` already exists in this organization"
        ))
    } else {
        ScimError::internal(e)
    }
}

/// Inserts a new group: `row` is [`Meta::new`].
pub async fn insert(tx: &mut Tx, row: &Meta, w: &GroupWrite<'_>) -> Result<GroupRow, ScimError> {
    let Meta { id, org_id, .. } = *row;
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO scim_groups (id, org_id, display_name, display_name_key, external_id, scim_doc, version, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(org_id)
        .bind(w.display_name)
        .bind(w.display_name.to_lowercase())
        .bind(w.external_id)
        .bind(w.doc)
        .bind(row.version)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })
    .map_err(|e| map_unique(e, w.display_name))?;
    orgs::bump_count(tx, org_id, Counted::Groups, 1).await?;
    written(tx, org_id, id, "Group").await
}

pub async fn replace(
    tx: &mut Tx,
    row: &Meta,
    w: &GroupWrite<'_>,
    now: Timestamp,
) -> Result<GroupRow, ScimError> {
    let Meta { org_id, id, .. } = *row;
    on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE scim_groups SET display_name = $1, display_name_key = $2, external_id = $3, scim_doc = $4, \
             version = version + 1, updated_at = $5 WHERE id = $6 AND org_id = $7",
        )
        .bind(w.display_name)
        .bind(w.display_name.to_lowercase())
        .bind(w.external_id)
        .bind(w.doc)
        .bind(now)
        .bind(id)
        .bind(org_id)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })
    .map_err(|e| map_unique(e, w.display_name))?;
    written(tx, org_id, id, "Group").await
}

/// Deletes a group with its memberships, and takes it out of the groups it
/// was a member of.
pub async fn delete(tx: &mut Tx, row: &Meta) -> Result<(), ScimError> {
    let Meta { org_id, id, .. } = *row;
    memberships::leave_every_group(tx, org_id, id).await?;
    memberships::remove_all_of(tx, org_id, id).await?;
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM scim_groups WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org_id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    orgs::bump_count(tx, org_id, Counted::Groups, -1).await?;
    Ok(())
}
