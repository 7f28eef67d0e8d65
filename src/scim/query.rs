//! Filters and sorting compiled to SQL (WHERE and ORDER BY fragments with
//! bound values) for both backends. Attributes with a column of their own
//! are compared there; group memberships through the membership table;
//! every other attribute through the `scim_values` index. The main table is
//! always aliased `r`.

use uuid::Uuid;

use super::error::ScimError;
use super::filter::{Expr, Literal, Op};
use super::index::{Slot, column_backed};
use super::schema::{AttrType, Resolved, ResourceType};
use crate::store::dynamic::{Arg, Dialect, MatchKind, PageOrder, SqlParts};

/// How a column holds its attribute.
#[derive(Clone, Copy, Debug)]
enum Col {
    Uuid(&'static str),
    /// Lowercased text: compared with a lowercased literal.
    Folded(&'static str),
    /// Case-exact text.
    Exact(&'static str),
    Bool(&'static str),
    Time(&'static str),
    /// A constant, such as `meta.resourceType`.
    Const(&'static str),
}

pub struct Compiler {
    rt: ResourceType,
    org_id: Uuid,
    dialect: Dialect,
}

impl Compiler {
    pub fn new(rt: ResourceType, org_id: Uuid, dialect: Dialect) -> Self {
        Self {
            rt,
            org_id,
            dialect,
        }
    }

    /// The WHERE fragment for `expr`.
    pub fn filter(&self, expr: &Expr) -> Result<SqlParts, ScimError> {
        let mut q = SqlParts::new();
        self.expr(&mut q, expr)?;
        Ok(q)
    }

    /// Writes the boolean structure of `e` (and, or, not, and the two
    /// negations `ne` and `eq null`), handing every leaf to `leaf`.
    fn logical(
        &self,
        q: &mut SqlParts,
        e: &Expr,
        leaf: &dyn Fn(&Self, &mut SqlParts, &Expr) -> Result<(), ScimError>,
    ) -> Result<(), ScimError> {
        let negated = |q: &mut SqlParts, inner: &Expr| -> Result<(), ScimError> {
            q.sql("NOT (");
            self.logical(q, inner, leaf)?;
            q.sql(")");
            Ok(())
        };
        match e {
            Expr::And(items) | Expr::Or(items) => {
                let joiner = if matches!(e, Expr::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                q.sql("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        q.sql(joiner);
                    }
                    self.logical(q, item, leaf)?;
                }
                q.sql(")");
                Ok(())
            }
            Expr::Not(inner) => negated(q, inner),
            Expr::Compare(t, Op::Ne, lit) => negated(q, &Expr::Compare(*t, Op::Eq, lit.clone())),
            Expr::Compare(t, Op::Eq, Literal::Null) => negated(q, &Expr::Present(*t)),
            other => leaf(self, q, other),
        }
    }

    fn expr(&self, q: &mut SqlParts, e: &Expr) -> Result<(), ScimError> {
        self.logical(q, e, &Self::expr_leaf)
    }

    /// A leaf of a filter over resources `r`.
    fn expr_leaf(&self, q: &mut SqlParts, e: &Expr) -> Result<(), ScimError> {
        match e {
            Expr::And(_) | Expr::Or(_) | Expr::Not(_) => return Err(not_a_leaf()),
            Expr::Any(attr, _) if self.is_membership(attr) => self.membership(q, e)?,
            Expr::Present(t) | Expr::Compare(t, ..) if self.is_membership(t) => {
                let whole = Resolved { sub: None, ..*t };
                self.membership(q, &Expr::Any(whole, Box::new(e.clone())))?;
            }
            Expr::Present(t) => match self.column(t)? {
                Some(Col::Const(_)) => {
                    q.sql("1=1");
                }
                Some(col) => {
                    let name = col_name(col);
                    q.sql(format!("({name} IS NOT NULL)"));
                }
                None => {
                    self.index_subquery(q, t)?;
                    q.sql(")");
                }
            },
            Expr::Compare(t, op, lit) => match self.column(t)? {
                Some(col) => self.column_compare(q, col, *op, lit)?,
                None => {
                    self.index_subquery(q, t)?;
                    q.sql(" AND ");
                    self.value_compare(q, t, *op, lit)?;
                    q.sql(")");
                }
            },
            Expr::Any(attr, inner) => {
                q.sql("r.id IN (SELECT e.resource_id FROM scim_values e WHERE e.org_id = ");
                q.bind(Arg::Uuid(self.org_id));
                q.sql(" AND e.resource_type = ")
                    .bind(Arg::Text(self.rt.name().into()));
                q.sql(" AND e.attr = ").bind(Arg::Text(attr_key(attr)));
                q.sql(" AND ");
                self.element(q, inner)?;
                q.sql(")");
            }
        }
        Ok(())
    }

    /// Opens `r.id IN (SELECT … FROM scim_values v WHERE …path…` for a
    /// leaf or, for a complex attribute named whole, any of its leaves.
    fn index_subquery(&self, q: &mut SqlParts, t: &Resolved) -> Result<(), ScimError> {
        q.sql("r.id IN (SELECT v.resource_id FROM scim_values v WHERE v.org_id = ");
        q.bind(Arg::Uuid(self.org_id));
        q.sql(" AND v.resource_type = ")
            .bind(Arg::Text(self.rt.name().into()));
        if t.sub.is_none() && t.attr.ty == AttrType::Complex {
            q.sql(" AND v.attr = ").bind(Arg::Text(attr_key(t)));
        } else {
            q.sql(" AND v.path = ").bind(Arg::Text(t.index_path()));
        }
        Ok(())
    }

    /// An inner filter of a value path, over the element rows `e`.
    fn element(&self, q: &mut SqlParts, e: &Expr) -> Result<(), ScimError> {
        self.logical(q, e, &Self::element_leaf)
    }

    fn element_leaf(&self, q: &mut SqlParts, e: &Expr) -> Result<(), ScimError> {
        match e {
            Expr::Present(t) | Expr::Compare(t, ..) => {
                q.sql("EXISTS (SELECT 1 FROM scim_values v WHERE v.resource_id = e.resource_id ");
                q.sql("AND v.attr = e.attr AND v.elem = e.elem AND v.path = ");
                q.bind(Arg::Text(t.index_path()));
                if let Expr::Compare(_, op, lit) = e {
                    q.sql(" AND ");
                    self.value_compare(q, t, *op, lit)?;
                }
                q.sql(")");
            }
            Expr::Any(..) => return Err(ScimError::invalid_filter("value paths cannot nest")),
            Expr::And(_) | Expr::Or(_) | Expr::Not(_) => return Err(not_a_leaf()),
        }
        Ok(())
    }

    /// Compares an index row `v` with a literal.
    fn value_compare(
        &self,
        q: &mut SqlParts,
        t: &Resolved,
        op: Op,
        lit: &Literal,
    ) -> Result<(), ScimError> {
        let leaf = t.leaf();
        let slot = Slot::of(leaf);
        let (column, arg) = match (slot, lit) {
            (Slot::Num, Literal::Num(n)) => ("v.v_num", Arg::Num(*n)),
            (Slot::Exact, Literal::Bool(b)) => ("v.v_text", Arg::Text(b.to_string())),
            (Slot::Exact, Literal::DateTime(s) | Literal::Str(s)) => {
                ("v.v_text", Arg::Text(s.clone()))
            }
            (Slot::Folded, Literal::Str(s)) => ("v.v_lower", Arg::Text(s.to_lowercase())),
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "cannot compare `{}` with that value",
                    leaf.name
                )));
            }
        };
        self.compare(q, column, matches!(slot, Slot::Exact), op, arg)
    }

    /// `column op value`, with pattern matches spelled per dialect.
    /// A text column as an ordering comparison must see it: in byte order
    /// (PostgreSQL would otherwise use the database's locale). Equality needs
    /// no collation (it is byte equality under any deterministic one), and
    /// leaving it off lets PostgreSQL use the column's index: with `COLLATE
    /// "C"`, a `userName eq` scanned every member of the organization.
    fn collated(&self, c: &str, op: Op) -> String {
        if op == Op::Eq {
            c.to_string()
        } else {
            format!("{c}{}", self.dialect.binary_collation())
        }
    }

    fn compare(
        &self,
        q: &mut SqlParts,
        column: &str,
        case_sensitive: bool,
        op: Op,
        arg: Arg,
    ) -> Result<(), ScimError> {
        let kind = match op {
            Op::Co => Some(MatchKind::Contains),
            Op::Sw => Some(MatchKind::StartsWith),
            Op::Ew => Some(MatchKind::EndsWith),
            _ => None,
        };
        if let Some(kind) = kind {
            let Arg::Text(needle) = &arg else {
                return Err(ScimError::invalid_filter("co, sw and ew compare text"));
            };
            let (sql, pattern) = if case_sensitive {
                self.dialect.case_sensitive_match(column, kind, needle)
            } else {
                self.dialect.folded_match(column, kind, needle)
            };
            q.sql(sql)
                .bind(Arg::Text(pattern))
                .sql(self.dialect.match_suffix(case_sensitive));
            return Ok(());
        }
        let sym = match op {
            Op::Eq => "=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            _ => unreachable!("ne and the pattern operators are handled above"),
        };
        q.sql(format!("{column} {sym} ")).bind(arg);
        Ok(())
    }

    fn column(&self, t: &Resolved) -> Result<Option<Col>, ScimError> {
        if t.extension.is_some() || !column_backed(self.rt, t.attr.name) {
            return Ok(None);
        }
        let name = t.attr.name.to_ascii_lowercase();
        let sub = t.sub.map(|s| s.name.to_ascii_lowercase());
        Ok(Some(match (self.rt, name.as_str(), sub.as_deref()) {
            (_, "id", None) => Col::Uuid("r.id"),
            (_, "externalid", None) => Col::Exact("r.external_id"),
            (ResourceType::User, "username", None) => Col::Folded("r.user_name_key"),
            (ResourceType::User, "active", None) => Col::Bool("r.active"),
            (ResourceType::Group, "displayname", None) => Col::Folded("r.display_name_key"),
            (_, "meta", Some("created")) => Col::Time("r.created_at"),
            (_, "meta", Some("lastmodified")) => Col::Time("r.updated_at"),
            (_, "meta", Some("resourcetype")) => Col::Const(self.rt.name()),
            (_, "meta", None) => Col::Const(self.rt.name()),
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "filtering on `{}` is not supported",
                    t.index_path()
                )));
            }
        }))
    }

    fn column_compare(
        &self,
        q: &mut SqlParts,
        col: Col,
        op: Op,
        lit: &Literal,
    ) -> Result<(), ScimError> {
        let bad =
            || ScimError::invalid_filter("that comparison is not supported for this attribute");
        match (col, lit) {
            (Col::Uuid(c), Literal::Str(s)) => {
                if op != Op::Eq {
                    return Err(bad());
                }
                // An id that is not a UUID names no resource.
                match Uuid::parse_str(s) {
                    Ok(id) => q.sql(format!("{c} = ")).bind(Arg::Uuid(id)),
                    Err(_) => q.sql("1=0"),
                };
            }
            (Col::Folded(c), Literal::Str(s)) => {
                q.sql(format!("({c} IS NOT NULL AND "));
                let collated = self.collated(c, op);
                self.compare(q, &collated, false, op, Arg::Text(s.to_lowercase()))?;
                q.sql(")");
            }
            (Col::Exact(c), Literal::Str(s)) => {
                q.sql(format!("({c} IS NOT NULL AND "));
                let collated = self.collated(c, op);
                self.compare(q, &collated, true, op, Arg::Text(s.clone()))?;
                q.sql(")");
            }
            (Col::Bool(c), Literal::Bool(b)) if op == Op::Eq => {
                q.sql(format!("{c} = ")).bind(Arg::Bool(*b));
            }
            (Col::Time(c), Literal::DateTime(s)) => {
                let t = crate::store::Timestamp::parse_rfc3339(s).ok_or_else(bad)?;
                self.compare(q, c, true, op, Arg::Time(t))?;
            }
            (Col::Const(value), Literal::Str(s)) if op == Op::Eq => {
                q.sql(if s.eq_ignore_ascii_case(value) {
                    "1=1"
                } else {
                    "1=0"
                });
            }
            _ => return Err(bad()),
        }
        Ok(())
    }

    /// Group `members` and User `groups` live in the membership table.
    fn is_membership(&self, t: &Resolved) -> bool {
        t.extension.is_none()
            && matches!(
                (self.rt, t.attr.name),
                (ResourceType::Group, "members") | (ResourceType::User, "groups")
            )
    }

    /// `attr[inner]` over memberships `m`: for a Group, the groups having
    /// such a member; for a User, the users in such a group.
    fn membership(&self, q: &mut SqlParts, e: &Expr) -> Result<(), ScimError> {
        let Expr::Any(_, inner) = e else {
            return Err(ScimError::invalid_filter("unsupported membership filter"));
        };
        let (own, other) = match self.rt {
            ResourceType::Group => ("m.group_id", "m.member_id"),
            ResourceType::User => ("m.member_id", "m.group_id"),
        };
        q.sql(format!(
            "r.id IN (SELECT {own} FROM scim_group_members m WHERE m.org_id = "
        ));
        q.bind(Arg::Uuid(self.org_id)).sql(" AND ");
        self.membership_term(q, inner, other)?;
        q.sql(")");
        Ok(())
    }

    fn membership_term(&self, q: &mut SqlParts, e: &Expr, other: &str) -> Result<(), ScimError> {
        self.logical(q, e, &|c: &Self, q: &mut SqlParts, leaf: &Expr| {
            c.membership_leaf(q, leaf, other)
        })
    }

    /// `value eq`, `type eq` or `pr` on one membership `m`; `other` is the
    /// column holding the member (or group) id.
    fn membership_leaf(&self, q: &mut SqlParts, e: &Expr, other: &str) -> Result<(), ScimError> {
        let unsupported = || {
            ScimError::invalid_filter("membership filters support value eq, type eq and pr only")
        };
        match e {
            Expr::Present(_) => {
                q.sql("1=1");
            }
            Expr::Compare(t, Op::Eq, Literal::Str(s)) => {
                match t.sub.map(|s| s.name) {
                    Some("value") | None => match Uuid::parse_str(s) {
                        Ok(id) => q.sql(format!("{other} = ")).bind(Arg::Uuid(id)),
                        Err(_) => q.sql("1=0"),
                    },
                    Some("type") if self.rt == ResourceType::Group => q
                        .sql("m.member_type = ")
                        .bind(Arg::Text(if s.eq_ignore_ascii_case("group") {
                            "Group".into()
                        } else if s.eq_ignore_ascii_case("user") {
                            "User".into()
                        } else {
                            s.clone()
                        })),
                    // Every membership is direct: groups do not nest into users.
                    Some("type") => q.sql(if s.eq_ignore_ascii_case("direct") {
                        "1=1"
                    } else {
                        "1=0"
                    }),
                    _ => return Err(unsupported()),
                };
            }
            _ => return Err(unsupported()),
        }
        Ok(())
    }

    /// The ORDER BY fragment (without the keyword) for `sortBy`, always
    /// ending with the id so that pages are stable.
    pub fn order(
        &self,
        sort_by: Option<&Resolved>,
        descending: bool,
    ) -> Result<PageOrder, ScimError> {
        let dir = if descending { "DESC" } else { "ASC" };
        let mut q = SqlParts::new();
        let Some(t) = sort_by else {
            // Without sortBy, sortOrder has nothing to apply to (RFC 7644
            // §3.4.2.3 orders by sortBy only): the default order.
            return Ok(PageOrder::ById);
        };
        if self.is_membership(t) || (t.sub.is_none() && t.attr.ty == AttrType::Complex) {
            return Err(ScimError::invalid_value(format!(
                "cannot sort by `{}`",
                t.index_path()
            )));
        }
        match self.column(t)? {
            Some(Col::Const(_)) => {}
            Some(col) => {
                q.sql(format!(
                    "{}{} {dir} NULLS LAST, ",
                    col_name(col),
                    self.dialect.binary_collation_for(col_is_text(col))
                ));
            }
            None => {
                let column = Slot::of(t.leaf()).column();
                q.sql(format!("(SELECT MIN(s.{column}) FROM scim_values s WHERE s.resource_id = r.id AND s.path = "));
                q.bind(Arg::Text(t.index_path()));
                q.sql(format!(") {dir} NULLS LAST, "));
            }
        }
        q.sql(format!("r.id {dir}"));
        Ok(PageOrder::Sorted(q))
    }
}

/// `logical` hands only leaves to the leaf writers.
fn not_a_leaf() -> ScimError {
    ScimError::internal("a logical node reached a leaf writer")
}

fn col_name(c: Col) -> &'static str {
    match c {
        Col::Uuid(n) | Col::Folded(n) | Col::Exact(n) | Col::Bool(n) | Col::Time(n) => n,
        Col::Const(_) => "NULL",
    }
}

fn col_is_text(c: Col) -> bool {
    matches!(c, Col::Folded(_) | Col::Exact(_))
}

/// The `attr` column value of a top-level attribute.
fn attr_key(t: &Resolved) -> String {
    let mut k = String::new();
    if let Some(ext) = t.extension {
        k.push_str(&ext.to_ascii_lowercase());
        k.push(':');
    }
    k.push_str(&t.attr.name.to_ascii_lowercase());
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse;

    fn sql(rt: ResourceType, f: &str) -> String {
        let c = Compiler::new(rt, Uuid::nil(), Dialect::Postgres);
        c.filter(&parse(rt, f).unwrap()).unwrap().preview()
    }

    #[test]
    fn column_backed_attributes_use_their_columns() {
        assert_eq!(
            sql(ResourceType::User, "userName eq \"BJensen\""),
            "(r.user_name_key IS NOT NULL AND r.user_name_key = ?)"
        );
        assert_eq!(
            sql(ResourceType::User, "userName gt \"b\""),
            "(r.user_name_key IS NOT NULL AND r.user_name_key COLLATE \"C\" > ?)"
        );
        assert_eq!(sql(ResourceType::User, "active eq true"), "r.active = ?");
        assert_eq!(sql(ResourceType::User, "id eq \"not-a-uuid\""), "1=0");
    }

    #[test]
    fn other_attributes_go_through_the_index() {
        let s = sql(ResourceType::User, "name.familyName co \"O'M\"");
        assert!(
            s.starts_with("r.id IN (SELECT v.resource_id FROM scim_values v"),
            "{s}"
        );
        assert!(s.contains("v.v_lower LIKE ? ESCAPE"), "{s}");
        let s = sql(
            ResourceType::User,
            "emails[type eq \"work\" and value co \"@x\"]",
        );
        assert!(
            s.contains("e.attr = ?") && s.contains("v.elem = e.elem"),
            "{s}"
        );
    }

    #[test]
    fn memberships_use_the_membership_table() {
        let s = sql(
            ResourceType::Group,
            "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
        );
        assert!(
            s.contains("scim_group_members m") && s.contains("m.member_id = ?"),
            "{s}"
        );
        let s = sql(
            ResourceType::User,
            "groups.value eq \"2819c223-7f76-453a-919d-413861904646\"",
        );
        assert!(
            s.contains("SELECT m.member_id") && s.contains("m.group_id = ?"),
            "{s}"
        );
    }

    #[test]
    fn negation_and_absence_compose() {
        let s = sql(ResourceType::User, "title ne \"x\"");
        assert!(s.starts_with("NOT (r.id IN"), "{s}");
        let s = sql(ResourceType::User, "not (title pr)");
        assert!(s.starts_with("NOT (r.id IN"), "{s}");
    }

    /// The index keeps each value in one column, indexed only where it is
    /// set (migration 16): SQLite's planner must still take that partial
    /// index for the filters that read the column.
    #[tokio::test]
    async fn filters_on_the_index_use_its_partial_indexes() {
        let (_db, path) = crate::store::testing::migrated_sqlite_file().await;
        let conn = rusqlite::Connection::open(path).unwrap();
        let plan = |f: &str| {
            let c = Compiler::new(ResourceType::User, Uuid::nil(), Dialect::Sqlite);
            let parts = c.filter(&parse(ResourceType::User, f).unwrap()).unwrap();
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT r.id FROM members r WHERE {}",
                parts.preview()
            );
            let mut stmt = conn.prepare(&sql).unwrap();
            let rows = stmt
                .query_map(rusqlite::params_from_iter(parts.in_place_values()), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        for (filter, index) in [
            ("name.familyName eq \"Jensen\"", "scim_values_folded"),
            ("name.familyName sw \"Jen\"", "scim_values_folded"),
            ("emails.primary eq true", "scim_values_exact"),
        ] {
            let plan = plan(filter);
            assert!(plan.contains(index), "{filter}: {plan}");
        }
    }
}
