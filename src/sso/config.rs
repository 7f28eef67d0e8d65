//! An organization's OpenID Connect configuration: the issuer, the client
//! registered there, which ID token claim names the member, and whether
//! passwords still sign in. The client secret is sealed with the
//! key-encryption key (XChaCha20-Poly1305, bound to the organization id, as
//! signing keys are bound to their id) and never leaves this module except
//! to the token request.

use serde::Serialize;
use uuid::Uuid;

use super::SsoError;
use crate::signing::Kek;
use crate::store::{Db, Timestamp, Tx};
use crate::{on_db, on_tx};

/// Which ID token claim is matched to a member's userName or primary email.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    Email,
    PreferredUsername,
    Sub,
}

impl Claim {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Claim::Email),
            "preferred_username" => Some(Claim::PreferredUsername),
            "sub" => Some(Claim::Sub),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Claim::Email => "email",
            Claim::PreferredUsername => "preferred_username",
            Claim::Sub => "sub",
        }
    }
}

/// Who may still sign in with a password.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordSignIn {
    #[default]
    All,
    BreakGlassOnly,
}

impl PasswordSignIn {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" => Some(PasswordSignIn::All),
            "break_glass_only" => Some(PasswordSignIn::BreakGlassOnly),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PasswordSignIn::All => "all",
            PasswordSignIn::BreakGlassOnly => "break_glass_only",
        }
    }
}

/// The configuration as it may be shown: the secret is not in it.
#[derive(Clone, Debug, Serialize)]
pub struct SsoConfig {
    #[serde(skip)]
    pub org_id: Uuid,
    pub issuer: String,
    pub client_id: String,
    pub claim: Claim,
    pub password_sign_in: PasswordSignIn,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The sealed client secret of a configuration.
pub struct SealedSecret {
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    kek_id: String,
}

/// A client secret, kept out of `Debug` output and logs.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(s: String) -> Self {
        ClientSecret(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(…)")
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    org_id: Uuid,
    issuer: String,
    client_id: String,
    secret_enc: Vec<u8>,
    secret_nonce: Vec<u8>,
    kek_id: String,
    claim: String,
    password_sign_in: String,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl Row {
    fn split(self) -> Result<(SsoConfig, SealedSecret), SsoError> {
        let bad = |what: &str| SsoError::Invalid(format!("stored SSO {what} is not valid"));
        let config = SsoConfig {
            org_id: self.org_id,
            issuer: self.issuer,
            client_id: self.client_id,
            claim: Claim::parse(&self.claim).ok_or_else(|| bad("claim"))?,
            password_sign_in: PasswordSignIn::parse(&self.password_sign_in)
                .ok_or_else(|| bad("password_sign_in"))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        let sealed = SealedSecret {
            nonce: self.secret_nonce,
            ciphertext: self.secret_enc,
            kek_id: self.kek_id,
        };
        Ok((config, sealed))
    }
}

const COLUMNS: &str = "org_id, issuer, client_id, secret_enc, secret_nonce, kek_id, claim, \
     password_sign_in, created_at, updated_at";

fn select() -> String {
    format!("SELECT {COLUMNS} FROM sso_configs WHERE org_id = $1")
}

/// The organization's configuration, if it has one.
pub async fn get(db: &Db, org_id: Uuid) -> Result<Option<SsoConfig>, SsoError> {
    Ok(get_sealed(db, org_id).await?.map(|(c, _)| c))
}

/// The configuration and its client secret, opened with `kek`.
pub async fn get_with_secret(
    db: &Db,
    kek: &Kek,
    org_id: Uuid,
) -> Result<Option<(SsoConfig, ClientSecret)>, SsoError> {
    let Some((config, sealed)) = get_sealed(db, org_id).await? else {
        return Ok(None);
    };
    let plain = kek
        .decrypt(
            &sealed.kek_id,
            &sealed.nonce,
            &sealed.ciphertext,
            org_id.as_bytes(),
        )
        .map_err(|_| SsoError::SecretUnreadable)?;
    let secret = String::from_utf8(plain).map_err(|_| SsoError::SecretUnreadable)?;
    Ok(Some((config, ClientSecret(secret))))
}

async fn get_sealed(db: &Db, org_id: Uuid) -> Result<Option<(SsoConfig, SealedSecret)>, SsoError> {
    let sql = select();
    let row: Option<Row> = on_db!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(org_id).fetch_optional(pool).await
    })?;
    row.map(Row::split).transpose()
}

/// The configuration in the transaction `tx` (before a change).
pub async fn get_in(tx: &mut Tx, org_id: Uuid) -> Result<Option<SsoConfig>, SsoError> {
    let sql = select();
    let row: Option<Row> = on_tx!(tx, conn => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(org_id).fetch_optional(&mut *conn).await
    })?;
    Ok(row.map(Row::split).transpose()?.map(|(c, _)| c))
}

/// What a `put` writes.
pub struct NewConfig<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// `None` keeps the stored secret (there must be one).
    pub client_secret: Option<&'a ClientSecret>,
    pub claim: Claim,
    pub password_sign_in: PasswordSignIn,
}

/// Writes the organization's configuration, replacing any. Returns it.
pub async fn put_in(
    tx: &mut Tx,
    kek: &Kek,
    org_id: Uuid,
    new: NewConfig<'_>,
    now: Timestamp,
) -> Result<SsoConfig, SsoError> {
    let existing = get_in(tx, org_id).await?;
    let created_at = existing.as_ref().map_or(now, |c| c.created_at);
    match new.client_secret {
        Some(secret) => {
            let (nonce, ciphertext) = kek.encrypt(secret.expose().as_bytes(), org_id.as_bytes());
            on_tx!(tx, conn => {
                sqlx::query(
                    "INSERT INTO sso_configs (org_id, issuer, client_id, secret_enc, secret_nonce, \
                     kek_id, claim, password_sign_in, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (org_id) DO UPDATE SET issuer = $2, client_id = $3, \
                     secret_enc = $4, secret_nonce = $5, kek_id = $6, claim = $7, \
                     password_sign_in = $8, updated_at = $10",
                )
                .bind(org_id)
                .bind(new.issuer)
                .bind(new.client_id)
                .bind(&ciphertext)
                .bind(&nonce)
                .bind(kek.id())
                .bind(new.claim.as_str())
                .bind(new.password_sign_in.as_str())
                .bind(created_at)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map(|_| ())
            })?;
        }
        None => {
            if existing.is_none() {
                return Err(SsoError::Invalid(
                    "client_secret is required when SSO is first configured".into(),
                ));
            }
            on_tx!(tx, conn => {
                sqlx::query(
                    "UPDATE sso_configs SET issuer = $2, client_id = $3, claim = $4, \
                     password_sign_in = $5, updated_at = $6 WHERE org_id = $1",
                )
                .bind(org_id)
                .bind(new.issuer)
                .bind(new.client_id)
                .bind(new.claim.as_str())
                .bind(new.password_sign_in.as_str())
                .bind(now)
                .execute(&mut *conn)
                .await
                .map(|_| ())
            })?;
        }
    }
    Ok(SsoConfig {
        org_id,
        issuer: new.issuer.to_string(),
        client_id: new.client_id.to_string(),
        claim: new.claim,
        password_sign_in: new.password_sign_in,
        created_at,
        updated_at: now,
    })
}

/// Removes the organization's configuration; returns what was removed.
pub async fn delete_in(tx: &mut Tx, org_id: Uuid) -> Result<Option<SsoConfig>, SsoError> {
    let existing = get_in(tx, org_id).await?;
    if existing.is_some() {
        on_tx!(tx, conn => {
            sqlx::query("DELETE FROM sso_configs WHERE org_id = $1")
                .bind(org_id)
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })?;
    }
    Ok(existing)
}

/// Checks an issuer URL: https, or http on a loopback host (a test or a
/// provider on the same machine); no query or fragment (OpenID Connect
/// Discovery 1.0, section 3). Returns it trimmed, otherwise as given: the
/// discovery document must name exactly this issuer.
pub fn check_issuer(issuer: &str) -> Result<String, SsoError> {
    let bad = |why: &str| SsoError::Invalid(format!("issuer: {why}"));
    let issuer = issuer.trim();
    if issuer.len() > 1000 || issuer.chars().any(char::is_control) {
        return Err(bad("must be a URL of at most 1000 characters"));
    }
    let (scheme, rest) = issuer
        .split_once("://")
        .ok_or_else(|| bad("must be an https URL"))?;
    let host_port = rest.split('/').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    };
    if host.is_empty() || host_port.contains('@') {
        return Err(bad("must name a host"));
    }
    if issuer.contains(['?', '#', ' ']) {
        return Err(bad("must have no query, fragment or space"));
    }
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1");
    match scheme {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("must be an https URL (http only on a loopback host)")),
    }
    Ok(issuer.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_are_https_or_loopback_http() {
        assert_eq!(
            check_issuer("https://acme.okta.com").unwrap(),
            "https://acme.okta.com"
        );
        assert!(check_issuer("https://login.microsoftonline.com/t/v2.0").is_ok());
        assert!(check_issuer("http://127.0.0.1:4000").is_ok());
        assert!(check_issuer("http://localhost:4000/oidc").is_ok());
        assert!(check_issuer("http://[::1]:4000").is_ok());
        for bad in [
            "acme.okta.com",
            "http://acme.okta.com",
            "ftp://acme.okta.com",
            "https://",
            "https://a@b.com",
            "https://acme.okta.com?x=1",
            "https://acme.okta.com#f",
        ] {
            assert!(check_issuer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_secret_stays_out_of_debug_output() {
        let s = ClientSecret::new("very secret value".into());
        assert!(!format!("{s:?}").contains("very secret"));
    }
}
