//! Human passwords: argon2id, verified off the async runtime because each
//! check deliberately costs tens of milliseconds of CPU.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use rand::distr::{Alphanumeric, SampleString};

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 1024;

/// A hash to verify against when the user does not exist, so that a wrong
/// user name costs exactly what a wrong password costs.
static DECOY: LazyLock<String> = LazyLock::new(|| {
    hash_now(&Alphanumeric.sample_string(&mut rand::rng(), 24)).expect("argon2 hashes a password")
});

/// The one password policy, for every path that sets a password (CLI,
/// SCIM). Length is what matters most (NIST SP 800-63B); composition rules
/// are not imposed, but a password that is one repeated character or
/// contains its own user name is refused, since a guesser tries those first.
/// The message never repeats the password.
pub fn check_policy(password: &str, user_name: &str) -> Result<(), String> {
    let n = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&n) {
        return Err(format!(
            "password must be {MIN_LEN} to {MAX_LEN} characters"
        ));
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err("password must not be one repeated character".into());
    }
    let name = user_name.trim().to_lowercase();
    if name.chars().count() >= 3 && password.to_lowercase().contains(&name) {
        return Err("password must not contain the user name".into());
    }
    Ok(())
}

fn hash_now(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("password hashing failed: {e}"))
}

pub async fn hash(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| e.to_string())?
}

/// Passwords hashed ahead of the write that stores them, so that no
/// transaction (and no Bulk request holding the writer) waits tens of
/// milliseconds a password for argon2: cheap to clone, and never shown.
#[derive(Clone, Default)]
pub struct Prehashed(Arc<HashMap<String, String>>);

impl Prehashed {
    /// Hashes each of `passwords` (duplicates once), as many at a time as
    /// there are cores, four at most: each argon2 hash holds 19 MiB while
    /// it runs.
    pub async fn ahead(passwords: impl IntoIterator<Item = String>) -> Result<Self, String> {
        use futures_util::{StreamExt, TryStreamExt};
        let distinct: HashSet<String> = passwords.into_iter().collect();
        let at_once = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        let hashed: HashMap<String, String> = futures_util::stream::iter(distinct)
            .map(|p| async move {
                let h = hash(p.clone()).await?;
                Ok::<_, String>((p, h))
            })
            .buffer_unordered(at_once)
            .try_collect()
            .await?;
        Ok(Self(Arc::new(hashed)))
    }

    /// Hashes as given, for tests that must tell them from hashes made.
    #[cfg(test)]
    pub fn given(pairs: &[(&str, &str)]) -> Self {
        Self(Arc::new(
            pairs
                .iter()
                .map(|(p, h)| (p.to_string(), h.to_string()))
                .collect(),
        ))
    }

    /// The hash made ahead for `password`, if any.
    pub fn hash_of(&self, password: &str) -> Option<&str> {
        self.0.get(password).map(String::as_str)
    }
}

impl std::fmt::Debug for Prehashed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prehashed({} passwords)", self.0.len())
    }
}

/// Verifies `password` against `stored`, or against the decoy when there is
/// no stored hash. Always does one full argon2 computation.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let stored = stored.unwrap_or_else(|| DECOY.clone());
        let ok = PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && real
    })
    .await
    .unwrap_or(false)
}

/// A random password for the bootstrap admin.
pub fn generate() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verifies_only_its_password() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify("wrong horse battery".into(), Some(h)).await);
    }

    #[tokio::test]
    async fn passwords_hashed_ahead_are_found_by_their_text_only() {
        let ahead = Prehashed::ahead(
            [
                "one long passphrase",
                "two long passphrase",
                "one long passphrase",
            ]
            .map(String::from),
        )
        .await
        .unwrap();
        for p in ["one long passphrase", "two long passphrase"] {
            let h = ahead.hash_of(p).expect("hashed ahead").to_string();
            assert!(verify(p.into(), Some(h)).await);
        }
        assert!(ahead.hash_of("three long passphrase").is_none());
        assert!(!format!("{ahead:?}").contains("passphrase"));
    }

    #[tokio::test]
    async fn no_stored_hash_never_verifies() {
        assert!(!verify("anything at all".into(), None).await);
    }

    #[test]
    fn policy_bounds_length() {
        assert!(check_policy("short", "bob").is_err());
        assert!(check_policy("elevenchars", "bob").is_err());
        assert!(check_policy("twelve chars", "bob").is_ok());
        assert!(check_policy(&"x".repeat(MAX_LEN + 1), "bob").is_err());
        // Characters, not bytes: six two-byte characters are not twelve.
        assert!(check_policy("éàéàéà", "bob").is_err());
        assert!(check_policy("éàéàéàéàéàéà", "bob").is_ok());
    }

    #[test]
    fn policy_refuses_one_repeated_character() {
        let err = check_policy(&"a".repeat(20), "bob").unwrap_err();
        assert!(err.contains("repeated"), "{err}");
    }

    #[test]
    fn policy_refuses_the_user_name_inside_the_password() {
        let err = check_policy("xxAlice.Smithxx1", "alice.smith").unwrap_err();
        assert!(err.contains("user name"), "{err}");
        assert!(
            !err.contains("xxAlice"),
            "the password is never repeated: {err}"
        );
        // Too short a name to be a meaningful word is not matched.
        assert!(check_policy("jo-correct horse", "jo").is_ok());
    }
}
