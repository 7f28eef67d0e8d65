//! `POST /api/v1/tokens/exchange` (RFC 8693): a service trades a SAT for a
//! JWT of at most five minutes, signed with the current signing key, that
//! other services verify offline against the JWKS. The requested `scope`
//! can only narrow the SAT's permissions. The SAT authenticates itself: it
//! is the subject token, checked like any presented token (allowlist
//! included).

use std::net::SocketAddr;
use std::time::Instant;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::form::{FormRejection, OAuthForm};
use crate::app::AppState;
use crate::audit::{Actor, AuditEvent, RequestContext, Target};
use crate::http::extract::RequestMeta;
use crate::http::limits;
use crate::permissions::{Permission, PermissionSet, Principal, PrincipalKind};
use crate::store::Timestamp;
use crate::tokens::{self, PlainToken, Source};

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
pub const EXCHANGED_TOKEN_TTL_SECONDS: i64 = 300;
const DEFAULT_AUDIENCE: &str = "scimitar";

/// The claims of an exchanged token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExchangedClaims {
    pub iss: String,
    /// The SAT's id.
    pub sub: String,
    pub org: uuid::Uuid,
    pub workspace: Option<uuid::Uuid>,
    pub permissions: Vec<String>,
    pub scope: String,
    pub aud: String,
    pub jti: uuid::Uuid,
    pub iat: i64,
    pub exp: i64,
}

/// An OAuth error response (RFC 6749 §5.2).
struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl OAuthError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        let status = if code == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            status,
            code,
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(json!({ "error": self.code, "error_description": self.description })),
        )
            .into_response();
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

pub async fn exchange(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RequestMeta(ctx): RequestMeta,
    form: Result<OAuthForm, FormRejection>,
) -> Response {
    match run(&state, peer, &ctx, form).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: &AppState,
    peer: SocketAddr,
    ctx: &RequestContext,
    form: Result<OAuthForm, FormRejection>,
) -> Result<Response, OAuthError> {
    let form = form.map_err(|e| OAuthError::new("invalid_request", e.0))?;
    match form.get("grant_type") {
        Some(GRANT_TYPE) => {}
        Some(_) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type must be {GRANT_TYPE}"),
            ));
        }
        None => return Err(OAuthError::new("invalid_request", "grant_type is required")),
    }
    let subject = form
        .get("subject_token")
        .ok_or_else(|| OAuthError::new("invalid_request", "subject_token is required"))?;
    if let Some(t) = form.get("subject_token_type")
        && t != ACCESS_TOKEN_TYPE
    {
        return Err(OAuthError::new(
            "invalid_request",
            format!("subject_token_type must be {ACCESS_TOKEN_TYPE}"),
        ));
    }
    if let Some(t) = form.get("requested_token_type")
        && t != JWT_TYPE
        && t != ACCESS_TOKEN_TYPE
    {
        return Err(OAuthError::new(
            "invalid_request",
            format!("requested_token_type must be {JWT_TYPE}"),
        ));
    }
    // A token id blocked by failed authentications is refused before its
    // secret is checked, as a bearer token would be.
    if let Some(id) = PlainToken::id_hint(subject).map(|i| i.to_string())
        && let Err(refusal) = state.limits.check_token_id(&id, Instant::now())
    {
        let actor = Actor::anonymous(PrincipalKind::Sat, Some(id));
        let endpoint = "POST /api/v1/tokens/exchange";
        return Ok(limits::refuse(state, refusal, None, actor, ctx, endpoint)
            .await
            .into_response());
    }
    let now = Timestamp::now();
    let verified = tokens::verify_from(
        &state.db,
        &state.peppers,
        subject,
        Source::Checked(Some(peer.ip())),
        now,
    )
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "token exchange failed");
        OAuthError::new("server_error", "the token could not be checked")
    })?;
    let refuse = |org: Option<uuid::Uuid>, id: Option<String>, why: String| {
        let actor = Actor::anonymous(PrincipalKind::Sat, id);
        AuditEvent::new(org, actor, "token.exchange", ctx)
            .failure(why)
            .status(400)
    };
    let v = match verified {
        Ok(v) => v,
        Err(refused) => {
            let id = refused
                .token_id
                .or_else(|| PlainToken::id_hint(subject))
                .map(|i| i.to_string());
            let known = refused.org_id.and(id.as_deref());
            state.limits.auth_failed(
                Some(peer.ip()),
                known.map(|i| (i, refused.org_id)),
                Instant::now(),
            );
            let event = refuse(refused.org_id, id, refused.refusal.to_string());
            record(state, event).await?;
            return Err(OAuthError::new(
                "invalid_grant",
                refused.refusal.public_detail(),
            ));
        }
    };
    let Principal::Sat {
        token_id,
        org_id,
        workspace_id,
        permissions,
        name,
    } = &v.principal
    else {
        let event = refuse(
            v.principal.org_id(),
            Some(v.token_id.to_string()),
            "not a service access token".into(),
        );
        record(state, event).await?;
        return Err(OAuthError::new(
            "invalid_grant",
            "only Service Access Tokens can be exchanged",
        ));
    };
    state
        .last_used
        .note(token_id, now, Some(peer.ip().to_string()));

    let granted = match form.get("scope") {
        None => permissions.clone(),
        Some(scope) => {
            narrow(permissions, scope).map_err(|why| OAuthError::new("invalid_scope", why))?
        }
    };
    let audience = form.get("audience").unwrap_or(DEFAULT_AUDIENCE).to_string();
    let iat = now.unix_seconds();
    let exp = match v.expires_at {
        Some(e) => (iat + EXCHANGED_TOKEN_TTL_SECONDS).min(e.unix_seconds()),
        None => iat + EXCHANGED_TOKEN_TTL_SECONDS,
    };
    let claims = ExchangedClaims {
        iss: state
            .public_url
            .clone()
            .unwrap_or_else(|| "scimitar".into()),
        sub: token_id.to_string(),
        org: *org_id,
        workspace: *workspace_id,
        permissions: granted.names(),
        scope: granted.names().join(" "),
        aud: audience.clone(),
        jti: uuid::Uuid::new_v4(),
        iat,
        exp,
    };
    let jwt = state.signer.sign_jws(&claims).map_err(|e| {
        tracing::error!(error = %e, "signing an exchanged token failed");
        OAuthError::new("server_error", "the token could not be signed")
    })?;
    let actor = Actor::of(&v.principal);
    let event = AuditEvent::new(Some(*org_id), actor, "token.exchange", ctx)
        .workspace(*workspace_id)
        .target(Target::new("sat", token_id, Some(name)))
        .status(200)
        .changes(json!({ "jti": claims.jti, "aud": audience, "scope": claims.scope, "exp": exp }));
    record(state, event).await?;
    let mut resp = Json(json!({
        "access_token": jwt,
        "issued_token_type": JWT_TYPE,
        "token_type": "Bearer",
        "expires_in": exp - iat,
        "scope": claims.scope,
    }))
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn record(state: &AppState, event: AuditEvent) -> Result<(), OAuthError> {
    state.audit.record(event).await.map_err(|e| {
        tracing::error!(error = %e, "recording a token exchange failed");
        OAuthError::new("server_error", "the exchange could not be recorded")
    })
}

/// The requested permissions, each of which the token must already grant.
fn narrow(held: &PermissionSet, scope: &str) -> Result<PermissionSet, String> {
    let mut names = Vec::new();
    for name in scope.split_whitespace() {
        let p: Permission = name
            .parse()
            .map_err(|_| format!("unknown permission `{name}`"))?;
        let granted = match p {
            Permission::Org(o) => held.has_org(o),
            Permission::Workspace(r, l) => held.grants_workspace(r, l),
        };
        if !granted {
            return Err(format!("the token does not grant `{name}`"));
        }
        names.push(name.to_string());
    }
    if names.is_empty() {
        return Err("scope names no permission".into());
    }
    Ok(PermissionSet::from_stored(&names.join(" ")))
}
