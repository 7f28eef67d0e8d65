//! Hostile inputs that every protocol gets, as cross products with a
//! protocol's own table of endpoints: malformed JSON, the wrong media type,
//! bodies over the limit, ids that name nothing, routes that do not exist.

use serde_json::Value;

use super::case::{Auth, Case, Endpoint, case};

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

/// Every malformed body, and a body under a type that is not JSON (415), at
/// each endpoint that takes JSON.
pub fn json_bodies(endpoints: &[Endpoint]) -> Vec<Case> {
    let mut c = Vec::new();
    for (method, path, auth) in endpoints {
        for (what, body) in malformed_bodies() {
            // Sent as JSON: the OAuth endpoints read JSON only when told so.
            c.push(
                case(
                    format!("{what} to {method} {path}"),
                    method.clone(),
                    *path,
                    *auth,
                )
                .body(body)
                .ct("application/json"),
            );
        }
        for ct in ["text/plain", "application/xml"] {
            c.push(
                case(
                    format!("{ct} to {method} {path}"),
                    method.clone(),
                    *path,
                    *auth,
                )
                .body("{}")
                .ct(ct)
                .expect(415),
            );
        }
    }
    c
}

/// A 2 MiB body at each endpoint: the limit is 1 MiB (Bulk's
/// maxPayloadSize too).
pub fn oversized(endpoints: &[Endpoint]) -> Vec<Case> {
    let big = format!("{{\"name\":\"{}\"}}", "a".repeat(2 << 20)).into_bytes();
    endpoints
        .iter()
        .map(|(method, path, auth)| {
            case(
                format!("2 MiB body to {method} {path}"),
                method.clone(),
                *path,
                *auth,
            )
            .body(big.clone())
            .ct("application/json")
        })
        .collect()
}

/// Ids that cannot name anything, each still a syntactically valid path
/// segment once percent-encoded.
pub fn hostile_ids() -> Vec<(&'static str, String)> {
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

/// Every hostile id at each route with an `{id}` in its path, sent with
/// the route's body if it takes one.
pub fn hostile_id_routes(routes: Vec<(Endpoint, Option<Value>)>) -> Vec<Case> {
    let mut c = Vec::new();
    for ((method, route, auth), body) in routes {
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
    c
}

/// Methods and routes that do not exist, asked with the SCIM token.
pub fn unrouted(routes: &[(reqwest::Method, &str)]) -> Vec<Case> {
    routes
        .iter()
        .map(|(method, path)| {
            case(
                format!("{method} {path}"),
                method.clone(),
                *path,
                Auth::Scim,
            )
        })
        .collect()
}
