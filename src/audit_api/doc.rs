//! The Audit Log API's part of the OpenAPI document: the operations (from
//! the handlers' annotations) and the schemas of the records, reports and
//! checkpoints, whose types live in `crate::audit`.

#![allow(dead_code)]

use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::{checkpoints, export, handlers};

#[derive(OpenApi)]
#[openapi(
    paths(
        handlers::list,
        export::export,
        handlers::verify,
        checkpoints::checkpoints,
        handlers::jwks,
        handlers::get,
    ),
    components(schemas(AuditRecord, AuditPage, ChainReport, Checkpoint, CheckpointList, Jwks))
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

/// The result of recomputing the chain over a range.
#[derive(ToSchema)]
pub struct ChainReport {
    chain: String,
    from_seq: i64,
    records: u64,
    last_seq: i64,
    /// Whether the first record was checked against its predecessor.
    anchored: bool,
    ok: bool,
    /// The first break found: `{"kind":"hash_mismatch"|"broken_link","seq"}`,
    /// `{"kind":"gap","expected","found"}` or
    /// `{"kind":"truncated","last_found","head"}`.
    first_break: Option<serde_json::Value>,
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
