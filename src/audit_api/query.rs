//! Audit queries: the filters of the API and the CLI, validated once, and
//! the SQL they become. Every query is scoped to one organization's chain
//! and pages by sequence number, so a cursor stays valid while records keep
//! arriving: records only ever append at higher sequence numbers.

use serde::Deserialize;
use uuid::Uuid;

use crate::audit::StoredEvent;
use crate::audit::event::stored_columns;
use crate::store::dynamic::{Arg, SqlParts};
use crate::store::{Db, StoreError, Timestamp};

pub const MAX_LIMIT: i64 = 1000;
pub const DEFAULT_LIMIT: i64 = 100;

const ACTOR_KINDS: [&str; 5] = ["sat", "pat", "member_session", "operator", "anonymous"];

/// The query string of the API (and the flags of the CLI), as received.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuery {
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor_type: Option<String>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub workspace_id: Option<String>,
    pub outcome: Option<String>,
    pub limit: Option<String>,
    pub order: Option<String>,
    pub cursor: Option<String>,
    /// Export only.
    pub format: Option<String>,
}

/// A validated query.
#[derive(Clone, Debug)]
pub struct AuditQuery {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub actor_type: Option<String>,
    pub actor_id: Option<String>,
    /// Exact action, or a prefix when the filter ended in `.*`.
    pub action: Option<(String, bool)>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub workspace_id: Option<Uuid>,
    pub outcome: Option<String>,
    pub limit: i64,
    pub descending: bool,
    /// The sequence number of the last record already seen.
    pub cursor: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// Above this many actions under one prefix, a page merges too many index
/// ranges to beat reading the chain in order (a prefix this broad is a
/// common one, whose records are never far apart).
const MAX_MERGED_ACTIONS: usize = 16;

/// The distinct actions recorded in `chain`, in index order: one index seek
/// each, from the smallest to the next larger, rather than a scan of the
/// records (there are dozens of actions and millions of records).
async fn distinct_actions(db: &Db, chain: &str) -> Result<Vec<String>, StoreError> {
    let sql = "WITH RECURSIVE acts(action) AS ( \
         SELECT MIN(action) FROM audit_events WHERE chain = $1 \
         UNION ALL \
         SELECT (SELECT MIN(e.action) FROM audit_events e WHERE e.chain = $1 AND e.action > acts.action) \
         FROM acts WHERE acts.action IS NOT NULL) \
         SELECT action FROM acts WHERE action IS NOT NULL LIMIT 10000";
    Ok(crate::on_db!(db, pool => sqlx::query_scalar(sql).bind(chain).fetch_all(pool).await)?)
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

impl AuditQuery {
    pub fn parse(raw: &RawQuery) -> Result<Self, QueryError> {
        let time = |name: &str, v: &Option<String>| -> Result<Option<Timestamp>, QueryError> {
            match non_empty(v) {
                None => Ok(None),
                Some(s) => Timestamp::parse_rfc3339(&s)
                    .map(Some)
                    .ok_or_else(|| QueryError(format!("`{name}` must be an RFC 3339 date-time"))),
            }
        };
        let actor_type = non_empty(&raw.actor_type);
        if let Some(a) = &actor_type
            && !ACTOR_KINDS.contains(&a.as_str())
        {
            return Err(QueryError(format!(
                "`actor_type` must be one of {}",
                ACTOR_KINDS.join(", ")
            )));
        }
        let outcome = non_empty(&raw.outcome);
        if let Some(o) = &outcome
            && o != "success"
            && o != "failure"
        {
            return Err(QueryError("`outcome` must be success or failure".into()));
        }
        let action = non_empty(&raw.action).map(|a| match a.strip_suffix('*') {
            Some(prefix) => (prefix.to_string(), true),
            None => (a, false),
        });
        let workspace_id = match non_empty(&raw.workspace_id) {
            None => None,
            Some(s) => Some(
                Uuid::parse_str(&s)
                    .map_err(|_| QueryError("`workspace_id` must be a UUID".into()))?,
            ),
        };
        let limit = match non_empty(&raw.limit) {
            None => DEFAULT_LIMIT,
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| QueryError(format!("`limit` must be 1 to {MAX_LIMIT}")))?,
        };
        let descending = match non_empty(&raw.order).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => return Err(QueryError("`order` must be asc or desc".into())),
        };
        let cursor = match non_empty(&raw.cursor) {
            None => None,
            Some(s) => Some(
                s.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| QueryError("`cursor` is not one this API gave out".into()))?,
            ),
        };
        Ok(Self {
            since: time("since", &raw.since)?,
            until: time("until", &raw.until)?,
            actor_type,
            actor_id: non_empty(&raw.actor_id),
            action,
            target_type: non_empty(&raw.target_type),
            target_id: non_empty(&raw.target_id),
            workspace_id,
            outcome,
            limit,
            descending,
            cursor,
        })
    }

    /// The WHERE clause for `chain`, with the cursor applied.
    fn scope(&self, chain: &str) -> SqlParts {
        let mut q = SqlParts::new();
        q.sql(" FROM audit_events WHERE chain = ")
            .bind(Arg::Text(chain.to_string()));
        let eq = |q: &mut SqlParts, col: &str, v: &Option<String>| {
            if let Some(v) = v {
                q.sql(format!(" AND {col} = ")).bind(Arg::Text(v.clone()));
            }
        };
        eq(&mut q, "actor_kind", &self.actor_type);
        eq(&mut q, "actor_id", &self.actor_id);
        eq(&mut q, "target_type", &self.target_type);
        eq(&mut q, "target_id", &self.target_id);
        eq(&mut q, "outcome", &self.outcome);
        match &self.action {
            Some((a, false)) => {
                q.sql(" AND action = ").bind(Arg::Text(a.clone()));
            }
            Some((prefix, true)) => {
                let escaped = prefix
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                q.sql(" AND action LIKE ")
                    .bind(Arg::Text(format!("{escaped}%")))
                    .sql(" ESCAPE '\\'");
            }
            None => {}
        }
        if let Some(w) = self.workspace_id {
            q.sql(" AND workspace_id = ").bind(Arg::Uuid(w));
        }
        // Times only grow along a chain, so a time bound is also a sequence
        // bound: the first record at or after it. Pages then walk the
        // (chain, seq) order instead of sorting a whole time window.
        let first_at = |q: &mut SqlParts, t: Timestamp| {
            q.sql("COALESCE((SELECT b.seq FROM audit_events b WHERE b.chain = ")
                .bind(Arg::Text(chain.to_string()))
                .sql(" AND b.occurred_at >= ")
                .bind(Arg::Time(t))
                .sql(" ORDER BY b.occurred_at, b.seq LIMIT 1), ")
                .bind(Arg::Int(i64::MAX))
                .sql(")");
        };
        if let Some(t) = self.since {
            q.sql(" AND occurred_at >= ").bind(Arg::Time(t));
            q.sql(" AND seq >= ");
            first_at(&mut q, t);
        }
        if let Some(t) = self.until {
            q.sql(" AND occurred_at < ").bind(Arg::Time(t));
            q.sql(" AND seq < ");
            first_at(&mut q, t);
        }
        if let Some(c) = self.cursor {
            q.sql(if self.descending {
                " AND seq < "
            } else {
                " AND seq > "
            })
            .bind(Arg::Int(c));
        }
        q
    }

    /// One page of matching records.
    pub async fn page(&self, db: &Db, chain: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let mut q = SqlParts::new();
        q.sql(concat!("SELECT ", stored_columns!()));
        match &self.action {
            Some((prefix, true)) => {
                let actions: Vec<String> = distinct_actions(db, chain)
                    .await?
                    .into_iter()
                    .filter(|a| a.starts_with(prefix.as_str()))
                    .collect();
                match actions.len() {
                    0 => return Ok(Vec::new()),
                    n if n <= MAX_MERGED_ACTIONS => q.append(self.merged_scope(chain, &actions)),
                    _ => q.append(self.scope(chain)),
                };
            }
            _ => {
                q.append(self.scope(chain));
            }
        }
        q.sql(self.order_by());
        q.sql(" LIMIT ").bind(Arg::Int(self.limit));
        Ok(crate::on_db!(db, pool => q.build().build_query_as().fetch_all(pool).await)?)
    }

    fn order_by(&self) -> &'static str {
        if self.descending {
            " ORDER BY seq DESC"
        } else {
            " ORDER BY seq ASC"
        }
    }

    /// The scope of a prefix filter that names `actions`: the page's
    /// sequence numbers are the first `limit` of the first `limit` of each
    /// action, each read from the (chain, action, seq) index. A LIKE over
    /// the chain in sequence order would read every record before the page
    /// when the prefix is rare, and the whole chain when it matches nothing.
    fn merged_scope(&self, chain: &str, actions: &[String]) -> SqlParts {
        let mut q = SqlParts::new();
        q.sql(" FROM audit_events WHERE chain = ")
            .bind(Arg::Text(chain.to_string()))
            .sql(" AND seq IN (");
        for (i, a) in actions.iter().enumerate() {
            let one = Self {
                action: Some((a.clone(), false)),
                ..self.clone()
            };
            if i > 0 {
                q.sql(" UNION ALL ");
            }
            q.sql("SELECT seq FROM (SELECT seq")
                .append(one.scope(chain))
                .sql(self.order_by())
                .sql(" LIMIT ")
                .bind(Arg::Int(self.limit))
                .sql(format!(") AS a{i}"));
        }
        q.sql(self.order_by())
            .sql(" LIMIT ")
            .bind(Arg::Int(self.limit))
            .sql(")");
        q
    }

    /// The query for the page after `last_seq`.
    pub fn after(&self, last_seq: i64) -> Self {
        Self {
            cursor: Some(last_seq),
            ..self.clone()
        }
    }

    /// The query string of this query (for `Link` headers), without the
    /// cursor and with `extra` appended.
    pub fn to_query_string(&self, extra: &[(&str, String)]) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let push = |pairs: &mut Vec<(&str, String)>, k, v: &Option<String>| {
            if let Some(v) = v {
                pairs.push((k, v.clone()));
            }
        };
        if let Some(t) = self.since {
            pairs.push(("since", t.to_canonical()));
        }
        if let Some(t) = self.until {
            pairs.push(("until", t.to_canonical()));
        }
        push(&mut pairs, "actor_type", &self.actor_type);
        push(&mut pairs, "actor_id", &self.actor_id);
        if let Some((a, prefix)) = &self.action {
            pairs.push(("action", if *prefix { format!("{a}*") } else { a.clone() }));
        }
        push(&mut pairs, "target_type", &self.target_type);
        push(&mut pairs, "target_id", &self.target_id);
        if let Some(w) = self.workspace_id {
            pairs.push(("workspace_id", w.to_string()));
        }
        push(&mut pairs, "outcome", &self.outcome);
        pairs.push(("limit", self.limit.to_string()));
        pairs.push((
            "order",
            if self.descending {
                "desc".into()
            } else {
                "asc".into()
            },
        ));
        pairs.extend(extra.iter().cloned());
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }
}

/// One record of a chain by id.
pub async fn find(db: &Db, chain: &str, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
    let sql = concat!(
        "SELECT ",
        stored_columns!(),
        " FROM audit_events WHERE chain = $1 AND id = $2"
    );
    Ok(
        crate::on_db!(db, pool => sqlx::query_as(sql).bind(chain).bind(id).fetch_optional(pool).await)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawQuery {
        serde_urlencoded::from_str(&serde_urlencoded::to_string(pairs).unwrap()).unwrap()
    }

    #[test]
    fn filters_are_validated() {
        assert!(AuditQuery::parse(&raw(&[("limit", "0")])).is_err());
        assert!(AuditQuery::parse(&raw(&[("limit", "1001")])).is_err());
        assert!(AuditQuery::parse(&raw(&[("order", "sideways")])).is_err());
        assert!(AuditQuery::parse(&raw(&[("since", "yesterday")])).is_err());
        assert!(AuditQuery::parse(&raw(&[("actor_type", "robot")])).is_err());
        assert!(AuditQuery::parse(&raw(&[("outcome", "meh")])).is_err());
        assert!(AuditQuery::parse(&raw(&[("cursor", "-1")])).is_err());
        assert!(AuditQuery::parse(&raw(&[("workspace_id", "x")])).is_err());
        let q = AuditQuery::parse(&raw(&[
            ("action", "scim.user.*"),
            ("limit", "5"),
            ("order", "desc"),
        ]))
        .unwrap();
        assert_eq!(q.action, Some(("scim.user.".to_string(), true)));
        assert_eq!((q.limit, q.descending), (5, true));
    }

    #[test]
    fn query_strings_round_trip() {
        let q = AuditQuery::parse(&raw(&[("action", "scim.*"), ("outcome", "failure")])).unwrap();
        let s = q.to_query_string(&[("cursor", "7".into())]);
        let back: RawQuery = serde_urlencoded::from_str(&s).unwrap();
        let q2 = AuditQuery::parse(&back).unwrap();
        assert_eq!(q2.action, q.action);
        assert_eq!(q2.cursor, Some(7));
        assert_eq!(q2.outcome.as_deref(), Some("failure"));
    }
}
