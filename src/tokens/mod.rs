//! The token core: the wire format, hashing, verification, and the lifecycle
//! of Service Access Tokens and Personal Access Tokens (create, list, change,
//! rotate, revoke, last-used tracking). It imports only the store and the
//! permission core; the HTTP API and the CLI sit on top of it.

mod cache;
mod format;
mod hashing;
mod last_used;
mod lifecycle;
mod pepper;
mod record;
mod usage;
mod verify;
mod verify_at;

pub use cache::FRESH_FOR;
pub use format::{MalformedToken, PlainToken, TokenId, TokenKind};
pub use hashing::{HashedSecret, Peppers};
pub use last_used::{Flusher, LastUsedRecorder};
pub use lifecycle::{
    ListFilter, NewToken, Owner, TokenChanges, create, get, list, revoke, revoke_for_member,
    revoke_for_workspace, rotate, update,
};
pub use pepper::load_peppers;
pub use record::{CidrList, TokenStatus, TokenView, parse_network};
pub use usage::{UsageRecorder, Used, used_since};
pub use verify::{
    Refused, Source, TokenRefusal, Verified, VerifiedTokens, VerifyError, verify, verify_from,
};
pub use verify_at::{Standing, sat_standing_at, verify_sat_at};

use crate::permissions::PermissionError;
use crate::store::StoreError;

/// Errors of token management. (Verification has its own,
/// [`VerifyError`], whose refusals are an expected outcome.)
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Permission(#[from] PermissionError),
    #[error("{0}")]
    Invalid(String),
    #[error("token not found")]
    NotFound,
    #[error("token is revoked")]
    Revoked,
}

impl From<sqlx::Error> for TokenError {
    fn from(e: sqlx::Error) -> Self {
        TokenError::Store(e.into())
    }
}
