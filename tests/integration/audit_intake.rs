//! The audit event intake (`POST /api/v1/audit-logs/events`): workspace
//! services report what they did with a workspace SAT or an exchanged JWT;
//! scimitar verifies each event as of its `occurred_at` and records it
//! under the subject SAT, in its workspace, naming the reporting service.
//! (The example service's round trip is in `example_service.rs`.)

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Resp, TestApp, eventually, record_changes as changes};

const EVENTS: &str = "/api/v1/audit-logs/events";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// An organization with a workspace, a workspace SAT that may edit
/// transformations, a reporting service's SAT with `audit_logs:write` and
/// an auditor's SAT with `audit_logs:read`.
struct Setup {
    app: TestApp,
    session: String,
    org: String,
    ws: String,
    subject_id: String,
    subject: String,
    service_id: String,
    service: String,
    auditor: String,
}

async fn setup() -> Setup {
    setup_with(TestApp::spawn().await).await
}

async fn setup_with(app: TestApp) -> Setup {
    let session = app.admin_session().await;
    let org = app.org_of(&session).await;
    let ws = app.create_workspace(&session, "prod").await;
    let (subject_id, subject) = app
        .create_sat(
            &session,
            json!({ "name": "ci-deploy", "workspace_id": ws, "permissions": ["transformations:edit"] }),
        )
        .await;
    let (service_id, service) = app
        .create_sat(
            &session,
            json!({ "name": "transformations-service", "permissions": ["audit_logs:write"] }),
        )
        .await;
    let (_, auditor) = app
        .create_sat(
            &session,
            json!({ "name": "auditor", "permissions": ["audit_logs:read"] }),
        )
        .await;
    Setup {
        app,
        session,
        org,
        ws,
        subject_id,
        subject,
        service_id,
        service,
        auditor,
    }
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn now() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

/// A good event by `token`, with id `id`.
fn event(id: &str, token: &str, action: &str) -> Value {
    json!({
        "id": id,
        "subject_token": token,
        "action": action,
        "target": {"type": "transformation", "id": 42, "display": "enrich"},
        "outcome": "success",
        "occurred_at": now(),
        "changes": {"code_bytes": 120},
        "request_id": "req-1",
        "source_ip": "203.0.113.7",
        "user_agent": "ci/1.0",
    })
}

impl Setup {
    /// The subject SAT exchanged for a JWT, with one more form field.
    async fn exchange(&self, extra: (&str, &str)) -> Resp {
        crate::support::read(
            self.app
                .client
                .post(self.app.url("/api/v1/tokens/exchange"))
                .form(&[
                    ("grant_type", GRANT),
                    ("subject_token", self.subject.as_str()),
                    extra,
                ])
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn report(&self, body: Value) -> Resp {
        self.app.post(EVENTS, &self.service, body).await
    }

    /// The records of the organization's chain, oldest first.
    async fn records(&self) -> Vec<Value> {
        self.app.audit_records(&self.org).await
    }

    /// Records of `action` in the chain.
    async fn records_of(&self, action: &str) -> Vec<Value> {
        self.records()
            .await
            .into_iter()
            .filter(|r| r["action"] == action)
            .collect()
    }

    /// The intake's refusal records (in the reporting service's name), not
    /// the records of calls that recorded nothing else (replays).
    async fn refusals(&self) -> Vec<Value> {
        self.records_of("audit_logs.ingest")
            .await
            .into_iter()
            .filter(|r| r["target_type"] == "audit_event")
            .collect()
    }
}

/// One event's refusal, answered as a problem.
fn assert_refused(r: &Resp, status: u16, error: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{}",
        r.text
    );
    assert_eq!(r.body["error"], error, "{}", r.text);
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

#[tokio::test]
async fn an_event_is_recorded_under_the_subject_sat_in_its_workspace_naming_the_service() {
    let s = setup().await;
    let r = s
        .report(event("evt-1", &s.subject, "transformations.update"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["id"], "evt-1");
    assert_eq!(r.body["status"], 201);
    let record_id = r.body["record_id"].as_str().unwrap().to_string();

    let records = s.records_of("transformations.update").await;
    assert_eq!(records.len(), 1, "{records:?}");
    let rec = &records[0];
    assert_eq!(rec["id"], record_id.as_str());
    assert_eq!(rec["actor_kind"], "sat");
    assert_eq!(rec["actor_id"], s.subject_id.as_str());
    assert_eq!(rec["actor_display"], "ci-deploy");
    assert_eq!(rec["workspace_id"], s.ws.as_str());
    assert_eq!(rec["reported_by"], s.service_id.as_str());
    assert_eq!(rec["target_type"], "transformation");
    assert_eq!(rec["target_id"], "42");
    assert_eq!(rec["target_display"], "enrich");
    assert_eq!(rec["outcome"], "success");
    assert_eq!(rec["request_id"], "req-1");
    assert_eq!(rec["source_ip"], "203.0.113.7");
    assert_eq!(rec["user_agent"], "ci/1.0");
    let c = changes(rec);
    assert_eq!(c["event_id"], "evt-1");
    assert_eq!(c["changes"]["code_bytes"], 120);
    assert!(c["occurred_at"].is_string());
    // The token's value is nowhere in the log; its id is.
    let all = serde_json::to_string(&s.records().await).unwrap();
    assert!(
        !all.contains(&s.subject),
        "the subject token's value was recorded"
    );

    // The API finds it by actor, by workspace and by action prefix.
    for query in [
        format!("actor_id={}", s.subject_id),
        format!("workspace_id={}", s.ws),
        "action=transformations.*".to_string(),
    ] {
        let page = s
            .app
            .get(&format!("/api/v1/audit-logs?{query}"), &s.auditor)
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let found: Vec<&Value> = page.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["id"] == record_id.as_str())
            .collect();
        assert_eq!(found.len(), 1, "{query}: {}", page.text);
        assert_eq!(found[0]["reported_by"], s.service_id.as_str());
    }
    // And its record by id.
    let one = s
        .app
        .get(&format!("/api/v1/audit-logs/{record_id}"), &s.auditor)
        .await;
    assert_eq!(
        one.body["reported_by"],
        s.service_id.as_str(),
        "{}",
        one.text
    );
}

#[tokio::test]
async fn an_exchanged_jwt_is_credited_to_the_sat_behind_it() {
    let s = setup().await;
    let x = s.exchange(("audience", "transformations")).await;
    assert_eq!(x.status, StatusCode::OK, "{}", x.text);
    let jwt = x.body["access_token"].as_str().unwrap().to_string();
    let r = s
        .report(event("evt-jwt", &jwt, "transformations.update"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let rec = s.records_of("transformations.update").await.pop().unwrap();
    assert_eq!(rec["actor_id"], s.subject_id.as_str());
    assert_eq!(rec["workspace_id"], s.ws.as_str());
    assert!(changes(&rec)["jti"].is_string(), "{rec}");
    assert!(!rec.to_string().contains(&jwt));

    // A JWT narrowed to `read` does not cover an update.
    let narrow = s.exchange(("scope", "transformations:read")).await;
    let narrow = narrow.body["access_token"].as_str().unwrap().to_string();
    let r = s
        .report(event("evt-narrow", &narrow, "transformations.update"))
        .await;
    assert_refused(&r, 422, "permission_missing");
}

#[tokio::test]
async fn forged_and_other_organization_subject_tokens_are_refused() {
    let s = setup().await;
    // A well-formed SAT nobody issued.
    let forged = scimitar::tokens::PlainToken::generate(scimitar::tokens::TokenKind::Sat).reveal();
    let r = s
        .report(event("forged", &forged, "transformations.update"))
        .await;
    assert_refused(&r, 422, "invalid_subject_token");
    // The subject's id with another secret.
    let wrong_secret = scimitar::tokens::PlainToken::with_id(
        scimitar::tokens::TokenKind::Sat,
        scimitar::tokens::PlainToken::id_hint(&s.subject).unwrap(),
    )
    .reveal();
    let r = s
        .report(event(
            "wrong-secret",
            &wrong_secret,
            "transformations.update",
        ))
        .await;
    assert_refused(&r, 422, "invalid_subject_token");
    // A JWT signed with a key that is not the server's.
    let key = scimitar::signing::KeyPair::generate();
    let claims = json!({
        "iss": "scimitar", "sub": s.subject_id, "org": s.org, "workspace": s.ws,
        "permissions": ["transformations:edit"], "scope": "transformations:edit",
        "aud": "x", "jti": "00000000-0000-0000-0000-000000000000",
        "iat": time::OffsetDateTime::now_utc().unix_timestamp(),
        "exp": time::OffsetDateTime::now_utc().unix_timestamp() + 300,
    });
    let forged_jwt = key.sign_jws(&claims).unwrap();
    let r = s
        .report(event("forged-jwt", &forged_jwt, "transformations.update"))
        .await;
    assert_refused(&r, 422, "invalid_subject_token");
    // A session (signed with the server's keys, but not a subject token).
    let r = s
        .report(event("session", &s.session, "transformations.update"))
        .await;
    assert_refused(&r, 422, "invalid_subject_token");

    // Another organization's workspace SAT, valid there.
    let other_org = s
        .app
        .cli(&["--json", "org", "create", "other"])
        .await
        .json();
    s.app
        .cli(&["workspace", "create", "--org", "other", "theirs"])
        .await;
    let foreign = s
        .app
        .cli(&[
            "token",
            "create",
            "--org",
            "other",
            "--workspace",
            "theirs",
            "--name",
            "x",
            "--permission",
            "transformations:edit",
            "--json",
        ])
        .await
        .json();
    let foreign_id = foreign["id"].as_str().unwrap().to_string();
    let foreign = foreign["token"].as_str().unwrap().to_string();
    let r = s
        .report(event("foreign", &foreign, "transformations.update"))
        .await;
    assert_refused(&r, 422, "invalid_subject_token");
    // Said exactly as a forgery is: nothing about the other organization,
    // not even that its token is revoked.
    let forged_detail = "invalid subject token";
    assert_eq!(r.body["detail"], forged_detail, "{}", r.text);
    s.app
        .cli(&["token", "revoke", "--org", "other", &foreign_id])
        .await;
    let r = s
        .report(event("foreign-revoked", &foreign, "transformations.update"))
        .await;
    assert_refused(&r, 422, "invalid_subject_token");
    assert_eq!(r.body["detail"], forged_detail, "{}", r.text);

    // An organization SAT acts in no workspace.
    let r = s
        .report(event("org-sat", &s.auditor, "transformations.update"))
        .await;
    assert_refused(&r, 422, "invalid_subject_token");

    // Nothing was credited to anyone; each refusal is recorded as a
    // failure in the reporting service's name.
    assert!(s.records_of("transformations.update").await.is_empty());
    let refusals = s.refusals().await;
    assert_eq!(refusals.len(), 7, "{refusals:?}");
    for r in &refusals {
        assert_eq!(r["actor_id"], s.service_id.as_str(), "{r}");
        assert_eq!(r["outcome"], "failure");
        assert_eq!(r["http_status"], 422);
        assert_eq!(r["target_type"], "audit_event");
        assert!(r["reported_by"].is_null());
        assert_eq!(changes(r)["error"], "invalid_subject_token");
    }
    // No other organization's chain heard of it.
    let theirs = s.app.audit_records(other_org["id"].as_str().unwrap()).await;
    assert!(
        theirs.iter().all(|r| r["action"] != "audit_logs.ingest"),
        "{theirs:?}"
    );
}

#[tokio::test]
async fn a_token_revoked_before_occurred_at_is_refused_and_one_revoked_after_is_not() {
    let s = setup().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = time::OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let revoked = s
        .app
        .delete(
            &format!("/api/v1/service-access-tokens/{}", s.subject_id),
            &s.session,
        )
        .await;
    assert!(revoked.status.is_success(), "{}", revoked.text);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = time::OffsetDateTime::now_utc();

    // Work done after the revocation is refused...
    let mut late = event("after", &s.subject, "transformations.update");
    late["occurred_at"] = json!(rfc3339(after));
    let r = s.report(late).await;
    assert_refused(&r, 422, "subject_token_inactive");
    assert!(
        r.body["detail"].as_str().unwrap().contains("revoked"),
        "{}",
        r.text
    );

    // ...work done before it, reported within the lateness window, is not.
    let mut early = event("before", &s.subject, "transformations.update");
    early["occurred_at"] = json!(rfc3339(before));
    let r = s.report(early).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let refusals = s.refusals().await;
    assert_eq!(refusals.len(), 1);
    assert_eq!(changes(&refusals[0])["error"], "subject_token_inactive");
    assert_eq!(
        changes(&refusals[0])["subject_token_id"],
        s.subject_id.as_str()
    );
    assert_eq!(s.records_of("transformations.update").await.len(), 1);
}

#[tokio::test]
async fn occurred_at_must_be_within_the_skew_and_the_lateness_window() {
    let s = setup().await;
    let mut future = event("future", &s.subject, "transformations.update");
    future["occurred_at"] = json!(rfc3339(
        time::OffsetDateTime::now_utc() + time::Duration::minutes(5)
    ));
    assert_refused(&s.report(future).await, 422, "occurred_at_in_future");
    let mut skewed = event("skewed", &s.subject, "transformations.update");
    skewed["occurred_at"] = json!(rfc3339(
        time::OffsetDateTime::now_utc() + time::Duration::seconds(20)
    ));
    assert_eq!(s.report(skewed).await.status, StatusCode::CREATED);
    let mut stale = event("stale", &s.subject, "transformations.update");
    stale["occurred_at"] = json!(rfc3339(
        time::OffsetDateTime::now_utc() - time::Duration::minutes(20)
    ));
    assert_refused(&s.report(stale).await, 422, "occurred_at_too_late");
}

#[tokio::test]
async fn an_action_the_token_holds_no_permission_for_is_refused() {
    let s = setup().await;
    let (_, reader) = s
        .app
        .create_sat(
            &s.session,
            json!({ "name": "reader", "workspace_id": s.ws, "permissions": ["transformations:read", "sources:edit"] }),
        )
        .await;
    let answers = s
        .report(json!({ "events": [
            event("a", &reader, "transformations.update"),   // needs edit
            event("b", &reader, "transformations.delete"),   // needs create_delete
            event("c", &reader, "data_catalog.read"),        // another resource
            event("d", &reader, "transformations.list"),     // read: fine
            event("e", &reader, "sources.rename"),           // edit on sources: fine
            event("f", &reader, "transformations.frobnicate"),
            event("g", &reader, "sat.create"),
        ]}))
        .await;
    assert_eq!(answers.status, StatusCode::OK, "{}", answers.text);
    let results = answers.body["results"].as_array().unwrap();
    let got: Vec<(String, u64, String)> = results
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_string(),
                a["status"].as_u64().unwrap(),
                a["error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want = [
        ("a", 422, "permission_missing"),
        ("b", 422, "permission_missing"),
        ("c", 422, "permission_missing"),
        ("d", 201, ""),
        ("e", 201, ""),
        ("f", 400, "invalid_event"),
        ("g", 400, "invalid_event"),
    ];
    let want: Vec<(String, u64, String)> = want
        .iter()
        .map(|(i, s, e)| (i.to_string(), *s, e.to_string()))
        .collect();
    assert_eq!(got, want, "{}", answers.text);
    assert!(
        results[0]["detail"]
            .as_str()
            .unwrap()
            .contains("transformations:edit")
    );
    assert_eq!(s.refusals().await.len(), 5);
    assert_eq!(s.records_of("transformations.list").await.len(), 1);
    assert_eq!(s.records_of("sources.rename").await.len(), 1);
    assert!(
        s.records_of("sat.create")
            .await
            .iter()
            .all(|r| r["reported_by"].is_null())
    );
}

#[tokio::test]
async fn a_caller_without_audit_logs_write_gets_403() {
    let s = setup().await;
    let body = event("x", &s.subject, "transformations.update");
    for caller in [&s.auditor, &s.session, &s.subject] {
        let r = s.app.post(EVENTS, caller, body.clone()).await;
        r.assert_problem(403);
        assert!(r.text.contains("audit_logs:write"), "{}", r.text);
    }
    let admin_pat = s
        .app
        .post(
            "/api/v1/personal-access-tokens",
            &s.session,
            json!({ "name": "mine" }),
        )
        .await;
    if let Some(pat) = admin_pat.body["token"].as_str() {
        s.app
            .post(EVENTS, pat, body.clone())
            .await
            .assert_problem(403);
    }
    assert!(s.records_of("transformations.update").await.is_empty());
    let denied = s.records_of("auth.denied").await;
    assert!(
        denied
            .iter()
            .any(|r| changes(r)["missing_permission"] == "audit_logs:write"),
        "{denied:?}"
    );
    // Without a credential at all: 401.
    let anon = crate::support::read(
        s.app
            .client
            .post(s.app.url(EVENTS))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_retried_event_is_recorded_once_and_a_changed_body_is_409() {
    let s = setup().await;
    let first = event("evt-r", &s.subject, "transformations.update");
    let a = s.report(first.clone()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let b = s.report(first.clone()).await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
    assert_eq!(a.body, b.body, "a retry is answered as the first call");

    let mut changed = first.clone();
    changed["target"]["display"] = json!("something else");
    let c = s.report(changed).await;
    assert_refused(&c, 409, "conflict");

    // A batch retried after a lost answer: the old one replays, the new is
    // recorded; a refused event replays its refusal.
    let forged = scimitar::tokens::PlainToken::generate(scimitar::tokens::TokenKind::Sat).reveal();
    let batch = json!({ "events": [
        first.clone(),
        event("evt-new", &s.subject, "transformations.update"),
        event("evt-bad", &forged, "transformations.update"),
    ]});
    let d = s.report(batch.clone()).await;
    let e = s.report(batch).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(d.body, e.body);
    let results = d.body["results"].as_array().unwrap();
    assert_eq!(results[0], a.body);
    assert_eq!(results[1]["status"], 201);
    assert_eq!(results[2]["status"], 422);

    // Recorded once each: evt-r, evt-new; refusals: the 409 and evt-bad once.
    assert_eq!(s.records_of("transformations.update").await.len(), 2);
    let refusals = s.refusals().await;
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert_eq!(changes(&refusals[0])["error"], "conflict");

    // Another reporting service may use the same id: ids are per service.
    let (_, other_service) = s
        .app
        .create_sat(
            &s.session,
            json!({ "name": "catalog-service", "permissions": ["audit_logs:write"] }),
        )
        .await;
    let f = s.app.post(EVENTS, &other_service, first).await;
    assert_eq!(f.status, StatusCode::CREATED, "{}", f.text);
    assert_ne!(f.body["record_id"], a.body["record_id"]);
}

#[tokio::test]
async fn secrets_in_reported_changes_are_withheld() {
    let s = setup().await;
    let mut e = event("evt-s", &s.subject, "transformations.update");
    e["changes"] = json!({
        "name": "enrich",
        "config": { "api_key": "k-123", "password": "hunter2" },
        "note": format!("deployed with {}", s.subject),
    });
    let r = s.report(e).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let redacted: Vec<&str> = r.body["redacted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(
        redacted,
        [
            "changes.config.api_key",
            "changes.config.password",
            "changes.note"
        ]
    );
    let rec = s.records_of("transformations.update").await.pop().unwrap();
    let text = rec["changes"].as_str().unwrap();
    assert!(
        !text.contains("k-123") && !text.contains("hunter2"),
        "{text}"
    );
    assert!(!text.contains(&s.subject), "{text}");
    assert_eq!(changes(&rec)["changes"]["name"], "enrich");
}

#[tokio::test]
async fn malformed_bodies_and_events_are_refused_clearly() {
    let s = setup().await;
    // Not a batch, not an event.
    let r = s.report(json!({ "events": "no" })).await;
    r.assert_problem(400);
    let r = s.report(json!({ "events": [] })).await;
    r.assert_problem(400);
    let many: Vec<Value> = (0..501)
        .map(|i| event(&format!("e{i}"), &s.subject, "transformations.update"))
        .collect();
    let r = s.report(json!({ "events": many })).await;
    r.assert_problem(400);
    assert!(r.text.contains("500"), "{}", r.text);
    // An event with a bad member: refused, without quoting values.
    let mut bad = event("evt-m", &s.subject, "transformations.update");
    bad["outcome"] = json!(s.subject.clone());
    let r = s.report(bad).await;
    assert_refused(&r, 400, "invalid_event");
    assert!(!r.text.contains(&s.subject));
    // Duplicate ids within one batch.
    let r = s
        .report(json!({ "events": [
            event("dup", &s.subject, "transformations.update"),
            event("dup", &s.subject, "transformations.update"),
        ]}))
        .await;
    assert_eq!(r.body["results"][0]["status"], 201, "{}", r.text);
    assert_eq!(r.body["results"][1]["error"], "duplicate_id", "{}", r.text);
    assert!(
        s.records()
            .await
            .iter()
            .all(|r| !r.to_string().contains(&s.subject))
    );
}

#[tokio::test]
async fn the_chain_verifies_after_ingest_with_checkpoints() {
    let app = TestApp::builder()
        .checkpoint_every(100, Duration::from_millis(200))
        .start()
        .await;
    let s = setup_with(app).await;
    let events: Vec<Value> = (0..500)
        .map(|i| event(&format!("bulk-{i}"), &s.subject, "transformations.update"))
        .collect();
    let r = s.report(json!({ "events": events })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] == 201),
        "{}",
        r.text
    );
    // The 500 records are consecutive: one transaction, one append.
    let recs = s.records_of("transformations.update").await;
    assert_eq!(recs.len(), 500);
    let seqs: Vec<i64> = recs.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    // A checkpoint covers the head, and verification attests it.
    let head = s.records().await.last().unwrap()["seq"].as_i64().unwrap();
    let covered = eventually(Duration::from_secs(10), || async {
        let v = s.app.get("/api/v1/audit-logs/verify", &s.auditor).await;
        v.body["ok"] == true && v.body["attested_through"].as_i64() >= Some(head)
    })
    .await;
    let v = s.app.get("/api/v1/audit-logs/verify", &s.auditor).await;
    assert!(covered, "{}", v.text);
    assert_eq!(v.body["first_break"], Value::Null);

    // The export carries `reported_by`, and verifies offline.
    let export = s
        .app
        .get("/api/v1/audit-logs/export?format=ndjson", &s.auditor)
        .await;
    assert_eq!(export.status, StatusCode::OK);
    let lines: Vec<Value> = export
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["reported_by"] == s.service_id.as_str())
    );
    assert!(lines.iter().any(|l| l["reported_by"].is_null()));
    let checkpoints = s
        .app
        .get("/api/v1/audit-logs/checkpoints", &s.auditor)
        .await;
    let jwks = s.app.get("/api/v1/audit-logs/jwks", &s.auditor).await;
    let report = scimitar::audit::offline::verify_export(
        export.text.as_bytes(),
        &checkpoints.body,
        &jwks.body,
    )
    .expect("an offline report");
    assert!(report.ok, "{report:?}");

    // An edited reported_by is caught.
    let tampered: String = export
        .text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["reported_by"] == s.service_id.as_str() && v["seq"] == head {
                v["reported_by"] = json!("someone-else");
            }
            v.to_string() + "\n"
        })
        .collect();
    let report =
        scimitar::audit::offline::verify_export(tampered.as_bytes(), &checkpoints.body, &jwks.body)
            .unwrap();
    assert!(!report.ok);
}

#[tokio::test]
async fn the_console_shows_reported_events_with_the_reporting_service() {
    let s = setup().await;
    let r = s
        .report(event("evt-c", &s.subject, "transformations.update"))
        .await;
    let record_id = r.body["record_id"].as_str().unwrap().to_string();
    let mut c = crate::console_client::Console::new(&s.app);
    c.sign_in_admin().await;
    let list = c.get("/console/audit-logs?action=transformations.*").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text.contains("reported by a service"), "{}", list.text);
    assert!(list.text.contains("ci-deploy"));
    let detail = c.get(&format!("/console/audit-logs/{record_id}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.text.contains("Reported by"), "{}", detail.text);
    assert!(detail.text.contains("transformations-service"));
    assert!(detail.text.contains(&s.service_id));
    assert!(detail.text.contains(&s.ws));
}
