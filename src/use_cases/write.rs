//! The transaction helper of the use cases: every use case that changes
//! something hands [`write`] its change, and the change and the audit event
//! describing it are committed together or not at all, by the group-commit
//! writer ([`crate::audit::AuditWriter`]) that every write in the product
//! goes through.

use super::call::Done;
use super::{Call, Services, UseCaseError};
use crate::audit::{AuditEvent, Target};
use crate::identity::access;
use crate::store::Tx;

pub use crate::audit::Change;

/// Runs `change` in its own savepoint of the shared write transaction and
/// records its audit event with it. The call's [`super::Witness`] is told
/// as the record is queued: from then on the record is this write's to
/// make, and if writing it fails the write fails with it (a second record,
/// by the edge, would fail alike). An error (or [`Change::Unchanged`])
/// rolls back this change only.
pub async fn write<T>(
    services: &Services,
    call: &Call<'_>,
    change: impl AsyncFnOnce(&mut Tx) -> Result<Change<T>, UseCaseError>,
) -> Result<T, UseCaseError> {
    services
        .audit
        .write(change, || {
            if let Some(witness) = call.witness() {
                witness.recorded();
            }
        })
        .await
}

/// [`write`] for a change that may change members' effective access: the
/// change answers with its value and the `member.access_change` records of
/// the members concerned, which commit with its own record.
pub async fn write_changing_access<T>(
    services: &Services,
    call: &Call<'_>,
    change: impl AsyncFnOnce(&mut Tx) -> Result<Change<(T, Vec<AuditEvent>)>, UseCaseError>,
) -> Result<T, UseCaseError> {
    let mut run = services.audit.run().await?;
    let (value, more) = run
        .write(change, || {
            if let Some(witness) = call.witness() {
                witness.recorded();
            }
        })
        .await?;
    for event in more {
        run.record(event);
    }
    run.finish().await?;
    Ok(value)
}

/// Recomputes the effective access of `members` after a change and makes
/// one `member.access_change` record per member whose access changed,
/// naming `cause`. With `keep_an_admin`, the last-admin rule of
/// [`access::refresh_keeping_an_admin`] applies; without, the caller
/// checks for itself.
pub(super) async fn refresh_access(
    tx: &mut Tx,
    call: &Call<'_>,
    members: &[uuid::Uuid],
    cause: serde_json::Value,
    keep_an_admin: bool,
) -> Result<Vec<AuditEvent>, UseCaseError> {
    let org = call.org_id()?;
    let changes = if keep_an_admin {
        access::refresh_keeping_an_admin(tx, org, members).await?
    } else {
        access::refresh(tx, org, members).await?
    };
    Ok(changes
        .iter()
        .map(|c| {
            call.event(
                "member.access_change",
                Done::Changed,
                Some(access::change_summary(c, cause.clone())),
            )
            .target(Target::new("member", c.member_id, Some(&c.user_name)))
        })
        .collect())
}
