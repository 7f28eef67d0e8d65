//! The operator CLI against the same database as a running server.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::support::{TestApp, fresh_database_url};

#[tokio::test]
async fn operator_commands_create_what_the_api_then_sees() {
    let app = TestApp::spawn().await;
    let org = app.cli(&["org", "create", "acme", "--json"]).await.json();
    assert_eq!(org["name"], "acme");
    let org_id = org["id"].as_str().unwrap().to_string();
    let ws = app
        .cli(&[
            "workspace",
            "create",
            "--org",
            "acme",
            "warehouse",
            "--json",
        ])
        .await
        .json();
    assert_eq!(ws["name"], "warehouse");
    assert_eq!(ws["org_id"], org_id.as_str());
    let m = app
        .cli_with_stdin(
            &[
                "member",
                "create",
                "--org",
                &org_id,
                "--user-name",
                "root",
                "--role",
                "admin",
                "--password-stdin",
                "--json",
            ],
            Some("the acme admin password\n"),
        )
        .await
        .json();
    assert_eq!(m["user_name"], "root");
    assert_eq!(m["role"], "admin");
    assert!(m["id"].is_string());

    let t = app
        .cli(&[
            "token",
            "create",
            "--org",
            "acme",
            "--workspace",
            "warehouse",
            "--name",
            "loader",
            "--permission",
            "sources:edit",
            "--permission",
            "destinations:read",
            "--expires-in-days",
            "30",
            "--json",
        ])
        .await
        .json();
    assert_eq!(t["level"], "workspace");
    // Catalogue order, as DESIGN.md lists the resources.
    assert_eq!(
        t["permissions"],
        json!(["sources:edit", "destinations:read"])
    );
    assert!(t["expires_at"].is_string());
    let value = t["token"].as_str().unwrap();
    let me = app.get("/api/v1/tokens/self", value).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["workspace_id"], ws["id"]);

    let list = app
        .cli(&["token", "list", "--org", "acme", "--json"])
        .await
        .json();
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains(&value[31..63]),
        "listing never shows a value"
    );

    let session = app
        .login("acme", "root", "the acme admin password")
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let via_api = app.get("/api/v1/service-access-tokens", &session).await;
    assert_eq!(via_api.body["tokens"][0]["created_by"]["kind"], "operator");

    let revoked = app
        .cli(&[
            "token",
            "revoke",
            "--org",
            "acme",
            t["id"].as_str().unwrap(),
            "--json",
        ])
        .await
        .json();
    assert_eq!(revoked["status"], "revoked");
    // The CLI is another process: the server hears of it within a second.
    let refused = crate::support::eventually(crate::support::REVOCATION_REACH, || async {
        app.get("/api/v1/tokens/self", value).await.status == 401
    })
    .await;
    assert!(
        refused,
        "a revocation by the CLI must reach the server within 1 s"
    );

    let records = app.audit_records(&org_id).await;
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for expected in [
        "org.create",
        "workspace.create",
        "member.create",
        "sat.create",
        "sat.revoke",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let operator_actions = [
        "org.create",
        "workspace.create",
        "member.create",
        "sat.create",
        "sat.revoke",
    ];
    for r in records
        .iter()
        .filter(|r| operator_actions.contains(&r["action"].as_str().unwrap()))
    {
        assert_eq!(r["actor_kind"], "operator", "{r}");
    }
    assert!(
        !records
            .iter()
            .any(|r| r.to_string().contains(&value[31..63]))
    );
    assert!(
        !records
            .iter()
            .any(|r| r.to_string().contains("the acme admin password"))
    );
}

#[tokio::test]
async fn cli_refuses_bad_input_with_one_json_error() {
    let app = TestApp::spawn().await;
    let run = app
        .cli(&[
            "token",
            "create",
            "--org",
            "nope",
            "--name",
            "x",
            "--permission",
            "scim:read",
            "--json",
        ])
        .await;
    assert_eq!(run.code, Some(1));
    let err: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("one JSON object");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not found")
    );

    let run = app
        .cli(&[
            "token",
            "create",
            "--org",
            "default",
            "--name",
            "x",
            "--permission",
            "sources:read",
            "--json",
        ])
        .await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout.contains("workspace permission"),
        "{}",
        run.stdout
    );

    let run = app.cli(&["org", "create", "default", "--json"]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("already exists"));

    let run = app
        .cli_with_stdin(
            &[
                "member",
                "create",
                "--org",
                "default",
                "--user-name",
                "x",
                "--role",
                "admin",
                "--password-stdin",
                "--json",
            ],
            Some("short\n"),
        )
        .await;
    assert_eq!(run.code, Some(2));

    let run = app
        .cli(&[
            "member",
            "create",
            "--org",
            "default",
            "--user-name",
            "x",
            "--role",
            "king",
        ])
        .await;
    assert_eq!(run.code, Some(2), "clap refuses an unknown role");
    // Nothing half-made: only the bootstrap admin exists.
    let s = app.admin_session().await;
    assert_eq!(
        app.get("/api/v1/members", &s).await.body["members"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn human_output_shows_the_value_once_and_lists_without_it() {
    let app = TestApp::spawn().await;
    let run = app
        .cli(&[
            "token",
            "create",
            "--org",
            "default",
            "--name",
            "human",
            "--permission",
            "scim:read",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let value = run
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("scim_sat_"))
        .expect("the value is printed")
        .to_string();
    let list = app.cli(&["token", "list", "--org", "default"]).await;
    assert!(list.stdout.contains("human"));
    assert!(!list.stdout.contains(&value));
}

#[tokio::test]
async fn token_create_takes_ids_as_well_as_names() {
    let app = TestApp::spawn().await;
    let org = app.cli(&["org", "create", "acme", "--json"]).await.json();
    let org_id = org["id"].as_str().unwrap();
    let ws = app
        .cli(&["workspace", "create", "--org", org_id, "wh", "--json"])
        .await
        .json();
    let ws_id = ws["id"].as_str().unwrap();
    let t = app
        .cli(&[
            "token",
            "create",
            "--org",
            org_id,
            "--workspace",
            ws_id,
            "--name",
            "by-id",
            "--permission",
            "sources:read",
            "--json",
        ])
        .await
        .json();
    assert_eq!(t["level"], "workspace");
    assert_eq!(t["workspace_id"], ws_id);
    let me = app
        .get("/api/v1/tokens/self", t["token"].as_str().unwrap())
        .await;
    assert_eq!(me.body["org_id"], org_id);
    assert_eq!(me.body["workspace_id"], ws_id);
}

#[tokio::test]
async fn names_shaped_like_ids_are_refused() {
    let app = TestApp::spawn().await;
    let id = uuid::Uuid::new_v4().to_string();
    for args in [
        vec!["org", "create", id.as_str(), "--json"],
        vec![
            "workspace",
            "create",
            "--org",
            "default",
            id.as_str(),
            "--json",
        ],
    ] {
        let run = app.cli(&args).await;
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.stdout);
        let err: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("must not look like an id"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn migrate_prints_one_json_object() {
    let app = TestApp::spawn().await;
    let out = app.cli(&["migrate", "--json"]).await.json();
    assert_eq!(out["migrated"], true);
    let backend = if crate::support::on_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(out["backend"], backend);
}

/// A `scimitar serve` child process whose stderr is collected line by line.
struct Served {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Served {
    fn start(url: &str) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scimitar"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
            .env_remove("SCIMITAR_TOKEN_PEPPER")
            .env_remove("SCIMITAR_KEY_ENCRYPTION_KEY")
            // Debug logging, to show that even verbose logs carry no secret.
            .env("SCIMITAR_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Served { child, lines }
    }

    /// Waits for a line containing `needle` and returns it.
    async fn line_with(&self, needle: &str) -> String {
        for _ in 0..200 {
            if let Some(l) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "no line with {needle:?} in {:?}",
            self.lines.lock().unwrap()
        );
    }

    async fn addr(&self) -> String {
        let line = self.line_with("scimitar listening").await;
        line.split("addr=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    }

    fn stop(mut self) -> Vec<String> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        self.lines.lock().unwrap().clone()
    }
}

/// `scimitar serve` on an empty database prints a one-time admin password,
/// which signs in; a restart on the same database prints none; no log line
/// ever carries a session or token value.
#[tokio::test]
async fn serve_bootstraps_an_empty_database_once_and_logs_no_secret() {
    let url = fresh_database_url().await;
    let first = Served::start(&url);
    let line = first
        .line_with("One-time admin password (shown only now): ")
        .await;
    let password = line
        .split("(shown only now): ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    let base = format!("http://{}", first.addr().await);
    let client = crate::support::http_client();
    let login = |password: String| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let body =
                json!({ "organization": "default", "user_name": "admin", "password": password });
            client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // The printed password is right, but it stays in the service's log:
    // it signs nobody in, it only serves to set a new one.
    let refused = login(password.clone()).await;
    assert_eq!(refused.status(), 403);
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "urn:scimitar:problem:password-change-required"
    );
    let own = "the operator's own password";
    let weak = client
        .post(format!("{base}/api/v1/auth/password"))
        .json(&json!({ "organization": "default", "user_name": "admin",
                       "password": password, "new_password": "short" }))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), 400, "the policy applies");
    let changed = client
        .post(format!("{base}/api/v1/auth/password"))
        .json(&json!({ "organization": "default", "user_name": "admin",
                       "password": password, "new_password": own }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    // From now on the printed one stops working, and the new one signs in.
    assert_eq!(login(password.clone()).await.status(), 401);
    let again = client
        .post(format!("{base}/api/v1/auth/password"))
        .json(&json!({ "organization": "default", "user_name": "admin",
                       "password": password, "new_password": "yet another password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        401,
        "the printed one cannot change it again"
    );
    let login = login(own.to_string()).await;
    assert_eq!(login.status(), 200);
    let session = login.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let created: serde_json::Value = client
        .post(format!("{base}/api/v1/service-access-tokens"))
        .bearer_auth(&session)
        .json(&json!({ "name": "logged?", "permissions": ["scim:read"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let value = created["token"].as_str().unwrap().to_string();
    let me = client
        .get(format!("{base}/api/v1/tokens/self"))
        .bearer_auth(&value)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let bad = client
        .get(format!("{base}/api/v1/tokens/self"))
        .bearer_auth(&value[..60])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let lines = first.stop();
    assert!(lines.len() > 3, "debug logging produced lines: {lines:?}");
    // Without a key-encryption key, a warning says what that means and
    // names the variable, never the generated key.
    let warning = lines
        .iter()
        .find(|l| l.contains("WARN") && l.contains("SCIMITAR_KEY_ENCRYPTION_KEY is not set"))
        .unwrap_or_else(|| panic!("no key-encryption key warning in {lines:?}"));
    assert!(
        warning.contains("only as safe as the database"),
        "{warning}"
    );
    let db = scimitar::store::connect(&url.parse().unwrap(), 1)
        .await
        .unwrap();
    let kek = scimitar::store::settings::get(&db, scimitar::signing::GENERATED_KEK_SETTING)
        .await
        .unwrap()
        .expect("a generated key-encryption key");
    db.close().await;
    for l in &lines {
        assert!(
            !l.contains(&value[31..63]),
            "a log line carries a token secret: {l}"
        );
        assert!(!l.contains(&session), "a log line carries a session: {l}");
        assert!(
            !l.contains(&kek),
            "a log line carries the key-encryption key: {l}"
        );
    }

    let second = Served::start(&url);
    second.addr().await;
    let lines = second.stop();
    assert!(
        !lines.iter().any(|l| l.contains("One-time admin password")),
        "bootstrap ran twice"
    );
    crate::support::drop_database(&url);
}
