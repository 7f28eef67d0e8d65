//! What a person may do (`Access`: their effective role and workspace
//! permissions, direct and from group mappings) and how a Personal Access
//! Token narrows it (`Scope`). A PAT's power is its scope intersected with
//! its member's current access: it shrinks with the member and never grows
//! past the scope.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::authorize::Role;
use super::catalogue::{Permission, PermissionError, PermissionSet};

/// A person's access: the role, the organization permissions it grants
/// (named as a refusal names them), and permissions per workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub role: Role,
    pub org: BTreeSet<String>,
    pub workspaces: BTreeMap<Uuid, PermissionSet>,
}

impl Access {
    /// Everything `role` grants, and the given workspace permissions.
    pub fn of_role(role: Role, workspaces: BTreeMap<Uuid, PermissionSet>) -> Self {
        Self {
            role,
            org: role.permission_names().into_iter().collect(),
            workspaces,
        }
    }

    /// The access of a member with no grant at all (and of an inactive one).
    pub fn none() -> Self {
        Self::of_role(Role::Member, BTreeMap::new())
    }

    /// The effective access kept on a member's row (`access_role`,
    /// `access_workspaces`; see `identity::access`). A row never
    /// recomputed (`access_role` NULL) holds its direct role: whether the
    /// member is active is checked beside it, by whoever reads it.
    pub fn from_row(
        role: Role,
        access_role: Option<&str>,
        access_workspaces: Option<&str>,
    ) -> Self {
        match access_role.and_then(Role::parse) {
            Some(r) => Self::of_role(
                r,
                Self::workspaces_from_stored(access_workspaces.unwrap_or_default()),
            ),
            None => Self::of_role(role, BTreeMap::new()),
        }
    }

    /// The workspace permissions in their stored form: `<id>=<perm> <perm>`
    /// entries separated by `;`, sorted by workspace.
    pub fn workspaces_to_stored(&self) -> String {
        self.workspaces
            .iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(w, p)| format!("{w}={}", p.to_stored()))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Reads the stored form; entries that no longer parse grant nothing.
    pub fn workspaces_from_stored(s: &str) -> BTreeMap<Uuid, PermissionSet> {
        s.split(';')
            .filter_map(|entry| {
                let (w, perms) = entry.split_once('=')?;
                let set = PermissionSet::from_stored(perms);
                Some((Uuid::parse_str(w).ok()?, set)).filter(|(_, s)| !s.is_empty())
            })
            .collect()
    }

    /// What a PAT with `scope` may do while its member has this access.
    pub fn narrowed(&self, scope: &Scope) -> Access {
        match scope {
            Scope::Whole => self.clone(),
            Scope::Narrowed { org, workspace } => Access {
                role: self.role,
                org: self.org.intersection(org).cloned().collect(),
                workspaces: workspace
                    .iter()
                    .filter_map(|(w, wanted)| {
                        let held = self.workspaces.get(w)?.intersect(wanted);
                        (!held.is_empty()).then_some((*w, held))
                    })
                    .collect(),
            },
        }
    }

    /// The workspace whose permissions are held, when there is exactly
    /// one (a PAT narrowed to a workspace, say).
    pub fn only_workspace(&self) -> Option<Uuid> {
        let mut ids = self.workspaces.keys();
        match (ids.next(), ids.next()) {
            (Some(w), None) => Some(*w),
            _ => None,
        }
    }

    /// The permission names held, as one flat list: the organization ones,
    /// and those of [`Self::only_workspace`] (several workspaces' would
    /// read alike: see [`Self::workspaces`] for them).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.org.iter().cloned().collect();
        if let Some(w) = self.only_workspace() {
            names.extend(self.workspaces[&w].names());
        }
        names
    }

    /// The workspace permissions as an API shows them.
    pub fn workspaces_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.workspaces
                .iter()
                .map(|(w, p)| serde_json::json!({ "workspace_id": w, "permissions": p.names() }))
                .collect(),
        )
    }
}

/// How far a PAT is narrowed. Stored in the token's `permissions` column
/// (empty for [`Scope::Whole`]) and its `scope_workspace_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The member's whole access, whatever it is now.
    Whole,
    /// At most these organization permissions and these permissions in one
    /// workspace.
    Narrowed {
        org: BTreeSet<String>,
        workspace: Option<(Uuid, PermissionSet)>,
    },
}

/// Why a PAT's scope was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error(transparent)]
    Permission(#[from] PermissionError),
    #[error("`{0}` cannot be held by a personal access token")]
    NotForPeople(String),
    #[error("name the workspace whose permissions the token holds")]
    WorkspaceMissing,
    #[error("a workspace is named but no workspace permission")]
    WorkspaceUnused,
}

impl Scope {
    /// Parses the permission names requested for a PAT. Organization
    /// permissions are those a role grants; the rest must be workspace
    /// permissions, for `workspace`.
    pub fn parse<S: AsRef<str>>(names: &[S], workspace: Option<Uuid>) -> Result<Self, ScopeError> {
        if names.is_empty() {
            return Err(PermissionError::Empty.into());
        }
        let people: BTreeSet<String> = Role::Admin
            .permission_names()
            .into_iter()
            .chain(Role::Member.permission_names())
            .collect();
        let mut org = BTreeSet::new();
        let mut ws = Vec::new();
        for name in names {
            let name = name.as_ref();
            if people.contains(name) {
                org.insert(name.to_string());
                continue;
            }
            match name.parse::<Permission>()? {
                Permission::Workspace(..) => ws.push(name),
                Permission::Org(_) => return Err(ScopeError::NotForPeople(name.to_string())),
            }
        }
        let workspace = match (ws.is_empty(), workspace) {
            (true, None) => None,
            (true, Some(_)) => return Err(ScopeError::WorkspaceUnused),
            (false, None) => return Err(ScopeError::WorkspaceMissing),
            (false, Some(w)) => Some((w, PermissionSet::from_stored(&ws.join(" ")))),
        };
        Ok(Scope::Narrowed { org, workspace })
    }

    /// Reads the stored form: the `permissions` column and the scope's
    /// workspace.
    pub fn from_stored(permissions: &str, workspace: Option<Uuid>) -> Self {
        if permissions.trim().is_empty() {
            return Scope::Whole;
        }
        let mut org = BTreeSet::new();
        let mut ws = Vec::new();
        for name in permissions.split_whitespace() {
            match name.parse::<Permission>() {
                Ok(Permission::Workspace(..)) => ws.push(name),
                _ => {
                    org.insert(name.to_string());
                }
            }
        }
        Scope::Narrowed {
            org,
            workspace: workspace.map(|w| (w, PermissionSet::from_stored(&ws.join(" ")))),
        }
    }

    /// The `permissions` column: empty for the whole access.
    pub fn to_stored(&self) -> String {
        self.names().join(" ")
    }

    /// The permission names of the scope (none: the whole access).
    pub fn names(&self) -> Vec<String> {
        match self {
            Scope::Whole => Vec::new(),
            Scope::Narrowed { org, workspace } => org
                .iter()
                .cloned()
                .chain(workspace.iter().flat_map(|(_, p)| p.names()))
                .collect(),
        }
    }

    pub fn workspace_id(&self) -> Option<Uuid> {
        match self {
            Scope::Narrowed {
                workspace: Some((w, _)),
                ..
            } => Some(*w),
            _ => None,
        }
    }

    /// The names of the scope that `access` does not hold, so that a PAT
    /// is never created wider than its member.
    pub fn beyond(&self, access: &Access) -> Vec<String> {
        let Scope::Narrowed { org, workspace } = self else {
            return Vec::new();
        };
        let mut missing: Vec<String> = org.difference(&access.org).cloned().collect();
        if let Some((w, wanted)) = workspace {
            let held = access.workspaces.get(w).cloned().unwrap_or_default();
            missing.extend(
                wanted
                    .iter()
                    .filter(|p| !held.grants(**p))
                    .map(ToString::to_string),
            );
        }
        missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(names: &str) -> PermissionSet {
        PermissionSet::from_stored(names)
    }

    #[test]
    fn the_stored_form_round_trips() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let access = Access::of_role(
            Role::Member,
            [
                (a, perms("sources:read transformations:edit")),
                (b, perms("profiles:connect")),
            ]
            .into(),
        );
        let stored = access.workspaces_to_stored();
        assert_eq!(Access::workspaces_from_stored(&stored), access.workspaces);
        assert!(Access::workspaces_from_stored("").is_empty());
        assert!(Access::workspaces_from_stored("nonsense;x=y").is_empty());
    }

    #[test]
    fn a_pat_holds_its_scope_intersected_with_its_members_access() {
        let w = Uuid::new_v4();
        let admin = Access::of_role(
            Role::Admin,
            [(w, perms("transformations:create_delete sources:read"))].into(),
        );
        let scope = Scope::parse(
            &["transformations:edit", "sources:edit", "audit_logs:read"],
            Some(w),
        )
        .unwrap();
        let power = admin.narrowed(&scope);
        assert_eq!(power.org, BTreeSet::from(["audit_logs:read".to_string()]));
        assert_eq!(
            power.workspaces[&w].names(),
            ["sources:read", "transformations:edit"]
        );
        // The member loses admin and the workspace: so does the PAT.
        let demoted = Access::none();
        let power = demoted.narrowed(&scope);
        assert!(power.org.is_empty() && power.workspaces.is_empty());
        // The whole scope follows the member.
        assert_eq!(admin.narrowed(&Scope::Whole), admin);
    }

    #[test]
    fn a_scope_is_refused_when_it_names_what_no_person_holds() {
        let w = Uuid::new_v4();
        assert_eq!(
            Scope::parse(&["scim:read"], None),
            Err(ScopeError::NotForPeople("scim:read".into()))
        );
        assert_eq!(
            Scope::parse(&["sources:read"], None),
            Err(ScopeError::WorkspaceMissing)
        );
        assert_eq!(
            Scope::parse(&["members:manage"], Some(w)),
            Err(ScopeError::WorkspaceUnused)
        );
        assert!(matches!(
            Scope::parse(&["sources:write"], Some(w)),
            Err(ScopeError::Permission(_))
        ));
        let scope = Scope::parse(&["members:manage", "sources:edit"], Some(w)).unwrap();
        assert_eq!(
            Scope::from_stored(&scope.to_stored(), scope.workspace_id()),
            scope
        );
        assert_eq!(Scope::from_stored("", None), Scope::Whole);
    }

    #[test]
    fn beyond_names_what_the_member_does_not_hold() {
        let w = Uuid::new_v4();
        let member = Access::of_role(Role::Member, [(w, perms("sources:edit"))].into());
        let scope = Scope::parse(&["sources:read", "sources:create_delete"], Some(w)).unwrap();
        assert_eq!(scope.beyond(&member), ["sources:create_delete"]);
        let scope = Scope::parse(&["members:manage"], None).unwrap();
        assert_eq!(scope.beyond(&member), ["members:manage"]);
    }
}
