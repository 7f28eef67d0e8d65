//! `/api/v1/sso`: the organization's OpenID Connect configuration, for its
//! admins (`use_cases::sso`). PUT sets it whole (the client secret may be
//! left out to keep the stored one), GET shows it with the secret masked,
//! DELETE removes it. The redirect URI to register at the provider is part
//! of every answer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::http::{ApiError, ApiJson, AppState, Caller};
use crate::sso::SsoConfig;
use crate::sso::config::ClientSecret;
use crate::use_cases::sso::{self, SsoInput};

/// What is shown of a configuration.
#[derive(Serialize)]
pub struct Shown {
    #[serde(flatten)]
    config: SsoConfig,
    /// Never the secret: only that there is one.
    client_secret: &'static str,
    redirect_uri: String,
}

fn shown(state: &AppState, config: SsoConfig) -> Json<Shown> {
    Json(Shown {
        config,
        client_secret: "********",
        redirect_uri: state.sso.redirect_uri().to_string(),
    })
}

pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<Shown>, ApiError> {
    let config = sso::get(&state, &caller.call()).await?;
    Ok(shown(&state, config))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Put {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    claim: String,
    password_sign_in: Option<String>,
}

impl std::fmt::Debug for Put {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Put")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Put>,
) -> Result<Json<Shown>, ApiError> {
    let input = SsoInput {
        issuer: body.issuer,
        client_id: body.client_id,
        client_secret: body.client_secret.map(ClientSecret::new),
        claim: body.claim,
        password_sign_in: body.password_sign_in,
    };
    let config = sso::configure(&state, &caller.call(), state.signer.kek(), input).await?;
    Ok(shown(&state, config))
}

pub async fn delete(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    sso::remove(&state, &caller.call()).await?;
    Ok(StatusCode::NO_CONTENT)
}
