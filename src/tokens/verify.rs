//! Checking a presented token: one lookup by id (from memory when the
//! token was checked a moment ago, see [`super::cache`]), two HMACs and
//! constant-time compares (the same work whether or not the id exists: an
//! unknown id reads a decoy row), then the state checks. Nothing is written here;
//! last-used data goes to the in-memory [`LastUsedRecorder`](super::LastUsedRecorder).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use uuid::Uuid;

use super::cache::{Cache, Dependencies};
use super::format::{MalformedToken, PlainToken, TokenId, TokenKind};
use super::hashing::{HashedSecret, Peppers};
use super::record::CidrList;
use crate::on_db;
use crate::permissions::{Access, PermissionSet, Principal, Role, Scope};
use crate::store::{Db, StoreError, Timestamp, Touched};

/// Why a token was refused. The text is what the audit log records; it never
/// contains any part of the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("malformed token: {0}")]
    Malformed(MalformedToken),
    #[error("unknown token")]
    Unknown,
    #[error("wrong secret")]
    BadSecret,
    #[error("token revoked")]
    Revoked,
    #[error("token expired")]
    Expired,
    #[error("token rotated and its grace period is over")]
    RotatedOut,
    #[error("source address not in the token's allowlist")]
    AddressNotAllowed,
    #[error("the token's member is deactivated, deleted or no longer allowed to hold it")]
    MemberDisabled,
    #[error("the token's workspace is deleted")]
    WorkspaceDeleted,
}

impl TokenRefusal {
    /// What the caller is told. Unknown ids and wrong secrets read the same,
    /// so that a response never confirms that a token id exists; the audit
    /// record keeps the precise reason.
    pub fn public_detail(&self) -> String {
        match self {
            TokenRefusal::Unknown | TokenRefusal::BadSecret => "invalid token".to_string(),
            other => other.to_string(),
        }
    }

    /// A stable machine-readable code for the reason.
    pub fn code(&self) -> &'static str {
        match self {
            TokenRefusal::Malformed(_) => "malformed_token",
            TokenRefusal::Unknown => "unknown_token",
            TokenRefusal::BadSecret => "bad_secret",
            TokenRefusal::Revoked => "revoked",
            TokenRefusal::Expired => "expired",
            TokenRefusal::RotatedOut => "rotated_out",
            TokenRefusal::AddressNotAllowed => "address_not_allowed",
            TokenRefusal::MemberDisabled => "member_disabled",
            TokenRefusal::WorkspaceDeleted => "workspace_deleted",
        }
    }
}

/// Why a token could not be verified: refused (an expected outcome, with
/// what could be learned about the token for the audit log), or the store
/// failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{}", .0.refusal)]
    Refused(Refused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A refusal with what could be learned about the token, for the audit log.
#[derive(Debug)]
pub struct Refused {
    pub refusal: TokenRefusal,
    pub token_id: Option<TokenId>,
    pub org_id: Option<Uuid>,
}

#[derive(Clone, Debug)]
pub struct Verified {
    pub principal: Principal,
    pub token_id: TokenId,
    pub kind: TokenKind,
    /// The token's own name (a PAT's principal names its member instead).
    pub name: String,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(super) struct VerifyRow {
    pub(super) id: String,
    pub(super) org_id: Uuid,
    pub(super) kind: String,
    pub(super) workspace_id: Option<Uuid>,
    pub(super) member_id: Option<Uuid>,
    pub(super) name: String,
    pub(super) permissions: String,
    pub(super) secret_hash: Vec<u8>,
    pub(super) pepper_version: i32,
    pub(super) previous_secret_hash: Option<Vec<u8>>,
    pub(super) previous_pepper_version: Option<i32>,
    pub(super) previous_valid_until: Option<Timestamp>,
    pub(super) allowed_cidrs: Option<String>,
    pub(super) created_at: Timestamp,
    pub(super) expires_at: Option<Timestamp>,
    pub(super) revoked_at: Option<Timestamp>,
    pub(super) workspace_deleted_at: Option<Timestamp>,
    pub(super) member_user_name: Option<String>,
    pub(super) member_role: Option<String>,
    pub(super) member_active: Option<bool>,
    pub(super) member_deleted_at: Option<Timestamp>,
    pub(super) member_access_role: Option<String>,
    pub(super) member_access_workspaces: Option<String>,
    pub(super) scope_workspace_id: Option<Uuid>,
}

impl Dependencies for Arc<VerifyRow> {
    fn member_id(&self) -> Option<Uuid> {
        self.member_id
    }
    fn workspace_id(&self) -> Option<Uuid> {
        self.workspace_id
    }
}

/// The rows of tokens verified a moment ago (see [`super::cache`]). One
/// per process, shared by every request.
#[derive(Debug, Default)]
pub struct VerifiedTokens(Cache<Arc<VerifyRow>>);

impl VerifiedTokens {
    /// Forgets what a committed transaction changed.
    pub fn forget(&self, touched: &[Touched]) {
        self.0.forget(touched);
    }

    /// The row of `id`: kept, or read (a decoy's for an unknown id).
    pub(super) async fn row(
        &self,
        db: &Db,
        id: &TokenId,
    ) -> Result<Option<Arc<VerifyRow>>, StoreError> {
        if let Some(row) = self.0.get(id.as_str()) {
            return Ok(Some(row));
        }
        let seen = self.0.generation();
        let read_at = Instant::now();
        let row: Option<VerifyRow> = on_db!(db, pool => {
            sqlx::query_as(VERIFY_SQL).bind(id.as_str()).fetch_optional(pool).await
        })?;
        let row = row.map(Arc::new);
        if let Some(row) = row.as_ref().filter(|r| r.id == id.as_str()) {
            self.0.put(id.as_str(), row.clone(), seen, read_at);
        }
        Ok(row)
    }
}

/// One row for any id while the table holds a token: the token asked for,
/// or else a decoy (the lowest id), so that an unknown id costs the same
/// lookups and row decoding as a known one. The caller tells them apart by
/// `id`. The decoy is looked up (materialized) for every id, known or not,
/// so that both do the same three index probes.
///
/// The joins read identity's `workspaces` and `members` tables directly, the
/// one place the core does so: every authenticated request runs this, and
/// asking identity separately would turn one indexed round trip into three.
/// Only liveness columns are read; identity still owns every write to them.
const VERIFY_SQL: &str = "WITH d AS MATERIALIZED (SELECT MIN(id) AS decoy FROM tokens) \
     SELECT t.id, t.org_id, t.kind, t.workspace_id, t.member_id, t.name, t.permissions, \
       t.secret_hash, t.pepper_version, t.previous_secret_hash, t.previous_pepper_version, \
       t.previous_valid_until, t.allowed_cidrs, t.created_at, t.expires_at, t.revoked_at, \
       w.deleted_at AS workspace_deleted_at, m.user_name AS member_user_name, \
       m.role AS member_role, m.active AS member_active, m.deleted_at AS member_deleted_at, \
       m.access_role AS member_access_role, m.access_workspaces AS member_access_workspaces, \
       t.scope_workspace_id \
     FROM d \
     JOIN tokens t ON t.id = COALESCE((SELECT id FROM tokens WHERE id = $1), d.decoy) \
     LEFT JOIN workspaces w ON w.id = t.workspace_id \
     LEFT JOIN members m ON m.id = t.member_id";

/// Verifies `value` presented from `source`. Returns the principal, or why
/// it was refused. Only a storage failure is an error.
pub async fn verify(
    db: &Db,
    peppers: &Peppers,
    cache: &VerifiedTokens,
    value: &str,
    source: Option<IpAddr>,
    now: Timestamp,
) -> Result<Verified, VerifyError> {
    verify_from(db, peppers, cache, value, Source::Checked(source), now).await
}

/// Where a token is presented from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// The caller's address, checked against the token's allowlist.
    Checked(Option<IpAddr>),
    /// Unknown: the token is being introspected by a service on behalf of a
    /// client whose address it has not told us, so the allowlist is the
    /// service's to apply.
    Unchecked,
}

/// [`verify`], with control over the address check.
pub async fn verify_from(
    db: &Db,
    peppers: &Peppers,
    cache: &VerifiedTokens,
    value: &str,
    source: Source,
    now: Timestamp,
) -> Result<Verified, VerifyError> {
    let outcome = check(db, peppers, cache, value, source, now).await;
    // Counted for `/metrics` (a no-op unless metrics are on). Literal
    // labels are static keys: the common outcome allocates nothing.
    const NAME: &str = "scimitar_token_verifications_total";
    match &outcome {
        Ok(_) => metrics::counter!(NAME, "outcome" => "ok").increment(1),
        Err(VerifyError::Refused(r)) => {
            metrics::counter!(NAME, "outcome" => r.refusal.code()).increment(1);
        }
        Err(VerifyError::Store(_)) => metrics::counter!(NAME, "outcome" => "error").increment(1),
    }
    outcome
}

async fn check(
    db: &Db,
    peppers: &Peppers,
    cache: &VerifiedTokens,
    value: &str,
    source: Source,
    now: Timestamp,
) -> Result<Verified, VerifyError> {
    let plain = match PlainToken::parse(value) {
        Ok(p) => p,
        Err(m) => {
            return Err(VerifyError::Refused(Refused {
                refusal: TokenRefusal::Malformed(m),
                token_id: PlainToken::id_hint(value),
                org_id: None,
            }));
        }
    };
    let id = plain.id().clone();
    let row = cache.row(db, &id).await?;

    let (matches_current, matches_previous) = secret_matches(peppers, &plain, row.as_deref());

    let Some(row) = row.filter(|r| r.id == id.as_str()) else {
        return Err(VerifyError::Refused(Refused {
            refusal: TokenRefusal::Unknown,
            token_id: Some(id),
            org_id: None,
        }));
    };
    let refused = |refusal| {
        Err(VerifyError::Refused(Refused {
            refusal,
            token_id: Some(id.clone()),
            org_id: Some(row.org_id),
        }))
    };

    // The kind is part of the value; a SAT id presented with a PAT prefix is
    // not that token.
    if TokenKind::parse(&row.kind) != Some(plain.kind()) || !(matches_current || matches_previous) {
        return refused(TokenRefusal::BadSecret);
    }
    if row.revoked_at.is_some() {
        return refused(TokenRefusal::Revoked);
    }
    if row.expires_at.is_some_and(|e| e <= now) {
        return refused(TokenRefusal::Expired);
    }
    if !matches_current && row.previous_valid_until.is_none_or(|until| until <= now) {
        return refused(TokenRefusal::RotatedOut);
    }
    if row.workspace_id.is_some() && row.workspace_deleted_at.is_some() {
        return refused(TokenRefusal::WorkspaceDeleted);
    }
    let allowed = match source {
        Source::Checked(addr) => CidrList::from_stored(row.allowed_cidrs.as_deref()).allows(addr),
        Source::Unchecked => true,
    };
    if !allowed {
        return refused(TokenRefusal::AddressNotAllowed);
    }

    let principal = match plain.kind() {
        TokenKind::Sat => Principal::Sat {
            token_id: id.clone(),
            name: row.name.clone(),
            org_id: row.org_id,
            workspace_id: row.workspace_id,
            permissions: PermissionSet::from_stored(&row.permissions),
        },
        TokenKind::Pat => {
            let role = row.member_role.as_deref().and_then(Role::parse);
            let usable = row.member_active == Some(true) && row.member_deleted_at.is_none();
            let (Some(member_id), Some(role), true) = (row.member_id, role, usable) else {
                return refused(TokenRefusal::MemberDisabled);
            };
            // The PAT's power: its scope within the member's access now.
            let member = Access::from_row(
                role,
                row.member_access_role.as_deref(),
                row.member_access_workspaces.as_deref(),
            );
            let scope = Scope::from_stored(&row.permissions, row.scope_workspace_id);
            Principal::Pat {
                token_id: id.clone(),
                org_id: row.org_id,
                member_id,
                user_name: row.member_user_name.clone().unwrap_or_default(),
                access: member.narrowed(&scope),
            }
        }
    };
    Ok(Verified {
        principal,
        token_id: id,
        kind: plain.kind(),
        name: row.name.clone(),
        expires_at: row.expires_at,
        created_at: row.created_at,
    })
}

/// Whether `plain`'s secret matches the current and the previous secret of
/// `row`: exactly two HMACs and two constant-time comparisons on every path
/// (unknown id, wrong secret, right secret, with or without a previous
/// secret), against decoys where there is no real hash, so that the time
/// taken does not tell an existing id from an unknown one. (For an unknown
/// id, `row` is the decoy, whose hashes are compared and then ignored.)
pub(super) fn secret_matches(
    peppers: &Peppers,
    plain: &PlainToken,
    row: Option<&VerifyRow>,
) -> (bool, bool) {
    let decoy = peppers.decoy();
    let (current, previous) = match row {
        Some(row) => (
            HashedSecret {
                bytes: row.secret_hash.clone(),
                pepper_version: row.pepper_version,
            },
            match (&row.previous_secret_hash, row.previous_pepper_version) {
                (Some(bytes), Some(pepper_version)) => Some(HashedSecret {
                    bytes: bytes.clone(),
                    pepper_version,
                }),
                _ => None,
            },
        ),
        None => (decoy.clone(), None),
    };
    let matches_current = peppers.matches(plain.secret(), &current);
    let has_previous = previous.is_some();
    let matches_previous =
        peppers.matches(plain.secret(), previous.as_ref().unwrap_or(&decoy)) & has_previous;
    (matches_current, matches_previous)
}
