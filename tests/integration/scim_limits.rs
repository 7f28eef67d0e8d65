//! Size limits on SCIM resources (`scimitar::scim::limits`): values per
//! multi-valued attribute, string lengths and the stored size of a
//! resource, the same through POST, PUT, PATCH and Bulk; refusals are 400
//! `invalidValue` and write nothing. Group `members` is not capped, and a
//! PATCH of a large group touches only the members it names.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{GROUP_SCHEMA, Resp, Scim, TestApp, patch_op, user};
use scimitar::scim::limits::{
    MAX_BULK_PAYLOAD, MAX_DISPLAY_NAME_CHARS, MAX_EXTERNAL_ID_CHARS, MAX_STRING_CHARS,
    MAX_USER_NAME_CHARS, MAX_VALUES,
};

const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// A SCIM client for a second organization, `other`.
async fn other_org(app: &TestApp) -> Scim<'_> {
    app.cli(&["org", "create", "other"]).await;
    let sat = app
        .cli(&[
            "token",
            "create",
            "--org",
            "other",
            "--name",
            "idp",
            "--permission",
            "scim:read",
            "--permission",
            "scim:write",
            "--json",
        ])
        .await
        .json();
    Scim {
        app,
        token: sat["token"].as_str().unwrap().to_string(),
    }
}

/// What is stored for a user: its document, its version and how many
/// `scim_values` rows index it, read straight from the tables.
async fn stored_user(app: &TestApp, id: &str) -> (Option<String>, i64, i64) {
    let id = uuid::Uuid::parse_str(id).unwrap();
    let (doc, version): (Option<String>, i64) = scimitar::on_db!(app.db(), pool => {
        sqlx::query_as("SELECT scim_doc, version FROM members WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
    })
    .unwrap();
    let rows: i64 = scimitar::on_db!(app.db(), pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM scim_values WHERE resource_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
    })
    .unwrap();
    (doc, version, rows)
}

fn emails(n: usize, tag: &str) -> Value {
    (0..n)
        .map(|i| json!({ "value": format!("{tag}{i}@example.com"), "type": "work" }))
        .collect()
}

/// Asserts a 400 `invalidValue` whose message names `attribute` and never
/// echoes a long value.
#[track_caller]
fn assert_refused(r: &Resp, attribute: &str) {
    r.assert_scim_error(400, Some("invalidValue"));
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(attribute), "names {attribute}: {detail}");
    assert!(detail.len() < 300, "no value echoed: {detail}");
}

#[tokio::test]
async fn one_organization_cannot_grow_a_user_until_every_organization_stalls() {
    let app = TestApp::spawn().await;
    let attacker = app.scim().await;
    let victim = other_org(&app).await;
    victim.create_user(user("victim@example.com")).await;
    let target = attacker
        .create_user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "target@example.com",
            "emails": emails(2, "target"),
        }))
        .await;
    let before = stored_user(&app, &target).await;

    // The probe: fifteen PATCHes of 1,000 `add`s to `emails`, each value
    // with a 700-character display (11 MB and 45,000 index rows, had they
    // been accepted), while the other organization keeps listing its users.
    let attack = async {
        for round in 0..15 {
            let ops: Vec<Value> = (0..1000)
                .map(|i| {
                    json!({ "op": "add", "path": "emails", "value": [{
                        "value": format!("r{round}-{i}@evil.example"),
                        "display": "d".repeat(700),
                    }] })
                })
                .collect();
            let r = attacker
                .patch(&format!("/Users/{target}"), patch_op(json!(ops)))
                .await;
            assert_refused(&r, "`emails` holds");
            assert_eq!(
                stored_user(&app, &target).await,
                before,
                "round {round}: the document, version and index rows are unchanged"
            );
        }
    };
    let watch = async {
        let mut slowest = Duration::ZERO;
        for _ in 0..15 {
            let started = Instant::now();
            let r = victim.get("/Users?count=1").await;
            slowest = slowest.max(started.elapsed());
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.body["Resources"][0]["userName"], "victim@example.com");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        slowest
    };
    let ((), slowest) = tokio::join!(attack, watch);
    // Generous on purpose (a debug build on a shared machine): before the
    // limits this request waited 4.85 s behind the attacker's writes; a
    // refused PATCH now holds the writer for a few milliseconds.
    assert!(
        slowest < Duration::from_secs(1),
        "the other organization answered in {slowest:?}"
    );
    let after = attacker.get(&format!("/Users/{target}")).await;
    assert_eq!(after.body["emails"], emails(2, "target"));
    assert_eq!(after.body["meta"]["version"], "W/\"1\"");
    // Each refusal is audited like any failed SCIM write, in the
    // attacker's own chain.
    let org = app.org_of(&attacker.token).await;
    let refused = app
        .audit_records(&org)
        .await
        .into_iter()
        .filter(|r| {
            r["action"] == "scim.user.patch" && r["outcome"] == "failure" && r["http_status"] == 400
        })
        .count();
    assert_eq!(refused, 15);
}

#[tokio::test]
async fn a_100000_character_user_name_is_refused() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let huge = "u".repeat(100_000);
    let r = scim.post("/Users", user(&huge)).await;
    assert_refused(&r, "`userName`");
    assert!(r.body["detail"].as_str().unwrap().contains("256"));
    let id = scim.create_user(user("ok@example.com")).await;
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{ "op": "replace", "path": "userName", "value": huge }])),
        )
        .await;
    assert_refused(&r, "`userName`");
    assert_eq!(
        scim.get("/Users").await.body["totalResults"],
        2,
        "the admin and ok@example.com only"
    );
}

#[tokio::test]
async fn too_many_values_are_refused_by_post_put_patch_and_bulk() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let body = |n: usize| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "many@example.com",
            "emails": emails(n, "m"),
        })
    };

    assert_refused(&scim.post("/Users", body(MAX_VALUES + 1)).await, "`emails`");
    let id = scim.create_user(body(MAX_VALUES)).await;
    let path = format!("/Users/{id}");
    let before = stored_user(&app, &id).await;

    assert_refused(&scim.put(&path, body(MAX_VALUES + 1)).await, "`emails`");
    let one_more =
        json!([{ "op": "add", "path": "emails", "value": [{ "value": "extra@example.com" }] }]);
    assert_refused(
        &scim.patch(&path, patch_op(one_more.clone())).await,
        "`emails`",
    );
    let phones: Value = (0..=MAX_VALUES)
        .map(|i| json!({ "value": format!("+1 555 {i:04}") }))
        .collect();
    assert_refused(
        &scim
            .patch(
                &path,
                patch_op(json!([{ "op": "replace", "path": "phoneNumbers", "value": phones }])),
            )
            .await,
        "`phoneNumbers`",
    );

    let mut too_many = body(MAX_VALUES + 1);
    too_many["userName"] = json!("bulk@example.com");
    let r = scim
        .post(
            "/Bulk",
            json!({ "schemas": [BULK], "Operations": [
                { "method": "POST", "path": "/Users", "bulkId": "a", "data": too_many },
                { "method": "PUT", "path": path, "data": body(MAX_VALUES + 1) },
                { "method": "PATCH", "path": path, "data": patch_op(one_more) },
            ] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for op in r.body["Operations"].as_array().unwrap() {
        assert_eq!(op["status"], "400", "{op}");
        assert_eq!(op["response"]["scimType"], "invalidValue", "{op}");
        assert_eq!(op["response"]["status"], "400", "{op}");
        assert!(
            op["response"]["detail"]
                .as_str()
                .unwrap()
                .contains("`emails`"),
            "{op}"
        );
    }

    assert_eq!(stored_user(&app, &id).await, before, "nothing was written");
    let list = scim
        .filter("/Users", "userName eq \"bulk@example.com\"")
        .await;
    assert_eq!(list.body["totalResults"], 0);
}

#[tokio::test]
async fn a_user_exactly_at_the_caps_is_accepted() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let user_name = format!("{}@x", "u".repeat(MAX_USER_NAME_CHARS - 2));
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": "e".repeat(MAX_EXTERNAL_ID_CHARS),
        "displayName": "d".repeat(MAX_DISPLAY_NAME_CHARS),
        "title": "t".repeat(MAX_STRING_CHARS),
        "emails": emails(MAX_VALUES, "cap"),
    });
    let r = scim.post("/Users", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["userName"], user_name.as_str());
    assert_eq!(r.body["emails"].as_array().map(Vec::len), Some(MAX_VALUES));
    // Still at the cap: a PATCH that replaces one value is fine.
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([
                { "op": "remove", "path": "emails[value eq \"cap0@example.com\"]" },
                { "op": "add", "path": "emails", "value": [{ "value": "new@example.com" }] },
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["emails"].as_array().map(Vec::len), Some(MAX_VALUES));
}

#[tokio::test]
async fn a_huge_sub_attribute_is_refused_naming_its_path() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let r = scim
        .post(
            "/Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "sub@example.com",
                "addresses": [{ "formatted": "a".repeat(MAX_STRING_CHARS + 1) }],
            }),
        )
        .await;
    assert_refused(&r, "`addresses.formatted`");
    // Every attribute under its own cap, the whole over the size limit.
    let r = scim
        .post(
            "/Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "big@example.com",
                "addresses": (0..40).map(|_| json!({ "formatted": "a".repeat(2000) })).collect::<Value>(),
            }),
        )
        .await;
    assert_refused(&r, "bytes as stored");
    assert_eq!(scim.get("/Users").await.body["totalResults"], 1);
}

/// Creates `n` users through Bulk and returns their ids.
async fn many_users(scim: &Scim<'_>, n: usize, tag: &str) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    let all: Vec<usize> = (0..n).collect();
    for chunk in all.chunks(500) {
        let ops: Vec<Value> = chunk
            .iter()
            .map(|i| json!({ "method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": user(&format!("{tag}{i}@example.com")) }))
            .collect();
        let r = scim
            .post("/Bulk", json!({ "schemas": [BULK], "Operations": ops }))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        for op in r.body["Operations"].as_array().unwrap() {
            assert_eq!(op["status"], "201", "{op}");
            let location = op["location"].as_str().unwrap();
            ids.push(location.rsplit('/').next().unwrap().to_string());
        }
    }
    ids
}

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_group_may_have_more_members_than_the_value_cap() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let n = MAX_VALUES * 3;
    let ids = many_users(&scim, n + 10, "m").await;
    let members: Vec<Value> = ids[..n].iter().map(|id| json!({ "value": id })).collect();
    let r = scim
        .post(
            "/Groups",
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "Everyone", "members": members }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let gid = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(member_ids(&r.body).len(), n);
    let more: Vec<Value> = ids[n..].iter().map(|id| json!({ "value": id })).collect();
    let r = scim
        .patch(
            &format!("/Groups/{gid}"),
            patch_op(json!([{ "op": "add", "path": "members", "value": more }])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut all = ids.clone();
    all.sort();
    assert_eq!(member_ids(&r.body), all);
    let r = scim
        .put(
            &format!("/Groups/{gid}"),
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "Everyone", "members": ids.iter().map(|id| json!({ "value": id })).collect::<Value>() }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(member_ids(&r.body), all);
}

/// The rows of a group's memberships: (member id, display), sorted.
async fn stored_members(app: &TestApp, gid: &str) -> Vec<(String, Option<String>)> {
    let gid = uuid::Uuid::parse_str(gid).unwrap();
    let rows: Vec<(uuid::Uuid, Option<String>)> = scimitar::on_db!(app.db(), pool => {
        sqlx::query_as("SELECT member_id, display FROM scim_group_members WHERE group_id = $1")
            .bind(gid)
            .fetch_all(pool)
            .await
    })
    .unwrap();
    let mut out: Vec<(String, Option<String>)> = rows
        .into_iter()
        .map(|(id, d)| (id.to_string(), d))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_patch_of_a_large_group_changes_exactly_the_members_it_names() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let ids = many_users(&scim, 250, "big").await;
    let (members, spare) = ids.split_at(240);
    let gid = scim
        .create_group(json!({
            "schemas": [GROUP_SCHEMA],
            "displayName": "Big",
            "members": members.iter().map(|id| json!({ "value": id, "display": "old" })).collect::<Value>(),
        }))
        .await;
    let path = format!("/Groups/{gid}");
    let mut expect = stored_members(&app, &gid).await;
    assert_eq!(expect.len(), 240);

    // Okta's and Entra ID's forms, an id in upper case (values compare
    // without regard to case), a member added twice, a display changed, a
    // rename beside them.
    let r = scim
        .patch(
            &path,
            patch_op(json!([
                { "op": "add", "path": "members", "value": [{ "value": spare[0] }, { "value": spare[1], "display": "new" }] },
                { "op": "add", "path": "members", "value": [{ "value": spare[0].to_uppercase() }] },
                { "op": "add", "path": "members", "value": [{ "value": members[0], "display": "renamed" }] },
                { "op": "remove", "path": format!("members[value eq \"{}\"]", members[1].to_uppercase()) },
                { "op": "Remove", "path": "members", "value": [{ "value": members[2] }] },
                { "op": "replace", "path": "displayName", "value": "Bigger" },
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["displayName"], "Bigger");
    expect.retain(|(id, _)| id != &members[1] && id != &members[2]);
    for (id, display) in expect.iter_mut() {
        if id == &members[0] {
            *display = Some("renamed".into());
        }
    }
    expect.push((spare[0].clone(), None));
    expect.push((spare[1].clone(), Some("new".into())));
    expect.sort();
    assert_eq!(stored_members(&app, &gid).await, expect);
    let ids_now: Vec<String> = expect.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(member_ids(&r.body), ids_now);

    // An unknown member refuses the whole request, and nothing changes.
    let r = scim
        .patch(
            &path,
            patch_op(json!([
                { "op": "remove", "path": format!("members[value eq \"{}\"]", members[3]) },
                { "op": "add", "path": "members", "value": [{ "value": uuid::Uuid::new_v4() }] },
            ])),
        )
        .await;
    r.assert_scim_error(400, Some("invalidValue"));
    assert_eq!(stored_members(&app, &gid).await, expect);

    // A membership change is audited with what it added and removed.
    let org = app.org_of(&scim.token).await;
    let patches: Vec<Value> = app
        .audit_records(&org)
        .await
        .into_iter()
        .filter(|r| r["action"] == "scim.group.patch" && r["outcome"] == "success")
        .collect();
    assert_eq!(patches.len(), 1);
    let changes: Value = serde_json::from_str(patches[0]["changes"].as_str().unwrap()).unwrap();
    assert_eq!(changes["members_added"], 2, "{changes}");
    assert_eq!(changes["members_removed"], 2, "{changes}");
}

#[tokio::test]
async fn bulk_max_payload_size_holds_whatever_the_server_body_limit_is() {
    let bulk_of = |bytes: usize| {
        json!({ "schemas": [BULK], "Operations": [
            { "method": "POST", "path": "/Users", "bulkId": "a", "data": user("payload@example.com") },
        ], "padding": "p".repeat(bytes) })
    };
    let small = TestApp::builder().max_body_bytes(4096).start().await;
    let scim = small.scim().await;
    let spc = scim.get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["bulk"]["maxPayloadSize"], MAX_BULK_PAYLOAD);
    let r = scim.post("/Bulk", bulk_of(64 * 1024)).await;
    assert_eq!(r.status, 200, "under maxPayloadSize: {}", r.text);
    scim.post("/Bulk", bulk_of(MAX_BULK_PAYLOAD))
        .await
        .assert_scim_error(413, None);
    drop(scim);
    drop(small);

    let large = TestApp::builder()
        .max_body_bytes(4 * MAX_BULK_PAYLOAD)
        .start()
        .await;
    let scim = large.scim().await;
    scim.post("/Bulk", bulk_of(MAX_BULK_PAYLOAD))
        .await
        .assert_scim_error(413, None);
}
