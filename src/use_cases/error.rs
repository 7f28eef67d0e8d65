//! The use cases' one error: what went wrong in domain terms. Each edge
//! turns it into its own answer (problem+json in `admin_api`, a page in
//! `console`, a message and exit code in `cli`); nothing here says how.

use crate::audit::AuditError;
use crate::identity::IdentityError;
use crate::permissions::Denied;
use crate::store::StoreError;
use crate::tokens::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    /// No such thing in the caller's organization (another organization's
    /// is not found either). Names what was looked for.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The input is not acceptable: a name, an address, a date, a password.
    #[error("{0}")]
    Invalid(String),
    /// A number outside the range the operation takes (days of expiry,
    /// lifetime or retention): the CLI treats it as a usage error.
    #[error("{0}")]
    OutOfRange(String),
    /// A permission name that is not in the catalogue, or not at this level.
    #[error("{0}")]
    InvalidPermission(String),
    /// The change contradicts the current state: a taken name, a revoked
    /// token, an organization left without an admin.
    #[error("{0}")]
    Conflict(String),
    /// The principal may not do this; names the permission it lacks.
    #[error("missing permission `{missing}`")]
    Forbidden { missing: String },
    /// A fault of the server (the database, the audit chain): the cause is
    /// for the logs, never for the caller.
    #[error("internal error: {0}")]
    Internal(String),
}

impl UseCaseError {
    /// Reads an `Invalid` from a setting's bounds check as out of range.
    pub(super) fn range(e: IdentityError) -> Self {
        match e {
            IdentityError::Invalid(m) => UseCaseError::OutOfRange(m),
            other => other.into(),
        }
    }
}

impl From<Denied> for UseCaseError {
    fn from(d: Denied) -> Self {
        UseCaseError::Forbidden { missing: d.missing }
    }
}

impl From<StoreError> for UseCaseError {
    fn from(e: StoreError) -> Self {
        UseCaseError::Internal(e.to_string())
    }
}

impl From<AuditError> for UseCaseError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Invalid(m) => UseCaseError::Invalid(m),
            other => UseCaseError::Internal(other.to_string()),
        }
    }
}

impl From<TokenError> for UseCaseError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Store(e) => e.into(),
            TokenError::Permission(p) => UseCaseError::InvalidPermission(p.to_string()),
            TokenError::Invalid(m) => UseCaseError::Invalid(m),
            TokenError::NotFound => UseCaseError::NotFound("token"),
            TokenError::Revoked => UseCaseError::Conflict("the token is revoked".into()),
        }
    }
}

impl From<IdentityError> for UseCaseError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Store(e) => e.into(),
            IdentityError::Token(e) => e.into(),
            IdentityError::Audit(e) => e.into(),
            IdentityError::Invalid(m) => UseCaseError::Invalid(m),
            IdentityError::NotFound(what) => UseCaseError::NotFound(what),
            IdentityError::Conflict(m) => UseCaseError::Conflict(m),
        }
    }
}
