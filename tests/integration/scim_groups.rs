//! SCIM Groups: members, a user's computed `groups`, renames, uniqueness.

use serde_json::{Value, json};

use crate::support::{GROUP_SCHEMA, TestApp, patch_op, user};

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

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn groups_hold_members_and_users_see_their_groups() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let a = scim.create_user(user("a@example.com")).await;
    let b = scim.create_user(user("b@example.com")).await;
    let created = scim
        .post(
            "/Groups",
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "Tour Guides", "externalId": "g-1", "members": [{ "value": a, "display": "ignored" }, { "value": b, "type": "User" }] }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let gid = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        member_ids(&created.body),
        sorted(vec![a.clone(), b.clone()])
    );
    let m = created.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["value"] == a.as_str())
        .unwrap();
    assert_eq!(m["type"], "User");
    assert_eq!(
        m["display"], "ignored",
        "display is kept as the client gave it"
    );
    let m_b = created.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["value"] == b.as_str())
        .unwrap();
    assert!(
        m_b.get("display").is_none(),
        "and not invented when not given"
    );
    assert!(
        m["$ref"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/scim/v2/Users/{a}"))
    );

    let ua = scim.get(&format!("/Users/{a}")).await;
    assert_eq!(
        ua.body["groups"],
        json!([{ "value": gid, "$ref": ua.body["groups"][0]["$ref"], "display": "Tour Guides", "type": "direct" }])
    );
    // groups is read-only: what a client sends is ignored.
    let put = scim
        .put(&format!("/Users/{a}"), json!({ "schemas": [crate::support::USER_SCHEMA], "userName": "a@example.com", "groups": [] }))
        .await;
    assert_eq!(put.body["groups"][0]["value"], gid.as_str(), "{}", put.text);

    let by_member = scim
        .filter("/Groups", &format!("members.value eq \"{b}\""))
        .await;
    assert_eq!(by_member.body["totalResults"], 1);
    let by_group = scim
        .filter("/Users", &format!("groups.value eq \"{gid}\""))
        .await;
    assert_eq!(by_group.body["totalResults"], 2);
    let without = scim
        .get(&format!("/Groups/{gid}?excludedAttributes=members"))
        .await;
    assert!(without.body.get("members").is_none());
    assert_eq!(without.body["displayName"], "Tour Guides");

    // Deleting a user removes it from its groups.
    scim.delete(&format!("/Users/{b}")).await;
    assert_eq!(
        member_ids(&scim.get(&format!("/Groups/{gid}")).await.body),
        vec![a.clone()]
    );
    // Deleting the group empties the users' groups.
    assert_eq!(scim.delete(&format!("/Groups/{gid}")).await.status, 204);
    assert!(
        scim.get(&format!("/Users/{a}"))
            .await
            .body
            .get("groups")
            .is_none()
    );
}

#[tokio::test]
async fn group_names_are_unique_and_members_must_exist() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    scim.create_group(json!({ "schemas": [GROUP_SCHEMA], "displayName": "Admins" }))
        .await;
    scim.post(
        "/Groups",
        json!({ "schemas": [GROUP_SCHEMA], "displayName": "admins" }),
    )
    .await
    .assert_scim_error(409, Some("uniqueness"));
    scim.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "X", "members": [{ "value": uuid::Uuid::new_v4() }] }))
        .await
        .assert_scim_error(400, Some("invalidValue"));
    scim.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "Y", "members": [{ "value": "not-an-id" }] }))
        .await
        .assert_scim_error(400, Some("invalidValue"));
    scim.post("/Groups", json!({ "schemas": [GROUP_SCHEMA] }))
        .await
        .assert_scim_error(400, Some("invalidValue"));
    let list = scim.get("/Groups").await;
    assert_eq!(
        list.body["totalResults"], 1,
        "nothing half-made: {}",
        list.text
    );
}

#[tokio::test]
async fn patch_adds_and_removes_members_and_renames() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let a = scim.create_user(user("a@example.com")).await;
    let b = scim.create_user(user("b@example.com")).await;
    let c = scim.create_user(user("c@example.com")).await;
    let gid = scim
        .create_group(
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": [{ "value": a }] }),
        )
        .await;
    let path = format!("/Groups/{gid}");

    let added = scim
        .patch(&path, patch_op(json!([{ "op": "add", "path": "members", "value": [{ "value": b, "display": "b" }, { "value": c }] }])))
        .await;
    assert_eq!(added.status, 200, "{}", added.text);
    assert_eq!(
        member_ids(&added.body),
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );

    let removed = scim
        .patch(
            &path,
            patch_op(json!([{ "op": "remove", "path": format!("members[value eq \"{b}\"]") }])),
        )
        .await;
    assert_eq!(
        member_ids(&removed.body),
        sorted(vec![a.clone(), c.clone()])
    );

    let renamed = scim
        .patch(
            &path,
            patch_op(
                json!([{ "op": "replace", "value": { "id": gid, "displayName": "Engineering" } }]),
            ),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.body["displayName"], "Engineering");
    assert_eq!(renamed.body["id"], gid.as_str());
    assert_eq!(
        member_ids(&renamed.body),
        sorted(vec![a.clone(), c.clone()]),
        "a rename keeps members"
    );

    let cleared = scim
        .patch(
            &path,
            patch_op(json!([{ "op": "remove", "path": "members" }])),
        )
        .await;
    assert!(cleared.body.get("members").is_none(), "{}", cleared.text);
    scim.patch(&path, patch_op(json!([{ "op": "add", "path": "members", "value": [{ "value": uuid::Uuid::new_v4() }] }])))
        .await
        .assert_scim_error(400, Some("invalidValue"));
    scim.patch(
        &path,
        patch_op(json!([{ "op": "remove", "path": "displayName" }])),
    )
    .await
    .assert_scim_error(400, None);
}
