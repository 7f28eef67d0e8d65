//! Where the pepper comes from. Configured (`SCIMITAR_TOKEN_PEPPER`, with a
//! version) in production; otherwise generated on first use and kept in the
//! database so that `cargo run` works and tokens survive restarts. The
//! generated pepper is version 0, configured ones start at 1, so switching
//! from one to the other keeps existing tokens valid.

use super::Peppers;
use crate::store::settings::{from_hex, get_or_create, random_key_hex};
use crate::store::{Db, StoreError};

const GENERATED_KEY: &str = "token_pepper.v0";

pub async fn load_peppers(
    db: &Db,
    configured: Option<(i32, &[u8])>,
) -> Result<Peppers, StoreError> {
    let generated = get_or_create(db, GENERATED_KEY, random_key_hex).await?;
    let generated = from_hex(&generated)
        .ok_or_else(|| StoreError::Url(format!("{GENERATED_KEY} in server_settings is not hex")))?;
    Ok(match configured {
        Some((version, key)) => Peppers::new(version, key.to_vec()).with_previous(0, generated),
        None => Peppers::new(0, generated),
    })
}
