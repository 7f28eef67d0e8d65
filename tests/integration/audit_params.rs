//! The Audit Log's sharp edges: one parameter set per endpoint (unknown
//! names refused alike), cursors past the head refused, the `kind` filter
//! (API, console, CLI), `--output -`, and the unattributed chain exported
//! and verified by the operator.

use std::time::Duration;

use serde_json::{Value, json};

use crate::console_client::Console;
use crate::support::{TestApp, eventually};

const LOGS: &str = "/api/v1/audit-logs";

fn records(r: &crate::support::Resp) -> Vec<Value> {
    r.body["records"].as_array().unwrap().clone()
}

#[tokio::test]
async fn each_endpoint_refuses_the_names_it_does_not_take() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    for path in [
        "/api/v1/audit-logs?format=csv",
        "/api/v1/audit-logs?colour=red",
        "/api/v1/audit-logs/export?limit=5",
        "/api/v1/audit-logs/export?order=desc",
        "/api/v1/audit-logs/export?colour=red",
        "/api/v1/audit-logs/verify?limit=5",
        "/api/v1/audit-logs/checkpoints?format=csv",
        "/api/v1/audit-logs/jwks?format=pem",
        "/api/v1/audit-logs/01a24b0c-33e2-750c-8aa2-7a4c4dfa810e?format=csv",
    ] {
        let r = app.get(path, &s).await;
        r.assert_problem(400);
        let name = path.split('?').nth(1).unwrap().split('=').next().unwrap();
        assert!(
            r.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&format!("unknown field `{name}`"))),
            "{path}: {}",
            r.text
        );
    }
    // What each does take still works.
    for path in [
        "/api/v1/audit-logs?limit=5&order=desc&kind=change",
        "/api/v1/audit-logs/export?format=csv&kind=read&cursor=1",
        "/api/v1/audit-logs/verify?from_seq=1",
        "/api/v1/audit-logs/checkpoints?from_seq=1",
        "/api/v1/audit-logs/jwks",
    ] {
        assert_eq!(app.get(path, &s).await.status, 200, "{path}");
    }
}

#[tokio::test]
async fn a_cursor_past_the_chain_head_is_refused() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let page = app.get(&format!("{LOGS}?order=desc&limit=1"), &s).await;
    let head = records(&page)[0]["seq"].as_i64().unwrap();
    // The head itself is a good cursor: nothing newer yet (but the reads
    // recorded meanwhile).
    let r = app.get(&format!("{LOGS}?cursor={head}"), &s).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let far = head + 1000;
    for path in [
        format!("{LOGS}?cursor={far}"),
        format!("{LOGS}/export?cursor={far}"),
    ] {
        let r = app.get(&path, &s).await;
        r.assert_problem(400);
        assert!(r.text.contains("past the newest record"), "{}", r.text);
    }
    let far = far.to_string();
    let run = app
        .cli(&[
            "audit", "export", "--org", "default", "--cursor", &far, "--output", "-",
        ])
        .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("past the newest record"),
        "{}",
        run.stderr
    );
}

/// A change, a read and a refusal, each where the kind filter puts it.
#[tokio::test]
async fn kind_selects_changes_reads_or_refusals() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    app.create_workspace(&s, "prod").await;
    assert_eq!(app.get("/api/v1/workspaces", &s).await.status, 200);
    let (_, idp) = app
        .create_sat(&s, json!({ "name": "idp", "permissions": ["scim:read"] }))
        .await;
    app.get(LOGS, &idp).await.assert_problem(403);

    let kind = |k: &'static str| {
        let app = &app;
        let s = &s;
        async move {
            let r = app.get(&format!("{LOGS}?kind={k}&limit=1000"), s).await;
            assert_eq!(r.status, 200, "{}", r.text);
            records(&r)
        }
    };
    let actions = |rs: &[Value]| -> Vec<String> {
        rs.iter()
            .map(|r| r["action"].as_str().unwrap().to_string())
            .collect()
    };
    let changes = kind("change").await;
    assert!(actions(&changes).contains(&"workspace.create".into()));
    assert!(actions(&changes).contains(&"sat.create".into()));
    assert!(!actions(&changes).contains(&"workspace.list".into()));
    assert!(changes.iter().all(|r| r["outcome"] == "success"));

    let reads = kind("read").await;
    assert!(actions(&reads).contains(&"workspace.list".into()));
    assert!(!actions(&reads).contains(&"workspace.create".into()));
    assert!(reads.iter().all(|r| r["outcome"] == "success"));

    let refusals = kind("refusal").await;
    assert!(actions(&refusals).contains(&"auth.denied".into()));
    assert!(refusals.iter().all(|r| r["outcome"] == "failure"));

    let both = kind("change,refusal").await;
    assert_eq!(both.len(), changes.len() + refusals.len());
    let all = app.get(&format!("{LOGS}?limit=1000"), &s).await;
    assert!(records(&all).len() > both.len() + reads.len() - 1);

    // The export takes it too, and so does the CLI.
    let csv = app
        .get(&format!("{LOGS}/export?format=csv&kind=refusal"), &s)
        .await;
    assert_eq!(csv.text.lines().count(), 1 + refusals.len(), "{}", csv.text);
    let run = app
        .cli(&[
            "audit", "export", "--org", "default", "--kind", "read", "--output", "-",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.lines().all(|l| {
        let r: Value = serde_json::from_str(l).unwrap();
        r["outcome"] == "success" && r["action"] != "workspace.create"
    }));

    app.get(&format!("{LOGS}?kind=writes"), &s)
        .await
        .assert_problem(400);
}

#[tokio::test]
async fn the_console_shows_changes_and_refusals_unless_asked_for_reads() {
    let app = TestApp::spawn().await;
    let mut c = Console::new(&app);
    c.sign_in_admin().await;
    let page = c.get("/console/workspaces").await;
    assert_eq!(page.status, 200);
    let s = app.admin_session().await;
    app.create_workspace(&s, "prod").await;

    let default = c.get("/console/audit-logs").await;
    assert_eq!(default.status, 200);
    assert!(default.text.contains(r#"data-action="workspace.create""#));
    assert!(!default.text.contains(r#"data-action="workspace.list""#));
    assert!(!default.text.contains(r#"data-action="sat.list""#));
    assert!(
        default
            .text
            .contains(r#"<option value="change,refusal" selected>"#),
        "the default is shown selected"
    );
    let reads = c.get("/console/audit-logs?kind=read").await;
    assert!(reads.text.contains(r#"data-action="sat.list""#));
    assert!(!reads.text.contains(r#"data-action="workspace.create""#));
    let all = c.get("/console/audit-logs?kind=all").await;
    assert!(all.text.contains(r#"data-action="sat.list""#));
    assert!(all.text.contains(r#"data-action="workspace.create""#));
    // A cursor past the head is the form's error, not an empty page.
    let far = c.get("/console/audit-logs?cursor=999999").await;
    assert_eq!(far.status, 400);
    assert!(far.text.contains("past the newest record"));
}

#[tokio::test]
async fn output_dash_writes_to_stdout() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    app.create_workspace(&s, "prod").await;
    let run = app
        .cli(&["audit", "export", "--org", "default", "--output", "-"])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is a record"))
        .collect();
    assert!(lines.iter().any(|r| r["action"] == "workspace.create"));
    assert!(run.stderr.contains("exported"), "summary on stderr");
    assert!(!std::path::Path::new("-").exists(), "no file named `-`");

    let run = app
        .cli(&["audit", "checkpoints", "--org", "default", "--output", "-"])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let cps: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert!(cps["checkpoints"].is_array());
    let run = app.cli(&["audit", "jwks", "--output", "-"]).await;
    let jwks: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert!(jwks["keys"].as_array().is_some_and(|k| !k.is_empty()));
}

/// The refusals that belong to no organization (unknown tokens, no
/// credentials) are read and verified by the operator.
#[tokio::test]
async fn the_unattributed_chain_exports_and_verifies() {
    let app = TestApp::builder()
        .checkpoint_every(3, Duration::from_secs(1))
        .start()
        .await;
    let unknown = format!("scim_sat_{}", "A".repeat(60));
    for _ in 0..4 {
        app.get("/api/v1/workspaces", &unknown).await;
    }
    let nobody = app.client.get(app.url("/api/v1/workspaces")).send().await;
    assert_eq!(nobody.unwrap().status(), 401);
    let head = app.audit_records("unattributed").await.len() as i64;
    assert!(head >= 5, "the refusals were recorded: {head}");
    assert!(
        eventually(Duration::from_secs(10), || async {
            let run = app
                .cli(&["audit", "checkpoints", "--unattributed", "--output", "-"])
                .await;
            let cps: Value = serde_json::from_str(run.stdout.trim()).unwrap();
            cps["checkpoints"]
                .as_array()
                .and_then(|c| c.last())
                .is_some_and(|c| c["seq"] == head)
        })
        .await,
        "the head is checkpointed"
    );
    let dir = std::env::temp_dir()
        .join("scimitar-tests")
        .join(format!("unattributed-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |n: &str| dir.join(n).display().to_string();
    let (export, cps, jwks) = (
        path("u.ndjson"),
        path("u-checkpoints.json"),
        path("jwks.json"),
    );
    for args in [
        vec!["audit", "checkpoints", "--unattributed", "--output", &cps],
        vec!["audit", "jwks", "--output", &jwks],
        vec!["audit", "export", "--unattributed", "--output", &export],
    ] {
        let run = app.cli(&args).await;
        assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
    }
    let text = std::fs::read_to_string(&export).unwrap();
    assert!(text.lines().count() as i64 >= head);
    assert!(
        text.lines()
            .all(|l| l.contains(r#""chain":"unattributed""#))
    );
    assert!(!text.contains(&unknown), "no token value in the export");

    let offline = app
        .cli(&[
            "audit",
            "verify",
            "--file",
            &export,
            "--checkpoints",
            &cps,
            "--jwks",
            &jwks,
            "--json",
        ])
        .await
        .json();
    assert_eq!(offline["ok"], true, "{offline}");
    assert_eq!(offline["chain"], "unattributed");
    assert_eq!(offline["attested_through"], head);
    let in_db = app
        .cli(&["audit", "verify", "--unattributed", "--json"])
        .await
        .json();
    assert_eq!(in_db["ok"], true, "{in_db}");
    assert!(in_db["checkpoints_verified"].as_u64().unwrap() >= 1);

    // Exactly one chain is named.
    let both = app
        .cli(&[
            "audit",
            "export",
            "--org",
            "default",
            "--unattributed",
            "--output",
            "-",
        ])
        .await;
    assert_eq!(both.code, Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The issue's example: a SAT named like a formula reaches a spreadsheet
/// as text (the guard itself is tested with more vectors in audit_api).
#[tokio::test]
async fn a_token_named_like_a_formula_is_text_in_a_csv_export() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    app.create_sat(
        &s,
        json!({ "name": "=HYPERLINK(\"http://x\",\"y\")", "permissions": ["scim:read"] }),
    )
    .await;
    let csv = app
        .get(&format!("{LOGS}/export?format=csv&action=sat.create"), &s)
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.text.contains(r#","'=HYPERLINK(""http://x"",""y"")","#),
        "{}",
        csv.text
    );
    assert!(!csv.text.contains(",=HYPERLINK"), "{}", csv.text);
    assert!(!csv.text.contains(",\"=HYPERLINK"), "{}", csv.text);
}
