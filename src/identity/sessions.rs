//! Admin sign-in sessions: a short-lived JWT naming the member, checked on
//! every request against the member's current state, so that deactivation
//! or demotion ends every session at once, and against the sessions signed
//! out (`ended_sessions`), so that signing out ends one session everywhere.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::members;
use crate::audit::{AuditEvent, AuditWriter, Change};
use crate::permissions::Principal;
use crate::signing::{Signer, SigningError, jws_type, verify_jws_with};
use crate::store::{Db, Timestamp, Tx};
use crate::{on_db, on_tx};

const AUDIENCE: &str = "scimitar:session";
/// The JWS `typ` of a session, so that no other token signed with the same
/// keys (an exchanged token, a checkpoint) can pass for one.
pub const SESSION_TYP: &str = "session+jwt";

/// How far ahead of this instance's clock a session's `iat`, `iat_us` or
/// `nbf` may be. Instances' clocks differ a little, and a session issued by
/// one may be used on another at once. Anything further ahead was not
/// issued by a server in good order, and would be worse than odd: a session
/// dated ahead outlives a later deactivation or demotion, whose
/// `sessions_valid_from` ends only the sessions issued before it.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 60;

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
    /// Never issued here; honoured (with the same skew) if a session has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
}

impl Claims {
    /// Whether the session claims to be issued, or to start, later than
    /// `now` plus [`MAX_CLOCK_SKEW_SECONDS`].
    fn is_dated_ahead(&self, now: Timestamp) -> bool {
        let latest = now.unix_seconds().saturating_add(MAX_CLOCK_SKEW_SECONDS);
        let latest_us =
            (now.inner().unix_timestamp_nanos() / 1000) as i64 + MAX_CLOCK_SKEW_SECONDS * 1_000_000;
        self.iat > latest || self.iat_us > latest_us || self.nbf.is_some_and(|nbf| nbf > latest)
    }
}

/// Why a session was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionRefusal {
    #[error("session invalid or expired")]
    Invalid,
    #[error("session ended: the member was deactivated, deleted or demoted")]
    Ended,
    #[error("session ended: it was signed out")]
    SignedOut,
}

/// Why a session could not be verified: refused (an expected outcome, with
/// the session's organization when it is known), or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Refused(SessionRefusal, Option<Uuid>),
    #[error(transparent)]
    Failed(#[from] super::IdentityError),
}

impl From<sqlx::Error> for SessionError {
    fn from(e: sqlx::Error) -> Self {
        SessionError::Failed(e.into())
    }
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
            nbf: None,
        };
        self.signer
            .sign_jws_typed(SESSION_TYP, &claims)
            .map(|(jws, _)| jws)
    }

    /// The claims of a well-signed session JWT that has not expired and is
    /// not dated ahead (see [`MAX_CLOCK_SKEW_SECONDS`]), and when it ends.
    /// Says nothing of the member or of signing out.
    fn decode(&self, jwt: &str, now: Timestamp) -> Option<(Claims, Timestamp)> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = 0;
        // `nbf` is checked below, against this instance's `now` and with the
        // skew `iat` gets, rather than by the library's clock.
        validation.validate_nbf = false;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        if jws_type(jwt).as_deref() != Some(SESSION_TYP) {
            return None;
        }
        // Only keys that may have signed a session still alive: a key
        // superseded longer ago (by a rotation, or by adopting a configured
        // KEK) signs no session, even for whoever holds an old backup.
        let keys = self
            .signer
            .token_jwks(now, time::Duration::seconds(self.ttl_seconds));
        let claims = verify_jws_with(jwt, &keys, &validation)
            .ok()
            .and_then(|v| serde_json::from_value::<Claims>(v).ok())?;
        if claims.is_dated_ahead(now) {
            return None;
        }
        let ends = Timestamp::from_unix_seconds(claims.exp)?;
        (ends > now).then_some((claims, ends))
    }

    /// Verifies the JWT and the member behind it. Returns the principal and
    /// when the session ends.
    pub async fn check(
        &self,
        db: &Db,
        jwt: &str,
        now: Timestamp,
    ) -> Result<(Principal, Timestamp), SessionError> {
        let Some((claims, ends)) = self.decode(jwt, now) else {
            return Err(SessionError::Refused(SessionRefusal::Invalid, None));
        };
        let principal = Self::still_valid(db, &claims).await?;
        Ok((principal, ends))
    }

    /// Whether the session of `claims` (well signed, not expired) is still
    /// on: not signed out, and its member active and unchanged since.
    async fn still_valid(db: &Db, claims: &Claims) -> Result<Principal, SessionError> {
        let signed_out: Option<i32> = on_db!(db, pool => {
            sqlx::query_scalar("SELECT 1 FROM ended_sessions WHERE jti = $1")
                .bind(claims.jti)
                .fetch_optional(pool)
                .await
        })?;
        if signed_out.is_some() {
            return Err(SessionError::Refused(
                SessionRefusal::SignedOut,
                Some(claims.org),
            ));
        }
        let Some(creds) = members::credentials_by_id(db, claims.org, claims.sub).await? else {
            return Err(SessionError::Refused(
                SessionRefusal::Ended,
                Some(claims.org),
            ));
        };
        let valid_from_us =
            (creds.sessions_valid_from.inner().unix_timestamp_nanos() / 1000) as i64;
        if !creds.member.active || claims.iat_us < valid_from_us {
            return Err(SessionError::Refused(
                SessionRefusal::Ended,
                Some(claims.org),
            ));
        }
        let principal = Principal::Session {
            org_id: claims.org,
            member_id: claims.sub,
            access: creds.member.access(),
            user_name: creds.member.user_name,
        };
        Ok(principal)
    }

    /// Signs the session `jwt` out: from now on every instance refuses it.
    /// `event` (`auth.logout`, by the session's own caller) is recorded in
    /// the same transaction. Returns false, changing nothing, when `jwt` is
    /// no session that could still be used.
    pub async fn end(
        &self,
        writer: &AuditWriter,
        jwt: &str,
        event: AuditEvent,
    ) -> Result<bool, super::IdentityError> {
        let now = Timestamp::now();
        let Some((claims, ends)) = self.decode(jwt, now) else {
            return Ok(false);
        };
        writer
            .write(
                async |tx: &mut Tx| -> Result<Change<()>, super::IdentityError> {
                    // Rows of sessions that have expired anyway are no longer needed.
                    on_tx!(tx, conn => {
                        sqlx::query("DELETE FROM ended_sessions WHERE ends_at < $1")
                            .bind(now)
                            .execute(&mut *conn)
                            .await
                            .map(|_| ())
                    })?;
                    on_tx!(tx, conn => {
                        sqlx::query(
                            "INSERT INTO ended_sessions (jti, org_id, ends_at) VALUES ($1, $2, $3) \
                             ON CONFLICT DO NOTHING",
                        )
                        .bind(claims.jti)
                        .bind(claims.org)
                        .bind(ends)
                        .execute(&mut *conn)
                        .await
                        .map(|_| ())
                    })?;
                    Ok(Change::Made((), event))
                },
                || (),
            )
            .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims_at(now: Timestamp, ahead_s: i64, ahead_us: i64, nbf_ahead: Option<i64>) -> Claims {
        let s = now.unix_seconds();
        let us = (now.inner().unix_timestamp_nanos() / 1000) as i64;
        Claims {
            sub: Uuid::new_v4(),
            org: Uuid::new_v4(),
            aud: AUDIENCE.into(),
            iat: s + ahead_s,
            exp: s + 900,
            iat_us: us + ahead_us,
            jti: Uuid::new_v4(),
            nbf: nbf_ahead.map(|n| s.saturating_add(n)),
        }
    }

    #[test]
    fn only_dates_beyond_the_clock_skew_count_as_ahead() {
        let now = Timestamp::now();
        let skew = MAX_CLOCK_SKEW_SECONDS;
        assert!(!claims_at(now, 0, 0, None).is_dated_ahead(now));
        assert!(!claims_at(now, skew, skew * 1_000_000, Some(skew)).is_dated_ahead(now));
        assert!(!claims_at(now, -3600, -3600 * 1_000_000, Some(-3600)).is_dated_ahead(now));
        // Each of the three on its own.
        assert!(claims_at(now, skew + 1, 0, None).is_dated_ahead(now));
        assert!(claims_at(now, 0, (skew + 1) * 1_000_000, None).is_dated_ahead(now));
        assert!(claims_at(now, 0, 0, Some(skew + 1)).is_dated_ahead(now));
        assert!(claims_at(now, 0, 0, Some(i64::MAX)).is_dated_ahead(now));
    }
}
