//! The subject token of a reported event, checked as of the moment the
//! event says it happened: a workspace SAT's value (its secret checked,
//! then its state at that moment, `tokens::verify_sat_at`), or a JWT the
//! token authority issued in exchange for one (its signature against the
//! keys of the last lateness window, its `iat`/`exp` around the moment,
//! and the SAT behind it as of the moment). Only the token's id is ever
//! kept.

use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;
use uuid::Uuid;

use crate::permissions::{PermissionSet, TokenLevel};
use crate::signing;
use crate::store::Timestamp;
use crate::tokens::{
    PlainToken, Standing, TokenId, TokenRefusal, VerifyError, sat_standing_at, verify_sat_at,
};
use crate::use_cases::{Services, UseCaseError};

/// How the subject was presented.
#[derive(Clone, Debug)]
pub enum Credential {
    Sat,
    /// An exchanged JWT, by its `jti`.
    Jwt {
        jti: String,
    },
}

/// A subject good at the moment asked about.
#[derive(Clone, Debug)]
pub struct Subject {
    pub standing: Standing,
    /// What it could do: the SAT's permissions, or the exchanged JWT's.
    pub permissions: PermissionSet,
    pub credential: Credential,
}

/// Why a subject was refused: `invalid` (the caller cannot tell a forgery
/// from another organization's token or an unknown one), or `inactive` at
/// the moment (revoked, expired, rotated out, workspace deleted), with the
/// token id when one was learned.
#[derive(Debug)]
pub struct Refusal {
    pub inactive: bool,
    pub detail: String,
    pub token_id: Option<String>,
}

impl Refusal {
    fn invalid(detail: &str, token_id: Option<String>) -> Self {
        Self {
            inactive: false,
            detail: detail.to_string(),
            token_id,
        }
    }
}

/// Checks `value` as of `at` for organization `org_id`. Only a store
/// failure is an error.
pub async fn check(
    services: &Services,
    jwks: &Value,
    org_id: Uuid,
    value: &str,
    at: Timestamp,
    skew: time::Duration,
) -> Result<Result<Subject, Refusal>, UseCaseError> {
    let outcome = if PlainToken::looks_like_token(value) {
        sat(services, org_id, value, at).await?
    } else if value.split('.').count() == 3 {
        jwt(services, jwks, org_id, value, at, skew).await?
    } else {
        Err(Refusal::invalid(
            "the subject token is neither a workspace SAT nor an exchanged JWT",
            None,
        ))
    };
    Ok(outcome.and_then(|s| {
        let id = Some(s.standing.token_id.to_string());
        if s.standing.org_id != org_id {
            // Said the same way as an unknown token: the caller learns
            // nothing about another organization's tokens.
            return Err(Refusal::invalid("invalid subject token", None));
        }
        if s.standing.workspace_id.is_none() {
            return Err(Refusal::invalid(
                "the subject token is an organization SAT; only workspace SATs act in workspace services",
                id,
            ));
        }
        if s.standing.created_at > at + skew {
            // Credited with work from before it existed (beyond the skew a
            // service's clock, or a time without its fraction, may have).
            return Err(Refusal {
                inactive: true,
                detail: "at occurred_at: the token did not exist yet".into(),
                token_id: id,
            });
        }
        Ok(s)
    }))
}

async fn sat(
    services: &Services,
    org_id: Uuid,
    value: &str,
    at: Timestamp,
) -> Result<Result<Subject, Refusal>, UseCaseError> {
    match verify_sat_at(&services.db, &services.peppers, &services.tokens, value, at).await {
        Ok(standing) => Ok(Ok(Subject {
            permissions: standing.permissions.clone(),
            standing,
            credential: Credential::Sat,
        })),
        Err(VerifyError::Refused(r)) => Ok(Err(refusal(r.refusal, r.token_id, r.org_id, org_id))),
        Err(VerifyError::Store(e)) => Err(e.into()),
    }
}

/// A token refusal as the intake says it. Unknown ids, wrong secrets,
/// malformed values and another organization's tokens (whatever their
/// state) read alike.
fn refusal(
    r: TokenRefusal,
    token_id: Option<TokenId>,
    org: Option<Uuid>,
    caller_org: Uuid,
) -> Refusal {
    if org != Some(caller_org) {
        return Refusal::invalid("invalid subject token", None);
    }
    let id = token_id.map(|i| i.to_string());
    match r {
        TokenRefusal::Malformed(_) | TokenRefusal::Unknown | TokenRefusal::BadSecret => {
            Refusal::invalid("invalid subject token", None)
        }
        other => Refusal {
            inactive: true,
            detail: format!("at occurred_at: {other}"),
            token_id: id,
        },
    }
}

async fn jwt(
    services: &Services,
    jwks: &Value,
    org_id: Uuid,
    value: &str,
    at: Timestamp,
    skew: time::Duration,
) -> Result<Result<Subject, Refusal>, UseCaseError> {
    let invalid = || Ok(Err(Refusal::invalid("invalid subject token", None)));
    // Exchanged tokens are typed `JWT`; sessions and checkpoints, signed
    // with the same keys, are not subject tokens.
    if signing::jws_type(value).as_deref() != Some("JWT") {
        return invalid();
    }
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    let Ok(claims) = signing::verify_jws_with(value, jwks, &validation) else {
        return invalid();
    };
    let (Some(sub), Some(iat), Some(exp), Some(jti), Some(granted)) = (
        claims["sub"].as_str().and_then(TokenId::parse),
        claims["iat"].as_i64(),
        claims["exp"].as_i64(),
        claims["jti"].as_str(),
        claims["permissions"].as_array(),
    ) else {
        return invalid();
    };
    let names: Vec<&str> = granted.iter().filter_map(Value::as_str).collect();
    let Ok(permissions) = PermissionSet::for_level(TokenLevel::Workspace, &names) else {
        return invalid();
    };
    if claims["org"].as_str() != Some(org_id.to_string().as_str()) {
        return invalid();
    }
    let at_secs = at.unix_seconds();
    if at_secs >= exp || at_secs + skew.whole_seconds() < iat {
        return Ok(Err(Refusal {
            inactive: true,
            detail: "at occurred_at: the exchanged token was not valid (before its iat or after its exp)".into(),
            token_id: Some(sub.to_string()),
        }));
    }
    let standing = match sat_standing_at(&services.db, &services.tokens, &sub, at).await {
        Ok(s) => s,
        Err(VerifyError::Refused(r)) => {
            return Ok(Err(refusal(r.refusal, r.token_id, r.org_id, org_id)));
        }
        Err(VerifyError::Store(e)) => return Err(e.into()),
    };
    if claims["org"].as_str() != Some(standing.org_id.to_string().as_str()) {
        return invalid();
    }
    Ok(Ok(Subject {
        standing,
        permissions,
        credential: Credential::Jwt {
            jti: jti.to_string(),
        },
    }))
}
