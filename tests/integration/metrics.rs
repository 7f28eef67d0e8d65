//! `/metrics` (`--metrics`, `--metrics-listen`): the named series move with
//! the requests that should move them, labels name route templates rather
//! than paths, and a listener of their own keeps them off the main port.
//!
//! Every server of the test process records into one recorder, so tests
//! assert that a series grew, never its exact value.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestApp, eventually};
use scimitar::config::MetricsAt;

/// The sum of the samples of `name` whose labels include `labels` (0 when
/// there is none).
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let (n, rest) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            (n == name).then_some(())?;
            let have: HashMap<&str, &str> = rest
                .split(",")
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k, v.trim_matches('"')))
                .collect();
            labels
                .iter()
                .all(|(k, want)| have.get(k) == Some(want))
                .then(|| v.parse::<f64>().ok())?
        })
        .sum()
}

async fn scrape(app: &TestApp, url: &str) -> String {
    let r = app.client.get(url).send().await.expect("scraped");
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    r.text().await.unwrap()
}

#[tokio::test]
async fn the_named_series_move_with_requests_verifications_and_commits() {
    let app = TestApp::builder()
        .metrics(MetricsAt::Main)
        .checkpoint_every(1, Duration::from_secs(1))
        .start()
        .await;
    let metrics = app.url("/metrics");
    let session = app.admin_session().await;
    let (sat_id, sat) = app
        .create_sat(
            &session,
            json!({ "name": "scraped", "permissions": ["scim:read"] }),
        )
        .await;
    let ws = app.create_workspace(&session, "metered").await;
    let before = scrape(&app, &metrics).await;

    // A request counts under its route template, never its path.
    let r = app.get(&format!("/api/v1/workspaces/{ws}"), &session).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A good token and a revoked one.
    assert_eq!(app.get("/api/v1/tokens/self", &sat).await.status, 200);
    let r = app
        .delete(&format!("/api/v1/service-access-tokens/{sat_id}"), &session)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.get("/api/v1/tokens/self", &sat).await.status, 401);
    // An audited write.
    app.create_workspace(&session, "metered too").await;

    let after = scrape(&app, &metrics).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        let (b, a) = (value(&before, name, labels), value(&after, name, labels));
        assert!(a > b, "{name}{labels:?}: {b} then {a}\n{after}");
    };
    let ws_read = [
        ("route", "/api/v1/workspaces/{id}"),
        ("method", "GET"),
        ("status", "200"),
    ];
    grew("scimitar_http_requests_total", &ws_read);
    grew(
        "scimitar_http_request_duration_seconds_count",
        &ws_read[..2],
    );
    grew(
        "scimitar_http_requests_total",
        &[("route", "/api/v1/tokens/self"), ("status", "401")],
    );
    grew(
        "scimitar_token_verifications_total",
        &[("outcome", "revoked")],
    );
    grew("scimitar_token_verifications_total", &[("outcome", "ok")]);
    grew("scimitar_audit_batch_records_count", &[]);
    grew("scimitar_audit_batch_records_sum", &[]);
    grew("scimitar_audit_batch_commit_seconds_count", &[]);

    // Sampled at scrape time.
    let pool = if crate::support::on_postgres() {
        "postgres"
    } else {
        "sqlite_readers"
    };
    assert!(
        value(&after, "scimitar_db_pool_connections", &[("pool", pool)]) >= 1.0,
        "{after}"
    );
    assert!(after.contains("\nscimitar_db_pool_idle_connections{"));
    assert!(after.contains("\nscimitar_audit_queue_depth "));
    // The filter index is at most a moment behind the records.
    let caught_up = eventually(Duration::from_secs(10), || async {
        let text = scrape(&app, &metrics).await;
        text.lines()
            .any(|l| l.starts_with("scimitar_audit_index_lag_records "))
            && value(&text, "scimitar_audit_index_lag_records", &[]) == 0.0
    })
    .await;
    assert!(caught_up, "the audit index lag never reached 0");
    // Once the checkpointer (about once a second) has signed one.
    let signed = eventually(Duration::from_secs(10), || async {
        let text = scrape(&app, &metrics).await;
        text.lines()
            .any(|l| l.starts_with("scimitar_audit_checkpoint_age_seconds "))
    })
    .await;
    assert!(signed, "no checkpoint age");

    // No id, path or token value in any label.
    assert!(!after.contains(&ws), "a workspace id is in a label");
    assert!(!after.contains(&sat_id), "a token id is in a label");
    assert!(!after.contains(&sat), "a token value is in a label");
    assert!(!after.contains(&session), "a session is in a label");
}

#[tokio::test]
async fn abuse_limit_refusals_are_counted_by_kind() {
    let mut limits = scimitar::config::DEFAULT_LIMITS;
    limits.auth_failures_per_credential = 1;
    let app = TestApp::builder()
        .metrics(MetricsAt::Main)
        .limits(limits)
        .start()
        .await;
    let session = app.admin_session().await;
    let (sat_id, sat) = app
        .create_sat(
            &session,
            json!({ "name": "blocked", "permissions": ["scim:read"] }),
        )
        .await;
    app.delete(&format!("/api/v1/service-access-tokens/{sat_id}"), &session)
        .await;
    let labels = [("reason", "auth_failures"), ("limit", "credential")];
    let before = value(
        &scrape(&app, &app.url("/metrics")).await,
        "scimitar_abuse_limit_refusals_total",
        &labels,
    );
    // The first failure is counted; the next is refused by the limit.
    assert_eq!(app.get("/api/v1/tokens/self", &sat).await.status, 401);
    assert_eq!(app.get("/api/v1/tokens/self", &sat).await.status, 429);
    let after = value(
        &scrape(&app, &app.url("/metrics")).await,
        "scimitar_abuse_limit_refusals_total",
        &labels,
    );
    assert!(after > before, "{before} then {after}");
}

#[tokio::test]
async fn a_metrics_listener_keeps_them_off_the_main_port() {
    let app = TestApp::builder()
        .metrics(MetricsAt::Listen("127.0.0.1:0".parse().unwrap()))
        .start()
        .await;
    let own = format!("http://{}/metrics", app.metrics_addr().expect("bound"));
    let session = app.admin_session().await;
    let r = app.get("/metrics", &session).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The main port's requests are counted, and read on the other port.
    let labels = [("route", "/api/v1/workspaces"), ("method", "GET")];
    let before = value(
        &scrape(&app, &own).await,
        "scimitar_http_requests_total",
        &labels,
    );
    assert_eq!(app.get("/api/v1/workspaces", &session).await.status, 200);
    let after = value(
        &scrape(&app, &own).await,
        "scimitar_http_requests_total",
        &labels,
    );
    assert!(after > before, "{before} then {after}");
    // Nothing else is served there.
    let r = app
        .client
        .get(own.replace("/metrics", "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_metrics_there_is_no_endpoint() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// A `scimitar serve` process with `vars` set; returns it and the addresses
/// its log names (`scimitar listening`, `metrics listening`).
async fn serve_with(
    vars: &[(&str, &str)],
) -> (std::process::Child, String, Option<String>, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};

    let url = crate::support::fresh_database_url().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_scimitar"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
        .env_remove("SCIMITAR_METRICS")
        .env_remove("SCIMITAR_METRICS_LISTEN")
        .envs(vars.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let addr_after = |what: &str| {
        lines.lock().unwrap().iter().find_map(|l| {
            l.contains(what)
                .then(|| l.split("addr=").nth(1)?.split_whitespace().next())
                .flatten()
                .map(|a| format!("http://{a}"))
        })
    };
    let mut main = None;
    for _ in 0..400 {
        main = addr_after("scimitar listening");
        if main.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let own = addr_after("metrics listening");
    (child, main.expect("the server listens"), own, url)
}

/// The environment variables turn metrics on, as the flags do, in the real
/// process.
#[tokio::test]
async fn the_environment_turns_metrics_on_and_moves_them_off_the_main_port() {
    let client = crate::support::http_client();
    let status = |url: String| {
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().status() }
    };

    let (mut on_main, main, own, url) = serve_with(&[("SCIMITAR_METRICS", "true")]).await;
    assert!(own.is_none());
    assert_eq!(status(format!("{main}/healthz")).await, StatusCode::OK);
    let text = client
        .get(format!("{main}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        value(
            &text,
            "scimitar_http_requests_total",
            &[("route", "/healthz")]
        ) >= 1.0,
        "{text}"
    );
    let _ = on_main.kill();
    let _ = on_main.wait();
    crate::support::drop_database(&url);

    let (mut apart, main, own, url) =
        serve_with(&[("SCIMITAR_METRICS_LISTEN", "127.0.0.1:0")]).await;
    let own = own.expect("the metrics listener is logged");
    assert_eq!(
        status(format!("{main}/metrics")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(status(format!("{own}/metrics")).await, StatusCode::OK);
    let _ = apart.kill();
    let _ = apart.wait();
    crate::support::drop_database(&url);

    let (mut off, main, own, url) = serve_with(&[("SCIMITAR_METRICS", "false")]).await;
    assert!(own.is_none());
    assert_eq!(
        status(format!("{main}/metrics")).await,
        StatusCode::NOT_FOUND
    );
    let _ = off.kill();
    let _ = off.wait();
    crate::support::drop_database(&url);
}

/// An audit stream whose receiver is down falls behind, and its lag shows.
#[tokio::test]
async fn an_audit_streams_lag_is_a_series() {
    let app = TestApp::builder()
        .metrics(MetricsAt::Main)
        .allow_private_streams()
        .start()
        .await;
    let session = app.admin_session().await;
    // Nothing listens on the discard port: every delivery fails.
    let created = app
        .post(
            "/api/v1/audit-streams",
            &session,
            json!({ "url": "http://127.0.0.1:9/siem", "format": "ndjson" }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/workspaces", &session).await.status, 200);
    }
    let metrics = app.url("/metrics");
    let lag = value(
        &scrape(&app, &metrics).await,
        "scimitar_audit_stream_lag_records",
        &[("stream", &id)],
    );
    assert!(lag >= 3.0, "three records behind at least, got {lag}");
}
