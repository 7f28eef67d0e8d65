//! Whether a workspace SAT was good at a moment in the recent past: the
//! audit intake's question ("this service says SAT X updated transformation
//! 42 at 10:04; could it have?"). It differs from [`super::verify`] in the
//! moment it judges against: a token revoked or expired at or before
//! `at` is refused, one revoked after `at` is not (the caller bounds how far
//! back `at` may be). There is no address to check (the service applied the
//! allowlist when it was called, as with introspection), and nothing is
//! written.
//!
//! What is judged as of `at`: revocation, expiry, the rotation grace of a
//! previous secret, and the workspace's deletion. What is judged as of now:
//! the token's permissions and name (a token's history of edits is not
//! kept; the intake's lateness window keeps the difference small).

use uuid::Uuid;

use super::format::{PlainToken, TokenId, TokenKind};
use super::hashing::Peppers;
use super::verify::{
    Refused, TokenRefusal, VerifiedTokens, VerifyError, VerifyRow, secret_matches,
};
use crate::permissions::PermissionSet;
use crate::store::{Db, Timestamp};

/// A SAT as it stood at the moment asked about.
#[derive(Clone, Debug)]
pub struct Standing {
    pub token_id: TokenId,
    pub name: String,
    pub org_id: Uuid,
    /// `None` for an organization SAT.
    pub workspace_id: Option<Uuid>,
    pub permissions: PermissionSet,
    /// When the token was made: the caller decides how much clock skew
    /// may put a moment before it.
    pub created_at: Timestamp,
}

/// Checks the SAT `value` as of `at`: its secret (current, or previous
/// within its rotation grace at `at`), then its state at `at`.
pub async fn verify_sat_at(
    db: &Db,
    peppers: &Peppers,
    cache: &VerifiedTokens,
    value: &str,
    at: Timestamp,
) -> Result<Standing, VerifyError> {
    let plain = PlainToken::parse(value).map_err(|m| {
        VerifyError::Refused(Refused {
            refusal: TokenRefusal::Malformed(m),
            token_id: PlainToken::id_hint(value),
            org_id: None,
        })
    })?;
    let id = plain.id().clone();
    let row = cache.row(db, &id).await?;
    let (current, previous) = secret_matches(peppers, &plain, row.as_deref());
    let row = known(row, &id)?;
    if TokenKind::parse(&row.kind) != Some(plain.kind())
        || plain.kind() != TokenKind::Sat
        || !(current || previous)
    {
        return Err(refused(&id, &row, TokenRefusal::BadSecret));
    }
    if !current && row.previous_valid_until.is_none_or(|until| until <= at) {
        return Err(refused(&id, &row, TokenRefusal::RotatedOut));
    }
    standing(id, &row, at)
}

/// The SAT `id` (the subject of an exchanged JWT whose signature the
/// caller checked) as of `at`.
pub async fn sat_standing_at(
    db: &Db,
    cache: &VerifiedTokens,
    id: &TokenId,
    at: Timestamp,
) -> Result<Standing, VerifyError> {
    let row = known(cache.row(db, id).await?, id)?;
    if TokenKind::parse(&row.kind) != Some(TokenKind::Sat) {
        return Err(refused(id, &row, TokenRefusal::BadSecret));
    }
    standing(id.clone(), &row, at)
}

fn known(
    row: Option<std::sync::Arc<VerifyRow>>,
    id: &TokenId,
) -> Result<std::sync::Arc<VerifyRow>, VerifyError> {
    row.filter(|r| r.id == id.as_str()).ok_or_else(|| {
        VerifyError::Refused(Refused {
            refusal: TokenRefusal::Unknown,
            token_id: Some(id.clone()),
            org_id: None,
        })
    })
}

fn refused(id: &TokenId, row: &VerifyRow, refusal: TokenRefusal) -> VerifyError {
    VerifyError::Refused(Refused {
        refusal,
        token_id: Some(id.clone()),
        org_id: Some(row.org_id),
    })
}

/// The state checks, as of `at`.
fn standing(id: TokenId, row: &VerifyRow, at: Timestamp) -> Result<Standing, VerifyError> {
    if row.revoked_at.is_some_and(|r| r <= at) {
        return Err(refused(&id, row, TokenRefusal::Revoked));
    }
    if row.expires_at.is_some_and(|e| e <= at) {
        return Err(refused(&id, row, TokenRefusal::Expired));
    }
    if row.workspace_deleted_at.is_some_and(|d| d <= at) {
        return Err(refused(&id, row, TokenRefusal::WorkspaceDeleted));
    }
    Ok(Standing {
        token_id: id,
        name: row.name.clone(),
        org_id: row.org_id,
        workspace_id: row.workspace_id,
        permissions: PermissionSet::from_stored(&row.permissions),
        created_at: row.created_at,
    })
}
