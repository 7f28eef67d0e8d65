//! `/scim/v2/Groups`: SCIM Groups and their members. Memberships live in
//! their own table; the stored document holds the other attributes.
//!
//! A write changes only the memberships that differ, and a PATCH that names
//! its members (see [`patch_scope`]) reads only those: a group may have
//! 100,000 members, and adding one must not rewrite or reread them all.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::ScimError;
use super::groups_store::{self, GroupRow, GroupWrite, MemberRef, NewMember};
use super::index;
use super::list::{self, ListRequest};
use super::patch;
use super::patch_scope;
use super::resource::{self, Projection, Shape};
use super::schema::{GROUP, GROUP_URN, ResourceType};
use super::web::{self, Base, ScimBody, ScimCaller, ScimParams, ScimPath};
use crate::audit::{self, Target};
use crate::http::AppState;
use crate::permissions::Action;
use crate::store::dynamic::Dialect;
use crate::store::{Db, Timestamp, Tx};

const RT: ResourceType = ResourceType::Group;

pub fn render(row: &GroupRow, members: Option<&[MemberRef]>, base: &str) -> Map<String, Value> {
    let mut doc: Map<String, Value> = serde_json::from_str(&row.scim_doc).unwrap_or_default();
    doc.insert("schemas".into(), json!([GROUP_URN]));
    doc.insert("id".into(), json!(row.id));
    doc.insert("displayName".into(), json!(row.display_name));
    match &row.external_id {
        Some(e) => doc.insert("externalId".into(), json!(e)),
        None => doc.remove("externalId"),
    };
    if let Some(members) = members.filter(|m| !m.is_empty()) {
        let list: Vec<Value> = members
            .iter()
            .map(|m| {
                let path = if m.member_type == "Group" {
                    "Groups"
                } else {
                    "Users"
                };
                let mut v = json!({
                    "value": m.member_id,
                    "$ref": format!("{base}/{path}/{}", m.member_id),
                    "type": m.member_type,
                });
                if let Some(d) = &m.display {
                    v["display"] = json!(d);
                }
                v
            })
            .collect();
        doc.insert("members".into(), Value::Array(list));
    }
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": row.created_at,
            "lastModified": row.updated_at,
            "location": format!("{base}/Groups/{}", row.id),
            "version": web::etag(row.version),
        }),
    );
    doc
}

/// A normalized group document split into its stored part and its members.
struct Incoming {
    doc: Map<String, Value>,
    /// Member ids with the display name the client gave.
    members: Vec<(Uuid, Option<String>)>,
}

impl Incoming {
    fn from_doc(mut doc: Map<String, Value>) -> Result<Self, ScimError> {
        let mut members = Vec::new();
        if let Some(Value::Array(list)) = doc.remove("members") {
            let mut seen = HashSet::with_capacity(list.len());
            for m in list {
                let value = m.get("value").and_then(Value::as_str).unwrap_or_default();
                let id = Uuid::parse_str(value).map_err(|_| {
                    ScimError::invalid_value(format!("member `{value}` does not exist"))
                })?;
                let display = m.get("display").and_then(Value::as_str).map(str::to_string);
                if seen.insert(id) {
                    members.push((id, display));
                }
            }
        }
        Ok(Self { doc, members })
    }

    fn display_name(&self) -> &str {
        self.doc
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    fn stored(&self) -> String {
        let mut d = self.doc.clone();
        for k in ["displayName", "externalId"] {
            d.remove(k);
        }
        Value::Object(d).to_string()
    }

    fn write<'a>(&'a self, doc: &'a str) -> GroupWrite<'a> {
        GroupWrite {
            display_name: self.display_name(),
            external_id: self.doc.get("externalId").and_then(Value::as_str),
            doc,
        }
    }
}

/// How many memberships a write added and removed.
#[derive(Clone, Copy, Debug, Default)]
struct MemberChanges {
    added: usize,
    removed: usize,
}

/// Stores the difference between `before` (the memberships as read, all of
/// them or those a PATCH names) and `after` (what they must become): new
/// members are checked to exist in the organization and stored with their
/// real types, and only the rows that differ are written.
async fn store_members(
    tx: &mut Tx,
    org: Uuid,
    group: Uuid,
    before: &[MemberRef],
    after: &[(Uuid, Option<String>)],
) -> Result<MemberChanges, ScimError> {
    let old: HashMap<Uuid, Option<&str>> = before
        .iter()
        .map(|m| (m.member_id, m.display.as_deref()))
        .collect();
    let kept: HashSet<Uuid> = after.iter().map(|(id, _)| *id).collect();
    let removed: Vec<Uuid> = before
        .iter()
        .map(|m| m.member_id)
        .filter(|id| !kept.contains(id))
        .collect();
    let new: Vec<&(Uuid, Option<String>)> = after
        .iter()
        .filter(|(id, _)| !old.contains_key(id))
        .collect();
    let ids: Vec<Uuid> = new.iter().map(|(id, _)| *id).collect();
    let found = groups_store::existing_members(tx, org, &ids).await?;
    let mut typed = Vec::with_capacity(new.len());
    for (id, display) in new {
        let kind = found
            .get(id)
            .ok_or_else(|| ScimError::invalid_value(format!("member `{id}` does not exist")))?;
        typed.push(NewMember {
            kind,
            id: *id,
            display: display.clone(),
        });
    }
    groups_store::remove_members(tx, group, &removed).await?;
    groups_store::add_members(tx, org, group, &typed).await?;
    for (id, display) in after {
        if old.get(id).is_some_and(|d| *d != display.as_deref()) {
            groups_store::set_member_display(tx, group, *id, display.as_deref()).await?;
        }
    }
    Ok(MemberChanges {
        added: typed.len(),
        removed: removed.len(),
    })
}

async fn members_for(
    db: &Db,
    org: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<MemberRef>>, ScimError> {
    let mut out: HashMap<Uuid, Vec<MemberRef>> = HashMap::new();
    for m in groups_store::members_of(db, org, ids).await? {
        out.entry(m.group_id).or_default().push(m);
    }
    Ok(out)
}

async fn respond_group(
    db: &Db,
    status: StatusCode,
    row: &GroupRow,
    base: &str,
    proj: &Projection,
) -> Result<Response, ScimError> {
    let members = if proj.may_include(RT, "members") {
        Some(
            members_for(db, row.org_id, &[row.id])
                .await?
                .remove(&row.id)
                .unwrap_or_default(),
        )
    } else {
        None
    };
    let full = render(row, members.as_deref(), base);
    let body = Value::Object(resource::project(RT, full, proj));
    let location = format!("{base}/Groups/{}", row.id);
    let location = (status == StatusCode::CREATED).then_some(location);
    Ok(web::respond(
        status,
        &body,
        Some(row.version),
        location.as_deref(),
    ))
}

fn projection(params: &ScimParams) -> Projection {
    Projection::from_params(params.get("attributes"), params.get("excludedAttributes"))
}

/// Stores a new version of an existing group with its members, index rows
/// and audit record, inside `tx`. `members_before` are the memberships read
/// for this write: all of them, or those a PATCH names. The audit record
/// gets `summary` and what changed in the memberships.
async fn store_replacement(
    tx: &mut Tx,
    caller: &ScimCaller,
    id: Uuid,
    members_before: &[MemberRef],
    incoming: &Incoming,
    action: &str,
    mut summary: Value,
) -> Result<GroupRow, ScimError> {
    let org = caller.org_id();
    let stored = incoming.stored();
    let row =
        groups_store::replace(tx, org, id, &incoming.write(&stored), Timestamp::now()).await?;
    let members = store_members(tx, org, id, members_before, &incoming.members).await?;
    index::write(tx, org, RT, id, &index::rows(RT, &incoming.doc)).await?;
    summary["members_added"] = json!(members.added);
    summary["members_removed"] = json!(members.removed);
    let event = caller
        .event(action)
        .target(Target::new("group", id, Some(&row.display_name)))
        .status(200)
        .changes(summary);
    audit::record(tx, event).await?;
    Ok(row)
}

fn changes(incoming: &Incoming) -> Value {
    json!({ "attributes": incoming.doc.keys().collect::<Vec<_>>(), "members": incoming.members.len() })
}

/// POST /Groups, for the handler and for bulk operations.
pub async fn create_op(
    state: &AppState,
    caller: &ScimCaller,
    body: &Value,
) -> Result<GroupRow, ScimError> {
    caller.require(state, Action::ScimWrite).await?;
    let incoming = Incoming::from_doc(resource::normalize(RT, body, Shape::Whole)?)?;
    let org = caller.org_id();
    let stored = incoming.stored();
    let mut tx = state.db.begin().await?;
    let row =
        groups_store::insert(&mut tx, org, &incoming.write(&stored), Timestamp::now()).await?;
    store_members(&mut tx, org, row.id, &[], &incoming.members).await?;
    index::write(&mut tx, org, RT, row.id, &index::rows(RT, &incoming.doc)).await?;
    let event = caller
        .event("scim.group.create")
        .target(Target::new("group", row.id, Some(&row.display_name)))
        .status(201)
        .changes(changes(&incoming));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(row)
}

/// PUT /Groups/{id}.
pub async fn replace_op(
    state: &AppState,
    caller: &ScimCaller,
    id: Uuid,
    body: &Value,
    if_match: Option<&str>,
) -> Result<GroupRow, ScimError> {
    caller.require(state, Action::ScimWrite).await?;
    let incoming = Incoming::from_doc(resource::normalize(RT, body, Shape::Whole)?)?;
    let mut tx = state.db.begin().await?;
    let before = groups_store::get_in(&mut tx, caller.org_id(), id)
        .await?
        .ok_or_else(|| ScimError::not_found("Group"))?;
    web::check_if_match(if_match, before.version)?;
    let current = groups_store::members_in(&mut tx, caller.org_id(), id, None).await?;
    let row = store_replacement(
        &mut tx,
        caller,
        id,
        &current,
        &incoming,
        "scim.group.replace",
        changes(&incoming),
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// PATCH /Groups/{id}: atomic, all operations or none.
pub async fn patch_op(
    state: &AppState,
    caller: &ScimCaller,
    id: Uuid,
    body: &Value,
    if_match: Option<&str>,
) -> Result<GroupRow, ScimError> {
    caller.require(state, Action::ScimWrite).await?;
    let org = caller.org_id();
    let ops = patch::parse_request(body)?;
    let mut tx = state.db.begin().await?;
    let before = groups_store::get_in(&mut tx, org, id)
        .await?
        .ok_or_else(|| ScimError::not_found("Group"))?;
    web::check_if_match(if_match, before.version)?;
    let current =
        groups_store::members_in(&mut tx, org, id, named_members(&ops).as_deref()).await?;
    let mut doc = render(&before, Some(&current), "");
    for k in ["schemas", "id", "meta"] {
        doc.remove(k);
    }
    // Members as a client would send them, without the server's `$ref`.
    if let Some(Value::Array(list)) = doc.get_mut("members") {
        for m in list.iter_mut().filter_map(Value::as_object_mut) {
            m.remove("$ref");
        }
    }
    let changed = patch::apply(RT, &mut doc, &ops)?;
    if changed.is_empty() {
        return Ok(before);
    }
    doc.insert("schemas".into(), json!([GROUP_URN]));
    let incoming = Incoming::from_doc(resource::normalize(RT, &Value::Object(doc), Shape::Whole)?)?;
    let summary = json!({ "attributes": changed });
    let row = store_replacement(
        &mut tx,
        caller,
        id,
        &current,
        &incoming,
        "scim.group.patch",
        summary,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// The members a PATCH can touch, when it names them all (see
/// [`patch_scope`]); `None` means every member. A string that is not an id
/// names no member.
fn named_members(ops: &[patch::PatchOperation]) -> Option<Vec<Uuid>> {
    let members = GROUP.attr("members")?;
    let named = patch_scope::named_values(RT, members, ops)?;
    let mut ids: Vec<Uuid> = named
        .iter()
        .filter_map(|v| Uuid::parse_str(v).ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}

/// DELETE /Groups/{id}.
pub async fn delete_op(
    state: &AppState,
    caller: &ScimCaller,
    id: Uuid,
    if_match: Option<&str>,
) -> Result<(), ScimError> {
    caller.require(state, Action::ScimWrite).await?;
    let org = caller.org_id();
    let mut tx = state.db.begin().await?;
    let before = groups_store::get_in(&mut tx, org, id)
        .await?
        .ok_or_else(|| ScimError::not_found("Group"))?;
    web::check_if_match(if_match, before.version)?;
    groups_store::delete(&mut tx, org, id).await?;
    index::remove(&mut tx, id).await?;
    let event = caller
        .event("scim.group.delete")
        .target(Target::new("group", id, Some(&before.display_name)))
        .status(204);
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Renders a group after a write, with its members.
pub async fn rendered(
    state: &AppState,
    row: &GroupRow,
    base: &str,
) -> Result<Map<String, Value>, ScimError> {
    let members = members_for(&state.db, row.org_id, &[row.id])
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(render(row, Some(&members), base))
}

pub async fn create(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    params: ScimParams,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let row = create_op(&state, &caller, &body).await?;
    respond_group(
        &state.db,
        StatusCode::CREATED,
        &row,
        &base,
        &projection(&params),
    )
    .await
}

pub async fn get(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    params: ScimParams,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    let id = web::resource_id(&id, "Group")?;
    let row = groups_store::get(&state.db, caller.org_id(), id)
        .await?
        .ok_or_else(|| ScimError::not_found("Group"))?;
    if web::not_modified(&headers, row.version) {
        return Ok(web::not_modified_response(row.version));
    }
    respond_group(&state.db, StatusCode::OK, &row, &base, &projection(&params)).await
}

pub async fn replace(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    params: ScimParams,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let id = web::resource_id(&id, "Group")?;
    let row = replace_op(&state, &caller, id, &body, web::if_match(&headers)).await?;
    respond_group(&state.db, StatusCode::OK, &row, &base, &projection(&params)).await
}

pub async fn patch(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    params: ScimParams,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let id = web::resource_id(&id, "Group")?;
    let row = patch_op(&state, &caller, id, &body, web::if_match(&headers)).await?;
    respond_group(&state.db, StatusCode::OK, &row, &base, &projection(&params)).await
}

pub async fn delete(
    State(state): State<AppState>,
    caller: ScimCaller,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
) -> Result<StatusCode, ScimError> {
    let id = web::resource_id(&id, "Group")?;
    delete_op(&state, &caller, id, web::if_match(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One page of groups for a list request, rendered and projected.
pub async fn search(
    state: &AppState,
    org: Uuid,
    req: &ListRequest,
    base: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Map<String, Value>>, i64), ScimError> {
    let db = &state.db;
    let compiled = list::compile(RT, req, org, Dialect::of(db))?;
    let (rows, total) = groups_store::search(
        db,
        &state.page_anchors,
        org,
        compiled.filter.as_ref(),
        &compiled.order,
        limit,
        offset,
    )
    .await?;
    let mut members = if req.projection.may_include(RT, "members") {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        Some(members_for(db, org, &ids).await?)
    } else {
        None
    };
    let resources = rows
        .iter()
        .map(|r| {
            let m = members
                .as_mut()
                .map(|all| all.remove(&r.id).unwrap_or_default());
            resource::project(RT, render(r, m.as_deref(), base), &req.projection)
        })
        .collect();
    Ok((resources, total))
}

pub async fn list(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    params: ScimParams,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    respond_list(&state, &caller, &ListRequest::from_params(&params)?, &base).await
}

pub async fn search_post(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    respond_list(&state, &caller, &ListRequest::from_body(&body)?, &base).await
}

async fn respond_list(
    state: &AppState,
    caller: &ScimCaller,
    req: &ListRequest,
    base: &str,
) -> Result<Response, ScimError> {
    let (resources, total) =
        search(state, caller.org_id(), req, base, req.count, req.offset()).await?;
    let body = list::list_response(total, req.start_index, resources);
    Ok(web::respond(StatusCode::OK, &body, None, None))
}
