//! Admin sign-in sessions: a short-lived JWT naming the member, checked on
//! every request against the member's current state, so that deactivation
//! or demotion ends every session at once.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::members;
use crate::permissions::Principal;
use crate::store::settings::{from_hex, get_or_create, random_key_hex};
use crate::store::{Db, StoreError, Timestamp};

const KEY_SETTING: &str = "session_hmac_key.v1";
const AUDIENCE: &str = "scimitar:session";

#[derive(Clone)]
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
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
    pub async fn load(db: &Db, ttl_seconds: i64) -> Result<Self, StoreError> {
        let hex = get_or_create(db, KEY_SETTING, random_key_hex).await?;
        let key = from_hex(&hex).ok_or_else(|| {
            StoreError::Url(format!("{KEY_SETTING} in server_settings is not hex"))
        })?;
        let bad = |e: jsonwebtoken::errors::Error| StoreError::Url(format!("session key: {e}"));
        Ok(Self {
            encoding: EncodingKey::from_secret(&key).map_err(bad)?,
            decoding: DecodingKey::from_secret(&key).map_err(bad)?,
            ttl_seconds,
        })
    }

    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    pub fn issue(&self, org_id: Uuid, member_id: Uuid, now: Timestamp) -> String {
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
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing does not fail")
    }

    /// Verifies the JWT and the member behind it. Returns the principal, or
    /// the refusal; `Err` only on storage failure.
    pub async fn check(
        &self,
        db: &Db,
        jwt: &str,
        now: Timestamp,
    ) -> Result<Result<Principal, (SessionRefusal, Option<Uuid>)>, super::IdentityError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        let claims = match jsonwebtoken::decode::<Claims>(jwt, &self.decoding, &validation) {
            Ok(data) if data.claims.exp > now.unix_seconds() => data.claims,
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
        Ok(Ok(Principal::Session {
            org_id: claims.org,
            member_id: claims.sub,
            role: creds.member.role(),
            user_name: creds.member.user_name,
        }))
    }
}
