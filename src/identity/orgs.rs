//! Organizations: the tenants.

use serde::Serialize;
use uuid::Uuid;

use super::{IdentityError, check_name};
use crate::store::dynamic::KnownList;
use crate::store::page_anchors::{ListKey, PageAnchors};
use crate::store::{Db, StoreError, Timestamp, Tx};
use crate::{on_db, on_tx};

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
    pub max_token_lifetime_days: Option<i32>,
    /// Whether SCIM may set the passwords of members who are not admins.
    pub scim_passwords: bool,
    pub created_at: Timestamp,
}

/// The column list, as a macro so that query texts can be built with
/// `concat!` at compile time rather than formatted at run time.
macro_rules! columns {
    () => {
        "id, name, max_token_lifetime_days, scim_passwords, created_at"
    };
}

/// Sets one setting column of an organization inside `tx` and evaluates to
/// the value it replaced (for the audit record's from/to). A macro so that
/// both query texts are built at compile time from the column's name.
macro_rules! replace_setting {
    ($tx:expr, $id:expr, $column:literal, $value:expr, $ty:ty) => {{
        let before: Option<$ty> = on_tx!($tx, conn => {
            sqlx::query_scalar(concat!("SELECT ", $column, " FROM organizations WHERE id = $1"))
                .bind($id)
                .fetch_optional(&mut *conn)
                .await
        })?;
        let before = before.ok_or(IdentityError::NotFound("organization"))?;
        on_tx!($tx, conn => {
            sqlx::query(concat!("UPDATE organizations SET ", $column, " = $1 WHERE id = $2"))
                .bind($value)
                .bind($id)
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(before)
    }};
}

pub async fn create(tx: &mut Tx, name: &str, now: Timestamp) -> Result<Org, IdentityError> {
    let name = check_name("organization", name)?;
    let org = Org {
        id: Uuid::now_v7(),
        name,
        max_token_lifetime_days: None,
        scim_passwords: false,
        created_at: now,
    };
    on_tx!(tx, conn => {
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(org.id)
            .bind(&org.name)
            .bind(now)
            .execute(&mut *conn)
            .await.map(|r| r.rows_affected())
    })
    .map_err(|e| {
        IdentityError::conflict_on_unique(e, || {
            format!("organization `{}` already exists", org.name)
        })
    })?;
    Ok(org)
}

/// Finds an organization by id or by name.
pub async fn find(db: &Db, name_or_id: &str) -> Result<Option<Org>, IdentityError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM organizations WHERE id = $1 OR name = $2"
    );
    // A name that is not a UUID cannot match the id column; bind a value that
    // matches nothing rather than building two queries.
    let id = Uuid::parse_str(name_or_id).unwrap_or(Uuid::nil());
    Ok(on_db!(db, pool => {
        sqlx::query_as(sql).bind(id).bind(name_or_id).fetch_optional(pool).await
    })?)
}

pub async fn get(db: &Db, id: Uuid) -> Result<Org, IdentityError> {
    let sql = concat!("SELECT ", columns!(), " FROM organizations WHERE id = $1");
    let org: Option<Org> =
        on_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?;
    org.ok_or(IdentityError::NotFound("organization"))
}

/// Reads the organization inside a write transaction.
pub async fn get_in(tx: &mut Tx, id: Uuid) -> Result<Org, IdentityError> {
    let sql = concat!("SELECT ", columns!(), " FROM organizations WHERE id = $1");
    let org: Option<Org> =
        on_tx!(tx, conn => sqlx::query_as(sql).bind(id).fetch_optional(&mut *conn).await)?;
    org.ok_or(IdentityError::NotFound("organization"))
}

pub async fn count(db: &Db) -> Result<i64, IdentityError> {
    Ok(on_db!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM organizations").fetch_one(pool).await
    })?)
}

/// Sets (or clears) the cap on the lifetime of new tokens; returns the cap
/// it replaced, for the audit record.
pub async fn set_max_token_lifetime(
    tx: &mut Tx,
    id: Uuid,
    days: Option<i32>,
) -> Result<Option<i32>, IdentityError> {
    if days.is_some_and(|d| !(1..=3650).contains(&d)) {
        return Err(IdentityError::Invalid(
            "maximum token lifetime must be between 1 and 3650 days".into(),
        ));
    }
    replace_setting!(tx, id, "max_token_lifetime_days", days, Option<i32>)
}

/// Allows or forbids setting passwords through SCIM; returns the setting it
/// replaced, for the audit record.
pub async fn set_scim_passwords(
    tx: &mut Tx,
    id: Uuid,
    allowed: bool,
) -> Result<bool, IdentityError> {
    replace_setting!(tx, id, "scim_passwords", allowed, bool)
}

/// Sets how long audit records are kept; returns the number of days it
/// replaced, for the audit record.
pub async fn set_audit_retention(tx: &mut Tx, id: Uuid, days: i32) -> Result<i32, IdentityError> {
    if !(1..=36_500).contains(&days) {
        return Err(IdentityError::Invalid(
            "audit retention must be between 1 and 36500 days".into(),
        ));
    }
    replace_setting!(tx, id, "audit_retention_days", days, i32)
}

/// The `SET … WHERE` of [`bump_count`] for members, moving the count by
/// `$delta` (SQL text), where the organization's id is `$2`: for a
/// statement that moves the count along with something else.
macro_rules! member_count_moved {
    ($delta:literal) => {
        concat!(
            "member_count = member_count ",
            $delta,
            ", member_version = member_version + 1 WHERE id = $2"
        )
    };
}
pub(crate) use member_count_moved;

/// Which per-organization count to move.
#[derive(Clone, Copy, Debug)]
pub enum Counted {
    Members,
    Groups,
}

/// Moves a live-resource count by `delta`, and the list's version with it
/// (see [`crate::store::page_anchors`]), inside the change's transaction.
pub async fn bump_count(
    tx: &mut Tx,
    id: Uuid,
    what: Counted,
    delta: i64,
) -> Result<(), IdentityError> {
    let sql = match what {
        Counted::Members => concat!("UPDATE organizations SET ", member_count_moved!("+ $1")),
        Counted::Groups => {
            "UPDATE organizations SET group_count = group_count + $1, \
             group_version = group_version + 1 WHERE id = $2"
        }
    };
    crate::tx_execute!(tx, sql, delta, id)?;
    Ok(())
}

/// The size of an organization's unfiltered list and its version, which
/// moves with every insert and delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListSize {
    pub count: i64,
    pub version: i64,
}

/// The live-resource count of an organization, with the list's version.
pub async fn count_of(db: &Db, id: Uuid, what: Counted) -> Result<ListSize, IdentityError> {
    let sql = match what {
        Counted::Members => "SELECT member_count, member_version FROM organizations WHERE id = $1",
        Counted::Groups => "SELECT group_count, group_version FROM organizations WHERE id = $1",
    };
    let (count, version): (i64, i64) = match db.fetch_in_place(sql, [id]) {
        Some(rows) => rows?
            .pop()
            .ok_or(StoreError::Sqlx(sqlx::Error::RowNotFound))?,
        None => crate::on_db_held!(db, pool => sqlx::query_as(sql).bind(id).fetch_one(pool).await)?,
    };
    Ok(ListSize { count, version })
}

/// An unfiltered list of an organization's members or groups, as a page
/// query needs it: its size, its version and where its page anchors live.
pub async fn known_list<'a>(
    db: &Db,
    anchors: &'a PageAnchors,
    org_id: Uuid,
    what: Counted,
) -> Result<KnownList<'a>, IdentityError> {
    let size = count_of(db, org_id, what).await?;
    let table = match what {
        Counted::Members => "members",
        Counted::Groups => "scim_groups",
    };
    Ok(KnownList {
        total: size.count,
        version: size.version,
        key: ListKey { org_id, table },
        anchors,
    })
}
