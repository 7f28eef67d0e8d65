//! Creating, reading, changing, rotating and revoking tokens. Writes take a
//! transaction so that the caller can record the audit event in the same one.
//! Every query is scoped by organization: another organization's token is
//! simply not found.

use sqlx::QueryBuilder;
use time::Duration;
use uuid::Uuid;

use super::TokenError;
use super::format::{PlainToken, TokenId, TokenKind};
use super::hashing::Peppers;
use super::record::{CidrList, TokenRow, TokenView, token_columns};
use crate::permissions::{PermissionSet, Principal, Scope, TokenLevel};
use crate::store::{Db, Timestamp, Touched, Tx};
use crate::{on_db, on_tx};

/// Who owns a new token. The caller has checked that the workspace or member
/// exists in the organization.
#[derive(Clone, Debug)]
pub enum Owner {
    Organization,
    Workspace(Uuid),
    /// A PAT of this member, narrowed to this scope.
    Member(Uuid, Scope),
}

#[derive(Clone, Debug)]
pub struct NewToken {
    pub org_id: Uuid,
    pub owner: Owner,
    pub name: String,
    pub description: Option<String>,
    /// Permission names for a SAT; ignored for a PAT, whose scope is its
    /// owner's.
    pub permissions: Vec<String>,
    pub expires_at: Option<Timestamp>,
    pub allowed_cidrs: Vec<String>,
    /// The organization's cap on token lifetime, if it has one.
    pub max_lifetime_days: Option<i64>,
}

/// Changes to a token's descriptive fields. `None` leaves a field alone;
/// `Some(None)` clears an optional one.
#[derive(Clone, Debug, Default)]
pub struct TokenChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub allowed_cidrs: Option<Vec<String>>,
    /// A SAT's new permissions, at its own level.
    pub permissions: Option<Vec<String>>,
    /// An earlier expiry (a token's life is shortened, never lengthened).
    pub expires_at: Option<Timestamp>,
}

/// Which tokens to list.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub kind: Option<TokenKind>,
    pub level: Option<TokenLevel>,
    pub workspace_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
}

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 2000;
/// Longest grace period a rotation may leave the old secret working.
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 3600;

fn check_name(name: &str) -> Result<String, TokenError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(TokenError::Invalid(format!(
            "name must be 1 to {MAX_NAME} printable characters"
        )));
    }
    Ok(name.to_string())
}

fn check_description(d: Option<String>) -> Result<Option<String>, TokenError> {
    match d {
        Some(d) if d.chars().count() > MAX_DESCRIPTION => Err(TokenError::Invalid(format!(
            "description must be at most {MAX_DESCRIPTION} characters"
        ))),
        other => Ok(other.filter(|d| !d.trim().is_empty())),
    }
}

fn check_expiry(
    expires_at: Option<Timestamp>,
    max_days: Option<i64>,
    now: Timestamp,
) -> Result<Option<Timestamp>, TokenError> {
    if expires_at.is_some_and(|e| e <= now) {
        return Err(TokenError::Invalid("expiry must be in the future".into()));
    }
    let Some(max_days) = max_days else {
        return Ok(expires_at);
    };
    let cap = now + Duration::days(max_days);
    match expires_at {
        None => Ok(Some(cap)),
        Some(e) if e > cap => Err(TokenError::Invalid(format!(
            "this organization caps token lifetime at {max_days} days"
        ))),
        some => Ok(some),
    }
}

/// Creates a token and returns its view and its value, which the caller
/// shows once and then drops.
pub async fn create(
    tx: &mut Tx,
    peppers: &Peppers,
    new: NewToken,
    creator: &Principal,
    now: Timestamp,
) -> Result<(TokenView, PlainToken), TokenError> {
    let name = check_name(&new.name)?;
    let description = check_description(new.description)?;
    let expires_at = check_expiry(new.expires_at, new.max_lifetime_days, now)?;
    let cidrs = CidrList::parse(&new.allowed_cidrs).map_err(TokenError::Invalid)?;
    let (kind, workspace_id, member_id, permissions) = match new.owner {
        Owner::Organization => (
            TokenKind::Sat,
            None,
            None,
            PermissionSet::for_level(TokenLevel::Organization, &new.permissions)?,
        ),
        Owner::Workspace(ws) => (
            TokenKind::Sat,
            Some(ws),
            None,
            PermissionSet::for_level(TokenLevel::Workspace, &new.permissions)?,
        ),
        Owner::Member(m, _) => (TokenKind::Pat, None, Some(m), PermissionSet::default()),
    };
    // A PAT's scope is stored in the same column, beside its workspace.
    let (stored_permissions, scope_workspace) = match &new.owner {
        Owner::Member(_, scope) => (scope.to_stored(), scope.workspace_id()),
        _ => (permissions.to_stored(), None),
    };
    let plain = PlainToken::generate(kind);
    let hashed = peppers.hash(plain.secret());
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO tokens (id, org_id, kind, workspace_id, member_id, name, description, \
             permissions, secret_hash, pepper_version, allowed_cidrs, created_by_kind, \
             created_by_id, created_by_display, created_at, expires_at, scope_workspace_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(plain.id().as_str())
        .bind(new.org_id)
        .bind(kind.as_str())
        .bind(workspace_id)
        .bind(member_id)
        .bind(&name)
        .bind(&description)
        .bind(&stored_permissions)
        .bind(&hashed.bytes)
        .bind(hashed.pepper_version)
        .bind(cidrs.to_stored())
        .bind(creator.kind().as_str())
        .bind(creator.actor_id())
        .bind(creator.display())
        .bind(now)
        .bind(expires_at)
        .bind(scope_workspace)
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected())
    })?;
    let view = get_in(tx, new.org_id, plain.id(), now).await?;
    Ok((view, plain))
}

/// Reads a token inside a write transaction, locking its row (PostgreSQL)
/// so that two concurrent revocations or rotations cannot both act on the
/// same prior state.
async fn row_in(tx: &mut Tx, org_id: Uuid, id: &TokenId) -> Result<TokenRow, TokenError> {
    let sql = crate::locking_select!(
        tx,
        "SELECT ",
        token_columns!(),
        " FROM tokens WHERE id = $1 AND org_id = $2"
    );
    let row: Option<TokenRow> = on_tx!(tx, conn => {
        sqlx::query_as(sql).bind(id.as_str()).bind(org_id).fetch_optional(&mut *conn).await
    })?;
    row.ok_or(TokenError::NotFound)
}

async fn get_in(
    tx: &mut Tx,
    org_id: Uuid,
    id: &TokenId,
    now: Timestamp,
) -> Result<TokenView, TokenError> {
    Ok(row_in(tx, org_id, id).await?.view(now))
}

/// One token of the organization.
pub async fn get(
    db: &Db,
    org_id: Uuid,
    id: &TokenId,
    now: Timestamp,
) -> Result<TokenView, TokenError> {
    let sql = concat!(
        "SELECT ",
        token_columns!(),
        " FROM tokens WHERE id = $1 AND org_id = $2"
    );
    let row: Option<TokenRow> = on_db!(db, pool => {
        sqlx::query_as(sql).bind(id.as_str()).bind(org_id).fetch_optional(pool).await
    })?;
    Ok(row.ok_or(TokenError::NotFound)?.view(now))
}

/// The organization's tokens matching `filter`, newest first.
pub async fn list(
    db: &Db,
    org_id: Uuid,
    filter: &ListFilter,
    now: Timestamp,
) -> Result<Vec<TokenView>, TokenError> {
    let rows: Vec<TokenRow> = on_db!(db, pool => {
        let mut q = QueryBuilder::new(concat!("SELECT ", token_columns!(), " FROM tokens WHERE org_id = "));
        q.push_bind(org_id);
        if let Some(kind) = filter.kind {
            q.push(" AND kind = ").push_bind(kind.as_str());
        }
        match filter.level {
            Some(TokenLevel::Organization) => {
                q.push(" AND kind = 'sat' AND workspace_id IS NULL");
            }
            Some(TokenLevel::Workspace) => {
                q.push(" AND kind = 'sat' AND workspace_id IS NOT NULL");
            }
            None => {}
        }
        if let Some(ws) = filter.workspace_id {
            q.push(" AND workspace_id = ").push_bind(ws);
        }
        if let Some(m) = filter.member_id {
            q.push(" AND member_id = ").push_bind(m);
        }
        q.push(" ORDER BY created_at DESC, id");
        q.build_query_as().fetch_all(pool).await
    })?;
    Ok(rows.into_iter().map(|r| r.view(now)).collect())
}

/// Changes the descriptive fields of a live token.
pub async fn update(
    tx: &mut Tx,
    org_id: Uuid,
    id: &TokenId,
    kind: TokenKind,
    changes: TokenChanges,
    now: Timestamp,
) -> Result<(TokenView, TokenView), TokenError> {
    let current = row_in(tx, org_id, id).await?;
    if current.kind() != kind {
        return Err(TokenError::NotFound);
    }
    if current.revoked_at.is_some() {
        return Err(TokenError::Revoked);
    }
    let name = changes.name.as_deref().map(check_name).transpose()?;
    let description = changes.description.map(check_description).transpose()?;
    let cidrs = changes
        .allowed_cidrs
        .map(|c| CidrList::parse(&c))
        .transpose()
        .map_err(TokenError::Invalid)?;
    let level = if current.workspace_id.is_some() {
        TokenLevel::Workspace
    } else {
        TokenLevel::Organization
    };
    let permissions = match &changes.permissions {
        Some(p) if kind == TokenKind::Sat => Some(PermissionSet::for_level(level, p)?),
        Some(_) => {
            return Err(TokenError::Invalid(
                "a personal access token's permissions do not change".into(),
            ));
        }
        None => None,
    };
    if let Some(e) = changes.expires_at {
        if e <= now {
            return Err(TokenError::Invalid("expiry must be in the future".into()));
        }
        if current.expires_at.is_some_and(|c| e > c) {
            return Err(TokenError::Invalid(
                "an expiry can only be brought forward: make a new token to extend one".into(),
            ));
        }
    }
    let before = get_in(tx, org_id, id, now).await?;
    on_tx!(tx, conn => {
        let mut q = QueryBuilder::new("UPDATE tokens SET id = id");
        if let Some(p) = &permissions {
            q.push(", permissions = ").push_bind(p.to_stored());
        }
        if let Some(e) = changes.expires_at {
            q.push(", expires_at = ").push_bind(e);
        }
        if let Some(name) = &name {
            q.push(", name = ").push_bind(name.clone());
        }
        if let Some(description) = &description {
            q.push(", description = ").push_bind(description.clone());
        }
        if let Some(cidrs) = &cidrs {
            q.push(", allowed_cidrs = ").push_bind(cidrs.to_stored());
        }
        q.push(" WHERE id = ").push_bind(id.as_str());
        q.push(" AND org_id = ").push_bind(org_id);
        q.build().execute(&mut *conn).await.map(|r| r.rows_affected())
    })?;
    tx.touch(Touched::Token(id.as_str().to_string()));
    Ok((before, get_in(tx, org_id, id, now).await?))
}

/// Gives a token a new secret. The old one keeps working for
/// `grace_seconds` (0 ends it at once), so that a deployment can roll over
/// without an outage.
pub async fn rotate(
    tx: &mut Tx,
    peppers: &Peppers,
    org_id: Uuid,
    id: &TokenId,
    kind: TokenKind,
    grace_seconds: i64,
    now: Timestamp,
) -> Result<(TokenView, PlainToken), TokenError> {
    if !(0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
        return Err(TokenError::Invalid(format!(
            "grace_period_seconds must be between 0 and {MAX_GRACE_SECONDS}"
        )));
    }
    let current = row_in(tx, org_id, id).await?;
    if current.kind() != kind {
        return Err(TokenError::NotFound);
    }
    if current.revoked_at.is_some() {
        return Err(TokenError::Revoked);
    }
    let plain = PlainToken::with_id(kind, id.clone());
    let hashed = peppers.hash(plain.secret());
    on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE tokens SET previous_secret_hash = secret_hash, \
             previous_pepper_version = pepper_version, previous_valid_until = $1, \
             secret_hash = $2, pepper_version = $3, rotated_at = $4 \
             WHERE id = $5 AND org_id = $6",
        )
        .bind(now + Duration::seconds(grace_seconds))
        .bind(&hashed.bytes)
        .bind(hashed.pepper_version)
        .bind(now)
        .bind(id.as_str())
        .bind(org_id)
        .execute(&mut *conn)
        .await.map(|r| r.rows_affected())
    })?;
    tx.touch(Touched::Token(id.as_str().to_string()));
    Ok((get_in(tx, org_id, id, now).await?, plain))
}

/// Revokes a token. The row stays, for the audit trail. Returns the view and
/// whether this call revoked it (false if it already was).
pub async fn revoke(
    tx: &mut Tx,
    org_id: Uuid,
    id: &TokenId,
    kind: TokenKind,
    reason: &str,
    now: Timestamp,
) -> Result<(TokenView, bool), TokenError> {
    let current = row_in(tx, org_id, id).await?;
    if current.kind() != kind {
        return Err(TokenError::NotFound);
    }
    if current.revoked_at.is_some() {
        return Ok((current.view(now), false));
    }
    on_tx!(tx, conn => {
        sqlx::query("UPDATE tokens SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND org_id = $4")
            .bind(now)
            .bind(reason)
            .bind(id.as_str())
            .bind(org_id)
            .execute(&mut *conn)
            .await.map(|r| r.rows_affected())
    })?;
    tx.touch(Touched::Token(id.as_str().to_string()));
    Ok((get_in(tx, org_id, id, now).await?, true))
}

/// Revokes every live PAT of a member (deactivated, deleted or demoted).
/// Returns the ids revoked.
pub async fn revoke_for_member(
    tx: &mut Tx,
    member_id: Uuid,
    reason: &str,
    now: Timestamp,
) -> Result<Vec<String>, TokenError> {
    revoke_where(tx, TokensOf::Member, member_id, reason, now).await
}

/// Revokes every live SAT of a deleted workspace.
pub async fn revoke_for_workspace(
    tx: &mut Tx,
    workspace_id: Uuid,
    reason: &str,
    now: Timestamp,
) -> Result<Vec<String>, TokenError> {
    revoke_where(tx, TokensOf::Workspace, workspace_id, reason, now).await
}

/// Whose live tokens [`revoke_where`] revokes.
enum TokensOf {
    Member,
    Workspace,
}

/// Revokes the live tokens of `owner` and notes them as touched.
async fn revoke_where(
    tx: &mut Tx,
    kind: TokensOf,
    owner: Uuid,
    reason: &str,
    now: Timestamp,
) -> Result<Vec<String>, TokenError> {
    let revoke = match kind {
        TokensOf::Member => {
            "UPDATE tokens SET revoked_at = $1, revoked_reason = $2 \
             WHERE revoked_at IS NULL AND member_id = $3 RETURNING id"
        }
        TokensOf::Workspace => {
            "UPDATE tokens SET revoked_at = $1, revoked_reason = $2 \
             WHERE revoked_at IS NULL AND workspace_id = $3 RETURNING id"
        }
    };
    let ids: Vec<String> = crate::tx_fetch!(tx, (String,), revoke, now, reason, owner)?
        .into_iter()
        .map(|(id,)| id)
        .collect();
    for id in &ids {
        tx.touch(Touched::Token(id.clone()));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_capped_by_org_policy() {
        let now = Timestamp::now();
        assert_eq!(check_expiry(None, None, now).unwrap(), None);
        assert_eq!(
            check_expiry(None, Some(30), now).unwrap(),
            Some(now + Duration::days(30))
        );
        assert!(check_expiry(Some(now + Duration::days(31)), Some(30), now).is_err());
        assert!(check_expiry(Some(now - Duration::seconds(1)), None, now).is_err());
        assert!(check_expiry(Some(now + Duration::days(3)), Some(30), now).is_ok());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(check_name("  ci  ").unwrap(), "ci");
        assert!(check_name("   ").is_err());
        assert!(check_name(&"x".repeat(201)).is_err());
        assert!(check_name("a\nb").is_err());
    }
}
