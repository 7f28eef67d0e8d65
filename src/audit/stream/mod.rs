//! Audit streams: an organization's new audit records POSTed to a SIEM in
//! signed batches, in chain order, at least once. This module owns what a
//! stream is (`AuditStream`, its format and filter), the settings every
//! stream shares (`StreamSettings`: the KEK that seals its secret, whether
//! private addresses may be targeted, the HTTP client), the stream rows
//! (`store`), the address rules (`address`), the signature (`signature`),
//! the OCSF mapping (`ocsf`) and the background delivery (`deliver`). The
//! admin operations on streams are use cases (`use_cases::audit_streams`).

pub mod address;
mod deliver;
pub mod ocsf;
pub mod signature;
pub mod store;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use uuid::Uuid;

pub use deliver::{Deliverer, TestOutcome, send_test, spawn};

use super::event::StoredEvent;
use crate::signing::Kek;
use crate::store::{StoreError, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The input is not acceptable; the message says why (a bad request).
    #[error("{0}")]
    Invalid(String),
    #[error("audit stream not found")]
    NotFound,
    /// The stored secret does not open under this process's KEK.
    #[error("the stream's secret cannot be decrypted with this key-encryption key")]
    Sealed,
}

impl From<sqlx::Error> for StreamError {
    fn from(e: sqlx::Error) -> Self {
        StreamError::Store(e.into())
    }
}

/// How records are written on the wire: one JSON object per line either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamFormat {
    /// Each line is the record exactly as the NDJSON export writes it.
    Ndjson,
    /// Each line is the record as an OCSF API Activity event.
    Ocsf,
}

impl StreamFormat {
    pub fn parse(s: &str) -> Result<Self, StreamError> {
        match s {
            "ndjson" => Ok(StreamFormat::Ndjson),
            "ocsf" => Ok(StreamFormat::Ocsf),
            _ => Err(StreamError::Invalid(
                "`format` must be `ndjson` or `ocsf`".into(),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StreamFormat::Ndjson => "ndjson",
            StreamFormat::Ocsf => "ocsf",
        }
    }

    /// One record as a line, with its line end.
    pub fn line(self, r: &StoredEvent) -> String {
        match self {
            StreamFormat::Ndjson => super::Format::Ndjson.encode(r),
            StreamFormat::Ocsf => ocsf::event(r).to_string() + "\n",
        }
    }
}

/// Which records a stream carries: all, or those whose action starts with
/// a prefix and/or that have one outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StreamFilter {
    /// An action prefix (`scim.`, `sat.`), stored without a trailing `*`.
    pub action: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
}

impl StreamFilter {
    /// Checks and normalizes a filter: `scim.user.*` and `scim.user.` are
    /// the same prefix.
    pub fn new(action: Option<&str>, outcome: Option<&str>) -> Result<Self, StreamError> {
        let action = match action.map(str::trim) {
            None | Some("") => None,
            Some(a) => {
                let prefix = a.strip_suffix('*').unwrap_or(a);
                let ok = !prefix.is_empty()
                    && prefix.len() <= 100
                    && prefix.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_'
                    });
                if !ok {
                    return Err(StreamError::Invalid(
                        "`filter.action` must be an action prefix such as `scim.` or `sat.*` \
                         (lower-case letters, digits, `.` and `_`, at most 100)"
                            .into(),
                    ));
                }
                Some(prefix.to_string())
            }
        };
        let outcome = match outcome.map(str::trim) {
            None | Some("") => None,
            Some(o @ ("success" | "failure")) => Some(o.to_string()),
            Some(_) => {
                return Err(StreamError::Invalid(
                    "`filter.outcome` must be `success` or `failure`".into(),
                ));
            }
        };
        Ok(Self { action, outcome })
    }

    pub fn matches(&self, r: &StoredEvent) -> bool {
        self.action
            .as_deref()
            .is_none_or(|p| r.action.starts_with(p))
            && self.outcome.as_deref().is_none_or(|o| r.outcome == o)
    }
}

/// Where delivery stands.
#[derive(Clone, Debug, Serialize)]
pub struct StreamStatus {
    /// Every record of the chain up to this seq is done with (delivered or
    /// left out by the filter).
    pub cursor_seq: i64,
    /// The newest record in the organization's chain.
    pub head_seq: i64,
    /// Records written but not yet done with: `head_seq - cursor_seq`.
    pub lag: i64,
    pub last_delivered_seq: Option<i64>,
    pub last_delivered_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    /// The last attempt's failure, cleared by the next success.
    pub last_error: Option<String>,
    pub consecutive_failures: i64,
}

/// A stream as its admins see it (never with its secret).
#[derive(Clone, Debug, Serialize)]
pub struct AuditStream {
    pub id: Uuid,
    #[serde(skip)]
    pub org_id: Uuid,
    pub url: String,
    pub format: StreamFormat,
    pub filter: StreamFilter,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub status: StreamStatus,
}

/// What every stream of this process shares: the KEK that seals secrets,
/// the address rule and the HTTP client that delivers.
pub struct StreamSettings {
    kek: Kek,
    allow_private: bool,
    /// Built on first use: operator commands open the same state and never
    /// deliver.
    client: OnceLock<Result<Client, String>>,
}

impl std::fmt::Debug for StreamSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamSettings(allow_private {})", self.allow_private)
    }
}

/// The delivery client's type.
pub(crate) type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<HttpConnector<address::GuardedResolver>>,
    Full<axum::body::Bytes>,
>;

/// How long one delivery request may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl StreamSettings {
    pub fn new(kek: Kek, allow_private: bool) -> Arc<Self> {
        Arc::new(Self {
            kek,
            allow_private,
            client: OnceLock::new(),
        })
    }

    /// The delivery client: names resolved and checked by the
    /// [`address::GuardedResolver`], https checked against the system's
    /// roots, no redirects followed (hyper follows none), no proxy. A
    /// client that cannot be built fails each delivery with the reason.
    pub(crate) fn client(&self) -> Result<&Client, String> {
        self.client
            .get_or_init(|| Self::build_client(self.allow_private))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn build_client(allow_private: bool) -> Result<Client, String> {
        // ring rather than aws-lc-rs (a long C build). rustls deprecates it
        // only for lacking post-quantum key exchange.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(native.certs);
        if added == 0 {
            tracing::warn!("no system root certificates found: https audit streams will fail");
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http =
            HttpConnector::new_with_resolver(address::GuardedResolver::new(allow_private));
        // https URLs pass through to the TLS layer around it.
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https))
    }

    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// Seals a secret for the row of stream `id`: (kek id, nonce, ciphertext).
    pub(crate) fn seal(&self, id: Uuid, secret: &str) -> (String, Vec<u8>, Vec<u8>) {
        let (nonce, ct) = self.kek.encrypt(secret.as_bytes(), id.as_bytes());
        (self.kek.id().to_string(), nonce, ct)
    }

    /// Opens the secret of stream `id`.
    pub(crate) fn open(
        &self,
        id: Uuid,
        kek_id: &str,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<String, StreamError> {
        let plain = self
            .kek
            .decrypt(kek_id, nonce, ciphertext, id.as_bytes())
            .map_err(|_| StreamError::Sealed)?;
        String::from_utf8(plain).map_err(|_| StreamError::Sealed)
    }
}

/// A new signing secret: 32 random bytes as 64 hex digits, prefixed so that
/// secret scanners can tell what leaked.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!("whsec_{}", crate::store::settings::to_hex(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_prefixes_and_outcomes() {
        let f = StreamFilter::new(Some("scim.user.*"), Some("failure")).unwrap();
        assert_eq!(f.action.as_deref(), Some("scim.user."));
        assert_eq!(
            f,
            StreamFilter::new(Some("scim.user."), Some("failure")).unwrap()
        );
        assert!(StreamFilter::new(Some("SCIM"), None).is_err());
        assert!(StreamFilter::new(Some("*"), None).is_err());
        assert!(StreamFilter::new(None, Some("maybe")).is_err());
        assert_eq!(
            StreamFilter::new(Some(""), None).unwrap(),
            StreamFilter::default()
        );
    }

    #[test]
    fn secrets_are_long_and_fresh() {
        let a = new_secret();
        assert_eq!(a.len(), "whsec_".len() + 64);
        assert_ne!(a, new_secret());
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_stream() {
        let settings = StreamSettings::new(Kek::parse(&"ab".repeat(32)).unwrap(), false);
        let id = Uuid::new_v4();
        let (kek_id, nonce, ct) = settings.seal(id, "whsec_x");
        assert_eq!(settings.open(id, &kek_id, &nonce, &ct).unwrap(), "whsec_x");
        assert!(settings.open(Uuid::new_v4(), &kek_id, &nonce, &ct).is_err());
    }
}
