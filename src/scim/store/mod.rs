//! Where SCIM resources are stored: one module per resource kind, side by
//! side (its row type and its table), the group memberships that both kinds
//! render (Group `members`, User `groups`), and the reads every kind shares
//! (one row by id, the same row locked for a write, one page of a search),
//! written once here over the [`Table`] a row type names.
//!
//! Groups are SCIM's own, so their writes are here too. Users are members of
//! the organization, and the `members` table is identity's: SCIM reads it
//! here like any other table, but a user's writes go through
//! [`crate::identity::scim_users`], because a member's lifecycle is
//! identity's rule whoever asks (a deactivation ends sessions and revokes
//! personal tokens, a new password ends sessions, the member count moves),
//! and must not be written a second time here.

pub mod groups;
pub mod memberships;
pub mod users;

use uuid::Uuid;

use super::error::ScimError;
use crate::identity::orgs::{self, Counted};
use crate::store::dynamic::{self, Arg, PageOrder, SqlParts};
use crate::store::page_anchors::PageAnchors;
use crate::store::{Db, FromInPlace, InOrder, Timestamp, Tx};

/// The table of one resource kind, aliased `r`, with its query texts made
/// at compile time (see [`stored_row!`]).
pub struct Table {
    /// `members r`.
    pub from: &'static str,
    pub columns: &'static str,
    /// What makes a row live (`AND r.deleted_at IS NULL`), or nothing.
    pub live: &'static str,
    /// The organization's count of live rows, which unfiltered lists use.
    pub counted: Counted,
    /// One live row by `$1` org and `$2` id.
    pub by_id: &'static str,
    /// The same, holding the row until commit on PostgreSQL (SQLite's write
    /// transaction already excludes every other writer).
    pub by_id_for_update: &'static str,
}

/// Declares a row type a stored resource: its [`Table`] (whose query texts
/// are joined with `concat!`, so that no SQL is formatted at run time) and
/// its [`Meta`] (the field `meta`).
macro_rules! stored_row {
    ($row:ident in $from:literal where live $live:literal, $counted:expr, columns $cols:expr $(,)?) => {
        impl AsRef<$crate::scim::store::Meta> for $row {
            fn as_ref(&self) -> &$crate::scim::store::Meta {
                &self.meta
            }
        }

        impl $crate::scim::store::StoredRow for $row {
            const TABLE: $crate::scim::store::Table = $crate::scim::store::Table {
                from: $from,
                columns: $crate::scim::store::row_columns!($cols),
                live: $live,
                counted: $counted,
                by_id: concat!(
                    "SELECT ",
                    $crate::scim::store::row_columns!($cols),
                    " FROM ",
                    $from,
                    " WHERE r.org_id = $1 AND r.id = $2",
                    $live
                ),
                by_id_for_update: concat!(
                    "SELECT ",
                    $crate::scim::store::row_columns!($cols),
                    " FROM ",
                    $from,
                    " WHERE r.org_id = $1 AND r.id = $2",
                    $live,
                    " FOR UPDATE"
                ),
            };
        }
    };
}
use stored_row;

/// The columns a stored row selects: [`Meta`]'s first (in the order
/// [`Meta::in_place`] reads them), then the row's own.
macro_rules! row_columns {
    ($own:expr) => {
        concat!(
            "r.id, r.org_id, r.version, r.created_at, r.updated_at, ",
            $own
        )
    };
}
pub(crate) use row_columns;

/// The columns every resource has: its id, its organization, and what SCIM
/// shows under `meta`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Meta {
    pub id: Uuid,
    pub org_id: Uuid,
    /// The ETag's version, one up on every write.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Meta {
    /// The meta columns of a row read in place: the first columns (see
    /// [`row_columns`]).
    pub fn in_place(row: &mut InOrder<'_, '_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            org_id: row.get("org_id")?,
            version: row.get("version")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }

    /// The meta of a row about to be inserted.
    pub fn new(org_id: Uuid, now: Timestamp) -> Self {
        Self {
            id: Uuid::now_v7(),
            org_id,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A stored SCIM resource: a row of its [`Table`] with a [`Meta`]. Declared
/// with [`stored_row!`].
pub trait StoredRow:
    AsRef<Meta>
    + Send
    + Sync
    + Unpin
    + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
    + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
    + FromInPlace
{
    const TABLE: Table;
}

pub async fn get<R: StoredRow>(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<R>, ScimError> {
    let sql = R::TABLE.by_id;
    if let Some(rows) = db.fetch_in_place(sql, (org_id, id)) {
        return Ok(rows?.pop());
    }
    Ok(
        crate::on_db_held!(db, pool => sqlx::query_as(sql).bind(org_id).bind(id).fetch_optional(pool).await)?,
    )
}

/// Reads a row inside a write transaction, locking it until commit.
pub async fn lock<R: StoredRow>(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<R>, ScimError> {
    let sql = if tx.is_sqlite() {
        R::TABLE.by_id
    } else {
        R::TABLE.by_id_for_update
    };
    Ok(crate::tx_fetch!(tx, R, sql, org_id, id)?.pop())
}

/// A row the transaction has just written, read back.
pub async fn written<R: StoredRow>(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    what: &str,
) -> Result<R, ScimError> {
    lock(tx, org_id, id)
        .await?
        .ok_or_else(|| ScimError::not_found(what))
}

/// Live rows of the organization matching the page's filter (a WHERE fragment over
/// `r`), one page in `order`, with the total count.
pub async fn search<R: StoredRow>(
    db: &Db,
    anchors: &PageAnchors,
    org_id: Uuid,
    page: &Page<'_>,
) -> Result<(Vec<R>, i64), ScimError> {
    search_as::<R, R>(db, anchors, org_id, page, R::TABLE.columns).await
}

/// What one page of a search asks for.
#[derive(Clone, Copy)]
pub struct Page<'a> {
    pub filter: Option<&'a SqlParts>,
    pub order: &'a PageOrder,
    pub limit: i64,
    pub offset: i64,
}

/// [`search`] over the table of `R`, reading `columns` into `T` (the
/// row's columns and more, such as a user's groups).
pub async fn search_as<R: StoredRow, T>(
    db: &Db,
    anchors: &PageAnchors,
    org_id: Uuid,
    page: &Page<'_>,
    columns: &str,
) -> Result<(Vec<T>, i64), ScimError>
where
    T: Send
        + Unpin
        + FromInPlace
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let Page {
        filter,
        order,
        limit,
        offset,
    } = *page;
    let table = &R::TABLE;
    let mut scope = SqlParts::new();
    scope
        .sql(" FROM ")
        .sql(table.from)
        .sql(" WHERE r.org_id = ")
        .bind(Arg::Uuid(org_id))
        .sql(table.live);
    if let Some(f) = filter {
        scope.sql(" AND (").append(f.clone()).sql(")");
    }
    let known = match filter {
        None => Some(orgs::known_list(db, anchors, org_id, table.counted).await?),
        Some(_) => None,
    };
    Ok(dynamic::fetch_page(
        db,
        table.from,
        columns,
        &scope,
        order,
        (limit, offset),
        known,
    )
    .await?)
}

/// `(a, b, c)`: bound ids for an `IN` list.
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

#[cfg(test)]
mod tests {
    use super::StoredRow;
    use super::groups::GroupRow;
    use super::users::ScimUserRow;

    #[test]
    fn reads_by_id_keep_to_live_rows_and_lock_on_postgres_only() {
        let users = ScimUserRow::TABLE;
        assert!(users.by_id.starts_with(
            "SELECT r.id, r.org_id, r.version, r.created_at, r.updated_at, r.user_name, "
        ));
        assert!(users.by_id.ends_with(
            " FROM members r WHERE r.org_id = $1 AND r.id = $2 AND r.deleted_at IS NULL"
        ));
        assert_eq!(
            users.by_id_for_update,
            format!("{} FOR UPDATE", users.by_id)
        );
        let groups = GroupRow::TABLE;
        assert!(
            groups
                .by_id
                .ends_with("r.scim_doc FROM scim_groups r WHERE r.org_id = $1 AND r.id = $2")
        );
        assert_eq!(
            groups.by_id_for_update,
            format!("{} FOR UPDATE", groups.by_id)
        );
    }
}
