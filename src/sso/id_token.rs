//! ID token validation (OpenID Connect Core 1.0, section 3.1.3.7): the
//! signature against the issuer's JWKS and `iss`, `aud`, `exp` and `nbf` by
//! `jsonwebtoken`; then what that crate leaves to OpenID Connect: `iat` not
//! ahead of the clock, the `nonce` this sign-in sent, and `azp` when the
//! token has several audiences. Symmetric and `none` algorithms are never
//! accepted: the key must come from the issuer's JWKS.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

/// How far the identity provider's clock may be from ours.
pub const CLOCK_SKEW_SECONDS: u64 = 60;

const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What the token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
}

/// Why a token was refused. The text is for logs and audit records; it
/// never contains the token.
#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    /// No key of the JWKS has the token's `kid`: the JWKS may be stale.
    UnknownKey,
    BadNonce,
    Other(String),
}

/// The keys of a JWKS document that can verify signatures; keys of other
/// types or uses are skipped rather than failing the whole set.
pub fn keys_of(jwks: &Value) -> Vec<Jwk> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|k| {
            k.get("use")
                .and_then(Value::as_str)
                .is_none_or(|u| u == "sig")
        })
        .filter_map(|k| serde_json::from_value(k.clone()).ok())
        .collect()
}

/// The claims of a valid ID token at `now` (Unix seconds).
pub fn validate(
    token: &str,
    keys: &[Jwk],
    expected: &Expected<'_>,
    now: i64,
) -> Result<Map<String, Value>, Invalid> {
    let other = |why: &str| Invalid::Other(why.to_string());
    let header = jsonwebtoken::decode_header(token).map_err(|_| other("malformed ID token"))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(Invalid::Other(format!(
            "ID token algorithm {:?} is not accepted",
            header.alg
        )));
    }
    let jwk = match &header.kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid.as_str())),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
    .ok_or(Invalid::UnknownKey)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| other("the issuer's key is unusable"))?;
    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![header.alg];
    validation.leeway = CLOCK_SKEW_SECONDS;
    validation.validate_nbf = true;
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    use jsonwebtoken::errors::ErrorKind;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => other("ID token signature does not verify"),
            ErrorKind::ExpiredSignature => other("ID token expired"),
            ErrorKind::ImmatureSignature => other("ID token not yet valid"),
            ErrorKind::InvalidIssuer => other("ID token issuer is not the configured issuer"),
            ErrorKind::InvalidAudience => other("ID token audience is not this client"),
            ErrorKind::MissingRequiredClaim(c) => Invalid::Other(format!("ID token has no `{c}`")),
            _ => other("ID token malformed or not verifiable"),
        })?
        .claims;
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| other("ID token `iat` is not a number"))?;
    if iat > now + CLOCK_SKEW_SECONDS as i64 {
        return Err(other("ID token issued in the future"));
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if !bool::from(nonce.as_bytes().ct_eq(expected.nonce.as_bytes())) {
        return Err(Invalid::BadNonce);
    }
    let several = claims
        .get("aud")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() > 1);
    match claims.get("azp").map(Value::as_str) {
        Some(Some(azp)) if azp == expected.client_id => {}
        Some(_) => return Err(other("ID token `azp` is not this client")),
        None if several => return Err(other("ID token has several audiences and no `azp`")),
        None => {}
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::KeyPair;
    use serde_json::json;

    const ISS: &str = "https://idp.example";

    fn expected() -> Expected<'static> {
        Expected {
            issuer: ISS,
            client_id: "client-1",
            nonce: "n-1",
        }
    }

    /// An EdDSA key (the server's own kind of key pair) and its JWKS.
    fn signed(claims: Value) -> (String, Vec<Jwk>) {
        let pair = KeyPair::generate();
        let jws = pair.sign_jws(&claims).unwrap();
        let jwks = json!({ "keys": [crate::signing::public_jwk(pair.kid(), &pair.public_key())] });
        (jws, keys_of(&jwks))
    }

    fn claims(now: i64) -> Value {
        json!({
            "iss": ISS, "aud": "client-1", "sub": "u1", "iat": now, "exp": now + 300,
            "nonce": "n-1", "email": "bob@example.com"
        })
    }

    #[test]
    fn a_good_token_passes_and_each_check_refuses() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let (t, keys) = signed(claims(now));
        assert_eq!(
            validate(&t, &keys, &expected(), now).unwrap()["email"],
            "bob@example.com"
        );
        let with = |k: &str, v: Value| {
            let mut c = claims(now);
            c[k] = v;
            let (t, keys) = signed(c);
            validate(&t, &keys, &expected(), now)
        };
        assert_eq!(with("nonce", json!("other")), Err(Invalid::BadNonce));
        assert!(matches!(
            with("iss", json!("https://evil")),
            Err(Invalid::Other(_))
        ));
        assert!(matches!(
            with("aud", json!("client-2")),
            Err(Invalid::Other(_))
        ));
        assert!(matches!(
            with("exp", json!(now - 3600)),
            Err(Invalid::Other(_))
        ));
        assert!(matches!(
            with("iat", json!(now + 3600)),
            Err(Invalid::Other(_))
        ));
        assert!(matches!(
            with("aud", json!(["client-1", "client-2"])),
            Err(Invalid::Other(_))
        ));
        assert!(matches!(
            with("azp", json!("client-2")),
            Err(Invalid::Other(_))
        ));
        let mut both = claims(now);
        both["aud"] = json!(["client-1", "client-2"]);
        both["azp"] = json!("client-1");
        let (t, keys) = signed(both);
        assert!(validate(&t, &keys, &expected(), now).is_ok());
    }

    #[test]
    fn a_token_of_another_key_is_refused() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let (t, _) = signed(claims(now));
        let (_, other_keys) = signed(claims(now));
        assert_eq!(
            validate(&t, &other_keys, &expected(), now),
            Err(Invalid::UnknownKey)
        );
        // The same kid with another key's material: the signature fails.
        let (t2, keys2) = signed(claims(now));
        let mut forged = other_keys[0].clone();
        forged.common.key_id = keys2[0].common.key_id.clone();
        assert!(matches!(
            validate(&t2, &[forged], &expected(), now),
            Err(Invalid::Other(_))
        ));
    }

    #[test]
    fn symmetric_and_unsigned_tokens_are_refused() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims(now),
            &jsonwebtoken::EncodingKey::from_secret(b"client secret").unwrap(),
        )
        .unwrap();
        let (_, keys) = signed(claims(now));
        assert!(matches!(
            validate(&hs, &keys, &expected(), now),
            Err(Invalid::Other(_))
        ));
    }
}
