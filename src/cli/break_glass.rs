//! `scimitar member break-glass`: marks (or with `--off` unmarks) the
//! members who keep their password when the organization signs in through
//! its identity provider with `password_sign_in: break_glass_only`
//! (`use_cases::sso::set_break_glass`, the operator's alone).

use serde_json::json;

use super::operator::Operator;
use super::{CliError, Output};
use crate::use_cases::sso;

pub async fn run(op: &Operator, org: &str, member: &str, on: bool) -> Result<Output, CliError> {
    let org = op.org(org).await?;
    let m = op.member(&org, member).await?;
    let changed = sso::set_break_glass(&op.state, &op.call(Some(&org)), m.id, on).await?;
    let state = if on { "break-glass" } else { "not break-glass" };
    let human = if changed {
        format!("member {} ({}) is now {state}", m.user_name, m.id)
    } else {
        format!("member {} ({}) was already {state}", m.user_name, m.id)
    };
    Ok(Output {
        json: json!({ "id": m.id, "user_name": m.user_name, "break_glass": on, "changed": changed }),
        human,
    })
}
