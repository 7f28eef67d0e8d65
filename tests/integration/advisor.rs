//! The least-privilege advisor: which permissions a token exercised
//! (counted in memory, flushed in batches), through SCIM, the Audit Log API
//! and introspection's `permission` parameter; what it never used; and the
//! console's one click to reduce it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console_client::Console;
use crate::support::{TestApp, eventually, read};

const SATS: &str = "/api/v1/service-access-tokens";

async fn introspect(app: &TestApp, caller: &str, token: &str, permission: &str) -> Value {
    let r = read(
        app.client
            .post(app.url("/api/v1/tokens/introspect"))
            .bearer_auth(caller)
            .form(&[("token", token), ("permission", permission)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

#[tokio::test]
async fn a_reader_is_shown_its_unused_write_permission_and_reduced_in_one_click() {
    let app = TestApp::builder()
        .flush_every(Duration::from_millis(50))
        .start()
        .await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    let (id, idp) = app
        .create_sat(
            &s,
            json!({ "name": "idp", "permissions": ["scim:read", "scim:write"] }),
        )
        .await;
    for _ in 0..3 {
        assert_eq!(app.get("/scim/v2/Users", &idp).await.status, 200);
    }
    let usage_path = format!("{SATS}/{id}/usage?days=30");
    let settled = eventually(Duration::from_secs(5), || async {
        app.get(&usage_path, &s).await.body["used"][0]["count"] == 3
    })
    .await;
    assert!(settled, "the counts are flushed");
    let usage = app.get(&usage_path, &s).await;
    assert_eq!(usage.status, 200, "{}", usage.text);
    assert_eq!(usage.body["granted"], json!(["scim:read", "scim:write"]));
    assert_eq!(usage.body["used"][0]["permission"], "scim:read");
    assert!(usage.body["used"][0]["last_used_at"].is_string());
    assert_eq!(usage.body["unused"], json!(["scim:write"]));
    assert_eq!(usage.body["suggested_permissions"], json!(["scim:read"]));
    app.get(&format!("{SATS}/{id}/usage?days=0"), &s)
        .await
        .assert_problem(400);
    app.get(&format!("{SATS}/{id}/usage?days=9999"), &s)
        .await
        .assert_problem(400);

    // The console shows it on the token's row and reduces it in one click.
    let mut c = Console::new(&app);
    let csrf = c.sign_in_admin().await;
    let page = c.get("/console/tokens").await;
    assert!(page.text.contains("Unused in 30 days"), "{}", page.text);
    assert!(page.text.contains("Reduce to suggested permissions"));
    let r = c
        .post(&format!("/console/tokens/{id}/reduce"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let me = app.get("/api/v1/tokens/self", &idp).await;
    assert_eq!(me.body["permissions"], json!(["scim:read"]));
    let records = app.audit_records(&org).await;
    let edit = records
        .iter()
        .rfind(|r| r["action"] == "sat.update" && r["outcome"] == "success")
        .unwrap();
    let changes: Value = serde_json::from_str(edit["changes"].as_str().unwrap()).unwrap();
    assert_eq!(changes["after"]["permissions"], json!(["scim:read"]));
    let page = c.get("/console/tokens").await;
    assert!(!page.text.contains("Reduce to suggested permissions"));
}

#[tokio::test]
async fn introspection_answers_whether_a_permission_is_held_and_counts_it() {
    let app = TestApp::builder()
        .flush_every(Duration::from_millis(50))
        .start()
        .await;
    let s = app.admin_session().await;
    let ws = app.create_workspace(&s, "w").await;
    let (_, service) = app
        .create_sat(
            &s,
            json!({ "name": "svc", "permissions": ["tokens:introspect"] }),
        )
        .await;
    let (id, token) = app
        .create_sat(
            &s,
            json!({ "name": "etl", "workspace_id": ws, "permissions": ["transformations:create_delete", "sources:read"] }),
        )
        .await;
    let yes = introspect(&app, &service, &token, "transformations:edit").await;
    assert_eq!(yes["active"], true);
    assert_eq!(yes["allowed"], true);
    let no = introspect(&app, &service, &token, "sources:edit").await;
    assert_eq!(no["allowed"], false);
    let bad = read(
        app.client
            .post(app.url("/api/v1/tokens/introspect"))
            .bearer_auth(&service)
            .form(&[("token", token.as_str()), ("permission", "sources:fly")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text);

    let path = format!("{SATS}/{id}/usage");
    let settled = eventually(Duration::from_secs(5), || async {
        app.get(&path, &s).await.body["used"] != json!([])
    })
    .await;
    assert!(settled);
    let usage = app.get(&path, &s).await;
    assert_eq!(
        usage.body["used"].as_array().unwrap().len(),
        1,
        "a refused check is not a use: {}",
        usage.text
    );
    assert_eq!(usage.body["used"][0]["permission"], "transformations:edit");
    assert_eq!(usage.body["unused"], json!(["sources:read"]));
    assert_eq!(
        usage.body["suggested_permissions"],
        json!(["transformations:edit"])
    );
}

/// A PAT holding permissions in several workspaces is asked about one with
/// `workspace_id`.
#[tokio::test]
async fn introspection_asks_about_a_pat_in_a_named_workspace() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let a = app.create_workspace(&s, "a").await;
    let b = app.create_workspace(&s, "b").await;
    let (_, service) = app
        .create_sat(
            &s,
            json!({ "name": "svc", "permissions": ["tokens:introspect"] }),
        )
        .await;
    let (mo, session) = app.signed_in_member("default", "mo", "member").await;
    let r = app
        .patch(
            &format!("/api/v1/members/{mo}"),
            &s,
            json!({ "workspace_permissions": [
                { "workspace": "a", "permissions": ["sources:edit"] },
                { "workspace": "b", "permissions": ["profiles:read"] },
            ] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pat = app
        .post(
            "/api/v1/personal-access-tokens",
            &session,
            json!({ "name": "laptop" }),
        )
        .await;
    let pat = pat.body["token"].as_str().unwrap().to_string();
    let ask = |permission: &'static str, workspace: Option<&str>| {
        let mut form = vec![
            ("token", pat.clone()),
            ("permission", permission.to_string()),
        ];
        if let Some(w) = workspace {
            form.push(("workspace_id", w.to_string()));
        }
        let req = app
            .client
            .post(app.url("/api/v1/tokens/introspect"))
            .bearer_auth(&service)
            .form(&form);
        async move { read(req.send().await.unwrap()).await }
    };
    assert_eq!(ask("sources:read", Some(&a)).await.body["allowed"], true);
    assert_eq!(ask("sources:read", Some(&b)).await.body["allowed"], false);
    assert_eq!(ask("profiles:read", Some(&b)).await.body["allowed"], true);
    // Two workspaces: without one named, no workspace permission is held.
    assert_eq!(ask("sources:read", None).await.body["allowed"], false);
    assert_eq!(ask("scim:read", None).await.body["allowed"], false);
    assert_eq!(ask("sources:read", Some("nope")).await.status, 400);
}
