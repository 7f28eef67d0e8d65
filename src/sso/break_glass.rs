//! Break-glass members: the few who may still sign in with a password when
//! the organization allows passwords to them alone (an identity provider
//! outage must not lock every admin out). Only the operator CLI marks them.

use uuid::Uuid;

use super::SsoError;
use super::config::PasswordSignIn;
use crate::store::{Db, Timestamp, Tx};
use crate::{on_db, on_tx};

/// Whether a password may sign this member in, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordUse {
    /// Passwords sign everyone in (the default).
    Allowed,
    /// Only break-glass members use passwords, and this is one: recorded
    /// as `auth.break_glass`.
    BreakGlass,
    /// Only break-glass members use passwords, and this is not one.
    Refused,
}

/// Whether `member_id` may sign in with a password in `org_id`: one read of
/// the organization's setting and the member's mark.
pub async fn password_use(db: &Db, org_id: Uuid, member_id: Uuid) -> Result<PasswordUse, SsoError> {
    let row: Option<(String, Option<i32>)> = on_db!(db, pool => {
        sqlx::query_as(
            "SELECT c.password_sign_in, \
             (SELECT 1 FROM break_glass_members b WHERE b.member_id = $2 AND b.org_id = $1) \
             FROM sso_configs c WHERE c.org_id = $1",
        )
        .bind(org_id)
        .bind(member_id)
        .fetch_optional(pool)
        .await
    })?;
    Ok(match row {
        Some((setting, mark)) if PasswordSignIn::parse(&setting) != Some(PasswordSignIn::All) => {
            if mark.is_some() {
                PasswordUse::BreakGlass
            } else {
                PasswordUse::Refused
            }
        }
        _ => PasswordUse::Allowed,
    })
}

/// Whether the member is marked break-glass.
pub async fn is_marked(db: &Db, org_id: Uuid, member_id: Uuid) -> Result<bool, SsoError> {
    let found: Option<i32> = on_db!(db, pool => {
        sqlx::query_scalar("SELECT 1 FROM break_glass_members WHERE org_id = $1 AND member_id = $2")
            .bind(org_id)
            .bind(member_id)
            .fetch_optional(pool)
            .await
    })?;
    Ok(found.is_some())
}

/// Marks or unmarks the member; returns whether that changed anything.
pub async fn set_in(
    tx: &mut Tx,
    org_id: Uuid,
    member_id: Uuid,
    on: bool,
    now: Timestamp,
) -> Result<bool, SsoError> {
    let changed = if on {
        on_tx!(tx, conn => {
            sqlx::query(
                "INSERT INTO break_glass_members (member_id, org_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(member_id)
            .bind(org_id)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
        })?
    } else {
        on_tx!(tx, conn => {
            sqlx::query("DELETE FROM break_glass_members WHERE org_id = $1 AND member_id = $2")
                .bind(org_id)
                .bind(member_id)
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
        })?
    };
    Ok(changed == 1)
}

/// How many active members of the organization are marked break-glass.
pub async fn active_count(db: &Db, org_id: Uuid) -> Result<i64, SsoError> {
    Ok(on_db!(db, pool => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM break_glass_members b JOIN members m ON m.id = b.member_id \
             WHERE b.org_id = $1 AND m.active = $2 AND m.deleted_at IS NULL",
        )
        .bind(org_id)
        .bind(true)
        .fetch_one(pool)
        .await
    })?)
}
