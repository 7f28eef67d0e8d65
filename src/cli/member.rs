//! `scimitar member`: list, create, deactivate and activate members, change
//! a role or reset a password, through `use_cases::members` (list and
//! update are the use cases of `GET` and `PATCH /api/v1/members`).

use std::io::Read;

use clap::Subcommand;
use serde_json::json;

use super::operator::Operator;
use super::table::Table;
use super::{CliError, Output, failed};
use crate::config::CommonArgs;
use crate::identity::members::Member;
use crate::identity::passwords;
use crate::permissions::Role;
use crate::use_cases::members::{self, NewMemberRequest};

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// List an organization's members.
    List {
        /// Organization name or id.
        #[arg(long)]
        org: String,
    },
    /// Create a member.
    Create {
        /// Organization name or id.
        #[arg(long)]
        org: String,
        /// The member's user name (unique in the organization, without regard to case).
        #[arg(long)]
        user_name: String,
        /// The member's role: admins manage tokens, members and workspaces.
        #[arg(long, value_parser = role_parser())]
        role: Role,
        /// Read the member's password from stdin (first line). Without it the
        /// member cannot sign in.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate a member: their sessions and PATs stop working at once.
    Deactivate {
        /// Organization name or id.
        #[arg(long)]
        org: String,
        /// User name or id.
        member: String,
    },
    /// Activate a deactivated member again (their revoked PATs stay revoked).
    Activate {
        /// Organization name or id.
        #[arg(long)]
        org: String,
        /// User name or id.
        member: String,
    },
    /// Change a member's role.
    SetRole {
        /// Organization name or id.
        #[arg(long)]
        org: String,
        /// User name or id.
        member: String,
        /// The new role.
        #[arg(value_parser = role_parser())]
        role: Role,
    },
    /// Reset a member's password: prints a one-time password the member must
    /// replace at their next sign-in, or sets the one read with
    /// --password-stdin. Their sessions end.
    ResetPassword {
        /// Organization name or id.
        #[arg(long)]
        org: String,
        /// User name or id.
        member: String,
        /// Read the new password from stdin (first line) instead of printing
        /// a one-time password.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Mark a member break-glass: when the organization allows passwords to
    /// break-glass members only (`password_sign_in` of `PUT /api/v1/sso`),
    /// they still sign in with their password, recorded as `auth.break_glass`.
    BreakGlass {
        /// Organization name or id.
        #[arg(long)]
        org: String,
        /// User name or id.
        member: String,
        /// Remove the mark instead.
        #[arg(long)]
        off: bool,
    },
}

/// `admin` or `member`, listed in the help.
fn role_parser() -> impl clap::builder::TypedValueParser<Value = Role> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["admin", "member"])
        .map(|s| Role::parse(&s).expect("a listed role"))
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
        MemberCommand::List { org } => {
            let org = op.org(&org).await?;
            let list = members::list(&op.state, &op.call(Some(&org))).await?;
            let mut table = Table::new(["ID", "USER NAME", "ROLE", "STATUS"]);
            for m in &list {
                table.row([
                    m.id.to_string(),
                    m.user_name.clone(),
                    m.role().as_str().to_string(),
                    if m.active { "active" } else { "inactive" }.to_string(),
                ]);
            }
            Ok(Output {
                json: json!({ "members": list }),
                human: table.render_or("no members"),
            })
        }
        MemberCommand::Deactivate { org, member } => {
            set(&op, &org, &member, None, Some(false)).await
        }
        MemberCommand::Activate { org, member } => set(&op, &org, &member, None, Some(true)).await,
        MemberCommand::ResetPassword {
            org,
            member,
            password_stdin,
        } => {
            let org = op.org(&org).await?;
            let m = op.member(&org, &member).await?;
            let (password, one_time) = if password_stdin {
                (read_password_stdin(&m.user_name)?, false)
            } else {
                (passwords::generate(), true)
            };
            let shown = one_time.then(|| password.clone());
            let m =
                members::reset_password(&op.state, &op.call(Some(&org)), m.id, password, one_time)
                    .await?;
            let mut out = member_output(&m, "reset the password of");
            out.json["password_change_required"] = json!(one_time);
            if let Some(p) = shown {
                out.human.push_str(&format!(
                    "\none-time password (shown once; they must set a new one at sign-in): {p}"
                ));
                out.json["password"] = json!(p);
            }
            Ok(out)
        }
        MemberCommand::SetRole { org, member, role } => {
            set(&op, &org, &member, Some(role), None).await
        }
        MemberCommand::BreakGlass { org, member, off } => {
            super::break_glass::run(&op, &org, &member, !off).await
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
