//! The SCIM 2.0 service provider (RFC 7643, RFC 7644) under `/scim/v2`:
//! Users and Groups for identity providers, authenticated by organization
//! SATs with `scim:read` / `scim:write`.

pub mod error;
pub mod filter;
pub mod resource;
pub mod schema;
