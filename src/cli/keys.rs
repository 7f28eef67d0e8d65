//! `scimitar keys …`: the server's signing keys.

use clap::Subcommand;
use serde_json::json;

use super::{CliError, Output, failed};
use crate::config::CommonArgs;
use crate::signing::{self, Kek, Signer};
use crate::store::{self, Db};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make a new current signing key. Older public keys stay published, so
    /// that what they signed still verifies. Running servers switch within
    /// about a second.
    Rotate,
    /// List the signing keys (public information only).
    List,
}

async fn open_db(common: &CommonArgs) -> Result<Db, CliError> {
    let url = common
        .database_url()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let db = store::connect(&url, 2).await.map_err(failed)?;
    db.migrate().await.map_err(failed)?;
    Ok(db)
}

pub async fn run(common: &CommonArgs, cmd: KeysCommand) -> Result<Output, CliError> {
    let db = open_db(common).await?;
    let out = match cmd {
        KeysCommand::Rotate => rotate(common, &db).await,
        KeysCommand::List => list(&db).await,
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
    let published: Vec<String> = signing::published_keys(db)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|k| k.kid)
        .collect();
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
