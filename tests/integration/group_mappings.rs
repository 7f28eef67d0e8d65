//! Access driven by the identity provider: SCIM groups mapped to the admin
//! role and to workspace permissions, effective at once, audited with their
//! cause; PATs narrowed by their member's access.

use serde_json::{Value, json};

use crate::support::{MEMBER_PASSWORD, TestApp, read};

const MAPPINGS: &str = "/api/v1/group-mappings";
const PATS: &str = "/api/v1/personal-access-tokens";
const SELF: &str = "/api/v1/tokens/self";

async fn introspect(app: &TestApp, caller: &str, token: &str) -> Value {
    let r = read(
        app.client
            .post(app.url("/api/v1/tokens/introspect"))
            .bearer_auth(caller)
            .form(&[("token", token)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn patch_members(op: &str, user: &str) -> Value {
    let value = if op == "add" {
        json!([{ "value": user }])
    } else {
        Value::Null
    };
    let mut operation = json!({ "op": op, "path": "members" });
    if op == "add" {
        operation["value"] = value;
    } else {
        operation["path"] = json!(format!("members[value eq \"{user}\"]"));
    }
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [operation],
    })
}

fn access_changes<'a>(records: &'a [Value], member: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["action"] == "member.access_change" && r["target_id"] == member)
        .collect()
}

/// The whole story of the issue: Okta pushes a user and a group, an admin
/// maps the group, Okta adds the user; the user is an admin, makes a PAT
/// narrowed to one workspace permission, and loses both the admin role and
/// the permission the moment Okta removes them from the group.
#[tokio::test]
async fn the_identity_provider_decides_access() {
    let app = TestApp::spawn().await;
    app.allow_scim_passwords().await;
    let root = app.admin_session().await;
    let org = app.org_of(&root).await;
    let ws = app.create_workspace(&root, "analytics").await;
    let scim = app.scim().await;
    let (_, service) = app
        .create_sat(
            &root,
            json!({ "name": "service", "permissions": ["tokens:introspect"] }),
        )
        .await;

    let ada = scim
        .create_user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@example.com",
            "password": MEMBER_PASSWORD,
            "active": true,
        }))
        .await;
    let group = scim
        .create_group(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Data admins",
        }))
        .await;

    let admin_mapping = app
        .post(MAPPINGS, &root, json!({ "group": group, "role": "admin" }))
        .await;
    assert_eq!(admin_mapping.status, 201, "{}", admin_mapping.text);
    assert_eq!(admin_mapping.body["group"], group.as_str());
    assert_eq!(admin_mapping.body["role"], "admin");
    assert!(admin_mapping.body["created_at"].is_string());
    let ws_mapping = app
        .post(
            MAPPINGS,
            &root,
            json!({ "group": group, "workspace": "analytics", "permissions": ["transformations:edit"] }),
        )
        .await;
    assert_eq!(ws_mapping.status, 201, "{}", ws_mapping.text);
    assert_eq!(ws_mapping.body["workspace"], ws.as_str());
    assert_eq!(
        ws_mapping.body["permissions"],
        json!(["transformations:edit"])
    );
    let listed = app.get(MAPPINGS, &root).await;
    assert_eq!(listed.body["group_mappings"].as_array().unwrap().len(), 2);

    // Before Okta adds her, Ada is a plain member.
    let before = app.get(&format!("/api/v1/members/{ada}"), &root).await;
    assert_eq!(before.status, 200, "{}", before.text);
    assert_eq!(before.body["role"], "member");
    assert_eq!(before.body["workspace_permissions"], json!([]));

    let r = scim
        .patch(&format!("/Groups/{group}"), patch_members("add", &ada))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The member view shows the effective access and where it comes from.
    let view = app.get(&format!("/api/v1/members/{ada}"), &root).await;
    assert_eq!(view.body["role"], "admin", "{}", view.text);
    assert_eq!(view.body["direct_role"], "member");
    assert_eq!(view.body["role_sources"][0]["type"], "group_mapping");
    assert_eq!(
        view.body["role_sources"][0]["mapping_id"],
        admin_mapping.body["id"]
    );
    assert_eq!(view.body["role_sources"][0]["group"], "Data admins");
    assert_eq!(
        view.body["workspace_permissions"],
        json!([{
            "workspace_id": ws,
            "permissions": ["transformations:edit"],
            "source": {
                "type": "group_mapping",
                "mapping_id": ws_mapping.body["id"],
                "group_id": group,
                "group": "Data admins",
            },
        }])
    );
    let list = app.get("/api/v1/members", &root).await;
    let listed_ada = list.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == ada.as_str())
        .unwrap();
    assert_eq!(listed_ada["role"], "admin");

    // Ada signs in: an admin.
    let login = app
        .login("default", "ada@example.com", MEMBER_PASSWORD)
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    let session = login.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/api/v1/service-access-tokens", &session)
            .await
            .status,
        200
    );

    // A PAT narrowed to one workspace permission holds exactly that.
    let pat = app
        .post(
            PATS,
            &session,
            json!({ "name": "etl", "permissions": ["transformations:edit"], "workspace": "analytics" }),
        )
        .await;
    assert_eq!(pat.status, 201, "{}", pat.text);
    assert_eq!(pat.body["permissions"], json!(["transformations:edit"]));
    let pat = pat.body["token"].as_str().unwrap().to_string();
    let seen = introspect(&app, &service, &pat).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["scope"], "transformations:edit");
    assert_eq!(seen["workspace_id"], ws.as_str());
    let me = app.get(SELF, &pat).await;
    assert_eq!(me.body["permissions"], json!(["transformations:edit"]));
    // It cannot do an admin's work: its scope does not hold it.
    app.get("/api/v1/service-access-tokens", &pat)
        .await
        .assert_problem(403);

    // Okta removes Ada from the group.
    let r = scim
        .patch(&format!("/Groups/{group}"), patch_members("remove", &ada))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Her very next request with the same session is refused admin work.
    let refused = app.get("/api/v1/service-access-tokens", &session).await;
    refused.assert_problem(403);
    assert_eq!(
        refused.body["missing_permission"],
        "service_access_tokens:manage"
    );
    // The session itself still works: she is a member.
    let me = app.get(SELF, &session).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["role"], "member");
    // The PAT holds nothing from the removed mapping.
    let seen = introspect(&app, &service, &pat).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["scope"], "");
    assert_eq!(seen["workspace_permissions"], json!([]));

    // Every step is in the audit log, with its cause.
    let records = app.audit_records(&org).await;
    let changes = access_changes(&records, &ada);
    assert_eq!(changes.len(), 2, "{changes:#?}");
    let summary =
        |r: &Value| -> Value { serde_json::from_str(r["changes"].as_str().unwrap()).unwrap() };
    let (gained, lost) = (summary(changes[0]), summary(changes[1]));
    assert_eq!(gained["cause"]["action"], "scim.group.patch");
    assert_eq!(gained["cause"]["resource_id"], group.as_str());
    assert_eq!(gained["before"]["role"], "member");
    assert_eq!(gained["after"]["role"], "admin");
    assert_eq!(
        gained["after"]["workspace_permissions"],
        json!([{ "workspace_id": ws, "permissions": ["transformations:edit"] }])
    );
    assert_eq!(lost["before"]["role"], "admin");
    assert_eq!(lost["after"]["role"], "member");
    assert_eq!(lost["after"]["workspace_permissions"], json!([]));
    // The cause's request is the SCIM request, recorded beside it.
    for change in &changes {
        let request = change["request_id"].as_str().unwrap();
        assert!(
            records
                .iter()
                .any(|r| r["request_id"] == request && r["action"] == "scim.group.patch"),
            "{change}"
        );
        assert_eq!(change["actor_kind"], "sat");
    }
    for action in ["group_mapping.create", "pat.create"] {
        assert!(records.iter().any(|r| r["action"] == action), "{action}");
    }
}

#[tokio::test]
async fn mappings_are_validated_in_the_problem_form() {
    let app = TestApp::spawn().await;
    let root = app.admin_session().await;
    app.create_workspace(&root, "w").await;
    let scim = app.scim().await;
    let group = scim
        .create_group(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "g",
        }))
        .await;
    let missing = uuid::Uuid::now_v7().to_string();
    let refused = [
        (json!({ "group": missing, "role": "admin" }), 404),
        (
            json!({ "group": group, "workspace": "w", "permissions": ["transformations:write"] }),
            400,
        ),
        (
            json!({ "group": group, "workspace": "w", "permissions": ["scim:read"] }),
            400,
        ),
        (
            json!({ "group": group, "workspace": "nope", "permissions": ["sources:read"] }),
            404,
        ),
        (json!({ "group": group, "role": "owner" }), 400),
        (
            json!({ "group": group, "role": "admin", "workspace": "w" }),
            400,
        ),
    ];
    for (body, status) in refused {
        app.post(MAPPINGS, &root, body).await.assert_problem(status);
    }
    // Nothing was written.
    assert_eq!(
        app.get(MAPPINGS, &root).await.body["group_mappings"],
        json!([])
    );
    // Members may not map groups.
    let (_, member) = app.signed_in_member("default", "mia", "member").await;
    app.post(
        MAPPINGS,
        &member,
        json!({ "group": group, "role": "admin" }),
    )
    .await
    .assert_problem(403);
}

/// The last-admin rule: a change from the identity provider that would
/// leave no active admin still changes the directory, but the members who
/// would lose admin keep it, as a direct role, and the record says so.
#[tokio::test]
async fn the_identity_provider_cannot_lock_the_organization_out() {
    let app = TestApp::spawn().await;
    app.allow_scim_passwords().await;
    let root = app.admin_session().await;
    let org = app.org_of(&root).await;
    let root_id = app.get(SELF, &root).await.body["member_id"]
        .as_str()
        .unwrap()
        .to_string();
    let scim = app.scim().await;
    let ada = scim
        .create_user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada",
            "password": MEMBER_PASSWORD,
        }))
        .await;
    let group = scim
        .create_group(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Admins",
            "members": [{ "value": ada }],
        }))
        .await;
    let r = app
        .post(MAPPINGS, &root, json!({ "group": group, "role": "admin" }))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // The bootstrap admin steps down: Ada, admin through Okta, is the only one.
    let r = app
        .patch(
            &format!("/api/v1/members/{root_id}"),
            &root,
            json!({ "role": "member" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = scim
        .patch(&format!("/Groups/{group}"), patch_members("remove", &ada))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Okta's change is applied: Ada is no longer in the group...
    let g = scim.get(&format!("/Groups/{group}")).await;
    assert!(
        g.body.get("members").is_none_or(|m| m == &json!([])),
        "{}",
        g.text
    );
    // ...but she keeps admin, now by direct role, and can still sign in to
    // the console's work.
    let login = app.login("default", "ada", MEMBER_PASSWORD).await;
    let session = login.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/service-access-tokens", session)
            .await
            .status,
        200
    );
    let view = app.get(&format!("/api/v1/members/{ada}"), session).await;
    assert_eq!(view.body["role"], "admin");
    assert_eq!(view.body["direct_role"], "admin");
    assert_eq!(view.body["role_sources"], json!([{ "type": "direct" }]));

    let records = app.audit_records(&org).await;
    let changes = access_changes(&records, &ada);
    let last: Value =
        serde_json::from_str(changes.last().unwrap()["changes"].as_str().unwrap()).unwrap();
    assert_eq!(last["kept_as_last_admin"], true, "{last}");
    assert_eq!(last["after"]["role"], "admin");
}

#[tokio::test]
async fn the_catalogue_lists_every_permission_for_any_caller() {
    let app = TestApp::spawn().await;
    let (_, member) = app.signed_in_member("default", "mo", "member").await;
    let r = app.get("/api/v1/permissions", &member).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.body["permissions"].as_array().unwrap();
    let find = |n: &str| list.iter().find(|e| e["name"] == n).unwrap().clone();
    let edit = find("transformations:edit");
    assert_eq!(edit["level"], "workspace");
    assert_eq!(edit["resource"], "transformations");
    assert_eq!(edit["access"], "edit");
    assert_eq!(edit["implies"], json!(["transformations:read"]));
    assert!(edit["description"].as_str().unwrap().len() > 10);
    let write = find("scim:write");
    assert_eq!(write["level"], "organization");
    assert_eq!(write["held_by"], json!(["organization_token"]));
    assert_eq!(find("members:manage")["held_by"], json!(["admin"]));
    app.get("/api/v1/permissions", "nonsense")
        .await
        .assert_problem(401);
}

/// The console's Group mappings page lists, adds and removes mappings
/// through the API's use cases, and the Members page shows the effective
/// access with its source.
#[tokio::test]
async fn the_console_maps_groups_and_shows_effective_access() {
    use crate::console_client::Console;
    use reqwest::StatusCode;

    let app = TestApp::spawn().await;
    let root = app.admin_session().await;
    let ws = app.create_workspace(&root, "analytics").await;
    let scim = app.scim().await;
    let bea = scim
        .create_user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "bea",
        }))
        .await;
    let group = scim
        .create_group(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Analysts",
            "members": [{ "value": bea }],
        }))
        .await;

    let mut c = Console::new(&app);
    let csrf = c.sign_in_admin().await;
    let page = c.get("/console/group-mappings").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("No group is mapped yet."));
    assert!(page.text.contains("Analysts"));
    // The picker is the catalogue's.
    assert!(page.text.contains("value=\"transformations:edit\""));

    let r = c
        .post(
            "/console/group-mappings",
            &[
                ("csrf", &csrf),
                ("group", &group),
                ("grant", "workspace"),
                ("workspace", &ws),
                ("permission", "sources:read"),
                ("permission", "transformations:edit"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let mappings = app.get(MAPPINGS, &root).await.body["group_mappings"].clone();
    assert_eq!(
        mappings[0]["permissions"],
        json!(["sources:read", "transformations:edit"])
    );
    let page = c.get("/console/group-mappings?done=created").await;
    assert!(page.text.contains("The group was mapped."));

    let members = c.get("/console/members").await;
    assert!(
        members.text.contains("through group “Analysts”"),
        "{}",
        members.text
    );
    assert!(members.text.contains("transformations:edit"));

    // A refused mapping shows the form again with the reason.
    let r = c
        .post(
            "/console/group-mappings",
            &[
                ("csrf", &csrf),
                ("group", &group),
                ("grant", "workspace"),
                ("workspace", &ws),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    let id = mappings[0]["id"].as_str().unwrap();
    let r = c
        .post(
            &format!("/console/group-mappings/{id}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        app.get(MAPPINGS, &root).await.body["group_mappings"],
        json!([])
    );
    let view = app.get(&format!("/api/v1/members/{bea}"), &root).await;
    assert_eq!(view.body["workspace_permissions"], json!([]));
}

/// Direct workspace permissions: given by an admin, shown as direct, held
/// by the member's PATs within their scope, and gone with the workspace.
#[tokio::test]
async fn direct_workspace_permissions_and_pat_scopes() {
    let app = TestApp::spawn().await;
    let root = app.admin_session().await;
    let ws = app.create_workspace(&root, "ops").await;
    let (mo, session) = app.signed_in_member("default", "mo", "member").await;
    let r = app
        .patch(
            &format!("/api/v1/members/{mo}"),
            &root,
            json!({ "workspace_permissions": [{ "workspace": "ops", "permissions": ["sources:edit"] }] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["workspace_permissions"],
        json!([{ "workspace_id": ws, "permissions": ["sources:edit"], "source": { "type": "direct" } }])
    );
    app.patch(
        &format!("/api/v1/members/{mo}"),
        &root,
        json!({ "workspace_permissions": [{ "workspace": "ops", "permissions": ["sources:fly"] }] }),
    )
    .await
    .assert_problem(400);

    // Her session holds it; a PAT may hold part of it, never more.
    let me = app.get(SELF, &session).await;
    assert_eq!(
        me.body["workspace_permissions"],
        json!([{ "workspace_id": ws, "permissions": ["sources:edit"] }])
    );
    let wider = app
        .post(
            PATS,
            &session,
            json!({ "name": "x", "permissions": ["sources:create_delete"], "workspace": "ops" }),
        )
        .await;
    wider.assert_problem(403);
    assert_eq!(wider.body["missing_permission"], "sources:create_delete");
    app.post(
        PATS,
        &session,
        json!({ "name": "x", "permissions": ["sources:read"] }),
    )
    .await
    .assert_problem(400);
    app.post(
        PATS,
        &session,
        json!({ "name": "x", "permissions": ["scim:read"], "workspace": "ops" }),
    )
    .await
    .assert_problem(400);
    let pat = app
        .post(
            PATS,
            &session,
            json!({ "name": "x", "permissions": ["sources:read"], "workspace": ws }),
        )
        .await;
    assert_eq!(pat.status, 201, "{}", pat.text);
    let pat = pat.body["token"].as_str().unwrap().to_string();
    let held = app.get(SELF, &pat).await;
    assert_eq!(held.body["permissions"], json!(["sources:read"]));
    assert_eq!(held.body["workspace_id"], ws.as_str());
    // A PAT makes no PAT unless its scope holds that.
    app.post(PATS, &pat, json!({ "name": "y" }))
        .await
        .assert_problem(403);

    // The workspace is deleted: nobody holds anything in it any more.
    assert_eq!(
        app.delete(&format!("/api/v1/workspaces/{ws}"), &root)
            .await
            .status,
        204
    );
    let view = app.get(&format!("/api/v1/members/{mo}"), &root).await;
    assert_eq!(view.body["workspace_permissions"], json!([]));
    let held = app.get(SELF, &pat).await;
    assert_eq!(held.body["permissions"], json!([]));
}

/// Deactivating a user through SCIM takes all their access away, recorded
/// as an access change caused by the SCIM request; so does deleting a
/// mapped group, for its members.
#[tokio::test]
async fn deactivation_and_group_deletion_change_access_with_their_cause() {
    let app = TestApp::spawn().await;
    let root = app.admin_session().await;
    let org = app.org_of(&root).await;
    app.create_workspace(&root, "w").await;
    let scim = app.scim().await;
    let user = |name: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name,
        })
    };
    let ann = scim.create_user(user("ann")).await;
    let ben = scim.create_user(user("ben")).await;
    let group = scim
        .create_group(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Editors",
            "members": [{ "value": ann }, { "value": ben }],
        }))
        .await;
    let r = app
        .post(
            MAPPINGS,
            &root,
            json!({ "group": group, "workspace": "w", "permissions": ["sources:edit"] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let r = scim
        .patch(
            &format!("/Users/{ann}"),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "replace", "path": "active", "value": false }],
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = scim.delete(&format!("/Groups/{group}")).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        app.get(MAPPINGS, &root).await.body["group_mappings"],
        json!([])
    );
    let view = app.get(&format!("/api/v1/members/{ben}"), &root).await;
    assert_eq!(view.body["workspace_permissions"], json!([]));

    let records = app.audit_records(&org).await;
    let summary =
        |r: &Value| -> Value { serde_json::from_str(r["changes"].as_str().unwrap()).unwrap() };
    let ann_changes = access_changes(&records, &ann);
    assert_eq!(ann_changes.len(), 2, "granted, then deactivated");
    let off = summary(ann_changes[1]);
    assert_eq!(off["cause"]["action"], "scim.user.patch");
    assert_eq!(off["cause"]["resource_id"], ann.as_str());
    assert_eq!(
        off["before"]["workspace_permissions"][0]["permissions"],
        json!(["sources:edit"]),
        "the access held before the deactivation"
    );
    assert_eq!(off["after"]["workspace_permissions"], json!([]));
    // What is stored for credential checks is no access at all (on
    // PostgreSQL the deactivating statement writes it, see
    // `scim_users::replace`): the member role and no workspace.
    let ann_id: uuid::Uuid = ann.parse().unwrap();
    let stored: (Option<String>, Option<String>) = scimitar::on_db!(app.db(), pool => {
        sqlx::query_as("SELECT access_role, access_workspaces FROM members WHERE id = $1")
            .bind(ann_id)
            .fetch_one(pool)
            .await
    })
    .unwrap();
    assert_eq!(stored, (Some("member".into()), Some(String::new())));
    let ben_changes = access_changes(&records, &ben);
    assert_eq!(ben_changes.len(), 2, "granted, then the group deleted");
    assert_eq!(
        summary(ben_changes[0])["cause"]["action"],
        "group_mapping.create"
    );
    assert_eq!(
        summary(ben_changes[1])["cause"]["action"],
        "scim.group.delete"
    );
}
