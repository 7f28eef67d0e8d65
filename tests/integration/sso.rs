//! Sign-in through the organization's identity provider (OpenID Connect):
//! the configuration API, the round trip through a real provider (the Node
//! `oidc-provider` on loopback, `sso_provider`), every refusal the issue
//! lists, and `password_sign_in: break_glass_only`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::sso_provider::{Browser, CLIENT_ID, StubIssuer, TestIdp};
use crate::support::{
    MEMBER_PASSWORD, Resp, TestApp, USER_SCHEMA, patch_op, record_changes as changes,
};

/// An app with SSO configured against a fresh test provider (claim
/// `email`), and the admin's session; `None` when node is missing.
async fn app_with_idp() -> Option<(TestApp, TestIdp, String)> {
    let app = TestApp::spawn().await;
    let idp = TestIdp::start(&app.url("/api/v1/auth/sso/callback")).await?;
    let admin = app.admin_session().await;
    let r = put_sso(&app, &admin, &idp.issuer, Some(&idp.client_secret), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    Some((app, idp, admin))
}

async fn put_sso(
    app: &TestApp,
    session: &str,
    issuer: &str,
    secret: Option<&str>,
    password_sign_in: Option<&str>,
) -> Resp {
    let mut body = json!({ "issuer": issuer, "client_id": CLIENT_ID, "claim": "email" });
    if let Some(s) = secret {
        body["client_secret"] = json!(s);
    }
    if let Some(p) = password_sign_in {
        body["password_sign_in"] = json!(p);
    }
    app.request(Method::PUT, "/api/v1/sso", Some(session), Some(body))
        .await
}

/// Provisions a member by SCIM, as Okta would: userName and a primary email.
async fn provision(app: &TestApp, user_name: &str, email: &str) -> String {
    let scim = app.scim().await;
    let r = scim
        .post(
            "/Users",
            json!({
                "schemas": [USER_SCHEMA],
                "userName": user_name,
                "emails": [{ "value": email, "primary": true, "type": "work" }],
                "active": true,
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

async fn deactivate(app: &TestApp, id: &str) {
    let scim = app.scim().await;
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{ "op": "replace", "value": { "active": false } }])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// The round trip up to the provider's redirect back: returns the browser
/// and the callback URL (not yet requested). `tamper` may change the
/// authorization URL before the browser goes there.
async fn to_callback(
    app: &TestApp,
    idp: &TestIdp,
    login: &str,
    tamper: impl FnOnce(String) -> String,
) -> (Browser, String) {
    idp.next_login(login).await;
    let mut browser = Browser::default();
    let r = browser
        .get(&app.url("/api/v1/auth/sso/start?organization=default"))
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let authorize = r.header("location").unwrap().to_string();
    assert!(authorize.starts_with(&idp.issuer), "{authorize}");
    for part in [
        "code_challenge_method=S256",
        "response_type=code",
        "scope=openid",
    ] {
        assert!(authorize.contains(part), "{authorize}");
    }
    assert!(browser.cookie("scimitar_sso").is_some());
    let callback = app.url("/api/v1/auth/sso/callback");
    let url = browser.follow_until(&tamper(authorize), &callback).await;
    (browser, url)
}

/// The whole round trip for `login`; returns the callback's answer.
async fn sign_in(app: &TestApp, idp: &TestIdp, login: &str) -> Resp {
    let (mut browser, url) = to_callback(app, idp, login, |u| u).await;
    browser.get(&url).await
}

/// The `auth.sso` records of organization `default`, oldest first.
async fn sso_records(app: &TestApp, session: &str) -> Vec<Value> {
    let org = app.org_of(session).await;
    app.audit_records(&org)
        .await
        .into_iter()
        .filter(|r| r["action"] == "auth.sso")
        .collect()
}

/// Asserts a refusal with this status and reason code, recorded as such.
async fn assert_refused(app: &TestApp, admin: &str, r: &Resp, status: u16, reason: &str) {
    r.assert_problem(status);
    assert_eq!(r.body["reason_code"], reason, "{}", r.text);
    assert!(r.body.get("access_token").is_none());
    let records = sso_records(app, admin).await;
    let last = records.last().expect("an auth.sso record");
    assert_eq!(last["outcome"], "failure", "{last}");
    assert_eq!(changes(last)["reason_code"], reason, "{last}");
}

#[tokio::test]
async fn sso_configuration_is_admin_only_masks_the_secret_and_is_audited_without_it() {
    let app = TestApp::spawn().await;
    let idp = StubIssuer::start().await;
    let admin = app.admin_session().await;
    let secret = "an-sso-client-secret-of-the-test-0123456789";
    crate::capture::note_secret(secret);

    let r = app.get("/api/v1/sso", &admin).await;
    r.assert_problem(404);
    // The first configuration needs a secret.
    let r = put_sso(&app, &admin, &idp.issuer, None, None).await;
    r.assert_problem(400);
    let r = put_sso(&app, &admin, &idp.issuer, Some(secret), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["issuer"], idp.issuer.as_str());
    assert_eq!(r.body["client_secret"], "********");
    assert_eq!(r.body["password_sign_in"], "all");
    assert_eq!(r.body["redirect_uri"], app.url("/api/v1/auth/sso/callback"));
    assert!(!r.text.contains(secret));

    let r = app.get("/api/v1/sso", &admin).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["client_id"], CLIENT_ID);
    assert_eq!(r.body["claim"], "email");
    assert!(!r.text.contains(secret));

    // Leaving the secret out keeps it; changing the claim is recorded.
    let body =
        json!({ "issuer": idp.issuer, "client_id": CLIENT_ID, "claim": "preferred_username" });
    let r = app
        .request(Method::PUT, "/api/v1/sso", Some(&admin), Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["claim"], "preferred_username");

    // Bad input: each a 400 problem, nothing changed.
    for bad in [
        json!({ "issuer": "http://acme.okta.com", "client_id": "c", "claim": "email" }),
        json!({ "issuer": "https://acme.okta.com", "client_id": "", "claim": "email" }),
        json!({ "issuer": "https://acme.okta.com", "client_id": "c", "claim": "upn" }),
        json!({ "issuer": "https://acme.okta.com", "client_id": "c", "claim": "email", "password_sign_in": "none" }),
        json!({ "issuer": "https://acme.okta.com", "client_id": "c", "claim": "email", "extra": 1 }),
    ] {
        let r = app
            .request(Method::PUT, "/api/v1/sso", Some(&admin), Some(bad.clone()))
            .await;
        r.assert_problem(400);
    }
    let r = app.get("/api/v1/sso", &admin).await;
    assert_eq!(r.body["claim"], "preferred_username");

    // A member who is not an admin may not read or change it.
    let (_, member) = app.signed_in_member("default", "carol", "member").await;
    app.get("/api/v1/sso", &member).await.assert_problem(403);
    put_sso(&app, &member, "https://evil.example", Some("x"), None)
        .await
        .assert_problem(403);

    let r = app.delete("/api/v1/sso", &admin).await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.get("/api/v1/sso", &admin).await.assert_problem(404);
    app.delete("/api/v1/sso", &admin).await.assert_problem(404);

    let org = app.org_of(&admin).await;
    let records = app.audit_records(&org).await;
    // Every call is recorded; the refused ones as failures.
    let done: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r["action"].as_str().is_some_and(|a| a.starts_with("sso.")))
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let successes: Vec<&str> = done
        .iter()
        .filter(|(_, o)| *o == "success")
        .map(|(a, _)| *a)
        .collect();
    assert_eq!(
        successes,
        [
            "sso.update",
            "sso.read",
            "sso.update",
            "sso.read",
            "sso.delete"
        ],
        "{done:?}"
    );
    assert_eq!(
        done.iter().filter(|(_, o)| *o == "failure").count(),
        9,
        "{done:?}"
    );
    let updates: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "sso.update" && r["outcome"] == "success")
        .collect();
    assert_eq!(changes(updates[0])["client_secret_changed"], true);
    assert_eq!(changes(updates[1])["client_secret_changed"], false);
    assert_eq!(changes(updates[1])["claim"], "preferred_username");
    let all = serde_json::to_string(&records).unwrap();
    assert!(!all.contains(secret), "the secret reached an audit record");
}

#[tokio::test]
async fn a_provisioned_member_signs_in_through_the_provider_and_deactivation_ends_the_session() {
    let Some((app, idp, admin)) = app_with_idp().await else {
        return;
    };
    let id = provision(&app, "bob", "bob@example.com").await;
    // An admin (as a group mapping would make him): admins make PATs.
    let r = app
        .patch(
            &format!("/api/v1/members/{id}"),
            &admin,
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    idp.account(
        "idp-bob",
        json!({ "email": "Bob@Example.com", "email_verified": true }),
    )
    .await;

    let r = sign_in(&app, &idp, "idp-bob").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    let session = r.body["access_token"].as_str().unwrap().to_string();
    let me = app.get("/api/v1/tokens/self", &session).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["member_id"], id, "{}", me.text);

    // A PAT made in an SSO session works like any other.
    let r = app
        .post(
            "/api/v1/personal-access-tokens",
            &session,
            json!({ "name": "cli" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pat = r.body["token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/v1/tokens/self", &pat).await.status, 200);

    let records = sso_records(&app, &admin).await;
    let last = records.last().unwrap();
    assert_eq!(last["outcome"], "success", "{last}");
    assert_eq!(last["actor_kind"], "member_session");
    assert_eq!(last["target_id"], id);

    // SCIM deactivates Bob: his next request is refused, session and PAT.
    deactivate(&app, &id).await;
    app.get("/api/v1/tokens/self", &session)
        .await
        .assert_problem(401);
    app.get("/api/v1/tokens/self", &pat)
        .await
        .assert_problem(401);
}

#[tokio::test]
async fn sign_out_ends_an_sso_session() {
    let Some((app, idp, _admin)) = app_with_idp().await else {
        return;
    };
    provision(&app, "dora@example.com", "dora@example.com").await;
    let r = sign_in(&app, &idp, "dora@example.com").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let session = r.body["access_token"].as_str().unwrap().to_string();
    let out = app
        .request(Method::POST, "/api/v1/auth/logout", Some(&session), None)
        .await;
    assert_eq!(out.status, 204, "{}", out.text);
    app.get("/api/v1/tokens/self", &session)
        .await
        .assert_problem(401);
}

#[tokio::test]
async fn a_person_who_is_not_provisioned_is_refused() {
    let Some((app, idp, admin)) = app_with_idp().await else {
        return;
    };
    // The bootstrap admin exists, but was not provisioned by SCIM.
    idp.account(
        "idp-admin",
        json!({ "email": "admin", "email_verified": true }),
    )
    .await;
    let r = sign_in(&app, &idp, "idp-admin").await;
    assert_refused(&app, &admin, &r, 401, "no_such_member").await;
    let r = sign_in(&app, &idp, "stranger@example.com").await;
    assert_refused(&app, &admin, &r, 401, "no_such_member").await;
    let last = sso_records(&app, &admin).await.pop().unwrap();
    assert_eq!(last["actor_display"], "stranger@example.com");
}

#[tokio::test]
async fn a_deactivated_member_is_refused() {
    let Some((app, idp, admin)) = app_with_idp().await else {
        return;
    };
    let id = provision(&app, "erin", "erin@example.com").await;
    deactivate(&app, &id).await;
    let r = sign_in(&app, &idp, "erin@example.com").await;
    assert_refused(&app, &admin, &r, 401, "inactive").await;
}

#[tokio::test]
async fn a_replayed_state_is_refused() {
    let Some((app, idp, admin)) = app_with_idp().await else {
        return;
    };
    provision(&app, "frank@example.com", "frank@example.com").await;
    let (mut browser, url) = to_callback(&app, &idp, "frank@example.com", |u| u).await;
    let cookie = browser.cookie("scimitar_sso").unwrap().to_string();
    let first = browser.get(&url).await;
    assert_eq!(first.status, 200, "{}", first.text);
    // The same callback again, with the same flow cookie.
    browser.set_cookie("scimitar_sso", &cookie);
    let again = browser.get(&url).await;
    assert_refused(&app, &admin, &again, 400, "bad_state").await;
    // A state that is not the flow's, and no cookie at all.
    let forged = url.replace("state=", "state=x");
    browser.set_cookie("scimitar_sso", &cookie);
    let r = browser.get(&forged).await;
    r.assert_problem(400);
    assert_eq!(r.body["reason_code"], "bad_state");
    let r = Browser::default().get(&url).await;
    r.assert_problem(400);
    assert_eq!(r.body["reason_code"], "bad_state");
}

#[tokio::test]
async fn a_wrong_nonce_is_refused() {
    let Some((app, idp, admin)) = app_with_idp().await else {
        return;
    };
    provision(&app, "gina@example.com", "gina@example.com").await;
    let (mut browser, url) = to_callback(&app, &idp, "gina@example.com", |u| {
        let at = u.find("nonce=").expect("nonce") + "nonce=".len();
        format!("{}not-our-nonce{}", &u[..at], &u[at..])
    })
    .await;
    let r = browser.get(&url).await;
    assert_refused(&app, &admin, &r, 401, "bad_nonce").await;
}

#[tokio::test]
async fn an_id_token_signed_by_another_key_is_refused() {
    let Some((app, idp, admin)) = app_with_idp().await else {
        return;
    };
    provision(&app, "hank@example.com", "hank@example.com").await;
    idp.foreign_jwks().await;
    let r = sign_in(&app, &idp, "hank@example.com").await;
    assert_refused(&app, &admin, &r, 401, "id_token_invalid").await;
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    let Some((app, idp, admin)) = app_with_idp().await else {
        return;
    };
    provision(&app, "ivy@example.com", "ivy@example.com").await;
    // The provider's clock two hours behind: its ID tokens (600 s) expired.
    idp.clock_offset(-7200).await;
    let r = sign_in(&app, &idp, "ivy@example.com").await;
    assert_refused(&app, &admin, &r, 401, "id_token_invalid").await;
    let last = sso_records(&app, &admin).await.pop().unwrap();
    assert!(
        changes(&last)["detail"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{last}"
    );
}

#[tokio::test]
async fn an_issuer_that_is_down_is_refused() {
    let Some((app, mut idp, admin)) = app_with_idp().await else {
        return;
    };
    idp.stop().await;
    let r = Browser::default()
        .get(&app.url("/api/v1/auth/sso/start?organization=default"))
        .await;
    assert_refused(&app, &admin, &r, 502, "issuer_unreachable").await;
}

#[tokio::test]
async fn start_refuses_an_organization_without_sso() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::default();
    for path in [
        "/api/v1/auth/sso/start?organization=default",
        "/api/v1/auth/sso/start?organization=nope",
    ] {
        let r = browser.get(&app.url(path)).await;
        r.assert_problem(404);
        assert_eq!(r.body["reason_code"], "not_configured");
    }
    for path in [
        "/api/v1/auth/sso/start",
        "/api/v1/auth/sso/start?organization=default&for=elsewhere",
    ] {
        browser.get(&app.url(path)).await.assert_problem(400);
    }
}

/// A loopback address where nothing listens.
pub(crate) fn nobody_listens() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    format!("http://{}", l.local_addr().expect("addr"))
}

#[tokio::test]
async fn a_new_issuer_must_serve_a_discovery_document_naming_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin_session().await;
    let secret = "a-client-secret-for-a-bad-issuer-0123456789";
    crate::capture::note_secret(secret);

    // Nobody answers there: refused at once, rather than at sign-in.
    let r = put_sso(&app, &admin, &nobody_listens(), Some(secret), None).await;
    r.assert_problem(400);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("discovery document"), "{detail}");
    assert!(!r.text.contains(secret));
    // A document naming another issuer (OpenID Connect Discovery 4.3).
    let liar = StubIssuer::naming(Some("https://acme.okta.com")).await;
    let r = put_sso(&app, &admin, &liar.issuer, Some(secret), None).await;
    r.assert_problem(400);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("https://acme.okta.com"), "{detail}");
    // Nothing was written.
    app.get("/api/v1/sso", &admin).await.assert_problem(404);

    let idp = StubIssuer::start().await;
    let r = put_sso(&app, &admin, &idp.issuer, Some(secret), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A change to another issuer that is down is refused, and the
    // configuration stays as it was.
    let r = put_sso(&app, &admin, &nobody_listens(), None, None).await;
    r.assert_problem(400);
    let r = app.get("/api/v1/sso", &admin).await;
    assert_eq!(r.body["issuer"], idp.issuer.as_str());
}

#[tokio::test]
async fn with_break_glass_only_passwords_sign_in_break_glass_members_alone() {
    let app = TestApp::spawn().await;
    let idp = StubIssuer::start().await;
    let admin = app.admin_session().await;
    let secret = "another-sso-client-secret-0123456789";
    crate::capture::note_secret(secret);
    app.signed_in_member("default", "dave", "member").await;

    // Not before someone can still get in when the provider is down.
    let r = put_sso(
        &app,
        &admin,
        &idp.issuer,
        Some(secret),
        Some("break_glass_only"),
    )
    .await;
    r.assert_problem(409);
    let run = app
        .cli(&[
            "member",
            "break-glass",
            "--org",
            "default",
            "admin",
            "--json",
        ])
        .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.json()["break_glass"], true);
    crate::support::outside_change_lands().await;
    let r = put_sso(
        &app,
        &admin,
        &idp.issuer,
        Some(secret),
        Some("break_glass_only"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["password_sign_in"], "break_glass_only");

    // A normal member's right password is refused, and recorded.
    let r = app.login("default", "dave", MEMBER_PASSWORD).await;
    r.assert_problem(403);
    assert!(
        r.body["type"]
            .as_str()
            .unwrap()
            .ends_with("password-sign-in-disabled")
    );
    // A wrong password is the usual 401: the policy says nothing to a guesser.
    app.login("default", "dave", "not the password at all")
        .await
        .assert_problem(401);

    // The break-glass admin signs in, recorded as auth.break_glass.
    let r = app.login("default", "admin", &app.admin_password).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let org = app.org_of(&admin).await;
    let records = app.audit_records(&org).await;
    let glass: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "auth.break_glass")
        .collect();
    assert_eq!(glass.len(), 1, "{records:?}");
    assert_eq!(glass[0]["target_display"], "admin");
    let refused = records
        .iter()
        .rev()
        .find(|r| {
            r["action"] == "auth.login" && r["outcome"] == "failure" && r["http_status"] == 403
        })
        .expect("the refusal is recorded");
    assert_eq!(changes(refused)["reason_code"], "password_sign_in_disabled");
    assert!(records.iter().any(|r| r["action"] == "member.break_glass"));

    // Back to `all`: passwords sign everyone in again.
    let r = put_sso(&app, &admin, &idp.issuer, None, Some("all")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.login("default", "dave", MEMBER_PASSWORD).await.status,
        200
    );
}

#[tokio::test]
async fn the_client_secret_survives_adopting_a_configured_kek() {
    // A first run under the generated KEK configures SSO.
    let first = TestApp::spawn().await;
    let idp = StubIssuer::start().await;
    let admin = first.admin_session().await;
    let org: uuid::Uuid = first.org_of(&admin).await.parse().unwrap();
    let secret = "a-client-secret-sealed-before-adoption-42";
    crate::capture::note_secret(secret);
    let r = put_sso(&first, &admin, &idp.issuer, Some(secret), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = first.shutdown().await;

    // The restart adopts a configured KEK: the secret is re-encrypted under
    // it, and the configured KEK alone opens it.
    let kek = "a configured key-encryption key for the sso test";
    let app = TestApp::builder()
        .key_encryption_key(kek)
        .start_on(url)
        .await;
    let configured = scimitar::signing::Kek::parse(kek).unwrap();
    let (config, opened) = scimitar::sso::config::get_with_secret(app.db(), &configured, org)
        .await
        .expect("readable")
        .expect("configured");
    assert_eq!(opened.expose(), secret);
    assert_eq!(config.issuer, idp.issuer);
}

#[tokio::test]
async fn the_console_signs_an_admin_in_through_the_provider() {
    let Some((app, idp, admin)) = app_with_idp().await else {
        return;
    };
    let id = provision(&app, "judy@example.com", "judy@example.com").await;
    let r = app
        .patch(
            &format!("/api/v1/members/{id}"),
            &admin,
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut browser = Browser::default();
    let page = browser.get(&app.url("/console/sign-in")).await;
    assert!(page.text.contains("Sign in with your identity provider"));
    let page = browser
        .get(&app.url("/console/sign-in/sso?organization=default"))
        .await;
    assert_eq!(page.status, 200);
    let start = "/api/v1/auth/sso/start?organization=default&amp;for=console";
    assert!(page.text.contains(start), "{}", page.text);

    idp.next_login("judy@example.com").await;
    let callback = app.url("/api/v1/auth/sso/callback");
    let url = browser
        .follow_until(
            &app.url("/api/v1/auth/sso/start?organization=default&for=console"),
            &callback,
        )
        .await;
    let r = browser.get(&url).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.header("location"), Some("/console/tokens"));
    assert!(browser.cookie("scimitar_console").is_some());
    let tokens = browser.get(&app.url("/console/tokens")).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
}
