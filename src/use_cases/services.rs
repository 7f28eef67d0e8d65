//! What use cases work with: the core's handles and nothing of any edge.
//! `http::AppState` holds them (and derefs to them); the CLI opens the same
//! state. Reads go to [`Services::db`]; every write goes through
//! [`Services::audit`], the group-commit writer.

use std::sync::Arc;

use crate::audit::AuditWriter;
use crate::store::{Db, Durability};
use crate::tokens::{Peppers, VerifiedTokens};

#[derive(Clone, Debug)]
pub struct Services {
    pub db: Db,
    /// Token hashing keys: creating or rotating a token hashes its secret.
    pub peppers: Arc<Peppers>,
    /// The one write path: changes with their audit records, and the
    /// records of reads and refusals, group-committed.
    pub audit: AuditWriter,
    /// Tokens verified a moment ago; the writer tells it what changed.
    pub tokens: Arc<VerifiedTokens>,
}

impl Services {
    /// The services over `db`, with a group-commit writer that tells the
    /// token cache what each commit changed. Needs a Tokio runtime (the
    /// writer's committer is a task).
    pub fn new(db: Db, peppers: Arc<Peppers>, durability: Durability) -> Self {
        let tokens = Arc::new(VerifiedTokens::default());
        let forget = tokens.clone();
        let (audit, _committer) =
            AuditWriter::spawn(db.clone(), durability, Box::new(move |t| forget.forget(t)));
        Self {
            db,
            peppers,
            audit,
            tokens,
        }
    }
}
