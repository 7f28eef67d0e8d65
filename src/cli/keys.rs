//! `scimitar keys …`: the server's signing keys.

use clap::Subcommand;
use serde_json::json;

use super::{CliError, Output, failed, open_db};
use crate::config::CommonArgs;
use crate::signing::{self, Kek, Signer};
use crate::store::Db;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make a new current signing key. Older public keys stay published, so
    /// that what they signed still verifies. Running servers switch within
    /// about a second.
    Rotate,
    /// List the signing keys (public information only).
    List,
    /// Adopt the configured key-encryption key in place of the generated
    /// one kept in the database: make a new current signing key under it,
    /// re-encrypt the older keys under it (they stay published, to verify
    /// what they signed) and delete the generated key-encryption key. A
    /// server does this itself when it starts with one configured. Needs
    /// SCIMITAR_KEY_ENCRYPTION_KEY.
    AdoptKek,
}

pub async fn run(common: &CommonArgs, cmd: KeysCommand) -> Result<Output, CliError> {
    let db = open_db(common).await?;
    let out = match cmd {
        KeysCommand::Rotate => rotate(common, &db).await,
        KeysCommand::List => list(&db).await,
        KeysCommand::AdoptKek => adopt_kek(common, &db).await,
    };
    db.close().await;
    out
}

async fn rotate(common: &CommonArgs, db: &Db) -> Result<Output, CliError> {
    let configured = common
        .key_encryption_key()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let kek = Kek::resolve(db, configured.as_ref().map(|k| k.0.as_str()))
        .await
        .map_err(failed)?;
    // Loading proves this KEK opens the current key: a key encrypted under
    // a KEK the servers do not hold would leave them unable to sign.
    let signer = Signer::load(db, kek.clone()).await.map_err(failed)?;
    let previous = signer.current_kid();
    let new = signing::rotate(db, &kek).await.map_err(failed)?;
    let published = published_kids(db).await?;
    Ok(Output {
        json: json!({
            "kid": new.kid,
            "generation": new.generation,
            "previous_kid": previous,
            "published": published,
        }),
        human: format!(
            "new current signing key {} (previous {previous}; {} keys published)",
            new.kid,
            published.len()
        ),
    })
}

async fn adopt_kek(common: &CommonArgs, db: &Db) -> Result<Output, CliError> {
    let Some(configured) = common
        .key_encryption_key()
        .map_err(|e| CliError::Usage(e.to_string()))?
    else {
        return Err(CliError::Usage(
            "keys adopt-kek adopts the configured key-encryption key, and none is configured: \
             set SCIMITAR_KEY_ENCRYPTION_KEY (or --key-encryption-key)"
                .into(),
        ));
    };
    let kek = Kek::resolve(db, Some(&configured.0))
        .await
        .map_err(failed)?;
    let Some(adoption) = signing::adopt_configured_kek(db, &kek)
        .await
        .map_err(failed)?
    else {
        // Loading proves that this KEK opens the current key, so that
        // "nothing to adopt" never hides a wrong KEK.
        let signer = Signer::load(db, kek.clone()).await.map_err(failed)?;
        let kid = signer.current_kid();
        return Ok(Output {
            json: json!({ "adopted": false, "kek_id": kek.id(), "kid": kid }),
            human: format!(
                "nothing to adopt: the database holds no generated key-encryption key, and the \
                 current signing key {kid} is under the configured one ({})",
                kek.id()
            ),
        });
    };
    let published = published_kids(db).await?;
    let (kid, generation) = match &adoption.current {
        Some(k) => (Some(k.kid.clone()), Some(k.generation)),
        None => (None, None),
    };
    let human = match (&adoption.previous_kid, &kid) {
        (Some(previous), Some(kid)) => format!(
            "adopted the configured key-encryption key {}: new current signing key {kid} \
             (previous {previous}, kept to verify what it signed); {} keys re-encrypted; the \
             generated key-encryption key is deleted",
            adoption.kek_id,
            adoption.rewrapped.len()
        ),
        _ => format!(
            "adopted the configured key-encryption key {}: the generated one is deleted (there \
             was no signing key yet)",
            adoption.kek_id
        ),
    };
    Ok(Output {
        json: json!({
            "adopted": true,
            "kek_id": adoption.kek_id,
            "kid": kid,
            "generation": generation,
            "previous_kid": adoption.previous_kid,
            "rewrapped": adoption.rewrapped,
            "published": published,
        }),
        human,
    })
}

async fn published_kids(db: &Db) -> Result<Vec<String>, CliError> {
    Ok(signing::published_keys(db)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|k| k.kid)
        .collect())
}

async fn list(db: &Db) -> Result<Output, CliError> {
    let keys = signing::published_keys(db).await.map_err(failed)?;
    let current = keys.first().map(|k| k.kid.clone());
    let rows: Vec<_> = keys
        .iter()
        .map(|k| {
            json!({
                "kid": k.kid,
                "generation": k.generation,
                "created_at": k.created_at,
                "current": Some(&k.kid) == current.as_ref(),
            })
        })
        .collect();
    let human = keys
        .iter()
        .map(|k| {
            format!(
                "{} generation {} created {}{}",
                k.kid,
                k.generation,
                k.created_at.to_canonical(),
                if Some(&k.kid) == current.as_ref() {
                    " (current)"
                } else {
                    ""
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Output {
        json: json!({ "keys": rows }),
        human,
    })
}
