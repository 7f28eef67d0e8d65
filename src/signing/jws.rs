//! Ed25519 key pairs, compact JWS (alg `EdDSA`) and JWK sets (RFC 7517,
//! RFC 8037). Verification needs nothing but a JWKS, so that it runs
//! offline: in other services, and in `scimitar audit verify`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::SigningError;

/// Why a JWS was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("algorithm `{0}` is not accepted (EdDSA only)")]
    Algorithm(String),
    #[error("the JWS header has no `kid`")]
    NoKid,
    #[error("key `{0}` is not in the JWKS")]
    UnknownKid(String),
    #[error("key `{0}` in the JWKS is not a usable Ed25519 signing key")]
    BadJwk(String),
    #[error("bad signature")]
    BadSignature,
    #[error("expired")]
    Expired,
    #[error("invalid claims: {0}")]
    Claims(String),
}

/// An Ed25519 key pair with its key id: the RFC 7638 thumbprint of its
/// public JWK, so that the id names the key and nothing else.
pub struct KeyPair {
    kid: String,
    /// Zeroized on drop.
    signing: ed25519_dalek::SigningKey,
    public: [u8; 32],
    encoding: EncodingKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair(kid {})", self.kid)
    }
}

impl KeyPair {
    /// A new random key pair.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        let pair = Self::from_seed(&seed).expect("a random seed makes a valid key");
        seed.fill(0);
        pair
    }

    /// The key pair of a 32-byte Ed25519 secret key (RFC 8032 seed).
    pub fn from_seed(seed: &[u8]) -> Result<Self, SigningError> {
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| SigningError::Invalid("an Ed25519 secret key is 32 bytes".into()))?;
        let signing = ed25519_dalek::SigningKey::from_bytes(seed);
        let public = signing.verifying_key().to_bytes();
        let der = signing
            .to_pkcs8_der()
            .map_err(|_| SigningError::Invalid("cannot encode the Ed25519 key".into()))?;
        Ok(Self {
            kid: thumbprint(&public),
            signing,
            public,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The secret key, for encrypting it at rest. Callers wipe the copy.
    pub(super) fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The public JWK.
    pub fn jwk(&self) -> Value {
        public_jwk(&self.kid, &self.public)
    }

    /// `claims` as a compact JWS: header `{"alg":"EdDSA","typ":"JWT","kid"}`.
    pub fn sign_jws(&self, claims: &impl Serialize) -> Result<String, SigningError> {
        self.sign_jws_typed("JWT", claims)
    }

    /// Like [`KeyPair::sign_jws`] with an explicit `typ` (RFC 8725 §3.11),
    /// so that a JWS made for one purpose is not taken for another.
    pub fn sign_jws_typed(
        &self,
        typ: &str,
        claims: &impl Serialize,
    ) -> Result<String, SigningError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(typ.to_string());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| SigningError::Invalid(format!("cannot sign: {e}")))
    }
}

/// RFC 7638 thumbprint of an Ed25519 public key, base64url.
pub fn thumbprint(public: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The public JWK of an Ed25519 key (RFC 8037).
pub fn public_jwk(kid: &str, public: &[u8; 32]) -> Value {
    json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(public),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    })
}

/// The public key named `kid` in a JWKS, checked to be an Ed25519 signing key.
fn find_key(jwks: &Value, kid: &str) -> Result<DecodingKey, VerifyError> {
    let keys = jwks["keys"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let jwk = keys
        .iter()
        .find(|k| k["kid"].as_str() == Some(kid))
        .ok_or_else(|| VerifyError::UnknownKid(kid.to_string()))?;
    let bad = || VerifyError::BadJwk(kid.to_string());
    let optional_is = |field: &str, want: &str| jwk.get(field).is_none_or(|v| v == want);
    if jwk["kty"] != "OKP"
        || jwk["crv"] != "Ed25519"
        || !optional_is("alg", "EdDSA")
        || !optional_is("use", "sig")
    {
        return Err(bad());
    }
    let x = jwk["x"]
        .as_str()
        .and_then(|x| URL_SAFE_NO_PAD.decode(x).ok())
        .filter(|x| x.len() == 32)
        .ok_or_else(bad)?;
    Ok(DecodingKey::from_ed_der(&x))
}

/// Verifies a compact JWS against a JWKS and returns its claims. Checks the
/// algorithm (EdDSA only), that the `kid` is published, the signature, and
/// `exp` when the claims have one. Other claims (`aud`, `iss`, …) are the
/// caller's to check, or use [`verify_jws_with`].
pub fn verify_jws(jws: &str, jwks: &Value) -> Result<Value, VerifyError> {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_aud = false;
    validation.leeway = 0;
    verify_jws_with(jws, jwks, &validation)
}

/// [`verify_jws`] with the caller's claim validation (its `algorithms` are
/// ignored: only EdDSA is accepted).
pub fn verify_jws_with(
    jws: &str,
    jwks: &Value,
    validation: &Validation,
) -> Result<Value, VerifyError> {
    let header = jsonwebtoken::decode_header(jws).map_err(|_| VerifyError::Malformed)?;
    if header.alg != Algorithm::EdDSA {
        return Err(VerifyError::Algorithm(format!("{:?}", header.alg)));
    }
    let kid = header.kid.ok_or(VerifyError::NoKid)?;
    let key = find_key(jwks, &kid)?;
    let mut validation = validation.clone();
    validation.algorithms = vec![Algorithm::EdDSA];
    use jsonwebtoken::errors::ErrorKind;
    jsonwebtoken::decode::<Value>(jws, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => VerifyError::BadSignature,
            ErrorKind::ExpiredSignature => VerifyError::Expired,
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => VerifyError::Malformed,
            ErrorKind::InvalidEddsaKey | ErrorKind::InvalidKeyFormat => {
                VerifyError::BadJwk(kid.clone())
            }
            _ => VerifyError::Claims(e.to_string()),
        })
}

/// The `typ` of a JWS header, without verifying anything.
pub fn jws_type(jws: &str) -> Option<String> {
    jsonwebtoken::decode_header(jws).ok().and_then(|h| h.typ)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwks_of(pairs: &[&KeyPair]) -> Value {
        json!({ "keys": pairs.iter().map(|p| p.jwk()).collect::<Vec<_>>() })
    }

    #[test]
    fn sign_and_verify() {
        let key = KeyPair::generate();
        let jws = key.sign_jws(&json!({ "chain": "c", "seq": 7 })).unwrap();
        let header = jsonwebtoken::decode_header(&jws).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        let claims = verify_jws(&jws, &jwks_of(&[&key])).unwrap();
        assert_eq!(claims, json!({ "chain": "c", "seq": 7 }));

        let typed = key
            .sign_jws_typed("audit-checkpoint+jwt", &json!({ "seq": 1 }))
            .unwrap();
        assert_eq!(jws_type(&typed).as_deref(), Some("audit-checkpoint+jwt"));
        assert!(verify_jws(&typed, &jwks_of(&[&key])).is_ok());
    }

    #[test]
    fn verification_refuses_what_it_should() {
        let key = KeyPair::generate();
        let other = KeyPair::generate();
        let jwks = jwks_of(&[&key]);
        let jws = key.sign_jws(&json!({ "seq": 1 })).unwrap();

        // Another key's signature, and a key that is not published.
        let by_other = other.sign_jws(&json!({ "seq": 1 })).unwrap();
        assert_eq!(
            verify_jws(&by_other, &jwks),
            Err(VerifyError::UnknownKid(other.kid().to_string()))
        );
        // Another key's signature under the published kid.
        let mut parts: Vec<&str> = jws.split('.').collect();
        let other_sig = by_other.rsplit('.').next().unwrap();
        parts[2] = other_sig;
        assert_eq!(
            verify_jws(&parts.join("."), &jwks),
            Err(VerifyError::BadSignature)
        );
        // Changed claims.
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"seq":2}"#);
        let mut parts: Vec<&str> = jws.split('.').collect();
        parts[1] = &forged_claims;
        assert_eq!(
            verify_jws(&parts.join("."), &jwks),
            Err(VerifyError::BadSignature)
        );
        // Garbage, and an empty JWKS.
        assert_eq!(verify_jws("nope", &jwks), Err(VerifyError::Malformed));
        assert!(matches!(
            verify_jws(&jws, &json!({})),
            Err(VerifyError::UnknownKid(_))
        ));
        // A JWK that is not Ed25519, or whose x is the wrong length.
        let mut wrong = key.jwk();
        wrong["x"] = json!(URL_SAFE_NO_PAD.encode([1u8; 31]));
        assert!(matches!(
            verify_jws(&jws, &json!({ "keys": [wrong] })),
            Err(VerifyError::BadJwk(_))
        ));
        let mut wrong = key.jwk();
        wrong["crv"] = json!("X25519");
        assert!(matches!(
            verify_jws(&jws, &json!({ "keys": [wrong] })),
            Err(VerifyError::BadJwk(_))
        ));
        // An HS256 token is refused before any key is tried.
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({ "seq": 1 }),
            &EncodingKey::from_secret(b"k").unwrap(),
        )
        .unwrap();
        assert!(matches!(
            verify_jws(&hs, &jwks),
            Err(VerifyError::Algorithm(_))
        ));
        // An expired one.
        let old = key.sign_jws(&json!({ "exp": 1_000_000 })).unwrap();
        assert_eq!(verify_jws(&old, &jwks), Err(VerifyError::Expired));
    }

    #[test]
    fn jwk_shape() {
        let key = KeyPair::from_seed(&[7u8; 32]).unwrap();
        let jwk = key.jwk();
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["alg"], "EdDSA");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"], key.kid());
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
        assert_eq!(x, key.public_key());
        assert_eq!(
            jwk.as_object().unwrap().len(),
            6,
            "public parts only: {jwk}"
        );
        // The kid is the RFC 7638 thumbprint: 32 bytes, base64url.
        assert_eq!(key.kid().len(), 43);
        assert_eq!(KeyPair::from_seed(&[7u8; 32]).unwrap().kid(), key.kid());
        // RFC 8037 appendix A.1/A.3: the test key's public half and thumbprint.
        let seed = hex(b"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let rfc = KeyPair::from_seed(&seed).unwrap();
        assert_eq!(
            rfc.jwk()["x"],
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
        assert_eq!(rfc.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        assert!(!format!("{rfc:?}").contains("9d61"));
    }

    fn hex(s: &[u8]) -> Vec<u8> {
        crate::store::settings::from_hex(std::str::from_utf8(s).unwrap()).unwrap()
    }
}
