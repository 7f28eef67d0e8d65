//! One operation, three edges, one record. Creating a SAT (with a CIDR
//! allowlist and an expiry), revoking it and changing a member's role are
//! made through the admin API (with a PAT), the console (with a session) and
//! the operator CLI; each edge calls the same use case, so their audit
//! records must be the same but for what differs by edge (the actor and the
//! request context) and by object (ids, names, the moment of expiry).

use serde_json::{Map, Value, json};

use crate::console_client::Console;
use crate::support::TestApp;

const CIDR: &str = "10.0.0.0/8";
const DAYS: &str = "30";
const SATS: &str = "/api/v1/service-access-tokens";

/// The edges, in the order their records are compared.
const EDGES: [&str; 3] = ["api", "console", "cli"];

/// Fields that differ by edge (actor, request context), by object (ids,
/// names) or by moment (sequence, time, hashes); `changes` is compared on
/// its own, after [`normalized`].
const DIFFER: [&str; 15] = [
    "id",
    "seq",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "actor_display",
    "target_id",
    "target_display",
    "request_id",
    "source_ip",
    "user_agent",
    "prev_hash",
    "hash",
    "changes",
    "chain",
];

/// A record's `changes`, with an expiry (a moment, which differs by the
/// seconds between the calls) replaced by a marker once it is checked to be
/// `DAYS` days away.
fn normalized(record: &Value) -> Value {
    let mut changes: Value = record["changes"]
        .as_str()
        .map(|c| serde_json::from_str(c).unwrap())
        .unwrap_or(Value::Null);
    if let Some(at) = changes.get("expires_at").and_then(Value::as_str) {
        let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .unwrap();
        let hours = (at - time::OffsetDateTime::now_utc()).whole_hours();
        assert!(
            (30 * 24 - 1..=30 * 24).contains(&hours),
            "expiry {hours} h away: {record}"
        );
        changes["expires_at"] = json!("in 30 days");
    }
    changes
}

/// Asserts that the records of one operation by the three edges are the
/// same but for [`DIFFER`], and that each names its own edge's actor.
fn assert_alike(action: &str, records: [&Value; 3]) {
    let fields = |r: &Value| -> Map<String, Value> {
        let mut m = r.as_object().unwrap().clone();
        m.retain(|k, _| !DIFFER.contains(&k.as_str()));
        m
    };
    let api = records[0];
    for (edge, r) in EDGES.iter().zip(records).skip(1) {
        assert_eq!(
            fields(r),
            fields(api),
            "{action}: the {edge} record differs from the API's\n{edge}: {r}\napi: {api}"
        );
        assert_eq!(
            normalized(r),
            normalized(api),
            "{action}: the {edge} record's changes differ from the API's\n{edge}: {r}\napi: {api}"
        );
    }
    assert_eq!(api["outcome"], "success", "{api}");
    assert!(api["http_status"].is_number(), "{action}: no status: {api}");
    // What differs by edge, as it should: who acted, and from where.
    let [api, console, cli] = records;
    assert_eq!(api["actor_kind"], "pat", "{api}");
    assert_eq!(console["actor_kind"], "member_session", "{console}");
    assert_eq!(cli["actor_kind"], "operator", "{cli}");
    for r in [api, console] {
        assert_eq!(r["source_ip"], "127.0.0.1", "{r}");
        assert!(r["request_id"].is_string(), "{r}");
    }
    assert_eq!(cli["source_ip"], Value::Null, "{cli}");
    assert!(
        cli["user_agent"]
            .as_str()
            .is_some_and(|ua| ua.starts_with("scimitar-cli/")),
        "{cli}"
    );
    assert_ne!(api["request_id"], console["request_id"]);
}

/// The one record of `action` on `target`.
fn record<'r>(records: &'r [Value], action: &str, target: &str) -> &'r Value {
    let found: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == action && r["target_id"] == target)
        .collect();
    assert_eq!(found.len(), 1, "{action} on {target}: {found:?}");
    found[0]
}

/// A member with role `member`, made by the operator; returns its id.
async fn member(app: &TestApp, user_name: &str) -> String {
    let m = app
        .cli(&[
            "member",
            "create",
            "--org",
            "default",
            "--user-name",
            user_name,
            "--role",
            "member",
            "--json",
        ])
        .await
        .json();
    m["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_api_the_console_and_the_cli_record_the_same_operation_alike() {
    let app = TestApp::spawn().await;
    let session = app.admin_session().await;
    let org = app.org_of(&session).await;
    let pat = app
        .post(
            "/api/v1/personal-access-tokens",
            &session,
            json!({ "name": "api" }),
        )
        .await;
    assert_eq!(pat.status, 201, "{}", pat.text);
    let pat = pat.body["token"].as_str().unwrap().to_string();
    let mut console = Console::new(&app);
    let csrf = console.sign_in_admin().await;
    let members = [
        member(&app, "by-api").await,
        member(&app, "by-console").await,
        member(&app, "by-cli").await,
    ];

    // The admin API.
    let (api_sat, _) = app
        .create_sat(
            &pat,
            json!({ "name": "via-api", "permissions": ["scim:read"],
                    "expires_in_days": 30, "allowed_cidrs": [CIDR] }),
        )
        .await;
    let r = app.delete(&format!("{SATS}/{api_sat}"), &pat).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = app
        .patch(
            &format!("/api/v1/members/{}", members[0]),
            &pat,
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The console.
    let r = console
        .post(
            "/console/tokens",
            &[
                ("csrf", &csrf),
                ("level", "organization"),
                ("name", "via-console"),
                ("description", ""),
                ("expires_in_days", DAYS),
                ("permission", "scim:read"),
                ("allowed_cidrs", CIDR),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let console_sat = r.token_value().expect("the value, once")[9..31].to_string();
    let r = console
        .post(
            &format!("/console/tokens/{console_sat}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = console
        .post(
            &format!("/console/members/{}", members[1]),
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);

    // The operator CLI.
    let created = app
        .cli(&[
            "token",
            "create",
            "--org",
            "default",
            "--name",
            "via-cli",
            "--permission",
            "scim:read",
            "--expires-in-days",
            DAYS,
            "--allowed-cidr",
            CIDR,
            "--json",
        ])
        .await
        .json();
    let cli_sat = created["id"].as_str().unwrap().to_string();
    app.cli(&["token", "revoke", "--org", "default", &cli_sat, "--json"])
        .await
        .json();
    app.cli(&[
        "member", "set-role", "--org", "default", "by-cli", "admin", "--json",
    ])
    .await
    .json();

    let records = app.audit_records(&org).await;
    let sats = [&api_sat, &console_sat, &cli_sat];
    for action in ["sat.create", "sat.revoke"] {
        assert_alike(action, sats.map(|id| record(&records, action, id)));
    }
    assert_alike(
        "member.update",
        members
            .each_ref()
            .map(|id| record(&records, "member.update", id)),
    );

    // What the comparison stands on: the allowlist and the expiry are in
    // every record of a creation, and a role changed from member to admin.
    for id in sats {
        let created = normalized(record(&records, "sat.create", id));
        assert_eq!(created["allowed_cidrs"], json!([CIDR]), "{created}");
        assert_eq!(created["expires_at"], "in 30 days", "{created}");
    }
    let promoted = normalized(record(&records, "member.update", &members[2]));
    assert_eq!(promoted["role"], json!({ "from": "member", "to": "admin" }));
}
