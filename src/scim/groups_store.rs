//! Storage of SCIM Groups and their memberships. Membership rows are the
//! truth for both Group `members` and User `groups`.

use std::collections::HashMap;

use uuid::Uuid;

use super::error::ScimError;
use crate::identity::orgs::{self, Counted};
use crate::store::dynamic::{self, Arg, PageOrder, SqlParts};
use crate::store::page_anchors::PageAnchors;
use crate::store::{Db, StoreError, Timestamp, Tx};
use crate::{on_db, on_tx};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct GroupRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub display_name: String,
    pub external_id: Option<String>,
    pub scim_doc: String,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The column list, as a macro so that query texts can be built with
/// `concat!` at compile time rather than formatted at run time.
macro_rules! columns {
    () => {
        "r.id, r.org_id, r.display_name, r.external_id, r.scim_doc, r.version, r.created_at, r.updated_at"
    };
}

const COLUMNS: &str = columns!();

/// A member of a group, as rendered.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRef {
    pub group_id: Uuid,
    pub member_type: String,
    pub member_id: Uuid,
    pub display: Option<String>,
}

fn taken(name: &str) -> ScimError {
    ScimError::uniqueness(format!(
        "a group named `{name}` already exists in this organization"
    ))
}

fn map_unique(e: sqlx::Error, name: &str) -> ScimError {
    let e = StoreError::from(e);
    if e.is_unique_violation() {
        taken(name)
    } else {
        ScimError::internal(e)
    }
}

pub struct GroupWrite<'a> {
    pub display_name: &'a str,
    pub external_id: Option<&'a str>,
    pub doc: &'a str,
}

pub async fn insert(
    tx: &mut Tx,
    org_id: Uuid,
    w: &GroupWrite<'_>,
    now: Timestamp,
) -> Result<GroupRow, ScimError> {
    let id = Uuid::now_v7();
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO scim_groups (id, org_id, display_name, display_name_key, external_id, scim_doc, version, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
        )
        .bind(id)
        .bind(org_id)
        .bind(w.display_name)
        .bind(w.display_name.to_lowercase())
        .bind(w.external_id)
        .bind(w.doc)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })
    .map_err(|e| map_unique(e, w.display_name))?;
    orgs::bump_count(tx, org_id, Counted::Groups, 1).await?;
    get_in(tx, org_id, id)
        .await?
        .ok_or_else(|| ScimError::not_found("Group"))
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<GroupRow>, ScimError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM scim_groups r WHERE r.org_id = $1 AND r.id = $2"
    );
    Ok(on_db!(db, pool => sqlx::query_as(sql).bind(org_id).bind(id).fetch_optional(pool).await)?)
}

pub async fn get_in(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<Option<GroupRow>, ScimError> {
    let sql = crate::locking_select!(
        tx,
        "SELECT ",
        columns!(),
        " FROM scim_groups r WHERE r.org_id = $1 AND r.id = $2"
    );
    Ok(
        on_tx!(tx, conn => sqlx::query_as(sql).bind(org_id).bind(id).fetch_optional(&mut *conn).await)?,
    )
}

pub async fn replace(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    w: &GroupWrite<'_>,
    now: Timestamp,
) -> Result<GroupRow, ScimError> {
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
    get_in(tx, org_id, id)
        .await?
        .ok_or_else(|| ScimError::not_found("Group"))
}

/// Deletes a group and its memberships, and removes it from groups it was
/// a member of.
pub async fn delete(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<(), ScimError> {
    remove_member_everywhere(tx, org_id, id).await?;
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM scim_group_members WHERE group_id = $1 AND org_id = $2")
            .bind(id)
            .bind(org_id)
            .execute(&mut *conn)
            .await?;
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

/// Drops a user or group from every group it belongs to.
pub async fn remove_member_everywhere(
    tx: &mut Tx,
    org_id: Uuid,
    member_id: Uuid,
) -> Result<(), ScimError> {
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM scim_group_members WHERE member_id = $1 AND org_id = $2")
            .bind(member_id)
            .bind(org_id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// A member to store: its type, id and the display name the client gave.
#[derive(Clone, Debug)]
pub struct NewMember {
    pub kind: &'static str,
    pub id: Uuid,
    pub display: Option<String>,
}

/// Adds members to a group. Each must be a live User or a Group of the
/// organization (not the group itself), and not a member already.
pub async fn add_members(
    tx: &mut Tx,
    org_id: Uuid,
    group_id: Uuid,
    members: &[NewMember],
) -> Result<(), ScimError> {
    for chunk in members.chunks(200) {
        let mut q = SqlParts::new();
        q.sql("INSERT INTO scim_group_members (org_id, group_id, member_type, member_id, display) VALUES ");
        for (i, NewMember { kind, id, display }) in chunk.iter().enumerate() {
            if *id == group_id {
                return Err(ScimError::invalid_value(
                    "a group cannot be a member of itself",
                ));
            }
            if i > 0 {
                q.sql(", ");
            }
            q.sql("(")
                .bind(Arg::Uuid(org_id))
                .sql(", ")
                .bind(Arg::Uuid(group_id));
            q.sql(", ")
                .bind(Arg::Text(kind.to_string()))
                .sql(", ")
                .bind(Arg::Uuid(*id))
                .sql(", ");
            match display {
                Some(d) => q.bind(Arg::Text(d.clone())),
                None => q.sql("NULL"),
            };
            q.sql(")");
        }
        on_tx!(tx, conn => q.build().build().execute(&mut *conn).await.map(|_| ()))?;
    }
    Ok(())
}

/// Removes members from a group.
pub async fn remove_members(
    tx: &mut Tx,
    group_id: Uuid,
    member_ids: &[Uuid],
) -> Result<(), ScimError> {
    for chunk in member_ids.chunks(500) {
        let mut q = SqlParts::new();
        q.sql("DELETE FROM scim_group_members WHERE group_id = ")
            .bind(Arg::Uuid(group_id))
            .sql(" AND member_id IN (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                q.sql(", ");
            }
            q.bind(Arg::Uuid(*id));
        }
        q.sql(")");
        on_tx!(tx, conn => q.build().build().execute(&mut *conn).await.map(|_| ()))?;
    }
    Ok(())
}

/// Sets the display name the client gave for one member.
pub async fn set_member_display(
    tx: &mut Tx,
    group_id: Uuid,
    member_id: Uuid,
    display: Option<&str>,
) -> Result<(), ScimError> {
    on_tx!(tx, conn => {
        sqlx::query("UPDATE scim_group_members SET display = $1 WHERE group_id = $2 AND member_id = $3")
            .bind(display)
            .bind(group_id)
            .bind(member_id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// The members of one group inside a write transaction: all of them, or
/// only those among `only` (a PATCH that names a few members of a large
/// group reads just those).
pub async fn members_in(
    tx: &mut Tx,
    org_id: Uuid,
    group_id: Uuid,
    only: Option<&[Uuid]>,
) -> Result<Vec<MemberRef>, ScimError> {
    let select = |ids: &[Uuid]| {
        let mut q = SqlParts::new();
        q.sql("SELECT m.group_id, m.member_type, m.member_id, m.display FROM scim_group_members m WHERE m.org_id = ")
            .bind(Arg::Uuid(org_id))
            .sql(" AND m.group_id = ")
            .bind(Arg::Uuid(group_id));
        if only.is_some() {
            q.sql(" AND m.member_id IN (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    q.sql(", ");
                }
                q.bind(Arg::Uuid(*id));
            }
            q.sql(")");
        }
        q.sql(" ORDER BY m.member_id");
        q
    };
    let chunks: Vec<&[Uuid]> = match only {
        None => vec![&[]],
        Some([]) => return Ok(Vec::new()),
        Some(ids) => ids.chunks(500).collect(),
    };
    let mut out = Vec::new();
    for chunk in chunks {
        let q = select(chunk);
        let rows: Vec<MemberRef> =
            on_tx!(tx, conn => q.build().build_query_as().fetch_all(&mut *conn).await)?;
        out.extend(rows);
    }
    if only.is_some_and(|ids| ids.len() > 500) {
        out.sort_by_key(|m| m.member_id);
    }
    Ok(out)
}

/// Which of `ids` are live users and which are groups of the organization.
pub async fn existing_members(
    tx: &mut Tx,
    org_id: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, &'static str>, ScimError> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(500) {
        for (select, kind, live) in [
            (
                "SELECT id FROM members WHERE org_id = ",
                "User",
                " AND deleted_at IS NULL",
            ),
            ("SELECT id FROM scim_groups WHERE org_id = ", "Group", ""),
        ] {
            let mut q = SqlParts::new();
            q.sql(select).bind(Arg::Uuid(org_id));
            q.sql(live).sql(" AND id IN (");
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    q.sql(", ");
                }
                q.bind(Arg::Uuid(*id));
            }
            q.sql(")");
            let rows: Vec<Uuid> =
                on_tx!(tx, conn => q.build().build_query_scalar().fetch_all(&mut *conn).await)?;
            for id in rows {
                found.insert(id, kind);
            }
        }
    }
    Ok(found)
}

/// The members of the given groups, with display names.
pub async fn members_of(
    db: &Db,
    org_id: Uuid,
    group_ids: &[Uuid],
) -> Result<Vec<MemberRef>, ScimError> {
    if group_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlParts::new();
    q.sql(
        "SELECT m.group_id, m.member_type, m.member_id, m.display FROM scim_group_members m WHERE m.org_id = ",
    );
    q.bind(Arg::Uuid(org_id)).sql(" AND m.group_id IN (");
    for (i, id) in group_ids.iter().enumerate() {
        if i > 0 {
            q.sql(", ");
        }
        q.bind(Arg::Uuid(*id));
    }
    q.sql(") ORDER BY m.group_id, m.member_id");
    Ok(on_db!(db, pool => q.build().build_query_as().fetch_all(pool).await)?)
}

/// The groups each of the given users is a direct member of:
/// (user id, group id, group displayName).
pub async fn groups_of(
    db: &Db,
    org_id: Uuid,
    user_ids: &[Uuid],
) -> Result<Vec<(Uuid, Uuid, String)>, ScimError> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlParts::new();
    q.sql(
        "SELECT m.member_id, g.id, g.display_name FROM scim_group_members m \
         JOIN scim_groups g ON g.id = m.group_id WHERE m.org_id = ",
    );
    q.bind(Arg::Uuid(org_id)).sql(" AND m.member_id IN (");
    for (i, id) in user_ids.iter().enumerate() {
        if i > 0 {
            q.sql(", ");
        }
        q.bind(Arg::Uuid(*id));
    }
    q.sql(") ORDER BY g.display_name");
    Ok(on_db!(db, pool => q.build().build_query_as().fetch_all(pool).await)?)
}

/// Groups of the organization matching `filter` (over `scim_groups r`),
/// one page, with the total count.
pub async fn search(
    db: &Db,
    anchors: &PageAnchors,
    org_id: Uuid,
    filter: Option<&SqlParts>,
    order: &PageOrder,
    limit: i64,
    offset: i64,
) -> Result<(Vec<GroupRow>, i64), ScimError> {
    let mut scope = SqlParts::new();
    scope
        .sql(" FROM scim_groups r WHERE r.org_id = ")
        .bind(Arg::Uuid(org_id));
    if let Some(f) = filter {
        scope.sql(" AND (").append(f.clone()).sql(")");
    }
    let known = match filter {
        None => Some(orgs::known_list(db, anchors, org_id, Counted::Groups).await?),
        Some(_) => None,
    };
    Ok(dynamic::fetch_page(
        db,
        "scim_groups r",
        COLUMNS,
        &scope,
        order,
        (limit, offset),
        known,
    )
    .await?)
}
