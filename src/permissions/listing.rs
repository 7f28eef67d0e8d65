//! The catalogue as shown: every permission with its level, resource,
//! access level, a one-line description, what it implies and who may hold
//! it. `GET /api/v1/permissions`, the console's permission pickers and the
//! reference in docs/api.md are all this one list.

use serde::Serialize;

use super::authorize::Role;
use super::catalogue::{Level, OrgPermission, Permission, Resource};

/// One permission of the catalogue.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub name: String,
    /// `organization` or `workspace`.
    pub level: &'static str,
    pub resource: &'static str,
    /// How the console names the resource.
    pub resource_label: &'static str,
    /// The access level: `read`, `write`, `edit`, `manage`, …
    pub access: &'static str,
    /// How the console names the access level.
    pub access_label: &'static str,
    pub description: String,
    /// The permissions holding this one grants too.
    pub implies: Vec<String>,
    /// Who may hold it: `organization_token`, `workspace_token`, `admin`
    /// (the role), `member` (any member: by grant or group mapping).
    pub held_by: Vec<&'static str>,
}

impl Resource {
    /// How the console and the docs name the resource.
    pub fn label(self) -> &'static str {
        match self {
            Resource::Sources => "Sources",
            Resource::Destinations => "Destinations",
            Resource::Transformations => "Transformations",
            Resource::TrackingPlans => "Tracking plans",
            Resource::DataCatalog => "Data catalog",
            Resource::Profiles => "Profiles",
            Resource::ReverseEtl => "Reverse ETL",
            Resource::PipelineTests => "Pipeline tests",
        }
    }
}

impl Level {
    /// How the console and the docs name the level.
    pub fn label(self) -> &'static str {
        match self {
            Level::Read => "Read",
            Level::Edit => "Edit",
            Level::CreateDelete => "Create & delete",
            Level::Connect => "Connect",
        }
    }
}

fn org_entry(p: OrgPermission) -> Entry {
    let (resource, access, description) = match p {
        OrgPermission::ScimRead => ("scim", "read", "Read SCIM Users and Groups"),
        OrgPermission::ScimWrite => (
            "scim",
            "write",
            "Create, change and delete SCIM Users and Groups",
        ),
        OrgPermission::AuditLogsRead => (
            "audit_logs",
            "read",
            "Read, export and verify the organization's audit log",
        ),
        OrgPermission::AuditLogsWrite => (
            "audit_logs",
            "write",
            "Report what a workspace token did in a workspace service to the audit log",
        ),
        OrgPermission::TokensIntrospect => (
            "tokens",
            "introspect",
            "Ask whether a token is active and what it may do (RFC 7662)",
        ),
    };
    let mut held_by = vec!["organization_token"];
    if p == OrgPermission::AuditLogsRead {
        held_by.push("admin");
    }
    Entry {
        name: p.as_str().to_string(),
        level: "organization",
        resource,
        resource_label: resource,
        access,
        access_label: access,
        description: description.to_string(),
        implies: Vec::new(),
        held_by,
    }
}

fn workspace_entry(r: Resource, l: Level) -> Entry {
    let what = r.label().to_lowercase();
    let description = match l {
        Level::Read => format!("Read the workspace's {what}"),
        Level::Edit => format!("Change the workspace's {what}"),
        Level::CreateDelete => format!("Create and delete the workspace's {what}"),
        Level::Connect => format!("Connect the workspace's {what} to other resources"),
    };
    let implies = Level::ALL
        .into_iter()
        .filter(|i| *i != l && l.grants(*i))
        .map(|i| Permission::Workspace(r, i).to_string())
        .collect();
    Entry {
        name: Permission::Workspace(r, l).to_string(),
        level: "workspace",
        resource: r.as_str(),
        resource_label: r.label(),
        access: l.as_str(),
        access_label: l.label(),
        description,
        implies,
        held_by: vec!["workspace_token", "member"],
    }
}

/// The management permissions of the roles, which no token of the
/// organization's own may hold (a person's PAT may).
fn role_entry(name: &str) -> Entry {
    let (resource, access) = name.split_once(':').unwrap_or((name, ""));
    let (resource, description): (&'static str, &str) = match resource {
        "service_access_tokens" => (
            "service_access_tokens",
            "Create, list, change, rotate and revoke Service Access Tokens",
        ),
        "members" => (
            "members",
            "List members, change their role, activity and workspace permissions, map groups",
        ),
        "workspaces" => ("workspaces", "Create, rename and delete workspaces"),
        "personal_access_tokens" => (
            "personal_access_tokens",
            "Create, list and revoke one's own Personal Access Tokens",
        ),
        "audit_streams" => (
            "audit_streams",
            "Create, change, test and delete the streams of the audit log to a SIEM",
        ),
        _ => ("", ""),
    };
    let held_by = if Role::Member.permission_names().iter().any(|n| n == name) {
        vec!["admin", "member"]
    } else {
        vec!["admin"]
    };
    Entry {
        name: name.to_string(),
        level: "organization",
        resource,
        resource_label: resource,
        access: if access == "manage" { "manage" } else { "" },
        access_label: "manage",
        description: description.to_string(),
        implies: Vec::new(),
        held_by,
    }
}

/// Every permission, organization ones first, then each resource's levels.
pub fn entries() -> Vec<Entry> {
    let mut out: Vec<Entry> = OrgPermission::ALL.into_iter().map(org_entry).collect();
    for name in Role::Admin.permission_names() {
        if !out.iter().any(|e| e.name == name) {
            out.push(role_entry(&name));
        }
    }
    for r in Resource::ALL {
        for l in Level::ALL {
            out.push(workspace_entry(r, l));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_is_listed_once_with_a_description() {
        let list = entries();
        let mut names: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "no permission twice");
        assert_eq!(count, 5 + 5 + 8 * 4);
        for e in &list {
            assert!(!e.description.is_empty() && !e.resource.is_empty(), "{e:?}");
            if e.level == "workspace" {
                assert!(e.name.parse::<Permission>().is_ok());
            }
        }
        for name in Role::Admin.permission_names() {
            assert!(list.iter().any(|e| e.name == name), "{name}");
        }
    }

    #[test]
    fn implications_follow_the_levels() {
        let list = entries();
        let implies = |n: &str| list.iter().find(|e| e.name == n).unwrap().implies.clone();
        assert_eq!(
            implies("sources:create_delete"),
            ["sources:read", "sources:edit"]
        );
        assert_eq!(implies("sources:edit"), ["sources:read"]);
        assert!(implies("sources:connect").is_empty());
        assert!(implies("scim:write").is_empty());
    }
}
