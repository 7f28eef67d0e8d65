//! The limits checked before a request is authenticated: the source
//! address's rate, and the failure block of the credential the
//! `Authorization` header names, from this address. No database work
//! happens for a refused request. (The address's block for malformed and
//! unknown credentials is checked by the `Caller` extractor once the
//! credential is known to be one of those, and so is the rate of a
//! verified credential, so that nobody can spend another token's
//! allowance and a good credential is never refused for others' failures.)

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::{credential, refuse};
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
    let credential_key = presented.credential().map(credential::bearer);
    req.extensions_mut().insert(presented);
    let path = req.uri().path();
    if exempt(path) {
        return next.run(req).await;
    }
    let Some(&ClientAddr(ip)) = req.extensions().get::<ClientAddr>() else {
        return next.run(req).await;
    };
    let now = Instant::now();
    // A credential blocked from here is refused first, without spending
    // the address's rate: a tenant hammering its own revoked token must not
    // use up what the other tenants behind the same address may send.
    let refused = credential_key
        .as_deref()
        .map_or(Ok(()), |key| {
            state.limits.check_credential_failures(Some(ip), key, now)
        })
        .and_then(|()| state.limits.check_address(ip, now));
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
