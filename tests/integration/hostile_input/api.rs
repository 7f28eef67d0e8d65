//! The admin API and the Audit Log API under `/api/v1`: every refusal must
//! be an RFC 9457 problem.

use serde_json::{Value, json};

use super::case::{
    ANY_4XX,
    Auth::{Admin, Audit, None as Anonymous, Pat},
    Body, Case, DELETE, Endpoint, GET, PATCH, POST, PUT, TRACE, case, json, json_to, queries, rows,
    text,
};
use super::inputs;

const JSON_ENDPOINTS: &[Endpoint] = &[
    (POST, "/api/v1/auth/login", Anonymous),
    (POST, "/api/v1/service-access-tokens", Admin),
    (PATCH, "/api/v1/service-access-tokens/{sat}", Admin),
    (POST, "/api/v1/service-access-tokens/{sat}/rotate", Admin),
    (POST, "/api/v1/personal-access-tokens", Pat),
    (PATCH, "/api/v1/members/{member}", Admin),
    (POST, "/api/v1/workspaces", Admin),
    (PATCH, "/api/v1/workspaces/{ws}", Admin),
    (POST, "/api/v1/audit-streams", Admin),
];

const OVERSIZED: &[Endpoint] = &[
    (POST, "/api/v1/auth/login", Anonymous),
    (POST, "/api/v1/service-access-tokens", Admin),
    (POST, "/api/v1/workspaces", Admin),
];

const LOGIN: Endpoint = (POST, "/api/v1/auth/login", Anonymous);
const SAT_CREATE: Endpoint = (POST, "/api/v1/service-access-tokens", Admin);

pub fn cases() -> Vec<Case> {
    [
        inputs::json_bodies(JSON_ENDPOINTS),
        no_content_type(),
        inputs::oversized(OVERSIZED),
        requests(),
        sat_bodies(),
        other_bodies(),
        audit_parameters(),
        inputs::hostile_id_routes(vec![
            ((DELETE, "/api/v1/service-access-tokens/{id}", Admin), None),
            (
                (POST, "/api/v1/service-access-tokens/{id}/rotate", Admin),
                Some(json!({})),
            ),
            ((DELETE, "/api/v1/personal-access-tokens/{id}", Pat), None),
            (
                (PATCH, "/api/v1/members/{id}", Admin),
                Some(json!({ "active": false })),
            ),
            ((DELETE, "/api/v1/workspaces/{id}", Admin), None),
            ((GET, "/api/v1/audit-logs/{id}", Audit), None),
            ((GET, "/api/v1/audit-streams/{id}", Admin), None),
            (
                (PATCH, "/api/v1/audit-streams/{id}", Admin),
                Some(json!({ "enabled": false })),
            ),
            ((DELETE, "/api/v1/audit-streams/{id}", Admin), None),
            (
                (POST, "/api/v1/audit-streams/{id}/test", Admin),
                Some(json!({})),
            ),
        ]),
        inputs::unrouted(&[
            (PUT, "/api/v1/workspaces"),
            (GET, "/api/v1/members/..%2F..%2Fscim%2Fv2%2FUsers"),
            (TRACE, "/api/v1/tokens/self"),
        ]),
    ]
    .concat()
}

/// A body without a Content-Type is refused (415), except by rotate, where
/// no Content-Type means no body, which it accepts.
fn no_content_type() -> Vec<Case> {
    JSON_ENDPOINTS
        .iter()
        .filter(|(_, path, _)| !path.ends_with("/rotate"))
        .map(|(method, path, auth)| {
            case(
                format!("no content type to {method} {path}"),
                method.clone(),
                *path,
                *auth,
            )
            .body("{}")
            .ct("")
            .expect(415)
        })
        .collect()
}

/// Duplicate keys (refused, not last-wins) and NUL, which PostgreSQL
/// cannot store and SQLite's text functions stop at.
#[rustfmt::skip]
fn requests() -> Vec<Case> {
    let mut c = rows(vec![
        ("duplicate name", POST, "/api/v1/workspaces", Admin, text(r#"{"name":"dup-a","name":"dup-b"}"#), Some(400)),
        ("duplicate permissions", POST, "/api/v1/service-access-tokens", Admin, text(r#"{"name":"d","permissions":["scim:read"],"permissions":["scim:write"]}"#), Some(400)),
        ("duplicate password", POST, "/api/v1/auth/login", Anonymous, text(r#"{"organization":"default","user_name":"admin","password":"x","password":"y"}"#), Some(400)),
        ("NUL in a workspace name", POST, "/api/v1/workspaces", Admin, json(json!({ "name": "w\u{0}" })), Some(400)),
        ("NUL in a login", POST, "/api/v1/auth/login", Anonymous, json(json!({ "organization": "default", "user_name": "admin\u{0}", "password": "x" })), Some(400)),
    ]);
    for param in ["actor_id", "action", "target_type", "target_id"] {
        c.push(case(format!("NUL in audit {param}"), GET, format!("/api/v1/audit-logs?{param}=a%00b"), Audit).expect(400));
    }
    c
}

/// Service access token bodies with wrong types and values, to create,
/// update and rotate one.
#[rustfmt::skip]
fn sat_bodies() -> Vec<Case> {
    let create = |extra: Value| {
        let mut v = json!({ "name": "n", "permissions": ["scim:read"] });
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    [
        json_to("SAT create: ", SAT_CREATE, vec![
            ("name number", json!({ "name": 5, "permissions": ["scim:read"] })),
            ("name empty", json!({ "name": " ", "permissions": ["scim:read"] })),
            ("name 201 chars", json!({ "name": "n".repeat(201), "permissions": ["scim:read"] })),
            ("description 2001 chars", json!({ "name": "n", "description": "d".repeat(2001), "permissions": ["scim:read"] })),
            ("permissions string", json!({ "name": "n", "permissions": "scim:read" })),
            ("permissions empty", json!({ "name": "n", "permissions": [] })),
            ("permissions unknown", json!({ "name": "n", "permissions": ["root"] })),
            ("permissions number", json!({ "name": "n", "permissions": [5] })),
            ("permissions sql", json!({ "name": "n", "permissions": ["scim:read' OR 1=1 --"] })),
            ("workspace permission on org token", json!({ "name": "n", "permissions": ["sources:read"] })),
            ("manage permission", json!({ "name": "n", "permissions": ["service_access_tokens:manage"] })),
            ("expires_in_days 0", create(json!({ "expires_in_days": 0 }))),
            ("expires_in_days negative", create(json!({ "expires_in_days": -1 }))),
            ("expires_in_days 3651", create(json!({ "expires_in_days": 3651 }))),
            ("expires_in_days float", create(json!({ "expires_in_days": 1.5 }))),
            ("expires_in_days string", create(json!({ "expires_in_days": "10" }))),
            ("expires_in_days 1e300", create(json!({ "expires_in_days": 1e300 }))),
            ("expires_in_days u64 max", create(json!({ "expires_in_days": u64::MAX }))),
            ("expires_at past", create(json!({ "expires_at": "1970-01-01T00:00:00Z" }))),
            ("expires_at garbage", create(json!({ "expires_at": "tomorrow" }))),
            ("expires_at year 99999", create(json!({ "expires_at": "99999-01-01T00:00:00Z" }))),
            ("both expiries", create(json!({ "expires_at": "2999-01-01T00:00:00Z", "expires_in_days": 5 }))),
            ("cidr garbage", create(json!({ "allowed_cidrs": ["999.0.0.0/8"] }))),
            ("cidr string", create(json!({ "allowed_cidrs": "10.0.0.0/8" }))),
            ("cidr prefix 33", create(json!({ "allowed_cidrs": ["10.0.0.0/33"] }))),
            ("workspace_id not a uuid", json!({ "name": "n", "permissions": ["sources:read"], "workspace_id": "../x" })),
            ("workspace_id unknown", json!({ "name": "n", "permissions": ["sources:read"], "workspace_id": uuid::Uuid::new_v4() })),
            ("unknown field", create(json!({ "admin": true }))),
            ("missing name", json!({ "permissions": ["scim:read"] })),
        ]),
        json_to("SAT update: ", (PATCH, "/api/v1/service-access-tokens/{sat}", Admin), vec![
            ("nothing", json!({})),
            ("name number", json!({ "name": 1 })),
            ("name too long", json!({ "name": "n".repeat(201) })),
            ("cidrs garbage", json!({ "allowed_cidrs": ["x"] })),
            ("permissions of the other level", json!({ "permissions": ["sources:read"] })),
            ("permissions unknown", json!({ "permissions": ["scim:admin"] })),
            ("permissions empty", json!({ "permissions": [] })),
            ("expiry past", json!({ "expires_at": "2000-01-01T00:00:00Z" })),
            ("expiry garbage", json!({ "expires_at": "soon" })),
            ("unknown field", json!({ "revoked": false })),
        ]),
        json_to("SAT rotate: ", (POST, "/api/v1/service-access-tokens/{sat}/rotate", Admin), vec![
            ("negative grace", json!({ "grace_period_seconds": -1 })),
            ("grace over 7 days", json!({ "grace_period_seconds": 604801 })),
            ("grace string", json!({ "grace_period_seconds": "5" })),
            ("grace 1e400", json!({ "grace_period_seconds": 1e300 })),
            ("grace i64 max + 1", json!({ "grace_period_seconds": 9223372036854775808u64 })),
            ("unknown field", json!({ "grace": 5 })),
        ]),
    ]
    .concat()
}

/// Personal access tokens, members, workspaces and sign-in.
#[rustfmt::skip]
fn other_bodies() -> Vec<Case> {
    [
        json_to("PAT create: ", (POST, "/api/v1/personal-access-tokens", Pat), vec![
            ("name number", json!({ "name": 5 })),
            ("expires_in_days 0", json!({ "name": "p", "expires_in_days": 0 })),
            ("permissions given", json!({ "name": "p", "permissions": ["scim:read"] })),
            ("workspace permission without workspace", json!({ "name": "p", "permissions": ["sources:read"] })),
            ("workspace unknown", json!({ "name": "p", "permissions": ["sources:read"], "workspace": "nope" })),
            ("workspace without permissions", json!({ "name": "p", "workspace": "prod" })),
            ("permissions empty", json!({ "name": "p", "permissions": [] })),
            ("cidr garbage", json!({ "name": "p", "allowed_cidrs": ["::g/0"] })),
        ]),
        json_to("group mapping create: ", (POST, "/api/v1/group-mappings", Admin), vec![
            ("nothing", json!({})),
            ("group not a uuid", json!({ "group": "../x", "role": "admin" })),
            ("group unknown", json!({ "group": uuid::Uuid::new_v4(), "role": "admin" })),
            ("role owner", json!({ "group": uuid::Uuid::new_v4(), "role": "owner" })),
            ("role and workspace", json!({ "group": uuid::Uuid::new_v4(), "role": "admin", "workspace": "prod" })),
            ("permission unknown", json!({ "group": uuid::Uuid::new_v4(), "workspace": "prod", "permissions": ["sources:fly"] })),
            ("unknown field", json!({ "group": uuid::Uuid::new_v4(), "role": "admin", "x": 1 })),
        ]),
        json_to("member update: ", (PATCH, "/api/v1/members/{admin}", Admin), vec![
            ("nothing", json!({})),
            ("role owner", json!({ "role": "owner" })),
            ("role number", json!({ "role": 1 })),
            ("active string", json!({ "active": "no" })),
            ("demote the last admin", json!({ "role": "member" })),
            ("workspace permissions unknown workspace", json!({ "workspace_permissions": [{ "workspace": "nope", "permissions": ["sources:read"] }] })),
            ("workspace permissions unknown permission", json!({ "workspace_permissions": [{ "workspace": "prod", "permissions": ["scim:read"] }] })),
            ("unknown field", json!({ "password": "a new long password" })),
        ]),
        json_to("workspace create: ", (POST, "/api/v1/workspaces", Admin), vec![
            ("name empty", json!({ "name": "" })),
            ("name 101 chars", json!({ "name": "w".repeat(101) })),
            ("name number", json!({ "name": 5 })),
            ("name null", json!({ "name": null })),
            ("name taken", json!({ "name": "prod" })),
        ]),
        json_to("login: ", LOGIN, vec![
            ("organization number", json!({ "organization": 5, "user_name": "admin", "password": "x" })),
            ("missing password", json!({ "organization": "default", "user_name": "admin" })),
            ("password null", json!({ "organization": "default", "user_name": "admin", "password": null })),
            ("sql user name", json!({ "organization": "default", "user_name": "admin' --", "password": "x" })),
            ("sql organization", json!({ "organization": "' OR 1=1 --", "user_name": "admin", "password": "x" })),
            ("wrong password", json!({ "organization": "default", "user_name": "admin", "password": "wrong" })),
        ]),
    ]
    .concat()
}

/// Query parameters of the Audit Log API and of token lists.
#[rustfmt::skip]
fn audit_parameters() -> Vec<Case> {
    let audit_list = [
        "limit=0", "limit=1001", "limit=abc", "limit=-1", "limit=99999999999999999999",
        "order=sideways", "since=yesterday", "until=2026-13-45T00:00:00Z", "cursor=abc",
        "cursor=%27%20OR%201%3D1", "actor_type=root", "outcome=maybe", "workspace_id=..%2F..",
        "limit=1&limit=2",
    ];
    let mut c = queries("audit list ", "/api/v1/audit-logs?", Audit, &audit_list);
    c.extend(rows(vec![
        ("export format xml", GET, "/api/v1/audit-logs/export?format=xml", Audit, Body::None, ANY_4XX),
        ("export cursor text", GET, "/api/v1/audit-logs/export?cursor=x", Audit, Body::None, ANY_4XX),
        ("verify from_seq text", GET, "/api/v1/audit-logs/verify?from_seq=abc", Audit, Body::None, ANY_4XX),
        ("verify reversed range", GET, "/api/v1/audit-logs/verify?from_seq=5&to_seq=1", Audit, Body::None, ANY_4XX),
        ("checkpoints from_seq float", GET, "/api/v1/audit-logs/checkpoints?from_seq=-1e9", Audit, Body::None, ANY_4XX),
        ("SAT list level root", GET, "/api/v1/service-access-tokens?level=root", Admin, Body::None, ANY_4XX),
        ("SAT list workspace sql", GET, "/api/v1/service-access-tokens?workspace_id=%27", Admin, Body::None, ANY_4XX),
    ]));
    c
}
