//! The HTTP edge of SCIM: the authenticated caller, request bodies, query
//! parameters, responses in `application/scim+json`, base URLs and ETags.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::{ScimError, scim_content_type};
use crate::audit::AuditEvent;
use crate::http::AppState;
use crate::http::Caller;
use crate::permissions::Action;

/// The verified caller of a SCIM request. Refusals are SCIM errors.
pub struct ScimCaller(pub Caller);

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        Caller::from_request_parts(parts, state)
            .await
            .map(ScimCaller)
            .map_err(ScimError::from)
    }
}

impl ScimCaller {
    pub async fn require(&self, state: &AppState, action: Action) -> Result<(), ScimError> {
        self.0.require(state, action).await.map_err(ScimError::from)
    }

    pub fn org_id(&self) -> uuid::Uuid {
        self.0.org_id()
    }

    pub fn event(&self, action: &str) -> AuditEvent {
        self.0.event(action)
    }
}

/// A JSON request body: `application/scim+json` or `application/json` (or
/// no content type, which some clients send).
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ScimError> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
            let mime = ct.split(';').next().unwrap_or_default().trim();
            if mime != "application/scim+json" && mime != "application/json" {
                return Err(ScimError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    None,
                    "send the body as application/scim+json or application/json",
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    "the request body is too large",
                )
            } else {
                ScimError::invalid_syntax("the request body could not be read")
            }
        })?;
        // Strict: a repeated key is refused rather than last-wins.
        let value: Value = crate::http::strict_json::from_slice(&bytes).map_err(|e| {
            let msg: String = e.to_string().chars().take(200).collect();
            ScimError::invalid_syntax(format!("the body is not valid JSON: {msg}"))
        })?;
        Ok(ScimBody(value))
    }
}

/// Query parameters by lowercased name (SCIM clients vary in case).
pub struct ScimParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for ScimParams {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ScimError> {
        if crate::http::strict_json::query_has_nul(parts.uri.query()) {
            return Err(ScimError::invalid_syntax(
                "query parameters may not hold NUL",
            ));
        }
        let raw = parts.uri.query().unwrap_or_default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|_| ScimError::invalid_syntax("the query string is malformed"))?;
        Ok(ScimParams(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        ))
    }
}

impl ScimParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// The absolute base URL of the SCIM API (`…/scim/v2`).
pub struct Base(pub String);

impl FromRequestParts<AppState> for Base {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let origin =
            crate::http::origin::request_origin(state.public_url.as_deref(), &parts.headers)
                .ok_or_else(|| {
                    ScimError::invalid_syntax("the Host header must be a valid host[:port]")
                        .reason("bad_host")
                })?;
        Ok(Base(format!("{origin}/scim/v2")))
    }
}

/// A weak entity tag for a resource version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn tags(v: &str) -> Vec<String> {
    v.split(',')
        .map(|t| {
            t.trim()
                .trim_start_matches("W/")
                .trim_start_matches("w/")
                .to_string()
        })
        .collect()
}

/// The request's `If-Match` header.
pub fn if_match(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

/// `If-Match` (or a bulk operation's `version`): the request applies only
/// to this version (weak comparison).
pub fn check_if_match(if_match: Option<&str>, version: i64) -> Result<(), ScimError> {
    let Some(v) = if_match else {
        return Ok(());
    };
    let current = format!("\"{version}\"");
    if tags(v).iter().any(|t| t == "*" || *t == current) {
        Ok(())
    } else {
        Err(ScimError::precondition_failed())
    }
}

/// `If-None-Match` names the current version: the client's copy is fresh.
pub fn not_modified(headers: &HeaderMap, version: i64) -> bool {
    let Some(v) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let current = format!("\"{version}\"");
    tags(v).iter().any(|t| t == "*" || *t == current)
}

/// A SCIM response.
pub fn respond(
    status: StatusCode,
    body: &Value,
    version: Option<i64>,
    location: Option<&str>,
) -> Response {
    let text = serde_json::to_string(body).expect("a JSON value always serializes");
    respond_text(status, text, version, location)
}

/// [`respond`] with a body already in JSON text.
pub fn respond_text(
    status: StatusCode,
    body: String,
    version: Option<i64>,
    location: Option<&str>,
) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, scim_content_type());
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(&etag(v)).ok()) {
        h.insert(header::ETAG, v);
    }
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        h.insert(header::LOCATION, l);
    }
    resp
}

pub fn not_modified_response(version: i64) -> Response {
    let mut resp = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// A path parameter; one that cannot be read (invalid UTF-8, say) names
/// nothing, and is answered as a SCIM 404 like any unknown id.
pub struct ScimPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ScimPath<T> {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ScimError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ScimPath(v))
            .map_err(|_| ScimError::not_found("resource"))
    }
}

/// Parses a resource id from the path. Anything that is not one of our ids
/// names nothing.
pub fn resource_id(raw: &str, what: &str) -> Result<uuid::Uuid, ScimError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ScimError::not_found(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_compares_weakly_and_accepts_star() {
        let mut h = HeaderMap::new();
        assert!(check_if_match(if_match(&h), 3).is_ok());
        assert!(check_if_match(Some("W/\"3\""), 3).is_ok());
        assert!(check_if_match(Some("W/\"3\""), 4).is_err());
        assert!(check_if_match(Some("\"1\", W/\"4\""), 4).is_ok());
        assert!(check_if_match(Some("*"), 9).is_ok());
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"9\""));
        assert!(not_modified(&h, 9));
        assert!(!not_modified(&h, 10));
    }
}
