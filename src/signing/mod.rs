//! The server's signing keys: Ed25519 key pairs that sign JWS (admin
//! sessions, exchanged tokens and audit checkpoints), published as a JWKS
//! at `/.well-known/jwks.json` so that anyone can verify offline.
//!
//! Keys live in `signing_keys`, private halves encrypted with the
//! key-encryption key ([`Kek`]). Each key has a `generation`; the highest is
//! the current key, the one that signs. Rotation adds a key with the next
//! generation and keeps the older ones published. Every instance re-reads
//! the table about once a second ([`spawn_refresher`]), so a key rotated
//! through one instance (or the CLI) is used and published by all.

mod adopt;
mod jws;
mod kek;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

pub use adopt::{Adoption, adopt_configured_kek};
pub use jws::{
    KeyPair, VerifyError, jws_type, public_jwk, thumbprint, verify_jws, verify_jws_with,
};
pub use kek::{GENERATED_KEK_SETTING, Kek, NONCE_LEN as KEK_NONCE_LEN};

use crate::on_db;
use crate::on_tx;
use crate::store::{Db, StoreError, Timestamp, Tx};

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Deliberately vague: which of the two it was would help an attacker.
    #[error(
        "cannot decrypt a signing key: it was encrypted with a key-encryption key this process \
         does not hold, or it was altered (check SCIMITAR_KEY_ENCRYPTION_KEY)"
    )]
    WrongKek,
    #[error(
        "signing key `{kid}` cannot be decrypted with this key-encryption key (check SCIMITAR_KEY_ENCRYPTION_KEY)"
    )]
    KeyUnreadable { kid: String },
    #[error(
        "the signing keys are encrypted with a configured key-encryption key, and none is \
         configured here: set SCIMITAR_KEY_ENCRYPTION_KEY"
    )]
    KekRequired,
    #[error("{0}")]
    Invalid(String),
}

impl From<sqlx::Error> for SigningError {
    fn from(e: sqlx::Error) -> Self {
        SigningError::Store(e.into())
    }
}

/// A published public key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublishedKey {
    pub kid: String,
    pub generation: i64,
    #[serde(skip)]
    pub public_key: [u8; 32],
    pub created_at: Timestamp,
}

impl PublishedKey {
    pub fn jwk(&self) -> Value {
        public_jwk(&self.kid, &self.public_key)
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    generation: i64,
    public_key: Vec<u8>,
    private_key_enc: Vec<u8>,
    nonce: Vec<u8>,
    kek_id: String,
    created_at: Timestamp,
}

impl KeyRow {
    fn published(&self) -> Result<PublishedKey, SigningError> {
        let public_key: [u8; 32] = self.public_key.as_slice().try_into().map_err(|_| {
            SigningError::Invalid(format!(
                "signing key `{}` has a malformed public key",
                self.kid
            ))
        })?;
        Ok(PublishedKey {
            kid: self.kid.clone(),
            generation: self.generation,
            public_key,
            created_at: self.created_at,
        })
    }

    fn decrypt(&self, kek: &Kek) -> Result<KeyPair, SigningError> {
        let unreadable = || SigningError::KeyUnreadable {
            kid: self.kid.clone(),
        };
        let mut seed = kek
            .decrypt(
                &self.kek_id,
                &self.nonce,
                &self.private_key_enc,
                self.kid.as_bytes(),
            )
            .map_err(|_| unreadable())?;
        let pair = KeyPair::from_seed(&seed);
        seed.fill(0);
        let pair = pair?;
        // The row's public key and id must be those of its private key.
        if pair.public_key()[..] != self.public_key[..] || pair.kid() != self.kid {
            return Err(unreadable());
        }
        Ok(pair)
    }
}

/// The column list, as a macro so that query texts can be built with
/// `concat!` at compile time rather than formatted at run time.
macro_rules! key_columns {
    () => {
        "kid, generation, public_key, private_key_enc, nonce, kek_id, created_at"
    };
}

async fn read_rows(db: &Db) -> Result<Vec<KeyRow>, SigningError> {
    let sql = concat!(
        "SELECT ",
        key_columns!(),
        " FROM signing_keys ORDER BY generation"
    );
    Ok(on_db!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?)
}

/// [`read_rows`] within a transaction.
async fn read_rows_in(tx: &mut Tx) -> Result<Vec<KeyRow>, SigningError> {
    let sql = concat!(
        "SELECT ",
        key_columns!(),
        " FROM signing_keys ORDER BY generation"
    );
    Ok(on_tx!(tx, conn => sqlx::query_as(sql).fetch_all(&mut *conn).await)?)
}

/// Inserts `pair` as the key of `generation`, created at `created_at`,
/// within the caller's transaction. Returns false when that generation is
/// taken.
async fn insert_at_in(
    tx: &mut Tx,
    kek: &Kek,
    pair: &KeyPair,
    generation: i64,
    created_at: Timestamp,
) -> Result<bool, SigningError> {
    let (nonce, ciphertext) = seal(kek, pair);
    let sql = concat!(
        "INSERT INTO signing_keys (",
        key_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
    );
    let inserted = on_tx!(tx, conn => {
        sqlx::query(sql)
            .bind(pair.kid())
            .bind(generation)
            .bind(&pair.public_key()[..])
            .bind(&ciphertext)
            .bind(&nonce)
            .bind(kek.id())
            .bind(created_at)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(inserted == 1)
}

/// Inserts `pair` as the key after the newest one (generation 1 on an empty
/// table). Returns false when another process inserted that generation
/// first: the unique generation is what keeps two instances that start (or
/// rotate) at once from both making a current key.
async fn insert_next(
    db: &Db,
    kek: &Kek,
    pair: &KeyPair,
    only_if_empty: bool,
) -> Result<bool, SigningError> {
    let (nonce, ciphertext) = seal(kek, pair);
    // `WHERE` before `ON CONFLICT` also keeps SQLite's parser from reading
    // the conflict clause as a join constraint.
    let sql = concat!(
        "INSERT INTO signing_keys (",
        key_columns!(),
        ") \
         SELECT $1, (SELECT COALESCE(MAX(generation), 0) + 1 FROM signing_keys), $2, $3, $4, $5, $6 \
         WHERE (NOT $7 OR NOT EXISTS (SELECT 1 FROM signing_keys)) ON CONFLICT DO NOTHING"
    );
    let mut tx = db.begin().await?;
    let inserted = on_tx!(&mut tx, conn => {
        sqlx::query(sql)
            .bind(pair.kid())
            .bind(&pair.public_key()[..])
            .bind(&ciphertext)
            .bind(&nonce)
            .bind(kek.id())
            .bind(Timestamp::now())
            .bind(only_if_empty)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(inserted == 1)
}

/// The private half of `pair`, encrypted under the primary KEK and bound to
/// its kid: (nonce, ciphertext).
fn seal(kek: &Kek, pair: &KeyPair) -> (Vec<u8>, Vec<u8>) {
    let mut seed = pair.seed();
    let sealed = kek.encrypt(&seed, pair.kid().as_bytes());
    seed.fill(0);
    sealed
}

/// Creates the first key if there is none. Safe when several processes
/// start at once: exactly one insert wins.
pub async fn ensure_current(db: &Db, kek: &Kek) -> Result<(), SigningError> {
    if !read_rows(db).await?.is_empty() {
        return Ok(());
    }
    let pair = KeyPair::generate();
    if insert_next(db, kek, &pair, true).await? {
        tracing::info!(kid = pair.kid(), "generated the first signing key");
    }
    Ok(())
}

/// Makes a new current key; older keys stay published. Returns the new
/// key's id.
pub async fn rotate(db: &Db, kek: &Kek) -> Result<PublishedKey, SigningError> {
    for _ in 0..5 {
        let pair = KeyPair::generate();
        if insert_next(db, kek, &pair, false).await? {
            tracing::info!(kid = pair.kid(), "rotated the signing key");
            let rows = read_rows(db).await?;
            let row = rows
                .iter()
                .find(|r| r.kid == pair.kid())
                .ok_or_else(|| SigningError::Invalid("the new key vanished".into()))?;
            return row.published();
        }
    }
    Err(SigningError::Invalid(
        "another rotation kept winning; try again".into(),
    ))
}

/// The published keys, newest first, read from the database without any
/// private key (for `scimitar audit jwks`).
pub async fn published_keys(db: &Db) -> Result<Vec<PublishedKey>, SigningError> {
    let mut keys = read_rows(db)
        .await?
        .iter()
        .map(KeyRow::published)
        .collect::<Result<Vec<_>, _>>()?;
    keys.reverse();
    Ok(keys)
}

/// A JWK set (RFC 7517) of these keys.
pub fn jwks_of(keys: &[PublishedKey]) -> Value {
    json!({ "keys": keys.iter().map(PublishedKey::jwk).collect::<Vec<_>>() })
}

/// What a [`Signer`] holds at one moment.
struct KeySet {
    current: KeyPair,
    generation: i64,
    /// Newest first.
    published: Vec<PublishedKey>,
    jwks: Value,
}

/// The signing keys of this process: the current key pair and the public
/// keys to publish, refreshed from the database.
pub struct Signer {
    kek: Kek,
    keys: RwLock<Arc<KeySet>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer(current {})", self.current_kid())
    }
}

impl Signer {
    /// Loads the keys, creating the first one on an empty table. With a
    /// configured KEK while the database still holds the generated one, it
    /// first adopts the configured KEK ([`adopt_configured_kek`]).
    pub async fn load(db: &Db, kek: Kek) -> Result<Self, SigningError> {
        let kek = if kek.holds_generated() {
            adopt_configured_kek(db, &kek).await?;
            kek.configured_only()
        } else {
            kek
        };
        ensure_current(db, &kek).await?;
        let rows = read_rows(db).await?;
        let set = Self::key_set(&kek, &rows)?;
        Ok(Self {
            kek,
            keys: RwLock::new(Arc::new(set)),
        })
    }

    fn key_set(kek: &Kek, rows: &[KeyRow]) -> Result<KeySet, SigningError> {
        let newest = rows
            .last()
            .ok_or_else(|| SigningError::Invalid("no signing key".into()))?;
        let mut published = rows
            .iter()
            .map(KeyRow::published)
            .collect::<Result<Vec<_>, _>>()?;
        published.reverse();
        Ok(KeySet {
            current: newest.decrypt(kek)?,
            generation: newest.generation,
            jwks: jwks_of(&published),
            published,
        })
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Re-reads the keys; returns whether the current key changed. Run about
    /// once a second, so that a rotation elsewhere reaches this instance.
    pub async fn refresh(&self, db: &Db) -> Result<bool, SigningError> {
        let rows = read_rows(db).await?;
        let known = self.snapshot();
        let newest = rows.last().map(|r| r.generation);
        if newest == Some(known.generation) && rows.len() == known.published.len() {
            return Ok(false);
        }
        let set = Self::key_set(&self.kek, &rows)?;
        let changed = set.current.kid() != known.current.kid();
        *self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(set);
        if changed {
            tracing::info!(kid = self.current_kid(), "now signing with a new key");
        }
        Ok(changed)
    }

    /// The key-encryption key, for other secrets sealed at rest the same
    /// way (an organization's SSO client secret).
    pub fn kek(&self) -> &Kek {
        &self.kek
    }

    pub fn current_kid(&self) -> String {
        self.snapshot().current.kid().to_string()
    }

    /// `claims` as a compact JWS signed with the current key (header
    /// `alg: EdDSA`, `typ: JWT`, `kid`).
    pub fn sign_jws(&self, claims: &impl Serialize) -> Result<String, SigningError> {
        self.snapshot().current.sign_jws(claims)
    }

    /// [`Signer::sign_jws`] with an explicit `typ`. Returns the JWS and the
    /// kid that signed it.
    pub fn sign_jws_typed(
        &self,
        typ: &str,
        claims: &impl Serialize,
    ) -> Result<(String, String), SigningError> {
        let keys = self.snapshot();
        let jws = keys.current.sign_jws_typed(typ, claims)?;
        Ok((jws, keys.current.kid().to_string()))
    }

    /// The published public keys as a JWK set, newest first.
    pub fn jwks(&self) -> Value {
        self.snapshot().jwks.clone()
    }

    pub fn published(&self) -> Vec<PublishedKey> {
        self.snapshot().published.clone()
    }

    /// The keys a token verifier needs: the current key, and older keys
    /// until `lifetime` (the longest life of a token they signed) plus
    /// [`JWKS_MARGIN`] after they were superseded. Audit checkpoints need
    /// every key: see [`Signer::jwks`].
    pub fn token_jwks(&self, now: Timestamp, lifetime: time::Duration) -> Value {
        let grace = lifetime + JWKS_MARGIN;
        let published = self.published();
        let live: Vec<PublishedKey> = published
            .iter()
            .enumerate()
            .filter(|(i, _)| *i == 0 || published[i - 1].created_at + grace > now)
            .map(|(_, k)| k.clone())
            .collect();
        jwks_of(&live)
    }
}

/// How long a superseded key stays in the token JWKS beyond the life of the
/// tokens it signed: another instance may sign with it for up to a
/// [`REFRESH_EVERY`] after the rotation, and instances' clocks differ.
pub const JWKS_MARGIN: time::Duration = time::Duration::seconds(60);

/// How often each instance re-reads the signing keys.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The background task that re-reads the keys about once a second, so that
/// a rotation made elsewhere reaches this instance. Its own task, so that
/// no other background work can delay it. Abort it on shutdown.
pub fn spawn_refresher(db: Db, signer: Arc<Signer>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(REFRESH_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = signer.refresh(&db).await {
                tracing::error!(error = %e, "reloading signing keys failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_lists_every_published_key_newest_first() {
        let a = KeyPair::generate();
        let b = KeyPair::generate();
        let keys: Vec<PublishedKey> = [(&b, 2), (&a, 1)]
            .iter()
            .map(|(p, g)| PublishedKey {
                kid: p.kid().to_string(),
                generation: *g,
                public_key: p.public_key(),
                created_at: Timestamp::now(),
            })
            .collect();
        let jwks = jwks_of(&keys);
        let listed: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(listed, vec![b.kid(), a.kid()]);
        for k in jwks["keys"].as_array().unwrap() {
            assert!(k.get("d").is_none(), "no private part: {k}");
        }
        // Either key's signatures verify against the set.
        let jws = a.sign_jws(&json!({ "x": 1 })).unwrap();
        assert!(verify_jws(&jws, &jwks).is_ok());
        let jws = b.sign_jws(&json!({ "x": 1 })).unwrap();
        assert!(verify_jws(&jws, &jwks).is_ok());
    }
}
