//! The relying party: what this server asks of an organization's OpenID
//! provider. Discovery (`<issuer>/.well-known/openid-configuration`) and
//! the JWKS are cached per issuer; a token signed with a key the cached
//! JWKS does not have makes one fresh fetch (the provider rotated its keys),
//! at most every few seconds per issuer, so that forged `kid`s cannot make
//! this server hammer the provider. The code is exchanged with the PKCE
//! verifier and the client secret (HTTP Basic, RFC 6749 section 2.3.1).
//!
//! Each instance keeps its own cache: it holds only what the provider
//! publishes, and a stale copy corrects itself on the next unknown `kid`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::config::{ClientSecret, check_issuer};
use super::flow::Flow;
use super::id_token::{self, Expected, Invalid};
use super::{Refusal, SsoError};

/// How long discovery and the JWKS are kept before they are fetched again.
const CACHE_TTL: Duration = Duration::from_secs(3600);
/// The least time between two fetches of one issuer's JWKS for unknown keys.
const MIN_REFRESH: Duration = Duration::from_secs(5);
/// The largest answer read from a provider.
const MAX_BODY: usize = 1024 * 1024;
/// What is asked for: the ID token, and the claims a member may be matched on.
const SCOPE: &str = "openid email profile";

/// The parts of a discovery document this server uses.
#[derive(Clone, Debug, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

struct Cached {
    discovery: Discovery,
    fetched: Instant,
    keys: Option<(Vec<Jwk>, Instant)>,
}

/// The relying party of every organization: one HTTP client, the redirect
/// URI registered at providers, and the cache.
pub struct Relying {
    http: reqwest::Client,
    redirect_uri: String,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for Relying {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Relying({})", self.redirect_uri)
    }
}

fn unreachable(why: impl std::fmt::Display) -> SsoError {
    SsoError::refused(Refusal::IssuerUnreachable, why.to_string())
}

/// Chooses rustls's cryptography for the process, once, before any HTTP
/// client is built: reqwest is built without a provider of its own, so
/// every client in the process (the tests' and the example service's
/// too) needs this first. ring is the lighter of rustls's two providers
/// (aws-lc-rs adds a large C build); it has no post-quantum key exchange,
/// hence rustls's deprecation note: classical TLS is what every identity
/// provider offers today. An error means it is chosen already.
pub fn choose_tls_crypto() {
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Relying {
    /// The relying party whose callback is `<public_url>/api/v1/auth/sso/callback`.
    pub fn new(public_url: &str) -> Self {
        choose_tls_crypto();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("scimitar/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with these settings builds");
        Relying {
            http,
            redirect_uri: format!(
                "{}/api/v1/auth/sso/callback",
                public_url.trim_end_matches('/')
            ),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    async fn get_json(&self, url: &str) -> Result<Value, SsoError> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unreachable(format!("GET {url}: {}", e.without_url())))?;
        if !resp.status().is_success() {
            return Err(unreachable(format!("GET {url}: status {}", resp.status())));
        }
        read_json(resp)
            .await
            .map_err(|why| unreachable(format!("GET {url}: {why}")))
    }

    /// The issuer's discovery document, cached.
    pub async fn discovery(&self, issuer: &str) -> Result<Discovery, SsoError> {
        if let Some(c) = self.cache.lock().expect("cache lock").get(issuer)
            && c.fetched.elapsed() < CACHE_TTL
        {
            return Ok(c.discovery.clone());
        }
        let discovery = self.fetch_discovery(issuer).await?;
        self.cache.lock().expect("cache lock").insert(
            issuer.to_string(),
            Cached {
                discovery: discovery.clone(),
                fetched: Instant::now(),
                keys: None,
            },
        );
        Ok(discovery)
    }

    /// Reads the issuer's discovery document afresh and checks it, without
    /// touching the cache: what an admin configuring the issuer is told
    /// about it now, while sign-ins keep their own copy.
    pub async fn check_discovery(&self, issuer: &str) -> Result<Discovery, SsoError> {
        self.fetch_discovery(issuer).await
    }

    async fn fetch_discovery(&self, issuer: &str) -> Result<Discovery, SsoError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc = self.get_json(&url).await?;
        let discovery: Discovery = serde_json::from_value(doc)
            .map_err(|e| unreachable(format!("discovery document unusable: {e}")))?;
        // OpenID Connect Discovery 1.0, section 4.3: exactly the issuer asked.
        if discovery.issuer != issuer {
            return Err(unreachable(format!(
                "discovery names issuer `{}`, not the configured one",
                discovery.issuer
            )));
        }
        for endpoint in [
            &discovery.authorization_endpoint,
            &discovery.token_endpoint,
            &discovery.jwks_uri,
        ] {
            check_issuer(endpoint).map_err(|_| {
                unreachable(format!("discovery endpoint `{endpoint}` is not https"))
            })?;
        }
        Ok(discovery)
    }

    /// Where to send the browser: the provider's authorization endpoint
    /// with this flow's state, nonce and PKCE challenge.
    pub fn authorize_url(
        &self,
        discovery: &Discovery,
        client_id: &str,
        flow: &Flow,
    ) -> Result<String, SsoError> {
        let mut url = Url::parse(&discovery.authorization_endpoint)
            .map_err(|_| unreachable("authorization endpoint is not a URL"))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", SCOPE)
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &flow.challenge())
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Exchanges the code for the provider's ID token.
    pub async fn exchange(
        &self,
        discovery: &Discovery,
        client_id: &str,
        secret: &ClientSecret,
        code: &str,
        flow: &Flow,
    ) -> Result<String, SsoError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
            ("code_verifier", flow.verifier()),
        ];
        // RFC 6749, section 2.3.1: both parts form-encoded before Basic.
        let resp = self
            .http
            .post(&discovery.token_endpoint)
            .basic_auth(form_encode(client_id), Some(form_encode(secret.expose())))
            .form(&form)
            .send()
            .await
            .map_err(|e| unreachable(format!("token endpoint: {}", e.without_url())))?;
        let status = resp.status();
        let body = read_json(resp).await;
        if status.is_server_error() {
            return Err(unreachable(format!("token endpoint: status {status}")));
        }
        let body = body.map_err(|why| unreachable(format!("token endpoint: {why}")))?;
        if !status.is_success() {
            // The provider's error code only: its description may echo input.
            let error = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            return Err(SsoError::refused(
                Refusal::ProviderError,
                format!("token endpoint refused the code: {}", truncate(error)),
            ));
        }
        body.get("id_token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                SsoError::refused(Refusal::ProviderError, "no id_token in the token response")
            })
    }

    /// The issuer's signing keys: cached, or fetched when missing, old, or
    /// (with `refresh`, at most every [`MIN_REFRESH`]) when a token named a
    /// key they lack.
    async fn keys(
        &self,
        discovery: &Discovery,
        refresh: bool,
    ) -> Result<Option<Vec<Jwk>>, SsoError> {
        {
            let cache = self.cache.lock().expect("cache lock");
            if let Some((keys, at)) = cache.get(&discovery.issuer).and_then(|c| c.keys.as_ref()) {
                let fresh = at.elapsed() < CACHE_TTL;
                if fresh && !refresh {
                    return Ok(Some(keys.clone()));
                }
                if refresh && at.elapsed() < MIN_REFRESH {
                    return Ok(None);
                }
            }
        }
        let jwks = self.get_json(&discovery.jwks_uri).await?;
        let keys = id_token::keys_of(&jwks);
        let mut cache = self.cache.lock().expect("cache lock");
        let entry = cache
            .entry(discovery.issuer.clone())
            .or_insert_with(|| Cached {
                discovery: discovery.clone(),
                fetched: Instant::now(),
                keys: None,
            });
        entry.keys = Some((keys.clone(), Instant::now()));
        Ok(Some(keys))
    }

    /// The claims of `id_token` once it is valid for this client and flow.
    pub async fn verify(
        &self,
        discovery: &Discovery,
        client_id: &str,
        id_token: &str,
        nonce: &str,
    ) -> Result<Map<String, Value>, SsoError> {
        let expected = Expected {
            issuer: &discovery.issuer,
            client_id,
            nonce,
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let keys = self.keys(discovery, false).await?.unwrap_or_default();
        let result = match id_token::validate(id_token, &keys, &expected, now) {
            Err(Invalid::UnknownKey) => match self.keys(discovery, true).await? {
                Some(keys) => id_token::validate(id_token, &keys, &expected, now),
                None => Err(Invalid::UnknownKey),
            },
            other => other,
        };
        result.map_err(|e| match e {
            Invalid::BadNonce => SsoError::refused(Refusal::BadNonce, "ID token nonce differs"),
            Invalid::UnknownKey => SsoError::refused(
                Refusal::IdTokenInvalid,
                "ID token signed by a key the issuer does not publish",
            ),
            Invalid::Other(why) => SsoError::refused(Refusal::IdTokenInvalid, why),
        })
    }
}

fn form_encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|e| e.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

fn truncate(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

/// A JSON body of at most [`MAX_BODY`] bytes.
async fn read_json(mut resp: reqwest::Response) -> Result<Value, String> {
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err("answer too large".into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Err("answer too large".into());
        }
    }
    serde_json::from_slice(&body).map_err(|_| "answer is not JSON".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_credentials_are_form_encoded_for_basic() {
        assert_eq!(form_encode("a b+c:d/é"), "a+b%2Bc%3Ad%2F%C3%A9");
        assert_eq!(form_encode("plain-id_1.x"), "plain-id_1.x");
    }

    #[test]
    fn the_redirect_uri_is_under_the_public_url() {
        let r = Relying::new("https://scim.example.com/");
        assert_eq!(
            r.redirect_uri(),
            "https://scim.example.com/api/v1/auth/sso/callback"
        );
    }
}
