//! The token authority: introspection and exchange for workspace services.

use serde_json::{Value, json};

use crate::support::{TestApp, read};

const INTROSPECT: &str = "/api/v1/tokens/introspect";
const EXCHANGE: &str = "/api/v1/tokens/exchange";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

async fn introspect(app: &TestApp, caller: &str, token: &str) -> crate::support::Resp {
    read(
        app.client
            .post(app.url(INTROSPECT))
            .bearer_auth(caller)
            .form(&[("token", token)])
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn exchange(app: &TestApp, form: &[(&str, &str)]) -> crate::support::Resp {
    read(
        app.client
            .post(app.url(EXCHANGE))
            .form(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The `token.introspect` records of `org`, oldest first.
async fn introspections(app: &TestApp, org: &str) -> Vec<Value> {
    app.audit_records(org)
        .await
        .into_iter()
        .filter(|r| r["action"] == "token.introspect")
        .collect()
}

/// The `changes.reason` of an introspection record.
fn reason(record: &Value) -> String {
    let changes: Value = serde_json::from_str(record["changes"].as_str().unwrap()).unwrap();
    changes["reason"].as_str().unwrap_or_default().to_string()
}

/// An OAuth error (RFC 6749 §5.2), not a problem.
fn assert_oauth_error(r: &crate::support::Resp, status: u16, error: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{}",
        r.text
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.body["error"], error, "{}", r.text);
    assert!(r.body["error_description"].is_string(), "{}", r.text);
}

#[tokio::test]
async fn introspection_tells_active_tokens_apart_and_says_nothing_else() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    let ws = app.create_workspace(&s, "transformations").await;
    let (_, checker) = app
        .create_sat(
            &s,
            json!({ "name": "gateway", "permissions": ["tokens:introspect"] }),
        )
        .await;
    let (ws_id, ws_sat) = app
        .create_sat(&s, json!({ "name": "etl", "workspace_id": ws, "permissions": ["transformations:read", "sources:edit"], "expires_in_days": 3, "allowed_cidrs": ["10.0.0.0/8"] }))
        .await;

    let r = introspect(&app, &checker, &ws_sat).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["token_type"], "sat");
    assert_eq!(r.body["client_id"], ws_id.as_str());
    assert_eq!(r.body["sub"], ws_id.as_str());
    assert_eq!(r.body["org_id"], org.as_str());
    assert_eq!(r.body["workspace_id"], ws.as_str());
    assert_eq!(r.body["scope"], "sources:edit transformations:read");
    assert_eq!(r.body["name"], "etl");
    assert!(r.body["exp"].as_i64().unwrap() > r.body["iat"].as_i64().unwrap());
    // JSON bodies work too.
    let j = app
        .post(INTROSPECT, &checker, json!({ "token": ws_sat }))
        .await;
    assert_eq!(j.body["active"], true);
    // A token that never expires has no `exp` (RFC 7662: optional), not null.
    let checker_id = app.get("/api/v1/tokens/self", &checker).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let forever = introspect(&app, &checker, &checker).await;
    assert_eq!(forever.body["active"], true, "{}", forever.text);
    assert_eq!(forever.body["client_id"], checker_id.as_str());
    assert!(forever.body.get("exp").is_none(), "{}", forever.text);
    assert!(forever.body["iat"].is_i64());

    // Every inactive answer is exactly {"active":false}.
    let unknown = scimitar::tokens::PlainToken::generate(scimitar::tokens::TokenKind::Sat).reveal();
    app.cli(&["org", "create", "other"]).await;
    let foreign = app
        .cli(&[
            "token",
            "create",
            "--org",
            "other",
            "--name",
            "x",
            "--permission",
            "scim:read",
            "--json",
        ])
        .await
        .json();
    let (foreign_id, foreign) = (
        foreign["id"].as_str().unwrap().to_string(),
        foreign["token"].as_str().unwrap().to_string(),
    );
    let (revoked_id, revoked) = app
        .create_sat(&s, json!({ "name": "old", "permissions": ["scim:read"] }))
        .await;
    app.delete(&format!("/api/v1/service-access-tokens/{revoked_id}"), &s)
        .await;
    for token in [
        unknown.as_str(),
        foreign.as_str(),
        revoked.as_str(),
        "garbage",
    ] {
        let r = introspect(&app, &checker, token).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, json!({ "active": false }), "{token}");
    }
    let records = introspections(&app, &org).await;
    let reasons: Vec<String> = records.iter().map(reason).collect();
    for wanted in [
        "revoked",
        "other_organization",
        "unknown_token",
        "malformed_token",
    ] {
        assert!(reasons.iter().any(|r| r == wanted), "{wanted}: {reasons:?}");
    }
    // Another organization's token is not named in this organization's log.
    let other_org = records
        .iter()
        .find(|r| reason(r) == "other_organization")
        .unwrap();
    assert!(other_org["target_id"].is_null(), "{other_org}");
    assert!(
        !records.iter().any(|r| r.to_string().contains(&foreign_id)),
        "{records:?}"
    );
    // Only the answer's own organization's tokens are ever active.
    let r = introspect(&app, &checker, &foreign).await;
    assert_eq!(r.body, json!({ "active": false }));

    // Only holders of tokens:introspect may ask.
    let (_, scim) = app
        .create_sat(&s, json!({ "name": "idp", "permissions": ["scim:read"] }))
        .await;
    let denied = introspect(&app, &scim, &ws_sat).await;
    denied.assert_problem(403);
    assert_eq!(denied.body["missing_permission"], "tokens:introspect");
}

/// Expired, rotated-out and deleted-workspace tokens are inactive, with the
/// reason in the audit record.
#[tokio::test]
async fn introspection_of_expired_rotated_and_orphaned_tokens() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    let (_, checker) = app
        .create_sat(
            &s,
            json!({ "name": "gateway", "permissions": ["tokens:introspect"] }),
        )
        .await;

    // Expired: its expiry moved into the past.
    let (expired_id, expired) = app
        .create_sat(
            &s,
            json!({ "name": "e", "permissions": ["scim:read"], "expires_in_days": 1 }),
        )
        .await;
    assert_eq!(
        introspect(&app, &checker, &expired).await.body["active"],
        true
    );
    let past = scimitar::store::Timestamp::now() - time::Duration::seconds(1);
    scimitar::on_db!(app.db(), pool => {
        sqlx::query("UPDATE tokens SET expires_at = $1 WHERE id = $2")
            .bind(past)
            .bind(&expired_id)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    crate::support::outside_change_lands().await;
    let r = introspect(&app, &checker, &expired).await;
    assert_eq!(r.body, json!({ "active": false }), "{}", r.text);

    // Rotated out: the old secret works during the grace period, not after.
    let (rotated_id, old) = app
        .create_sat(&s, json!({ "name": "r", "permissions": ["scim:read"] }))
        .await;
    let rotated = app
        .post(
            &format!("/api/v1/service-access-tokens/{rotated_id}/rotate"),
            &s,
            json!({ "grace_period_seconds": 1 }),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new = rotated.body["token"].as_str().unwrap().to_string();
    assert!(
        crate::support::eventually(std::time::Duration::from_secs(5), || async {
            introspect(&app, &checker, &old).await.body == json!({ "active": false })
        })
        .await,
        "the old secret stops being active after the grace period"
    );
    assert_eq!(introspect(&app, &checker, &new).await.body["active"], true);

    // A token of a deleted workspace.
    let ws = app.create_workspace(&s, "doomed").await;
    let (orphan_id, orphan) = app
        .create_sat(
            &s,
            json!({ "name": "o", "workspace_id": ws, "permissions": ["sources:read"] }),
        )
        .await;
    assert_eq!(
        introspect(&app, &checker, &orphan).await.body["active"],
        true
    );
    let gone = app.delete(&format!("/api/v1/workspaces/{ws}"), &s).await;
    assert!(gone.status.is_success(), "{}", gone.text);
    let r = introspect(&app, &checker, &orphan).await;
    assert_eq!(r.body, json!({ "active": false }), "{}", r.text);

    let records = introspections(&app, &org).await;
    let reason_for = |id: &str| -> Vec<String> {
        records
            .iter()
            .filter(|r| r["target_id"] == id)
            .map(reason)
            .collect()
    };
    assert!(
        reason_for(&expired_id).contains(&"expired".to_string()),
        "{records:?}"
    );
    assert!(
        reason_for(&rotated_id).contains(&"rotated_out".to_string()),
        "{records:?}"
    );
    // Deleting a workspace revokes its tokens.
    assert!(
        reason_for(&orphan_id).contains(&"revoked".to_string()),
        "{records:?}"
    );
}

/// A PAT's answer: its member is the subject, its role's powers the scope.
#[tokio::test]
async fn introspection_of_a_personal_access_token() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let me = app.get("/api/v1/tokens/self", &s).await.body;
    let (_, checker) = app
        .create_sat(
            &s,
            json!({ "name": "gateway", "permissions": ["tokens:introspect"] }),
        )
        .await;
    let created = app
        .post("/api/v1/personal-access-tokens", &s, json!({ "name": "p" }))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let pat = created.body["token"].as_str().unwrap();
    let r = introspect(&app, &checker, pat).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["token_type"], "pat");
    assert_eq!(r.body["client_id"], created.body["id"]);
    assert_eq!(r.body["sub"], me["member_id"]);
    assert_eq!(r.body["org_id"], me["org_id"]);
    assert_eq!(r.body["username"], "admin");
    assert_eq!(r.body["name"], "admin");
    assert!(r.body["workspace_id"].is_null());
    assert_eq!(
        r.body["scope"],
        "audit_logs:read audit_streams:manage members:manage personal_access_tokens:manage \
         service_access_tokens:manage workspaces:manage"
    );
    assert!(r.body.get("exp").is_none(), "{}", r.text);
}

/// Who may not introspect, and what a bad request gets.
#[tokio::test]
async fn introspection_refuses_other_callers_and_bad_requests() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let ws = app.create_workspace(&s, "w").await;
    let (_, checker) = app
        .create_sat(
            &s,
            json!({ "name": "gateway", "permissions": ["tokens:introspect"] }),
        )
        .await;
    let (_, ws_sat) = app
        .create_sat(
            &s,
            json!({ "name": "ws", "workspace_id": ws, "permissions": ["sources:read"] }),
        )
        .await;
    let pat = app
        .post("/api/v1/personal-access-tokens", &s, json!({ "name": "p" }))
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_string();

    // An admin's PAT or session, a workspace SAT: none holds tokens:introspect.
    for caller in [&pat, &s, &ws_sat] {
        let r = introspect(&app, caller, &ws_sat).await;
        r.assert_problem(403);
        assert_eq!(r.body["missing_permission"], "tokens:introspect");
    }
    let garbage = introspect(&app, "garbage", &ws_sat).await;
    garbage.assert_problem(401);
    assert!(
        garbage
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer")),
        "{:?}",
        garbage.headers
    );
    let get = read(
        app.client
            .get(app.url(INTROSPECT))
            .bearer_auth(&checker)
            .send()
            .await
            .unwrap(),
    )
    .await;
    get.assert_problem(405);

    // Bad bodies are OAuth errors (RFC 7662 §2.1 and RFC 6749 §5.2).
    let missing = app.post(INTROSPECT, &checker, json!({})).await;
    assert_oauth_error(&missing, 400, "invalid_request");
    let empty_form = read(
        app.client
            .post(app.url(INTROSPECT))
            .bearer_auth(&checker)
            .form(&[("token", "")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_oauth_error(&empty_form, 400, "invalid_request");
    let post_raw = |ct: &'static str, body: &'static str| {
        let app = &app;
        let checker = &checker;
        async move {
            read(
                app.client
                    .post(app.url(INTROSPECT))
                    .bearer_auth(checker)
                    .header("content-type", ct)
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    assert_oauth_error(
        &post_raw("application/json", "{").await,
        400,
        "invalid_request",
    );
    assert_oauth_error(
        &post_raw("application/json", r#"{"token":5}"#).await,
        400,
        "invalid_request",
    );
    assert_oauth_error(
        &post_raw("text/plain", "token=x").await,
        415,
        "invalid_request",
    );
    // The caller is checked before the body.
    let r = read(
        app.client
            .post(app.url(INTROSPECT))
            .bearer_auth("garbage")
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(401);
}

async fn jwks(app: &TestApp) -> Value {
    read(
        app.client
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .body
}

#[tokio::test]
async fn exchange_issues_short_lived_jwts_that_verify_offline() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    let ws = app.create_workspace(&s, "w").await;
    let (sat_id, sat) = app
        .create_sat(&s, json!({ "name": "svc", "workspace_id": ws, "permissions": ["transformations:create_delete", "sources:read"] }))
        .await;
    let r = exchange(
        &app,
        &[
            ("grant_type", GRANT),
            ("subject_token", &sat),
            ("audience", "transformations"),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(
        r.body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:jwt"
    );
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(r.body["expires_in"].as_i64().unwrap() <= 300);
    let jwt = r.body["access_token"].as_str().unwrap();
    let jwks = jwks(&app).await;
    let claims: Value =
        scimitar::signing::verify_jws(jwt, &jwks).expect("verifies against the JWKS");
    // No SCIMITAR_PUBLIC_URL here: the issuer is `scimitar`.
    assert_eq!(claims["iss"], "scimitar");
    assert_eq!(claims["sub"], sat_id.as_str());
    assert_eq!(claims["org"], org.as_str());
    assert_eq!(claims["workspace"], ws.as_str());
    assert_eq!(claims["aud"], "transformations");
    assert_eq!(
        claims["permissions"],
        json!(["sources:read", "transformations:create_delete"])
    );
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(exp - iat <= 300 && exp > iat);
    assert!(claims["jti"].is_string());
    // Without an audience, the audience is scimitar.
    let plain = exchange(&app, &[("grant_type", GRANT), ("subject_token", &sat)]).await;
    assert_eq!(plain.status, 200, "{}", plain.text);
    let plain: Value =
        scimitar::signing::verify_jws(plain.body["access_token"].as_str().unwrap(), &jwks).unwrap();
    assert_eq!(plain["aud"], "scimitar");
    // Signed with the same keys as sessions, but never taken for one.
    app.get("/api/v1/tokens/self", jwt)
        .await
        .assert_problem(401);
    let session_header = s.split('.').next().unwrap();
    use base64::Engine;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(session_header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header["alg"], "EdDSA",
        "sessions are signed with the server's signing keys"
    );
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header["kid"])
    );

    // Narrowing is allowed, widening is not.
    let narrow = exchange(
        &app,
        &[
            ("grant_type", GRANT),
            ("subject_token", &sat),
            ("scope", "transformations:read"),
        ],
    )
    .await;
    assert_eq!(narrow.status, 200, "{}", narrow.text);
    assert_eq!(narrow.body["scope"], "transformations:read");
    let wide = exchange(
        &app,
        &[
            ("grant_type", GRANT),
            ("subject_token", &sat),
            ("scope", "sources:edit"),
        ],
    )
    .await;
    assert_oauth_error(&wide, 400, "invalid_scope");
    let made_up = exchange(
        &app,
        &[
            ("grant_type", GRANT),
            ("subject_token", &sat),
            ("scope", "root:all"),
        ],
    )
    .await;
    assert_oauth_error(&made_up, 400, "invalid_scope");

    // The audience is bounded and printable: it goes into the JWT and the
    // audit record.
    let longest = "a".repeat(256);
    let ok = exchange(
        &app,
        &[
            ("grant_type", GRANT),
            ("subject_token", &sat),
            ("audience", &longest),
        ],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let too_long = "a".repeat(257);
    for audience in [
        too_long.as_str(),
        "svc\nforged: line",
        "tab\there",
        "bidi\u{202e}",
    ] {
        let r = exchange(
            &app,
            &[
                ("grant_type", GRANT),
                ("subject_token", &sat),
                ("audience", audience),
            ],
        )
        .await;
        assert_oauth_error(&r, 400, "invalid_request");
    }

    // Refusals are OAuth errors.
    let bad_type = exchange(
        &app,
        &[
            ("grant_type", GRANT),
            ("subject_token", &sat),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
        ],
    )
    .await;
    assert_oauth_error(&bad_type, 400, "invalid_request");
    let bad_grant = exchange(&app, &[("grant_type", "password"), ("subject_token", &sat)]).await;
    assert_oauth_error(&bad_grant, 400, "unsupported_grant_type");
    let no_subject = exchange(&app, &[("grant_type", GRANT)]).await;
    assert_oauth_error(&no_subject, 400, "invalid_request");
    let get = read(app.client.get(app.url(EXCHANGE)).send().await.unwrap()).await;
    get.assert_problem(405);
    let text = read(
        app.client
            .post(app.url(EXCHANGE))
            .header("content-type", "text/plain")
            .body("grant_type=x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_oauth_error(&text, 415, "invalid_request");
    app.delete(&format!("/api/v1/service-access-tokens/{sat_id}"), &s)
        .await;
    let revoked = exchange(&app, &[("grant_type", GRANT), ("subject_token", &sat)]).await;
    assert_oauth_error(&revoked, 400, "invalid_grant");
    let created = app
        .post("/api/v1/personal-access-tokens", &s, json!({ "name": "p" }))
        .await;
    let pat = created.body["token"].as_str().unwrap().to_string();
    let personal = exchange(&app, &[("grant_type", GRANT), ("subject_token", &pat)]).await;
    assert_oauth_error(&personal, 400, "invalid_grant");

    // Every refusal is recorded with a reason code: in the token's
    // organization once the token is known, unattributed before.
    let exchanges: Vec<Value> = app
        .audit_records(&org)
        .await
        .into_iter()
        .filter(|r| r["action"] == "token.exchange")
        .collect();
    let failed = |reason: &str| -> Vec<&Value> {
        exchanges
            .iter()
            .filter(|r| r["outcome"] == "failure" && r["reason"] == reason)
            .collect()
    };
    assert_eq!(
        exchanges
            .iter()
            .filter(|r| r["outcome"] == "success")
            .count(),
        4
    );
    for (reason, n) in [
        ("scope_not_granted", 1),
        ("unknown_permission", 1),
        ("invalid_audience", 4),
        ("unsupported_subject_token_type", 1),
        ("revoked", 1),
        ("not_a_service_token", 1),
    ] {
        let found = failed(reason);
        assert_eq!(found.len(), n, "{reason}: {exchanges:#?}");
        for r in found {
            assert_eq!(r["http_status"], 400, "{r}");
            assert!(
                r["reason"]
                    .as_str()
                    .unwrap()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
        }
    }
    for r in failed("scope_not_granted") {
        assert_eq!(r["actor_id"], sat_id.as_str());
        assert_eq!(r["workspace_id"], ws.as_str());
    }
    assert_eq!(
        failed("not_a_service_token")[0]["actor_id"],
        created.body["id"]
    );
    let unattributed: Vec<Value> = app
        .audit_records("unattributed")
        .await
        .into_iter()
        .filter(|r| r["action"] == "token.exchange")
        .collect();
    for (reason, actor) in [
        ("unsupported_grant_type", Value::from(sat_id.as_str())),
        ("missing_subject_token", Value::Null),
        ("unsupported_content_type", Value::Null),
    ] {
        assert!(
            unattributed.iter().any(|r| r["outcome"] == "failure"
                && r["reason"] == reason
                && r["actor_id"] == actor),
            "{reason}: {unattributed:#?}"
        );
    }
    let all = format!("{exchanges:?}{unattributed:?}");
    for secret in [jwt, sat.as_str(), pat.as_str(), too_long.as_str()] {
        assert!(!all.contains(secret), "audited: {secret}");
    }
}

/// A superseded key leaves the public JWKS once the last token it could
/// have signed has expired, plus a minute of margin (other instances sign
/// with it until they re-read the keys, and clocks differ); the audit JWKS
/// keeps every key, for checkpoints of any age.
#[tokio::test]
async fn retired_keys_leave_the_public_jwks_but_not_the_audit_one() {
    let app = TestApp::spawn().await;
    app.admin_session().await;
    let rotate = app.cli(&["keys", "rotate", "--json"]).await;
    assert_eq!(rotate.code, Some(0), "{}", rotate.stderr);
    let count = |v: &Value| v["keys"].as_array().map(Vec::len).unwrap_or(0);
    let both = crate::support::eventually(std::time::Duration::from_secs(5), || async {
        count(&jwks(&app).await) == 2
    })
    .await;
    assert!(both, "a freshly superseded key is still published");

    // Pretend the rotation happened `ago`, and restart (the keys' times
    // are read at start).
    let password = app.admin_password.clone();
    let mut app = app;
    let session_ttl = 900; // TestApp's, longer than an exchanged token's 300 s
    for (ago, published) in [(session_ttl + 30, 2), (session_ttl + 90, 1)] {
        let then = scimitar::store::Timestamp::now() - time::Duration::seconds(ago);
        scimitar::on_db!(app.db(), pool => {
            sqlx::query("UPDATE signing_keys SET created_at = $1").bind(then).execute(pool).await.map(|_| ())
        })
        .unwrap();
        let url = app.shutdown().await;
        app = TestApp::builder().start_on(url).await;
        assert_eq!(
            count(&jwks(&app).await),
            published,
            "superseded {ago} s ago"
        );
    }
    let s = app.login("default", "admin", &password).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let audit = app.get("/api/v1/audit-logs/jwks", &s).await;
    assert_eq!(count(&audit.body), 2, "{}", audit.text);
}
