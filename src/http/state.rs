//! The state every handler of every HTTP edge reaches: the use cases'
//! services (database, peppers, the group-commit writer), the rest of the core's handles (session
//! keys, signing keys, last-used recorder) and the HTTP
//! edge's own (abuse limits, CSRF key, public URL). The composition root
//! builds it (`config::open`) and hands it to the router.

use std::ops::Deref;
use std::sync::Arc;

use crate::identity::sessions::SessionKeys;
use crate::signing::Signer;
use crate::store::page_anchors::PageAnchors;
use crate::tokens::{LastUsedRecorder, UsageRecorder};
use crate::use_cases::Services;

/// What every request handler can reach, shared. axum clones the state
/// for every extractor and middleware of every request: shared, a clone
/// is one reference count, where a clone of the parts was one per handle
/// and a copy of the public URL (2.5% of a `GET /Users/{id}`'s CPU in a
/// profile, clones and drops together).
#[derive(Clone, Debug)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    pub fn new(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// The handles [`AppState`] shares.
#[derive(Debug)]
pub struct AppParts {
    /// What the use cases work with; `state.db` and `state.peppers` reach
    /// into it (see the `Deref` below).
    pub services: Services,
    pub sessions: Arc<SessionKeys>,
    /// The signing keys (audit checkpoints; later exchanged tokens).
    pub signer: Arc<Signer>,
    pub last_used: LastUsedRecorder,
    /// Which permissions tokens exercise, counted for the advisor.
    pub usage: UsageRecorder,
    /// The externally visible base URL (`https://scim.example.com`), for
    /// SCIM `meta.location`; the request's Host header when unset.
    pub public_url: Option<String>,
    /// Where deep pages of unfiltered SCIM lists start.
    pub page_anchors: PageAnchors,
    /// Abuse limits: rates and failed-authentication counts, per instance.
    pub limits: Arc<crate::http::limits::Limiter>,
    /// The admin console's CSRF key.
    pub console: Arc<super::csrf::CsrfKey>,
    /// What audit streams share: the KEK sealing their secrets, the address
    /// rule, the delivery client.
    pub audit_streams: Arc<crate::audit::stream::StreamSettings>,
    /// The OpenID relying party of organizations that sign in through
    /// their identity provider (its callback is under the public URL).
    pub sso: Arc<crate::sso::Relying>,
}

/// Handlers pass the state where a use case takes its services, and read
/// the database as `state.db`.
impl Deref for AppParts {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}
