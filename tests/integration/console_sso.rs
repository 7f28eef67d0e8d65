//! The console's single sign-on page over real HTTP: configure, change
//! (an empty secret keeps the stored one), refusals shown as the form
//! again with the reason (an issuer whose discovery fails, a first
//! configuration without a secret, `break_glass_only` without a
//! break-glass member), CSRF refusals that change nothing, removal after
//! a confirmation, and records identical to the API's but for the actor.
//! Also: with `break_glass_only`, the console's password form refuses a
//! member who is not break-glass and lets a break-glass one in.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console_client::Console;
use crate::sso::nobody_listens;
use crate::sso_provider::StubIssuer;
use crate::support::{MEMBER_PASSWORD, TestApp, record_changes as changes};

fn form<'a>(
    csrf: &'a str,
    issuer: &'a str,
    secret: &'a str,
    claim: &'a str,
    password_sign_in: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("issuer", issuer),
        ("client_id", "scimitar-console-client"),
        ("client_secret", secret),
        ("claim", claim),
        ("password_sign_in", password_sign_in),
    ]
}

#[tokio::test]
async fn console_sso_page_configures_changes_and_removes_through_the_use_case() {
    let app = TestApp::spawn().await;
    let session = app.admin_session().await;
    let secret = "a-console-sso-client-secret-0123456789";
    crate::capture::note_secret(secret);
    let mut c = Console::new(&app);
    let csrf = c.sign_in_admin().await;

    // Linked from the navigation; nothing configured yet.
    let tokens = c.get("/console/tokens").await;
    assert!(
        tokens.text.contains("href=\"/console/sso\""),
        "{}",
        tokens.text
    );
    let page = c.get("/console/sso").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("not configured"), "{}", page.text);
    assert!(page.text.contains(&app.url("/api/v1/auth/sso/callback")));
    assert!(page.text.contains("aria-current=\"page\">Single sign-on"));

    // Without its CSRF token nothing is configured.
    let idp = StubIssuer::start().await;
    let mut forged = form("forged", &idp.issuer, secret, "email", "all");
    let r = c.post("/console/sso", &forged).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    forged.retain(|(k, _)| *k != "csrf");
    let r = c.post("/console/sso", &forged).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    app.get("/api/v1/sso", &session).await.assert_problem(404);

    // An issuer that does not answer: the form again, with the reason and
    // what was typed, but never the secret.
    let down = nobody_listens();
    let r = c
        .post("/console/sso", &form(&csrf, &down, secret, "email", "all"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("id=\"form-error\""), "{}", r.text);
    assert!(r.text.contains("discovery document"), "{}", r.text);
    assert!(r.text.contains("enter it again"), "{}", r.text);
    assert!(r.text.contains(&format!("value=\"{down}\"")), "{}", r.text);
    assert!(!r.text.contains(secret), "the secret came back in the page");
    // A first configuration needs a secret.
    let r = c
        .post(
            "/console/sso",
            &form(&csrf, &idp.issuer, "", "email", "all"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("client_secret is required"), "{}", r.text);
    // `break_glass_only` needs a break-glass member first.
    let r = c
        .post(
            "/console/sso",
            &form(&csrf, &idp.issuer, secret, "email", "break_glass_only"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("break-glass member"), "{}", r.text);
    // A claim outside the list.
    let r = c
        .post(
            "/console/sso",
            &form(&csrf, &idp.issuer, secret, "upn", "all"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    app.get("/api/v1/sso", &session).await.assert_problem(404);

    // Configure it.
    let r = c
        .post(
            "/console/sso",
            &form(&csrf, &idp.issuer, secret, "email", "all"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.header("location"), "/console/sso?done=saved");
    let page = c.get("/console/sso?done=saved").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("was saved"), "{}", page.text);
    assert!(page.text.contains(&idp.issuer));
    assert!(page.text.contains("********"));
    assert!(!page.text.contains(secret), "the secret is never shown");
    let api = app.get("/api/v1/sso", &session).await;
    assert_eq!(api.status, 200, "{}", api.text);
    assert_eq!(api.body["issuer"], idp.issuer.as_str());
    assert_eq!(api.body["client_id"], "scimitar-console-client");
    assert_eq!(api.body["claim"], "email");

    // Change the claim with the secret field left empty: the stored
    // secret is kept.
    let r = c
        .post(
            "/console/sso",
            &form(&csrf, &idp.issuer, "", "preferred_username", "all"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let api = app.get("/api/v1/sso", &session).await;
    assert_eq!(api.body["claim"], "preferred_username");

    // Removal asks first; without the CSRF token it changes nothing.
    let confirm = c.get("/console/sso/remove").await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
    assert!(confirm.text.contains("Remove single sign-on?"));
    let r = c.post("/console/sso/remove", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/sso", &session).await.status, 200);
    let r = c
        .post("/console/sso/remove", &[("csrf", confirm.csrf().as_str())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.header("location"), "/console/sso?done=removed");
    app.get("/api/v1/sso", &session).await.assert_problem(404);
    let page = c.get("/console/sso?done=removed").await;
    assert!(page.text.contains("was removed"), "{}", page.text);
    // Nothing left to remove: the console's 404 page.
    let r = c.get("/console/sso/remove").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Recorded as the API records them, by the member's console session,
    // and never with the secret.
    let me = app.get("/api/v1/tokens/self", &session).await;
    let org = me.body["org_id"].as_str().unwrap().to_string();
    let records = app.audit_records(&org).await;
    let writes: Vec<&Value> = records
        .iter()
        .filter(|r| {
            (r["action"] == "sso.update" || r["action"] == "sso.delete")
                && r["outcome"] == "success"
        })
        .collect();
    let actions: Vec<&str> = writes
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["sso.update", "sso.update", "sso.delete"]);
    for w in &writes {
        assert_eq!(w["actor_kind"], "member_session", "{w}");
        assert_eq!(w["actor_display"], "admin", "{w}");
    }
    assert_eq!(changes(writes[0])["client_secret_changed"], true);
    assert_eq!(changes(writes[1])["client_secret_changed"], false);
    assert_eq!(changes(writes[1])["claim"], "preferred_username");
    let all = serde_json::to_string(&records).unwrap();
    assert!(!all.contains(secret), "the secret reached an audit record");
}

#[tokio::test]
async fn console_sso_page_needs_a_session() {
    let app = TestApp::spawn().await;
    let mut c = Console::new(&app);
    for path in ["/console/sso", "/console/sso/remove"] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.header("location"), "/console/sign-in", "{path}");
    }
    let r = c.post("/console/sso", &[("issuer", "x")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn console_password_sign_in_under_break_glass_only_lets_break_glass_members_alone_in() {
    let app = TestApp::spawn().await;
    let session = app.admin_session().await;
    let idp = StubIssuer::start().await;
    // An admin who is not break-glass, so that the console would take them.
    app.signed_in_member("default", "erin", "admin").await;
    let run = app
        .cli(&["member", "break-glass", "--org", "default", "admin"])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    crate::support::outside_change_lands().await;
    let secret = "a-client-secret-for-break-glass-0123456789";
    crate::capture::note_secret(secret);
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/sso",
            Some(&session),
            Some(json!({
                "issuer": idp.issuer, "client_id": "c", "client_secret": secret,
                "claim": "email", "password_sign_in": "break_glass_only",
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Erin's right password: the form again, pointing at the identity
    // provider, and no session.
    let mut c = Console::new(&app);
    let r = c.sign_in("default", "erin", MEMBER_PASSWORD).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(
        r.text.contains("signs in through its identity provider"),
        "{}",
        r.text
    );
    assert!(r.text.contains("Sign in with your identity provider"));
    assert!(r.set_cookie("scimitar_console").is_none());
    assert_eq!(
        c.get("/console/tokens").await.header("location"),
        "/console/sign-in"
    );
    // A wrong password is the usual refusal: the policy tells a guesser nothing.
    let r = c
        .sign_in("default", "erin", "not the password at all")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // The break-glass admin gets in, recorded as auth.break_glass.
    let mut glass = Console::new(&app);
    glass.sign_in_admin().await;

    let me = app.get("/api/v1/tokens/self", &session).await;
    let org = me.body["org_id"].as_str().unwrap().to_string();
    let records = app.audit_records(&org).await;
    let refused = records
        .iter()
        .rev()
        .find(|r| {
            r["action"] == "auth.login" && r["outcome"] == "failure" && r["http_status"] == 403
        })
        .expect("the refusal is recorded");
    assert_eq!(refused["target_display"], "erin");
    assert_eq!(changes(refused)["reason_code"], "password_sign_in_disabled");
    let glass_records = records
        .iter()
        .filter(|r| r["action"] == "auth.break_glass")
        .count();
    // The console's sign-in alone: the API session above predates the policy.
    assert_eq!(glass_records, 1, "{records:?}");
}
