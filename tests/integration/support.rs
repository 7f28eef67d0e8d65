//! `TestApp`: the real server on an ephemeral port, on SQLite (a fresh file)
//! or, when `SCIMITAR_TEST_POSTGRES_URL` is set, on PostgreSQL (a fresh
//! schema). Tests talk to it over HTTP and may reach into its database to
//! arrange what HTTP cannot (a token that expired an hour ago).

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use scimitar::app::Server;
use scimitar::config::Config;
use scimitar::store::{DatabaseUrl, Db};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub database_url: String,
    /// The bootstrap admin's password: the printed one-time password
    /// replaced, at start, by one of the test's own (as a new operator
    /// must, through `POST /api/v1/auth/password`).
    pub admin_password: String,
    /// The one-time password the server printed (it no longer signs in).
    pub bootstrap_password: String,
    pub pepper: Option<String>,
    /// The configured key-encryption key, also given to CLI runs.
    pub kek: Option<String>,
    server: Option<Server>,
    /// Whether dropping this app drops its PostgreSQL schema. Off after
    /// `shutdown`, which hands the database on for a restart.
    owns_database: bool,
}

pub struct Builder {
    session_ttl_seconds: i64,
    flush: Duration,
    pepper: Option<String>,
    max_body_bytes: usize,
    request_timeout: Duration,
    checkpoint_records: u64,
    checkpoint_interval: Duration,
    kek: Option<String>,
    limits: scimitar::http::limits::LimitsConfig,
    max_connections: usize,
    header_read_timeout: Duration,
    trusted_proxies: scimitar::http::client_addr::TrustedProxies,
    public_url: Option<String>,
    metrics: scimitar::config::MetricsAt,
    audit_stream_allow_private: bool,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem body with this status.
    #[track_caller]
    pub fn assert_problem(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.text
        );
        assert_eq!(self.body["status"], json!(status));
        assert!(
            self.body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:scimitar:problem:")),
            "{}",
            self.text
        );
        assert!(self.body["detail"].is_string());
        self
    }
}

/// The password of members made by [`TestApp::signed_in_member`].
pub const MEMBER_PASSWORD: &str = "a perfectly long password";

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A database URL for a fresh, empty database of the backend under test.
pub async fn fresh_database_url() -> String {
    match std::env::var("SCIMITAR_TEST_POSTGRES_URL") {
        Ok(base) if !base.is_empty() => {
            use sqlx::Connection;
            let schema = format!("t_{}", unique());
            let mut conn = sqlx::PgConnection::connect(&base)
                .await
                .expect("connect to SCIMITAR_TEST_POSTGRES_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut conn)
                .await
                .expect("create test schema");
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}options[search_path]={schema}")
        }
        _ => {
            let dir = std::env::temp_dir().join("scimitar-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!(
                "sqlite://{}",
                dir.join(format!("{}.db", unique())).display()
            )
        }
    }
}

pub fn on_postgres() -> bool {
    std::env::var("SCIMITAR_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty())
}

impl Builder {
    pub fn session_ttl_seconds(mut self, s: i64) -> Self {
        self.session_ttl_seconds = s;
        self
    }

    pub fn pepper(mut self, p: &str) -> Self {
        self.pepper = Some(p.to_string());
        self
    }

    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    pub fn flush_every(mut self, d: Duration) -> Self {
        self.flush = d;
        self
    }

    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Sign an audit checkpoint every `records` records or `interval`.
    pub fn checkpoint_every(mut self, records: u64, interval: Duration) -> Self {
        self.checkpoint_records = records;
        self.checkpoint_interval = interval;
        self
    }

    /// Configure a key-encryption key (also passed to CLI runs).
    pub fn key_encryption_key(mut self, kek: &str) -> Self {
        self.kek = Some(kek.to_string());
        self
    }

    /// Rate and failed-authentication limits (defaults: the server's).
    pub fn limits(mut self, limits: scimitar::http::limits::LimitsConfig) -> Self {
        self.limits = limits;
        self
    }

    /// Connection limits (defaults: the server's).
    pub fn connection_limits(mut self, max: usize, header_read_timeout: Duration) -> Self {
        self.max_connections = max;
        self.header_read_timeout = header_read_timeout;
        self
    }

    /// Peers whose X-Forwarded-For is believed (default: none).
    pub fn public_url(mut self, url: &str) -> Self {
        self.public_url = Some(url.to_string());
        self
    }

    pub fn trusted_proxies(mut self, cidrs: &[&str]) -> Self {
        self.trusted_proxies =
            scimitar::http::client_addr::TrustedProxies::parse(cidrs).expect("valid CIDRs");
        self
    }

    pub fn metrics(mut self, at: scimitar::config::MetricsAt) -> Self {
        self.metrics = at;
        self
    }

    /// Lets audit streams target loopback (the tests' receivers).
    pub fn allow_private_streams(mut self) -> Self {
        self.audit_stream_allow_private = true;
        self
    }

    pub async fn start(self) -> TestApp {
        let database_url = fresh_database_url().await;
        self.start_on(database_url).await
    }

    /// Starts on an existing database (a restart, or a second instance).
    pub async fn start_on(self, database_url: String) -> TestApp {
        crate::capture::init();
        let mut config =
            Config::for_database(database_url.parse::<DatabaseUrl>().expect("test url"));
        config.session_ttl_seconds = self.session_ttl_seconds;
        config.last_used_flush = self.flush;
        config.max_body_bytes = self.max_body_bytes;
        config.request_timeout = self.request_timeout;
        config.audit_checkpoint_records = self.checkpoint_records;
        config.audit_checkpoint_interval = self.checkpoint_interval;
        config.key_encryption_key = self.kek.clone().map(scimitar::config::Secret);
        config.limits = self.limits;
        config.max_connections = self.max_connections;
        config.header_read_timeout = self.header_read_timeout;
        config.trusted_proxies = self.trusted_proxies.clone();
        config.public_url = self.public_url.clone();
        config.metrics = self.metrics;
        config.audit_stream_allow_private = self.audit_stream_allow_private;
        config.token_peppers = self
            .pepper
            .iter()
            .map(|p| (1, scimitar::config::Secret(p.clone())))
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (server, bootstrap) = Server::start(config, listener)
            .await
            .expect("server starts");
        let bootstrap_password = bootstrap.map(|b| b.password).unwrap_or_default();
        let admin_password = if bootstrap_password.is_empty() {
            String::new()
        } else {
            format!("operator chose {}", unique())
        };
        for secret in [
            Some(&bootstrap_password),
            Some(&admin_password),
            self.pepper.as_ref(),
            self.kek.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            crate::capture::note_secret(secret);
        }
        let app = TestApp {
            base: format!("http://{}", server.addr),
            client: crate::support::http_client(),
            database_url,
            admin_password,
            bootstrap_password,
            pepper: self.pepper,
            kek: self.kek,
            server: Some(server),
            owns_database: true,
        };
        if !app.bootstrap_password.is_empty() {
            let body = json!({
                "organization": "default",
                "user_name": "admin",
                "password": app.bootstrap_password,
                "new_password": app.admin_password,
            });
            // A client of its own, dropped at once: no kept-alive
            // connection of the start is left holding a slot of the
            // server's connection limit.
            let once = crate::support::http_client();
            let resp = once
                .post(app.url("/api/v1/auth/password"))
                .json(&body)
                .send()
                .await
                .expect("request sent");
            let r = read(resp).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
        app
    }
}

impl TestApp {
    pub fn builder() -> Builder {
        Builder {
            session_ttl_seconds: 900,
            flush: Duration::from_millis(100),
            pepper: None,
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            checkpoint_records: 1000,
            checkpoint_interval: Duration::from_secs(300),
            kek: None,
            limits: scimitar::config::DEFAULT_LIMITS,
            max_connections: scimitar::config::DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: scimitar::config::DEFAULT_HEADER_READ_TIMEOUT,
            trusted_proxies: Default::default(),
            public_url: None,
            metrics: scimitar::config::MetricsAt::Off,
            audit_stream_allow_private: false,
        }
    }

    pub async fn spawn() -> TestApp {
        Self::builder().start().await
    }

    /// The address of `--metrics-listen`, when the app has one.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.server.as_ref().expect("running").metrics_addr
    }

    pub fn db(&self) -> &Db {
        &self.server.as_ref().expect("running").state.db
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        if let Some(body) = body {
            crate::capture::note_json(&body);
            req = req.json(&body);
        }
        read(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Resp {
        self.request(Method::GET, path, Some(bearer), None).await
    }

    pub async fn post(&self, path: &str, bearer: &str, body: Value) -> Resp {
        self.request(Method::POST, path, Some(bearer), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, bearer: &str, body: Value) -> Resp {
        self.request(Method::PATCH, path, Some(bearer), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> Resp {
        self.request(Method::DELETE, path, Some(bearer), None).await
    }

    pub async fn login(&self, organization: &str, user_name: &str, password: &str) -> Resp {
        let body =
            json!({ "organization": organization, "user_name": user_name, "password": password });
        self.request(Method::POST, "/api/v1/auth/login", None, Some(body))
            .await
    }

    /// The organization id of `bearer` (a session or token), from
    /// `/api/v1/tokens/self`.
    pub async fn org_of(&self, bearer: &str) -> String {
        let r = self.get("/api/v1/tokens/self", bearer).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["org_id"].as_str().unwrap().to_string()
    }

    /// A session for the bootstrap admin of organization `default`.
    pub async fn admin_session(&self) -> String {
        let r = self.login("default", "admin", &self.admin_password).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// Creates a member with [`MEMBER_PASSWORD`] through the CLI, signs them
    /// in, and returns (member id, session).
    pub async fn signed_in_member(
        &self,
        org: &str,
        user_name: &str,
        role: &str,
    ) -> (String, String) {
        let args = [
            "member",
            "create",
            "--org",
            org,
            "--user-name",
            user_name,
            "--role",
            role,
            "--password-stdin",
            "--json",
        ];
        let m = self
            .cli_with_stdin(&args, Some(&format!("{MEMBER_PASSWORD}\n")))
            .await
            .json();
        let r = self.login(org, user_name, MEMBER_PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        (
            m["id"].as_str().unwrap().to_string(),
            r.body["access_token"].as_str().unwrap().to_string(),
        )
    }

    /// Creates a SAT through the API and returns (id, value).
    pub async fn create_sat(&self, session: &str, body: Value) -> (String, String) {
        let r = self
            .post("/api/v1/service-access-tokens", session, body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        (
            r.body["id"].as_str().unwrap().to_string(),
            r.body["token"].as_str().unwrap().to_string(),
        )
    }

    /// An organization SAT with `scim:read` and `scim:write`, and a client
    /// for `/scim/v2` that sends it.
    pub async fn scim(&self) -> Scim<'_> {
        let s = self.admin_session().await;
        let (_, token) = self
            .create_sat(
                &s,
                json!({ "name": "idp", "permissions": ["scim:read", "scim:write"] }),
            )
            .await;
        Scim { app: self, token }
    }

    /// Lets SCIM set the passwords of organization `default`'s members
    /// (off by default), through the admin API.
    pub async fn allow_scim_passwords(&self) {
        let s = self.admin_session().await;
        let r = self
            .patch(
                "/api/v1/organization",
                &s,
                json!({ "scim_passwords": true }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["scim_passwords"], true);
    }

    /// Creates a workspace through the API and returns its id.
    pub async fn create_workspace(&self, session: &str, name: &str) -> String {
        let r = self
            .post("/api/v1/workspaces", session, json!({ "name": name }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Runs the `scimitar` binary against this app's database. Async, so
    /// that the in-process server keeps running on the test's runtime while
    /// the command waits for it (a blocking wait would stall the server
    /// halfway through a transaction).
    pub async fn cli(&self, args: &[&str]) -> CliRun {
        self.cli_with_stdin(args, None).await
    }

    pub async fn cli_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> CliRun {
        run_cli(
            &self.database_url,
            self.pepper.as_deref(),
            self.kek.as_deref(),
            args,
            stdin,
        )
        .await
    }

    /// The server's current signing key pair, decrypted as the server does
    /// (with the configured KEK, or the generated one in `server_settings`):
    /// for forging what only a holder of the key could make.
    pub async fn current_signing_key(&self) -> scimitar::signing::KeyPair {
        use scimitar::signing::{GENERATED_KEK_SETTING, Kek, KeyPair};
        let kek = match &self.kek {
            Some(k) => Kek::parse(k).expect("valid KEK"),
            None => {
                let hex = scimitar::store::settings::get(self.db(), GENERATED_KEK_SETTING)
                    .await
                    .unwrap()
                    .expect("a generated KEK");
                let bytes = scimitar::store::settings::from_hex(&hex).unwrap();
                Kek::from_bytes(bytes.try_into().unwrap())
            }
        };
        let (kid, kek_id, nonce, sealed): (String, String, Vec<u8>, Vec<u8>) =
            scimitar::on_db!(self.db(), pool => {
                sqlx::query_as(
                    "SELECT kid, kek_id, nonce, private_key_enc FROM signing_keys \
                     ORDER BY generation DESC LIMIT 1",
                )
                .fetch_one(pool)
                .await
            })
            .expect("a signing key");
        let mut seed = kek
            .decrypt(&kek_id, &nonce, &sealed, kid.as_bytes())
            .expect("the current key opens");
        let pair = KeyPair::from_seed(&seed).unwrap();
        seed.fill(0);
        assert_eq!(pair.kid(), kid);
        pair
    }

    /// Audit records of an organization's chain (or `unattributed`), oldest
    /// first, read straight from the table.
    pub async fn audit_records(&self, chain: &str) -> Vec<Value> {
        let db = self.db();
        let rows: Vec<scimitar::audit::StoredEvent> = scimitar::on_db!(db, pool => {
            sqlx::query_as(
                audit_select!("WHERE chain = $1 ORDER BY seq"),
            )
            .bind(chain)
            .fetch_all(pool)
            .await
        })
        .expect("read audit");
        rows.into_iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect()
    }

    /// Stops the server gracefully (flushing last-used data).
    pub async fn shutdown(mut self) -> String {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        self.owns_database = false;
        self.database_url.clone()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // For tests/secret_grep.sh (after a shutdown, too: the database may
        // not be started again).
        crate::capture::dump_audit(&self.database_url);
        if self.owns_database {
            drop_database(&self.database_url);
        }
    }
}

/// Runs the `scimitar` binary against `database_url`, with this pepper and
/// KEK (none: their variables are removed) and `stdin`.
pub async fn run_cli(
    database_url: &str,
    pepper: Option<&str>,
    kek: Option<&str>,
    args: &[&str],
    stdin: Option<&str>,
) -> CliRun {
    crate::capture::init();
    if let Some(s) = stdin {
        // `--password-stdin`: the first line is a password.
        crate::capture::note_secret(s.lines().next().unwrap_or_default());
    }
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_scimitar"));
    cmd.args(args)
        .env("SCIMITAR_DATABASE_URL", database_url)
        .env_remove("SCIMITAR_TOKEN_PEPPER")
        .env_remove("SCIMITAR_KEY_ENCRYPTION_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = pepper {
        cmd.env("SCIMITAR_TOKEN_PEPPER", p);
    }
    if let Some(k) = kek {
        crate::capture::note_secret(k);
        cmd.env("SCIMITAR_KEY_ENCRYPTION_KEY", k);
    }
    let mut child = cmd.spawn().expect("run scimitar");
    {
        use tokio::io::AsyncWriteExt;
        let mut input = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).await.expect("write stdin");
        }
    }
    let out = child.wait_with_output().await.expect("scimitar exits");
    let run = CliRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    crate::capture::note_tokens_in(&run.stdout);
    crate::capture::cli_stderr(args, &run.stderr);
    run
}

/// Drops a test's PostgreSQL schema so that the shared database does not
/// grow with every run. (SQLite files live in the temp directory.)
pub fn drop_database(database_url: &str) {
    let Some(schema) = database_url.split("options[search_path]=").nth(1) else {
        return;
    };
    let Ok(base) = std::env::var("SCIMITAR_TEST_POSTGRES_URL") else {
        return;
    };
    let schema = schema.to_string();
    on_own_runtime(async move {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&base).await.ok()?;
        // The server's background tasks run on the test's runtime, which
        // this join blocks: one caught inside a transaction (a last-used
        // flush, say) would hold its locks, and the DROP would wait for
        // it forever. The test is over, so end whoever holds a lock in
        // the schema, and never wait long for one.
        let holders = "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
                JOIN pg_class c ON c.oid = l.relation \
                JOIN pg_namespace n ON n.oid = c.relnamespace \
                WHERE n.nspname = $1 AND l.pid <> pg_backend_pid()";
        sqlx::query("SET lock_timeout = '5s'")
            .execute(&mut conn)
            .await
            .ok()?;
        let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
        for _ in 0..3 {
            let _ = sqlx::query(holders).bind(&schema).execute(&mut conn).await;
            if sqlx::query(sqlx::AssertSqlSafe(drop.clone()))
                .execute(&mut conn)
                .await
                .is_ok()
            {
                return Some(());
            }
        }
        None
    });
}

/// Runs `work` to its end on a short-lived thread with a runtime of its own:
/// callers may run from `Drop` inside a test's runtime, which cannot be
/// blocked on.
pub fn on_own_runtime<F>(work: F)
where
    F: std::future::Future<Output = Option<()>> + Send + 'static,
{
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?
            .block_on(work)
    })
    .join();
}

/// A query over every column of an audit record, as
/// `scimitar::audit::StoredEvent` reads them, followed by `$rest`.
macro_rules! audit_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, chain, seq, org_id, workspace_id, occurred_at, actor_kind, actor_id, \
             actor_display, action, target_type, target_id, target_display, outcome, reason, \
             http_status, request_id, source_ip, user_agent, changes, reported_by, prev_hash, hash \
             FROM audit_events ",
            $rest
        )
    };
}
pub(crate) use audit_select;

pub struct CliRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    /// The one JSON object a `--json` command prints.
    #[track_caller]
    pub fn json(&self) -> Value {
        assert_eq!(
            self.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        assert_eq!(
            self.stdout.lines().count(),
            1,
            "exactly one line: {}",
            self.stdout
        );
        serde_json::from_str(self.stdout.trim()).expect("stdout is one JSON object")
    }
}

pub async fn read(resp: reqwest::Response) -> Resp {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    crate::capture::note_json(&body);
    crate::capture::note_tokens_in(&text);
    Resp {
        status,
        headers,
        body,
        text,
    }
}

/// Polls `check` until it returns true or `timeout` passes.
/// Waits out the token cache: a change made behind the server's back (SQL
/// from a test, the CLI, another instance) reaches a server that verified
/// the token a moment before once the row it read is this old
/// (`scimitar::tokens::FRESH_FOR`, under the one second promised).
pub async fn outside_change_lands() {
    tokio::time::sleep(scimitar::tokens::FRESH_FOR).await;
}

/// How soon a revocation made elsewhere must reach every instance.
pub const REVOCATION_REACH: Duration = Duration::from_secs(1);

/// An HTTP client for the tests: rustls's cryptography is chosen first
/// (reqwest is built without a provider of its own).
pub fn http_client() -> reqwest::Client {
    http_client_builder().build().expect("an HTTP client")
}

/// The builder of such a client.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    scimitar::sso::choose_tls_crypto();
    reqwest::Client::builder()
}

pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A SCIM client with its bearer token.
pub struct Scim<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl Scim<'_> {
    pub fn url(&self, path: &str) -> String {
        self.app.url(&format!("/scim/v2{path}"))
    }

    /// Sends a request with `content-type: application/scim+json`.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.send_with(method, path, body, &[]).await
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self
            .app
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            crate::capture::note_json(&b);
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        read(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None).await
    }

    /// Lists with a filter; returns the response.
    pub async fn filter(&self, path: &str, filter: &str) -> Resp {
        let q = serde_urlencoded::to_string([("filter", filter)]).unwrap();
        self.get(&format!("{path}?{q}")).await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, body: Value) -> String {
        let r = self.post("/Users", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Creates a group and returns its id.
    pub async fn create_group(&self, body: Value) -> String {
        let r = self.post("/Groups", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_string()
    }
}

impl Resp {
    /// Asserts a SCIM error with this status (and scimType, if given).
    #[track_caller]
    pub fn assert_scim_error(&self, status: u16, scim_type: Option<&str>) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/scim+json"),
            "{}",
            self.text
        );
        assert_eq!(
            self.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
            "{}",
            self.text
        );
        assert_eq!(
            self.body["status"],
            json!(status.to_string()),
            "status is a string: {}",
            self.text
        );
        assert!(self.body["detail"].is_string());
        if let Some(t) = scim_type {
            assert_eq!(self.body["scimType"], json!(t), "{}", self.text);
        }
        self
    }
}

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A minimal user body.
pub fn user(user_name: &str) -> Value {
    json!({ "schemas": [USER_SCHEMA], "userName": user_name })
}

/// A PatchOp body.
pub fn patch_op(ops: Value) -> Value {
    json!({ "schemas": [PATCH_OP], "Operations": ops })
}

/// A record's `changes`, parsed (stored as JSON text; `null` for none).
pub fn record_changes(record: &Value) -> Value {
    match &record["changes"] {
        Value::String(s) => serde_json::from_str(s).expect("changes are JSON"),
        other => other.clone(),
    }
}
