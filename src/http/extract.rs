//! Extractors. [`Caller`] carries a verified principal into a handler (a
//! handler that takes one cannot run unauthenticated); [`ApiJson`],
//! [`ApiQuery`] and [`ApiPath`] turn malformed input into problem responses
//! instead of axum's plain-text rejections.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::request_id::RequestId;
use super::ApiError;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent, RequestContext, Target};
use crate::permissions::{authorize, Action, Principal, PrincipalKind};
use crate::store::Timestamp;
use crate::tokens::{self, PlainToken, Verified};

/// Who is calling, verified, and where the request came from.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    /// Set when the caller authenticated with a token (SAT or PAT).
    pub token: Option<Verified>,
    pub ctx: RequestContext,
    endpoint: String,
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
            return Ok(());
        };
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
        audit::record_alone(&state.db, event).await?;
        Err(ApiError::Forbidden {
            missing: denied.missing,
        })
    }

    /// Starts an audit event for an action by this caller.
    pub fn event(&self, action: &str) -> AuditEvent {
        AuditEvent::new(
            self.principal.org_id(),
            Actor::of(&self.principal),
            action,
            &self.ctx,
        )
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

fn source_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Records a refused authentication and returns the 401.
async fn refuse(
    state: &AppState,
    ctx: &RequestContext,
    endpoint: &str,
    org_id: Option<uuid::Uuid>,
    actor: Actor,
    code: &str,
    (reason, detail): (String, String),
) -> ApiError {
    let event = AuditEvent::new(org_id, actor, "auth.denied", ctx)
        .target(Target::new("endpoint", endpoint, None))
        .failure(reason)
        .status(StatusCode::UNAUTHORIZED.as_u16())
        .changes(json!({ "reason_code": code }));
    if let Err(e) = audit::record_alone(&state.db, event).await {
        return ApiError::internal(e);
    }
    ApiError::Unauthorized { detail }
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
        let anonymous = |kind| Actor::anonymous(kind, None);
        let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            if parts.headers.get_all(header::AUTHORIZATION).iter().count() > 1 {
                return Err(ApiError::BadRequest(
                    "send exactly one Authorization header".into(),
                ));
            }
            let actor = anonymous(PrincipalKind::Anonymous);
            let reason = "missing credentials: send Authorization: Bearer <token>".to_string();
            let why = (reason.clone(), reason);
            return Err(refuse(state, &ctx, &endpoint, None, actor, "missing_credentials", why).await);
        };
        let credential = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, c)| c.trim());
        let Some(credential) = credential.filter(|c| !c.is_empty()) else {
            let actor = anonymous(PrincipalKind::Anonymous);
            let reason = "unsupported Authorization header: use the Bearer scheme".to_string();
            let why = (reason.clone(), reason);
            return Err(refuse(state, &ctx, &endpoint, None, actor, "bad_scheme", why).await);
        };
        let now = Timestamp::now();

        if credential.starts_with("scim_") {
            let source = source_ip(parts);
            match tokens::verify(&state.db, &state.peppers, credential, source, now).await? {
                Ok(verified) => {
                    state
                        .last_used
                        .note(&verified.token_id, now, ctx.source_ip.clone());
                    Ok(Caller {
                        principal: verified.principal.clone(),
                        token: Some(verified),
                        ctx,
                        endpoint,
                    })
                }
                Err(refused) => {
                    let kind = if credential.starts_with("scim_pat_") {
                        PrincipalKind::Pat
                    } else {
                        PrincipalKind::Sat
                    };
                    let id = refused
                        .token_id
                        .or_else(|| PlainToken::id_hint(credential))
                        .map(|id| id.to_string());
                    let actor = Actor::anonymous(kind, id);
                    let code = refused.refusal.code();
                    let why = (refused.refusal.to_string(), refused.refusal.public_detail());
                    Err(refuse(state, &ctx, &endpoint, refused.org_id, actor, code, why).await)
                }
            }
        } else {
            match state.sessions.check(&state.db, credential, now).await? {
                Ok(principal) => Ok(Caller {
                    principal,
                    token: None,
                    ctx,
                    endpoint,
                }),
                Err((refusal, org_id)) => {
                    let actor = anonymous(PrincipalKind::MemberSession);
                    let code = match refusal {
                        crate::identity::sessions::SessionRefusal::Invalid => "invalid_session",
                        crate::identity::sessions::SessionRefusal::Ended => "session_ended",
                    };
                    let why = (refusal.to_string(), refusal.to_string());
                    Err(refuse(state, &ctx, &endpoint, org_id, actor, code, why).await)
                }
            }
        }
    }
}

/// JSON body; malformed input is a 400 (415 without a JSON content type,
/// 413 when too large) in problem form.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(match rejection.status() {
                StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
                    "send the body as application/json".into(),
                ),
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                _ => ApiError::BadRequest(clip(rejection.body_text())),
            }),
        }
    }
}

/// An optional JSON body: a request without a Content-Type has none.
impl<S: Send + Sync, T: DeserializeOwned> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        if req.headers().get(header::CONTENT_TYPE).is_none() {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state).await.map(Some)
    }
}

/// Query string parameters, with problem-form errors.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
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
