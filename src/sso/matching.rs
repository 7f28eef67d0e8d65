//! The member a verified ID token names: the configured claim's value
//! compared, without regard to case, with the userName of the
//! organization's live SCIM-provisioned members, then with their primary
//! email. SCIM is the source of members: nobody is created here, and a
//! member made another way (the bootstrap admin, the CLI) is not matched.

use uuid::Uuid;

use super::{Refusal, SsoError};
use crate::identity::members::{self, Member, user_name_key};
use crate::on_db;
use crate::store::Db;

/// The active member that `value` names, or why there is none.
pub async fn member_for(db: &Db, org_id: Uuid, value: &str) -> Result<Member, SsoError> {
    let key = user_name_key(value.trim());
    if key.is_empty() || key.chars().count() > 256 {
        return Err(SsoError::refused(
            Refusal::ClaimMissing,
            "empty or overlong claim",
        ));
    }
    // userName first (it is unique among live members); then the primary
    // email, which must name one member only. The search index keeps each
    // value in its attribute's column (`scim::index::Slot`): an email's
    // folded, `primary` (a boolean) exact.
    let by_name: Option<Uuid> = on_db!(db, pool => {
        sqlx::query_scalar(
            "SELECT id FROM members WHERE org_id = $1 AND user_name_key = $2 \
             AND deleted_at IS NULL AND scim_doc IS NOT NULL",
        )
        .bind(org_id)
        .bind(&key)
        .fetch_optional(pool)
        .await
    })?;
    let id = match by_name {
        Some(id) => id,
        None => {
            let by_email: Vec<Uuid> = on_db!(db, pool => {
                sqlx::query_scalar(
                    "SELECT DISTINCT m.id FROM scim_values v \
                     JOIN scim_values p ON p.resource_id = v.resource_id AND p.elem = v.elem \
                       AND p.path = 'emails.primary' AND p.v_text = 'true' \
                     JOIN members m ON m.id = v.resource_id \
                     WHERE v.org_id = $1 AND v.resource_type = 'User' AND v.path = 'emails.value' \
                       AND v.v_lower = $2 AND m.org_id = $1 AND m.deleted_at IS NULL \
                       AND m.scim_doc IS NOT NULL \
                     LIMIT 2",
                )
                .bind(org_id)
                .bind(&key)
                .fetch_all(pool)
                .await
            })?;
            match by_email.as_slice() {
                [one] => *one,
                [] => {
                    return Err(SsoError::refused(
                        Refusal::NoSuchMember,
                        "no member has this claim",
                    ));
                }
                _ => {
                    return Err(SsoError::refused(
                        Refusal::NoSuchMember,
                        "several members have this primary email",
                    ));
                }
            }
        }
    };
    let member = members::get(db, org_id, id).await?;
    if !member.active {
        return Err(SsoError::refused(
            Refusal::Inactive,
            "the member is deactivated",
        ));
    }
    Ok(member)
}
