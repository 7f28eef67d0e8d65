//! What every answer must be, whatever its protocol: a 4xx that reached
//! the code it was aimed at, no trace of a crash or of a secret, no header
//! a request smuggled in; and in its protocol's error form.

use serde_json::{Value, json};

use super::case::Proto;

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

pub struct Outcome {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
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
pub fn check(proto: Proto, expect: Option<u16>, out: &Outcome) -> Vec<String> {
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
