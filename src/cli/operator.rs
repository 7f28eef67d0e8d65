//! What every operator command shares: the state it opens (the server's
//! own, through `config::open`), the operator's [`Call`] of a use case
//! (actor kind `operator`, actor id `$USER`, a request id of its own, user
//! agent `scimitar-cli/<version>`, no source address), and the lookups that
//! turn a name or an id given on the command line into the object. The
//! commands themselves are in `org`, `workspace`, `member` and `token`;
//! each change is a use case, recorded as the API records it.

use uuid::Uuid;

use super::{CliError, failed};
use crate::audit::RequestContext;
use crate::config::{CommonArgs, Config};
use crate::http::AppState;
use crate::identity::members::{self, Member};
use crate::identity::orgs::{self, Org};
use crate::identity::workspaces::{self, Workspace};
use crate::use_cases::Call;

/// An operator command's session: the opened state and who is acting.
pub struct Operator {
    pub state: AppState,
    ctx: RequestContext,
    login: Option<String>,
}

impl Operator {
    /// Opens the database (migrated) and the server's keys, as `serve` does.
    pub async fn open(common: &CommonArgs) -> Result<Self, CliError> {
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
        let state = AppState::new(crate::config::open(&config).await.map_err(failed)?);
        Ok(Self {
            state,
            ctx: RequestContext {
                request_id: Some(Uuid::new_v4().to_string()),
                source_ip: None,
                user_agent: Some(format!("scimitar-cli/{}", env!("CARGO_PKG_VERSION"))),
            },
            login: std::env::var("USER").ok().filter(|u| !u.is_empty()),
        })
    }

    /// The operator acting in `org` (`None`: in none yet, to create one).
    pub fn call(&self, org: Option<&Org>) -> Call<'_> {
        Call::operator(org.map(|o| o.id), &self.ctx, self.login.clone())
    }

    /// An organization, by name or id.
    pub async fn org(&self, name_or_id: &str) -> Result<Org, CliError> {
        orgs::find(&self.state.db, name_or_id)
            .await
            .map_err(failed)?
            .ok_or_else(|| failed(format!("organization `{name_or_id}` not found")))
    }

    /// A member of `org`, by user name or id.
    pub async fn member(&self, org: &Org, name_or_id: &str) -> Result<Member, CliError> {
        members::find(&self.state.db, org.id, name_or_id)
            .await
            .map_err(failed)?
            .ok_or_else(|| failed(format!("member `{name_or_id}` not found in `{}`", org.name)))
    }

    /// A workspace of `org`, by name or id.
    pub async fn workspace(&self, org: &Org, name_or_id: &str) -> Result<Workspace, CliError> {
        workspaces::find(&self.state.db, org.id, name_or_id)
            .await
            .map_err(failed)?
            .ok_or_else(|| {
                failed(format!(
                    "workspace `{name_or_id}` not found in `{}`",
                    org.name
                ))
            })
    }
}
