//! `POST /scim/v2/Bulk` (RFC 7644 §3.7): many operations in one request,
//! each run like its own request (validated alone, in its own savepoint,
//! with its own audit record, its failure its own), with `bulkId`
//! references resolved to the ids of resources created earlier in the same
//! request, and `failOnErrors` honoured. The whole request is one run of
//! the group-commit writer: its operations share one transaction and one
//! append of their records, and the response goes out once that commits.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::groups::Groups;
use super::http::{self, Base, ScimBody, ScimCaller};
use super::kind::{ScimWrite, location};
use super::limits::MAX_BULK_OPERATIONS;
use super::schema::{BULK_REQUEST_URN, BULK_RESPONSE_URN};
use super::users::Users;
use super::write::{Request, admit_create, create_users_in_run, write_in_run};
use crate::audit::Run;
use crate::http::AppState;
use crate::identity::members::user_name_key;
use crate::identity::passwords::Prehashed;
use crate::identity::scim_users::taken_user_names;
use crate::permissions::Action;
use crate::store::Tx;
use crate::use_cases::Change;

/// What one operation produced.
struct Outcome {
    status: StatusCode,
    id: Option<uuid::Uuid>,
    location: Option<String>,
    version: Option<i64>,
}

pub async fn bulk(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimWrite).await?;
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest must be a JSON object"))?;
    let field = |name: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let schemas_ok = field("schemas").and_then(Value::as_array).is_some_and(|a| {
        a.iter().any(|s| {
            s.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST_URN))
        })
    });
    if !schemas_ok {
        return Err(ScimError::invalid_value(format!(
            "`schemas` must be [\"{BULK_REQUEST_URN}\"]"
        )));
    }
    let fail_on_errors = match field("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
            ScimError::invalid_value("`failOnErrors` must be a positive integer")
        })?),
    };
    let ops = field("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("`Operations` must be an array"))?;
    if ops.len() > MAX_BULK_OPERATIONS {
        return Err(ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("at most {MAX_BULK_OPERATIONS} operations per bulk request (maxOperations)"),
        ));
    }

    // Hashed before the run, which holds the writer for the whole request:
    // under it, each password would hold every other request up for its
    // tens of milliseconds of argon2.
    let prehashed = super::users::hash_ahead_in_bulk(&state.db, caller.org_id(), ops).await?;
    let mut run = state.audit.run().await?;
    let mut created: HashMap<String, uuid::Uuid> = HashMap::new();
    let mut results = Vec::with_capacity(ops.len());
    let mut errors = 0u64;
    // Policy refusals inside the batch (a password SCIM may not set, say):
    // the batch's one record names each, so none goes unrecorded.
    let mut refusals = Vec::new();
    // Operations from `one_by_one` on run alone, as they did before runs
    // of creates were batched: the operations of a batch that failed.
    let mut one_by_one = 0;
    let mut index = 0;
    while index < ops.len() {
        if index >= one_by_one {
            let news = plain_creates(
                &state,
                &caller,
                &mut run,
                &ops[index..],
                &created,
                &prehashed,
            )
            .await;
            if !news.is_empty() {
                let (bulk_ids, incoming): (Vec<&str>, Vec<_>) = news.into_iter().unzip();
                match create_users_in_run(&caller, &mut run, &incoming).await {
                    Ok(rows) => {
                        for (bulk_id, row) in bulk_ids.iter().zip(rows) {
                            let meta = row.as_ref();
                            created.insert(bulk_id.to_string(), meta.id);
                            results.push(json!({
                                "method": "POST",
                                "bulkId": bulk_id,
                                "status": "201",
                                "location": location::<Users>(&base, meta.id),
                                "version": http::etag(meta.version),
                            }));
                        }
                        index += bulk_ids.len();
                        continue;
                    }
                    // Each operation of the run on its own, for its own
                    // answer.
                    Err(_) => one_by_one = index + bulk_ids.len(),
                }
            }
        }
        let op = &ops[index];
        let method = op
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_uppercase();
        let bulk_id = op.get("bulkId").and_then(Value::as_str).map(str::to_string);
        let mut result = Map::new();
        result.insert("method".into(), json!(method));
        if let Some(b) = &bulk_id {
            result.insert("bulkId".into(), json!(b));
        }
        let resolved = resolve(op, &method, bulk_id.as_deref(), &created, &prehashed);
        match operation(&state, &caller, &mut run, &base, resolved).await {
            Ok(out) => {
                if let (Some(b), Some(id)) = (&bulk_id, out.id) {
                    created.insert(b.clone(), id);
                }
                result.insert("status".into(), json!(out.status.as_u16().to_string()));
                if let Some(l) = out.location {
                    result.insert("location".into(), json!(l));
                }
                if let Some(v) = out.version {
                    result.insert("version".into(), json!(http::etag(v)));
                }
            }
            Err(e) => {
                errors += 1;
                if let Some(code) = e.reason_code() {
                    refusals.push(json!({ "operation": index, "reason": code }));
                }
                result.insert("status".into(), json!(e.status.as_u16().to_string()));
                result.insert("response".into(), e.body());
            }
        }
        results.push(Value::Object(result));
        index += 1;
        if fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
    }
    let event = caller.event("scim.bulk").status(200).changes(json!({
        "operations": ops.len(),
        "processed": results.len(),
        "errors": errors,
        "refusals": refusals,
    }));
    run.record(event);
    run.finish().await?;
    crate::store::statistics::rows_created(&state.db, created.len() as u64);
    let body = json!({ "schemas": [BULK_RESPONSE_URN], "Operations": results });
    Ok(http::respond(StatusCode::OK, &body, None, None))
}

/// The longest run of operations at the front of `ops` that can be created
/// together, admitted (parsed, normalized, passwords checked and hashed):
/// `POST /Users` with a fresh `bulkId`, no `bulkId` reference in its data,
/// and a userName that is neither taken in the organization nor used by an
/// earlier operation of the run. The run ends before the first operation
/// that is not such a create, or would fail: that one goes on its own
/// through [`operation`], in order, so that its error and `failOnErrors`
/// come out exactly as they would have one by one.
async fn plain_creates<'o>(
    state: &AppState,
    caller: &ScimCaller,
    run: &mut Run<'_>,
    ops: &'o [Value],
    created: &HashMap<String, uuid::Uuid>,
    prehashed: &Prehashed,
) -> Vec<(&'o str, super::users::Incoming)> {
    let mut news = Vec::new();
    let mut bulk_ids = HashSet::new();
    for op in ops {
        let Some(data) = plain_create(op) else { break };
        let Some(bulk_id) = op.get("bulkId").and_then(Value::as_str) else {
            break;
        };
        if created.contains_key(bulk_id) || !bulk_ids.insert(bulk_id) {
            break;
        }
        match admit_create::<Users>(&state.db, caller.org_id(), data, prehashed).await {
            Ok(new) if !new.user_name().trim().is_empty() => news.push((bulk_id, new)),
            _ => break,
        }
    }
    if news.is_empty() {
        return news;
    }
    // One SELECT for the run's userNames; the run is cut at the first that
    // is taken, in the organization or earlier in the run.
    let names: Vec<&str> = news.iter().map(|(_, new)| new.user_name()).collect();
    let taken = match run
        .write(
            async |tx: &mut Tx| -> Result<Change<_>, ScimError> {
                Ok(Change::Unchanged(
                    taken_user_names(tx, caller.org_id(), &names).await?,
                ))
            },
            || (),
        )
        .await
    {
        Ok(taken) => taken,
        Err(_) => return Vec::new(),
    };
    let mut seen = HashSet::new();
    let fits = names
        .iter()
        .take_while(|name| {
            let key = user_name_key(name);
            !taken.contains(&key) && seen.insert(key)
        })
        .count();
    news.truncate(fits);
    news
}

/// The data of a `POST /Users` operation with no `bulkId` reference, which
/// can join a batched run of creates.
fn plain_create(op: &Value) -> Option<&Value> {
    let method = op.get("method").and_then(Value::as_str)?;
    let path = op.get("path").and_then(Value::as_str)?;
    if !method.eq_ignore_ascii_case("POST") || path.trim_matches('/') != "Users" {
        return None;
    }
    op.get("data").filter(|d| !has_refs(d))
}

/// Whether `v` holds a `"bulkId:<id>"` string anywhere.
fn has_refs(v: &Value) -> bool {
    match v {
        Value::String(s) => s.starts_with("bulkId:"),
        Value::Array(items) => items.iter().any(has_refs),
        Value::Object(fields) => fields.values().any(has_refs),
        _ => false,
    }
}

/// Replaces every `"bulkId:<id>"` string with the id created for it.
fn resolve_refs(v: &Value, created: &HashMap<String, uuid::Uuid>) -> Result<Value, ScimError> {
    Ok(match v {
        Value::String(s) => match s.strip_prefix("bulkId:") {
            Some(b) => json!(created.get(b).ok_or_else(|| {
                ScimError::new(
                    StatusCode::CONFLICT,
                    Some(super::error::ScimType::InvalidValue),
                    format!("bulkId `{b}` is not (yet) defined in this request"),
                )
            })?),
            None => v.clone(),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| resolve_refs(i, created))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), resolve_refs(v, created)?)))
                .collect::<Result<_, ScimError>>()?,
        ),
        other => other.clone(),
    })
}

/// An operation with its `bulkId` references resolved: its path, split,
/// and its data.
fn resolve<'a>(
    op: &'a Value,
    method: &'a str,
    bulk_id: Option<&'a str>,
    created: &'a HashMap<String, uuid::Uuid>,
    prehashed: &'a Prehashed,
) -> Result<Op<'a>, ScimError> {
    let path = op
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("each operation needs a `path`"))?;
    // A path may name a resource created earlier: `/Users/bulkId:u1`.
    let path = path
        .split('/')
        .map(|seg| match resolve_refs(&json!(seg), created)? {
            Value::String(s) => Ok(s),
            other => Ok(other.to_string().trim_matches('"').to_string()),
        })
        .collect::<Result<Vec<String>, ScimError>>()?
        .join("/");
    let data = op
        .get("data")
        .map(|d| resolve_refs(d, created))
        .transpose()?;
    Ok(Op {
        method,
        path,
        data,
        version: op.get("version").and_then(Value::as_str),
        bulk_id,
        created,
        prehashed,
    })
}

async fn operation(
    state: &AppState,
    caller: &ScimCaller,
    run: &mut Run<'_>,
    base: &str,
    op: Result<Op<'_>, ScimError>,
) -> Result<Outcome, ScimError> {
    let op = op?;
    let path = op.path.clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (op.method, segments.as_slice()) {
        ("POST" | "PUT" | "PATCH" | "DELETE", ["Users", rest @ ..]) => {
            on::<Users>(state, caller, run, base, &op, rest).await
        }
        ("POST" | "PUT" | "PATCH" | "DELETE", ["Groups", rest @ ..]) => {
            on::<Groups>(state, caller, run, base, &op, rest).await
        }
        ("POST" | "PUT" | "PATCH" | "DELETE", _) => Err(ScimError::invalid_value(format!(
            "`{path}` is not a resource this operation applies to"
        ))),
        _ => Err(ScimError::invalid_syntax(
            "`method` must be POST, PUT, PATCH or DELETE",
        )),
    }
}

/// One operation, its references resolved.
struct Op<'a> {
    method: &'a str,
    path: String,
    data: Option<Value>,
    /// The `If-Match` of the operation.
    version: Option<&'a str>,
    bulk_id: Option<&'a str>,
    created: &'a HashMap<String, uuid::Uuid>,
    /// The request's passwords, hashed before it took the writer.
    prehashed: &'a Prehashed,
}

/// Runs one operation on a resource of kind `R`; `rest` is the path after
/// the kind's endpoint.
async fn on<R: ScimWrite>(
    state: &AppState,
    caller: &ScimCaller,
    run: &mut Run<'_>,
    base: &str,
    op: &Op<'_>,
    rest: &[&str],
) -> Result<Outcome, ScimError> {
    let data = || {
        op.data
            .as_ref()
            .ok_or_else(|| ScimError::invalid_syntax("this operation needs `data`"))
    };
    let id = |raw: &str| http::resource_id(raw, R::RT.name());
    let (status, row) = match (op.method, rest) {
        ("POST", []) => {
            if op.bulk_id.is_none() {
                return Err(ScimError::invalid_syntax("a bulk POST needs a `bulkId`"));
            }
            if op.bulk_id.is_some_and(|b| op.created.contains_key(b)) {
                return Err(ScimError::invalid_value("each `bulkId` may be used once"));
            }
            let request = Request::Create { body: data()? };
            let row = write_in_run::<R>(state, caller, run, request, op.prehashed).await?;
            (StatusCode::CREATED, row)
        }
        ("PUT", [raw]) => {
            let id = id(raw)?;
            let request = Request::Replace {
                id,
                body: data()?,
                if_match: op.version,
            };
            let row = write_in_run::<R>(state, caller, run, request, op.prehashed).await?;
            (StatusCode::OK, row)
        }
        ("PATCH", [raw]) => {
            let id = id(raw)?;
            let request = Request::Patch {
                id,
                body: data()?,
                if_match: op.version,
            };
            let row = write_in_run::<R>(state, caller, run, request, op.prehashed).await?;
            (StatusCode::OK, row)
        }
        ("DELETE", [raw]) => {
            let id = id(raw)?;
            let request = Request::Delete {
                id,
                if_match: op.version,
            };
            write_in_run::<R>(state, caller, run, request, op.prehashed).await?;
            return Ok(Outcome {
                status: StatusCode::NO_CONTENT,
                id: None,
                location: Some(location::<R>(base, id)),
                version: None,
            });
        }
        _ => {
            return Err(ScimError::invalid_value(format!(
                "`{}` is not a resource this operation applies to",
                op.path
            )));
        }
    };
    let meta = row.as_ref();
    Ok(Outcome {
        status,
        id: (status == StatusCode::CREATED).then_some(meta.id),
        location: Some(location::<R>(base, meta.id)),
        version: Some(meta.version),
    })
}
