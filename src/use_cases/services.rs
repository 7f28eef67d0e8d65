//! What use cases work with: the core's handles and nothing of any edge.
//! `http::AppState` holds them (and derefs to them); the CLI opens the same
//! state. The transaction helper ([`super::write`]) begins every admin write
//! on [`Services::db`], so a later write batcher belongs here too.

use std::sync::Arc;

use crate::store::Db;
use crate::tokens::Peppers;

#[derive(Clone, Debug)]
pub struct Services {
    pub db: Db,
    /// Token hashing keys: creating or rotating a token hashes its secret.
    pub peppers: Arc<Peppers>,
}
