//! Listing and searching (RFC 7644 §3.4.2, §3.4.3): the query parameters or
//! the SearchRequest body, compiled to SQL through `query`, paged by
//! `startIndex` / `count`, rendered as a ListResponse.

use serde_json::Value;

use super::error::ScimError;
use super::filter;
use super::http::ScimParams;
use super::limits::MAX_FILTER_RESULTS;
use super::query::Compiler;
use super::resource::Projection;
use super::schema::{Resolved, ResourceType, SEARCH_URN, resolve, split_path};
use crate::store::dynamic::{Dialect, PageOrder, SqlParts};

/// Items per page when the client does not say.
pub const DEFAULT_COUNT: i64 = 100;

/// A list request, from query parameters or a SearchRequest body.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub start_index: i64,
    pub count: i64,
    pub projection: Projection,
}

fn parse_int(name: &str, v: Option<&str>) -> Result<Option<i64>, ScimError> {
    match v {
        None | Some("") => Ok(None),
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ScimError::invalid_value(format!("`{name}` must be an integer"))),
    }
}

fn sort_order(v: Option<&str>) -> Result<bool, ScimError> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("ascending") => Ok(false),
        Some("descending") => Ok(true),
        Some(_) => Err(ScimError::invalid_value(
            "`sortOrder` must be ascending or descending",
        )),
    }
}

impl ListRequest {
    /// RFC 7644 §3.4.2.4: startIndex below 1 means 1; a negative count
    /// means 0; the server caps count at its maximum.
    fn clamp(mut self) -> Self {
        self.start_index = self.start_index.max(1);
        self.count = self.count.clamp(0, MAX_FILTER_RESULTS as i64);
        self
    }

    pub fn from_params(p: &ScimParams) -> Result<Self, ScimError> {
        Ok(Self {
            filter: p.get("filter").map(str::to_string),
            sort_by: p
                .get("sortBy")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            descending: sort_order(p.get("sortOrder"))?,
            start_index: parse_int("startIndex", p.get("startIndex"))?.unwrap_or(1),
            count: parse_int("count", p.get("count"))?.unwrap_or(DEFAULT_COUNT),
            projection: Projection::from_params(p.get("attributes"), p.get("excludedAttributes")),
        }
        .clamp())
    }

    /// A SearchRequest body (`POST …/.search`).
    pub fn from_body(body: &Value) -> Result<Self, ScimError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be a JSON object"))?;
        let field = |name: &str| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        if let Some(schemas) = field("schemas") {
            let ok = schemas.as_array().is_some_and(|a| {
                a.iter().any(|s| {
                    s.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(SEARCH_URN))
                })
            });
            if !ok {
                return Err(ScimError::invalid_value(format!(
                    "`schemas` must be [\"{SEARCH_URN}\"]"
                )));
            }
        }
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "`{name}` must be a string"
                ))),
            }
        };
        let list = |name: &str| -> Result<Option<String>, ScimError> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .map(|v| Some(v.join(",")))
                    .ok_or_else(|| ScimError::invalid_value(format!("`{name}` must list strings"))),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "`{name}` must list strings"
                ))),
            }
        };
        let int = |name: &str| -> Result<Option<i64>, ScimError> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                    ScimError::invalid_value(format!("`{name}` must be an integer"))
                }),
                Some(Value::String(s)) => parse_int(name, Some(s)),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "`{name}` must be an integer"
                ))),
            }
        };
        Ok(Self {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            descending: sort_order(text("sortOrder")?.as_deref())?,
            start_index: int("startIndex")?.unwrap_or(1),
            count: int("count")?.unwrap_or(DEFAULT_COUNT),
            projection: Projection::from_params(
                list("attributes")?.as_deref(),
                list("excludedAttributes")?.as_deref(),
            ),
        }
        .clamp())
    }

    pub fn offset(&self) -> i64 {
        self.start_index - 1
    }
}

/// The SQL fragments of a list request for one resource type.
pub struct Compiled {
    pub filter: Option<SqlParts>,
    pub order: PageOrder,
}

pub fn compile(
    rt: ResourceType,
    req: &ListRequest,
    org_id: uuid::Uuid,
    dialect: Dialect,
) -> Result<Compiled, ScimError> {
    let c = Compiler::new(rt, org_id, dialect);
    let filter = match req
        .filter
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        Some(f) => Some(c.filter(&filter::parse(rt, f)?)?),
        None => None,
    };
    let sort_by: Option<Resolved> = match &req.sort_by {
        Some(s) => {
            let (uri, name, sub) = split_path(s);
            Some(resolve(rt, uri, name, sub).ok_or_else(|| {
                ScimError::invalid_value(format!("cannot sort by unknown attribute `{s}`"))
            })?)
        }
        None => None,
    };
    let order = c.order(sort_by.as_ref(), req.descending)?;
    Ok(Compiled { filter, order })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(q: &str) -> ScimParams {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap();
        ScimParams(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        )
    }

    #[test]
    fn paging_parameters_are_clamped_as_the_rfc_says() {
        let r = ListRequest::from_params(&params("startIndex=0&count=-5")).unwrap();
        assert_eq!((r.start_index, r.count), (1, 0));
        let r = ListRequest::from_params(&params("startindex=3&COUNT=5000")).unwrap();
        assert_eq!((r.start_index, r.count), (3, MAX_FILTER_RESULTS as i64));
        assert!(ListRequest::from_params(&params("count=many")).is_err());
        assert!(ListRequest::from_params(&params("sortOrder=sideways")).is_err());
    }

    #[test]
    fn search_bodies_parse() {
        let r = ListRequest::from_body(&json!({
            "schemas": [SEARCH_URN],
            "attributes": ["userName", "name"],
            "filter": "userName sw \"a\"",
            "startIndex": 2,
            "count": 10,
            "sortOrder": "descending",
        }))
        .unwrap();
        assert_eq!(r.projection.attributes, vec!["username", "name"]);
        assert!(r.descending);
        assert_eq!((r.start_index, r.count), (2, 10));
        assert!(ListRequest::from_body(&json!({ "schemas": ["urn:x"] })).is_err());
        assert!(ListRequest::from_body(&json!({ "count": "x" })).is_err());
    }
}
