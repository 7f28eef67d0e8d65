//! Audit recording: every change and every refusal becomes a record in a
//! per-organization hash chain, written in the same transaction as the change
//! it describes. The Audit Log API (query, export, verify) builds on this.

mod chain;
pub mod event;
mod group_commit;
pub mod retention;

pub use chain::{
    ChainBreak, ChainReport, UNATTRIBUTED_CHAIN, record, record_alone, verify_chain, verify_range,
};
pub use event::{Actor, AuditEvent, Outcome, RequestContext, StoredEvent, Target};
pub use group_commit::AuditWriter;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit recording unavailable: {0}")]
    Unavailable(String),
}

impl From<sqlx::Error> for AuditError {
    fn from(e: sqlx::Error) -> Self {
        AuditError::Store(e.into())
    }
}
