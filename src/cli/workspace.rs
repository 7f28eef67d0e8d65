//! `scimitar workspace`: create, list and delete workspaces, through
//! `use_cases::workspaces` (the use cases of `/api/v1/workspaces`).

use clap::Subcommand;
use serde_json::json;

use super::operator::Operator;
use super::table::Table;
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
        /// The workspace's name (1 to 100 characters, unique among live ones).
        name: String,
    },
    /// List an organization's workspaces (deleted ones are left out).
    List {
        /// Organization name or id.
        #[arg(long)]
        org: String,
    },
    /// Delete a workspace: its Service Access Tokens are revoked with it.
    Delete {
        /// Organization name or id.
        #[arg(long)]
        org: String,
        /// Workspace name or id.
        workspace: String,
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
        WorkspaceCommand::List { org } => {
            let org = op.org(&org).await?;
            let list = workspaces::list(&op.state, &op.call(Some(&org))).await?;
            let mut table = Table::new(["ID", "NAME", "CREATED"]);
            for ws in &list {
                table.row([
                    ws.id.to_string(),
                    ws.name.clone(),
                    ws.created_at.to_canonical(),
                ]);
            }
            Ok(Output {
                json: json!({ "workspaces": list }),
                human: table.render_or("no workspaces"),
            })
        }
        WorkspaceCommand::Delete { org, workspace } => {
            let org = op.org(&org).await?;
            let ws = op.workspace(&org, &workspace).await?;
            let ws = workspaces::delete(&op.state, &op.call(Some(&org)), ws.id).await?;
            Ok(Output {
                json: json!({ "id": ws.id, "name": ws.name, "deleted": true }),
                human: format!(
                    "deleted workspace {} ({}); its Service Access Tokens are revoked",
                    ws.name, ws.id
                ),
            })
        }
    }
}
