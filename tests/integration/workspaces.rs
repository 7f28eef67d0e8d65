//! Workspaces: created, renamed and deleted by admins; deleting one revokes
//! its Service Access Tokens.

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn workspace_lifecycle() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let created = app
        .post("/api/v1/workspaces", &s, json!({ "name": "staging" }))
        .await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/workspaces/{id}").as_str())
    );
    app.post("/api/v1/workspaces", &s, json!({ "name": "staging" }))
        .await
        .assert_problem(409);
    app.post("/api/v1/workspaces", &s, json!({ "name": "" }))
        .await
        .assert_problem(400);
    app.post("/api/v1/workspaces", &s, json!({}))
        .await
        .assert_problem(400);

    let path = format!("/api/v1/workspaces/{id}");
    assert_eq!(app.get(&path, &s).await.body["name"], "staging");
    let renamed = app.patch(&path, &s, json!({ "name": "production" })).await;
    assert_eq!(renamed.body["name"], "production");
    let list = app.get("/api/v1/workspaces", &s).await;
    assert_eq!(list.body["workspaces"].as_array().unwrap().len(), 1);

    assert_eq!(app.delete(&path, &s).await.status, 204);
    app.get(&path, &s).await.assert_problem(404);
    app.delete(&path, &s).await.assert_problem(404);
    assert_eq!(
        app.get("/api/v1/workspaces", &s).await.body["workspaces"],
        json!([])
    );
    // The name is free again.
    assert_eq!(
        app.post("/api/v1/workspaces", &s, json!({ "name": "production" }))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn deleting_a_workspace_revokes_its_tokens_only() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let doomed = app.create_workspace(&s, "doomed").await;
    let kept = app.create_workspace(&s, "kept").await;
    let (doomed_sat_id, doomed_sat) = app
        .create_sat(
            &s,
            json!({ "name": "a", "workspace_id": doomed, "permissions": ["sources:read"] }),
        )
        .await;
    let (_, kept_sat) = app
        .create_sat(
            &s,
            json!({ "name": "b", "workspace_id": kept, "permissions": ["sources:read"] }),
        )
        .await;
    let (_, org_sat) = app
        .create_sat(&s, json!({ "name": "c", "permissions": ["scim:read"] }))
        .await;

    assert_eq!(
        app.delete(&format!("/api/v1/workspaces/{doomed}"), &s)
            .await
            .status,
        204
    );
    app.get("/api/v1/tokens/self", &doomed_sat)
        .await
        .assert_problem(401);
    assert_eq!(app.get("/api/v1/tokens/self", &kept_sat).await.status, 200);
    assert_eq!(app.get("/api/v1/tokens/self", &org_sat).await.status, 200);
    let row = app
        .get(
            &format!("/api/v1/service-access-tokens/{doomed_sat_id}"),
            &s,
        )
        .await;
    assert_eq!(row.body["status"], "revoked");
    assert_eq!(row.body["revoked_reason"], "workspace deleted");
    app.post(
        "/api/v1/service-access-tokens",
        &s,
        json!({ "name": "late", "workspace_id": doomed, "permissions": ["sources:read"] }),
    )
    .await
    .assert_problem(404);
}

/// Lookups take a name or an id, so a name shaped like an id is refused: it
/// could stand for another workspace.
#[tokio::test]
async fn a_name_shaped_like_an_id_is_refused() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let id = app.create_workspace(&s, "real").await;
    for name in [id.clone(), uuid::Uuid::new_v4().simple().to_string()] {
        let r = app
            .post("/api/v1/workspaces", &s, json!({ "name": name }))
            .await;
        r.assert_problem(400);
        assert!(
            r.body["detail"].as_str().unwrap().contains("id"),
            "{}",
            r.text
        );
        app.patch(
            &format!("/api/v1/workspaces/{id}"),
            &s,
            json!({ "name": name }),
        )
        .await
        .assert_problem(400);
    }
    let list = app.get("/api/v1/workspaces", &s).await;
    assert_eq!(list.body["workspaces"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["workspaces"][0]["name"], "real");
}
