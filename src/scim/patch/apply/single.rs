//! Single-valued attributes and the sub-attributes of complex values: the
//! rules that keep a complex value coherent when part of it changes (a new
//! `value` drops the `$ref` and display that described the old one) and
//! that keep immutable values unchanged once set.

use serde_json::{Map, Value};

use super::object_in;
use crate::scim::error::ScimError;
use crate::scim::patch::OpKind;
use crate::scim::patch::matching::is_present;
use crate::scim::resource::check_value;
use crate::scim::schema::{AttrDef, AttrType, Mutability, Resolved};

/// A single-valued attribute or one of its sub-attributes. `add` and
/// `replace` both set the value (RFC 7644 §3.5.2.1: add replaces a
/// single value) and merge a complex one sub-attribute by sub-attribute
/// (§3.5.2.3); they differ on null, which `replace` reads as unassign.
pub(super) fn apply_single(
    holder: &mut Map<String, Value>,
    kind: OpKind,
    at: &Resolved,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let attr = at.attr;
    let value = value.unwrap_or(&Value::Null);
    match (kind, at.sub) {
        (OpKind::Remove, None) => {
            if attr.required {
                return Err(ScimError::mutability(format!(
                    "`{}` is required and cannot be removed",
                    attr.name
                )));
            }
            guard_immutable(attr, holder.get(attr.name), None)?;
            holder.remove(attr.name);
        }
        (OpKind::Remove, Some(sub)) => {
            if let Some(Value::Object(current)) = holder.get_mut(attr.name) {
                set_sub(current, sub, None)?;
            }
        }
        (kind, Some(sub)) => {
            let new = check_value(sub, value)?;
            if new.is_some() || kind == OpKind::Replace {
                set_sub(object_in(holder, attr.name), sub, new)?;
            }
        }
        (kind, None) if value.is_null() => {
            if kind == OpKind::Replace {
                guard_immutable(attr, holder.get(attr.name), None)?;
                holder.remove(attr.name);
            }
        }
        (_, None) if attr.ty == AttrType::Complex => {
            merge_complex(attr, object_in(holder, attr.name), value)?;
        }
        (_, None) => {
            let new = check_value(attr, value)?;
            guard_immutable(attr, holder.get(attr.name), new.as_ref())?;
            match new {
                Some(v) => holder.insert(attr.name.to_string(), v),
                None => holder.remove(attr.name),
            };
        }
    }
    Ok(())
}

/// Merges a client's complex value into `current`, sub-attribute by
/// sub-attribute: a null sub-attribute is unassigned, a read-only one
/// ignored. A bare string stands for the `value` sub-attribute (Entra ID's
/// manager).
fn merge_complex(
    attr: &AttrDef,
    current: &mut Map<String, Value>,
    value: &Value,
) -> Result<(), ScimError> {
    let incoming: Map<String, Value> = match value {
        Value::Object(fields) => fields.clone(),
        Value::String(s) if attr.sub("value").is_some() => {
            Map::from_iter([("value".to_string(), Value::String(s.clone()))])
        }
        other => {
            // `check_value` words the type error; anything it accepts was
            // handled above.
            check_value(attr, other)?;
            return Err(ScimError::invalid_value(format!(
                "`{}` must be a complex value",
                attr.name
            )));
        }
    };
    for (key, v) in value_first(&incoming) {
        let sub = attr.sub(key).ok_or_else(|| {
            ScimError::invalid_value(format!("unknown attribute `{}.{key}`", attr.name))
        })?;
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        set_sub(current, sub, check_value(sub, v)?)?;
    }
    Ok(())
}

/// The entries of a complex value with `value` first: setting it drops the
/// sub-attributes that described the old value (see [`set_sub`]), which
/// the same object may set again.
pub(super) fn value_first(fields: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = fields.iter().collect();
    entries.sort_by_key(|(k, _)| !k.eq_ignore_ascii_case("value"));
    entries
}

/// Sets (or, with `None`, unassigns) one sub-attribute of a complex value.
/// When `value` changes, `$ref` and `display`/`displayName` go with it:
/// they described the old value (a new manager must not keep the old
/// manager's `$ref`).
pub(super) fn set_sub(
    current: &mut Map<String, Value>,
    sub: &AttrDef,
    new: Option<Value>,
) -> Result<(), ScimError> {
    let old = current.get(sub.name);
    if old == new.as_ref() {
        return Ok(());
    }
    guard_immutable(sub, old, new.as_ref())?;
    if sub.name == "value" {
        for derived in ["$ref", "display", "displayName"] {
            current.remove(derived);
        }
    }
    match new {
        Some(v) => current.insert(sub.name.to_string(), v),
        None => current.remove(sub.name),
    };
    Ok(())
}

/// RFC 7643 §2.2: an immutable attribute may be set when it has no value,
/// never changed afterwards.
pub(super) fn guard_immutable(
    def: &AttrDef,
    old: Option<&Value>,
    new: Option<&Value>,
) -> Result<(), ScimError> {
    if def.mutability == Mutability::Immutable && old.is_some_and(is_present) && old != new {
        return Err(ScimError::mutability(format!(
            "`{}` is immutable",
            def.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::scim::patch::fixtures::*;

    #[test]
    fn single_valued_user_operations() {
        let cases = vec![
            case(
                "Entra string boolean and capitalised op",
                json!([{ "op": "Replace", "path": "active", "value": "False" }]),
                vec![("/active", json!(false))],
            ),
            Case {
                name: "Entra manager as a bare id drops the old $ref",
                ops: json!([{ "op": "Replace", "path": MANAGER, "value": "boss-2" }]),
                expect: vec![("/ent/manager", json!({ "value": "boss-2" }))],
                changed: Some(vec![MANAGER]),
            },
            case(
                "manager as {value}",
                json!([{ "op": "Add", "path": MANAGER, "value": { "value": "boss-3" } }]),
                vec![("/ent/manager", json!({ "value": "boss-3" }))],
            ),
            case(
                "manager with the same value keeps its $ref",
                json!([{ "op": "Add", "path": MANAGER, "value": { "value": "26118915" } }]),
                vec![("/ent/manager/$ref", json!("../Users/26118915"))],
            ),
            case(
                "manager and $ref set together",
                json!([{ "op": "replace", "path": MANAGER, "value": { "$ref": "../Users/b4", "value": "b4" } }]),
                vec![(
                    "/ent/manager",
                    json!({ "value": "b4", "$ref": "../Users/b4" }),
                )],
            ),
            Case {
                name: "Entra manager removal by an empty string",
                ops: json!([{ "op": "Replace", "path": MANAGER, "value": "" }]),
                expect: vec![
                    ("/ent/manager", Value::Null),
                    ("/ent/department", json!("Tour Operations")),
                ],
                changed: Some(vec![MANAGER]),
            },
            case(
                "Entra manager removal by an empty value",
                json!([{ "op": "Replace", "path": MANAGER, "value": { "value": "" } }]),
                vec![("/ent/manager", Value::Null)],
            ),
            case(
                "manager removal by remove",
                json!([{ "op": "Remove", "path": MANAGER }]),
                vec![("/ent/manager", Value::Null)],
            ),
            case(
                "manager.value removal takes the manager",
                json!([{ "op": "remove", "path": format!("{MANAGER}.value") }]),
                vec![("/ent/manager", Value::Null)],
            ),
            Case {
                name: "remove a sub-attribute",
                ops: json!([{ "op": "remove", "path": "name.givenName" }]),
                expect: vec![
                    ("/name/givenName", Value::Null),
                    ("/name/familyName", json!("Jensen")),
                ],
                changed: Some(vec!["name.givenName"]),
            },
            case(
                "replace with null or empty unassigns",
                json!([
                    { "op": "replace", "path": "nickName", "value": null },
                    { "op": "replace", "value": { "title": "", "name": { "formatted": null } } }
                ]),
                vec![
                    ("/nickName", Value::Null),
                    ("/title", Value::Null),
                    ("/name/formatted", Value::Null),
                    ("/name/givenName", json!("Barbara")),
                ],
            ),
            case(
                "add with null changes nothing",
                json!([{ "op": "add", "path": "nickName", "value": null }]),
                vec![("/nickName", json!("Babs"))],
            ),
            case(
                "replace of a complex attribute merges sub-attributes",
                json!([{ "op": "replace", "path": "name", "value": { "givenName": "B" } }]),
                vec![
                    ("/name/givenName", json!("B")),
                    ("/name/familyName", json!("Jensen")),
                ],
            ),
            case(
                "add creates a missing complex attribute",
                json!([
                    { "op": "remove", "path": "name" },
                    { "op": "add", "path": "name.middleName", "value": "Jane" }
                ]),
                vec![("/name", json!({ "middleName": "Jane" }))],
            ),
        ];
        run_cases(ResourceType::User, &user(), cases);
    }
}
