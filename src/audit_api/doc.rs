//! The Audit Log API's part of the OpenAPI document: the operations (from
//! the handlers' annotations) and the schemas of the records, reports and
//! checkpoints, whose types live in `crate::audit`.

#![allow(dead_code)]

use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::{checkpoints, export, handlers, intake, streams};

#[derive(OpenApi)]
#[openapi(
    paths(
        handlers::list,
        export::export,
        handlers::verify,
        checkpoints::checkpoints,
        handlers::jwks,
        handlers::get,
        intake::ingest,
        streams::create,
        streams::list,
        streams::read,
        streams::update,
        streams::delete,
        streams::test,
    ),
    components(schemas(
        AuditRecord,
        AuditPage,
        ChainReport,
        ChainBreak,
        Checkpoint,
        CheckpointList,
        Jwks,
        AuditStream,
        AuditStreamWithSecret,
        AuditStreamList,
        AuditStreamFilter,
        AuditStreamStatus,
        AuditStreamTest,
        ReportedEvent,
        ReportedTarget,
        ReportedBatch,
        IntakeBody,
        IntakeAnswer,
        IntakeResults,
        IntakeProblem
    ))
)]
pub struct AuditApi;

/// One record of the organization's hash chain.
#[derive(ToSchema)]
pub struct AuditRecord {
    id: Uuid,
    chain: String,
    /// Position in the chain, from 1.
    seq: i64,
    org_id: Option<Uuid>,
    workspace_id: Option<Uuid>,
    #[schema(format = DateTime)]
    occurred_at: String,
    /// `sat`, `pat`, `member_session`, `operator`, `anonymous`, …
    actor_kind: String,
    actor_id: Option<String>,
    actor_display: Option<String>,
    /// `noun.verb`, e.g. `sat.create`, `scim.user.patch`, `auth.denied`.
    action: String,
    target_type: Option<String>,
    target_id: Option<String>,
    target_display: Option<String>,
    #[schema(pattern = "^(success|failure)$")]
    outcome: String,
    reason: Option<String>,
    http_status: Option<i32>,
    request_id: Option<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
    /// A JSON document, as text: what changed (never a secret).
    changes: Option<String>,
    /// On a record a workspace service reported through the intake: the id
    /// of the reporting service's organization SAT. `null` otherwise.
    reported_by: Option<String>,
    /// Lowercase hex.
    prev_hash: String,
    /// Lowercase hex.
    hash: String,
}

/// One page of records, and where the next starts.
#[derive(ToSchema)]
pub struct AuditPage {
    records: Vec<AuditRecord>,
    /// Give as `cursor` for the next page; in ascending order always
    /// present, so that a poller can ask again later.
    next_cursor: Option<String>,
}

/// The result of verifying the chain over a range against its signed
/// checkpoints. Online, offline and in the console a break has one shape.
#[derive(ToSchema)]
pub struct ChainReport {
    ok: bool,
    chain: Option<String>,
    /// Records checked.
    records: u64,
    first_seq: Option<i64>,
    last_seq: Option<i64>,
    /// Whether the first record was checked against what precedes it.
    anchored: bool,
    /// The chain head's `seq`.
    head: Option<i64>,
    /// Checkpoints whose signature verified.
    checkpoints_verified: u64,
    /// Checkpoints that fell on a checked record and matched it.
    checkpoints_matched: u64,
    /// The last record attested by a matching checkpoint.
    attested_through: Option<i64>,
    first_break: Option<ChainBreak>,
}

/// The first break a verification found.
#[derive(ToSchema)]
pub struct ChainBreak {
    /// `bad_checkpoint`, `checkpoint_missing`, `wrong_chain`,
    /// `malformed_record`, `gap`, `reordered`, `broken_link`,
    /// `hash_mismatch`, `checkpoint_mismatch`, `truncated` or `head_mismatch`.
    kind: String,
    /// The record's (or checkpoint's) sequence number, when known.
    seq: Option<i64>,
    /// What the check wanted, as text (a hash in lowercase hex, a seq, a chain).
    expected: Option<String>,
    /// What it saw, as text.
    found: Option<String>,
    detail: String,
}

/// A signed checkpoint: a JWS over the chain's hash at `seq`.
#[derive(ToSchema)]
pub struct Checkpoint {
    seq: i64,
    /// Lowercase hex.
    hash: String,
    #[schema(format = DateTime)]
    time: String,
    kid: String,
    jws: String,
}

#[derive(ToSchema)]
pub struct CheckpointList {
    checkpoints: Vec<Checkpoint>,
}

/// A JSON Web Key Set (RFC 7517) of Ed25519 keys.
#[derive(ToSchema)]
pub struct Jwks {
    keys: Vec<serde_json::Value>,
}

/// A stream of the audit log to a SIEM, never with its secret.
#[derive(ToSchema)]
pub struct AuditStream {
    id: Uuid,
    url: String,
    /// `ndjson` or `ocsf`.
    format: String,
    filter: AuditStreamFilter,
    enabled: bool,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    status: AuditStreamStatus,
}

/// A new stream, with the secret that signs its deliveries: shown once.
#[derive(ToSchema)]
pub struct AuditStreamWithSecret {
    #[schema(inline)]
    #[serde(flatten)]
    stream: AuditStream,
    secret: String,
}

#[derive(ToSchema)]
pub struct AuditStreamList {
    audit_streams: Vec<AuditStream>,
}

/// Which records a stream carries.
#[derive(ToSchema)]
pub struct AuditStreamFilter {
    /// An action prefix, without a trailing `*`.
    action: Option<String>,
    /// `success` or `failure`.
    outcome: Option<String>,
}

/// Where delivery stands.
#[derive(ToSchema)]
pub struct AuditStreamStatus {
    /// Every record up to this seq is done with (delivered or filtered out).
    cursor_seq: i64,
    /// The newest record of the organization's chain.
    head_seq: i64,
    /// `head_seq - cursor_seq`.
    lag: i64,
    last_delivered_seq: Option<i64>,
    #[schema(format = DateTime)]
    last_delivered_at: Option<String>,
    #[schema(format = DateTime)]
    last_attempt_at: Option<String>,
    last_error: Option<String>,
    consecutive_failures: i64,
}

/// What a test delivery got.
#[derive(ToSchema)]
pub struct AuditStreamTest {
    delivered: bool,
    /// The receiver's status, when it answered 2xx.
    status: Option<u16>,
    error: Option<String>,
}

/// One event a workspace service reports (`POST /audit-logs/events`).
#[derive(ToSchema)]
pub struct ReportedEvent {
    /// The service's own unique id for the event (1 to 128 printable ASCII
    /// characters): a retry under the same id is answered as the first
    /// call was.
    id: String,
    /// The workspace SAT (or the JWT it was exchanged for) the operation
    /// was performed with. Verified, then forgotten: only its id is kept.
    subject_token: String,
    /// `<resource>.<verb>`, e.g. `transformations.update`; the verb decides
    /// the level needed (README, "verb → level").
    action: String,
    target: ReportedTarget,
    #[schema(pattern = "^(success|failure)$")]
    outcome: String,
    /// Required with `failure`.
    reason: Option<String>,
    /// RFC 3339; at most 60 s ahead of the server's clock, at most 10
    /// minutes behind it.
    #[schema(format = DateTime)]
    occurred_at: String,
    /// What changed, an object (at most 16 KiB); secrets are withheld.
    changes: Option<std::collections::HashMap<String, serde_json::Value>>,
    request_id: Option<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
}

#[derive(ToSchema)]
pub struct ReportedTarget {
    /// `a-z`, `0-9`, `_`: `transformation`.
    #[serde(rename = "type")]
    kind: String,
    /// A string (a number is also accepted, taken as its decimal text).
    id: Option<String>,
    display: Option<String>,
}

/// One event (answered as itself), or a batch (answered per event).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum IntakeBody {
    Event(Box<ReportedEvent>),
    Batch(ReportedBatch),
}

/// Up to 500 events, answered one by one.
#[derive(ToSchema)]
pub struct ReportedBatch {
    events: Vec<ReportedEvent>,
}

/// The answer for one event.
#[derive(ToSchema)]
pub struct IntakeAnswer {
    /// The event's id, as sent (null when it had no usable one).
    id: Option<String>,
    /// 201 recorded; 400 malformed; 409 a different body under an id
    /// already answered; 422 refused after checking.
    status: u16,
    /// The record made, for 201.
    record_id: Option<Uuid>,
    /// Why it was refused: `invalid_event`, `duplicate_id`, `conflict`,
    /// `invalid_subject_token`, `subject_token_inactive`,
    /// `permission_missing`, `occurred_at_in_future`, `occurred_at_too_late`.
    error: Option<String>,
    detail: Option<String>,
    /// Where `changes` held something withheld as a secret.
    redacted: Option<Vec<String>>,
}

/// The answers of a batch, in the order of its events.
#[derive(ToSchema)]
pub struct IntakeResults {
    results: Vec<IntakeAnswer>,
}

/// A problem (RFC 9457) about one event sent alone: the four standard
/// members, and the event's `id` and `error` code as a batch answer has
/// them. (A malformed body is a plain problem, without them.)
#[derive(ToSchema)]
pub struct IntakeProblem {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    id: Option<String>,
    /// As [`IntakeAnswer`]'s `error`.
    error: Option<String>,
}
