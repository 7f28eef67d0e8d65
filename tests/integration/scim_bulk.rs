//! `/Bulk`: bulkId references, failOnErrors, and the advertised limits.

use serde_json::{Value, json};

use crate::support::{GROUP_SCHEMA, Scim, TestApp, USER_SCHEMA, record_changes, user};

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

    let org = app.org_of(&scim.token).await;
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
    let op = |name: &str, bulk: &str| create(bulk, user(name));
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
    assert_eq!(users_named(&scim, "new@example.com").await, 0);

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
    assert_eq!(
        statuses(&r.body),
        ["409", "201", "409", "400"],
        "{}",
        r.text
    );
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

/// The ids in the `location`s of a Bulk response, by bulkId, for the
/// operations that created something.
fn created_ids(body: &Value) -> Vec<(String, String)> {
    body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == "201")
        .map(|o| {
            let id = o["location"].as_str().unwrap().rsplit('/').next().unwrap();
            (o["bulkId"].as_str().unwrap().to_string(), id.to_string())
        })
        .collect()
}

/// A Bulk operation creating a User from `data`, under `bulk_id`.
fn create(bulk_id: &str, data: Value) -> Value {
    json!({ "method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data })
}

/// How many users a `userName eq` filter finds.
async fn users_named(scim: &Scim<'_>, name: &str) -> i64 {
    let found = scim
        .filter("/Users", &format!("userName eq \"{name}\""))
        .await;
    found.body["totalResults"].as_i64().unwrap()
}

fn statuses(body: &Value) -> Vec<String> {
    body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn runs_of_creates_answer_each_operation_as_alone() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    scim.create_user(user("taken@example.com")).await;
    let op = |name: &str, bulk: &str| {
        create(
            bulk,
            json!({ "schemas": [USER_SCHEMA], "userName": name, "title": "Batched" }),
        )
    };
    let r = scim
        .post(
            "/Bulk",
            json!({ "schemas": [BULK], "Operations": [
                op("one@example.com", "a"),
                // Taken by an existing user, whatever the case.
                op("TAKEN@example.com", "b"),
                op("two@example.com", "c"),
                // Taken earlier in this request.
                op("One@Example.com", "d"),
                // A reference between plain creates.
                { "method": "POST", "path": "/Groups", "bulkId": "g", "data": { "schemas": [GROUP_SCHEMA], "displayName": "Batch", "members": [{ "type": "User", "value": "bulkId:a" }] } },
                // A bulkId used twice.
                op("three@example.com", "c"),
                op("four@example.com", "e"),
                op("five@example.com", "f"),
            ] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        statuses(&r.body),
        ["201", "409", "201", "409", "201", "400", "201", "201"],
        "{}",
        r.text
    );
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops[1]["response"]["scimType"], "uniqueness");
    assert_eq!(ops[3]["response"]["scimType"], "uniqueness");
    for o in ops.iter().filter(|o| o["status"] == "201") {
        assert_eq!(o["method"], "POST");
        assert!(o["version"].as_str().unwrap().starts_with("W/"), "{o}");
    }

    // Every created user is stored, indexed (found by a filter on an
    // attribute only the index holds), counted, and in the group.
    let created = created_ids(&r.body);
    let batched = scim.filter("/Users", "title eq \"Batched\"").await;
    assert_eq!(batched.body["totalResults"], 4, "{}", batched.text);
    for name in [
        "one@example.com",
        "two@example.com",
        "four@example.com",
        "five@example.com",
    ] {
        assert_eq!(users_named(&scim, name).await, 1, "{name}");
    }
    assert_eq!(
        scim.get("/Users").await.body["totalResults"],
        6,
        "the admin, taken@ and four new users"
    );
    let user_a = &created.iter().find(|(b, _)| b == "a").unwrap().1;
    let group = &created.iter().find(|(b, _)| b == "g").unwrap().1;
    let g = scim.get(&format!("/Groups/{group}")).await;
    assert_eq!(g.body["members"][0]["value"], user_a.as_str());

    // One record per created user, naming it, and one for the request.
    let org = app.org_of(&scim.token).await;
    let records = app.audit_records(&org).await;
    let user_creates: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "scim.user.create")
        .collect();
    assert_eq!(
        user_creates.len(),
        5,
        "taken@ and four from the Bulk request"
    );
    for (bulk_id, id) in created.iter().filter(|(b, _)| b != "g") {
        assert!(
            user_creates.iter().any(|r| r["target_id"] == id.as_str()),
            "a record for {bulk_id}"
        );
    }
    let bulk = records.iter().find(|r| r["action"] == "scim.bulk").unwrap();
    let changes = record_changes(bulk);
    assert_eq!(changes["errors"], 3, "{bulk}");
    assert_eq!(changes["processed"], 8, "{bulk}");
}

#[tokio::test]
async fn fail_on_errors_counts_inside_runs_of_creates() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    scim.create_user(user("taken@example.com")).await;
    let op = |name: &str, bulk: &str| create(bulk, user(name));
    let r = scim
        .post(
            "/Bulk",
            json!({ "schemas": [BULK], "failOnErrors": 2, "Operations": [
                op("a@example.com", "a"),
                op("taken@example.com", "b"),
                op("c@example.com", "c"),
                op("a@example.com", "d"),
                op("e@example.com", "e"),
            ] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        statuses(&r.body),
        ["201", "409", "201", "409"],
        "{}",
        r.text
    );
    for (name, n) in [
        ("a@example.com", 1),
        ("c@example.com", 1),
        ("e@example.com", 0),
    ] {
        assert_eq!(users_named(&scim, name).await, n, "{name}");
    }
}
