//! The JSON text a SCIM response sends: one resource rendered and
//! projected, and the ListResponse around a page of them.
//!
//! Rendering builds the whole document ([`render`], then
//! [`resource::project`]): the stored document is parsed into a map, the
//! columns, `id`, `meta` and the related references are put in, and the
//! result is serialized. A page of 100 users spent most of its time there,
//! in the allocator. Under the default projection (no `attributes`, no
//! `excludedAttributes`, what identity providers send) nothing of the
//! stored values is changed, so [`resource_text`] writes them through as
//! they are stored, keeping only the order and the choices of the general
//! path: the same keys, sorted, and the same values. Anything it cannot
//! write that way (a stored document it cannot borrow) goes the general
//! way.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use super::http;
use super::kind::{Column, ScimResource, location, render};
use super::resource::{self, Projection, core_attr, extension_named};
use super::schema::LIST_URN;
use super::schema::{AttrDef, Returned};

/// One resource as JSON text, as the client's projection asks.
pub fn resource_text<R: ScimResource>(
    row: &R::Row,
    related: Option<&[R::Reference]>,
    base: &str,
    proj: &Projection,
) -> String {
    if proj.is_default()
        && let Some(text) = default_text::<R>(row, related, base)
    {
        return text;
    }
    let doc = resource::project(R::RT, render::<R>(row, related, base), proj);
    serde_json::to_string(&doc).expect("a map of JSON values always serializes")
}

/// A ListResponse (RFC 7644 §3.4.2) around resources already in JSON text.
pub fn list_text(total: i64, start_index: i64, items: &[String]) -> String {
    let len: usize = items.iter().map(|i| i.len() + 1).sum();
    let mut out = String::with_capacity(len + 160);
    out.push_str(r#"{"schemas":[""#);
    out.push_str(LIST_URN);
    out.push_str(&format!(
        r#""],"totalResults":{total},"startIndex":{start_index},"itemsPerPage":{},"Resources":["#,
        items.len()
    ));
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push_str("]}");
    out
}

/// What one key of the rendered document holds, before it is written.
enum Piece<'a> {
    Stored(&'a RawValue),
    Column(Column<'a>),
    Related,
    Schemas,
    Id,
    Meta,
}

/// Whether the default projection returns an attribute (RFC 7643 §2.2):
/// all but `never` and `request`, as [`resource::project`] decides.
fn returned_by_default(def: &AttrDef) -> bool {
    !matches!(def.returned, Returned::Never | Returned::Request)
}

/// [`render`] then [`resource::project`] under the default projection,
/// written straight to text. `None` when the stored document cannot be
/// borrowed as it is (a key with an escape, say): the caller renders it the
/// general way.
fn default_text<R: ScimResource>(
    row: &R::Row,
    related: Option<&[R::Reference]>,
    base: &str,
) -> Option<String> {
    let stored: BTreeMap<&str, &RawValue> = match R::stored(row) {
        Some(text) => serde_json::from_str(text).ok()?,
        None => BTreeMap::new(),
    };
    let mut doc: BTreeMap<&str, Piece> =
        stored.iter().map(|(k, v)| (*k, Piece::Stored(v))).collect();
    for (name, column) in R::columns(row, &|k| stored.contains_key(k)) {
        match column {
            Some(c) => doc.insert(name, Piece::Column(c)),
            None => doc.remove(name),
        };
    }
    if related.is_some_and(|r| !r.is_empty()) {
        doc.insert(R::RELATED, Piece::Related);
    }
    let extensions: Vec<&str> = R::RT
        .extensions()
        .into_iter()
        .map(|e| e.id)
        .filter(|id| doc.contains_key(id))
        .collect();
    doc.insert("schemas", Piece::Schemas);
    doc.insert("id", Piece::Id);
    doc.insert("meta", Piece::Meta);

    let meta = row.as_ref();
    let mut out = Vec::with_capacity(R::stored(row).map_or(0, str::len) + 512);
    out.push(b'{');
    let mut first = true;
    for (key, piece) in &doc {
        let is_extension = extension_named(R::RT, key).is_some();
        let shown = match piece {
            Piece::Schemas => true,
            _ if is_extension => true,
            _ => core_attr(R::RT, key).is_some_and(returned_by_default),
        };
        if !shown {
            continue;
        }
        let start = out.len();
        if !first {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, key).ok()?;
        out.push(b':');
        match piece {
            Piece::Schemas => {
                let mut urns = vec![R::RT.schema().id];
                urns.extend(&extensions);
                serde_json::to_writer(&mut out, &urns).ok()?;
            }
            Piece::Stored(raw) if is_extension => {
                if !write_extension::<R>(&mut out, key, raw)? {
                    out.truncate(start);
                    continue;
                }
            }
            // What project does with an extension that is not an object.
            _ if is_extension => {
                out.truncate(start);
                continue;
            }
            Piece::Stored(raw) => out.extend_from_slice(raw.get().as_bytes()),
            Piece::Column(Column::Text(t)) => serde_json::to_writer(&mut out, t).ok()?,
            Piece::Column(Column::Bool(b)) => serde_json::to_writer(&mut out, b).ok()?,
            Piece::Related => {
                let refs: Vec<_> = related
                    .unwrap_or_default()
                    .iter()
                    .map(|i| R::reference(i, base))
                    .collect();
                serde_json::to_writer(&mut out, &refs).ok()?;
            }
            Piece::Id => serde_json::to_writer(&mut out, &meta.id).ok()?,
            Piece::Meta => write_meta::<R>(&mut out, meta, base)?,
        }
        first = false;
    }
    out.push(b'}');
    String::from_utf8(out).ok()
}

/// An extension's object under the default projection: its known fields
/// that are returned by default. `Some(false)` when none is left.
fn write_extension<R: ScimResource>(out: &mut Vec<u8>, urn: &str, raw: &RawValue) -> Option<bool> {
    let ext = extension_named(R::RT, urn)?;
    let fields: BTreeMap<&str, &RawValue> = serde_json::from_str(raw.get()).ok()?;
    let kept: BTreeMap<&str, &RawValue> = fields
        .into_iter()
        .filter(|(k, _)| ext.attr(k).is_some_and(returned_by_default))
        .collect();
    if kept.is_empty() {
        return Some(false);
    }
    serde_json::to_writer(out, &kept).ok()?;
    Some(true)
}

/// `meta` as [`render`] writes it, keys in the same (sorted) order.
fn write_meta<R: ScimResource>(
    out: &mut Vec<u8>,
    meta: &super::store::Meta,
    base: &str,
) -> Option<()> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct MetaOut<'a> {
        created: &'a crate::store::Timestamp,
        last_modified: &'a crate::store::Timestamp,
        location: String,
        resource_type: &'a str,
        version: String,
    }
    serde_json::to_writer(
        out,
        &MetaOut {
            created: &meta.created_at,
            last_modified: &meta.updated_at,
            location: location::<R>(base, meta.id),
            resource_type: R::RT.name(),
            version: http::etag(meta.version),
        },
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use uuid::Uuid;

    use super::*;
    use crate::identity::members::RoleColumn;
    use crate::permissions::Role;
    use crate::scim::groups::Groups;
    use crate::scim::schema::{ENTERPRISE_URN, USER_URN};
    use crate::scim::store::Meta;
    use crate::scim::store::groups::GroupRow;
    use crate::scim::store::memberships::MemberRef;
    use crate::scim::store::users::ScimUserRow;
    use crate::scim::users::Users;
    use crate::store::Timestamp;

    const BASE: &str = "https://idp.example/scim/v2";

    fn meta() -> Meta {
        Meta {
            id: Uuid::new_v4(),
            org_id: Uuid::new_v4(),
            version: 7,
            created_at: Timestamp::from_unix_seconds(1_700_000_000).unwrap(),
            updated_at: Timestamp::from_unix_seconds(1_700_000_123).unwrap(),
        }
    }

    fn user(doc: Option<Value>, active: bool) -> ScimUserRow {
        ScimUserRow {
            meta: meta(),
            user_name: "bjensen@example.com".into(),
            display_name: Some("Babs \"B\" Jensen".into()),
            external_id: None,
            active,
            role: RoleColumn(Role::Member),
            scim_doc: doc.map(|d| d.to_string()),
        }
    }

    /// What the general path (render, project, serialize) sends.
    fn general<R: ScimResource>(row: &R::Row, related: Option<&[R::Reference]>) -> String {
        let doc = resource::project(
            R::RT,
            render::<R>(row, related, BASE),
            &Projection::default(),
        );
        serde_json::to_string(&doc).unwrap()
    }

    /// The direct text is taken, and is byte for byte the general path's.
    fn same_as_general<R: ScimResource>(row: &R::Row, related: Option<&[R::Reference]>) -> Value {
        let direct = default_text::<R>(row, related, BASE).expect("the direct path is taken");
        assert_eq!(direct, general::<R>(row, related));
        assert_eq!(
            resource_text::<R>(row, related, BASE, &Projection::default()),
            direct
        );
        serde_json::from_str(&direct).unwrap()
    }

    #[test]
    fn a_user_is_written_as_the_general_path_renders_it() {
        let row = user(
            Some(json!({
                "active": true,
                "emails": [{"primary": true, "type": "work", "value": "b@example.com"}],
                "name": {"familyName": "Jensen", "givenName": "Bärbara\n"},
                "nickName": "Babs",
            })),
            false,
        );
        let groups = vec![(Uuid::new_v4(), "Admins".to_string())];
        let doc = same_as_general::<Users>(&row, Some(&groups));
        assert_eq!(
            doc["active"],
            json!(false),
            "the column wins over the stored value"
        );
        assert_eq!(doc["userName"], json!("bjensen@example.com"));
        assert_eq!(doc["displayName"], json!("Babs \"B\" Jensen"));
        assert_eq!(doc["groups"][0]["display"], json!("Admins"));
        assert_eq!(doc["meta"]["version"], json!("W/\"7\""));
        assert_eq!(doc["schemas"], json!([USER_URN]));
        assert_eq!(doc["name"]["givenName"], json!("Bärbara\n"));
    }

    #[test]
    fn never_returned_and_unknown_attributes_are_left_out() {
        let row = user(
            Some(json!({
                "password": "hunter2",
                "bogus": 1,
                ENTERPRISE_URN: {"department": "R&D", "bogus": true},
            })),
            true,
        );
        let doc = same_as_general::<Users>(&row, Some(&[]));
        assert!(doc.get("password").is_none());
        assert!(doc.get("bogus").is_none());
        assert!(doc.get("groups").is_none(), "no groups, no attribute");
        assert!(doc.get("active").is_none(), "never set and not deactivated");
        assert_eq!(doc[ENTERPRISE_URN], json!({"department": "R&D"}));
        assert_eq!(doc["schemas"], json!([USER_URN, ENTERPRISE_URN]));
    }

    #[test]
    fn an_extension_left_empty_is_dropped_but_still_named() {
        let row = user(Some(json!({ENTERPRISE_URN: {"bogus": true}})), true);
        let doc = same_as_general::<Users>(&row, None);
        assert!(doc.get(ENTERPRISE_URN).is_none());
        assert_eq!(doc["schemas"], json!([USER_URN, ENTERPRISE_URN]));
    }

    #[test]
    fn a_user_without_a_stored_document_shows_its_columns() {
        let row = user(None, true);
        let doc = same_as_general::<Users>(&row, None);
        assert_eq!(doc["active"], json!(true));
        assert_eq!(doc["id"], json!(row.meta.id));
    }

    #[test]
    fn a_group_is_written_as_the_general_path_renders_it() {
        let row = GroupRow {
            meta: meta(),
            display_name: "Engineering".into(),
            external_id: Some("g-1".into()),
            scim_doc: json!({"externalId": "stale", "displayName": "stale"}).to_string(),
        };
        let members = vec![MemberRef {
            group_id: row.meta.id,
            member_type: "User".into(),
            member_id: Uuid::new_v4(),
            display: Some("bjensen".into()),
        }];
        let doc = same_as_general::<Groups>(&row, Some(&members));
        assert_eq!(doc["displayName"], json!("Engineering"));
        assert_eq!(doc["externalId"], json!("g-1"));
        assert_eq!(doc["members"][0]["type"], json!("User"));
    }

    #[test]
    fn a_document_it_cannot_borrow_goes_the_general_way() {
        // A key with an escape cannot be borrowed from the text.
        let row = user(
            Some(json!({"nick\u{0007}Name": "x", "nickName": "Babs"})),
            true,
        );
        assert!(default_text::<Users>(&row, None, BASE).is_none());
        let text = resource_text::<Users>(&row, None, BASE, &Projection::default());
        assert_eq!(text, general::<Users>(&row, None));
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["nickName"], json!("Babs"));
    }

    #[test]
    fn a_projection_goes_the_general_way() {
        let row = user(Some(json!({"nickName": "Babs", "title": "CTO"})), true);
        let proj = Projection::from_params(Some("nickName"), None);
        let doc: Value =
            serde_json::from_str(&resource_text::<Users>(&row, None, BASE, &proj)).unwrap();
        assert_eq!(doc["nickName"], json!("Babs"));
        assert!(doc.get("title").is_none());
        assert!(doc.get("id").is_some(), "id is always returned");
    }

    #[test]
    fn a_list_response_wraps_its_items() {
        let items = vec![r#"{"id":"a"}"#.to_string(), r#"{"id":"b"}"#.to_string()];
        let list: Value = serde_json::from_str(&list_text(12, 3, &items)).unwrap();
        assert_eq!(
            list,
            json!({
                "schemas": [LIST_URN],
                "totalResults": 12,
                "startIndex": 3,
                "itemsPerPage": 2,
                "Resources": [{"id": "a"}, {"id": "b"}],
            })
        );
        let empty: Value = serde_json::from_str(&list_text(0, 1, &[])).unwrap();
        assert_eq!(empty["Resources"], json!([]));
    }
}
