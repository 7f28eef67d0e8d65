//! Trusted proxies: `X-Forwarded-For` names the client only when the TCP
//! peer (here always 127.0.0.1) is a configured proxy; then audit records,
//! CIDR allowlists, last-used data, token exchange and the per-address
//! limits all see the forwarded address. Without the setting the header
//! changes nothing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Resp, TestApp, eventually, read};
use scimitar::http::limits::{LimitsConfig, Rate};

const SELF: &str = "/api/v1/tokens/self";
const EXCHANGE: &str = "/api/v1/tokens/exchange";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The client a proxy forwards for.
const CLIENT: &str = "203.0.113.7";

/// GET with a bearer token and one `X-Forwarded-For` line per item.
async fn get_via(app: &TestApp, path: &str, bearer: &str, xff: &[&str]) -> Resp {
    let mut req = app.client.get(app.url(path)).bearer_auth(bearer);
    for line in xff {
        req = req.header("x-forwarded-for", *line);
    }
    read(req.send().await.unwrap()).await
}

async fn exchange_via(app: &TestApp, sat: &str, xff: &[&str]) -> Resp {
    let mut req = app
        .client
        .post(app.url(EXCHANGE))
        .form(&[("grant_type", GRANT), ("subject_token", sat)]);
    for line in xff {
        req = req.header("x-forwarded-for", *line);
    }
    read(req.send().await.unwrap()).await
}

/// The audit record of a response, found by its request id.
async fn record_of(app: &TestApp, chain: &str, r: &Resp) -> Value {
    let id = r.header("x-request-id").expect("a request id");
    let found: Vec<Value> = app
        .audit_records(chain)
        .await
        .into_iter()
        .filter(|rec| rec["request_id"] == id)
        .collect();
    assert_eq!(found.len(), 1, "one record for request {id}: {found:?}");
    found.into_iter().next().unwrap()
}

/// An SAT allowed only from `cidrs`, and one allowed from anywhere.
async fn tokens(app: &TestApp, cidrs: Value) -> (String, String, String) {
    let s = app.admin_session().await;
    let ws = app.create_workspace(&s, "w").await;
    let (id, fenced) = app
        .create_sat(
            &s,
            json!({ "name": "fenced", "workspace_id": ws, "permissions": ["sources:read"], "allowed_cidrs": cidrs }),
        )
        .await;
    let (_, open) = app
        .create_sat(&s, json!({ "name": "open", "permissions": ["scim:read"] }))
        .await;
    (id, fenced, open)
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_, fenced, open) = tokens(&app, json!(["203.0.113.0/24"])).await;
    let org = app.org_of(&open).await;

    let r = get_via(&app, SELF, &open, &[CLIENT]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(record_of(&app, &org, &r).await["source_ip"], "127.0.0.1");

    let r = get_via(&app, SELF, &fenced, &[CLIENT]).await;
    r.assert_problem(403);
    let rec = record_of(&app, &org, &r).await;
    assert_eq!(rec["action"], "auth.denied");
    assert_eq!(rec["source_ip"], "127.0.0.1");
    let r = exchange_via(&app, &fenced, &[CLIENT]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_for_audit_allowlists_and_last_use() {
    let app = TestApp::builder()
        .trusted_proxies(&["127.0.0.1/32"])
        .flush_every(Duration::from_millis(100))
        .start()
        .await;
    let (fenced_id, fenced, open) = tokens(&app, json!(["203.0.113.0/24"])).await;
    let org = app.org_of(&open).await;
    let s = app.admin_session().await;
    let (_, local) = app
        .create_sat(
            &s,
            json!({ "name": "local", "permissions": ["scim:read"], "allowed_cidrs": ["127.0.0.1/32"] }),
        )
        .await;

    let r = get_via(&app, SELF, &open, &[CLIENT]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(record_of(&app, &org, &r).await["source_ip"], CLIENT);

    // The allowlists see the forwarded address, and only that.
    assert_eq!(get_via(&app, SELF, &fenced, &[CLIENT]).await.status, 200);
    get_via(&app, SELF, &fenced, &[]).await.assert_problem(403);
    let r = get_via(&app, SELF, &local, &["198.51.100.9"]).await;
    r.assert_problem(403);
    assert_eq!(record_of(&app, &org, &r).await["source_ip"], "198.51.100.9");
    assert_eq!(get_via(&app, SELF, &local, &[]).await.status, 200);
    // Entries the client wrote left of what the proxy appended are ignored.
    let spoofed = format!("{CLIENT}, 198.51.100.9");
    get_via(&app, SELF, &fenced, &[&spoofed])
        .await
        .assert_problem(403);

    // Token exchange checks the same address.
    let r = exchange_via(&app, &fenced, &[CLIENT]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = exchange_via(&app, &fenced, &["198.51.100.9"]).await;
    assert_eq!(r.body["error"], "invalid_grant", "{}", r.text);

    let path = format!("/api/v1/service-access-tokens/{fenced_id}");
    let seen = eventually(Duration::from_secs(5), || async {
        app.get(&path, &s).await.body["last_used_ip"] == CLIENT
    })
    .await;
    assert!(seen, "{}", app.get(&path, &s).await.text);
}

fn only(limits: LimitsConfig) -> LimitsConfig {
    const OFF: Rate = Rate {
        per_minute: 0,
        burst: 0,
    };
    LimitsConfig {
        per_token: OFF,
        auth_failures_per_credential: 0,
        table_capacity: 1000,
        ..limits
    }
}

#[tokio::test]
async fn failed_authentications_block_the_forwarded_address_not_the_proxy() {
    let app = TestApp::builder()
        .trusted_proxies(&["127.0.0.1/32"])
        .limits(only(LimitsConfig {
            per_address: Rate {
                per_minute: 0,
                burst: 0,
            },
            auth_failures_per_address: 2,
            auth_failure_window: Duration::from_secs(60),
            ..scimitar::config::DEFAULT_LIMITS
        }))
        .start()
        .await;
    let (_, _, open) = tokens(&app, json!([])).await;
    const GUESSER: &str = "198.51.100.1";
    for _ in 0..2 {
        get_via(&app, SELF, "not-a-jwt", &[GUESSER])
            .await
            .assert_problem(401);
    }
    // The guesser's unknown credentials are refused; its good ones are not.
    get_via(&app, SELF, "still-not-a-jwt", &[GUESSER])
        .await
        .assert_problem(429);
    assert_eq!(get_via(&app, SELF, &open, &[GUESSER]).await.status, 200);
    get_via(&app, SELF, "still-not-a-jwt", &["198.51.100.2"])
        .await
        .assert_problem(401);
    assert_eq!(
        get_via(&app, SELF, &open, &["198.51.100.2"]).await.status,
        200
    );
    assert_eq!(get_via(&app, SELF, &open, &[]).await.status, 200);

    let refusals: Vec<Value> = app
        .audit_records("unattributed")
        .await
        .into_iter()
        .filter(|r| r["http_status"] == json!(429))
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0]["source_ip"], GUESSER);
}

#[tokio::test]
async fn the_address_rate_counts_each_forwarded_client() {
    let app = TestApp::builder()
        .trusted_proxies(&["127.0.0.1/32"])
        .limits(only(LimitsConfig {
            // Nothing comes back during the test: the count is exact.
            per_address: Rate {
                per_minute: 1,
                burst: 3,
            },
            auth_failures_per_address: 0,
            ..scimitar::config::DEFAULT_LIMITS
        }))
        .start()
        .await;
    // Arranged from the proxy's own address, which then has spent its burst
    // (the start's new admin password, the sign-in, the token).
    let s = app.admin_session().await;
    let (_, open) = app
        .create_sat(&s, json!({ "name": "open", "permissions": ["scim:read"] }))
        .await;
    for client in ["198.51.100.1", "198.51.100.2"] {
        for _ in 0..3 {
            assert_eq!(get_via(&app, SELF, &open, &[client]).await.status, 200);
        }
        get_via(&app, SELF, &open, &[client])
            .await
            .assert_problem(429);
    }
    get_via(&app, SELF, &open, &[]).await.assert_problem(429);
}
