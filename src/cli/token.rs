//! `scimitar token`: create, list and revoke Service Access Tokens (revoke
//! takes a PAT too), through `use_cases::service_tokens`, the use cases of
//! `/api/v1/service-access-tokens`.

use clap::Subcommand;
use serde_json::json;

use super::operator::Operator;
use super::{CliError, Output, failed};
use crate::config::CommonArgs;
use crate::tokens::TokenView;
use crate::use_cases::service_tokens::{self, NewSat};
use crate::use_cases::{Expiry, revoke_any_token};

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a Service Access Token (organization level, or --workspace).
    Create {
        #[arg(long)]
        org: String,
        /// Workspace name or id: makes a workspace SAT.
        #[arg(long)]
        workspace: Option<String>,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// A permission (repeat for several).
        #[arg(long = "permission", required = true)]
        permissions: Vec<String>,
        /// Days until it expires (1 to 3650).
        #[arg(long)]
        expires_in_days: Option<i64>,
        /// Allowed source network (repeat for several).
        #[arg(long = "allowed-cidr")]
        allowed_cidrs: Vec<String>,
    },
    /// List the organization's Service Access Tokens.
    List {
        #[arg(long)]
        org: String,
    },
    /// Revoke a token (SAT or PAT) by id.
    Revoke {
        #[arg(long)]
        org: String,
        id: String,
    },
}

fn status_of(t: &TokenView) -> String {
    serde_json::to_value(t.status)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

pub async fn run(common: &CommonArgs, cmd: TokenCommand) -> Result<Output, CliError> {
    let op = Operator::open(common).await?;
    match cmd {
        TokenCommand::Create {
            org,
            workspace,
            name,
            description,
            permissions,
            expires_in_days,
            allowed_cidrs,
        } => {
            let org = op.org(&org).await?;
            let workspace_id = match workspace {
                Some(ws) => Some(op.workspace(&org, &ws).await?.id),
                None => None,
            };
            let new = NewSat {
                name,
                description,
                workspace_id,
                permissions,
                expiry: expires_in_days.map_or(Expiry::Unset, Expiry::InDays),
                allowed_cidrs,
            };
            let (view, plain) =
                service_tokens::create(&op.state, &op.call(Some(&org)), new).await?;
            let value = plain.reveal();
            let human = format!(
                "created {} token {} ({})\npermissions: {}\ntoken (shown once, store it now): {value}",
                view.level.map(|l| l.as_str()).unwrap_or("personal"),
                view.name,
                view.id,
                view.permissions.join(" "),
            );
            let mut json = serde_json::to_value(&view).map_err(failed)?;
            json["token"] = json!(value);
            Ok(Output { json, human })
        }
        TokenCommand::List { org } => {
            let org = op.org(&org).await?;
            let list = service_tokens::list(&op.state, &op.call(Some(&org)), None, None).await?;
            let human = if list.is_empty() {
                "no tokens".to_string()
            } else {
                list.iter()
                    .map(|t| {
                        format!(
                            "{}  {:<8} {:<12} {}  [{}]",
                            t.id,
                            status_of(t),
                            t.level.map(|l| l.as_str()).unwrap_or("personal"),
                            t.name,
                            t.permissions.join(" ")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Output {
                json: json!({ "tokens": list }),
                human,
            })
        }
        TokenCommand::Revoke { org, id } => {
            let org = op.org(&org).await?;
            let (view, revoked) = revoke_any_token(&op.state, &op.call(Some(&org)), &id).await?;
            Ok(Output {
                json: json!({ "id": view.id, "status": view.status, "revoked_at": view.revoked_at }),
                human: if revoked {
                    format!("revoked token {} ({})", view.name, view.id)
                } else {
                    format!("token {} ({}) was already revoked", view.name, view.id)
                },
            })
        }
    }
}
