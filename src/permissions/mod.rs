//! The permission core: what a permission is, which tokens may hold which,
//! and the one function that answers "may this principal do this here".
//! Every module asks [`authorize`]; nothing else decides access.

mod access;
mod advice;
mod authorize;
mod catalogue;
mod listing;
mod token_id;

pub use access::{Access, Scope, ScopeError};
pub use advice::{Advice, advise};
pub use authorize::{Action, Denied, Principal, PrincipalKind, Role, authorize};
pub use catalogue::{
    Level, OrgPermission, Permission, PermissionError, PermissionSet, Resource, TokenLevel,
};
pub use listing::{Entry as CatalogueEntry, entries as catalogue};
pub use token_id::{ID_LEN, TokenId};
