//! The token authority's part of the OpenAPI document: introspection and
//! exchange (from the handlers' annotations), their form bodies and answers,
//! and the OAuth error they answer a bad body with.

#![allow(dead_code)]

use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::{exchange, introspect};

#[derive(OpenApi)]
#[openapi(
    paths(introspect::introspect, exchange::exchange),
    components(schemas(
        IntrospectionRequest,
        Introspection,
        IntrospectedWorkspace,
        ExchangeRequest,
        Exchanged,
        OAuthErrorBody
    ))
)]
pub struct OAuthApi;

/// RFC 7662 introspection request (a form, or the same as JSON).
#[derive(ToSchema)]
pub struct IntrospectionRequest {
    /// The token to check.
    token: String,
    /// A permission to check the token for (`transformations:edit`): the
    /// answer then carries `allowed`, and the check counts as a use of it
    /// for the least-privilege advisor.
    permission: Option<String>,
    /// The workspace the permission is wanted in (a PAT's, which may hold
    /// permissions in several).
    workspace_id: Option<Uuid>,
}

/// RFC 7662 answer: anything but an active token of the caller's
/// organization is exactly `{"active": false}`.
#[derive(ToSchema)]
pub struct Introspection {
    active: bool,
    #[schema(pattern = "^(sat|pat)$")]
    token_type: Option<String>,
    /// Space-separated permissions.
    scope: Option<String>,
    /// The token id.
    client_id: Option<String>,
    /// The SAT id, or a PAT's member id.
    sub: Option<String>,
    org_id: Option<Uuid>,
    workspace_id: Option<Uuid>,
    name: Option<String>,
    /// A PAT's member's user name.
    username: Option<String>,
    /// A PAT's member's effective role.
    role: Option<String>,
    /// A PAT's workspace permissions now, per workspace.
    workspace_permissions: Option<Vec<IntrospectedWorkspace>>,
    /// Whether the token holds the `permission` asked about.
    allowed: Option<bool>,
    /// Seconds since the epoch; left out for a token that never expires.
    exp: Option<i64>,
    iat: Option<i64>,
}

/// Permissions a PAT holds in one workspace.
#[derive(ToSchema)]
pub struct IntrospectedWorkspace {
    workspace_id: Uuid,
    permissions: Vec<String>,
}

/// RFC 8693 token exchange request (a form, or the same as JSON).
#[derive(ToSchema)]
pub struct ExchangeRequest {
    #[schema(example = "urn:ietf:params:oauth:grant-type:token-exchange")]
    grant_type: String,
    /// The SAT to exchange; it also authenticates the request.
    subject_token: String,
    #[schema(example = "urn:ietf:params:oauth:token-type:access_token")]
    subject_token_type: Option<String>,
    requested_token_type: Option<String>,
    /// Default `scimitar`; at most 256 printable ASCII characters.
    audience: Option<String>,
    /// Space-separated; may only narrow the SAT's permissions.
    scope: Option<String>,
}

/// An exchanged token: an EdDSA JWT of at most 5 minutes, to verify against
/// `/.well-known/jwks.json`.
#[derive(ToSchema)]
pub struct Exchanged {
    access_token: String,
    #[schema(example = "urn:ietf:params:oauth:token-type:jwt")]
    issued_token_type: String,
    #[schema(example = "Bearer")]
    token_type: String,
    expires_in: i64,
    scope: String,
}

/// An OAuth error (RFC 6749 §5.2).
#[derive(ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `unsupported_grant_type`, `invalid_grant`,
    /// `invalid_scope`, `server_error`.
    error: String,
    error_description: Option<String>,
}
