//! scimitar: a SCIM 2.0 service provider, Service Access Tokens and a
//! tamper-evident audit log on one token-and-permission core.
//!
//! Four layers (ARCHITECTURE.md; `tests/layering.rs` keeps them true):
//! the core ([`store`], [`permissions`], [`tokens`], [`identity`],
//! [`audit`], [`signing`], [`sso`]); the [`use_cases`], one per admin operation; the
//! edges ([`http`], the toolkit they share, [`config`], [`admin_api`], [`scim`], [`console`], [`sso_login`], [`cli`], [`oauth`],
//! [`audit_api`]); and the composition root [`app`].

pub mod admin_api;
pub mod app;
pub mod audit;
pub mod audit_api;
pub mod cli;
pub mod config;
pub mod console;
pub mod http;
pub mod identity;
pub mod oauth;
pub mod permissions;
pub mod scim;
pub mod signing;
pub mod sso;
pub mod sso_login;
pub mod store;
pub mod tokens;
pub mod use_cases;
