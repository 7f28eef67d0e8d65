//! Members as SCIM Users: the member row with its SCIM document, external id
//! and version. The member columns stay the truth for userName, displayName
//! and active; the document holds every other SCIM attribute (never the
//! password, which is only ever stored as an argon2id hash).

use uuid::Uuid;

use super::IdentityError;
use super::members::{self, RoleColumn, user_name_key};
use super::orgs::{self, Counted};
use crate::permissions::Role;
use crate::store::dynamic::{self, Arg, PageOrder, SqlParts};
use crate::store::page_anchors::PageAnchors;
use crate::store::{Db, Timestamp, Tx};
use crate::{on_db, on_tx, tokens};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ScimUserRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_name: String,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    /// The member's org role (`admin` or `member`): SCIM never sets it,
    /// but it decides what SCIM may change (an admin's password, never).
    #[sqlx(try_from = "String")]
    pub role: RoleColumn,
    pub scim_doc: Option<String>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The column list, as a macro so that query texts can be built with
/// `concat!` at compile time rather than formatted at run time.
macro_rules! columns {
    () => {
        "r.id, r.org_id, r.user_name, r.display_name, r.external_id, r.active, r.role, r.scim_doc, \
     r.version, r.created_at, r.updated_at"
    };
}

const COLUMNS: &str = columns!();

/// What a SCIM write sets on a member.
pub struct ScimUserWrite<'a> {
    pub user_name: &'a str,
    pub display_name: Option<&'a str>,
    pub external_id: Option<&'a str>,
    pub active: bool,
    /// The normalized document as JSON text, without the password.
    pub doc: &'a str,
    /// A new password hash; `None` keeps the current one.
    pub password_hash: Option<String>,
}

fn conflict(user_name: &str) -> impl FnOnce() -> String + '_ {
    move || format!("userName `{user_name}` is already taken in this organization")
}

/// Creates a member from a SCIM User, with role `member`.
pub async fn insert(
    tx: &mut Tx,
    org_id: Uuid,
    w: &ScimUserWrite<'_>,
    now: Timestamp,
) -> Result<ScimUserRow, IdentityError> {
    if w.user_name.trim().is_empty() {
        return Err(IdentityError::Invalid("userName must not be empty".into()));
    }
    let id = Uuid::now_v7();
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO members (id, org_id, user_name, user_name_key, display_name, role, active, \
             password_hash, sessions_valid_from, created_at, updated_at, external_id, scim_doc, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9, $10, $11, 1)",
        )
        .bind(id)
        .bind(org_id)
        .bind(w.user_name)
        .bind(user_name_key(w.user_name))
        .bind(w.display_name)
        .bind(Role::Member.as_str())
        .bind(w.active)
        .bind(&w.password_hash)
        .bind(now)
        .bind(w.external_id)
        .bind(w.doc)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })
    .map_err(|e| IdentityError::conflict_on_unique(e, conflict(w.user_name)))?;
    orgs::bump_count(tx, org_id, Counted::Members, 1).await?;
    get_in(tx, org_id, id)
        .await?
        .ok_or(IdentityError::NotFound("member"))
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<ScimUserRow>, IdentityError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM members r WHERE r.org_id = $1 AND r.id = $2 AND r.deleted_at IS NULL"
    );
    Ok(on_db!(db, pool => sqlx::query_as(sql).bind(org_id).bind(id).fetch_optional(pool).await)?)
}

/// Reads a member inside a write transaction, locking the row.
pub async fn get_in(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<ScimUserRow>, IdentityError> {
    let sql = crate::locking_select!(
        tx,
        "SELECT ",
        columns!(),
        " FROM members r WHERE r.org_id = $1 AND r.id = $2 AND r.deleted_at IS NULL"
    );
    Ok(
        on_tx!(tx, conn => sqlx::query_as(sql).bind(org_id).bind(id).fetch_optional(&mut *conn).await)?,
    )
}

/// Replaces a member's SCIM attributes and bumps its version. A change of
/// `active` goes through [`members::update`], so that deactivation ends
/// sessions and revokes personal tokens in this transaction.
pub async fn replace(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    w: &ScimUserWrite<'_>,
    now: Timestamp,
) -> Result<ScimUserRow, IdentityError> {
    let before = get_in(tx, org_id, id)
        .await?
        .ok_or(IdentityError::NotFound("User"))?;
    if w.user_name.trim().is_empty() {
        return Err(IdentityError::Invalid("userName must not be empty".into()));
    }
    if before.active != w.active {
        members::update(tx, org_id, id, None, Some(w.active), now).await?;
    }
    on_tx!(tx, conn => {
        let mut q = sqlx::QueryBuilder::new("UPDATE members SET user_name = ");
        q.push_bind(w.user_name)
            .push(", user_name_key = ")
            .push_bind(user_name_key(w.user_name))
            .push(", display_name = ")
            .push_bind(w.display_name)
            .push(", external_id = ")
            .push_bind(w.external_id)
            .push(", scim_doc = ")
            .push_bind(w.doc)
            .push(", version = version + 1, updated_at = ")
            .push_bind(now);
        if let Some(hash) = &w.password_hash {
            // A new password ends every session signed in with the old one.
            q.push(", password_hash = ").push_bind(hash);
            q.push(", sessions_valid_from = ").push_bind(now);
        }
        q.push(" WHERE id = ").push_bind(id).push(" AND org_id = ").push_bind(org_id);
        q.build().execute(&mut *conn).await.map(|_| ())
    })
    .map_err(|e| IdentityError::conflict_on_unique(e, conflict(w.user_name)))?;
    get_in(tx, org_id, id)
        .await?
        .ok_or(IdentityError::NotFound("User"))
}

/// Deletes a member (soft: the row stays for the audit trail, the user name
/// becomes free): sessions end and personal tokens are revoked.
pub async fn delete(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    now: Timestamp,
) -> Result<ScimUserRow, IdentityError> {
    let row = get_in(tx, org_id, id)
        .await?
        .ok_or(IdentityError::NotFound("User"))?;
    on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE members SET deleted_at = $1, sessions_valid_from = $1, updated_at = $1, active = $2 \
             WHERE id = $3 AND org_id = $4",
        )
        .bind(now)
        .bind(false)
        .bind(id)
        .bind(org_id)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    tokens::revoke_for_member(tx, id, "member deleted", now).await?;
    orgs::bump_count(tx, org_id, Counted::Members, -1).await?;
    Ok(row)
}

/// Live members of the organization matching `filter` (a WHERE fragment
/// over `members r`), ordered by `order`, one page, with the total count.
pub async fn search(
    db: &Db,
    anchors: &PageAnchors,
    org_id: Uuid,
    filter: Option<&SqlParts>,
    order: &PageOrder,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ScimUserRow>, i64), IdentityError> {
    let mut scope = SqlParts::new();
    scope
        .sql(" FROM members r WHERE r.org_id = ")
        .bind(Arg::Uuid(org_id))
        .sql(" AND r.deleted_at IS NULL");
    if let Some(f) = filter {
        scope.sql(" AND (").append(f.clone()).sql(")");
    }
    let known = match filter {
        None => Some(orgs::known_list(db, anchors, org_id, Counted::Members).await?),
        Some(_) => None,
    };
    Ok(dynamic::fetch_page(
        db,
        "members r",
        COLUMNS,
        &scope,
        order,
        (limit, offset),
        known,
    )
    .await?)
}
