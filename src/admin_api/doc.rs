//! The admin API's part of the OpenAPI document: the operations (from the
//! handlers' `#[utoipa::path]` annotations) and the schemas of the answers
//! whose types live in the core (a token view, a workspace, a member), which
//! are described here so that the core stays free of HTTP documentation.
//! `tests/integration/openapi.rs` checks real answers against them.

#![allow(dead_code)]

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::{
    auth, group_mappings, members, organization, permissions, personal_tokens, service_tokens, sso,
    token_self, workspaces,
};

#[derive(OpenApi)]
#[openapi(
    paths(
        auth::login,
        auth::change_password,
        auth::logout,
        service_tokens::create,
        service_tokens::list,
        service_tokens::get,
        service_tokens::update,
        service_tokens::revoke,
        service_tokens::rotate,
        personal_tokens::create,
        personal_tokens::list,
        personal_tokens::revoke,
        token_self::get,
        organization::get,
        organization::update,
        members::list,
        members::get,
        members::update,
        group_mappings::create,
        group_mappings::list,
        group_mappings::delete,
        permissions::list,
        service_tokens::usage,
        sso::get,
        sso::put,
        sso::delete,
        workspaces::create,
        workspaces::list,
        workspaces::get,
        workspaces::update,
        workspaces::delete,
    ),
    components(schemas(
        Token,
        TokenWithValue,
        TokenList,
        CreatedBy,
        Session,
        SelfView,
        Organization,
        Member,
        MemberList,
        AccessSource,
        WorkspaceGrant,
        WorkspacePermissionSet,
        GroupMapping,
        GroupMappingList,
        Permission,
        PermissionCatalogue,
        TokenUsage,
        SsoConfiguration,
        UsedPermission,
        Workspace,
        WorkspaceList,
        RoleName,
        TokenLevelName,
    ))
)]
pub struct AdminApi;

/// An organization or workspace SAT's scope.
#[derive(ToSchema, Serialize)]
#[schema(rename_all = "lowercase")]
pub enum TokenLevelName {
    Organization,
    Workspace,
}

/// A member's role.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum RoleName {
    Admin,
    Member,
}

/// Who created a token.
#[derive(ToSchema, Serialize)]
pub struct CreatedBy {
    /// `operator`, `member_session`, `pat`, …
    kind: String,
    id: Option<String>,
    display: Option<String>,
}

/// A token, as every management answer shows it (never its value).
#[derive(ToSchema, Serialize)]
pub struct Token {
    /// The token id (22 base62 characters), public.
    id: String,
    #[schema(pattern = "^(sat|pat)$")]
    kind: String,
    /// SATs only.
    level: Option<TokenLevelName>,
    name: String,
    description: Option<String>,
    org_id: Uuid,
    workspace_id: Option<Uuid>,
    /// PATs only.
    member_id: Option<Uuid>,
    permissions: Vec<String>,
    /// CIDR blocks the token may be used from; empty: anywhere.
    allowed_cidrs: Vec<String>,
    created_by: CreatedBy,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    #[schema(format = DateTime)]
    rotated_at: Option<String>,
    #[schema(format = DateTime)]
    previous_secret_valid_until: Option<String>,
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
    last_used_ip: Option<String>,
    #[schema(format = DateTime)]
    revoked_at: Option<String>,
    revoked_reason: Option<String>,
    #[schema(pattern = "^(active|expired|revoked)$")]
    status: String,
}

/// A token with its value: the one answer that shows it (`Cache-Control:
/// no-store`).
#[derive(ToSchema, Serialize)]
pub struct TokenWithValue {
    #[serde(flatten)]
    view: Token,
    /// `scim_sat_…` or `scim_pat_…`: keep it secret; it is not shown again.
    token: String,
}

#[derive(ToSchema)]
pub struct TokenList {
    tokens: Vec<Token>,
}

/// A signed-in member's session.
#[derive(ToSchema)]
pub struct Session {
    /// A session JWT, sent as `Authorization: Bearer`.
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: String,
    /// Seconds until it expires.
    expires_in: i64,
}

/// What the calling credential is; the same keys for every kind, `null`
/// where one does not apply.
#[derive(ToSchema)]
pub struct SelfView {
    /// The token id (null for a session).
    id: Option<String>,
    #[schema(pattern = "^(sat|pat|member_session)$")]
    kind: String,
    level: Option<TokenLevelName>,
    name: Option<String>,
    org_id: Uuid,
    org_name: String,
    workspace_id: Option<Uuid>,
    member_id: Option<Uuid>,
    user_name: Option<String>,
    role: Option<RoleName>,
    /// A SAT's own; for a session, what the member's effective role
    /// grants; for a PAT, its scope within that.
    permissions: Vec<String>,
    /// For a PAT or session: the workspace permissions held now.
    workspace_permissions: Option<Vec<WorkspacePermissionSet>>,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    status: String,
}

/// Permissions held in one workspace.
#[derive(ToSchema)]
pub struct WorkspacePermissionSet {
    workspace_id: Uuid,
    permissions: Vec<String>,
}

#[derive(ToSchema)]
pub struct Organization {
    id: Uuid,
    name: String,
    /// The cap on a token's lifetime (set by the operator).
    max_token_lifetime_days: Option<i32>,
    /// Whether SCIM may set the passwords of members who are not admins.
    scim_passwords: bool,
    #[schema(format = DateTime)]
    created_at: String,
}

#[derive(ToSchema)]
pub struct Member {
    id: Uuid,
    org_id: Uuid,
    user_name: String,
    display_name: Option<String>,
    active: bool,
    /// The effective role: `admin` directly or through a mapped group.
    role: RoleName,
    /// The role given by hand.
    direct_role: RoleName,
    /// What makes the member an admin (empty for a plain member).
    role_sources: Vec<AccessSource>,
    /// Workspace permissions, one entry per workspace and source.
    workspace_permissions: Vec<WorkspaceGrant>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

#[derive(ToSchema)]
pub struct MemberList {
    members: Vec<Member>,
}

#[derive(ToSchema)]
pub struct Workspace {
    id: Uuid,
    org_id: Uuid,
    name: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

#[derive(ToSchema)]
pub struct WorkspaceList {
    workspaces: Vec<Workspace>,
}

/// Where a grant comes from: `{"type":"direct"}` or
/// `{"type":"group_mapping","mapping_id","group_id","group"}`.
#[derive(ToSchema)]
pub struct AccessSource {
    /// `direct` or `group_mapping`.
    r#type: String,
    mapping_id: Option<Uuid>,
    group_id: Option<Uuid>,
    /// The group's display name.
    group: Option<String>,
}

/// Workspace permissions from one source.
#[derive(ToSchema)]
pub struct WorkspaceGrant {
    workspace_id: Uuid,
    permissions: Vec<String>,
    source: AccessSource,
}

/// A SCIM group mapped to the admin role (`role`) or to workspace
/// permissions (`workspace`, `permissions`).
#[derive(ToSchema)]
pub struct GroupMapping {
    id: Uuid,
    /// The SCIM group's id.
    group: Uuid,
    group_display_name: String,
    role: Option<String>,
    workspace: Option<Uuid>,
    permissions: Option<Vec<String>>,
    #[schema(format = DateTime)]
    created_at: String,
}

#[derive(ToSchema)]
pub struct GroupMappingList {
    group_mappings: Vec<GroupMapping>,
}

/// One permission of the catalogue.
#[derive(ToSchema)]
pub struct Permission {
    name: String,
    /// `organization` or `workspace`.
    level: String,
    resource: String,
    resource_label: String,
    /// `read`, `write`, `edit`, `manage`, …
    access: String,
    access_label: String,
    description: String,
    /// The permissions holding this one grants too.
    implies: Vec<String>,
    /// `organization_token`, `workspace_token`, `admin`, `member`.
    held_by: Vec<String>,
}

#[derive(ToSchema)]
pub struct PermissionCatalogue {
    permissions: Vec<Permission>,
}

/// The least-privilege advisor's view of one SAT.
#[derive(ToSchema)]
pub struct TokenUsage {
    token_id: String,
    days: i64,
    granted: Vec<String>,
    used: Vec<UsedPermission>,
    unused: Vec<String>,
    /// The smallest set from the catalogue that covers what was used.
    suggested_permissions: Vec<String>,
}

#[derive(ToSchema)]
pub struct UsedPermission {
    permission: String,
    count: i64,
    #[schema(format = DateTime)]
    last_used_at: String,
}

/// An organization's OpenID Connect configuration, the secret masked.
#[derive(ToSchema)]
pub struct SsoConfiguration {
    issuer: String,
    client_id: String,
    /// Always `********`.
    client_secret: String,
    /// `email`, `preferred_username` or `sub`.
    claim: String,
    /// `all` or `break_glass_only`.
    password_sign_in: String,
    /// What to register at the provider: `<public URL>/api/v1/auth/sso/callback`.
    redirect_uri: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}
