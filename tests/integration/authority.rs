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

#[tokio::test]
async fn introspection_tells_active_tokens_apart_and_says_nothing_else() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
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
    assert_eq!(r.body["workspace_id"], ws.as_str());
    assert_eq!(r.body["scope"], "sources:edit transformations:read");
    assert_eq!(r.body["name"], "etl");
    assert!(r.body["exp"].as_i64().unwrap() > r.body["iat"].as_i64().unwrap());
    // JSON bodies work too.
    let j = app
        .post(INTROSPECT, &checker, json!({ "token": ws_sat }))
        .await;
    assert_eq!(j.body["active"], true);

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
        .json()["token"]
        .as_str()
        .unwrap()
        .to_string();
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
    let org = app.get("/api/v1/tokens/self", &s).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_string();
    let reasons: Vec<String> = app
        .audit_records(&org)
        .await
        .into_iter()
        .filter(|r| r["action"] == "token.introspect")
        .map(|r| r["changes"].as_str().unwrap().to_string())
        .collect();
    assert!(reasons.iter().any(|c| c.contains("revoked")), "{reasons:?}");
    assert!(
        reasons.iter().any(|c| c.contains("another organization")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|c| c.contains("unknown_token")),
        "{reasons:?}"
    );

    // Only holders of tokens:introspect may ask.
    let (_, scim) = app
        .create_sat(&s, json!({ "name": "idp", "permissions": ["scim:read"] }))
        .await;
    let denied = introspect(&app, &scim, &ws_sat).await;
    denied.assert_problem(403);
    assert_eq!(denied.body["missing_permission"], "tokens:introspect");
    let missing = app.post(INTROSPECT, &checker, json!({})).await;
    missing.assert_problem(400);
}

#[tokio::test]
async fn exchange_issues_short_lived_jwts_that_verify_offline() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
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
    let jwks = read(
        app.client
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .body;
    let claims: Value =
        scimitar::signing::verify_jws(jwt, &jwks).expect("verifies against the JWKS");
    assert_eq!(claims["sub"], sat_id.as_str());
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
    assert_eq!(wide.status, 400);
    assert_eq!(wide.body["error"], "invalid_scope");

    // Refusals are OAuth errors.
    let bad_grant = exchange(&app, &[("grant_type", "password"), ("subject_token", &sat)]).await;
    assert_eq!(bad_grant.body["error"], "unsupported_grant_type");
    let no_subject = exchange(&app, &[("grant_type", GRANT)]).await;
    assert_eq!(no_subject.body["error"], "invalid_request");
    app.delete(&format!("/api/v1/service-access-tokens/{sat_id}"), &s)
        .await;
    let revoked = exchange(&app, &[("grant_type", GRANT), ("subject_token", &sat)]).await;
    assert_eq!(revoked.status, 400);
    assert_eq!(revoked.body["error"], "invalid_grant");
    let pat = app
        .post("/api/v1/personal-access-tokens", &s, json!({ "name": "p" }))
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let personal = exchange(&app, &[("grant_type", GRANT), ("subject_token", &pat)]).await;
    assert_eq!(personal.body["error"], "invalid_grant");

    let org = app.get("/api/v1/tokens/self", &s).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_string();
    let exchanges: Vec<Value> = app
        .audit_records(&org)
        .await
        .into_iter()
        .filter(|r| r["action"] == "token.exchange")
        .collect();
    assert!(exchanges.iter().any(|r| r["outcome"] == "success"));
    assert!(
        exchanges
            .iter()
            .any(|r| r["outcome"] == "failure" && r["reason"] == "token revoked")
    );
    assert!(
        !exchanges.iter().any(|r| r.to_string().contains(jwt)),
        "the JWT is not audited"
    );
}

/// A superseded key leaves the public JWKS once the last token it could
/// have signed has expired; the audit JWKS keeps every key, for
/// checkpoints of any age.
#[tokio::test]
async fn retired_keys_leave_the_public_jwks_but_not_the_audit_one() {
    let app = TestApp::spawn().await;
    app.admin_session().await;
    let rotate = app.cli(&["keys", "rotate", "--json"]).await;
    assert_eq!(rotate.code, Some(0), "{}", rotate.stderr);
    let count = |v: &Value| v["keys"].as_array().map(Vec::len).unwrap_or(0);
    let both = crate::support::eventually(std::time::Duration::from_secs(5), || async {
        count(
            &read(
                app.client
                    .get(app.url("/.well-known/jwks.json"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
            .body,
        ) == 2
    })
    .await;
    assert!(both, "a freshly superseded key is still published");
    // Pretend the rotation happened a day ago, and restart.
    let day_ago = scimitar::store::Timestamp::now() - time::Duration::days(1);
    scimitar::on_db!(app.db(), pool => {
        sqlx::query("UPDATE signing_keys SET created_at = $1").bind(day_ago).execute(pool).await.map(|_| ())
    })
    .unwrap();
    let password = app.admin_password.clone();
    let url = app.shutdown().await;
    let app = TestApp::builder().start_on(url).await;
    let s = app.login("default", "admin", &password).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let pruned = crate::support::eventually(std::time::Duration::from_secs(5), || async {
        count(
            &read(
                app.client
                    .get(app.url("/.well-known/jwks.json"))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
            .body,
        ) == 1
    })
    .await;
    assert!(
        pruned,
        "the superseded key is no longer published for tokens"
    );
    let audit = app.get("/api/v1/audit-logs/jwks", &s).await;
    assert_eq!(count(&audit.body), 2, "{}", audit.text);
}
