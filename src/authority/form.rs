//! OAuth endpoints take `application/x-www-form-urlencoded` bodies (RFC 6749
//! §3.2); JSON is accepted too, for services that prefer it.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;

/// The request's parameters by name.
pub struct OAuthForm(pub HashMap<String, String>);

/// Why a body could not be read: answered as OAuth's `invalid_request`.
pub struct FormRejection(pub String);

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = FormRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, FormRejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| FormRejection("the request body could not be read".into()))?;
        let mime = ct.split(';').next().unwrap_or_default().trim().to_string();
        let pairs: Vec<(String, String)> = match mime.as_str() {
            "application/x-www-form-urlencoded" | "" => {
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                    .map_err(|_| FormRejection("the form body is malformed".into()))?
            }
            "application/json" => {
                let v = crate::http::strict_json::from_slice(&bytes)
                    .map_err(|_| FormRejection("the JSON body is malformed".into()))?;
                let serde_json::Value::Object(v) = v else {
                    return Err(FormRejection("the JSON body must be an object".into()));
                };
                v.into_iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => Ok((k, s)),
                        _ => {
                            let shown: String = k.chars().take(64).collect();
                            Err(FormRejection(format!("`{shown}` must be a string")))
                        }
                    })
                    .collect::<Result<_, _>>()?
            }
            other => return Err(FormRejection(format!("unsupported content type `{other}`"))),
        };
        // RFC 6749 §3.1: parameters MUST NOT be included more than once.
        let mut by_name = HashMap::with_capacity(pairs.len());
        for (k, v) in pairs {
            if by_name.contains_key(&k) {
                let shown: String = k.chars().take(64).collect();
                return Err(FormRejection(format!("`{shown}` is given more than once")));
            }
            by_name.insert(k, v);
        }
        let pairs = by_name;
        Ok(OAuthForm(pairs))
    }
}

impl OAuthForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

impl axum::response::IntoResponse for FormRejection {
    fn into_response(self) -> axum::response::Response {
        let body = serde_json::json!({ "error": "invalid_request", "error_description": self.0 });
        (axum::http::StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
    }
}
