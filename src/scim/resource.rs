//! SCIM resources as JSON documents: checking and normalizing what a client
//! sends (attribute names to their canonical case, types checked, the
//! dialects of identity providers coerced), and projecting what is returned
//! (`attributes`, `excludedAttributes`, `returned`).
//!
//! A normalized document holds core attributes at the top level and each
//! extension's under its URN, never `id`, `meta` or other read-only
//! attributes: those are the server's and are added when rendering.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::limits;
use super::schema::{AttrDef, AttrType, COMMON, Mutability, ResourceType, Returned, SchemaDef};
use crate::store::Timestamp;

/// What a normalized document is for: a whole resource (POST, PUT) needs
/// its required attributes; a fragment (a PATCH value) does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Whole,
    Fragment,
}

/// Normalizes a client's resource. Read-only attributes are dropped
/// (RFC 7643 §2.2: the server ignores them), as are nulls and empty arrays
/// (unassigned). Unknown attributes, wrong types and values over the
/// [`limits`] are refused; so is a whole resource over the size limit.
pub fn normalize(
    rt: ResourceType,
    input: &Value,
    shape: Shape,
) -> Result<Map<String, Value>, ScimError> {
    let obj = input
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the resource must be a JSON object"))?;
    let mut out = Map::new();
    let mut schemas_seen = false;
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            check_schemas(rt, value)?;
            schemas_seen = true;
            continue;
        }
        if let Some(ext) = extension_named(rt, key) {
            let Some(fields) = value.as_object() else {
                if value.is_null() {
                    continue;
                }
                return Err(ScimError::invalid_syntax(format!(
                    "`{}` must be an object",
                    ext.id
                )));
            };
            let mut inner = Map::new();
            for (k, v) in fields {
                // Some clients repeat the extension's URN inside its object.
                if k.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let def = ext.attr(k).ok_or_else(|| {
                    ScimError::invalid_value(format!("unknown attribute `{}:{k}`", ext.id))
                })?;
                put(&mut inner, None, def, v)?;
            }
            if !inner.is_empty() {
                out.insert(ext.id.to_string(), Value::Object(inner));
            }
            continue;
        }
        let def = core_attr(rt, key)
            .ok_or_else(|| ScimError::invalid_value(format!("unknown attribute `{key}`")))?;
        put(&mut out, None, def, value)?;
    }
    if shape == Shape::Whole {
        if !schemas_seen {
            return Err(ScimError::invalid_syntax(format!(
                "`schemas` is required and must include {}",
                rt.schema().id
            )));
        }
        for def in rt.schema().attributes.iter().filter(|a| a.required) {
            let present = out
                .get(def.name)
                .is_some_and(|v| v.as_str().is_none_or(|s| !s.trim().is_empty()));
            if !present {
                return Err(ScimError::invalid_value(format!(
                    "`{}` is required",
                    def.name
                )));
            }
        }
        limits::check_document(rt, &out)?;
    }
    Ok(out)
}

/// The extension schema whose URN is `key`, if any.
pub fn extension_named(rt: ResourceType, key: &str) -> Option<&'static SchemaDef> {
    rt.extensions()
        .into_iter()
        .find(|e| e.id.eq_ignore_ascii_case(key))
}

/// A core or common attribute by name.
pub fn core_attr(rt: ResourceType, name: &str) -> Option<&'static AttrDef> {
    let common: &'static Vec<AttrDef> = &COMMON;
    rt.schema()
        .attr(name)
        .or_else(|| common.iter().find(|a| a.name.eq_ignore_ascii_case(name)))
}

fn check_schemas(rt: ResourceType, value: &Value) -> Result<(), ScimError> {
    let list = value
        .as_array()
        .ok_or_else(|| ScimError::invalid_syntax("`schemas` must be an array of URNs"))?;
    let known = rt.schema_urns();
    let mut has_core = false;
    for urn in list {
        let urn = urn
            .as_str()
            .ok_or_else(|| ScimError::invalid_syntax("`schemas` must be an array of URNs"))?;
        if !known.iter().any(|k| k.eq_ignore_ascii_case(urn)) {
            return Err(ScimError::invalid_value(format!(
                "unknown schema `{urn}` for a {}",
                rt.name()
            )));
        }
        has_core |= urn.eq_ignore_ascii_case(rt.schema().id);
    }
    if !has_core {
        return Err(ScimError::invalid_value(format!(
            "`schemas` must include {}",
            rt.schema().id
        )));
    }
    Ok(())
}

/// Checks `value` against `def` and stores it under the canonical name,
/// unless it is read-only or unassigned. `parent` is the complex attribute
/// `def` belongs to, if any, for messages.
fn put(
    out: &mut Map<String, Value>,
    parent: Option<&AttrDef>,
    def: &AttrDef,
    value: &Value,
) -> Result<(), ScimError> {
    if def.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    if let Some(v) = checked(parent, def, value)? {
        out.insert(def.name.to_string(), v);
    }
    Ok(())
}

/// Checks and coerces one attribute's value. `None` means unassigned.
pub fn check_value(def: &AttrDef, value: &Value) -> Result<Option<Value>, ScimError> {
    checked(None, def, value)
}

fn checked(
    parent: Option<&AttrDef>,
    def: &AttrDef,
    value: &Value,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if def.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            // A single value where a list is expected: some clients do this.
            single => vec![single],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = check_single(parent, def, item)? {
                out.push(v);
            }
        }
        limits::check_count(def, out.len())?;
        let primaries = out
            .iter()
            .filter(|v| v.get("primary").and_then(Value::as_bool) == Some(true))
            .count();
        if primaries > 1 {
            return Err(ScimError::invalid_value(format!(
                "at most one `{}` value may be primary",
                def.name
            )));
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    if value.is_array() {
        return Err(ScimError::invalid_value(format!(
            "`{}` is single-valued",
            def.name
        )));
    }
    check_single(parent, def, value)
}

/// `emails.display`, or `userName`: how messages name an attribute.
fn path_of(parent: Option<&AttrDef>, def: &AttrDef) -> String {
    match parent {
        Some(p) => format!("{}.{}", p.name, def.name),
        None => def.name.to_string(),
    }
}

fn check_single(
    parent: Option<&AttrDef>,
    def: &AttrDef,
    value: &Value,
) -> Result<Option<Value>, ScimError> {
    let wrong = || {
        ScimError::invalid_value(format!(
            "`{}` must be a {}{}",
            def.name,
            def.ty.as_str(),
            if def.multi_valued {
                " (or a list of them)"
            } else {
                ""
            }
        ))
    };
    Ok(Some(match (def.ty, value) {
        (_, Value::Null) => return Ok(None),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(s)) => {
            limits::check_chars(def, &path_of(parent, def), s)?;
            Value::String(s.clone())
        }
        (AttrType::Boolean, Value::Bool(b)) => Value::Bool(*b),
        // Entra ID sends booleans as "True" / "False".
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Value::Bool(true)
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Value::Bool(false)
        }
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => {
            Value::Number(n.clone())
        }
        (AttrType::Decimal, Value::Number(n)) => Value::Number(n.clone()),
        (AttrType::DateTime, Value::String(s)) => match Timestamp::parse_rfc3339(s) {
            Some(t) => Value::String(t.to_canonical()),
            None => {
                return Err(ScimError::invalid_value(format!(
                    "`{}` must be an RFC 3339 dateTime",
                    def.name
                )));
            }
        },
        (AttrType::Complex, Value::Object(fields)) => {
            let mut inner = Map::new();
            for (k, v) in fields {
                let sub = def.sub(k).ok_or_else(|| {
                    ScimError::invalid_value(format!("unknown attribute `{}.{k}`", def.name))
                })?;
                put(&mut inner, Some(def), sub, v)?;
            }
            if inner.is_empty() {
                return Ok(None);
            }
            Value::Object(inner)
        }
        // A complex value given as its bare `value` (Entra ID's manager).
        (AttrType::Complex, Value::String(s)) if def.sub("value").is_some() => {
            if s.is_empty() {
                return Ok(None);
            }
            if let Some(sub) = def.sub("value") {
                limits::check_chars(sub, &path_of(Some(def), sub), s)?;
            }
            let mut inner = Map::new();
            inner.insert("value".into(), Value::String(s.clone()));
            Value::Object(inner)
        }
        _ => return Err(wrong()),
    }))
}

/// What the client asked to see.
#[derive(Clone, Debug, Default)]
pub struct Projection {
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

impl Projection {
    /// Parses the comma-separated query parameters.
    pub fn from_params(attributes: Option<&str>, excluded: Option<&str>) -> Self {
        let split = |s: Option<&str>| -> Vec<String> {
            s.unwrap_or_default()
                .split(',')
                .map(|p| p.trim().to_ascii_lowercase())
                .filter(|p| !p.is_empty())
                .collect()
        };
        Self {
            attributes: split(attributes),
            excluded: split(excluded),
        }
    }
}

impl Projection {
    /// Whether the client asked for nothing (the `returned` rules alone).
    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Whether the projection can include the core attribute `attr`, so
    /// that it is worth loading (group memberships, for one).
    pub fn may_include(&self, rt: ResourceType, attr: &str) -> bool {
        let attr = attr.to_ascii_lowercase();
        if !self.attributes.is_empty() {
            return self.attributes.iter().any(|a| {
                let a = without_core_urn(rt, a);
                a == attr || a.starts_with(&format!("{attr}."))
            });
        }
        !self
            .excluded
            .iter()
            .any(|e| without_core_urn(rt, e) == attr)
    }
}

/// The lowercased full path of a top-level key and optional sub-key, with
/// the core URN implied.
fn full_path(ext: Option<&str>, name: &str, sub: Option<&str>) -> String {
    let mut p = String::new();
    if let Some(e) = ext {
        p.push_str(&e.to_ascii_lowercase());
        p.push(':');
    }
    p.push_str(&name.to_ascii_lowercase());
    if let Some(s) = sub {
        p.push('.');
        p.push_str(&s.to_ascii_lowercase());
    }
    p
}

/// Strips a core-schema URN prefix from a requested path, so that
/// `urn:…:core:2.0:User:userName` and `userName` are the same request.
fn without_core_urn(rt: ResourceType, p: &str) -> String {
    let core = rt.schema().id.to_ascii_lowercase();
    p.strip_prefix(&format!("{core}:")).unwrap_or(p).to_string()
}

/// Applies `returned` rules and the client's projection to a rendered
/// resource (RFC 7644 §3.4.2.5, RFC 7643 §2.2).
pub fn project(
    rt: ResourceType,
    resource: Map<String, Value>,
    proj: &Projection,
) -> Map<String, Value> {
    let attrs: Vec<String> = proj
        .attributes
        .iter()
        .map(|p| without_core_urn(rt, p))
        .collect();
    let excluded: Vec<String> = proj
        .excluded
        .iter()
        .map(|p| without_core_urn(rt, p))
        .collect();
    let mut out = Map::new();
    for (key, value) in resource {
        if key == "schemas" {
            out.insert(key, value);
            continue;
        }
        if let Some(ext) = extension_named(rt, &key) {
            let Value::Object(fields) = value else {
                continue;
            };
            let mut inner = Map::new();
            for (k, v) in fields {
                let Some(def) = ext.attr(&k) else { continue };
                if let Some(v) = project_attr(def, Some(ext.id), v, &attrs, &excluded) {
                    inner.insert(k, v);
                }
            }
            if !inner.is_empty() {
                out.insert(key, Value::Object(inner));
            }
            continue;
        }
        let Some(def) = core_attr(rt, &key) else {
            continue;
        };
        if let Some(v) = project_attr(def, None, value, &attrs, &excluded) {
            out.insert(key, v);
        }
    }
    out
}

fn project_attr(
    def: &AttrDef,
    ext: Option<&str>,
    value: Value,
    attrs: &[String],
    excluded: &[String],
) -> Option<Value> {
    match def.returned {
        Returned::Never => return None,
        Returned::Always => return Some(value),
        _ => {}
    }
    let path = full_path(ext, def.name, None);
    let ext_prefix = ext.map(|e| e.to_ascii_lowercase());
    if !attrs.is_empty() {
        // The whole attribute was asked for, or the extension as a whole.
        if attrs
            .iter()
            .any(|a| *a == path || Some(a) == ext_prefix.as_ref())
        {
            return Some(value);
        }
        // Only some sub-attributes were asked for.
        let subs: Vec<&str> = attrs
            .iter()
            .filter_map(|a| a.strip_prefix(&format!("{path}.")))
            .collect();
        if subs.is_empty() || def.ty != AttrType::Complex {
            return None;
        }
        return keep_subs(def, value, |name| {
            subs.iter().any(|s| s.eq_ignore_ascii_case(name))
        });
    }
    if def.returned == Returned::Request {
        return None;
    }
    if excluded.contains(&path) {
        return None;
    }
    let gone: Vec<&str> = excluded
        .iter()
        .filter_map(|e| e.strip_prefix(&format!("{path}.")))
        .collect();
    if gone.is_empty() || def.ty != AttrType::Complex {
        return Some(value);
    }
    keep_subs(def, value, |name| {
        !gone.iter().any(|s| s.eq_ignore_ascii_case(name))
    })
}

/// Keeps only the sub-attributes `keep` accepts, in one complex value or in
/// each element of a multi-valued one.
fn keep_subs(def: &AttrDef, value: Value, keep: impl Fn(&str) -> bool) -> Option<Value> {
    let filter = |v: Value| -> Option<Value> {
        let Value::Object(fields) = v else {
            return None;
        };
        let kept: Map<String, Value> = fields
            .into_iter()
            .filter(|(k, _)| keep(k) || def.sub(k).is_some_and(|s| s.returned == Returned::Always))
            .collect();
        (!kept.is_empty()).then_some(Value::Object(kept))
    };
    match value {
        Value::Array(items) => {
            let kept: Vec<Value> = items.into_iter().filter_map(filter).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => filter(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_URN, USER_URN};
    use serde_json::json;

    fn user(v: Value) -> Result<Map<String, Value>, ScimError> {
        normalize(ResourceType::User, &v, Shape::Whole)
    }

    #[test]
    fn names_are_canonicalized_and_read_only_input_ignored() {
        let out = user(json!({
            "schemas": [USER_URN],
            "USERNAME": "bjensen",
            "Name": { "GivenName": "Barbara" },
            "id": "client-chosen",
            "meta": { "version": "x" },
            "groups": [],
            "nickName": null,
            "emails": [],
        }))
        .unwrap();
        assert_eq!(out.get("userName"), Some(&json!("bjensen")));
        assert_eq!(out.get("name"), Some(&json!({ "givenName": "Barbara" })));
        for gone in ["id", "meta", "groups", "nickName", "emails"] {
            assert!(!out.contains_key(gone), "{gone}");
        }
    }

    #[test]
    fn entra_booleans_and_bare_manager_are_coerced() {
        let out = user(json!({
            "schemas": [USER_URN, ENTERPRISE_URN],
            "userName": "a",
            "active": "False",
            ENTERPRISE_URN: { "manager": "boss-id", "department": "R&D" },
        }))
        .unwrap();
        assert_eq!(out["active"], json!(false));
        assert_eq!(
            out[ENTERPRISE_URN]["manager"],
            json!({ "value": "boss-id" })
        );
    }

    #[test]
    fn bad_input_is_refused_with_the_right_scim_type() {
        use super::super::error::ScimType;
        let cases = [
            (json!({ "userName": "a" }), ScimType::InvalidSyntax),
            (
                json!({ "schemas": ["urn:nope"], "userName": "a" }),
                ScimType::InvalidValue,
            ),
            (json!({ "schemas": [USER_URN] }), ScimType::InvalidValue),
            (
                json!({ "schemas": [USER_URN], "userName": "a", "shoeSize": 44 }),
                ScimType::InvalidValue,
            ),
            (
                json!({ "schemas": [USER_URN], "userName": 5 }),
                ScimType::InvalidValue,
            ),
            (
                json!({ "schemas": [USER_URN], "userName": "a", "active": "maybe" }),
                ScimType::InvalidValue,
            ),
            (
                json!({ "schemas": [USER_URN], "userName": ["a"] }),
                ScimType::InvalidValue,
            ),
            (
                json!({ "schemas": [USER_URN], "userName": "a", "emails": [
                    { "value": "a@x", "primary": true }, { "value": "b@x", "primary": true }
                ] }),
                ScimType::InvalidValue,
            ),
            (json!([1, 2]), ScimType::InvalidSyntax),
        ];
        for (input, expected) in cases {
            let err = user(input.clone()).unwrap_err();
            assert_eq!(err.scim_type, Some(expected), "{input}: {}", err.detail);
        }
    }

    #[test]
    fn values_over_the_limits_are_refused_naming_the_attribute() {
        use super::super::error::ScimType;
        use super::super::limits::{
            MAX_DISPLAY_NAME_CHARS, MAX_DOCUMENT_BYTES, MAX_STRING_CHARS, MAX_USER_NAME_CHARS,
            MAX_VALUES,
        };
        let emails = |n: usize| -> Value {
            (0..n)
                .map(|i| json!({ "value": format!("u{i}@example.com") }))
                .collect()
        };
        let long = |n: usize| "x".repeat(n);
        let cases = [
            (json!({ "userName": long(100_000) }), "`userName`"),
            (
                json!({ "userName": long(MAX_USER_NAME_CHARS + 1) }),
                "`userName`",
            ),
            (json!({ "externalId": long(257) }), "`externalId`"),
            (
                json!({ "displayName": long(MAX_DISPLAY_NAME_CHARS + 1) }),
                "`displayName`",
            ),
            (json!({ "emails": emails(MAX_VALUES + 1) }), "`emails`"),
            (
                json!({ "emails": [{ "value": "a@x", "display": long(MAX_STRING_CHARS + 1) }] }),
                "`emails.display`",
            ),
            (
                json!({ "name": { "givenName": long(5000) } }),
                "`name.givenName`",
            ),
            (
                json!({ ENTERPRISE_URN: { "manager": long(MAX_STRING_CHARS + 1) } }),
                "`manager.value`",
            ),
            (
                json!({ ENTERPRISE_URN: { "department": long(MAX_STRING_CHARS + 1) } }),
                "`department`",
            ),
            (
                // Each attribute under its cap, the whole over the size limit.
                json!({ "addresses": (0..40).map(|_| json!({ "formatted": long(2000) })).collect::<Value>() }),
                &format!("at most {MAX_DOCUMENT_BYTES}"),
            ),
        ];
        for (extra, names) in cases {
            let mut body = json!({ "schemas": [USER_URN, ENTERPRISE_URN], "userName": "a" });
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let err = user(body).unwrap_err();
            assert_eq!(
                err.scim_type,
                Some(ScimType::InvalidValue),
                "{}",
                err.detail
            );
            assert!(err.detail.contains(names), "{names}: {}", err.detail);
            assert!(err.detail.len() < 200, "no value echoed: {}", err.detail);
        }
    }

    #[test]
    fn values_at_the_limits_are_accepted() {
        use super::super::limits::{MAX_DISPLAY_NAME_CHARS, MAX_USER_NAME_CHARS, MAX_VALUES};
        let emails: Value = (0..MAX_VALUES)
            .map(|i| json!({ "value": format!("u{i}@example.com"), "type": "work" }))
            .collect();
        let out = user(json!({
            "schemas": [USER_URN],
            "userName": "u".repeat(MAX_USER_NAME_CHARS),
            "externalId": "e".repeat(256),
            "displayName": "d".repeat(MAX_DISPLAY_NAME_CHARS),
            "emails": emails,
        }))
        .unwrap();
        assert_eq!(out["emails"].as_array().map(Vec::len), Some(MAX_VALUES));
    }

    #[test]
    fn a_group_may_have_more_members_than_any_other_attribute_values() {
        use super::super::limits::MAX_VALUES;
        let members: Value = (0..MAX_VALUES * 20)
            .map(|_| json!({ "value": uuid::Uuid::now_v7() }))
            .collect();
        let out = normalize(
            ResourceType::Group,
            &json!({ "schemas": [crate::scim::schema::GROUP_URN], "displayName": "g", "members": members }),
            Shape::Whole,
        )
        .unwrap();
        assert_eq!(
            out["members"].as_array().map(Vec::len),
            Some(MAX_VALUES * 20)
        );
    }

    #[test]
    fn password_is_never_returned_and_projection_applies() {
        let full: Map<String, Value> = serde_json::from_value(json!({
            "schemas": [USER_URN],
            "id": "1",
            "userName": "a",
            "password": "secret",
            "name": { "givenName": "A", "familyName": "B" },
            "emails": [{ "value": "a@x", "type": "work" }],
        }))
        .unwrap();
        let all = project(ResourceType::User, full.clone(), &Projection::default());
        assert!(!all.contains_key("password"));
        assert!(all.contains_key("emails"));
        let only = project(
            ResourceType::User,
            full.clone(),
            &Projection::from_params(Some("userName,name.givenName"), None),
        );
        assert_eq!(
            Value::Object(only),
            json!({ "schemas": [USER_URN], "id": "1", "userName": "a", "name": { "givenName": "A" } })
        );
        let without = project(
            ResourceType::User,
            full,
            &Projection::from_params(None, Some("emails,name.familyName")),
        );
        assert!(!without.contains_key("emails"));
        assert_eq!(without["name"], json!({ "givenName": "A" }));
        assert_eq!(without["id"], json!("1"), "id is always returned");
    }
}
