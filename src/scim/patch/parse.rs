//! Reading a PatchOp request and its paths. The body is parsed by hand
//! because identity providers disagree on case (`Operations`, `op`) and on
//! blank paths; a path is resolved against the schema here, once, so that
//! application and [`scope`](super::scope) see the same [`Target`]. Value
//! paths go through the `scim_v2` crate's grammar ([`filter::parse_patch_path`]).

use scim_v2::filter::PatchPath;
use serde_json::{Map, Value};

use super::{OpKind, PatchOperation};
use crate::scim::error::ScimError;
use crate::scim::filter::{self, Expr};
use crate::scim::limits::MAX_PATCH_OPERATIONS;
use crate::scim::resource::extension_named;
use crate::scim::schema::{
    self, AttrDef, AttrType, Mutability, PATCH_URN, Resolved, ResourceType, SchemaDef,
};

/// Parses a PatchOp request body: `schemas` must include the PatchOp URN,
/// `Operations` (any case) must be a non-empty array of at most
/// [`MAX_PATCH_OPERATIONS`] operations, each with an `op` of add, replace or
/// remove (any case), a string `path` if any, and a `value` unless it is a
/// remove. Errors are `invalidSyntax`.
pub fn parse_request(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a PatchOp request must be a JSON object"))?;
    let is_patch = get_ci(obj, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(PATCH_URN))
            })
        });
    if !is_patch {
        return Err(ScimError::invalid_syntax(format!(
            "`schemas` must include {PATCH_URN}"
        )));
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("`Operations` must be an array"))?;
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("`Operations` is empty"));
    }
    if ops.len() > MAX_PATCH_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "at most {MAX_PATCH_OPERATIONS} operations are accepted in one request"
        )));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op))
        .collect()
}

fn parse_operation(i: usize, raw: &Value) -> Result<PatchOperation, ScimError> {
    let bad = |why: &str| ScimError::invalid_syntax(format!("Operations[{i}]: {why}"));
    let obj = raw.as_object().ok_or_else(|| bad("must be an object"))?;
    let op = get_ci(obj, "op")
        .and_then(Value::as_str)
        .and_then(OpKind::parse)
        .ok_or_else(|| bad("`op` must be add, replace or remove"))?;
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => return Err(bad("`path` must be a string")),
    };
    let value = get_ci(obj, "value").cloned();
    if op != OpKind::Remove && value.is_none() {
        return Err(bad(&format!("`{}` needs a `value`", op.as_str())));
    }
    Ok(PatchOperation { op, path, value })
}

/// A key of a JSON object, preferring the exact spelling.
pub(super) fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

pub(super) fn unknown(path: &str) -> ScimError {
    ScimError::invalid_path(format!("unknown attribute `{path}`"))
}

/// What a path names.
#[derive(Debug)]
pub(super) enum Target {
    /// A whole extension (`urn:…:enterprise:2.0:User`).
    Extension(&'static SchemaDef),
    /// An attribute, or one sub-attribute of it. On a multi-valued
    /// attribute, `filter` (a value path) narrows the elements concerned;
    /// a sub-attribute without a filter concerns every element.
    Attr { at: Resolved, filter: Option<Expr> },
}

impl Target {
    pub(super) fn read_only(&self) -> bool {
        match self {
            Target::Extension(_) => false,
            Target::Attr { at, .. } => {
                at.attr.mutability == Mutability::ReadOnly
                    || at.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
            }
        }
    }

    /// The canonical path, for messages.
    pub(super) fn label(&self) -> String {
        match self {
            Target::Extension(ext) => ext.id.to_string(),
            Target::Attr { at, .. } => canonical_path(at.extension, at.attr, at.sub),
        }
    }
}

pub(super) fn canonical_path(ext: Option<&str>, attr: &AttrDef, sub: Option<&AttrDef>) -> String {
    let mut p = String::new();
    if let Some(e) = ext {
        p.push_str(e);
        p.push(':');
    }
    p.push_str(attr.name);
    if let Some(s) = sub {
        p.push('.');
        p.push_str(s.name);
    }
    p
}

/// Resolves a PATCH path (`userName`, `name.givenName`, `urn:…:manager`,
/// `emails[type eq "work"].value`, an extension's URN) against the schema.
pub(super) fn parse_target(rt: ResourceType, raw: &str) -> Result<Target, ScimError> {
    let raw = raw.trim();
    if let Some(ext) = extension_named(rt, raw) {
        return Ok(Target::Extension(ext));
    }
    if raw.eq_ignore_ascii_case("schemas") {
        return Err(ScimError::mutability("`schemas` is read-only"));
    }
    if raw.contains('[') {
        return parse_value_path(rt, raw);
    }
    let (uri, name, sub) = schema::split_path(raw);
    let at = schema::resolve(rt, uri, name, sub).ok_or_else(|| unknown(raw))?;
    Ok(Target::Attr { at, filter: None })
}

fn parse_value_path(rt: ResourceType, raw: &str) -> Result<Target, ScimError> {
    let PatchPath::Value(vp) = filter::parse_patch_path(raw)? else {
        return Err(ScimError::invalid_path(format!("cannot parse `{raw}`")));
    };
    if vp.attr.sub_attr.is_some() {
        return Err(ScimError::invalid_path(format!(
            "`{}[…]`: a value filter applies to a multi-valued attribute",
            vp.attr
        )));
    }
    let outer = schema::resolve(rt, vp.attr.uri.as_deref(), &vp.attr.name, None)
        .ok_or_else(|| unknown(&vp.attr.to_string()))?;
    if !outer.attr.multi_valued || outer.attr.ty != AttrType::Complex {
        return Err(ScimError::invalid_path(format!(
            "`{}` is not a multi-valued complex attribute",
            outer.attr.name
        )));
    }
    let expr = filter::resolve_value_filter(rt, &outer, &vp.filter)?;
    let sub = match &vp.sub_attr {
        Some(s) => Some(
            outer
                .attr
                .sub(s)
                .ok_or_else(|| unknown(&format!("{}.{s}", outer.attr.name)))?,
        ),
        None => None,
    };
    Ok(Target::Attr {
        at: Resolved { sub, ..outer },
        filter: Some(expr),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use serde_json::json;

    #[test]
    fn request_parsing() {
        let ok = parse_request(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "operations": [
                { "op": "Add", "path": "members", "value": [] },
                { "op": "REPLACE", "path": " ", "value": { "active": false } },
                { "op": "Remove", "path": "emails" },
                { "op": "replace", "path": "nickName", "value": null }
            ]
        }))
        .unwrap();
        assert_eq!(ok[0].op, OpKind::Add);
        assert_eq!(ok[0].path.as_deref(), Some("members"));
        assert_eq!(ok[1].op, OpKind::Replace);
        assert_eq!(ok[1].path, None, "a blank path is no path");
        assert_eq!(ok[2].op, OpKind::Remove);
        assert_eq!(ok[2].value, None);
        assert_eq!(ok[3].value, Some(Value::Null), "an explicit null is kept");

        let op = json!({ "op": "add", "path": "x", "value": 1 });
        let too_many: Vec<Value> = (0..=MAX_PATCH_OPERATIONS).map(|_| op.clone()).collect();
        let at_limit: Vec<Value> = (0..MAX_PATCH_OPERATIONS).map(|_| op.clone()).collect();
        assert_eq!(
            parse_request(&json!({ "schemas": [PATCH_URN], "Operations": at_limit }))
                .unwrap()
                .len(),
            MAX_PATCH_OPERATIONS
        );
        let bad = [
            json!([]),
            json!({ "Operations": [op] }),
            json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": [op] }),
            json!({ "schemas": [PATCH_URN] }),
            json!({ "schemas": [PATCH_URN], "Operations": [] }),
            json!({ "schemas": [PATCH_URN], "Operations": op }),
            json!({ "schemas": [PATCH_URN], "Operations": too_many }),
            json!({ "schemas": [PATCH_URN], "Operations": ["add"] }),
            json!({ "schemas": [PATCH_URN], "Operations": [{ "op": "move", "path": "x" }] }),
            json!({ "schemas": [PATCH_URN], "Operations": [{ "path": "x", "value": 1 }] }),
            json!({ "schemas": [PATCH_URN], "Operations": [{ "op": "add", "path": 5, "value": 1 }] }),
            json!({ "schemas": [PATCH_URN], "Operations": [{ "op": "add", "path": "x" }] }),
            json!({ "schemas": [PATCH_URN], "Operations": [{ "op": "replace" }] }),
        ];
        for body in bad {
            let e = parse_request(&body).expect_err(&body.to_string());
            assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{body}");
        }
    }
}
