//! The test OpenID provider (`tests/oidc/provider.mjs`, the certified
//! `oidc-provider` package) as a child process on loopback, and a small
//! browser: a client that follows redirects itself and keeps cookies, so
//! that a test can walk the sign-in round trip and tamper with a step.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::{Resp, read};

pub const CLIENT_ID: &str = "scimitar-test-client";

pub struct TestIdp {
    pub issuer: String,
    pub client_secret: String,
    child: Child,
    http: reqwest::Client,
}

/// Whether the provider can run here. Without `node` the SSO round-trip
/// tests are skipped with a message, unless `SCIMITAR_TEST_REQUIRE_NODE`
/// is set (CI sets it: there they must run).
fn node_available() -> bool {
    let found = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("SCIMITAR_TEST_REQUIRE_NODE").is_none(),
            "node is required (SCIMITAR_TEST_REQUIRE_NODE is set) but not found"
        );
        eprintln!(
            "SKIPPED: node is not installed, so the test OpenID provider cannot run \
             (apt-get install nodejs npm; cd tests/oidc && npm ci)"
        );
    }
    found
}

impl TestIdp {
    /// Starts the provider with `redirect_uri` registered for its client;
    /// `None` (the test skips) when node is missing.
    pub async fn start(redirect_uri: &str) -> Option<TestIdp> {
        if !node_available() {
            return None;
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc");
        if !std::path::Path::new(dir)
            .join("node_modules/oidc-provider")
            .exists()
        {
            // A fresh clone: README's `cargo test` skips, CI (which installs
            // it and sets SCIMITAR_TEST_REQUIRE_NODE) never does.
            assert!(
                std::env::var_os("SCIMITAR_TEST_REQUIRE_NODE").is_none(),
                "the test OpenID provider is not installed: cd tests/oidc && npm ci"
            );
            eprintln!(
                "SKIPPED: the test OpenID provider is not installed (cd tests/oidc && npm ci)"
            );
            return None;
        }
        let client_secret = format!("idp-secret-{}", uuid::Uuid::new_v4().simple());
        crate::capture::note_secret(&client_secret);
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(dir)
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", &client_secret)
            .env("REDIRECT_URI", redirect_uri)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the test provider starts within 60 s")
            .expect("read its stdout")
            .expect("it prints its issuer");
        let issuer = serde_json::from_str::<Value>(&line).expect("a JSON line")["issuer"]
            .as_str()
            .expect("issuer")
            .to_string();
        Some(TestIdp {
            issuer,
            client_secret,
            child,
            http: crate::support::http_client(),
        })
    }

    async fn control(&self, what: &str, body: Value) {
        let r = self
            .http
            .post(format!("{}/control/{what}", self.issuer))
            .json(&body)
            .send()
            .await
            .expect("control request");
        assert!(r.status().is_success(), "control {what}: {}", r.status());
    }

    /// Registers an account with these claims (beside `sub`).
    pub async fn account(&self, sub: &str, claims: Value) {
        let mut body = claims;
        body["sub"] = json!(sub);
        self.control("account", body).await;
    }

    /// The next login at the provider is `sub`, without its form.
    pub async fn next_login(&self, sub: &str) {
        self.control("next", json!({ "sub": sub })).await;
    }

    /// Serves another key under the signing key's kid as the JWKS.
    pub async fn foreign_jwks(&self) {
        self.control("mode", json!({ "foreign_jwks": true })).await;
    }

    /// Moves the provider's clock.
    pub async fn clock_offset(&self, seconds: i64) {
        self.control("mode", json!({ "clock_offset_seconds": seconds }))
            .await;
    }

    /// Stops the provider: its issuer is down from now on.
    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// A browser: follows no redirect by itself, keeps every cookie (the
/// server and the provider are both on 127.0.0.1, as a browser shares
/// cookies across ports of one host).
pub struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Default for Browser {
    fn default() -> Self {
        Browser {
            http: crate::support::http_client_builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
        }
    }
}

impl Browser {
    fn keep_cookies(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all(SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let first = v.split(';').next().unwrap_or_default();
            let Some((name, value)) = first.split_once('=') else {
                continue;
            };
            let gone = value.is_empty()
                || v.to_ascii_lowercase().contains("max-age=0")
                || v.to_ascii_lowercase().contains("expires=thu, 01 jan 1970");
            if gone {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_string(), value.trim().to_string());
            }
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.into(), value.into());
    }

    /// One GET, cookies sent and kept.
    pub async fn get(&mut self, url: &str) -> Resp {
        let mut req = self.http.get(url);
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(COOKIE, c.join("; "));
        }
        let resp = req.send().await.expect("browser request");
        self.keep_cookies(&resp);
        read(resp).await
    }

    /// Follows redirects from `url` until one leads to a URL starting with
    /// `stop_at`, which is returned without being requested.
    pub async fn follow_until(&mut self, url: &str, stop_at: &str) -> String {
        let mut url = url.to_string();
        for _ in 0..10 {
            if url.starts_with(stop_at) {
                return url;
            }
            let r = self.get(&url).await;
            assert!(
                r.status.is_redirection(),
                "GET {url}: {} {}",
                r.status,
                r.text
            );
            let location = r.header(LOCATION.as_str()).expect("Location").to_string();
            url = if location.starts_with('/') {
                let origin: String = url.split('/').take(3).collect::<Vec<_>>().join("/");
                format!("{origin}{location}")
            } else {
                location
            };
        }
        panic!("too many redirects before {stop_at}");
    }
}

/// A discovery document on loopback, served without node: enough for
/// `PUT /api/v1/sso` to accept an issuer that nobody signs in through
/// (configuration tests).
pub struct StubIssuer {
    pub issuer: String,
    task: tokio::task::JoinHandle<()>,
}

impl StubIssuer {
    /// A stub whose discovery document names itself.
    pub async fn start() -> StubIssuer {
        Self::naming(None).await
    }

    /// A stub whose discovery document names `issuer` (`None`: itself).
    pub async fn naming(issuer: Option<&str>) -> StubIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let own = format!("http://{}", listener.local_addr().expect("addr"));
        let named = issuer.unwrap_or(&own).to_string();
        let doc = json!({
            "issuer": named,
            "authorization_endpoint": format!("{own}/auth"),
            "token_endpoint": format!("{own}/token"),
            "jwks_uri": format!("{own}/jwks"),
        });
        let app = axum::Router::new().route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc) }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StubIssuer { issuer: own, task }
    }
}

impl Drop for StubIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
