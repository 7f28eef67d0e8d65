//! The member-row writes of SCIM Users. The member columns stay the truth
//! for userName, displayName and active; `scim_doc` holds every other SCIM
//! attribute (never the password, which is only ever stored as an argon2id
//! hash).
//!
//! SCIM reads these rows itself, next to its Groups (`scim::store`); the
//! writes are here because they carry the member's lifecycle, which is
//! identity's whoever asks: deactivation ending sessions and revoking personal
//! tokens (as [`members::write_role_and_active`] does for the admin API), a new
//! password ending sessions, deletion revoking personal tokens, the count.

use sqlx::postgres::PgArguments;
use sqlx::{Arguments, QueryBuilder};
use uuid::Uuid;

use super::IdentityError;
use super::members::{self, user_name_key};
use super::orgs::{self, Counted};
use crate::permissions::Role;
use crate::store::dynamic::SqlParts;
use crate::store::{StoreError, Timestamp, Touched, Tx, TxConn};
use crate::{on_tx, tokens};

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

fn check(w: &ScimUserWrite<'_>) -> Result<(), IdentityError> {
    if w.user_name.trim().is_empty() {
        return Err(IdentityError::Invalid("userName must not be empty".into()));
    }
    Ok(())
}

/// Creates member `id` (new) from a SCIM User, with role `member`.
///
/// `beside`: a statement of the caller's (the new user's search index
/// rows) to run in this INSERT's own statement on PostgreSQL, as a `WITH`
/// of it: each statement is a round trip in the writers' turn, which
/// every other write of the batch waits through. It is never given on
/// SQLite, where statements run in place.
pub async fn insert(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    w: &ScimUserWrite<'_>,
    now: Timestamp,
    beside: Option<SqlParts>,
) -> Result<(), IdentityError> {
    check(w)?;
    let (name, key, display) = (w.user_name, user_name_key(w.user_name), w.display_name);
    let (role, active, hash) = (Role::Member.as_str(), w.active, &w.password_hash);
    macro_rules! insert {
        () => {
            "INSERT INTO members (id, org_id, user_name, user_name_key, display_name, role, \
             active, password_hash, sessions_valid_from, created_at, updated_at, external_id, \
             scim_doc, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9, $10, $11, 1)"
        };
    }
    // PostgreSQL moves the organization's count in the same statement: one
    // round trip in the writers' turn where two were (a failed insert fails
    // the whole statement). SQLite's statements run in place, in turn.
    let counted_apart = tx.is_sqlite();
    let conflict = |e: StoreError| IdentityError::conflict_on_unique(e, conflict(w.user_name));
    if let (Some(beside), TxConn::Postgres(t)) = (beside, &mut tx.conn) {
        // The member's INSERT a `WITH` too, and `beside` the statement,
        // whose values are bound after the member's `$1`-`$11`.
        let mut args = PgArguments::default();
        let bound = (|| -> Result<(), sqlx::error::BoxDynError> {
            args.add(id)?;
            args.add(org_id)?;
            args.add(name)?;
            args.add(&key)?;
            args.add(display)?;
            args.add(role)?;
            args.add(active)?;
            args.add(hash)?;
            args.add(now)?;
            args.add(w.external_id)?;
            args.add(w.doc)?;
            Ok(())
        })();
        bound.map_err(|e| IdentityError::Store(sqlx::Error::Encode(e).into()))?;
        let mut q = QueryBuilder::with_arguments(
            concat!(
                "WITH counted AS (UPDATE organizations SET ",
                orgs::member_count_moved!("+ 1"),
                "), added AS (",
                insert!(),
                ") "
            ),
            args,
        );
        beside.push_into(&mut q);
        q.build()
            .execute(&mut **t)
            .await
            .map_err(|e| conflict(e.into()))?;
        return Ok(());
    }
    let sql = if counted_apart {
        insert!()
    } else {
        concat!(
            "WITH counted AS (UPDATE organizations SET ",
            orgs::member_count_moved!("+ 1"),
            ") ",
            insert!()
        )
    };
    crate::tx_execute!(
        tx,
        sql,
        id,
        org_id,
        name,
        key,
        display,
        role,
        active,
        hash,
        now,
        w.external_id,
        w.doc
    )
    .map_err(conflict)?;
    if counted_apart {
        orgs::bump_count(tx, org_id, Counted::Members, 1).await?;
    }
    Ok(())
}

/// What [`replace`]'s deactivation statement returns on PostgreSQL.
#[derive(sqlx::FromRow)]
struct Deactivated {
    #[sqlx(flatten)]
    member: super::access::MemberRow,
    revoked: Vec<String>,
}

/// The UPDATE of [`replace`]: `$1`-`$11` as it binds them, and `$set`,
/// more columns to set.
macro_rules! replace_member {
    ($set:literal) => {
        concat!(
            "UPDATE members SET user_name = $1, user_name_key = $2, display_name = $3, \
             external_id = $4, scim_doc = $5, version = version + 1, updated_at = $6, \
             password_hash = COALESCE($9, password_hash), active = $10, \
             sessions_valid_from = CASE WHEN $9 IS NULL AND NOT $11 THEN sessions_valid_from ELSE $6 END",
            $set,
            " WHERE id = $7 AND org_id = $8"
        )
    };
}

/// Replaces a member's SCIM attributes and bumps its version. A change of
/// `active` is written by the same statement (one round trip in the
/// writers' turn on PostgreSQL) and followed as
/// [`members::write_role_and_active`] follows it, so that deactivation ends
/// sessions and revokes personal tokens in this transaction (on
/// PostgreSQL the revocation is a CTE of that same statement). `was` is
/// the member's role and active flag as the caller read them, locked, in
/// this transaction.
pub async fn replace(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    was: (Role, bool),
    w: &ScimUserWrite<'_>,
    now: Timestamp,
) -> Result<(), IdentityError> {
    check(w)?;
    let loses_access = members::loses_access(was, (was.0, w.active));
    let key = user_name_key(w.user_name);
    let (name, display, external, doc) = (w.user_name, w.display_name, w.external_id, w.doc);
    // A new password (`$9`, NULL to keep the current one) ends every
    // session signed in with the old one, as losing access (`$11`) does.
    let hash = &w.password_hash;
    let conflict = |e| IdentityError::conflict_on_unique(e, conflict(w.user_name));
    if let (true, TxConn::Postgres(t)) = (loses_access, &mut tx.conn) {
        // The PATs' revocation and the access the member is left with
        // (none) in the same statement: on PostgreSQL each statement is a
        // round trip in the shared transaction's turn, which every other
        // write of the batch waits through. It returns the member as the
        // access refresh reads it, with the access it held before (`was`
        // reads the statement's snapshot, taken before the UPDATE), so that
        // the refresh records the change and writes nothing more. That
        // row is then the only record of the access held before: nothing
        // later in the change may note the member again without a row
        // (`Tx::access_source_changed` forgets the row it held).
        // `scim::write::apply` runs the refresh right after this change.
        let (no_role, no_workspaces) = super::access::none_stored();
        let deactivated: Option<Deactivated> = sqlx::query_as(concat!(
            "WITH revoked AS (UPDATE tokens SET revoked_at = $6, revoked_reason = $12 \
             WHERE revoked_at IS NULL AND member_id = $7 RETURNING id), \
             was AS (SELECT access_role, access_workspaces FROM members WHERE id = $7) ",
            replace_member!(", access_role = $13, access_workspaces = $14"),
            " RETURNING id, user_name, role, active, deleted_at, \
             (SELECT access_role FROM was) AS access_role, \
             (SELECT access_workspaces FROM was) AS access_workspaces, \
             TRUE AS stored_none, \
             (SELECT COALESCE(array_agg(id), ARRAY[]::text[]) FROM revoked) AS revoked"
        ))
        .bind(name)
        .bind(key)
        .bind(display)
        .bind(external)
        .bind(doc)
        .bind(now)
        .bind(id)
        .bind(org_id)
        .bind(hash)
        .bind(w.active)
        .bind(loses_access)
        .bind(members::LOST_ACCESS)
        .bind(no_role)
        .bind(no_workspaces)
        .fetch_optional(&mut **t)
        .await
        .map_err(|e| conflict(e.into()))?;
        let Some(Deactivated { member, revoked }) = deactivated else {
            return Err(IdentityError::NotFound("member"));
        };
        members::written_having_revoked(tx, id, &revoked);
        tx.access_source_changed_to(id, member);
    } else {
        crate::tx_execute!(
            tx,
            replace_member!(""),
            name,
            key,
            display,
            external,
            doc,
            now,
            id,
            org_id,
            hash,
            w.active,
            loses_access
        )
        .map_err(conflict)?;
        if was.1 != w.active {
            members::role_or_active_written(tx, id, loses_access, now).await?;
        }
    }
    // A PAT's principal carries its member's user name.
    tx.touch(Touched::Member(id));
    Ok(())
}

/// Deletes a member (soft: the row stays for the audit trail, the user name
/// becomes free): sessions end and personal tokens are revoked.
pub async fn delete(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    now: Timestamp,
) -> Result<(), IdentityError> {
    let deleted = on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE members SET deleted_at = $1, sessions_valid_from = $1, updated_at = $1, active = $2 \
             WHERE id = $3 AND org_id = $4 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(false)
        .bind(id)
        .bind(org_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if deleted == 0 {
        return Err(IdentityError::NotFound("User"));
    }
    tx.touch(Touched::Member(id));
    tx.access_source_changed(id);
    tokens::revoke_for_member(tx, id, "member deleted", now).await?;
    orgs::bump_count(tx, org_id, Counted::Members, -1).await?;
    Ok(())
}

/// Rows per multi-row INSERT of members: 11 bound values a row, well under
/// SQLite's and PostgreSQL's limits on bound values.
const MEMBERS_PER_STATEMENT: usize = 250;

/// Creates many members from SCIM Users in multi-row INSERTs (one Bulk
/// request's run of creates), with one update of the count; returns their
/// ids in order. All or nothing: a taken userName fails the whole call, so
/// callers check [`taken_user_names`] first and keep a fallback.
pub async fn insert_many(
    tx: &mut Tx,
    org_id: Uuid,
    writes: &[ScimUserWrite<'_>],
    now: Timestamp,
) -> Result<Vec<Uuid>, IdentityError> {
    for w in writes {
        check(w)?;
    }
    let ids: Vec<Uuid> = writes.iter().map(|_| Uuid::now_v7()).collect();
    for (chunk, chunk_ids) in writes
        .chunks(MEMBERS_PER_STATEMENT)
        .zip(ids.chunks(MEMBERS_PER_STATEMENT))
    {
        on_tx!(tx, conn => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO members (id, org_id, user_name, user_name_key, display_name, role, active, \
                 password_hash, sessions_valid_from, created_at, updated_at, external_id, scim_doc, version) ",
            );
            q.push_values(chunk.iter().zip(chunk_ids), |mut row, (w, id)| {
                row.push_bind(*id)
                    .push_bind(org_id)
                    .push_bind(w.user_name)
                    .push_bind(user_name_key(w.user_name))
                    .push_bind(w.display_name)
                    .push_bind(Role::Member.as_str())
                    .push_bind(w.active)
                    .push_bind(w.password_hash.clone())
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(w.external_id)
                    .push_bind(w.doc)
                    .push("1");
            });
            q.build().execute(&mut *conn).await.map(|_| ())
        })
        .map_err(|e| {
            IdentityError::conflict_on_unique(e, || {
                "a userName of the batch is already taken in this organization".to_string()
            })
        })?;
    }
    orgs::bump_count(tx, org_id, Counted::Members, writes.len() as i64).await?;
    Ok(ids)
}

/// Which of `user_names` are taken by live members of the organization, as
/// their case-folded keys: one SELECT for a whole Bulk run of creates.
pub async fn taken_user_names(
    tx: &mut Tx,
    org_id: Uuid,
    user_names: &[&str],
) -> Result<std::collections::HashSet<String>, IdentityError> {
    let mut taken = std::collections::HashSet::new();
    for chunk in user_names.chunks(MEMBERS_PER_STATEMENT * 4) {
        let keys: Vec<String> = chunk.iter().map(|u| user_name_key(u)).collect();
        let found: Vec<String> = on_tx!(tx, conn => {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT user_name_key FROM members WHERE deleted_at IS NULL AND org_id = ",
            );
            q.push_bind(org_id).push(" AND user_name_key IN (");
            let mut list = q.separated(", ");
            for k in &keys {
                list.push_bind(k.clone());
            }
            q.push(")");
            q.build_query_scalar::<String>().fetch_all(&mut *conn).await
        })?;
        taken.extend(found);
    }
    Ok(taken)
}
