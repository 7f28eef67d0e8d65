//! Audit queries: the filters of the API, the console and the CLI, as text,
//! validated once into an [`AuditQuery`]. Every query is scoped to one
//! organization's chain and pages by sequence number, so a cursor stays
//! valid while records keep arriving: records only ever append at higher
//! sequence numbers. The SQL a query becomes is in `query_sql`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AuditError;
use crate::store::Timestamp;

pub const MAX_LIMIT: i64 = 1000;
pub const DEFAULT_LIMIT: i64 = 100;

const ACTOR_KINDS: [&str; 5] = ["sat", "pat", "member_session", "operator", "anonymous"];

/// The kinds of record a `kind` filter names: a change (a write that
/// succeeded), a read (a read that succeeded) or a refusal (anything that
/// failed: refused credentials and permissions, rejected input).
pub const KINDS: [&str; 3] = ["change", "read", "refusal"];

/// The last segments of the actions of reads (`sat.list`,
/// `scim.user.search`, `audit_logs.export`, `token.self`, `console.view`,
/// …): every other action that succeeded is a change, so that a new write
/// is never hidden among the reads.
pub const READ_VERBS: [&str; 10] = [
    "read",
    "list",
    "search",
    "export",
    "verify",
    "checkpoints",
    "jwks",
    "view",
    "self",
    "introspect",
];

/// The filters of a page (`GET /audit-logs`, the console's page, the CLI's
/// flags) as received. Unknown parameters are refused, so that a misspelled
/// or misplaced one (`format` here) is not silently ignored.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
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
    pub kind: Option<String>,
    pub limit: Option<String>,
    pub order: Option<String>,
    pub cursor: Option<String>,
}

/// The parameters of an export (`GET /audit-logs/export`): the filters,
/// the cursor to resume after, and the format. An export runs oldest first
/// to the end, so `limit` and `order` are refused like any unknown name.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor_type: Option<String>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub workspace_id: Option<String>,
    pub outcome: Option<String>,
    pub kind: Option<String>,
    pub cursor: Option<String>,
    pub format: Option<String>,
}

impl RawExport {
    /// The format, and the filters as a page's.
    pub fn split(self) -> (Option<String>, RawQuery) {
        let filters = RawQuery {
            since: self.since,
            until: self.until,
            actor_type: self.actor_type,
            actor_id: self.actor_id,
            action: self.action,
            target_type: self.target_type,
            target_id: self.target_id,
            workspace_id: self.workspace_id,
            outcome: self.outcome,
            kind: self.kind,
            cursor: self.cursor,
            ..RawQuery::default()
        };
        (self.format, filters)
    }
}

/// Which kinds of record a query keeps (all when none is named).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kinds {
    pub change: bool,
    pub read: bool,
    pub refusal: bool,
}

impl Kinds {
    /// `change`, `read`, `refusal`, or several of them separated by commas.
    fn parse(s: &str) -> Result<Self, AuditError> {
        let mut kinds = Kinds::default();
        for k in s.split(',').map(str::trim) {
            match k {
                "change" => kinds.change = true,
                "read" => kinds.read = true,
                "refusal" => kinds.refusal = true,
                _ => {
                    return Err(invalid(format!(
                        "`kind` must be one or more of {}, separated by commas",
                        KINDS.join(", ")
                    )));
                }
            }
        }
        Ok(kinds)
    }

    fn to_text(self) -> String {
        [
            (self.change, "change"),
            (self.read, "read"),
            (self.refusal, "refusal"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, k)| *k)
        .collect::<Vec<_>>()
        .join(",")
    }
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
    /// Only these kinds of record (`None`: all).
    pub kinds: Option<Kinds>,
    pub limit: i64,
    pub descending: bool,
    /// The sequence number of the last record already seen.
    pub cursor: Option<i64>,
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn invalid(message: impl Into<String>) -> AuditError {
    AuditError::Invalid(message.into())
}

impl AuditQuery {
    /// Validates `raw`; the error names the first filter that is wrong.
    pub fn parse(raw: &RawQuery) -> Result<Self, AuditError> {
        let time = |name: &str, v: &Option<String>| -> Result<Option<Timestamp>, AuditError> {
            match non_empty(v) {
                None => Ok(None),
                Some(s) => Timestamp::parse_rfc3339(&s)
                    .map(Some)
                    .ok_or_else(|| invalid(format!("`{name}` must be an RFC 3339 date-time"))),
            }
        };
        let actor_type = non_empty(&raw.actor_type);
        if let Some(a) = &actor_type
            && !ACTOR_KINDS.contains(&a.as_str())
        {
            return Err(invalid(format!(
                "`actor_type` must be one of {}",
                ACTOR_KINDS.join(", ")
            )));
        }
        let outcome = non_empty(&raw.outcome);
        if let Some(o) = &outcome
            && o != "success"
            && o != "failure"
        {
            return Err(invalid("`outcome` must be success or failure"));
        }
        let action = non_empty(&raw.action).map(|a| match a.strip_suffix('*') {
            Some(prefix) => (prefix.to_string(), true),
            None => (a, false),
        });
        let workspace_id = match non_empty(&raw.workspace_id) {
            None => None,
            Some(s) => {
                Some(Uuid::parse_str(&s).map_err(|_| invalid("`workspace_id` must be a UUID"))?)
            }
        };
        let kinds = match non_empty(&raw.kind) {
            None => None,
            Some(s) => Some(Kinds::parse(&s)?),
        }
        .filter(|k| !(k.change && k.read && k.refusal));
        let limit = match non_empty(&raw.limit) {
            None => DEFAULT_LIMIT,
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| invalid(format!("`limit` must be 1 to {MAX_LIMIT}")))?,
        };
        let descending = match non_empty(&raw.order).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => return Err(invalid("`order` must be asc or desc")),
        };
        let cursor = match non_empty(&raw.cursor) {
            None => None,
            Some(s) => Some(
                s.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| invalid("`cursor` is not one this API gave out"))?,
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
            kinds,
            limit,
            descending,
            cursor,
        })
    }

    /// The query for the page after `last_seq`.
    pub fn after(&self, last_seq: i64) -> Self {
        Self {
            cursor: Some(last_seq),
            ..self.clone()
        }
    }

    /// The filters that [`parse`](Self::parse) back into this query, in
    /// canonical form, without the cursor: what a link to the next page
    /// repeats.
    pub fn to_raw(&self) -> RawQuery {
        RawQuery {
            since: self.since.map(|t| t.to_canonical()),
            until: self.until.map(|t| t.to_canonical()),
            actor_type: self.actor_type.clone(),
            actor_id: self.actor_id.clone(),
            action: self
                .action
                .as_ref()
                .map(|(a, prefix)| if *prefix { format!("{a}*") } else { a.clone() }),
            target_type: self.target_type.clone(),
            target_id: self.target_id.clone(),
            workspace_id: self.workspace_id.map(|w| w.to_string()),
            outcome: self.outcome.clone(),
            kind: self.kinds.map(Kinds::to_text),
            limit: Some(self.limit.to_string()),
            order: Some(if self.descending { "desc" } else { "asc" }.into()),
            cursor: None,
        }
    }
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
        assert!(AuditQuery::parse(&raw(&[("kind", "writes")])).is_err());
        assert!(AuditQuery::parse(&raw(&[("kind", "change,")])).is_err());
        let q = AuditQuery::parse(&raw(&[("kind", "change, refusal")])).unwrap();
        assert_eq!(
            q.kinds,
            Some(Kinds {
                change: true,
                read: false,
                refusal: true
            })
        );
        // All three is no filter at all.
        let q = AuditQuery::parse(&raw(&[("kind", "read,change,refusal")])).unwrap();
        assert_eq!(q.kinds, None);
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
    fn filters_round_trip() {
        let q = AuditQuery::parse(&raw(&[
            ("action", "scim.*"),
            ("outcome", "failure"),
            ("kind", "refusal,change"),
            ("since", "2026-01-02T03:04:05Z"),
            ("workspace_id", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
            ("cursor", "7"),
        ]))
        .unwrap();
        let back = AuditQuery::parse(&q.to_raw()).unwrap();
        assert_eq!(back.action, q.action);
        assert_eq!(back.since, q.since);
        assert_eq!(back.workspace_id, q.workspace_id);
        assert_eq!(back.outcome.as_deref(), Some("failure"));
        assert_eq!(back.kinds, q.kinds);
        assert_eq!((back.limit, back.descending), (q.limit, q.descending));
        // The cursor is the link's to set.
        assert_eq!(back.cursor, None);
    }
}
