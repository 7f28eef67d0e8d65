//! The permission catalogue of DESIGN.md.
//!
//! Organization SATs hold organization permissions only; workspace SATs hold
//! `<resource>:<level>` only. Which is which is decided here, once, and a
//! token is refused at creation if it mixes them.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrgPermission {
    ScimRead,
    ScimWrite,
    AuditLogsRead,
    /// Report events to the audit log's intake (workspace services).
    AuditLogsWrite,
    TokensIntrospect,
}

impl OrgPermission {
    pub const ALL: [OrgPermission; 5] = [
        OrgPermission::ScimRead,
        OrgPermission::ScimWrite,
        OrgPermission::AuditLogsRead,
        OrgPermission::AuditLogsWrite,
        OrgPermission::TokensIntrospect,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgPermission::ScimRead => "scim:read",
            OrgPermission::ScimWrite => "scim:write",
            OrgPermission::AuditLogsRead => "audit_logs:read",
            OrgPermission::AuditLogsWrite => "audit_logs:write",
            OrgPermission::TokensIntrospect => "tokens:introspect",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Sources,
    Destinations,
    Transformations,
    TrackingPlans,
    DataCatalog,
    Profiles,
    ReverseEtl,
    PipelineTests,
}

impl Resource {
    pub const ALL: [Resource; 8] = [
        Resource::Sources,
        Resource::Destinations,
        Resource::Transformations,
        Resource::TrackingPlans,
        Resource::DataCatalog,
        Resource::Profiles,
        Resource::ReverseEtl,
        Resource::PipelineTests,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Sources => "sources",
            Resource::Destinations => "destinations",
            Resource::Transformations => "transformations",
            Resource::TrackingPlans => "tracking_plans",
            Resource::DataCatalog => "data_catalog",
            Resource::Profiles => "profiles",
            Resource::ReverseEtl => "reverse_etl",
            Resource::PipelineTests => "pipeline_tests",
        }
    }
}

/// Access levels on a workspace resource. `edit` implies `read` and
/// `create_delete` implies `edit`; `connect` (wiring a resource to another)
/// stands alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Read,
    Edit,
    CreateDelete,
    Connect,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::Read,
        Level::Edit,
        Level::CreateDelete,
        Level::Connect,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Edit => "edit",
            Level::CreateDelete => "create_delete",
            Level::Connect => "connect",
        }
    }

    /// Whether holding `self` grants `wanted`.
    pub fn grants(self, wanted: Level) -> bool {
        use Level::*;
        matches!(
            (self, wanted),
            (Read, Read)
                | (Edit, Read | Edit)
                | (CreateDelete, Read | Edit | CreateDelete)
                | (Connect, Connect)
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    Org(OrgPermission),
    Workspace(Resource, Level),
}

/// Which kind of SAT a permission set is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenLevel {
    Organization,
    Workspace,
}

impl TokenLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenLevel::Organization => "organization",
            TokenLevel::Workspace => "workspace",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    #[error("unknown permission `{0}`")]
    Unknown(String),
    #[error("`{0}` is a workspace permission and cannot be held by an organization token")]
    WorkspaceOnOrgToken(String),
    #[error("`{0}` is an organization permission and cannot be held by a workspace token")]
    OrgOnWorkspaceToken(String),
    #[error("a token needs at least one permission")]
    Empty,
}

impl FromStr for Permission {
    type Err = PermissionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(p) = OrgPermission::ALL.into_iter().find(|p| p.as_str() == s) {
            return Ok(Permission::Org(p));
        }
        let unknown = || PermissionError::Unknown(s.to_string());
        let (resource, level) = s.split_once(':').ok_or_else(unknown)?;
        let resource = Resource::ALL
            .into_iter()
            .find(|r| r.as_str() == resource)
            .ok_or_else(unknown)?;
        let level = Level::ALL
            .into_iter()
            .find(|l| l.as_str() == level)
            .ok_or_else(unknown)?;
        Ok(Permission::Workspace(resource, level))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Permission::Org(p) => f.write_str(p.as_str()),
            Permission::Workspace(r, l) => write!(f, "{}:{}", r.as_str(), l.as_str()),
        }
    }
}

/// The permissions a SAT holds, validated for its level. Stored as a
/// space-separated list (the OAuth `scope` form).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermissionSet(BTreeSet<Permission>);

impl PermissionSet {
    /// Parses and validates the permissions requested for a new token.
    pub fn for_level<S: AsRef<str>>(
        level: TokenLevel,
        names: &[S],
    ) -> Result<Self, PermissionError> {
        let mut set = BTreeSet::new();
        for name in names {
            let name = name.as_ref();
            let p: Permission = name.parse()?;
            match (level, p) {
                (TokenLevel::Organization, Permission::Workspace(..)) => {
                    return Err(PermissionError::WorkspaceOnOrgToken(name.to_string()));
                }
                (TokenLevel::Workspace, Permission::Org(_)) => {
                    return Err(PermissionError::OrgOnWorkspaceToken(name.to_string()));
                }
                _ => set.insert(p),
            };
        }
        if set.is_empty() {
            return Err(PermissionError::Empty);
        }
        Ok(Self(set))
    }

    /// Reads the stored form. Names that no longer exist are dropped rather
    /// than failing the token: a removed permission grants nothing.
    pub fn from_stored(s: &str) -> Self {
        Self(
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect(),
        )
    }

    pub fn to_stored(&self) -> String {
        self.names().join(" ")
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    pub fn has_org(&self, wanted: OrgPermission) -> bool {
        self.0.contains(&Permission::Org(wanted))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Permission> {
        self.0.iter()
    }

    /// Adds every permission of `other`.
    pub fn extend(&mut self, other: &PermissionSet) {
        self.0.extend(other.0.iter().copied());
    }

    /// Whether holding this set grants `wanted` (an `edit` grants `read`).
    pub fn grants(&self, wanted: Permission) -> bool {
        match wanted {
            Permission::Org(p) => self.has_org(p),
            Permission::Workspace(r, l) => self.grants_workspace(r, l),
        }
    }

    /// What both sets grant, levels implied: `edit` and `create_delete`
    /// give `edit`; `read` and `connect` give nothing.
    pub fn intersect(&self, other: &PermissionSet) -> PermissionSet {
        let mut out = BTreeSet::new();
        for p in self.0.iter().chain(other.0.iter()) {
            if self.grants(*p) && other.grants(*p) {
                out.insert(*p);
            }
        }
        // Keep the highest level of each chain only.
        let implied: Vec<Permission> = out
            .iter()
            .copied()
            .filter(|p| match p {
                Permission::Workspace(r, l) => out.iter().any(|q| match q {
                    Permission::Workspace(r2, l2) => r2 == r && l2 != l && l2.grants(*l),
                    Permission::Org(_) => false,
                }),
                Permission::Org(_) => false,
            })
            .collect();
        for p in implied {
            out.remove(&p);
        }
        PermissionSet(out)
    }

    pub fn grants_workspace(&self, resource: Resource, level: Level) -> bool {
        self.0.iter().any(|p| match p {
            Permission::Workspace(r, l) => *r == resource && l.grants(level),
            Permission::Org(_) => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_name_round_trips() {
        for p in OrgPermission::ALL {
            assert_eq!(
                p.as_str().parse::<Permission>().unwrap(),
                Permission::Org(p)
            );
        }
        for r in Resource::ALL {
            for l in Level::ALL {
                let name = format!("{}:{}", r.as_str(), l.as_str());
                assert_eq!(name.parse::<Permission>().unwrap().to_string(), name);
            }
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        for bad in [
            "",
            "scim",
            "scim:admin",
            "sources:write",
            "SOURCES:read",
            "sources:read:x",
        ] {
            assert!(bad.parse::<Permission>().is_err(), "{bad}");
        }
    }

    #[test]
    fn levels_imply_as_documented() {
        assert!(Level::Edit.grants(Level::Read));
        assert!(Level::CreateDelete.grants(Level::Read));
        assert!(Level::CreateDelete.grants(Level::Edit));
        assert!(!Level::Read.grants(Level::Edit));
        assert!(!Level::Edit.grants(Level::CreateDelete));
        assert!(!Level::CreateDelete.grants(Level::Connect));
        assert!(!Level::Connect.grants(Level::Read));
    }

    #[test]
    fn levels_may_not_mix() {
        assert_eq!(
            PermissionSet::for_level(TokenLevel::Organization, &["scim:read", "sources:read"]),
            Err(PermissionError::WorkspaceOnOrgToken("sources:read".into()))
        );
        assert_eq!(
            PermissionSet::for_level(TokenLevel::Workspace, &["sources:read", "audit_logs:read"]),
            Err(PermissionError::OrgOnWorkspaceToken(
                "audit_logs:read".into()
            ))
        );
        assert_eq!(
            PermissionSet::for_level::<&str>(TokenLevel::Workspace, &[]),
            Err(PermissionError::Empty)
        );
    }

    #[test]
    fn stored_form_round_trips_and_is_sorted() {
        let set = PermissionSet::for_level(
            TokenLevel::Organization,
            &["scim:write", "scim:read", "scim:read"],
        )
        .unwrap();
        assert_eq!(set.to_stored(), "scim:read scim:write");
        assert_eq!(PermissionSet::from_stored(&set.to_stored()), set);
    }
}
