//! Organizations, workspaces and members (with their passwords and sign-in
//! sessions). The tenant model every other module is scoped by.

pub mod access;
pub mod bootstrap;
pub mod group_mappings;
pub mod members;
pub mod orgs;
pub mod passwords;
pub mod scim_users;
pub mod sessions;
pub mod workspaces;

use crate::store::StoreError;
use crate::tokens::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
}

impl From<sqlx::Error> for IdentityError {
    fn from(e: sqlx::Error) -> Self {
        IdentityError::Store(e.into())
    }
}

impl IdentityError {
    /// Maps a unique violation to a conflict with `what` as the message.
    pub(crate) fn conflict_on_unique(
        e: impl Into<StoreError>,
        what: impl FnOnce() -> String,
    ) -> Self {
        let e = e.into();
        if e.is_unique_violation() {
            IdentityError::Conflict(what())
        } else {
            IdentityError::Store(e)
        }
    }
}

/// Checks a display name (organization, workspace): 1 to 100 printable
/// characters after trimming, and not shaped like an id: lookups take a name
/// or an id, and such a name could stand for another one's id.
fn check_name(what: &str, name: &str) -> Result<String, IdentityError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(IdentityError::Invalid(format!(
            "{what} name must be 1 to 100 printable characters"
        )));
    }
    if uuid::Uuid::parse_str(name).is_ok() {
        return Err(IdentityError::Invalid(format!(
            "{what} name must not look like an id (a UUID)"
        )));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_shaped_like_ids_are_refused() {
        for id in [
            "0190a8c4-7b1e-7c3d-9f00-1234567890ab",
            "0190A8C47B1E7C3D9F001234567890AB",
            "{0190a8c4-7b1e-7c3d-9f00-1234567890ab}",
            "urn:uuid:0190a8c4-7b1e-7c3d-9f00-1234567890ab",
            " 0190a8c4-7b1e-7c3d-9f00-1234567890ab ",
        ] {
            assert!(check_name("workspace", id).is_err(), "{id}");
        }
        assert_eq!(
            check_name("workspace", " prod-0190a8c4 ").unwrap(),
            "prod-0190a8c4"
        );
    }
}
