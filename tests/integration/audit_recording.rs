//! Audit records: present for every change, correct, chained, free of
//! secrets, and written in the same transaction as the change.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Resp, TestApp, record_changes as changes};

const USER_AGENT: &str = "audit-test/1.0";

/// Sends a request with a known user agent and request id, which its audit
/// record must carry.
async fn traced(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
    request_id: &str,
) -> Resp {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(bearer)
        .header("user-agent", USER_AGENT)
        .header("x-request-id", request_id);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = crate::support::read(req.send().await.unwrap()).await;
    assert_eq!(r.header("x-request-id"), Some(request_id));
    r
}

/// Who made a change, as its record names them.
struct Actor<'a> {
    kind: &'a str,
    id: &'a str,
    display: &'a str,
}

/// Asserts the record of a successful [`traced`] request: its actor, action,
/// target (type, id, display), status and request context.
#[track_caller]
fn assert_traced(
    r: &Value,
    actor: &Actor,
    action: &str,
    target: [&str; 3],
    status: u16,
    request_id: &str,
) {
    assert_eq!(r["action"], action, "{r}");
    assert_eq!(r["actor_kind"], actor.kind, "{r}");
    assert_eq!(r["actor_id"], actor.id, "{r}");
    assert_eq!(r["actor_display"], actor.display, "{r}");
    assert_eq!(
        [&r["target_type"], &r["target_id"], &r["target_display"]],
        target.map(|t| json!(t)).each_ref(),
        "{r}"
    );
    assert_eq!(r["outcome"], "success", "{r}");
    assert_eq!(r["http_status"], status, "{r}");
    assert_eq!(r["request_id"], request_id, "{r}");
    assert_eq!(r["source_ip"], "127.0.0.1", "{r}");
    assert_eq!(r["user_agent"], USER_AGENT, "{r}");
}

/// The one record of the request with this id.
#[track_caller]
fn by_request<'a>(records: &'a [Value], request_id: &str) -> &'a Value {
    let found: Vec<_> = records
        .iter()
        .filter(|r| r["request_id"] == request_id)
        .collect();
    assert_eq!(found.len(), 1, "{request_id}: {found:?}");
    found[0]
}

#[tokio::test]
async fn every_management_change_is_recorded_with_its_context() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    let ws = app.create_workspace(&s, "prod").await;
    let body = json!({ "name": "etl", "workspace_id": ws, "permissions": ["sources:read"] });
    let path = "/api/v1/service-access-tokens";
    let created = traced(&app, Method::POST, path, &s, Some(body), "req-123").await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let value = created.body["token"].as_str().unwrap().to_string();
    app.patch(
        &format!("/api/v1/service-access-tokens/{id}"),
        &s,
        json!({ "name": "etl2" }),
    )
    .await;
    app.post(
        &format!("/api/v1/service-access-tokens/{id}/rotate"),
        &s,
        json!({ "grace_period_seconds": 60 }),
    )
    .await;
    app.delete(&format!("/api/v1/service-access-tokens/{id}"), &s)
        .await;
    app.patch(
        &format!("/api/v1/workspaces/{ws}"),
        &s,
        json!({ "name": "prod2" }),
    )
    .await;
    app.delete(&format!("/api/v1/workspaces/{ws}"), &s).await;

    let records = app.audit_records(&org).await;
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "org.create",
            "member.create",
            // The start replaces the printed bootstrap password.
            "auth.password",
            "auth.login",
            "auth.login",
            "token.self",
            "workspace.create",
            "sat.create",
            "sat.update",
            "sat.rotate",
            "sat.revoke",
            "workspace.update",
            "workspace.delete"
        ]
    );
    let create = &records[7];
    let admin = Actor {
        kind: "member_session",
        // The bootstrap's member.create names the admin.
        id: records[1]["target_id"].as_str().unwrap(),
        display: "admin",
    };
    assert_traced(
        create,
        &admin,
        "sat.create",
        ["sat", &id, "etl"],
        201,
        "req-123",
    );
    assert_eq!(create["workspace_id"], ws.as_str());
    assert_eq!(changes(create)["permissions"], json!(["sources:read"]));
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"], json!(i + 1), "sequence numbers are dense");
        assert!(!r.to_string().contains(&value[31..63]), "no secret in {r}");
    }

    let report = scimitar::audit::verify_chain(app.db(), &org).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, records.len() as u64);
}

#[tokio::test]
async fn member_and_pat_changes_are_recorded_with_their_context() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    let (alice_id, alice) = app.signed_in_member("default", "alice", "admin").await;
    let pats = "/api/v1/personal-access-tokens";
    let mut pat_ids = Vec::new();
    for (name, request_id) in [("laptop", "req-pat-1"), ("ci", "req-pat-2")] {
        let body = json!({ "name": name });
        let r = traced(&app, Method::POST, pats, &alice, Some(body), request_id).await;
        assert_eq!(r.status, 201, "{}", r.text);
        pat_ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let path = format!("{pats}/{}", pat_ids[0]);
    let r = traced(&app, Method::DELETE, &path, &alice, None, "req-pat-revoke").await;
    assert_eq!(r.status, 204);
    let path = format!("/api/v1/members/{alice_id}");
    let body = json!({ "role": "member" });
    let r = traced(&app, Method::PATCH, &path, &s, Some(body), "req-demote").await;
    assert_eq!(r.status, 200, "{}", r.text);

    let records = app.audit_records(&org).await;
    let as_alice = Actor {
        kind: "member_session",
        id: &alice_id,
        display: "alice",
    };
    let created = by_request(&records, "req-pat-1");
    assert_traced(
        created,
        &as_alice,
        "pat.create",
        ["pat", &pat_ids[0], "laptop"],
        201,
        "req-pat-1",
    );
    assert_eq!(changes(created)["member_id"], alice_id.as_str());
    assert_traced(
        by_request(&records, "req-pat-revoke"),
        &as_alice,
        "pat.revoke",
        ["pat", &pat_ids[0], "laptop"],
        204,
        "req-pat-revoke",
    );
    let as_admin = Actor {
        kind: "member_session",
        id: records[1]["target_id"].as_str().unwrap(),
        display: "admin",
    };
    let demoted = by_request(&records, "req-demote");
    assert_traced(
        demoted,
        &as_admin,
        "member.update",
        ["member", &alice_id, "alice"],
        200,
        "req-demote",
    );
    assert_eq!(
        changes(demoted),
        json!({
            "role": { "from": "admin", "to": "member" },
            "active": { "from": true, "to": true },
            // The PAT still alive; the one she revoked herself stays as it was.
            "revoked_personal_access_tokens": [pat_ids[1]],
        })
    );

    // The operator CLI: actor kind `operator`, its own request id and user
    // agent, no source address.
    app.cli(&[
        "member", "set-role", "--org", "default", "alice", "admin", "--json",
    ])
    .await
    .json();
    app.cli(&[
        "member",
        "deactivate",
        "--org",
        "default",
        &alice_id,
        "--json",
    ])
    .await
    .json();
    let records = app.audit_records(&org).await;
    let by_operator: Vec<&Value> = records
        .iter()
        .filter(|r| r["actor_kind"] == "operator" && r["action"] == "member.update")
        .collect();
    assert_eq!(by_operator.len(), 2, "{by_operator:?}");
    let user = std::env::var("USER").ok().filter(|u| !u.is_empty());
    for r in &by_operator {
        assert_eq!(r["actor_id"], json!(user), "{r}");
        assert_eq!(r["actor_display"], "operator cli", "{r}");
        assert_eq!(
            [&r["target_type"], &r["target_id"], &r["target_display"]],
            [&json!("member"), &json!(alice_id), &json!("alice")],
        );
        assert_eq!(r["outcome"], "success", "{r}");
        let request_id = r["request_id"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(request_id).is_ok(), "{r}");
        assert_eq!(r["source_ip"], Value::Null, "{r}");
        assert!(
            r["user_agent"]
                .as_str()
                .unwrap()
                .starts_with("scimitar-cli/"),
            "{r}"
        );
    }
    assert_eq!(
        changes(by_operator[0])["role"],
        json!({ "from": "member", "to": "admin" })
    );
    assert_eq!(
        changes(by_operator[1])["active"],
        json!({ "from": true, "to": false })
    );
    assert_ne!(by_operator[0]["request_id"], by_operator[1]["request_id"]);
    let report = scimitar::audit::verify_chain(app.db(), &org).await.unwrap();
    assert!(report.ok, "{report:?}");
}

#[tokio::test]
async fn tampering_with_a_record_is_detected_at_that_record() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    for i in 0..4 {
        app.create_workspace(&s, &format!("ws{i}")).await;
    }
    assert!(
        scimitar::audit::verify_chain(app.db(), &org)
            .await
            .unwrap()
            .ok
    );
    scimitar::on_db!(app.db(), pool => {
        sqlx::query("UPDATE audit_events SET target_display = 'forged' WHERE chain = $1 AND seq = 5")
            .bind(&org)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    let report = scimitar::audit::verify_chain(app.db(), &org).await.unwrap();
    assert!(!report.ok);
    let b = report.first_break.unwrap();
    assert_eq!((b.kind, b.seq), ("hash_mismatch", Some(5)));

    scimitar::on_db!(app.db(), pool => {
        sqlx::query("DELETE FROM audit_events WHERE chain = $1 AND seq = 5").bind(&org).execute(pool).await.map(|_| ())
    })
    .unwrap();
    let report = scimitar::audit::verify_chain(app.db(), &org).await.unwrap();
    let b = report.first_break.unwrap();
    assert_eq!((b.kind, b.seq), ("gap", Some(6)));
    assert_eq!(
        (b.expected.as_deref(), b.found.as_deref()),
        (Some("5"), Some("6"))
    );
}

#[tokio::test]
async fn deleting_the_newest_records_is_detected() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    app.create_workspace(&s, "a").await;
    scimitar::on_db!(app.db(), pool => {
        sqlx::query("DELETE FROM audit_events WHERE chain = $1 AND seq = (SELECT MAX(seq) FROM audit_events WHERE chain = $1)")
            .bind(&org)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    let report = scimitar::audit::verify_chain(app.db(), &org).await.unwrap();
    assert!(!report.ok, "a truncated tail is a break: {report:?}");
}

/// If the audit write fails, the change does not happen.
#[tokio::test]
async fn a_failed_audit_write_undoes_the_change() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    // Make the next sequence number collide with an existing record.
    scimitar::on_db!(app.db(), pool => {
        sqlx::query("UPDATE audit_chain_heads SET last_seq = last_seq - 1 WHERE chain = $1")
            .bind(&org)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    let r = app
        .post("/api/v1/workspaces", &s, json!({ "name": "ghost" }))
        .await;
    r.assert_problem(500);
    assert!(
        !r.text.contains("UNIQUE") && !r.text.contains("duplicate"),
        "no internals leak: {}",
        r.text
    );
    scimitar::on_db!(app.db(), pool => {
        sqlx::query("UPDATE audit_chain_heads SET last_seq = last_seq + 1 WHERE chain = $1")
            .bind(&org)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    assert_eq!(
        app.get("/api/v1/workspaces", &s).await.body["workspaces"],
        json!([]),
        "no half-written workspace"
    );
}

#[tokio::test]
async fn concurrent_changes_keep_one_unbroken_chain() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = app.org_of(&s).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let client = app.client.clone();
        let url = app.url("/api/v1/workspaces");
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(s)
                .json(&json!({ "name": format!("ws-{i}") }))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    let report = scimitar::audit::verify_chain(app.db(), &org).await.unwrap();
    assert!(report.ok, "{report:?}");
    // The bootstrap's two records, the new password and its sign-in, the
    // sign-in, the read of tokens/self, and one record per workspace.
    assert_eq!(report.records, 6 + 24);
}
