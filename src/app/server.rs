//! A running server: the state opened from the configuration, the router,
//! the background tasks, and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Config, MetricsAt};
use crate::http::limits::Limiter;
use crate::identity::bootstrap::{BootstrapCredential, bootstrap_if_empty};

use crate::config::{StartError, open};
use crate::http::AppState;

/// Refusals made before routing (abuse limits) in the form of the edge that
/// serves the path: SCIM's error schema under `/scim`, a problem elsewhere.
fn refusal_form(err: crate::http::ApiError, path: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    if path.starts_with("/scim/") {
        crate::scim::error::ScimError::from(err).into_response()
    } else {
        err.into_response()
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    /// The address of `--metrics-listen`, when given.
    pub metrics_addr: Option<SocketAddr>,
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
        let mut parts = open(&config).await?;
        // Refusals made before routing answer in the form of the edge that
        // serves the path, which only the composition root knows.
        parts.limits = Arc::new(Limiter::new(config.limits).with_refusal_form(refusal_form));
        let bootstrap = bootstrap_if_empty(&parts.db).await?;
        let addr = listener.local_addr()?;
        if config.public_url.is_none() {
            parts.sso = Arc::new(crate::sso::Relying::new(&format!("http://{addr}")));
        }
        let state = AppState::new(parts);
        let router = super::router::router(state.clone(), &config);
        let wal_checkpointer = crate::store::take_over_checkpoints(&state.db).await?;
        let flusher = state
            .last_used
            .spawn_flusher(state.db.clone(), config.last_used_flush);
        let usage_flusher = state
            .usage
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
        match crate::audit::filter_index::trim(&state.db).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                entries = n,
                "the audit filter index held records past the chain heads (a power loss?); dropped them"
            ),
            Err(e) => tracing::warn!(error = %e, "trimming the audit filter index failed"),
        }
        let audit_index =
            crate::audit::filter_index::spawn(state.db.clone(), crate::audit::filter_index::EVERY);
        let trimmer = super::memory::spawn_trimmer(super::memory::EVERY);
        let streams = crate::audit::stream::spawn(state.db.clone(), state.audit_streams.clone());
        let connection_limits = crate::http::listener::ConnectionLimits {
            max_connections: config.max_connections,
            header_read_timeout: config.header_read_timeout,
            write_stall_timeout: config.request_timeout,
        };
        let metrics = match config.metrics {
            MetricsAt::Off => None,
            at => Some((at, crate::http::metrics::install())),
        };
        let upkeep = metrics
            .as_ref()
            .map(|(_, handle)| crate::http::metrics::spawn_upkeep(handle.clone()));
        let mut metrics_addr = None;
        let metrics_task = match metrics {
            Some((MetricsAt::Listen(at), _)) => {
                let own = TcpListener::bind(at)
                    .await
                    .map_err(|e| std::io::Error::new(e.kind(), format!("metrics on {at}: {e}")))?;
                metrics_addr = Some(own.local_addr()?);
                let router = super::router::metrics_router(state.clone());
                // Scrapes only: stopped outright at shutdown.
                Some(tokio::spawn(crate::http::listener::serve(
                    own,
                    router,
                    connection_limits,
                    std::future::pending(),
                )))
            }
            _ => None,
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            crate::http::listener::serve(listener, router, connection_limits, async {
                let _ = rx.await;
            })
            .await;
            for task in [metrics_task, upkeep].into_iter().flatten() {
                task.abort();
            }
            checkpointer.abort();
            drop(wal_checkpointer);
            key_refresher.abort();
            retention.abort();
            audit_index.abort();
            trimmer.abort();
            // Not an abort: it gives up its streams' leases, so that a
            // restart (or another instance) resumes delivery at once.
            streams.stop().await;
            // Not an abort: the flusher may be halfway through writing a
            // batch it has already taken, and it flushes once more itself.
            flusher.stop().await;
            usage_flusher.stop().await;
        });
        // The main listener last: whoever waits for that line (a
        // supervisor, a test reading the log) then has every address.
        if let Some(at) = metrics_addr {
            tracing::info!(addr = %at, "metrics listening");
        }
        tracing::info!(%addr, backend = state.db.backend_name(), "scimitar listening");
        Ok((
            Server {
                addr,
                metrics_addr,
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
