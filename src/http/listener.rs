//! The accept loop, in place of `axum::serve`, for the two limits it cannot
//! set: a cap on open connections (a semaphore: at the cap, new connections
//! wait in the kernel's backlog until one closes) and a time limit for
//! receiving a request's headers (slowloris), which hyper applies to idle
//! kept-alive connections too, so idle connections cannot hold the cap.
//! A response write that makes no progress for the request time limit ends
//! the connection ([`StallGuard`]). The request time limit (handler and
//! body) is the router's `TimeoutLayer`.
//! Graceful shutdown stops accepting, lets in-flight requests finish, then
//! returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use super::stall::StallGuard;

/// Connection-level limits.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    /// How long a response write may make no progress (a client that
    /// stopped reading) before the connection is dropped.
    pub write_stall_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for
/// open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Connections watch `closing` for shutdown; each holds a `done`
    // receiver, so `done_tx.closed()` resolves when the last one ends.
    let (closing_tx, closing_rx) = watch::channel(false);
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_full = false;
    loop {
        if permits.available_permits() == 0 && !warned_full {
            warned_full = true;
            tracing::warn!(
                max = limits.max_connections,
                "connection limit reached: new connections wait"
            );
        }
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather
                    // than spin.
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        if permits.available_permits() > 0 {
            warned_full = false;
        }
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(req)
        });
        let mut closing = closing_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _done = done;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .keep_alive(true);
            let io = StallGuard::new(stream, limits.write_stall_timeout);
            let conn = builder.serve_connection(TokioIo::new(io), service);
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = async { closing.wait_for(|c| *c).await.map(|_| ()) } => {
                    conn.as_mut().graceful_shutdown();
                    conn.as_mut().await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    drop(done_rx);
    done_tx.closed().await;
}
