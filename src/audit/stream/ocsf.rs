//! A record as an OCSF event: API Activity (class 6003), mapped field by
//! field as docs/audit.md documents ("Record schema and OCSF mapping").

use serde_json::{Map, Value, json};

use crate::audit::event::StoredEvent;

const API_ACTIVITY: i64 = 6003;
const APPLICATION_ACTIVITY: i64 = 6;

/// OCSF `activity_id` by the action's verb (its last part): 1 Create, 2
/// Read, 3 Update, 4 Delete, 99 Other.
fn activity(action: &str) -> (i64, &'static str) {
    let verb = action.rsplit('.').next().unwrap_or(action);
    match verb {
        "create" => (1, "Create"),
        "read" | "list" | "search" | "export" | "verify" | "checkpoints" | "jwks" | "self"
        | "view" => (2, "Read"),
        "update" | "patch" | "replace" | "rotate" | "password" | "password_reset" => (3, "Update"),
        "delete" | "revoke" => (4, "Delete"),
        _ => (99, "Other"),
    }
}

/// Inserts `value` at `key` unless it is null, so that absent fields stay
/// absent rather than null.
fn put(obj: &mut Map<String, Value>, key: &str, value: Value) {
    if !value.is_null() {
        obj.insert(key.to_string(), value);
    }
}

fn object(pairs: &[(&str, Value)]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        put(&mut m, k, v.clone());
    }
    Value::Object(m)
}

/// The OCSF API Activity event of record `r`.
pub fn event(r: &StoredEvent) -> Value {
    let (activity_id, activity_name) = activity(&r.action);
    let success = r.outcome == "success";
    let is_token = matches!(r.actor_kind.as_str(), "sat" | "pat");
    let user = object(&[
        ("type", json!(r.actor_kind)),
        (
            "uid",
            if is_token {
                Value::Null
            } else {
                json!(r.actor_id)
            },
        ),
        ("name", json!(r.actor_display)),
    ]);
    let mut actor = Map::new();
    put(&mut actor, "user", user);
    if is_token {
        put(&mut actor, "session", object(&[("uid", json!(r.actor_id))]));
    }
    let resource = object(&[
        ("type", json!(r.target_type)),
        ("uid", json!(r.target_id)),
        ("name", json!(r.target_display)),
        (
            "group",
            r.workspace_id
                .map(|w| json!({ "uid": w.to_string() }))
                .unwrap_or(Value::Null),
        ),
    ]);
    let resources = match resource.as_object() {
        Some(m) if !m.is_empty() => json!([resource]),
        _ => Value::Null,
    };
    let changes: Value = r
        .changes
        .as_deref()
        .map(|c| serde_json::from_str(c).unwrap_or_else(|_| json!(c)))
        .unwrap_or(Value::Null);
    let mut e = Map::new();
    put(&mut e, "class_uid", json!(API_ACTIVITY));
    put(&mut e, "class_name", json!("API Activity"));
    put(&mut e, "category_uid", json!(APPLICATION_ACTIVITY));
    put(&mut e, "category_name", json!("Application Activity"));
    put(&mut e, "activity_id", json!(activity_id));
    put(&mut e, "activity_name", json!(activity_name));
    put(&mut e, "type_uid", json!(API_ACTIVITY * 100 + activity_id));
    put(&mut e, "severity_id", json!(1));
    put(
        &mut e,
        "time",
        json!(r.occurred_at.inner().unix_timestamp_nanos() / 1_000_000),
    );
    put(&mut e, "time_dt", json!(r.occurred_at.to_canonical()));
    put(
        &mut e,
        "status",
        json!(if success { "Success" } else { "Failure" }),
    );
    put(&mut e, "status_id", json!(if success { 1 } else { 2 }));
    put(&mut e, "status_detail", json!(r.reason));
    put(
        &mut e,
        "metadata",
        json!({
            "uid": r.id.to_string(),
            "sequence": r.seq,
            "version": "1.1.0",
            "product": { "name": "scimitar", "vendor_name": "scimitar" },
        }),
    );
    put(
        &mut e,
        "cloud",
        object(&[
            ("provider", json!("scimitar")),
            (
                "account",
                r.org_id
                    .map(|o| json!({ "uid": o.to_string() }))
                    .unwrap_or(Value::Null),
            ),
        ]),
    );
    put(&mut e, "actor", Value::Object(actor));
    put(
        &mut e,
        "api",
        object(&[
            ("operation", json!(r.action)),
            (
                "request",
                r.request_id
                    .as_ref()
                    .map(|id| json!({ "uid": id }))
                    .unwrap_or(Value::Null),
            ),
        ]),
    );
    put(&mut e, "resources", resources);
    put(
        &mut e,
        "http_response",
        r.http_status
            .map(|c| json!({ "code": c }))
            .unwrap_or(Value::Null),
    );
    put(
        &mut e,
        "http_request",
        r.user_agent
            .as_ref()
            .map(|ua| json!({ "user_agent": ua }))
            .unwrap_or(Value::Null),
    );
    put(
        &mut e,
        "src_endpoint",
        r.source_ip
            .as_ref()
            .map(|ip| json!({ "ip": ip }))
            .unwrap_or(Value::Null),
    );
    put(
        &mut e,
        "unmapped",
        object(&[
            ("chain", json!(r.chain)),
            ("changes", changes),
            ("reported_by", json!(r.reported_by)),
            (
                "prev_hash",
                json!(crate::store::settings::to_hex(&r.prev_hash)),
            ),
            ("hash", json!(crate::store::settings::to_hex(&r.hash))),
        ]),
    );
    Value::Object(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Timestamp;
    use uuid::Uuid;

    fn record(action: &str, actor_kind: &str, outcome: &str) -> StoredEvent {
        StoredEvent {
            id: Uuid::now_v7(),
            chain: "c".into(),
            seq: 7,
            org_id: Some(Uuid::nil()),
            workspace_id: None,
            occurred_at: Timestamp::now(),
            actor_kind: actor_kind.into(),
            actor_id: Some("tok".into()),
            actor_display: Some("idp".into()),
            action: action.into(),
            target_type: Some("user".into()),
            target_id: Some("u1".into()),
            target_display: None,
            outcome: outcome.into(),
            reason: (outcome == "failure").then(|| "nope".into()),
            http_status: Some(201),
            request_id: Some("r1".into()),
            source_ip: Some("203.0.113.9".into()),
            user_agent: None,
            changes: Some("{\"a\":1}".into()),
            reported_by: None,
            prev_hash: vec![0; 32],
            hash: vec![1; 32],
        }
    }

    #[test]
    fn maps_as_documented() {
        let e = event(&record("scim.user.create", "sat", "success"));
        assert_eq!(e["class_uid"], 6003);
        assert_eq!(e["activity_id"], 1);
        assert_eq!(e["type_uid"], 600301);
        assert_eq!(e["metadata"]["sequence"], 7);
        assert_eq!(e["actor"]["session"]["uid"], "tok");
        assert_eq!(e["actor"]["user"]["type"], "sat");
        assert!(e["actor"]["user"].get("uid").is_none());
        assert_eq!(e["api"]["operation"], "scim.user.create");
        assert_eq!(e["api"]["request"]["uid"], "r1");
        assert_eq!(e["resources"][0]["uid"], "u1");
        assert_eq!(e["http_response"]["code"], 201);
        assert_eq!(e["src_endpoint"]["ip"], "203.0.113.9");
        assert_eq!(e["status"], "Success");
        assert_eq!(e["unmapped"]["changes"]["a"], 1);
        assert!(e.get("http_request").is_none());

        let e = event(&record("sat.revoke", "member_session", "failure"));
        assert_eq!(e["activity_id"], 4);
        assert_eq!(e["status_id"], 2);
        assert_eq!(e["status_detail"], "nope");
        assert_eq!(e["actor"]["user"]["uid"], "tok");
        assert_eq!(
            event(&record("auth.denied", "anonymous", "failure"))["activity_id"],
            99
        );
        assert_eq!(
            event(&record("scim.user.list", "sat", "success"))["activity_id"],
            2
        );
    }
}
