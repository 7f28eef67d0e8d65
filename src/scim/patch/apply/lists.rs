//! Multi-valued attributes taken as a whole (`emails`, `members`): append
//! without duplicates, replace, remove the listed elements, and keep at
//! most one element primary. How an element is told from another lives
//! here too, because append and remove-by-value must agree on it.

use serde_json::Value;

use super::single::{set_sub, value_first};
use crate::scim::error::ScimError;
use crate::scim::patch::OpKind;
use crate::scim::resource::check_value;
use crate::scim::schema::{AttrDef, Mutability};

/// A multi-valued attribute named without a filter or sub-attribute:
/// add appends, replace replaces the list, remove removes the list or,
/// given a value, only the listed elements (Entra ID's member removal).
pub(super) fn apply_whole_list(
    list: &mut Vec<Value>,
    kind: OpKind,
    attr: &AttrDef,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.unwrap_or(&Value::Null);
    match kind {
        OpKind::Remove if value.is_null() => list.clear(),
        OpKind::Remove => {
            let listed = elements(check_value(attr, value)?);
            list.retain(|e| !listed.iter().any(|l| contains(attr, e, l)));
        }
        OpKind::Replace => *list = elements(check_value(attr, value)?),
        OpKind::Add => append(list, attr, elements(check_value(attr, value)?))?,
    }
    Ok(())
}

/// The elements of a checked value of a multi-valued attribute: a single
/// value stands for a list of one.
pub(in crate::scim::patch) fn elements(checked: Option<Value>) -> Vec<Value> {
    match checked {
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

/// Appends elements, skipping those already there. Where `value` is
/// immutable (Group members), it identifies the element: adding a member
/// that is already there merges into it instead of duplicating it.
pub(super) fn append(
    list: &mut Vec<Value>,
    attr: &AttrDef,
    items: Vec<Value>,
) -> Result<(), ScimError> {
    let keyed = attr
        .default_sub()
        .is_some_and(|v| v.mutability == Mutability::Immutable);
    let mut touched = Vec::new();
    for item in items {
        if list.iter().any(|e| same_element(attr, e, &item)) {
            continue;
        }
        let existing = if keyed {
            list.iter()
                .position(|e| item.get("value").is_some() && contains_sub(attr, e, &item, "value"))
        } else {
            None
        };
        match existing {
            Some(i) => {
                merge_element(attr, &mut list[i], &item)?;
                touched.push(i);
            }
            None => {
                list.push(item);
                touched.push(list.len() - 1);
            }
        }
    }
    settle_primary(list, attr, &touched)
}

/// Merges a checked element into an existing one, sub-attribute by
/// sub-attribute.
pub(super) fn merge_element(
    attr: &AttrDef,
    current: &mut Value,
    item: &Value,
) -> Result<(), ScimError> {
    let (Value::Object(current), Value::Object(fields)) = (current, item) else {
        return Ok(());
    };
    for (key, v) in value_first(fields) {
        if let Some(sub) = attr.sub(key) {
            set_sub(current, sub, Some(v.clone()))?;
        }
    }
    Ok(())
}

/// RFC 7643 §2.4: at most one element is primary. When the elements at
/// `touched` were just written, one of them being primary takes the flag
/// from the others (the server may do this); two of them is an error.
pub(super) fn settle_primary(
    list: &mut [Value],
    attr: &AttrDef,
    touched: &[usize],
) -> Result<(), ScimError> {
    let mut winners = touched.iter().copied().filter(|&i| is_primary(&list[i]));
    let Some(winner) = winners.next() else {
        return Ok(());
    };
    if winners.any(|i| i != winner) {
        return Err(too_many_primaries(attr));
    }
    for (i, e) in list.iter_mut().enumerate() {
        if i != winner
            && is_primary(e)
            && let Value::Object(fields) = e
        {
            fields.remove("primary");
        }
    }
    Ok(())
}

pub(super) fn is_primary(element: &Value) -> bool {
    element.get("primary").and_then(Value::as_bool) == Some(true)
}

pub(super) fn too_many_primaries(attr: &AttrDef) -> ScimError {
    ScimError::invalid_value(format!("at most one `{}` value may be primary", attr.name))
}

/// Two elements hold the same sub-attributes with equal values.
fn same_element(attr: &AttrDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && contains(attr, a, b),
        _ => a == b,
    }
}

/// Every sub-attribute of `listed` is in `element` with an equal value: how
/// a `remove` with a value (`[{"value": "id"}]`) picks elements.
fn contains(attr: &AttrDef, element: &Value, listed: &Value) -> bool {
    match listed {
        // `value` first: it tells most elements apart, and this runs for
        // every pair of elements.
        Value::Object(fields) => {
            (!fields.contains_key("value") || contains_sub(attr, element, listed, "value"))
                && fields
                    .keys()
                    .filter(|k| *k != "value")
                    .all(|k| contains_sub(attr, element, listed, k))
        }
        other => element == other,
    }
}

fn contains_sub(attr: &AttrDef, element: &Value, listed: &Value, key: &str) -> bool {
    let case_exact = attr.sub(key).is_none_or(|s| s.case_exact);
    match (element.get(key), listed.get(key)) {
        (Some(Value::String(a)), Some(Value::String(b))) if !case_exact => same_folded(a, b),
        (a, b) => a == b,
    }
}

/// Equal without regard to case, without allocating.
fn same_folded(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use crate::scim::patch::fixtures::*;

    #[test]
    fn whole_list_user_operations() {
        let cases = vec![
            Case {
                name: "adding an email already there changes nothing",
                ops: json!([{ "op": "add", "path": "emails", "value": [
                    { "value": "BJENSEN@example.com", "type": "work", "primary": true }
                ]}]),
                expect: vec![("/emails/2", Value::Null)],
                changed: Some(vec![]),
            },
            case(
                "remove a whole multi-valued attribute",
                json!([{ "op": "remove", "path": "emails" }]),
                vec![("/emails", Value::Null)],
            ),
            case(
                "a new primary through add clears the old one",
                json!([{ "op": "add", "path": "emails", "value": { "value": "n@x", "primary": "True" } }]),
                vec![
                    ("/emails/2/primary", json!(true)),
                    ("/emails/0/primary", Value::Null),
                ],
            ),
            case(
                "Entra bare string for a multi-valued complex attribute",
                json!([{ "op": "add", "path": "emails", "value": "x@y" }]),
                vec![("/emails/2", json!({ "value": "x@y" }))],
            ),
        ];
        run_cases(ResourceType::User, &user(), cases);
    }

    #[test]
    fn group_operations() {
        let cases = vec![
            Case {
                name: "Okta rename echoes the id",
                ops: json!([{ "op": "replace", "value": { "id": "abf4dd94", "displayName": "Tour Leads" } }]),
                expect: vec![("/displayName", json!("Tour Leads")), ("/id", Value::Null)],
                changed: Some(vec!["displayName"]),
            },
            Case {
                name: "RFC 7644 §3.5.2.1 add members, display kept as given",
                ops: json!([{ "op": "add", "path": "members", "value": [{
                    "display": "Babs Jensen",
                    "$ref": "https://example.com/v2/Users/aaaa",
                    "value": "aaaa"
                }]}]),
                expect: vec![(
                    "/members/2",
                    json!({ "value": "aaaa", "$ref": "https://example.com/v2/Users/aaaa", "display": "Babs Jensen" }),
                )],
                changed: Some(vec!["members"]),
            },
            case(
                "Okta add members",
                json!([{ "op": "add", "path": "members", "value": [{ "value": "bbbb", "display": "x" }] }]),
                vec![("/members/2", json!({ "value": "bbbb", "display": "x" }))],
            ),
            case(
                "Entra capitalised add of members",
                json!([{ "op": "Add", "path": "members", "value": [{ "value": "cccc" }, { "value": "dddd" }] }]),
                vec![
                    ("/members/2/value", json!("cccc")),
                    ("/members/3/value", json!("dddd")),
                ],
            ),
            Case {
                name: "adding a member already there changes nothing",
                ops: json!([{ "op": "add", "path": "members", "value": [
                    { "value": "2819c223" },
                    { "value": "902c246b", "type": "User" }
                ]}]),
                expect: vec![("/members/2", Value::Null)],
                changed: Some(vec![]),
            },
            case(
                "RFC 7644 §3.5.2.2 / Okta remove one member by value path",
                json!([{ "op": "remove", "path": "members[value eq \"2819c223\"]" }]),
                vec![
                    ("/members/0/value", json!("902c246b")),
                    ("/members/1", Value::Null),
                ],
            ),
            case(
                "Entra remove of listed members",
                json!([{ "op": "Remove", "path": "members", "value": [{ "value": "2819c223" }, { "value": "902c246b" }] }]),
                vec![
                    ("/members", Value::Null),
                    ("/displayName", json!("Tour Guides")),
                ],
            ),
            case(
                "Entra remove of listed members ignores those not there",
                json!([{ "op": "Remove", "path": "members", "value": [{ "value": "nope" }, { "value": "902c246b" }] }]),
                vec![
                    ("/members/0/value", json!("2819c223")),
                    ("/members/1", Value::Null),
                ],
            ),
            case(
                "RFC 7644 §3.5.2.2 remove all members",
                json!([{ "op": "remove", "path": "members" }]),
                vec![("/members", Value::Null)],
            ),
            case(
                "RFC 7644 §3.5.2.2 remove all members then add one",
                json!([
                    { "op": "remove", "path": "members" },
                    { "op": "add", "path": "members", "value": [{ "value": "eeee", "$ref": "https://example.com/v2/Users/eeee" }] }
                ]),
                vec![
                    ("/members/0/value", json!("eeee")),
                    ("/members/1", Value::Null),
                ],
            ),
            case(
                "RFC 7644 §3.5.2.3 replace all members",
                json!([{ "op": "replace", "path": "members", "value": [{ "value": "ffff" }] }]),
                vec![("/members", json!([{ "value": "ffff" }]))],
            ),
            case(
                "members can be added to a group without any",
                json!([
                    { "op": "remove", "path": "members" },
                    { "op": "add", "value": { "members": [{ "value": "gggg" }] } }
                ]),
                vec![("/members", json!([{ "value": "gggg" }]))],
            ),
        ];
        run_cases(ResourceType::Group, &group(), cases);
    }
}
