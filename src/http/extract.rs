//! Extractors. [`Caller`] carries a verified principal into a handler (a
//! handler that takes one cannot run unauthenticated), after counting a
//! refused credential toward the failure limits and checking the verified
//! one's rate (see [`super::limits`]); [`ApiJson`],
//! [`ApiQuery`] and [`ApiPath`] turn malformed input into problem responses
//! instead of axum's plain-text rejections.

use std::net::IpAddr;
use std::time::Instant;

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::ApiError;
use super::audit_trail::AuditSlot;
use super::bearer::Presented;
use super::client_addr::ClientAddr;
use super::limits::{self, Failed};
use super::request_id::RequestId;
use crate::audit::{Actor, AuditEvent, RequestContext, Target};
use crate::http::AppState;
use crate::identity::sessions::{SessionError, SessionRefusal};
use crate::permissions::{Action, Principal, PrincipalKind, authorize};
use crate::store::Timestamp;
use crate::tokens::{self, PlainToken, TokenKind, TokenRefusal, Verified, VerifyError};
use crate::use_cases::Call;

/// Who is calling, verified, and where the request came from.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    /// Set when the caller authenticated with a token (SAT or PAT).
    pub token: Option<Verified>,
    /// When the credential stops working: a token's expiry (`None` if it
    /// has none) or a session's end.
    pub expires_at: Option<Timestamp>,
    pub ctx: RequestContext,
    endpoint: String,
    /// The request's audit trail, told when this caller's request has been
    /// recorded by a handler.
    slot: Option<AuditSlot>,
}

impl Caller {
    /// The caller's organization. Every HTTP principal has one.
    pub fn org_id(&self) -> uuid::Uuid {
        self.principal
            .org_id()
            .expect("HTTP principals always belong to an organization")
    }

    /// Asks the permission core; a refusal is recorded and becomes a 403
    /// naming the missing permission.
    pub async fn require(&self, state: &AppState, action: Action) -> Result<(), ApiError> {
        let Err(denied) = authorize(&self.principal, action) else {
            // What a token exercises is counted for the least-privilege
            // advisor (in memory; flushed in batches).
            if let Some(token) = &self.token {
                state.usage.note(
                    &token.token_id,
                    &action.required_permission(),
                    Timestamp::now(),
                );
            }
            return Ok(());
        };
        self.mark_recorded();
        let event = AuditEvent::new(
            self.principal.org_id(),
            Actor::of(&self.principal),
            "auth.denied",
            &self.ctx,
        )
        .target(Target::new("endpoint", &self.endpoint, None))
        .failure(denied.to_string())
        .status(StatusCode::FORBIDDEN.as_u16())
        .changes(json!({ "missing_permission": denied.missing }));
        state.audit.record(event).await?;
        Err(ApiError::Forbidden {
            missing: denied.missing,
        })
    }

    fn mark_recorded(&self) {
        if let Some(slot) = &self.slot {
            slot.mark_recorded();
        }
    }

    /// This caller as a use case's [`Call`]; the request's trail is told
    /// when the use case has recorded the call, and then adds nothing.
    pub fn call(&self) -> Call<'_> {
        let call = Call::new(&self.principal, &self.ctx);
        match &self.slot {
            Some(slot) => call.witnessed_by(slot),
            None => call,
        }
    }

    /// Starts an audit event for an action by this caller: the change it
    /// describes is recorded by the handler, not by the request trail.
    pub fn event(&self, action: &str) -> AuditEvent {
        self.mark_recorded();
        AuditEvent::new(
            self.principal.org_id(),
            Actor::of(&self.principal),
            action,
            &self.ctx,
        )
    }
}

/// The request context, for handlers that have no authenticated caller.
pub struct RequestMeta(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(RequestMeta(request_context(parts)))
    }
}

/// The request's id, source address and user agent.
pub fn request_context(parts: &Parts) -> RequestContext {
    RequestContext {
        request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
        source_ip: source_ip(parts).map(|ip| ip.to_string()),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

/// The client's address, as [`super::client_addr`] worked it out.
fn source_ip(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ClientAddr>().map(|c| c.0)
}

/// A refused authentication: what the audit record says and what the
/// caller is told.
struct AuthRefusal {
    org_id: Option<uuid::Uuid>,
    actor: Actor,
    code: &'static str,
    /// The precise reason, for the audit record.
    reason: String,
    /// The response, which may say less than the record.
    error: ApiError,
    /// How this counts toward the failed-authentication limits.
    counts: Counts,
}

/// How a refused authentication counts toward the failure limits.
enum Counts {
    /// No credential, several, or a malformed or unknown one: against
    /// the address. (The cheapest request to flood with is one without a
    /// credential, and each refusal is an audit record.)
    Unknown,
    /// An existing credential, refused: against it from this address
    /// (its name for the limits, `limits::credential`).
    Credential(String),
}

impl AuthRefusal {
    fn unauthorized(actor: Actor, code: &'static str, reason: String, detail: String) -> Self {
        Self {
            org_id: None,
            actor,
            code,
            reason,
            error: ApiError::Unauthorized { detail },
            counts: Counts::Unknown,
        }
    }

    /// A refusal of an existing credential, named `key` for the limits.
    fn of_credential(mut self, key: String) -> Self {
        self.counts = Counts::Credential(key);
        self
    }

    fn in_org(mut self, org_id: Option<uuid::Uuid>) -> Self {
        self.org_id = org_id;
        self
    }

    /// Records the refusal (group-committed: nothing changes)
    /// and returns the error to answer with.
    async fn record(self, state: &AppState, ctx: &RequestContext, endpoint: &str) -> ApiError {
        let event = AuditEvent::new(self.org_id, self.actor, "auth.denied", ctx)
            .target(Target::new("endpoint", endpoint, None))
            .failure(self.reason)
            .status(self.error.status().as_u16())
            .changes(json!({ "reason_code": self.code }));
        match state.audit.record(event).await {
            Ok(_) => self.error,
            Err(e) => ApiError::internal(e),
        }
    }
}

/// A verified credential: who, the token if it was one, and when it ends.
type Authenticated = (Principal, Option<Verified>, Option<Timestamp>);

/// Why a request is not authenticated: its credential was refused (an
/// expected outcome, recorded), or the server failed to check it.
enum AuthFailure {
    Refused(AuthRefusal),
    Failed(ApiError),
}

impl From<AuthRefusal> for AuthFailure {
    fn from(r: AuthRefusal) -> Self {
        AuthFailure::Refused(r)
    }
}

/// Reads the one Bearer credential of the request and verifies it.
async fn authenticate(
    parts: &Parts,
    state: &AppState,
    ctx: &RequestContext,
) -> Result<Authenticated, AuthFailure> {
    let anonymous = || Actor::anonymous(PrincipalKind::Anonymous, None);
    // The limits middleware read the header already; read it here only
    // when it did not run (a router without it).
    let presented = match parts.extensions.get::<Presented>() {
        Some(p) => p.clone(),
        None => Presented::of(&parts.headers),
    };
    let credential = match &presented {
        Presented::Bearer(c) => c.as_str(),
        Presented::Nothing => {
            let reason = "missing credentials: send Authorization: Bearer <token>".to_string();
            return Err(AuthRefusal::unauthorized(
                anonymous(),
                "missing_credentials",
                reason.clone(),
                reason,
            )
            .into());
        }
        Presented::Several => {
            let reason = "several Authorization headers".to_string();
            return Err(AuthRefusal {
                org_id: None,
                actor: anonymous(),
                code: "ambiguous_credentials",
                reason,
                error: ApiError::BadRequest("send exactly one Authorization header".into()),
                counts: Counts::Unknown,
            }
            .into());
        }
        Presented::NotBearer => {
            let reason = "unsupported Authorization header: use the Bearer scheme".to_string();
            return Err(AuthRefusal::unauthorized(
                anonymous(),
                "bad_scheme",
                reason.clone(),
                reason,
            )
            .into());
        }
    };
    let now = Timestamp::now();

    if PlainToken::looks_like_token(credential) {
        return match tokens::verify(
            &state.db,
            &state.peppers,
            &state.tokens,
            credential,
            source_ip(parts),
            now,
        )
        .await
        {
            Ok(verified) => {
                state
                    .last_used
                    .note(&verified.token_id, now, ctx.source_ip.clone());
                let ends = verified.expires_at;
                Ok((verified.principal.clone(), Some(verified), ends))
            }
            Err(VerifyError::Store(e)) => Err(AuthFailure::Failed(e.into())),
            Err(VerifyError::Refused(refused)) => {
                let kind = match PlainToken::kind_hint(credential) {
                    Some(TokenKind::Pat) => PrincipalKind::Pat,
                    _ => PrincipalKind::Sat,
                };
                let id = refused
                    .token_id
                    .or_else(|| PlainToken::id_hint(credential))
                    .map(|id| id.to_string());
                let r = refused.refusal;
                // A token that exists has an organization: its failures
                // count against it (from this address); any other against
                // the address.
                let known_token = refused.org_id.and(id.clone());
                let mut refusal = AuthRefusal::unauthorized(
                    Actor::anonymous(kind, id),
                    r.code(),
                    r.to_string(),
                    r.public_detail(),
                )
                .in_org(refused.org_id);
                if matches!(r, TokenRefusal::AddressNotAllowed) {
                    // The credential is good; it is the place that is not
                    // allowed: 403, not 401.
                    refusal.error = ApiError::Denied {
                        slug: "address-not-allowed",
                        detail: r.public_detail(),
                    };
                }
                if let Some(id) = known_token {
                    refusal = refusal.of_credential(limits::credential::token(&id));
                }
                Err(refusal.into())
            }
        };
    }
    match state.sessions.check(&state.db, credential, now).await {
        Ok((principal, ends)) => Ok((principal, None, Some(ends))),
        Err(SessionError::Failed(e)) => Err(AuthFailure::Failed(e.into())),
        Err(SessionError::Refused(refusal, org_id)) => {
            let code = match refusal {
                SessionRefusal::Invalid => "invalid_session",
                SessionRefusal::Ended => "session_ended",
                SessionRefusal::SignedOut => "session_signed_out",
            };
            let actor = Actor::anonymous(PrincipalKind::MemberSession, None);
            let mut refused =
                AuthRefusal::unauthorized(actor, code, refusal.to_string(), refusal.to_string())
                    .in_org(org_id);
            // A session this server signed, now ended, is a credential that
            // exists; a value that is not one of its sessions is unknown.
            if !matches!(refusal, SessionRefusal::Invalid) {
                refused = refused.of_credential(limits::credential::session(credential));
            }
            Err(refused.into())
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ctx = request_context(parts);
        // The full path, not the one a nested router sees.
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map(|u| u.0.path().to_string())
            .unwrap_or_else(|| parts.uri.path().to_string());
        let endpoint = format!("{} {}", parts.method, path);
        let slot = parts.extensions.get::<AuditSlot>().cloned();
        match authenticate(parts, state, &ctx).await {
            Ok((principal, token, expires_at)) => {
                let key = format!(
                    "{}:{}",
                    principal.kind().as_str(),
                    principal.actor_id().unwrap_or_default()
                );
                if let Err(refusal) = state.limits.check_credential(&key, Instant::now()) {
                    if let Some(slot) = &slot {
                        slot.mark_recorded();
                    }
                    let actor = Actor::of(&principal);
                    let org = principal.org_id();
                    return Err(limits::refuse(state, refusal, org, actor, &ctx, &endpoint).await);
                }
                if let Some(slot) = &slot {
                    slot.set_caller(principal.org_id(), Actor::of(&principal), ctx.clone());
                }
                Ok(Caller {
                    principal,
                    token,
                    expires_at,
                    ctx,
                    endpoint,
                    slot,
                })
            }
            Err(AuthFailure::Failed(e)) => Err(e),
            Err(AuthFailure::Refused(refusal)) => {
                if let Some(slot) = &slot {
                    slot.mark_recorded();
                }
                let ip = source_ip(parts);
                let now = Instant::now();
                match &refusal.counts {
                    Counts::Unknown => {
                        // Only here, once the credential is known to be
                        // malformed or unknown, is the address's block
                        // asked: it never refuses a good credential.
                        if let Err(blocked) = state.limits.check_unknown(ip, now) {
                            return Err(limits::refuse(
                                state,
                                blocked,
                                refusal.org_id,
                                refusal.actor,
                                &ctx,
                                &endpoint,
                            )
                            .await);
                        }
                        state.limits.auth_failed(ip, Failed::Unknown, now);
                    }
                    Counts::Credential(key) => {
                        let failed = Failed::Credential {
                            key,
                            org_id: refusal.org_id,
                        };
                        state.limits.auth_failed(ip, failed, now);
                    }
                }
                Err(refusal.record(state, &ctx, &endpoint).await)
            }
        }
    }
}

/// JSON body; malformed input is a 400 (415 without a JSON content type,
/// 413 when too large) in problem form. The body must be one JSON object
/// without repeated keys: serde would otherwise take `[]` for a struct whose
/// fields are all optional, or keep the last of two equal keys.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| match r.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                _ => ApiError::BadRequest("the request body could not be read".into()),
            })?;
        let value = super::strict_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(clip(format!("the body is not valid JSON: {e}"))))?;
        if !value.is_object() {
            return Err(ApiError::BadRequest(
                "the body must be a JSON object".into(),
            ));
        }
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(|e| ApiError::BadRequest(clip(format!("invalid body: {e}"))))
    }
}

/// `application/json` or any `application/*+json`, as axum's `Json` accepts.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some(("application", sub)) = mime.split_once('/') else {
        return false;
    };
    sub == "json" || sub.ends_with("+json")
}

/// An optional JSON body: a request without a Content-Type has none.
impl<S: Send + Sync, T: DeserializeOwned> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        if req.headers().get(header::CONTENT_TYPE).is_none() {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// Query string parameters, with problem-form errors.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if super::strict_json::query_has_nul(parts.uri.query()) {
            return Err(ApiError::BadRequest(
                "query parameters may not hold NUL".into(),
            ));
        }
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|r| ApiError::BadRequest(clip(r.body_text())))
    }
}

/// Path parameters, with problem-form errors. A parameter that cannot be an
/// id of ours is a 404: no such resource exists.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|_| ApiError::NotFound("resource".into()))
    }
}

fn clip(mut s: String) -> String {
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}
