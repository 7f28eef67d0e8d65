//! A sign-in in flight: what the start hands the browser (a sealed cookie)
//! and what the callback needs back: the organization, the `state` sent to
//! the identity provider, the `nonce` the ID token must carry, the PKCE
//! verifier, which answer is wanted (an API session or the console's
//! cookie) and when it expires. Nothing is written at the start; the
//! callback records the state as used, in the transaction of its audit
//! record, so that a state signs in once on every instance.
//!
//! The cookie is sealed with the key-encryption key: the browser carries it
//! but can neither read the verifier nor change the organization. Binding
//! the state to the browser's cookie also stops a callback link made by
//! someone else from signing this browser in (login CSRF).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::SsoError;
use crate::signing::Kek;
use crate::store::{Db, Timestamp, Tx};
use crate::{on_db, on_tx};

/// How long a person has to sign in at the identity provider.
pub const FLOW_TTL_SECONDS: i64 = 600;

/// The cookie that carries a sign-in in flight.
pub const COOKIE: &str = "scimitar_sso";

const AAD: &[u8] = b"scimitar sso flow v1";

/// Which answer the callback gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// `{"access_token", "token_type", "expires_in"}`, as `/auth/login`.
    Api,
    /// The console's session cookie, and a redirect into the console.
    Console,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Flow {
    pub state_id: Uuid,
    pub state: String,
    pub org_id: Uuid,
    pub nonce: String,
    verifier: String,
    pub outcome: Outcome,
    pub expires_at: i64,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("state_id", &self.state_id)
            .field("org_id", &self.org_id)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Flow {
    pub fn begin(org_id: Uuid, outcome: Outcome, now: Timestamp) -> Self {
        Flow {
            state_id: Uuid::new_v4(),
            state: random(),
            org_id,
            nonce: random(),
            verifier: random(),
            outcome,
            expires_at: now.unix_seconds() + FLOW_TTL_SECONDS,
        }
    }

    /// The PKCE S256 challenge of the verifier (RFC 7636, section 4.2).
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }

    pub fn verifier(&self) -> &str {
        &self.verifier
    }

    /// The cookie value: the KEK's id, then nonce and ciphertext.
    pub fn seal(&self, kek: &Kek) -> String {
        let json = serde_json::to_vec(self).expect("a flow serializes");
        let (nonce, ct) = kek.encrypt(&json, AAD);
        let mut sealed = nonce;
        sealed.extend_from_slice(&ct);
        format!("{}.{}", kek.id(), URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The flow of a cookie, if it was sealed here, is unaltered, belongs
    /// to `state` and has not expired.
    pub fn open(kek: &Kek, cookie: &str, state: &str, now: Timestamp) -> Option<Flow> {
        let (kek_id, sealed) = cookie.split_once('.')?;
        let sealed = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if sealed.len() <= crate::signing::KEK_NONCE_LEN {
            return None;
        }
        let (nonce, ct) = sealed.split_at(crate::signing::KEK_NONCE_LEN);
        let json = kek.decrypt(kek_id, nonce, ct, AAD).ok()?;
        let flow: Flow = serde_json::from_slice(&json).ok()?;
        let same = flow.state.as_bytes().ct_eq(state.as_bytes()).into();
        (same && flow.expires_at > now.unix_seconds()).then_some(flow)
    }
}

/// Whether the flow's state has already come back once.
pub async fn is_used(db: &Db, flow: &Flow) -> Result<bool, SsoError> {
    let found: Option<i32> = on_db!(db, pool => {
        sqlx::query_scalar("SELECT 1 FROM sso_used_states WHERE state_id = $1")
            .bind(flow.state_id)
            .fetch_optional(pool)
            .await
    })?;
    Ok(found.is_some())
}

/// Records the flow's state as used (pruning states that expired anyway);
/// false when it already was: a replay that raced this one.
pub async fn use_in(tx: &mut Tx, flow: &Flow, now: Timestamp) -> Result<bool, SsoError> {
    on_tx!(tx, conn => {
        sqlx::query("DELETE FROM sso_used_states WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    let expires_at = Timestamp::from_unix_seconds(flow.expires_at).unwrap_or(now);
    let inserted = on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO sso_used_states (state_id, org_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(flow.state_id)
        .bind(flow.org_id)
        .bind(expires_at)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(inserted == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_flow_opens_only_with_its_state_before_it_expires() {
        let kek = Kek::parse(&"cd".repeat(32)).unwrap();
        let now = Timestamp::now();
        let flow = Flow::begin(Uuid::new_v4(), Outcome::Api, now);
        let cookie = flow.seal(&kek);
        assert!(!cookie.contains(&flow.verifier));
        let opened = Flow::open(&kek, &cookie, &flow.state, now).expect("opens");
        assert_eq!(opened.org_id, flow.org_id);
        assert_eq!(opened.challenge(), flow.challenge());
        assert!(Flow::open(&kek, &cookie, "another state", now).is_none());
        let later = Timestamp::from_unix_seconds(now.unix_seconds() + FLOW_TTL_SECONDS).unwrap();
        assert!(Flow::open(&kek, &cookie, &flow.state, later).is_none());
        let other = Kek::parse(&"ef".repeat(32)).unwrap();
        assert!(Flow::open(&other, &cookie, &flow.state, now).is_none());
        let mut altered = cookie.clone();
        altered.pop();
        altered.push(if cookie.ends_with('A') { 'B' } else { 'A' });
        assert!(Flow::open(&kek, &altered, &flow.state, now).is_none());
    }

    #[test]
    fn the_challenge_is_rfc_7636_s256() {
        // RFC 7636, appendix B.
        let mut flow = Flow::begin(Uuid::nil(), Outcome::Api, Timestamp::now());
        flow.verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into();
        assert_eq!(
            flow.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
