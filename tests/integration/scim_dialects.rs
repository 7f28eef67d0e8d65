//! The requests Okta and Microsoft Entra ID actually send, as their public
//! documentation shows them.

use serde_json::{Value, json};

use crate::support::{ENTERPRISE, GROUP_SCHEMA, TestApp, USER_SCHEMA, read};

#[tokio::test]
async fn okta_user_lifecycle() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    // Okta checks whether the user exists first.
    let q = scim
        .get("/Users?filter=userName%20eq%20%22isabella%40example.com%22&startIndex=1&count=100")
        .await;
    assert_eq!(q.status, 200);
    assert_eq!(q.body["totalResults"], 0);
    assert_eq!(q.body["Resources"], json!([]));

    // POST with application/json and groups []. (Okta adds `password` when
    // the app syncs passwords; scim_passwords.rs covers that.)
    let created = read(
        app.client
            .post(scim.url("/Users"))
            .bearer_auth(&scim.token)
            .header("content-type", "application/json; charset=utf-8")
            .body(
                json!({
                    "schemas": [USER_SCHEMA],
                    "userName": "isabella@example.com",
                    "name": { "givenName": "Isabella", "familyName": "Ramirez" },
                    "emails": [{ "primary": true, "value": "isabella@example.com", "type": "work" }],
                    "displayName": "Isabella Ramirez",
                    "locale": "en-US",
                    "externalId": "00ujl29u0le5T6Aj10h7",
                    "groups": [],
                    "active": true
                })
                .to_string(),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();

    let found = scim
        .get("/Users?filter=userName%20eq%20%22isabella%40example.com%22&startIndex=1&count=100")
        .await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());

    // Profile update: GET, change, PUT back with id, groups and meta.
    let mut current = scim.get(&format!("/Users/{id}")).await.body;
    current["name"]["familyName"] = json!("Ramírez-Oliveira");
    current["groups"] = json!([]);
    let put = scim.put(&format!("/Users/{id}"), current.clone()).await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.body["name"]["familyName"], "Ramírez-Oliveira");
    assert_eq!(put.body["id"], id.as_str());

    // Deactivation: PATCH replace with no path.
    let off = scim
        .patch(
            &format!("/Users/{id}"),
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "value": { "active": false } }] }),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(off.body["active"], false);
    let still = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(still.status, 200);
    assert_eq!(still.body["active"], false);
    // Reactivation.
    let on = scim
        .patch(
            &format!("/Users/{id}"),
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "value": { "active": true } }] }),
        )
        .await;
    assert_eq!(on.body["active"], true);
}

#[tokio::test]
async fn okta_group_push() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let a = scim
        .create_user(crate::support::user("a@example.com"))
        .await;
    let b = scim
        .create_user(crate::support::user("b@example.com"))
        .await;
    let g = scim
        .post(
            "/Groups",
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "Test SCIMv2", "members": [] }),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.text);
    let gid = g.body["id"].as_str().unwrap().to_string();
    let path = format!("/Groups/{gid}");
    let rename = scim
        .patch(
            &path,
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "value": { "id": gid, "displayName": "Test SCIMv2 renamed" } }] }),
        )
        .await;
    assert_eq!(rename.status, 200, "{}", rename.text);
    assert_eq!(rename.body["displayName"], "Test SCIMv2 renamed");
    let add = scim
        .patch(
            &path,
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "add", "path": "members", "value": [{ "value": a, "display": "a@example.com" }, { "value": b, "display": "b@example.com" }] }] }),
        )
        .await;
    assert_eq!(
        add.body["members"].as_array().map(Vec::len),
        Some(2),
        "{}",
        add.text
    );
    let remove = scim
        .patch(
            &path,
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "remove", "path": format!("members[value eq \"{a}\"]") }] }),
        )
        .await;
    assert_eq!(
        remove.body["members"][0]["value"],
        b.as_str(),
        "{}",
        remove.text
    );
    assert_eq!(remove.body["members"].as_array().map(Vec::len), Some(1));
    assert_eq!(scim.delete(&path).await.status, 204);
}

#[tokio::test]
async fn entra_user_provisioning() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    // Entra's first query: an unquoted value, and a random GUID that
    // matches nothing.
    let probe = scim
        .filter("/Users", "userName eq 7c6b6fd6-8e63-4a43-8f5d-6e9ff4bd1b7c")
        .await;
    assert_eq!(probe.status, 200, "{}", probe.text);
    assert_eq!(probe.body["totalResults"], 0);
    let probe = scim.filter("/Users", "externalId eq jyoung").await;
    assert_eq!(probe.body["totalResults"], 0);

    let created = scim
        .post(
            "/Users",
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                "externalId": "jyoung",
                "userName": "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081",
                "active": true,
                "emails": [{ "primary": true, "type": "work", "value": "Test_User_22370c1a-9012-42b2-bf64-86099c2a1c22@testuser.com" }],
                "meta": { "resourceType": "User" },
                "name": { "formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName" },
                "roles": [],
                "title": null,
                ENTERPRISE: { "department": null }
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(created.body.get("roles").is_none() && created.body.get("title").is_none());
    let found = scim.filter("/Users", "externalId eq jyoung").await;
    assert_eq!(found.body["totalResults"], 1);

    let manager = scim
        .create_user(crate::support::user("boss@example.com"))
        .await;
    let patch = |ops: Value| json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops });
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            patch(json!([
                { "op": "Replace", "path": "active", "value": "False" },
                { "op": "Add", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com" },
                { "op": "Replace", "value": { "name.givenName": "Ana", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales" } },
                { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": manager }
            ])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["name"]["givenName"], "Ana");
    assert_eq!(r.body[ENTERPRISE]["department"], "Sales");
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], manager.as_str());
    let emails = r.body["emails"].as_array().unwrap();
    assert!(
        emails
            .iter()
            .any(|e| e["value"] == "updatedEmail@microsoft.com"),
        "{}",
        r.text
    );

    // A new work email where none exists creates the element.
    let other = scim
        .create_user(crate::support::user("noemail@example.com"))
        .await;
    let r = scim
        .patch(&format!("/Users/{other}"), patch(json!([{ "op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@example.com" }])))
        .await;
    assert_eq!(
        r.body["emails"],
        json!([{ "type": "work", "value": "new@example.com" }]),
        "{}",
        r.text
    );

    // Manager as {"value": id}, then removed by an empty value.
    let r = scim
        .patch(&format!("/Users/{id}"), patch(json!([{ "op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": { "value": other } }])))
        .await;
    assert_eq!(
        r.body[ENTERPRISE]["manager"]["value"],
        other.as_str(),
        "{}",
        r.text
    );
    let r = scim
        .patch(&format!("/Users/{id}"), patch(json!([{ "op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "" }])))
        .await;
    assert!(r.body[ENTERPRISE].get("manager").is_none(), "{}", r.text);
    assert_eq!(r.body[ENTERPRISE]["department"], "Sales");
}

#[tokio::test]
async fn entra_group_provisioning() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let a = scim
        .create_user(crate::support::user("a@example.com"))
        .await;
    let b = scim
        .create_user(crate::support::user("b@example.com"))
        .await;
    let probe = scim
        .get("/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Group1DisplayName%22")
        .await;
    assert_eq!(probe.body["totalResults"], 0);
    let created = scim
        .post(
            "/Groups",
            json!({ "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Group1DisplayName", "meta": { "resourceType": "Group" }, "members": [], "schemas": [GROUP_SCHEMA] }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let gid = created.body["id"].as_str().unwrap().to_string();
    let probe = scim
        .get("/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Group1DisplayName%22")
        .await;
    assert_eq!(probe.body["totalResults"], 1);
    assert!(probe.body["Resources"][0].get("members").is_none());

    let patch = |ops: Value| json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops });
    let r = scim
        .patch(&format!("/Groups/{gid}"), patch(json!([{ "op": "Add", "path": "members", "value": [{ "value": a }, { "value": b }] }])))
        .await;
    assert_eq!(
        r.body["members"].as_array().map(Vec::len),
        Some(2),
        "{}",
        r.text
    );
    let r = scim
        .patch(
            &format!("/Groups/{gid}"),
            patch(json!([{ "op": "Remove", "path": "members", "value": [{ "value": a }] }])),
        )
        .await;
    assert_eq!(
        r.body["members"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );
    assert_eq!(r.body["members"][0]["value"], b.as_str());
    let r = scim
        .patch(&format!("/Groups/{gid}"), patch(json!([{ "op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName" }])))
        .await;
    assert_eq!(
        r.body["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
}

/// Entra ID's matching filter when email is the matching attribute (a value
/// path, then a sub-attribute and a comparison), and resource endpoint
/// names in another case, as Microsoft's SCIM reference collection sends
/// them.
#[tokio::test]
async fn entra_email_matching_and_lowercase_endpoints() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let ada = scim
        .create_user(json!({
            "schemas": [USER_SCHEMA],
            "userName": "ada",
            "emails": [
                { "type": "home", "value": "ada@home.example" },
                { "type": "work", "value": "ada@example.com" },
            ],
        }))
        .await;
    scim.create_user(json!({
        "schemas": [USER_SCHEMA],
        "userName": "bob",
        "emails": [{ "type": "home", "value": "ada@example.com" }],
    }))
    .await;
    let r = scim
        .filter(
            "/Users",
            r#"emails[type eq "work"].value eq "ada@example.com""#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    assert_eq!(r.body["Resources"][0]["id"], ada.as_str());
    let none = scim
        .filter(
            "/Users",
            r#"emails[type eq "work"].value eq "ada@home.example""#,
        )
        .await;
    assert_eq!(none.body["totalResults"], 0, "{}", none.text);

    let r = scim.get(&format!("/users/{ada}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["userName"], "ada");
    let r = scim.filter("/users", r#"userName eq "ada""#).await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.text);
    let r = scim
        .post(
            "/groups",
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "g" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(scim.get("/serviceproviderconfig").await.status, 200);
    scim.get("/userz").await.assert_scim_error(404, None);
}
