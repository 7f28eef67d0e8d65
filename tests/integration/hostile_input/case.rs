//! What a case is, and the few shapes the protocol tables are written in,
//! so that a table is rows of data and the way rows become requests is
//! written once.

use reqwest::Method;
use serde_json::Value;

/// Who a case authenticates as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
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
pub enum Proto {
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
    pub fn of(path: &str) -> Proto {
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
pub struct Case {
    pub name: String,
    pub method: Method,
    /// May hold `{user}`, `{group}`, `{sat}`, `{pat}`, `{ws}`, `{member}`,
    /// `{admin}`, `{record}`, `{csrf}`: ids of seeded data (bodies also
    /// `{workspace_token}`).
    pub path: String,
    pub auth: Auth,
    /// Extra headers, raw bytes allowed (obs-text).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Option<Vec<u8>>,
    /// `None` picks the protocol's JSON type when there is a body; `""`
    /// sends none.
    pub content_type: Option<String>,
    /// An exact status, where the contract names one; otherwise any 4xx.
    pub expect: Option<u16>,
}

pub fn case(name: impl Into<String>, method: Method, path: impl Into<String>, auth: Auth) -> Case {
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
    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = Some(b.into());
        self
    }
    pub fn json(self, v: Value) -> Self {
        self.body(v.to_string())
    }
    pub fn ct(mut self, ct: &str) -> Self {
        self.content_type = Some(ct.to_string());
        self
    }
    pub fn header(mut self, k: &str, v: impl Into<Vec<u8>>) -> Self {
        self.headers.push((k.to_string(), v.into()));
        self
    }
    pub fn expect(mut self, status: impl Into<Option<u16>>) -> Self {
        self.expect = status.into();
        self
    }
    pub fn with(self, body: Body) -> Self {
        match body {
            Body::None => self,
            Body::Json(v) => self.json(v),
            Body::Text(b) => self.body(b),
            Body::Typed(ct, b) => self.body(b).ct(ct),
        }
    }
}

/// Short names for the methods, so that table rows stay on one line.
pub const GET: Method = Method::GET;
pub const POST: Method = Method::POST;
pub const PUT: Method = Method::PUT;
pub const PATCH: Method = Method::PATCH;
pub const DELETE: Method = Method::DELETE;
pub const TRACE: Method = Method::TRACE;

/// Any 4xx will do: the contract names no exact status.
pub const ANY_4XX: Option<u16> = None;

pub const FORM: &str = "application/x-www-form-urlencoded";

/// A route and who may call it.
pub type Endpoint = (Method, &'static str, Auth);

/// What a case sends.
pub enum Body {
    None,
    /// A JSON value, under the protocol's JSON type.
    Json(Value),
    /// Bytes as they are, under the protocol's JSON type.
    Text(Vec<u8>),
    /// Bytes under this content type (`""` sends none).
    Typed(&'static str, Vec<u8>),
}

pub fn json(v: Value) -> Body {
    Body::Json(v)
}

pub fn text(b: impl Into<Vec<u8>>) -> Body {
    Body::Text(b.into())
}

pub fn typed(ct: &'static str, b: impl Into<Vec<u8>>) -> Body {
    Body::Typed(ct, b.into())
}

/// The commonest table: (name, method, path, who calls, body, expected
/// status) rows.
pub type Row<'a> = (&'a str, Method, &'a str, Auth, Body, Option<u16>);

pub fn rows(rows: Vec<Row>) -> Vec<Case> {
    rows.into_iter()
        .map(|(name, method, path, auth, body, expect)| {
            case(name, method, path, auth).with(body).expect(expect)
        })
        .collect()
}

/// Rows that also send one header, raw bytes allowed: (name, method, path,
/// who calls, header, value, body, expected status).
pub type HeaderRow<'a> = (
    &'a str,
    Method,
    &'a str,
    Auth,
    &'a str,
    &'a [u8],
    Body,
    Option<u16>,
);

pub fn header_rows(rows: Vec<HeaderRow>) -> Vec<Case> {
    rows.into_iter()
        .map(|(name, method, path, auth, header, value, body, expect)| {
            case(name, method, path, auth)
                .header(header, value)
                .with(body)
                .expect(expect)
        })
        .collect()
}

/// A table of JSON bodies sent to one endpoint, each case named
/// `{prefix}{what}`.
pub fn json_to(
    prefix: &str,
    (method, path, auth): Endpoint,
    bodies: Vec<(&str, Value)>,
) -> Vec<Case> {
    bodies
        .into_iter()
        .map(|(what, body)| case(format!("{prefix}{what}"), method.clone(), path, auth).json(body))
        .collect()
}

/// Bodiless GETs of `{path_prefix}{query}`, each case named
/// `{name_prefix}{what}`.
pub fn gets<'a>(
    name_prefix: &str,
    path_prefix: &str,
    auth: Auth,
    queries: impl IntoIterator<Item = (&'a str, impl std::fmt::Display)>,
) -> Vec<Case> {
    queries
        .into_iter()
        .map(|(what, query)| {
            case(
                format!("{name_prefix}{what}"),
                GET,
                format!("{path_prefix}{query}"),
                auth,
            )
        })
        .collect()
}

/// Bodiless GETs, each case named after its query.
pub fn queries(name_prefix: &str, path_prefix: &str, auth: Auth, queries: &[&str]) -> Vec<Case> {
    gets(
        name_prefix,
        path_prefix,
        auth,
        queries.iter().map(|q| (*q, q)),
    )
}
