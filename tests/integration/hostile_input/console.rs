//! The admin console under `/console`: a refusal is an HTML page under the
//! console's security headers. Its forms are checked against cross-site
//! posts and forged CSRF tokens, then sent well formed with bad values. (A
//! post without a session is sent to sign-in, a redirect: console.rs.)

use super::case::{Auth::Console, Case, FORM, GET, POST, case, queries};
use super::inputs::hostile_ids;

/// The console's forms, with the fields a valid submission would carry
/// (`{csrf}` is the signed-in admin's CSRF token).
const FORMS: &[(&str, &str)] = &[
    ("/console/workspaces", "name=hostile-ws"),
    (
        "/console/tokens?tab=organization",
        "name=hostile&level.scim=read&expires_in_days=30",
    ),
    ("/console/tokens/{sat}/revoke", ""),
    ("/console/tokens/{sat}/rotate", "grace_period_seconds=0"),
    ("/console/sign-out", ""),
];

pub fn cases() -> Vec<Case> {
    [csrf(), bad_values(), ids(), pages()].concat()
}

/// No token, a forged one, a cross-site post, another origin; and bodies
/// that are not the form it expects.
fn csrf() -> Vec<Case> {
    let mut c = Vec::new();
    for (path, fields) in FORMS {
        let with = |csrf: &str| {
            if fields.is_empty() {
                format!("csrf={csrf}")
            } else {
                format!("{fields}&csrf={csrf}")
            }
        };
        let post = |what: &str| case(format!("{what}: POST {path}"), POST, *path, Console);
        c.extend([
            post("no CSRF token").body(*fields).ct(FORM).expect(403),
            post("forged CSRF token")
                .body(with("AAAAforged"))
                .ct(FORM)
                .expect(403),
            post("cross-site post")
                .header("sec-fetch-site", "cross-site")
                .body(with("{csrf}"))
                .ct(FORM)
                .expect(403),
            post("another origin")
                .header("sec-fetch-site", "none")
                .header("origin", "https://evil.example")
                .body(with("{csrf}"))
                .ct(FORM)
                .expect(403),
            post("JSON instead of a form")
                .body(r#"{"csrf":"{csrf}","name":"x"}"#)
                .ct("application/json"),
            post("oversized form")
                .body(format!(
                    "csrf={{csrf}}&name={}",
                    "a".repeat(2 * 1024 * 1024)
                ))
                .ct(FORM),
        ]);
    }
    c
}

/// Well-formed posts with the right token and bad values.
#[rustfmt::skip]
fn bad_values() -> Vec<Case> {
    let big_name = format!("csrf={{csrf}}&name={}", "w".repeat(100 * 1024));
    let rows: Vec<(&str, &str, &str)> = vec![
        ("empty workspace name", "/console/workspaces", "csrf={csrf}&name="),
        ("NUL in a workspace name", "/console/workspaces", "csrf={csrf}&name=a%00b"),
        ("invalid UTF-8 in a form", "/console/workspaces", "csrf={csrf}&name=%FF%FE"),
        ("workspace name of 100 KiB", "/console/workspaces", &big_name),
        ("doubled CSRF field", "/console/workspaces", "csrf=forged&csrf={csrf}&name=x"),
        ("expiry not a number", "/console/tokens?tab=organization", "csrf={csrf}&name=t&level.scim=read&expires_in_days=soon"),
        ("expiry huge", "/console/tokens?tab=organization", "csrf={csrf}&name=t&level.scim=read&expires_in_days=99999999999999999999"),
        ("expiry negative", "/console/tokens?tab=organization", "csrf={csrf}&name=t&level.scim=read&expires_in_days=-5"),
        ("no permission", "/console/tokens?tab=organization", "csrf={csrf}&name=t&expires_in_days=30"),
        ("unknown permission level", "/console/tokens?tab=organization", "csrf={csrf}&name=t&level.scim=owner&expires_in_days=30"),
        ("SQL as a permission level", "/console/tokens?tab=organization", "csrf={csrf}&name=t&level.scim=read%27%3B%20DROP%20TABLE%20tokens%3B--&expires_in_days=30"),
        ("workspace tab without a workspace", "/console/tokens?tab=workspace", "csrf={csrf}&name=t&level.sources=read&expires_in_days=30"),
        ("workspace id not a UUID", "/console/tokens?tab=workspace", "csrf={csrf}&name=t&workspace_id=..%2F..%2Fetc&level.sources=read&expires_in_days=30"),
        ("unknown workspace", "/console/tokens?tab=workspace", "csrf={csrf}&name=t&workspace_id=00000000-0000-0000-0000-000000000000&level.sources=read&expires_in_days=30"),
        ("empty token name", "/console/tokens?tab=organization", "csrf={csrf}&name=&level.scim=read&expires_in_days=30"),
        ("grace period not a number", "/console/tokens/{sat}/rotate", "csrf={csrf}&grace_period_seconds=later"),
        ("grace period negative", "/console/tokens/{sat}/rotate", "csrf={csrf}&grace_period_seconds=-1"),
        ("grace period huge", "/console/tokens/{sat}/rotate", "csrf={csrf}&grace_period_seconds=1e309"),
    ];
    rows.into_iter()
        .map(|(what, path, body)| case(format!("{what}: POST {path}"), POST, path, Console).body(body).ct(FORM))
        .collect()
}

/// Ids that name nothing, in every console path that takes one.
fn ids() -> Vec<Case> {
    let mut c = Vec::new();
    for (what, id) in hostile_ids() {
        for path in ["/console/tokens/{id}/revoke", "/console/tokens/{id}/rotate"] {
            let path = path.replace("{id}", &id);
            c.push(
                case(
                    format!("{what} as a token id: POST {path}"),
                    POST,
                    path,
                    Console,
                )
                .body("csrf={csrf}&grace_period_seconds=0")
                .ct(FORM),
            );
        }
        c.push(case(
            format!("{what} as a record id: GET /console/audit-logs/{id}"),
            GET,
            format!("/console/audit-logs/{id}"),
            Console,
        ));
    }
    c
}

/// Audit Logs filters the page offers, with values it must refuse; pages
/// that do not exist.
fn pages() -> Vec<Case> {
    let filters = [
        "since=yesterday",
        "until=2026-13-45T99:99:99Z",
        "outcome=maybe",
        "actor_type=root",
        "cursor=-1",
        "cursor=%27%20OR%201%3D1",
        "since=%00",
    ];
    let missing = [
        "/console/nothing-here",
        "/console/tokens/..%2F..%2Fapi%2Fv1%2Fmembers",
    ];
    [
        queries("audit filter ", "/console/audit-logs?", Console, &filters),
        queries("GET ", "", Console, &missing),
    ]
    .concat()
}
