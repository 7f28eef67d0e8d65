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

#[utoipa::path(
    get,
    path = "/sso",
    tag = "Single sign-on",
    summary = "The organization's OpenID Connect configuration",
    description = "Requires `members:manage` (an admin's session or PAT). The client secret is masked; `redirect_uri` is what to register at the provider. 404 when none is set.",
    responses((status = 200, description = "The configuration", body = super::doc::SsoConfiguration)),
    security(("bearer" = []))
)]
pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<Shown>, ApiError> {
    let config = sso::get(&state, &caller.call()).await?;
    Ok(shown(&state, config))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SsoSettings)]
pub struct Put {
    /// The provider's issuer URL; discovery is read from
    /// `<issuer>/.well-known/openid-configuration`.
    issuer: String,
    client_id: String,
    /// Left out to keep the stored one.
    client_secret: Option<String>,
    /// `email`, `preferred_username` or `sub`: matched to an active
    /// SCIM-provisioned member's `userName` or primary email.
    claim: String,
    /// `all` (default) or `break_glass_only`.
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

#[utoipa::path(
    put,
    path = "/sso",
    tag = "Single sign-on",
    summary = "Configure sign-in through the organization's OpenID provider",
    description = "Requires `members:manage` (an admin's session or PAT). The client secret is stored encrypted and never shown again. A new issuer must serve a discovery document (`<issuer>/.well-known/openid-configuration`) that names it, or the change is refused with 400.",
    request_body = Put,
    responses((status = 200, description = "The configuration", body = super::doc::SsoConfiguration)),
    security(("bearer" = []))
)]
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
    let config = sso::configure(
        &state,
        &caller.call(),
        state.signer.kek(),
        &state.sso,
        input,
    )
    .await?;
    Ok(shown(&state, config))
}

#[utoipa::path(
    delete,
    path = "/sso",
    tag = "Single sign-on",
    summary = "Remove the OpenID Connect configuration",
    description = "Requires `members:manage` (an admin's session or PAT).",
    responses((status = 204, description = "Removed")),
    security(("bearer" = []))
)]
pub async fn delete(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    sso::remove(&state, &caller.call()).await?;
    Ok(StatusCode::NO_CONTENT)
}
