//! Operator commands: what an admin can do from a shell with access to the
//! database, without the web console or an API credential. Each change is
//! one transaction with its audit record (actor kind `operator`).

use std::io::Read;

use clap::Subcommand;
use serde_json::json;

use super::{CliError, Output, failed};
use crate::audit::{self, Actor, AuditEvent, RequestContext, Target};
use crate::config::{CommonArgs, Config};
use crate::http::AppState;
use crate::identity::members::{self, Member, NewMember};
use crate::identity::orgs::{self, Org};
use crate::identity::{passwords, workspaces};
use crate::permissions::{Principal, Role};
use crate::store::{Timestamp, Tx};
use crate::tokens::{self, ListFilter, NewToken, Owner, TokenId, TokenKind};

#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Create an organization.
    Create { name: String },
    /// How many days audit records are kept (default 365).
    SetAuditRetention {
        /// Organization name or id.
        org: String,
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

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "role must be admin or member".to_string())
}

async fn open(common: &CommonArgs) -> Result<AppState, CliError> {
    let url = common
        .database_url()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut config = Config::for_database(url);
    config.token_peppers = common
        .peppers()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    config.key_encryption_key = common
        .key_encryption_key()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    config.db_max_connections = 2;
    crate::config::open(&config).await.map_err(failed)
}

async fn find_org(state: &AppState, name_or_id: &str) -> Result<Org, CliError> {
    orgs::find(&state.db, name_or_id)
        .await
        .map_err(failed)?
        .ok_or_else(|| failed(format!("organization `{name_or_id}` not found")))
}

async fn find_member(state: &AppState, org: &Org, name_or_id: &str) -> Result<Member, CliError> {
    members::find(&state.db, org.id, name_or_id)
        .await
        .map_err(failed)?
        .ok_or_else(|| failed(format!("member `{name_or_id}` not found in `{}`", org.name)))
}

fn operator_event(org_id: uuid::Uuid, action: &str, target: Target) -> AuditEvent {
    let ctx = RequestContext {
        request_id: Some(uuid::Uuid::new_v4().to_string()),
        source_ip: None,
        user_agent: Some(format!("scimitar-cli/{}", env!("CARGO_PKG_VERSION"))),
    };
    let mut actor = Actor::of(&Principal::Operator);
    actor.id = std::env::var("USER").ok().filter(|u| !u.is_empty());
    AuditEvent::new(Some(org_id), actor, action, &ctx).target(target)
}

async fn commit(mut tx: Tx, event: AuditEvent) -> Result<(), CliError> {
    audit::record(&mut tx, event).await.map_err(failed)?;
    tx.commit().await.map_err(failed)
}

pub async fn org(common: &CommonArgs, cmd: OrgCommand) -> Result<Output, CliError> {
    let state = open(common).await?;
    match cmd {
        OrgCommand::Create { name } => {
            let mut tx = state.db.begin().await.map_err(failed)?;
            let org = orgs::create(&mut tx, &name, Timestamp::now())
                .await
                .map_err(failed)?;
            let target = Target::new("organization", org.id, Some(&org.name));
            commit(tx, operator_event(org.id, "org.create", target)).await?;
            Ok(Output {
                json: json!({ "id": org.id, "name": org.name }),
                human: format!("created organization {} ({})", org.name, org.id),
            })
        }
        OrgCommand::SetAuditRetention { org, days } => {
            let org = find_org(&state, &org).await?;
            let mut tx = state.db.begin().await.map_err(failed)?;
            orgs::set_audit_retention(&mut tx, org.id, days)
                .await
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let target = Target::new("organization", org.id, Some(&org.name));
            let event = operator_event(org.id, "org.update", target)
                .changes(json!({ "audit_retention_days": days }));
            commit(tx, event).await?;
            Ok(Output {
                json: json!({ "id": org.id, "name": org.name, "audit_retention_days": days }),
                human: format!("audit records of {} are now kept {days} days", org.name),
            })
        }
        OrgCommand::SetScimPasswords { org, setting } => {
            let org = find_org(&state, &org).await?;
            let allowed = setting == "on";
            let mut tx = state.db.begin().await.map_err(failed)?;
            let before = orgs::set_scim_passwords(&mut tx, org.id, allowed)
                .await
                .map_err(failed)?;
            let target = Target::new("organization", org.id, Some(&org.name));
            let event = operator_event(org.id, "org.update", target)
                .changes(json!({ "scim_passwords": { "from": before, "to": allowed } }));
            commit(tx, event).await?;
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
            let org = find_org(&state, &org).await?;
            let days = match days.as_str() {
                "none" => None,
                d => Some(d.parse::<i32>().map_err(|_| {
                    CliError::Usage("days must be a number of days or `none`".into())
                })?),
            };
            let mut tx = state.db.begin().await.map_err(failed)?;
            orgs::set_max_token_lifetime(&mut tx, org.id, days)
                .await
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let target = Target::new("organization", org.id, Some(&org.name));
            let event = operator_event(org.id, "org.update", target)
                .changes(json!({ "max_token_lifetime_days": days }));
            commit(tx, event).await?;
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

pub async fn workspace(common: &CommonArgs, cmd: WorkspaceCommand) -> Result<Output, CliError> {
    let state = open(common).await?;
    match cmd {
        WorkspaceCommand::Create { org, name } => {
            let org = find_org(&state, &org).await?;
            let mut tx = state.db.begin().await.map_err(failed)?;
            let ws = workspaces::create(&mut tx, org.id, &name, Timestamp::now())
                .await
                .map_err(failed)?;
            let event = operator_event(
                org.id,
                "workspace.create",
                Target::new("workspace", ws.id, Some(&ws.name)),
            )
            .workspace(Some(ws.id));
            commit(tx, event).await?;
            Ok(Output {
                json: json!({ "id": ws.id, "name": ws.name, "org_id": ws.org_id }),
                human: format!("created workspace {} ({}) in {}", ws.name, ws.id, org.name),
            })
        }
    }
}

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

pub async fn member(common: &CommonArgs, cmd: MemberCommand) -> Result<Output, CliError> {
    let state = open(common).await?;
    let now = Timestamp::now();
    match cmd {
        MemberCommand::Create {
            org,
            user_name,
            role,
            password_stdin,
        } => {
            let org = find_org(&state, &org).await?;
            let password_hash = if password_stdin {
                Some(
                    passwords::hash(read_password_stdin(&user_name)?)
                        .await
                        .map_err(failed)?,
                )
            } else {
                None
            };
            let mut tx = state.db.begin().await.map_err(failed)?;
            let new = NewMember {
                org_id: org.id,
                user_name: &user_name,
                display_name: None,
                role,
                password_hash,
            };
            let m = members::create(&mut tx, new, now).await.map_err(failed)?;
            let event = operator_event(
                org.id,
                "member.create",
                Target::new("member", m.id, Some(&m.user_name)),
            )
            .changes(json!({ "role": role, "password_set": password_stdin }));
            commit(tx, event).await?;
            Ok(member_output(&m, "created"))
        }
        MemberCommand::Deactivate { org, member } => {
            set_member(&state, &org, &member, None, Some(false), now).await
        }
        MemberCommand::SetRole { org, member, role } => {
            set_member(&state, &org, &member, Some(role), None, now).await
        }
    }
}

async fn set_member(
    state: &AppState,
    org: &str,
    member: &str,
    role: Option<Role>,
    active: Option<bool>,
    now: Timestamp,
) -> Result<Output, CliError> {
    let org = find_org(state, org).await?;
    let m = find_member(state, &org, member).await?;
    let mut tx = state.db.begin().await.map_err(failed)?;
    let update = members::update(&mut tx, org.id, m.id, role, active, now)
        .await
        .map_err(failed)?;
    let event = operator_event(
        org.id,
        "member.update",
        Target::new("member", m.id, Some(&m.user_name)),
    )
    .changes(json!({
        "role": { "from": update.before_role, "to": update.member.role() },
        "active": { "from": update.before_active, "to": update.member.active },
        "revoked_personal_access_tokens": update.revoked_tokens,
    }));
    commit(tx, event).await?;
    Ok(member_output(&update.member, "updated"))
}

pub async fn token(common: &CommonArgs, cmd: TokenCommand) -> Result<Output, CliError> {
    let state = open(common).await?;
    let now = Timestamp::now();
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
            let org = find_org(&state, &org).await?;
            let owner = match workspace {
                Some(ws) => {
                    let found = workspaces::find(&state.db, org.id, &ws)
                        .await
                        .map_err(failed)?
                        .ok_or_else(|| {
                            failed(format!("workspace `{ws}` not found in `{}`", org.name))
                        })?;
                    Owner::Workspace(found.id)
                }
                None => Owner::Organization,
            };
            if expires_in_days.is_some_and(|d| !(1..=3650).contains(&d)) {
                return Err(CliError::Usage(
                    "--expires-in-days must be 1 to 3650".into(),
                ));
            }
            let new = NewToken {
                org_id: org.id,
                owner,
                name,
                description,
                permissions,
                expires_at: expires_in_days.map(|d| now + time::Duration::days(d)),
                allowed_cidrs,
                max_lifetime_days: org.max_token_lifetime_days.map(i64::from),
            };
            let mut tx = state.db.begin().await.map_err(failed)?;
            if let Owner::Workspace(ws) = owner {
                // Re-read under the row lock: the workspace may be being deleted.
                workspaces::get_in(&mut tx, org.id, ws)
                    .await
                    .map_err(failed)?;
            }
            let (view, plain) =
                tokens::create(&mut tx, &state.peppers, new, &Principal::Operator, now)
                    .await
                    .map_err(failed)?;
            let event = operator_event(
                org.id,
                "sat.create",
                Target::new("sat", &view.id, Some(&view.name)),
            )
            .workspace(view.workspace_id)
            .changes(json!({
                "level": view.level,
                "workspace_id": view.workspace_id,
                "permissions": view.permissions,
                "expires_at": view.expires_at,
            }));
            commit(tx, event).await?;
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
            let org = find_org(&state, &org).await?;
            let filter = ListFilter {
                kind: Some(TokenKind::Sat),
                ..ListFilter::default()
            };
            let list = tokens::list(&state.db, org.id, &filter, now)
                .await
                .map_err(failed)?;
            let human = if list.is_empty() {
                "no tokens".to_string()
            } else {
                list.iter()
                    .map(|t| {
                        format!(
                            "{}  {:<8} {:<12} {}  [{}]",
                            t.id,
                            serde_json::to_value(t.status)
                                .ok()
                                .and_then(|v| v.as_str().map(String::from))
                                .unwrap_or_default(),
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
            let org = find_org(&state, &org).await?;
            let token_id =
                TokenId::parse(&id).ok_or_else(|| failed(format!("token `{id}` not found")))?;
            let existing = tokens::get(&state.db, org.id, &token_id, now)
                .await
                .map_err(failed)?;
            let mut tx = state.db.begin().await.map_err(failed)?;
            let (view, changed) = tokens::revoke(
                &mut tx,
                org.id,
                &token_id,
                existing.kind,
                "revoked by the operator",
                now,
            )
            .await
            .map_err(failed)?;
            let action = match view.kind {
                TokenKind::Sat => "sat.revoke",
                TokenKind::Pat => "pat.revoke",
            };
            if changed {
                let event = operator_event(
                    org.id,
                    action,
                    Target::new(view.kind.as_str(), &view.id, Some(&view.name)),
                )
                .workspace(view.workspace_id);
                commit(tx, event).await?;
            }
            Ok(Output {
                json: json!({ "id": view.id, "status": view.status, "revoked_at": view.revoked_at }),
                human: if changed {
                    format!("revoked token {} ({})", view.name, view.id)
                } else {
                    format!("token {} ({}) was already revoked", view.name, view.id)
                },
            })
        }
    }
}
