//! The SAT management API: create, list, get, change, rotate, revoke, and
//! the refusals around them.

use serde_json::{Value, json};

use crate::support::{TestApp, eventually};

const SATS: &str = "/api/v1/service-access-tokens";

#[tokio::test]
async fn org_sat_is_created_shown_once_and_never_listed_with_its_value() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let r = app
        .post(SATS, &s, json!({ "name": "okta", "description": "IdP push", "permissions": ["scim:read", "scim:write"] }))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap();
    let value = r.body["token"].as_str().unwrap();
    assert!(value.starts_with("scim_sat_"), "{value}");
    assert_eq!(value.len(), 9 + 22 + 32 + 6);
    assert_eq!(&value[9..31], id);
    assert_eq!(r.body["level"], "organization");
    assert_eq!(r.body["permissions"], json!(["scim:read", "scim:write"]));
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["created_by"]["kind"], "member_session");
    assert_eq!(r.body["created_by"]["display"], "admin");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("location"), Some(format!("{SATS}/{id}").as_str()));

    let secret = &value[31..63];
    let list = app.get(SATS, &s).await;
    assert_eq!(list.status, 200);
    let one = app.get(&format!("{SATS}/{id}"), &s).await;
    assert_eq!(one.status, 200);
    for text in [&list.text, &one.text] {
        assert!(!text.contains(secret), "a listing leaked the secret");
        assert!(
            !text.contains("secret_hash") && !text.contains("\"token\""),
            "{text}"
        );
    }
    let tokens = list.body["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["id"], id);
    assert_eq!(tokens[0]["description"], "IdP push");
    for field in [
        "name",
        "level",
        "workspace_id",
        "permissions",
        "created_by",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
        "status",
    ] {
        assert!(tokens[0].get(field).is_some(), "list lacks {field}");
    }

    let me = app.get("/api/v1/tokens/self", value).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["id"], id);
    assert_eq!(me.body["kind"], "sat");
    assert_eq!(me.body["level"], "organization");
    assert_eq!(me.body["permissions"], json!(["scim:read", "scim:write"]));
}

#[tokio::test]
async fn workspace_sat_holds_workspace_permissions_and_lists_by_level() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let ws = app.create_workspace(&s, "prod").await;
    let (ws_id, ws_value) = app
        .create_sat(&s, json!({ "name": "transformer", "workspace_id": ws, "permissions": ["transformations:edit", "sources:read"] }))
        .await;
    let (org_id, _) = app
        .create_sat(
            &s,
            json!({ "name": "org", "permissions": ["audit_logs:read"] }),
        )
        .await;

    let me = app.get("/api/v1/tokens/self", &ws_value).await;
    assert_eq!(me.body["level"], "workspace");
    assert_eq!(me.body["workspace_id"], ws.as_str());
    assert_eq!(
        me.body["permissions"],
        json!(["sources:read", "transformations:edit"])
    );

    let ids = |v: &Value| -> Vec<String> {
        v["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&app.get(&format!("{SATS}?level=workspace"), &s).await.body),
        vec![ws_id.clone()]
    );
    assert_eq!(
        ids(&app
            .get(&format!("{SATS}?level=organization"), &s)
            .await
            .body),
        vec![org_id]
    );
    assert_eq!(
        ids(&app.get(&format!("{SATS}?workspace_id={ws}"), &s).await.body),
        vec![ws_id]
    );
    app.get(&format!("{SATS}?level=galaxy"), &s)
        .await
        .assert_problem(400);
    app.get(&format!("{SATS}?workspace_id=not-a-uuid"), &s)
        .await
        .assert_problem(400);
}

#[tokio::test]
async fn invalid_permissions_are_refused_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let ws = app.create_workspace(&s, "prod").await;
    let cases = [
        (
            json!({ "name": "x", "permissions": ["scim:admin"] }),
            "unknown permission",
        ),
        (
            json!({ "name": "x", "permissions": ["sources:read"] }),
            "workspace permission",
        ),
        (
            json!({ "name": "x", "workspace_id": ws, "permissions": ["scim:read"] }),
            "organization permission",
        ),
        (
            json!({ "name": "x", "workspace_id": ws, "permissions": ["sources:read", "tokens:introspect"] }),
            "organization permission",
        ),
        (json!({ "name": "x", "permissions": [] }), "at least one"),
    ];
    for (body, needle) in cases {
        let r = app.post(SATS, &s, body.clone()).await;
        r.assert_problem(400);
        assert_eq!(
            r.body["type"], "urn:scimitar:problem:invalid-permission",
            "{body}"
        );
        assert!(
            r.body["detail"].as_str().unwrap().contains(needle),
            "{}: {}",
            body,
            r.text
        );
    }
    let list = app.get(SATS, &s).await;
    assert_eq!(list.body["tokens"], json!([]));
}

#[tokio::test]
async fn malformed_requests_get_problem_responses() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let raw = |body: &'static str, ct: &'static str| {
        app.client
            .post(app.url(SATS))
            .bearer_auth(&s)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    crate::support::read(
        raw("{\"name\": \"x\", \"permissions\": [", "application/json")
            .await
            .unwrap(),
    )
    .await
    .assert_problem(400);
    crate::support::read(
        raw("{\"name\": 5, \"permissions\": []}", "application/json")
            .await
            .unwrap(),
    )
    .await
    .assert_problem(400);
    crate::support::read(
        raw(
            "{\"name\": \"x\", \"permissions\": [\"scim:read\"]}",
            "text/plain",
        )
        .await
        .unwrap(),
    )
    .await
    .assert_problem(415);
    app.post(
        SATS,
        &s,
        json!({ "name": "x", "permissions": ["scim:read"], "colour": "red" }),
    )
    .await
    .assert_problem(400);
    app.post(
        SATS,
        &s,
        json!({ "name": "   ", "permissions": ["scim:read"] }),
    )
    .await
    .assert_problem(400);
    app.post(
        SATS,
        &s,
        json!({ "name": "x", "permissions": ["scim:read"], "expires_in_days": 0 }),
    )
    .await
    .assert_problem(400);
    app.post(
        SATS,
        &s,
        json!({ "name": "x", "permissions": ["scim:read"], "expires_at": "2001-01-01T00:00:00Z" }),
    )
    .await
    .assert_problem(400);
    app.post(
        SATS,
        &s,
        json!({ "name": "x", "permissions": ["scim:read"], "expires_at": "tomorrow" }),
    )
    .await
    .assert_problem(400);
    app.post(SATS, &s, json!({ "name": "x", "permissions": ["scim:read"], "expires_at": "2999-01-01T00:00:00Z", "expires_in_days": 3 }))
        .await
        .assert_problem(400);
    app.post(
        SATS,
        &s,
        json!({ "name": "x", "permissions": ["scim:read"], "allowed_cidrs": ["10.0.0.0/99"] }),
    )
    .await
    .assert_problem(400);
    app.post(SATS, &s, json!({ "name": "x", "workspace_id": uuid::Uuid::new_v4(), "permissions": ["sources:read"] }))
        .await
        .assert_problem(404);
    assert_eq!(app.get(SATS, &s).await.body["tokens"], json!([]));
    app.get(&format!("{SATS}/not-a-token-id"), &s)
        .await
        .assert_problem(404);
    app.get(&format!("{SATS}/AAAAAAAAAAAAAAAAAAAAAA"), &s)
        .await
        .assert_problem(404);
}

#[tokio::test]
async fn expiry_is_set_reported_and_capped_by_the_organization() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let r = app
        .post(
            SATS,
            &s,
            json!({ "name": "short", "permissions": ["scim:read"], "expires_in_days": 7 }),
        )
        .await;
    assert_eq!(r.status, 201);
    let expires = time::OffsetDateTime::parse(
        r.body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((7 * 24 - 1..=7 * 24).contains(&days), "{days}");

    let set = app
        .cli(&["org", "set-max-token-lifetime", "default", "30", "--json"])
        .await
        .json();
    assert_eq!(set["max_token_lifetime_days"], 30);
    assert_eq!(
        app.cli(&["org", "set-max-token-lifetime", "default", "0"])
            .await
            .code,
        Some(2)
    );
    let capped = app
        .post(
            SATS,
            &s,
            json!({ "name": "capped", "permissions": ["scim:read"] }),
        )
        .await;
    assert_eq!(capped.status, 201, "{}", capped.text);
    assert!(
        capped.body["expires_at"].is_string(),
        "an org cap gives every token an expiry"
    );
    let r = app
        .post(
            SATS,
            &s,
            json!({ "name": "too long", "permissions": ["scim:read"], "expires_in_days": 31 }),
        )
        .await;
    r.assert_problem(400);
    assert!(r.body["detail"].as_str().unwrap().contains("30 days"));
}

#[tokio::test]
async fn patch_changes_names_and_allowlists() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (id, value) = app
        .create_sat(
            &s,
            json!({ "name": "old", "description": "d", "permissions": ["scim:read"] }),
        )
        .await;
    let path = format!("{SATS}/{id}");
    let r = app
        .patch(&path, &s, json!({ "name": "new", "description": null }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "new");
    assert_eq!(r.body["description"], Value::Null);
    assert_eq!(r.body["permissions"], json!(["scim:read"]));
    app.patch(&path, &s, json!({})).await.assert_problem(400);
    app.patch(&path, &s, json!({ "allowed_cidrs": ["nope"] }))
        .await
        .assert_problem(400);
    assert_eq!(
        app.get("/api/v1/tokens/self", &value).await.body["name"],
        "new"
    );
    assert_eq!(app.delete(&path, &s).await.status, 204);
    app.patch(&path, &s, json!({ "name": "again" }))
        .await
        .assert_problem(409);
}

#[tokio::test]
async fn revoke_is_soft_immediate_and_idempotent() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (id, value) = app
        .create_sat(&s, json!({ "name": "ci", "permissions": ["scim:read"] }))
        .await;
    assert_eq!(app.get("/api/v1/tokens/self", &value).await.status, 200);
    let path = format!("{SATS}/{id}");
    assert_eq!(app.delete(&path, &s).await.status, 204);
    let r = app.get("/api/v1/tokens/self", &value).await;
    r.assert_problem(401);
    assert!(r.body["detail"].as_str().unwrap().contains("revoked"));
    let row = app.get(&path, &s).await;
    assert_eq!(row.body["status"], "revoked");
    assert!(row.body["revoked_at"].is_string());
    assert_eq!(app.delete(&path, &s).await.status, 204);
    let org = app.get("/api/v1/tokens/self", &s).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_string();
    let revokes = app
        .audit_records(&org)
        .await
        .into_iter()
        .filter(|r| r["action"] == "sat.revoke")
        .count();
    assert_eq!(
        revokes, 1,
        "a repeated revoke changes nothing and records nothing"
    );
    app.post(&format!("{path}/rotate"), &s, json!({}))
        .await
        .assert_problem(409);
}

#[tokio::test]
async fn rotation_without_grace_ends_the_old_secret_at_once() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (id, old) = app
        .create_sat(&s, json!({ "name": "ci", "permissions": ["scim:read"] }))
        .await;
    let r = app
        .post(
            &format!("{SATS}/{id}/rotate"),
            &s,
            json!({ "grace_period_seconds": 0 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let new = r.body["token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(r.body["id"], id.as_str(), "rotation keeps the id");
    assert_eq!(app.get("/api/v1/tokens/self", new).await.status, 200);
    let refused = app.get("/api/v1/tokens/self", &old).await;
    refused.assert_problem(401);
    assert!(
        refused.body["detail"].as_str().unwrap().contains("rotated"),
        "{}",
        refused.text
    );
}

#[tokio::test]
async fn rotation_with_grace_keeps_both_secrets_until_it_ends() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (id, old) = app
        .create_sat(&s, json!({ "name": "ci", "permissions": ["scim:read"] }))
        .await;
    let r = app
        .post(
            &format!("{SATS}/{id}/rotate"),
            &s,
            json!({ "grace_period_seconds": 3600 }),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body["previous_secret_valid_until"].is_string());
    let new = r.body["token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/v1/tokens/self", &old).await.status, 200);
    assert_eq!(app.get("/api/v1/tokens/self", &new).await.status, 200);
    // The grace period ends: move it into the past, as time would.
    scimitar::on_db!(app.db(), pool => {
        sqlx::query("UPDATE tokens SET previous_valid_until = $1")
            .bind(scimitar::store::Timestamp::now() - time::Duration::seconds(1))
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    crate::support::outside_change_lands().await;
    app.get("/api/v1/tokens/self", &old)
        .await
        .assert_problem(401);
    assert_eq!(app.get("/api/v1/tokens/self", &new).await.status, 200);
    app.post(
        &format!("{SATS}/{id}/rotate"),
        &s,
        json!({ "grace_period_seconds": -1 }),
    )
    .await
    .assert_problem(400);
    app.post(
        &format!("{SATS}/{id}/rotate"),
        &s,
        json!({ "grace_period_seconds": 8 * 86400 }),
    )
    .await
    .assert_problem(400);
}

#[tokio::test]
async fn machines_cannot_manage_tokens_and_the_refusal_names_the_permission() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (id, value) = app
        .create_sat(
            &s,
            json!({ "name": "scim", "permissions": ["scim:read", "scim:write"] }),
        )
        .await;
    let r = app
        .post(
            SATS,
            &value,
            json!({ "name": "escalate", "permissions": ["audit_logs:read"] }),
        )
        .await;
    r.assert_problem(403);
    assert_eq!(r.body["missing_permission"], "service_access_tokens:manage");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("service_access_tokens:manage")
    );
    app.get(SATS, &value).await.assert_problem(403);
    app.delete(&format!("{SATS}/{id}"), &value)
        .await
        .assert_problem(403);
    app.get("/api/v1/workspaces", &value)
        .await
        .assert_problem(403);
    app.get("/api/v1/members", &value).await.assert_problem(403);

    let org = app.get("/api/v1/tokens/self", &value).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_string();
    let denied: Vec<Value> = app
        .audit_records(&org)
        .await
        .into_iter()
        .filter(|r| r["action"] == "auth.denied")
        .collect();
    assert_eq!(denied.len(), 5);
    assert_eq!(denied[0]["actor_kind"], "sat");
    assert_eq!(denied[0]["actor_id"], id.as_str());
    assert_eq!(denied[0]["http_status"], 403);
    assert_eq!(denied[0]["outcome"], "failure");
    assert!(
        denied[0]["changes"]
            .as_str()
            .unwrap()
            .contains("service_access_tokens:manage")
    );
    assert_eq!(
        app.get(SATS, &s).await.body["tokens"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing was created"
    );
}

#[tokio::test]
async fn another_organizations_tokens_are_not_found() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (id, _) = app
        .create_sat(&s, json!({ "name": "mine", "permissions": ["scim:read"] }))
        .await;
    let ws = app.create_workspace(&s, "mine").await;

    app.cli(&["org", "create", "other", "--json"]).await.json();
    let (_, eve) = app.signed_in_member("other", "eve", "admin").await;

    let path = format!("{SATS}/{id}");
    app.get(&path, &eve).await.assert_problem(404);
    app.patch(&path, &eve, json!({ "name": "stolen" }))
        .await
        .assert_problem(404);
    app.post(&format!("{path}/rotate"), &eve, json!({}))
        .await
        .assert_problem(404);
    app.delete(&path, &eve).await.assert_problem(404);
    app.get(&format!("/api/v1/workspaces/{ws}"), &eve)
        .await
        .assert_problem(404);
    app.delete(&format!("/api/v1/workspaces/{ws}"), &eve)
        .await
        .assert_problem(404);
    app.post(
        SATS,
        &eve,
        json!({ "name": "x", "workspace_id": ws, "permissions": ["sources:read"] }),
    )
    .await
    .assert_problem(404);
    assert_eq!(app.get(SATS, &eve).await.body["tokens"], json!([]));
    let mine = app.get(&path, &s).await;
    assert_eq!(mine.body["name"], "mine");
    assert_eq!(mine.body["status"], "active");
}

#[tokio::test]
async fn last_use_is_recorded_without_a_write_per_request() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (id, value) = app
        .create_sat(&s, json!({ "name": "ci", "permissions": ["scim:read"] }))
        .await;
    let path = format!("{SATS}/{id}");
    assert_eq!(app.get(&path, &s).await.body["last_used_at"], Value::Null);
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/tokens/self", &value).await.status, 200);
    }
    let seen = eventually(std::time::Duration::from_secs(5), || async {
        let r = app.get(&path, &s).await;
        r.body["last_used_at"].is_string() && r.body["last_used_ip"] == "127.0.0.1"
    })
    .await;
    assert!(seen, "last-used data reached the database");
}

/// A SAT's permissions and expiry can be edited: at its own level, earlier
/// only; the token holds the new permissions from its very next request
/// (although it was verified a moment before), and the record has each
/// field before and after.
#[tokio::test]
async fn patch_edits_permissions_and_shortens_expiry() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    let (id, value) = app
        .create_sat(
            &s,
            json!({ "name": "idp", "permissions": ["scim:read", "scim:write"], "expires_in_days": 30 }),
        )
        .await;
    let path = format!("{SATS}/{id}");
    let users = "/scim/v2/Users";
    assert_eq!(app.get(users, &value).await.status, 200);
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "before@example.com",
    });
    assert_eq!(app.post(users, &value, user).await.status, 201);

    let r = app
        .patch(&path, &s, json!({ "permissions": ["scim:read"] }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["permissions"], json!(["scim:read"]));
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "after@example.com",
    });
    let refused = app.post(users, &value, user).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(app.get(users, &value).await.status, 200);

    // Still one level, still the catalogue.
    app.patch(&path, &s, json!({ "permissions": ["sources:read"] }))
        .await
        .assert_problem(400);
    app.patch(&path, &s, json!({ "permissions": ["scim:admin"] }))
        .await
        .assert_problem(400);
    app.patch(&path, &s, json!({ "permissions": [] }))
        .await
        .assert_problem(400);

    // The expiry comes forward, never back.
    let current = r.body["expires_at"].as_str().unwrap().to_string();
    let sooner = (time::OffsetDateTime::now_utc() + time::Duration::days(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let later = (time::OffsetDateTime::now_utc() + time::Duration::days(60))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    app.patch(&path, &s, json!({ "expires_at": later }))
        .await
        .assert_problem(400);
    app.patch(&path, &s, json!({ "expires_at": "tomorrow" }))
        .await
        .assert_problem(400);
    let r = app.patch(&path, &s, json!({ "expires_at": sooner })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_ne!(r.body["expires_at"], current.as_str());

    let records = app.audit_records(&org).await;
    let updates: Vec<Value> = records
        .iter()
        .filter(|r| r["action"] == "sat.update" && r["outcome"] == "success")
        .map(|r| serde_json::from_str(r["changes"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(updates.len(), 2, "refusals change nothing");
    assert_eq!(
        updates[0]["before"],
        json!({ "permissions": ["scim:read", "scim:write"] })
    );
    assert_eq!(updates[0]["after"], json!({ "permissions": ["scim:read"] }));
    assert_eq!(updates[1]["before"]["expires_at"], current.as_str());
}
