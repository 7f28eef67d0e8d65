//! Opening what a server or an operator command runs on: the database
//! (migrated), the token peppers, the key-encryption key and signing keys,
//! session keys, the CSRF key and the group-commit writer, from a [`Config`].

use std::sync::Arc;

use super::Config;
use crate::audit::stream::StreamSettings;
use crate::http::AppParts;
use crate::http::limits::Limiter;
use crate::identity::IdentityError;
use crate::identity::sessions::SessionKeys;
use crate::signing::{Kek, Signer, SigningError};
use crate::store::page_anchors::PageAnchors;
use crate::store::{self, StoreError};
use crate::tokens::{LastUsedRecorder, load_peppers};
use crate::use_cases::Services;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Signing(#[from] SigningError),
}

/// The server's public URL: the configured one, or the listen address
/// (`app::Server` replaces it with the address actually bound).
fn public_base(config: &Config) -> String {
    config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen))
}

/// Opens the database, runs migrations and loads the server's keys. The CLI
/// uses this too, so that the pepper is created on first use by whichever
/// runs first.
pub async fn open(config: &Config) -> Result<AppParts, StartError> {
    let db = store::connect_with(
        &config.database_url,
        config.db_max_connections,
        config.durability,
    )
    .await?;
    db.migrate().await?;
    let configured: Vec<(i32, &[u8])> = config
        .token_peppers
        .iter()
        .map(|(v, s)| (*v, s.0.as_bytes()))
        .collect();
    let peppers = load_peppers(&db, &configured).await?;
    let kek = Kek::resolve(
        &db,
        config.key_encryption_key.as_ref().map(|k| k.0.as_str()),
    )
    .await?;
    let audit_streams = StreamSettings::new(kek.clone(), config.audit_stream_allow_private);
    let signer = Arc::new(Signer::load(&db, kek).await?);
    let sessions = SessionKeys::new(signer.clone(), config.session_ttl_seconds);
    let console = Arc::new(crate::http::csrf::CsrfKey::load(&db).await?);
    Ok(AppParts {
        services: Services::new(db, Arc::new(peppers), config.durability),
        sessions: Arc::new(sessions),
        signer,
        last_used: LastUsedRecorder::default(),
        usage: Default::default(),
        public_url: config.public_url.clone(),
        page_anchors: PageAnchors::default(),
        limits: Arc::new(Limiter::new(config.limits)),
        console,
        audit_streams,
        sso: Arc::new(crate::sso::Relying::new(&public_base(config))),
    })
}
