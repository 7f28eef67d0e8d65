//! The size limits of SCIM resources and requests, in one place: how many
//! values a multi-valued attribute may hold, how long a string may be, how
//! large one stored resource may grow, and the request limits advertised in
//! `/ServiceProviderConfig` (see [`super::discovery`]).
//!
//! Why they exist: without them one organization could grow a single user
//! into megabytes and tens of thousands of `scim_values` rows, after which
//! every write to it holds the database's writer for seconds; on SQLite
//! there is one writer for every organization, so all of them stall. The
//! numbers are far above what identity providers send (Entra ID and Okta
//! provision a few emails and phone numbers, names of at most 256
//! characters), so that no real directory meets them.
//!
//! The resource limits are checked on every value as it is normalized
//! ([`super::resource::check_value`]), so POST, PUT, PATCH and Bulk all meet
//! them on the final document; PATCH also checks value counts after each
//! operation, so that a long request cannot build a huge intermediate
//! document first. The size of the whole document is checked last, by
//! [`super::resource::normalize`]. Exceeding any of them is 400
//! `invalidValue`, naming the attribute and the limit, never the value.

use std::io;

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::ScimError;
use super::resource::{core_attr, extension_named};
use super::schema::{AttrDef, AttrType, GROUP, ResourceType};

/// Values per multi-valued attribute (emails, phoneNumbers, ims, photos,
/// addresses, entitlements, roles, x509Certificates). People have a handful
/// of addresses and phone numbers; 100 also leaves room for roles and
/// entitlements. Group `members` is not capped: groups of 100,000 members
/// are real, and members are rows of their own, not part of the document.
pub const MAX_VALUES: usize = 100;

/// `userName`: sign-in names are email addresses or UPNs (at most 254 and
/// 113 characters; Okta's logins are at most 100).
pub const MAX_USER_NAME_CHARS: usize = 256;

/// `externalId`: identity providers put their own ids here (Entra ID's are
/// 36 characters, Okta's 20).
pub const MAX_EXTERNAL_ID_CHARS: usize = 256;

/// `displayName` of Users and Groups: Entra ID and Active Directory allow
/// 256 characters, Okta group names 255; four times that is headroom.
pub const MAX_DISPLAY_NAME_CHARS: usize = 1024;

/// Every other string, reference or sub-attribute (a name part, a title, a
/// formatted postal address, an email's `display`, a photo URL, a member's
/// `display`): room for a long URL (browsers stop near 2,000) or an LDAP
/// distinguished name.
pub const MAX_STRING_CHARS: usize = 2048;

/// Binary values: `x509Certificates.value`, base64 DER. A certificate with
/// a 4096-bit RSA key and the usual extensions is under 3 KiB of base64.
pub const MAX_BINARY_CHARS: usize = 16 * 1024;

/// One resource's document as stored: a User without its password (kept as
/// a hash), a Group without its members (kept as rows). A full, realistic
/// user is 1 to 2 KiB; 64 KiB also bounds its search index to a few
/// thousand `scim_values` rows.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Operations in one PATCH request. Identity providers send a few; Entra ID
/// batches group membership changes in far fewer than this.
pub const MAX_PATCH_OPERATIONS: usize = 1000;

/// Operations in one bulk request (`bulk.maxOperations`).
pub const MAX_BULK_OPERATIONS: usize = 1000;

/// The largest bulk request body, in bytes (`bulk.maxPayloadSize`), whatever
/// the server-wide body limit is.
pub const MAX_BULK_PAYLOAD: usize = 1024 * 1024;

/// Resources per list page (`filter.maxResults`): a larger `count` is
/// lowered to this.
pub const MAX_FILTER_RESULTS: usize = 1000;

/// The most characters a string value of `def` may have.
pub fn max_chars(def: &AttrDef) -> usize {
    match (def.ty, def.name) {
        (AttrType::Binary, _) => MAX_BINARY_CHARS,
        (_, "userName") => MAX_USER_NAME_CHARS,
        (_, "externalId") => MAX_EXTERNAL_ID_CHARS,
        (_, "displayName") => MAX_DISPLAY_NAME_CHARS,
        _ => MAX_STRING_CHARS,
    }
}

/// Checks the length of a string value of `def`; `path` names it in the
/// error (`emails.display`).
pub fn check_chars(def: &AttrDef, path: &str, s: &str) -> Result<(), ScimError> {
    let max = max_chars(def);
    // A string has at most as many characters as bytes: most need no count.
    if s.len() <= max || s.chars().count() <= max {
        return Ok(());
    }
    Err(ScimError::invalid_value(format!(
        "`{path}` is longer than {max} characters, the most accepted"
    )))
}

/// The most values a multi-valued attribute may hold: `None` for Group
/// `members`, which is not capped.
pub fn max_values(def: &AttrDef) -> Option<usize> {
    let members = GROUP.attr("members").map(std::ptr::from_ref);
    (members != Some(std::ptr::from_ref(def))).then_some(MAX_VALUES)
}

/// Checks how many values a multi-valued attribute holds.
pub fn check_count(def: &AttrDef, count: usize) -> Result<(), ScimError> {
    match max_values(def) {
        Some(max) if count > max => Err(ScimError::invalid_value(format!(
            "`{}` holds {count} values; at most {max} are accepted",
            def.name
        ))),
        _ => Ok(()),
    }
}

/// Checks the value counts of every multi-valued attribute of a document of
/// type `rt` (core attributes at the top level, each extension's under its
/// URN). Cheap: it counts, it does not walk the values.
pub fn check_counts(rt: ResourceType, doc: &Map<String, Value>) -> Result<(), ScimError> {
    for (key, value) in doc {
        if let Some(ext) = extension_named(rt, key) {
            for (k, v) in value.as_object().into_iter().flatten() {
                if let (Some(def), Value::Array(items)) = (ext.attr(k), v) {
                    check_count(def, items.len())?;
                }
            }
        } else if let (Some(def), Value::Array(items)) = (core_attr(rt, key), value) {
            check_count(def, items.len())?;
        }
    }
    Ok(())
}

/// Attributes that are not part of the stored document: a User's password
/// (stored as a hash), a Group's members (stored as rows).
fn kept_apart(rt: ResourceType, key: &str) -> bool {
    match rt {
        ResourceType::User => key == "password",
        ResourceType::Group => key == "members",
    }
}

/// The size in bytes of a normalized document as JSON, without the
/// attributes kept apart from it.
pub fn document_bytes(rt: ResourceType, doc: &Map<String, Value>) -> usize {
    struct Stored<'a>(ResourceType, &'a Map<String, Value>);
    impl Serialize for Stored<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.1.iter().filter(|(k, _)| !kept_apart(self.0, k)))
        }
    }
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Serializing a map of JSON values into a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, &Stored(rt, doc));
    count.0
}

/// Checks the size of a whole normalized document.
pub fn check_document(rt: ResourceType, doc: &Map<String, Value>) -> Result<(), ScimError> {
    let bytes = document_bytes(rt, doc);
    if bytes <= MAX_DOCUMENT_BYTES {
        return Ok(());
    }
    let what = match rt {
        ResourceType::User => "the User",
        ResourceType::Group => "the Group, without its members,",
    };
    Err(ScimError::invalid_value(format!(
        "{what} is {bytes} bytes as stored; at most {MAX_DOCUMENT_BYTES} are accepted"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::schema::{ENTERPRISE_URN, USER};
    use serde_json::json;

    fn user_attr(name: &str) -> &'static AttrDef {
        USER.attr(name).unwrap()
    }

    fn doc(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn identifiers_have_tighter_caps_than_other_strings() {
        assert_eq!(max_chars(user_attr("userName")), MAX_USER_NAME_CHARS);
        assert_eq!(max_chars(user_attr("displayName")), MAX_DISPLAY_NAME_CHARS);
        let external = core_attr(ResourceType::User, "externalId").unwrap();
        assert_eq!(max_chars(external), MAX_EXTERNAL_ID_CHARS);
        assert_eq!(
            max_chars(GROUP.attr("displayName").unwrap()),
            MAX_DISPLAY_NAME_CHARS
        );
        let emails = user_attr("emails");
        assert_eq!(max_chars(emails.sub("display").unwrap()), MAX_STRING_CHARS);
        assert_eq!(max_chars(user_attr("title")), MAX_STRING_CHARS);
        let certs = user_attr("x509Certificates");
        assert_eq!(max_chars(certs.sub("value").unwrap()), MAX_BINARY_CHARS);
        let smallest = [
            MAX_USER_NAME_CHARS,
            MAX_EXTERNAL_ID_CHARS,
            MAX_DISPLAY_NAME_CHARS,
            MAX_STRING_CHARS,
        ];
        assert!(smallest.iter().all(|&n| n >= 256), "room for real names");
    }

    #[test]
    fn a_string_at_its_cap_passes_and_one_more_character_is_refused() {
        let def = user_attr("userName");
        let at = "a".repeat(MAX_USER_NAME_CHARS);
        assert!(check_chars(def, "userName", &at).is_ok());
        let over = format!("{at}b");
        let e = check_chars(def, "userName", &over).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("`userName`"), "{}", e.detail);
        assert!(e.detail.contains("256"), "{}", e.detail);
        assert!(!e.detail.contains(&over), "the value is never echoed");
    }

    #[test]
    fn characters_are_counted_not_bytes() {
        let def = user_attr("userName");
        // Four bytes each: over the cap in bytes, at it in characters.
        let wide = "\u{1F600}".repeat(MAX_USER_NAME_CHARS);
        assert!(wide.len() > MAX_USER_NAME_CHARS);
        assert!(check_chars(def, "userName", &wide).is_ok());
        let over = format!("{wide}x");
        assert!(check_chars(def, "userName", &over).is_err());
    }

    #[test]
    fn value_counts_are_capped_except_group_members() {
        let emails = user_attr("emails");
        assert_eq!(max_values(emails), Some(MAX_VALUES));
        assert!(check_count(emails, MAX_VALUES).is_ok());
        let e = check_count(emails, MAX_VALUES + 1).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("`emails`") && e.detail.contains("100"));
        let members = GROUP.attr("members").unwrap();
        assert_eq!(max_values(members), None);
        assert!(check_count(members, 100_000).is_ok());
    }

    #[test]
    fn counts_are_checked_in_core_attributes_and_extensions() {
        let many =
            |n: usize| -> Value { (0..n).map(|i| json!({ "value": i.to_string() })).collect() };
        let ok = doc(json!({ "userName": "a", "emails": many(MAX_VALUES), "roles": many(3) }));
        assert!(check_counts(ResourceType::User, &ok).is_ok());
        let over = doc(json!({ "userName": "a", "phoneNumbers": many(MAX_VALUES + 1) }));
        let e = check_counts(ResourceType::User, &over).unwrap_err();
        assert!(e.detail.contains("`phoneNumbers`"), "{}", e.detail);
        let ext = doc(json!({ "userName": "a", ENTERPRISE_URN: { "department": "x" } }));
        assert!(check_counts(ResourceType::User, &ext).is_ok());
        let members: Value = (0..MAX_VALUES * 3)
            .map(|_| json!({ "value": uuid::Uuid::now_v7() }))
            .collect();
        let group = doc(json!({ "displayName": "g", "members": members }));
        assert!(check_counts(ResourceType::Group, &group).is_ok());
    }

    #[test]
    fn document_size_is_the_stored_json_without_what_is_kept_apart() {
        let user = doc(json!({ "userName": "a", "title": "t" }));
        assert_eq!(
            document_bytes(ResourceType::User, &user),
            Value::Object(user.clone()).to_string().len()
        );
        let mut with_password = user.clone();
        with_password.insert("password".into(), json!("p".repeat(1000)));
        assert_eq!(
            document_bytes(ResourceType::User, &with_password),
            document_bytes(ResourceType::User, &user)
        );
        let members: Value = (0..5000)
            .map(|_| json!({ "value": uuid::Uuid::now_v7() }))
            .collect();
        let group = doc(json!({ "displayName": "g", "members": members }));
        assert_eq!(
            document_bytes(ResourceType::Group, &group),
            json!({ "displayName": "g" }).to_string().len()
        );
        assert!(check_document(ResourceType::Group, &group).is_ok());
    }

    #[test]
    fn a_document_at_the_size_cap_passes_and_one_byte_more_is_refused() {
        let with_title = |n: usize| doc(json!({ "userName": "a", "title": "t".repeat(n) }));
        let overhead = document_bytes(ResourceType::User, &with_title(0));
        let at = with_title(MAX_DOCUMENT_BYTES - overhead);
        assert_eq!(document_bytes(ResourceType::User, &at), MAX_DOCUMENT_BYTES);
        assert!(check_document(ResourceType::User, &at).is_ok());
        let over = with_title(MAX_DOCUMENT_BYTES - overhead + 1);
        let e = check_document(ResourceType::User, &over).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("65536"), "{}", e.detail);
    }
}
