//! The command line: `serve`, `migrate`, and the operator commands an admin
//! needs without the web console. Every command takes `--database-url`;
//! `--json` prints exactly one JSON object on stdout. Operator changes are
//! audited with actor kind `operator`.

mod audit;
mod keys;
mod operator;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use crate::config::{CommonArgs, ServeArgs};

#[derive(Parser, Debug)]
#[command(
    name = "scimitar",
    version,
    about = "SCIM 2.0 service provider, Service Access Tokens and audit log"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Print exactly one JSON object on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (migrates first; bootstraps an empty database).
    Serve(ServeArgs),
    /// Run database migrations and exit.
    Migrate,
    /// Organizations.
    #[command(subcommand)]
    Org(operator::OrgCommand),
    /// Workspaces.
    #[command(subcommand)]
    Workspace(operator::WorkspaceCommand),
    /// Members.
    #[command(subcommand)]
    Member(operator::MemberCommand),
    /// Service Access Tokens.
    #[command(subcommand)]
    Token(operator::TokenCommand),
    /// Audit log: export, checkpoints, public keys, offline verification.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

/// A command's result: a JSON object, and the line a human reads.
pub struct Output {
    pub json: Value,
    pub human: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
    /// A check that ran and found a problem: its report is the output
    /// (`json` with `--json`), and the exit code is 1.
    #[error("{human}")]
    Rejected { json: Value, human: String },
}

/// Turns any displayable error into a runtime failure.
pub fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

/// The database, migrated, for a command that reads or changes it directly;
/// no keys are loaded (a command that signs loads them itself).
async fn open_db(common: &CommonArgs) -> Result<crate::store::Db, CliError> {
    let url = common
        .database_url()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let db = crate::store::connect(&url, 2).await.map_err(failed)?;
    db.migrate().await.map_err(failed)?;
    Ok(db)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve(_));
    let log_format = match &cli.command {
        Command::Serve(s) => s.log_format,
        _ => crate::config::LogFormat::Text,
    };
    init_tracing(serving, log_format);
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
    let json_mode = cli.json;
    let result = runtime.block_on(run(cli));
    match result {
        Ok(Some(out)) => {
            if json_mode {
                println!("{}", out.json);
            } else {
                println!("{}", out.human);
            }
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(CliError::Rejected { json, human }) => {
            if json_mode {
                println!("{json}");
            } else {
                println!("{human}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            if json_mode {
                println!("{}", json!({ "error": { "message": e.to_string() } }));
            } else {
                eprintln!("error: {e}");
            }
            match e {
                CliError::Usage(_) => ExitCode::from(2),
                CliError::Failed(_) | CliError::Rejected { .. } => ExitCode::FAILURE,
            }
        }
    }
}

async fn run(cli: Cli) -> Result<Option<Output>, CliError> {
    match cli.command {
        Command::Serve(args) => serve::run(&cli.common, &args).await.map(|()| None),
        Command::Migrate => {
            let url = cli
                .common
                .database_url()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let db = crate::store::connect(&url, 1)
                .await
                .map_err(|e| CliError::Failed(e.to_string()))?;
            db.migrate()
                .await
                .map_err(|e| CliError::Failed(e.to_string()))?;
            db.close().await;
            Ok(Some(Output {
                json: json!({ "migrated": true, "backend": db.backend_name() }),
                human: format!("migrations applied ({})", db.backend_name()),
            }))
        }
        Command::Org(c) => operator::org(&cli.common, c).await.map(Some),
        Command::Workspace(c) => operator::workspace(&cli.common, c).await.map(Some),
        Command::Member(c) => operator::member(&cli.common, c).await.map(Some),
        Command::Token(c) => operator::token(&cli.common, c).await.map(Some),
        Command::Audit(c) => audit::run(&cli.common, c).await.map(Some),
        Command::Keys(c) => keys::run(&cli.common, c).await.map(Some),
    }
}

/// Logs go to stderr (stdout is for command output). Secrets never reach a
/// log line: handlers do not log headers or bodies, and the Authorization
/// header is marked sensitive.
fn init_tracing(serving: bool, format: crate::config::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let default = if serving { "info" } else { "warn" };
    let filter =
        EnvFilter::try_from_env("SCIMITAR_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        crate::config::LogFormat::Json => builder.json().try_init(),
        crate::config::LogFormat::Text => builder.try_init(),
    };
}
