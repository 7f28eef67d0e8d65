//! The SCIM JSON decoders: `resource::normalize` for Users and Groups as a
//! whole resource (POST, PUT) and as a fragment (a PATCH value), the index
//! rows of what it accepts, and the SearchRequest body
//! (`ListRequest::from_body`). The first byte picks the resource type.
//!
//! Checks: no panic; normalizing is idempotent (a normalized document
//! normalizes to itself), since PATCH re-normalizes stored documents.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimitar::scim::index;
use scimitar::scim::list::ListRequest;
use scimitar::scim::resource::{Shape, normalize};
use scimitar::scim::schema::ResourceType;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    let rt = if selector & 1 == 0 {
        ResourceType::User
    } else {
        ResourceType::Group
    };
    let _ = ListRequest::from_body(&input);
    for shape in [Shape::Whole, Shape::Fragment] {
        let Ok(doc) = normalize(rt, &input, shape) else {
            continue;
        };
        let _ = index::rows(rt, &doc);
        let mut again = doc.clone();
        again.insert("schemas".into(), json!(rt.schema_urns()));
        let renormalized = normalize(rt, &Value::Object(again), shape)
            .expect("a normalized document normalizes again");
        assert_eq!(renormalized, doc, "normalize is not idempotent");
    }
});
