//! The operator commands added for running scimitar without the console:
//! member list, activate and reset-password (a one-time password that only
//! serves to choose one's own), workspace list and delete, token show and
//! rotate, shell completions, and help that lists global options once.

use serde_json::json;

use crate::support::{MEMBER_PASSWORD, REVOCATION_REACH, TestApp, eventually};

#[tokio::test]
async fn members_are_listed_activated_and_given_a_one_time_password() {
    let app = TestApp::spawn().await;
    let (id, _) = app.signed_in_member("default", "carol", "admin").await;

    let list = app
        .cli(&["--json", "member", "list", "--org", "default"])
        .await
        .json();
    let names: Vec<&str> = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"admin") && names.contains(&"carol"),
        "{list}"
    );
    let text = app.cli(&["member", "list", "--org", "default"]).await;
    assert!(text.stdout.starts_with("ID"), "{}", text.stdout);

    app.cli(&[
        "--json",
        "member",
        "deactivate",
        "--org",
        "default",
        "carol",
    ])
    .await
    .json();
    app.login("default", "carol", MEMBER_PASSWORD)
        .await
        .assert_problem(401);
    let back = app
        .cli(&["--json", "member", "activate", "--org", "default", &id])
        .await
        .json();
    assert_eq!(back["active"], true);
    assert_eq!(
        app.login("default", "carol", MEMBER_PASSWORD).await.status,
        200
    );

    // A one-time password: printed once, good only to choose one's own.
    let reset = app
        .cli(&[
            "--json",
            "member",
            "reset-password",
            "--org",
            "default",
            "carol",
        ])
        .await
        .json();
    let one_time = reset["password"].as_str().unwrap().to_string();
    crate::capture::note_secret(&one_time);
    assert_eq!(reset["password_change_required"], true);
    app.login("default", "carol", MEMBER_PASSWORD)
        .await
        .assert_problem(401);
    let r = app.login("default", "carol", &one_time).await;
    r.assert_problem(403);
    assert_eq!(
        r.body["type"],
        "urn:scimitar:problem:password-change-required"
    );
    let body = json!({ "organization": "default", "user_name": "carol",
                       "password": one_time, "new_password": one_time });
    app.request(
        reqwest::Method::POST,
        "/api/v1/auth/password",
        None,
        Some(body),
    )
    .await
    .assert_problem(400);
    let mine = "she chose this one herself";
    let body = json!({ "organization": "default", "user_name": "carol",
                       "password": one_time, "new_password": mine });
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/password",
            None,
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["access_token"].is_string());
    app.login("default", "carol", &one_time)
        .await
        .assert_problem(401);
    assert_eq!(app.login("default", "carol", mine).await.status, 200);

    // With --password-stdin the operator's choice signs in as it is.
    let chosen = "an operator chosen password";
    app.cli_with_stdin(
        &[
            "--json",
            "member",
            "reset-password",
            "--org",
            "default",
            "carol",
            "--password-stdin",
        ],
        Some(&format!("{chosen}\n")),
    )
    .await
    .json();
    assert_eq!(app.login("default", "carol", chosen).await.status, 200);

    let records = app
        .audit_records(&app.org_of(&app.admin_session().await).await)
        .await;
    let resets: Vec<_> = records
        .iter()
        .filter(|r| r["action"] == "member.password_reset")
        .collect();
    assert_eq!(resets.len(), 2);
    assert_eq!(resets[0]["actor_kind"], "operator");
    let changes = records
        .iter()
        .filter(|r| r["action"] == "auth.password" && r["outcome"] == "success")
        .count();
    // The start's own change of the bootstrap password, and carol's.
    assert_eq!(changes, 2);
}

#[tokio::test]
async fn workspaces_are_listed_and_deleted_and_tokens_shown_and_rotated() {
    let app = TestApp::spawn().await;
    for name in ["prod", "a-much-longer-workspace-name"] {
        app.cli(&["--json", "workspace", "create", "--org", "default", name])
            .await
            .json();
    }
    let sat = app
        .cli(&[
            "--json",
            "token",
            "create",
            "--org",
            "default",
            "--workspace",
            "prod",
            "--name",
            "etl",
            "--permission",
            "sources:read",
        ])
        .await
        .json();
    let id = sat["id"].as_str().unwrap().to_string();
    let old = sat["token"].as_str().unwrap().to_string();

    let list = app
        .cli(&["--json", "workspace", "list", "--org", "default"])
        .await
        .json();
    assert_eq!(list["workspaces"].as_array().unwrap().len(), 2, "{list}");

    let shown = app
        .cli(&["--json", "token", "show", "--org", "default", &id])
        .await
        .json();
    assert_eq!(shown["name"], "etl");
    assert!(shown.get("token").is_none(), "never the value");
    let text = app.cli(&["token", "show", "--org", "default", &id]).await;
    assert!(text.stdout.contains("permissions") && !text.stdout.contains(&old));

    let rotated = app
        .cli(&["--json", "token", "rotate", "--org", "default", &id])
        .await
        .json();
    let new = rotated["token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(app.get("/api/v1/tokens/self", new).await.status, 200);
    // The CLI is another process: the server hears of its changes within
    // a second (its token cache).
    let app = &app;
    let refused = |value: String| async move {
        eventually(REVOCATION_REACH, || async {
            app.get("/api/v1/tokens/self", &value).await.status == 401
        })
        .await
    };
    assert!(refused(old.clone()).await, "the old secret dies within 1 s");

    let gone = app
        .cli(&["--json", "workspace", "delete", "--org", "default", "prod"])
        .await
        .json();
    assert_eq!(gone["deleted"], true);
    assert!(
        refused(new.to_string()).await,
        "the workspace's token dies within 1 s"
    );
    let list = app
        .cli(&["--json", "workspace", "list", "--org", "default"])
        .await
        .json();
    assert_eq!(list["workspaces"].as_array().unwrap().len(), 1, "{list}");

    // The text list lines its columns up.
    let text = app.cli(&["token", "list", "--org", "default"]).await;
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert!(lines[0].starts_with("ID"), "{}", text.stdout);
    let status_at = lines[0].find("STATUS").unwrap();
    for l in &lines[1..] {
        assert!(l[status_at..].starts_with("revoked") || l[status_at..].starts_with("active"));
    }
}

#[tokio::test]
async fn completions_and_help() {
    let app = TestApp::spawn().await;
    for shell in ["bash", "zsh", "fish"] {
        let run = app.cli(&["completions", shell]).await;
        assert_eq!(run.code, Some(0), "{shell}: {}", run.stderr);
        assert!(run.stdout.contains("reset-password"), "{shell}");
    }
    let bad = app.cli(&["completions", "powershell"]).await;
    assert_eq!(bad.code, Some(2));

    let top = app.cli(&["--help"]).await.stdout;
    assert_eq!(top.matches("--database-url <").count(), 1, "{top}");
    let sub = app.cli(&["member", "create", "--help"]).await.stdout;
    assert!(!sub.contains("--database-url <"), "{sub}");
    assert!(sub.contains("possible values: admin, member"), "{sub}");
    let serve = app.cli(&["serve", "--help"]).await.stdout;
    assert!(!serve.contains("=]"), "{serve}");
}
