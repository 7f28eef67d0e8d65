//! A token as stored, and the view of it that management APIs show (which
//! never includes the value or its hash).

use ipnet::IpNet;
use serde::Serialize;
use std::net::IpAddr;
use uuid::Uuid;

use super::TokenKind;
use crate::permissions::{PermissionSet, Scope, TokenLevel};
use crate::store::Timestamp;

#[derive(Debug, sqlx::FromRow)]
pub(super) struct TokenRow {
    pub id: String,
    pub org_id: Uuid,
    pub kind: String,
    pub workspace_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub name: String,
    pub description: Option<String>,
    pub permissions: String,
    pub allowed_cidrs: Option<String>,
    pub created_by_kind: String,
    pub created_by_id: Option<String>,
    pub created_by_display: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub rotated_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_reason: Option<String>,
    pub previous_valid_until: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub last_used_ip: Option<String>,
    pub scope_workspace_id: Option<Uuid>,
}

/// The columns of [`TokenRow`], for SELECT lists.
/// The column list, as a macro so that query texts can be built with
/// `concat!` at compile time rather than formatted at run time.
macro_rules! token_columns {
    () => {
        "id, org_id, kind, workspace_id, member_id, name, description, permissions, \
     allowed_cidrs, created_by_kind, created_by_id, created_by_display, created_at, expires_at, \
     rotated_at, revoked_at, revoked_reason, previous_valid_until, last_used_at, last_used_ip, \
     scope_workspace_id"
    };
}
pub(crate) use token_columns;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

/// A CIDR block, or a bare address meaning that one host.
pub fn parse_network(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| format!("`{s}` is not a CIDR block or IP address"))
}

/// An optional allowlist of networks a token may be used from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CidrList(Vec<IpNet>);

impl CidrList {
    /// Parses CIDRs (a bare address means that one host).
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, String> {
        items
            .iter()
            .map(|s| parse_network(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub(super) fn from_stored(s: Option<&str>) -> Self {
        Self(
            s.unwrap_or_default()
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect(),
        )
    }

    pub(super) fn to_stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.strings().join(" "))
    }

    pub fn strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    /// An empty list allows every address.
    pub fn allows(&self, addr: Option<IpAddr>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(addr) = addr else { return false };
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&addr))
    }
}

/// What management APIs and the CLI show about a token.
#[derive(Clone, Debug, Serialize)]
pub struct TokenView {
    pub id: String,
    pub kind: TokenKind,
    /// `organization` or `workspace` for SATs; absent for PATs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<TokenLevel>,
    pub name: String,
    pub description: Option<String>,
    pub org_id: Uuid,
    pub workspace_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<Uuid>,
    pub permissions: Vec<String>,
    pub allowed_cidrs: Vec<String>,
    pub created_by: CreatedBy,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub rotated_at: Option<Timestamp>,
    pub previous_secret_valid_until: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_reason: Option<String>,
    pub status: TokenStatus,
}

#[derive(Clone, Debug, Serialize)]
pub struct CreatedBy {
    pub kind: String,
    pub id: Option<String>,
    pub display: Option<String>,
}

impl TokenRow {
    pub fn kind(&self) -> TokenKind {
        TokenKind::parse(&self.kind).unwrap_or(TokenKind::Sat)
    }

    pub fn status(&self, now: Timestamp) -> TokenStatus {
        if self.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if self.expires_at.is_some_and(|e| e <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }

    pub fn view(self, now: Timestamp) -> TokenView {
        let status = self.status(now);
        let kind = self.kind();
        let level = (kind == TokenKind::Sat).then_some(if self.workspace_id.is_some() {
            TokenLevel::Workspace
        } else {
            TokenLevel::Organization
        });
        TokenView {
            id: self.id,
            kind,
            level,
            name: self.name,
            description: self.description,
            org_id: self.org_id,
            // A PAT's workspace is the one its scope holds permissions in.
            workspace_id: self.workspace_id.or(self.scope_workspace_id),
            member_id: self.member_id,
            permissions: match kind {
                TokenKind::Sat => PermissionSet::from_stored(&self.permissions).names(),
                TokenKind::Pat => {
                    Scope::from_stored(&self.permissions, self.scope_workspace_id).names()
                }
            },
            allowed_cidrs: CidrList::from_stored(self.allowed_cidrs.as_deref()).strings(),
            created_by: CreatedBy {
                kind: self.created_by_kind,
                id: self.created_by_id,
                display: self.created_by_display,
            },
            created_at: self.created_at,
            expires_at: self.expires_at,
            rotated_at: self.rotated_at,
            previous_secret_valid_until: self.previous_valid_until.filter(|t| *t > now),
            last_used_at: self.last_used_at,
            last_used_ip: self.last_used_ip,
            revoked_at: self.revoked_at,
            revoked_reason: self.revoked_reason,
            status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_list_allows_only_listed_networks() {
        let l = CidrList::parse(&["10.0.0.0/8", "192.168.1.7"]).unwrap();
        assert!(l.allows(Some("10.1.2.3".parse().unwrap())));
        assert!(l.allows(Some("192.168.1.7".parse().unwrap())));
        assert!(!l.allows(Some("192.168.1.8".parse().unwrap())));
        assert!(l.allows(Some("::ffff:10.0.0.1".parse().unwrap())));
        assert!(!l.allows(None));
        assert!(CidrList::default().allows(Some("8.8.8.8".parse().unwrap())));
    }

    #[test]
    fn cidr_list_refuses_garbage_and_normalises() {
        assert!(CidrList::parse(&["10.0.0.0/33"]).is_err());
        assert!(CidrList::parse(&["nope"]).is_err());
        let l = CidrList::parse(&["10.1.2.3/8"]).unwrap();
        assert_eq!(l.to_stored().unwrap(), "10.0.0.0/8");
        assert_eq!(CidrList::from_stored(l.to_stored().as_deref()), l);
    }
}
