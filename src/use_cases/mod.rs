//! The use cases (layer 2): one function per admin operation, called alike
//! by the admin API (`admin_api`), the console and the operator CLI, so
//! that an operation is authorized, validated, written and audited the same
//! way whichever edge asked for it.
//!
//! A use case takes the core's handles ([`Services`]), who acts, in which
//! organization and from where ([`Call`]: a verified principal and a
//! request context), and a domain input. It asks the permission core, makes
//! its change through [`write`] (one transaction that also records the
//! operation's audit event) and answers with a domain value or a
//! [`UseCaseError`], which each edge turns into its own form: problem+json,
//! a console page, a CLI message and exit code. Nothing here knows about
//! HTTP, pages or the command line; it imports only the core.

mod any_token;
pub mod audit_intake;
pub mod audit_streams;
mod call;
mod error;
mod expiry;
pub mod group_mappings;
pub mod members;
pub mod organizations;
pub mod personal_tokens;
pub mod service_tokens;
mod services;
pub mod sso;
pub mod workspaces;
mod write;

#[cfg(test)]
mod tests;

pub use any_token::revoke_any_token;
pub use call::{Call, Witness};
pub use error::UseCaseError;
pub use expiry::{Expiry, MAX_EXPIRY_DAYS};
pub use services::Services;
pub use write::{Change, write, write_changing_access};
