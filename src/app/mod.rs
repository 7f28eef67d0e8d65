//! The composition root: the process's entry point, the state and router
//! assembled from every edge, and the background tasks of a running server.
//! Nothing imports from here; everything below is reached from here.

mod memory;
mod openapi;
#[cfg(test)]
mod route_names;
mod router;
mod serve;
mod server;

use std::process::ExitCode;

use clap::FromArgMatches;

use crate::cli::{Cli, Command};
use crate::config::LogFormat;

pub use server::Server;

/// `scimitar …`: `serve` runs the server; every other command is the CLI's.
pub fn main() -> ExitCode {
    let matches = crate::cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let log_format = match &cli.command {
        Command::Serve(s) => Some(s.log_format),
        _ => None,
    };
    init_tracing(log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Cli {
        common,
        json,
        command,
    } = cli;
    let result = runtime.block_on(async {
        match command {
            Command::Serve(args) => serve::run(&common, &args).await.map(|()| None),
            other => crate::cli::run(&common, other).await,
        }
    });
    crate::cli::report(result, json)
}

/// Logs go to stderr (stdout is for command output): at `info` for the
/// server (`log_format` given), `warn` for an operator command. Secrets
/// never reach a log line: handlers do not log headers or bodies, and the
/// Authorization header is marked sensitive.
fn init_tracing(log_format: Option<LogFormat>) {
    use tracing_subscriber::EnvFilter;
    let default = if log_format.is_some() { "info" } else { "warn" };
    let filter =
        EnvFilter::try_from_env("SCIMITAR_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match log_format.unwrap_or(LogFormat::Text) {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
