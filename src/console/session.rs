//! Console sessions and CSRF protection. The session cookie holds the same
//! EdDSA session JWT that `/api/v1/auth/login` issues, so a console request
//! is authenticated, authorized and audited by the API's own [`Caller`]
//! extractor. Every POST carries a CSRF token (an HMAC of the session, or of
//! a sign-in nonce cookie, under a server-wide key kept in the database) and
//! must come from this origin.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use subtle::ConstantTimeEq;

use super::error::ConsoleError;
use crate::http::AppState;
use crate::http::bearer::Presented;
use crate::http::{ApiError, Caller};
use crate::permissions::Principal;

/// The session cookie: the session JWT.
pub const SESSION_COOKIE: &str = "scimitar_console";
/// A random nonce set by the sign-in page, which its form's CSRF token is
/// bound to (there is no session yet).
pub const SIGN_IN_COOKIE: &str = "scimitar_console_sign_in";
/// The name of the hidden CSRF field of every console form.
pub const CSRF_FIELD: &str = "csrf";

/// Constant-time comparison of a presented CSRF token.
pub fn same_token(presented: &str, expected: &str) -> bool {
    presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// Accepts a form only from this console (see [`same_origin`]) and with the
/// CSRF token bound to `bound_to` (the session, or the sign-in nonce), which
/// `expected` derives.
pub fn check_form(
    headers: &HeaderMap,
    form: &FormData,
    bound_to: &str,
    expected: impl FnOnce(&str) -> String,
) -> Result<(), ConsoleError> {
    let presented = form.get(CSRF_FIELD).unwrap_or("");
    if !same_origin(headers) || bound_to.is_empty() || !same_token(presented, &expected(bound_to)) {
        return Err(ConsoleError::Csrf);
    }
    Ok(())
}

/// The value of cookie `name`, from every `Cookie` header.
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// Whether the console is served over TLS: the configured public URL says
/// so, or the proxy in front says the request came over https. Only ever
/// adds `Secure`, so a false claim only keeps the cookie from being stored.
pub fn served_over_tls(state: &AppState, headers: &HeaderMap) -> bool {
    state
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Secure over TLS.
pub fn cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let s = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A JWT is three base64url parts; anything else in the cookie is ignored
/// (in particular, never a `scim_` token).
fn looks_like_jwt(v: &str) -> bool {
    v.split('.').count() == 3
        && v.len() <= 4096
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Whether a state-changing request comes from this console. A browser
/// that sends `Sec-Fetch-Site` must say `same-origin`; that decides, because
/// under `Referrer-Policy: no-referrer` browsers send `Origin: null` even
/// for same-origin forms. Otherwise an `Origin` header must name this host.
/// (The CSRF token is checked as well, always.)
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// A signed-in console user: the API's [`Caller`] for the session in the
/// cookie, and the CSRF token for this session's forms. Without a valid
/// session the request is sent to the sign-in page.
pub struct Admin {
    pub caller: Caller,
    pub csrf: String,
}

impl Admin {
    pub fn user_name(&self) -> &str {
        match &self.caller.principal {
            Principal::Session { user_name, .. } | Principal::Pat { user_name, .. } => user_name,
            _ => "",
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let Some(jwt) = read_cookie(&parts.headers, SESSION_COOKIE).filter(|v| looks_like_jwt(v))
        else {
            return Err(ConsoleError::SignIn { expired: false });
        };
        // The session is checked (and a refusal recorded) exactly as a
        // Bearer session on the API.
        let mut bearer = HeaderValue::from_str(&format!("Bearer {jwt}"))
            .map_err(|_| ConsoleError::SignIn { expired: false })?;
        bearer.set_sensitive(true);
        parts.headers.remove(header::AUTHORIZATION);
        parts.headers.insert(header::AUTHORIZATION, bearer);
        // What the limits middleware read before this swap is stale now.
        parts.extensions.insert(Presented::Bearer(jwt.clone()));
        let caller = match Caller::from_request_parts(parts, state).await {
            Ok(c) => c,
            Err(ApiError::Unauthorized { .. }) => {
                return Err(ConsoleError::SignIn { expired: true });
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Admin {
            caller,
            csrf: state.console.for_session(&jwt),
        })
    }
}

/// Path parameters, with console-page errors: a parameter that cannot be
/// an id of ours (not UTF-8, say) is the console's 404 page.
pub struct ConsolePath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ConsolePath<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ConsoleError> {
        crate::http::ApiPath::<T>::from_request_parts(parts, state)
            .await
            .map(|crate::http::ApiPath(v)| ConsolePath(v))
            .map_err(ConsoleError::Api)
    }
}

/// A posted form as name/value pairs, in order (a name may repeat).
#[derive(Default)]
pub struct FormData(pub Vec<(String, String)>);

/// Names only: a form may hold a password.
impl std::fmt::Debug for FormData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

impl FormData {
    /// Decodes `application/x-www-form-urlencoded` strictly: a name or
    /// value that is not UTF-8 once decoded makes the whole form malformed
    /// (the usual lossy decoding would store U+FFFD in its place).
    pub fn parse(raw: &[u8]) -> Option<Self> {
        let decode = |part: &[u8]| -> Option<String> {
            let spaced: Vec<u8> = part
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            percent_encoding::percent_decode(&spaced)
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned())
        };
        raw.split(|b| *b == b'&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = match pair.iter().position(|b| *b == b'=') {
                    Some(i) => (&pair[..i], &pair[i + 1..]),
                    None => (pair, &b""[..]),
                };
                Some((decode(name)?, decode(value)?))
            })
            .collect::<Option<Vec<_>>>()
            .map(FormData)
    }

    /// The query string of a request, leniently: a malformed one is empty.
    pub fn from_query(query: Option<&str>) -> Self {
        Self::parse(query.unwrap_or("").as_bytes()).unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A trimmed, non-empty value.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The body of a console form POST, after the origin and CSRF checks
/// against the session in the cookie. A refusal happens before any handler
/// runs, so nothing is changed.
pub struct CsrfForm(pub FormData);

impl FromRequest<AppState> for CsrfForm {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ConsoleError> {
        let headers = req.headers().clone();
        let form = read_form(req, state).await?;
        let jwt = read_cookie(&headers, SESSION_COOKIE).unwrap_or_default();
        check_form(&headers, &form, &jwt, |jwt| state.console.for_session(jwt))?;
        Ok(CsrfForm(form))
    }
}

/// Reads an `application/x-www-form-urlencoded` body (within the body limit).
pub async fn read_form(req: Request, state: &AppState) -> Result<FormData, ConsoleError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(ConsoleError::Api(ApiError::UnsupportedMediaType(
            "send the form as application/x-www-form-urlencoded".into(),
        )));
    }
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|r| match r.status() {
            axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::BadRequest("the form could not be read".into()),
        })?;
    FormData::parse(&bytes)
        .ok_or_else(|| ConsoleError::Api(ApiError::BadRequest("malformed form".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_strictly() {
        let f = FormData::parse(b"name=a+b%21&csrf=x&name=%E2%9C%93&flag").unwrap();
        assert_eq!(f.all("name"), vec!["a b!", "\u{2713}"]);
        assert_eq!(f.get("flag"), Some(""));
        assert!(
            FormData::parse(b"name=%FF%FE").is_none(),
            "invalid UTF-8, encoded"
        );
        assert!(
            FormData::parse(b"name=\xff").is_none(),
            "invalid UTF-8, raw"
        );
        assert!(FormData::parse(b"").unwrap().0.is_empty());
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; scimitar_console=x.y.z; b=2"),
        );
        assert_eq!(read_cookie(&h, SESSION_COOKIE).as_deref(), Some("x.y.z"));
        assert_eq!(read_cookie(&h, "c"), None);
    }

    #[test]
    fn form_debug_shows_no_values() {
        let f = FormData::parse(b"user_name=a&password=hunter2hunter2").unwrap();
        assert_eq!(f.get("password"), Some("hunter2hunter2"));
        assert!(!format!("{f:?}").contains("hunter2"));
    }

    #[test]
    fn only_jwt_shaped_cookies_are_used() {
        assert!(looks_like_jwt("aa.bb.cc"));
        assert!(!looks_like_jwt("scim_sat_abc"));
        assert!(!looks_like_jwt("a.b.c d"));
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(
            same_origin(&h),
            "Origin: null with same-origin fetch metadata"
        );
    }

    #[test]
    fn tokens_match_only_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("", "abc"));
        assert!(!same_token("ab", "abc"));
    }
}
