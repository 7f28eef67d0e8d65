//! SCIM PATCH (RFC 7644 §3.5.2): `patch::parse_request` on a PatchOp body,
//! then `patch::apply` on a sample User or Group, then what the handler does
//! next with the result (normalize it as a whole resource, index it).
//!
//! The first byte picks the resource type (bit 0) and, for input that is
//! not JSON, the operation (bits 1-2) and the value (bits 3-5): such input
//! is a PATCH path, run through `filter::parse_patch_path` and applied as
//! one operation, so the fuzzer explores paths without JSON quoting.
//!
//! Checks: no panic; `apply` is all-or-nothing (an error leaves the document
//! unchanged).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimitar::scim::filter::parse_patch_path;
use scimitar::scim::index;
use scimitar::scim::patch::{apply, parse_request};
use scimitar::scim::resource::{Shape, normalize};
use scimitar::scim::schema::ResourceType;
use serde_json::{Map, Value, json};

const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn sample(rt: ResourceType) -> Map<String, Value> {
    let body = match rt {
        ResourceType::User => json!({
            "schemas": [USER_URN, ENTERPRISE_URN],
            "userName": "bjensen",
            "externalId": "701984",
            "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III"},
            "displayName": "Babs Jensen",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
            "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "country": "USA", "primary": true}],
            "roles": [{"value": "admin"}],
            ENTERPRISE_URN: {"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}}
        }),
        ResourceType::Group => json!({
            "schemas": [GROUP_URN],
            "displayName": "Tour Guides",
            "externalId": "g-1",
            "members": [
                {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
                {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}
            ]
        }),
    };
    normalize(rt, &body, Shape::Whole).expect("the sample is a valid resource")
}

/// A value for an operation built from a bare path.
fn value(pick: u8) -> Value {
    match pick % 8 {
        0 => json!("x"),
        1 => json!(true),
        2 => json!(42),
        3 => json!(null),
        4 => json!({"value": "2819c223-7f76-453a-919d-413861904646", "type": "work"}),
        5 => json!([{"value": "a@example.com", "primary": true}]),
        6 => json!({"givenName": "B", "familyName": "J"}),
        _ => json!([]),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let rt = if selector & 1 == 0 {
        ResourceType::User
    } else {
        ResourceType::Group
    };
    let body = match serde_json::from_slice::<Value>(rest) {
        Ok(v) => v,
        Err(_) => {
            let Ok(path) = std::str::from_utf8(rest) else {
                return;
            };
            let _ = parse_patch_path(path);
            let op = ["add", "replace", "remove", "Replace"][usize::from((selector >> 1) & 3)];
            json!({"schemas": [PATCH_URN], "Operations": [{"op": op, "path": path, "value": value(selector >> 3)}]})
        }
    };
    let Ok(ops) = parse_request(&body) else {
        return;
    };
    let original = sample(rt);
    let mut doc = original.clone();
    match apply(rt, &mut doc, &ops) {
        Err(_) => assert_eq!(doc, original, "a failed PATCH changed the document"),
        Ok(_) => {
            let urn = match rt {
                ResourceType::User => USER_URN,
                ResourceType::Group => GROUP_URN,
            };
            doc.insert("schemas".into(), json!([urn]));
            if let Ok(normalized) = normalize(rt, &Value::Object(doc), Shape::Whole) {
                let _ = index::rows(rt, &normalized);
            }
        }
    }
});
