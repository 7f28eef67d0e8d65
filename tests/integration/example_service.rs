//! The example workspace service (`examples/transformations`) end to end:
//! scimitar in process, the service on an ephemeral port, and workspace SATs
//! checked by introspection and as exchanged JWTs.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Resp, TestApp, eventually, read};

#[path = "../../examples/transformations/service.rs"]
mod service;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The introspection cache TTL of most services here: short, so that
/// revocation shows within the test.
const TTL: Duration = Duration::from_millis(200);

/// The example service running on an ephemeral port; stopped on drop.
struct Svc {
    base: String,
    client: reqwest::Client,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Svc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Svc {
    async fn start(app: &TestApp, introspection_token: &str, cache_ttl: Duration) -> Svc {
        let mut config = service::Config::new(&app.base, introspection_token);
        // The test's scimitar has no SCIMITAR_PUBLIC_URL: its `iss` is this.
        config.issuer = "scimitar".into();
        config.cache_ttl = cache_ttl;
        Svc::start_with(config).await
    }

    async fn start_with(mut config: service::Config) -> Svc {
        config.http_timeout = Duration::from_secs(5);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(service::serve(
            config,
            listener,
            std::future::pending::<()>(),
        ));
        let client = crate::support::http_client_builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Svc { base, client, task }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.expect("the service answers")).await
    }

    async fn list(&self, ws: &str, token: &str) -> Resp {
        self.send(
            Method::GET,
            &format!("/workspaces/{ws}/transformations"),
            Some(token),
            None,
        )
        .await
    }

    async fn create(&self, ws: &str, token: &str, name: &str) -> Resp {
        let body =
            json!({ "name": name, "code": "export function transformEvent(e) { return e; }" });
        self.send(
            Method::POST,
            &format!("/workspaces/{ws}/transformations"),
            Some(token),
            Some(body),
        )
        .await
    }

    async fn remove(&self, ws: &str, token: &str, id: &str) -> Resp {
        self.send(
            Method::DELETE,
            &format!("/workspaces/{ws}/transformations/{id}"),
            Some(token),
            None,
        )
        .await
    }
}

/// A running scimitar with an admin session, two workspaces and the
/// service's introspection SAT.
struct World {
    app: TestApp,
    session: String,
    org: String,
    ws: String,
    other_ws: String,
    introspector: String,
}

impl World {
    async fn new() -> World {
        let app = TestApp::spawn().await;
        let session = app.admin_session().await;
        let org = app.get("/api/v1/tokens/self", &session).await.body["org_id"]
            .as_str()
            .unwrap()
            .to_string();
        let ws = app.create_workspace(&session, "prod").await;
        let other_ws = app.create_workspace(&session, "staging").await;
        let (_, introspector) = app
            .create_sat(
                &session,
                json!({ "name": "transformations-service", "permissions": ["tokens:introspect"] }),
            )
            .await;
        World {
            app,
            session,
            org,
            ws,
            other_ws,
            introspector,
        }
    }

    /// A workspace SAT: (id, value).
    async fn sat(&self, ws: &str, permissions: &[&str]) -> (String, String) {
        self.app
            .create_sat(
                &self.session,
                json!({ "name": "caller", "workspace_id": ws, "permissions": permissions }),
            )
            .await
    }

    async fn revoke(&self, id: &str) {
        let r = self
            .app
            .delete(
                &format!("/api/v1/service-access-tokens/{id}"),
                &self.session,
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }

    async fn exchange(&self, sat: &str, extra: &[(&str, &str)]) -> Resp {
        let mut form = vec![("grant_type", GRANT), ("subject_token", sat)];
        form.extend_from_slice(extra);
        read(
            self.app
                .client
                .post(self.app.url("/api/v1/tokens/exchange"))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// A JWT for the service's audience.
    async fn jwt(&self, sat: &str, extra: &[(&str, &str)]) -> String {
        let mut form = vec![("audience", "transformations")];
        form.extend_from_slice(extra);
        let r = self.exchange(sat, &form).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["access_token"].as_str().unwrap().to_string()
    }

    /// How many times scimitar was asked about the token `id`.
    async fn introspections_of(&self, id: &str) -> usize {
        self.app
            .audit_records(&self.org)
            .await
            .iter()
            .filter(|r| r["action"] == "token.introspect" && r["target_id"] == id)
            .count()
    }
}

#[track_caller]
fn assert_refused(r: &Resp, status: u16, error: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(r.body["error"], error, "{}", r.text);
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer realm=\"transformations\""),
        "{challenge}"
    );
    if error == "missing_token" {
        assert!(!challenge.contains("error="), "{challenge}");
    } else {
        assert!(
            challenge.contains(&format!("error=\"{error}\"")),
            "{challenge}"
        );
    }
}

fn names(r: &Resp) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["transformations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn introspected_sats_get_what_their_permissions_allow() {
    let w = World::new().await;
    let svc = Svc::start(&w.app, &w.introspector, TTL).await;
    let ws = w.ws.as_str();

    // Read: may list, may not create or delete.
    let (_, reader) = w.sat(ws, &["transformations:read"]).await;
    assert!(names(&svc.list(ws, &reader).await).is_empty());
    let denied = svc.create(ws, &reader, "nope").await;
    assert_refused(&denied, 403, "insufficient_scope");
    assert!(
        denied
            .header("www-authenticate")
            .unwrap()
            .contains("scope=\"transformations:create_delete\"")
    );
    // Edit implies read, not create_delete.
    let (_, editor) = w.sat(ws, &["transformations:edit"]).await;
    assert_eq!(svc.list(ws, &editor).await.status, 200);
    assert_refused(
        &svc.create(ws, &editor, "nope").await,
        403,
        "insufficient_scope",
    );

    // create_delete implies edit and read: create, list, delete.
    let (writer_id, writer) = w.sat(ws, &["transformations:create_delete"]).await;
    let created = svc.create(ws, &writer, "enrich").await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["created_by"], writer_id.as_str());
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(names(&svc.list(ws, &writer).await), ["enrich"]);
    assert_eq!(names(&svc.list(ws, &reader).await), ["enrich"]);
    assert_refused(
        &svc.remove(ws, &reader, &id).await,
        403,
        "insufficient_scope",
    );
    assert_eq!(svc.remove(ws, &writer, &id).await.status, 204);
    assert_eq!(svc.remove(ws, &writer, &id).await.status, 404);
    assert!(names(&svc.list(ws, &writer).await).is_empty());

    // Another workspace's SAT is refused here, and sees only its own workspace.
    let (_, other) = w.sat(&w.other_ws, &["transformations:create_delete"]).await;
    assert_refused(&svc.list(ws, &other).await, 403, "insufficient_scope");
    assert_refused(
        &svc.create(ws, &other, "x").await,
        403,
        "insufficient_scope",
    );
    assert_eq!(
        svc.create(&w.other_ws, &other, "staging-only").await.status,
        201
    );
    assert_eq!(
        names(&svc.list(&w.other_ws, &other).await),
        ["staging-only"]
    );
    assert!(names(&svc.list(ws, &reader).await).is_empty());

    // Permissions on another resource grant nothing here; neither does an
    // organization SAT.
    let (_, sources) = w.sat(ws, &["sources:create_delete"]).await;
    assert_refused(&svc.list(ws, &sources).await, 403, "insufficient_scope");
    assert_refused(
        &svc.list(ws, &w.introspector).await,
        403,
        "insufficient_scope",
    );

    // No token, a forged one, another scheme: 401. Authentication comes
    // before the body is looked at.
    let none = svc
        .send(
            Method::GET,
            &format!("/workspaces/{ws}/transformations"),
            None,
            None,
        )
        .await;
    assert_refused(&none, 401, "missing_token");
    let unknown = scimitar::tokens::PlainToken::generate(scimitar::tokens::TokenKind::Sat).reveal();
    assert_refused(&svc.list(ws, &unknown).await, 401, "invalid_token");
    assert_refused(
        &svc.list(ws, "scim_sat_garbage").await,
        401,
        "invalid_token",
    );
    let basic = read(
        svc.client
            .get(format!("{}/workspaces/{ws}/transformations", svc.base))
            .basic_auth("u", Some("p"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(&basic, 401, "invalid_token");
    let path = format!("/workspaces/{ws}/transformations");
    let bad_body = json!({ "nmae": "typo" });
    let anonymous = svc
        .send(Method::POST, &path, None, Some(bad_body.clone()))
        .await;
    assert_eq!(anonymous.status, 401);
    let invalid = svc
        .send(Method::POST, &path, Some(&writer), Some(bad_body))
        .await;
    assert_eq!(invalid.status, 400, "{}", invalid.text);
    // A path that names no workspace is simply not the token's workspace.
    assert_refused(
        &svc.list("not-a-uuid", &writer).await,
        403,
        "insufficient_scope",
    );
}

#[tokio::test]
async fn a_revoked_sat_stops_working_once_the_cache_expires() {
    let w = World::new().await;
    let fast = Svc::start(&w.app, &w.introspector, TTL).await;
    // A long TTL shows the other side of the trade-off.
    let slow = Svc::start(&w.app, &w.introspector, Duration::from_secs(60)).await;
    let ws = w.ws.as_str();
    let (id, sat) = w.sat(ws, &["transformations:create_delete"]).await;

    assert_eq!(fast.create(ws, &sat, "a").await.status, 201);
    for _ in 0..3 {
        assert_eq!(slow.list(ws, &sat).await.status, 200);
    }
    // The slow service asked once and answered the rest from its cache.
    assert_eq!(w.introspections_of(&id).await, 2);

    w.revoke(&id).await;
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
    assert_refused(&fast.list(ws, &sat).await, 401, "invalid_token");
    assert_refused(&fast.create(ws, &sat, "b").await, 401, "invalid_token");
    // Within its TTL the slow service still takes the revoked SAT.
    assert_eq!(slow.list(ws, &sat).await.status, 200);

    // Negative answers are cached too.
    let (ghost_id, ghost) = w.sat(ws, &["transformations:read"]).await;
    w.revoke(&ghost_id).await;
    for _ in 0..3 {
        assert_refused(&slow.list(ws, &ghost).await, 401, "invalid_token");
    }
    assert_eq!(w.introspections_of(&ghost_id).await, 1);
}

#[tokio::test]
async fn exchanged_jwts_are_verified_offline() {
    let w = World::new().await;
    let svc = Svc::start(&w.app, &w.introspector, TTL).await;
    let ws = w.ws.as_str();

    let (_, reader_sat) = w.sat(ws, &["transformations:read"]).await;
    let reader = w.jwt(&reader_sat, &[]).await;
    assert_eq!(svc.list(ws, &reader).await.status, 200);
    assert_refused(
        &svc.create(ws, &reader, "nope").await,
        403,
        "insufficient_scope",
    );

    let (writer_id, writer_sat) = w.sat(ws, &["transformations:create_delete"]).await;
    let writer = w.jwt(&writer_sat, &[]).await;
    let created = svc.create(ws, &writer, "enrich").await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["created_by"], writer_id.as_str());
    assert_eq!(names(&svc.list(ws, &reader).await), ["enrich"]);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(svc.remove(ws, &writer, id).await.status, 204);

    // A narrowed exchange carries only what it asked for.
    let narrowed = w
        .jwt(&writer_sat, &[("scope", "transformations:read")])
        .await;
    assert_eq!(svc.list(ws, &narrowed).await.status, 200);
    assert_refused(
        &svc.create(ws, &narrowed, "nope").await,
        403,
        "insufficient_scope",
    );

    // Another workspace's JWT; a JWT for another audience.
    let (_, other_sat) = w.sat(&w.other_ws, &["transformations:create_delete"]).await;
    let other = w.jwt(&other_sat, &[]).await;
    assert_refused(&svc.list(ws, &other).await, 403, "insufficient_scope");
    let r = w.exchange(&writer_sat, &[]).await;
    let for_scimitar = r.body["access_token"].as_str().unwrap();
    assert_refused(&svc.list(ws, for_scimitar).await, 401, "invalid_token");

    // Tampering: widened permissions under the reader's signature, a
    // changed signature, no signature, an unsigned token.
    let parts: Vec<&str> = reader.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["permissions"] = json!(["transformations:create_delete"]);
    let forged_claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
    assert_refused(
        &svc.create(ws, &forged, "forged").await,
        401,
        "invalid_token",
    );
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert_refused(&svc.list(ws, &bad_sig).await, 401, "invalid_token");
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    assert_refused(&svc.list(ws, &unsigned).await, 401, "invalid_token");
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    assert_refused(&svc.list(ws, &alg_none).await, 401, "invalid_token");
    assert_refused(&svc.list(ws, "not.a.jwt").await, 401, "invalid_token");
    // scimitar's other JWTs are no access tokens for this service.
    assert_refused(&svc.list(ws, &w.session).await, 401, "invalid_token");

    // A revoked SAT cannot be exchanged again; a JWT already issued stays
    // valid until its `exp` (at most five minutes).
    w.revoke(&writer_id).await;
    let refused = w
        .exchange(&writer_sat, &[("audience", "transformations")])
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.body["error"], "invalid_grant");
    assert_eq!(svc.list(ws, &writer).await.status, 200);

    // A JWT stops working at its `exp`: one exchanged from a SAT that
    // expires in a few seconds expires with it.
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(5);
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (_, short_sat) = w
        .app
        .create_sat(
            &w.session,
            json!({ "name": "short", "workspace_id": ws, "permissions": ["transformations:read"], "expires_at": soon }),
        )
        .await;
    let short = w.jwt(&short_sat, &[]).await;
    assert_eq!(svc.list(ws, &short).await.status, 200);
    assert!(
        eventually(Duration::from_secs(12), || async {
            svc.list(ws, &short).await.status == 401
        })
        .await,
        "the JWT expires with its SAT"
    );
    assert_refused(&svc.list(ws, &short).await, 401, "invalid_token");
}

/// The service checks `iss` by default: a JWT issued under another name
/// than the one it expects (by default the scimitar URL it was given) is
/// refused, whatever its signature.
#[tokio::test]
async fn jwts_of_another_issuer_are_refused_by_default() {
    let w = World::new().await;
    let ws = w.ws.as_str();
    let (_, sat) = w.sat(ws, &["transformations:read"]).await;
    let jwt = w.jwt(&sat, &[]).await;
    let defaults = Svc::start_with(service::Config::new(&w.app.base, &w.introspector)).await;
    let r = defaults.list(ws, &jwt).await;
    assert_refused(&r, 401, "invalid_token");
    assert!(
        r.body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("issuer")),
        "{}",
        r.text
    );
    // SATs are introspected, not issued: the default service takes them.
    assert_eq!(defaults.list(ws, &sat).await.status, 200);
    let matching = Svc::start(&w.app, &w.introspector, TTL).await;
    assert_eq!(matching.list(ws, &jwt).await.status, 200);
}

#[tokio::test]
async fn jwts_need_no_introspection_and_follow_key_rotation() {
    let w = World::new().await;
    // A service whose introspection SAT lacks `tokens:introspect`: SATs
    // cannot be checked (503, not a verdict on the caller), JWTs still can.
    let (_, wrong) = w
        .app
        .create_sat(
            &w.session,
            json!({ "name": "misconfigured", "permissions": ["scim:read"] }),
        )
        .await;
    let svc = Svc::start(&w.app, &wrong, TTL).await;
    let ws = w.ws.as_str();
    let (_, sat) = w.sat(ws, &["transformations:read"]).await;
    let unavailable = svc.list(ws, &sat).await;
    assert_eq!(unavailable.status, 503, "{}", unavailable.text);
    let before = w.jwt(&sat, &[]).await;
    assert_eq!(svc.list(ws, &before).await.status, 200);

    // After a rotation, JWTs carry a kid the service has not seen: it
    // refetches the JWKS. JWTs signed with the old key still verify.
    let rotated = w.app.cli(&["keys", "rotate", "--json"]).await.json();
    let new_kid = rotated["kid"].as_str().unwrap().to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let after = loop {
        let jwt = w.jwt(&sat, &[]).await;
        if jsonwebtoken::decode_header(&jwt).unwrap().kid.as_deref() == Some(&new_kid) {
            break jwt;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "scimitar signs with the new key"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        eventually(Duration::from_secs(5), || async {
            svc.list(ws, &after).await.status == 200
        })
        .await,
        "the service learns the new key"
    );
    assert_eq!(svc.list(ws, &before).await.status, 200);
}

/// The round trip of issue 18: a client calls the example service with a
/// workspace SAT (and with the JWT it was exchanged for); the service
/// reports what it did, batched; scimitar's audit log shows each operation
/// under that SAT, in its workspace, naming the reporting service.
#[tokio::test]
async fn the_service_reports_what_it_did_and_the_audit_log_shows_it_under_the_sat() {
    let w = World::new().await;
    // The service's own SAT: introspection and audit reporting in one.
    let (service_id, service_sat) = w
        .app
        .create_sat(
            &w.session,
            json!({ "name": "transformations-reporter", "permissions": ["tokens:introspect", "audit_logs:write"] }),
        )
        .await;
    let (_, auditor) = w
        .app
        .create_sat(
            &w.session,
            json!({ "name": "auditor", "permissions": ["audit_logs:read"] }),
        )
        .await;
    let mut config = service::Config::new(&w.app.base, &service_sat);
    config.issuer = "scimitar".into();
    config.cache_ttl = TTL;
    config.audit_token = Some(service_sat.clone());
    config.report_interval = Duration::from_millis(50);
    let svc = Svc::start_with(config).await;

    let (sat_id, sat) = w.sat(&w.ws, &["transformations:create_delete"]).await;
    let created = svc.create(&w.ws, &sat, "enrich").await;
    assert_eq!(created.status, 201, "{}", created.text);
    let t_id = created.body["id"].as_str().unwrap().to_string();
    let jwt = w.jwt(&sat, &[]).await;
    assert_eq!(svc.list(&w.ws, &jwt).await.status, 200);
    assert_eq!(svc.remove(&w.ws, &sat, &t_id).await.status, 204);
    assert_eq!(svc.remove(&w.ws, &sat, &t_id).await.status, 404);

    // The audit log shows the four operations under the SAT.
    let query = format!(
        "/api/v1/audit-logs?actor_id={sat_id}&workspace_id={}&action=transformations.*",
        w.ws
    );
    let all_there = eventually(Duration::from_secs(10), || async {
        let page = w.app.get(&query, &auditor).await.body;
        page["records"].as_array().is_some_and(|r| r.len() == 4)
    })
    .await;
    let page = w.app.get(&query, &auditor).await.body;
    assert!(all_there, "{page}");
    let records = page["records"].as_array().unwrap();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "transformations.create",
            "transformations.list",
            "transformations.delete",
            "transformations.delete"
        ]
    );
    for r in records {
        assert_eq!(r["actor_kind"], "sat", "{r}");
        assert_eq!(r["actor_id"], sat_id.as_str());
        assert_eq!(r["actor_display"], "caller");
        assert_eq!(r["workspace_id"], w.ws.as_str());
        assert_eq!(r["reported_by"], service_id.as_str());
    }
    assert_eq!(records[0]["target_id"], t_id.as_str());
    assert_eq!(records[0]["target_display"], "enrich");
    assert_eq!(records[2]["outcome"], "success");
    assert_eq!(records[3]["outcome"], "failure");
    assert_eq!(records[3]["reason"], "no such transformation");
    // The JWT's operation names the JWT it came with.
    let list_changes: Value =
        serde_json::from_str(records[1]["changes"].as_str().unwrap()).unwrap();
    assert!(list_changes["jti"].is_string(), "{list_changes}");
    // Neither credential's value reached the log.
    let everything = serde_json::to_string(&w.app.audit_records(&w.org).await).unwrap();
    assert!(!everything.contains(&sat) && !everything.contains(&jwt));
}

/// Reports that could not be delivered are sent again, and recorded once.
#[tokio::test]
async fn the_service_retries_reports_until_scimitar_takes_them() {
    let w = World::new().await;
    let (_, service_sat) = w
        .app
        .create_sat(
            &w.session,
            json!({ "name": "transformations-reporter", "permissions": ["tokens:introspect", "audit_logs:write"] }),
        )
        .await;
    // Reports go to a port that refuses connections at first, then to
    // scimitar through a relay that starts late.
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = relay.local_addr().unwrap();
    drop(relay);
    let mut config = service::Config::new(&w.app.base, &service_sat);
    config.issuer = "scimitar".into();
    config.audit_token = Some(service_sat.clone());
    config.report_interval = Duration::from_millis(50);
    config.report_url = Some(format!("http://{relay_addr}"));
    let svc = Svc::start_with(config).await;
    let (sat_id, sat) = w.sat(&w.ws, &["transformations:create_delete"]).await;
    assert_eq!(svc.create(&w.ws, &sat, "late").await.status, 201);
    tokio::time::sleep(Duration::from_millis(300)).await;
    async fn created(w: &World, sat_id: &str) -> usize {
        w.app
            .audit_records(&w.org)
            .await
            .iter()
            .filter(|r| r["action"] == "transformations.create" && r["actor_id"] == sat_id)
            .count()
    }
    assert_eq!(
        created(&w, &sat_id).await,
        0,
        "nothing can have arrived yet"
    );

    // The relay comes up: a plain TCP forwarder to scimitar.
    let relay = tokio::net::TcpListener::bind(relay_addr).await.unwrap();
    let target = w.app.base.trim_start_matches("http://").to_string();
    let forward = tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = relay.accept().await else {
                return;
            };
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let arrived = eventually(Duration::from_secs(20), || async {
        created(&w, &sat_id).await == 1
    })
    .await;
    forward.abort();
    assert!(arrived, "the report was not retried");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(created(&w, &sat_id).await, 1, "recorded once");
}
