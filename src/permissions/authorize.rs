//! Who is asking (`Principal`), what they want to do (`Action`), and the one
//! function that decides.

use uuid::Uuid;

use super::TokenId;
use super::access::Access;
use super::catalogue::{Level, OrgPermission, PermissionSet, Resource};

/// An organization role. Admins manage tokens, members, workspaces and read
/// audit logs; members manage their own Personal Access Tokens, and hold
/// the workspace permissions given them directly or through their groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// The permissions the role grants, sorted, named as a refusal names a
    /// missing one (most are no catalogue permission: no SAT can hold them).
    pub fn permission_names(self) -> Vec<String> {
        let actions: &[Action] = match self {
            Role::Admin => &ADMIN_ACTIONS,
            Role::Member => &MEMBER_ACTIONS,
        };
        let mut names: Vec<String> = actions.iter().map(|a| a.required_permission()).collect();
        names.sort();
        names
    }
}

/// A verified caller. Built only by the token verifier, the session checker
/// and the operator CLI.
#[derive(Clone, Debug)]
pub enum Principal {
    Sat {
        token_id: TokenId,
        name: String,
        org_id: Uuid,
        workspace_id: Option<Uuid>,
        permissions: PermissionSet,
    },
    Pat {
        token_id: TokenId,
        org_id: Uuid,
        member_id: Uuid,
        user_name: String,
        /// The member's current access narrowed by the token's scope.
        access: Access,
    },
    Session {
        org_id: Uuid,
        member_id: Uuid,
        user_name: String,
        /// The member's current effective access.
        access: Access,
    },
    Operator,
}

/// The actor kinds of the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    Sat,
    Pat,
    MemberSession,
    Operator,
    Anonymous,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Sat => "sat",
            PrincipalKind::Pat => "pat",
            PrincipalKind::MemberSession => "member_session",
            PrincipalKind::Operator => "operator",
            PrincipalKind::Anonymous => "anonymous",
        }
    }
}

impl Principal {
    pub fn kind(&self) -> PrincipalKind {
        match self {
            Principal::Sat { .. } => PrincipalKind::Sat,
            Principal::Pat { .. } => PrincipalKind::Pat,
            Principal::Session { .. } => PrincipalKind::MemberSession,
            Principal::Operator => PrincipalKind::Operator,
        }
    }

    /// The organization the principal acts in; `None` only for the operator,
    /// who acts across organizations from the CLI.
    pub fn org_id(&self) -> Option<Uuid> {
        match self {
            Principal::Sat { org_id, .. }
            | Principal::Pat { org_id, .. }
            | Principal::Session { org_id, .. } => Some(*org_id),
            Principal::Operator => None,
        }
    }

    /// The id shown in audit records: a token id or a member id.
    pub fn actor_id(&self) -> Option<String> {
        match self {
            Principal::Sat { token_id, .. } | Principal::Pat { token_id, .. } => {
                Some(token_id.to_string())
            }
            Principal::Session { member_id, .. } => Some(member_id.to_string()),
            Principal::Operator => None,
        }
    }

    pub fn display(&self) -> String {
        match self {
            Principal::Sat { name, .. } => name.clone(),
            Principal::Pat { user_name, .. } | Principal::Session { user_name, .. } => {
                user_name.clone()
            }
            Principal::Operator => "operator cli".to_string(),
        }
    }

    /// The member behind a PAT or session.
    pub fn member_id(&self) -> Option<Uuid> {
        match self {
            Principal::Pat { member_id, .. } | Principal::Session { member_id, .. } => {
                Some(*member_id)
            }
            _ => None,
        }
    }

    /// What a person's credential may do now; `None` for a SAT or the
    /// operator.
    pub fn access(&self) -> Option<&Access> {
        match self {
            Principal::Pat { access, .. } | Principal::Session { access, .. } => Some(access),
            _ => None,
        }
    }
}

/// Something a principal may want to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    ScimRead,
    ScimWrite,
    ReadAuditLogs,
    /// Report a workspace service's events to the audit intake: an
    /// organization SAT's alone (no role grants it).
    WriteAuditLogs,
    IntrospectTokens,
    /// Create, list, change, rotate and revoke Service Access Tokens.
    ManageServiceTokens,
    ManageMembers,
    ManageWorkspaces,
    /// Create, list and revoke one's own Personal Access Tokens.
    ManageOwnPersonalTokens,
    /// Create organizations, and set an organization's cap on token
    /// lifetime and how long its audit records are kept: the operator's
    /// alone, since an admin could otherwise shorten the log that records
    /// them. No role or token grants it.
    ManageOrganizations,
    /// Create, list, change, test and delete the organization's audit
    /// streams (which send its audit log to a SIEM).
    ManageAuditStreams,
    /// Use a resource of one workspace.
    Workspace {
        workspace_id: Uuid,
        resource: Resource,
        level: Level,
    },
}

impl Action {
    /// The permission a caller would need, as named in a refusal.
    pub fn required_permission(self) -> String {
        match self {
            Action::ScimRead => OrgPermission::ScimRead.as_str().to_string(),
            Action::ScimWrite => OrgPermission::ScimWrite.as_str().to_string(),
            Action::ReadAuditLogs => OrgPermission::AuditLogsRead.as_str().to_string(),
            Action::WriteAuditLogs => OrgPermission::AuditLogsWrite.as_str().to_string(),
            Action::IntrospectTokens => OrgPermission::TokensIntrospect.as_str().to_string(),
            Action::ManageServiceTokens => "service_access_tokens:manage".to_string(),
            Action::ManageMembers => "members:manage".to_string(),
            Action::ManageWorkspaces => "workspaces:manage".to_string(),
            Action::ManageOwnPersonalTokens => "personal_access_tokens:manage".to_string(),
            Action::ManageOrganizations => "organizations:manage".to_string(),
            Action::ManageAuditStreams => "audit_streams:manage".to_string(),
            Action::Workspace {
                resource, level, ..
            } => format!("{}:{}", resource.as_str(), level.as_str()),
        }
    }

    fn org_permission(self) -> Option<OrgPermission> {
        match self {
            Action::ScimRead => Some(OrgPermission::ScimRead),
            Action::ScimWrite => Some(OrgPermission::ScimWrite),
            Action::ReadAuditLogs => Some(OrgPermission::AuditLogsRead),
            Action::WriteAuditLogs => Some(OrgPermission::AuditLogsWrite),
            Action::IntrospectTokens => Some(OrgPermission::TokensIntrospect),
            _ => None,
        }
    }
}

/// What the admin role grants. Management is for people, never for
/// machines: no SAT permission grants it.
const ADMIN_ACTIONS: [Action; 6] = [
    Action::ManageServiceTokens,
    Action::ManageMembers,
    Action::ManageWorkspaces,
    Action::ManageOwnPersonalTokens,
    Action::ReadAuditLogs,
    Action::ManageAuditStreams,
];

/// What the member role grants: their own PATs.
const MEMBER_ACTIONS: [Action; 1] = [Action::ManageOwnPersonalTokens];

/// A refusal, naming what was missing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("missing permission `{missing}`")]
pub struct Denied {
    pub missing: String,
}

/// May `principal` do `action`? Callers have already scoped the target to the
/// principal's organization (another organization's resource is not found,
/// not forbidden).
pub fn authorize(principal: &Principal, action: Action) -> Result<(), Denied> {
    let allowed = match principal {
        Principal::Operator => true,
        Principal::Sat {
            workspace_id,
            permissions,
            ..
        } => match action {
            Action::Workspace {
                workspace_id: wanted,
                resource,
                level,
            } => *workspace_id == Some(wanted) && permissions.grants_workspace(resource, level),
            other => match other.org_permission() {
                Some(p) => workspace_id.is_none() && permissions.has_org(p),
                None => false,
            },
        },
        Principal::Pat { access, .. } | Principal::Session { access, .. } => match action {
            Action::Workspace {
                workspace_id,
                resource,
                level,
            } => access
                .workspaces
                .get(&workspace_id)
                .is_some_and(|p| p.grants_workspace(resource, level)),
            other => access.org.contains(&other.required_permission()),
        },
    };
    if allowed {
        Ok(())
    } else {
        Err(Denied {
            missing: action.required_permission(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::TokenLevel;

    fn sat(workspace_id: Option<Uuid>, perms: &[&str]) -> Principal {
        let level = if workspace_id.is_some() {
            TokenLevel::Workspace
        } else {
            TokenLevel::Organization
        };
        Principal::Sat {
            token_id: TokenId::generate(),
            name: "t".into(),
            org_id: Uuid::nil(),
            workspace_id,
            permissions: PermissionSet::for_level(level, perms).unwrap(),
        }
    }

    fn session(role: Role) -> Principal {
        Principal::Session {
            org_id: Uuid::nil(),
            member_id: Uuid::nil(),
            user_name: "a".into(),
            access: Access::of_role(role, Default::default()),
        }
    }

    #[test]
    fn org_sat_gets_exactly_its_permissions() {
        let p = sat(None, &["scim:read"]);
        assert!(authorize(&p, Action::ScimRead).is_ok());
        assert_eq!(
            authorize(&p, Action::ScimWrite).unwrap_err().missing,
            "scim:write"
        );
        assert!(authorize(&p, Action::ManageServiceTokens).is_err());
    }

    #[test]
    fn workspace_sat_is_bound_to_its_workspace_and_levels() {
        let ws = Uuid::new_v4();
        let p = sat(Some(ws), &["transformations:edit"]);
        let act = |workspace_id, level| Action::Workspace {
            workspace_id,
            resource: Resource::Transformations,
            level,
        };
        assert!(authorize(&p, act(ws, Level::Read)).is_ok());
        assert!(authorize(&p, act(ws, Level::Edit)).is_ok());
        assert_eq!(
            authorize(&p, act(ws, Level::CreateDelete))
                .unwrap_err()
                .missing,
            "transformations:create_delete"
        );
        assert!(authorize(&p, act(Uuid::new_v4(), Level::Read)).is_err());
        assert!(authorize(&p, Action::ScimRead).is_err());
    }

    #[test]
    fn roles_decide_for_people() {
        assert!(authorize(&session(Role::Admin), Action::ManageServiceTokens).is_ok());
        assert!(authorize(&session(Role::Admin), Action::ReadAuditLogs).is_ok());
        assert!(authorize(&session(Role::Admin), Action::ScimWrite).is_err());
        let denied = authorize(&session(Role::Member), Action::ManageServiceTokens).unwrap_err();
        assert_eq!(denied.missing, "service_access_tokens:manage");
        assert!(authorize(&session(Role::Member), Action::ManageOwnPersonalTokens).is_ok());
    }

    #[test]
    fn people_hold_workspace_permissions_in_their_workspaces_only() {
        let (ws, other) = (Uuid::new_v4(), Uuid::new_v4());
        let access = Access::of_role(
            Role::Member,
            [(ws, PermissionSet::from_stored("transformations:edit"))].into(),
        );
        let p = Principal::Session {
            org_id: Uuid::nil(),
            member_id: Uuid::nil(),
            user_name: "a".into(),
            access,
        };
        let act = |workspace_id, level| Action::Workspace {
            workspace_id,
            resource: Resource::Transformations,
            level,
        };
        assert!(authorize(&p, act(ws, Level::Read)).is_ok());
        assert!(authorize(&p, act(ws, Level::Edit)).is_ok());
        assert!(authorize(&p, act(ws, Level::CreateDelete)).is_err());
        assert!(authorize(&p, act(other, Level::Read)).is_err());
    }

    #[test]
    fn a_role_lists_what_it_is_granted() {
        assert_eq!(
            Role::Admin.permission_names(),
            [
                "audit_logs:read",
                "audit_streams:manage",
                "members:manage",
                "personal_access_tokens:manage",
                "service_access_tokens:manage",
                "workspaces:manage",
            ]
        );
        assert_eq!(
            Role::Member.permission_names(),
            ["personal_access_tokens:manage"]
        );
        let everything = [
            Action::ScimRead,
            Action::ScimWrite,
            Action::ReadAuditLogs,
            Action::IntrospectTokens,
            Action::ManageServiceTokens,
            Action::ManageMembers,
            Action::ManageWorkspaces,
            Action::ManageOwnPersonalTokens,
            Action::ManageOrganizations,
            Action::ManageAuditStreams,
        ];
        for role in [Role::Admin, Role::Member] {
            for action in everything {
                assert_eq!(
                    authorize(&session(role), action).is_ok(),
                    role.permission_names()
                        .contains(&action.required_permission()),
                    "{role:?} {action:?}"
                );
            }
        }
    }
}
