//! Where the pepper comes from. Configured (`SCIMITAR_TOKEN_PEPPER`, with a
//! version) in production; otherwise generated on first use and kept in the
//! database so that `cargo run` works and tokens survive restarts. The
//! generated pepper is version 0, configured ones start at 1, so switching
//! from one to the other keeps existing tokens valid.

use super::Peppers;
use crate::store::settings::{from_hex, get_or_create, random_key_hex};
use crate::store::{Db, StoreError};

const GENERATED_KEY: &str = "token_pepper.v0";

/// `configured` lists the configured peppers, current first; older ones
/// keep verifying the tokens hashed with them until those are rotated.
pub async fn load_peppers(db: &Db, configured: &[(i32, &[u8])]) -> Result<Peppers, StoreError> {
    let generated = get_or_create(db, GENERATED_KEY, random_key_hex).await?;
    let generated = from_hex(&generated)
        .ok_or_else(|| StoreError::Url(format!("{GENERATED_KEY} in server_settings is not hex")))?;
    let Some(((version, key), older)) = configured.split_first() else {
        return Ok(Peppers::new(0, generated));
    };
    let peppers = older
        .iter()
        .fold(Peppers::new(*version, key.to_vec()), |p, (v, k)| {
            p.with_previous(*v, k.to_vec())
        });
    Ok(peppers.with_previous(0, generated))
}
