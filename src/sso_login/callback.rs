//! `GET /api/v1/auth/sso/callback?code=…&state=…`: where the identity
//! provider sends the browser back. The flow cookie must open and belong to
//! this `state`, which must not have come back before; then the code is
//! exchanged (with the PKCE verifier), the ID token validated, its claim
//! matched to an active SCIM-provisioned member, and a session issued: the
//! same session a password gives, ended by sign-out and by deactivation.
//! The state is marked used in the transaction of the outcome's record,
//! whatever the outcome, so a callback URL works once.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::refusal::{self, Failed, Refused, answer};
use super::start::flow_cookie;
use crate::audit::{Actor, AuditEvent, Change, RequestContext, Target};
use crate::console::sso as console_sso;
use crate::http::AppState;
use crate::http::extract::RequestMeta;
use crate::identity::members::Member;
use crate::permissions::PrincipalKind;
use crate::sso::flow::{self, Flow, Outcome};
use crate::sso::{Claim, Refusal, SsoError, config, matching};
use crate::store::{Timestamp, Tx};

#[derive(Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

#[utoipa::path(
    get,
    path = "/auth/sso/callback",
    tag = "Authentication",
    summary = "Where the identity provider sends the browser back",
    description = "Public: the flow's state and the provider's ID token authenticate it. \
        Answers like `/auth/login` (or, for the console, sets its cookie and redirects); a \
        refusal names its reason (`no_such_member`, `inactive`, `bad_state`, `bad_nonce`, \
        `id_token_invalid`, `issuer_unreachable`, …).",
    params(
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("state" = Option<String>, Query, description = "The state the start sent"),
        ("error" = Option<String>, Query, description = "The provider's error, if any"),
    ),
    responses(
        (status = 200, description = "Signed in", body = super::doc::SsoSession),
        (status = 401, description = "Refused, with its reason", body = crate::http::openapi::Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
pub async fn callback(
    State(state): State<AppState>,
    RequestMeta(ctx): RequestMeta,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let query: CallbackQuery =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or(CallbackQuery {
            state: None,
            code: None,
            error: None,
        });
    let cookie = crate::console::sso::read_cookie(&headers, flow::COOKIE).unwrap_or_default();
    let now = Timestamp::now();
    let flow = query
        .state
        .as_deref()
        .and_then(|s| Flow::open(state.signer.kek(), &cookie, s, now));
    let Some(flow) = flow else {
        // Nothing says which answer was wanted: the API's form.
        let failed = Failed::refused(
            Refusal::BadState,
            "no flow cookie, or it does not open, belong to this state or is expired",
            None,
            Outcome::Api,
        );
        return with_cookie_cleared(&state, &headers, answer(&state, &ctx, failed, false).await);
    };
    let outcome = flow.outcome;
    let resp = match flow::is_used(&state.db, &flow).await {
        Ok(true) => {
            let failed = Failed::refused(
                Refusal::BadState,
                "this state has already come back once",
                Some(flow.org_id),
                outcome,
            );
            answer(&state, &ctx, failed, false).await
        }
        Ok(false) => match complete(&state, &flow, &query).await {
            Ok((member, claim_value)) => {
                match record_success(&state, &ctx, &flow, &member, &claim_value).await {
                    Ok(Ok(jwt)) => match outcome {
                        Outcome::Api => session_body(&state, jwt),
                        Outcome::Console => {
                            console_sso::finish(&state, &headers, &ctx, &member, &jwt).await
                        }
                    },
                    Ok(Err(replayed)) => answer(&state, &ctx, replayed, true).await,
                    Err(e) => answer(&state, &ctx, e, true).await,
                }
            }
            Err(failed) => {
                let recorded = match &failed {
                    Failed::Refused(r) => record_refusal(&state, &ctx, &flow, r).await,
                    Failed::Internal(_) => Ok(()),
                };
                match recorded {
                    Ok(()) => answer(&state, &ctx, failed, true).await,
                    Err(e) => answer(&state, &ctx, e, true).await,
                }
            }
        },
        Err(e) => {
            answer(
                &state,
                &ctx,
                Failed::from_sso(e, Some(flow.org_id), outcome),
                true,
            )
            .await
        }
    };
    with_cookie_cleared(&state, &headers, resp)
}

fn with_cookie_cleared(state: &AppState, headers: &HeaderMap, mut resp: Response) -> Response {
    resp.headers_mut()
        .append(header::SET_COOKIE, flow_cookie(state, headers, "", 0));
    resp
}

/// The body `/api/v1/auth/login` answers, never cached.
fn session_body(state: &AppState, jwt: String) -> Response {
    let mut resp = Json(json!({
        "access_token": jwt,
        "token_type": "Bearer",
        "expires_in": state.sessions.ttl_seconds(),
    }))
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The provider's answer, checked, and the member it names.
async fn complete(
    state: &AppState,
    flow: &Flow,
    query: &CallbackQuery,
) -> Result<(Member, String), Failed> {
    let org_id = Some(flow.org_id);
    let fail = |e: SsoError| Failed::from_sso(e, org_id, flow.outcome);
    if let Some(error) = &query.error {
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(fail(SsoError::refused(
            Refusal::ProviderError,
            format!("the identity provider answered `{code}`"),
        )));
    }
    let Some(code) = query
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 4096)
    else {
        return Err(fail(SsoError::refused(Refusal::ProviderError, "no code")));
    };
    let Some((config, secret)) =
        config::get_with_secret(&state.db, state.signer.kek(), flow.org_id)
            .await
            .map_err(fail)?
    else {
        return Err(fail(SsoError::refused(
            Refusal::NotConfigured,
            "the organization's SSO configuration was removed",
        )));
    };
    let discovery = state.sso.discovery(&config.issuer).await.map_err(fail)?;
    let id_token = state
        .sso
        .exchange(&discovery, &config.client_id, &secret, code, flow)
        .await
        .map_err(fail)?;
    let claims = state
        .sso
        .verify(&discovery, &config.client_id, &id_token, &flow.nonce)
        .await
        .map_err(fail)?;
    let value = claims
        .get(config.claim.as_str())
        .and_then(Value::as_str)
        .map(str::to_string);
    let Some(value) = value else {
        return Err(fail(SsoError::refused(
            Refusal::ClaimMissing,
            format!("the ID token has no `{}` claim", config.claim.as_str()),
        )));
    };
    let who = |refusal: Refusal, detail: String| {
        Failed::Refused(Box::new(Refused {
            refusal,
            detail,
            org_id,
            who: Some(value.clone()),
            outcome: flow.outcome,
        }))
    };
    // An email the provider says it has not verified names nobody.
    if config.claim == Claim::Email && claims.get("email_verified") == Some(&Value::Bool(false)) {
        return Err(who(
            Refusal::NoSuchMember,
            "the email is not verified".into(),
        ));
    }
    match matching::member_for(&state.db, flow.org_id, &value).await {
        Ok(member) => Ok((member, value)),
        Err(SsoError::Refused(refusal, detail)) => Err(who(refusal, detail)),
        Err(e) => Err(fail(e)),
    }
}

/// Marks the state used; false when another callback did first.
async fn use_state(tx: &mut Tx, flow: &Flow) -> Result<bool, SsoError> {
    flow::use_in(tx, flow, Timestamp::now()).await
}

/// Records the refusal with the state marked used.
async fn record_refusal(
    state: &AppState,
    ctx: &RequestContext,
    flow: &Flow,
    r: &Refused,
) -> Result<(), Failed> {
    let event = refusal::event(r, ctx);
    state
        .audit
        .write(
            async |tx: &mut Tx| -> Result<Change<()>, SsoError> {
                use_state(tx, flow).await?;
                Ok(Change::Made((), event))
            },
            || (),
        )
        .await
        .map_err(|e| Failed::from_sso(e, Some(flow.org_id), flow.outcome))
}

/// Records the sign-in with the state marked used and issues the session;
/// a state another callback used meanwhile is refused instead (recorded).
async fn record_success(
    state: &AppState,
    ctx: &RequestContext,
    flow: &Flow,
    member: &Member,
    claim_value: &str,
) -> Result<Result<String, Failed>, Failed> {
    let internal = |e: &dyn std::fmt::Display| Failed::Internal(e.to_string());
    let jwt = state
        .sessions
        .issue(member.org_id, member.id, Timestamp::now())
        .map_err(|e| internal(&e))?;
    let actor = Actor {
        kind: PrincipalKind::MemberSession.as_str().to_string(),
        id: Some(member.id.to_string()),
        display: Some(member.user_name.clone()),
    };
    let success = AuditEvent::new(Some(member.org_id), actor, super::ACTION, ctx)
        .target(Target::new("member", member.id, Some(&member.user_name)))
        .status(200)
        .changes(json!({ "method": "oidc", "claim_value": claim_value }));
    let replayed = Refused {
        refusal: Refusal::BadState,
        detail: "this state came back twice at once".into(),
        org_id: Some(flow.org_id),
        who: None,
        outcome: flow.outcome,
    };
    let replay_event = refusal::event(&replayed, ctx);
    let first = state
        .audit
        .write(
            async |tx: &mut Tx| -> Result<Change<bool>, SsoError> {
                let first = use_state(tx, flow).await?;
                Ok(Change::Made(
                    first,
                    if first { success } else { replay_event },
                ))
            },
            || (),
        )
        .await
        .map_err(|e| Failed::from_sso(e, Some(flow.org_id), flow.outcome))?;
    Ok(if first {
        Ok(jwt)
    } else {
        Err(Failed::Refused(Box::new(replayed)))
    })
}
