//! Adopting a configured key-encryption key in place of the generated one.
//!
//! While the KEK is generated it sits in `server_settings`, beside the keys
//! it encrypts, so every backup of the database can sign. Re-encrypting the
//! keys under a configured KEK would not help the backups already taken:
//! they still open the current key. So adopting also rotates: the new
//! current key has only ever been encrypted under the configured KEK. The
//! older keys are re-encrypted under it and kept, to verify what they
//! signed (the token JWKS drops them once their tokens have expired, the
//! audit JWKS keeps them). The audit streams' signing secrets and the
//! organizations' SSO client secrets, sealed with the KEK too, are
//! re-encrypted under it. And the generated KEK is deleted, so that later
//! backups cannot open even the older keys.

use super::{
    GENERATED_KEK_SETTING, Kek, KeyPair, KeyRow, PublishedKey, SigningError, insert_at_in,
    read_rows_in, seal,
};
use uuid::Uuid;

use crate::on_tx;
use crate::store::{Db, Timestamp, Tx};

/// What an adoption did.
#[derive(Debug)]
pub struct Adoption {
    /// The id of the adopted (configured) KEK: a hash, not the key.
    pub kek_id: String,
    /// The current key before, now kept only to verify; none on an empty
    /// table.
    pub previous_kid: Option<String>,
    /// The new current key; none when there was no key to replace.
    pub current: Option<PublishedKey>,
    /// The keys re-encrypted from the generated KEK to the configured one.
    pub rewrapped: Vec<String>,
}

/// How often a new key may lose its generation to a rotation made at the
/// same moment before adopting gives up.
const ATTEMPTS: usize = 5;

/// Adopts the configured KEK of `kek` (which must also hold the generated
/// one, if any key is still under it): makes a new current key under it,
/// re-encrypts the older keys under it, and deletes the generated KEK.
/// Returns `None`, changing nothing, when the database holds no generated
/// KEK (never had one, or another process adopted first).
///
/// All in one transaction, so that a crash leaves either everything as it
/// was or everything done: never a key that no KEK at hand can open. The
/// delete comes first because it decides who adopts: several instances
/// starting at once all try, the first delete wins (its row lock on
/// PostgreSQL, the single writer on SQLite), and the others find the
/// setting gone and adopt nothing.
pub async fn adopt_configured_kek(db: &Db, kek: &Kek) -> Result<Option<Adoption>, SigningError> {
    if !kek.is_configured() {
        return Err(SigningError::Invalid(
            "adopting needs a configured key-encryption key (SCIMITAR_KEY_ENCRYPTION_KEY)".into(),
        ));
    }
    for _ in 0..ATTEMPTS {
        // Dropping `tx` without a commit rolls it back.
        let mut tx = db.begin().await?;
        if !delete_generated(&mut tx).await? {
            return Ok(None);
        }
        let rows = read_rows_in(&mut tx).await?;
        // Every key must open before anything changes: a configured KEK
        // that differs from the one some keys are already under (a typo on
        // one instance) must not become the KEK of a new current key.
        let pairs = rows
            .iter()
            .map(|r| r.decrypt(kek))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rewrapped = Vec::new();
        let mut lost_race = false;
        for (row, pair) in rows.iter().zip(&pairs) {
            if row.kek_id != kek.id() {
                if !rewrap_in(&mut tx, kek, row, pair).await? {
                    lost_race = true;
                    break;
                }
                rewrapped.push(row.kid.clone());
            }
        }
        if lost_race {
            continue;
        }
        let streams = rewrap_stream_secrets(&mut tx, kek).await?;
        let sso_secrets = rewrap_sso_secrets_in(&mut tx, kek).await?;
        let previous = rows.last();
        let current = match previous {
            None => None,
            Some(previous) => {
                let pair = KeyPair::generate();
                let created_at = Timestamp::now();
                let generation = previous.generation + 1;
                // A rotation that took this generation meanwhile was not
                // among the keys read: start over with it.
                if !insert_at_in(&mut tx, kek, &pair, generation, created_at).await? {
                    continue;
                }
                Some(PublishedKey {
                    kid: pair.kid().to_string(),
                    generation,
                    public_key: pair.public_key(),
                    created_at,
                })
            }
        };
        tx.commit().await?;
        let adoption = Adoption {
            kek_id: kek.id().to_string(),
            previous_kid: previous.map(|r| r.kid.clone()),
            current,
            rewrapped,
        };
        match (&adoption.previous_kid, &adoption.current) {
            (Some(previous_kid), Some(current)) => tracing::info!(
                kek_id = %adoption.kek_id,
                previous_kid = %previous_kid,
                kid = %current.kid,
                rewrapped = adoption.rewrapped.len(),
                audit_stream_secrets = streams,
                sso_secrets,
                "adopted the configured key-encryption key: rotated the signing key, re-encrypted \
                 the older keys under it (they now only verify what they signed) and deleted the \
                 generated key-encryption key from server_settings"
            ),
            _ => tracing::info!(
                kek_id = %adoption.kek_id,
                "adopted the configured key-encryption key: deleted the generated one from \
                 server_settings (there was no signing key yet)"
            ),
        }
        return Ok(Some(adoption));
    }
    Err(SigningError::Invalid(
        "rotations elsewhere kept taking the new key's generation; try again".into(),
    ))
}

/// Re-encrypts the organizations' SSO client secrets (`sso::config`
/// seals them with the KEK too, bound to the organization id) under the
/// primary KEK, in the adoption's transaction. A secret no KEK at hand
/// opens is left as it is and logged: its organization sets it again
/// (`PUT /api/v1/sso`), which must not keep the server from starting.
/// Returns how many were re-encrypted.
async fn rewrap_sso_secrets_in(tx: &mut Tx, kek: &Kek) -> Result<usize, SigningError> {
    let rows: Vec<(Uuid, Vec<u8>, Vec<u8>, String)> = on_tx!(tx, conn => {
        sqlx::query_as(
            "SELECT org_id, secret_enc, secret_nonce, kek_id FROM sso_configs WHERE kek_id <> $1",
        )
        .bind(kek.id())
        .fetch_all(&mut *conn)
        .await
    })?;
    let mut done = 0;
    for (org_id, ciphertext, nonce, kek_id) in rows {
        let Ok(mut plain) = kek.decrypt(&kek_id, &nonce, &ciphertext, org_id.as_bytes()) else {
            tracing::warn!(%org_id, "an SSO client secret opens with no key-encryption key held here; it stays unreadable until set again");
            continue;
        };
        let (new_nonce, sealed) = kek.encrypt(&plain, org_id.as_bytes());
        plain.fill(0);
        on_tx!(tx, conn => {
            sqlx::query(
                "UPDATE sso_configs SET secret_enc = $1, secret_nonce = $2, kek_id = $3 \
                 WHERE org_id = $4 AND kek_id = $5",
            )
            .bind(&sealed)
            .bind(&new_nonce)
            .bind(kek.id())
            .bind(org_id)
            .bind(&kek_id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })?;
        done += 1;
    }
    Ok(done)
}

/// Deletes the generated KEK; false when there was none.
async fn delete_generated(tx: &mut Tx) -> Result<bool, SigningError> {
    let deleted = on_tx!(tx, conn => {
        sqlx::query("DELETE FROM server_settings WHERE key = $1")
            .bind(GENERATED_KEK_SETTING)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(deleted == 1)
}

/// Re-encrypts the key of `row` under the primary KEK; false when the row
/// changed since it was read.
async fn rewrap_in(
    tx: &mut Tx,
    kek: &Kek,
    row: &KeyRow,
    pair: &KeyPair,
) -> Result<bool, SigningError> {
    let (nonce, ciphertext) = seal(kek, pair);
    let updated = on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE signing_keys SET private_key_enc = $1, nonce = $2, kek_id = $3 \
             WHERE kid = $4 AND kek_id = $5",
        )
        .bind(&ciphertext)
        .bind(&nonce)
        .bind(kek.id())
        .bind(&row.kid)
        .bind(&row.kek_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(updated == 1)
}

/// Re-encrypts the audit streams' signing secrets that are under another
/// KEK (the generated one) under the primary KEK, bound to their stream id
/// as before; returns how many.
async fn rewrap_stream_secrets(tx: &mut Tx, kek: &Kek) -> Result<usize, SigningError> {
    let rows: Vec<(uuid::Uuid, Vec<u8>, Vec<u8>, String)> = on_tx!(tx, conn => {
        sqlx::query_as(
            "SELECT id, secret_enc, secret_nonce, secret_kek_id FROM audit_streams \
             WHERE secret_kek_id <> $1",
        )
        .bind(kek.id())
        .fetch_all(&mut *conn)
        .await
    })?;
    for (id, ciphertext, nonce, kek_id) in &rows {
        let mut plain = kek.decrypt(kek_id, nonce, ciphertext, id.as_bytes())?;
        let (nonce, ciphertext) = kek.encrypt(&plain, id.as_bytes());
        plain.fill(0);
        on_tx!(tx, conn => {
            sqlx::query(
                "UPDATE audit_streams SET secret_enc = $1, secret_nonce = $2, secret_kek_id = $3 \
                 WHERE id = $4",
            )
            .bind(&ciphertext)
            .bind(&nonce)
            .bind(kek.id())
            .bind(id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })?;
    }
    Ok(rows.len())
}
