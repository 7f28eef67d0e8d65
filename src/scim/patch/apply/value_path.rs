//! Operations on the elements a value path selects
//! (`emails[type eq "work"].value`), including the element that `add`
//! creates when none matches: Entra ID sets a work email that way on a
//! user who has none, so the filter has to describe the new element.

use serde_json::{Map, Number, Value};

use super::lists::{append, elements, merge_element, settle_primary};
use super::single::{guard_immutable, set_sub};
use crate::scim::error::ScimError;
use crate::scim::filter::{Expr, Literal, Op};
use crate::scim::resource::check_value;
use crate::scim::schema::{AttrDef, AttrType, Resolved};

/// `remove` on a value path, or on a sub-attribute of every element.
/// Matching nothing is not an error: the state asked for already holds.
pub(super) fn remove_selected(
    list: &mut Vec<Value>,
    at: &Resolved,
    hits: &[usize],
) -> Result<(), ScimError> {
    match at.sub {
        None => {
            // `hits` is ascending: removing from the end keeps the rest valid.
            for &i in hits.iter().rev() {
                list.remove(i);
            }
        }
        Some(sub) => {
            for &i in hits {
                if let Value::Object(current) = &mut list[i] {
                    set_sub(current, sub, None)?;
                }
            }
        }
    }
    Ok(())
}

/// `replace` on a value path: the matching elements are replaced
/// (RFC 7644 §3.5.2.3), or their sub-attribute set.
pub(super) fn replace_selected(
    list: &mut [Value],
    at: &Resolved,
    hits: &[usize],
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.unwrap_or(&Value::Null);
    match at.sub {
        None => {
            let new = check_element(at.attr, value)?;
            for &i in hits {
                guard_element(at.attr, &list[i], new.as_ref())?;
                list[i] = new.clone().unwrap_or(Value::Null);
            }
        }
        Some(sub) => {
            let new = check_value(sub, value)?;
            for &i in hits {
                if let Value::Object(current) = &mut list[i] {
                    set_sub(current, sub, new.clone())?;
                }
            }
        }
    }
    settle_primary(list, at.attr, hits)
}

/// `add` on a value path that matches: the value is merged into the
/// matching elements, or their sub-attribute set.
pub(super) fn add_to_selected(
    list: &mut [Value],
    at: &Resolved,
    hits: &[usize],
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.unwrap_or(&Value::Null);
    match at.sub {
        None => {
            let Some(new) = check_element(at.attr, value)? else {
                return Ok(());
            };
            for &i in hits {
                merge_element(at.attr, &mut list[i], &new)?;
            }
        }
        Some(sub) => {
            let Some(new) = check_value(sub, value)? else {
                return Ok(());
            };
            for &i in hits {
                if let Value::Object(current) = &mut list[i] {
                    set_sub(current, sub, Some(new.clone()))?;
                }
            }
        }
    }
    settle_primary(list, at.attr, hits)
}

/// `add` on a value path that matches nothing (Entra ID's
/// `emails[type eq "work"].value` for a user without a work email): the
/// filter's equality terms describe the new element, and the value
/// completes it. Any other filter cannot describe one: `noTarget`.
pub(super) fn add_new_element(
    list: &mut Vec<Value>,
    at: &Resolved,
    filter: Option<&Expr>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = value.unwrap_or(&Value::Null);
    if value.is_null() {
        return Ok(());
    }
    let no_target = || {
        ScimError::no_target(format!(
            "no value of `{}` matches the path, and only a filter of `eq` comparisons joined by `and` can describe a new one",
            at.attr.name
        ))
    };
    let terms = filter.and_then(eq_terms).ok_or_else(no_target)?;
    let mut element = Map::new();
    for (sub, literal) in terms {
        if let Some(v) = literal_json(sub, literal) {
            element.insert(sub.name.to_string(), v);
        }
    }
    match at.sub {
        Some(sub) => {
            element.insert(sub.name.to_string(), value.clone());
        }
        None => {
            if let Some(Value::Object(fields)) = check_element(at.attr, value)? {
                element.extend(fields);
            }
        }
    }
    let Some(element) = check_element(at.attr, &Value::Object(element))? else {
        return Ok(());
    };
    append(list, at.attr, vec![element])
}

/// The `attr eq literal` terms of a filter made only of such terms joined
/// by `and`.
fn eq_terms(expr: &Expr) -> Option<Vec<(&'static AttrDef, &Literal)>> {
    match expr {
        Expr::Compare(r, Op::Eq, literal) => Some(vec![(r.sub?, literal)]),
        Expr::And(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(eq_terms(item)?);
            }
            Some(out)
        }
        _ => None,
    }
}

fn literal_json(def: &AttrDef, literal: &Literal) -> Option<Value> {
    match literal {
        Literal::Str(s) | Literal::DateTime(s) => Some(Value::String(s.clone())),
        Literal::Bool(b) => Some(Value::Bool(*b)),
        Literal::Num(n) if def.ty == AttrType::Integer && n.fract() == 0.0 => {
            Some(Value::Number(Number::from(*n as i64)))
        }
        Literal::Num(n) => Number::from_f64(*n).map(Value::Number),
        Literal::Null => None,
    }
}

/// Checks one element of a multi-valued attribute (a one-element list is
/// accepted too). `None`: nothing left once read-only parts are dropped.
fn check_element(attr: &AttrDef, value: &Value) -> Result<Option<Value>, ScimError> {
    let single = match value {
        Value::Array(items) if items.len() == 1 => &items[0],
        Value::Array(_) => {
            return Err(ScimError::invalid_value(format!(
                "a value path of `{}` takes one value",
                attr.name
            )));
        }
        other => other,
    };
    Ok(elements(check_value(attr, single)?).pop())
}

/// Replacing an element must keep its immutable sub-attributes.
fn guard_element(attr: &AttrDef, old: &Value, new: Option<&Value>) -> Result<(), ScimError> {
    for sub in &attr.sub_attributes {
        guard_immutable(sub, old.get(sub.name), new.and_then(|n| n.get(sub.name)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::patch::fixtures::*;
    use crate::scim::schema::AttrType;

    #[test]
    fn value_path_user_operations() {
        let cases = vec![
            case(
                "Entra add on a value path that matches sets the sub-attribute",
                json!([{ "op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@example.com" }]),
                vec![
                    (
                        "/emails/0",
                        json!({ "value": "new@example.com", "type": "work", "primary": true }),
                    ),
                    ("/emails/2", Value::Null),
                ],
            ),
            case(
                "Entra add on a value path that matches nothing creates the element",
                json!([{ "op": "Add", "path": "emails[type eq \"other\"].value", "value": "o@example.com" }]),
                vec![(
                    "/emails/2",
                    json!({ "type": "other", "value": "o@example.com" }),
                )],
            ),
            case(
                "Entra add creates an address from the filter",
                json!([{ "op": "Add", "path": "addresses[type eq \"home\"].locality", "value": "Paris" }]),
                vec![(
                    "/addresses/1",
                    json!({ "type": "home", "locality": "Paris" }),
                )],
            ),
            case(
                "a created primary element takes the flag",
                json!([{ "op": "add", "path": "emails[type eq \"other\" and primary eq true].value", "value": "p@x" }]),
                vec![
                    (
                        "/emails/2",
                        json!({ "type": "other", "primary": true, "value": "p@x" }),
                    ),
                    ("/emails/0/primary", Value::Null),
                ],
            ),
            case(
                "add on a value path without sub-attribute merges into the match",
                json!([{ "op": "add", "path": "phoneNumbers[type eq \"work\"]", "value": { "display": "desk" } }]),
                vec![(
                    "/phoneNumbers/0",
                    json!({ "value": "555-555-8377", "type": "work", "display": "desk" }),
                )],
            ),
            case(
                "add on a value path without sub-attribute creates when nothing matches",
                json!([{ "op": "add", "path": "phoneNumbers[type eq \"mobile\"]", "value": { "value": "555-1" } }]),
                vec![(
                    "/phoneNumbers/1",
                    json!({ "value": "555-1", "type": "mobile" }),
                )],
            ),
            case(
                "Entra unquoted filter value",
                json!([{ "op": "Replace", "path": "emails[type eq work].value", "value": "w@x" }]),
                vec![("/emails/0/value", json!("w@x"))],
            ),
            case(
                "replace on a value path sets the sub-attribute",
                json!([{ "op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@x" }]),
                vec![(
                    "/emails/0",
                    json!({ "value": "w@x", "type": "work", "primary": true }),
                )],
            ),
            case(
                "RFC 7644 §3.5.2.3 replace of a matching element",
                json!([{ "op": "replace", "path": "addresses[type eq \"work\"]", "value": {
                    "type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood", "region": "CA",
                    "postalCode": "91608", "country": "US", "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
                    "primary": true
                }}]),
                vec![
                    (
                        "/addresses/0/streetAddress",
                        json!("911 Universal City Plaza"),
                    ),
                    ("/addresses/0/postalCode", json!("91608")),
                    ("/addresses/1", Value::Null),
                ],
            ),
            case(
                "RFC 7644 §3.5.2.3 replace of a sub-attribute of a matching element",
                json!([{ "op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave" }]),
                vec![
                    ("/addresses/0/streetAddress", json!("1010 Broadway Ave")),
                    ("/addresses/0/locality", json!("Hollywood")),
                ],
            ),
            Case {
                name: "RFC 7644 §3.5.2.2 remove matching elements",
                ops: json!([{ "op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]" }]),
                expect: vec![
                    ("/emails/0/value", json!("babs@jensen.org")),
                    ("/emails/1", Value::Null),
                ],
                changed: Some(vec!["emails"]),
            },
            Case {
                name: "remove on a value path that matches nothing changes nothing",
                ops: json!([{ "op": "remove", "path": "emails[type eq \"other\"]" }]),
                expect: vec![("/emails/1/value", json!("babs@jensen.org"))],
                changed: Some(vec![]),
            },
            case(
                "remove a sub-attribute of every element",
                json!([{ "op": "remove", "path": "emails.type" }]),
                vec![
                    (
                        "/emails/0",
                        json!({ "value": "bjensen@example.com", "primary": true }),
                    ),
                    ("/emails/1", json!({ "value": "babs@jensen.org" })),
                ],
            ),
            case(
                "remove a sub-attribute of matching elements",
                json!([{ "op": "remove", "path": "emails[type eq \"work\"].primary" }]),
                vec![(
                    "/emails/0",
                    json!({ "value": "bjensen@example.com", "type": "work" }),
                )],
            ),
            case(
                "a new primary through a value path clears the old one",
                json!([{ "op": "replace", "path": "emails[type eq \"home\"].primary", "value": true }]),
                vec![
                    ("/emails/1/primary", json!(true)),
                    ("/emails/0/primary", Value::Null),
                ],
            ),
        ];
        run_cases(ResourceType::User, &user(), cases);
    }

    #[test]
    fn an_unchanged_immutable_element_can_be_replaced() {
        let ops = json!([{ "op": "replace", "path": "members[value eq \"2819c223\"]",
            "value": { "value": "2819c223", "type": "User" } }]);
        let (_, changed) = patch(ResourceType::Group, &group(), &ops).unwrap();
        assert!(changed.is_empty());
    }

    #[test]
    fn integers_are_created_as_integers() {
        let level = leak("level", AttrType::Integer, vec![]);
        let created = literal_json(level, &Literal::Num(3.0)).unwrap();
        assert_eq!(created, json!(3), "integers are created as integers");
    }
}
