//! `POST /api/v1/tokens/exchange` (RFC 8693): a service trades a SAT for a
//! JWT of at most five minutes, signed with the current signing key, that
//! other services verify offline against the JWKS. The requested `scope`
//! can only narrow the SAT's permissions. The SAT authenticates itself: it
//! is the subject token, checked like any presented token (allowlist
//! included). Every exchange is recorded as `token.exchange`, a refusal
//! with a snake_case reason code; once the token is verified, in its
//! organization's chain.

use std::net::IpAddr;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::form::{OAuthError, OAuthForm};
use crate::audit::{Actor, AuditEvent, RequestContext, Target};
use crate::http::AppState;
use crate::http::client_addr::ClientAddr;
use crate::http::extract::RequestMeta;
use crate::http::limits::{self, Failed};
use crate::permissions::{Permission, PermissionSet, Principal, PrincipalKind};
use crate::store::Timestamp;
use crate::tokens::{self, PlainToken, Source, VerifyError};

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
pub const EXCHANGED_TOKEN_TTL_SECONDS: i64 = 300;
const DEFAULT_AUDIENCE: &str = "scimitar";
/// The `iss` when no public URL is configured.
const DEFAULT_ISSUER: &str = "scimitar";
/// The longest `audience` accepted.
const MAX_AUDIENCE_BYTES: usize = 256;

/// The claims of an exchanged token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExchangedClaims {
    pub iss: String,
    /// The SAT's id.
    pub sub: String,
    pub org: Uuid,
    pub workspace: Option<Uuid>,
    pub permissions: Vec<String>,
    pub scope: String,
    pub aud: String,
    pub jti: Uuid,
    pub iat: i64,
    pub exp: i64,
}

/// Who asked, as far as is known when an exchange is refused: the audit
/// record goes to the token's organization once the token is known.
struct Asker {
    org: Option<Uuid>,
    workspace: Option<Uuid>,
    actor: Actor,
}

impl Asker {
    /// Before the subject token is verified: at most its id, as parsed.
    fn unverified(org: Option<Uuid>, token_id: Option<String>) -> Self {
        Self {
            org,
            workspace: None,
            actor: Actor::anonymous(PrincipalKind::Sat, token_id),
        }
    }

    fn verified(principal: &Principal) -> Self {
        let workspace = match principal {
            Principal::Sat { workspace_id, .. } => *workspace_id,
            _ => None,
        };
        Self {
            org: principal.org_id(),
            workspace,
            actor: Actor::of(principal),
        }
    }
}

#[utoipa::path(
    post,
    path = "/tokens/exchange",
    tag = "Token authority",
    summary = "Exchange a SAT for a short-lived JWT (RFC 8693)",
    description = "The subject SAT authenticates the request itself (no `Authorization` \
        header); it must be a workspace or organization SAT, used from within its CIDR \
        allowlist. Every error is an OAuth error.",
    request_body(content(
        (super::doc::ExchangeRequest = "application/x-www-form-urlencoded"),
        (super::doc::ExchangeRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "The exchanged token (`Cache-Control: no-store`)", body = super::doc::Exchanged),
        (status = 400, description = "`invalid_request`, `unsupported_grant_type`, `invalid_grant` or `invalid_scope`", body = super::doc::OAuthErrorBody),
        (status = 415, description = "Neither a form nor JSON: an OAuth error", body = super::doc::OAuthErrorBody),
    ),
    security(())
)]
pub async fn exchange(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    RequestMeta(ctx): RequestMeta,
    form: Result<OAuthForm, OAuthError>,
) -> Response {
    match run(&state, client, &ctx, form).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: &AppState,
    client: IpAddr,
    ctx: &RequestContext,
    form: Result<OAuthForm, OAuthError>,
) -> Result<Response, OAuthError> {
    let form = match form {
        Ok(f) => f,
        Err(e) => return Err(refused(state, ctx, Asker::unverified(None, None), e).await),
    };
    let hint = form
        .get("subject_token")
        .and_then(PlainToken::id_hint)
        .map(|i| i.to_string());
    let subject = match subject_token(&form) {
        Ok(s) => s,
        Err(e) => return Err(refused(state, ctx, Asker::unverified(None, hint), e).await),
    };
    // A token blocked from this address by its failed authentications is
    // refused before its secret is checked, as a bearer token would be
    // (and recorded as such: `auth.denied`, at most once a minute).
    if let Some(id) = &hint
        && let Err(refusal) = state.limits.check_credential_failures(
            Some(client),
            &limits::credential::token(id),
            Instant::now(),
        )
    {
        let actor = Actor::anonymous(PrincipalKind::Sat, Some(id.clone()));
        let endpoint = "POST /api/v1/tokens/exchange";
        return Ok(limits::refuse(state, refusal, None, actor, ctx, endpoint)
            .await
            .into_response());
    }
    let now = Timestamp::now();
    let verified = tokens::verify_from(
        &state.db,
        &state.peppers,
        &state.tokens,
        subject,
        Source::Checked(Some(client)),
        now,
    )
    .await;
    let v = match verified {
        Ok(v) => v,
        Err(VerifyError::Refused(r)) => {
            let id = r.token_id.map(|i| i.to_string()).or(hint);
            let now = Instant::now();
            match r.org_id.and(id.as_deref()) {
                Some(known) => {
                    let key = limits::credential::token(known);
                    let failed = Failed::Credential {
                        key: &key,
                        org_id: r.org_id,
                    };
                    state.limits.auth_failed(Some(client), failed, now);
                }
                None => {
                    // Malformed or unknown: the address's block applies.
                    if let Err(refusal) = state.limits.check_unknown(Some(client), now) {
                        let actor = Actor::anonymous(PrincipalKind::Sat, id);
                        let endpoint = "POST /api/v1/tokens/exchange";
                        return Ok(limits::refuse(state, refusal, None, actor, ctx, endpoint)
                            .await
                            .into_response());
                    }
                    state.limits.auth_failed(Some(client), Failed::Unknown, now);
                }
            }
            let e =
                OAuthError::refuse("invalid_grant", r.refusal.code(), r.refusal.public_detail());
            return Err(refused(state, ctx, Asker::unverified(r.org_id, id), e).await);
        }
        Err(VerifyError::Store(e)) => {
            tracing::error!(error = %e, "token exchange failed");
            return Err(OAuthError::server_error("the token could not be checked"));
        }
    };
    let asker = Asker::verified(&v.principal);
    let Principal::Sat {
        token_id,
        org_id,
        workspace_id,
        permissions,
        name,
    } = &v.principal
    else {
        let e = OAuthError::refuse(
            "invalid_grant",
            "not_a_service_token",
            "only Service Access Tokens can be exchanged",
        );
        return Err(refused(state, ctx, asker, e).await);
    };
    state
        .last_used
        .note(token_id, now, Some(client.to_string()));
    let (granted, audience) = match terms(&form, permissions) {
        Ok(t) => t,
        Err(e) => return Err(refused(state, ctx, asker, e).await),
    };
    let iat = now.unix_seconds();
    let exp = match v.expires_at {
        Some(e) => (iat + EXCHANGED_TOKEN_TTL_SECONDS).min(e.unix_seconds()),
        None => iat + EXCHANGED_TOKEN_TTL_SECONDS,
    };
    let claims = ExchangedClaims {
        iss: issuer(state).to_string(),
        sub: token_id.to_string(),
        org: *org_id,
        workspace: *workspace_id,
        permissions: granted.names(),
        scope: granted.names().join(" "),
        aud: audience.to_string(),
        jti: Uuid::new_v4(),
        iat,
        exp,
    };
    let jwt = state.signer.sign_jws(&claims).map_err(|e| {
        tracing::error!(error = %e, "signing an exchanged token failed");
        OAuthError::server_error("the token could not be signed")
    })?;
    let event = AuditEvent::new(Some(*org_id), asker.actor, "token.exchange", ctx)
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

/// The `iss` of exchanged tokens: the public URL when one is configured.
fn issuer(state: &AppState) -> &str {
    state.public_url.as_deref().unwrap_or(DEFAULT_ISSUER)
}

/// The subject token of a well-formed exchange request.
fn subject_token(form: &OAuthForm) -> Result<&str, OAuthError> {
    match form.get("grant_type") {
        Some(GRANT_TYPE) => {}
        Some(_) => {
            return Err(OAuthError::refuse(
                "unsupported_grant_type",
                "unsupported_grant_type",
                format!("grant_type must be {GRANT_TYPE}"),
            ));
        }
        None => {
            return Err(OAuthError::invalid_request(
                "missing_grant_type",
                "grant_type is required",
            ));
        }
    }
    form.get("subject_token").ok_or_else(|| {
        OAuthError::invalid_request("missing_subject_token", "subject_token is required")
    })
}

/// What the verified SAT asks for: the permissions to grant and the
/// audience.
fn terms<'f>(
    form: &'f OAuthForm,
    held: &PermissionSet,
) -> Result<(PermissionSet, &'f str), OAuthError> {
    if let Some(t) = form.get("subject_token_type")
        && t != ACCESS_TOKEN_TYPE
    {
        return Err(OAuthError::invalid_request(
            "unsupported_subject_token_type",
            format!("subject_token_type must be {ACCESS_TOKEN_TYPE}"),
        ));
    }
    if let Some(t) = form.get("requested_token_type")
        && t != JWT_TYPE
        && t != ACCESS_TOKEN_TYPE
    {
        return Err(OAuthError::invalid_request(
            "unsupported_requested_token_type",
            format!("requested_token_type must be {JWT_TYPE}"),
        ));
    }
    let audience = form.get("audience").unwrap_or(DEFAULT_AUDIENCE);
    if !valid_audience(audience) {
        return Err(OAuthError::invalid_request(
            "invalid_audience",
            format!("audience must be at most {MAX_AUDIENCE_BYTES} printable ASCII characters"),
        ));
    }
    let granted = match form.get("scope") {
        None => held.clone(),
        Some(scope) => narrow(held, scope)?,
    };
    Ok((granted, audience))
}

/// The audience is copied into the JWT and the audit record: bounded, and
/// printable ASCII, so that it cannot carry control or bidi characters into
/// a log line or a verifier's comparison.
fn valid_audience(audience: &str) -> bool {
    audience.len() <= MAX_AUDIENCE_BYTES && audience.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// Records a refusal (`token.exchange`, outcome failure, the reason code;
/// never a token value) and hands the error back, or a server error when
/// the record could not be written.
async fn refused(
    state: &AppState,
    ctx: &RequestContext,
    asker: Asker,
    e: OAuthError,
) -> OAuthError {
    let event = AuditEvent::new(asker.org, asker.actor, "token.exchange", ctx)
        .workspace(asker.workspace)
        .failure(e.reason)
        .status(e.status.as_u16());
    match record(state, event).await {
        Ok(()) => e,
        Err(failed) => failed,
    }
}

async fn record(state: &AppState, event: AuditEvent) -> Result<(), OAuthError> {
    state.audit.record(event).await.map_err(|e| {
        tracing::error!(error = %e, "recording a token exchange failed");
        OAuthError::server_error("the exchange could not be recorded")
    })
}

/// The requested permissions, each of which the token must already grant.
fn narrow(held: &PermissionSet, scope: &str) -> Result<PermissionSet, OAuthError> {
    let invalid = |reason, why: String| OAuthError::refuse("invalid_scope", reason, why);
    let mut names = Vec::new();
    for name in scope.split_whitespace() {
        let shown: String = name.chars().take(64).collect();
        let p: Permission = name.parse().map_err(|_| {
            invalid(
                "unknown_permission",
                format!("unknown permission `{shown}`"),
            )
        })?;
        let granted = match p {
            Permission::Org(o) => held.has_org(o),
            Permission::Workspace(r, l) => held.grants_workspace(r, l),
        };
        if !granted {
            return Err(invalid(
                "scope_not_granted",
                format!("the token does not grant `{shown}`"),
            ));
        }
        names.push(name.to_string());
    }
    if names.is_empty() {
        return Err(invalid("empty_scope", "scope names no permission".into()));
    }
    Ok(PermissionSet::from_stored(&names.join(" ")))
}
