//! Sign-in, sessions, members, and the deprovisioning story: a person
//! leaving breaks their own credentials and none of the organization's.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{MEMBER_PASSWORD, TestApp, eventually, patch_op};
use scimitar::identity::sessions::{MAX_CLOCK_SKEW_SECONDS, SESSION_TYP};
use scimitar::signing::KeyPair;

const SELF: &str = "/api/v1/tokens/self";

async fn second_admin(app: &TestApp, name: &str) -> (String, String) {
    app.signed_in_member("default", name, "admin").await
}

#[tokio::test]
async fn login_failures_are_indistinguishable() {
    let app = TestApp::spawn().await;
    let ok = app.login("default", "admin", &app.admin_password).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["token_type"], "Bearer");
    assert_eq!(ok.body["expires_in"], 900);
    let failures = [
        app.login("default", "admin", "wrong password!!").await,
        app.login("default", "nobody", &app.admin_password).await,
        app.login("no-such-org", "admin", &app.admin_password).await,
    ];
    for f in &failures {
        f.assert_problem(401);
        assert_eq!(f.body, failures[0].body);
    }
    let bad = app
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "organization": "default" })),
        )
        .await;
    bad.assert_problem(400);
}

#[tokio::test]
async fn user_names_sign_in_without_regard_to_case() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.login("default", "ADMIN", &app.admin_password)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn deprovisioning_an_admin_kills_their_credentials_but_not_their_sats() {
    let app = TestApp::spawn().await;
    let root = app.admin_session().await;
    let (alice_id, alice) = second_admin(&app, "alice").await;

    // Alice creates an org SAT for the IdP, and a PAT for herself.
    let (_, sat) = app
        .create_sat(
            &alice,
            json!({ "name": "okta", "permissions": ["scim:read", "scim:write"] }),
        )
        .await;
    let pat = app
        .post(
            "/api/v1/personal-access-tokens",
            &alice,
            json!({ "name": "laptop" }),
        )
        .await;
    assert_eq!(pat.status, 201, "{}", pat.text);
    let pat = pat.body["token"].as_str().unwrap().to_string();
    assert!(pat.starts_with("scim_pat_"));
    assert_eq!(
        app.get("/api/v1/service-access-tokens", &pat).await.status,
        200,
        "an admin PAT manages SATs"
    );

    // Alice leaves: another admin deactivates her through the API.
    let r = app
        .patch(
            &format!("/api/v1/members/{alice_id}"),
            &root,
            json!({ "active": false }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], false);

    app.get(SELF, &alice).await.assert_problem(401);
    let refused = app.get(SELF, &pat).await;
    refused.assert_problem(401);
    let me = app.get(SELF, &sat).await;
    assert_eq!(
        me.status, 200,
        "the organization's SAT outlives its creator"
    );
    assert_eq!(me.body["kind"], "sat");

    // Reactivating her does not bring the dead credentials back.
    app.patch(
        &format!("/api/v1/members/{alice_id}"),
        &root,
        json!({ "active": true }),
    )
    .await;
    app.get(SELF, &alice).await.assert_problem(401);
    app.get(SELF, &pat).await.assert_problem(401);
    assert_eq!(
        app.login("default", "alice", MEMBER_PASSWORD).await.status,
        200
    );
}

#[tokio::test]
async fn deprovisioning_through_the_cli_has_the_same_effect() {
    let app = TestApp::spawn().await;
    let (_, bob) = second_admin(&app, "bob").await;
    let (_, sat) = app
        .create_sat(
            &bob,
            json!({ "name": "pipeline", "permissions": ["audit_logs:read"] }),
        )
        .await;
    let pat = app
        .post(
            "/api/v1/personal-access-tokens",
            &bob,
            json!({ "name": "cli" }),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let out = app
        .cli(&["member", "deactivate", "--org", "default", "bob", "--json"])
        .await
        .json();
    assert_eq!(out["active"], false);
    app.get(SELF, &bob).await.assert_problem(401);
    app.get(SELF, &pat).await.assert_problem(401);
    assert_eq!(app.get(SELF, &sat).await.status, 200);
    let failed_login = app.login("default", "bob", MEMBER_PASSWORD).await;
    failed_login.assert_problem(401);
}

#[tokio::test]
async fn demotion_ends_admin_access() {
    let app = TestApp::spawn().await;
    let (carol_id, carol) = second_admin(&app, "carol").await;
    let pat = app
        .post(
            "/api/v1/personal-access-tokens",
            &carol,
            json!({ "name": "x" }),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let out = app
        .cli(&[
            "member", "set-role", "--org", "default", &carol_id, "member", "--json",
        ])
        .await
        .json();
    assert_eq!(out["role"], "member");
    app.get(SELF, &carol).await.assert_problem(401);
    app.get(SELF, &pat).await.assert_problem(401);

    // Signed in again as a plain member, she can do nothing of an admin's.
    let again = app.login("default", "carol", MEMBER_PASSWORD).await;
    assert_eq!(again.status, 200);
    let member = again.body["access_token"].as_str().unwrap();
    let r = app.get("/api/v1/service-access-tokens", member).await;
    r.assert_problem(403);
    assert_eq!(r.body["missing_permission"], "service_access_tokens:manage");
    // A member makes PATs of their own, which hold no more than they do.
    let pat = app
        .post(
            "/api/v1/personal-access-tokens",
            member,
            json!({ "name": "y" }),
        )
        .await;
    assert_eq!(pat.status, 201, "{}", pat.text);
    let pat = pat.body["token"].as_str().unwrap();
    app.get("/api/v1/service-access-tokens", pat)
        .await
        .assert_problem(403);
    app.post(
        "/api/v1/personal-access-tokens",
        member,
        json!({ "name": "z", "permissions": ["service_access_tokens:manage"] }),
    )
    .await
    .assert_problem(403);
}

#[tokio::test]
async fn sessions_expire() {
    // Long enough that a sign-in on a busy machine (two password hashes)
    // still leaves the session alive for the first request.
    const TTL: i64 = 4;
    let app = TestApp::builder().session_ttl_seconds(TTL).start().await;
    let s = app.admin_session().await;
    // Issued before now, so it has expired by this time (claims are in
    // whole seconds, hence the extra one).
    let expired =
        std::time::Instant::now() + std::time::Duration::from_millis(TTL as u64 * 1000 + 1100);
    assert_eq!(app.get(SELF, &s).await.status, 200);
    tokio::time::sleep_until(expired.into()).await;
    let r = app.get(SELF, &s).await;
    r.assert_problem(401);
    assert!(r.body["detail"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn a_forged_session_is_refused() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let mut parts: Vec<String> = s.split('.').map(str::to_string).collect();
    parts[2] = parts[2].chars().rev().collect();
    app.get(SELF, &parts.join(".")).await.assert_problem(401);
}

#[tokio::test]
async fn admins_list_and_change_members() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (dave_id, _) = second_admin(&app, "dave").await;
    let list = app.get("/api/v1/members", &s).await;
    assert_eq!(list.status, 200);
    let names: Vec<&str> = list.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["admin", "dave"]);
    assert!(
        !list.text.contains("password"),
        "members never show password data"
    );

    let path = format!("/api/v1/members/{dave_id}");
    app.patch(&path, &s, json!({ "role": "owner" }))
        .await
        .assert_problem(400);
    app.patch(&path, &s, json!({})).await.assert_problem(400);
    app.patch(&path, &s, json!({ "active": "no" }))
        .await
        .assert_problem(400);
    app.patch(
        &format!("/api/v1/members/{}", uuid::Uuid::new_v4()),
        &s,
        json!({ "active": false }),
    )
    .await
    .assert_problem(404);
    app.patch("/api/v1/members/not-a-uuid", &s, json!({ "active": false }))
        .await
        .assert_problem(404);
    let r = app.patch(&path, &s, json!({ "role": "member" })).await;
    assert_eq!(r.body["role"], "member");
}

#[tokio::test]
async fn the_last_admin_cannot_lock_the_organization_out() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let me = app.get(SELF, &s).await.body["member_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .patch(
            &format!("/api/v1/members/{me}"),
            &s,
            json!({ "active": false }),
        )
        .await;
    r.assert_problem(409);
    let r = app
        .patch(
            &format!("/api/v1/members/{me}"),
            &s,
            json!({ "role": "member" }),
        )
        .await;
    r.assert_problem(409);
    assert_eq!(app.get(SELF, &s).await.status, 200, "nothing changed");
}

/// A second admin of `default` with a session, a PAT, and an organization
/// SAT they created.
struct Leaver {
    id: String,
    session: String,
    pat: String,
    sat: String,
}

async fn leaver(app: &TestApp, name: &str) -> Leaver {
    let (id, session) = second_admin(app, name).await;
    let (_, sat) = app
        .create_sat(
            &session,
            json!({ "name": format!("{name}-sat"), "permissions": ["scim:read"] }),
        )
        .await;
    let pat = app
        .post(
            "/api/v1/personal-access-tokens",
            &session,
            json!({ "name": "laptop" }),
        )
        .await;
    assert_eq!(pat.status, 201, "{}", pat.text);
    let pat = pat.body["token"].as_str().unwrap().to_string();
    for credential in [&session, &pat, &sat] {
        assert_eq!(app.get(SELF, credential).await.status, 200);
    }
    Leaver {
        id,
        session,
        pat,
        sat,
    }
}

/// Their session and PAT are refused at once; the SAT they created works.
async fn assert_cut_off(app: &TestApp, l: &Leaver) {
    app.get(SELF, &l.session).await.assert_problem(401);
    app.get(SELF, &l.pat).await.assert_problem(401);
    let sat = app.get(SELF, &l.sat).await;
    assert_eq!(sat.status, 200, "the SAT outlives its creator's access");
    assert_eq!(sat.body["kind"], "sat");
}

#[tokio::test]
async fn demotion_through_the_api_ends_the_pat_and_session_at_once() {
    let app = TestApp::spawn().await;
    let root = app.admin_session().await;
    let frank = leaver(&app, "frank").await;
    let r = app
        .patch(
            &format!("/api/v1/members/{}", frank.id),
            &root,
            json!({ "role": "member" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["role"], "member");
    assert_eq!(r.body["active"], true);
    assert_cut_off(&app, &frank).await;
}

#[tokio::test]
async fn scim_deprovisioning_ends_the_pat_and_session() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let gina = leaver(&app, "gina").await;
    let r = scim
        .patch(
            &format!("/Users/{}", gina.id),
            patch_op(json!([{ "op": "replace", "path": "active", "value": false }])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], false);
    assert_cut_off(&app, &gina).await;

    let hank = leaver(&app, "hank").await;
    let r = scim.delete(&format!("/Users/{}", hank.id)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_cut_off(&app, &hank).await;
    app.login("default", "hank", MEMBER_PASSWORD)
        .await
        .assert_problem(401);
}

/// Another organization's member or PAT is not found (404, never 403), and
/// nothing happens to it.
#[tokio::test]
async fn another_organizations_members_and_pats_are_not_found() {
    let app = TestApp::spawn().await;
    let root = app.admin_session().await;
    app.cli(&["org", "create", "other", "--json"]).await.json();
    let (olga_id, olga) = app.signed_in_member("other", "olga", "admin").await;
    let pat = app
        .post(
            "/api/v1/personal-access-tokens",
            &olga,
            json!({ "name": "laptop" }),
        )
        .await;
    let (pat_id, pat) = (
        pat.body["id"].as_str().unwrap().to_string(),
        pat.body["token"].as_str().unwrap().to_string(),
    );
    let root_id = app.get(SELF, &root).await.body["member_id"]
        .as_str()
        .unwrap()
        .to_string();

    for body in [json!({ "active": false }), json!({ "role": "member" })] {
        app.patch(&format!("/api/v1/members/{olga_id}"), &root, body.clone())
            .await
            .assert_problem(404);
        app.patch(&format!("/api/v1/members/{root_id}"), &olga, body)
            .await
            .assert_problem(404);
    }
    app.delete(&format!("/api/v1/personal-access-tokens/{pat_id}"), &root)
        .await
        .assert_problem(404);

    let me = app.get(SELF, &olga).await;
    assert_eq!(me.status, 200, "olga's session still works");
    assert_eq!(me.body["role"], "admin");
    assert_eq!(app.get(SELF, &pat).await.status, 200, "her PAT too");
    assert_eq!(app.get(SELF, &root).await.body["role"], "admin");
    // Each chain holds only the refused attempts of its own admin.
    for chain in [
        me.body["org_id"].as_str().unwrap(),
        &app.org_of(&root).await,
    ] {
        let attempts: Vec<_> = app
            .audit_records(chain)
            .await
            .into_iter()
            .filter(|r| r["action"] == "member.update" || r["action"] == "pat.revoke")
            .collect();
        assert!(!attempts.is_empty());
        for r in attempts {
            assert_eq!(r["outcome"], "failure", "{r}");
            assert_eq!(r["http_status"], 404, "{r}");
            assert_eq!(r["target_type"], "endpoint", "{r}");
        }
    }
}

/// Signing out ends that session at once and only that one; a token cannot
/// sign out (it is revoked instead). Both are recorded.
#[tokio::test]
async fn logout_ends_only_the_calling_session() {
    let app = TestApp::spawn().await;
    let first = app.admin_session().await;
    let second = app.admin_session().await;
    let org = app.org_of(&first).await;
    let pat = app
        .post(
            "/api/v1/personal-access-tokens",
            &second,
            json!({ "name": "p" }),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_string();

    let out = app.post("/api/v1/auth/logout", &first, json!({})).await;
    assert_eq!(out.status, 204, "{}", out.text);
    let refused = app.get(SELF, &first).await;
    refused.assert_problem(401);
    assert_eq!(
        app.get(SELF, &second).await.status,
        200,
        "the other session"
    );
    assert_eq!(app.get(SELF, &pat).await.status, 200, "the PAT");
    app.post("/api/v1/auth/logout", &first, json!({}))
        .await
        .assert_problem(401);
    app.post("/api/v1/auth/logout", &pat, json!({}))
        .await
        .assert_problem(400);
    assert_eq!(app.get(SELF, &pat).await.status, 200);

    let records = app.audit_records(&org).await;
    let logouts: Vec<_> = records
        .iter()
        .filter(|r| r["action"] == "auth.logout")
        .collect();
    assert_eq!(logouts.len(), 2, "{logouts:?}");
    assert_eq!(logouts[0]["outcome"], "success");
    assert_eq!(logouts[0]["actor_kind"], "member_session");
    assert_eq!(logouts[0]["actor_display"], "admin");
    assert_eq!(logouts[0]["target_type"], "member");
    assert_eq!(logouts[1]["outcome"], "failure", "the PAT's attempt");
    assert!(
        records.iter().any(|r| r["action"] == "auth.denied"
            && r["changes"].as_str() == Some(r#"{"reason_code":"session_signed_out"}"#)),
        "the signed-out session's later use is recorded with its reason"
    );
}

/// `real` with its claims edited by `edit`, signed again with the server's
/// current key: what only a holder of the key could make.
async fn resigned(app: &TestApp, real: &str, edit: impl FnOnce(&mut Value)) -> String {
    resigned_with(&app.current_signing_key().await, real, edit)
}

fn resigned_with(key: &KeyPair, real: &str, edit: impl FnOnce(&mut Value)) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = real.split('.').nth(1).unwrap();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    edit(&mut claims);
    key.sign_jws_typed(SESSION_TYP, &claims).unwrap()
}

/// Moves the issue time (`iat`, and `iat_us` if `with_us`) `seconds` ahead.
fn dated_ahead(claims: &mut Value, seconds: i64, with_us: bool) {
    claims["iat"] = json!(claims["iat"].as_i64().unwrap() + seconds);
    if with_us {
        claims["iat_us"] = json!(claims["iat_us"].as_i64().unwrap() + seconds * 1_000_000);
    }
}

async fn invalid_session_refusals(app: &TestApp) -> usize {
    app.audit_records("unattributed")
        .await
        .iter()
        .filter(|r| {
            r["action"] == "auth.denied"
                && r["actor_kind"] == "member_session"
                && r["outcome"] == "failure"
                && r["http_status"] == 401
                && r["changes"].as_str() == Some(r#"{"reason_code":"invalid_session"}"#)
        })
        .count()
}

#[tokio::test]
async fn sessions_dated_ahead_beyond_the_clock_skew_are_refused() {
    let app = TestApp::spawn().await;
    let real = app.admin_session().await;
    assert_eq!(MAX_CLOCK_SKEW_SECONDS, 60);

    // Signed again unchanged, the session is as good as the original: what
    // is refused below is refused for its dates alone.
    let same = resigned(&app, &real, |_| {}).await;
    assert_eq!(app.get(SELF, &same).await.status, 200);

    let hour_ahead = resigned(&app, &real, |c| dated_ahead(c, 3600, true)).await;
    let r = app.get(SELF, &hour_ahead).await;
    r.assert_problem(401);
    assert!(
        r.body["detail"].as_str().unwrap().contains("invalid"),
        "{}",
        r.text
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            invalid_session_refusals(&app).await == 1
        })
        .await,
        "the refusal is recorded as any invalid session's"
    );
    // Either issue time on its own, and a `nbf` an hour ahead.
    let seconds_only = resigned(&app, &real, |c| dated_ahead(c, 3600, false)).await;
    app.get(SELF, &seconds_only).await.assert_problem(401);
    let micros_only = resigned(&app, &real, |c| {
        c["iat_us"] = json!(c["iat_us"].as_i64().unwrap() + 3_600_000_000)
    })
    .await;
    app.get(SELF, &micros_only).await.assert_problem(401);
    let not_before =
        |ahead: i64| move |c: &mut Value| c["nbf"] = json!(c["iat"].as_i64().unwrap() + ahead);
    let starts_later = resigned(&app, &real, not_before(3600)).await;
    app.get(SELF, &starts_later).await.assert_problem(401);
    assert!(
        eventually(Duration::from_secs(5), || async {
            invalid_session_refusals(&app).await == 4
        })
        .await
    );

    // Within the skew: accepted.
    let ten_ahead = resigned(&app, &real, |c| dated_ahead(c, 10, true)).await;
    assert_eq!(app.get(SELF, &ten_ahead).await.status, 200);
    let started = resigned(&app, &real, not_before(-10)).await;
    assert_eq!(app.get(SELF, &started).await.status, 200);

    // The console's cookie is the same session, checked the same way.
    let console = crate::support::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = |jwt: String| {
        console
            .get(app.url("/console/tokens"))
            .header("cookie", format!("scimitar_console={jwt}"))
            .send()
    };
    let refused = page(hour_ahead).await.unwrap();
    assert_eq!(refused.status(), 303);
    assert_eq!(refused.headers()["location"], "/console/sign-in?expired=1");
    assert_eq!(page(ten_ahead).await.unwrap().status(), 200);
}

/// Issued now, to end in ten minutes, as a key holder could at any time.
fn fresh(claims: &mut Value) {
    let now = scimitar::store::Timestamp::now();
    claims["iat"] = json!(now.unix_seconds());
    claims["iat_us"] = json!((now.inner().unix_timestamp_nanos() / 1000) as i64);
    claims["exp"] = json!(now.unix_seconds() + 600);
    claims["jti"] = json!(uuid::Uuid::new_v4());
}

#[tokio::test]
async fn a_superseded_key_signs_no_session_once_its_sessions_have_expired() {
    let ttl = 900;
    let app = TestApp::builder().session_ttl_seconds(ttl).start().await;
    let password = app.admin_password.clone();
    let real = app.admin_session().await;
    let old_key = app.current_signing_key().await;
    app.cli(&["keys", "rotate", "--json"]).await.json();
    // Sessions the old key signed stay good for their lifetime (another
    // instance may even sign with it for a second after the rotation).
    assert_eq!(app.get(SELF, &real).await.status, 200);
    let just_before = resigned_with(&old_key, &real, fresh);
    assert_eq!(app.get(SELF, &just_before).await.status, 200);

    // The rotation as if it had been a lifetime (and the margin) ago.
    let then = scimitar::store::Timestamp::now() - time::Duration::seconds(ttl + 90);
    scimitar::on_db!(app.db(), pool => {
        sqlx::query("UPDATE signing_keys SET created_at = $1")
            .bind(then)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    let url = app.shutdown().await;
    let app = TestApp::builder()
        .session_ttl_seconds(ttl)
        .start_on(url)
        .await;
    let new = app.login("default", "admin", &password).await;
    let new = new.body["access_token"].as_str().unwrap().to_string();
    // The old key (from a backup, say) makes a session that would be good in
    // every other respect: refused, while the same from the current key is not.
    let forged = resigned_with(&old_key, &new, fresh);
    app.get(SELF, &forged).await.assert_problem(401);
    let current = resigned(&app, &new, fresh).await;
    assert_eq!(app.get(SELF, &current).await.status, 200);
}
