//! Personal Access Tokens: an admin's own, listed and revoked by them only.

use serde_json::json;

use crate::support::TestApp;

const PATS: &str = "/api/v1/personal-access-tokens";

#[tokio::test]
async fn pats_are_personal() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let created = app
        .post(PATS, &s, json!({ "name": "laptop", "expires_in_days": 30 }))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let id = created.body["id"].as_str().unwrap().to_string();
    let value = created.body["token"].as_str().unwrap().to_string();
    assert_eq!(created.body["kind"], "pat");

    let me = app.get("/api/v1/tokens/self", &value).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["kind"], "pat");
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["user_name"], "admin");

    let list = app.get(PATS, &s).await;
    let ids: Vec<&str> = list.body["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![id.as_str()]);
    assert!(!list.text.contains(&value[31..63]));
    assert_eq!(
        app.get("/api/v1/service-access-tokens", &s).await.body["tokens"],
        json!([]),
        "PATs are not SATs"
    );

    // Another admin sees none of them and cannot revoke them.
    let (_, erin) = app.signed_in_member("default", "erin", "admin").await;
    assert_eq!(app.get(PATS, &erin).await.body["tokens"], json!([]));
    app.delete(&format!("{PATS}/{id}"), &erin)
        .await
        .assert_problem(404);
    app.delete(&format!("/api/v1/service-access-tokens/{id}"), &s)
        .await
        .assert_problem(404);
    assert_eq!(app.get("/api/v1/tokens/self", &value).await.status, 200);

    assert_eq!(app.delete(&format!("{PATS}/{id}"), &s).await.status, 204);
    app.get("/api/v1/tokens/self", &value)
        .await
        .assert_problem(401);
}

#[tokio::test]
async fn a_pat_cannot_be_used_for_scim_or_given_permissions() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    app.post(
        PATS,
        &s,
        json!({ "name": "x", "permissions": ["scim:read"] }),
    )
    .await
    .assert_problem(400);
    app.post(PATS, &s, json!({ "name": "" }))
        .await
        .assert_problem(400);
}
