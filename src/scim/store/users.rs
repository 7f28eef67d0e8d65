//! SCIM Users' rows: members of the organization (`members`) with their
//! SCIM document, external id and version. Read here like Groups' rows;
//! written through [`crate::identity::scim_users`], which keeps a member's
//! lifecycle rules (see the [module](super) for why).

use super::{Meta, stored_row};
use crate::identity::members::RoleColumn;
use crate::identity::orgs::Counted;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ScimUserRow {
    #[sqlx(flatten)]
    pub meta: Meta,
    pub user_name: String,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    /// The member's org role (`admin` or `member`): SCIM never sets it,
    /// but it decides what SCIM may change (an admin's password, never).
    #[sqlx(try_from = "String")]
    pub role: RoleColumn,
    pub scim_doc: Option<String>,
}

stored_row! {
    ScimUserRow in "members r" where live " AND r.deleted_at IS NULL", Counted::Members,
    columns "r.id, r.org_id, r.user_name, r.display_name, r.external_id, r.active, r.role, \
             r.scim_doc, r.version, r.created_at, r.updated_at",
}
