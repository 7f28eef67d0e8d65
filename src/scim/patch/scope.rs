//! Which elements of a multi-valued attribute a PATCH request can touch, so
//! that a Group's PATCH reads and writes only the members it names rather
//! than all of them: a group may have 100,000 members, and adding one must
//! cost what it costs in a small group.
//!
//! The answer has to agree with [`apply`](fn@super::apply): applying the
//! operations to a document that holds only the named elements must
//! change those exactly as it would in the whole list, and leave the
//! others alone. So only the forms that pick elements by their `value` are
//! scoped, which are the ones identity providers send for memberships:
//! - `add` on the attribute (Okta, Entra ID): an element with a `value`
//!   merges into the element with that value, if any; one without a
//!   `value` is appended and meets no other element;
//! - `remove` on the attribute with a list of elements that all have a
//!   `value` (Entra ID);
//! - any operation on a value path whose filter requires `value eq "…"`
//!   (Okta's `members[value eq "…"]`), alone or joined by `and`.
//!
//! Anything else that concerns the attribute (a `replace` of the list, a
//! `remove` of all of it, another filter, a sub-attribute of every element,
//! a path-less value naming it) has no scope: the caller loads every
//! element. Operations on other attributes do not matter, and neither do
//! operations that fail whatever the document holds (an unparsable path, a
//! mistyped value): the request fails the same way either way.

use std::ptr;

use serde_json::Value;

use super::apply::elements;
use super::parse::{Target, parse_target};
use super::{OpKind, PatchOperation};
use crate::scim::filter::{Expr, Literal, Op};
use crate::scim::resource::check_value;
use crate::scim::schema::{AttrDef, ResourceType};

/// Strings that name every element of `attr` (a multi-valued complex core
/// attribute of `rt`) that `ops` can touch or create, or `None` when some
/// operation may touch elements it does not name. The strings are the
/// `value eq` literals of value paths and every string in the values of
/// the operations that concern `attr`: an element is touched through its
/// `value`, and a new one gets its `value` from the request. Some strings
/// name nothing (a `display`); the caller looks them up and ignores those.
/// Like [`apply`](fn@super::apply), the caller must compare them without
/// regard to case where `value` is not caseExact.
pub fn named_values(
    rt: ResourceType,
    attr: &'static AttrDef,
    ops: &[PatchOperation],
) -> Option<Vec<String>> {
    let mut named = Vec::new();
    for op in ops {
        let Some(path) = &op.path else {
            if path_less_concerns(rt, attr, op) {
                return None;
            }
            continue;
        };
        // A path that does not resolve, or names something read-only,
        // fails whatever the document holds.
        let Ok(target) = parse_target(rt, path) else {
            continue;
        };
        if target.read_only() {
            continue;
        }
        let Target::Attr { at, filter } = target else {
            continue;
        };
        if !ptr::eq(at.attr, attr) {
            continue;
        }
        match (op.op, &filter, at.sub) {
            (_, Some(f), _) => named.push(value_eq(attr, f)?),
            (OpKind::Add, None, None) => {}
            (OpKind::Remove, None, None) if op.value.as_ref().is_some_and(|v| !v.is_null()) => {
                if !all_keyed(attr, op.value.as_ref()) {
                    return None;
                }
            }
            _ => return None,
        }
        if let Some(v) = &op.value {
            strings_in(v, &mut named);
        }
    }
    Some(named)
}

/// Whether a path-less add or replace names `attr` among its keys.
fn path_less_concerns(rt: ResourceType, attr: &AttrDef, op: &PatchOperation) -> bool {
    let Some(Value::Object(fields)) = &op.value else {
        return false;
    };
    fields.keys().any(|key| match parse_target(rt, key) {
        Ok(Target::Attr { at, .. }) => ptr::eq(at.attr, attr),
        _ => false,
    })
}

/// The literal of a `value eq "…"` term that the filter requires.
fn value_eq(attr: &AttrDef, expr: &Expr) -> Option<String> {
    let value = attr.sub("value")?;
    match expr {
        Expr::Compare(r, Op::Eq, Literal::Str(s)) if r.sub.is_some_and(|s| ptr::eq(s, value)) => {
            Some(s.clone())
        }
        Expr::And(items) => items.iter().find_map(|e| value_eq(attr, e)),
        _ => None,
    }
}

/// Whether every element a remove lists has a `value`: a remove of
/// `{"display": "x"}` picks elements by something else. A value refused
/// whatever the document holds counts as keyed: the request fails anyway.
fn all_keyed(attr: &AttrDef, value: Option<&Value>) -> bool {
    let Ok(checked) = check_value(attr, value.unwrap_or(&Value::Null)) else {
        return true;
    };
    elements(checked)
        .iter()
        .all(|e| e.get("value").is_some_and(Value::is_string))
}

fn strings_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings_in(i, out)),
        Value::Object(fields) => fields.values().for_each(|f| strings_in(f, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::patch::parse_request;
    use crate::scim::schema::{GROUP, PATCH_URN, USER};
    use serde_json::json;

    fn members() -> &'static AttrDef {
        GROUP.attr("members").unwrap()
    }

    /// Sorted: the order of the strings does not matter.
    fn strings(s: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = s.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    fn scope(ops: Value) -> Option<Vec<String>> {
        let ops = parse_request(&json!({ "schemas": [PATCH_URN], "Operations": ops })).unwrap();
        named_values(ResourceType::Group, members(), &ops).map(|mut v| {
            v.sort();
            v
        })
    }

    #[test]
    fn identity_provider_membership_changes_are_scoped_to_their_members() {
        let okta = scope(json!([
            { "op": "add", "path": "members", "value": [{ "value": "a", "display": "A" }, { "value": "b" }] },
            { "op": "remove", "path": "members[value eq \"c\"]" },
        ]));
        assert_eq!(okta, Some(strings(&["a", "A", "b", "c"])));
        let entra = scope(json!([
            { "op": "Add", "path": "members", "value": [{ "value": "d" }] },
            { "op": "Remove", "path": "members", "value": [{ "value": "e" }] },
        ]));
        assert_eq!(entra, Some(strings(&["d", "e"])));
        let narrowed = scope(json!([
            { "op": "replace", "path": "members[value eq \"f\" and type eq \"User\"].display", "value": "F" },
        ]));
        assert_eq!(narrowed, Some(strings(&["f", "F"])));
        let moved = scope(json!([
            { "op": "add", "path": "members[value eq \"g\"]", "value": { "value": "h" } },
        ]));
        assert_eq!(
            moved,
            Some(strings(&["g", "h"])),
            "a new element's value comes from the request"
        );
        let rename = scope(json!([
            { "op": "replace", "path": "displayName", "value": "New" },
            { "op": "replace", "value": { "displayName": "Newer", "id": "x" } },
        ]));
        assert_eq!(rename, Some(vec![]), "other attributes do not matter");
    }

    #[test]
    fn anything_that_can_touch_unnamed_members_has_no_scope() {
        for ops in [
            json!([{ "op": "replace", "path": "members", "value": [{ "value": "a" }] }]),
            json!([{ "op": "remove", "path": "members" }]),
            json!([{ "op": "remove", "path": "members", "value": [{ "display": "A" }] }]),
            json!([{ "op": "remove", "path": "members[display eq \"A\"]" }]),
            json!([{ "op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]" }]),
            json!([{ "op": "remove", "path": "members[value ne \"a\"]" }]),
            json!([{ "op": "remove", "path": "members.display" }]),
            json!([{ "op": "add", "value": { "members": [{ "value": "a" }] } }]),
            json!([
                { "op": "add", "path": "members", "value": [{ "value": "a" }] },
                { "op": "replace", "path": "members", "value": [] },
            ]),
        ] {
            assert_eq!(scope(ops.clone()), None, "{ops}");
        }
    }

    #[test]
    fn operations_refused_whatever_the_document_holds_do_not_widen_the_scope() {
        let s = scope(json!([
            { "op": "add", "path": "members", "value": [{ "value": 5 }] },
            { "op": "add", "path": "nope", "value": 1 },
            { "op": "replace", "path": "members[value eq \"b\"].value", "value": "c" },
            { "op": "add", "path": "members", "value": [{ "value": "a" }] },
        ]));
        assert_eq!(s, Some(strings(&["b", "c", "a"])));
    }

    #[test]
    fn another_attribute_is_not_confused_with_the_one_scoped() {
        let emails = USER.attr("emails").unwrap();
        let ops = parse_request(&json!({ "schemas": [PATCH_URN], "Operations": [
            { "op": "replace", "path": "emails", "value": [] },
        ] }))
        .unwrap();
        assert_eq!(named_values(ResourceType::User, emails, &ops), None);
        assert_eq!(
            named_values(ResourceType::Group, members(), &ops),
            Some(vec![]),
            "emails is not a Group attribute: the path fails whatever the group holds"
        );
    }
}
