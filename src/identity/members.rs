//! Members of an organization: the people behind SCIM Users. A member who is
//! deactivated, deleted or demoted loses access at once: their sessions stop
//! verifying and their Personal Access Tokens are revoked, in the same
//! transaction as the change. Service Access Tokens they created live on.

use serde::Serialize;
use uuid::Uuid;

use super::IdentityError;
use crate::permissions::{Access, Role};
use crate::store::{Db, Timestamp, Touched, Tx};
use crate::{on_db, on_tx, tokens};

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Member {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_name: String,
    pub display_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub role: RoleColumn,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The effective access as kept on the row (see [`super::access`]).
    #[serde(skip)]
    pub access_role: Option<String>,
    #[serde(skip)]
    pub access_workspaces: Option<String>,
}

/// The `role` column, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RoleColumn(pub Role);

impl TryFrom<String> for RoleColumn {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Role::parse(&s)
            .map(RoleColumn)
            .ok_or_else(|| format!("unknown role `{s}`"))
    }
}

impl crate::store::FromInPlace for Member {
    fn from_in_place(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let role: String = r.get("role")?;
        Ok(Member {
            id: r.get("id")?,
            org_id: r.get("org_id")?,
            user_name: r.get("user_name")?,
            display_name: r.get("display_name")?,
            role: RoleColumn::try_from(role).map_err(|e| crate::store::unconverted("role", e))?,
            active: r.get("active")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
            access_role: r.get("access_role")?,
            access_workspaces: r.get("access_workspaces")?,
        })
    }
}

impl Member {
    /// The direct role, given by hand.
    pub fn role(&self) -> Role {
        self.role.0
    }

    /// The effective access: direct and from group mappings.
    pub fn access(&self) -> Access {
        super::access::stored(
            self.role(),
            self.access_role.as_deref(),
            self.access_workspaces.as_deref(),
        )
    }
}

/// What sign-in needs: the member and their password hash.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Credentials {
    #[sqlx(flatten)]
    pub member: Member,
    pub password_hash: Option<String>,
    pub sessions_valid_from: Timestamp,
    /// The password was seen by someone else (printed at bootstrap, or a
    /// one-time password): sign-in is refused until the member sets one.
    pub password_change_required: bool,
}

/// The column list, as a macro so that query texts can be built with
/// `concat!` at compile time rather than formatted at run time.
macro_rules! columns {
    () => {
        "id, org_id, user_name, display_name, role, active, created_at, updated_at, access_role, \
         access_workspaces"
    };
}

/// userName is compared without regard to case (RFC 7643: caseExact false).
pub fn user_name_key(user_name: &str) -> String {
    user_name.to_lowercase()
}

fn check_user_name(user_name: &str) -> Result<String, IdentityError> {
    let u = user_name.trim();
    if u.is_empty() || u.chars().count() > 256 || u.chars().any(char::is_control) {
        return Err(IdentityError::Invalid(
            "user name must be 1 to 256 printable characters".into(),
        ));
    }
    Ok(u.to_string())
}

pub struct NewMember<'a> {
    pub org_id: Uuid,
    pub user_name: &'a str,
    pub display_name: Option<&'a str>,
    pub role: Role,
    pub password_hash: Option<String>,
}

pub async fn create(
    tx: &mut Tx,
    new: NewMember<'_>,
    now: Timestamp,
) -> Result<Member, IdentityError> {
    let user_name = check_user_name(new.user_name)?;
    let member = Member {
        id: Uuid::now_v7(),
        org_id: new.org_id,
        user_name,
        display_name: new.display_name.map(str::to_string),
        role: RoleColumn(new.role),
        active: true,
        created_at: now,
        updated_at: now,
        access_role: None,
        access_workspaces: None,
    };
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO members (id, org_id, user_name, user_name_key, display_name, role, active, \
             password_hash, sessions_valid_from, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)",
        )
        .bind(member.id)
        .bind(member.org_id)
        .bind(&member.user_name)
        .bind(user_name_key(&member.user_name))
        .bind(&member.display_name)
        .bind(new.role.as_str())
        .bind(true)
        .bind(&new.password_hash)
        .bind(now)
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected())
    })
    .map_err(|e| {
        IdentityError::conflict_on_unique(e, || {
            format!("a member with user name `{}` already exists", member.user_name)
        })
    })?;
    super::orgs::bump_count(tx, new.org_id, super::orgs::Counted::Members, 1).await?;
    Ok(member)
}

pub async fn list(db: &Db, org_id: Uuid) -> Result<Vec<Member>, IdentityError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM members WHERE org_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
    );
    Ok(on_db!(db, pool => sqlx::query_as(sql).bind(org_id).fetch_all(pool).await)?)
}

/// A live member of the organization, by id or user name.
pub async fn find(
    db: &Db,
    org_id: Uuid,
    name_or_id: &str,
) -> Result<Option<Member>, IdentityError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM members WHERE org_id = $1 AND deleted_at IS NULL \
         AND (id = $2 OR user_name_key = $3)"
    );
    let id = Uuid::parse_str(name_or_id).unwrap_or(Uuid::nil());
    Ok(on_db!(db, pool => {
        sqlx::query_as(sql)
            .bind(org_id)
            .bind(id)
            .bind(user_name_key(name_or_id))
            .fetch_optional(pool)
            .await
    })?)
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Member, IdentityError> {
    find(db, org_id, &id.to_string())
        .await?
        .ok_or(IdentityError::NotFound("member"))
}

/// Sign-in data for a live member, by user name.
pub async fn credentials(
    db: &Db,
    org_id: Uuid,
    user_name: &str,
) -> Result<Option<Credentials>, IdentityError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        ", password_hash, sessions_valid_from, password_change_required FROM members \
         WHERE org_id = $1 AND user_name_key = $2 AND deleted_at IS NULL"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(sql).bind(org_id).bind(user_name_key(user_name)).fetch_optional(pool).await
    })?)
}

/// Sign-in data by member id, for checking a session on each request.
pub async fn credentials_by_id(
    db: &Db,
    org_id: Uuid,
    id: Uuid,
) -> Result<Option<Credentials>, IdentityError> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        ", password_hash, sessions_valid_from, password_change_required FROM members \
         WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(sql).bind(org_id).bind(id).fetch_optional(pool).await
    })?)
}

/// A live member, read and locked inside a write.
pub async fn get_in(tx: &mut Tx, org_id: Uuid, id: Uuid) -> Result<Member, IdentityError> {
    let sql = crate::locking_select!(
        tx,
        "SELECT ",
        columns!(),
        " FROM members WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL"
    );
    let m = crate::tx_fetch!(tx, Member, sql, org_id, id)?.pop();
    m.ok_or(IdentityError::NotFound("member"))
}

/// What changed in a member update, for the audit record.
#[derive(Clone, Debug, Serialize)]
pub struct MemberUpdate {
    pub member: Member,
    pub before_role: Role,
    pub before_active: bool,
    /// PATs revoked because the member lost admin access.
    pub revoked_tokens: Vec<String>,
}

/// Whether going from `before` to `after` (role, active) takes access
/// away: a deactivation, or a demotion from admin.
pub(super) fn loses_access(before: (Role, bool), after: (Role, bool)) -> bool {
    let was_admin = before.1 && before.0 == Role::Admin;
    let is_admin = after.1 && after.0 == Role::Admin;
    before.1 && !after.1 || was_admin && !is_admin
}

/// Writes a member's role and active flag, going from `before` (as the
/// caller read them, locked, in this transaction) to `after`. Losing
/// access ends sessions and revokes PATs in this transaction; returns the
/// PATs revoked.
pub async fn write_role_and_active(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    before: (Role, bool),
    after: (Role, bool),
    now: Timestamp,
) -> Result<Vec<String>, IdentityError> {
    let loses_access = loses_access(before, after);
    // Losing access also ends every session signed in before now.
    let sql = if loses_access {
        "UPDATE members SET role = $1, active = $2, updated_at = $3, sessions_valid_from = $3 \
         WHERE id = $4 AND org_id = $5"
    } else {
        "UPDATE members SET role = $1, active = $2, updated_at = $3 WHERE id = $4 AND org_id = $5"
    };
    crate::tx_execute!(tx, sql, after.0.as_str(), after.1, now, id, org_id)?;
    role_or_active_written(tx, id, loses_access, now).await
}

/// What follows a write of a member's role or active flag in its
/// transaction (by [`write_role_and_active`], or by a statement that also
/// wrote other columns): the token cache and the effective access hear of
/// it, and losing access revokes the member's PATs. Returns those PATs.
pub(super) async fn role_or_active_written(
    tx: &mut Tx,
    id: Uuid,
    loses_access: bool,
    now: Timestamp,
) -> Result<Vec<String>, IdentityError> {
    let revoked = if loses_access {
        tokens::revoke_for_member(tx, id, LOST_ACCESS, now).await?
    } else {
        Vec::new()
    };
    written_having_revoked(tx, id, &revoked);
    Ok(revoked)
}

/// Why a member's PATs are revoked when it loses access.
pub(super) const LOST_ACCESS: &str = "member lost access";

/// [`role_or_active_written`], for a statement that also revoked the
/// member's PATs (`revoked`, the ids it returned).
pub(super) fn written_having_revoked(tx: &mut Tx, id: Uuid, revoked: &[String]) {
    tx.touch(Touched::Member(id));
    tx.access_source_changed(id);
    for token in revoked {
        tx.touch(Touched::Token(token.clone()));
    }
}

/// Changes a member's role and/or active flag. Losing access (deactivation
/// or demotion from admin) ends sessions and revokes PATs in this
/// transaction.
pub async fn update(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    role: Option<Role>,
    active: Option<bool>,
    now: Timestamp,
) -> Result<MemberUpdate, IdentityError> {
    let before = get_in(tx, org_id, id).await?;
    let mut member = before.clone();
    if let Some(role) = role {
        member.role = RoleColumn(role);
    }
    if let Some(active) = active {
        member.active = active;
    }
    member.updated_at = now;
    let revoked_tokens = write_role_and_active(
        tx,
        org_id,
        id,
        (before.role(), before.active),
        (member.role(), member.active),
        now,
    )
    .await?;
    Ok(MemberUpdate {
        member,
        before_role: before.role(),
        before_active: before.active,
        revoked_tokens,
    })
}

/// Sets or replaces a member's password hash, ending every session signed
/// in with the old one. `change_required` marks a password someone else
/// has seen (a one-time password): the member must replace it before
/// signing in.
pub async fn set_password(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    password_hash: &str,
    change_required: bool,
    now: Timestamp,
) -> Result<Member, IdentityError> {
    let member = get_in(tx, org_id, id).await?;
    on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE members SET password_hash = $1, password_change_required = $2, \
             updated_at = $3, sessions_valid_from = $3 WHERE id = $4 AND org_id = $5",
        )
            .bind(password_hash)
            .bind(change_required)
            .bind(now)
            .bind(id)
            .bind(org_id)
            .execute(&mut *conn)
            .await.map(|r| r.rows_affected())
    })?;
    Ok(Member {
        updated_at: now,
        ..member
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_is_lost_by_deactivation_or_an_active_admins_demotion_only() {
        let (admin, member) = (Role::Admin, Role::Member);
        assert!(loses_access((member, true), (member, false)));
        assert!(loses_access((admin, true), (member, true)));
        assert!(loses_access((admin, true), (admin, false)));
        assert!(!loses_access((member, true), (admin, true)));
        assert!(!loses_access((member, false), (member, true)));
        assert!(!loses_access((admin, false), (member, false)));
        assert!(!loses_access((member, true), (member, true)));
    }
}
