//! SCIM filters and sorting: parse + resolve (`scim::filter::parse`), then
//! compile to SQL for both dialects (`scim::query::Compiler`), as a list or
//! search request does. The first byte picks the resource type; the text
//! after an optional first newline is the `sortBy` attribute.
//!
//! Errors are expected for most inputs; a panic is a bug (it would be a 500,
//! or a dropped connection, for a client's query string).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimitar::scim::list::{ListRequest, compile};
use scimitar::scim::schema::ResourceType;
use scimitar::store::dynamic::Dialect;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let rt = if selector & 1 == 0 {
        ResourceType::User
    } else {
        ResourceType::Group
    };
    let (filter, sort_by) = match text.split_once('\n') {
        Some((f, s)) => (f, Some(s.to_string())),
        None => (text, None),
    };
    let req = ListRequest {
        filter: Some(filter.to_string()),
        sort_by,
        descending: selector & 2 != 0,
        start_index: 1,
        count: 10,
        ..Default::default()
    };
    let org = uuid::Uuid::nil();
    let sqlite = compile(rt, &req, org, Dialect::Sqlite);
    let postgres = compile(rt, &req, org, Dialect::Postgres);
    // One filter means the same on both backends: both accept it or neither.
    assert_eq!(
        sqlite.is_ok(),
        postgres.is_ok(),
        "dialects disagree on {text:?}"
    );
    for compiled in [sqlite, postgres].into_iter().flatten() {
        if let Some(f) = &compiled.filter {
            let _ = f.preview();
        }
        let _ = compiled.order.sql().preview();
    }
});
