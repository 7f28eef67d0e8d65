//! Abuse limits on requests: a rate limit per credential and per source
//! address (token buckets), and limits on failed authentications that never
//! lock out a good caller: failures with a credential that exists count per
//! (address, credential), so only that credential from that address is
//! blocked; malformed and unknown credentials count per address, and a
//! blocked address is refused only those. A refusal is a 429 with
//! `Retry-After`, recorded in the audit log at most once a minute per key.
//!
//! The state lives in memory, per instance (why: `docs/security.md`, "Abuse
//! limits"), in bounded tables. Connection-level limits (how many
//! connections, how long to send headers) are in [`super::listener`].

mod bucket;
pub mod credential;
mod middleware;
mod refuse;
mod table;

pub use bucket::Rate;
pub use middleware::middleware;
pub use refuse::refuse;

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use axum::response::IntoResponse;

use bucket::{Bucket, Failures, Notice, retry_after_seconds};
use table::{Entry, Table};

/// The configured limits. A rate or a failure limit of 0 is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Per credential (token id, or member for a session).
    pub per_token: Rate,
    /// Per source address (IPv4 address, or IPv6 /64).
    pub per_address: Rate,
    /// Malformed or unknown credentials from one address in the window,
    /// after which the address's malformed or unknown credentials are
    /// refused (its good ones never are).
    pub auth_failures_per_address: u32,
    /// Failed authentications with one existing credential from one
    /// address in the window, after which that credential is refused from
    /// that address, the right secret included.
    pub auth_failures_per_credential: u32,
    pub auth_failure_window: Duration,
    /// Most keys each table tracks.
    pub table_capacity: usize,
}

/// Which limit refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A verified credential's rate.
    Token,
    /// An address: its rate, or its malformed and unknown credentials.
    Address,
    /// One credential from one address.
    Credential,
}

/// A refused authentication, as the failure limits count it.
#[derive(Clone, Copy, Debug)]
pub enum Failed<'a> {
    /// Nothing that exists: a malformed value, an unknown token id, a
    /// session this server did not sign, another scheme. Counted against
    /// the address, whose own good credentials it never blocks.
    Unknown,
    /// A credential that exists but was refused (wrong secret, revoked,
    /// expired, an ended session, a wrong password). Counted against this
    /// credential from this address only (`key`: see [`credential`]), so
    /// that another tenant behind the same address is not affected.
    Credential {
        key: &'a str,
        org_id: Option<uuid::Uuid>,
    },
}

/// Why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    RateLimited,
    AuthFailures,
}

/// A refused request: why, for how long, and whether to record it.
#[derive(Clone, Copy, Debug)]
pub struct LimitRefusal {
    pub why: Why,
    pub scope: Scope,
    pub retry_after_seconds: u64,
    /// `Some(refusals left unrecorded since the last record)` when this
    /// one is to be recorded.
    pub record: Option<u64>,
    /// The organization of the token, for a token's failure limit.
    pub org_id: Option<uuid::Uuid>,
}

impl LimitRefusal {
    pub fn reason_code(&self) -> &'static str {
        match self.why {
            Why::RateLimited => "rate_limited",
            Why::AuthFailures => "auth_failures",
        }
    }

    pub fn scope_name(&self) -> &'static str {
        match self.scope {
            Scope::Token => "token",
            Scope::Address => "address",
            Scope::Credential => "credential",
        }
    }

    /// What the caller (and the audit record) is told.
    pub fn detail(&self) -> String {
        let what = match (self.why, self.scope) {
            (Why::RateLimited, Scope::Token) => "too many requests with this credential",
            (Why::RateLimited, Scope::Address) => "too many requests from this address",
            (Why::RateLimited, Scope::Credential) => "too many requests with this credential",
            (Why::AuthFailures, Scope::Token | Scope::Credential) => {
                "too many failed authentications with this credential from this address"
            }
            (Why::AuthFailures, Scope::Address) => {
                "too many malformed or unknown credentials from this address"
            }
        };
        format!("{what}: retry after {} seconds", self.retry_after_seconds)
    }
}

struct RateEntry {
    rate: Rate,
    bucket: Bucket,
    notice: Notice,
}

impl Entry for RateEntry {
    fn is_stale(&self, now: Instant) -> bool {
        self.bucket.is_idle(self.rate, now) && self.notice.is_idle(now)
    }
}

struct FailEntry {
    window: Duration,
    failures: Failures,
    notice: Notice,
    org_id: Option<uuid::Uuid>,
}

impl Entry for FailEntry {
    fn is_stale(&self, now: Instant) -> bool {
        self.failures.expired(self.window, now) && self.notice.is_idle(now)
    }
}

/// The limits' state, shared by every request of this instance.
/// Renders an [`ApiError`](crate::http::ApiError) refusing a request for a
/// path (the second argument).
pub type RefusalForm = fn(crate::http::ApiError, &str) -> axum::response::Response;

pub struct Limiter {
    config: LimitsConfig,
    /// How a refusal made before routing is rendered: each edge answers in
    /// its own protocol's form, and only the composition root knows which
    /// edge serves which path.
    refusal_form: RefusalForm,
    per_token: Table<String, RateEntry>,
    per_address: Table<IpAddr, RateEntry>,
    failures_by_address: Table<IpAddr, FailEntry>,
    failures_by_credential: Table<(Option<IpAddr>, String), FailEntry>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The key of an address: IPv4 as is, IPv6 by its /64 (one subscriber's
/// network, which a client can rotate through at will).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

impl Limiter {
    pub fn new(config: LimitsConfig) -> Self {
        let now = Instant::now();
        let cap = config.table_capacity;
        Self {
            config,
            refusal_form: |err, _path| err.into_response(),
            per_token: Table::new(cap, now),
            per_address: Table::new(cap, now),
            failures_by_address: Table::new(cap, now),
            failures_by_credential: Table::new(cap, now),
        }
    }

    /// Renders refusals with `form` (by default, as a problem).
    pub fn with_refusal_form(mut self, form: RefusalForm) -> Self {
        self.refusal_form = form;
        self
    }

    /// A refusal of a request for `path`, in the form of the API it is for.
    pub fn render(&self, err: crate::http::ApiError, path: &str) -> axum::response::Response {
        (self.refusal_form)(err, path)
    }

    /// Before anything else: the address's rate.
    pub fn check_address(&self, ip: IpAddr, now: Instant) -> Result<(), LimitRefusal> {
        take(
            &self.per_address,
            self.config.per_address,
            address_key(ip),
            Scope::Address,
            now,
        )
    }

    /// Before a credential is checked: whether it is blocked from this
    /// address by its own failures (even with the right secret, so that
    /// guessing learns nothing). `key` names it ([`credential`]).
    pub fn check_credential_failures(
        &self,
        ip: Option<IpAddr>,
        key: &str,
        now: Instant,
    ) -> Result<(), LimitRefusal> {
        self.check_failures(
            &self.failures_by_credential,
            &(ip.map(address_key), key.to_string()),
            Scope::Credential,
            now,
        )
    }

    /// Once a credential has turned out malformed or unknown: whether its
    /// address is blocked for such credentials. Never asked of a credential
    /// that verified.
    pub fn check_unknown(&self, ip: Option<IpAddr>, now: Instant) -> Result<(), LimitRefusal> {
        let Some(ip) = ip else {
            return Ok(());
        };
        self.check_failures(
            &self.failures_by_address,
            &address_key(ip),
            Scope::Address,
            now,
        )
    }

    /// After a credential is verified: its rate. `key` names it (token id,
    /// or member id for a session).
    pub fn check_credential(&self, key: &str, now: Instant) -> Result<(), LimitRefusal> {
        take(
            &self.per_token,
            self.config.per_token,
            key.to_string(),
            Scope::Token,
            now,
        )
    }

    /// A failed authentication from `ip`.
    pub fn auth_failed(&self, ip: Option<IpAddr>, failed: Failed<'_>, now: Instant) {
        let window = self.config.auth_failure_window;
        let new = |org_id| {
            move || FailEntry {
                window,
                failures: Failures::new(now),
                notice: Notice::default(),
                org_id,
            }
        };
        match failed {
            Failed::Unknown => {
                if let Some(ip) = ip
                    && self.config.auth_failures_per_address > 0
                {
                    self.failures_by_address
                        .upsert(address_key(ip), now, new(None), |e| {
                            e.failures.note(window, now)
                        });
                }
            }
            Failed::Credential { key, org_id } => {
                if self.config.auth_failures_per_credential > 0 {
                    let k = (ip.map(address_key), key.to_string());
                    self.failures_by_credential
                        .upsert(k, now, new(org_id), |e| e.failures.note(window, now));
                }
            }
        }
    }

    fn check_failures<K: std::hash::Hash + Eq>(
        &self,
        table: &Table<K, FailEntry>,
        key: &K,
        scope: Scope,
        now: Instant,
    ) -> Result<(), LimitRefusal> {
        let limit = match scope {
            Scope::Address => self.config.auth_failures_per_address,
            Scope::Token | Scope::Credential => self.config.auth_failures_per_credential,
        };
        if limit == 0 {
            return Ok(());
        }
        let refused = table.get(key, now, |e| {
            let wait = e.failures.blocked(limit, e.window, now)?;
            Some(LimitRefusal {
                why: Why::AuthFailures,
                scope,
                retry_after_seconds: retry_after_seconds(wait),
                record: e.notice.refused(now),
                org_id: e.org_id,
            })
        });
        match refused.flatten() {
            Some(r) => Err(r),
            None => Ok(()),
        }
    }
}

fn take<K: std::hash::Hash + Eq>(
    table: &Table<K, RateEntry>,
    rate: Rate,
    key: K,
    scope: Scope,
    now: Instant,
) -> Result<(), LimitRefusal> {
    if rate.is_off() {
        return Ok(());
    }
    let new = || RateEntry {
        rate,
        bucket: Bucket::full(rate, now),
        notice: Notice::default(),
    };
    let outcome = table.upsert(key, now, new, |e| {
        e.bucket.take(rate, now).map_err(|wait| LimitRefusal {
            why: Why::RateLimited,
            scope,
            retry_after_seconds: retry_after_seconds(wait),
            record: e.notice.refused(now),
            org_id: None,
        })
    });
    // Untracked (a full table) passes.
    outcome.unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LimitsConfig {
        LimitsConfig {
            per_token: Rate {
                per_minute: 60,
                burst: 2,
            },
            per_address: Rate {
                per_minute: 0,
                burst: 0,
            },
            auth_failures_per_address: 5,
            auth_failures_per_credential: 2,
            auth_failure_window: Duration::from_secs(1),
            table_capacity: 100,
        }
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address_key(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn credentials_are_limited_apart_and_only_the_first_refusal_is_recorded() {
        let l = Limiter::new(config());
        let t0 = Instant::now();
        assert!(l.check_credential("a", t0).is_ok());
        assert!(l.check_credential("a", t0).is_ok());
        let first = l.check_credential("a", t0).unwrap_err();
        assert_eq!(first.reason_code(), "rate_limited");
        assert_eq!(first.retry_after_seconds, 1);
        assert_eq!(first.record, Some(0));
        let second = l.check_credential("a", t0).unwrap_err();
        assert_eq!(second.record, None);
        assert!(l.check_credential("b", t0).is_ok());
        assert!(l.check_address("10.0.0.1".parse().unwrap(), t0).is_ok());
    }

    #[test]
    fn a_credential_is_blocked_from_the_address_it_failed_from_only() {
        let l = Limiter::new(config());
        let t0 = Instant::now();
        let org = Some(uuid::Uuid::nil());
        let a: Option<IpAddr> = Some("10.0.0.1".parse().unwrap());
        let b: Option<IpAddr> = Some("10.0.0.2".parse().unwrap());
        let failed = Failed::Credential {
            key: "token:tok",
            org_id: org,
        };
        l.auth_failed(a, failed, t0);
        assert!(l.check_credential_failures(a, "token:tok", t0).is_ok());
        l.auth_failed(a, failed, t0);
        let r = l.check_credential_failures(a, "token:tok", t0).unwrap_err();
        assert_eq!(
            (r.why, r.scope, r.org_id),
            (Why::AuthFailures, Scope::Credential, org)
        );
        // Another credential from the same address, the same one from
        // another address, and the address itself are untouched.
        assert!(l.check_credential_failures(a, "token:other", t0).is_ok());
        assert!(l.check_credential_failures(b, "token:tok", t0).is_ok());
        assert!(l.check_unknown(a, t0).is_ok());
        assert!(
            l.check_credential_failures(a, "token:tok", t0 + Duration::from_secs(1))
                .is_ok()
        );
    }

    #[test]
    fn unknown_credentials_block_the_address_for_unknown_credentials() {
        let l = Limiter::new(config());
        let t0 = Instant::now();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..5 {
            assert!(l.check_unknown(Some(ip), t0).is_ok());
            l.auth_failed(Some(ip), Failed::Unknown, t0);
        }
        let r = l.check_unknown(Some(ip), t0).unwrap_err();
        assert_eq!((r.why, r.scope), (Why::AuthFailures, Scope::Address));
        // The address's rate and its credentials are not affected.
        assert!(l.check_address(ip, t0).is_ok());
        assert!(l.check_credential_failures(Some(ip), "token:x", t0).is_ok());
        assert!(l.check_credential("sat:x", t0).is_ok());
    }
}
