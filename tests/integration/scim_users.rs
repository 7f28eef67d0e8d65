//! SCIM Users: the lifecycle an identity provider drives, and what it does
//! to the member behind the user.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ENTERPRISE, TestApp, USER_SCHEMA, patch_op, record_changes, user};

#[tokio::test]
async fn create_get_replace_delete() {
    let app = TestApp::spawn().await;
    app.allow_scim_passwords().await;
    let scim = app.scim().await;
    let created = scim
        .post(
            "/Users",
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                "userName": "bjensen@example.com",
                "externalId": "bjensen",
                "name": { "givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III" },
                "displayName": "Babs Jensen",
                "emails": [{ "value": "bjensen@example.com", "type": "work", "primary": true }],
                "phoneNumbers": [{ "value": "555-555-8377", "type": "work" }],
                "addresses": [{ "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "type": "work" }],
                "active": true,
                "password": "t1meMa$heen-long",
                "meta": { "version": "client-made-up" },
                ENTERPRISE: { "employeeNumber": "701984", "department": "Tour Operations" },
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        created.header("content-type"),
        Some("application/scim+json")
    );
    let id = created.body["id"].as_str().unwrap().to_string();
    let location = created.header("location").unwrap().to_string();
    assert!(
        location.ends_with(&format!("/scim/v2/Users/{id}")),
        "{location}"
    );
    assert_eq!(created.body["meta"]["location"], location.as_str());
    assert_eq!(created.body["meta"]["resourceType"], "User");
    assert_eq!(
        created.header("etag"),
        created.body["meta"]["version"].as_str()
    );
    assert!(
        created.body.get("password").is_none(),
        "password is never returned"
    );
    assert!(!created.text.contains("t1meMa$heen-long"));
    assert_eq!(created.body[ENTERPRISE]["department"], "Tour Operations");
    assert_eq!(created.body["schemas"], json!([USER_SCHEMA, ENTERPRISE]));

    let got = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, created.body);

    // Replace drops what is not sent.
    let replaced = scim
        .put(
            &format!("/Users/{id}"),
            json!({ "schemas": [USER_SCHEMA], "id": id, "userName": "bjensen@example.com", "name": { "givenName": "Barbara" }, "active": true }),
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert!(replaced.body.get("emails").is_none());
    assert!(replaced.body.get(ENTERPRISE).is_none());
    assert_ne!(
        replaced.body["meta"]["version"],
        created.body["meta"]["version"]
    );
    assert_eq!(
        replaced.body["meta"]["created"],
        created.body["meta"]["created"]
    );

    assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);
    scim.get(&format!("/Users/{id}"))
        .await
        .assert_scim_error(404, None);
    scim.delete(&format!("/Users/{id}"))
        .await
        .assert_scim_error(404, None);
    // The user name is free again.
    scim.create_user(user("bjensen@example.com")).await;
}

#[tokio::test]
async fn user_names_are_unique_without_regard_to_case() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let total = || async { scim.get("/Users?count=0").await.body["totalResults"].clone() };
    let before = total().await.as_i64().unwrap();
    let first = scim.create_user(user("Alice@Example.com")).await;
    scim.post("/Users", user("alice@example.COM"))
        .await
        .assert_scim_error(409, Some("uniqueness"));
    let other = scim.create_user(user("bob@example.com")).await;
    scim.put(&format!("/Users/{other}"), user("ALICE@example.com"))
        .await
        .assert_scim_error(409, Some("uniqueness"));
    scim.patch(
        &format!("/Users/{other}"),
        patch_op(json!([{ "op": "replace", "path": "userName", "value": "alice@EXAMPLE.com" }])),
    )
    .await
    .assert_scim_error(409, Some("uniqueness"));
    // The refused create moved no count: the list's total is that of the
    // users created.
    assert_eq!(total().await, json!(before + 2));
    // Changing one's own case is fine.
    let r = scim
        .put(&format!("/Users/{first}"), user("ALICE@EXAMPLE.COM"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn etags_guard_replacement_and_spare_rereads() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let id = scim.create_user(user("etag@example.com")).await;
    let path = format!("/Users/{id}");
    let v1 = scim.get(&path).await.header("etag").unwrap().to_string();
    let fresh = scim
        .send_with(Method::GET, &path, None, &[("if-none-match", &v1)])
        .await;
    assert_eq!(fresh.status, 304);
    let body = patch_op(json!([{ "op": "replace", "path": "displayName", "value": "E" }]));
    let ok = scim
        .send_with(
            Method::PATCH,
            &path,
            Some(body.clone()),
            &[("if-match", &v1)],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let stale = scim
        .send_with(Method::PATCH, &path, Some(body), &[("if-match", &v1)])
        .await;
    stale.assert_scim_error(412, None);
    let stale_put = scim
        .send_with(
            Method::PUT,
            &path,
            Some(user("etag@example.com")),
            &[("if-match", &v1)],
        )
        .await;
    stale_put.assert_scim_error(412, None);
    let stale_delete = scim
        .send_with(Method::DELETE, &path, None, &[("if-match", &v1)])
        .await;
    stale_delete.assert_scim_error(412, None);
    assert_eq!(scim.get(&path).await.status, 200, "nothing was deleted");
    let changed = scim
        .send_with(Method::GET, &path, None, &[("if-none-match", &v1)])
        .await;
    assert_eq!(changed.status, 200);
}

/// Two PATCHes carrying the same If-Match: exactly one wins.
#[tokio::test]
async fn concurrent_patches_with_one_etag_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let id = scim.create_user(user("race@example.com")).await;
    let path = format!("/Users/{id}");
    let etag = scim.get(&path).await.header("etag").unwrap().to_string();
    let mut tasks = Vec::new();
    for i in 0..2 {
        let client = app.client.clone();
        let url = scim.url(&path);
        let token = scim.token.clone();
        let etag = etag.clone();
        tasks.push(tokio::spawn(async move {
            let body =
                patch_op(json!([{ "op": "replace", "path": "title", "value": format!("t{i}") }]));
            client
                .patch(url)
                .bearer_auth(token)
                .header("if-match", etag)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 412]);
}

#[tokio::test]
async fn deactivation_keeps_the_user_and_kills_their_credentials() {
    let app = TestApp::spawn().await;
    app.allow_scim_passwords().await;
    let scim = app.scim().await;
    let id = scim
        .create_user(json!({ "schemas": [USER_SCHEMA], "userName": "ops@example.com", "password": "a long enough password" }))
        .await;
    // The operator makes the provisioned user an admin; they sign in and
    // mint a PAT.
    app.cli(&[
        "member", "set-role", "--org", "default", &id, "admin", "--json",
    ])
    .await
    .json();
    let login = app
        .login("default", "ops@example.com", "a long enough password")
        .await;
    assert_eq!(
        login.status, 200,
        "the SCIM password is the member's password: {}",
        login.text
    );
    let session = login.body["access_token"].as_str().unwrap().to_string();
    let pat = app
        .post(
            "/api/v1/personal-access-tokens",
            &session,
            json!({ "name": "x" }),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_string();
    // Used once, so that the server holds it verified in memory.
    assert_eq!(app.get("/api/v1/tokens/self", &pat).await.status, 200);

    let r = scim
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{ "op": "replace", "value": { "active": false } }])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], false);
    // Revoked in the deactivation's own transaction (on PostgreSQL by the
    // member's UPDATE itself), with the reason.
    let revoked: Vec<(Option<String>, bool)> = scimitar::on_db!(app.db(), pool => {
        sqlx::query_as(
            "SELECT revoked_reason, revoked_at IS NOT NULL FROM tokens \
             WHERE kind = 'pat' AND member_id = $1",
        )
        .bind(uuid::Uuid::parse_str(&id).unwrap())
        .fetch_all(pool)
        .await
    })
    .unwrap();
    assert_eq!(
        revoked,
        vec![(Some("member lost access".to_string()), true)]
    );
    let still = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(still.status, 200, "a deactivated user still GETs");
    assert_eq!(still.body["active"], false);
    // A PUT that leaves `active` out does not quietly reactivate.
    let put = scim
        .put(&format!("/Users/{id}"), user("ops@example.com"))
        .await;
    assert_eq!(put.body["active"], false, "{}", put.text);
    app.get("/api/v1/tokens/self", &session)
        .await
        .assert_problem(401);
    app.get("/api/v1/tokens/self", &pat)
        .await
        .assert_problem(401);
    app.login("default", "ops@example.com", "a long enough password")
        .await
        .assert_problem(401);

    // And DELETE does the same for a user who was active.
    let id2 = scim
        .create_user(json!({ "schemas": [USER_SCHEMA], "userName": "two@example.com" }))
        .await;
    app.cli(&["member", "set-role", "--org", "default", &id2, "admin"])
        .await;
    assert_eq!(scim.delete(&format!("/Users/{id2}")).await.status, 204);
    let members = app.get("/api/v1/members", &app.admin_session().await).await;
    assert!(
        !members.text.contains("two@example.com"),
        "a deleted member is gone from the member list"
    );
}

#[tokio::test]
async fn another_organizations_users_are_not_found() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let id = scim.create_user(user("mine@example.com")).await;
    app.cli(&["org", "create", "other"]).await;
    let other = app
        .cli(&[
            "token",
            "create",
            "--org",
            "other",
            "--name",
            "idp",
            "--permission",
            "scim:read",
            "--permission",
            "scim:write",
            "--json",
        ])
        .await
        .json();
    let theirs = crate::support::Scim {
        app: &app,
        token: other["token"].as_str().unwrap().to_string(),
    };
    let path = format!("/Users/{id}");
    theirs.get(&path).await.assert_scim_error(404, None);
    theirs
        .put(&path, user("stolen@example.com"))
        .await
        .assert_scim_error(404, None);
    theirs
        .patch(
            &path,
            patch_op(json!([{ "op": "replace", "path": "active", "value": false }])),
        )
        .await
        .assert_scim_error(404, None);
    theirs.delete(&path).await.assert_scim_error(404, None);
    let list = theirs.get("/Users").await;
    assert_eq!(list.body["totalResults"], 0, "{}", list.text);
    let search = theirs
        .filter("/Users", "userName eq \"mine@example.com\"")
        .await;
    assert_eq!(search.body["totalResults"], 0);
    let mine = scim.get(&path).await;
    assert_eq!(
        mine.body["userName"], "mine@example.com",
        "untouched: {}",
        mine.text
    );
    assert_eq!(mine.body["meta"]["version"], "W/\"1\"");
}

#[tokio::test]
async fn writes_are_audited_with_paths_and_never_values() {
    let app = TestApp::spawn().await;
    app.allow_scim_passwords().await;
    let scim = app.scim().await;
    let id = scim
        .create_user(json!({ "schemas": [USER_SCHEMA], "userName": "audit@example.com", "password": "SuperSecret-123", "title": "Boss" }))
        .await;
    scim.patch(&format!("/Users/{id}"), patch_op(json!([{ "op": "replace", "path": "title", "value": "Chief" }, { "op": "replace", "path": "password", "value": "Another-Secret-456" }])))
        .await;
    scim.put(&format!("/Users/{id}"), user("audit@example.com"))
        .await;
    scim.delete(&format!("/Users/{id}")).await;
    let org = app.org_of(&scim.token).await;
    let records: Vec<Value> = app
        .audit_records(&org)
        .await
        .into_iter()
        .filter(|r| r["action"].as_str().unwrap().starts_with("scim."))
        .collect();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "scim.user.create",
            "scim.user.patch",
            "scim.user.replace",
            "scim.user.delete"
        ]
    );
    let patch = &records[1];
    assert!(patch["changes"].as_str().unwrap().contains("title"));
    assert!(patch["changes"].as_str().unwrap().contains("password"));
    assert_eq!(patch["actor_kind"], "sat");
    assert_eq!(patch["target_id"], id.as_str());
    for r in &records {
        let text = r.to_string();
        for secret in ["SuperSecret-123", "Another-Secret-456", "Chief", "Boss"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert!(
        scimitar::audit::verify_chain(app.db(), &org)
            .await
            .unwrap()
            .ok
    );
}

/// `active` unassigned is not `active: false`: a user whose client never set
/// it shows none, and removing it unassigns it without deactivating anyone.
/// Unassigned means active, as for a new user: removing `active` from a
/// deactivated user (RFC 7644 §3.5.2.2: the attribute is then unassigned)
/// shows no `active` and makes the member active again.
#[tokio::test]
async fn active_can_be_unassigned_without_deactivating() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let id = scim
        .create_user(
            json!({ "schemas": [USER_SCHEMA], "userName": "u@example.com", "active": true }),
        )
        .await;
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{ "op": "remove", "path": "active" }])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("active").is_none(), "{}", r.text);
    let active = scim.filter("/Users", "active eq true").await;
    assert!(
        active.text.contains("u@example.com"),
        "still an active member: {}",
        active.text
    );
    // A deactivated member always shows it.
    scim.patch(
        &format!("/Users/{id}"),
        patch_op(json!([{ "op": "replace", "path": "active", "value": false }])),
    )
    .await;
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{ "op": "remove", "path": "active" }])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("active").is_none(), "{}", r.text);
    let got = scim.get(&format!("/Users/{id}")).await;
    assert!(got.body.get("active").is_none(), "{}", got.text);
    let active = scim.filter("/Users", "active eq true").await;
    assert!(active.text.contains("u@example.com"), "{}", active.text);
}

/// A PUT and a PATCH that change a user answer with its groups as the
/// write's transaction read them with the locked row (no read after the
/// commit): every group, by displayName, as a GET shows them after.
#[tokio::test]
async fn a_users_write_answers_with_the_groups_it_is_in() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let id = scim.create_user(user("grouped@example.com")).await;
    let path = format!("/Users/{id}");
    for name in ["Zebras", "Aardvarks"] {
        scim.create_group(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": [{ "value": id }],
        }))
        .await;
    }
    let displays = |body: &Value| -> Vec<Value> {
        body["groups"]
            .as_array()
            .map(|g| g.iter().map(|g| g["display"].clone()).collect())
            .unwrap_or_default()
    };
    let patched = scim
        .patch(
            &path,
            patch_op(json!([{ "op": "replace", "path": "displayName", "value": "G" }])),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(
        displays(&patched.body),
        vec![json!("Aardvarks"), json!("Zebras")]
    );
    let mut body = user("grouped@example.com");
    body["displayName"] = json!("Put");
    let put = scim.put(&path, body).await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.body["displayName"], "Put", "{}", put.text);
    assert_eq!(displays(&put.body), displays(&patched.body));
    let got = scim.get(&path).await;
    assert_eq!(got.body["groups"], put.body["groups"], "{}", got.text);
    assert_eq!(got.body["meta"], put.body["meta"], "{}", got.text);
}

/// A PATCH that leaves a user as it was (an identity provider asserting
/// again what it sent before) answers with the user as it is: the same
/// version and ETag, no change recorded, the call itself audited. It is
/// told from a snapshot, without the writer; a stale `If-Match` and an
/// unknown id are refused as before.
#[tokio::test]
async fn a_patch_that_changes_nothing_answers_the_user_as_it_is_and_records_no_change() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let id = scim.create_user(user("again@example.com")).await;
    let path = format!("/Users/{id}");
    scim.create_group(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Repeaters",
        "members": [{ "value": id }],
    }))
    .await;
    let stale = scim.get(&path).await.header("etag").unwrap().to_string();
    let deactivate = patch_op(json!([{ "op": "replace", "path": "active", "value": false }]));
    let first = scim.patch(&path, deactivate.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let again = scim.patch(&path, deactivate.clone()).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(again.body["active"], false);
    assert_eq!(again.body["meta"], first.body["meta"]);
    assert_eq!(
        again.body["groups"][0]["display"], "Repeaters",
        "{}",
        again.text
    );
    assert_eq!(again.body["groups"], first.body["groups"]);
    let narrowed = scim
        .patch(
            &format!("{path}?excludedAttributes=groups"),
            deactivate.clone(),
        )
        .await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.text);
    assert!(narrowed.body.get("groups").is_none(), "{}", narrowed.text);

    let org = app.org_of(&scim.token).await;
    let patches: Vec<Value> = app
        .audit_records(&org)
        .await
        .into_iter()
        .filter(|r| r["action"] == "scim.user.patch")
        .collect();
    let changes: Vec<Value> = patches.iter().map(record_changes).collect();
    assert_eq!(
        changes,
        vec![
            json!({ "attributes": ["active"] }),
            Value::Null,
            Value::Null
        ],
        "the change recorded once, the second call with none: {patches:#?}"
    );
    assert!(
        patches
            .iter()
            .all(|r| r["outcome"] == "success" && r["http_status"] == 200)
    );

    let refused = app
        .client
        .patch(scim.url(&path))
        .bearer_auth(&scim.token)
        .header("if-match", stale)
        .header("content-type", "application/scim+json")
        .body(deactivate.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status().as_u16(),
        412,
        "a stale If-Match is refused"
    );
    let missing = scim
        .patch(&format!("/Users/{}", uuid::Uuid::new_v4()), deactivate)
        .await;
    missing.assert_scim_error(404, None);
}
