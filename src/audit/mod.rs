//! The audit log's domain: every change and every refusal becomes a record
//! in a per-organization hash chain, written in the same transaction as the
//! change it describes, many changes and records to one commit
//! (`group_commit`, `append`, `chain`, `event`); records are read
//! back through validated queries (`query`, `query_sql`), exported as NDJSON
//! or CSV (`export`, `csv`), verified against the signed checkpoints
//! (`checkpoints`) by one verifier (`verify`) fed from the database
//! (`chain`) or from an export (`offline`), and expire (`retention`).
//! Nothing here knows about HTTP: the Audit Log API, the console and the CLI
//! call these functions and turn [`AuditError`] into their own answers.

mod append;
mod chain;
pub mod checkpoints;
mod csv;
pub mod event;
mod export;
pub mod filter_index;
mod group_commit;
pub mod intake;
pub mod offline;
mod query;
mod query_sql;
pub mod redact;
pub mod retention;
pub mod stream;
pub mod verify;

pub use append::record;
pub use chain::{UNATTRIBUTED_CHAIN, org_chain, verify_chain, verify_range};
pub use checkpoints::{CheckpointPolicy, spawn_checkpointer};
pub use event::{Actor, AuditEvent, Outcome, RequestContext, StoredEvent, Target};
pub use export::{ExportPages, Format, parse_export, stream_records};
pub use group_commit::{AuditWriter, Change, Run};
pub use query::{AuditQuery, KINDS, Kinds, RawExport, RawQuery};
pub use query_sql::find_record;

use crate::signing::SigningError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit recording unavailable: {0}")]
    Unavailable(String),
    /// Signing a checkpoint failed.
    #[error(transparent)]
    Signing(#[from] SigningError),
    /// A query, export or verification asked for something invalid; the
    /// message names what (answered as a bad request).
    #[error("{0}")]
    Invalid(String),
}

impl From<sqlx::Error> for AuditError {
    fn from(e: sqlx::Error) -> Self {
        AuditError::Store(e.into())
    }
}
