//! Audit records: present for every change, correct, chained, free of
//! secrets, and written in the same transaction as the change.

use serde_json::{Value, json};

use crate::support::TestApp;

async fn org_of(app: &TestApp, session: &str) -> String {
    app.get("/api/v1/tokens/self", session).await.body["org_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn every_management_change_is_recorded_with_its_context() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = org_of(&app, &s).await;
    let ws = app.create_workspace(&s, "prod").await;
    let created = app
        .client
        .post(app.url("/api/v1/service-access-tokens"))
        .bearer_auth(&s)
        .header("user-agent", "audit-test/1.0")
        .header("x-request-id", "req-123")
        .json(&json!({ "name": "etl", "workspace_id": ws, "permissions": ["sources:read"] }))
        .send()
        .await
        .unwrap();
    let created = crate::support::read(created).await;
    assert_eq!(created.header("x-request-id"), Some("req-123"));
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
    let create = &records[5];
    assert_eq!(create["actor_kind"], "member_session");
    assert_eq!(create["actor_display"], "admin");
    assert_eq!(create["target_type"], "sat");
    assert_eq!(create["target_id"], id.as_str());
    assert_eq!(create["target_display"], "etl");
    assert_eq!(create["workspace_id"], ws.as_str());
    assert_eq!(create["outcome"], "success");
    assert_eq!(create["http_status"], 201);
    assert_eq!(create["request_id"], "req-123");
    assert_eq!(create["source_ip"], "127.0.0.1");
    assert_eq!(create["user_agent"], "audit-test/1.0");
    let changes: Value = serde_json::from_str(create["changes"].as_str().unwrap()).unwrap();
    assert_eq!(changes["permissions"], json!(["sources:read"]));
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"], json!(i + 1), "sequence numbers are dense");
        assert!(!r.to_string().contains(&value[31..63]), "no secret in {r}");
    }

    let report = scimitar::audit::verify_chain(app.db(), &org).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, records.len() as u64);
}

#[tokio::test]
async fn tampering_with_a_record_is_detected_at_that_record() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = org_of(&app, &s).await;
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
    assert_eq!(
        report.first_break,
        Some(scimitar::audit::ChainBreak::HashMismatch { seq: 5 })
    );

    scimitar::on_db!(app.db(), pool => {
        sqlx::query("DELETE FROM audit_events WHERE chain = $1 AND seq = 5").bind(&org).execute(pool).await.map(|_| ())
    })
    .unwrap();
    let report = scimitar::audit::verify_chain(app.db(), &org).await.unwrap();
    assert_eq!(
        report.first_break,
        Some(scimitar::audit::ChainBreak::Gap {
            expected: 5,
            found: 6
        })
    );
}

#[tokio::test]
async fn deleting_the_newest_records_is_detected() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let org = org_of(&app, &s).await;
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
    let org = org_of(&app, &s).await;
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
    let org = org_of(&app, &s).await;
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
    // The bootstrap's two records, the sign-in, the read of tokens/self, and
    // one record per workspace.
    assert_eq!(report.records, 4 + 24);
}
