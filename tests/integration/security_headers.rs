//! Response headers: `nosniff` everywhere, `no-store` on API and SCIM
//! answers (tokens, sessions, identities), and the public JWKS still
//! cacheable.

use reqwest::Method;
use serde_json::json;

use crate::support::{TestApp, user};

#[tokio::test]
async fn api_and_scim_answers_are_nosniff_and_never_stored() {
    let app = TestApp::spawn().await;
    let login = app.login("default", "admin", &app.admin_password).await;
    assert_eq!(login.status, 200);
    let session = login.body["access_token"].as_str().unwrap().to_string();
    let created = app
        .post(
            "/api/v1/service-access-tokens",
            &session,
            json!({ "name": "idp", "permissions": ["scim:read", "scim:write"] }),
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap();
    let rotated = app
        .post(
            &format!("/api/v1/service-access-tokens/{id}/rotate"),
            &session,
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, 200);
    let token = rotated.body["token"].as_str().unwrap().to_string();
    let scim = crate::support::Scim {
        app: &app,
        token: token.clone(),
    };
    let scim_created = scim.post("/Users", user("ann")).await;
    let scim_listed = scim.get("/Users").await;
    let scim_error = scim.get("/Users/nope").await;
    let audit = app.get("/api/v1/audit-logs", &session).await;
    let refused = app.get("/api/v1/tokens/self", "scim_sat_nope").await;
    let (_, exchanger) = app
        .create_sat(
            &session,
            json!({ "name": "svc", "permissions": ["tokens:introspect"] }),
        )
        .await;
    let exchange = crate::support::read(
        app.client
            .post(app.url("/api/v1/tokens/exchange"))
            .form(&[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", exchanger.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(exchange.status, 200, "{}", exchange.text);

    for (what, r) in [
        ("login", &login),
        ("SAT create", &created),
        ("SAT rotate", &rotated),
        ("token exchange", &exchange),
        ("SCIM create", &scim_created),
        ("SCIM list", &scim_listed),
        ("SCIM error", &scim_error),
        ("audit list", &audit),
        ("401", &refused),
    ] {
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
    }

    let health = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.header("x-content-type-options"), Some("nosniff"));
    let jwks = app
        .request(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(jwks.header("x-content-type-options"), Some("nosniff"));
}
