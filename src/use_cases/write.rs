//! The transaction helper of the use cases: every use case that changes
//! something hands [`write`] its change, and the change and the audit event
//! describing it are committed together or not at all, by the group-commit
//! writer ([`crate::audit::AuditWriter`]) that every write in the product
//! goes through.

use super::{Call, Services, UseCaseError};
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
