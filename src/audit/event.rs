//! What an audit record says, and its canonical encoding for the hash chain.

use serde::Serialize;
use uuid::Uuid;

use crate::permissions::{Principal, PrincipalKind};
use crate::store::Timestamp;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub kind: String,
    pub id: Option<String>,
    pub display: Option<String>,
}

impl Actor {
    pub fn of(principal: &Principal) -> Self {
        Self {
            kind: principal.kind().as_str().to_string(),
            id: principal.actor_id(),
            display: Some(principal.display()),
        }
    }

    /// A caller whose credentials were refused; `id` is the token id when the
    /// value parsed far enough to have one.
    pub fn anonymous(kind: PrincipalKind, id: Option<String>) -> Self {
        Self {
            kind: kind.as_str().to_string(),
            id,
            display: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub display: Option<String>,
}

impl Target {
    pub fn new(kind: &str, id: impl ToString, display: Option<&str>) -> Self {
        Self {
            kind: kind.to_string(),
            id: Some(id.to_string()),
            display: display.map(str::to_string),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// Where a request came from; copied into every record it causes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An event to record. Build one with [`AuditEvent::new`] and the setters.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub org_id: Option<Uuid>,
    pub workspace_id: Option<Uuid>,
    pub occurred_at: Timestamp,
    pub actor: Actor,
    pub action: String,
    pub target: Option<Target>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub http_status: Option<u16>,
    pub context: RequestContext,
    /// What changed. Never a secret or a password: callers put names, ids and
    /// permission lists here, not values.
    pub changes: Option<serde_json::Value>,
    /// The organization SAT (its id) of the workspace service that reported
    /// this event through the intake; `None` for everything scimitar
    /// records itself.
    pub reported_by: Option<String>,
    /// The record's id, when the caller must know it before the record is
    /// written (the intake answers with it); else one is made at append.
    pub record_id: Option<Uuid>,
}

impl AuditEvent {
    pub fn new(org_id: Option<Uuid>, actor: Actor, action: &str, context: &RequestContext) -> Self {
        Self {
            org_id,
            workspace_id: None,
            occurred_at: Timestamp::now(),
            actor,
            action: action.to_string(),
            target: None,
            outcome: Outcome::Success,
            reason: None,
            http_status: None,
            context: context.clone(),
            changes: None,
            reported_by: None,
            record_id: None,
        }
    }

    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    pub fn workspace(mut self, workspace_id: Option<Uuid>) -> Self {
        self.workspace_id = workspace_id;
        self
    }

    pub fn failure(mut self, reason: impl Into<String>) -> Self {
        self.outcome = Outcome::Failure;
        self.reason = Some(reason.into());
        self
    }

    pub fn status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    pub fn changes(mut self, changes: serde_json::Value) -> Self {
        self.changes = Some(changes);
        self
    }

    pub fn reported_by(mut self, token_id: impl ToString) -> Self {
        self.reported_by = Some(token_id.to_string());
        self
    }
}

/// A record as stored: the event plus its place in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct StoredEvent {
    pub id: Uuid,
    pub chain: String,
    pub seq: i64,
    pub org_id: Option<Uuid>,
    pub workspace_id: Option<Uuid>,
    pub occurred_at: Timestamp,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_display: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target_display: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub http_status: Option<i32>,
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub changes: Option<String>,
    /// The reporting service's SAT id, on records a workspace service
    /// reported (canonical form version 2); absent from older exports.
    #[serde(default)]
    pub reported_by: Option<String>,
    #[serde(with = "hex_bytes")]
    pub prev_hash: Vec<u8>,
    #[serde(with = "hex_bytes")]
    pub hash: Vec<u8>,
}

/// Hashes travel as lowercase hex, in API answers and exports alike, so that
/// an export can be verified offline with nothing but its own lines.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::store::settings::{from_hex, to_hex};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        from_hex(&s).ok_or_else(|| serde::de::Error::custom("expected lowercase hex"))
    }
}

/// The column list, as a macro so that query texts can be built with
/// `concat!` at compile time rather than formatted at run time.
macro_rules! stored_columns {
    () => {
        "id, chain, seq, org_id, workspace_id, occurred_at, actor_kind, actor_id, \
     actor_display, action, target_type, target_id, target_display, outcome, reason, http_status, \
     request_id, source_ip, user_agent, changes, reported_by, prev_hash, hash"
    };
}
pub(crate) use stored_columns;

/// The canonical encoding hashed into the chain: a JSON object with a fixed
/// field order built only from stored columns, so that anyone holding the
/// rows (or an export of them) can recompute it. Version 1 has 21 members;
/// version 2, for records with a `reported_by`, is version 1 with `v` 2 and
/// `reported_by` appended, so that every record without one hashes exactly
/// as it always did (docs/audit-format.md).
#[derive(Serialize)]
struct Canonical<'a> {
    v: u8,
    id: String,
    chain: &'a str,
    seq: i64,
    org_id: Option<String>,
    workspace_id: Option<String>,
    occurred_at: String,
    actor_kind: &'a str,
    actor_id: Option<&'a str>,
    actor_display: Option<&'a str>,
    action: &'a str,
    target_type: Option<&'a str>,
    target_id: Option<&'a str>,
    target_display: Option<&'a str>,
    outcome: &'a str,
    reason: Option<&'a str>,
    http_status: Option<i32>,
    request_id: Option<&'a str>,
    source_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    changes: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reported_by: Option<&'a str>,
}

impl StoredEvent {
    /// The canonical form's version: 2 when the record names a reporting
    /// service, else 1.
    pub fn version(&self) -> u8 {
        if self.reported_by.is_some() { 2 } else { 1 }
    }

    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(&Canonical {
            v: self.version(),
            id: self.id.to_string(),
            chain: &self.chain,
            seq: self.seq,
            org_id: self.org_id.map(|u| u.to_string()),
            workspace_id: self.workspace_id.map(|u| u.to_string()),
            occurred_at: self.occurred_at.to_canonical(),
            actor_kind: &self.actor_kind,
            actor_id: self.actor_id.as_deref(),
            actor_display: self.actor_display.as_deref(),
            action: &self.action,
            target_type: self.target_type.as_deref(),
            target_id: self.target_id.as_deref(),
            target_display: self.target_display.as_deref(),
            outcome: &self.outcome,
            reason: self.reason.as_deref(),
            http_status: self.http_status,
            request_id: self.request_id.as_deref(),
            source_ip: self.source_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            changes: self.changes.as_deref(),
            reported_by: self.reported_by.as_deref(),
        })
        .expect("canonical record serializes")
    }

    /// `SHA-256(prev_hash ‖ canonical record)`.
    pub fn compute_hash(&self) -> Vec<u8> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(&self.prev_hash);
        h.update(self.canonical());
        h.finalize().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(reported_by: Option<&str>) -> StoredEvent {
        StoredEvent {
            id: Uuid::nil(),
            chain: "c".into(),
            seq: 1,
            org_id: None,
            workspace_id: None,
            occurred_at: Timestamp::parse_rfc3339("2026-12-06T10:00:00Z").unwrap(),
            actor_kind: "sat".into(),
            actor_id: Some("a".into()),
            actor_display: None,
            action: "transformations.update".into(),
            target_type: None,
            target_id: None,
            target_display: None,
            outcome: "success".into(),
            reason: None,
            http_status: None,
            request_id: None,
            source_ip: None,
            user_agent: None,
            changes: None,
            reported_by: reported_by.map(str::to_string),
            prev_hash: vec![0; 32],
            hash: Vec::new(),
        }
    }

    /// A record without `reported_by` is version 1, byte for byte as it was
    /// before version 2 existed; one with it is version 2, which appends it.
    #[test]
    fn the_canonical_form_is_version_1_unless_a_service_reported_the_record() {
        let v1 = String::from_utf8(record(None).canonical()).unwrap();
        assert_eq!(
            v1,
            r#"{"v":1,"id":"00000000-0000-0000-0000-000000000000","chain":"c","seq":1,"org_id":null,"workspace_id":null,"occurred_at":"2026-12-06T10:00:00.000000Z","actor_kind":"sat","actor_id":"a","actor_display":null,"action":"transformations.update","target_type":null,"target_id":null,"target_display":null,"outcome":"success","reason":null,"http_status":null,"request_id":null,"source_ip":null,"user_agent":null,"changes":null}"#
        );
        let v2 = String::from_utf8(record(Some("svc")).canonical()).unwrap();
        assert!(v2.starts_with(r#"{"v":2,"id":"#), "{v2}");
        assert!(
            v2.ends_with(r#","changes":null,"reported_by":"svc"}"#),
            "{v2}"
        );
        assert_ne!(
            record(None).compute_hash(),
            record(Some("svc")).compute_hash()
        );
    }
}
