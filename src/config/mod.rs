//! Server configuration: command-line flags, each with an environment
//! variable (flags win). Secrets given by environment are never echoed in
//! `--help` or in debug output.

mod open;
pub use open::{StartError, open};

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::http::client_addr::TrustedProxies;
use crate::http::limits::{LimitsConfig, Rate};
use crate::store::{DatabaseUrl, Durability};

/// Defaults of the abuse limits (the reasoning: `docs/security.md`, "Abuse
/// limits"). A credential may send 1,000 requests a second, above the rate
/// this server creates users at (a few hundred a second on 2 cores), after
/// a burst of 20,000 that holds a whole conformance suite sent at once: a
/// 100,000-user import or `scim2-cli test` never meets it, and a runaway
/// client is held to about half of such a server. An address gets four
/// credentials' worth, for identity providers that send many tenants from
/// one egress address. Failures are counted per credential and address, so
/// they never lock out a good caller.
pub const DEFAULT_LIMITS: LimitsConfig = LimitsConfig {
    per_token: Rate {
        per_minute: 60_000,
        burst: 20_000,
    },
    per_address: Rate {
        per_minute: 240_000,
        burst: 80_000,
    },
    auth_failures_per_address: 100,
    auth_failures_per_credential: 10,
    auth_failure_window: Duration::from_secs(300),
    table_capacity: 65_536,
};
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Options every command shares.
#[derive(Args, Clone, Debug)]
pub struct CommonArgs {
    /// sqlite://PATH (created if missing) or postgres://...
    #[arg(
        long,
        env = "SCIMITAR_DATABASE_URL",
        default_value = "sqlite://scimitar.db",
        hide_env_values = true,
        global = true
    )]
    pub database_url: String,

    /// Pepper for token hashes (at least 32 bytes). If unset, one is generated
    /// and kept in the database.
    #[arg(
        long,
        env = "SCIMITAR_TOKEN_PEPPER",
        hide_env_values = true,
        global = true
    )]
    pub token_pepper: Option<Secret>,

    /// Version number of --token-pepper (>= 1). Bump it when you change the
    /// pepper; tokens hashed with older peppers then need to be rotated.
    #[arg(
        long,
        env = "SCIMITAR_TOKEN_PEPPER_VERSION",
        default_value_t = 1,
        hide_env_values = true,
        global = true
    )]
    pub token_pepper_version: i32,

    /// Earlier peppers still accepted while their tokens are rotated, as
    /// VERSION:PEPPER (comma-separated, or repeat the flag).
    #[arg(
        long,
        env = "SCIMITAR_TOKEN_PEPPER_PREVIOUS",
        hide_env_values = true,
        value_delimiter = ',',
        global = true
    )]
    pub token_pepper_previous: Vec<Secret>,

    /// Key that encrypts the signing keys at rest: 64 hex digits, or at
    /// least 32 bytes of text. If unset, one is generated and kept in the
    /// database (set one in production).
    #[arg(
        long,
        env = "SCIMITAR_KEY_ENCRYPTION_KEY",
        hide_env_values = true,
        global = true
    )]
    pub key_encryption_key: Option<Secret>,
}

/// A string that never prints.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(Secret(s.to_string()))
    }
}

/// `--durability` (see [`Durability`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DurabilityArg {
    Normal,
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Options of `scimitar serve`.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        env = "SCIMITAR_LISTEN",
        default_value = "127.0.0.1:8080",
        hide_env_values = true
    )]
    pub listen: SocketAddr,

    /// Lifetime of admin sign-in sessions, in seconds (1 to 86400).
    #[arg(
        long,
        env = "SCIMITAR_SESSION_TTL_SECONDS",
        default_value_t = 900,
        hide_env_values = true
    )]
    pub session_ttl_seconds: i64,

    /// How often last-used data of tokens is written (milliseconds, at most 5000).
    #[arg(
        long,
        env = "SCIMITAR_LAST_USED_FLUSH_MS",
        default_value_t = 5000,
        hide_env_values = true
    )]
    pub last_used_flush_ms: u64,

    /// Largest accepted request body, in bytes (a larger one gets 413).
    #[arg(long, env = "SCIMITAR_MAX_BODY_BYTES", default_value_t = 1024 * 1024, hide_env_values = true)]
    pub max_body_bytes: usize,

    /// Time limit for one request, in seconds (a slower one gets 408).
    #[arg(
        long,
        env = "SCIMITAR_REQUEST_TIMEOUT_SECONDS",
        default_value_t = 30,
        hide_env_values = true
    )]
    pub request_timeout_seconds: u64,

    /// Database connections in the pool.
    #[arg(
        long,
        env = "SCIMITAR_DB_MAX_CONNECTIONS",
        default_value_t = 16,
        hide_env_values = true
    )]
    pub db_max_connections: u32,

    /// Durability of commits: `normal` survives a killed process (SQLite:
    /// WAL, synchronous=NORMAL; PostgreSQL: changes synced, the records of
    /// reads flushed within 0.6 s); `full` also survives a power loss or a
    /// crashed database server, by syncing every commit (group commit
    /// shares one sync among many callers).
    #[arg(
        long,
        alias = "sqlite-durability",
        env = "SCIMITAR_DURABILITY",
        value_enum,
        default_value = "normal",
        hide_env_values = true
    )]
    pub durability: DurabilityArg,

    /// Externally visible base URL, used in SCIM `meta.location` and
    /// Location headers (default: from the request's Host header).
    #[arg(long, env = "SCIMITAR_PUBLIC_URL", hide_env_values = true)]
    pub public_url: Option<String>,

    /// Log format of the server's own log lines.
    #[arg(
        long,
        env = "SCIMITAR_LOG_FORMAT",
        value_enum,
        default_value = "text",
        hide_env_values = true
    )]
    pub log_format: LogFormat,

    /// Sign an audit checkpoint after this many records in a chain...
    #[arg(
        long,
        env = "SCIMITAR_AUDIT_CHECKPOINT_RECORDS",
        default_value_t = 1000,
        hide_env_values = true
    )]
    pub audit_checkpoint_records: u64,

    /// ...or once its oldest record without one is this many seconds old.
    #[arg(
        long,
        env = "SCIMITAR_AUDIT_CHECKPOINT_SECONDS",
        default_value_t = 300,
        hide_env_values = true
    )]
    pub audit_checkpoint_seconds: u64,

    /// How often expired audit records are purged (each organization keeps
    /// its own retention, 365 days unless set with `org set-audit-retention`).
    #[arg(
        long,
        env = "SCIMITAR_AUDIT_RETENTION_CHECK_SECONDS",
        default_value_t = 3600,
        hide_env_values = true
    )]
    pub audit_retention_check_seconds: u64,

    /// Let audit streams target loopback, link-local and private addresses
    /// (an on-premises SIEM); refused by default.
    #[arg(
        long,
        env = "SCIMITAR_AUDIT_STREAM_ALLOW_PRIVATE",
        hide_env_values = true
    )]
    pub audit_stream_allow_private: bool,

    /// Requests a minute per credential (token, or member session); 0 is
    /// no limit.
    #[arg(long, env = "SCIMITAR_RATE_LIMIT_PER_TOKEN", default_value_t = DEFAULT_LIMITS.per_token.per_minute, hide_env_values = true)]
    pub rate_limit_per_token: u32,

    /// Requests a credential may send at once before its rate applies.
    #[arg(long, env = "SCIMITAR_RATE_LIMIT_PER_TOKEN_BURST", default_value_t = DEFAULT_LIMITS.per_token.burst, hide_env_values = true)]
    pub rate_limit_per_token_burst: u32,

    /// Requests a minute per source address (IPv6: per /64); 0 is no limit.
    #[arg(long, env = "SCIMITAR_RATE_LIMIT_PER_ADDRESS", default_value_t = DEFAULT_LIMITS.per_address.per_minute, hide_env_values = true)]
    pub rate_limit_per_address: u32,

    /// Requests an address may send at once before its rate applies.
    #[arg(long, env = "SCIMITAR_RATE_LIMIT_PER_ADDRESS_BURST", default_value_t = DEFAULT_LIMITS.per_address.burst, hide_env_values = true)]
    pub rate_limit_per_address_burst: u32,

    /// Malformed or unknown credentials from one address within the window
    /// before that address's malformed or unknown credentials get 429 (its
    /// valid ones never do); 0 is no limit.
    #[arg(long, env = "SCIMITAR_AUTH_FAILURE_LIMIT_PER_ADDRESS", default_value_t = DEFAULT_LIMITS.auth_failures_per_address, hide_env_values = true)]
    pub auth_failure_limit_per_address: u32,

    /// Failed authentications with one existing credential (token, session,
    /// or a member's sign-in) from one address within the window before
    /// that credential gets 429 from that address, even with the right
    /// secret; 0 is no limit.
    #[arg(long, alias = "auth-failure-limit-per-token", env = "SCIMITAR_AUTH_FAILURE_LIMIT_PER_CREDENTIAL", default_value_t = DEFAULT_LIMITS.auth_failures_per_credential, hide_env_values = true)]
    pub auth_failure_limit_per_credential: u32,

    /// The failed-authentication window, in seconds (at least 1).
    #[arg(long, env = "SCIMITAR_AUTH_FAILURE_WINDOW_SECONDS", default_value_t = DEFAULT_LIMITS.auth_failure_window.as_secs(), hide_env_values = true)]
    pub auth_failure_window_seconds: u64,

    /// Most open client connections; further ones wait to be accepted.
    #[arg(long, env = "SCIMITAR_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS, hide_env_values = true)]
    pub max_connections: usize,

    /// Time a client has to send a request's headers (and most a kept-alive
    /// connection may stay idle), in seconds (at least 1).
    #[arg(long, env = "SCIMITAR_HEADER_READ_TIMEOUT_SECONDS", default_value_t = DEFAULT_HEADER_READ_TIMEOUT.as_secs(), hide_env_values = true)]
    pub header_read_timeout_seconds: u64,

    /// Reverse proxies whose X-Forwarded-For names the client (CIDRs or
    /// addresses, comma-separated). Unset: the TCP peer is the client and
    /// the header is ignored.
    #[arg(
        long,
        env = "SCIMITAR_TRUSTED_PROXIES",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub trusted_proxies: Vec<String>,

    /// Serve Prometheus metrics at /metrics, on the main listener unless
    /// --metrics-listen is given. Unauthenticated: keep the port private.
    #[arg(long, env = "SCIMITAR_METRICS", hide_env_values = true)]
    pub metrics: bool,

    /// Serve /metrics on this address only, off the main listener (implies
    /// --metrics).
    #[arg(long, env = "SCIMITAR_METRICS_LISTEN", hide_env_values = true)]
    pub metrics_listen: Option<SocketAddr>,
}

/// Where `/metrics` is served, if anywhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MetricsAt {
    /// Metrics are off: no recorder is installed.
    #[default]
    Off,
    /// On the main listener.
    Main,
    /// On a listener of their own, and not on the main one.
    Listen(SocketAddr),
}

/// Everything the server needs, resolved.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: DatabaseUrl,
    /// Configured token peppers, current first (empty: use the generated one).
    pub token_peppers: Vec<(i32, Secret)>,
    pub listen: SocketAddr,
    pub session_ttl_seconds: i64,
    pub last_used_flush: Duration,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub db_max_connections: u32,
    pub durability: Durability,
    pub public_url: Option<String>,
    /// Configured key-encryption key for signing keys (None: generated).
    pub key_encryption_key: Option<Secret>,
    /// Sign an audit checkpoint every this many records…
    pub audit_checkpoint_records: u64,
    /// …or when a chain's oldest record without one is this old.
    pub audit_checkpoint_interval: Duration,
    /// How often expired audit records are purged.
    pub audit_retention_check: Duration,
    /// Whether audit streams may target non-public addresses.
    pub audit_stream_allow_private: bool,
    /// Rate and failed-authentication limits.
    pub limits: LimitsConfig,
    /// Most open client connections.
    pub max_connections: usize,
    /// Time to send a request's headers; also the keep-alive idle limit.
    pub header_read_timeout: Duration,
    /// Peers whose X-Forwarded-For is believed (empty: none).
    pub trusted_proxies: TrustedProxies,
    /// Where `/metrics` is served.
    pub metrics: MetricsAt,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
}

impl CommonArgs {
    pub fn database_url(&self) -> Result<DatabaseUrl, ConfigError> {
        self.database_url
            .parse()
            .map_err(|e: crate::store::StoreError| ConfigError::Invalid(e.to_string()))
    }

    /// The configured peppers, current first. Empty when none is configured
    /// (the generated one is used).
    pub fn peppers(&self) -> Result<Vec<(i32, Secret)>, ConfigError> {
        let check = |version: i32, p: &Secret| {
            if p.0.len() < 32 {
                Err(ConfigError::Invalid(format!(
                    "token pepper version {version} must be at least 32 bytes"
                )))
            } else if version < 1 {
                Err(ConfigError::Invalid(
                    "token pepper versions start at 1 (0 is the generated pepper)".into(),
                ))
            } else {
                Ok((version, p.clone()))
            }
        };
        let Some(current) = &self.token_pepper else {
            if !self.token_pepper_previous.is_empty() {
                return Err(ConfigError::Invalid(
                    "SCIMITAR_TOKEN_PEPPER_PREVIOUS needs SCIMITAR_TOKEN_PEPPER".into(),
                ));
            }
            return Ok(Vec::new());
        };
        let mut all = vec![check(self.token_pepper_version, current)?];
        for item in &self.token_pepper_previous {
            let (version, pepper) = item.0.split_once(':').ok_or_else(|| {
                ConfigError::Invalid("previous peppers are written VERSION:PEPPER".into())
            })?;
            let version = version.parse().map_err(|_| {
                ConfigError::Invalid("a previous pepper's version must be a number".into())
            })?;
            if all.iter().any(|(v, _)| *v == version) {
                return Err(ConfigError::Invalid(format!(
                    "token pepper version {version} is given twice"
                )));
            }
            all.push(check(version, &Secret(pepper.to_string()))?);
        }
        Ok(all)
    }

    /// The configured key-encryption key, checked for form.
    pub fn key_encryption_key(&self) -> Result<Option<Secret>, ConfigError> {
        match &self.key_encryption_key {
            None => Ok(None),
            Some(k) => {
                crate::signing::Kek::parse(&k.0).map_err(ConfigError::Invalid)?;
                Ok(Some(k.clone()))
            }
        }
    }
}

impl Config {
    pub fn resolve(common: &CommonArgs, serve: &ServeArgs) -> Result<Self, ConfigError> {
        if !(1..=86_400).contains(&serve.session_ttl_seconds) {
            return Err(ConfigError::Invalid(
                "session TTL must be 1 to 86400 seconds".into(),
            ));
        }
        if !(1..=5000).contains(&serve.last_used_flush_ms) {
            return Err(ConfigError::Invalid(
                "last-used flush must be 1 to 5000 ms".into(),
            ));
        }
        if serve.auth_failure_window_seconds == 0
            || serve.header_read_timeout_seconds == 0
            || serve.max_connections == 0
        {
            return Err(ConfigError::Invalid(
                "the auth failure window, header read timeout and max connections must be at least 1"
                    .into(),
            ));
        }
        if serve.audit_checkpoint_records == 0 || serve.audit_checkpoint_seconds == 0 {
            return Err(ConfigError::Invalid(
                "audit checkpoint records and seconds must be at least 1".into(),
            ));
        }
        Ok(Self {
            database_url: common.database_url()?,
            token_peppers: common.peppers()?,
            listen: serve.listen,
            session_ttl_seconds: serve.session_ttl_seconds,
            last_used_flush: Duration::from_millis(serve.last_used_flush_ms),
            max_body_bytes: serve.max_body_bytes,
            request_timeout: Duration::from_secs(serve.request_timeout_seconds.max(1)),
            db_max_connections: serve.db_max_connections.max(1),
            durability: match serve.durability {
                DurabilityArg::Normal => Durability::Normal,
                DurabilityArg::Full => Durability::Full,
            },
            public_url: serve
                .public_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_string()),
            key_encryption_key: common.key_encryption_key()?,
            audit_checkpoint_records: serve.audit_checkpoint_records,
            audit_checkpoint_interval: Duration::from_secs(serve.audit_checkpoint_seconds),
            audit_retention_check: Duration::from_secs(serve.audit_retention_check_seconds.max(1)),
            audit_stream_allow_private: serve.audit_stream_allow_private,
            limits: LimitsConfig {
                per_token: Rate {
                    per_minute: serve.rate_limit_per_token,
                    burst: serve.rate_limit_per_token_burst,
                },
                per_address: Rate {
                    per_minute: serve.rate_limit_per_address,
                    burst: serve.rate_limit_per_address_burst,
                },
                auth_failures_per_address: serve.auth_failure_limit_per_address,
                auth_failures_per_credential: serve.auth_failure_limit_per_credential,
                auth_failure_window: Duration::from_secs(serve.auth_failure_window_seconds),
                table_capacity: DEFAULT_LIMITS.table_capacity,
            },
            max_connections: serve.max_connections,
            header_read_timeout: Duration::from_secs(serve.header_read_timeout_seconds),
            trusted_proxies: TrustedProxies::parse(&serve.trusted_proxies)
                .map_err(ConfigError::Invalid)?,
            metrics: match (serve.metrics, serve.metrics_listen) {
                (_, Some(addr)) => MetricsAt::Listen(addr),
                (true, None) => MetricsAt::Main,
                (false, None) => MetricsAt::Off,
            },
        })
    }

    /// Defaults for a database URL: what tests and embedders start from.
    pub fn for_database(database_url: DatabaseUrl) -> Self {
        Self {
            database_url,
            token_peppers: Vec::new(),
            listen: "127.0.0.1:0".parse().expect("valid address"),
            session_ttl_seconds: 900,
            last_used_flush: Duration::from_secs(5),
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            db_max_connections: 16,
            durability: Durability::Normal,
            public_url: None,
            key_encryption_key: None,
            audit_checkpoint_records: 1000,
            audit_checkpoint_interval: Duration::from_secs(300),
            audit_retention_check: Duration::from_secs(3600),
            audit_stream_allow_private: false,
            limits: DEFAULT_LIMITS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            trusted_proxies: TrustedProxies::default(),
            metrics: MetricsAt::Off,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        common: CommonArgs,
    }

    fn parse(args: &[&str]) -> Result<Vec<(i32, Secret)>, ConfigError> {
        let mut all = vec!["probe"];
        all.extend_from_slice(args);
        Probe::try_parse_from(all)
            .expect("flags parse")
            .common
            .peppers()
    }

    #[test]
    fn peppers_are_current_first_with_previous_versions() {
        let a = "a".repeat(32);
        let b = format!("1:{}", "b".repeat(32));
        let got = parse(&[
            "--token-pepper",
            &a,
            "--token-pepper-version",
            "2",
            "--token-pepper-previous",
            &b,
        ])
        .unwrap();
        let versions: Vec<i32> = got.iter().map(|(v, _)| *v).collect();
        assert_eq!(versions, vec![2, 1]);
        assert_eq!(got[1].1.0, "b".repeat(32));
    }

    #[test]
    fn weak_or_ambiguous_peppers_are_refused() {
        assert!(parse(&["--token-pepper", "short"]).is_err());
        let a = "a".repeat(32);
        assert!(parse(&["--token-pepper", &a, "--token-pepper-version", "0"]).is_err());
        let same = format!("1:{}", "b".repeat(32));
        assert!(parse(&["--token-pepper", &a, "--token-pepper-previous", &same]).is_err());
        assert!(parse(&["--token-pepper-previous", &same]).is_err());
        assert!(parse(&["--token-pepper", &a, "--token-pepper-previous", "nocolon"]).is_err());
        assert!(parse(&[]).unwrap().is_empty());
    }

    #[derive(Parser)]
    struct ServeProbe {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn resolve(args: &[&str]) -> Result<Config, ConfigError> {
        let mut all = vec!["probe"];
        all.extend_from_slice(args);
        let p = ServeProbe::try_parse_from(all).expect("flags parse");
        Config::resolve(&p.common, &p.serve)
    }

    #[test]
    fn trusted_proxies_are_a_checked_list_and_none_by_default() {
        let none = resolve(&[]).unwrap();
        assert_eq!(none.trusted_proxies, TrustedProxies::default());
        let two = resolve(&["--trusted-proxies", "10.0.0.0/8, 192.168.1.1"]).unwrap();
        assert_eq!(
            two.trusted_proxies,
            TrustedProxies::parse(&["10.0.0.0/8", "192.168.1.1"]).unwrap()
        );
        let err = resolve(&["--trusted-proxies", "10.0.0.0/8,lb.internal"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`lb.internal`"), "{err}");
    }

    #[test]
    fn the_failure_limit_per_credential_keeps_its_old_flag_name() {
        let new = resolve(&["--auth-failure-limit-per-credential", "3"]).unwrap();
        let old = resolve(&["--auth-failure-limit-per-token", "3"]).unwrap();
        assert_eq!(new.limits.auth_failures_per_credential, 3);
        assert_eq!(old.limits, new.limits);
    }

    #[test]
    fn metrics_are_off_unless_asked_for_and_a_listener_of_their_own_implies_them() {
        assert_eq!(resolve(&[]).unwrap().metrics, MetricsAt::Off);
        assert_eq!(resolve(&["--metrics"]).unwrap().metrics, MetricsAt::Main);
        let addr: SocketAddr = "127.0.0.1:9100".parse().unwrap();
        let own = MetricsAt::Listen(addr);
        assert_eq!(
            resolve(&["--metrics-listen", "127.0.0.1:9100"])
                .unwrap()
                .metrics,
            own
        );
        assert_eq!(
            resolve(&["--metrics", "--metrics-listen", "127.0.0.1:9100"])
                .unwrap()
                .metrics,
            own
        );
    }

    #[test]
    fn debug_output_hides_peppers() {
        let a = "secret-pepper-value-0123456789abcdef";
        let got = parse(&["--token-pepper", a]).unwrap();
        assert!(!format!("{got:?}").contains("secret-pepper"));
    }
}
