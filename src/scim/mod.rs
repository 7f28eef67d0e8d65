//! The SCIM 2.0 service provider (RFC 7643, RFC 7644) under `/scim/v2`:
//! Users and Groups for identity providers, authenticated by organization
//! SATs with `scim:read` / `scim:write`.

pub mod bulk;
pub mod discovery;
pub mod error;
pub mod filter;
mod filter_shapes;
pub mod groups;
pub mod handlers;
pub mod http;
pub mod index;
pub mod kind;
pub mod limits;
pub mod list;
pub mod patch;
pub mod query;
pub mod render;
pub mod resource;
pub mod routes;
pub mod schema;
pub mod store;
pub mod users;
mod value_path_compare;
pub mod write;
