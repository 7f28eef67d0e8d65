//! What a presented token gets: every refusal is a 401 problem, recorded in
//! the audit log with the token id when there is one, never the secret.

use serde_json::{Value, json};

use crate::support::TestApp;

const SELF: &str = "/api/v1/tokens/self";

/// A value with the right layout and a valid checksum but an id that does
/// not exist.
fn well_formed_unknown() -> String {
    let v = scimitar::tokens::PlainToken::generate(scimitar::tokens::TokenKind::Sat).reveal();
    assert!(scimitar::tokens::PlainToken::parse(&v).is_ok());
    v
}

fn change_char(s: &str, i: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[i] = if b[i] == b'x' { b'y' } else { b'x' };
    String::from_utf8(b).unwrap()
}

#[tokio::test]
async fn damaged_and_unknown_tokens_are_refused_and_recorded() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (id, value) = app
        .create_sat(&s, json!({ "name": "ci", "permissions": ["scim:read"] }))
        .await;
    let org = app.org_of(&s).await;
    let secret = value[31..63].to_string();

    let bad_checksum = change_char(&value, value.len() - 1);
    let wrong_secret = {
        // Same id, another secret, valid checksum: only the database can tell.
        let other =
            scimitar::tokens::PlainToken::generate(scimitar::tokens::TokenKind::Sat).reveal();
        let forged = format!("{}{}", &value[..31], &other[31..63]);
        let crc = crc32fast::hash(forged.as_bytes());
        let checksum = format!("{:0>6}", base62::encode(crc));
        forged + &checksum
    };
    let cases = [
        (bad_checksum.clone(), "malformed_token"),
        (value[..value.len() - 3].to_string(), "malformed_token"),
        (well_formed_unknown(), "unknown_token"),
        (wrong_secret.clone(), "bad_secret"),
        ("scim_sat_".to_string(), "malformed_token"),
    ];
    for (presented, _) in &cases {
        let r = app.get(SELF, presented).await;
        r.assert_problem(401);
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    }
    // Unknown ids and wrong secrets read the same to the caller.
    let unknown = app.get(SELF, &cases[2].0).await;
    let wrong = app.get(SELF, &wrong_secret).await;
    assert_eq!(unknown.body["detail"], wrong.body["detail"]);

    let in_org: Vec<Value> = app
        .audit_records(&org)
        .await
        .into_iter()
        .filter(|r| r["action"] == "auth.denied")
        .collect();
    let codes: Vec<String> = in_org
        .iter()
        .map(|r| r["changes"].as_str().unwrap().to_string())
        .collect();
    assert!(codes.iter().any(|c| c.contains("bad_secret")), "{codes:?}");
    let bad = in_org
        .iter()
        .find(|r| r["changes"].as_str().unwrap().contains("bad_secret"))
        .unwrap();
    assert_eq!(
        bad["actor_id"],
        id.as_str(),
        "the refusal names the token id"
    );
    assert_eq!(bad["http_status"], 401);
    assert_eq!(bad["target_id"], "GET /api/v1/tokens/self");

    let unattributed = app.audit_records(scimitar::audit::UNATTRIBUTED_CHAIN).await;
    let reasons: Vec<String> = unattributed
        .iter()
        .map(|r| r["changes"].as_str().unwrap().to_string())
        .collect();
    assert!(
        reasons.iter().any(|c| c.contains("unknown_token")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|c| c.contains("malformed_token")),
        "{reasons:?}"
    );
    let damaged = unattributed
        .iter()
        .find(|r| r["actor_id"] == id.as_str())
        .expect("a bad-checksum value is attributed to the id it carries");
    assert_eq!(damaged["outcome"], "failure");

    for record in in_org.iter().chain(unattributed.iter()) {
        let text = record.to_string();
        assert!(
            !text.contains(&secret),
            "an audit record contains the secret: {text}"
        );
        assert!(
            !text.contains(&wrong_secret[31..63]),
            "an audit record contains a presented secret"
        );
    }
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (id, value) = app
        .create_sat(
            &s,
            json!({ "name": "ci", "permissions": ["scim:read"], "expires_in_days": 1 }),
        )
        .await;
    assert_eq!(app.get(SELF, &value).await.status, 200);
    scimitar::on_db!(app.db(), pool => {
        sqlx::query("UPDATE tokens SET expires_at = $1 WHERE id = $2")
            .bind(scimitar::store::Timestamp::now() - time::Duration::minutes(1))
            .bind(&id)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    crate::support::outside_change_lands().await;
    let r = app.get(SELF, &value).await;
    r.assert_problem(401);
    assert!(r.body["detail"].as_str().unwrap().contains("expired"));
    let listed = app
        .get(&format!("/api/v1/service-access-tokens/{id}"), &s)
        .await;
    assert_eq!(listed.body["status"], "expired");
    let org = app.org_of(&s).await;
    let denied: Vec<_> = app
        .audit_records(&org)
        .await
        .into_iter()
        .filter(|r| r["action"] == "auth.denied")
        .collect();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["reason"], "token expired");
}

#[tokio::test]
async fn address_allowlist_is_enforced() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (far_id, far) = app
        .create_sat(&s, json!({ "name": "far", "permissions": ["scim:read"], "allowed_cidrs": ["10.0.0.0/8", "2001:db8::/32"] }))
        .await;
    let (_, near) = app
        .create_sat(&s, json!({ "name": "near", "permissions": ["scim:read"], "allowed_cidrs": ["127.0.0.0/8"] }))
        .await;
    // The credential is good; the place is not: 403, not 401.
    let r = app.get(SELF, &far).await;
    r.assert_problem(403);
    assert_eq!(r.body["type"], "urn:scimitar:problem:address-not-allowed");
    assert!(r.body["detail"].as_str().unwrap().contains("address"));
    app.get("/scim/v2/Users", &far)
        .await
        .assert_scim_error(403, None);
    assert_eq!(app.get(SELF, &near).await.status, 200);

    // Clearing the list lets the token in from anywhere.
    let cleared = app
        .patch(
            &format!("/api/v1/service-access-tokens/{far_id}"),
            &s,
            json!({ "allowed_cidrs": null }),
        )
        .await;
    assert_eq!(cleared.body["allowed_cidrs"], json!([]));
    assert_eq!(app.get(SELF, &far).await.status, 200);
}

#[tokio::test]
async fn a_sat_value_with_a_pat_prefix_is_not_that_token() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (_, value) = app
        .create_sat(&s, json!({ "name": "ci", "permissions": ["scim:read"] }))
        .await;
    let swapped = format!("scim_pat_{}", &value[9..63]);
    let crc = crc32fast::hash(swapped.as_bytes());
    let swapped = format!("{swapped}{:0>6}", base62::encode(crc));
    app.get(SELF, &swapped).await.assert_problem(401);
}

#[tokio::test]
async fn missing_odd_and_doubled_credentials_are_refused() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (_, value) = app
        .create_sat(&s, json!({ "name": "ci", "permissions": ["scim:read"] }))
        .await;
    let plain = app.request(reqwest::Method::GET, SELF, None, None).await;
    plain.assert_problem(401);
    let basic = crate::support::read(
        app.client
            .get(app.url(SELF))
            .header("authorization", "Basic YWRtaW46YWRtaW4=")
            .send()
            .await
            .unwrap(),
    )
    .await;
    basic.assert_problem(401);
    let doubled = crate::support::read(
        app.client
            .get(app.url(SELF))
            .header("authorization", format!("Bearer {value}"))
            .header("authorization", format!("Bearer {value}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    doubled.assert_problem(400);
    let lower = crate::support::read(
        app.client
            .get(app.url(SELF))
            .header("authorization", format!("bearer {value}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(lower.status, 200, "the scheme is case-insensitive");
    app.get(SELF, "not.a.jwt").await.assert_problem(401);
}

/// `/api/v1/tokens/self` answers every kind of credential with the same
/// keys: what it is, whose it is, what it may do, and when it ends.
#[tokio::test]
async fn every_credential_describes_itself_with_the_same_keys() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let ws = app.create_workspace(&s, "prod").await;
    let (org_sat_id, org_sat) = app
        .create_sat(&s, json!({ "name": "idp", "permissions": ["scim:read"] }))
        .await;
    let (ws_sat_id, ws_sat) = app
        .create_sat(
            &s,
            json!({ "name": "etl", "workspace_id": ws, "permissions": ["sources:read"], "expires_in_days": 7 }),
        )
        .await;
    let pat = app
        .post(
            "/api/v1/personal-access-tokens",
            &s,
            json!({ "name": "laptop", "expires_in_days": 30 }),
        )
        .await;
    let (pat_id, pat) = (
        pat.body["id"].as_str().unwrap().to_string(),
        pat.body["token"].as_str().unwrap().to_string(),
    );
    let (_, member) = app.signed_in_member("default", "mia", "member").await;

    let admin_powers = json!([
        "audit_logs:read",
        "audit_streams:manage",
        "members:manage",
        "personal_access_tokens:manage",
        "service_access_tokens:manage",
        "workspaces:manage"
    ]);
    let answers: Vec<Value> = {
        let mut v = Vec::new();
        for credential in [&org_sat, &ws_sat, &pat, &s, &member] {
            let r = app.get(SELF, credential).await;
            assert_eq!(r.status, 200, "{}", r.text);
            v.push(r.body);
        }
        v
    };
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    for a in &answers {
        assert_eq!(keys(a), keys(&answers[0]), "{a}");
        assert_eq!(a["org_id"], answers[0]["org_id"]);
        assert_eq!(a["org_name"], "default");
        assert_eq!(a["status"], "active");
    }
    let [org_sat, ws_sat, pat, session, member] = &answers[..] else {
        unreachable!()
    };

    assert_eq!(org_sat["id"], org_sat_id.as_str());
    assert_eq!(org_sat["kind"], "sat");
    assert_eq!(org_sat["level"], "organization");
    assert_eq!(org_sat["name"], "idp");
    assert_eq!(org_sat["workspace_id"], Value::Null);
    assert_eq!(org_sat["permissions"], json!(["scim:read"]));
    assert_eq!(org_sat["expires_at"], Value::Null);
    assert_eq!(org_sat["role"], Value::Null);

    assert_eq!(ws_sat["id"], ws_sat_id.as_str());
    assert_eq!(ws_sat["level"], "workspace");
    assert_eq!(ws_sat["workspace_id"], ws.as_str());
    assert_eq!(ws_sat["permissions"], json!(["sources:read"]));
    assert!(ws_sat["expires_at"].is_string());

    assert_eq!(pat["id"], pat_id.as_str());
    assert_eq!(pat["kind"], "pat");
    assert_eq!(pat["level"], Value::Null);
    assert_eq!(pat["name"], "laptop");
    assert_eq!(pat["workspace_id"], Value::Null);
    assert_eq!(pat["role"], "admin");
    assert_eq!(pat["user_name"], "admin");
    assert_eq!(pat["permissions"], admin_powers);
    assert!(pat["expires_at"].is_string());
    assert_eq!(pat["member_id"], session["member_id"]);

    assert_eq!(session["id"], Value::Null);
    assert_eq!(session["kind"], "member_session");
    assert_eq!(session["level"], Value::Null);
    assert_eq!(session["permissions"], admin_powers);
    let ends = scimitar::store::Timestamp::parse_rfc3339(session["expires_at"].as_str().unwrap())
        .unwrap()
        .unix_seconds();
    let now = scimitar::store::Timestamp::now().unix_seconds();
    assert!((now + 850..=now + 900).contains(&ends), "a 900 s session");

    assert_eq!(member["role"], "member");
    // A plain member manages their own PATs, and holds no workspace's
    // permissions until given some.
    assert_eq!(
        member["permissions"],
        json!(["personal_access_tokens:manage"])
    );
    assert_eq!(member["workspace_permissions"], json!([]));
}
