//! `scimitar org`: create an organization and change its settings, through
//! `use_cases::organizations`.

use clap::Subcommand;
use serde_json::json;

use super::operator::Operator;
use super::{CliError, Output};
use crate::config::CommonArgs;
use crate::use_cases::organizations::{self, Settings};

#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Create an organization.
    Create {
        /// The organization's name (1 to 100 characters, unique).
        name: String,
    },
    /// How many days audit records are kept (default 365). Older records are
    /// deleted up to a signed checkpoint, so the rest still verifies; the
    /// server looks every --audit-retention-check-seconds.
    SetAuditRetention {
        /// Organization name or id.
        org: String,
        /// Days to keep records (1 to 36500).
        days: i32,
    },
    /// Allow (`on`) or forbid (`off`, the default) the identity provider to
    /// set the passwords of members who are not admins through SCIM.
    SetScimPasswords {
        /// Organization name or id.
        org: String,
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        setting: String,
    },
    /// Cap the lifetime of new tokens (days), or lift the cap with `none`.
    SetMaxTokenLifetime {
        /// Organization name or id.
        org: String,
        /// Days (1 to 3650), or `none`.
        days: String,
    },
}

pub async fn run(common: &CommonArgs, cmd: OrgCommand) -> Result<Output, CliError> {
    let op = Operator::open(common).await?;
    match cmd {
        OrgCommand::Create { name } => {
            let org = organizations::create(&op.state, &op.call(None), &name).await?;
            Ok(Output {
                json: json!({ "id": org.id, "name": org.name }),
                human: format!("created organization {} ({})", org.name, org.id),
            })
        }
        OrgCommand::SetAuditRetention { org, days } => {
            let org = op.org(&org).await?;
            let settings = Settings {
                audit_retention_days: Some(days),
                ..Settings::default()
            };
            let org = organizations::update(&op.state, &op.call(Some(&org)), settings).await?;
            Ok(Output {
                json: json!({ "id": org.id, "name": org.name, "audit_retention_days": days }),
                human: format!("audit records of {} are now kept {days} days", org.name),
            })
        }
        OrgCommand::SetScimPasswords { org, setting } => {
            let org = op.org(&org).await?;
            let allowed = setting == "on";
            let settings = Settings {
                scim_passwords: Some(allowed),
                ..Settings::default()
            };
            let org = organizations::update(&op.state, &op.call(Some(&org)), settings).await?;
            Ok(Output {
                json: json!({ "id": org.id, "name": org.name, "scim_passwords": allowed }),
                human: if allowed {
                    format!(
                        "SCIM may now set the passwords of non-admin members of {}",
                        org.name
                    )
                } else {
                    format!("SCIM may no longer set passwords in {}", org.name)
                },
            })
        }
        OrgCommand::SetMaxTokenLifetime { org, days } => {
            let org = op.org(&org).await?;
            let days = match days.as_str() {
                "none" => None,
                d => Some(d.parse::<i32>().map_err(|_| {
                    CliError::Usage("days must be a number of days or `none`".into())
                })?),
            };
            let settings = Settings {
                max_token_lifetime_days: Some(days),
                ..Settings::default()
            };
            let org = organizations::update(&op.state, &op.call(Some(&org)), settings).await?;
            Ok(Output {
                json: json!({ "id": org.id, "name": org.name, "max_token_lifetime_days": days }),
                human: match days {
                    Some(d) => format!("new tokens in {} now expire within {d} days", org.name),
                    None => format!("tokens in {} may now live without expiry", org.name),
                },
            })
        }
    }
}
