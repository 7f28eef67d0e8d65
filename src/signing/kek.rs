//! The key-encryption key (KEK): what encrypts signing keys at rest, with
//! XChaCha20-Poly1305 and a random nonce per key.
//!
//! Production configures it (`SCIMITAR_KEY_ENCRYPTION_KEY`). Without one the
//! server generates a KEK and keeps it in `server_settings`, like the token
//! pepper: that keeps `cargo run` working, but then the database alone holds
//! everything needed to sign. It stays there until a configured KEK is
//! adopted (`adopt`), which deletes it.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use super::SigningError;
use crate::on_db;
use crate::store::Db;
use crate::store::settings::{self, from_hex, random_key_hex};

/// Where the generated KEK lives when none is configured.
pub const GENERATED_KEK_SETTING: &str = "key_encryption_key.v1";

/// Nonce length of XChaCha20-Poly1305.
pub const NONCE_LEN: usize = 24;

/// One 256-bit key and its public id (a short hash of the key, stored beside
/// each encrypted signing key so that the right KEK is picked).
#[derive(Clone)]
struct KekKey {
    key: [u8; 32],
    id: String,
}

impl KekKey {
    fn new(key: [u8; 32]) -> Self {
        let mut h = Sha256::new();
        h.update(b"scimitar key-encryption key id\0");
        h.update(key);
        let id = crate::store::settings::to_hex(&h.finalize()[..8]);
        Self { key, id }
    }
}

/// The key-encryption keys this process holds: the one that encrypts new
/// keys first, then (when a KEK is configured) the generated one an earlier
/// run may have used, so that its keys can still be read while the
/// configured KEK is adopted (see `adopt`).
#[derive(Clone)]
pub struct Kek {
    keys: Vec<KekKey>,
    /// Whether the first key is a configured one (not the generated one).
    configured: bool,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        write!(f, "Kek(ids {ids:?})")
    }
}

impl Kek {
    /// A KEK from its configured form: 64 hex digits (the 32 bytes
    /// themselves), or any other text of at least 32 bytes (hashed down to
    /// 32 bytes). The error never repeats the value.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.len() == 64
            && let Some(bytes) = from_hex(&value.to_ascii_lowercase())
        {
            let key: [u8; 32] = bytes.try_into().expect("64 hex digits are 32 bytes");
            return Ok(Self::from_bytes(key));
        }
        if value.len() < 32 {
            return Err("the key-encryption key must be 64 hex digits or at least 32 bytes".into());
        }
        let mut h = Sha256::new();
        h.update(b"scimitar key-encryption key\0");
        h.update(value.as_bytes());
        Ok(Self::from_bytes(h.finalize().into()))
    }

    /// A configured KEK of these 32 bytes.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self {
            keys: vec![KekKey::new(key)],
            configured: true,
        }
    }

    /// The KEK of this process: the configured one (plus the generated one,
    /// if an earlier run made it), or else the generated one, created on
    /// first use by whichever process runs first.
    pub async fn resolve(db: &Db, configured: Option<&str>) -> Result<Self, SigningError> {
        let generated = |hex: String| -> Result<KekKey, SigningError> {
            let bytes = from_hex(&hex)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    SigningError::Invalid(format!(
                        "{GENERATED_KEK_SETTING} in server_settings is not 32 bytes of hex"
                    ))
                })?;
            Ok(KekKey::new(bytes))
        };
        match configured {
            Some(value) => {
                let mut kek = Self::parse(value).map_err(SigningError::Invalid)?;
                if let Some(hex) = settings::get(db, GENERATED_KEK_SETTING).await? {
                    kek.keys.push(generated(hex)?);
                }
                Ok(kek)
            }
            None => {
                let hex = match settings::get(db, GENERATED_KEK_SETTING).await? {
                    Some(hex) => hex,
                    None => {
                        // Keys without a generated KEK are under a configured
                        // one (it was adopted): a new generated KEK would open
                        // none of them, and would only make the next start
                        // with the configured KEK adopt it again. Read the
                        // setting once more, as a first start elsewhere
                        // stores its KEK before its first key.
                        if any_signing_key(db).await?
                            && settings::get(db, GENERATED_KEK_SETTING).await?.is_none()
                        {
                            return Err(SigningError::KekRequired);
                        }
                        settings::get_or_create(db, GENERATED_KEK_SETTING, random_key_hex).await?
                    }
                };
                Ok(Self {
                    keys: vec![generated(hex)?],
                    configured: false,
                })
            }
        }
    }

    /// Whether the KEK that encrypts new keys was configured.
    pub fn is_configured(&self) -> bool {
        self.configured
    }

    /// Whether this process also holds the generated KEK beside a configured
    /// one: the database still has it, so it is still to be adopted.
    pub fn holds_generated(&self) -> bool {
        self.configured && self.keys.len() > 1
    }

    /// This KEK without the generated one, once it has been adopted.
    pub(super) fn configured_only(&self) -> Self {
        Self {
            keys: self.keys[..1].to_vec(),
            configured: self.configured,
        }
    }

    /// The id of the KEK that encrypts new keys.
    pub fn id(&self) -> &str {
        &self.keys[0].id
    }

    /// Encrypts `plaintext` under the primary KEK with a fresh random nonce,
    /// bound to `aad` (the key id, so that ciphertexts cannot be swapped
    /// between rows). Returns (nonce, ciphertext).
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let cipher = XChaCha20Poly1305::new(&self.keys[0].key.into());
        let ciphertext = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of a short message does not fail");
        (nonce.to_vec(), ciphertext)
    }

    /// Decrypts what [`Kek::encrypt`] made under the KEK `kek_id`. Fails
    /// (without saying more) when this process does not hold that KEK or the
    /// ciphertext, nonce or `aad` were altered.
    pub fn decrypt(
        &self,
        kek_id: &str,
        nonce: &[u8],
        ciphertext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, SigningError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == kek_id)
            .ok_or(SigningError::WrongKek)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SigningError::WrongKek)?;
        XChaCha20Poly1305::new(&key.key.into())
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| SigningError::WrongKek)
    }
}

async fn any_signing_key(db: &Db) -> Result<bool, SigningError> {
    let found: Option<i32> = on_db!(db, pool => {
        sqlx::query_scalar("SELECT 1 FROM signing_keys LIMIT 1")
            .fetch_optional(pool)
            .await
    })?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_round_trips_and_a_wrong_kek_fails() {
        let kek = Kek::parse(&"ab".repeat(32)).unwrap();
        let (nonce, ct) = kek.encrypt(b"private seed", b"kid-1");
        assert_eq!(nonce.len(), NONCE_LEN);
        assert_ne!(&ct[..], b"private seed");
        assert_eq!(
            kek.decrypt(kek.id(), &nonce, &ct, b"kid-1").unwrap(),
            b"private seed"
        );
        // A fresh nonce each time.
        let (nonce2, ct2) = kek.encrypt(b"private seed", b"kid-1");
        assert_ne!(nonce, nonce2);
        assert_ne!(ct, ct2);

        // Another KEK: unknown id, and even under the same id it cannot decrypt.
        let other = Kek::parse("another key-encryption key, long enough").unwrap();
        assert_ne!(other.id(), kek.id());
        assert!(matches!(
            other.decrypt(kek.id(), &nonce, &ct, b"kid-1"),
            Err(SigningError::WrongKek)
        ));
        let forged = Kek {
            keys: vec![KekKey {
                key: other.keys[0].key,
                id: kek.id().to_string(),
            }],
            configured: true,
        };
        assert!(forged.decrypt(kek.id(), &nonce, &ct, b"kid-1").is_err());

        // Altered ciphertext or another row's key id.
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert!(kek.decrypt(kek.id(), &nonce, &bad, b"kid-1").is_err());
        assert!(kek.decrypt(kek.id(), &nonce, &ct, b"kid-2").is_err());
    }

    #[test]
    fn configured_forms_and_redaction() {
        let hex = "0f".repeat(32);
        let a = Kek::parse(&hex).unwrap();
        assert_eq!(a.keys[0].key, [0x0f; 32]);
        assert_eq!(Kek::parse(&hex.to_uppercase()).unwrap().id(), a.id());
        let b = Kek::parse("a passphrase of thirty-two bytes!").unwrap();
        assert_ne!(b.keys[0].key, [0; 32]);
        assert!(Kek::parse("short").is_err());
        let err = Kek::parse("short").unwrap_err();
        assert!(!err.contains("short"));
        let dbg = format!("{a:?}");
        assert!(!dbg.contains(&hex), "{dbg}");
        assert!(dbg.contains(a.id()));
    }
}
