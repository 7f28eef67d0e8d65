//! Group memberships (`scim_group_members`): the one truth for both a
//! Group's `members` and a User's `groups`. A member is a live User or a
//! Group of the same organization, stored with the `display` its client
//! gave.

use std::collections::HashMap;

use uuid::Uuid;

use super::push_ids;
use crate::on_tx;
use crate::scim::error::ScimError;
use crate::store::dynamic::{Arg, SqlParts};
use crate::store::{Db, FromInPlace, Tx};

/// Ids per statement: well under SQLite's limit on bound values.
const IDS_PER_STATEMENT: usize = 500;

/// A member of a group, as rendered.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRef {
    pub group_id: Uuid,
    pub member_type: String,
    pub member_id: Uuid,
    pub display: Option<String>,
}

impl FromInPlace for MemberRef {
    fn from_in_place(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(MemberRef {
            group_id: r.get("group_id")?,
            member_type: r.get("member_type")?,
            member_id: r.get("member_id")?,
            display: r.get("display")?,
        })
    }
}

/// A member to store: its type, id and the display name the client gave.
#[derive(Clone, Debug)]
pub struct NewMember {
    pub kind: &'static str,
    pub id: Uuid,
    pub display: Option<String>,
}

/// Drops a user or group from every group it belongs to.
pub async fn leave_every_group(
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

/// Removes every member of a group.
pub async fn remove_all_of(tx: &mut Tx, org_id: Uuid, group_id: Uuid) -> Result<(), ScimError> {
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM scim_group_members WHERE group_id = $1 AND org_id = $2")
            .bind(group_id)
            .bind(org_id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// Adds members to a group. Each must be a live User or a Group of the
/// organization (not the group itself), and not a member already.
pub async fn add(
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
pub async fn remove(tx: &mut Tx, group_id: Uuid, member_ids: &[Uuid]) -> Result<(), ScimError> {
    for chunk in member_ids.chunks(IDS_PER_STATEMENT) {
        let mut q = SqlParts::new();
        q.sql("DELETE FROM scim_group_members WHERE group_id = ")
            .bind(Arg::Uuid(group_id))
            .sql(" AND member_id IN ");
        push_ids(&mut q, chunk);
        on_tx!(tx, conn => q.build().build().execute(&mut *conn).await.map(|_| ()))?;
    }
    Ok(())
}

/// Sets the display name the client gave for one member.
pub async fn set_display(
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
pub async fn of_group_in(
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
            q.sql(" AND m.member_id IN ");
            push_ids(&mut q, ids);
        }
        q.sql(" ORDER BY m.member_id");
        q
    };
    let chunks: Vec<&[Uuid]> = match only {
        None => vec![&[]],
        Some([]) => return Ok(Vec::new()),
        Some(ids) => ids.chunks(IDS_PER_STATEMENT).collect(),
    };
    let mut out = Vec::new();
    for chunk in chunks {
        let q = select(chunk);
        let rows: Vec<MemberRef> =
            on_tx!(tx, conn => q.build().build_query_as().fetch_all(&mut *conn).await)?;
        out.extend(rows);
    }
    if only.is_some_and(|ids| ids.len() > IDS_PER_STATEMENT) {
        out.sort_by_key(|m| m.member_id);
    }
    Ok(out)
}

/// Which of `ids` are live users and which are groups of the organization.
pub async fn existing(
    tx: &mut Tx,
    org_id: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, &'static str>, ScimError> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
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
            q.sql(live).sql(" AND id IN ");
            push_ids(&mut q, chunk);
            let rows: Vec<Uuid> =
                on_tx!(tx, conn => q.build().build_query_scalar().fetch_all(&mut *conn).await)?;
            for id in rows {
                found.insert(id, kind);
            }
        }
    }
    Ok(found)
}

/// The members of the given groups, by group.
pub async fn of_groups(
    db: &Db,
    org_id: Uuid,
    group_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<MemberRef>>, ScimError> {
    let mut out: HashMap<Uuid, Vec<MemberRef>> = HashMap::new();
    if group_ids.is_empty() {
        return Ok(out);
    }
    let mut q = SqlParts::new();
    q.sql(
        "SELECT m.group_id, m.member_type, m.member_id, m.display FROM scim_group_members m WHERE m.org_id = ",
    );
    q.bind(Arg::Uuid(org_id)).sql(" AND m.group_id IN ");
    push_ids(&mut q, group_ids);
    q.sql(" ORDER BY m.group_id, m.member_id");
    let rows: Vec<MemberRef> = match q.fetch_in_place(db) {
        Some(rows) => rows?,
        None => crate::on_db_held!(db, pool => q.build().build_query_as().fetch_all(pool).await)?,
    };
    for m in rows {
        out.entry(m.group_id).or_default().push(m);
    }
    Ok(out)
}

/// The groups each of the given users is a direct member of, by user:
/// (group id, group displayName), by displayName.
pub async fn groups_of(
    db: &Db,
    org_id: Uuid,
    user_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<(Uuid, String)>>, ScimError> {
    let mut out: HashMap<Uuid, Vec<(Uuid, String)>> = HashMap::new();
    if user_ids.is_empty() {
        return Ok(out);
    }
    let mut q = SqlParts::new();
    q.sql(
        "SELECT m.member_id, g.id, g.display_name FROM scim_group_members m \
         JOIN scim_groups g ON g.id = m.group_id WHERE m.org_id = ",
    );
    q.bind(Arg::Uuid(org_id)).sql(" AND m.member_id IN ");
    push_ids(&mut q, user_ids);
    q.sql(" ORDER BY g.display_name");
    let rows: Vec<(Uuid, Uuid, String)> = match q.fetch_in_place(db) {
        Some(rows) => rows?,
        None => crate::on_db_held!(db, pool => q.build().build_query_as().fetch_all(pool).await)?,
    };
    for (user, group, name) in rows {
        out.entry(user).or_default().push((group, name));
    }
    Ok(out)
}
