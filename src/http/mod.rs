//! The HTTP edge: the router (each route registered with the audit action
//! it is recorded under, see [`route`]), the middleware every request passes
//! through (request id, tracing with secrets redacted, body limit, timeout,
//! panic catcher, client address, abuse limits), the listener (connection
//! limits), health endpoints, and the conversion of errors to responses.

pub mod audit_trail;
pub mod client_addr;
pub mod csrf;
pub mod download;
pub mod extract;
mod health;
pub mod limits;
pub mod listener;
pub mod origin;
mod problem;
pub mod request_id;
pub mod route;
#[cfg(test)]
mod route_names;
mod security_headers;
mod stall;
mod state;
pub mod strict_json;

pub use extract::{ApiJson, ApiPath, ApiQuery, Caller};
pub use problem::{ApiError, problem_response, problem_type};
pub use state::AppState;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use route::{Routes, get};

/// Every route of the server, each named with its audit action.
pub fn routes() -> Routes<AppState> {
    let api = crate::management::routes()
        .merge(crate::audit_api::routes())
        .merge(crate::authority::routes());
    Routes::new()
        // Unauthenticated, so never in the trail.
        .route("/healthz", get("api.request", health::healthz))
        .route("/readyz", get("api.request", health::readyz))
        .route("/.well-known/jwks.json", get("api.request", jwks))
        .nest("/api/v1", api)
        .nest("/scim/v2", crate::scim::routes::routes())
        .nest("/console", crate::console::routes())
        // A nested router's "/" is `/console` only; people type the slash.
        .route(
            "/console/",
            get("console.view", || async {
                axum::response::Redirect::to("/console/tokens")
            }),
        )
}

pub fn router(state: AppState, config: &Config) -> Router {
    routes()
        .into_router()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit_trail::middleware,
        ))
        // Outside the trail: a refused request is recorded by the limits
        // (at most once a minute per key), not once per request.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::middleware,
        ))
        // Outside the limits, which key on the client address it stores.
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(config.trusted_proxies.clone()),
            client_addr::middleware,
        ))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(request_id::middleware))
                .layer(axum::middleware::from_fn(security_headers::middleware))
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                ]))
                .layer(TraceLayer::new_for_http().make_span_with(make_span))
                .layer(axum::middleware::map_response(problem_for_bare_errors))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    config.request_timeout,
                ))
                .layer(DefaultBodyLimit::max(config.max_body_bytes)),
        )
}

/// The request span: method, path and request id. Never headers (they carry
/// credentials) and never the query string (it may carry filter values).
fn make_span(req: &Request) -> tracing::Span {
    let id = req
        .extensions()
        .get::<request_id::RequestId>()
        .map(|r| r.0.as_str())
        .unwrap_or("-");
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
}

/// Middleware (the timeout, for one) answers some errors with an empty
/// body; give those the problem form every other error has.
async fn problem_for_bare_errors<B>(resp: axum::http::Response<B>) -> Response
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

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::internal("handler panicked").into_response()
}

/// `GET /.well-known/jwks.json`: the public keys token verifiers need, for
/// anyone: the current key, and superseded keys until the last token they
/// signed (an exchanged token or a session) has expired, plus
/// [`crate::signing::JWKS_MARGIN`]. Audit checkpoints
/// are verified against every key ever used: `/api/v1/audit-logs/jwks`.
async fn jwks(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let longest = crate::authority::EXCHANGED_TOKEN_TTL_SECONDS.max(state.sessions.ttl_seconds());
    let keys = state.signer.token_jwks(
        crate::store::Timestamp::now(),
        time::Duration::seconds(longest),
    );
    let mut resp = axum::Json(keys).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route".into())
}

async fn method_not_allowed() -> Response {
    problem_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this endpoint does not support that method",
        json!({}),
    )
}
