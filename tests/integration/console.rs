//! The admin console over real HTTP: sign-in refusals (wrong password,
//! non-admin member), expired sessions, CSRF refusals that change nothing,
//! cookie attributes and security headers, the one-time token view, HTML
//! escaping, and audit records identical to the API's but for the actor.
//! (The whole flow in a real browser is tests/browser/.)

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console_client::{Console, Page};
use crate::support::{MEMBER_PASSWORD, TestApp};

async fn org_chain(app: &TestApp, session: &str) -> String {
    let me = app.get("/api/v1/tokens/self", session).await;
    me.body["org_id"].as_str().unwrap().to_string()
}

fn last_with_action<'r>(records: &'r [Value], action: &str) -> &'r Value {
    records
        .iter()
        .rev()
        .find(|r| r["action"] == action)
        .unwrap_or_else(|| panic!("no {action} record"))
}

#[tokio::test]
async fn console_sign_in_sets_a_strict_http_only_session_cookie_and_security_headers() {
    let app = TestApp::spawn().await;
    let mut c = Console::new(&app);

    let r = c.get("/console/tokens").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/console/sign-in");
    for entry in ["/console", "/console/"] {
        let r = c.get(entry).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{entry}");
        assert_eq!(r.header("location"), "/console/tokens", "{entry}");
    }

    let form = c.get("/console/sign-in").await;
    assert_eq!(form.status, StatusCode::OK);
    let csp = form.header("content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(form.header("x-frame-options"), "DENY");
    assert_eq!(form.header("referrer-policy"), "no-referrer");
    assert_eq!(form.header("x-content-type-options"), "nosniff");
    assert_eq!(form.header("cache-control"), "no-store");
    assert!(!form.text.contains("<script>"), "no inline script");
    for asset in ["/console/assets/console.css", "/console/assets/console.js"] {
        let a = c.get(asset).await;
        assert_eq!(a.status, StatusCode::OK, "{asset}");
        assert!(
            a.header("content-security-policy")
                .contains("default-src 'none'")
        );
    }

    let pw = app.admin_password.clone();
    let r = c.sign_in("default", "admin", &pw).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let cookie = r.set_cookie("scimitar_console").expect("session cookie");
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=900",
    ] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: no Secure: {cookie}"
    );
    let page = c.get("/console/tokens").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Signed in as"), "{}", page.text);
    assert_eq!(page.header("x-frame-options"), "DENY");

    // Behind a TLS-terminating proxy the cookie is Secure.
    let mut tls = Console::new(&app);
    let form = tls.get("/console/sign-in").await;
    let req = tls
        .http
        .post(app.url("/console/sign-in"))
        .header("x-forwarded-proto", "https")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf", form.csrf().as_str()),
            ("organization", "default"),
            ("user_name", "admin"),
            ("password", &pw),
        ]);
    let r = tls.send(req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(
        r.set_cookie("scimitar_console")
            .unwrap()
            .contains("; Secure")
    );

    // Sign-out forgets the cookie and ends the session: a copy of the
    // cookie taken before is worthless, in the console and on the API.
    let copied = c.jar["scimitar_console"].clone();
    let csrf = page.csrf();
    let r = c.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.set_cookie("scimitar_console")
            .unwrap()
            .contains("Max-Age=0")
    );
    let r = c.get("/console/tokens").await;
    assert_eq!(r.header("location"), "/console/sign-in");
    let mut thief = Console::new(&app);
    thief
        .jar
        .insert("scimitar_console".to_string(), copied.clone());
    let r = thief.get("/console/tokens").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    app.get("/api/v1/tokens/self", &copied)
        .await
        .assert_problem(401);
}

#[tokio::test]
async fn console_refuses_a_wrong_password_and_records_the_failed_sign_in() {
    let app = TestApp::spawn().await;
    let mut c = Console::new(&app);
    let r = c
        .sign_in("default", "admin", "not the password at all")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.text
            .contains("Wrong organization, user name or password.")
    );
    assert!(r.set_cookie("scimitar_console").is_none());
    assert!(
        !r.text.contains("not the password at all"),
        "password echoed"
    );
    let r = c.get("/console/tokens").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "still signed out");

    let session = app.admin_session().await;
    let records = app.audit_records(&org_chain(&app, &session).await).await;
    let failed = records
        .iter()
        .find(|r| r["action"] == "auth.login" && r["outcome"] == "failure")
        .expect("failed sign-in recorded");
    // Nobody signed in: no session exists, so the actor is anonymous.
    assert_eq!(failed["actor_kind"], "anonymous");
    assert_eq!(failed["http_status"], 401);
    assert!(!failed.to_string().contains("not the password"));
}

#[tokio::test]
async fn console_refuses_members_who_are_not_admins() {
    let app = TestApp::spawn().await;
    let (member_id, _) = app.signed_in_member("default", "bob", "member").await;
    let mut c = Console::new(&app);
    let r = c.sign_in("default", "bob", MEMBER_PASSWORD).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("only organization admins"), "{}", r.text);
    assert!(r.set_cookie("scimitar_console").is_none());
    let r = c.get("/console/tokens").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "no session");

    let session = app.admin_session().await;
    let records = app.audit_records(&org_chain(&app, &session).await).await;
    let denied = last_with_action(&records, "auth.denied");
    assert_eq!(denied["actor_id"], member_id.as_str());
    assert_eq!(denied["target_id"], "POST /console/sign-in");
    assert_eq!(denied["http_status"], 403);
    let changes: Value = serde_json::from_str(denied["changes"].as_str().unwrap()).unwrap();
    assert_eq!(
        changes["missing_permission"],
        "service_access_tokens:manage"
    );
}

#[tokio::test]
async fn console_sends_an_expired_session_back_to_sign_in() {
    // Three seconds: a loaded run (the full PostgreSQL suite) took over
    // one between the sign-in and the page it leads to.
    let app = TestApp::builder().session_ttl_seconds(3).start().await;
    let mut c = Console::new(&app);
    let csrf = c.sign_in_admin().await;
    let expired_cookie = c.jar.get("scimitar_console").cloned();
    tokio::time::sleep(Duration::from_millis(4100)).await;

    let r = c.get("/console/tokens").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/console/sign-in?expired=1");
    assert!(
        r.set_cookie("scimitar_console")
            .unwrap()
            .contains("Max-Age=0")
    );
    let page = c.get("/console/sign-in?expired=1").await;
    assert!(page.text.contains("Your session has expired"));

    // A form posted with the expired session changes nothing either.
    let mut stale = Console::new(&app);
    stale.jar.insert(
        "scimitar_console".into(),
        expired_cookie.expect("session cookie").to_string(),
    );
    let r = stale
        .post(
            "/console/workspaces",
            &[("csrf", &csrf), ("name", "too-late")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Read from the database: a new session of this app lives three seconds,
    // which a loaded machine can spend before the list is answered.
    let workspaces: i64 = scimitar::on_db!(app.db(), pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM workspaces").fetch_one(pool).await
    })
    .unwrap();
    assert_eq!(workspaces, 0);
}

#[tokio::test]
async fn console_refuses_forms_without_their_csrf_token_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut c = Console::new(&app);
    let csrf = c.sign_in_admin().await;
    let mut other = Console::new(&app);
    let other_csrf = other.sign_in_admin().await;
    assert_ne!(csrf, other_csrf, "tokens are bound to the session");

    let create = |token: Option<&str>| {
        let mut form = vec![
            ("level", "organization".to_string()),
            ("name", "sneaky".to_string()),
            ("permission", "scim:read".to_string()),
        ];
        if let Some(t) = token {
            form.push(("csrf", t.to_string()));
        }
        form
    };
    for token in [None, Some(""), Some("forged"), Some(other_csrf.as_str())] {
        let form = create(token);
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = c.post("/console/tokens", &pairs).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{token:?}");
        assert!(r.text.contains("nothing was changed"), "{}", r.text);
        assert!(r.token_value().is_none());
    }
    // The right token from another site is refused too.
    let form = create(Some(&csrf));
    let req = c
        .http
        .post(app.url("/console/tokens"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&form);
    let r = c.send(req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.post("/console/workspaces", &[("name", "sneaky")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let session = app.admin_session().await;
    let tokens = app.get("/api/v1/service-access-tokens", &session).await;
    assert_eq!(tokens.body["tokens"], json!([]), "no token created");
    let spaces = app.get("/api/v1/workspaces", &session).await;
    assert_eq!(spaces.body["workspaces"], json!([]), "no workspace created");

    // A revoke without its token leaves the token alone.
    let (id, _) = app
        .create_sat(
            &session,
            json!({ "name": "keep", "permissions": ["scim:read"] }),
        )
        .await;
    let r = c.post(&format!("/console/tokens/{id}/revoke"), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let view = app
        .get(&format!("/api/v1/service-access-tokens/{id}"), &session)
        .await;
    assert_eq!(view.body["status"], "active");

    // The sign-in form is protected as well.
    let mut fresh = Console::new(&app);
    let pw = app.admin_password.clone();
    let r = fresh
        .post(
            "/console/sign-in",
            &[
                ("organization", "default"),
                ("user_name", "admin"),
                ("password", &pw),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.set_cookie("scimitar_console").is_none());

    // With its token the same form works.
    let r = c
        .post("/console/workspaces", &[("csrf", &csrf), ("name", "prod")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
}

#[tokio::test]
async fn console_shows_a_new_token_value_once() {
    let app = TestApp::spawn().await;
    let mut c = Console::new(&app);
    let csrf = c.sign_in_admin().await;
    let r = c
        .post(
            "/console/tokens",
            &[
                ("csrf", &csrf),
                ("level", "organization"),
                ("name", "okta"),
                ("description", ""),
                ("expires_in_days", "30"),
                ("permission", "scim:read"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("cache-control"), "no-store");
    assert!(r.text.contains("It will not be shown again"));
    let value = r.token_value().expect("value shown");
    let users = app.get("/scim/v2/Users", &value).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.text);

    let list = c.get("/console/tokens").await;
    assert!(list.text.contains("okta"));
    assert!(
        list.token_value().is_none(),
        "value shown again on the list"
    );
    let id = &value[9..31];
    for path in [
        format!("/console/tokens/{id}/rotate"),
        format!("/console/tokens/{id}/revoke"),
    ] {
        let page = c.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.token_value().is_none(), "value shown on {path}");
    }

    // Rotation shows the new value once; the old one stops working.
    let r = c
        .post(
            &format!("/console/tokens/{id}/rotate"),
            &[("csrf", &csrf), ("grace_period_seconds", "0")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rotated = r.token_value().expect("new value shown");
    assert_ne!(rotated, value);
    assert_eq!(
        app.get("/scim/v2/Users", &value).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/scim/v2/Users", &rotated).await.status,
        StatusCode::OK
    );
    assert!(c.get("/console/tokens").await.token_value().is_none());
}

#[tokio::test]
async fn console_changes_are_audited_exactly_as_the_api_records_them() {
    let app = TestApp::spawn().await;
    let session = app.admin_session().await;
    let pat = app
        .post(
            "/api/v1/personal-access-tokens",
            &session,
            json!({ "name": "api" }),
        )
        .await;
    let pat = pat.body["token"].as_str().unwrap().to_string();
    let mut c = Console::new(&app);
    let csrf = c.sign_in_admin().await;

    // The same workspace, token, rotation and revocation, once each way.
    let r = c
        .post(
            "/console/workspaces",
            &[("csrf", &csrf), ("name", "console-ws")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let api_ws = app.create_workspace(&pat, "api-ws").await;
    let spaces = app.get("/api/v1/workspaces", &session).await;
    let console_ws = spaces.body["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "console-ws")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let r = c
        .post(
            "/console/tokens",
            &[
                ("csrf", &csrf),
                ("level", "workspace"),
                ("name", "transformer"),
                ("workspace_id", &console_ws),
                ("level.transformations", "edit"),
                ("level.sources", "read"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let console_id = r.token_value().unwrap()[9..31].to_string();
    let (api_id, _) = app
        .create_sat(
            &pat,
            json!({ "name": "transformer", "workspace_id": api_ws,
                    "permissions": ["transformations:edit", "sources:read"] }),
        )
        .await;
    let r = c
        .post(
            &format!("/console/tokens/{console_id}/rotate"),
            &[("csrf", &csrf), ("grace_period_seconds", "3600")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/service-access-tokens/{api_id}/rotate"),
            &pat,
            json!({ "grace_period_seconds": 3600 }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = c
        .post(
            &format!("/console/tokens/{console_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        app.delete(&format!("/api/v1/service-access-tokens/{api_id}"), &pat)
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    let records = app.audit_records(&org_chain(&app, &session).await).await;
    let find = |action: &str, target: &str| -> Value {
        records
            .iter()
            .find(|r| r["action"] == action && r["target_id"] == target)
            .unwrap_or_else(|| panic!("{action} on {target} not recorded"))
            .clone()
    };
    // Fields that differ only because the objects or the calls differ.
    let same_but = |console: &Value, api: &Value, ignore: &[&str]| {
        let skip = [
            "id",
            "seq",
            "occurred_at",
            "actor_kind",
            "actor_id",
            "actor_display",
            "target_id",
            "target_display",
            "workspace_id",
            "request_id",
            "user_agent",
            "prev_hash",
            "hash",
            "changes",
        ];
        for (k, v) in console.as_object().unwrap() {
            if !skip.contains(&k.as_str()) && !ignore.contains(&k.as_str()) {
                assert_eq!(v, &api[k], "{k} differs: console {console} api {api}");
            }
        }
        assert_eq!(console["actor_kind"], "member_session");
        assert_eq!(api["actor_kind"], "pat");
        assert_eq!(console["actor_display"], "admin");
    };
    let changes = |r: &Value| -> Value {
        r["changes"]
            .as_str()
            .map(|c| serde_json::from_str(c).unwrap())
            .unwrap_or(Value::Null)
    };

    let (cw, aw) = (
        find("workspace.create", &console_ws),
        find("workspace.create", &api_ws),
    );
    same_but(&cw, &aw, &[]);
    assert_eq!(changes(&cw), changes(&aw));

    let (cc, ac) = (find("sat.create", &console_id), find("sat.create", &api_id));
    same_but(&cc, &ac, &[]);
    let (mut c1, mut a1) = (changes(&cc), changes(&ac));
    assert_eq!(
        c1["permissions"],
        json!(["sources:read", "transformations:edit"])
    );
    c1["workspace_id"] = Value::Null;
    a1["workspace_id"] = Value::Null;
    assert_eq!(c1, a1);
    assert_eq!(cc["workspace_id"], console_ws.as_str());

    let (cr, ar) = (find("sat.rotate", &console_id), find("sat.rotate", &api_id));
    same_but(&cr, &ar, &[]);
    assert_eq!(changes(&cr)["grace_period_seconds"], 3600);
    assert_eq!(changes(&ar)["grace_period_seconds"], 3600);

    let (cv, av) = (find("sat.revoke", &console_id), find("sat.revoke", &api_id));
    same_but(&cv, &av, &[]);
    assert_eq!(changes(&cv), changes(&av));

    // Page views are in the trail under the API's names.
    assert!(records.iter().any(|r| r["action"] == "sat.list"
        && r["actor_kind"] == "member_session"
        && r["target_id"] == "GET /console/tokens"));
}

#[tokio::test]
async fn console_pages_escape_values_and_refuse_mistakes_without_errors() {
    let app = TestApp::spawn().await;
    let mut c = Console::new(&app);
    let csrf = c.sign_in_admin().await;

    let evil = "<script>alert(1)</script>";
    let r = c
        .post("/console/workspaces", &[("csrf", &csrf), ("name", evil)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = c.get(r.header("location")).await;
    assert!(!page.text.contains(evil), "unescaped");
    assert!(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let dup = c
        .post("/console/workspaces", &[("csrf", &csrf), ("name", evil)])
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.text);

    // Form mistakes come back as the form with the reason, never a 500.
    let cases: [(&[(&str, &str)], StatusCode); 5] = [
        (
            &[("level", "organization"), ("name", "x")],
            StatusCode::BAD_REQUEST,
        ),
        (
            &[
                ("level", "organization"),
                ("name", "x"),
                ("permission", "sources:read"),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            &[
                ("level", "organization"),
                ("name", "x"),
                ("permission", "scim:read"),
                ("expires_in_days", "soon"),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            &[
                ("level", "workspace"),
                ("name", "x"),
                ("workspace_id", "not-a-uuid"),
                ("level.sources", "read"),
            ],
            StatusCode::NOT_FOUND,
        ),
        (
            &[
                ("level", "organization"),
                ("name", "x"),
                ("permission", "scim:read"),
                ("allowed_cidrs", "10.0.0.0/8, not-a-network"),
            ],
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (fields, status) in cases {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let r = c.post("/console/tokens", &form).await;
        assert_eq!(r.status, status, "{fields:?}: {}", r.text);
        assert!(r.text.contains("id=\"form-error\""), "{}", r.text);
    }
    assert!(c.get("/console/tokens/nope/revoke").await.status == StatusCode::NOT_FOUND);
    assert_eq!(
        c.post("/console/tokens/nope/revoke", &[("csrf", &csrf)])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get("/console/nowhere").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get("/console/audit-logs/not-a-uuid").await.status,
        StatusCode::NOT_FOUND
    );
    let bad = c.get("/console/audit-logs?since=yesterday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("RFC 3339"));
    let r = c
        .http
        .post(app.url("/console/workspaces"))
        .header("content-type", "application/json")
        .body("{}");
    assert_eq!(c.send(r).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Audit pages: filters, detail, export and verification.
    let list = c
        .get("/console/audit-logs?action=workspace.*&since=2000-01-01T00:00")
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(list.text.contains("workspace.create"));
    assert!(!list.text.contains(">auth.login<"), "filtered out");
    let marker = "data-label=\"When\"><div><a href=\"";
    let start = list.text.find(marker).expect("a record link") + marker.len();
    let href: String = list.text[start..]
        .chars()
        .take_while(|ch| *ch != '"')
        .collect();
    let detail = c.get(&href).await;
    assert_eq!(detail.status, StatusCode::OK, "{href}");
    assert!(detail.text.contains("Hash"));
    let csv = c
        .get("/console/audit-logs/export?format=csv&action=workspace.create&outcome=success")
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert_eq!(csv.text.lines().count(), 2, "{}", csv.text);
    let verify = c.get("/console/audit-logs/verify").await;
    assert_eq!(verify.status, StatusCode::OK);
    assert!(verify.text.contains("Chain intact."));
}

#[tokio::test]
async fn console_audit_logs_page_through_the_chain_newest_first() {
    let app = TestApp::spawn().await;
    let session = app.admin_session().await;
    for _ in 0..60 {
        assert_eq!(
            app.get("/api/v1/workspaces", &session).await.status,
            StatusCode::OK
        );
    }
    let mut c = Console::new(&app);
    c.sign_in_admin().await;
    let seqs = |p: &Page| -> Vec<i64> {
        p.text
            .match_indices("aria-label=\"Record ")
            .map(|(i, m)| {
                let rest = &p.text[i + m.len()..];
                rest[..rest.find(',').unwrap()].parse().unwrap()
            })
            .collect()
    };
    // Reads: the page shows them only when asked (its pager keeps asking).
    let first = c
        .get("/console/audit-logs?action=workspace.list&kind=read")
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let page1 = seqs(&first);
    assert_eq!(page1.len(), 50);
    assert!(page1.windows(2).all(|w| w[0] > w[1]), "newest first");
    let marker = "href=\"/console/audit-logs?";
    let next = first
        .text
        .match_indices(marker)
        .map(|(i, _)| &first.text[i + 6..])
        .map(|rest| rest[..rest.find('"').unwrap()].replace("&amp;", "&"))
        .find(|href| href.contains("cursor="))
        .expect("a link to older records");
    let second = c.get(&next).await;
    let page2 = seqs(&second);
    assert_eq!(page2.len(), 10, "{next}");
    assert!(page2[0] < *page1.last().unwrap(), "no overlap");
    assert!(!second.text.contains("rel=\"next\""), "last page");
}

#[tokio::test]
async fn console_csv_export_never_carries_a_live_formula() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    crate::audit_api::plant_formulas(&app, &s).await;
    let mut c = Console::new(&app);
    c.sign_in_admin().await;
    let csv = c.get("/console/audit-logs/export?format=csv").await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    crate::audit_api::assert_formulas_defused(&csv.text);
}

#[tokio::test]
async fn console_changes_members_through_the_apis_rules() {
    let app = TestApp::spawn().await;
    let (bob, bob_session) = app.signed_in_member("default", "bob", "member").await;
    let mut c = Console::new(&app);
    let csrf = c.sign_in_admin().await;
    let page = c.get("/console/members").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(&bob), "{}", page.text);
    assert!(
        page.text
            .contains("href=\"/console/members\" aria-current=\"page\"")
    );

    // A form without its CSRF token changes nothing.
    let path = format!("/console/members/{bob}");
    let r = c.post(&path, &[("active", "false")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/v1/tokens/self", &bob_session).await.status,
        StatusCode::OK
    );

    // Deactivating ends the member's session, as through the API.
    let r = c.post(&path, &[("csrf", &csrf), ("active", "false")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.header("location"), "/console/members?updated=bob");
    app.get("/api/v1/tokens/self", &bob_session)
        .await
        .assert_problem(401);

    // The last admin stays: the form comes back with the reason.
    let session = app.admin_session().await;
    let me = app.get("/api/v1/tokens/self", &session).await.body["member_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c
        .post(
            &format!("/console/members/{me}"),
            &[("csrf", &csrf), ("role", "member")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("id=\"form-error\""), "{}", r.text);
    assert!(r.text.contains("without an active admin"), "{}", r.text);

    let cases = [
        (path.clone(), "role", "king", StatusCode::BAD_REQUEST),
        (path.clone(), "active", "maybe", StatusCode::BAD_REQUEST),
        (
            format!("/console/members/{}", uuid::Uuid::new_v4()),
            "role",
            "admin",
            StatusCode::NOT_FOUND,
        ),
    ];
    for (path, field, value, status) in cases {
        let r = c.post(&path, &[("csrf", &csrf), (field, value)]).await;
        assert_eq!(r.status, status, "{path} {field}={value}: {}", r.text);
    }
    let r = c
        .post(
            "/console/members/not-a-uuid",
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let records = app.audit_records(&org_chain(&app, &session).await).await;
    let updates: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "member.update" && r["outcome"] == "success")
        .collect();
    assert_eq!(updates.len(), 1, "only the deactivation: {updates:?}");
    assert_eq!(updates[0]["actor_kind"], "member_session");
    assert_eq!(updates[0]["target_id"], bob.as_str());
}

/// A one-time password (the bootstrap admin's, or `member reset-password`'s)
/// signs nobody in to the console: the form asks for a new one, which must
/// be given twice, and then signs in; the one-time password stops working.
#[tokio::test]
async fn console_asks_for_a_new_password_in_place_of_a_one_time_one() {
    let app = TestApp::spawn().await;
    app.signed_in_member("default", "dora", "admin").await;
    let reset = app
        .cli(&[
            "--json",
            "member",
            "reset-password",
            "--org",
            "default",
            "dora",
        ])
        .await
        .json();
    let one_time = reset["password"].as_str().unwrap().to_string();
    crate::capture::note_secret(&one_time);

    let mut c = Console::new(&app);
    let r = c.sign_in("default", "dora", &one_time).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("new_password"), "{}", r.text);
    assert!(r.set_cookie("scimitar_console").is_none());

    let mine = "a password of her very own";
    let form = |csrf: &str, again: &str| {
        [
            ("csrf", csrf.to_string()),
            ("organization", "default".to_string()),
            ("user_name", "dora".to_string()),
            ("password", one_time.clone()),
            ("new_password", mine.to_string()),
            ("new_password_again", again.to_string()),
        ]
    };
    let fields = form(&r.csrf(), "a different one entirely");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = c.post("/console/sign-in", &pairs).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("differ"), "{}", r.text);

    let fields = form(&r.csrf(), mine);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = c.post("/console/sign-in", &pairs).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(r.set_cookie("scimitar_console").is_some());
    assert_eq!(c.get("/console/tokens").await.status, StatusCode::OK);

    app.login("default", "dora", &one_time)
        .await
        .assert_problem(401);
    assert_eq!(app.login("default", "dora", mine).await.status, 200);
}
