//! The protocol around the resources: authentication and authorization as
//! SCIM errors, content types, discovery, searches, and bad input that must
//! get a SCIM error, never a 5xx.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{GROUP_SCHEMA, Scim, TestApp, USER_SCHEMA, read, user};

#[tokio::test]
async fn only_org_sats_with_scim_permissions_get_in() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let nobody = Scim {
        app: &app,
        token: "scim_sat_garbage".into(),
    };
    nobody.get("/Users").await.assert_scim_error(401, None);
    let anonymous = read(
        app.client
            .get(app.url("/scim/v2/Users"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    anonymous.assert_scim_error(401, None);
    assert!(anonymous.header("www-authenticate").is_some());

    let (_, reader) = app
        .create_sat(&s, json!({ "name": "r", "permissions": ["scim:read"] }))
        .await;
    let reader = Scim {
        app: &app,
        token: reader,
    };
    assert_eq!(reader.get("/Users").await.status, 200);
    let denied = reader.post("/Users", user("x@example.com")).await;
    denied.assert_scim_error(403, None);
    assert!(
        denied.body["detail"]
            .as_str()
            .unwrap()
            .contains("scim:write")
    );

    let (_, auditor) = app
        .create_sat(
            &s,
            json!({ "name": "a", "permissions": ["audit_logs:read"] }),
        )
        .await;
    Scim {
        app: &app,
        token: auditor,
    }
    .get("/Users")
    .await
    .assert_scim_error(403, None);
    let ws = app.create_workspace(&s, "w").await;
    let (_, ws_sat) = app
        .create_sat(
            &s,
            json!({ "name": "w", "workspace_id": ws, "permissions": ["sources:read"] }),
        )
        .await;
    Scim {
        app: &app,
        token: ws_sat,
    }
    .get("/Users")
    .await
    .assert_scim_error(403, None);
    // People do not provision: an admin session is refused too.
    Scim {
        app: &app,
        token: s,
    }
    .get("/Users")
    .await
    .assert_scim_error(403, None);
}

#[tokio::test]
async fn discovery_describes_what_is_served() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let spc = scim.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, 200);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["bulk"]["maxOperations"], 1000);
    assert_eq!(spc.body["bulk"]["maxPayloadSize"], 1048576);
    assert_eq!(spc.body["etag"]["supported"], true);
    let types = scim.get("/ResourceTypes").await;
    assert_eq!(types.body["totalResults"], 2);
    let user_type = scim.get("/ResourceTypes/User").await;
    assert_eq!(user_type.body["endpoint"], "/Users");
    let schemas = scim.get("/Schemas").await;
    assert_eq!(schemas.body["totalResults"], 3);
    let core = scim.get(&format!("/Schemas/{USER_SCHEMA}")).await;
    assert_eq!(core.status, 200);
    let attrs: Vec<&str> = core.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(attrs.contains(&"userName") && attrs.contains(&"emails"));
    scim.get("/Schemas/urn:nope")
        .await
        .assert_scim_error(404, None);
    scim.get("/ResourceTypes/Printer")
        .await
        .assert_scim_error(404, None);
    scim.post("/Schemas", json!({}))
        .await
        .assert_scim_error(405, None);
    scim.send(Method::PUT, "/ServiceProviderConfig", Some(json!({})))
        .await
        .assert_scim_error(405, None);
    scim.get("/Me").await.assert_scim_error(501, None);
    scim.get("/Nowhere").await.assert_scim_error(404, None);
}

#[tokio::test]
async fn search_endpoints_take_search_requests() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    scim.create_user(user("alice@example.com")).await;
    scim.create_user(user("bob@example.com")).await;
    scim.create_group(json!({ "schemas": [GROUP_SCHEMA], "displayName": "alpha" }))
        .await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes": ["userName"],
        "filter": "userName sw \"a\"",
        "startIndex": 1,
        "count": 10,
    });
    let r = scim.post("/Users/.search", body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 2, "admin and alice: {}", r.text);
    let groups = scim
        .post("/Groups/.search", json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "displayName eq \"ALPHA\"" }))
        .await;
    assert_eq!(groups.body["totalResults"], 1);
    let root = scim
        .post("/.search", json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "meta.created pr" }))
        .await;
    assert_eq!(root.status, 200, "{}", root.text);
    assert_eq!(
        root.body["totalResults"], 4,
        "three users and a group: {}",
        root.text
    );
    scim.post("/Users/.search", json!({ "schemas": ["urn:wrong"] }))
        .await
        .assert_scim_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn bad_input_gets_scim_errors_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let id = scim.create_user(user("keep@example.com")).await;
    let raw = |method: Method, path: &str, ct: &str, body: &'static str| {
        let req = app
            .client
            .request(method, scim.url(path))
            .bearer_auth(&scim.token)
            .header("content-type", ct.to_string())
            .body(body);
        async move { read(req.send().await.unwrap()).await }
    };
    raw(
        Method::POST,
        "/Users",
        "application/scim+json",
        "{\"schemas\":[",
    )
    .await
    .assert_scim_error(400, Some("invalidSyntax"));
    raw(Method::POST, "/Users", "application/scim+json", "")
        .await
        .assert_scim_error(400, Some("invalidSyntax"));
    raw(Method::POST, "/Users", "text/xml", "<user/>")
        .await
        .assert_scim_error(415, None);
    let accepted = raw(Method::POST, "/Users", "application/json", "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"json@example.com\"}").await;
    assert_eq!(
        accepted.status, 201,
        "application/json is accepted: {}",
        accepted.text
    );
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({ "userName": "noschemas@example.com" }),
            "invalidSyntax",
        ),
        (
            json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "x" }),
            "invalidValue",
        ),
        (
            json!({ "schemas": [USER_SCHEMA], "userName": "x", "favouriteColour": "blue" }),
            "invalidValue",
        ),
        (
            json!({ "schemas": [USER_SCHEMA], "userName": 42 }),
            "invalidValue",
        ),
        (
            json!({ "schemas": [USER_SCHEMA], "userName": "x", "active": "sometimes" }),
            "invalidValue",
        ),
        (
            json!({ "schemas": [USER_SCHEMA], "userName": "x", "name": "not an object" }),
            "invalidValue",
        ),
        (
            json!({ "schemas": [USER_SCHEMA], "userName": "x", "emails": [{ "value": "a", "primary": true }, { "value": "b", "primary": true }] }),
            "invalidValue",
        ),
        (
            json!({ "schemas": [USER_SCHEMA], "userName": "" }),
            "invalidValue",
        ),
        (json!({ "schemas": [USER_SCHEMA] }), "invalidValue"),
        (json!(["not", "an", "object"]), "invalidSyntax"),
    ];
    for (body, scim_type) in cases {
        let r = scim.post("/Users", body.clone()).await;
        assert!(r.status.is_client_error(), "{body}: {}", r.text);
        r.assert_scim_error(400, Some(scim_type));
    }
    let bad_patches = [
        json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [] }),
        json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "explode", "path": "title" }] }),
        json!({ "Operations": [{ "op": "add", "path": "title", "value": "x" }] }),
        json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "add", "path": "nope", "value": 1 }] }),
        json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "path": "id", "value": "mine" }] }),
        json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "remove" }] }),
        json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "path": "emails[type eq \"nowhere\"].value", "value": "x" }] }),
    ];
    for body in bad_patches {
        let r = scim.patch(&format!("/Users/{id}"), body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        r.assert_scim_error(400, None);
    }
    // A PATCH whose second operation fails applies neither.
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                { "op": "replace", "path": "title", "value": "changed" },
                { "op": "add", "path": "nope", "value": 1 }
            ] }),
        )
        .await;
    r.assert_scim_error(400, None);
    let after = scim.get(&format!("/Users/{id}")).await;
    assert!(
        after.body.get("title").is_none(),
        "PATCH is atomic: {}",
        after.text
    );
    let bulk_of_ops: Vec<Value> = (0..1001)
        .map(|i| json!({ "op": "replace", "path": "title", "value": format!("t{i}") }))
        .collect();
    scim.patch(&format!("/Users/{id}"), json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": bulk_of_ops }))
        .await
        .assert_scim_error(400, None);
    scim.get("/Users/..%2F..%2Fetc%2Fpasswd")
        .await
        .assert_scim_error(404, None);
    scim.get("/Users/1%27%20OR%201=1")
        .await
        .assert_scim_error(404, None);
    let list = scim.get("/Users").await;
    assert_eq!(
        list.body["totalResults"], 3,
        "admin, keep and json only: {}",
        list.text
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_in_scim_form() {
    let app = TestApp::builder().max_body_bytes(4096).start().await;
    let scim = app.scim().await;
    let r = scim
        .post(
            "/Users",
            json!({ "schemas": [USER_SCHEMA], "userName": "x".repeat(8000) }),
        )
        .await;
    r.assert_scim_error(413, None);
}

/// A GET of `path` with `host` as the Host header.
async fn get_with_host(scim: &Scim<'_>, path: &str, host: &str) -> crate::support::Resp {
    read(
        scim.app
            .client
            .get(scim.url(path))
            .bearer_auth(&scim.token)
            .header("host", host)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn locations_never_reflect_a_hostile_host_header() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let id = scim.create_user(user("hosted@example.com")).await;
    let path = format!("/Users/{id}");

    // Without a public URL, a well-formed Host names the server.
    let ok = get_with_host(&scim, &path, "scim.example.com:8443").await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(
        ok.body["meta"]["location"],
        format!("http://scim.example.com:8443/scim/v2/Users/{id}").as_str()
    );
    // Anything else is refused, and never copied into the answer.
    for host in [
        "evil.example\"><x",
        "evil.example/scim",
        "user@evil.example",
        "evil.example:0x50",
    ] {
        let r = get_with_host(&scim, &path, host).await;
        r.assert_scim_error(400, Some("invalidSyntax"));
        assert!(!r.text.contains("evil.example"), "{host}: {}", r.text);
    }

    // With a public URL, the Host header does not matter.
    let app = TestApp::builder()
        .public_url("https://scim.example.com")
        .start()
        .await;
    let scim = app.scim().await;
    let created = scim.post("/Users", user("public@example.com")).await;
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(
        created.header("location"),
        Some(format!("https://scim.example.com/scim/v2/Users/{id}").as_str())
    );
    let r = get_with_host(&scim, &format!("/Users/{id}"), "evil.example\"><x").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains("evil.example"), "{}", r.text);
}

/// `/Me` is 501 on purpose and identity providers probe it: its answer is
/// logged at debug, never as an error someone must look into.
#[tokio::test]
async fn the_me_probe_is_not_logged_as_an_error() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let id = format!("me-probe-{}", uuid::Uuid::new_v4().simple());
    let r = app
        .client
        .get(scim.url("/Me"))
        .bearer_auth(&scim.token)
        .header("x-request-id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 501);
    let logs = crate::capture::dir().join(format!("server-{}.jsonl", std::process::id()));
    let found = crate::support::eventually(std::time::Duration::from_secs(5), || async {
        std::fs::read_to_string(&logs)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(&id) && l.contains("not implemented"))
    })
    .await;
    assert!(found, "the 501 is logged at debug");
    let text = std::fs::read_to_string(&logs).unwrap();
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(&id) && l.contains("\"level\":\"ERROR\""))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let line = text
        .lines()
        .find(|l| l.contains(&id) && l.contains("not implemented"))
        .unwrap();
    assert!(line.contains("\"level\":\"DEBUG\""), "{line}");
}
