//! `/Bulk`: bulkId references, failOnErrors, and the advertised limits.

use serde_json::{Value, json};

use crate::support::{GROUP_SCHEMA, TestApp, USER_SCHEMA, user};

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

#[tokio::test]
async fn bulk_creates_and_links_by_bulk_id() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let r = scim
        .post(
            "/Bulk",
            json!({
                "schemas": [BULK],
                "Operations": [
                    { "method": "POST", "path": "/Users", "bulkId": "u1", "data": { "schemas": [USER_SCHEMA], "userName": "alice@example.com" } },
                    { "method": "POST", "path": "/Groups", "bulkId": "g1", "data": { "schemas": [GROUP_SCHEMA], "displayName": "Team", "members": [{ "type": "User", "value": "bulkId:u1" }] } },
                    { "method": "PATCH", "path": "/Users/bulkId:u1", "data": { "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "path": "title", "value": "Lead" }] } },
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
    );
    let ops = r.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "201", "200"], "{}", r.text);
    assert_eq!(ops[0]["bulkId"], "u1");
    let user_loc = ops[0]["location"].as_str().unwrap();
    let user_id = user_loc.rsplit('/').next().unwrap();
    let group_id = ops[1]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let group = scim.get(&format!("/Groups/{group_id}")).await;
    assert_eq!(group.body["members"][0]["value"], user_id);
    let u = scim.get(&format!("/Users/{user_id}")).await;
    assert_eq!(u.body["title"], "Lead");
    assert_eq!(u.body["groups"][0]["value"], group_id.as_str());

    let org = app.get("/api/v1/tokens/self", &scim.token).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_string();
    let actions: Vec<String> = app
        .audit_records(&org)
        .await
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    for a in [
        "scim.user.create",
        "scim.group.create",
        "scim.user.patch",
        "scim.bulk",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn fail_on_errors_stops_the_run() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    scim.create_user(user("taken@example.com")).await;
    let op = |name: &str, bulk: &str| json!({ "method": "POST", "path": "/Users", "bulkId": bulk, "data": user(name) });
    let r = scim
        .post(
            "/Bulk",
            json!({ "schemas": [BULK], "failOnErrors": 1, "Operations": [op("taken@example.com", "a"), op("new@example.com", "b")] }),
        )
        .await;
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "{}", r.text);
    assert_eq!(ops[0]["status"], "409");
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    assert_eq!(
        scim.filter("/Users", "userName eq \"new@example.com\"")
            .await
            .body["totalResults"],
        0
    );

    // Without failOnErrors every operation runs, and an unknown reference is
    // that operation's error.
    let r = scim
        .post(
            "/Bulk",
            json!({ "schemas": [BULK], "Operations": [
                op("taken@example.com", "a"),
                op("new@example.com", "b"),
                { "method": "PATCH", "path": "/Users/bulkId:zzz", "data": {} },
                { "method": "GET", "path": "/Users" }
            ] }),
        )
        .await;
    let statuses: Vec<&str> = r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["409", "201", "409", "400"], "{}", r.text);
}

#[tokio::test]
async fn bulk_limits_are_enforced() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let ops: Vec<Value> = (0..1001)
        .map(|i| json!({ "method": "DELETE", "path": format!("/Users/{i}") }))
        .collect();
    scim.post("/Bulk", json!({ "schemas": [BULK], "Operations": ops }))
        .await
        .assert_scim_error(413, None);
    let big = "x".repeat(1024 * 1024);
    scim.post("/Bulk", json!({ "schemas": [BULK], "Operations": [{ "method": "POST", "path": "/Users", "bulkId": "a", "data": { "schemas": [USER_SCHEMA], "userName": big } }] }))
        .await
        .assert_scim_error(413, None);
    scim.post("/Bulk", json!({ "Operations": [] }))
        .await
        .assert_scim_error(400, Some("invalidValue"));
    assert_eq!(
        scim.get("/Users").await.body["totalResults"],
        1,
        "only the bootstrap admin"
    );
}
