//! The limits checked before a request is authenticated: the source
//! address's failure block and rate, and the failure block of the token id
//! the `Authorization` header names. No database work happens for a
//! refused request. (The rate of a verified credential is checked by the
//! `Caller` extractor, once the credential is known to be genuine, so that
//! nobody can spend another token's allowance.)

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::refuse;
use crate::audit::Actor;
use crate::http::AppState;
use crate::http::bearer::Presented;
use crate::http::client_addr::ClientAddr;
use crate::http::extract::request_context;
use crate::permissions::PrincipalKind;
use crate::tokens::{PlainToken, TokenKind};

/// Probes from load balancers and orchestrators are never limited.
fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let presented = Presented::of(req.headers());
    let token_id = presented
        .credential()
        .and_then(PlainToken::id_hint)
        .map(|id| id.to_string());
    let claims_pat = presented.credential().and_then(PlainToken::kind_hint) == Some(TokenKind::Pat);
    req.extensions_mut().insert(presented);
    let path = req.uri().path();
    if exempt(path) {
        return next.run(req).await;
    }
    let Some(&ClientAddr(ip)) = req.extensions().get::<ClientAddr>() else {
        return next.run(req).await;
    };
    let now = Instant::now();
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
            let kind = if claims_pat {
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
