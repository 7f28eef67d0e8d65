//! The server-wide CSRF key of the web console, the same on every instance
//! (kept in `server_settings`): a form's CSRF token is an HMAC, under this
//! key, of the session it belongs to (or of the sign-in page's nonce
//! cookie), so it cannot be made for another session.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::store::{Db, StoreError, settings};

const KEY_SETTING: &str = "console_csrf_key";

/// The server-wide CSRF key.
#[derive(Clone)]
pub struct CsrfKey(Vec<u8>);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(..)")
    }
}

impl CsrfKey {
    /// Loads the key, creating it on first use.
    pub async fn load(db: &Db) -> Result<Self, StoreError> {
        let hex = settings::get_or_create(db, KEY_SETTING, settings::random_key_hex).await?;
        // A value that is not 32+ bytes of hex is still secret text: hash it.
        let bytes = settings::from_hex(&hex)
            .filter(|b| b.len() >= 32)
            .unwrap_or_else(|| {
                use sha2::Digest;
                Sha256::digest(hex.as_bytes()).to_vec()
            });
        Ok(Self(bytes))
    }

    fn mac(&self, purpose: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The CSRF token of a session (its JWT).
    pub fn for_session(&self, jwt: &str) -> String {
        self.mac("console-session", jwt)
    }

    /// The CSRF token of the sign-in form, bound to its nonce cookie.
    pub fn for_sign_in(&self, nonce: &str) -> String {
        self.mac("console-sign-in", nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_their_session() {
        let k = CsrfKey(vec![7; 32]);
        assert_eq!(k.for_session("a.b.c"), k.for_session("a.b.c"));
        assert_ne!(k.for_session("a.b.c"), k.for_session("a.b.d"));
        assert_ne!(k.for_session("n"), k.for_sign_in("n"));
    }
}
