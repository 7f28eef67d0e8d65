//! What must hold once every operation has run, checked on the result
//! rather than per operation because a later operation may repair what an
//! earlier one left (two primaries, an emptied required attribute); and
//! the list of changed paths, which the audit record carries instead of
//! values.

use serde_json::{Map, Value};

use super::lists::{is_primary, too_many_primaries};
use crate::scim::error::ScimError;
use crate::scim::patch::parse::canonical_path;
use crate::scim::schema::{AttrDef, AttrType, COMMON, ResourceType};

/// Drops what is unassigned: nulls, empty strings, and objects and lists
/// left empty. Returns whether `value` is kept.
pub(super) fn prune(value: &mut Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => {
            items.retain_mut(prune);
            !items.is_empty()
        }
        Value::Object(fields) => {
            fields.retain(|_, v| prune(v));
            !fields.is_empty()
        }
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Every attribute definition of a resource type with where it lives.
fn all_attributes(rt: ResourceType) -> Vec<(Option<&'static str>, &'static AttrDef)> {
    let common: &'static Vec<AttrDef> = &COMMON;
    let mut out: Vec<(Option<&'static str>, &'static AttrDef)> = rt
        .schema()
        .attributes
        .iter()
        .chain(common.iter())
        .map(|a| (None, a))
        .collect();
    for ext in rt.extensions() {
        out.extend(ext.attributes.iter().map(|a| (Some(ext.id), a)));
    }
    out
}

fn lookup<'a>(doc: &'a Map<String, Value>, ext: Option<&str>, name: &str) -> Option<&'a Value> {
    match ext {
        None => doc.get(name),
        Some(urn) => doc.get(urn)?.get(name),
    }
}

/// A safety net behind [`settle_primary`](super::lists::settle_primary):
/// the result never has two primary values.
pub(super) fn check_primaries(rt: ResourceType, doc: &Map<String, Value>) -> Result<(), ScimError> {
    for (ext, def) in all_attributes(rt) {
        if let Some(Value::Array(items)) = lookup(doc, ext, def.name)
            && items.iter().filter(|e| is_primary(e)).count() > 1
        {
            return Err(too_many_primaries(def));
        }
    }
    Ok(())
}

/// A `replace` with null or "" must not leave a required attribute
/// unassigned.
pub(super) fn check_required(rt: ResourceType, doc: &Map<String, Value>) -> Result<(), ScimError> {
    for def in rt.schema().attributes.iter().filter(|a| a.required) {
        let present = doc
            .get(def.name)
            .is_some_and(|v| v.as_str().is_none_or(|s| !s.trim().is_empty()));
        if !present {
            return Err(ScimError::invalid_value(format!(
                "`{}` is required",
                def.name
            )));
        }
    }
    Ok(())
}

/// The canonical paths of the attributes that differ, in schema order.
/// A complex attribute like `name` reports its sub-attributes; one that
/// stands for a value (`manager`, with `value`) reports itself.
pub(super) fn changed_paths(
    rt: ResourceType,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (ext, def) in all_attributes(rt) {
        let (b, a) = (lookup(before, ext, def.name), lookup(after, ext, def.name));
        if b == a {
            continue;
        }
        let by_sub = def.ty == AttrType::Complex && !def.multi_valued && def.sub("value").is_none();
        match (b, a) {
            (Some(Value::Object(b)), Some(Value::Object(a))) if by_sub => {
                for sub in &def.sub_attributes {
                    if b.get(sub.name) != a.get(sub.name) {
                        out.push(canonical_path(ext, def, Some(sub)));
                    }
                }
            }
            _ => out.push(canonical_path(ext, def, None)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::scim::patch::fixtures::*;

    #[test]
    fn changed_paths_name_attributes_without_values() {
        let cases = vec![
            Case {
                name: "a password change is reported by name only",
                ops: json!([{ "op": "replace", "path": "password", "value": "t1meMa$heen" }]),
                expect: vec![("/password", json!("t1meMa$heen"))],
                changed: Some(vec!["password"]),
            },
            Case {
                name: "manager reported as a whole, name by sub-attribute",
                ops: json!([{ "op": "replace", "value": {
                    "name": { "givenName": "X" },
                    ENT: { "manager": "boss-9" }
                }}]),
                expect: vec![],
                changed: Some(vec!["name.givenName", MANAGER]),
            },
        ];
        run_cases(ResourceType::User, &user(), cases);
    }
}
