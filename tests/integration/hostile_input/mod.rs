//! Hostile input: a catalogue of bad requests, each sent to the real server
//! over real HTTP. Every one must get a 4xx in its protocol's error form
//! (SCIM error schema under `/scim/v2`, problem+json under `/api/v1`, OAuth
//! errors from the token authority, an HTML page under `/console`), never a
//! 5xx, a panic or a stack trace, and none may change stored data: a
//! snapshot of users, groups, tokens, members and workspaces (through the
//! API and straight from the tables) is taken before and compared after,
//! and the audit chains still verify.
//!
//! The catalogue is data, one file of tables per protocol: [`scim`],
//! [`api`] (the admin and Audit Log APIs), [`oauth`] (the token
//! authority), [`console`], [`raw`] (bytes written on a TCP socket, for
//! what no HTTP client library will send), and [`headers`] for the headers
//! every protocol reads alike. [`inputs`] holds what every protocol gets
//! (malformed JSON, wrong media types, bodies over the limit, ids that
//! name nothing) as cross products with a protocol's endpoints; [`case`]
//! says what a case is and the shapes the tables are written in.
//!
//! The machinery: [`fixture`] seeds the data the cases aim at and takes the
//! snapshot, [`runner`] sends the cases, [`check`] judges each answer.
//!
//! To cover a new surface, add a [`case::Proto`] variant with its error
//! check in [`check`], route its paths to it in `Proto::of`, and add a
//! file of its cases to [`catalogue`]; nothing else changes.

mod api;
mod case;
mod check;
mod console;
mod fixture;
mod headers;
mod inputs;
mod oauth;
mod raw;
mod runner;
mod scim;

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::support::TestApp;
use case::{Auth, Case};
use fixture::{Fixture, chains, diff};

fn catalogue() -> Vec<Case> {
    [
        scim::cases(),
        api::cases(),
        oauth::cases(),
        console::cases(),
        headers::cases(),
    ]
    .concat()
}

#[tokio::test]
async fn hostile_requests_get_4xx_in_protocol_form_and_change_nothing() {
    // Hundreds of refused credentials from one address would soon be
    // answered by the failed-authentication limit (tests/integration/
    // rate_limits.rs covers it); here every case must reach its handler.
    let app = TestApp::builder()
        .limits(scimitar::http::limits::LimitsConfig {
            auth_failures_per_address: 0,
            auth_failures_per_credential: 0,
            ..scimitar::config::DEFAULT_LIMITS
        })
        .start()
        .await;
    let fx = Fixture::seed(&app).await;
    let before = fx.snapshot(&app).await;

    let cases = catalogue();
    let raw = raw::cases(fx.cred(Auth::Scim).unwrap());
    let mut failures = runner::run(&app, &fx, &cases, &raw).await;
    let probes = runner::probes(&app, &fx, &mut failures).await;
    println!("hostile input: {probes} well-formed injection probes matched nothing");

    let total = cases.len() + raw.len();
    println!("hostile input: {total} cases ({} raw)", raw.len());

    // The server is still up and answering.
    let health = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, 200);

    let after = fx.snapshot(&app).await;
    let changed = diff(&before, &after);
    assert!(
        failures.is_empty() && changed.is_empty(),
        "{} of {total} hostile cases misbehaved:\n{}\nstored data changed:\n{}",
        failures.len(),
        failures.join("\n"),
        changed.join("\n")
    );
    assert!(total >= 200, "the catalogue has only {total} cases");

    // Every audit chain the requests wrote to still verifies.
    for chain in chains(&app).await {
        let report = scimitar::audit::verify_chain(app.db(), &chain)
            .await
            .expect("verify");
        assert!(report.ok, "chain {chain}: {report:?}");
    }
    let v = app.get("/api/v1/audit-logs/verify", &fx.admin).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(v.body["ok"], json!(true), "{}", v.text);

    // With no trusted proxy, forged X-Forwarded-For headers named nobody.
    let db = app.db();
    let sources: Vec<Option<String>> = scimitar::on_db!(db, pool => {
        sqlx::query_scalar("SELECT DISTINCT source_ip FROM audit_events")
            .fetch_all(pool)
            .await
    })
    .expect("source addresses");
    assert!(
        sources.iter().flatten().all(|ip| ip == "127.0.0.1"),
        "{sources:?}"
    );
}

/// Names identify cases in a failure report, and are how a change to the
/// catalogue is checked to keep every case.
#[test]
fn every_case_has_its_own_name() {
    let mut seen = BTreeSet::new();
    let names = catalogue().into_iter().map(|k| k.name);
    for name in names.chain(raw::cases("token").into_iter().map(|k| k.name.to_string())) {
        assert!(seen.insert(name.clone()), "two cases are named {name}");
    }
}
