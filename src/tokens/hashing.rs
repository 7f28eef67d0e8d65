//! Token secrets at rest: `HMAC-SHA256(pepper, secret)` and the version of
//! the pepper used. Not argon2: a token is checked on every request, and a
//! deliberately slow hash there is a denial-of-service lever. A 190-bit random
//! secret needs no stretching; the pepper means a stolen database alone
//! cannot be used to test guesses.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The stored form of a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct HashedSecret {
    pub bytes: Vec<u8>,
    pub pepper_version: i32,
}

impl fmt::Debug for HashedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HashedSecret(v{})", self.pepper_version)
    }
}

/// The server's peppers by version. New secrets use `current`; older
/// versions stay so that tokens hashed with them still verify.
#[derive(Clone)]
pub struct Peppers {
    current: i32,
    keys: BTreeMap<i32, Vec<u8>>,
}

impl fmt::Debug for Peppers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<_> = self.keys.keys().collect();
        write!(
            f,
            "Peppers(current v{}, versions {versions:?})",
            self.current
        )
    }
}

impl Peppers {
    pub fn new(current: i32, key: Vec<u8>) -> Self {
        Self {
            current,
            keys: BTreeMap::from([(current, key)]),
        }
    }

    /// Adds an older pepper that is still accepted for verification.
    pub fn with_previous(mut self, version: i32, key: Vec<u8>) -> Self {
        self.keys.entry(version).or_insert(key);
        self
    }

    pub fn hash(&self, secret: &[u8]) -> HashedSecret {
        let key = &self.keys[&self.current];
        HashedSecret {
            bytes: hmac(key, secret),
            pepper_version: self.current,
        }
    }

    /// Constant-time comparison of a presented secret against a stored hash.
    /// An unknown pepper version never matches, after the same work as a
    /// known one (an HMAC and a comparison), so that timing does not tell.
    pub fn matches(&self, secret: &[u8], stored: &HashedSecret) -> bool {
        let (key, known) = match self.keys.get(&stored.pepper_version) {
            Some(key) => (key, true),
            None => (&self.keys[&self.current], false),
        };
        let equal = bool::from(hmac(key, secret).ct_eq(&stored.bytes));
        equal & known
    }

    /// A stored hash that no secret matches (no HMAC output is all zeros in
    /// practice), to compare against when there is nothing to compare with:
    /// the check then costs what a real one does.
    pub fn decoy(&self) -> HashedSecret {
        HashedSecret {
            bytes: vec![0; 32],
            pepper_version: self.current,
        }
    }
}

fn hmac(key: &[u8], secret: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(secret);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_its_secret_only() {
        let p = Peppers::new(1, b"pepper-one-0123456789abcdef012345".to_vec());
        let h = p.hash(b"secret");
        assert_eq!(h.bytes.len(), 32);
        assert!(p.matches(b"secret", &h));
        assert!(!p.matches(b"secreT", &h));
    }

    #[test]
    fn another_pepper_gives_another_hash() {
        let a = Peppers::new(1, b"a".repeat(32));
        let b = Peppers::new(1, b"b".repeat(32));
        assert_ne!(a.hash(b"s").bytes, b.hash(b"s").bytes);
        assert!(!b.matches(b"s", &a.hash(b"s")));
    }

    #[test]
    fn old_pepper_versions_still_verify() {
        let old = Peppers::new(1, b"a".repeat(32));
        let h = old.hash(b"s");
        let new = Peppers::new(2, b"b".repeat(32)).with_previous(1, b"a".repeat(32));
        assert!(new.matches(b"s", &h));
        assert_eq!(new.hash(b"s").pepper_version, 2);
        let without = Peppers::new(2, b"b".repeat(32));
        assert!(!without.matches(b"s", &h));
    }

    #[test]
    fn the_decoy_matches_nothing() {
        let p = Peppers::new(1, b"a".repeat(32));
        assert!(!p.matches(b"", &p.decoy()));
        assert!(!p.matches(b"anything", &p.decoy()));
    }

    #[test]
    fn debug_shows_no_key_material() {
        let p = Peppers::new(3, b"very-secret-pepper".to_vec());
        assert!(!format!("{p:?}").contains("very-secret"));
    }
}
