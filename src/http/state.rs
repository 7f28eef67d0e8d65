//! The state every handler of every HTTP edge reaches: the core's handles
//! (database, peppers, session keys, signing keys, last-used recorder,
//! audit writer) and the HTTP edge's own (abuse limits, CSRF key, public
//! URL). The composition root builds it (`config::open`) and hands it to
//! the router.

use std::sync::Arc;

use crate::identity::sessions::SessionKeys;
use crate::signing::Signer;
use crate::store::Db;
use crate::store::page_anchors::PageAnchors;
use crate::tokens::{LastUsedRecorder, Peppers};

/// What every request handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    pub peppers: Arc<Peppers>,
    pub sessions: Arc<SessionKeys>,
    /// The signing keys (audit checkpoints; later exchanged tokens).
    pub signer: Arc<Signer>,
    pub last_used: LastUsedRecorder,
    /// Group-commit writer for audit records that accompany no change.
    pub audit: crate::audit::AuditWriter,
    /// The externally visible base URL (`https://scim.example.com`), for
    /// SCIM `meta.location`; the request's Host header when unset.
    pub public_url: Option<String>,
    /// Where deep pages of unfiltered SCIM lists start.
    pub page_anchors: PageAnchors,
    /// Abuse limits: rates and failed-authentication counts, per instance.
    pub limits: Arc<crate::http::limits::Limiter>,
    /// The admin console's CSRF key.
    pub console: Arc<super::csrf::CsrfKey>,
}
