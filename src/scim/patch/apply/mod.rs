//! Applying parsed operations to a normalized document. This file finds
//! where each operation lands (a path, a path-less value's keys, an
//! extension) and hands it to the part that knows that kind of attribute:
//! [`single`] for single-valued and complex ones, [`lists`] for a
//! multi-valued attribute as a whole, [`value_path`] for the elements a
//! filter selects. [`outcome`] checks the result and says what changed.

mod lists;
mod outcome;
mod single;
mod value_path;

// `scope` must read a list value as `apply` does.
pub(super) use lists::elements;

use serde_json::{Map, Value};

use super::matching::matches;
use super::parse::{Target, parse_target, unknown};
use super::{OpKind, PatchOperation};
use crate::scim::error::ScimError;
use crate::scim::limits;
use crate::scim::schema::{Resolved, ResourceType, SchemaDef};

/// Applies `ops` in order to `doc`, a normalized document of type `rt`
/// (core attributes at the top level under canonical names, each
/// extension's in an object under its URN, never `id` or `meta`).
///
/// All or nothing: on error `doc` is left unchanged. Returns the canonical
/// paths of the attributes that changed (`name.givenName`, `emails`,
/// `urn:…:enterprise:2.0:User:manager`), in schema order and without
/// values, for the audit log; empty when the request changed nothing.
pub fn apply(
    rt: ResourceType,
    doc: &mut Map<String, Value>,
    ops: &[PatchOperation],
) -> Result<Vec<String>, ScimError> {
    let mut work = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        // Counts are checked after each operation, not only on the result:
        // a thousand operations must not build a huge document first.
        apply_op(rt, &mut work, op)
            .and_then(|()| limits::check_counts(rt, &work))
            .map_err(|e| in_operation(i, op, e))?;
    }
    work.retain(|_, v| outcome::prune(v));
    outcome::check_primaries(rt, &work)?;
    outcome::check_required(rt, &work)?;
    let changed = outcome::changed_paths(rt, doc, &work);
    *doc = work;
    Ok(changed)
}

/// Says which operation failed, so that an administrator reading the
/// identity provider's log can find it.
fn in_operation(i: usize, op: &PatchOperation, e: ScimError) -> ScimError {
    let path = op.path.as_deref().unwrap_or("(no path)");
    ScimError::new(
        e.status,
        e.scim_type,
        format!("Operations[{i}] ({} {path}): {}", op.op.as_str(), e.detail),
    )
}

fn apply_op(
    rt: ResourceType,
    doc: &mut Map<String, Value>,
    op: &PatchOperation,
) -> Result<(), ScimError> {
    let value = op.value.as_ref();
    match (&op.path, op.op) {
        (None, OpKind::Remove) => Err(ScimError::no_target("remove needs a `path`")),
        (None, kind) => apply_attributes(rt, doc, kind, value.unwrap_or(&Value::Null)),
        (Some(path), kind) => {
            let target = parse_target(rt, path)?;
            if target.read_only() {
                return Err(ScimError::mutability(format!(
                    "`{}` is read-only",
                    target.label()
                )));
            }
            apply_at(doc, kind, &target, value)
        }
    }
}

/// A path-less add or replace: each key of `value` is read as a path, so
/// that Entra ID's dotted and URN-qualified keys (`name.givenName`,
/// `urn:…:enterprise:2.0:User:department`) work like plain names.
/// Read-only attributes are ignored (RFC 7643 §2.2).
fn apply_attributes(
    rt: ResourceType,
    doc: &mut Map<String, Value>,
    kind: OpKind,
    value: &Value,
) -> Result<(), ScimError> {
    let obj = value.as_object().ok_or_else(|| {
        ScimError::invalid_value("without a `path`, `value` must be an object of attributes")
    })?;
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let target = parse_target(rt, key)?;
        if !target.read_only() {
            apply_at(doc, kind, &target, Some(v))?;
        }
    }
    Ok(())
}

/// Adds or replaces the attributes in an extension's object, each key
/// being a path inside the extension. Null replaces the whole extension
/// with nothing.
fn apply_extension(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    ext: &'static SchemaDef,
    value: &Value,
) -> Result<(), ScimError> {
    let fields = match value {
        Value::Null => {
            if kind == OpKind::Replace {
                doc.remove(ext.id);
            }
            return Ok(());
        }
        Value::Object(fields) => fields,
        _ => {
            return Err(ScimError::invalid_value(format!(
                "`{}` must be an object",
                ext.id
            )));
        }
    };
    for (key, v) in fields {
        // Some clients repeat the extension's URN inside its object.
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let (name, sub) = match key.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (key.as_str(), None),
        };
        let attr = ext
            .attr(name)
            .ok_or_else(|| unknown(&format!("{}:{key}", ext.id)))?;
        let sub = match sub {
            Some(s) => Some(
                attr.sub(s)
                    .ok_or_else(|| unknown(&format!("{}:{key}", ext.id)))?,
            ),
            None => None,
        };
        let target = Target::Attr {
            at: Resolved {
                extension: Some(ext.id),
                attr,
                sub,
            },
            filter: None,
        };
        if !target.read_only() {
            apply_at(doc, kind, &target, Some(v))?;
        }
    }
    Ok(())
}

/// Applies one operation at a resolved target.
fn apply_at(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    target: &Target,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let (at, filter) = match target {
        Target::Extension(ext) => {
            return match kind {
                OpKind::Remove => {
                    doc.remove(ext.id);
                    Ok(())
                }
                _ => apply_extension(doc, kind, ext, value.unwrap_or(&Value::Null)),
            };
        }
        Target::Attr { at, filter } => (at, filter.as_ref()),
    };
    let holder = object_at(doc, at.extension);
    if !at.attr.multi_valued {
        return single::apply_single(holder, kind, at, value);
    }
    let list = list_at(holder, at.attr.name);
    if filter.is_none() && at.sub.is_none() {
        return lists::apply_whole_list(list, kind, at.attr, value);
    }
    let hits: Vec<usize> = (0..list.len())
        .filter(|&i| filter.is_none_or(|f| matches(&list[i], f)))
        .collect();
    match kind {
        OpKind::Remove => value_path::remove_selected(list, at, &hits),
        OpKind::Replace if hits.is_empty() => Err(ScimError::no_target(format!(
            "no value of `{}` matches the path",
            at.attr.name
        ))),
        OpKind::Replace => value_path::replace_selected(list, at, &hits, value),
        OpKind::Add if hits.is_empty() => value_path::add_new_element(list, at, filter, value),
        OpKind::Add => value_path::add_to_selected(list, at, &hits, value),
    }
}

/// The object holding an attribute: the document, or an extension's
/// object in it (created if missing; an empty one is pruned at the end).
fn object_at<'a>(doc: &'a mut Map<String, Value>, ext: Option<&str>) -> &'a mut Map<String, Value> {
    match ext {
        None => doc,
        Some(urn) => object_in(doc, urn),
    }
}

fn object_in<'a>(holder: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = holder
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("made an object above")
}

fn list_at<'a>(holder: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let slot = holder
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut().expect("made an array above")
}

#[cfg(test)]
mod tests {
    use crate::scim::patch::fixtures::*;

    #[test]
    fn user_operations_find_their_attributes() {
        let cases = vec![
            Case {
                name: "RFC 7644 §3.5.2.1 add without a path",
                ops: json!([{ "op": "add", "value": {
                    "emails": [{ "value": "babs@example.org", "type": "other" }],
                    "nickname": "Barbie"
                }}]),
                expect: vec![
                    ("/emails/2/value", json!("babs@example.org")),
                    ("/emails/0/primary", json!(true)),
                    ("/nickName", json!("Barbie")),
                ],
                changed: Some(vec!["nickName", "emails"]),
            },
            case(
                "RFC 7644 §3.5.2.3 replace without a path replaces lists wholesale",
                json!([{ "op": "replace", "value": {
                    "emails": [{ "value": "bjensen@example.com", "type": "work" }],
                    "nickName": "Babs2"
                }}]),
                vec![
                    (
                        "/emails/0",
                        json!({ "value": "bjensen@example.com", "type": "work" }),
                    ),
                    ("/emails/1", Value::Null),
                    ("/nickName", json!("Babs2")),
                    ("/name/givenName", json!("Barbara")),
                ],
            ),
            Case {
                name: "Okta deactivation",
                ops: json!([{ "op": "replace", "value": { "active": false } }]),
                expect: vec![("/active", json!(false))],
                changed: Some(vec!["active"]),
            },
            Case {
                name: "Entra dotted keys without a path",
                ops: json!([{ "op": "Replace", "value": { "name.givenName": "Barb", "name.familyName": "J" } }]),
                expect: vec![
                    ("/name/givenName", json!("Barb")),
                    ("/name/familyName", json!("J")),
                    ("/name/formatted", json!("Ms. Barbara J Jensen III")),
                ],
                changed: Some(vec!["name.familyName", "name.givenName"]),
            },
            Case {
                name: "Entra URN-qualified keys without a path",
                ops: json!([{ "op": "Add", "value": {
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D",
                    "urn:ietf:params:scim:schemas:core:2.0:User:title": "Boss",
                    "externalId": "new-ext"
                }}]),
                expect: vec![
                    ("/ent/department", json!("R&D")),
                    ("/ent/employeeNumber", json!("701984")),
                    ("/title", json!("Boss")),
                    ("/externalId", json!("new-ext")),
                ],
                changed: Some(vec![
                    "title",
                    "externalId",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                ]),
            },
            case(
                "core URN path",
                json!([{ "op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", "value": "B" }]),
                vec![("/name/givenName", json!("B"))],
            ),
            case(
                "paths are case-insensitive",
                json!([
                    { "op": "replace", "path": "NAME.GIVENNAME", "value": "B" },
                    { "op": "replace", "path": "Urn:Ietf:Params:Scim:Schemas:Extension:Enterprise:2.0:user:DEPARTMENT", "value": "X" },
                    { "op": "replace", "path": "EMAILS[TYPE EQ \"WORK\"].VALUE", "value": "w@x" }
                ]),
                vec![
                    ("/name/givenName", json!("B")),
                    ("/ent/department", json!("X")),
                    ("/emails/0/value", json!("w@x")),
                ],
            ),
            case(
                "extension object without a path; read-only manager.displayName ignored",
                json!([{ "op": "add", "value": { ENT: {
                    "costCenter": "4130",
                    "manager": { "value": "m", "displayName": "Boss" }
                }}}]),
                vec![
                    ("/ent/costCenter", json!("4130")),
                    ("/ent/manager", json!({ "value": "m" })),
                    ("/ent/department", json!("Tour Operations")),
                ],
            ),
            case(
                "extension URN as the path",
                json!([{ "op": "replace", "path": ENT, "value": { "division": "Theme Park" } }]),
                vec![
                    ("/ent/division", json!("Theme Park")),
                    ("/ent/department", json!("Tour Operations")),
                ],
            ),
            case(
                "removing the extension",
                json!([{ "op": "remove", "path": ENT }]),
                vec![("/ent", Value::Null)],
            ),
            case(
                "replacing the extension with null",
                json!([{ "op": "replace", "value": { ENT: null } }]),
                vec![("/ent", Value::Null)],
            ),
            Case {
                name: "read-only attributes in a path-less value are ignored",
                ops: json!([{ "op": "replace", "value": {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "id": "other", "meta": { "version": "W/\"x\"" }, "groups": [{ "value": "g" }],
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName": "ignored",
                    "displayName": "D"
                }}]),
                expect: vec![
                    ("/displayName", json!("D")),
                    ("/id", Value::Null),
                    ("/groups", Value::Null),
                ],
                changed: Some(vec!["displayName"]),
            },
            Case {
                name: "operations apply in order",
                ops: json!([
                    { "op": "add", "path": "emails", "value": [{ "value": "tmp@x", "type": "other" }] },
                    { "op": "replace", "path": "emails[value eq \"tmp@x\"].type", "value": "home" },
                    { "op": "remove", "path": "emails[value eq \"tmp@x\"]" }
                ]),
                expect: vec![("/emails/2", Value::Null)],
                changed: Some(vec![]),
            },
        ];
        run_cases(ResourceType::User, &user(), cases);
    }
}
