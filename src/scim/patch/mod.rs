//! SCIM PATCH (RFC 7644 §3.5.2): parsing a `PatchOp` request and applying
//! its operations to a normalized resource document (as
//! [`resource::normalize`](super::resource::normalize) returns it), plus
//! the in-memory filter matcher that value paths (`emails[type eq "work"]`)
//! need.
//!
//! This module owns the PATCH semantics and the identity-provider dialects
//! that come with them (Entra ID's capitalised ops, dotted and URN keys in a
//! path-less value, element creation from a value path, bare-id manager,
//! member removal by value; Okta's path-less `replace`). It does not touch
//! the database: the handler loads the document, calls [`apply()`], and stores
//! the result with the audit record.
//!
//! Choices where the RFC leaves room, so that callers know what to expect:
//! - Read-only attributes named by an explicit path are refused with
//!   `mutability`; inside a path-less value they are ignored (RFC 7643 §2.2),
//!   because Okta echoes `id` when it renames a group.
//! - Removing a required attribute (`userName`, a Group's `displayName`) is
//!   `mutability`; emptying one with `replace` is `invalidValue`.
//! - A `remove` whose value path matches nothing succeeds without change, so
//!   that an identity provider retrying a member removal is not refused;
//!   `replace` on such a path is `noTarget` (RFC 7644 §3.5.2.3), and `add`
//!   creates the element when the filter describes one.
//! - An error in the filter of a value path is `invalidFilter`, as RFC 7644
//!   Table 9 lists it for PATCH; an unknown attribute or an unparsable path
//!   is `invalidPath`.
//! - Null and empty values mean unassigned: after the operations they are
//!   dropped, and so are objects and lists left empty.
//! - The value counts of [`limits`](super::limits) hold after every
//!   operation, not only at the end (`invalidValue`), so that a long request
//!   cannot build a huge document on its way; the caller checks the
//!   result's size.
//!
//! How the parts fit:
//! - `parse` reads the body into [`PatchOperation`]s ([`parse_request`])
//!   and resolves a path against the schema into the target it names.
//! - `apply` runs the operations on a copy of the document ([`apply()`]) and
//!   swaps the copy in only when every operation and the final checks pass.
//! - `matching` evaluates a value path's filter on one element
//!   ([`matches()`]); `apply` uses it to select the elements concerned.
//! - [`scope`] says which elements of a multi-valued attribute a request
//!   can touch, so that a Group's PATCH loads only the members it names. It
//!   must agree with `apply`, so it lives here and resolves paths with
//!   `parse` rather than reading them again.
//!
//! The unit tests of each part sit in its file, on the documents of
//! `fixtures`; the tests here hold for the module as a whole (atomicity,
//! error types, limits).

mod apply;
#[cfg(test)]
mod fixtures;
mod matching;
mod parse;
pub mod scope;

use serde_json::Value;

pub use apply::apply;
pub use matching::matches;
pub use parse::parse_request;

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Replace => "replace",
            OpKind::Remove => "remove",
        }
    }

    /// Identity providers differ in case (Entra ID sends "Replace").
    fn parse(s: &str) -> Option<Self> {
        [OpKind::Add, OpKind::Replace, OpKind::Remove]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

/// One operation of a PatchOp request, as sent.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOperation {
    pub op: OpKind,
    /// `None` when absent, null or blank.
    pub path: Option<String>,
    /// `None` when absent; `Some(Value::Null)` when sent as null.
    pub value: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use crate::scim::limits::MAX_PATCH_OPERATIONS;

    #[test]
    fn refusals_carry_the_right_scim_type_and_change_nothing() {
        use ScimType::*;
        let user_cases: Vec<(Value, ScimType)> = vec![
            (json!([{ "op": "remove" }]), NoTarget),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"other\"].value", "value": "x" }]),
                NoTarget,
            ),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"other\"]", "value": { "value": "x" } }]),
                NoTarget,
            ),
            (
                json!([{ "op": "add", "path": "emails[type eq \"a\" or type eq \"b\"].value", "value": "x" }]),
                NoTarget,
            ),
            (
                json!([{ "op": "add", "path": "emails[value co \"zzz\"].value", "value": "x" }]),
                NoTarget,
            ),
            (
                json!([{ "op": "add", "path": "ims.value", "value": "x" }]),
                NoTarget,
            ),
            (
                json!([{ "op": "replace", "path": "shoeSize", "value": 44 }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "name.nope", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "name.givenName.x", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "urn:bogus:schema:foo", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "employeeNumber", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"work\"", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"work\"].nope", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "userName[type eq \"work\"]", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "name.givenName[type eq \"work\"]", "value": "x" }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "value": { "shoeSize": 44 } }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "value": { ENT: { "shoeSize": 44 } } }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "remove", "path": "emails[nope eq \"x\"]" }]),
                InvalidFilter,
            ),
            (
                json!([{ "op": "remove", "path": "emails[primary gt true]" }]),
                InvalidFilter,
            ),
            (
                json!([{ "op": "replace", "path": "id", "value": "x" }]),
                Mutability,
            ),
            (json!([{ "op": "remove", "path": "meta" }]), Mutability),
            (
                json!([{ "op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z" }]),
                Mutability,
            ),
            (
                json!([{ "op": "add", "path": "groups", "value": [{ "value": "g" }] }]),
                Mutability,
            ),
            (
                json!([{ "op": "replace", "path": "schemas", "value": [] }]),
                Mutability,
            ),
            (
                json!([{ "op": "replace", "path": format!("{MANAGER}.displayName"), "value": "x" }]),
                Mutability,
            ),
            (json!([{ "op": "remove", "path": "userName" }]), Mutability),
            (
                json!([{ "op": "replace", "path": "userName", "value": "" }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "value": { "userName": null } }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "active", "value": "maybe" }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "userName", "value": 5 }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "userName", "value": ["a", "b"] }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "add", "path": "emails", "value": [{ "value": 1 }] }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "name", "value": "x" }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "name", "value": { "nope": "x" } }]),
                InvalidValue,
            ),
            (json!([{ "op": "add", "value": "x" }]), InvalidValue),
            (
                json!([{ "op": "replace", "path": "emails", "value": [
                { "value": "a@x", "primary": true }, { "value": "b@x", "primary": true }
            ] }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"work\" or type eq \"home\"].primary", "value": true }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "emails[type eq \"work\"]", "value": [{ "value": "a" }, { "value": "b" }] }]),
                InvalidValue,
            ),
            // Atomicity: the first operation is valid, the second is not.
            (
                json!([
                    { "op": "replace", "path": "displayName", "value": "changed" },
                    { "op": "remove", "path": "emails" },
                    { "op": "replace", "path": "nope", "value": "x" }
                ]),
                InvalidPath,
            ),
        ];
        let base = user();
        for (ops, want) in user_cases {
            let e = patch(ResourceType::User, &base, &ops).expect_err(&ops.to_string());
            assert_eq!(e.scim_type, Some(want), "{ops}: {}", e.detail);
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        }
        let group_cases: Vec<(Value, ScimType)> = vec![
            (
                json!([{ "op": "replace", "path": "members[value eq \"2819c223\"].value", "value": "other" }]),
                Mutability,
            ),
            (
                json!([{ "op": "replace", "path": "members[value eq \"2819c223\"]", "value": { "value": "other" } }]),
                Mutability,
            ),
            (
                json!([{ "op": "add", "path": "members", "value": [{ "value": "2819c223", "type": "Group" }] }]),
                Mutability,
            ),
            (
                json!([{ "op": "remove", "path": "members[value eq \"2819c223\"].value" }]),
                Mutability,
            ),
            (
                json!([{ "op": "remove", "path": "displayName" }]),
                Mutability,
            ),
            (
                json!([{ "op": "replace", "path": "displayName", "value": "  " }]),
                InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": ENT, "value": {} }]),
                InvalidPath,
            ),
            (
                json!([{ "op": "replace", "path": "userName", "value": "x" }]),
                InvalidPath,
            ),
        ];
        let base = group();
        for (ops, want) in group_cases {
            let e = patch(ResourceType::Group, &base, &ops).expect_err(&ops.to_string());
            assert_eq!(e.scim_type, Some(want), "{ops}: {}", e.detail);
        }
    }

    #[test]
    fn errors_name_the_failing_operation() {
        let ops = json!([
            { "op": "replace", "path": "displayName", "value": "x" },
            { "op": "replace", "path": "nope", "value": "x" }
        ]);
        let e = patch(ResourceType::User, &user(), &ops).unwrap_err();
        assert!(
            e.detail.starts_with("Operations[1] (replace nope): "),
            "{}",
            e.detail
        );
    }

    #[test]
    fn no_operation_may_grow_an_attribute_past_its_value_cap() {
        use crate::scim::limits::MAX_VALUES;
        let base = user(); // two emails
        let add = |i: usize| json!({ "op": "add", "path": "emails", "value": [{ "value": format!("n{i}@x"), "display": "d".repeat(700) }] });
        // The probe that grew one user to 45,000 values: refused at the
        // operation that passes the cap, before the rest are applied.
        let flood: Vec<Value> = (0..MAX_PATCH_OPERATIONS).map(add).collect();
        let e = patch(ResourceType::User, &base, &json!(flood)).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let failing = MAX_VALUES - 2;
        assert!(
            e.detail.starts_with(&format!(
                "Operations[{failing}] (add emails): `emails` holds"
            )),
            "{}",
            e.detail
        );
        // Up to the cap is fine.
        let to_cap: Vec<Value> = (0..MAX_VALUES - 2).map(add).collect();
        let (doc, _) = patch(ResourceType::User, &base, &json!(to_cap)).unwrap();
        assert_eq!(doc["emails"].as_array().map(Vec::len), Some(MAX_VALUES));
        // One value list over the cap is refused as it is read.
        let many: Vec<Value> = (0..=MAX_VALUES)
            .map(|i| json!({ "value": format!("m{i}@x") }))
            .collect();
        let e = patch(
            ResourceType::User,
            &base,
            &json!([{ "op": "replace", "path": "roles", "value": many }]),
        )
        .unwrap_err();
        assert!(e.detail.contains("`roles` holds"), "{}", e.detail);
        // Group members have no cap.
        let members: Vec<Value> = (0..MAX_VALUES * 3)
            .map(|i| json!({ "value": format!("member-{i}") }))
            .collect();
        let (doc, _) = patch(
            ResourceType::Group,
            &group(),
            &json!([{ "op": "add", "path": "members", "value": members }]),
        )
        .unwrap();
        assert_eq!(
            doc["members"].as_array().map(Vec::len),
            Some(MAX_VALUES * 3 + 2)
        );
    }

    #[test]
    fn an_oversized_string_in_a_value_is_refused_naming_its_path() {
        let e = patch(
            ResourceType::User,
            &user(),
            &json!([{ "op": "add", "path": "emails[type eq \"work\"].display", "value": "d".repeat(5000) }]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(
            e.detail.contains("`display` is longer than 2048"),
            "{}",
            e.detail
        );
        let e = patch(
            ResourceType::User,
            &user(),
            &json!([{ "op": "replace", "value": { "userName": "u".repeat(100_000) } }]),
        )
        .unwrap_err();
        assert!(
            e.detail.contains("`userName` is longer than 256"),
            "{}",
            e.detail
        );
    }
}
