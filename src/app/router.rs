//! The router: every edge's routes, each named with its audit action, under
//! the middleware every request passes through, in the order that matters.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::{Config, MetricsAt};
use crate::http::route::{Routes, get};
use crate::http::{
    AppState, audit_trail, client_addr, health, limits, log_failure, make_span, method_not_allowed,
    metrics, not_found, panic_response, problem_for_bare_errors, request_id, security_headers,
};

/// Every route of the server, each named with its audit action.
pub fn routes() -> Routes<AppState> {
    let api = crate::admin_api::routes()
        .merge(crate::audit_api::routes())
        .merge(crate::oauth::routes())
        // Public, like the probes: the description of the API, not data.
        .route(
            "/openapi.json",
            get("openapi.read", super::openapi::openapi_json),
        )
        .merge(crate::sso_login::routes());
    Routes::new()
        // Unauthenticated, so never in the trail.
        .route("/healthz", get("api.request", health::healthz))
        .route("/readyz", get("api.request", health::readyz))
        .route(
            "/.well-known/jwks.json",
            get("api.request", crate::oauth::jwks),
        )
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
    // SCIM endpoint names match in any case: the path is made canonical
    // before routing (a layer on the router itself would run after it).
    let routed = inner(state, config);
    Router::new().fallback_service(
        tower::ServiceBuilder::new()
            .map_request(|mut req: axum::extract::Request| {
                if let Some(path) = crate::scim::routes::canonical_path(req.uri().path()) {
                    let with_query = match req.uri().query() {
                        Some(q) => format!("{path}?{q}"),
                        None => path,
                    };
                    if let Ok(uri) = with_query.parse() {
                        *req.uri_mut() = uri;
                    }
                }
                req
            })
            .service(routed),
    )
}

fn inner(state: AppState, config: &Config) -> Router {
    let mut routes = routes();
    if config.metrics == MetricsAt::Main {
        // Unauthenticated, like the probes: scrapers hold no credential.
        routes = routes.route("/metrics", get("api.request", metrics::scrape));
    }
    let router = routes
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
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(make_span)
                        .on_failure(log_failure),
                )
                .layer(axum::middleware::map_response(problem_for_bare_errors))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    config.request_timeout,
                ))
                .layer(DefaultBodyLimit::max(config.max_body_bytes)),
        );
    match config.metrics {
        // Outermost, so that every answer is counted (a timeout, a refusal
        // by the limits); still after routing, which names the route.
        MetricsAt::Main | MetricsAt::Listen(_) => {
            router.layer(axum::middleware::from_fn(metrics::track))
        }
        MetricsAt::Off => router,
    }
}

/// The router of `--metrics-listen`: `/metrics` alone.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics::scrape))
        .fallback(not_found)
        .with_state(state)
}
