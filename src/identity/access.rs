//! A member's effective access: the union of their direct role and
//! workspace permissions and of what their SCIM groups are mapped to
//! ([`super::group_mappings`]), nothing at all while they are inactive.
//!
//! The effective access is kept on the member's row (`access_role`,
//! `access_workspaces`) and recomputed by [`refresh`] in the transaction
//! that changes one of its sources, so that checking a credential reads it
//! with the member's row and no further query. `refresh` answers with the
//! members whose access did change, before and after, for their
//! `member.access_change` records; it notes each as touched, so that this
//! instance's token cache forgets them at commit.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use uuid::Uuid;

use super::IdentityError;
use crate::permissions::{Access, PermissionSet, Role};
use crate::store::dynamic::{Arg, SqlParts};
use crate::store::{Db, FromInPlace, Timestamp, Touched, Tx};
use crate::{on_db, on_tx};

/// Ids per statement: well under SQLite's limit on bound values.
const IDS_PER_STATEMENT: usize = 500;

/// Where a grant comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// Given to the member by hand.
    Direct,
    /// Held through membership of a mapped SCIM group.
    GroupMapping {
        mapping_id: Uuid,
        group_id: Uuid,
        group: String,
    },
}

/// One grant of workspace permissions, with its source.
#[derive(Clone, Debug, Serialize)]
pub struct WorkspaceGrant {
    pub workspace_id: Uuid,
    pub permissions: Vec<String>,
    pub source: Source,
}

/// A member's grants: every source of their access.
#[derive(Clone, Debug, Serialize)]
pub struct Grants {
    pub direct_role: Role,
    pub active: bool,
    /// The group mappings that make the member an admin.
    pub admin_from: Vec<Source>,
    pub workspaces: Vec<WorkspaceGrant>,
}

impl Grants {
    /// The effective access these grants add up to.
    pub fn effective(&self) -> Access {
        if !self.active {
            return Access::none();
        }
        let role = if self.direct_role == Role::Admin || !self.admin_from.is_empty() {
            Role::Admin
        } else {
            Role::Member
        };
        let mut workspaces: BTreeMap<Uuid, PermissionSet> = BTreeMap::new();
        for g in &self.workspaces {
            workspaces
                .entry(g.workspace_id)
                .or_default()
                .extend(&PermissionSet::from_stored(&g.permissions.join(" ")));
        }
        Access::of_role(role, workspaces)
    }
}

/// The effective access as stored on a member's row.
pub fn stored(role: Role, access_role: Option<&str>, access_workspaces: Option<&str>) -> Access {
    Access::from_row(role, access_role, access_workspaces)
}

/// An effective access that changed.
#[derive(Clone, Debug)]
pub struct AccessChange {
    pub member_id: Uuid,
    pub user_name: String,
    /// Whether the member is active (an inactive one holds nothing).
    pub active: bool,
    pub before: Access,
    pub after: Access,
    /// The member would have lost admin and left the organization without
    /// an active admin, so keeps it (see [`refresh_keeping_an_admin`]).
    pub kept_as_last_admin: bool,
}

impl AccessChange {
    /// Whether the member was an admin and is no longer.
    pub fn loses_admin(&self) -> bool {
        self.before.role == Role::Admin && self.after.role != Role::Admin
    }
}

/// The record's view of an access: role and workspace permissions.
pub fn describe(access: &Access) -> serde_json::Value {
    serde_json::json!({
        "role": access.role,
        "workspace_permissions": access.workspaces.iter().map(|(w, p)| {
            serde_json::json!({ "workspace_id": w, "permissions": p.names() })
        }).collect::<Vec<_>>(),
    })
}

/// The `changes` of a `member.access_change` record: its cause (what the
/// edge knows of it), the access before and after.
pub fn change_summary(c: &AccessChange, cause: serde_json::Value) -> serde_json::Value {
    let mut v = serde_json::json!({
        "cause": cause,
        "before": describe(&c.before),
        "after": describe(&c.after),
    });
    if c.kept_as_last_admin {
        v["kept_as_last_admin"] = true.into();
    }
    v
}

/// A member as the access refresh reads it (`members_sql`'s columns).
#[derive(sqlx::FromRow)]
pub(super) struct MemberRow {
    id: Uuid,
    user_name: String,
    role: String,
    active: bool,
    deleted_at: Option<Timestamp>,
    access_role: Option<String>,
    access_workspaces: Option<String>,
    /// The statement that returned this row also stored [`Access::none`]
    /// as the member's access, and returned the access columns as they
    /// were before it (a deactivation on PostgreSQL, see
    /// `scim_users::replace`): the refresh records the change and writes
    /// nothing more when that is what it computes. Never set by a read.
    #[sqlx(default)]
    stored_none: bool,
}

/// The access columns a statement binds when it stores [`Access::none`]
/// beside other columns (see [`MemberRow::stored_none`]).
pub(super) fn none_stored() -> (&'static str, String) {
    let none = Access::none();
    (none.role.as_str(), none.workspaces_to_stored())
}

#[derive(sqlx::FromRow)]
struct DirectRow {
    member_id: Uuid,
    workspace_id: Uuid,
    permissions: String,
}

#[derive(sqlx::FromRow)]
struct MappedRow {
    member_id: Uuid,
    mapping_id: Uuid,
    group_id: Uuid,
    group_name: String,
    role: Option<String>,
    workspace_id: Option<Uuid>,
    permissions: Option<String>,
}

impl FromInPlace for MemberRow {
    fn from_in_place(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(MemberRow {
            id: r.get("id")?,
            user_name: r.get("user_name")?,
            role: r.get("role")?,
            active: r.get("active")?,
            deleted_at: r.get("deleted_at")?,
            access_role: r.get("access_role")?,
            access_workspaces: r.get("access_workspaces")?,
            stored_none: false,
        })
    }
}

impl FromInPlace for DirectRow {
    fn from_in_place(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(DirectRow {
            member_id: r.get("member_id")?,
            workspace_id: r.get("workspace_id")?,
            permissions: r.get("permissions")?,
        })
    }
}

impl FromInPlace for MappedRow {
    fn from_in_place(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(MappedRow {
            member_id: r.get("member_id")?,
            mapping_id: r.get("mapping_id")?,
            group_id: r.get("group_id")?,
            group_name: r.get("group_name")?,
            role: r.get("role")?,
            workspace_id: r.get("workspace_id")?,
            permissions: r.get("permissions")?,
        })
    }
}

fn push_ids(q: &mut SqlParts, ids: &[Uuid]) {
    q.sql("(");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.sql(", ");
        }
        q.bind(Arg::Uuid(*id));
    }
    q.sql(")");
}

fn members_sql(org: Uuid, ids: &[Uuid]) -> SqlParts {
    let mut q = SqlParts::new();
    q.sql(
        "SELECT id, user_name, role, active, deleted_at, access_role, access_workspaces \
         FROM members WHERE org_id = ",
    )
    .bind(Arg::Uuid(org))
    .sql(" AND id IN ");
    push_ids(&mut q, ids);
    q
}

fn direct_sql(org: Uuid, ids: &[Uuid]) -> SqlParts {
    let mut q = SqlParts::new();
    q.sql(
        "SELECT p.member_id, p.workspace_id, p.permissions FROM member_workspace_permissions p \
         JOIN workspaces w ON w.id = p.workspace_id AND w.deleted_at IS NULL WHERE p.org_id = ",
    )
    .bind(Arg::Uuid(org))
    .sql(" AND p.member_id IN ");
    push_ids(&mut q, ids);
    q.sql(" ORDER BY p.workspace_id");
    q
}

fn mapped_sql(org: Uuid, ids: &[Uuid]) -> SqlParts {
    let mut q = SqlParts::new();
    q.sql(
        "SELECT sgm.member_id, gm.id AS mapping_id, gm.group_id, g.display_name AS group_name, \
         gm.role, gm.workspace_id, gm.permissions \
         FROM scim_group_members sgm \
         JOIN group_mappings gm ON gm.group_id = sgm.group_id \
         JOIN scim_groups g ON g.id = gm.group_id \
         LEFT JOIN workspaces w ON w.id = gm.workspace_id \
         WHERE sgm.org_id = ",
    )
    .bind(Arg::Uuid(org))
    .sql(" AND (gm.workspace_id IS NULL OR w.deleted_at IS NULL) AND sgm.member_id IN ");
    push_ids(&mut q, ids);
    q.sql(" ORDER BY gm.created_at, gm.id");
    q
}

/// The rows behind some members' grants.
#[derive(Default)]
struct Rows {
    members: Vec<MemberRow>,
    direct: Vec<DirectRow>,
    mapped: Vec<MappedRow>,
}

impl Rows {
    fn grants(self) -> Vec<(MemberRow, Grants)> {
        let mut by_member: HashMap<Uuid, Grants> = HashMap::new();
        for m in &self.members {
            by_member.insert(
                m.id,
                Grants {
                    direct_role: Role::parse(&m.role).unwrap_or(Role::Member),
                    active: m.active && m.deleted_at.is_none(),
                    admin_from: Vec::new(),
                    workspaces: Vec::new(),
                },
            );
        }
        for d in self.direct {
            if let Some(g) = by_member.get_mut(&d.member_id) {
                g.workspaces.push(WorkspaceGrant {
                    workspace_id: d.workspace_id,
                    permissions: PermissionSet::from_stored(&d.permissions).names(),
                    source: Source::Direct,
                });
            }
        }
        for m in self.mapped {
            let Some(g) = by_member.get_mut(&m.member_id) else {
                continue;
            };
            let source = Source::GroupMapping {
                mapping_id: m.mapping_id,
                group_id: m.group_id,
                group: m.group_name,
            };
            if m.role.as_deref() == Some(Role::Admin.as_str()) {
                g.admin_from.push(source);
            } else if let (Some(w), Some(p)) = (m.workspace_id, m.permissions) {
                g.workspaces.push(WorkspaceGrant {
                    workspace_id: w,
                    permissions: PermissionSet::from_stored(&p).names(),
                    source,
                });
            }
        }
        self.members
            .into_iter()
            .filter_map(|m| {
                let g = by_member.remove(&m.id)?;
                Some((m, g))
            })
            .collect()
    }
}

/// The grants of the given members (live or not), read outside a write.
pub async fn grants(
    db: &Db,
    org: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Grants>, IdentityError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let (m, d, p) = (
            members_sql(org, chunk),
            direct_sql(org, chunk),
            mapped_sql(org, chunk),
        );
        let rows = on_db!(db, pool => {
            Ok::<_, sqlx::Error>(Rows {
                members: m.build().build_query_as().fetch_all(pool).await?,
                direct: d.build().build_query_as().fetch_all(pool).await?,
                mapped: p.build().build_query_as().fetch_all(pool).await?,
            })
        })?;
        out.extend(rows.grants().into_iter().map(|(m, g)| (m.id, g)));
    }
    Ok(out)
}

/// Recomputes the effective access of the given members inside a write,
/// stores what changed and answers with those changes.
pub async fn refresh(
    tx: &mut Tx,
    org: Uuid,
    ids: &[Uuid],
) -> Result<Vec<AccessChange>, IdentityError> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut changes = Vec::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        // The rows the change already holds (see `Tx::take_known`), and
        // the others read.
        let mut members: Vec<MemberRow> = Vec::new();
        let mut unknown = Vec::new();
        for id in chunk {
            match tx.take_known::<MemberRow>(*id) {
                Some(row) => members.push(row),
                None => unknown.push(*id),
            }
        }
        if !unknown.is_empty() {
            members.extend(
                tx.fetch_parts::<MemberRow>(&members_sql(org, &unknown))
                    .await?,
            );
        }
        // An inactive or deleted member holds nothing whatever their
        // grants (see [`Grants::effective`]): a deactivation reads none.
        let holding: Vec<Uuid> = members
            .iter()
            .filter(|m| m.active && m.deleted_at.is_none())
            .map(|m| m.id)
            .collect();
        let rows = if holding.is_empty() {
            Rows {
                members,
                ..Rows::default()
            }
        } else {
            let (d, p) = (direct_sql(org, &holding), mapped_sql(org, &holding));
            Rows {
                members,
                direct: tx.fetch_parts(&d).await?,
                mapped: tx.fetch_parts(&p).await?,
            }
        };
        for (row, grants) in rows.grants() {
            let grants: Grants = grants;
            let role = Role::parse(&row.role).unwrap_or(Role::Member);
            let before = stored(
                role,
                row.access_role.as_deref(),
                row.access_workspaces.as_deref(),
            );
            let after = grants.effective();
            let unchanged = before == after && row.access_role.is_some();
            if unchanged {
                continue;
            }
            // Already stored by the statement that returned the row: on
            // PostgreSQL every statement is a round trip in the shared
            // transaction's turn.
            if !(row.stored_none && after == Access::none()) {
                let workspaces = after.workspaces_to_stored();
                crate::tx_execute!(
                    tx,
                    "UPDATE members SET access_role = $1, access_workspaces = $2 WHERE id = $3",
                    after.role.as_str(),
                    workspaces,
                    row.id
                )?;
            }
            tx.touch(Touched::Member(row.id));
            if before != after {
                changes.push(AccessChange {
                    member_id: row.id,
                    user_name: row.user_name,
                    active: grants.active,
                    before,
                    after,
                    kept_as_last_admin: false,
                });
            }
        }
    }
    Ok(changes)
}

/// [`refresh`], with the last-admin rule: a change that would leave the
/// organization without an active admin still happens, but the active
/// members who would lose admin through it keep admin, as a direct role.
/// The identity provider stays the source of the directory; the
/// organization is never locked out of its own console by it.
pub async fn refresh_keeping_an_admin(
    tx: &mut Tx,
    org: Uuid,
    ids: &[Uuid],
) -> Result<Vec<AccessChange>, IdentityError> {
    let mut changes = refresh(tx, org, ids).await?;
    if !changes.iter().any(AccessChange::loses_admin) || active_admins_in(tx, org).await? > 0 {
        return Ok(changes);
    }
    let keep: Vec<Uuid> = changes
        .iter()
        .filter(|c| c.loses_admin() && c.active)
        .map(|c| c.member_id)
        .collect();
    for m in &keep {
        keep_as_admin(tx, org, *m).await?;
    }
    let again = refresh(tx, org, &keep).await?;
    for c in changes.iter_mut().filter(|c| keep.contains(&c.member_id)) {
        if let Some(a) = again.iter().find(|a| a.member_id == c.member_id) {
            c.after = a.after.clone();
        }
        c.kept_as_last_admin = true;
    }
    Ok(changes)
}

/// Replaces a member's direct workspace permissions (`None` or an empty set
/// removes them). Call [`refresh`] afterwards.
pub async fn set_direct(
    tx: &mut Tx,
    org: Uuid,
    member: Uuid,
    grants: &[(Uuid, PermissionSet)],
) -> Result<(), IdentityError> {
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM member_workspace_permissions WHERE org_id = $1 AND member_id = $2")
            .bind(org)
            .bind(member)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    for (workspace, perms) in grants.iter().filter(|(_, p)| !p.is_empty()) {
        on_tx!(tx, conn => {
            sqlx::query(
                "INSERT INTO member_workspace_permissions (org_id, member_id, workspace_id, permissions) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(org)
            .bind(member)
            .bind(*workspace)
            .bind(perms.to_stored())
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })?;
    }
    Ok(())
}

/// Removes the direct grants and group mappings of a workspace being
/// deleted; answers with the members who held permissions in it, whose
/// access the caller then refreshes.
pub async fn forget_workspace(
    tx: &mut Tx,
    org: Uuid,
    workspace: Uuid,
) -> Result<Vec<Uuid>, IdentityError> {
    let holders: Vec<Uuid> = on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT id FROM members WHERE org_id = $1 AND access_workspaces LIKE $2")
            .bind(org)
            .bind(format!("%{workspace}%"))
            .fetch_all(&mut *conn)
            .await
    })?;
    for sql in [
        "DELETE FROM member_workspace_permissions WHERE org_id = $1 AND workspace_id = $2",
        "DELETE FROM group_mappings WHERE org_id = $1 AND workspace_id = $2",
    ] {
        on_tx!(tx, conn => {
            sqlx::query(sql).bind(org).bind(workspace).execute(&mut *conn).await.map(|_| ())
        })?;
    }
    Ok(holders)
}

/// Active members of the organization whose effective role is admin,
/// counted inside a write.
pub async fn active_admins_in(tx: &mut Tx, org: Uuid) -> Result<i64, IdentityError> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM members WHERE org_id = $1 AND active = $2 AND deleted_at IS NULL \
             AND COALESCE(access_role, role) = 'admin'",
        )
        .bind(org)
        .bind(true)
        .fetch_one(&mut *conn)
        .await
    })?)
}

/// Makes a member an admin by direct role (the last-admin rule of
/// [`refresh_keeping_an_admin`]), without touching anything else.
async fn keep_as_admin(tx: &mut Tx, org: Uuid, member: Uuid) -> Result<(), IdentityError> {
    on_tx!(tx, conn => {
        sqlx::query("UPDATE members SET role = 'admin' WHERE org_id = $1 AND id = $2")
            .bind(org)
            .bind(member)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(direct: Role, active: bool) -> Grants {
        Grants {
            direct_role: direct,
            active,
            admin_from: Vec::new(),
            workspaces: Vec::new(),
        }
    }

    #[test]
    fn effective_access_is_the_union_of_grants() {
        let w = Uuid::new_v4();
        let mapping = Source::GroupMapping {
            mapping_id: Uuid::new_v4(),
            group_id: Uuid::new_v4(),
            group: "g".into(),
        };
        let mut g = grants(Role::Member, true);
        g.workspaces.push(WorkspaceGrant {
            workspace_id: w,
            permissions: vec!["sources:read".into()],
            source: Source::Direct,
        });
        g.workspaces.push(WorkspaceGrant {
            workspace_id: w,
            permissions: vec!["transformations:edit".into()],
            source: mapping.clone(),
        });
        assert_eq!(g.effective().role, Role::Member);
        assert_eq!(
            g.effective().workspaces[&w].names(),
            ["sources:read", "transformations:edit"]
        );
        g.admin_from.push(mapping);
        assert_eq!(g.effective().role, Role::Admin);
        g.active = false;
        assert_eq!(g.effective(), Access::none());
    }

    #[test]
    fn a_row_never_recomputed_holds_its_direct_role() {
        assert_eq!(stored(Role::Admin, None, None).role, Role::Admin);
        assert_eq!(
            stored(Role::Member, Some("admin"), Some("")).role,
            Role::Admin
        );
        assert_eq!(stored(Role::Admin, Some("member"), None), Access::none());
    }
}
