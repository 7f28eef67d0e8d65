//! The token authority's OAuth endpoints, `/api/v1/tokens/introspect` (RFC
//! 7662) and `/exchange` (RFC 8693): an RFC 6749 §5.2 error, or a problem
//! where the request never reached the handler.

use super::case::{
    Auth::{Introspect, None as Anonymous},
    Case, Endpoint, FORM, GET, POST, case, rows, typed,
};
use super::inputs;

const JSON_ENDPOINTS: &[Endpoint] = &[
    (POST, "/api/v1/tokens/introspect", Introspect),
    (POST, "/api/v1/tokens/exchange", Anonymous),
];

const EXCHANGE: &str = "/api/v1/tokens/exchange";
const GRANT: &str = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange";

pub fn cases() -> Vec<Case> {
    [
        inputs::json_bodies(JSON_ENDPOINTS),
        inputs::oversized(&[(POST, "/api/v1/tokens/introspect", Introspect)]),
        repeated_parameters(),
        audiences(),
        inputs::unrouted(&[(GET, EXCHANGE), (GET, "/api/v1/tokens/introspect")]),
    ]
    .concat()
}

/// A parameter given twice is refused, in JSON and in a form.
#[rustfmt::skip]
fn repeated_parameters() -> Vec<Case> {
    rows(vec![
        ("duplicate JSON token", POST, "/api/v1/tokens/introspect", Introspect, typed("application/json", r#"{"token":"a","token":"b"}"#), Some(400)),
        ("repeated form parameter", POST, "/api/v1/tokens/introspect", Introspect, typed(FORM, "token=a&token=b"), Some(400)),
        ("repeated grant_type", POST, EXCHANGE, Anonymous, typed(FORM, format!("{GRANT}&grant_type=x&subject_token=x")), Some(400)),
    ])
}

/// An exchange with a valid workspace SAT and a hostile audience.
fn audiences() -> Vec<Case> {
    [
        ("audience of 10 kB", "a".repeat(10_000)),
        ("audience with a newline", "svc%0Aforged".to_string()),
        ("audience with a NUL", "svc%00".to_string()),
        ("audience with a bidi override", "svc%E2%80%AE".to_string()),
    ]
    .into_iter()
    .map(|(what, audience)| {
        case(what, POST, EXCHANGE, Anonymous)
            .body(format!(
                "{GRANT}&subject_token={{workspace_token}}&audience={audience}"
            ))
            .ct(FORM)
            .expect(400)
    })
    .collect()
}
