//! `scimitar serve`.

use tokio::net::TcpListener;

use super::Server;
use crate::cli::{CliError, failed};
use crate::config::{CommonArgs, Config, ServeArgs};

pub async fn run(common: &CommonArgs, args: &ServeArgs) -> Result<(), CliError> {
    let config = Config::resolve(common, args).map_err(|e| CliError::Usage(e.to_string()))?;
    if config.key_encryption_key.is_none() {
        // Fine for a try-out; in production the operator must know. Only
        // the variable's name is logged, never a key.
        tracing::warn!(
            "SCIMITAR_KEY_ENCRYPTION_KEY is not set: the signing keys' private halves are \
             encrypted with a generated key stored in the same database (server_settings), so \
             they are only as safe as the database. Set SCIMITAR_KEY_ENCRYPTION_KEY (64 hex \
             digits, or at least 32 bytes of text, from a secret store) for every instance and \
             CLI run. At the next start with it, the server adopts it: a new current signing \
             key under it, the older keys re-encrypted under it, and the generated key deleted."
        );
    }
    if config.public_url.is_none() && !config.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %config.listen,
            "SCIMITAR_PUBLIC_URL is not set: SCIM locations are built from each request's Host \
             header (refused unless it is a plain host[:port]). Behind a load balancer or on a \
             public address, set SCIMITAR_PUBLIC_URL to the URL clients use."
        );
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| failed(format!("cannot listen on {}: {e}", config.listen)))?;
    let (mut server, bootstrap) = Server::start(config, listener).await.map_err(failed)?;
    if let Some(b) = bootstrap {
        // Shown once, on stderr, for the operator; never logged. It may
        // stay in a service manager's log, so it signs nobody in: it only
        // serves to choose the admin's own password.
        eprintln!(
            "\nscimitar: created organization `{org}` with admin `{user}`.\n\
             One-time admin password (shown only now): {pw}\n\
             It only serves to set your own password, which signs you in:\n  \
             curl -s -X POST http://{addr}/api/v1/auth/password \\\n    \
             -H 'content-type: application/json' \\\n    \
             -d '{{\"organization\":\"{org}\",\"user_name\":\"{user}\",\
             \"password\":\"<the password above>\",\"new_password\":\"<12 or more characters>\"}}'\n\
             (or sign in to the console at http://{addr}/console, which asks for a new one)\n",
            org = b.organization,
            user = b.user_name,
            pw = b.password,
            addr = server.addr,
        );
    }
    let stop = server.stop_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests and flushing last-used data");
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
    });
    server.wait().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
