//! The command line: its arguments (`serve` among them, which the
//! composition root runs), `migrate`, and the operator commands an admin
//! needs without the web console. Every command takes `--database-url`;
//! `--json` prints exactly one JSON object on stdout. Operator changes are
//! the API's own use cases, called as the operator (actor kind `operator`),
//! so they are checked and recorded exactly as the API's; a use case's
//! refusal becomes a message and an exit code here.

mod audit;
mod break_glass;
mod completions;
mod help;
mod keys;
mod member;
mod operator;
mod org;
mod table;
mod token;
mod workspace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use help::command;
use serde_json::{Value, json};

use crate::config::{CommonArgs, ServeArgs};
use crate::use_cases::UseCaseError;

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
    Org(org::OrgCommand),
    /// Workspaces.
    #[command(subcommand)]
    Workspace(workspace::WorkspaceCommand),
    /// Members.
    #[command(subcommand)]
    Member(member::MemberCommand),
    /// Service Access Tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Audit log: export, checkpoints, public keys, verification (offline or on the database).
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions(completions::CompletionsArgs),
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

/// A use case's refusal: a number out of its range is a usage error (exit
/// 2), as a malformed argument is; anything else is a failure (exit 1).
impl From<UseCaseError> for CliError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::OutOfRange(m) => CliError::Usage(m),
            other => CliError::Failed(other.to_string()),
        }
    }
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

/// Prints a command's result (`--json`: one JSON object on stdout) and
/// gives the process's exit code: 2 for a usage error, 1 for a failure or a
/// check that found a problem.
pub fn report(result: Result<Option<Output>, CliError>, json_mode: bool) -> ExitCode {
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

/// Runs an operator command (every command but `serve`, which the
/// composition root runs).
pub async fn run(common: &CommonArgs, command: Command) -> Result<Option<Output>, CliError> {
    match command {
        Command::Serve(_) => Err(CliError::Usage(
            "`serve` starts the server; it is not an operator command".into(),
        )),
        Command::Migrate => {
            let url = common
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
        Command::Org(c) => org::run(common, c).await.map(Some),
        Command::Workspace(c) => workspace::run(common, c).await.map(Some),
        Command::Member(c) => member::run(common, c).await.map(Some),
        Command::Token(c) => token::run(common, c).await.map(Some),
        Command::Audit(c) => audit::run(common, c).await,
        Command::Keys(c) => keys::run(common, c).await.map(Some),
        Command::Completions(args) => {
            completions::print(&args);
            Ok(None)
        }
    }
}
