//! Abuse limits: rates per credential and per address, failed-authentication
//! blocks per (address, credential) and, for malformed and unknown
//! credentials only, per address (429 with Retry-After, on /scim as a SCIM
//! error and on /api as a problem, recorded once per key), and the
//! connection limits (header read timeout, connection cap). Tenants behind
//! one address are in `abuse_tenants.rs`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Resp, TestApp, record_changes};
use scimitar::http::limits::{LimitsConfig, Rate};

const SELF: &str = "/api/v1/tokens/self";
/// The failed-authentication window of these tests: long enough for a
/// slow machine to fail and be refused within it, short enough to wait out.
const WINDOW: Duration = Duration::from_secs(3);
const OFF: Rate = Rate {
    per_minute: 0,
    burst: 0,
};

/// No limit but the ones a test sets.
fn no_limits() -> LimitsConfig {
    LimitsConfig {
        per_token: OFF,
        per_address: OFF,
        auth_failures_per_address: 0,
        auth_failures_per_credential: 0,
        auth_failure_window: Duration::from_secs(1),
        table_capacity: 1000,
    }
}

/// The Retry-After header, which must be whole seconds.
#[track_caller]
fn retry_after(r: &Resp) -> u64 {
    let v = r.header("retry-after").expect("a Retry-After header");
    v.parse()
        .unwrap_or_else(|_| panic!("Retry-After {v:?} is delta-seconds"))
}

/// The same token id with another secret (and a valid checksum).
fn wrong_secret(value: &str) -> String {
    let id = scimitar::tokens::PlainToken::id_hint(value).expect("a token id");
    scimitar::tokens::PlainToken::with_id(scimitar::tokens::TokenKind::Sat, id).reveal()
}

/// The 429 records of a chain, with their `changes` parsed.
async fn throttle_records(app: &TestApp, chain: &str) -> Vec<(Value, Value)> {
    app.audit_records(chain)
        .await
        .into_iter()
        .filter(|r| r["http_status"] == json!(429))
        .map(|r| {
            let changes = record_changes(&r);
            (r, changes)
        })
        .collect()
}

#[tokio::test]
async fn a_credential_over_its_rate_gets_429_on_scim_and_api_and_others_do_not() {
    // A token every 3 s: the burst is spent and refused well within that,
    // even on a slow machine.
    let limits = LimitsConfig {
        per_token: Rate {
            per_minute: 20,
            burst: 3,
        },
        ..no_limits()
    };
    let app = TestApp::builder().limits(limits).start().await;
    let s = app.admin_session().await;
    let perms = json!(["scim:read", "audit_logs:read"]);
    let (a_id, a) = app
        .create_sat(&s, json!({ "name": "a", "permissions": perms }))
        .await;
    let (_, b) = app
        .create_sat(&s, json!({ "name": "b", "permissions": perms }))
        .await;
    let org = app.org_of(&b).await;

    for _ in 0..3 {
        let r = app.get("/scim/v2/Users", &a).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = app.get("/scim/v2/Users", &a).await;
    r.assert_scim_error(429, None);
    assert!((1..=3).contains(&retry_after(&r)), "{:?}", r.headers);
    let r = app.get("/api/v1/audit-logs", &a).await;
    r.assert_problem(429);
    assert_eq!(r.body["type"], "urn:scimitar:problem:too-many-requests");
    let wait = retry_after(&r);
    assert!((1..=3).contains(&wait));
    assert_eq!(r.body["retry_after_seconds"], json!(wait));
    // Another token is unaffected.
    let r = app.get("/scim/v2/Users", &b).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Two refusals, one record (refusals of a key are recorded once a
    // minute), in the token's organization, naming the token.
    let records = throttle_records(&app, &org).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let (rec, changes) = &records[0];
    assert_eq!(rec["action"], "auth.denied");
    assert_eq!(rec["outcome"], "failure");
    assert_eq!(rec["actor_kind"], "sat");
    assert_eq!(rec["actor_id"], json!(a_id));
    assert_eq!(changes["reason_code"], "rate_limited");
    assert_eq!(changes["limit"], "token");

    // Retry-After is long enough.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let r = app.get("/scim/v2/Users", &a).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn an_address_over_its_rate_is_refused_whatever_the_credential() {
    // One request a minute after a burst of 6: nothing comes back during
    // the test, so the count is exact whatever the machine's speed.
    let limits = LimitsConfig {
        per_address: Rate {
            per_minute: 1,
            burst: 6,
        },
        ..no_limits()
    };
    // 1: the start sets the bootstrap admin's password.
    let app = TestApp::builder().limits(limits).start().await;
    let s = app.admin_session().await; // 2
    let (_, a) = app
        .create_sat(&s, json!({ "name": "a", "permissions": ["scim:read"] }))
        .await; // 3
    let (_, b) = app
        .create_sat(&s, json!({ "name": "b", "permissions": ["scim:read"] }))
        .await; // 4
    for _ in 0..2 {
        assert_eq!(app.get("/scim/v2/Users", &a).await.status, 200);
    }
    let r = app.get("/scim/v2/Users", &a).await;
    r.assert_scim_error(429, None);
    assert!(retry_after(&r) >= 1);
    let r = app.get(SELF, &b).await;
    r.assert_problem(429);
    assert!(r.body["detail"].as_str().unwrap().contains("address"));
    // Health probes are never limited.
    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(r, 200);

    // The address is refused before any credential is checked, so its
    // record is unattributed, with the (unverified) token id.
    let records = throttle_records(&app, "unattributed").await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].1["reason_code"], "rate_limited");
    assert_eq!(records[0].1["limit"], "address");
}

#[tokio::test]
async fn failed_secrets_block_a_token_from_that_address_even_with_the_right_secret_until_the_window_ends()
 {
    let limits = LimitsConfig {
        auth_failures_per_credential: 3,
        auth_failures_per_address: 100,
        auth_failure_window: WINDOW,
        ..no_limits()
    };
    let app = TestApp::builder().limits(limits).start().await;
    let s = app.admin_session().await;
    let (id, value) = app
        .create_sat(&s, json!({ "name": "idp", "permissions": ["scim:read"] }))
        .await;
    let (_, other) = app
        .create_sat(&s, json!({ "name": "other", "permissions": ["scim:read"] }))
        .await;
    let org = app.org_of(&other).await;

    let started = Instant::now();
    for _ in 0..3 {
        app.get(SELF, &wrong_secret(&value))
            .await
            .assert_problem(401);
    }
    // Blocked, right secret or not, on both APIs.
    let r = app.get(SELF, &value).await;
    r.assert_problem(429);
    assert!((1..=3).contains(&retry_after(&r)));
    let r = app.get("/scim/v2/Users", &value).await;
    r.assert_scim_error(429, None);
    let r = app.get(SELF, &wrong_secret(&value)).await;
    r.assert_problem(429);
    // Another token from the same address is fine.
    assert_eq!(app.get("/scim/v2/Users", &other).await.status, 200);

    let records = throttle_records(&app, &org).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let (rec, changes) = &records[0];
    assert_eq!(rec["actor_id"], json!(id));
    assert_eq!(changes["reason_code"], "auth_failures");
    assert_eq!(changes["limit"], "credential");

    // The window opened at the first failure; once it has passed, the
    // right secret works again.
    let wait = (WINDOW + Duration::from_millis(100)).saturating_sub(started.elapsed());
    tokio::time::sleep(wait).await;
    let r = app.get("/scim/v2/Users", &value).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn unknown_credentials_block_an_address_for_unknown_credentials_only() {
    let limits = LimitsConfig {
        auth_failures_per_address: 3,
        auth_failures_per_credential: 3,
        auth_failure_window: WINDOW,
        ..no_limits()
    };
    let app = TestApp::builder().limits(limits).start().await;
    let s = app.admin_session().await;
    let (_, value) = app
        .create_sat(&s, json!({ "name": "idp", "permissions": ["scim:read"] }))
        .await;

    let started = Instant::now();
    // A value that is no session, no credential at all, an unknown token:
    // each counts against the address. A wrong password does not (it
    // counts against that sign-in from this address).
    app.get(SELF, "not-a-jwt").await.assert_problem(401);
    app.login("default", "admin", "not the password")
        .await
        .assert_problem(401);
    app.request(reqwest::Method::GET, SELF, None, None)
        .await
        .assert_problem(401);
    let unknown =
        || scimitar::tokens::PlainToken::generate(scimitar::tokens::TokenKind::Sat).reveal();
    app.get("/scim/v2/Users", &unknown())
        .await
        .assert_scim_error(401, None);

    // Now the address's unknown and malformed credentials are refused...
    let r = app.get("/scim/v2/Users", &unknown()).await;
    r.assert_scim_error(429, None);
    assert!((1..=3).contains(&retry_after(&r)));
    app.get(SELF, "still-not-a-jwt").await.assert_problem(429);
    app.request(reqwest::Method::GET, SELF, None, None)
        .await
        .assert_problem(429);
    // ...but a good token, a good session and the right password are not.
    assert_eq!(app.get("/scim/v2/Users", &value).await.status, 200);
    assert_eq!(app.get(SELF, &s).await.status, 200);
    let r = app
        .login("default", "admin", &app.admin_password.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let records = throttle_records(&app, "unattributed").await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].1["reason_code"], "auth_failures");
    assert_eq!(records[0].1["limit"], "address");

    let wait = (WINDOW + Duration::from_millis(100)).saturating_sub(started.elapsed());
    tokio::time::sleep(wait).await;
    app.get("/scim/v2/Users", &unknown())
        .await
        .assert_scim_error(401, None);
}

#[tokio::test]
async fn a_blocked_credential_does_not_spend_its_address_rate() {
    // Nothing comes back during the test: the address's 20 are exact.
    let limits = LimitsConfig {
        per_address: Rate {
            per_minute: 1,
            burst: 20,
        },
        auth_failures_per_credential: 2,
        auth_failure_window: Duration::from_secs(60),
        ..no_limits()
    };
    // 1: the start's new admin password.
    let app = TestApp::builder().limits(limits).start().await;
    let s = app.admin_session().await; // 2
    let (a_id, a) = app
        .create_sat(&s, json!({ "name": "a", "permissions": ["scim:read"] }))
        .await; // 3
    let (_, b) = app
        .create_sat(&s, json!({ "name": "b", "permissions": ["scim:read"] }))
        .await; // 4
    let r = app
        .delete(&format!("/api/v1/service-access-tokens/{a_id}"), &s)
        .await; // 5
    assert_eq!(r.status, 204);
    for _ in 0..2 {
        app.get(SELF, &a).await.assert_problem(401); // 6, 7
    }
    // Blocked from here: refused before the address's rate is counted.
    for _ in 0..40 {
        app.get(SELF, &a).await.assert_problem(429);
    }
    assert_eq!(app.get("/scim/v2/Users", &b).await.status, 200); // 8
}

#[tokio::test]
async fn wrong_passwords_block_that_sign_in_from_that_address_only() {
    let limits = LimitsConfig {
        auth_failures_per_credential: 3,
        auth_failure_window: Duration::from_secs(60),
        ..no_limits()
    };
    let app = TestApp::builder().limits(limits).start().await;
    let (_, _) = app.signed_in_member("default", "colleague", "admin").await;
    for _ in 0..3 {
        app.login("default", "admin", "not the password")
            .await
            .assert_problem(401);
    }
    // The right password is refused too: a guesser learns nothing.
    app.login("default", "admin", &app.admin_password.clone())
        .await
        .assert_problem(429);
    // A colleague signing in from the same address is not.
    let r = app
        .login("default", "colleague", crate::support::MEMBER_PASSWORD)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Sends `bytes` to a server whose header read timeout is 1 s and reads
/// until the server closes the connection, which must happen at that
/// timeout: not before, and well before this helper's own 10 s limit.
async fn closed_at_header_timeout(bytes: &[u8]) -> Vec<u8> {
    let app = TestApp::builder()
        .connection_limits(64, Duration::from_secs(1))
        .start()
        .await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut conn = TcpStream::connect(&addr).await.unwrap();
    conn.write_all(bytes).await.unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection is still open");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800),
        "closed too early: {took:?}"
    );
    buf
}

#[tokio::test]
async fn a_client_that_stalls_while_sending_headers_is_disconnected() {
    // The server closes the connection, perhaps after a 408.
    let buf = closed_at_header_timeout(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    assert!(
        buf.is_empty() || String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
}

#[tokio::test]
async fn idle_connections_beyond_the_limit_do_not_lock_clients_out() {
    let app = TestApp::builder()
        .connection_limits(2, Duration::from_secs(1))
        .start()
        .await;
    let addr = app.base.trim_start_matches("http://").to_string();
    // Two connections that never send a byte hold both slots...
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...so a real request waits for a slot: it is served only once the
    // server has dropped an idle connection at the header timeout.
    let started = Instant::now();
    let status = tokio::time::timeout(
        Duration::from_secs(10),
        app.client.get(app.url("/healthz")).send(),
    )
    .await
    .expect("served within the header timeout and then some")
    .unwrap()
    .status();
    assert_eq!(status, 200);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(700),
        "the connection limit did not hold: served after {took:?}"
    );
    for mut c in idle {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "an idle connection was left open");
    }
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    // The answer comes at once; then the connection, kept alive but idle,
    // is closed at the header timeout.
    let buf = closed_at_header_timeout(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(text.matches("HTTP/1.1").count(), 1, "{text}");
}

#[tokio::test]
async fn wrong_subject_tokens_in_exchange_count_and_block_the_token_id() {
    let limits = LimitsConfig {
        auth_failures_per_credential: 2,
        auth_failure_window: Duration::from_secs(60),
        ..no_limits()
    };
    let app = TestApp::builder().limits(limits).start().await;
    let s = app.admin_session().await;
    let ws = app.create_workspace(&s, "w").await;
    let (_, sat) = app
        .create_sat(
            &s,
            json!({ "name": "svc", "workspace_id": ws, "permissions": ["sources:read"] }),
        )
        .await;
    let exchange = |subject: String| {
        let app = &app;
        async move {
            let form = [
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", subject.as_str()),
            ];
            let resp = app
                .client
                .post(app.url("/api/v1/tokens/exchange"))
                .form(&form)
                .send()
                .await
                .unwrap();
            crate::support::read(resp).await
        }
    };
    for _ in 0..2 {
        let r = exchange(wrong_secret(&sat)).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["error"], "invalid_grant");
    }
    let r = exchange(sat.clone()).await;
    r.assert_problem(429);
    assert!(retry_after(&r) >= 1);
    // The same id as a bearer token is blocked too.
    app.get(SELF, &sat).await.assert_problem(429);
}
