//! SCIM errors (RFC 7644 §3.12): the one error type of the `/scim/v2`
//! routes, rendered with the SCIM error schema, `status` as a string and a
//! `scimType` where the RFC defines one.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::schema::ERROR_URN;
use crate::http::ApiError;
use crate::http::audit_trail::AuditReason;
use crate::identity::IdentityError;
use crate::store::StoreError;

/// `scimType` values of RFC 7644 Table 9.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<ScimType>,
    pub detail: String,
    /// Logged, never sent.
    cause: Option<String>,
    /// Seconds for `Retry-After`, on a 429.
    retry_after_seconds: Option<u64>,
    /// A reason code for the audit record of this refusal, where the status
    /// alone would not tell an auditor what was refused.
    reason: Option<&'static str>,
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
            cause: None,
            retry_after_seconds: None,
            reason: None,
        }
    }

    /// The refusal's reason code, if it has one.
    pub fn reason_code(&self) -> Option<&'static str> {
        self.reason
    }

    /// Names the refusal in its audit record (`outcome.reason`).
    pub fn reason(mut self, code: &'static str) -> Self {
        self.reason = Some(code);
        self
    }

    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidValue, detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidSyntax, detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidFilter, detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::InvalidPath, detail)
    }

    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::NoTarget, detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad(ScimType::Mutability, detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some(ScimType::Uniqueness), detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, format!("{what} not found"))
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            "the resource changed: its version no longer matches If-Match",
        )
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            scim_type: None,
            detail: "the server failed to handle this request".into(),
            cause: Some(cause.to_string()),
            retry_after_seconds: None,
            reason: None,
        }
    }
}

pub fn scim_content_type() -> HeaderValue {
    HeaderValue::from_static("application/scim+json")
}

impl ScimError {
    /// The error as a SCIM error body (logging the cause of a server fault).
    pub fn body(&self) -> serde_json::Value {
        if let Some(cause) = &self.cause {
            tracing::error!(cause = %cause, "SCIM request failed");
        }
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t.as_str());
        }
        body
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let body = self.body();
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, scim_content_type());
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimitar\""),
            );
        }
        if let Some(secs) = self.retry_after_seconds {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(code) = self.reason {
            resp.extensions_mut().insert(AuditReason(code));
        }
        resp
    }
}

/// Authentication and authorization refusals arrive as [`ApiError`]s from
/// the shared extractor; on `/scim` they are rendered the SCIM way.
impl From<ApiError> for ScimError {
    fn from(e: ApiError) -> Self {
        let status = e.status();
        match e {
            ApiError::Internal(cause) | ApiError::Unavailable(cause) => ScimError::internal(cause),
            ApiError::Forbidden { missing } => ScimError::new(
                status,
                None,
                format!("this credential lacks the permission `{missing}`"),
            ),
            ApiError::BadRequest(d) => ScimError::invalid_syntax(d),
            ApiError::TooManyRequests {
                detail,
                retry_after_seconds,
            } => ScimError {
                retry_after_seconds: Some(retry_after_seconds),
                ..ScimError::new(status, None, detail)
            },
            ApiError::PayloadTooLarge => ScimError::new(
                status,
                None,
                "the request body is larger than maxPayloadSize",
            ),
            other => ScimError::new(status, None, other.to_string()),
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        ScimError::internal(e)
    }
}

impl From<sqlx::Error> for ScimError {
    fn from(e: sqlx::Error) -> Self {
        ScimError::internal(e)
    }
}

impl From<crate::audit::AuditError> for ScimError {
    fn from(e: crate::audit::AuditError) -> Self {
        ScimError::internal(e)
    }
}

impl From<IdentityError> for ScimError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Invalid(m) => ScimError::invalid_value(m),
            IdentityError::NotFound(what) => ScimError::not_found(what),
            IdentityError::Conflict(m) => ScimError::uniqueness(m),
            other => ScimError::internal(other),
        }
    }
}
