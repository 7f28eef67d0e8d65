//! SCIM 2.0 under `/scim/v2`: every refusal must be an RFC 7644 §3.12 error.

use serde_json::{Value, json};

use super::case::{
    ANY_4XX, Auth::Scim, Body, Case, DELETE, Endpoint, FORM, GET, PATCH, POST, PUT, case, gets,
    header_rows, json, json_to, rows, text, typed,
};
use super::inputs;
use crate::support::{ENTERPRISE, GROUP_SCHEMA, PATCH_OP, USER_SCHEMA};

const JSON_ENDPOINTS: &[Endpoint] = &[
    (POST, "/scim/v2/Users", Scim),
    (PUT, "/scim/v2/Users/{user}", Scim),
    (PATCH, "/scim/v2/Users/{user}", Scim),
    (POST, "/scim/v2/Groups", Scim),
    (PUT, "/scim/v2/Groups/{group}", Scim),
    (PATCH, "/scim/v2/Groups/{group}", Scim),
    (POST, "/scim/v2/Users/.search", Scim),
    (POST, "/scim/v2/Groups/.search", Scim),
    (POST, "/scim/v2/.search", Scim),
    (POST, "/scim/v2/Bulk", Scim),
];

const OVERSIZED: &[Endpoint] = &[
    (POST, "/scim/v2/Users", Scim),
    (PATCH, "/scim/v2/Users/{user}", Scim),
    (POST, "/scim/v2/Bulk", Scim),
];

const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

pub fn cases() -> Vec<Case> {
    [
        inputs::json_bodies(JSON_ENDPOINTS),
        inputs::oversized(OVERSIZED),
        requests(),
        users(),
        groups(),
        user_patches(),
        group_patches(),
        bulk(),
        filters(),
        lists(),
        ids(),
        inputs::unrouted(&[
            (PUT, "/scim/v2/Users"),
            (DELETE, "/scim/v2/ServiceProviderConfig"),
            (POST, "/scim/v2/Schemas"),
            (GET, "/scim/v2/Bulk"),
            (GET, "/scim/v2/..%2F..%2Fapi%2Fv1%2Fmembers"),
        ]),
    ]
    .concat()
}

fn user_body(extra: Value) -> Value {
    let mut v = json!({ "schemas": [USER_SCHEMA], "userName": "hostile-new" });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

/// `n` distinct emails, each with a `display` of `display` characters.
fn many_emails(n: usize, display: usize) -> Value {
    (0..n)
        .map(|i| {
            let mut e = json!({ "value": format!("e{i}@example.com") });
            if display > 0 {
                e["display"] = json!("d".repeat(display));
            }
            e
        })
        .collect()
}

fn patch(ops: Value) -> Value {
    json!({ "schemas": [PATCH_OP], "Operations": ops })
}

/// A `filter` query parameter.
pub fn q(s: &str) -> String {
    serde_urlencoded::to_string([("filter", s)]).unwrap()
}

/// Requests refused for their form rather than their values: media types,
/// duplicate keys (refused, not last-wins), NUL (PostgreSQL cannot store
/// it, SQLite's text functions stop at it), preconditions; and the
/// security probe's passwords: a SCIM token may not set an admin's
/// password, nor anyone's while the organization has not allowed SCIM
/// passwords.
#[rustfmt::skip]
fn requests() -> Vec<Case> {
    let nul_filter = format!("/scim/v2/Users?{}", q("userName eq \"alice\\u0000\""));
    let dup_user = format!(r#"{{"schemas":["{USER_SCHEMA}"],"userName":"dup-a","userName":"dup-b"}}"#);
    let dup_nested = format!(r#"{{"schemas":["{USER_SCHEMA}"],"userName":"dup-c","name":{{"givenName":"a","givenName":"b"}}}}"#);
    let dup_op = format!(r#"{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"add","op":"replace","path":"displayName","value":"x"}}]}}"#);
    let dup_bulk = format!(r#"{{"schemas":["{BULK}"],"Operations":[],"Operations":[]}}"#);
    let password = |ops: Value| json(patch(ops));
    [
        rows(vec![
            ("multipart to SCIM", POST, "/scim/v2/Users", Scim, typed("multipart/form-data; boundary=x", "--x\r\n\r\n{}\r\n--x--"), Some(415)),
            ("form to SCIM", POST, "/scim/v2/Users", Scim, typed(FORM, "userName=a"), Some(415)),
            ("duplicate userName", POST, "/scim/v2/Users", Scim, text(dup_user), Some(400)),
            ("duplicate nested key", POST, "/scim/v2/Users", Scim, text(dup_nested), Some(400)),
            ("duplicate op", PATCH, "/scim/v2/Users/{user}", Scim, text(dup_op), Some(400)),
            ("duplicate schemas in Bulk", POST, "/scim/v2/Bulk", Scim, text(dup_bulk), Some(400)),
            ("NUL in userName", POST, "/scim/v2/Users", Scim, json(user_body(json!({ "userName": "nul\u{0}user" }))), Some(400)),
            ("NUL in a filter value", GET, &nul_filter, Scim, Body::None, Some(400)),
            ("NUL in a group name", POST, "/scim/v2/Groups", Scim, json(json!({ "schemas": [GROUP_SCHEMA], "displayName": "g\u{0}" })), Some(400)),
            ("NUL in a SCIM list parameter", GET, "/scim/v2/Users?sortBy=userName%00", Scim, Body::None, Some(400)),
            ("SCIM sets an admin's password", PATCH, "/scim/v2/Users/{admin}", Scim, password(json!([{ "op": "replace", "path": "password", "value": "z" }])), Some(403)),
            ("SCIM sets an admin's password without a path", PATCH, "/scim/v2/Users/{admin}", Scim, password(json!([{ "op": "replace", "value": { "password": "a long enough password" } }])), Some(403)),
            ("SCIM sets a member's password while SCIM passwords are off", PATCH, "/scim/v2/Users/{user}", Scim, password(json!([{ "op": "replace", "path": "password", "value": "a long enough password" }])), Some(403)),
        ]),
        header_rows(vec![
            ("If-Match garbage", DELETE, "/scim/v2/Users/{user}", Scim, "if-match", b"W/\"'; DROP TABLE members; --\"", Body::None, Some(412)),
            ("If-Match obs-text", PUT, "/scim/v2/Users/{user}", Scim, "if-match", b"\xff", json(user_body(json!({ "userName": 5 }))), ANY_4XX),
        ]),
    ]
    .concat()
}

/// User bodies with wrong types and values, each created and put in
/// place of a user.
#[rustfmt::skip]
fn users() -> Vec<Case> {
    let bad: Vec<(&str, Value)> = vec![
        ("userName number", json!({ "userName": 123 })),
        ("userName null", json!({ "userName": null })),
        ("userName array", json!({ "userName": ["a"] })),
        ("userName object", json!({ "userName": { "a": 1 } })),
        ("userName empty", json!({ "userName": "" })),
        ("active string", json!({ "active": "yes" })),
        ("active number", json!({ "active": 1 })),
        ("emails of numbers", json!({ "emails": [1, 2] })),
        ("email value number", json!({ "emails": [{ "value": 5 }] })),
        ("name string", json!({ "name": "Ann" })),
        ("name.givenName number", json!({ "name": { "givenName": 1 } })),
        ("schemas string", json!({ "schemas": USER_SCHEMA })),
        ("schemas empty", json!({ "schemas": [] })),
        ("schemas numbers", json!({ "schemas": [1] })),
        ("schemas unknown", json!({ "schemas": ["urn:evil"] })),
        ("unknown attribute", json!({ "secret_hash": "x" })),
        ("huge number", json!({ "userName": 1e308 })),
        ("manager number", json!({ "schemas": [USER_SCHEMA, ENTERPRISE], ENTERPRISE: { "manager": 5 } })),
        ("enterprise string", json!({ "schemas": [USER_SCHEMA, ENTERPRISE], ENTERPRISE: "x" })),
        ("password number", json!({ "password": 12345678901234i64 })),
        ("duplicate userName (exists)", json!({ "userName": "BOB" })),
        // Over the size limits (scimitar::scim::limits).
        ("userName of 100,000 characters", json!({ "userName": "u".repeat(100_000) })),
        ("101 emails", json!({ "emails": many_emails(101, 0) })),
        ("a 5,000-character givenName", json!({ "name": { "givenName": "g".repeat(5000) } })),
        ("a 3,000-character email display", json!({ "emails": [{ "value": "a@example.com", "display": "d".repeat(3000) }] })),
        ("a document over 64 KiB", json!({ "addresses": vec![json!({ "formatted": "a".repeat(2000) }); 40] })),
    ];
    let bodies: Vec<(&str, Value)> = bad.into_iter().map(|(what, extra)| (what, user_body(extra))).collect();
    [
        json_to("user with ", (POST, "/scim/v2/Users", Scim), bodies.clone()),
        json_to("replace with ", (PUT, "/scim/v2/Users/{user}", Scim), bodies),
        json_to("user without ", (POST, "/scim/v2/Users", Scim), vec![
            ("schemas", json!({ "userName": "no-schemas" })),
            ("userName", json!({ "schemas": [USER_SCHEMA] })),
        ]),
    ]
    .concat()
}

#[rustfmt::skip]
fn groups() -> Vec<Case> {
    json_to("group with ", (POST, "/scim/v2/Groups", Scim), vec![
        ("displayName number", json!({ "schemas": [GROUP_SCHEMA], "displayName": 5 })),
        ("no displayName", json!({ "schemas": [GROUP_SCHEMA] })),
        ("members string", json!({ "schemas": [GROUP_SCHEMA], "displayName": "g2", "members": "x" })),
        ("member value number", json!({ "schemas": [GROUP_SCHEMA], "displayName": "g2", "members": [{ "value": 5 }] })),
        ("member value sql", json!({ "schemas": [GROUP_SCHEMA], "displayName": "g2", "members": [{ "value": "' OR 1=1 --" }] })),
        ("duplicate displayName (exists)", json!({ "schemas": [GROUP_SCHEMA], "displayName": "ENG" })),
        ("user schema", json!({ "schemas": [USER_SCHEMA], "displayName": "g3" })),
        ("displayName of 5,000 characters", json!({ "schemas": [GROUP_SCHEMA], "displayName": "n".repeat(5000) })),
    ])
}

#[rustfmt::skip]
fn user_patches() -> Vec<Case> {
    let ops_1001 = vec![json!({ "op": "replace", "path": "displayName", "value": "x" }); 1001];
    let ops_5000 = vec![json!({ "op": "add", "path": "title", "value": "x" }); 5000];
    let deep_filter = format!("emails[{}type eq \"work\"{}]", "(".repeat(500), ")".repeat(500));
    let email_adds: Vec<Value> = (0..1000)
        .map(|i| json!({ "op": "add", "path": "emails", "value": [{ "value": format!("x{i}@example.com"), "display": "d".repeat(700) }] }))
        .collect();
    json_to("patch user: ", (PATCH, "/scim/v2/Users/{user}", Scim), vec![
        ("Operations string", patch(json!("x"))),
        ("Operations empty", patch(json!([]))),
        ("op delete", patch(json!([{ "op": "delete", "path": "title" }]))),
        ("op number", patch(json!([{ "op": 5, "path": "title" }]))),
        ("path number", patch(json!([{ "op": "replace", "path": 5, "value": "x" }]))),
        ("unparsable path", patch(json!([{ "op": "replace", "path": "title[", "value": "x" }]))),
        ("unknown path", patch(json!([{ "op": "replace", "path": "secret_hash", "value": "x" }]))),
        ("sql in path", patch(json!([{ "op": "replace", "path": "userName'; DROP TABLE members;--", "value": "x" }]))),
        ("add without value", patch(json!([{ "op": "add", "path": "title" }]))),
        ("remove without path", patch(json!([{ "op": "remove" }]))),
        ("replace id", patch(json!([{ "op": "replace", "path": "id", "value": "x" }]))),
        ("userName number", patch(json!([{ "op": "replace", "path": "userName", "value": 5 }]))),
        ("active string", patch(json!([{ "op": "replace", "path": "active", "value": "sometimes" }]))),
        ("deep value filter", patch(json!([{ "op": "remove", "path": deep_filter }]))),
        ("1001 operations", patch(json!(ops_1001))),
        ("5000 operations", patch(json!(ops_5000))),
        ("userName of 100,000 characters", patch(json!([{ "op": "replace", "path": "userName", "value": "u".repeat(100_000) }]))),
        ("emails past 100", patch(json!([{ "op": "add", "path": "emails", "value": many_emails(100, 0) }]))),
        ("1000 adds of emails with 700-character displays", patch(json!(email_adds))),
        ("a 5,000-character givenName", patch(json!([{ "op": "replace", "path": "name.givenName", "value": "g".repeat(5000) }]))),
        ("wrong schema", json!({ "schemas": [USER_SCHEMA], "Operations": [] })),
        ("one bad op among good ones", patch(json!([
            { "op": "replace", "path": "displayName", "value": "changed" },
            { "op": "replace", "path": "nickName", "value": "changed" },
            { "op": "replace", "path": "active", "value": [] }
        ]))),
    ])
}

#[rustfmt::skip]
fn group_patches() -> Vec<Case> {
    let member_adds = vec![json!({ "op": "add", "path": "members", "value": [{ "value": uuid::Uuid::nil() }] }); 5000];
    json_to("patch group: ", (PATCH, "/scim/v2/Groups/{group}", Scim), vec![
        ("add member not a uuid", patch(json!([{ "op": "add", "path": "members", "value": [{ "value": "../../x" }] }]))),
        ("add member number", patch(json!([{ "op": "add", "path": "members", "value": [{ "value": 1 }] }]))),
        ("remove members with bad filter", patch(json!([{ "op": "remove", "path": "members[value eq \"a\" or 1=1]" }]))),
        ("rename to number", patch(json!([{ "op": "replace", "path": "displayName", "value": 7 }]))),
        ("displayName of 5,000 characters", patch(json!([{ "op": "replace", "path": "displayName", "value": "n".repeat(5000) }]))),
        ("a member display of 5,000 characters", patch(json!([{ "op": "add", "path": "members", "value": [{ "value": "{user}", "display": "d".repeat(5000) }] }]))),
        ("5000 member adds", patch(json!(member_adds))),
    ])
}

#[rustfmt::skip]
fn bulk() -> Vec<Case> {
    let bulk = |ops: Value| json!({ "schemas": [BULK], "Operations": ops });
    let one_op = json!({ "method": "POST", "path": "/Users", "bulkId": "b", "data": user_body(json!({ "userName": "bulk-x" })) });
    let with_fail_on_errors = |v: Value| {
        let mut b = bulk(json!([]));
        b["failOnErrors"] = v;
        b
    };
    let table: Vec<(&str, Value, Option<u16>)> = vec![
        ("1001 operations", bulk(json!(vec![one_op; 1001])), Some(413)),
        ("Operations object", bulk(json!({ "a": 1 })), ANY_4XX),
        ("no schemas", json!({ "Operations": [] }), ANY_4XX),
        ("failOnErrors string", with_fail_on_errors(json!("x")), ANY_4XX),
        ("failOnErrors negative", with_fail_on_errors(json!(-1)), ANY_4XX),
    ];
    table
        .into_iter()
        .map(|(what, body, expect)| case(format!("bulk: {what}"), POST, "/scim/v2/Bulk", Scim).json(body).expect(expect))
        .collect()
}

/// Filters that must be refused as `invalidFilter` (400).
#[rustfmt::skip]
fn bad_filters() -> Vec<(&'static str, String)> {
    let deep = |n: usize| format!("{}userName eq \"a\"{}", "(".repeat(n), ")".repeat(n));
    let nots = |n: usize| format!("{}userName eq \"a\"{}", "not (".repeat(n), ")".repeat(n));
    vec![
        ("sql tail", r#"userName eq "a"; DROP TABLE members"#.into()),
        ("sql or", r#"userName eq "a" OR 1=1"#.into()),
        ("sql tautology", "1=1".into()),
        ("sql comment", r#"userName eq "a" --"#.into()),
        ("sql union", r#"userName eq "a" UNION SELECT * FROM tokens"#.into()),
        ("closing paren", r#"userName eq "a") or (1 eq 1"#.into()),
        ("unknown attribute", r#"secret_hash eq "x""#.into()),
        ("password", r#"password eq "x""#.into()),
        ("bad operator", r#"userName like "a%""#.into()),
        ("bad date", r#"meta.created gt "'; DELETE FROM tokens; --""#.into()),
        ("bool vs string", r#"active eq "maybe""#.into()),
        ("unbalanced", r#"(userName eq "a""#.into()),
        ("value path unclosed", r#"emails[type eq "work""#.into()),
        ("nested brackets", r#"emails[value[type eq "x"]]"#.into()),
        ("300 parentheses deep", deep(300)),
        ("1000 parentheses deep", deep(1000)),
        ("2000 parentheses deep", deep(2000)),
        ("300 nots deep", nots(300)),
        ("1000 nots deep", nots(1000)),
        ("longer than 8 KiB", format!("userName eq \"{}\"", "a".repeat(9000))),
        ("1000 ands (over 8 KiB)", vec![r#"userName eq "a""#; 1000].join(" and ")),
        ("control characters", "userName\u{0}eq\u{1}\"a\"".into()),
    ]
}

/// Every bad filter in a list's query and in a `.search` body; and a few
/// on Groups.
#[rustfmt::skip]
fn filters() -> Vec<Case> {
    let searches = bad_filters()
        .into_iter()
        .map(|(what, filter)| (what, json!({ "schemas": [SEARCH], "filter": filter })))
        .collect();
    let group_filters = vec![
        ("groups sql", r#"displayName eq "a" OR 1=1"#.to_string()),
        ("groups 1000 deep", format!("{}displayName eq \"a\"{}", "(".repeat(1000), ")".repeat(1000))),
        ("groups unknown attribute", r#"userName eq "a""#.to_string()),
    ];
    let query = |filters: Vec<(&'static str, String)>| filters.into_iter().map(|(what, f)| (what, q(&f)));
    [
        gets("users filter: ", "/scim/v2/Users?", Scim, query(bad_filters())),
        json_to("users .search filter: ", (POST, "/scim/v2/Users/.search", Scim), searches),
        gets("groups filter: ", "/scim/v2/Groups?", Scim, query(group_filters)),
    ]
    .concat()
}

/// List parameters, in a query and in a `.search` body.
#[rustfmt::skip]
fn lists() -> Vec<Case> {
    let params = [
        ("sortBy sql", "sortBy=userName%3B%20DROP%20TABLE%20members"),
        ("sortOrder sideways", "sortOrder=sideways"),
        ("count text", "count=1%3B%20DROP"),
        ("startIndex text", "startIndex=abc"),
        ("startIndex too big", "startIndex=99999999999999999999999"),
        ("count too big", "count=99999999999999999999999"),
        ("filter percent garbage", "filter=%ZZ"),
    ];
    [
        gets("users list ", "/scim/v2/Users?", Scim, params),
        json_to("root .search ", (POST, "/scim/v2/.search", Scim), vec![
            ("count float", json!({ "schemas": [SEARCH], "count": 1.5 })),
            ("count huge", json!({ "schemas": [SEARCH], "count": 1e300 })),
            ("attributes object", json!({ "schemas": [SEARCH], "attributes": { "a": 1 } })),
            ("filter number", json!({ "schemas": [SEARCH], "filter": 5 })),
        ]),
    ]
    .concat()
}

/// Ids that name nothing, in resource paths and in discovery paths.
#[rustfmt::skip]
fn ids() -> Vec<Case> {
    let mut c = inputs::hostile_id_routes(vec![
        ((GET, "/scim/v2/Users/{id}", Scim), None),
        ((PATCH, "/scim/v2/Users/{id}", Scim), Some(patch(json!([{ "op": "replace", "path": "displayName", "value": "x" }])))),
        ((DELETE, "/scim/v2/Groups/{id}", Scim), None),
        ((PUT, "/scim/v2/Groups/{id}", Scim), Some(json!({ "schemas": [GROUP_SCHEMA], "displayName": "x" }))),
    ]);
    for route in ["/scim/v2/Schemas/", "/scim/v2/ResourceTypes/"] {
        for (what, id) in [("traversal", "..%2F..%2Fetc%2Fpasswd"), ("sql", "%27%20OR%201%3D1")] {
            c.push(case(format!("{what} in {route}"), GET, format!("{route}{id}"), Scim).expect(404));
        }
    }
    c
}
