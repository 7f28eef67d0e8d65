//! scimitar: a SCIM 2.0 service provider, Service Access Tokens and a
//! tamper-evident audit log on one token-and-permission core.
//!
//! Core (imports no feature module): [`store`], [`permissions`], [`tokens`],
//! [`identity`], [`audit`], [`signing`]. On top: [`http`] (router, extractors, errors) and
//! the feature modules ([`management`] for the token, member and workspace
//! APIs), and [`cli`].

pub mod app;
pub mod audit;
pub mod audit_api;
pub mod authority;
pub mod cli;
pub mod config;
pub mod console;
pub mod http;
pub mod identity;
pub mod management;
pub mod permissions;
pub mod scim;
pub mod signing;
pub mod store;
pub mod tokens;
