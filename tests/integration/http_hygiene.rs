//! What every response has, whatever the route: a request id, problem
//! bodies for errors, limits, health endpoints, graceful shutdown.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::TestApp;

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let h = app
        .request(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(h.status, 200);
    let r = app
        .request(reqwest::Method::GET, "/readyz", None, None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ready");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.db().close().await;
    let r = app
        .request(reqwest::Method::GET, "/readyz", None, None)
        .await;
    r.assert_problem(503);
    assert!(!r.text.contains("closed"), "no internals: {}", r.text);
    let h = app
        .request(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(h.status, 200, "the process itself is alive");
}

/// A TCP relay to PostgreSQL that the test can cut, as a network partition
/// would. It runs on a thread and runtime of its own, so that it keeps
/// relaying while the test's runtime is blocked (a TestApp's drop reads the
/// audit log through it).
struct Relay {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Relay {
    fn start(listen: &str, upstream: String) -> Relay {
        let listener = std::net::TcpListener::bind(listen).expect("relay binds");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let relay = async {
                    while let Ok((mut inbound, _)) = listener.accept().await {
                        let upstream = upstream.clone();
                        tokio::spawn(async move {
                            if let Ok(mut out) = tokio::net::TcpStream::connect(upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                            }
                        });
                    }
                };
                tokio::select! {
                    _ = relay => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime drops the listener and every relayed
            // connection: new ones are refused, open ones end.
        });
        Relay { addr, stop, thread }
    }

    fn cut(self) -> std::net::SocketAddr {
        let _ = self.stop.send(());
        self.thread.join().unwrap();
        self.addr
    }
}

/// A fresh PostgreSQL database behind a [`Relay`]: the relay, the URL that
/// goes through it, and the database's own address.
async fn relayed_database() -> (Relay, String, String) {
    let url = crate::support::fresh_database_url().await;
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    let upstream = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
    };
    let relay = Relay::start("127.0.0.1:0", upstream.clone());
    let relayed = format!("{scheme}://{userinfo}{}{path}", relay.addr);
    (relay, relayed, upstream)
}

/// On PostgreSQL, connections that were cut while they sat idle in the
/// pool are replaced before they are used: a checkout pings a connection
/// idle for a second or more (never one in steady use, which would cost
/// every statement a round trip). The first SCIM read and write after the
/// cut both succeed.
#[tokio::test]
async fn connections_cut_while_idle_are_replaced_before_use() {
    if !crate::support::on_postgres() {
        return;
    }
    let (relay, relayed, upstream) = relayed_database().await;
    let app = TestApp::builder().start_on(relayed).await;
    let scim = app.scim().await;
    let user = |name: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name,
        })
    };
    let id = scim.create_user(user("before.cut")).await;

    let addr = relay.cut();
    let relay = Relay::start(&addr.to_string(), upstream);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let read = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let written = scim.post("/Users", user("after.cut")).await;
    assert_eq!(written.status, 201, "{}", written.text);
    // Before the relay: the app's drop reads the audit log through it.
    drop(app);
    relay.cut();
}

/// On PostgreSQL, the hot path's connections are held out of sqlx's pool
/// between uses (sqlx would test each one it gets back with a round trip):
/// one comes back for reuse only from a use that ran to its end. One cut
/// short, its statement still running on the server (a cancelled request),
/// is never handed out again from there.
#[tokio::test]
async fn a_held_connection_is_reused_only_after_a_use_that_ran_to_its_end() {
    if !crate::support::on_postgres() {
        return;
    }
    async fn backend(held: &mut scimitar::store::HeldConn<'_>) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(held.conn())
            .await
            .unwrap()
    }
    let app = TestApp::spawn().await;
    let scimitar::store::Db::Postgres(_, _, held) = app.db() else {
        unreachable!("on PostgreSQL");
    };
    let mut first = held.take().await.unwrap();
    let used = backend(&mut first).await;
    first.done();
    let mut again = held.take().await.unwrap();
    assert_eq!(backend(&mut again).await, used, "held and reused");

    let cut = tokio::time::timeout(
        Duration::from_millis(100),
        sqlx::query("SELECT pg_sleep(2)").execute(again.conn()),
    )
    .await;
    assert!(cut.is_err(), "cut short");
    drop(again);
    let started = std::time::Instant::now();
    let mut next = held.take().await.unwrap();
    assert_ne!(backend(&mut next).await, used, "not the one cut short");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no wait for the statement left running"
    );
    next.done();
}

/// On PostgreSQL, a database that stops answering (its connections cut,
/// new ones refused) makes `/readyz` answer 503 promptly, and 200 again
/// once it is back.
#[tokio::test]
async fn readiness_follows_an_unreachable_postgres() {
    if !crate::support::on_postgres() {
        return;
    }
    let (relay, relayed, upstream) = relayed_database().await;
    let app = TestApp::builder().start_on(relayed).await;
    let ready = || async {
        app.request(reqwest::Method::GET, "/readyz", None, None)
            .await
    };
    assert_eq!(ready().await.status, 200);

    let addr = relay.cut();
    let started = std::time::Instant::now();
    ready().await.assert_problem(503);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered in {:?}",
        started.elapsed()
    );

    let relay = Relay::start(&addr.to_string(), upstream);
    let back = crate::support::eventually(Duration::from_secs(15), || async {
        ready().await.status == 200
    })
    .await;
    assert!(back, "ready again once the database answers");
    // Before the relay: the app's drop reads the audit log through it.
    drop(app);
    relay.cut();
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (reqwest::Method::GET, "/healthz"),
        (reqwest::Method::GET, "/nowhere"),
        (reqwest::Method::GET, "/api/v1/tokens/self"),
        (reqwest::Method::PUT, "/api/v1/workspaces"),
    ] {
        let r = app.request(method, path, None, None).await;
        let id = r.header("x-request-id").expect("x-request-id");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
    let kept = crate::support::read(
        app.client
            .get(app.url("/healthz"))
            .header("x-request-id", "okta-abc.123")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(kept.header("x-request-id"), Some("okta-abc.123"));
    let replaced = crate::support::read(
        app.client
            .get(app.url("/healthz"))
            .header("x-request-id", "bad id with spaces")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_ne!(replaced.header("x-request-id"), Some("bad id with spaces"));
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::spawn().await;
    app.request(reqwest::Method::GET, "/api/v1/nothing-here", None, None)
        .await
        .assert_problem(404);
    app.request(reqwest::Method::PUT, "/api/v1/workspaces", None, None)
        .await
        .assert_problem(405);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = TestApp::builder().max_body_bytes(2048).start().await;
    let s = app.admin_session().await;
    let r = app
        .post(
            "/api/v1/service-access-tokens",
            &s,
            json!({ "name": "x".repeat(4096), "permissions": ["scim:read"] }),
        )
        .await;
    r.assert_problem(413);
}

/// The request path never writes last use: with a flush interval far
/// longer than the test, it stays unrecorded until the shutdown flush.
#[tokio::test]
async fn last_use_waits_for_the_flush_and_tokens_survive_a_restart() {
    let app = TestApp::builder()
        .flush_every(Duration::from_secs(3600))
        .start()
        .await;
    let s = app.admin_session().await;
    let (id, value) = app
        .create_sat(&s, json!({ "name": "ci", "permissions": ["scim:read"] }))
        .await;
    let path = format!("/api/v1/service-access-tokens/{id}");
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/tokens/self", &value).await.status, 200);
        assert_eq!(app.get("/scim/v2/Users", &value).await.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let row = app.get(&path, &s).await;
    assert_eq!(row.body["last_used_at"], Value::Null, "{}", row.text);
    assert_eq!(row.body["last_used_ip"], Value::Null, "{}", row.text);
    let password = app.admin_password.clone();
    let url = app.shutdown().await;

    let again = TestApp::builder().start_on(url).await;
    assert!(again.admin_password.is_empty(), "no second bootstrap");
    let s = again.login("default", "admin", &password).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let row = again.get(&path, &s).await;
    assert!(row.body["last_used_at"].is_string(), "{}", row.text);
    assert_eq!(row.body["last_used_ip"], "127.0.0.1");
    assert_eq!(
        again.get("/api/v1/tokens/self", &value).await.status,
        200,
        "the generated pepper persisted"
    );
}

#[tokio::test]
async fn a_configured_pepper_keeps_older_tokens_valid() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (_, old) = app
        .create_sat(&s, json!({ "name": "old", "permissions": ["scim:read"] }))
        .await;
    let password = app.admin_password.clone();
    let url = app.shutdown().await;

    let pepper = "a-configured-pepper-of-at-least-32-bytes";
    let again = TestApp::builder()
        .pepper(pepper)
        .start_on(url.clone())
        .await;
    let s = again.login("default", "admin", &password).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(again.get("/api/v1/tokens/self", &old).await.status, 200);
    let (_, new) = again
        .create_sat(&s, json!({ "name": "new", "permissions": ["scim:read"] }))
        .await;
    assert_eq!(again.get("/api/v1/tokens/self", &new).await.status, 200);
    again.shutdown().await;

    // Without the configured pepper, tokens hashed with it cannot verify.
    let without = TestApp::builder().start_on(url).await;
    without
        .get("/api/v1/tokens/self", &new)
        .await
        .assert_problem(401);
    assert_eq!(without.get("/api/v1/tokens/self", &old).await.status, 200);
}

/// A client that sends half a body and stalls gets a 408 problem when the
/// request timeout passes, and the server stays available to others.
#[tokio::test]
async fn a_stalled_request_times_out_with_a_problem() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Long enough for the start's own password change (two argon2 hashes)
    // on a loaded machine; the stalled request still ends well inside the
    // 5 s this test waits.
    let app = TestApp::builder()
        .request_timeout(Duration::from_secs(2))
        .start()
        .await;
    let s = app.admin_session().await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/workspaces HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {s}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\""
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(read.is_ok(), "the server answered within the timeout");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    assert_eq!(
        app.get("/api/v1/workspaces", &s).await.body["workspaces"],
        json!([])
    );
}
