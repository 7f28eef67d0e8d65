//! A transformations store for workspaces that accepts scimitar workspace
//! Service Access Tokens, checked the two ways a real service would:
//!
//! - a SAT (`scim_sat_…`) by **introspection**: the service asks scimitar's
//!   `POST /api/v1/tokens/introspect` (with the `permission` the request
//!   needs, which scimitar answers as `allowed` and counts for its
//!   least-privilege advisor) with its own organization SAT (holding
//!   `tokens:introspect`) and caches the answer, positive or negative, for
//!   `cache_ttl`;
//! - any other bearer value as a **JWT** from `POST /api/v1/tokens/exchange`,
//!   verified offline against scimitar's `/.well-known/jwks.json`.
//!
//! Either way the caller must hold the permission for the action on the
//! workspace named in the path: `transformations:read` to list,
//! `transformations:create_delete` to create or delete.
//!
//! Every operation performed with a workspace token is reported to
//! scimitar's audit log when `audit_token` is set (`reporter.rs`).
//!
//! Routes:
//! - `GET /workspaces/{ws}/transformations` → 200 `{"transformations":[…]}`
//! - `POST /workspaces/{ws}/transformations` `{"name","code"}` → 201 the transformation
//! - `DELETE /workspaces/{ws}/transformations/{id}` → 204, or 404
//! - `GET /healthz` → 200

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use uuid::Uuid;

#[path = "reporter.rs"]
mod reporter;

use reporter::{Operation, ReportConfig, Reporter};

/// The resource this service owns, as named in scimitar's permission catalogue.
const RESOURCE: &str = "transformations";
/// How long a fetched JWKS is used before it is fetched again (scimitar
/// serves it with `max-age=300`).
const JWKS_MAX_AGE: Duration = Duration::from_secs(300);
/// An unknown `kid` refetches the JWKS at most this often, so that made-up
/// kids cannot turn every request into a call to scimitar.
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(1);
/// Cached introspection answers kept at most; past it, the cache is emptied.
const CACHE_MAX_ENTRIES: usize = 10_000;

#[derive(Clone, Debug)]
pub struct Config {
    /// scimitar's base URL, e.g. `http://127.0.0.1:8080`.
    pub scimitar_url: String,
    /// This service's own organization SAT, holding `tokens:introspect`.
    pub introspection_token: String,
    /// The `aud` exchanged JWTs must carry.
    pub audience: String,
    /// How long an introspection answer (active or not) is reused. A revoked
    /// SAT keeps working here for up to this long.
    pub cache_ttl: Duration,
    /// The `iss` exchanged JWTs must carry: scimitar's `SCIMITAR_PUBLIC_URL`,
    /// or `scimitar` when that is unset. Defaults to `scimitar_url`, the
    /// usual case of a service reaching scimitar at its public URL.
    pub issuer: String,
    /// Time limit for each call to scimitar.
    pub http_timeout: Duration,
    /// This service's organization SAT holding `audit_logs:write`: when
    /// set, every operation performed with a workspace token is reported
    /// to scimitar's audit log (it may be the introspection SAT, if that
    /// one holds both permissions).
    pub audit_token: Option<String>,
    /// How long reported events gather before a batch is sent.
    pub report_interval: Duration,
    /// Where to report, when not at `scimitar_url` (a relay, a test).
    pub report_url: Option<String>,
}

impl Config {
    pub fn new(scimitar_url: &str, introspection_token: &str) -> Self {
        let scimitar_url = scimitar_url.trim_end_matches('/').to_string();
        Self {
            issuer: scimitar_url.clone(),
            scimitar_url,
            introspection_token: introspection_token.to_string(),
            audience: RESOURCE.to_string(),
            cache_ttl: Duration::from_secs(10),
            http_timeout: Duration::from_secs(5),
            audit_token: None,
            report_interval: Duration::from_millis(200),
            report_url: None,
        }
    }
}

/// Serves until `shutdown` completes.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown)
        .await
}

pub fn router(config: Config) -> Router {
    scimitar::sso::choose_tls_crypto();
    let http = reqwest::Client::builder()
        .timeout(config.http_timeout)
        .build()
        .expect("an HTTP client");
    let reporter = config.audit_token.as_ref().map(|token| {
        let report = ReportConfig {
            scimitar_url: config
                .report_url
                .clone()
                .unwrap_or_else(|| config.scimitar_url.clone()),
            token: token.clone(),
            interval: config.report_interval,
        };
        Reporter::spawn(report, http.clone())
    });
    let state = Arc::new(Service {
        config,
        http,
        reporter,
        introspection_cache: Mutex::new(HashMap::new()),
        jwks: tokio::sync::Mutex::new(None),
        store: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route(
            "/workspaces/{ws}/transformations",
            get(list_transformations).post(create_transformation),
        )
        .route(
            "/workspaces/{ws}/transformations/{id}",
            delete(delete_transformation),
        )
        .with_state(state)
}

struct Service {
    config: Config,
    http: reqwest::Client,
    /// Sends what the service did to scimitar's audit log, if configured.
    reporter: Option<Reporter>,
    /// SHA-256 of a presented SAT → (when it was asked, the answer).
    introspection_cache: Mutex<HashMap<[u8; 32], (Instant, Introspection)>>,
    /// The JWKS and when it was fetched. An async mutex: one fetch at a time.
    jwks: tokio::sync::Mutex<Option<(Instant, Value)>>,
    /// Workspace → its transformations.
    store: Mutex<HashMap<Uuid, Vec<Transformation>>>,
}

// ---------------------------------------------------------------------------
// The store

#[derive(Clone, Debug, Serialize)]
struct Transformation {
    id: Uuid,
    name: String,
    code: String,
    /// The token id (`sub`) that created it.
    created_by: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTransformation {
    name: String,
    #[serde(default)]
    code: String,
}

type Shared = State<Arc<Service>>;

async fn list_transformations(
    State(svc): Shared,
    Path(ws): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let caller = svc.authorize(&headers, &ws, "read").await?;
    let items = {
        let store = svc.store.lock().unwrap();
        store.get(&caller.workspace).cloned().unwrap_or_default()
    };
    let target = json!({ "type": "workspace", "id": caller.workspace.to_string() });
    let changes = json!({ "count": items.len() });
    svc.report(
        &headers,
        "transformations.list",
        target,
        None,
        Some(changes),
    );
    Ok(Json(json!({ "transformations": items })).into_response())
}

async fn create_transformation(
    State(svc): Shared,
    Path(ws): Path<String>,
    headers: HeaderMap,
    body: Result<Json<NewTransformation>, JsonRejection>,
) -> Result<Response, Refusal> {
    // Authorize before looking at the body.
    let caller = svc.authorize(&headers, &ws, "create_delete").await?;
    let refused = |detail: String| {
        let target = json!({ "type": "transformation" });
        svc.report(
            &headers,
            "transformations.create",
            target,
            Some("invalid request".into()),
            None,
        );
        Refusal::BadRequest(detail)
    };
    let Json(new) = body.map_err(|e| refused(e.body_text()))?;
    let name = new.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(refused("`name` must be 1 to 200 characters".into()));
    }
    let t = Transformation {
        id: Uuid::new_v4(),
        name: name.to_string(),
        code: new.code,
        created_by: caller.subject,
    };
    svc.store
        .lock()
        .unwrap()
        .entry(caller.workspace)
        .or_default()
        .push(t.clone());
    // The code's size, not the code: it is the customer's, and may hold
    // anything.
    let target = json!({ "type": "transformation", "id": t.id.to_string(), "display": t.name });
    let changes = json!({ "name": t.name, "code_bytes": t.code.len() });
    svc.report(
        &headers,
        "transformations.create",
        target,
        None,
        Some(changes),
    );
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

async fn delete_transformation(
    State(svc): Shared,
    Path((ws, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let caller = svc.authorize(&headers, &ws, "create_delete").await?;
    let parsed: Option<Uuid> = id.parse().ok();
    let removed = {
        let mut store = svc.store.lock().unwrap();
        store.get_mut(&caller.workspace).and_then(|items| {
            let at = items.iter().position(|t| Some(t.id) == parsed)?;
            Some(items.remove(at))
        })
    };
    let shown: String = id.chars().take(64).collect();
    match removed {
        Some(t) => {
            let target = json!({ "type": "transformation", "id": shown, "display": t.name });
            svc.report(&headers, "transformations.delete", target, None, None);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        None => {
            let target = json!({ "type": "transformation", "id": shown });
            let failure = Some("no such transformation".to_string());
            svc.report(&headers, "transformations.delete", target, failure, None);
            Err(Refusal::NotFound)
        }
    }
}

// ---------------------------------------------------------------------------
// Authorization

/// What a checked credential allows.
struct Grant {
    /// None for an organization token: it is for no workspace.
    workspace: Option<Uuid>,
    permissions: Vec<String>,
    /// Introspection's answer for the permission asked about.
    allowed: Option<bool>,
    /// The SAT's id: the introspection `sub`, or the JWT's `sub`.
    subject: String,
}

/// A caller allowed to act on a workspace.
struct Caller {
    workspace: Uuid,
    subject: String,
}

impl Service {
    /// Reports an operation performed with the request's bearer token (which
    /// `authorize` accepted) to scimitar's audit log, if reporting is on.
    fn report(
        &self,
        headers: &HeaderMap,
        action: &str,
        target: Value,
        failure: Option<String>,
        changes: Option<Value>,
    ) {
        let (Some(reporter), Ok(token)) = (&self.reporter, bearer(headers)) else {
            return;
        };
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(128).collect::<String>())
        };
        reporter.report(Operation {
            subject_token: token,
            action,
            target,
            failure,
            changes,
            request_id: header("x-request-id"),
            user_agent: header("user-agent"),
        });
    }

    /// Checks the bearer credential and that it grants `transformations:<level>`
    /// on the workspace in the path.
    async fn authorize(
        &self,
        headers: &HeaderMap,
        ws: &str,
        level: &str,
    ) -> Result<Caller, Refusal> {
        let token = bearer(headers)?;
        let wanted = format!("{RESOURCE}:{level}");
        let grant = if token.starts_with("scim_") {
            self.introspect(token, &wanted).await?
        } else {
            self.verify_jwt(token).await?
        };
        let workspace = match (grant.workspace, ws.parse::<Uuid>()) {
            (Some(granted), Ok(asked)) if granted == asked => granted,
            _ => {
                return Err(Refusal::Forbidden {
                    scope: wanted,
                    detail: "the token is not for this workspace".into(),
                });
            }
        };
        // Introspection answers for the permission asked (and scimitar
        // counts it for its least-privilege advisor); a JWT carries its
        // permissions.
        let allowed = grant
            .allowed
            .unwrap_or_else(|| grants(&grant.permissions, RESOURCE, level));
        if !allowed {
            return Err(Refusal::Forbidden {
                detail: format!("the token does not grant `{wanted}`"),
                scope: wanted,
            });
        }
        Ok(Caller {
            workspace,
            subject: grant.subject,
        })
    }

    /// A SAT, checked by introspection for the permission `wanted`
    /// (answers cached for `cache_ttl`, per token and permission).
    async fn introspect(&self, token: &str, wanted: &str) -> Result<Grant, Refusal> {
        // Keyed by a hash, so that the cache does not hold token values.
        let key: [u8; 32] = Sha256::new()
            .chain_update(token.as_bytes())
            .chain_update([0])
            .chain_update(wanted.as_bytes())
            .finalize()
            .into();
        let ttl = self.config.cache_ttl;
        let cached = {
            let cache = self.introspection_cache.lock().unwrap();
            cache
                .get(&key)
                .filter(|(at, _)| at.elapsed() < ttl)
                .map(|(_, answer)| answer.clone())
        };
        let answer = match cached {
            Some(answer) => answer,
            None => {
                let answer = self.ask_scimitar(token, wanted).await?;
                let mut cache = self.introspection_cache.lock().unwrap();
                if cache.len() >= CACHE_MAX_ENTRIES {
                    cache.retain(|_, (at, _)| at.elapsed() < ttl);
                    if cache.len() >= CACHE_MAX_ENTRIES {
                        cache.clear();
                    }
                }
                cache.insert(key, (Instant::now(), answer.clone()));
                answer
            }
        };
        // A cached answer may outlive the token's own expiry.
        let live = answer.active && answer.exp.is_none_or(|exp| exp > unix_now());
        match (live, answer.sub) {
            (true, Some(subject)) => Ok(Grant {
                workspace: answer.workspace_id,
                permissions: answer.scope.split_whitespace().map(String::from).collect(),
                allowed: answer.allowed,
                subject,
            }),
            _ => Err(Refusal::InvalidToken("the token is not active".into())),
        }
    }

    async fn ask_scimitar(&self, token: &str, wanted: &str) -> Result<Introspection, Refusal> {
        let url = format!("{}/api/v1/tokens/introspect", self.config.scimitar_url);
        let resp = self
            .http
            .post(url)
            .bearer_auth(&self.config.introspection_token)
            .form(&[("token", token), ("permission", wanted)])
            .send()
            .await
            .map_err(|e| Refusal::unavailable(format!("introspection failed: {e}")))?;
        if !resp.status().is_success() {
            // 401/403 here means this service's own SAT is wrong: not the
            // caller's fault, and nothing to cache.
            return Err(Refusal::unavailable(format!(
                "introspection answered {}",
                resp.status()
            )));
        }
        resp.json()
            .await
            .map_err(|e| Refusal::unavailable(format!("introspection answer unreadable: {e}")))
    }

    /// An exchanged JWT, verified offline against the JWKS.
    async fn verify_jwt(&self, jwt: &str) -> Result<Grant, Refusal> {
        use scimitar::signing::{VerifyError, jws_type, verify_jws};
        // Only access tokens: scimitar signs sessions and audit checkpoints
        // with the same keys, under other `typ`s.
        if !matches!(jws_type(jwt).as_deref(), Some("JWT" | "at+jwt")) {
            return Err(Refusal::InvalidToken("not an access token".into()));
        }
        let jwks = self.jwks(false).await?;
        // Checks the algorithm (EdDSA), the kid, the signature and `exp`.
        let claims = match verify_jws(jwt, &jwks) {
            Err(VerifyError::UnknownKid(_)) => {
                // Perhaps a key rotated since the last fetch.
                let jwks = self.jwks(true).await?;
                verify_jws(jwt, &jwks)
            }
            other => other,
        }
        .map_err(|e| Refusal::InvalidToken(format!("invalid JWT: {e}")))?;
        let claims: ExchangedClaims = serde_json::from_value(claims)
            .map_err(|_| Refusal::InvalidToken("the JWT lacks required claims".into()))?;
        if claims.exp <= unix_now() {
            return Err(Refusal::InvalidToken("the JWT has expired".into()));
        }
        if claims.aud != self.config.audience {
            return Err(Refusal::InvalidToken(
                "the JWT is for another audience".into(),
            ));
        }
        // The keys alone do not say which scimitar signed: a staging copy
        // restored from a production backup signs with the same ones.
        if claims.iss != self.config.issuer {
            return Err(Refusal::InvalidToken("the JWT has another issuer".into()));
        }
        Ok(Grant {
            workspace: claims.workspace,
            permissions: claims.permissions,
            allowed: None,
            subject: claims.sub,
        })
    }

    /// The cached JWKS; fetched when missing or stale, or when `refetch` and
    /// the last fetch is more than [`JWKS_MIN_REFETCH`] old.
    async fn jwks(&self, refetch: bool) -> Result<Value, Refusal> {
        let mut cached = self.jwks.lock().await;
        if let Some((at, jwks)) = cached.as_ref() {
            let age = at.elapsed();
            if age < JWKS_MAX_AGE && !(refetch && age >= JWKS_MIN_REFETCH) {
                return Ok(jwks.clone());
            }
        }
        let url = format!("{}/.well-known/jwks.json", self.config.scimitar_url);
        let fetched = async {
            let resp = self.http.get(url).send().await?.error_for_status()?;
            resp.json::<Value>().await
        }
        .await;
        match fetched {
            Ok(jwks) => {
                *cached = Some((Instant::now(), jwks.clone()));
                Ok(jwks)
            }
            // Keep using the keys we have rather than refuse everyone (a key
            // stays published while tokens it signed live), and do not retry
            // on every request.
            Err(e) => match cached.take() {
                Some((_, jwks)) => {
                    tracing::warn!(error = %e, "fetching the JWKS failed; using the cached one");
                    *cached = Some((Instant::now(), jwks.clone()));
                    Ok(jwks)
                }
                None => Err(Refusal::unavailable(format!(
                    "fetching the JWKS failed: {e}"
                ))),
            },
        }
    }
}

/// The part of an introspection answer this service uses. An inactive token
/// is exactly `{"active":false}`.
#[derive(Clone, Debug, Deserialize)]
struct Introspection {
    active: bool,
    #[serde(default)]
    scope: String,
    sub: Option<String>,
    workspace_id: Option<Uuid>,
    exp: Option<i64>,
    /// Whether the token holds the `permission` asked about.
    allowed: Option<bool>,
}

/// The claims of a JWT from scimitar's token exchange.
#[derive(Deserialize)]
struct ExchangedClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    workspace: Option<Uuid>,
    permissions: Vec<String>,
}

/// Whether `held` grants `resource:wanted`. The levels imply each other as
/// in scimitar's catalogue: `create_delete` ⇒ `edit` ⇒ `read`; `connect`
/// stands alone.
pub fn grants(held: &[String], resource: &str, wanted: &str) -> bool {
    let implied: &[&str] = match wanted {
        "read" => &["read", "edit", "create_delete"],
        "edit" => &["edit", "create_delete"],
        "create_delete" => &["create_delete"],
        "connect" => &["connect"],
        _ => &[],
    };
    held.iter().any(|p| {
        p.split_once(':')
            .is_some_and(|(r, level)| r == resource && implied.contains(&level))
    })
}

fn bearer(headers: &HeaderMap) -> Result<&str, Refusal> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(Refusal::Unauthenticated)?
        .to_str()
        .map_err(|_| Refusal::InvalidToken("malformed Authorization header".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(Refusal::InvalidToken(
            "expected `Authorization: Bearer <token>`".into(),
        )),
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

// ---------------------------------------------------------------------------
// Refusals: RFC 6750 bearer-token errors

#[derive(Debug)]
enum Refusal {
    /// No credential: 401 with a bare challenge.
    Unauthenticated,
    /// A credential that is not valid (unknown, revoked, expired, forged, for
    /// another audience): 401 `invalid_token`.
    InvalidToken(String),
    /// A valid credential without the permission, or for another
    /// workspace: 403 `insufficient_scope`.
    Forbidden {
        scope: String,
        detail: String,
    },
    BadRequest(String),
    NotFound,
    /// scimitar could not be asked: 503, and nothing is cached.
    Unavailable,
}

impl Refusal {
    fn unavailable(why: String) -> Self {
        tracing::warn!("{why}");
        Refusal::Unavailable
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let realm = format!("Bearer realm=\"{RESOURCE}\"");
        let (status, challenge, error, detail) = match self {
            Refusal::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                Some(realm),
                "missing_token",
                "a bearer token is required".to_string(),
            ),
            Refusal::InvalidToken(detail) => (
                StatusCode::UNAUTHORIZED,
                Some(format!("{realm}, error=\"invalid_token\"")),
                "invalid_token",
                detail,
            ),
            Refusal::Forbidden { scope, detail } => (
                StatusCode::FORBIDDEN,
                Some(format!(
                    "{realm}, error=\"insufficient_scope\", scope=\"{scope}\""
                )),
                "insufficient_scope",
                detail,
            ),
            Refusal::BadRequest(detail) => {
                (StatusCode::BAD_REQUEST, None, "invalid_request", detail)
            }
            Refusal::NotFound => (
                StatusCode::NOT_FOUND,
                None,
                "not_found",
                "no such transformation".to_string(),
            ),
            Refusal::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "temporarily_unavailable",
                "the token could not be checked".to_string(),
            ),
        };
        let mut resp = (
            status,
            Json(json!({ "error": error, "error_description": detail })),
        )
            .into_response();
        if let Some(c) = challenge.and_then(|c| HeaderValue::try_from(c).ok()) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, c);
        }
        resp
    }
}
