//! `/scim/v2/Users`: SCIM Users, which are the organization's members.
//! Each write is one transaction: the member row, its search index, and the
//! audit record (`scim.user.*`, with the attribute paths changed, never a
//! value).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::ScimError;
use super::groups_store;
use super::index;
use super::list::{self, ListRequest};
use super::patch;
use super::resource::{self, Projection, Shape};
use super::schema::{ENTERPRISE_URN, ResourceType, USER_URN};
use super::web::{self, Base, ScimBody, ScimCaller, ScimParams, ScimPath};
use crate::audit::{self, Target};
use crate::http::AppState;
use crate::identity::scim_users::{self, ScimUserRow, ScimUserWrite};
use crate::identity::{orgs, passwords};
use crate::permissions::{Action, Role};
use crate::store::dynamic::Dialect;
use crate::store::{Db, Timestamp, Tx};

const RT: ResourceType = ResourceType::User;

/// A user's groups: (group id, displayName).
type Groups = Vec<(Uuid, String)>;

/// The full SCIM representation of a user.
pub fn render(row: &ScimUserRow, groups: &[(Uuid, String)], base: &str) -> Map<String, Value> {
    let mut doc: Map<String, Value> = row
        .scim_doc
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default();
    doc.insert("userName".into(), json!(row.user_name));
    // `active` is the member column. A user whose client never set it (or
    // removed it) shows none, unless the member has been deactivated.
    let assigned = row.scim_doc.is_none() || doc.contains_key("active");
    if assigned || !row.active {
        doc.insert("active".into(), json!(row.active));
    }
    match &row.display_name {
        Some(d) => doc.insert("displayName".into(), json!(d)),
        None => doc.remove("displayName"),
    };
    match &row.external_id {
        Some(e) => doc.insert("externalId".into(), json!(e)),
        None => doc.remove("externalId"),
    };
    let mut schemas = vec![json!(USER_URN)];
    if doc.contains_key(ENTERPRISE_URN) {
        schemas.push(json!(ENTERPRISE_URN));
    }
    doc.insert("schemas".into(), Value::Array(schemas));
    doc.insert("id".into(), json!(row.id));
    if !groups.is_empty() {
        let list: Vec<Value> = groups
            .iter()
            .map(|(id, name)| json!({ "value": id, "$ref": format!("{base}/Groups/{id}"), "display": name, "type": "direct" }))
            .collect();
        doc.insert("groups".into(), Value::Array(list));
    }
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": row.created_at,
            "lastModified": row.updated_at,
            "location": format!("{base}/Users/{}", row.id),
            "version": web::etag(row.version),
        }),
    );
    doc
}

/// The document PATCH starts from: what the client could have PUT.
fn patchable(row: &ScimUserRow) -> Map<String, Value> {
    let mut doc = render(row, &[], "");
    for k in ["schemas", "id", "meta", "groups"] {
        doc.remove(k);
    }
    doc
}

async fn groups_for(
    db: &Db,
    org_id: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Groups>, ScimError> {
    let mut out: HashMap<Uuid, Groups> = HashMap::new();
    for (user, group, name) in groups_store::groups_of(db, org_id, ids).await? {
        out.entry(user).or_default().push((group, name));
    }
    Ok(out)
}

/// Splits a normalized document into what the member row needs.
struct Incoming {
    doc: Map<String, Value>,
    password: Option<String>,
}

impl Incoming {
    fn from_doc(mut doc: Map<String, Value>) -> Self {
        let password = match doc.remove("password") {
            Some(Value::String(p)) => Some(p),
            _ => None,
        };
        Self { doc, password }
    }

    /// Refuses a password SCIM may not set, before any hashing: unless the
    /// organization allows SCIM passwords, for an admin (`target_role`), or
    /// one the password policy refuses. An identity-provider token must never
    /// be able to choose the password of someone who manages tokens.
    async fn admit_password(
        &self,
        db: &Db,
        org_id: Uuid,
        target_role: Role,
    ) -> Result<(), ScimError> {
        let Some(password) = &self.password else {
            return Ok(());
        };
        if !orgs::get(db, org_id).await?.scim_passwords {
            return Err(ScimError::new(
                StatusCode::FORBIDDEN,
                None,
                "this organization does not accept passwords through SCIM \
                 (an admin can allow them: scim_passwords)",
            )
            .reason("scim_passwords_disabled"));
        }
        if target_role == Role::Admin {
            return Err(ScimError::new(
                StatusCode::FORBIDDEN,
                None,
                "SCIM cannot set the password of an admin",
            )
            .reason("admin_password"));
        }
        passwords::check_policy(password, self.user_name())
            .map_err(|m| ScimError::invalid_value(m).reason("weak_password"))
    }

    fn user_name(&self) -> &str {
        self.doc
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The member columns. `active` absent means `default_active`: true for
    /// a new user, the current state for a replacement (a PUT that leaves
    /// `active` out must not quietly reactivate anyone).
    fn write<'a>(
        &'a self,
        doc_text: &'a str,
        password_hash: Option<String>,
        default_active: bool,
    ) -> ScimUserWrite<'a> {
        ScimUserWrite {
            user_name: self.user_name(),
            display_name: self.doc.get("displayName").and_then(Value::as_str),
            external_id: self.doc.get("externalId").and_then(Value::as_str),
            active: self
                .doc
                .get("active")
                .and_then(Value::as_bool)
                .unwrap_or(default_active),
            doc: doc_text,
            password_hash,
        }
    }

    /// The stored document: without the attributes that live in columns
    /// (`active` stays, to tell an assigned value from an unassigned one).
    fn stored(&self) -> String {
        let mut d = self.doc.clone();
        for k in ["userName", "displayName", "externalId"] {
            d.remove(k);
        }
        Value::Object(d).to_string()
    }
}

async fn hash(password: Option<String>) -> Result<Option<String>, ScimError> {
    match password {
        Some(p) => passwords::hash(p)
            .await
            .map(Some)
            .map_err(ScimError::internal),
        None => Ok(None),
    }
}

/// Stores a new version of an existing user, its index rows and the audit
/// record, inside `tx`.
async fn store_replacement(
    tx: &mut Tx,
    caller: &ScimCaller,
    before: &ScimUserRow,
    incoming: &Incoming,
    action: &str,
    changes: Value,
    default_active: bool,
) -> Result<ScimUserRow, ScimError> {
    let org = caller.org_id();
    let id = before.id;
    let password_hash = hash(incoming.password.clone()).await?;
    let stored = incoming.stored();
    let write = incoming.write(&stored, password_hash, default_active);
    let row = scim_users::replace(tx, org, id, &write, Timestamp::now()).await?;
    index::write(tx, org, RT, id, &index::rows(RT, &incoming.doc)).await?;
    let event = caller
        .event(action)
        .target(Target::new("user", id, Some(&row.user_name)))
        .status(200)
        .changes(changes);
    audit::record(tx, event).await?;
    Ok(row)
}

/// POST /Users, for the handler and for bulk operations.
pub async fn create_op(
    state: &AppState,
    caller: &ScimCaller,
    body: &Value,
) -> Result<ScimUserRow, ScimError> {
    caller.require(state, Action::ScimWrite).await?;
    let incoming = Incoming::from_doc(resource::normalize(RT, body, Shape::Whole)?);
    let org = caller.org_id();
    incoming
        .admit_password(&state.db, org, Role::Member)
        .await?;
    let password_hash = hash(incoming.password.clone()).await?;
    let stored = incoming.stored();
    let mut tx = state.db.begin().await?;
    let row = scim_users::insert(
        &mut tx,
        org,
        &incoming.write(&stored, password_hash, true),
        Timestamp::now(),
    )
    .await?;
    index::write(&mut tx, org, RT, row.id, &index::rows(RT, &incoming.doc)).await?;
    let event = caller
        .event("scim.user.create")
        .target(Target::new("user", row.id, Some(&row.user_name)))
        .status(201)
        .changes(json!({ "attributes": incoming.doc.keys().collect::<Vec<_>>(), "password_set": incoming.password.is_some() }));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(row)
}

/// PUT /Users/{id}.
pub async fn replace_op(
    state: &AppState,
    caller: &ScimCaller,
    id: Uuid,
    body: &Value,
    if_match: Option<&str>,
) -> Result<ScimUserRow, ScimError> {
    caller.require(state, Action::ScimWrite).await?;
    let incoming = Incoming::from_doc(resource::normalize(RT, body, Shape::Whole)?);
    let mut tx = state.db.begin().await?;
    let before = scim_users::get_in(&mut tx, caller.org_id(), id)
        .await?
        .ok_or_else(|| ScimError::not_found("User"))?;
    web::check_if_match(if_match, before.version)?;
    incoming
        .admit_password(&state.db, caller.org_id(), before.role.0)
        .await?;
    let changes = json!({ "attributes": incoming.doc.keys().collect::<Vec<_>>(), "password_set": incoming.password.is_some() });
    let row = store_replacement(
        &mut tx,
        caller,
        &before,
        &incoming,
        "scim.user.replace",
        changes,
        before.active,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// PATCH /Users/{id}: atomic, all operations or none.
pub async fn patch_op(
    state: &AppState,
    caller: &ScimCaller,
    id: Uuid,
    body: &Value,
    if_match: Option<&str>,
) -> Result<ScimUserRow, ScimError> {
    caller.require(state, Action::ScimWrite).await?;
    let ops = patch::parse_request(body)?;
    let mut tx = state.db.begin().await?;
    let before = scim_users::get_in(&mut tx, caller.org_id(), id)
        .await?
        .ok_or_else(|| ScimError::not_found("User"))?;
    web::check_if_match(if_match, before.version)?;
    let mut doc = patchable(&before);
    let changed = patch::apply(RT, &mut doc, &ops)?;
    if changed.is_empty() {
        return Ok(before);
    }
    doc.insert("schemas".into(), json!([USER_URN]));
    let incoming = Incoming::from_doc(resource::normalize(RT, &Value::Object(doc), Shape::Whole)?);
    incoming
        .admit_password(&state.db, caller.org_id(), before.role.0)
        .await?;
    let row = store_replacement(
        &mut tx,
        caller,
        &before,
        &incoming,
        "scim.user.patch",
        json!({ "attributes": changed }),
        // The patched document starts from the rendered user, which always
        // shows a deactivated member's `active: false`; so an `active`
        // missing here was removed by this PATCH and is unassigned again,
        // which means active, as for a new user.
        true,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// DELETE /Users/{id}: the member is deleted, leaves its groups, and loses
/// its sessions and personal tokens.
pub async fn delete_op(
    state: &AppState,
    caller: &ScimCaller,
    id: Uuid,
    if_match: Option<&str>,
) -> Result<(), ScimError> {
    caller.require(state, Action::ScimWrite).await?;
    let org = caller.org_id();
    let mut tx = state.db.begin().await?;
    let before = scim_users::get_in(&mut tx, org, id)
        .await?
        .ok_or_else(|| ScimError::not_found("User"))?;
    web::check_if_match(if_match, before.version)?;
    let row = scim_users::delete(&mut tx, org, id, Timestamp::now()).await?;
    groups_store::remove_member_everywhere(&mut tx, org, id).await?;
    index::remove(&mut tx, id).await?;
    let event = caller
        .event("scim.user.delete")
        .target(Target::new("user", id, Some(&row.user_name)))
        .status(204);
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Renders a user after a write, with its groups.
pub async fn rendered(
    state: &AppState,
    row: &ScimUserRow,
    base: &str,
) -> Result<Map<String, Value>, ScimError> {
    let groups = groups_for(&state.db, row.org_id, &[row.id])
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(render(row, &groups, base))
}

async fn respond_write(
    state: &AppState,
    status: StatusCode,
    row: &ScimUserRow,
    base: &str,
    params: &ScimParams,
) -> Result<Response, ScimError> {
    let full = rendered(state, row, base).await?;
    let body = Value::Object(resource::project(RT, full, &projection(params)));
    let location = (status == StatusCode::CREATED).then(|| format!("{base}/Users/{}", row.id));
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

pub async fn create(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    params: ScimParams,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let row = create_op(&state, &caller, &body).await?;
    respond_write(&state, StatusCode::CREATED, &row, &base, &params).await
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
    let id = web::resource_id(&id, "User")?;
    let row = scim_users::get(&state.db, caller.org_id(), id)
        .await?
        .ok_or_else(|| ScimError::not_found("User"))?;
    if web::not_modified(&headers, row.version) {
        return Ok(web::not_modified_response(row.version));
    }
    respond_write(&state, StatusCode::OK, &row, &base, &params).await
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
    let id = web::resource_id(&id, "User")?;
    let row = replace_op(&state, &caller, id, &body, web::if_match(&headers)).await?;
    respond_write(&state, StatusCode::OK, &row, &base, &params).await
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
    let id = web::resource_id(&id, "User")?;
    let row = patch_op(&state, &caller, id, &body, web::if_match(&headers)).await?;
    respond_write(&state, StatusCode::OK, &row, &base, &params).await
}

pub async fn delete(
    State(state): State<AppState>,
    caller: ScimCaller,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
) -> Result<StatusCode, ScimError> {
    let id = web::resource_id(&id, "User")?;
    delete_op(&state, &caller, id, web::if_match(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One page of users for a list request, rendered and projected.
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
    let (rows, total) = scim_users::search(
        db,
        &state.page_anchors,
        org,
        compiled.filter.as_ref(),
        &compiled.order,
        limit,
        offset,
    )
    .await?;
    let wants_groups = req.projection.may_include(RT, "groups");
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut groups = if wants_groups {
        groups_for(db, org, &ids).await?
    } else {
        HashMap::new()
    };
    let resources = rows
        .iter()
        .map(|r| {
            let g = groups.remove(&r.id).unwrap_or_default();
            resource::project(RT, render(r, &g, base), &req.projection)
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
    let req = ListRequest::from_params(&params)?;
    respond_list(&state, &caller, &req, &base).await
}

pub async fn search_post(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    let req = ListRequest::from_body(&body)?;
    respond_list(&state, &caller, &req, &base).await
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
