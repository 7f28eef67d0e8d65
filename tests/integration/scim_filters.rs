//! Filter semantics, table-driven, on whichever backend the suite runs on:
//! each operator, each attribute type, value paths, URN paths, and
//! not / and / or precedence. Then sorting and paging.

use std::collections::BTreeSet;

use serde_json::json;

use crate::support::{ENTERPRISE, Scim, TestApp, USER_SCHEMA};

/// Seeds four users (the bootstrap `admin` member is a fifth) and returns
/// their ids: bjensen, jsmith, Zed, amy.
async fn seed(scim: &Scim<'_>) -> [String; 4] {
    let jsmith = scim
        .create_user(json!({
            "schemas": [USER_SCHEMA],
            "userName": "jsmith",
            "externalId": "EXT-2",
            "name": { "givenName": "John", "familyName": "O'Malley" },
            "userType": "Intern",
            "active": false,
            "emails": [{ "value": "john@example.org", "type": "work" }],
        }))
        .await;
    let bjensen = scim
        .create_user(json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "bjensen",
            "externalId": "ext-1",
            "name": { "givenName": "Barbara", "familyName": "Jensen" },
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "emails": [
                { "value": "bjensen@example.com", "type": "work", "primary": true },
                { "value": "babs@jensen.org", "type": "home" }
            ],
            ENTERPRISE: { "employeeNumber": "701984", "manager": { "value": jsmith } },
        }))
        .await;
    let zed = scim
        .create_user(json!({
            "schemas": [USER_SCHEMA],
            "userName": "Zed",
            "title": "CTO",
            "emails": [{ "value": "zed@x.io", "type": "home" }],
            "ims": [{ "value": "zed@foo.com", "type": "xmpp" }],
        }))
        .await;
    let amy = scim
        .create_user(json!({ "schemas": [USER_SCHEMA], "userName": "amy" }))
        .await;
    [bjensen, jsmith, zed, amy]
}

async fn names(scim: &Scim<'_>, filter: &str) -> BTreeSet<String> {
    let r = scim.filter("/Users", filter).await;
    assert_eq!(r.status, 200, "{filter}: {}", r.text);
    let resources = r.body["Resources"].as_array().cloned().unwrap_or_default();
    assert_eq!(r.body["totalResults"], json!(resources.len()), "{filter}");
    resources
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn filter_semantics_table() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let [bjensen, jsmith, _zed, _amy] = seed(&scim).await;
    let random = uuid::Uuid::new_v4().to_string();
    let cases: Vec<(String, &[&str])> = vec![
        // Strings, caseExact false: values and attribute names without case.
        (r#"userName eq "BJENSEN""#.into(), &["bjensen"]),
        (r#"USERNAME EQ "amy""#.into(), &["amy"]),
        (r#"userName ne "bjensen""#.into(), &["admin", "amy", "jsmith", "Zed"]),
        (r#"userName sw "j""#.into(), &["jsmith"]),
        (r#"userName ew "SEN""#.into(), &["bjensen"]),
        (r#"userName co "e""#.into(), &["bjensen", "Zed"]),
        (r#"userName gt "b""#.into(), &["bjensen", "jsmith", "Zed"]),
        (r#"userName le "amy""#.into(), &["admin", "amy"]),
        (r#"name.familyName co "O'M""#.into(), &["jsmith"]),
        (r#"name.givenName ge "John""#.into(), &["jsmith"]),
        // Presence, negation, precedence.
        ("title pr".into(), &["bjensen", "Zed"]),
        ("not (title pr)".into(), &["admin", "amy", "jsmith"]),
        (r#"title pr and userType eq "Employee""#.into(), &["bjensen"]),
        (r#"title pr or userType eq "Intern""#.into(), &["bjensen", "jsmith", "Zed"]),
        (r#"userName eq "amy" or userName eq "Zed" and title eq "none""#.into(), &["amy"]),
        (r#"(userName eq "amy" or userName eq "Zed") and title pr"#.into(), &["Zed"]),
        // Multi-valued attributes and value paths.
        (r#"emails co "example.com""#.into(), &["bjensen"]),
        (r#"emails.type eq "work""#.into(), &["bjensen", "jsmith"]),
        (r#"emails.primary eq true"#.into(), &["bjensen"]),
        (r#"emails[type eq "work" and value co "example.org"]"#.into(), &["jsmith"]),
        (r#"emails[type eq "home" and value co "example"]"#.into(), &[]),
        (r#"emails[type eq "home" and value co "jensen"]"#.into(), &["bjensen"]),
        (r#"emails[not (type eq "work")]"#.into(), &["bjensen", "Zed"]),
        (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#.into(), &["bjensen"]),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#.into(),
            &["admin", "amy", "Zed"],
        ),
        (r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#.into(), &["bjensen", "Zed"]),
        // Booleans (Entra's capitalised strings too).
        ("active eq false".into(), &["jsmith"]),
        ("active eq true".into(), &["admin", "amy", "bjensen", "Zed"]),
        (r#"active eq "False""#.into(), &["jsmith"]),
        // caseExact: externalId and id.
        (r#"externalId eq "ext-1""#.into(), &["bjensen"]),
        (r#"externalId eq "EXT-1""#.into(), &[]),
        (r#"externalId sw "EXT""#.into(), &["jsmith"]),
        ("externalId eq ext-1".into(), &["bjensen"]),
        (format!(r#"id eq "{bjensen}""#), &["bjensen"]),
        (format!(r#"id eq "{random}""#), &[]),
        (r#"id eq "not-a-guid""#.into(), &[]),
        (format!(r#"externalId eq "{random}""#), &[]),
        // Dates compare as dates.
        (r#"meta.created gt "2000-01-01T00:00:00Z""#.into(), &["admin", "amy", "bjensen", "jsmith", "Zed"]),
        (r#"meta.lastModified lt "2000-01-01T00:00:00+01:00""#.into(), &[]),
        (r#"meta.resourceType eq "User""#.into(), &["admin", "amy", "bjensen", "jsmith", "Zed"]),
        // URN-qualified paths.
        (format!(r#"{USER_SCHEMA}:userName sw "b""#), &["bjensen"]),
        (format!(r#"{ENTERPRISE}:employeeNumber eq "701984""#), &["bjensen"]),
        (format!(r#"{ENTERPRISE}:manager.value eq "{jsmith}""#), &["bjensen"]),
        // Special characters are data, never SQL.
        (r#"userName eq "x' OR '1'='1""#.into(), &[]),
        (r#"userName co "%""#.into(), &[]),
        (r#"userName co "_""#.into(), &[]),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            names(&scim, &filter).await,
            set(expected),
            "filter: {filter}"
        );
    }
}

#[tokio::test]
async fn invalid_filters_are_invalid_filter_errors() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    let deep = format!("{}userName eq \"x\"{}", "(".repeat(300), ")".repeat(300));
    let nots = format!(
        "{}userName eq \"x\"{}",
        "not (".repeat(200),
        ")".repeat(200)
    );
    for f in [
        "userName eq",
        "userName zz \"x\"",
        "shoeSize eq 44",
        "name eq \"x\"",
        "active gt true",
        "password eq \"x\"",
        "meta.created gt \"last tuesday\"",
        "emails[type eq \"work\"",
        deep.as_str(),
        nots.as_str(),
    ] {
        scim.filter("/Users", f)
            .await
            .assert_scim_error(400, Some("invalidFilter"));
    }
}

#[tokio::test]
async fn sorting_and_paging() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    seed(&scim).await;
    let order = |r: &crate::support::Resp| -> Vec<String> {
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_string())
            .collect()
    };
    let asc = scim.get("/Users?sortBy=userName").await;
    assert_eq!(order(&asc), ["admin", "amy", "bjensen", "jsmith", "Zed"]);
    let desc = scim
        .get("/Users?sortBy=userName&sortOrder=descending")
        .await;
    assert_eq!(order(&desc), ["Zed", "jsmith", "bjensen", "amy", "admin"]);
    let by_family = scim.get("/Users?sortBy=name.familyName").await;
    assert_eq!(
        order(&by_family)[..2],
        ["bjensen", "jsmith"],
        "values first, then the rest"
    );

    let page = scim
        .get("/Users?sortBy=userName&startIndex=2&count=2")
        .await;
    assert_eq!(order(&page), ["amy", "bjensen"]);
    assert_eq!(page.body["totalResults"], 5);
    assert_eq!(page.body["startIndex"], 2);
    assert_eq!(page.body["itemsPerPage"], 2);
    let empty = scim.get("/Users?count=0").await;
    assert_eq!(empty.body["totalResults"], 5);
    assert_eq!(empty.body["Resources"], json!([]));
    let past = scim.get("/Users?startIndex=99").await;
    assert_eq!(past.body["Resources"], json!([]));
    let clamped = scim
        .get("/Users?startIndex=-3&count=1&sortBy=userName")
        .await;
    assert_eq!(clamped.body["startIndex"], 1);
    assert_eq!(order(&clamped), ["admin"]);
    scim.get("/Users?sortBy=shoeSize")
        .await
        .assert_scim_error(400, Some("invalidValue"));
    scim.get("/Users?count=lots")
        .await
        .assert_scim_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn attributes_and_excluded_attributes_shape_list_results() {
    let app = TestApp::spawn().await;
    let scim = app.scim().await;
    seed(&scim).await;
    let r = scim
        .get("/Users?filter=userName%20eq%20%22bjensen%22&attributes=userName,name.givenName")
        .await;
    let u = &r.body["Resources"][0];
    let mut keys: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["id", "name", "schemas", "userName"]);
    assert_eq!(u["name"], json!({ "givenName": "Barbara" }));
    let r = scim
        .get("/Users?filter=userName%20eq%20%22bjensen%22&excludedAttributes=emails,meta")
        .await;
    let u = &r.body["Resources"][0];
    assert!(u.get("emails").is_none() && u.get("meta").is_none());
    assert!(u.get("name").is_some() && u.get("id").is_some());
}
