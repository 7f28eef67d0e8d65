//! The HTTP toolkit every edge builds on: the state handlers reach, route
//! registration with the audit action each route is recorded under (see
//! [`route`]), extractors that carry the verified caller, the middleware
//! every request passes through (request id, tracing with secrets redacted,
//! panic catcher, client address, abuse limits, the audit trail, metrics), the
//! listener (connection limits), health endpoints, and the conversion of
//! errors to responses. The composition root (`app`) assembles the router.

pub mod audit_trail;
pub mod bearer;
pub mod client_addr;
pub mod csrf;
pub mod download;
pub mod extract;
pub mod health;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod origin;
mod problem;
pub mod request_id;
pub mod route;
pub mod security_headers;
mod stall;
mod state;
pub mod strict_json;

pub use extract::{ApiJson, ApiPath, ApiQuery, Caller};
pub use problem::{ApiError, problem_response, problem_type};
pub use state::{AppParts, AppState};

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The request span: method, path and request id. Never headers (they carry
/// credentials) and never the query string (it may carry filter values).
pub fn make_span(req: &Request) -> tracing::Span {
    let id = req
        .extensions()
        .get::<request_id::RequestId>()
        .map(|r| r.0.as_str())
        .unwrap_or("-");
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
}

/// A response the trace layer classed as a failure (a 5xx, or an error
/// from a service). 501 is an answer, not a fault: `/scim/v2/Me` is 501 on
/// purpose, and identity providers probe it, so it is logged at debug
/// rather than as an error someone must look into.
pub fn log_failure(
    class: tower_http::classify::ServerErrorsFailureClass,
    latency: std::time::Duration,
    _span: &tracing::Span,
) {
    use tower_http::classify::ServerErrorsFailureClass as Class;
    let ms = latency.as_millis();
    match class {
        Class::StatusCode(s) if s == axum::http::StatusCode::NOT_IMPLEMENTED => {
            tracing::debug!(status = %s, latency_ms = ms, "not implemented");
        }
        Class::StatusCode(s) => {
            tracing::error!(status = %s, latency_ms = ms, "response failed");
        }
        Class::Error(e) => tracing::error!(error = %e, latency_ms = ms, "response failed"),
    }
}

/// Middleware (the timeout, for one) answers some errors with an empty
/// body; give those the problem form every other error has.
pub async fn problem_for_bare_errors<B>(resp: axum::http::Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error())
        || resp.headers().contains_key(header::CONTENT_TYPE)
    {
        return resp.map(axum::body::Body::new);
    }
    let title = status.canonical_reason().unwrap_or("Error");
    let slug = title.to_lowercase().replace(' ', "-");
    problem_response(status, &slug, title, title, json!({}))
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::internal("handler panicked").into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("route".into())
}

pub async fn method_not_allowed() -> Response {
    problem_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this endpoint does not support that method",
        json!({}),
    )
}
