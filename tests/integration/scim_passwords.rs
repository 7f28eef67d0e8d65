//! Passwords through SCIM: an identity-provider token must never be able to
//! choose the password of someone who manages tokens. SCIM may set a
//! password only for members who are not admins, only once an admin has
//! allowed it, and only one the password policy accepts; a new password
//! ends the member's sessions; every refusal is in the audit log.

use serde_json::{Value, json};

use crate::support::{MEMBER_PASSWORD, TestApp, USER_SCHEMA, patch_op};

const SELF: &str = "/api/v1/tokens/self";

/// The records of `action` in organization `default`'s chain.
async fn records(app: &TestApp, session: &str, action: &str) -> Vec<Value> {
    let org = app.org_of(session).await;
    app.audit_records(&org)
        .await
        .into_iter()
        .filter(|r| r["action"] == action)
        .collect()
}

async fn admin_member_id(app: &TestApp, session: &str) -> String {
    let me = app.get(SELF, session).await;
    me.body["member_id"].as_str().unwrap().to_string()
}

fn set_password(value: &str) -> Value {
    patch_op(json!([{ "op": "replace", "path": "password", "value": value }]))
}

#[tokio::test]
async fn a_scim_token_cannot_take_over_an_admin_account() {
    let app = TestApp::spawn().await;
    let root = app.admin_session().await;
    let admin_id = admin_member_id(&app, &root).await;
    let scim = app.scim().await;

    // The probe's exact first step: refused, whether or not the
    // organization allows SCIM passwords.
    let first = scim
        .patch(&format!("/Users/{admin_id}"), set_password("z"))
        .await;
    first.assert_scim_error(403, None);
    app.allow_scim_passwords().await;
    for value in ["z", "a long enough password for the admin"] {
        let r = scim
            .patch(&format!("/Users/{admin_id}"), set_password(value))
            .await;
        r.assert_scim_error(403, None);
        assert!(
            r.body["detail"].as_str().unwrap().contains("admin"),
            "{}",
            r.text
        );
        assert!(!r.text.contains(value), "the password is never echoed");
        // Nor through a PUT, nor a PATCH without a path.
        let put = scim
            .put(
                &format!("/Users/{admin_id}"),
                json!({ "schemas": [USER_SCHEMA], "userName": "admin", "password": value }),
            )
            .await;
        put.assert_scim_error(403, None);
        let no_path = scim
            .patch(
                &format!("/Users/{admin_id}"),
                patch_op(json!([{ "op": "replace", "value": { "password": value } }])),
            )
            .await;
        no_path.assert_scim_error(403, None);
    }

    // The rest of the escalation goes nowhere: the chosen password does not
    // sign in, the admin's own still does, their session still works.
    app.login("default", "admin", "z").await.assert_problem(401);
    app.login("default", "admin", "a long enough password for the admin")
        .await
        .assert_problem(401);
    assert_eq!(
        app.login("default", "admin", &app.admin_password)
            .await
            .status,
        200
    );
    assert_eq!(app.get(SELF, &root).await.status, 200);

    let refused = records(&app, &root, "scim.user.patch").await;
    assert_eq!(
        refused.len(),
        5,
        "every refused PATCH is recorded: {refused:?}"
    );
    assert_eq!(refused[0]["outcome"], "failure");
    assert_eq!(refused[0]["reason"], "scim_passwords_disabled");
    for r in &refused[1..] {
        assert_eq!(r["outcome"], "failure");
        assert_eq!(r["reason"], "admin_password");
        assert_eq!(r["http_status"], 403);
        assert_eq!(r["actor_kind"], "sat");
    }
    let puts = records(&app, &root, "scim.user.replace").await;
    assert_eq!(puts.len(), 2);
    assert!(puts.iter().all(|r| r["reason"] == "admin_password"));
}

#[tokio::test]
async fn scim_passwords_are_off_until_an_admin_allows_them() {
    let app = TestApp::spawn().await;
    let root = app.admin_session().await;
    let scim = app.scim().await;

    let org = app.get("/api/v1/organization", &root).await;
    assert_eq!(org.status, 200, "{}", org.text);
    assert_eq!(org.body["scim_passwords"], false);
    assert_eq!(org.body["name"], "default");

    let refused = scim
        .post(
            "/Users",
            json!({ "schemas": [USER_SCHEMA], "userName": "okta-sync@example.com", "password": "a long enough password" }),
        )
        .await;
    refused.assert_scim_error(403, None);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("scim_passwords"),
        "the refusal says how to allow it: {}",
        refused.text
    );
    let none = scim
        .get("/Users?filter=userName%20eq%20%22okta-sync%40example.com%22")
        .await;
    assert_eq!(none.body["totalResults"], 0, "nothing was created");
    let created = records(&app, &root, "scim.user.create").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["outcome"], "failure");
    assert_eq!(created[0]["reason"], "scim_passwords_disabled");

    // A member (not an admin) may not change the setting.
    let (_, member) = app.signed_in_member("default", "mallory", "member").await;
    let denied = app
        .patch(
            "/api/v1/organization",
            &member,
            json!({ "scim_passwords": true }),
        )
        .await;
    denied.assert_problem(403);
    // Nor may a SCIM token.
    app.patch(
        "/api/v1/organization",
        &scim.token,
        json!({ "scim_passwords": true }),
    )
    .await
    .assert_problem(403);
    for bad in [
        json!({}),
        json!({ "scim_passwords": "yes" }),
        json!({ "name": "x" }),
    ] {
        app.patch("/api/v1/organization", &root, bad)
            .await
            .assert_problem(400);
    }

    app.allow_scim_passwords().await;
    let updates = records(&app, &root, "org.update").await;
    let allowed = updates.last().expect("org.update recorded");
    assert_eq!(allowed["outcome"], "success");
    assert_eq!(allowed["actor_kind"], "member_session");
    let changes: Value = serde_json::from_str(allowed["changes"].as_str().unwrap()).unwrap();
    assert_eq!(
        changes["scim_passwords"],
        json!({ "from": false, "to": true })
    );

    let id = scim
        .create_user(json!({ "schemas": [USER_SCHEMA], "userName": "okta-sync@example.com", "password": "a long enough password" }))
        .await;
    assert!(!id.is_empty());
    assert_eq!(
        app.login("default", "okta-sync@example.com", "a long enough password")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn scim_passwords_follow_the_password_policy() {
    let app = TestApp::spawn().await;
    let root = app.admin_session().await;
    app.allow_scim_passwords().await;
    let scim = app.scim().await;
    let id = scim
        .create_user(json!({ "schemas": [USER_SCHEMA], "userName": "carol@example.com" }))
        .await;
    for (weak, why) in [
        ("z", "12 to 1024"),
        ("1mz050nq", "12 to 1024"),
        ("☃☃☃☃☃☃☃☃☃☃☃☃☃☃", "repeated"),
        ("my name is Carol@Example.com!", "user name"),
    ] {
        let r = scim
            .patch(&format!("/Users/{id}"), set_password(weak))
            .await;
        r.assert_scim_error(400, Some("invalidValue"));
        assert!(
            r.body["detail"].as_str().unwrap().contains(why),
            "{weak}: {}",
            r.text
        );
        assert!(!r.text.contains(weak), "the password is never echoed");
        app.login("default", "carol@example.com", weak)
            .await
            .assert_problem(401);
    }
    let long = "x".repeat(1025);
    scim.post(
        "/Users",
        json!({ "schemas": [USER_SCHEMA], "userName": "dave@example.com", "password": long }),
    )
    .await
    .assert_scim_error(400, Some("invalidValue"));
    let weak = records(&app, &root, "scim.user.patch").await;
    assert_eq!(weak.len(), 4);
    assert!(
        weak.iter().all(|r| r["reason"] == "weak_password"),
        "{weak:?}"
    );
    // The CLI refuses what SCIM refuses.
    let cli = app
        .cli_with_stdin(
            &[
                "member",
                "create",
                "--org",
                "default",
                "--user-name",
                "erin",
                "--role",
                "member",
                "--password-stdin",
            ],
            Some("erin-erin-erin-erin\n"),
        )
        .await;
    assert_ne!(cli.code, Some(0));
    assert!(cli.stderr.contains("user name"), "{}", cli.stderr);
}

#[tokio::test]
async fn a_new_password_ends_the_members_sessions() {
    let app = TestApp::spawn().await;
    app.allow_scim_passwords().await;
    let scim = app.scim().await;
    let id = scim
        .create_user(json!({ "schemas": [USER_SCHEMA], "userName": "frank@example.com", "password": MEMBER_PASSWORD }))
        .await;
    let login = app
        .login("default", "frank@example.com", MEMBER_PASSWORD)
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    let old = login.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get(SELF, &old).await.status, 200);

    let r = scim
        .patch(
            &format!("/Users/{id}"),
            set_password("a brand new long password"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.get(SELF, &old).await.assert_problem(401);
    app.login("default", "frank@example.com", MEMBER_PASSWORD)
        .await
        .assert_problem(401);
    let new = app
        .login("default", "frank@example.com", "a brand new long password")
        .await;
    assert_eq!(new.status, 200);
    let new = new.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get(SELF, &new).await.status, 200);

    // A change that leaves the password alone leaves sessions alone.
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{ "op": "replace", "path": "title", "value": "Chief" }])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.get(SELF, &new).await.status, 200);
}

#[tokio::test]
async fn bulk_password_refusals_are_recorded() {
    let app = TestApp::spawn().await;
    let root = app.admin_session().await;
    let admin_id = admin_member_id(&app, &root).await;
    let scim = app.scim().await;
    let r = scim
        .post(
            "/Bulk",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [
                    { "method": "PATCH", "path": format!("/Users/{admin_id}"), "data": set_password("a long enough password") },
                    { "method": "POST", "path": "/Users", "bulkId": "u", "data": { "schemas": [USER_SCHEMA], "userName": "gina@example.com" } },
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["Operations"][0]["status"], "403");
    assert_eq!(r.body["Operations"][1]["status"], "201");
    let bulk = records(&app, &root, "scim.bulk").await;
    assert_eq!(bulk.len(), 1);
    let changes: Value = serde_json::from_str(bulk[0]["changes"].as_str().unwrap()).unwrap();
    assert_eq!(
        changes["refusals"],
        json!([{ "operation": 0, "reason": "scim_passwords_disabled" }])
    );
    app.login("default", "admin", "a long enough password")
        .await
        .assert_problem(401);
}

/// Passwords a Bulk request sets are hashed before the request takes the
/// writer; each one still lands on its own member, whether created, put or
/// patched, and each signs in.
#[tokio::test]
async fn passwords_set_through_bulk_sign_in() {
    let app = TestApp::spawn().await;
    app.allow_scim_passwords().await;
    let scim = app.scim().await;
    let put_id = scim
        .create_user(json!({ "schemas": [USER_SCHEMA], "userName": "hank@example.com" }))
        .await;
    let patched_id = scim
        .create_user(json!({ "schemas": [USER_SCHEMA], "userName": "iris@example.com" }))
        .await;
    let r = scim
        .post(
            "/Bulk",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [
                    { "method": "POST", "path": "/Users", "bulkId": "j", "data": { "schemas": [USER_SCHEMA], "userName": "jane@example.com", "password": "jane's long passphrase" } },
                    { "method": "PUT", "path": format!("/Users/{put_id}"), "data": { "schemas": [USER_SCHEMA], "userName": "hank@example.com", "password": "hank's long passphrase" } },
                    { "method": "PATCH", "path": format!("/Users/{patched_id}"), "data": patch_op(json!([{ "op": "add", "value": { "password": "iris's long passphrase" } }])) },
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let statuses: Vec<&Value> = r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["status"])
        .collect();
    assert_eq!(statuses, ["201", "200", "200"], "{}", r.text);
    for (user, password) in [
        ("jane@example.com", "jane's long passphrase"),
        ("hank@example.com", "hank's long passphrase"),
        ("iris@example.com", "iris's long passphrase"),
    ] {
        let login = app.login("default", user, password).await;
        assert_eq!(login.status, 200, "{user}: {}", login.text);
    }
    app.login("default", "jane@example.com", "hank's long passphrase")
        .await
        .assert_problem(401);
}

#[tokio::test]
async fn the_operator_can_allow_scim_passwords() {
    let app = TestApp::spawn().await;
    let root = app.admin_session().await;
    let on = app
        .cli(&["org", "set-scim-passwords", "default", "on", "--json"])
        .await
        .json();
    assert_eq!(on["scim_passwords"], true);
    let org = app.get("/api/v1/organization", &root).await;
    assert_eq!(org.body["scim_passwords"], true);
    let off = app
        .cli(&["org", "set-scim-passwords", "default", "off", "--json"])
        .await
        .json();
    assert_eq!(off["scim_passwords"], false);
    let updates = records(&app, &root, "org.update").await;
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0]["actor_kind"], "operator");
    let bad = app
        .cli(&["org", "set-scim-passwords", "default", "maybe"])
        .await;
    assert_ne!(bad.code, Some(0));
}
