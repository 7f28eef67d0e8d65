//! The SSO sign-in's part of the OpenAPI document: the round trip's two
//! routes and the session the callback answers with.

#![allow(dead_code)]

use utoipa::{OpenApi, ToSchema};

use super::{callback, start};

#[derive(OpenApi)]
#[openapi(
    paths(start::start, callback::callback),
    components(schemas(SsoSession))
)]
pub struct SsoLoginApi;

/// The API session an SSO sign-in answers with: the body of `/auth/login`.
#[derive(ToSchema)]
pub struct SsoSession {
    /// A session JWT, sent as `Authorization: Bearer`.
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: String,
    /// Seconds until it expires.
    expires_in: i64,
}
