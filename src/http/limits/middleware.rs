//! The limits checked before a request is authenticated: the source
//! address's failure block and rate, and the failure block of the token id
//! the `Authorization` header names. No database work happens for a
//! refused request. (The rate of a verified credential is checked by the
//! `Caller` extractor, once the credential is known to be genuine, so that
//! nobody can spend another token's allowance.)

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use super::refuse;
use crate::audit::Actor;
use crate::http::AppState;
use crate::http::client_addr::ClientAddr;
use crate::http::extract::request_context;
use crate::permissions::PrincipalKind;
use crate::tokens::PlainToken;

/// Probes from load balancers and orchestrators are never limited.
fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if exempt(path) {
        return next.run(req).await;
    }
    let Some(&ClientAddr(ip)) = req.extensions().get::<ClientAddr>() else {
        return next.run(req).await;
    };
    let now = Instant::now();
    let token_id = bearer_token_id(&req);
    let refused = state.limits.check_address(ip, now).and_then(|()| {
        token_id
            .as_deref()
            .map_or(Ok(()), |id| state.limits.check_token_id(id, now))
    });
    let Err(refusal) = refused else {
        return next.run(req).await;
    };
    let path = path.to_string();
    let endpoint = format!("{} {}", req.method(), path);
    let (parts, _) = req.into_parts();
    let ctx = request_context(&parts);
    // Who the request claims to be: the token id of the value, unverified,
    // as for any refused authentication.
    let actor = match &token_id {
        Some(id) => {
            let kind = if bearer(&parts.headers).is_some_and(|v| v.starts_with("scim_pat_")) {
                PrincipalKind::Pat
            } else {
                PrincipalKind::Sat
            };
            Actor::anonymous(kind, Some(id.clone()))
        }
        None => Actor::anonymous(PrincipalKind::Anonymous, None),
    };
    let err = refuse(&state, refusal, None, actor, &ctx, &endpoint).await;
    state.limits.render(err, &path)
}

fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credential.trim())
}

/// The token id named by the request's bearer token, if it is one of ours.
fn bearer_token_id(req: &Request) -> Option<String> {
    bearer(req.headers())
        .and_then(PlainToken::id_hint)
        .map(|id| id.to_string())
}
