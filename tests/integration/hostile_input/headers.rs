//! Headers every protocol reads the same way: credentials (missing,
//! doubled, malformed, or of the wrong kind for the route), the Host the
//! server builds URLs from, and headers it only logs. A refusal takes the
//! form of the route's protocol.

use super::case::{
    Auth, Body, Case, DELETE, FORM, GET, POST, case, header_rows, json, rows, typed,
};

pub fn cases() -> Vec<Case> {
    [credentials(), wrong_credentials(), hosts(), logged()].concat()
}

type Headers = Vec<(String, Vec<u8>)>;

fn auth_h(v: &str) -> (String, Vec<u8>) {
    ("authorization".into(), v.as_bytes().to_vec())
}

/// Missing and malformed credentials on every kind of protected route.
#[rustfmt::skip]
fn credentials() -> Vec<Case> {
    let protected = [
        (GET, "/scim/v2/Users"),
        (GET, "/scim/v2/ServiceProviderConfig"),
        (GET, "/api/v1/tokens/self"),
        (GET, "/api/v1/service-access-tokens"),
        (GET, "/api/v1/audit-logs"),
    ];
    let variants: Vec<(&str, Headers, u16)> = vec![
        ("no Authorization", vec![], 401),
        ("Basic scheme", vec![auth_h("Basic YWRtaW46YWRtaW4=")], 401),
        ("Bearer without value", vec![auth_h("Bearer")], 401),
        ("Bearer blank", vec![auth_h("Bearer    ")], 401),
        ("two Authorization headers", vec![auth_h("Bearer a"), auth_h("Bearer b")], 400),
        ("obs-text value", vec![("authorization".into(), b"Bearer \xff\xfe".to_vec())], 401),
        ("malformed token", vec![auth_h("Bearer scim_sat_garbage")], 401),
        ("unknown token", vec![auth_h(&format!("Bearer {}", fake_token("scim_sat_")))], 401),
        ("alg none JWT", vec![auth_h(&format!("Bearer {}", none_jwt()))], 401),
        ("SQL as a token", vec![auth_h("Bearer ' OR 1=1 --")], 401),
    ];
    let mut c = Vec::new();
    for (method, path) in &protected {
        for (what, headers, expect) in &variants {
            let mut k = case(format!("{what} on {method} {path}"), method.clone(), *path, Auth::None).expect(*expect);
            k.headers = headers.clone();
            c.push(k);
        }
    }
    c
}

/// The wrong kind of credential for the route (403).
#[rustfmt::skip]
fn wrong_credentials() -> Vec<Case> {
    let sat = || json(serde_json::json!({ "name": "n", "permissions": ["scim:read"] }));
    rows(vec![
        ("admin session on SCIM", GET, "/scim/v2/Users", Auth::Admin, Body::None, Some(403)),
        ("workspace SAT on SCIM", GET, "/scim/v2/Users", Auth::Workspace, Body::None, Some(403)),
        ("SCIM SAT creating a SAT", POST, "/api/v1/service-access-tokens", Auth::Scim, sat(), Some(403)),
        ("SCIM SAT reading audit", GET, "/api/v1/audit-logs", Auth::Scim, Body::None, Some(403)),
        ("audit SAT writing SCIM", DELETE, "/scim/v2/Users/{user}", Auth::Audit, Body::None, Some(403)),
        ("workspace SAT deleting a workspace", DELETE, "/api/v1/workspaces/{ws}", Auth::Workspace, Body::None, Some(403)),
        ("SCIM SAT introspecting", POST, "/api/v1/tokens/introspect", Auth::Scim, typed(FORM, "token=x"), Some(403)),
    ])
}

/// A Host the server would reflect into URLs is refused (the security
/// probe's reflected Host).
fn hosts() -> Vec<Case> {
    [
        &b"evil.example\"><x"[..],
        b"evil.example/path",
        b"user@evil.example",
        b"evil.example:99999",
    ]
    .into_iter()
    .map(|host| {
        case(
            format!("Host {}", String::from_utf8_lossy(host)),
            GET,
            "/scim/v2/Users/{user}",
            Auth::Scim,
        )
        .header("host", host.to_vec())
        .expect(400)
    })
    .collect()
}

/// Headers the server only logs or, with no trusted proxy (none in this
/// test), never reads: odd values must not change how an otherwise bad
/// request is answered. The audit records must all name the real peer,
/// which the entry point checks.
#[rustfmt::skip]
fn logged() -> Vec<Case> {
    header_rows(vec![
        ("request id with obs-text", GET, "/scim/v2/Users/x", Auth::Scim, "x-request-id", b"abc\xff\xfe", Body::None, Some(404)),
        ("user agent with obs-text", GET, "/api/v1/tokens/self", Auth::None, "user-agent", b"evil\xff\x80agent", Body::None, Some(401)),
        ("forged X-Forwarded-For", GET, "/scim/v2/Users/x", Auth::Scim, "x-forwarded-for", b"203.0.113.7", Body::None, Some(404)),
        ("X-Forwarded-For garbage", GET, "/api/v1/tokens/self", Auth::None, "x-forwarded-for", b"<script>, 999.1.1.1, \xff", Body::None, Some(401)),
    ])
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
