//! The `Authorization` header, read once per request: the abuse limits
//! need the token id it names before routing, and the `Caller` extractor
//! needs the credential after. Both take it from here, so that the two can
//! never disagree about what was presented.

use axum::http::{HeaderMap, header};

/// What a request presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presented {
    /// No `Authorization` header.
    Nothing,
    /// More than one: which one counts would be a guess.
    Several,
    /// One header, not `Bearer <credential>` (another scheme, not text,
    /// or an empty credential).
    NotBearer,
    /// The credential of a `Bearer` header, trimmed.
    Bearer(String),
}

impl Presented {
    pub fn of(headers: &HeaderMap) -> Self {
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let value = match (values.next(), values.next()) {
            (None, _) => return Presented::Nothing,
            (Some(_), Some(_)) => return Presented::Several,
            (Some(value), None) => value,
        };
        value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, c)| c.trim())
            .filter(|c| !c.is_empty())
            .map_or(Presented::NotBearer, |c| Presented::Bearer(c.to_string()))
    }

    /// The bearer credential, if there is exactly one.
    pub fn credential(&self) -> Option<&str> {
        match self {
            Presented::Bearer(c) => Some(c),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn one_bearer_header_gives_its_credential() {
        assert_eq!(
            Presented::of(&with(&["Bearer  abc "])),
            Presented::Bearer("abc".into())
        );
        assert_eq!(
            Presented::of(&with(&["bearer abc"])).credential(),
            Some("abc")
        );
    }

    #[test]
    fn anything_else_is_named() {
        assert_eq!(Presented::of(&with(&[])), Presented::Nothing);
        assert_eq!(
            Presented::of(&with(&["Bearer a", "Bearer b"])),
            Presented::Several
        );
        assert_eq!(Presented::of(&with(&["Basic YTpi"])), Presented::NotBearer);
        assert_eq!(Presented::of(&with(&["Bearer "])), Presented::NotBearer);
        assert_eq!(Presented::of(&with(&["Bearer"])), Presented::NotBearer);
    }
}
