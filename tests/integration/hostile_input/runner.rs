//! Sending the cases and judging the answers: one failure line per case
//! that misbehaved, so that a run reports every bad answer at once.

use serde_json::json;

use super::case::{Auth, Case, Proto};
use super::check::{Outcome, check};
use super::fixture::Fixture;
use super::raw::{self, RawCase};
use super::scim::q;
use crate::support::TestApp;

/// Sends every case and returns what was wrong with the answers.
pub async fn run(app: &TestApp, fx: &Fixture, cases: &[Case], raw: &[RawCase]) -> Vec<String> {
    let mut failures = vec![];
    for k in cases {
        let out = send(app, fx, k).await;
        let problems = check(Proto::of(&k.path), k.expect, &out);
        if !problems.is_empty() {
            let path: String = k.path.chars().take(120).collect();
            failures.push(failure(
                &format!("{} ({} {path})", k.name, k.method),
                &problems,
                &out,
            ));
        }
    }
    for k in raw {
        let out = raw::send(app, &k.request).await;
        let problems = check(k.proto, None, &out);
        if !problems.is_empty() {
            failures.push(failure(&format!("{} (raw)", k.name), &problems, &out));
        }
    }
    failures
}

fn failure(what: &str, problems: &[String], out: &Outcome) -> String {
    let body: String = String::from_utf8_lossy(&out.body)
        .chars()
        .take(300)
        .collect();
    format!("{what}: {}\n    body: {body}", problems.join("; "))
}

async fn send(app: &TestApp, fx: &Fixture, k: &Case) -> Outcome {
    let path = fx.path(&k.path);
    // Percent-encoded bytes stay as sent: reqwest's URL parser keeps them.
    let mut req = app.client.request(k.method.clone(), app.url(&path));
    match (k.auth, fx.cred(k.auth)) {
        (Auth::Console, Some(cred)) => {
            req = req.header("cookie", format!("scimitar_console={cred}"));
            if !k.headers.iter().any(|(n, _)| n == "sec-fetch-site") {
                req = req.header("sec-fetch-site", "same-origin");
            }
        }
        (_, Some(cred)) => req = req.header("authorization", format!("Bearer {cred}")),
        (_, None) => {}
    }
    for (name, value) in &k.headers {
        let v = reqwest::header::HeaderValue::from_bytes(value).expect("header value");
        req = req.header(name.as_str(), v);
    }
    if let Some(body) = &k.body {
        let ct = k.content_type.clone().unwrap_or_else(|| {
            if path.starts_with("/scim/") {
                "application/scim+json".into()
            } else {
                "application/json".into()
            }
        });
        if !ct.is_empty() {
            req = req.header("content-type", ct);
        }
        // Placeholders are filled in text; other bytes go as they are.
        req = match std::str::from_utf8(body) {
            Ok(text) => req.body(fx.path(text)),
            Err(_) => req.body(body.clone()),
        };
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = resp.bytes().await.unwrap_or_default().to_vec();
    Outcome {
        status,
        headers,
        body,
    }
}

/// Hostile but well-formed: SQL in quoted filter values and in query
/// parameters is data, so these succeed and match nothing. Returns how
/// many were sent.
pub async fn probes(app: &TestApp, fx: &Fixture, failures: &mut Vec<String>) -> usize {
    let mut probes = 0;
    for value in [
        "' OR '1'='1",
        "\\\" OR 1=1 --",
        "alice'; DROP TABLE members; --",
        "%",
        "_",
        "*",
        "a\\\\",
    ] {
        for attr in ["userName", "emails.value", "name.givenName", "title"] {
            let filter = format!("{attr} eq \"{value}\" or {attr} co \"{value}\"");
            let r = app
                .get(
                    &format!("/scim/v2/Users?{}", q(&filter)),
                    fx.cred(Auth::Scim).unwrap(),
                )
                .await;
            if r.status != 200 || r.body["totalResults"] != json!(0) {
                failures.push(format!("probe {filter}: {} {}", r.status, r.text));
            }
            probes += 1;
        }
    }
    for query in [
        "action=%25%27%20OR%201%3D1%20--",
        "actor_id=%27%20OR%20%271%27%3D%271",
        "target_id=1%3BDROP%20TABLE%20audit_events",
        "action=%25*",
    ] {
        let r = app
            .get(
                &format!("/api/v1/audit-logs?{query}"),
                fx.cred(Auth::Audit).unwrap(),
            )
            .await;
        if r.status != 200 || r.body["records"] != json!([]) {
            failures.push(format!("probe {query}: {} {}", r.status, r.text));
        }
        probes += 1;
    }
    probes
}
