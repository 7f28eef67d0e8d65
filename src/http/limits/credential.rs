//! What names a presented credential for the failed-authentication limits:
//! a token by its id (public), a session by a digest of its value (never
//! the value: the key lives in memory only, but a session is a bearer
//! secret), a sign-in by its organization and user name. The names of
//! different kinds never collide.

use sha2::{Digest, Sha256};

use crate::tokens::PlainToken;

/// A token, by its id.
pub fn token(id: &str) -> String {
    format!("token:{id}")
}

/// A session JWT, by the first 16 bytes of its SHA-256.
pub fn session(jwt: &str) -> String {
    let digest = Sha256::digest(jwt.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("session:{hex}")
}

/// A sign-in, by organization (as typed) and user name (without case, as
/// user names compare); the organization's length keeps the two apart.
pub fn sign_in(organization: &str, user_name: &str) -> String {
    format!(
        "sign_in:{}:{organization}:{}",
        organization.len(),
        user_name.to_lowercase()
    )
}

/// A bearer value: a token by its id (even a malformed one whose id can be
/// read), any other value as a session.
pub fn bearer(value: &str) -> String {
    if PlainToken::looks_like_token(value) {
        match PlainToken::id_hint(value) {
            Some(id) => token(&id.to_string()),
            None => "token:malformed".to_string(),
        }
    } else {
        session(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_never_collide_and_a_session_value_is_not_kept() {
        let jwt = "eyJhbGciOiJFZERTQSJ9.e30.c2ln";
        let s = session(jwt);
        assert!(s.starts_with("session:") && !s.contains(jwt));
        assert_ne!(token("abc"), session("abc"));
        assert_eq!(sign_in("acme", "Alice"), sign_in("acme", "alice"));
        assert_ne!(sign_in("a", "b:c"), sign_in("a:b", "c"));
    }
}
