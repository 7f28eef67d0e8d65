//! The search index of SCIM documents (`scim_values`): one row per leaf
//! value, rewritten with the document in the same transaction. Filters read
//! it (see `query`), so that no filter ever loads an organization's
//! resources into memory.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::resource::{core_attr, extension_named};
use super::schema::{AttrDef, AttrType, ResourceType, Returned};
use crate::store::dynamic::{Arg, SqlParts};
use crate::store::{StoreError, Tx};

/// Attributes that live in columns of their own (and are filtered there),
/// so the index does not repeat them.
pub fn column_backed(rt: ResourceType, attr: &str) -> bool {
    let attr = attr.to_ascii_lowercase();
    match rt {
        ResourceType::User => matches!(
            attr.as_str(),
            "id" | "username" | "active" | "externalid" | "meta"
        ),
        ResourceType::Group => matches!(
            attr.as_str(),
            "id" | "displayname" | "externalid" | "meta" | "members"
        ),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct IndexRow {
    pub attr: String,
    pub path: String,
    pub elem: i64,
    pub text: String,
    pub lower: String,
    pub num: Option<f64>,
}

/// The index rows of a normalized document.
pub fn rows(rt: ResourceType, doc: &Map<String, Value>) -> Vec<IndexRow> {
    let mut out = Vec::new();
    for (key, value) in doc {
        if let Some(ext) = extension_named(rt, key) {
            let Value::Object(fields) = value else {
                continue;
            };
            for (k, v) in fields {
                if let Some(def) = ext.attr(k) {
                    let prefix = format!("{}:", ext.id.to_ascii_lowercase());
                    attr_rows(&prefix, def, v, &mut out);
                }
            }
        } else if let Some(def) = core_attr(rt, key)
            && !column_backed(rt, def.name)
        {
            attr_rows("", def, value, &mut out);
        }
    }
    out
}

fn attr_rows(prefix: &str, def: &AttrDef, value: &Value, out: &mut Vec<IndexRow>) {
    if def.returned == Returned::Never {
        return;
    }
    let attr = format!("{prefix}{}", def.name.to_ascii_lowercase());
    let items: Vec<&Value> = match value {
        Value::Array(items) if def.multi_valued => items.iter().collect(),
        single => vec![single],
    };
    for (elem, item) in items.into_iter().enumerate() {
        let elem = elem as i64;
        match (def.ty, item) {
            (AttrType::Complex, Value::Object(fields)) => {
                for (k, v) in fields {
                    if let Some(sub) = def.sub(k) {
                        let path = format!("{attr}.{}", sub.name.to_ascii_lowercase());
                        if let Some(row) = leaf(&attr, &path, elem, v) {
                            out.push(row);
                        }
                    }
                }
            }
            (_, v) => {
                if let Some(row) = leaf(&attr, &attr, elem, v) {
                    out.push(row);
                }
            }
        }
    }
}

fn leaf(attr: &str, path: &str, elem: i64, v: &Value) -> Option<IndexRow> {
    let (text, num) = match v {
        Value::String(s) if !s.is_empty() => (s.clone(), None),
        Value::Bool(b) => (b.to_string(), None),
        Value::Number(n) => (n.to_string(), n.as_f64()),
        _ => return None,
    };
    Some(IndexRow {
        attr: attr.to_string(),
        path: path.to_string(),
        elem,
        lower: text.to_lowercase(),
        text,
        num,
    })
}

/// Rows per INSERT: well under SQLite's limit on bound values.
const ROWS_PER_STATEMENT: usize = 300;

/// Replaces the index rows of one resource.
pub async fn write(
    tx: &mut Tx,
    org_id: Uuid,
    rt: ResourceType,
    resource_id: Uuid,
    rows: &[IndexRow],
) -> Result<(), StoreError> {
    remove(tx, resource_id).await?;
    insert(tx, org_id, rt, resource_id, rows).await
}

/// Indexes a resource that has no rows yet (a new one).
pub async fn insert(
    tx: &mut Tx,
    org_id: Uuid,
    rt: ResourceType,
    resource_id: Uuid,
    rows: &[IndexRow],
) -> Result<(), StoreError> {
    let rows: Vec<(Uuid, &IndexRow)> = rows.iter().map(|r| (resource_id, r)).collect();
    insert_rows(tx, org_id, rt, &rows).await
}

/// Indexes many new resources (one Bulk request's run of creates) in
/// multi-row INSERTs shared between them.
pub async fn insert_many(
    tx: &mut Tx,
    org_id: Uuid,
    rt: ResourceType,
    resources: &[(Uuid, Vec<IndexRow>)],
) -> Result<(), StoreError> {
    let rows: Vec<(Uuid, &IndexRow)> = resources
        .iter()
        .flat_map(|(id, rows)| rows.iter().map(move |r| (*id, r)))
        .collect();
    insert_rows(tx, org_id, rt, &rows).await
}

async fn insert_rows(
    tx: &mut Tx,
    org_id: Uuid,
    rt: ResourceType,
    rows: &[(Uuid, &IndexRow)],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q = SqlParts::new();
        q.sql("INSERT INTO scim_values (org_id, resource_type, resource_id, attr, path, elem, v_text, v_lower, v_num) VALUES ");
        for (i, (resource_id, r)) in chunk.iter().enumerate() {
            if i > 0 {
                q.sql(", ");
            }
            q.sql("(")
                .bind(Arg::Uuid(org_id))
                .sql(", ")
                .bind(Arg::Text(rt.name().into()));
            q.sql(", ")
                .bind(Arg::Uuid(*resource_id))
                .sql(", ")
                .bind(Arg::Text(r.attr.clone()));
            q.sql(", ")
                .bind(Arg::Text(r.path.clone()))
                .sql(", ")
                .bind(Arg::Int(r.elem));
            q.sql(", ")
                .bind(Arg::Text(r.text.clone()))
                .sql(", ")
                .bind(Arg::Text(r.lower.clone()));
            q.sql(", ");
            match r.num {
                Some(n) => q.bind(Arg::Num(n)),
                None => q.sql("NULL"),
            };
            q.sql(")");
        }
        tx.execute_parts(&q).await?;
    }
    Ok(())
}

/// Removes a resource from the index.
pub async fn remove(tx: &mut Tx, resource_id: Uuid) -> Result<(), StoreError> {
    crate::tx_execute!(
        tx,
        "DELETE FROM scim_values WHERE resource_id = $1",
        resource_id
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::ENTERPRISE_URN;
    use serde_json::json;

    #[test]
    fn leaves_become_rows_with_element_numbers() {
        let doc: Map<String, Value> = serde_json::from_value(json!({
            "userName": "bjensen",
            "name": { "givenName": "Barbara" },
            "emails": [{ "value": "B@x.com", "type": "work" }, { "value": "b@home", "primary": true }],
            ENTERPRISE_URN: { "manager": { "value": "m1" }, "employeeNumber": "7" },
        }))
        .unwrap();
        let rows = rows(ResourceType::User, &doc);
        let find = |path: &str, elem: i64| {
            rows.iter()
                .find(|r| r.path == path && r.elem == elem)
                .cloned()
        };
        assert!(find("username", 0).is_none(), "userName is column-backed");
        assert_eq!(find("name.givenname", 0).unwrap().lower, "barbara");
        let work = find("emails.value", 0).unwrap();
        assert_eq!(
            (work.text.as_str(), work.lower.as_str(), work.attr.as_str()),
            ("B@x.com", "b@x.com", "emails")
        );
        assert_eq!(find("emails.primary", 1).unwrap().text, "true");
        let manager = rows
            .iter()
            .find(|r| r.path.ends_with(":manager.value"))
            .unwrap();
        assert_eq!(
            manager.attr,
            format!("{}:manager", ENTERPRISE_URN.to_ascii_lowercase())
        );
    }
}
