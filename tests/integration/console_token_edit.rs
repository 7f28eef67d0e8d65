//! The console's Edit page of a Service Access Token: the catalogue's
//! picker with the token's permissions checked, the change made through
//! the API's use case and recorded with each changed field.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console_client::Console;
use crate::support::TestApp;

#[tokio::test]
async fn the_console_edits_a_token() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    let (id, value) = app
        .create_sat(
            &s,
            json!({ "name": "idp", "permissions": ["scim:read", "scim:write"] }),
        )
        .await;
    let mut c = Console::new(&app);
    let csrf = c.sign_in_admin().await;
    let list = c.get("/console/tokens").await;
    assert!(list.text.contains(&format!("/console/tokens/{id}/edit")));
    let page = c.get(&format!("/console/tokens/{id}/edit")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("value=\"scim:write\" checked"),
        "{}",
        page.text
    );

    let r = c
        .post(
            &format!("/console/tokens/{id}/edit"),
            &[
                ("csrf", &csrf),
                ("name", "idp"),
                ("description", ""),
                ("allowed_cidrs", ""),
                ("permission", "scim:read"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let me = app.get("/api/v1/tokens/self", &value).await;
    assert_eq!(me.body["permissions"], json!(["scim:read"]));

    // A refusal shows the form again with the reason, and changes nothing.
    let r = c
        .post(
            &format!("/console/tokens/{id}/edit"),
            &[("csrf", &csrf), ("name", "idp")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let me = app.get("/api/v1/tokens/self", &value).await;
    assert_eq!(me.body["permissions"], json!(["scim:read"]));

    let records = app.audit_records(&org).await;
    let edit = records
        .iter()
        .rfind(|r| r["action"] == "sat.update" && r["outcome"] == "success")
        .unwrap();
    assert_eq!(edit["actor_kind"], "member_session");
    let changes: Value = serde_json::from_str(edit["changes"].as_str().unwrap()).unwrap();
    assert_eq!(changes["fields"], json!(["permissions"]));
    assert_eq!(
        changes["before"]["permissions"],
        json!(["scim:read", "scim:write"])
    );
}
