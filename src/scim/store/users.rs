//! SCIM Users' rows: members of the organization (`members`) with their
//! SCIM document, external id and version. Read here like Groups' rows;
//! written through [`crate::identity::scim_users`], which keeps a member's
//! lifecycle rules (see the [module](super) for why).

use uuid::Uuid;

use super::{Meta, Page, stored_row};
use crate::identity::members::RoleColumn;
use crate::identity::orgs::Counted;
use crate::scim::error::ScimError;

use crate::store::dynamic::Dialect;
use crate::store::page_anchors::PageAnchors;
use crate::store::{Db, FromInPlace, InOrder, Tx, unconverted};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ScimUserRow {
    #[sqlx(flatten)]
    pub meta: Meta,
    pub user_name: String,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    /// The member's org role (`admin` or `member`): SCIM never sets it,
    /// but it decides what SCIM may change (an admin's password, never).
    #[sqlx(try_from = "String")]
    pub role: RoleColumn,
    pub scim_doc: Option<String>,
}

stored_row! {
    ScimUserRow in "members r" where live " AND r.deleted_at IS NULL", Counted::Members,
    columns user_columns!(),
}

/// A user's own columns, in the order [`ScimUserRow`] reads them in place.
macro_rules! user_columns {
    () => {
        "r.user_name, r.display_name, r.external_id, r.active, r.role, r.scim_doc"
    };
}
use user_columns;

/// A user with its groups, read in one statement (see [`with_groups`]).
#[derive(sqlx::FromRow)]
struct UserWithGroups {
    #[sqlx(flatten)]
    row: ScimUserRow,
    /// `[[group id, displayName], …]` as JSON, by displayName; NULL for none.
    groups: Option<String>,
}

/// The user's columns and its groups (`groups`), per backend, as
/// compile-time texts: `with_groups!(columns sqlite)` for a page,
/// `with_groups!(by_id sqlite)` for one user. The groups column: SQLite
/// has no UUID type, so its ids are hex.
macro_rules! with_groups {
    (columns sqlite) => {
        with_groups!(@columns
            "json_group_array(json_array(lower(hex(g.id)), g.display_name) ORDER BY g.display_name)")
    };
    (columns postgres) => {
        with_groups!(@columns
            "json_agg(json_build_array(g.id, g.display_name) ORDER BY g.display_name)::text")
    };
    (by_id $backend:ident) => {
        concat!(
            "SELECT ",
            with_groups!(columns $backend),
            " FROM members r WHERE r.org_id = $1 AND r.id = $2 AND r.deleted_at IS NULL"
        )
    };
    (@columns $aggregate:literal) => {
        concat!(
            super::row_columns!(user_columns!()),
            ", (SELECT ",
            $aggregate,
            " FROM scim_group_members m JOIN scim_groups g ON g.id = m.group_id \
             WHERE m.org_id = r.org_id AND m.member_id = r.id) AS groups"
        )
    };
}

impl ScimUserRow {
    /// The row's columns, in the order of [`user_columns`] (a struct's
    /// fields are evaluated in the order written).
    fn in_order(r: &mut InOrder<'_, '_>) -> rusqlite::Result<Self> {
        Ok(ScimUserRow {
            meta: Meta::in_place(r)?,
            user_name: r.get("user_name")?,
            display_name: r.get("display_name")?,
            external_id: r.get("external_id")?,
            active: r.get("active")?,
            role: RoleColumn::try_from(r.get::<String>("role")?)
                .map_err(|e| unconverted("role", e))?,
            scim_doc: r.get("scim_doc")?,
        })
    }
}

impl FromInPlace for ScimUserRow {
    fn from_in_place(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Self::in_order(&mut InOrder::new(r))
    }
}

impl FromInPlace for UserWithGroups {
    fn from_in_place(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let mut r = InOrder::new(r);
        Ok(UserWithGroups {
            row: ScimUserRow::in_order(&mut r)?,
            groups: r.get("groups")?,
        })
    }
}

/// One live user and the groups it is a direct member of, in one round
/// trip: the read every `GET /Users/{id}` makes.
pub async fn with_groups(
    db: &Db,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<(ScimUserRow, Vec<(Uuid, String)>)>, ScimError> {
    let sql = match Dialect::of(db) {
        Dialect::Sqlite => with_groups!(by_id sqlite),
        Dialect::Postgres => with_groups!(by_id postgres),
    };
    let found: Option<UserWithGroups> = match db.fetch_in_place(sql, (org_id, id)) {
        Some(found) => found?.pop(),
        None => {
            crate::on_db_held!(db, pool => sqlx::query_as(sql).bind(org_id).bind(id).fetch_optional(pool).await)?
        }
    };
    let Some(found) = found else {
        return Ok(None);
    };
    Ok(Some(found.split()?))
}

/// One live user and its groups, the user locked for the transaction's
/// change (`FOR UPDATE OF r` on PostgreSQL: the groups are read, not
/// locked; on SQLite the writers' turn is the lock). A user's own writes
/// never change its groups (`groups` is read-only on a User), so the
/// write's answer shows these.
pub async fn lock_with_groups(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<(ScimUserRow, Vec<(Uuid, String)>)>, ScimError> {
    let sql = if tx.is_sqlite() {
        with_groups!(by_id sqlite)
    } else {
        concat!(with_groups!(by_id postgres), " FOR UPDATE OF r")
    };
    match crate::tx_fetch!(tx, UserWithGroups, sql, org_id, id)?.pop() {
        Some(found) => Ok(Some(found.split()?)),
        None => Ok(None),
    }
}

/// One page of a search of users, each with its groups, in one statement
/// (a page and then its groups were two: two round trips on PostgreSQL,
/// two read transactions on SQLite).
pub async fn search_with_groups(
    db: &Db,
    anchors: &PageAnchors,
    org_id: Uuid,
    page: &Page<'_>,
) -> Result<(Vec<(ScimUserRow, Vec<(Uuid, String)>)>, i64), ScimError> {
    let columns = match Dialect::of(db) {
        Dialect::Sqlite => with_groups!(columns sqlite),
        Dialect::Postgres => with_groups!(columns postgres),
    };
    let (found, total) =
        super::search_as::<ScimUserRow, UserWithGroups>(db, anchors, org_id, page, columns).await?;
    let rows = found
        .into_iter()
        .map(UserWithGroups::split)
        .collect::<Result<_, _>>()?;
    Ok((rows, total))
}

impl UserWithGroups {
    /// The row, and its groups decoded from the column.
    fn split(self) -> Result<(ScimUserRow, Vec<(Uuid, String)>), ScimError> {
        let pairs: Vec<(String, String)> = match self.groups.as_deref() {
            None => Vec::new(),
            Some(json) => serde_json::from_str(json).map_err(|e| {
                ScimError::internal(format!("a user's groups did not read back: {e}"))
            })?,
        };
        let groups = pairs
            .into_iter()
            .map(|(gid, name)| {
                Uuid::parse_str(&gid)
                    .map(|gid| (gid, name))
                    .map_err(|e| ScimError::internal(format!("a group id did not read back: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok((self.row, groups))
    }
}
