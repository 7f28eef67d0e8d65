//! The example transformations service: a thin command line over
//! `service.rs`. See README.md next to this file.
//!
//! ```sh
//! TRANSFORMATIONS_INTROSPECTION_TOKEN=scim_sat_… \
//!   cargo run --example transformations -- --scimitar-url http://127.0.0.1:8080
//! ```

mod service;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

#[derive(Parser)]
#[command(about = "A workspace service that accepts scimitar Service Access Tokens")]
struct Args {
    /// scimitar's base URL.
    #[arg(
        long,
        env = "TRANSFORMATIONS_SCIMITAR_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    scimitar_url: String,
    /// This service's organization SAT with `tokens:introspect`. Prefer the
    /// environment variable: a flag value shows up in `ps`.
    #[arg(
        long,
        env = "TRANSFORMATIONS_INTROSPECTION_TOKEN",
        hide_env_values = true
    )]
    introspection_token: String,
    /// Listen address.
    #[arg(long, env = "TRANSFORMATIONS_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The `aud` that exchanged JWTs must carry.
    #[arg(
        long,
        env = "TRANSFORMATIONS_AUDIENCE",
        default_value = "transformations"
    )]
    audience: String,
    /// How long introspection answers are cached, in milliseconds. A revoked
    /// SAT keeps working for up to this long.
    #[arg(long, env = "TRANSFORMATIONS_CACHE_TTL_MS", default_value_t = 10_000)]
    cache_ttl_ms: u64,
    /// The `iss` that exchanged JWTs must carry: scimitar's
    /// `SCIMITAR_PUBLIC_URL`, or `scimitar` when that is unset. Default: the
    /// scimitar URL.
    #[arg(long, env = "TRANSFORMATIONS_ISSUER")]
    issuer: Option<String>,
    /// This service's organization SAT with `audit_logs:write`: report
    /// every operation done with a workspace token to scimitar's audit log.
    /// It may be the introspection token, if that one holds both.
    #[arg(long, env = "TRANSFORMATIONS_AUDIT_TOKEN", hide_env_values = true)]
    audit_token: Option<String>,
    /// How long reported events gather before a batch is sent, in
    /// milliseconds.
    #[arg(
        long,
        env = "TRANSFORMATIONS_REPORT_INTERVAL_MS",
        default_value_t = 200
    )]
    report_interval_ms: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = service::Config::new(&args.scimitar_url, &args.introspection_token);
    config.audience = args.audience;
    config.cache_ttl = Duration::from_millis(args.cache_ttl_ms);
    if let Some(issuer) = args.issuer {
        config.issuer = issuer;
    }
    config.audit_token = args.audit_token;
    config.report_interval = Duration::from_millis(args.report_interval_ms);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "transformations service listening");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    service::serve(config, listener, shutdown).await
}
