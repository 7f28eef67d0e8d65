//! `scimitar member`: create a member, deactivate one or change a role,
//! through `use_cases::members` (the same use case as `PATCH
//! /api/v1/members/{id}`).

use std::io::Read;

use clap::Subcommand;
use serde_json::json;

use super::operator::Operator;
use super::{CliError, Output, failed};
use crate::config::CommonArgs;
use crate::identity::members::Member;
use crate::identity::passwords;
use crate::permissions::Role;
use crate::use_cases::members::{self, NewMemberRequest};

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Create a member.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        user_name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the member's password from stdin (first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate a member: their sessions and PATs stop working at once.
    Deactivate {
        #[arg(long)]
        org: String,
        /// User name or id.
        member: String,
    },
    /// Change a member's role.
    SetRole {
        #[arg(long)]
        org: String,
        /// User name or id.
        member: String,
        #[arg(value_parser = parse_role)]
        role: Role,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "role must be admin or member".to_string())
}

/// The first line of stdin. A password the policy refuses is a usage error
/// here, before any work (the use case applies the same policy again).
fn read_password_stdin(user_name: &str) -> Result<String, CliError> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| failed(format!("cannot read the password from stdin: {e}")))?;
    let password = input.lines().next().unwrap_or_default().to_string();
    passwords::check_policy(&password, user_name).map_err(CliError::Usage)?;
    Ok(password)
}

fn member_output(m: &Member, verb: &str) -> Output {
    Output {
        json: json!({ "id": m.id, "user_name": m.user_name, "role": m.role(), "active": m.active }),
        human: format!(
            "{verb} member {} ({}), role {}, {}",
            m.user_name,
            m.id,
            m.role().as_str(),
            if m.active { "active" } else { "inactive" }
        ),
    }
}

pub async fn run(common: &CommonArgs, cmd: MemberCommand) -> Result<Output, CliError> {
    let op = Operator::open(common).await?;
    match cmd {
        MemberCommand::Create {
            org,
            user_name,
            role,
            password_stdin,
        } => {
            let org = op.org(&org).await?;
            let password = if password_stdin {
                Some(read_password_stdin(&user_name)?)
            } else {
                None
            };
            let new = NewMemberRequest {
                user_name,
                role,
                password,
            };
            let m = members::create(&op.state, &op.call(Some(&org)), new).await?;
            Ok(member_output(&m, "created"))
        }
        MemberCommand::Deactivate { org, member } => {
            set(&op, &org, &member, None, Some(false)).await
        }
        MemberCommand::SetRole { org, member, role } => {
            set(&op, &org, &member, Some(role), None).await
        }
    }
}

async fn set(
    op: &Operator,
    org: &str,
    member: &str,
    role: Option<Role>,
    active: Option<bool>,
) -> Result<Output, CliError> {
    let org = op.org(org).await?;
    let m = op.member(&org, member).await?;
    let m = members::update(&op.state, &op.call(Some(&org)), m.id, role, active).await?;
    Ok(member_output(&m, "updated"))
}
