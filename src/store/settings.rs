//! Server-wide values kept in the database (generated secrets such as the
//! token pepper and the session key), so that every instance and every
//! restart agrees on them.

use super::{Db, StoreError};
use crate::on_db;

/// Returns the value under `key`, creating it with `generate` if absent.
/// Safe when several instances start at once: the first insert wins and
/// everyone reads the winner.
pub async fn get_or_create(
    db: &Db,
    key: &str,
    generate: impl FnOnce() -> String,
) -> Result<String, StoreError> {
    let candidate = generate();
    on_db!(db, pool => {
        sqlx::query("INSERT INTO server_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(&candidate)
            .execute(pool)
            .await.map(|r| r.rows_affected())?;
        let value: String = sqlx::query_scalar("SELECT value FROM server_settings WHERE key = $1")
            .bind(key)
            .fetch_one(pool)
            .await?;
        Ok(value)
    })
}

/// The value under `key`, if any (without creating it).
pub async fn get(db: &Db, key: &str) -> Result<Option<String>, StoreError> {
    Ok(on_db!(db, pool => {
        sqlx::query_scalar("SELECT value FROM server_settings WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await
    })?)
}

/// Lowercase hex, for storing random key material as text.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// 32 random bytes as hex.
pub fn random_key_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    to_hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 127, 128, 255];
        assert_eq!(from_hex(&to_hex(&bytes)).unwrap(), bytes);
        assert_eq!(from_hex("0g"), None);
        assert_eq!(from_hex("abc"), None);
        assert_eq!(random_key_hex().len(), 64);
    }
}
