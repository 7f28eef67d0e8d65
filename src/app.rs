//! Wiring: opening the database, loading keys, building the router, and
//! running the server with graceful shutdown.

use crate::store::page_anchors::PageAnchors;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::identity::IdentityError;
use crate::identity::bootstrap::{BootstrapCredential, bootstrap_if_empty};
use crate::identity::sessions::SessionKeys;
use crate::signing::{Kek, Signer, SigningError};
use crate::store::{self, Db, StoreError};
use crate::tokens::{LastUsedRecorder, Peppers, load_peppers};

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
    pub console: Arc<crate::console::ConsoleKey>,
}

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

/// Opens the database, runs migrations and loads the server's keys. The CLI
/// uses this too, so that the pepper is created on first use by whichever
/// runs first.
pub async fn open(config: &Config) -> Result<AppState, StartError> {
    let db = store::connect(&config.database_url, config.db_max_connections).await?;
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
    let signer = Arc::new(Signer::load(&db, kek).await?);
    let sessions = SessionKeys::new(signer.clone(), config.session_ttl_seconds);
    let console = Arc::new(crate::console::ConsoleKey::load(&db).await?);
    let (audit, _writer) = crate::audit::AuditWriter::spawn(db.clone());
    Ok(AppState {
        db,
        peppers: Arc::new(peppers),
        sessions: Arc::new(sessions),
        signer,
        last_used: LastUsedRecorder::default(),
        audit,
        public_url: config.public_url.clone(),
        page_anchors: PageAnchors::default(),
        limits: Arc::new(crate::http::limits::Limiter::new(config.limits)),
        console,
    })
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    /// Starts serving on `listener`. Returns the server and, on an empty
    /// database, the bootstrap credential to show once.
    pub async fn start(
        config: Config,
        listener: TcpListener,
    ) -> Result<(Server, Option<BootstrapCredential>), StartError> {
        let state = open(&config).await?;
        let bootstrap = bootstrap_if_empty(&state.db).await?;
        let addr = listener.local_addr()?;
        let router = crate::http::router(state.clone(), &config);
        let flusher = state
            .last_used
            .spawn_flusher(state.db.clone(), config.last_used_flush);
        let checkpointer = crate::audit::spawn_checkpointer(
            state.db.clone(),
            state.signer.clone(),
            crate::audit::CheckpointPolicy {
                every_records: config.audit_checkpoint_records,
                every: config.audit_checkpoint_interval,
            },
        );
        let key_refresher = crate::signing::spawn_refresher(state.db.clone(), state.signer.clone());
        let retention =
            crate::audit::retention::spawn(state.db.clone(), config.audit_retention_check);
        let connection_limits = crate::http::listener::ConnectionLimits {
            max_connections: config.max_connections,
            header_read_timeout: config.header_read_timeout,
            write_stall_timeout: config.request_timeout,
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            crate::http::listener::serve(listener, router, connection_limits, async {
                let _ = rx.await;
            })
            .await;
            checkpointer.abort();
            key_refresher.abort();
            retention.abort();
            // Not an abort: the flusher may be halfway through writing a
            // batch it has already taken, and it flushes once more itself.
            flusher.stop().await;
        });
        tracing::info!(%addr, backend = state.db.backend_name(), "scimitar listening");
        Ok((
            Server {
                addr,
                state,
                shutdown: Some(tx),
                task,
            },
            bootstrap,
        ))
    }

    /// Stops accepting, lets in-flight requests finish, flushes last-used
    /// data, and returns when all of that is done.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
        self.state.db.close().await;
    }

    /// Waits until the server stops (after [`Server::shutdown`] from a signal
    /// handler, or an error).
    pub fn stop_handle(&mut self) -> Option<oneshot::Sender<()>> {
        self.shutdown.take()
    }

    pub async fn wait(self) {
        let _ = self.task.await;
        self.state.db.close().await;
    }
}
