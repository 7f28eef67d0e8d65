//! The SCIM discovery documents (RFC 7643 §5–§7, RFC 7644 §4):
//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`, rendered as
//! pure functions of the definitions in [`super::schema`] and of the limits
//! in [`super::limits`] (bulk operation count and payload size, page size),
//! which the handlers enforce, so that what is advertised is exactly what
//! is implemented. This module owns those documents; it does no I/O.

use serde_json::{Map, Value, json};

use super::limits::{MAX_BULK_OPERATIONS, MAX_BULK_PAYLOAD, MAX_FILTER_RESULTS};
use super::schema::{AttrDef, ENTERPRISE_USER, GROUP, ResourceType, SchemaDef, USER};

const SPC_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Every resource type served, in the order `/ResourceTypes` lists them.
const RESOURCE_TYPES: [ResourceType; 2] = [ResourceType::User, ResourceType::Group];

/// Every schema described, in the order `/Schemas` lists them.
fn all_schemas() -> [&'static SchemaDef; 3] {
    [&USER, &ENTERPRISE_USER, &GROUP]
}

fn trim(base: &str) -> &str {
    base.trim_end_matches('/')
}

/// The `/ServiceProviderConfig` document (RFC 7643 §5). `base` is the
/// absolute base URL of the SCIM API, without a trailing slash.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC_URN],
        "patch": { "supported": true },
        "bulk": {
            "supported": true,
            "maxOperations": MAX_BULK_OPERATIONS,
            "maxPayloadSize": MAX_BULK_PAYLOAD,
        },
        "filter": { "supported": true, "maxResults": MAX_FILTER_RESULTS },
        "changePassword": { "supported": true },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Organization Service Access Token (scim_sat_…) with scim:read / scim:write",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", trim(base)),
        },
    })
}

fn render_resource_type(base: &str, rt: ResourceType) -> Value {
    let schema = rt.schema();
    let mut doc = json!({
        "schemas": [RESOURCE_TYPE_URN],
        "id": rt.name(),
        "name": rt.name(),
        "endpoint": rt.endpoint(),
        "description": schema.description,
        "schema": schema.id,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", trim(base), rt.name()),
        },
    });
    let extensions = rt.extensions();
    if !extensions.is_empty() {
        doc["schemaExtensions"] = extensions
            .iter()
            .map(|e| json!({ "schema": e.id, "required": false }))
            .collect();
    }
    doc
}

/// The `/ResourceTypes` documents (RFC 7643 §6): User (with the enterprise
/// extension, not required) and Group.
pub fn resource_types(base: &str) -> Vec<Value> {
    RESOURCE_TYPES
        .iter()
        .map(|&rt| render_resource_type(base, rt))
        .collect()
}

/// One `/ResourceTypes/{id}` document, by name without regard to case.
pub fn resource_type(base: &str, id: &str) -> Option<Value> {
    RESOURCE_TYPES
        .iter()
        .find(|rt| rt.name().eq_ignore_ascii_case(id))
        .map(|&rt| render_resource_type(base, rt))
}

/// One attribute definition as RFC 7643 §7 describes it; sub-attributes
/// carry the same fields.
fn render_attr(a: &AttrDef) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(a.name));
    m.insert("type".into(), json!(a.ty.as_str()));
    m.insert("multiValued".into(), json!(a.multi_valued));
    m.insert("description".into(), json!(a.description));
    m.insert("required".into(), json!(a.required));
    m.insert("caseExact".into(), json!(a.case_exact));
    m.insert("mutability".into(), json!(a.mutability.as_str()));
    m.insert("returned".into(), json!(a.returned.as_str()));
    m.insert("uniqueness".into(), json!(a.uniqueness.as_str()));
    if !a.canonical_values.is_empty() {
        m.insert("canonicalValues".into(), json!(a.canonical_values));
    }
    if !a.reference_types.is_empty() {
        m.insert("referenceTypes".into(), json!(a.reference_types));
    }
    if !a.sub_attributes.is_empty() {
        m.insert(
            "subAttributes".into(),
            a.sub_attributes.iter().map(render_attr).collect(),
        );
    }
    Value::Object(m)
}

/// One schema document (RFC 7643 §7). The common attributes (`id`,
/// `externalId`, `meta`) are not listed (RFC 7643 §3.1).
fn render_schema(base: &str, s: &SchemaDef) -> Value {
    json!({
        "schemas": [SCHEMA_URN],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": s.attributes.iter().map(render_attr).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", trim(base), s.id),
        },
    })
}

/// The `/Schemas` documents: core User, enterprise User, Group.
pub fn schemas(base: &str) -> Vec<Value> {
    all_schemas()
        .into_iter()
        .map(|s| render_schema(base, s))
        .collect()
}

/// One `/Schemas/{urn}` document, by URN without regard to case.
pub fn schema(base: &str, urn: &str) -> Option<Value> {
    all_schemas()
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
        .map(|s| render_schema(base, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_URN, GROUP_URN, USER_URN};

    const BASE: &str = "http://127.0.0.1:8080/scim/v2";

    fn attr<'a>(attrs: &'a Value, name: &str) -> &'a Value {
        attrs
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("attribute {name} missing"))
    }

    /// Checks the RFC 7643 §7 fields of one attribute against its
    /// definition, recursively.
    fn check_attr(doc: &Value, def: &AttrDef) {
        let obj = doc.as_object().unwrap();
        for key in [
            "name",
            "type",
            "multiValued",
            "description",
            "required",
            "caseExact",
            "mutability",
            "returned",
            "uniqueness",
        ] {
            assert!(obj.contains_key(key), "{} lacks {key}", def.name);
        }
        assert_eq!(doc["name"], def.name);
        assert_eq!(doc["type"], def.ty.as_str());
        assert_eq!(doc["multiValued"], def.multi_valued);
        assert_eq!(doc["required"], def.required);
        assert_eq!(doc["caseExact"], def.case_exact);
        assert_eq!(doc["mutability"], def.mutability.as_str());
        assert_eq!(doc["returned"], def.returned.as_str());
        assert_eq!(doc["uniqueness"], def.uniqueness.as_str());
        assert!(!doc["description"].as_str().unwrap().is_empty());
        for (key, values) in [
            ("canonicalValues", &def.canonical_values),
            ("referenceTypes", &def.reference_types),
        ] {
            if values.is_empty() {
                assert!(!obj.contains_key(key), "{} has empty {key}", def.name);
            } else {
                assert_eq!(doc[key], json!(values));
            }
        }
        if def.sub_attributes.is_empty() {
            assert!(!obj.contains_key("subAttributes"));
        } else {
            let subs = doc["subAttributes"].as_array().unwrap();
            assert_eq!(subs.len(), def.sub_attributes.len());
            for (s, d) in subs.iter().zip(&def.sub_attributes) {
                check_attr(s, d);
            }
        }
    }

    #[test]
    fn every_attribute_of_every_schema_is_described() {
        let docs = schemas(BASE);
        assert_eq!(docs.len(), 3);
        for (doc, def) in docs.iter().zip(all_schemas()) {
            assert_eq!(doc["schemas"], json!([SCHEMA_URN]));
            assert_eq!(doc["id"], def.id);
            assert_eq!(doc["name"], def.name);
            assert_eq!(
                doc["meta"],
                json!({
                    "resourceType": "Schema",
                    "location": format!("{BASE}/Schemas/{}", def.id),
                })
            );
            let attrs = doc["attributes"].as_array().unwrap();
            assert_eq!(attrs.len(), def.attributes.len());
            for (a, d) in attrs.iter().zip(&def.attributes) {
                check_attr(a, d);
            }
            for common in ["id", "externalId", "meta"] {
                assert!(
                    attrs.iter().all(|a| a["name"] != common),
                    "{} lists common attribute {common}",
                    def.id
                );
            }
        }
    }

    #[test]
    fn user_schema_describes_what_is_enforced() {
        let doc = schema(BASE, USER_URN).unwrap();
        let attrs = &doc["attributes"];
        let user_name = attr(attrs, "userName");
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["required"], true);
        let password = attr(attrs, "password");
        assert_eq!(password["returned"], "never");
        assert_eq!(password["mutability"], "writeOnly");
        let groups = attr(attrs, "groups");
        assert_eq!(groups["mutability"], "readOnly");
        assert_eq!(groups["multiValued"], true);
        assert_eq!(
            attr(&groups["subAttributes"], "$ref")["referenceTypes"],
            json!(["Group"])
        );
        let emails = attr(attrs, "emails");
        assert_eq!(
            attr(&emails["subAttributes"], "type")["canonicalValues"],
            json!(["work", "home", "other"])
        );
    }

    #[test]
    fn enterprise_schema_has_manager_with_its_sub_attributes() {
        let doc = schema(BASE, ENTERPRISE_URN).unwrap();
        let manager = attr(&doc["attributes"], "manager");
        assert_eq!(manager["type"], "complex");
        let names: Vec<&str> = manager["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["value", "$ref", "displayName"]);
        assert_eq!(
            attr(&manager["subAttributes"], "$ref")["referenceTypes"],
            json!(["User"])
        );
    }

    #[test]
    fn lookups_ignore_case_and_unknown_ones_are_none() {
        assert_eq!(
            schema(BASE, &USER_URN.to_ascii_uppercase()).unwrap()["id"],
            USER_URN
        );
        assert_eq!(
            schema(BASE, &ENTERPRISE_URN.to_ascii_lowercase()).unwrap()["id"],
            ENTERPRISE_URN
        );
        assert_eq!(schema(BASE, GROUP_URN).unwrap()["id"], GROUP_URN);
        assert!(schema(BASE, "urn:ietf:params:scim:schemas:core:2.0:Nope").is_none());
        assert!(schema(BASE, "").is_none());
        assert_eq!(resource_type(BASE, "user").unwrap()["id"], "User");
        assert_eq!(resource_type(BASE, "GROUP").unwrap()["id"], "Group");
        assert!(resource_type(BASE, "Users").is_none());
        assert!(resource_type(BASE, "").is_none());
    }

    #[test]
    fn service_provider_config_advertises_the_limits() {
        let spc = service_provider_config(BASE);
        assert_eq!(spc["schemas"], json!([SPC_URN]));
        assert_eq!(spc["bulk"]["supported"], true);
        assert_eq!(spc["bulk"]["maxOperations"], MAX_BULK_OPERATIONS);
        assert_eq!(spc["bulk"]["maxPayloadSize"], MAX_BULK_PAYLOAD);
        assert_eq!(spc["bulk"]["maxPayloadSize"], 1_048_576);
        assert_eq!(spc["filter"]["supported"], true);
        assert_eq!(spc["filter"]["maxResults"], MAX_FILTER_RESULTS);
        for feature in ["patch", "changePassword", "sort", "etag"] {
            assert_eq!(spc[feature]["supported"], true, "{feature}");
        }
        let schemes = spc["authenticationSchemes"].as_array().unwrap();
        assert_eq!(schemes.len(), 1);
        assert_eq!(schemes[0]["type"], "oauthbearertoken");
        assert_eq!(schemes[0]["primary"], true);
        assert_eq!(
            spc["meta"],
            json!({
                "resourceType": "ServiceProviderConfig",
                "location": format!("{BASE}/ServiceProviderConfig"),
            })
        );
    }

    #[test]
    fn resource_types_name_their_schemas_and_extensions() {
        let rts = resource_types(BASE);
        assert_eq!(rts.len(), 2);
        let user = &rts[0];
        assert_eq!(user["schemas"], json!([RESOURCE_TYPE_URN]));
        assert_eq!(user["id"], "User");
        assert_eq!(user["name"], "User");
        assert_eq!(user["endpoint"], "/Users");
        assert_eq!(user["schema"], USER_URN);
        assert_eq!(
            user["schemaExtensions"],
            json!([{ "schema": ENTERPRISE_URN, "required": false }])
        );
        assert_eq!(
            user["meta"],
            json!({
                "resourceType": "ResourceType",
                "location": format!("{BASE}/ResourceTypes/User"),
            })
        );
        let group = &rts[1];
        assert_eq!(group["id"], "Group");
        assert_eq!(group["endpoint"], "/Groups");
        assert_eq!(group["schema"], GROUP_URN);
        assert!(group.get("schemaExtensions").is_none());
        assert_eq!(
            group["meta"]["location"],
            format!("{BASE}/ResourceTypes/Group")
        );
        assert_eq!(resource_type(BASE, "User").as_ref(), Some(user));
    }

    #[test]
    fn every_described_schema_is_reachable_from_a_resource_type() {
        let described: Vec<Value> = schemas(BASE).iter().map(|s| s["id"].clone()).collect();
        let mut referenced = Vec::new();
        for rt in resource_types(BASE) {
            referenced.push(rt["schema"].clone());
            if let Some(exts) = rt["schemaExtensions"].as_array() {
                referenced.extend(exts.iter().map(|e| e["schema"].clone()));
            }
        }
        assert_eq!(described, referenced);
    }
}
