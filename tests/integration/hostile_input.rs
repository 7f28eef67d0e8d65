//! Hostile input: a catalogue of bad requests, each sent to the real server
//! over real HTTP. Every one must get a 4xx in its protocol's error form
//! (SCIM error schema under `/scim/v2`, problem+json under `/api/v1`, OAuth
//! errors from the token authority), never a 5xx, a panic or a stack trace,
//! and none may change stored data: a snapshot of users, groups, tokens,
//! members and workspaces (through the API and straight from the tables)
//! is taken before and compared after, and the audit chains still verify.
//!
//! The catalogue is data: [`catalogue`] builds a list of [`Case`]s, many of
//! them the cross product of a table of bodies and a table of endpoints. To
//! cover a new surface (the web console under `/console`, for one), add a
//! [`Proto`] variant with its error check in [`check_format`], route its
//! paths to it in [`Proto::of`], and push its cases; nothing else changes.
//!
//! A few cases need bytes no HTTP client library will send (a bare LF in a
//! header, `../` left unnormalised in a path): [`raw_catalogue`] writes them
//! on a TCP socket. Those hyper refuses before any route sees them get its
//! bare 400, which is the HTTP layer's own error form.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{ENTERPRISE, GROUP_SCHEMA, PATCH_OP, TestApp, USER_SCHEMA};

/// Who a case authenticates as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    None,
    /// Organization SAT with `scim:read` and `scim:write`.
    Scim,
    /// Admin session JWT.
    Admin,
    /// Admin PAT.
    Pat,
    /// Organization SAT with `audit_logs:read`.
    Audit,
    /// Organization SAT with `tokens:introspect`.
    Introspect,
    /// Workspace SAT with `sources:read`.
    Workspace,
    /// The admin's console cookie, sent as a same-origin browser would.
    Console,
}

/// Which error form a response must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    /// RFC 7644 §3.12 error, `status` a string, `application/scim+json`.
    Scim,
    /// RFC 9457 problem, `application/problem+json`.
    Api,
    /// `/api/v1/tokens/exchange` and `/introspect`: an RFC 6749 §5.2 error,
    /// or a problem when the request never reached the handler (too large,
    /// unknown method) or the introspecting caller was refused.
    OAuth,
    /// `/console`: an HTML page under the console's security headers.
    Console,
    /// Refused by hyper before routing: a bare status line.
    Http,
}

impl Proto {
    fn of(path: &str) -> Proto {
        if path.starts_with("/scim/v2") {
            Proto::Scim
        } else if path.starts_with("/console") {
            Proto::Console
        } else if path.starts_with("/api/v1/tokens/exchange")
            || path.starts_with("/api/v1/tokens/introspect")
        {
            Proto::OAuth
        } else {
            Proto::Api
        }
    }
}

/// One bad request.
#[derive(Clone, Debug)]
struct Case {
    name: String,
    method: Method,
    /// May hold `{user}`, `{group}`, `{sat}`, `{pat}`, `{ws}`, `{member}`,
    /// `{record}`: ids of seeded data (bodies also `{workspace_token}`).
    path: String,
    auth: Auth,
    /// Extra headers, raw bytes allowed (obs-text).
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
    /// `None` picks the protocol's JSON type when there is a body.
    content_type: Option<String>,
    /// An exact status, where the contract names one; otherwise any 4xx.
    expect: Option<u16>,
}

fn case(name: impl Into<String>, method: Method, path: impl Into<String>, auth: Auth) -> Case {
    Case {
        name: name.into(),
        method,
        path: path.into(),
        auth,
        headers: vec![],
        body: None,
        content_type: None,
        expect: None,
    }
}

impl Case {
    fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = Some(b.into());
        self
    }
    fn json(self, v: Value) -> Self {
        self.body(v.to_string())
    }
    fn ct(mut self, ct: &str) -> Self {
        self.content_type = Some(ct.to_string());
        self
    }
    fn header(mut self, k: &str, v: impl Into<Vec<u8>>) -> Self {
        self.headers.push((k.to_string(), v.into()));
        self
    }
    fn expect(mut self, status: u16) -> Self {
        self.expect = Some(status);
        self
    }
}

/// Endpoints that take a JSON body, with who may call them.
fn json_endpoints() -> Vec<(Method, &'static str, Auth)> {
    vec![
        (Method::POST, "/scim/v2/Users", Auth::Scim),
        (Method::PUT, "/scim/v2/Users/{user}", Auth::Scim),
        (Method::PATCH, "/scim/v2/Users/{user}", Auth::Scim),
        (Method::POST, "/scim/v2/Groups", Auth::Scim),
        (Method::PUT, "/scim/v2/Groups/{group}", Auth::Scim),
        (Method::PATCH, "/scim/v2/Groups/{group}", Auth::Scim),
        (Method::POST, "/scim/v2/Users/.search", Auth::Scim),
        (Method::POST, "/scim/v2/Groups/.search", Auth::Scim),
        (Method::POST, "/scim/v2/.search", Auth::Scim),
        (Method::POST, "/scim/v2/Bulk", Auth::Scim),
        (Method::POST, "/api/v1/auth/login", Auth::None),
        (Method::POST, "/api/v1/service-access-tokens", Auth::Admin),
        (
            Method::PATCH,
            "/api/v1/service-access-tokens/{sat}",
            Auth::Admin,
        ),
        (
            Method::POST,
            "/api/v1/service-access-tokens/{sat}/rotate",
            Auth::Admin,
        ),
        (Method::POST, "/api/v1/personal-access-tokens", Auth::Pat),
        (Method::PATCH, "/api/v1/members/{member}", Auth::Admin),
        (Method::POST, "/api/v1/workspaces", Auth::Admin),
        (Method::PATCH, "/api/v1/workspaces/{ws}", Auth::Admin),
        (Method::POST, "/api/v1/tokens/introspect", Auth::Introspect),
        (Method::POST, "/api/v1/tokens/exchange", Auth::None),
    ]
}

/// Bodies that are not JSON at all, or not a JSON object.
fn malformed_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let deep_arrays = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let deep_objects = format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    vec![
        ("empty", b"".to_vec()),
        ("open brace", b"{".to_vec()),
        ("truncated member", br#"{"name":"#.to_vec()),
        ("truncated string", br#"{"name":"abc"#.to_vec()),
        ("trailing comma", br#"{"name":"a",}"#.to_vec()),
        ("single quotes", b"{'name':'a'}".to_vec()),
        ("two documents", b"{} {}".to_vec()),
        ("NaN", br#"{"name":NaN}"#.to_vec()),
        ("invalid utf-8", b"{\"name\":\"\xff\xfe\xfd\"}".to_vec()),
        ("lone surrogate escape", br#"{"name":"\ud800"}"#.to_vec()),
        ("NUL byte", b"{\"name\"\x00:1}".to_vec()),
        ("bare array", b"[]".to_vec()),
        ("bare number", b"12345678901234567890123456789".to_vec()),
        ("bare null", b"null".to_vec()),
        ("arrays 200 deep", deep_arrays.into_bytes()),
        ("objects 5000 deep", deep_objects.into_bytes()),
    ]
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

/// Ids that cannot name anything, each still a syntactically valid path
/// segment once percent-encoded.
fn hostile_ids() -> Vec<(&'static str, String)> {
    vec![
        ("sql quote", "%27%20OR%20%271%27%3D%271".into()),
        ("sql statement", "1%3BDROP%20TABLE%20members".into()),
        ("encoded traversal", "..%2F..%2Fetc%2Fpasswd".into()),
        ("NUL", "%00".into()),
        ("invalid utf-8", "%FF%FE".into()),
        ("10k characters", "a".repeat(10_000)),
        ("wildcard", "*".into()),
        ("nil uuid", uuid::Uuid::nil().to_string()),
        ("unknown uuid", uuid::Uuid::new_v4().to_string()),
        ("CRLF", "x%0D%0ASet-Cookie%3A%20a%3Db".into()),
    ]
}

/// Routes with an id in the path: (method, path with `{id}`, auth, body).
fn id_routes() -> Vec<(Method, &'static str, Auth, Option<Value>)> {
    vec![
        (Method::GET, "/scim/v2/Users/{id}", Auth::Scim, None),
        (
            Method::PATCH,
            "/scim/v2/Users/{id}",
            Auth::Scim,
            Some(patch(
                json!([{ "op": "replace", "path": "displayName", "value": "x" }]),
            )),
        ),
        (Method::DELETE, "/scim/v2/Groups/{id}", Auth::Scim, None),
        (
            Method::PUT,
            "/scim/v2/Groups/{id}",
            Auth::Scim,
            Some(json!({ "schemas": [GROUP_SCHEMA], "displayName": "x" })),
        ),
        (
            Method::DELETE,
            "/api/v1/service-access-tokens/{id}",
            Auth::Admin,
            None,
        ),
        (
            Method::POST,
            "/api/v1/service-access-tokens/{id}/rotate",
            Auth::Admin,
            Some(json!({})),
        ),
        (
            Method::DELETE,
            "/api/v1/personal-access-tokens/{id}",
            Auth::Pat,
            None,
        ),
        (
            Method::PATCH,
            "/api/v1/members/{id}",
            Auth::Admin,
            Some(json!({ "active": false })),
        ),
        (Method::DELETE, "/api/v1/workspaces/{id}", Auth::Admin, None),
        (Method::GET, "/api/v1/audit-logs/{id}", Auth::Audit, None),
    ]
}

/// Filters that must be refused as `invalidFilter` (400).
fn bad_filters() -> Vec<(&'static str, String)> {
    let deep = |n: usize| format!("{}userName eq \"a\"{}", "(".repeat(n), ")".repeat(n));
    let nots = |n: usize| format!("{}userName eq \"a\"{}", "not (".repeat(n), ")".repeat(n));
    vec![
        ("sql tail", r#"userName eq "a"; DROP TABLE members"#.into()),
        ("sql or", r#"userName eq "a" OR 1=1"#.into()),
        ("sql tautology", "1=1".into()),
        ("sql comment", r#"userName eq "a" --"#.into()),
        (
            "sql union",
            r#"userName eq "a" UNION SELECT * FROM tokens"#.into(),
        ),
        ("closing paren", r#"userName eq "a") or (1 eq 1"#.into()),
        ("unknown attribute", r#"secret_hash eq "x""#.into()),
        ("password", r#"password eq "x""#.into()),
        ("bad operator", r#"userName like "a%""#.into()),
        (
            "bad date",
            r#"meta.created gt "'; DELETE FROM tokens; --""#.into(),
        ),
        ("bool vs string", r#"active eq "maybe""#.into()),
        ("unbalanced", r#"(userName eq "a""#.into()),
        ("value path unclosed", r#"emails[type eq "work""#.into()),
        ("nested brackets", r#"emails[value[type eq "x"]]"#.into()),
        ("300 parentheses deep", deep(300)),
        ("1000 parentheses deep", deep(1000)),
        ("2000 parentheses deep", deep(2000)),
        ("300 nots deep", nots(300)),
        ("1000 nots deep", nots(1000)),
        (
            "longer than 8 KiB",
            format!("userName eq \"{}\"", "a".repeat(9000)),
        ),
        (
            "1000 ands (over 8 KiB)",
            vec![r#"userName eq "a""#; 1000].join(" and "),
        ),
        ("control characters", "userName\u{0}eq\u{1}\"a\"".into()),
    ]
}

fn q(s: &str) -> String {
    serde_urlencoded::to_string([("filter", s)]).unwrap()
}

fn catalogue() -> Vec<Case> {
    let mut c: Vec<Case> = Vec::new();

    // --- Malformed JSON on every endpoint that takes a body.
    for (method, path, auth) in json_endpoints() {
        for (what, body) in malformed_bodies() {
            // The OAuth endpoints read JSON only when told it is JSON.
            c.push(
                case(
                    format!("{what} to {method} {path}"),
                    method.clone(),
                    path,
                    auth,
                )
                .body(body)
                .ct("application/json"),
            );
        }
    }

    // --- Wrong content types.
    for (method, path, auth) in json_endpoints() {
        for ct in ["text/plain", "application/xml"] {
            c.push(
                case(
                    format!("{ct} to {method} {path}"),
                    method.clone(),
                    path,
                    auth,
                )
                .body("{}")
                .ct(ct)
                .expect(415),
            );
        }
    }
    for (method, path, auth) in json_endpoints()
        .into_iter()
        .filter(|(_, p, _)| p.starts_with("/api/v1") && !p.contains("/tokens/"))
    {
        if path.ends_with("/rotate") {
            continue; // no Content-Type means no body, which rotate accepts
        }
        c.push(
            case(
                format!("no content type to {method} {path}"),
                method,
                path,
                auth,
            )
            .body("{}")
            .ct("")
            .expect(415),
        );
    }
    c.push(
        case(
            "multipart to SCIM",
            Method::POST,
            "/scim/v2/Users",
            Auth::Scim,
        )
        .body("--x\r\n\r\n{}\r\n--x--")
        .ct("multipart/form-data; boundary=x")
        .expect(415),
    );
    c.push(
        case("form to SCIM", Method::POST, "/scim/v2/Users", Auth::Scim)
            .body("userName=a")
            .ct("application/x-www-form-urlencoded")
            .expect(415),
    );

    // --- Oversized bodies (the limit is 1 MiB; Bulk's maxPayloadSize too).
    let big = |n: usize| format!("{{\"name\":\"{}\"}}", "a".repeat(n)).into_bytes();
    for (method, path, auth) in [
        (Method::POST, "/scim/v2/Users", Auth::Scim),
        (Method::PATCH, "/scim/v2/Users/{user}", Auth::Scim),
        (Method::POST, "/scim/v2/Bulk", Auth::Scim),
        (Method::POST, "/api/v1/auth/login", Auth::None),
        (Method::POST, "/api/v1/service-access-tokens", Auth::Admin),
        (Method::POST, "/api/v1/workspaces", Auth::Admin),
        (Method::POST, "/api/v1/tokens/introspect", Auth::Introspect),
    ] {
        c.push(
            case(format!("2 MiB body to {method} {path}"), method, path, auth)
                .body(big(2 << 20))
                .ct("application/json"),
        );
    }

    // --- Duplicate JSON keys: refused, not last-wins.
    let dup_user =
        format!(r#"{{"schemas":["{USER_SCHEMA}"],"userName":"dup-a","userName":"dup-b"}}"#);
    c.push(
        case(
            "duplicate userName",
            Method::POST,
            "/scim/v2/Users",
            Auth::Scim,
        )
        .body(dup_user)
        .expect(400),
    );
    c.push(
        case("duplicate nested key", Method::POST, "/scim/v2/Users", Auth::Scim)
            .body(format!(
                r#"{{"schemas":["{USER_SCHEMA}"],"userName":"dup-c","name":{{"givenName":"a","givenName":"b"}}}}"#
            ))
            .expect(400),
    );
    c.push(
        case("duplicate op", Method::PATCH, "/scim/v2/Users/{user}", Auth::Scim)
            .body(format!(
                r#"{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"add","op":"replace","path":"displayName","value":"x"}}]}}"#
            ))
            .expect(400),
    );
    c.push(
        case("duplicate schemas in Bulk", Method::POST, "/scim/v2/Bulk", Auth::Scim)
            .body(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[],"Operations":[]}"#)
            .expect(400),
    );
    c.push(
        case(
            "duplicate name",
            Method::POST,
            "/api/v1/workspaces",
            Auth::Admin,
        )
        .body(r#"{"name":"dup-a","name":"dup-b"}"#)
        .expect(400),
    );
    c.push(
        case(
            "duplicate permissions",
            Method::POST,
            "/api/v1/service-access-tokens",
            Auth::Admin,
        )
        .body(r#"{"name":"d","permissions":["scim:read"],"permissions":["scim:write"]}"#)
        .expect(400),
    );
    c.push(
        case(
            "duplicate password",
            Method::POST,
            "/api/v1/auth/login",
            Auth::None,
        )
        .body(r#"{"organization":"default","user_name":"admin","password":"x","password":"y"}"#)
        .expect(400),
    );
    c.push(
        case(
            "duplicate JSON token",
            Method::POST,
            "/api/v1/tokens/introspect",
            Auth::Introspect,
        )
        .body(r#"{"token":"a","token":"b"}"#)
        .ct("application/json")
        .expect(400),
    );
    c.push(
        case(
            "repeated form parameter",
            Method::POST,
            "/api/v1/tokens/introspect",
            Auth::Introspect,
        )
        .body("token=a&token=b")
        .ct("application/x-www-form-urlencoded")
        .expect(400),
    );
    // --- Token exchange with a valid SAT and a hostile audience.
    let exchange_with_audience = |audience: &str| {
        format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token={{workspace_token}}&audience={audience}"
        )
    };
    for (what, audience) in [
        ("audience of 10 kB", "a".repeat(10_000)),
        ("audience with a newline", "svc%0Aforged".to_string()),
        ("audience with a NUL", "svc%00".to_string()),
        ("audience with a bidi override", "svc%E2%80%AE".to_string()),
    ] {
        c.push(
            case(what, Method::POST, "/api/v1/tokens/exchange", Auth::None)
                .body(exchange_with_audience(&audience))
                .ct("application/x-www-form-urlencoded")
                .expect(400),
        );
    }
    c.push(
        case(
            "repeated grant_type",
            Method::POST,
            "/api/v1/tokens/exchange",
            Auth::None,
        )
        .body(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&grant_type=x&subject_token=x",
        )
        .ct("application/x-www-form-urlencoded")
        .expect(400),
    );

    // --- SCIM User bodies with wrong types and values.
    for (what, extra) in [
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
        (
            "name.givenName number",
            json!({ "name": { "givenName": 1 } }),
        ),
        ("schemas string", json!({ "schemas": USER_SCHEMA })),
        ("schemas empty", json!({ "schemas": [] })),
        ("schemas numbers", json!({ "schemas": [1] })),
        ("schemas unknown", json!({ "schemas": ["urn:evil"] })),
        ("unknown attribute", json!({ "secret_hash": "x" })),
        ("huge number", json!({ "userName": 1e308 })),
        (
            "manager number",
            json!({ "schemas": [USER_SCHEMA, ENTERPRISE], ENTERPRISE: { "manager": 5 } }),
        ),
        (
            "enterprise string",
            json!({ "schemas": [USER_SCHEMA, ENTERPRISE], ENTERPRISE: "x" }),
        ),
        ("password number", json!({ "password": 12345678901234i64 })),
        ("duplicate userName (exists)", json!({ "userName": "BOB" })),
        // Over the size limits (scimitar::scim::limits).
        (
            "userName of 100,000 characters",
            json!({ "userName": "u".repeat(100_000) }),
        ),
        ("101 emails", json!({ "emails": many_emails(101, 0) })),
        (
            "a 5,000-character givenName",
            json!({ "name": { "givenName": "g".repeat(5000) } }),
        ),
        (
            "a 3,000-character email display",
            json!({ "emails": [{ "value": "a@example.com", "display": "d".repeat(3000) }] }),
        ),
        (
            "a document over 64 KiB",
            json!({ "addresses": vec![json!({ "formatted": "a".repeat(2000) }); 40] }),
        ),
    ] {
        c.push(
            case(
                format!("user with {what}"),
                Method::POST,
                "/scim/v2/Users",
                Auth::Scim,
            )
            .json(user_body(extra.clone())),
        );
        c.push(
            case(
                format!("replace with {what}"),
                Method::PUT,
                "/scim/v2/Users/{user}",
                Auth::Scim,
            )
            .json(user_body(extra)),
        );
    }
    c.push(
        case(
            "user without schemas",
            Method::POST,
            "/scim/v2/Users",
            Auth::Scim,
        )
        .json(json!({ "userName": "no-schemas" })),
    );
    c.push(
        case(
            "user without userName",
            Method::POST,
            "/scim/v2/Users",
            Auth::Scim,
        )
        .json(json!({ "schemas": [USER_SCHEMA] })),
    );

    // --- SCIM Group bodies.
    for (what, body) in [
        (
            "displayName number",
            json!({ "schemas": [GROUP_SCHEMA], "displayName": 5 }),
        ),
        ("no displayName", json!({ "schemas": [GROUP_SCHEMA] })),
        (
            "members string",
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "g2", "members": "x" }),
        ),
        (
            "member value number",
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "g2", "members": [{ "value": 5 }] }),
        ),
        (
            "member value sql",
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "g2", "members": [{ "value": "' OR 1=1 --" }] }),
        ),
        (
            "duplicate displayName (exists)",
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "ENG" }),
        ),
        (
            "user schema",
            json!({ "schemas": [USER_SCHEMA], "displayName": "g3" }),
        ),
        (
            "displayName of 5,000 characters",
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "n".repeat(5000) }),
        ),
    ] {
        c.push(
            case(
                format!("group with {what}"),
                Method::POST,
                "/scim/v2/Groups",
                Auth::Scim,
            )
            .json(body),
        );
    }

    // --- SCIM PATCH.
    let ops_1001 = vec![json!({ "op": "replace", "path": "displayName", "value": "x" }); 1001];
    let ops_5000 = vec![json!({ "op": "add", "path": "title", "value": "x" }); 5000];
    for (what, body) in [
        ("Operations string", patch(json!("x"))),
        ("Operations empty", patch(json!([]))),
        (
            "op delete",
            patch(json!([{ "op": "delete", "path": "title" }])),
        ),
        ("op number", patch(json!([{ "op": 5, "path": "title" }]))),
        (
            "path number",
            patch(json!([{ "op": "replace", "path": 5, "value": "x" }])),
        ),
        (
            "unparsable path",
            patch(json!([{ "op": "replace", "path": "title[", "value": "x" }])),
        ),
        (
            "unknown path",
            patch(json!([{ "op": "replace", "path": "secret_hash", "value": "x" }])),
        ),
        (
            "sql in path",
            patch(
                json!([{ "op": "replace", "path": "userName'; DROP TABLE members;--", "value": "x" }]),
            ),
        ),
        (
            "add without value",
            patch(json!([{ "op": "add", "path": "title" }])),
        ),
        ("remove without path", patch(json!([{ "op": "remove" }]))),
        (
            "replace id",
            patch(json!([{ "op": "replace", "path": "id", "value": "x" }])),
        ),
        (
            "userName number",
            patch(json!([{ "op": "replace", "path": "userName", "value": 5 }])),
        ),
        (
            "active string",
            patch(json!([{ "op": "replace", "path": "active", "value": "sometimes" }])),
        ),
        (
            "deep value filter",
            patch(json!([{
                "op": "remove",
                "path": format!("emails[{}type eq \"work\"{}]", "(".repeat(500), ")".repeat(500))
            }])),
        ),
        ("1001 operations", patch(json!(ops_1001))),
        ("5000 operations", patch(json!(ops_5000))),
        (
            "userName of 100,000 characters",
            patch(json!([{ "op": "replace", "path": "userName", "value": "u".repeat(100_000) }])),
        ),
        (
            "emails past 100",
            patch(json!([{ "op": "add", "path": "emails", "value": many_emails(100, 0) }])),
        ),
        (
            "1000 adds of emails with 700-character displays",
            patch(json!(
                (0..1000)
                    .map(|i| json!({ "op": "add", "path": "emails", "value": [{ "value": format!("x{i}@example.com"), "display": "d".repeat(700) }] }))
                    .collect::<Vec<_>>()
            )),
        ),
        (
            "a 5,000-character givenName",
            patch(json!([{ "op": "replace", "path": "name.givenName", "value": "g".repeat(5000) }])),
        ),
        (
            "wrong schema",
            json!({ "schemas": [USER_SCHEMA], "Operations": [] }),
        ),
        (
            "one bad op among good ones",
            patch(json!([
                { "op": "replace", "path": "displayName", "value": "changed" },
                { "op": "replace", "path": "nickName", "value": "changed" },
                { "op": "replace", "path": "active", "value": [] }
            ])),
        ),
    ] {
        c.push(
            case(
                format!("patch user: {what}"),
                Method::PATCH,
                "/scim/v2/Users/{user}",
                Auth::Scim,
            )
            .json(body),
        );
    }
    for (what, body) in [
        (
            "add member not a uuid",
            patch(json!([{ "op": "add", "path": "members", "value": [{ "value": "../../x" }] }])),
        ),
        (
            "add member number",
            patch(json!([{ "op": "add", "path": "members", "value": [{ "value": 1 }] }])),
        ),
        (
            "remove members with bad filter",
            patch(json!([{ "op": "remove", "path": "members[value eq \"a\" or 1=1]" }])),
        ),
        (
            "rename to number",
            patch(json!([{ "op": "replace", "path": "displayName", "value": 7 }])),
        ),
        (
            "displayName of 5,000 characters",
            patch(json!([{ "op": "replace", "path": "displayName", "value": "n".repeat(5000) }])),
        ),
        (
            "a member display of 5,000 characters",
            patch(
                json!([{ "op": "add", "path": "members", "value": [{ "value": "{user}", "display": "d".repeat(5000) }] }]),
            ),
        ),
        (
            "5000 member adds",
            patch(json!(vec![
                json!({ "op": "add", "path": "members", "value": [{ "value": uuid::Uuid::nil() }] });
                5000
            ])),
        ),
    ] {
        c.push(
            case(
                format!("patch group: {what}"),
                Method::PATCH,
                "/scim/v2/Groups/{group}",
                Auth::Scim,
            )
            .json(body),
        );
    }

    // --- SCIM Bulk.
    let bulk = |ops: Value| json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops });
    let one_op = json!({ "method": "POST", "path": "/Users", "bulkId": "b", "data": user_body(json!({ "userName": "bulk-x" })) });
    for (what, body, expect) in [
        (
            "1001 operations",
            bulk(json!(vec![one_op.clone(); 1001])),
            Some(413),
        ),
        ("Operations object", bulk(json!({ "a": 1 })), None),
        ("no schemas", json!({ "Operations": [] }), None),
        (
            "failOnErrors string",
            {
                let mut b = bulk(json!([]));
                b["failOnErrors"] = json!("x");
                b
            },
            None,
        ),
        (
            "failOnErrors negative",
            {
                let mut b = bulk(json!([]));
                b["failOnErrors"] = json!(-1);
                b
            },
            None,
        ),
    ] {
        let mut k = case(
            format!("bulk: {what}"),
            Method::POST,
            "/scim/v2/Bulk",
            Auth::Scim,
        )
        .json(body);
        k.expect = expect;
        c.push(k);
    }

    // --- SCIM lists and searches: filters and parameters.
    for (what, filter) in bad_filters() {
        c.push(case(
            format!("users filter: {what}"),
            Method::GET,
            format!("/scim/v2/Users?{}", q(&filter)),
            Auth::Scim,
        ));
        c.push(
            case(
                format!("users .search filter: {what}"),
                Method::POST,
                "/scim/v2/Users/.search",
                Auth::Scim,
            )
            .json(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": filter
            })),
        );
    }
    for (what, filter) in [
        ("groups sql", r#"displayName eq "a" OR 1=1"#.to_string()),
        (
            "groups 1000 deep",
            format!(
                "{}displayName eq \"a\"{}",
                "(".repeat(1000),
                ")".repeat(1000)
            ),
        ),
        ("groups unknown attribute", r#"userName eq "a""#.to_string()),
    ] {
        c.push(case(
            format!("groups filter: {what}"),
            Method::GET,
            format!("/scim/v2/Groups?{}", q(&filter)),
            Auth::Scim,
        ));
    }
    for (what, query) in [
        ("sortBy sql", "sortBy=userName%3B%20DROP%20TABLE%20members"),
        ("sortOrder sideways", "sortOrder=sideways"),
        ("count text", "count=1%3B%20DROP"),
        ("startIndex text", "startIndex=abc"),
        ("startIndex too big", "startIndex=99999999999999999999999"),
        ("count too big", "count=99999999999999999999999"),
        ("filter percent garbage", "filter=%ZZ"),
    ] {
        c.push(case(
            format!("users list {what}"),
            Method::GET,
            format!("/scim/v2/Users?{query}"),
            Auth::Scim,
        ));
    }
    for (what, body) in [
        (
            "count float",
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 1.5 }),
        ),
        (
            "count huge",
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 1e300 }),
        ),
        (
            "attributes object",
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "attributes": { "a": 1 } }),
        ),
        (
            "filter number",
            json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": 5 }),
        ),
    ] {
        c.push(
            case(
                format!("root .search {what}"),
                Method::POST,
                "/scim/v2/.search",
                Auth::Scim,
            )
            .json(body),
        );
    }

    // --- Hostile ids in paths.
    for (method, route, auth, body) in id_routes() {
        for (what, id) in hostile_ids() {
            let mut k = case(
                format!("{what} id in {method} {route}"),
                method.clone(),
                route.replace("{id}", &id),
                auth,
            );
            if let Some(b) = &body {
                k = k.json(b.clone());
            }
            c.push(k);
        }
    }
    for route in ["/scim/v2/Schemas/", "/scim/v2/ResourceTypes/"] {
        for (what, id) in [
            ("traversal", "..%2F..%2Fetc%2Fpasswd"),
            ("sql", "%27%20OR%201%3D1"),
        ] {
            c.push(
                case(
                    format!("{what} in {route}"),
                    Method::GET,
                    format!("{route}{id}"),
                    Auth::Scim,
                )
                .expect(404),
            );
        }
    }

    // --- Management API bodies with wrong types and values.
    for (what, body) in [
        (
            "name number",
            json!({ "name": 5, "permissions": ["scim:read"] }),
        ),
        (
            "name empty",
            json!({ "name": " ", "permissions": ["scim:read"] }),
        ),
        (
            "name 201 chars",
            json!({ "name": "n".repeat(201), "permissions": ["scim:read"] }),
        ),
        (
            "description 2001 chars",
            json!({ "name": "n", "description": "d".repeat(2001), "permissions": ["scim:read"] }),
        ),
        (
            "permissions string",
            json!({ "name": "n", "permissions": "scim:read" }),
        ),
        (
            "permissions empty",
            json!({ "name": "n", "permissions": [] }),
        ),
        (
            "permissions unknown",
            json!({ "name": "n", "permissions": ["root"] }),
        ),
        (
            "permissions number",
            json!({ "name": "n", "permissions": [5] }),
        ),
        (
            "permissions sql",
            json!({ "name": "n", "permissions": ["scim:read' OR 1=1 --"] }),
        ),
        (
            "workspace permission on org token",
            json!({ "name": "n", "permissions": ["sources:read"] }),
        ),
        (
            "manage permission",
            json!({ "name": "n", "permissions": ["service_access_tokens:manage"] }),
        ),
        (
            "expires_in_days 0",
            json!({ "name": "n", "permissions": ["scim:read"], "expires_in_days": 0 }),
        ),
        (
            "expires_in_days negative",
            json!({ "name": "n", "permissions": ["scim:read"], "expires_in_days": -1 }),
        ),
        (
            "expires_in_days 3651",
            json!({ "name": "n", "permissions": ["scim:read"], "expires_in_days": 3651 }),
        ),
        (
            "expires_in_days float",
            json!({ "name": "n", "permissions": ["scim:read"], "expires_in_days": 1.5 }),
        ),
        (
            "expires_in_days string",
            json!({ "name": "n", "permissions": ["scim:read"], "expires_in_days": "10" }),
        ),
        (
            "expires_in_days 1e300",
            json!({ "name": "n", "permissions": ["scim:read"], "expires_in_days": 1e300 }),
        ),
        (
            "expires_in_days u64 max",
            json!({ "name": "n", "permissions": ["scim:read"], "expires_in_days": u64::MAX }),
        ),
        (
            "expires_at past",
            json!({ "name": "n", "permissions": ["scim:read"], "expires_at": "1970-01-01T00:00:00Z" }),
        ),
        (
            "expires_at garbage",
            json!({ "name": "n", "permissions": ["scim:read"], "expires_at": "tomorrow" }),
        ),
        (
            "expires_at year 99999",
            json!({ "name": "n", "permissions": ["scim:read"], "expires_at": "99999-01-01T00:00:00Z" }),
        ),
        (
            "both expiries",
            json!({ "name": "n", "permissions": ["scim:read"], "expires_at": "2999-01-01T00:00:00Z", "expires_in_days": 5 }),
        ),
        (
            "cidr garbage",
            json!({ "name": "n", "permissions": ["scim:read"], "allowed_cidrs": ["999.0.0.0/8"] }),
        ),
        (
            "cidr string",
            json!({ "name": "n", "permissions": ["scim:read"], "allowed_cidrs": "10.0.0.0/8" }),
        ),
        (
            "cidr prefix 33",
            json!({ "name": "n", "permissions": ["scim:read"], "allowed_cidrs": ["10.0.0.0/33"] }),
        ),
        (
            "workspace_id not a uuid",
            json!({ "name": "n", "permissions": ["sources:read"], "workspace_id": "../x" }),
        ),
        (
            "workspace_id unknown",
            json!({ "name": "n", "permissions": ["sources:read"], "workspace_id": uuid::Uuid::new_v4() }),
        ),
        (
            "unknown field",
            json!({ "name": "n", "permissions": ["scim:read"], "admin": true }),
        ),
        ("missing name", json!({ "permissions": ["scim:read"] })),
    ] {
        c.push(
            case(
                format!("SAT create: {what}"),
                Method::POST,
                "/api/v1/service-access-tokens",
                Auth::Admin,
            )
            .json(body),
        );
    }
    for (what, body) in [
        ("nothing", json!({})),
        ("name number", json!({ "name": 1 })),
        ("name too long", json!({ "name": "n".repeat(201) })),
        ("cidrs garbage", json!({ "allowed_cidrs": ["x"] })),
        (
            "permissions (immutable)",
            json!({ "permissions": ["scim:write"] }),
        ),
        ("unknown field", json!({ "revoked": false })),
    ] {
        c.push(
            case(
                format!("SAT update: {what}"),
                Method::PATCH,
                "/api/v1/service-access-tokens/{sat}",
                Auth::Admin,
            )
            .json(body),
        );
    }
    for (what, body) in [
        ("negative grace", json!({ "grace_period_seconds": -1 })),
        (
            "grace over 7 days",
            json!({ "grace_period_seconds": 604801 }),
        ),
        ("grace string", json!({ "grace_period_seconds": "5" })),
        ("grace 1e400", json!({ "grace_period_seconds": 1e300 })),
        (
            "grace i64 max + 1",
            json!({ "grace_period_seconds": 9223372036854775808u64 }),
        ),
        ("unknown field", json!({ "grace": 5 })),
    ] {
        c.push(
            case(
                format!("SAT rotate: {what}"),
                Method::POST,
                "/api/v1/service-access-tokens/{sat}/rotate",
                Auth::Admin,
            )
            .json(body),
        );
    }
    for (what, body) in [
        ("name number", json!({ "name": 5 })),
        (
            "expires_in_days 0",
            json!({ "name": "p", "expires_in_days": 0 }),
        ),
        (
            "permissions given",
            json!({ "name": "p", "permissions": ["scim:read"] }),
        ),
        (
            "cidr garbage",
            json!({ "name": "p", "allowed_cidrs": ["::g/0"] }),
        ),
    ] {
        c.push(
            case(
                format!("PAT create: {what}"),
                Method::POST,
                "/api/v1/personal-access-tokens",
                Auth::Pat,
            )
            .json(body),
        );
    }
    for (what, body) in [
        ("nothing", json!({})),
        ("role owner", json!({ "role": "owner" })),
        ("role number", json!({ "role": 1 })),
        ("active string", json!({ "active": "no" })),
        ("demote the last admin", json!({ "role": "member" })),
        (
            "unknown field",
            json!({ "password": "a new long password" }),
        ),
    ] {
        c.push(
            case(
                format!("member update: {what}"),
                Method::PATCH,
                "/api/v1/members/{admin}",
                Auth::Admin,
            )
            .json(body),
        );
    }
    for (what, body) in [
        ("name empty", json!({ "name": "" })),
        ("name 101 chars", json!({ "name": "w".repeat(101) })),
        ("name number", json!({ "name": 5 })),
        ("name null", json!({ "name": null })),
        ("name taken", json!({ "name": "prod" })),
    ] {
        c.push(
            case(
                format!("workspace create: {what}"),
                Method::POST,
                "/api/v1/workspaces",
                Auth::Admin,
            )
            .json(body),
        );
    }
    for (what, body) in [
        (
            "organization number",
            json!({ "organization": 5, "user_name": "admin", "password": "x" }),
        ),
        (
            "missing password",
            json!({ "organization": "default", "user_name": "admin" }),
        ),
        (
            "password null",
            json!({ "organization": "default", "user_name": "admin", "password": null }),
        ),
        (
            "sql user name",
            json!({ "organization": "default", "user_name": "admin' --", "password": "x" }),
        ),
        (
            "sql organization",
            json!({ "organization": "' OR 1=1 --", "user_name": "admin", "password": "x" }),
        ),
        (
            "wrong password",
            json!({ "organization": "default", "user_name": "admin", "password": "wrong" }),
        ),
    ] {
        c.push(
            case(
                format!("login: {what}"),
                Method::POST,
                "/api/v1/auth/login",
                Auth::None,
            )
            .json(body),
        );
    }

    // --- NUL: PostgreSQL cannot store it, SQLite's text functions stop at it.
    c.push(
        case(
            "NUL in userName",
            Method::POST,
            "/scim/v2/Users",
            Auth::Scim,
        )
        .json(user_body(json!({ "userName": "nul\u{0}user" })))
        .expect(400),
    );
    c.push(
        case(
            "NUL in a filter value",
            Method::GET,
            format!("/scim/v2/Users?{}", q("userName eq \"alice\\u0000\"")),
            Auth::Scim,
        )
        .expect(400),
    );
    c.push(
        case(
            "NUL in a group name",
            Method::POST,
            "/scim/v2/Groups",
            Auth::Scim,
        )
        .json(json!({ "schemas": [GROUP_SCHEMA], "displayName": "g\u{0}" }))
        .expect(400),
    );
    c.push(
        case(
            "NUL in a workspace name",
            Method::POST,
            "/api/v1/workspaces",
            Auth::Admin,
        )
        .json(json!({ "name": "w\u{0}" }))
        .expect(400),
    );
    c.push(
        case(
            "NUL in a login",
            Method::POST,
            "/api/v1/auth/login",
            Auth::None,
        )
        .json(json!({ "organization": "default", "user_name": "admin\u{0}", "password": "x" }))
        .expect(400),
    );
    for param in ["actor_id", "action", "target_type", "target_id"] {
        c.push(
            case(
                format!("NUL in audit {param}"),
                Method::GET,
                format!("/api/v1/audit-logs?{param}=a%00b"),
                Auth::Audit,
            )
            .expect(400),
        );
    }
    c.push(
        case(
            "NUL in a SCIM list parameter",
            Method::GET,
            "/scim/v2/Users?sortBy=userName%00",
            Auth::Scim,
        )
        .expect(400),
    );

    // --- Audit Log API parameters.
    for query in [
        "limit=0",
        "limit=1001",
        "limit=abc",
        "limit=-1",
        "limit=99999999999999999999",
        "order=sideways",
        "since=yesterday",
        "until=2026-13-45T00:00:00Z",
        "cursor=abc",
        "cursor=%27%20OR%201%3D1",
        "actor_type=root",
        "outcome=maybe",
        "workspace_id=..%2F..",
        "limit=1&limit=2",
    ] {
        c.push(case(
            format!("audit list {query}"),
            Method::GET,
            format!("/api/v1/audit-logs?{query}"),
            Auth::Audit,
        ));
    }
    for (path, what) in [
        ("/api/v1/audit-logs/export?format=xml", "export format xml"),
        ("/api/v1/audit-logs/export?cursor=x", "export cursor text"),
        (
            "/api/v1/audit-logs/verify?from_seq=abc",
            "verify from_seq text",
        ),
        (
            "/api/v1/audit-logs/verify?from_seq=5&to_seq=1",
            "verify reversed range",
        ),
        (
            "/api/v1/audit-logs/checkpoints?from_seq=-1e9",
            "checkpoints from_seq float",
        ),
        (
            "/api/v1/service-access-tokens?level=root",
            "SAT list level root",
        ),
        (
            "/api/v1/service-access-tokens?workspace_id=%27",
            "SAT list workspace sql",
        ),
    ] {
        c.push(case(
            what,
            Method::GET,
            path,
            if path.contains("audit") {
                Auth::Audit
            } else {
                Auth::Admin
            },
        ));
    }

    // --- Authentication: missing, doubled, malformed credentials.
    let protected: Vec<(Method, &str)> = vec![
        (Method::GET, "/scim/v2/Users"),
        (Method::GET, "/scim/v2/ServiceProviderConfig"),
        (Method::GET, "/api/v1/tokens/self"),
        (Method::GET, "/api/v1/service-access-tokens"),
        (Method::GET, "/api/v1/audit-logs"),
    ];
    for (method, path) in &protected {
        let variants: Vec<(&str, Headers, Option<u16>)> = vec![
            ("no Authorization", vec![], Some(401)),
            (
                "Basic scheme",
                vec![auth_h("Basic YWRtaW46YWRtaW4=")],
                Some(401),
            ),
            ("Bearer without value", vec![auth_h("Bearer")], Some(401)),
            ("Bearer blank", vec![auth_h("Bearer    ")], Some(401)),
            (
                "two Authorization headers",
                vec![auth_h("Bearer a"), auth_h("Bearer b")],
                Some(400),
            ),
            (
                "obs-text value",
                vec![("authorization".into(), b"Bearer \xff\xfe".to_vec())],
                Some(401),
            ),
            (
                "malformed token",
                vec![auth_h("Bearer scim_sat_garbage")],
                Some(401),
            ),
            (
                "unknown token",
                vec![auth_h(&format!("Bearer {}", fake_token("scim_sat_")))],
                Some(401),
            ),
            (
                "alg none JWT",
                vec![auth_h(&format!("Bearer {}", none_jwt()))],
                Some(401),
            ),
            (
                "SQL as a token",
                vec![auth_h("Bearer ' OR 1=1 --")],
                Some(401),
            ),
        ];
        for (what, headers, expect) in variants {
            let mut k = case(
                format!("{what} on {method} {path}"),
                method.clone(),
                *path,
                Auth::None,
            );
            k.headers = headers;
            k.expect = expect;
            c.push(k);
        }
    }
    // The wrong kind of credential for the route.
    for (what, method, path, auth, expect) in [
        (
            "admin session on SCIM",
            Method::GET,
            "/scim/v2/Users",
            Auth::Admin,
            403,
        ),
        (
            "workspace SAT on SCIM",
            Method::GET,
            "/scim/v2/Users",
            Auth::Workspace,
            403,
        ),
        (
            "SCIM SAT creating a SAT",
            Method::POST,
            "/api/v1/service-access-tokens",
            Auth::Scim,
            403,
        ),
        (
            "SCIM SAT reading audit",
            Method::GET,
            "/api/v1/audit-logs",
            Auth::Scim,
            403,
        ),
        (
            "audit SAT writing SCIM",
            Method::DELETE,
            "/scim/v2/Users/{user}",
            Auth::Audit,
            403,
        ),
        (
            "workspace SAT deleting a workspace",
            Method::DELETE,
            "/api/v1/workspaces/{ws}",
            Auth::Workspace,
            403,
        ),
        (
            "SCIM SAT introspecting",
            Method::POST,
            "/api/v1/tokens/introspect",
            Auth::Scim,
            403,
        ),
    ] {
        let mut k = case(what, method.clone(), path, auth).expect(expect);
        if path.ends_with("/introspect") {
            k = k.body("token=x").ct("application/x-www-form-urlencoded");
        } else if method == Method::POST {
            k = k.json(json!({ "name": "n", "permissions": ["scim:read"] }));
        }
        c.push(k);
    }

    // --- Header oddities on otherwise bad requests.
    c.push(
        case(
            "request id with obs-text",
            Method::GET,
            "/scim/v2/Users/x",
            Auth::Scim,
        )
        .header("x-request-id", b"abc\xff\xfe".to_vec())
        .expect(404),
    );
    c.push(
        case(
            "user agent with obs-text",
            Method::GET,
            "/api/v1/tokens/self",
            Auth::None,
        )
        .header("user-agent", b"evil\xff\x80agent".to_vec())
        .expect(401),
    );
    c.push(
        case(
            "If-Match garbage",
            Method::DELETE,
            "/scim/v2/Users/{user}",
            Auth::Scim,
        )
        .header("if-match", b"W/\"'; DROP TABLE members; --\"".to_vec())
        .expect(412),
    );
    c.push(
        case(
            "If-Match obs-text",
            Method::PUT,
            "/scim/v2/Users/{user}",
            Auth::Scim,
        )
        .header("if-match", b"\xff".to_vec())
        .json(user_body(json!({ "userName": 5 }))),
    );
    // No proxy is trusted in this test: a forged X-Forwarded-For is never
    // read (the audit records must all name the real peer, checked below).
    c.push(
        case(
            "forged X-Forwarded-For",
            Method::GET,
            "/scim/v2/Users/x",
            Auth::Scim,
        )
        .header("x-forwarded-for", "203.0.113.7")
        .expect(404),
    );
    c.push(
        case(
            "X-Forwarded-For garbage",
            Method::GET,
            "/api/v1/tokens/self",
            Auth::None,
        )
        .header("x-forwarded-for", b"<script>, 999.1.1.1, \xff".to_vec())
        .expect(401),
    );

    // --- The security probe's cases (issue: SCIM token to admin session,
    // reflected Host). A SCIM token may not set an admin's password, nor
    // anyone's while the organization has not allowed SCIM passwords.
    for (what, path, ops) in [
        (
            "SCIM sets an admin's password",
            "/scim/v2/Users/{admin}",
            json!([{ "op": "replace", "path": "password", "value": "z" }]),
        ),
        (
            "SCIM sets an admin's password without a path",
            "/scim/v2/Users/{admin}",
            json!([{ "op": "replace", "value": { "password": "a long enough password" } }]),
        ),
        (
            "SCIM sets a member's password while SCIM passwords are off",
            "/scim/v2/Users/{user}",
            json!([{ "op": "replace", "path": "password", "value": "a long enough password" }]),
        ),
    ] {
        c.push(
            case(what, Method::PATCH, path, Auth::Scim)
                .json(json!({ "schemas": [PATCH_OP], "Operations": ops }))
                .expect(403),
        );
    }
    for host in [
        &b"evil.example\"><x"[..],
        b"evil.example/path",
        b"user@evil.example",
        b"evil.example:99999",
    ] {
        c.push(
            case(
                format!("Host {}", String::from_utf8_lossy(host)),
                Method::GET,
                "/scim/v2/Users/{user}",
                Auth::Scim,
            )
            .header("host", host.to_vec())
            .expect(400),
        );
    }

    // --- Methods and routes that do not exist.
    for (method, path) in [
        (Method::PUT, "/scim/v2/Users"),
        (Method::DELETE, "/scim/v2/ServiceProviderConfig"),
        (Method::POST, "/scim/v2/Schemas"),
        (Method::GET, "/scim/v2/Bulk"),
        (Method::GET, "/scim/v2/..%2F..%2Fapi%2Fv1%2Fmembers"),
        (Method::PUT, "/api/v1/workspaces"),
        (Method::GET, "/api/v1/members/..%2F..%2Fscim%2Fv2%2FUsers"),
        (Method::TRACE, "/api/v1/tokens/self"),
        (Method::GET, "/api/v1/tokens/exchange"),
        (Method::GET, "/api/v1/tokens/introspect"),
    ] {
        c.push(case(format!("{method} {path}"), method, path, Auth::Scim));
    }
    c.extend(console_cases());
    c
}

/// The console's forms, with the fields a valid submission would carry
/// (`{csrf}` is the signed-in admin's CSRF token).
fn console_forms() -> Vec<(&'static str, &'static str)> {
    vec![
        ("/console/workspaces", "name=hostile-ws"),
        (
            "/console/tokens?tab=organization",
            "name=hostile&level.scim=read&expires_in_days=30",
        ),
        ("/console/tokens/{sat}/revoke", ""),
        ("/console/tokens/{sat}/rotate", "grace_period_seconds=0"),
        ("/console/sign-out", ""),
    ]
}

fn console_cases() -> Vec<Case> {
    let form = "application/x-www-form-urlencoded";
    let mut c = Vec::new();
    // CSRF: no token, a forged one, a cross-site post. (A post without a
    // session is sent to sign-in, a redirect: console.rs.)
    for (path, fields) in console_forms() {
        let with = |csrf: &str| {
            if fields.is_empty() {
                format!("csrf={csrf}")
            } else {
                format!("{fields}&csrf={csrf}")
            }
        };
        c.push(
            case(
                format!("no CSRF token: POST {path}"),
                Method::POST,
                path,
                Auth::Console,
            )
            .body(fields)
            .ct(form)
            .expect(403),
        );
        c.push(
            case(
                format!("forged CSRF token: POST {path}"),
                Method::POST,
                path,
                Auth::Console,
            )
            .body(with("AAAAforged"))
            .ct(form)
            .expect(403),
        );
        c.push(
            case(
                format!("cross-site post: POST {path}"),
                Method::POST,
                path,
                Auth::Console,
            )
            .header("sec-fetch-site", "cross-site")
            .body(with("{csrf}"))
            .ct(form)
            .expect(403),
        );
        c.push(
            case(
                format!("another origin: POST {path}"),
                Method::POST,
                path,
                Auth::Console,
            )
            .header("sec-fetch-site", "none")
            .header("origin", "https://evil.example")
            .body(with("{csrf}"))
            .ct(form)
            .expect(403),
        );
        c.push(
            case(
                format!("JSON instead of a form: POST {path}"),
                Method::POST,
                path,
                Auth::Console,
            )
            .body(r#"{"csrf":"{csrf}","name":"x"}"#)
            .ct("application/json"),
        );
        c.push(
            case(
                format!("oversized form: POST {path}"),
                Method::POST,
                path,
                Auth::Console,
            )
            .body(format!(
                "csrf={{csrf}}&name={}",
                "a".repeat(2 * 1024 * 1024)
            ))
            .ct(form),
        );
    }
    // Well-formed posts with the right token and bad values.
    let bad_forms: Vec<(&str, &str, String)> = vec![
        ("empty workspace name", "/console/workspaces", "csrf={csrf}&name=".into()),
        ("NUL in a workspace name", "/console/workspaces", "csrf={csrf}&name=a%00b".into()),
        ("invalid UTF-8 in a form", "/console/workspaces", "csrf={csrf}&name=%FF%FE".into()),
        ("workspace name of 100 KiB", "/console/workspaces", format!("csrf={{csrf}}&name={}", "w".repeat(100 * 1024))),
        ("doubled CSRF field", "/console/workspaces", "csrf=forged&csrf={csrf}&name=x".into()),
        ("expiry not a number", "/console/tokens?tab=organization", "csrf={csrf}&name=t&level.scim=read&expires_in_days=soon".into()),
        ("expiry huge", "/console/tokens?tab=organization", "csrf={csrf}&name=t&level.scim=read&expires_in_days=99999999999999999999".into()),
        ("expiry negative", "/console/tokens?tab=organization", "csrf={csrf}&name=t&level.scim=read&expires_in_days=-5".into()),
        ("no permission", "/console/tokens?tab=organization", "csrf={csrf}&name=t&expires_in_days=30".into()),
        ("unknown permission level", "/console/tokens?tab=organization", "csrf={csrf}&name=t&level.scim=owner&expires_in_days=30".into()),
        ("SQL as a permission level", "/console/tokens?tab=organization", "csrf={csrf}&name=t&level.scim=read%27%3B%20DROP%20TABLE%20tokens%3B--&expires_in_days=30".into()),
        ("workspace tab without a workspace", "/console/tokens?tab=workspace", "csrf={csrf}&name=t&level.sources=read&expires_in_days=30".into()),
        ("workspace id not a UUID", "/console/tokens?tab=workspace", "csrf={csrf}&name=t&workspace_id=..%2F..%2Fetc&level.sources=read&expires_in_days=30".into()),
        ("unknown workspace", "/console/tokens?tab=workspace", "csrf={csrf}&name=t&workspace_id=00000000-0000-0000-0000-000000000000&level.sources=read&expires_in_days=30".into()),
        ("empty token name", "/console/tokens?tab=organization", "csrf={csrf}&name=&level.scim=read&expires_in_days=30".into()),
        ("grace period not a number", "/console/tokens/{sat}/rotate", "csrf={csrf}&grace_period_seconds=later".into()),
        ("grace period negative", "/console/tokens/{sat}/rotate", "csrf={csrf}&grace_period_seconds=-1".into()),
        ("grace period huge", "/console/tokens/{sat}/rotate", "csrf={csrf}&grace_period_seconds=1e309".into()),
    ];
    for (what, path, body) in bad_forms {
        c.push(
            case(
                format!("{what}: POST {path}"),
                Method::POST,
                path,
                Auth::Console,
            )
            .body(body)
            .ct(form),
        );
    }
    // Ids that name nothing, in every console path that takes one.
    for (what, id) in hostile_ids() {
        for path in ["/console/tokens/{id}/revoke", "/console/tokens/{id}/rotate"] {
            let path = path.replace("{id}", &id);
            c.push(
                case(
                    format!("{what} as a token id: POST {path}"),
                    Method::POST,
                    path,
                    Auth::Console,
                )
                .body("csrf={csrf}&grace_period_seconds=0")
                .ct(form),
            );
        }
        c.push(case(
            format!("{what} as a record id: GET /console/audit-logs/{id}"),
            Method::GET,
            format!("/console/audit-logs/{id}"),
            Auth::Console,
        ));
    }
    // Audit Logs filters the page offers, with values it must refuse.
    for query in [
        "since=yesterday",
        "until=2026-13-45T99:99:99Z",
        "outcome=maybe",
        "actor_type=root",
        "cursor=-1",
        "cursor=%27%20OR%201%3D1",
        "since=%00",
    ] {
        c.push(case(
            format!("audit filter {query}"),
            Method::GET,
            format!("/console/audit-logs?{query}"),
            Auth::Console,
        ));
    }
    for path in [
        "/console/nothing-here",
        "/console/tokens/..%2F..%2Fapi%2Fv1%2Fmembers",
    ] {
        c.push(case(
            format!("GET {path}"),
            Method::GET,
            path,
            Auth::Console,
        ));
    }
    c
}

type Headers = Vec<(String, Vec<u8>)>;

fn auth_h(v: &str) -> (String, Vec<u8>) {
    ("authorization".into(), v.as_bytes().to_vec())
}

/// A well-formed token (right length, valid checksum) that was never issued.
fn fake_token(prefix: &str) -> String {
    let body = format!("{prefix}{}{}", "A".repeat(22), "b".repeat(32));
    let crc = crc32(body.as_bytes());
    format!("{body}{}", base62_6(crc))
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn base62_6(mut n: u32) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).unwrap()
}

/// An unsigned JWT (`alg: none`) claiming to be a session.
fn none_jwt() -> String {
    use base64::Engine;
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = e.encode(r#"{"alg":"none","typ":"session+jwt"}"#);
    let claims = e.encode(r#"{"sub":"admin","org":"default","exp":9999999999}"#);
    format!("{header}.{claims}.")
}

/// Seeded data and the credentials of each [`Auth`].
struct Fixture {
    ids: BTreeMap<&'static str, String>,
    creds: BTreeMap<&'static str, String>,
    admin: String,
}

impl Fixture {
    async fn seed(app: &TestApp) -> Fixture {
        let admin = app.admin_session().await;
        let scim = app.scim().await;
        let user = scim
            .create_user(json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                "userName": "alice",
                "name": { "givenName": "Alice", "familyName": "Liddell" },
                "emails": [{ "value": "alice@example.com", "type": "work", "primary": true }],
                "title": "engineer",
                ENTERPRISE: { "department": "R&D" }
            }))
            .await;
        scim.create_user(crate::support::user("bob")).await;
        let group = scim
            .create_group(json!({
                "schemas": [GROUP_SCHEMA], "displayName": "eng", "members": [{ "value": user }]
            }))
            .await;
        let ws = app.create_workspace(&admin, "prod").await;
        let (sat, _) = app
            .create_sat(
                &admin,
                json!({ "name": "victim", "permissions": ["scim:read"] }),
            )
            .await;
        let (_, audit) = app
            .create_sat(
                &admin,
                json!({ "name": "auditor", "permissions": ["audit_logs:read"] }),
            )
            .await;
        let (_, introspect) = app
            .create_sat(
                &admin,
                json!({ "name": "svc", "permissions": ["tokens:introspect"] }),
            )
            .await;
        let (_, workspace) = app
            .create_sat(
                &admin,
                json!({ "name": "ws", "workspace_id": ws, "permissions": ["sources:read"] }),
            )
            .await;
        let p = app
            .post(
                "/api/v1/personal-access-tokens",
                &admin,
                json!({ "name": "mine" }),
            )
            .await;
        assert_eq!(p.status, 201, "{}", p.text);
        let pat_id = p.body["id"].as_str().unwrap().to_string();
        let pat = p.body["token"].as_str().unwrap().to_string();
        let (member, _) = app.signed_in_member("default", "carol", "member").await;
        let me = app.get("/api/v1/tokens/self", &admin).await;
        let admin_id = me.body["member_id"]
            .as_str()
            .or(me.body["id"].as_str())
            .unwrap()
            .to_string();
        let records = app.get("/api/v1/audit-logs?limit=1", &audit).await;
        let record = records.body["records"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        // The console's CSRF token for the admin's session, from a form.
        let page = app
            .client
            .get(app.url("/console/workspaces"))
            .header("cookie", format!("scimitar_console={admin}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = page
            .split(r#"name="csrf" value=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a CSRF field on the workspaces page")
            .to_string();
        Fixture {
            ids: BTreeMap::from([
                ("{csrf}", csrf),
                ("{user}", user),
                ("{group}", group),
                ("{sat}", sat),
                ("{pat}", pat_id),
                ("{ws}", ws),
                ("{member}", member),
                ("{admin}", admin_id),
                ("{record}", record),
                // The workspace SAT's value, for bodies that present it.
                ("{workspace_token}", workspace.clone()),
            ]),
            creds: BTreeMap::from([
                ("scim", scim.token.clone()),
                ("admin", admin.clone()),
                ("pat", pat),
                ("audit", audit),
                ("introspect", introspect),
                ("workspace", workspace),
            ]),
            admin,
        }
    }

    fn cred(&self, auth: Auth) -> Option<&str> {
        let key = match auth {
            Auth::None => return None,
            Auth::Scim => "scim",
            Auth::Admin => "admin",
            Auth::Pat => "pat",
            Auth::Audit => "audit",
            Auth::Introspect => "introspect",
            Auth::Workspace => "workspace",
            Auth::Console => "admin",
        };
        self.creds.get(key).map(String::as_str)
    }

    fn path(&self, raw: &str) -> String {
        let mut p = raw.to_string();
        for (k, v) in &self.ids {
            p = p.replace(k, v);
        }
        p
    }

    /// Everything a bad request must not change, read through the API
    /// (last-used data aside: using a token is not changing it).
    async fn snapshot(&self, app: &TestApp) -> Value {
        let scim = self.cred(Auth::Scim).unwrap();
        let mut out = serde_json::Map::new();
        for path in [
            "/scim/v2/Users?count=1000&sortBy=userName",
            "/scim/v2/Groups?count=1000&sortBy=displayName",
        ] {
            let r = app.get(path, scim).await;
            assert_eq!(r.status, 200, "{}", r.text);
            out.insert(path.into(), r.body);
        }
        for path in [
            "/api/v1/service-access-tokens",
            "/api/v1/members",
            "/api/v1/workspaces",
        ] {
            let r = app.get(path, &self.admin).await;
            assert_eq!(r.status, 200, "{}", r.text);
            out.insert(path.into(), strip_last_used(r.body));
        }
        let r = app
            .get(
                "/api/v1/personal-access-tokens",
                self.cred(Auth::Pat).unwrap(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        out.insert("pats".into(), strip_last_used(r.body));
        out.insert("tables".into(), table_snapshot(app).await);
        Value::Object(out)
    }
}

fn strip_last_used(mut v: Value) -> Value {
    match &mut v {
        Value::Object(o) => {
            o.remove("last_used_at");
            o.remove("last_used_ip");
            for (_, x) in o.iter_mut() {
                *x = strip_last_used(x.take());
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                *x = strip_last_used(x.take());
            }
        }
        _ => {}
    }
    v
}

/// Row counts of every data table, and what the API never shows: secret
/// hashes and password hashes.
async fn table_snapshot(app: &TestApp) -> Value {
    let db = app.db();
    let mut out = serde_json::Map::new();
    for table in [
        "organizations",
        "workspaces",
        "members",
        "tokens",
        "scim_groups",
        "scim_group_members",
        "scim_values",
        "signing_keys",
    ] {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        let n: i64 = scimitar::on_db!(db, pool => {
            sqlx::query_scalar(sql).fetch_one(pool).await
        })
        .expect("count");
        out.insert(table.into(), json!(n));
    }
    let secrets: Vec<(String, Vec<u8>, Option<String>)> = scimitar::on_db!(db, pool => {
        sqlx::query_as("SELECT id, secret_hash, revoked_at FROM tokens ORDER BY id")
            .fetch_all(pool)
            .await
    })
    .expect("tokens");
    out.insert(
        "secret_hashes".into(),
        json!(
            secrets
                .iter()
                .map(|(id, h, r)| format!("{id}:{}:{r:?}", hex(h)))
                .collect::<Vec<_>>()
        ),
    );
    let passwords: Vec<(String, Option<String>)> = scimitar::on_db!(db, pool => {
        sqlx::query_as("SELECT user_name, password_hash FROM members ORDER BY user_name")
            .fetch_all(pool)
            .await
    })
    .expect("members");
    out.insert("password_hashes".into(), json!(passwords));
    Value::Object(out)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Text that would mean a crash or an internal detail reached the client.
const LEAKS: &[&str] = &[
    "panicked",
    "stack backtrace",
    "RUST_BACKTRACE",
    "thread '",
    ".rs:",
    "src/",
    "sqlx",
    "SQLSTATE",
    "syntax error",
    "no such table",
    "relation \"",
    "scim_sat_",
    "scim_pat_",
];

struct Outcome {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Outcome {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Checks one answer; returns what is wrong with it, if anything.
fn check(proto: Proto, expect: Option<u16>, out: &Outcome) -> Vec<String> {
    let mut problems = vec![];
    if !(400..500).contains(&out.status) {
        problems.push(format!("status {} is not a 4xx", out.status));
    }
    // Limits are off for this run: a 429 would mean a case never reached
    // the code it is aimed at.
    if out.status == 429 {
        problems.push("429: the case was refused by a limit before its handler".into());
    }
    if let Some(e) = expect
        && e != out.status
    {
        problems.push(format!("status {} where {e} was expected", out.status));
    }
    let text = String::from_utf8_lossy(&out.body);
    for leak in LEAKS {
        if text.contains(leak) {
            problems.push(format!("body contains `{leak}`"));
        }
    }
    for (k, _) in &out.headers {
        if k.eq_ignore_ascii_case("set-cookie") || k.eq_ignore_ascii_case("x-injected") {
            problems.push(format!("injected header `{k}` in the response"));
        }
    }
    if proto != Proto::Http && out.header("x-content-type-options") != Some("nosniff") {
        problems.push("no `X-Content-Type-Options: nosniff`".into());
    }
    problems.extend(check_format(proto, out));
    problems
}

/// The protocol's error form.
fn check_format(proto: Proto, out: &Outcome) -> Vec<String> {
    let mut p = vec![];
    let ct = out.header("content-type").unwrap_or_default();
    let body: Value = serde_json::from_slice(&out.body).unwrap_or(Value::Null);
    let problem_ok = |body: &Value, ct: &str| {
        ct == "application/problem+json"
            && body["status"].as_u64() == Some(u64::from(out.status))
            && body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:scimitar:problem:"))
            && body["title"].is_string()
            && body["detail"].is_string()
    };
    match proto {
        Proto::Scim => {
            let ok = ct == "application/scim+json"
                && body["schemas"] == json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
                && body["status"].as_str() == Some(out.status.to_string().as_str())
                && body["detail"].is_string();
            if !ok {
                p.push(format!("not a SCIM error ({ct})"));
            }
        }
        Proto::Api => {
            if !problem_ok(&body, ct) {
                p.push(format!("not a problem+json ({ct})"));
            }
        }
        Proto::OAuth => {
            let oauth = ct.starts_with("application/json")
                && body["error"].as_str().is_some_and(|e| {
                    [
                        "invalid_request",
                        "invalid_client",
                        "invalid_grant",
                        "unauthorized_client",
                        "unsupported_grant_type",
                        "invalid_scope",
                        "invalid_target",
                    ]
                    .contains(&e)
                });
            if !oauth && !problem_ok(&body, ct) {
                p.push(format!("neither an OAuth error nor a problem ({ct})"));
            }
        }
        Proto::Console => {
            let page = ct.starts_with("text/html")
                && out
                    .header("content-security-policy")
                    .is_some_and(|c| c.contains("default-src 'none'"));
            if !page {
                p.push(format!("not a console page under its CSP ({ct})"));
            }
        }
        Proto::Http => {}
    }
    p
}

async fn send(app: &TestApp, fx: &Fixture, k: &Case) -> Outcome {
    let path = fx.path(&k.path);
    // Percent-encoded bytes stay as sent: reqwest's URL parser keeps them.
    let mut req = app.client.request(k.method.clone(), app.url(&path));
    match (k.auth, fx.cred(k.auth)) {
        (Auth::Console, Some(cred)) => {
            req = req.header("cookie", format!("scimitar_console={cred}"));
            if !k.headers.iter().any(|(n, _)| n == "sec-fetch-site") {
                req = req.header("sec-fetch-site", "same-origin");
            }
        }
        (_, Some(cred)) => req = req.header("authorization", format!("Bearer {cred}")),
        (_, None) => {}
    }
    for (name, value) in &k.headers {
        let v = reqwest::header::HeaderValue::from_bytes(value).expect("header value");
        req = req.header(name.as_str(), v);
    }
    if let Some(body) = &k.body {
        let ct = k.content_type.clone().unwrap_or_else(|| {
            if path.starts_with("/scim/") {
                "application/scim+json".into()
            } else {
                "application/json".into()
            }
        });
        if !ct.is_empty() {
            req = req.header("content-type", ct);
        }
        // Placeholders are filled in text; other bytes go as they are.
        req = match std::str::from_utf8(body) {
            Ok(text) => req.body(fx.path(text)),
            Err(_) => req.body(body.clone()),
        };
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = resp.bytes().await.unwrap_or_default().to_vec();
    Outcome {
        status,
        headers,
        body,
    }
}

/// A request written byte for byte on a socket.
struct RawCase {
    name: &'static str,
    request: Vec<u8>,
    proto: Proto,
}

fn raw_catalogue(scim_token: &str) -> Vec<RawCase> {
    let req = |head: &str| format!("{head}\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    vec![
        RawCase {
            name: "literal ../ in a SCIM id",
            request: req(&format!(
                "GET /scim/v2/Users/../../../etc/passwd HTTP/1.1\r\nauthorization: Bearer {scim_token}"
            ))
            .into_bytes(),
            proto: Proto::Scim,
        },
        RawCase {
            name: "literal ../ out of /api/v1",
            request: req("GET /api/v1/../../etc/passwd HTTP/1.1").into_bytes(),
            proto: Proto::Api,
        },
        RawCase {
            name: "bare LF header injection in Authorization",
            request: b"GET /api/v1/tokens/self HTTP/1.1\r\nauthorization: Bearer x\nx-injected: 1\r\nhost: localhost\r\nconnection: close\r\n\r\n".to_vec(),
            proto: Proto::Http,
        },
        RawCase {
            name: "NUL in a header value",
            request: b"GET /api/v1/tokens/self HTTP/1.1\r\nx-request-id: a\x00b\r\nhost: localhost\r\nconnection: close\r\n\r\n".to_vec(),
            proto: Proto::Http,
        },
        RawCase {
            name: "CR LF smuggled in the request line",
            request: b"GET /scim/v2/Users%0D%0Ax-injected:%201 HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n".to_vec(),
            proto: Proto::Scim,
        },
        RawCase {
            name: "200 KiB Authorization header",
            request: req(&format!(
                "GET /api/v1/tokens/self HTTP/1.1\r\nauthorization: Bearer {}",
                "a".repeat(200 * 1024)
            ))
            .into_bytes(),
            proto: Proto::Http,
        },
        RawCase {
            name: "Content-Length and Transfer-Encoding both",
            request: b"POST /api/v1/workspaces HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n0\r\n\r\n".to_vec(),
            proto: Proto::Http,
        },
        RawCase {
            name: "negative Content-Length",
            request: b"POST /api/v1/workspaces HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: -1\r\nconnection: close\r\n\r\n{}".to_vec(),
            proto: Proto::Http,
        },
        RawCase {
            name: "Content-Length beyond the limit (body never sent)",
            request: format!(
                "POST /api/v1/workspaces HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{{}}",
                u64::MAX / 2
            )
            .into_bytes(),
            proto: Proto::Api,
        },
        RawCase {
            name: "Host header with markup",
            request: format!(
                "GET /scim/v2/Users/nope HTTP/1.1\r\nhost: evil.example/\"><script>\r\nauthorization: Bearer {scim_token}\r\nconnection: close\r\n\r\n"
            )
            .into_bytes(),
            proto: Proto::Scim,
        },
    ]
}

async fn send_raw(app: &TestApp, request: &[u8]) -> Outcome {
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    // The server may answer and close before reading everything.
    let _ = s.write_all(request).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Outcome {
        status,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn hostile_requests_get_4xx_in_protocol_form_and_change_nothing() {
    // Hundreds of refused credentials from one address would soon be
    // answered by the failed-authentication limit (tests/integration/
    // rate_limits.rs covers it); here every case must reach its handler.
    let app = TestApp::builder()
        .limits(scimitar::http::limits::LimitsConfig {
            auth_failures_per_address: 0,
            auth_failures_per_token: 0,
            ..scimitar::config::DEFAULT_LIMITS
        })
        .start()
        .await;
    let fx = Fixture::seed(&app).await;
    let before = fx.snapshot(&app).await;

    let cases = catalogue();
    let raw = raw_catalogue(fx.cred(Auth::Scim).unwrap());
    let mut failures = vec![];
    for k in &cases {
        let out = send(&app, &fx, k).await;
        let problems = check(Proto::of(&k.path), k.expect, &out);
        if !problems.is_empty() {
            failures.push(format!(
                "{} ({} {}): {}\n    body: {}",
                k.name,
                k.method,
                k.path.chars().take(120).collect::<String>(),
                problems.join("; "),
                String::from_utf8_lossy(&out.body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ));
        }
    }
    for k in &raw {
        let out = send_raw(&app, &k.request).await;
        let problems = check(k.proto, None, &out);
        if !problems.is_empty() {
            failures.push(format!(
                "{} (raw): {}\n    body: {}",
                k.name,
                problems.join("; "),
                String::from_utf8_lossy(&out.body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ));
        }
    }
    // Hostile but well-formed: SQL in quoted filter values and in query
    // parameters is data, so these succeed and match nothing.
    let mut probes = 0;
    for value in [
        "' OR '1'='1",
        "\\\" OR 1=1 --",
        "alice'; DROP TABLE members; --",
        "%",
        "_",
        "*",
        "a\\\\",
    ] {
        for attr in ["userName", "emails.value", "name.givenName", "title"] {
            let filter = format!("{attr} eq \"{value}\" or {attr} co \"{value}\"");
            let r = app
                .get(
                    &format!("/scim/v2/Users?{}", q(&filter)),
                    fx.cred(Auth::Scim).unwrap(),
                )
                .await;
            if r.status != 200 || r.body["totalResults"] != json!(0) {
                failures.push(format!("probe {filter}: {} {}", r.status, r.text));
            }
            probes += 1;
        }
    }
    for query in [
        "action=%25%27%20OR%201%3D1%20--",
        "actor_id=%27%20OR%20%271%27%3D%271",
        "target_id=1%3BDROP%20TABLE%20audit_events",
        "action=%25*",
    ] {
        let r = app
            .get(
                &format!("/api/v1/audit-logs?{query}"),
                fx.cred(Auth::Audit).unwrap(),
            )
            .await;
        if r.status != 200 || r.body["records"] != json!([]) {
            failures.push(format!("probe {query}: {} {}", r.status, r.text));
        }
        probes += 1;
    }
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

async fn chains(app: &TestApp) -> Vec<String> {
    let db = app.db();
    scimitar::on_db!(db, pool => {
        sqlx::query_scalar("SELECT DISTINCT chain FROM audit_events")
            .fetch_all(pool)
            .await
    })
    .expect("chains")
}

/// Paths at which two JSON values differ.
fn diff(a: &Value, b: &Value) -> Vec<String> {
    fn walk(path: String, a: &Value, b: &Value, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                    walk(
                        format!("{path}/{k}"),
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        out,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    walk(format!("{path}/{i}"), p, q, out);
                }
            }
            _ if a != b => out.push(format!("  {path}: {a} -> {b}")),
            _ => {}
        }
    }
    let mut out = vec![];
    walk(String::new(), a, b, &mut out);
    out
}
