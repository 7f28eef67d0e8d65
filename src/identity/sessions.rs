//! Admin sign-in sessions: a short-lived JWT naming the member, checked on
//! every request against the member's current state, so that deactivation
//! or demotion ends every session at once.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::members;
use crate::permissions::Principal;
use crate::signing::{Signer, SigningError, jws_type, verify_jws_with};
use crate::store::{Db, Timestamp};

const AUDIENCE: &str = "scimitar:session";
/// The JWS `typ` of a session, so that no other token signed with the same
/// keys (an exchanged token, a checkpoint) can pass for one.
pub const SESSION_TYP: &str = "session+jwt";

/// Issues and checks sessions with the server's signing keys (EdDSA), the
/// keys that also sign exchanged tokens and audit checkpoints.
#[derive(Clone)]
pub struct SessionKeys {
    signer: Arc<Signer>,
    ttl_seconds: i64,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionKeys(ttl {}s)", self.ttl_seconds)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    org: Uuid,
    aud: String,
    iat: i64,
    exp: i64,
    /// Issue time in microseconds: compared with the member's
    /// `sessions_valid_from`, which has that precision.
    iat_us: i64,
    jti: Uuid,
}

/// Why a session was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionRefusal {
    #[error("session invalid or expired")]
    Invalid,
    #[error("session ended: the member was deactivated, deleted or demoted")]
    Ended,
}

impl SessionKeys {
    pub fn new(signer: Arc<Signer>, ttl_seconds: i64) -> Self {
        Self {
            signer,
            ttl_seconds,
        }
    }

    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    pub fn issue(
        &self,
        org_id: Uuid,
        member_id: Uuid,
        now: Timestamp,
    ) -> Result<String, SigningError> {
        let iat = now.unix_seconds();
        let claims = Claims {
            sub: member_id,
            org: org_id,
            aud: AUDIENCE.to_string(),
            iat,
            exp: iat + self.ttl_seconds,
            iat_us: (now.inner().unix_timestamp_nanos() / 1000) as i64,
            jti: Uuid::new_v4(),
        };
        self.signer
            .sign_jws_typed(SESSION_TYP, &claims)
            .map(|(jws, _)| jws)
    }

    /// Verifies the JWT and the member behind it. Returns the principal and
    /// when the session ends, or the refusal; `Err` only on storage failure.
    pub async fn check(
        &self,
        db: &Db,
        jwt: &str,
        now: Timestamp,
    ) -> Result<Result<(Principal, Timestamp), (SessionRefusal, Option<Uuid>)>, super::IdentityError>
    {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = 0;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        if jws_type(jwt).as_deref() != Some(SESSION_TYP) {
            return Ok(Err((SessionRefusal::Invalid, None)));
        }
        let claims = verify_jws_with(jwt, &self.signer.jwks(), &validation)
            .ok()
            .and_then(|v| serde_json::from_value::<Claims>(v).ok());
        let (claims, ends) =
            match claims.and_then(|c| Some((Timestamp::from_unix_seconds(c.exp)?, c))) {
                Some((ends, c)) if ends > now => (c, ends),
                _ => return Ok(Err((SessionRefusal::Invalid, None))),
            };
        let Some(creds) = members::credentials_by_id(db, claims.org, claims.sub).await? else {
            return Ok(Err((SessionRefusal::Ended, Some(claims.org))));
        };
        let valid_from_us =
            (creds.sessions_valid_from.inner().unix_timestamp_nanos() / 1000) as i64;
        if !creds.member.active || claims.iat_us < valid_from_us {
            return Ok(Err((SessionRefusal::Ended, Some(claims.org))));
        }
        let principal = Principal::Session {
            org_id: claims.org,
            member_id: claims.sub,
            role: creds.member.role(),
            user_name: creds.member.user_name,
        };
        Ok(Ok((principal, ends)))
    }
}
