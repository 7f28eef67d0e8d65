//! `scimitar workspace`: create a workspace, through `use_cases::workspaces`.

use clap::Subcommand;
use serde_json::json;

use super::operator::Operator;
use super::{CliError, Output};
use crate::config::CommonArgs;
use crate::use_cases::workspaces;

#[derive(Subcommand, Debug)]
pub enum WorkspaceCommand {
    /// Create a workspace in an organization.
    Create {
        /// Organization name or id.
        #[arg(long)]
        org: String,
        name: String,
    },
}

pub async fn run(common: &CommonArgs, cmd: WorkspaceCommand) -> Result<Output, CliError> {
    let op = Operator::open(common).await?;
    match cmd {
        WorkspaceCommand::Create { org, name } => {
            let org = op.org(&org).await?;
            let ws = workspaces::create(&op.state, &op.call(Some(&org)), &name).await?;
            Ok(Output {
                json: json!({ "id": ws.id, "name": ws.name, "org_id": ws.org_id }),
                human: format!("created workspace {} ({}) in {}", ws.name, ws.id, org.name),
            })
        }
    }
}
