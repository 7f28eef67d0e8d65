//! One reported event as a service sends it, read from JSON by hand (not
//! by serde), so that no error message can quote a value: the subject
//! token travels in the same object, and must never reach an answer, a log
//! or a record.

use std::net::IpAddr;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::verbs;
use crate::audit::Outcome;
use crate::audit::redact::looks_like_secret;
use crate::permissions::{Level, Resource};
use crate::store::Timestamp;

/// Longest event id.
const MAX_ID: usize = 128;
/// Longest subject token (a SAT is 69 characters; an exchanged JWT a few
/// hundred bytes).
const MAX_TOKEN: usize = 4096;
/// Longest `changes`, as JSON text.
pub const MAX_CHANGES: usize = 16 * 1024;
/// Longest target type, id, display, reason, request id and user agent.
const MAX_TEXT: usize = 512;

const MEMBERS: [&str; 11] = [
    "id",
    "subject_token",
    "action",
    "target",
    "outcome",
    "reason",
    "occurred_at",
    "changes",
    "request_id",
    "source_ip",
    "user_agent",
];

/// A well-formed event (not yet verified).
#[derive(Debug)]
pub struct Reported {
    pub id: String,
    pub subject_token: String,
    pub action: String,
    pub resource: Resource,
    pub level: Level,
    pub target_type: String,
    pub target_id: Option<String>,
    pub target_display: Option<String>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub occurred_at: Timestamp,
    pub changes: Option<Value>,
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The event's id, if it has a usable one, for answers about a malformed
/// event.
pub fn id_of(raw: &Value) -> Option<String> {
    raw.get("id")
        .and_then(Value::as_str)
        .filter(|id| valid_id(id))
        .map(str::to_string)
}

/// A usable id: short printable ASCII, and nothing shaped like a
/// credential (it is stored, echoed and recorded as is).
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID
        && id.bytes().all(|b| (0x21..0x7f).contains(&b))
        && !looks_like_secret(id)
}

/// The SHA-256 of the event as sent (members in name order), which a retry
/// must match.
pub fn digest(raw: &Value) -> Vec<u8> {
    let text = serde_json::to_vec(&sorted(raw)).expect("a JSON value serializes");
    Sha256::digest(text).to_vec()
}

/// `v` with every object's members in name order, whatever the parser kept.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Reads one event; the error says what is wrong, never with a value.
pub fn parse(raw: &Value) -> Result<Reported, String> {
    let Some(m) = raw.as_object() else {
        return Err("each event must be a JSON object".into());
    };
    if let Some(unknown) = m.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        let shown: String = unknown.chars().take(64).collect();
        return Err(format!("unknown member `{shown}`"));
    }
    let id = required(m, "id")?;
    if !valid_id(id) {
        return Err(format!(
            "`id` must be 1 to {MAX_ID} printable ASCII characters without spaces, \
             and not shaped like a credential"
        ));
    }
    let subject_token = required(m, "subject_token")?;
    if subject_token.len() > MAX_TOKEN {
        return Err("`subject_token` is too long".into());
    }
    let action = required(m, "action")?;
    let (resource, level) = verbs::needs(action)?;
    let Some(target) = m.get("target").and_then(Value::as_object) else {
        return Err("`target` must be an object with `type`, `id` and `display`".into());
    };
    if let Some(unknown) = target
        .keys()
        .find(|k| !["type", "id", "display"].contains(&k.as_str()))
    {
        let shown: String = unknown.chars().take(64).collect();
        return Err(format!("unknown member `target.{shown}`"));
    }
    let target_type = required(target, "type")?;
    if target_type.is_empty()
        || target_type.len() > 64
        || !target_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err("`target.type` must be 1 to 64 of a-z, 0-9 and _".into());
    }
    let target_id = match target.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err("`target.id` must be a string or a number".into()),
    };
    let target_display = optional(target, "display", "target.display")?;
    let outcome = match required(m, "outcome")? {
        "success" => Outcome::Success,
        "failure" => Outcome::Failure,
        _ => return Err("`outcome` must be `success` or `failure`".into()),
    };
    let reason = optional(m, "reason", "reason")?;
    match (outcome, &reason) {
        (Outcome::Failure, None) => return Err("a `failure` needs a `reason`".into()),
        (Outcome::Success, Some(_)) => return Err("a `success` has no `reason`".into()),
        _ => {}
    }
    let occurred_at = Timestamp::parse_rfc3339(required(m, "occurred_at")?)
        .ok_or("`occurred_at` must be an RFC 3339 time")?;
    let changes = match m.get("changes") {
        None | Some(Value::Null) => None,
        Some(c @ Value::Object(_)) => {
            if serde_json::to_string(c).map_or(0, |s| s.len()) > MAX_CHANGES {
                return Err(format!("`changes` is larger than {MAX_CHANGES} bytes"));
            }
            Some(c.clone())
        }
        Some(_) => return Err("`changes` must be an object".into()),
    };
    let source_ip = match optional(m, "source_ip", "source_ip")? {
        Some(ip) => Some(
            ip.parse::<IpAddr>()
                .map_err(|_| "`source_ip` must be an IP address")?
                .to_string(),
        ),
        None => None,
    };
    Ok(Reported {
        id: id.to_string(),
        subject_token: subject_token.to_string(),
        action: action.to_string(),
        resource,
        level,
        target_type: target_type.to_string(),
        target_id,
        target_display,
        outcome,
        reason,
        occurred_at,
        changes,
        request_id: optional(m, "request_id", "request_id")?,
        source_ip,
        user_agent: optional(m, "user_agent", "user_agent")?,
    })
}

fn required<'a>(m: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    m.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{name}` is required, as a string"))
}

fn optional(m: &Map<String, Value>, name: &str, shown: &str) -> Result<Option<String>, String> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= MAX_TEXT => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(format!("`{shown}` is longer than {MAX_TEXT} characters")),
        Some(_) => Err(format!("`{shown}` must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "id": "evt-1",
            "subject_token": "scim_sat_x",
            "action": "transformations.update",
            "target": {"type": "transformation", "id": 42, "display": "enrich"},
            "outcome": "success",
            "occurred_at": "2026-12-06T10:00:00Z",
            "changes": {"code": "changed"},
        })
    }

    #[test]
    fn a_good_event_parses() {
        let e = parse(&good()).unwrap();
        assert_eq!(e.target_id.as_deref(), Some("42"));
        assert_eq!(
            (e.resource, e.level),
            (Resource::Transformations, Level::Edit)
        );
    }

    #[test]
    fn errors_never_quote_the_token() {
        let mut v = good();
        v["subject_token"] = json!(42);
        let e = parse(&v).unwrap_err();
        assert!(e.contains("subject_token"), "{e}");
        let mut v = good();
        v["outcome"] = json!("scim_sat_secret");
        assert!(!parse(&v).unwrap_err().contains("scim_sat_secret"));
        let mut v = good();
        v["extra"] = json!(1);
        assert!(parse(&v).unwrap_err().contains("extra"));
    }

    #[test]
    fn an_id_shaped_like_a_credential_is_no_id() {
        let mut v = good();
        v["id"] = json!(format!("scim_sat_{}", "A".repeat(60)));
        assert_eq!(id_of(&v), None);
        assert!(parse(&v).unwrap_err().contains("`id`"));
    }

    #[test]
    fn the_digest_ignores_member_order_only() {
        let a = json!({"a": 1, "b": {"c": 2, "d": 3}});
        let b: Value = serde_json::from_str(r#"{"b":{"d":3,"c":2},"a":1}"#).unwrap();
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&json!({"a": 2, "b": {"c": 2, "d": 3}})));
    }
}
