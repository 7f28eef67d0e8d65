//! The one error type of the HTTP edge. Domain errors convert into it, and
//! it renders as `application/problem+json` (RFC 9457) with a stable `type`.
//! Server faults are logged with their cause and shown as a bare 500, so that
//! no internal detail (or secret) reaches a client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::audit::AuditError;
use crate::identity::IdentityError;
use crate::store::StoreError;
use crate::tokens::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidPermission(String),
    #[error("{detail}")]
    Unauthorized { detail: String },
    #[error("missing permission `{missing}`")]
    Forbidden { missing: String },
    /// Refused for a reason other than a missing permission (a credential
    /// used from an address its allowlist excludes; a password that must be
    /// changed first): 403 with the problem type `slug`.
    #[error("{detail}")]
    Denied { slug: &'static str, detail: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("request body too large")]
    PayloadTooLarge,
    /// An abuse limit refused the request; answered with `Retry-After`.
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_seconds: u64,
    },
    #[error("internal error")]
    Internal(String),
    #[error("storage unavailable")]
    Unavailable(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "Invalid request",
            ),
            ApiError::InvalidPermission(_) => (
                StatusCode::BAD_REQUEST,
                "invalid-permission",
                "Invalid permission",
            ),
            ApiError::Unauthorized { .. } => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden", "Permission denied"),
            ApiError::Denied { slug, .. } => (StatusCode::FORBIDDEN, slug, "Forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// The `type` URI of a problem slug.
pub fn problem_type(slug: &str) -> String {
    format!("urn:scimitar:problem:{slug}")
}

/// A problem+json response.
pub fn problem_response(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: &str,
    extra: Value,
) -> Response {
    let mut body = json!({
        "type": problem_type(slug),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.parts();
        let (detail, extra) = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(cause = %cause, "internal error");
                (
                    "the server failed to handle this request".to_string(),
                    json!({}),
                )
            }
            ApiError::Unavailable(cause) => {
                tracing::error!(cause = %cause, "storage unavailable");
                ("the database is not reachable".to_string(), json!({}))
            }
            ApiError::Forbidden { missing } => (
                format!("this credential lacks the permission `{missing}`"),
                json!({ "missing_permission": missing }),
            ),
            ApiError::TooManyRequests {
                detail,
                retry_after_seconds,
            } => (
                detail.clone(),
                json!({ "retry_after_seconds": retry_after_seconds }),
            ),
            other => (other.to_string(), json!({})),
        };
        let mut resp = problem_response(status, slug, title, &detail, extra);
        if let ApiError::Forbidden { missing } = &self {
            // For the request trail, unless the refusal is recorded already.
            resp.extensions_mut()
                .insert(super::audit_trail::AuditDenied(missing.clone()));
        }
        if let ApiError::TooManyRequests {
            retry_after_seconds,
            ..
        } = &self
        {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimitar\""),
            );
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Invalid(m) => ApiError::BadRequest(m),
            other => ApiError::internal(other),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Store(e) => e.into(),
            TokenError::Permission(p) => ApiError::InvalidPermission(p.to_string()),
            TokenError::Invalid(m) => ApiError::BadRequest(m),
            TokenError::NotFound => ApiError::NotFound("token".into()),
            TokenError::Revoked => ApiError::Conflict("the token is revoked".into()),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Store(e) => e.into(),
            IdentityError::Token(e) => e.into(),
            IdentityError::Audit(e) => e.into(),
            IdentityError::Invalid(m) => ApiError::BadRequest(m),
            IdentityError::NotFound(what) => ApiError::NotFound(what.to_string()),
            IdentityError::Conflict(m) => ApiError::Conflict(m),
        }
    }
}
