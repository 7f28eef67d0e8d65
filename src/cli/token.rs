//! `scimitar token`: create, list, show, rotate and revoke Service Access
//! Tokens (revoke takes a PAT too), through `use_cases::service_tokens`, the
//! use cases of `/api/v1/service-access-tokens`.

use clap::Subcommand;
use serde_json::json;

use super::operator::Operator;
use super::table::Table;
use super::{CliError, Output, failed};
use crate::config::CommonArgs;
use crate::tokens::TokenView;
use crate::use_cases::service_tokens::{self, NewSat};
use crate::use_cases::{Expiry, revoke_any_token};

/// The permissions a token may hold, for `--permission`'s help (a unit
/// test keeps it in step with the catalogue).
const PERMISSIONS_HELP: &str = "A permission (repeat for several). \
An organization token takes scim:read, scim:write, audit_logs:read, \
audit_logs:write and \
tokens:introspect; a workspace token (--workspace) takes RESOURCE:LEVEL, where \
RESOURCE is sources, destinations, transformations, tracking_plans, data_catalog, \
profiles, reverse_etl or pipeline_tests, and LEVEL is read, edit, create_delete \
or connect.";

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a Service Access Token (organization level, or --workspace).
    Create {
        /// Organization name or id.
        #[arg(long)]
        org: String,
        /// Workspace name or id: makes a workspace SAT.
        #[arg(long)]
        workspace: Option<String>,
        /// The token's name (1 to 200 characters), shown in lists and audit records.
        #[arg(long)]
        name: String,
        /// What the token is for (at most 2000 characters).
        #[arg(long)]
        description: Option<String>,
        #[arg(long = "permission", required = true, help = PERMISSIONS_HELP)]
        permissions: Vec<String>,
        /// Days until it expires (1 to 3650; the organization's cap, if any,
        /// applies and fills it in when absent).
        #[arg(long)]
        expires_in_days: Option<i64>,
        /// Allowed source network, a CIDR or an address (repeat for several;
        /// none: any address).
        #[arg(long = "allowed-cidr")]
        allowed_cidrs: Vec<String>,
    },
    /// List the organization's Service Access Tokens, newest first.
    List {
        /// Organization name or id.
        #[arg(long)]
        org: String,
    },
    /// Show one Service Access Token (never its value).
    Show {
        /// Organization name or id.
        #[arg(long)]
        org: String,
        /// The token's id.
        id: String,
    },
    /// Give a Service Access Token a new value (printed once; same id).
    Rotate {
        /// Organization name or id.
        #[arg(long)]
        org: String,
        /// Seconds the old value keeps working (0 to 604800; 0 ends it now).
        #[arg(long, default_value_t = 0)]
        grace_period_seconds: i64,
        /// The token's id.
        id: String,
    },
    /// Revoke a token (SAT or PAT) by id.
    Revoke {
        /// Organization name or id.
        #[arg(long)]
        org: String,
        /// The token's id.
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
            let mut table = Table::new(["ID", "STATUS", "LEVEL", "NAME", "PERMISSIONS"]);
            for t in &list {
                table.row([
                    t.id.clone(),
                    status_of(t),
                    t.level
                        .map(|l| l.as_str())
                        .unwrap_or("personal")
                        .to_string(),
                    t.name.clone(),
                    t.permissions.join(" "),
                ]);
            }
            let human = table.render_or("no tokens");
            Ok(Output {
                json: json!({ "tokens": list }),
                human,
            })
        }
        TokenCommand::Show { org, id } => {
            let org = op.org(&org).await?;
            let view = service_tokens::get(&op.state, &op.call(Some(&org)), &id).await?;
            let human = describe(&view);
            let json = serde_json::to_value(&view).map_err(failed)?;
            Ok(Output { json, human })
        }
        TokenCommand::Rotate {
            org,
            grace_period_seconds,
            id,
        } => {
            let org = op.org(&org).await?;
            let (view, plain) =
                service_tokens::rotate(&op.state, &op.call(Some(&org)), &id, grace_period_seconds)
                    .await?;
            let value = plain.reveal();
            let old = match view.previous_secret_valid_until {
                Some(until) => format!("the old value works until {}", until.to_canonical()),
                None => "the old value no longer works".to_string(),
            };
            let human = format!(
                "rotated token {} ({}); {old}\ntoken (shown once, store it now): {value}",
                view.name, view.id
            );
            let mut json = serde_json::to_value(&view).map_err(failed)?;
            json["token"] = json!(value);
            Ok(Output { json, human })
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

/// A token's view, one field a line.
fn describe(t: &TokenView) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    let rows = [
        ("id", t.id.clone()),
        ("name", t.name.clone()),
        ("description", opt(t.description.clone())),
        ("status", status_of(t)),
        (
            "level",
            t.level
                .map(|l| l.as_str())
                .unwrap_or("personal")
                .to_string(),
        ),
        ("workspace", opt(t.workspace_id.map(|w| w.to_string()))),
        ("permissions", t.permissions.join(" ")),
        ("allowed cidrs", {
            let c = t.allowed_cidrs.join(" ");
            if c.is_empty() { "any".to_string() } else { c }
        }),
        (
            "created by",
            opt(t.created_by.display.clone().or(t.created_by.id.clone())),
        ),
        ("created", t.created_at.to_canonical()),
        ("expires", opt(t.expires_at.map(|x| x.to_canonical()))),
        ("rotated", opt(t.rotated_at.map(|x| x.to_canonical()))),
        ("last used", opt(t.last_used_at.map(|x| x.to_canonical()))),
        ("last used from", opt(t.last_used_ip.clone())),
        ("revoked", opt(t.revoked_at.map(|x| x.to_canonical()))),
    ];
    rows.iter()
        .map(|(k, v)| format!("{k:<15} {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::PERMISSIONS_HELP;
    use crate::permissions::{Level, OrgPermission, Resource};

    #[test]
    fn the_permission_help_names_every_permission_of_the_catalogue() {
        for p in OrgPermission::ALL {
            assert!(PERMISSIONS_HELP.contains(p.as_str()), "{}", p.as_str());
        }
        for r in Resource::ALL {
            assert!(PERMISSIONS_HELP.contains(r.as_str()), "{}", r.as_str());
        }
        for l in Level::ALL {
            assert!(PERMISSIONS_HELP.contains(l.as_str()), "{}", l.as_str());
        }
    }
}
