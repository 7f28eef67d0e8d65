//! Documents and helpers shared by the unit tests of every part of PATCH,
//! and the names those tests use, so that each part imports one module.

pub use serde_json::{Map, Value, json};

pub use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::Expr;
use crate::scim::patch::parse::{Target, parse_target};
use crate::scim::patch::{apply, parse_request};
use crate::scim::resource::{Shape, normalize};
use crate::scim::schema::{AttrDef, AttrType, Mutability, Returned, Uniqueness};
pub use crate::scim::schema::{ENTERPRISE_URN as ENT, PATCH_URN, ResourceType};

pub const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";

pub fn user() -> Map<String, Value> {
    normalize(
        ResourceType::User,
        &json!({
            "userName": "bjensen",
            "externalId": "bjensen-ext",
            "name": { "givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III" },
            "displayName": "Babs Jensen",
            "nickName": "Babs",
            "title": "Tour Guide",
            "active": true,
            "emails": [
                { "value": "bjensen@example.com", "type": "work", "primary": true },
                { "value": "babs@jensen.org", "type": "home" }
            ],
            "phoneNumbers": [{ "value": "555-555-8377", "type": "work" }],
            "addresses": [{ "type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood" }],
            ENT: {
                "employeeNumber": "701984",
                "department": "Tour Operations",
                "manager": { "value": "26118915", "$ref": "../Users/26118915" }
            }
        }),
        Shape::Fragment,
    )
    .unwrap()
}

pub fn group() -> Map<String, Value> {
    normalize(
        ResourceType::Group,
        &json!({
            "displayName": "Tour Guides",
            "members": [
                { "value": "2819c223", "type": "User" },
                { "value": "902c246b", "type": "User" }
            ]
        }),
        Shape::Fragment,
    )
    .unwrap()
}

/// Runs a PatchOp request; on error, checks the document was left
/// unchanged (atomicity holds for every failing case below).
pub fn patch(
    rt: ResourceType,
    doc: &Map<String, Value>,
    ops: &Value,
) -> Result<(Value, Vec<String>), ScimError> {
    let body = json!({ "schemas": [PATCH_URN], "Operations": ops });
    let ops = parse_request(&body)?;
    let mut work = doc.clone();
    match apply(rt, &mut work, &ops) {
        Ok(changed) => Ok((Value::Object(work), changed)),
        Err(e) => {
            assert_eq!(&work, doc, "the document changed despite the error");
            Err(e)
        }
    }
}

/// `/ent/...` is a pointer into the enterprise extension.
pub fn at<'a>(doc: &'a Value, pointer: &str) -> Option<&'a Value> {
    match pointer.strip_prefix("/ent") {
        Some(rest) => doc.get(ENT)?.pointer(rest),
        None => doc.pointer(pointer),
    }
}

pub struct Case {
    pub name: &'static str,
    pub ops: Value,
    /// Pointers and the value expected there; null means absent.
    pub expect: Vec<(&'static str, Value)>,
    /// The reported paths, when the case checks them.
    pub changed: Option<Vec<&'static str>>,
}

pub fn case(name: &'static str, ops: Value, expect: Vec<(&'static str, Value)>) -> Case {
    Case {
        name,
        ops,
        expect,
        changed: None,
    }
}

pub fn run_cases(rt: ResourceType, base: &Map<String, Value>, cases: Vec<Case>) {
    for c in cases {
        let (doc, changed) = patch(rt, base, &c.ops)
            .unwrap_or_else(|e| panic!("{}: {:?} {}", c.name, e.scim_type, e.detail));
        for (pointer, want) in &c.expect {
            let got = at(&doc, pointer).cloned().unwrap_or(Value::Null);
            assert_eq!(&got, want, "{}: {pointer} in {doc:#}", c.name);
        }
        if let Some(want) = c.changed {
            assert_eq!(changed, want, "{}: changed paths", c.name);
        }
    }
}

/// The filter of a value path on `attr`, resolved.
pub fn value_filter(rt: ResourceType, path: &str) -> Expr {
    match parse_target(rt, path).unwrap() {
        Target::Attr {
            filter: Some(f), ..
        } => f,
        other => panic!("{path}: {other:?}"),
    }
}

/// An attribute definition made up for a test (the schema has no numeric
/// one), leaked to be `'static` like the schema's own.
pub fn leak(name: &'static str, ty: AttrType, subs: Vec<AttrDef>) -> &'static AttrDef {
    Box::leak(Box::new(AttrDef {
        name,
        ty,
        multi_valued: ty == AttrType::Complex,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: vec![],
        reference_types: vec![],
        sub_attributes: subs,
        description: "test",
    }))
}
