//! Dynamic SQL built once for both backends: a list of text fragments and
//! bound values ([`SqlParts`]) that becomes a `QueryBuilder` with
//! `push_bind` for whichever backend runs it. Values never enter the text.
//! The few places where the dialects spell something differently are the
//! methods of [`Dialect`].

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;

use super::page_anchors::{ListKey, PageAnchors, SPACING, Start};
use super::{Db, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn of(db: &Db) -> Self {
        match db {
            Db::Sqlite(..) => Dialect::Sqlite,
            Db::Postgres(..) => Dialect::Postgres,
        }
    }

    /// Byte-wise ordering for text comparisons and sorts. PostgreSQL would
    /// otherwise use the database's locale; SQLite compares bytes already.
    pub fn binary_collation(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " COLLATE \"C\"",
        }
    }

    /// The binary collation, only where the column is text.
    pub fn binary_collation_for(self, text: bool) -> &'static str {
        if text { self.binary_collation() } else { "" }
    }

    /// A case-sensitive pattern match and the pattern for a substring
    /// search: SQLite's LIKE ignores ASCII case, so it uses GLOB there.
    pub fn case_sensitive_match(
        self,
        column: &str,
        kind: MatchKind,
        needle: &str,
    ) -> (String, String) {
        match self {
            Dialect::Sqlite => {
                let escaped: String = needle
                    .chars()
                    .map(|c| match c {
                        '*' | '?' | '[' => format!("[{c}]"),
                        c => c.to_string(),
                    })
                    .collect();
                (format!("{column} GLOB "), kind.wrap(&escaped, "*"))
            }
            Dialect::Postgres => (
                format!("{column} LIKE "),
                kind.wrap(&like_escape(needle), "%"),
            ),
        }
    }

    /// A pattern match on text that is already lowercased on both sides.
    pub fn folded_match(self, column: &str, kind: MatchKind, needle: &str) -> (String, String) {
        (
            format!("{column} LIKE "),
            kind.wrap(&like_escape(needle), "%"),
        )
    }

    /// What follows the bound pattern of a match from the methods above.
    pub fn match_suffix(self, case_sensitive: bool) -> &'static str {
        match (self, case_sensitive) {
            (Dialect::Sqlite, true) => "",
            _ => " ESCAPE '\\'",
        }
    }
}

/// Which end of the text a pattern is anchored to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchKind {
    Contains,
    StartsWith,
    EndsWith,
}

impl MatchKind {
    fn wrap(self, needle: &str, any: &str) -> String {
        match self {
            MatchKind::Contains => format!("{any}{needle}{any}"),
            MatchKind::StartsWith => format!("{needle}{any}"),
            MatchKind::EndsWith => format!("{any}{needle}"),
        }
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A value bound into dynamic SQL.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Text(String),
    Num(f64),
    Int(i64),
    Bool(bool),
    Uuid(Uuid),
    Time(Timestamp),
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Sql(String),
    Bind(Arg),
}

/// SQL text and bound values, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SqlParts(Vec<Part>);

impl SqlParts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sql(&mut self, s: impl Into<String>) -> &mut Self {
        self.0.push(Part::Sql(s.into()));
        self
    }

    pub fn bind(&mut self, a: Arg) -> &mut Self {
        self.0.push(Part::Bind(a));
        self
    }

    pub fn append(&mut self, other: SqlParts) -> &mut Self {
        self.0.extend(other.0);
        self
    }

    /// The text with `?` for each bound value, for tests and logs.
    pub fn preview(&self) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Part::Sql(s) => s.as_str(),
                Part::Bind(_) => "?",
            })
            .collect()
    }

    /// The bound values, as rusqlite binds them in place.
    pub(crate) fn in_place_values(&self) -> Vec<rusqlite::types::Value> {
        use rusqlite::types::Value;
        self.0
            .iter()
            .filter_map(|p| match p {
                Part::Sql(_) => None,
                Part::Bind(a) => Some(match a {
                    Arg::Text(v) => Value::Text(v.clone()),
                    Arg::Num(v) => Value::Real(*v),
                    Arg::Int(v) => Value::Integer(*v),
                    Arg::Bool(v) => Value::Integer(i64::from(*v)),
                    Arg::Uuid(v) => Value::Blob(v.as_bytes().to_vec()),
                    Arg::Time(v) => Value::Text(v.to_canonical()),
                }),
            })
            .collect()
    }

    /// Every row, read in place on SQLite (see [`super::InlineReads`]);
    /// `None` where [`Db::read_in_place`] is.
    pub fn fetch_in_place<T: super::FromInPlace>(
        &self,
        db: &Db,
    ) -> Option<Result<Vec<T>, super::StoreError>> {
        db.fetch_in_place(
            &self.preview(),
            rusqlite::params_from_iter(self.in_place_values()),
        )
    }

    /// A `QueryBuilder` for the backend at hand.
    pub fn build<DB: Database>(&self) -> QueryBuilder<DB>
    where
        for<'t> String: Encode<'t, DB> + Type<DB>,
        for<'t> f64: Encode<'t, DB> + Type<DB>,
        for<'t> i64: Encode<'t, DB> + Type<DB>,
        for<'t> bool: Encode<'t, DB> + Type<DB>,
        for<'t> Uuid: Encode<'t, DB> + Type<DB>,
        for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
    {
        let mut q = QueryBuilder::new("");
        self.push_into(&mut q);
        q
    }

    /// Appends these parts to `q`, their values bound after those `q`
    /// already holds.
    pub fn push_into<DB: Database>(&self, q: &mut QueryBuilder<DB>)
    where
        for<'t> String: Encode<'t, DB> + Type<DB>,
        for<'t> f64: Encode<'t, DB> + Type<DB>,
        for<'t> i64: Encode<'t, DB> + Type<DB>,
        for<'t> bool: Encode<'t, DB> + Type<DB>,
        for<'t> Uuid: Encode<'t, DB> + Type<DB>,
        for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
    {
        for part in &self.0 {
            match part {
                Part::Sql(s) => {
                    q.push(s);
                }
                Part::Bind(Arg::Text(v)) => {
                    q.push_bind(v.clone());
                }
                Part::Bind(Arg::Num(v)) => {
                    q.push_bind(*v);
                }
                Part::Bind(Arg::Int(v)) => {
                    q.push_bind(*v);
                }
                Part::Bind(Arg::Bool(v)) => {
                    q.push_bind(*v);
                }
                Part::Bind(Arg::Uuid(v)) => {
                    q.push_bind(*v);
                }
                Part::Bind(Arg::Time(v)) => {
                    q.push_bind(*v);
                }
            }
        }
    }
}

/// How a page is ordered.
#[derive(Clone, Debug)]
pub enum PageOrder {
    /// By id, ascending: the default, which page anchors can serve.
    ById,
    /// By an ORDER BY fragment (without the keyword) ending with the id.
    Sorted(SqlParts),
}

impl PageOrder {
    /// The ORDER BY fragment, without the keyword.
    pub fn sql(&self) -> SqlParts {
        match self {
            PageOrder::ById => {
                let mut q = SqlParts::new();
                q.sql("r.id ASC");
                q
            }
            PageOrder::Sorted(q) => q.clone(),
        }
    }
}

/// An unfiltered list: its size, kept as a counter, and the version and
/// anchors that let a deep page skip most of its OFFSET.
pub struct KnownList<'a> {
    pub total: i64,
    pub version: i64,
    pub key: ListKey,
    pub anchors: &'a PageAnchors,
}

/// The total number of rows in `scope` (`FROM … WHERE …` over `r`),
/// and the page of `<columns>` of `<table>` (aliased `r`) in `order`.
///
/// `known` skips the count for an unfiltered list whose size is kept as a
/// counter, and lets a deep page of it in id order start from an anchor.
pub async fn fetch_page<T>(
    db: &Db,
    table: &str,
    columns: &str,
    scope: &SqlParts,
    order: &PageOrder,
    (limit, offset): (i64, i64),
    known: Option<KnownList<'_>>,
) -> Result<(Vec<T>, i64), super::StoreError>
where
    T: Send
        + Unpin
        + super::FromInPlace
        + for<'r> sqlx::FromRow<'r, SqliteRow>
        + for<'r> sqlx::FromRow<'r, PgRow>,
{
    let count = async || -> Result<i64, super::StoreError> {
        let mut count = SqlParts::new();
        count.sql("SELECT COUNT(*)").append(scope.clone());
        if let Some(counted) = count.fetch_in_place::<i64>(db) {
            return Ok(counted?.first().copied().unwrap_or(0));
        }
        Ok(
            crate::on_db_held!(db, pool => count.build().build_query_scalar().fetch_one(pool).await)?,
        )
    };
    if limit <= 0 {
        let total = match &known {
            Some(k) => k.total,
            None => count().await?,
        };
        return Ok((Vec::new(), total));
    }
    let mut skipped = scope.clone();
    let mut skip = offset;
    if let (Some(k), PageOrder::ById) = (&known, order) {
        match k.anchors.start(k.key, k.version, offset) {
            Start::Head | Start::Missing { rebuild: false } => {}
            Start::At { at, skip: rest } => {
                skipped.sql(" AND r.id >= ").bind(Arg::Uuid(at));
                skip = rest;
            }
            Start::Missing { rebuild: true } => {
                spawn_anchor_rebuild(db, scope, k.key, k.version, k.anchors)
            }
        }
    }
    let order = order.sql();
    let mut page = SqlParts::new();
    // Written into the text, not bound: SQLite plans with a bound LIMIT's
    // value, so a statement with one is prepared again at every run (a
    // sixth of a `userName eq` filter's CPU). Both are numbers of ours.
    let window = format!(" LIMIT {limit} OFFSET {skip}");
    // Few rows to skip (a first page, a page that starts at an anchor):
    // read whole rows straight away. Otherwise skip on ids alone (an index
    // walk) and read whole rows for just the page, since reading the
    // skipped rows is what makes deep pages slow; for a short skip that
    // form only reads the page's rows twice and sorts them again (it
    // doubled PostgreSQL's work for a page of 100).
    let by_ids = skip > limit;
    if by_ids {
        page.sql(format!(
            "SELECT {columns} FROM {table} WHERE r.id IN (SELECT r.id"
        ));
    } else {
        page.sql(format!("SELECT {columns}"));
    }
    page.append(skipped)
        .sql(" ORDER BY ")
        .append(order.clone())
        .sql(window);
    if by_ids {
        page.sql(") ORDER BY ").append(order);
    }
    let rows: Vec<T> = match page.fetch_in_place(db) {
        Some(rows) => rows?,
        None => {
            crate::on_db_held!(db, pool => page.build().build_query_as().fetch_all(pool).await)?
        }
    };
    let total = match &known {
        Some(k) => k.total,
        // A first page that is not full holds every match: no count needed
        // (the `userName eq` lookup of every provisioning run).
        None if offset == 0 && (rows.len() as i64) < limit => rows.len() as i64,
        None => count().await?,
    };
    Ok((rows, total))
}

/// Reads the id at every [`SPACING`]-th position of `scope` in the
/// background and keeps them as the anchors of `version`. The version was
/// read before the ids, so anchors that a concurrent change made wrong are
/// labelled with a version that is already gone and never used.
fn spawn_anchor_rebuild(
    db: &Db,
    scope: &SqlParts,
    key: ListKey,
    version: i64,
    anchors: &PageAnchors,
) {
    let (db, anchors) = (db.clone(), anchors.clone());
    let mut q = SqlParts::new();
    q.sql("SELECT a.id FROM (SELECT r.id AS id, ROW_NUMBER() OVER (ORDER BY r.id) AS n")
        .append(scope.clone())
        .sql(") a WHERE (a.n - 1) % ")
        .bind(Arg::Int(SPACING))
        .sql(" = 0 ORDER BY a.id");
    tokio::spawn(async move {
        let read: Result<Vec<Uuid>, sqlx::Error> =
            crate::on_db!(&db, pool => q.build().build_query_scalar().fetch_all(pool).await);
        match read {
            Ok(ids) => anchors.store(key, version, ids),
            Err(e) => {
                tracing::warn!(error = %e, "page anchors: rebuild failed");
                anchors.abandon(key, version);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_wildcards_for_each_dialect() {
        let (sql, pat) =
            Dialect::Postgres.case_sensitive_match("v", MatchKind::Contains, "50%_off\\");
        assert_eq!(sql, "v LIKE ");
        assert_eq!(pat, "%50\\%\\_off\\\\%");
        let (sql, pat) = Dialect::Sqlite.case_sensitive_match("v", MatchKind::StartsWith, "a*b?[c");
        assert_eq!(sql, "v GLOB ");
        assert_eq!(pat, "a[*]b[?][[]c*");
        let (_, pat) = Dialect::Sqlite.folded_match("v", MatchKind::EndsWith, "x_y");
        assert_eq!(pat, "%x\\_y");
    }

    #[test]
    fn preview_shows_placeholders_not_values() {
        let mut p = SqlParts::new();
        p.sql("a = ").bind(Arg::Text("secret".into())).sql(" AND b");
        assert_eq!(p.preview(), "a = ? AND b");
    }
}
