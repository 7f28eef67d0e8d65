//! The one shape of every SCIM write, whatever the resource kind:
//!
//! authorize → parse → begin → load and lock → precondition (`If-Match`) →
//! change → index rows → audit record → commit.
//!
//! A PATCH that would change nothing stops after parsing: it is told from
//! a snapshot, without the writer (see [`unchanged_by_patch`]).
//!
//! The change, its index rows and its audit record (`scim.user.patch`, with
//! the attribute paths changed, never a value) are durable together or not
//! at all. What differs between kinds is supplied by [`ScimWrite`].

use serde_json::{Value, json};
use uuid::Uuid;

use super::error::ScimError;
use super::http::{self, ScimCaller};
use super::index::{self, IndexRow};
use super::kind::{Proposed, Read, ScimResource, ScimWrite, Via};
use super::patch::{self, PatchOperation};
use super::resource::{self, Shape};
use super::users::Users;
use crate::audit::{AuditEvent, Run, Target};
use crate::http::AppState;
use crate::identity::access;
use crate::identity::passwords::Prehashed;
use crate::permissions::Action;
use crate::store::{Db, Tx};
use crate::use_cases::Change;

/// A write as requested.
pub enum Request<'a> {
    Create {
        body: &'a Value,
    },
    Replace {
        id: Uuid,
        body: &'a Value,
        if_match: Option<&'a str>,
    },
    Patch {
        id: Uuid,
        body: &'a Value,
        if_match: Option<&'a str>,
    },
    Delete {
        id: Uuid,
        if_match: Option<&'a str>,
    },
}

/// A request once parsed.
enum Parsed<'a, R: ScimWrite> {
    Create(R::Incoming),
    Existing {
        id: Uuid,
        if_match: Option<&'a str>,
        edit: Edit<R>,
        prepared: R::Prepared,
    },
}

/// A change to an existing resource.
enum Edit<R: ScimWrite> {
    Replace(R::Incoming),
    Patch(Vec<PatchOperation>),
    Delete,
}

/// What a change did, for the index and the audit record.
struct Done<Row> {
    row: Row,
    action: &'static str,
    status: u16,
    /// What becomes of the resource's index rows.
    index: Reindex,
    changes: Option<Value>,
}

/// What a write does to a resource's rows in the search index.
enum Reindex {
    /// A changed resource: its rows, replacing the old ones.
    Replace(Vec<IndexRow>),
    /// Nothing to write: a changed resource whose indexed attributes did
    /// not change (a deactivation, say), or a new one, whose rows its
    /// kind's insert wrote.
    Keep,
    /// A deleted resource: out of the index.
    Remove,
}

/// What [`change`] came to.
enum Changed<Row> {
    Done(Done<Row>),
    /// A PATCH whose operations leave the resource as it was.
    Nothing(Row),
}

/// Runs one write. Returns the row as it is after the write: as it was for
/// a delete, or for a PATCH that changed nothing (which writes nothing and
/// records nothing); with the [`ScimResource::RELATED`] read with the row,
/// where the kind reads both at once (see [`ScimWrite::lock`]).
pub async fn write<R: ScimWrite>(
    state: &AppState,
    caller: &ScimCaller,
    request: Request<'_>,
) -> Result<Read<R>, ScimError> {
    caller.require(state, Action::ScimWrite).await?;
    let creates = matches!(request, Request::Create { .. });
    let parsed = parse::<R>(&state.db, caller.org_id(), request, None).await?;
    if let Some(read) = unchanged_by_patch::<R>(&state.db, caller.org_id(), &parsed).await? {
        return Ok(read);
    }
    let mut run = state.audit.run().await?;
    let read = apply::<R>(state, caller, &mut run, parsed).await?;
    run.finish().await?;
    if creates {
        // A directory pushed one user at a time is an import too.
        crate::store::statistics::rows_created(&state.db, 1);
    }
    Ok(read)
}

/// The resource as it is, when `parsed` is a PATCH that would leave it
/// so, told from a snapshot of the row without taking the writer's turn.
/// Identity providers send such PATCHes all the time (a sync cycle asserts
/// again what it asserted before), and through the writer each one held
/// every other write up for its savepoint, lock read and rollback. It
/// writes nothing and records nothing, as the same PATCH through the writer
/// does (the audit trail records the call). Had the row changed since the
/// snapshot, the answer is that of this PATCH ordered just before the
/// change. Anything else (a change, a failed `If-Match`, an error, a kind
/// whose PATCH reads more than its row) goes through the writer.
async fn unchanged_by_patch<R: ScimWrite>(
    db: &Db,
    org: Uuid,
    parsed: &Parsed<'_, R>,
) -> Result<Option<Read<R>>, ScimError> {
    let Parsed::Existing {
        id,
        if_match,
        edit: Edit::Patch(ops),
        ..
    } = parsed
    else {
        return Ok(None);
    };
    // With its related: the answer shows them, and a kind that reads both
    // in one statement saves the response a round trip.
    let Some((before, related)) = R::read(db, org, *id, true).await? else {
        return Ok(None);
    };
    let Some(current) = R::current_of_row(&before) else {
        return Ok(None);
    };
    if http::check_if_match(*if_match, before.as_ref().version).is_err() {
        return Ok(None);
    }
    let mut doc = R::patchable(&before, &current);
    Ok(match patch::apply(R::RT, &mut doc, ops) {
        Ok(changed) if changed.is_empty() => Some((before, related)),
        _ => None,
    })
}

/// One operation of a Bulk request, inside the request's run of the
/// group-commit writer: the caller was authorized once for the request,
/// every operation commits with the run, when the request ends, and its
/// passwords were hashed before the run (`prehashed`).
pub async fn write_in_run<R: ScimWrite>(
    state: &AppState,
    caller: &ScimCaller,
    run: &mut Run<'_>,
    request: Request<'_>,
    prehashed: &Prehashed,
) -> Result<R::Row, ScimError> {
    let prepared = R::prepared_in_bulk(prehashed);
    let parsed = parse::<R>(&state.db, caller.org_id(), request, Some(prepared)).await?;
    Ok(apply::<R>(state, caller, run, parsed).await?.0)
}

/// Parses and admits a new resource of a Bulk request before its run of
/// creates opens a savepoint: what [`write_in_run`] does first for a
/// create.
pub async fn admit_create<R: ScimWrite>(
    db: &Db,
    org: Uuid,
    body: &Value,
    prehashed: &Prehashed,
) -> Result<R::Incoming, ScimError> {
    let prepared = R::prepared_in_bulk(prehashed);
    match parse::<R>(db, org, Request::Create { body }, Some(prepared)).await? {
        Parsed::Create(new) => Ok(new),
        Parsed::Existing { .. } => unreachable!("a create parses as a create"),
    }
}

/// Creates a run of admitted users of one Bulk request in one savepoint of
/// `run`: the member rows and their index rows in multi-row INSERTs, the
/// count once, and one `scim.user.create` record per user, exactly as
/// [`write_in_run`] would have written them one by one. All or nothing: on
/// an error nothing of the run is left, and the caller goes through the
/// operations one by one for their own answers. The userNames must have
/// been checked free (see [`crate::identity::scim_users::taken_user_names`]).
pub async fn create_users_in_run(
    caller: &ScimCaller,
    run: &mut Run<'_>,
    news: &[super::users::Incoming],
) -> Result<Vec<<Users as ScimResource>::Row>, ScimError> {
    if news.is_empty() {
        return Ok(Vec::new());
    }
    let org = caller.org_id();
    let (rows, rest) = run
        .write(
            async |tx: &mut Tx| -> Result<Change<(Vec<_>, Vec<AuditEvent>)>, ScimError> {
                let rows = super::users::insert_many(tx, org, news).await?;
                let index_rows: Vec<(Uuid, Vec<IndexRow>)> = rows
                    .iter()
                    .zip(news)
                    .map(|(row, new)| (row.as_ref().id, index::rows(Users::RT, Users::doc(new))))
                    .collect();
                index::insert_many(tx, org, Users::RT, &index_rows).await?;
                // A new member changes nobody's access (no groups yet); were
                // that ever to change, the one-by-one path records it.
                if !tx.take_access_source_changes().is_empty() {
                    return Err(ScimError::internal("a batched create changed access"));
                }
                let mut events = rows.iter().zip(news).map(|(row, new)| {
                    caller
                        .event(Users::NAMES.create)
                        .target(Target::new(
                            Users::NAMES.target,
                            row.as_ref().id,
                            Some(Users::name(row)),
                        ))
                        .status(201)
                        .changes(Users::summary(new))
                });
                let first = events.next().expect("a run of at least one create");
                let rest = events.collect();
                Ok(Change::Made((rows, rest), first))
            },
            || (),
        )
        .await?;
    // The first record was queued by the savepoint; the others follow in
    // the operations' order.
    for event in rest {
        run.record(event);
    }
    Ok(rows)
}

/// A change's row (with its related, when read with it) and the
/// `member.access_change` records it caused.
type WithAccess<R> = (Read<R>, Vec<AuditEvent>);

/// The change of a parsed request, in its own savepoint of `run`: this
/// change and its audit record are committed together, or neither is.
async fn apply<R: ScimWrite>(
    state: &AppState,
    caller: &ScimCaller,
    run: &mut Run<'_>,
    parsed: Parsed<'_, R>,
) -> Result<Read<R>, ScimError> {
    let org = caller.org_id();
    let (read, access_changes) = run
        .write(
            async |tx: &mut Tx| -> Result<Change<WithAccess<R>>, ScimError> {
                let (done, related) = match parsed {
                    Parsed::Create(new) => (create::<R>(tx, org, new).await?, None),
                    Parsed::Existing {
                        id,
                        if_match,
                        edit,
                        prepared,
                    } => {
                        let (before, related) = R::lock(tx, org, id)
                            .await?
                            .ok_or_else(|| ScimError::not_found(R::RT.name()))?;
                        http::check_if_match(if_match, before.as_ref().version)?;
                        match change::<R>(&state.db, tx, edit, before, prepared).await? {
                            Changed::Done(done) => (done, related),
                            Changed::Nothing(unchanged) => {
                                return Ok(Change::Unchanged(((unchanged, related), Vec::new())));
                            }
                        }
                    }
                };
                let id = done.row.as_ref().id;
                match &done.index {
                    Reindex::Replace(rows) => index::write(tx, org, R::RT, id, rows).await?,
                    Reindex::Keep => {}
                    Reindex::Remove => index::remove(tx, id).await?,
                }
                let mut event = caller
                    .event(done.action)
                    .target(Target::new(R::NAMES.target, id, Some(R::name(&done.row))))
                    .status(done.status);
                if let Some(changes) = done.changes {
                    event = event.changes(changes);
                }
                let access = access_changes::<R>(caller, tx, done.action, id).await?;
                Ok(Change::Made(((done.row, related), access), event))
            },
            || (),
        )
        .await?;
    for event in access_changes {
        run.record(event);
    }
    Ok(read)
}

/// The effective access this change changed (group memberships, a mapped
/// group deleted, a user deactivated), recomputed in its transaction, one
/// `member.access_change` record for each member, naming this request's
/// change as the cause.
async fn access_changes<R: ScimWrite>(
    caller: &ScimCaller,
    tx: &mut Tx,
    action: &str,
    id: Uuid,
) -> Result<Vec<AuditEvent>, ScimError> {
    let members = tx.take_access_source_changes();
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let changes = access::refresh_keeping_an_admin(tx, caller.org_id(), &members).await?;
    let cause = json!({ "action": action, "resource_type": R::RT.name(), "resource_id": id });
    Ok(changes
        .iter()
        .map(|c| {
            caller
                .event("member.access_change")
                .target(Target::new("member", c.member_id, Some(&c.user_name)))
                .status(200)
                .changes(access::change_summary(c, cause.clone()))
        })
        .collect())
}

/// Parses a request before any transaction is open. A new resource is
/// admitted here too, and a replace or PATCH prepared, so that no
/// transaction waits for a password hash.
/// `prepared`: what was done before a Bulk request took the writer.
async fn parse<'a, R: ScimWrite>(
    db: &Db,
    org: Uuid,
    request: Request<'a>,
    prepared: Option<R::Prepared>,
) -> Result<Parsed<'a, R>, ScimError> {
    let incoming = |body| R::incoming(resource::normalize(R::RT, body, Shape::Whole)?);
    let (id, if_match, edit) = match request {
        Request::Create { body } => {
            let mut new = incoming(body)?;
            R::admit(db, org, &mut new, None, prepared.unwrap_or_default()).await?;
            return Ok(Parsed::Create(new));
        }
        Request::Replace { id, body, if_match } => (id, if_match, Edit::Replace(incoming(body)?)),
        Request::Patch { id, body, if_match } => {
            (id, if_match, Edit::Patch(patch::parse_request(body)?))
        }
        Request::Delete { id, if_match } => (id, if_match, Edit::Delete),
    };
    let prepared = match (prepared, &edit) {
        (Some(done), _) => done,
        (None, Edit::Replace(new)) => R::prepare(db, org, Proposed::Replace(new)).await?,
        (None, Edit::Patch(ops)) => R::prepare(db, org, Proposed::Patch(ops)).await?,
        (None, Edit::Delete) => R::Prepared::default(),
    };
    Ok(Parsed::Existing {
        id,
        if_match,
        edit,
        prepared,
    })
}

async fn create<R: ScimWrite>(
    tx: &mut Tx,
    org: Uuid,
    new: R::Incoming,
) -> Result<Done<R::Row>, ScimError> {
    let rows = index::rows(R::RT, R::doc(&new));
    Ok(Done {
        row: R::insert(tx, org, &new, &rows).await?,
        action: R::NAMES.create,
        status: 201,
        index: Reindex::Keep,
        changes: Some(R::summary(&new)),
    })
}

/// Changes the locked row `before`.
async fn change<R: ScimWrite>(
    db: &Db,
    tx: &mut Tx,
    edit: Edit<R>,
    before: R::Row,
    prepared: R::Prepared,
) -> Result<Changed<R::Row>, ScimError> {
    let org = before.as_ref().org_id;
    Ok(Changed::Done(match edit {
        Edit::Replace(mut new) => {
            R::admit(db, org, &mut new, Some(&before), prepared).await?;
            let current = R::current(tx, &before, None).await?;
            let summary = R::summary(&new);
            replace::<R>(tx, &before, current, new, Via::Put, summary).await?
        }
        Edit::Patch(ops) => {
            let current = R::current(tx, &before, Some(&ops)).await?;
            let mut doc = R::patchable(&before, &current);
            let changed = patch::apply(R::RT, &mut doc, &ops)?;
            if changed.is_empty() {
                return Ok(Changed::Nothing(before));
            }
            doc.insert("schemas".into(), json!([R::RT.schema().id]));
            let doc = Value::Object(doc);
            let mut new = R::incoming(resource::normalize(R::RT, &doc, Shape::Whole)?)?;
            R::admit(db, org, &mut new, Some(&before), prepared).await?;
            let summary = json!({ "attributes": changed });
            replace::<R>(tx, &before, current, new, Via::Patch, summary).await?
        }
        Edit::Delete => {
            R::delete(tx, &before).await?;
            Done {
                row: before,
                action: R::NAMES.delete,
                status: 204,
                index: Reindex::Remove,
                changes: None,
            }
        }
    }))
}

/// Stores the new version of `before`. The audit record's `summary` gets
/// what the kind adds (a group's member counts).
async fn replace<R: ScimWrite>(
    tx: &mut Tx,
    before: &R::Row,
    current: R::Current,
    new: R::Incoming,
    via: Via,
    mut summary: Value,
) -> Result<Done<R::Row>, ScimError> {
    // The rows the resource is indexed under now are those of its stored
    // attributes (the index is only ever written from them).
    let rows = index::rows(R::RT, R::doc(&new));
    let index = if rows == index::rows(R::RT, &R::attributes(before)) {
        Reindex::Keep
    } else {
        Reindex::Replace(rows)
    };
    let (row, more) = R::replace(tx, before, current, &new, via).await?;
    if let Value::Object(fields) = &mut summary {
        fields.extend(more);
    }
    Ok(Done {
        row,
        action: match via {
            Via::Put => R::NAMES.replace,
            Via::Patch => R::NAMES.patch,
        },
        status: 200,
        index,
        changes: Some(summary),
    })
}
