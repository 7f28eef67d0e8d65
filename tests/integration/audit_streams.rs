//! Audit streams to a SIEM: a real receiver on loopback (an axum server in
//! the test) gets every new record, in chain order, signed, through a
//! receiver outage and a restart of scimitar; several instances deliver one
//! at a time; and the API refuses what it must (private addresses by
//! default, bad URLs, non-admins) without ever showing the secret twice or
//! recording it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::capture::note_secret;
use crate::support::{Resp, TestApp, eventually};

/// One POST the receiver got.
#[derive(Clone, Debug)]
struct Delivery {
    headers: HeaderMap,
    body: String,
}

/// A SIEM stand-in on a fixed loopback port that can be stopped and started
/// again on the same port.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Delivery>>>,
    /// How many requests to come are answered 503 (and not kept).
    refuse: Arc<AtomicUsize>,
    stop: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut r = Receiver {
            addr,
            got: Arc::default(),
            refuse: Arc::default(),
            stop: None,
        };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: TcpListener) {
        let got = self.got.clone();
        let refuse = self.refuse.clone();
        let app = axum::Router::new().route(
            "/ingest",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let got = got.clone();
                let refuse = refuse.clone();
                async move {
                    let refused = refuse
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if refused {
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    got.lock().unwrap().push(Delivery {
                        headers,
                        body: String::from_utf8(body.to_vec()).unwrap(),
                    });
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        self.stop = Some((tx, task));
    }

    /// Stops listening (and closes its connections).
    async fn stop(&mut self) {
        if let Some((tx, task)) = self.stop.take() {
            let _ = tx.send(());
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    /// Listens again on the same port.
    async fn restart(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    fn url(&self) -> String {
        format!("http://{}/ingest", self.addr)
    }

    fn host_url(&self) -> String {
        format!("http://localhost:{}/ingest", self.addr.port())
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// Every record line received, in arrival order, parsed.
    fn lines(&self) -> Vec<Value> {
        self.deliveries()
            .iter()
            .filter(|d| d.headers.get("scimitar-event").is_none())
            .flat_map(|d| {
                d.body
                    .lines()
                    .map(|l| serde_json::from_str::<Value>(l).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The distinct seqs received.
    fn distinct_seqs(&self) -> Vec<i64> {
        let mut seqs: Vec<i64> = self
            .lines()
            .iter()
            .map(|l| l["seq"].as_i64().unwrap())
            .collect();
        seqs.sort();
        seqs.dedup();
        seqs
    }
}

fn header<'a>(d: &'a Delivery, name: &str) -> &'a str {
    d.headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .unwrap()
}

/// Checks a delivery's signature as a receiver would: HMAC-SHA256 with the
/// secret over `timestamp "." body`.
fn signature_ok(d: &Delivery, secret: &str) -> bool {
    let ts = header(d, "scimitar-timestamp");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(d.body.as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    header(d, "scimitar-signature") == format!("v1={want}")
}

/// Creates a stream of `scim.` records to `url`; returns (id, secret).
async fn create_stream(app: &TestApp, session: &str, url: &str, format: &str) -> (String, String) {
    let r = app
        .post(
            "/api/v1/audit-streams",
            session,
            json!({ "url": url, "format": format, "filter": { "action": "scim.*" } }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    note_secret(&secret);
    (r.body["id"].as_str().unwrap().to_string(), secret)
}

/// `n` SCIM reads, each recorded as `scim.user.list`.
async fn scim_reads(app: &TestApp, sat: &str, n: usize) {
    for _ in 0..n {
        let r = app.get("/scim/v2/Users?count=1", sat).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

/// The seqs of the `scim.` records in the organization's chain.
async fn scim_seqs(app: &TestApp, org: &str) -> Vec<Value> {
    app.audit_records(org)
        .await
        .into_iter()
        .filter(|r| r["action"].as_str().unwrap().starts_with("scim."))
        .collect()
}

#[tokio::test]
async fn a_receiver_gets_every_record_in_order_through_an_outage_and_a_restart() {
    let mut receiver = Receiver::start().await;
    let app = TestApp::builder().allow_private_streams().start().await;
    let session = app.admin_session().await;
    let org = app.org_of(&session).await;
    let password = app.admin_password.clone();
    let (_, sat) = app
        .create_sat(
            &session,
            json!({ "name": "idp", "permissions": ["scim:read"] }),
        )
        .await;
    // Records written before the stream exists are not its to deliver.
    scim_reads(&app, &sat, 3).await;
    let (id, secret) = create_stream(&app, &session, &receiver.url(), "ndjson").await;
    let before = scim_seqs(&app, &org).await.len();

    // The test endpoint sends one signed line that is no record.
    let t = app
        .post(
            &format!("/api/v1/audit-streams/{id}/test"),
            &session,
            json!({}),
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["delivered"], true, "{}", t.text);
    let test = receiver.deliveries().pop().expect("the test arrived");
    assert_eq!(header(&test, "scimitar-event"), "test");
    assert!(signature_ok(&test, &secret));

    scim_reads(&app, &sat, 50).await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            receiver.distinct_seqs().len() >= 50
        })
        .await,
        "got {} of the first 50",
        receiver.distinct_seqs().len()
    );

    // The receiver goes away; 25 records, a restart of scimitar, 25 more.
    receiver.stop().await;
    scim_reads(&app, &sat, 25).await;
    let url = app.shutdown().await;
    let app = TestApp::builder()
        .allow_private_streams()
        .start_on(url)
        .await;
    scim_reads(&app, &sat, 25).await;
    let session = app.login("default", "admin", &password).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let failing = eventually(Duration::from_secs(10), || async {
        let s = app
            .get(&format!("/api/v1/audit-streams/{id}"), &session)
            .await;
        !s.body["status"]["last_error"].is_null()
    })
    .await;
    assert!(failing, "the outage shows as the last error");
    let s = app
        .get(&format!("/api/v1/audit-streams/{id}"), &session)
        .await;
    assert!(
        s.body["status"]["lag"].as_i64().unwrap() >= 50,
        "{}",
        s.text
    );
    assert!(s.body["status"]["consecutive_failures"].as_i64().unwrap() >= 1);
    assert!(s.body.get("secret").is_none(), "{}", s.text);

    // Back: everything arrives, well within 30 s.
    receiver.restart().await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            receiver.distinct_seqs().len() >= 100
        })
        .await,
        "got {} of 100",
        receiver.distinct_seqs().len()
    );

    let expected = scim_seqs(&app, &org).await;
    let expected = &expected[before..];
    assert_eq!(expected.len(), 100);
    // In chain order (a batch may come twice: at least once), each line
    // the record exactly as the export writes it, nothing missing.
    let lines = receiver.lines();
    let mut unique: Vec<Value> = Vec::new();
    // First arrivals, which must be in chain order.
    for l in lines {
        if !unique.iter().any(|u| u["seq"] == l["seq"]) {
            unique.push(l);
        }
    }
    assert_eq!(unique.as_slice(), expected);
    for d in receiver.deliveries() {
        assert!(signature_ok(&d, &secret), "bad signature");
        if d.headers.get("scimitar-event").is_some() {
            continue;
        }
        let seqs: Vec<i64> = d
            .body
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["seq"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(header(&d, "scimitar-seq-first"), seqs[0].to_string());
        assert_eq!(
            header(&d, "scimitar-seq-last"),
            seqs.last().unwrap().to_string()
        );
        assert_eq!(header(&d, "scimitar-records"), seqs.len().to_string());
        assert_eq!(header(&d, "scimitar-stream-id"), id);
        assert_eq!(header(&d, "scimitar-chain"), org);
        assert_eq!(header(&d, "content-type"), "application/x-ndjson");
    }

    // The status says so.
    let last_seq = expected.last().unwrap()["seq"].as_i64().unwrap();
    let done = eventually(Duration::from_secs(5), || async {
        let s = app
            .get(&format!("/api/v1/audit-streams/{id}"), &session)
            .await;
        s.body["status"]["last_delivered_seq"] == last_seq
            && s.body["status"]["last_error"].is_null()
    })
    .await;
    assert!(done, "status after recovery");
    receiver.stop().await;
}

#[tokio::test]
async fn instances_on_one_database_deliver_one_at_a_time() {
    let receiver = Receiver::start().await;
    let a = TestApp::builder().allow_private_streams().start().await;
    let session = a.admin_session().await;
    let org = a.org_of(&session).await;
    let (_, sat) = a
        .create_sat(
            &session,
            json!({ "name": "idp", "permissions": ["scim:read"] }),
        )
        .await;
    let b = TestApp::builder()
        .allow_private_streams()
        .start_on(a.database_url.clone())
        .await;
    let (id, secret) = create_stream(&a, &session, &receiver.url(), "ocsf").await;
    for _ in 0..10 {
        scim_reads(&a, &sat, 2).await;
        scim_reads(&b, &sat, 2).await;
    }
    assert!(
        eventually(Duration::from_secs(20), || async {
            receiver.lines().len() >= 40
        })
        .await,
        "got {}",
        receiver.lines().len()
    );
    // One lease, one holder: no record twice, in chain order.
    let seqs: Vec<i64> = receiver
        .lines()
        .iter()
        .map(|l| l["metadata"]["sequence"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let expected: Vec<i64> = scim_seqs(&a, &org)
        .await
        .iter()
        .map(|r| r["seq"].as_i64().unwrap())
        .filter(|s| *s > seqs[0] - 1)
        .collect();
    assert_eq!(seqs, expected);
    let line = &receiver.lines()[0];
    assert_eq!(line["class_uid"], 6003);
    assert_eq!(line["api"]["operation"], "scim.user.list");
    assert_eq!(line["actor"]["user"]["type"], "sat");
    assert!(
        receiver
            .deliveries()
            .iter()
            .all(|d| signature_ok(d, &secret))
    );

    // The holder stops: the other takes over and delivers what follows.
    let holder: Option<String> = scimitar::on_db!(a.db(), pool => {
        sqlx::query_scalar("SELECT lease_owner FROM audit_streams WHERE id = $1")
            .bind(uuid::Uuid::parse_str(&id).unwrap())
            .fetch_one(pool)
            .await
    })
    .unwrap();
    assert!(holder.is_some());
    let url = a.shutdown().await;
    scim_reads(&b, &sat, 5).await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            receiver.lines().len() >= 45
        })
        .await,
        "got {} after a handover",
        receiver.lines().len()
    );
    // `b` owns the database now and drops it.
    let _ = url;
    drop(b);
}

#[tokio::test]
async fn streams_refuse_private_addresses_bad_urls_and_non_admins() {
    let app = TestApp::spawn().await;
    let session = app.admin_session().await;
    let org = app.org_of(&session).await;
    let create = |body: Value| {
        let app = &app;
        let session = session.clone();
        async move { app.post("/api/v1/audit-streams", &session, body).await }
    };
    for url in [
        "http://127.0.0.1:9000/ingest",
        "http://localhost:9000/",
        "http://[::1]/",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data",
    ] {
        let r = create(json!({ "url": url, "format": "ndjson" })).await;
        r.assert_problem(400);
        assert!(r.text.contains("private"), "{url}: {}", r.text);
    }
    for (body, why) in [
        (
            json!({ "url": "ftp://siem.example.com/", "format": "ndjson" }),
            "http",
        ),
        (
            json!({ "url": "https://u:p@siem.example.com/", "format": "ndjson" }),
            "credentials",
        ),
        (
            json!({ "url": "https://token@siem.example.com/", "format": "ndjson" }),
            "credentials",
        ),
        (json!({ "url": "not a url", "format": "ndjson" }), "URL"),
        (
            json!({ "url": "https://siem.example.com/", "format": "xml" }),
            "format",
        ),
        (
            json!({ "url": "https://siem.example.com/", "format": "ndjson", "filter": { "outcome": "maybe" } }),
            "outcome",
        ),
        (
            json!({ "url": "https://siem.example.com/", "format": "ndjson", "filter": { "action": "DROP TABLE" } }),
            "action",
        ),
        (
            json!({ "url": "https://siem.example.com/", "format": "ndjson", "secret": "mine" }),
            "secret",
        ),
        (json!({ "format": "ndjson" }), "url"),
    ] {
        let r = create(body.clone()).await;
        r.assert_problem(400);
        assert!(r.text.contains(why), "{body}: {}", r.text);
    }
    let nothing = app.get("/api/v1/audit-streams", &session).await;
    assert_eq!(nothing.body["audit_streams"], json!([]), "{}", nothing.text);

    // Admins only: not an org SAT (even an audit reader), not a member.
    let (_, reader) = app
        .create_sat(
            &session,
            json!({ "name": "siem", "permissions": ["audit_logs:read"] }),
        )
        .await;
    let (_, member) = app.signed_in_member("default", "mia", "member").await;
    for who in [&reader, &member] {
        let r = app
            .post(
                "/api/v1/audit-streams",
                who,
                json!({ "url": "https://siem.example.com/", "format": "ndjson" }),
            )
            .await;
        r.assert_problem(403);
        assert!(r.text.contains("audit_streams:manage"), "{}", r.text);
        app.get("/api/v1/audit-streams", who)
            .await
            .assert_problem(403);
    }

    // The secret once, never again, never recorded.
    let r = create(json!({
        "url": "https://siem.example.com/ingest?key=abc",
        "format": "ocsf",
        "filter": { "action": "sat.", "outcome": "failure" }
    }))
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let id = r.body["id"].as_str().unwrap().to_string();
    let secret = r.body["secret"].as_str().unwrap().to_string();
    note_secret(&secret);
    assert!(secret.len() >= 64, "{secret}");
    assert_eq!(r.body["format"], "ocsf");
    assert_eq!(r.body["enabled"], true);
    assert_eq!(
        r.body["filter"],
        json!({ "action": "sat.", "outcome": "failure" })
    );
    assert!(r.body["status"]["cursor_seq"].as_i64().unwrap() > 0);
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/audit-streams/{id}").as_str())
    );
    let list = app.get("/api/v1/audit-streams", &session).await;
    assert_eq!(list.body["audit_streams"][0]["id"], id.as_str());
    let one = app
        .get(&format!("/api/v1/audit-streams/{id}"), &session)
        .await;
    assert_eq!(one.status, 200);
    for text in [&list.text, &one.text] {
        assert!(!text.contains(&secret));
        assert!(!text.contains("\"secret\""), "{text}");
    }

    // Changes: pause, a new URL (checked alike), the filter removed.
    let p = app
        .patch(
            &format!("/api/v1/audit-streams/{id}"),
            &session,
            json!({ "enabled": false, "url": "https://siem2.example.com/in", "filter": null }),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.body["enabled"], false);
    assert_eq!(p.body["url"], "https://siem2.example.com/in");
    assert_eq!(p.body["filter"], json!({ "action": null, "outcome": null }));
    app.patch(
        &format!("/api/v1/audit-streams/{id}"),
        &session,
        json!({ "url": "http://127.0.0.1/" }),
    )
    .await
    .assert_problem(400);
    app.patch(
        &format!("/api/v1/audit-streams/{id}"),
        &session,
        json!({ "enabled": "yes" }),
    )
    .await
    .assert_problem(400);

    let d = app
        .delete(&format!("/api/v1/audit-streams/{id}"), &session)
        .await;
    assert_eq!(d.status, 204, "{}", d.text);
    app.get(&format!("/api/v1/audit-streams/{id}"), &session)
        .await
        .assert_problem(404);
    app.get("/api/v1/audit-streams/not-a-uuid", &session)
        .await
        .assert_problem(404);

    // Every change recorded, without the secret or the URL's query.
    let records = app.audit_records(&org).await;
    let actions: Vec<&str> = records
        .iter()
        .filter(|r| r["outcome"] == "success")
        .filter_map(|r| r["action"].as_str())
        .filter(|a| {
            a.starts_with("audit_stream.") && !a.ends_with(".list") && !a.ends_with(".read")
        })
        .collect();
    // Refusals are recorded too, as failures under the route's name.
    let refused = records
        .iter()
        .filter(|r| r["action"] == "audit_stream.create" && r["outcome"] == "failure")
        .count();
    assert!(refused >= 15, "{refused}");
    assert_eq!(
        actions,
        [
            "audit_stream.create",
            "audit_stream.update",
            "audit_stream.delete"
        ]
    );
    let created = records
        .iter()
        .find(|r| r["action"] == "audit_stream.create" && r["outcome"] == "success")
        .unwrap();
    assert_eq!(created["target_type"], "audit_stream");
    assert_eq!(created["target_id"], id.as_str());
    assert_eq!(created["http_status"], 201);
    let changes: Value = serde_json::from_str(created["changes"].as_str().unwrap()).unwrap();
    assert_eq!(changes["url"], "https://siem.example.com/ingest?…");
    let all = serde_json::to_string(&records).unwrap();
    assert!(!all.contains(&secret));
    assert!(!all.contains("key=abc"));
}

/// A stream made while private addresses were allowed delivers nothing to
/// them once they are not: its URL is checked again at delivery (and the
/// addresses a name resolves to, see `GuardedResolver`'s unit test).
#[tokio::test]
async fn delivery_checks_the_resolved_address() {
    let receiver = Receiver::start().await;
    let app = TestApp::builder().allow_private_streams().start().await;
    let session = app.admin_session().await;
    let password = app.admin_password.clone();
    let (id, _) = create_stream(&app, &session, &receiver.host_url(), "ndjson").await;
    let url = app.shutdown().await;
    let app = TestApp::builder().start_on(url).await;
    let t = send_test(&app, &password, &id).await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["delivered"], false, "{}", t.text);
    assert!(
        t.body["error"]
            .as_str()
            .unwrap()
            .contains("private address"),
        "{}",
        t.text
    );
    let (_, sat) = app
        .create_sat(
            &session,
            json!({ "name": "idp", "permissions": ["scim:read"] }),
        )
        .await;
    scim_reads(&app, &sat, 3).await;
    let refused = eventually(Duration::from_secs(10), || async {
        let s = app
            .get(&format!("/api/v1/audit-streams/{id}"), &session)
            .await;
        s.body["status"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("private address"))
    })
    .await;
    assert!(refused);
    assert!(receiver.deliveries().is_empty());
}

/// The console shows each stream's delivery status and creates streams
/// through the same use case, the secret on the answering page only.
#[tokio::test]
async fn the_console_shows_stream_status_and_creates_streams() {
    let receiver = Receiver::start().await;
    let app = TestApp::builder().allow_private_streams().start().await;
    let session = app.admin_session().await;
    let (_, sat) = app
        .create_sat(
            &session,
            json!({ "name": "idp", "permissions": ["scim:read"] }),
        )
        .await;
    let mut console = crate::console_client::Console::new(&app);
    let csrf = console.sign_in_admin().await;
    let empty = console.get("/console/audit-streams").await;
    assert_eq!(empty.status, 200);
    assert!(
        empty.text.contains("No audit streams yet."),
        "{}",
        empty.text
    );

    let bad = console
        .post(
            "/console/audit-streams",
            &[
                ("csrf", &csrf),
                ("url", "ftp://x.example.com/"),
                ("format", "ndjson"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.text.contains("must use http or https"), "{}", bad.text);

    let url = receiver.url();
    let made = console
        .post(
            "/console/audit-streams",
            &[
                ("csrf", &csrf),
                ("url", &url),
                ("format", "ndjson"),
                ("action", "scim."),
                ("outcome", ""),
            ],
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let start = made.text.find("whsec_").expect("the secret is shown once");
    let secret = made.text[start..start + 70].to_string();
    note_secret(&secret);

    scim_reads(&app, &sat, 3).await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            receiver.distinct_seqs().len() >= 3
        })
        .await
    );
    let last = *receiver.distinct_seqs().last().unwrap();
    let page = console.get("/console/audit-streams").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(&url), "{}", page.text);
    assert!(page.text.contains(&format!("seq {last}")), "{}", page.text);
    assert!(page.text.contains("delivering"), "{}", page.text);
    assert!(!page.text.contains(&secret));
    assert!(
        receiver
            .deliveries()
            .iter()
            .all(|d| signature_ok(d, &secret))
    );
}

/// A receiver answering 503 is retried until it takes the batch; a paused
/// stream sends nothing and, resumed, goes on from where it stopped.
#[tokio::test]
async fn a_5xx_is_retried_and_a_paused_stream_resumes_where_it_stopped() {
    let receiver = Receiver::start().await;
    let app = TestApp::builder().allow_private_streams().start().await;
    let session = app.admin_session().await;
    let org = app.org_of(&session).await;
    let (_, sat) = app
        .create_sat(
            &session,
            json!({ "name": "idp", "permissions": ["scim:read"] }),
        )
        .await;
    let (id, secret) = create_stream(&app, &session, &receiver.url(), "ndjson").await;
    let path = format!("/api/v1/audit-streams/{id}");

    receiver.refuse.store(3, Ordering::SeqCst);
    scim_reads(&app, &sat, 5).await;
    let refused = eventually(Duration::from_secs(10), || async {
        let s = app.get(&path, &session).await;
        s.body["status"]["last_error"] == "the receiver answered 503 Service Unavailable"
    })
    .await;
    assert!(refused, "a 503 shows as the last error");
    assert!(
        eventually(Duration::from_secs(15), || async {
            receiver.distinct_seqs().len() >= 5
        })
        .await,
        "retried until taken"
    );
    assert_eq!(receiver.refuse.load(Ordering::SeqCst), 0);

    let p = app
        .patch(&path, &session, json!({ "enabled": false }))
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = receiver.lines().len();
    scim_reads(&app, &sat, 4).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        receiver.lines().len(),
        before,
        "a paused stream sends nothing"
    );

    let p = app.patch(&path, &session, json!({ "enabled": true })).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert!(
        eventually(Duration::from_secs(10), || async {
            receiver.distinct_seqs().len() >= 9
        })
        .await,
        "resumed"
    );
    let expected: Vec<i64> = scim_seqs(&app, &org)
        .await
        .iter()
        .map(|r| r["seq"].as_i64().unwrap())
        .filter(|s| *s >= receiver.distinct_seqs()[0])
        .collect();
    assert_eq!(receiver.distinct_seqs(), expected);
    assert!(
        receiver
            .deliveries()
            .iter()
            .all(|d| signature_ok(d, &secret))
    );
    let s = app.get(&path, &session).await;
    assert!(s.body["status"]["last_error"].is_null(), "{}", s.text);
    assert_eq!(s.body["status"]["consecutive_failures"], 0);
}

/// Signs in as the admin with `password` and asks stream `id` for its test
/// delivery: the answer.
async fn send_test(app: &TestApp, password: &str, id: &str) -> Resp {
    let session = app.login("default", "admin", password).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/api/v1/audit-streams/{id}/test"),
        &session,
        json!({}),
    )
    .await
}

/// [`send_test`], for a delivery that must arrive: the delivery as `receiver` got it.
async fn test_delivery(app: &TestApp, password: &str, id: &str, receiver: &Receiver) -> Delivery {
    let t = send_test(app, password, id).await;
    assert_eq!(t.body["delivered"], true, "{}", t.text);
    receiver.deliveries().pop().unwrap()
}

/// Adopting a configured key-encryption key deletes the generated one: the
/// streams' secrets are re-encrypted under the configured key with the
/// signing keys, so that a stream still signs with the secret its receiver
/// was given.
#[tokio::test]
async fn a_stream_keeps_its_secret_when_a_configured_kek_is_adopted() {
    const KEK: &str = "a configured key-encryption key for the stream test";
    let receiver = Receiver::start().await;
    let app = TestApp::builder().allow_private_streams().start().await;
    let session = app.admin_session().await;
    let password = app.admin_password.clone();
    let (id, secret) = create_stream(&app, &session, &receiver.url(), "ndjson").await;
    let kek_of = |app: &TestApp| {
        let db = app.db().clone();
        let id = uuid::Uuid::parse_str(&id).unwrap();
        async move {
            let k: String = scimitar::on_db!(&db, pool => {
                sqlx::query_scalar("SELECT secret_kek_id FROM audit_streams WHERE id = $1")
                    .bind(id)
                    .fetch_one(pool)
                    .await
            })
            .unwrap();
            k
        }
    };
    let generated = kek_of(&app).await;
    let url = app.shutdown().await;

    let app = TestApp::builder()
        .allow_private_streams()
        .key_encryption_key(KEK)
        .start_on(url)
        .await;
    assert_ne!(
        kek_of(&app).await,
        generated,
        "re-encrypted under the configured KEK"
    );
    let test = test_delivery(&app, &password, &id, &receiver).await;
    assert!(
        signature_ok(&test, &secret),
        "signed with the secret first shown"
    );

    // And after the next start, which holds only the configured KEK.
    let url = app.shutdown().await;
    let app = TestApp::builder()
        .allow_private_streams()
        .key_encryption_key(KEK)
        .start_on(url)
        .await;
    let test = test_delivery(&app, &password, &id, &receiver).await;
    assert!(signature_ok(&test, &secret));
}

/// An event a workspace service reported through the intake is streamed
/// like any record, naming its reporter (issue 18).
#[tokio::test]
async fn reported_events_are_streamed_with_their_reporter() {
    let ndjson = Receiver::start().await;
    let ocsf = Receiver::start().await;
    let app = TestApp::builder().allow_private_streams().start().await;
    let session = app.admin_session().await;
    for (receiver, format) in [(&ndjson, "ndjson"), (&ocsf, "ocsf")] {
        let r = app
            .post(
                "/api/v1/audit-streams",
                &session,
                json!({ "url": receiver.url(), "format": format, "filter": { "action": "transformations.*" } }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        note_secret(r.body["secret"].as_str().unwrap());
    }
    let ws = app.create_workspace(&session, "prod").await;
    let (subject_id, subject) = app
        .create_sat(
            &session,
            json!({ "name": "ci", "workspace_id": ws, "permissions": ["transformations:edit"] }),
        )
        .await;
    let (service_id, service) = app
        .create_sat(
            &session,
            json!({ "name": "svc", "permissions": ["audit_logs:write"] }),
        )
        .await;
    let occurred_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = app
        .post(
            "/api/v1/audit-logs/events",
            &service,
            json!({
                "id": "s-1", "subject_token": subject, "action": "transformations.update",
                "target": { "type": "transformation", "id": "42" },
                "outcome": "success", "occurred_at": occurred_at,
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let arrived = eventually(Duration::from_secs(15), || async {
        !ndjson.lines().is_empty() && !ocsf.lines().is_empty()
    })
    .await;
    assert!(arrived, "both streams delivered");
    let line = &ndjson.lines()[0];
    assert_eq!(line["action"], "transformations.update");
    assert_eq!(line["actor_id"], subject_id.as_str());
    assert_eq!(line["reported_by"], service_id.as_str());
    let event = &ocsf.lines()[0];
    assert_eq!(
        event["unmapped"]["reported_by"],
        service_id.as_str(),
        "{event}"
    );
}
