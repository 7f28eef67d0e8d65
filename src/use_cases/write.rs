//! The transaction helper: the one place admin writes begin and commit.
//! Every use case that changes something hands [`write`] its change; the
//! change and the audit event describing it are committed together or not
//! at all. Batching concurrent writes into one commit (group commit with a
//! savepoint per write) belongs here and nowhere else.

use super::{Call, Services, UseCaseError};
use crate::audit::{self, AuditError, AuditEvent};
use crate::store::{Db, StoreError, Tx};

/// What a change did.
#[expect(
    clippy::large_enum_variant,
    reason = "one value per write, moved once: boxing the event would only add an allocation"
)]
pub enum Change<T> {
    /// It changed something, described by this event.
    Made(T, AuditEvent),
    /// There was nothing to change (a second revoke, say): nothing is
    /// committed and nothing is recorded.
    Unchanged(T),
}

/// Begins a transaction, runs `change` in it, records the change's audit
/// event in the same transaction and commits. The call's
/// [`super::Witness`] is told as the record is written: from then on the
/// record is this write's to make, and if writing it fails the write fails
/// with it (a second record, by the edge, would fail alike). An error (or
/// [`Change::Unchanged`]) rolls everything back.
pub async fn write<T>(
    services: &Services,
    call: &Call<'_>,
    change: impl AsyncFnOnce(&mut Tx) -> Result<Change<T>, UseCaseError>,
) -> Result<T, UseCaseError> {
    recorded_write(&services.db, change, || {
        if let Some(witness) = call.witness() {
            witness.recorded();
        }
    })
    .await
}

/// The one path every write in the product takes, admin use cases through
/// [`write`] and SCIM (whose refusals are SCIM errors) directly: begin,
/// change, record the change's audit event, commit. `on_record` runs just
/// before the record is written, for an edge that must know a record is
/// this write's to make.
pub async fn recorded_write<T, E>(
    db: &Db,
    change: impl AsyncFnOnce(&mut Tx) -> Result<Change<T>, E>,
    on_record: impl FnOnce(),
) -> Result<T, E>
where
    E: From<StoreError> + From<AuditError>,
{
    let mut tx = db.begin().await?;
    // On an error the transaction is dropped, which rolls it back.
    match change(&mut tx).await? {
        Change::Made(value, event) => {
            on_record();
            audit::record(&mut tx, event).await?;
            tx.commit().await?;
            Ok(value)
        }
        Change::Unchanged(value) => Ok(value),
    }
}
