//! The OAuth side of both endpoints: their bodies, which are
//! `application/x-www-form-urlencoded` (RFC 6749 §3.2; JSON is accepted
//! too, for services that prefer it), and their error form (RFC 6749 §5.2),
//! which RFC 7662 and RFC 8693 both use for a bad request.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The request's parameters by name.
pub struct OAuthForm(HashMap<String, String>);

/// An OAuth error response: `{"error","error_description"}`, never cached.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    /// The OAuth error code the client gets.
    pub error: &'static str,
    /// A finer snake_case code for the audit record (the client's
    /// `error_description` is prose).
    pub reason: &'static str,
    pub description: String,
}

impl OAuthError {
    /// A refused request (400).
    pub fn refuse(
        error: &'static str,
        reason: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            reason,
            description: description.into(),
        }
    }

    /// `invalid_request`, the answer to a malformed request.
    pub fn invalid_request(reason: &'static str, description: impl Into<String>) -> Self {
        Self::refuse("invalid_request", reason, description)
    }

    /// Something on the server's side failed: nothing the client did.
    pub fn server_error(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            reason: "server_error",
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut resp = (self.status, Json(body)).into_response();
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        let malformed = |d: String| OAuthError::invalid_request("malformed_request", d);
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mime = ct.split(';').next().unwrap_or_default().trim().to_string();
        if !matches!(
            mime.as_str(),
            "application/x-www-form-urlencoded" | "application/json" | ""
        ) {
            // Still in the OAuth form, so that clients parse one shape.
            let shown: String = mime.chars().take(64).collect();
            let mut e = OAuthError::invalid_request(
                "unsupported_content_type",
                format!(
                    "unsupported content type `{shown}`: send application/x-www-form-urlencoded"
                ),
            );
            e.status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return Err(e);
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| malformed("the request body could not be read".into()))?;
        let pairs: Vec<(String, String)> = if mime == "application/json" {
            let v = crate::http::strict_json::from_slice(&bytes)
                .map_err(|_| malformed("the JSON body is malformed".into()))?;
            let serde_json::Value::Object(v) = v else {
                return Err(malformed("the JSON body must be an object".into()));
            };
            v.into_iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => Ok((k, s)),
                    _ => {
                        let shown: String = k.chars().take(64).collect();
                        Err(malformed(format!("`{shown}` must be a string")))
                    }
                })
                .collect::<Result<_, _>>()?
        } else {
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .map_err(|_| malformed("the form body is malformed".into()))?
        };
        // RFC 6749 §3.1: parameters MUST NOT be included more than once.
        let mut by_name = HashMap::with_capacity(pairs.len());
        for (k, v) in pairs {
            if by_name.contains_key(&k) {
                let shown: String = k.chars().take(64).collect();
                return Err(malformed(format!("`{shown}` is given more than once")));
            }
            by_name.insert(k, v);
        }
        Ok(OAuthForm(by_name))
    }
}

impl OAuthForm {
    /// A parameter; an empty one counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A parameter that must be there.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::invalid_request("missing_parameter", format!("`{name}` is required"))
        })
    }
}
