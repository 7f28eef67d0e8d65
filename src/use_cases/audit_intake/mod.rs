//! The audit event intake: workspace services report what they did with a
//! workspace SAT (or the JWT it was exchanged for), and scimitar verifies
//! each event before it records it in the organization's chain, under the
//! subject SAT, in its workspace, naming the reporting service's SAT
//! (`reported_by`).
//!
//! For each event, in order: it is well formed (`event`); `occurred_at` is
//! at most [`CLOCK_SKEW`] ahead of this server's clock and at most
//! [`LATENESS`] behind it; the subject token was good for this
//! organization at `occurred_at` (`subject`); and it held a permission on
//! the action's resource at the level the verb needs (`verbs`). A refused
//! event is answered with its reason and recorded as a failure of
//! `audit_logs.ingest` in the reporting service's name.
//!
//! Each event is answered once per (reporting SAT, event id): the answer
//! is kept (`audit::intake`) in the transaction that records the event, a
//! retry gets it again and records nothing, and a different body under the
//! same id is 409. A whole batch (up to [`MAX_EVENTS`]) is one change of
//! the group-commit writer: one transaction, its records appended to the
//! chain in one multi-row insert.

mod event;
mod subject;
pub mod verbs;

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use self::subject::{Credential, Subject};
use super::write::Change;
use super::{Call, Services, UseCaseError};
use crate::audit::intake::{self, Entry};
use crate::audit::redact::{REDACTED, looks_like_secret, redact};
use crate::audit::{Actor, AuditEvent, Outcome, Target};
use crate::permissions::{Action, PrincipalKind};
use crate::store::Timestamp;

pub use event::MAX_CHANGES;

/// Most events in one call.
pub const MAX_EVENTS: usize = 500;

/// How far ahead of this server's clock `occurred_at` may be (the
/// service's clock may run ahead); the moment is then taken as now.
pub const CLOCK_SKEW: time::Duration = time::Duration::seconds(60);

/// How far behind this server's clock `occurred_at` may be: how long a
/// service may take to report (batching, retries after an outage). It
/// bounds what a service could credit to a token after the token's
/// revocation by backdating: never more than this.
pub const LATENESS: time::Duration = time::Duration::minutes(10);

/// The action a refused event is recorded under (the route's).
pub const INGEST_ACTION: &str = "audit_logs.ingest";

/// The answer for one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The event's id, as sent (absent when it had no usable one).
    pub id: Option<String>,
    /// 201 recorded; 400 malformed (`invalid_event`, `duplicate_id`); 409
    /// a different body under an id already answered (`conflict`); 422
    /// refused after checking (`invalid_subject_token`,
    /// `subject_token_inactive`, `permission_missing`,
    /// `occurred_at_in_future`, `occurred_at_too_late`).
    pub status: u16,
    /// The record made (for 201).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<Uuid>,
    /// Why it was refused: a stable code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Where `changes` held something withheld as a secret (201 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<String>,
}

impl Answer {
    fn refused(id: Option<String>, status: u16, error: &str, detail: impl Into<String>) -> Self {
        Self {
            id,
            status,
            record_id: None,
            error: Some(error.to_string()),
            detail: Some(detail.into()),
            redacted: Vec::new(),
        }
    }
}

/// One event's fate before the transaction: its answer, and the record
/// that goes with it. (An event without a usable id, or whose id is
/// already in the batch, is answered and recorded but not remembered: it
/// cannot be retried as itself.)
struct Decided {
    answer: Answer,
    digest: Option<Vec<u8>>,
    record: Option<AuditEvent>,
    /// The event's `action` as sent, for the record of a later conflict.
    action: Value,
}

/// Verifies and records `events` for the caller (an organization SAT with
/// `audit_logs:write`); answers per event, in order. `jwks` holds the keys
/// exchanged JWTs of the last [`LATENESS`] were signed with.
pub async fn ingest(
    services: &Services,
    call: &Call<'_>,
    jwks: &Value,
    events: &[Value],
) -> Result<Vec<Answer>, UseCaseError> {
    call.authorize(Action::WriteAuditLogs)?;
    let org_id = call.org_id()?;
    let reporter = call
        .principal()
        .actor_id()
        .ok_or_else(|| UseCaseError::Internal("a reporting SAT has an id".into()))?;
    if events.is_empty() || events.len() > MAX_EVENTS {
        return Err(UseCaseError::Invalid(format!(
            "send 1 to {MAX_EVENTS} events"
        )));
    }
    let now = Timestamp::now();
    let mut seen = HashSet::new();
    let mut decided = Vec::with_capacity(events.len());
    for raw in events {
        let id = event::id_of(raw);
        if let Some(id) = &id
            && !seen.insert(id.clone())
        {
            let answer = Answer::refused(
                Some(id.clone()),
                400,
                "duplicate_id",
                "this id is already in this batch",
            );
            decided.push(Decided {
                record: Some(refusal_record(call, raw, &answer, None, None)),
                answer,
                digest: None,
                action: Value::Null,
            });
            continue;
        }
        decided.push(decide(services, call, jwks, org_id, &reporter, raw, id, now).await?);
    }
    record(services, call, org_id, &reporter, decided).await
}

/// Verifies one event and makes its answer and record.
#[expect(clippy::too_many_arguments, reason = "one event's whole context")]
async fn decide(
    services: &Services,
    call: &Call<'_>,
    jwks: &Value,
    org_id: Uuid,
    reporter: &str,
    raw: &Value,
    id: Option<String>,
    now: Timestamp,
) -> Result<Decided, UseCaseError> {
    let digest = id.as_ref().map(|_| event::digest(raw));
    let refuse = |status, error: &str, detail: String, subject: Option<&Subject>, ws| {
        let answer = Answer::refused(id.clone(), status, error, detail);
        let record = Some(refusal_record(call, raw, &answer, subject, ws));
        Decided {
            answer,
            digest: digest.clone(),
            record,
            action: raw.get("action").cloned().unwrap_or_default(),
        }
    };
    let reported = match event::parse(raw) {
        Ok(r) => r,
        Err(detail) => return Ok(refuse(400, "invalid_event", detail, None, None)),
    };
    if reported.occurred_at > now + CLOCK_SKEW {
        let detail = format!(
            "occurred_at is in the future (more than {} s ahead of this server's clock)",
            CLOCK_SKEW.whole_seconds()
        );
        return Ok(refuse(422, "occurred_at_in_future", detail, None, None));
    }
    if reported.occurred_at < now - LATENESS {
        let detail = format!(
            "occurred_at is more than {} minutes ago: too late to report",
            LATENESS.whole_minutes()
        );
        return Ok(refuse(422, "occurred_at_too_late", detail, None, None));
    }
    let at = reported.occurred_at.min(now);
    let subject = match subject::check(
        services,
        jwks,
        org_id,
        &reported.subject_token,
        at,
        CLOCK_SKEW,
    )
    .await?
    {
        Ok(s) => s,
        Err(r) => {
            let error = if r.inactive {
                "subject_token_inactive"
            } else {
                "invalid_subject_token"
            };
            let mut d = refuse(422, error, r.detail, None, None);
            if let (Some(rec), Some(token_id)) = (d.record.as_mut(), r.token_id)
                && let Some(Value::Object(c)) = rec.changes.as_mut()
            {
                c.insert("subject_token_id".into(), json!(token_id));
            }
            return Ok(d);
        }
    };
    let workspace = subject.standing.workspace_id;
    if !subject
        .permissions
        .grants_workspace(reported.resource, reported.level)
    {
        let missing = format!("{}:{}", reported.resource.as_str(), reported.level.as_str());
        let detail =
            format!("the subject token does not hold `{missing}` (or a level that implies it)");
        return Ok(refuse(
            422,
            "permission_missing",
            detail,
            Some(&subject),
            workspace,
        ));
    }
    let record_id = Uuid::now_v7();
    let mut changes = json!({
        "event_id": reported.id,
        "occurred_at": reported.occurred_at.to_canonical(),
    });
    if let Credential::Jwt { jti } = &subject.credential {
        changes["jti"] = json!(jti);
    }
    let mut redacted = Vec::new();
    if let Some(mut reported_changes) = reported.changes {
        redacted = redact(&mut reported_changes, "changes");
        changes["changes"] = reported_changes;
    }
    let context = crate::audit::RequestContext {
        request_id: reported.request_id.map(withheld),
        source_ip: reported.source_ip,
        user_agent: reported.user_agent.map(withheld),
    };
    let actor = Actor {
        kind: PrincipalKind::Sat.as_str().to_string(),
        id: Some(subject.standing.token_id.to_string()),
        display: Some(subject.standing.name.clone()),
    };
    let mut record = AuditEvent::new(Some(org_id), actor, &reported.action, &context)
        .workspace(workspace)
        .target(Target {
            kind: reported.target_type,
            id: reported.target_id.map(withheld),
            display: reported.target_display.map(withheld),
        })
        .changes(changes)
        .reported_by(reporter);
    if reported.outcome == Outcome::Failure {
        record = record.failure(withheld(reported.reason.unwrap_or_default()));
    }
    record.record_id = Some(record_id);
    Ok(Decided {
        answer: Answer {
            id,
            status: 201,
            record_id: Some(record_id),
            error: None,
            detail: None,
            redacted,
        },
        digest,
        record: Some(record),
        action: raw.get("action").cloned().unwrap_or_default(),
    })
}

/// Text from a service, unless it looks like a credential.
fn withheld(text: String) -> String {
    if looks_like_secret(&text) {
        REDACTED.to_string()
    } else {
        text
    }
}

/// The record of a refused event, in the reporting service's name.
fn refusal_record(
    call: &Call<'_>,
    raw: &Value,
    answer: &Answer,
    subject: Option<&Subject>,
    workspace: Option<Uuid>,
) -> AuditEvent {
    let action = raw.get("action").and_then(Value::as_str).map(|a| {
        let a: String = a.chars().take(128).collect();
        withheld(a)
    });
    let mut changes = json!({
        "event_id": answer.id,
        "error": answer.error,
        "action": action,
    });
    if let Some(s) = subject {
        changes["subject_token_id"] = json!(s.standing.token_id.to_string());
    }
    redact(&mut changes, "changes");
    let detail = answer.detail.clone().unwrap_or_default();
    call.event(INGEST_ACTION, super::call::Done::Created, Some(changes))
        .status(answer.status)
        .failure(detail)
        .workspace(workspace)
        .target(Target {
            kind: "audit_event".into(),
            id: answer.id.clone().map(withheld),
            display: None,
        })
}

/// Claims the events' ids and records what is new, in one change of the
/// group-commit writer; replays get their first answer, changed bodies 409.
async fn record(
    services: &Services,
    call: &Call<'_>,
    org_id: Uuid,
    reporter: &str,
    decided: Vec<Decided>,
) -> Result<Vec<Answer>, UseCaseError> {
    let entries: Vec<Entry> = decided
        .iter()
        .filter_map(|d| {
            Some(Entry {
                event_id: d.answer.id.clone()?,
                digest: d.digest.clone()?,
                answer: serde_json::to_string(&d.answer).expect("an answer serializes"),
            })
        })
        .collect();
    let mut run = services.audit.run().await?;
    let outcome = run
        .write(
            async |tx| -> Result<Change<_>, UseCaseError> {
                let claimed: HashSet<String> = intake::claim(tx, org_id, reporter, &entries)
                    .await?
                    .into_iter()
                    .collect();
                let others: Vec<&str> = entries
                    .iter()
                    .map(|e| e.event_id.as_str())
                    .filter(|id| !claimed.contains(*id))
                    .collect();
                let priors = if others.is_empty() {
                    HashMap::new()
                } else {
                    intake::priors(tx, reporter, &others).await?
                };
                let mut answers = Vec::with_capacity(decided.len());
                let mut records = Vec::new();
                for d in &decided {
                    let id = d.answer.id.as_deref();
                    // Only a remembered event (an id and a digest) can have
                    // been answered before.
                    let earlier = id
                        .filter(|i| d.digest.is_some() && !claimed.contains(*i))
                        .and_then(|i| priors.get(i));
                    match earlier {
                        // Answered before: the first answer, if the body is the
                        // one first sent.
                        Some(prior) if Some(&prior.body_digest) == d.digest.as_ref() => {
                            let first: Answer = serde_json::from_str(&prior.answer)
                                .map_err(|e| UseCaseError::Internal(e.to_string()))?;
                            answers.push(first);
                        }
                        Some(_) => {
                            let answer = Answer::refused(
                                d.answer.id.clone(),
                                409,
                                "conflict",
                                "this id was already reported with a different body",
                            );
                            let raw = json!({ "action": d.action });
                            records.push(refusal_record(call, &raw, &answer, None, None));
                            answers.push(answer);
                        }
                        None => {
                            answers.push(d.answer.clone());
                            records.extend(d.record.clone());
                        }
                    }
                }
                let mut records = records.into_iter();
                Ok(match records.next() {
                    Some(first) => Change::Made((answers, records.collect::<Vec<_>>()), first),
                    None => Change::Unchanged((answers, Vec::new())),
                })
            },
            || {
                if let Some(witness) = call.witness() {
                    witness.recorded();
                }
            },
        )
        .await;
    let (answers, more) = outcome?;
    for event in more {
        run.record(event);
    }
    run.finish().await?;
    Ok(answers)
}
