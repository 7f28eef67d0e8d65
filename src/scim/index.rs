//! The search index of SCIM documents (`scim_values`): one row per leaf
//! value, rewritten with the document in the same transaction. Filters read
//! it (see `query`), so that no filter ever loads an organization's
//! resources into memory.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::resource::{core_attr, extension_named};
use super::schema::{AttrDef, AttrType, ResourceType, Returned};
use crate::store::dynamic::{Arg, SqlParts};
use crate::store::{StoreError, Tx, TxConn};

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

/// Which value column of the index an attribute's filters and sorts read,
/// by the type and case sensitivity of its leaf. A row fills only that
/// column, and each value index is partial (`WHERE v_… IS NOT NULL`,
/// migration 16): a row costs the table and two index inserts (its value
/// column's and the resource's) where filling all three cost four. The
/// index inserts were a third of a Bulk import's CPU.
///
/// Rows written before migration 16 have every column filled; they are
/// found the same way. A change of an attribute's type or `caseExact`
/// needs its rows written again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// `v_lower`: case-insensitive text.
    Folded,
    /// `v_text`: case-exact text, booleans, date-times.
    Exact,
    /// `v_num`: integers and decimals.
    Num,
}

impl Slot {
    pub fn of(leaf: &AttrDef) -> Self {
        match leaf.ty {
            AttrType::Integer | AttrType::Decimal => Slot::Num,
            AttrType::Boolean | AttrType::DateTime => Slot::Exact,
            _ if leaf.case_exact => Slot::Exact,
            _ => Slot::Folded,
        }
    }

    pub fn column(self) -> &'static str {
        match self {
            Slot::Folded => "v_lower",
            Slot::Exact => "v_text",
            Slot::Num => "v_num",
        }
    }
}

/// One leaf value; only its [`Slot`]'s column is set.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexRow {
    pub attr: String,
    pub path: String,
    pub elem: i64,
    pub text: Option<String>,
    pub lower: Option<String>,
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
                        if let Some(row) = leaf(&attr, &path, elem, sub, v) {
                            out.push(row);
                        }
                    }
                }
            }
            (_, v) => {
                if let Some(row) = leaf(&attr, &attr, elem, def, v) {
                    out.push(row);
                }
            }
        }
    }
}

fn leaf(attr: &str, path: &str, elem: i64, def: &AttrDef, v: &Value) -> Option<IndexRow> {
    let text = match v {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let (text, lower, num) = match Slot::of(def) {
        Slot::Num => (None, None, v.as_f64()),
        Slot::Exact => (Some(text), None, None),
        Slot::Folded => (None, Some(text.to_lowercase()), None),
    };
    Some(IndexRow {
        attr: attr.to_string(),
        path: path.to_string(),
        elem,
        text,
        lower,
        num,
    })
}

/// Rows per INSERT on PostgreSQL: one round trip for many rows.
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

/// The head of an index row INSERT, up to its values.
macro_rules! insert_values {
    () => {
        "INSERT INTO scim_values (org_id, resource_type, resource_id, attr, path, elem, \
         v_text, v_lower, v_num) VALUES "
    };
}

async fn insert_rows(
    tx: &mut Tx,
    org_id: Uuid,
    rt: ResourceType,
    rows: &[(Uuid, &IndexRow)],
) -> Result<(), StoreError> {
    if let TxConn::Sqlite(t) = &mut tx.conn {
        // In place there is no round trip to save: one prepared one-row
        // INSERT per row, its values borrowed, where a multi-row statement
        // built its text and an owned copy of every value each time (a
        // sixth of a Bulk import's CPU) and kept a statement journal.
        let conn = t.in_place().await?;
        let mut insert = conn.prepare_cached(concat!(
            insert_values!(),
            "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ))?;
        for (resource_id, r) in rows {
            insert.execute(rusqlite::params![
                org_id,
                rt.name(),
                resource_id,
                r.attr,
                r.path,
                r.elem,
                r.text,
                r.lower,
                r.num
            ])?;
        }
        return Ok(());
    }
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        tx.execute_parts(&insert_statement(org_id, rt, chunk))
            .await?;
    }
    Ok(())
}

/// The INSERT of a new resource's rows as one statement, for its kind to
/// run in the statement that inserts the resource (on PostgreSQL, where
/// every statement is a round trip in the writers' turn); `None` when it
/// has none, or more than one statement takes.
pub fn insert_beside(
    org_id: Uuid,
    rt: ResourceType,
    resource_id: Uuid,
    rows: &[IndexRow],
) -> Option<SqlParts> {
    if rows.is_empty() || rows.len() > ROWS_PER_STATEMENT {
        return None;
    }
    let rows: Vec<(Uuid, &IndexRow)> = rows.iter().map(|r| (resource_id, r)).collect();
    Some(insert_statement(org_id, rt, &rows))
}

/// One multi-row INSERT of `rows`.
fn insert_statement(org_id: Uuid, rt: ResourceType, rows: &[(Uuid, &IndexRow)]) -> SqlParts {
    let mut q = SqlParts::new();
    q.sql(insert_values!());
    for (i, (resource_id, r)) in rows.iter().enumerate() {
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
        for text in [&r.text, &r.lower] {
            q.sql(", ");
            match text {
                Some(t) => q.bind(Arg::Text(t.clone())),
                None => q.sql("NULL"),
            };
        }
        q.sql(", ");
        match r.num {
            Some(n) => q.bind(Arg::Num(n)),
            None => q.sql("NULL"),
        };
        q.sql(")");
    }
    q
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
        let given = find("name.givenname", 0).unwrap();
        assert_eq!(given.lower.as_deref(), Some("barbara"));
        assert_eq!(given.text, None, "case-insensitive: only folded");
        let work = find("emails.value", 0).unwrap();
        assert_eq!(
            (
                work.text.as_deref(),
                work.lower.as_deref(),
                work.attr.as_str()
            ),
            (None, Some("b@x.com"), "emails")
        );
        let primary = find("emails.primary", 1).unwrap();
        assert_eq!(
            (primary.text.as_deref(), primary.lower.as_deref()),
            (Some("true"), None),
            "a boolean is compared exactly"
        );
        let manager = rows
            .iter()
            .find(|r| r.path.ends_with(":manager.value"))
            .unwrap();
        assert_eq!(
            manager.attr,
            format!("{}:manager", ENTERPRISE_URN.to_ascii_lowercase())
        );
    }

    #[test]
    fn a_new_resources_rows_go_beside_its_insert_only_when_one_statement_holds_them() {
        let row = |n: usize| IndexRow {
            attr: "emails".into(),
            path: "emails.value".into(),
            elem: n as i64,
            text: None,
            lower: Some(format!("u{n}@x")),
            num: None,
        };
        let (org, id) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(insert_beside(org, ResourceType::User, id, &[]), None);
        let two: Vec<IndexRow> = (0..2).map(row).collect();
        let beside = insert_beside(org, ResourceType::User, id, &two).expect("one statement");
        assert_eq!(
            beside.preview(),
            concat!(
                insert_values!(),
                "(?, ?, ?, ?, ?, ?, NULL, ?, NULL), (?, ?, ?, ?, ?, ?, NULL, ?, NULL)"
            )
        );
        let many: Vec<IndexRow> = (0..=ROWS_PER_STATEMENT).map(row).collect();
        assert_eq!(insert_beside(org, ResourceType::User, id, &many), None);
    }
}
