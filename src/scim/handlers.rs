//! The SCIM endpoints of every resource kind, written once over
//! [`ScimResource`]: create, read, replace, patch, delete, list and
//! `.search`. Writes go through [`write`](super::write) (as do Bulk's
//! operations); a response is rendered, projected and tagged with the
//! resource's ETag.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use uuid::Uuid;

use super::error::ScimError;
use super::http::{self, Base, ScimBody, ScimCaller, ScimParams, ScimPath};
use super::kind::{Read, ScimResource, ScimWrite, location};
use super::list::{self, ListRequest};
use super::render;
use super::resource::Projection;
use super::store;
use super::write::{Request, write};
use crate::http::AppState;
use crate::permissions::Action;
use crate::store::dynamic::Dialect;

pub async fn create<R: ScimWrite>(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    params: ScimParams,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let written = write::<R>(&state, &caller, Request::Create { body: &body }).await?;
    respond::<R>(&state, StatusCode::CREATED, written, &base, &params).await
}

pub async fn get<R: ScimResource>(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    params: ScimParams,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    let id = http::resource_id(&id, R::RT.name())?;
    let proj = Projection::from_params(params.get("attributes"), params.get("excludedAttributes"));
    let with_related = proj.may_include(R::RT, R::RELATED);
    let (row, related) = R::read(&state.db, caller.org_id(), id, with_related)
        .await?
        .ok_or_else(|| ScimError::not_found(R::RT.name()))?;
    let version = row.as_ref().version;
    if http::not_modified(&headers, version) {
        return Ok(http::not_modified_response(version));
    }
    Ok(rendered::<R>(StatusCode::OK, &row, related, &proj, &base))
}

pub async fn replace<R: ScimWrite>(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    params: ScimParams,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let id = http::resource_id(&id, R::RT.name())?;
    let if_match = http::if_match(&headers);
    let request = Request::Replace {
        id,
        body: &body,
        if_match,
    };
    let written = write::<R>(&state, &caller, request).await?;
    respond::<R>(&state, StatusCode::OK, written, &base, &params).await
}

pub async fn patch<R: ScimWrite>(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    params: ScimParams,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let id = http::resource_id(&id, R::RT.name())?;
    let if_match = http::if_match(&headers);
    let request = Request::Patch {
        id,
        body: &body,
        if_match,
    };
    let written = write::<R>(&state, &caller, request).await?;
    respond::<R>(&state, StatusCode::OK, written, &base, &params).await
}

pub async fn delete<R: ScimWrite>(
    State(state): State<AppState>,
    caller: ScimCaller,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
) -> Result<StatusCode, ScimError> {
    let id = http::resource_id(&id, R::RT.name())?;
    let if_match = http::if_match(&headers);
    write::<R>(&state, &caller, Request::Delete { id, if_match }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list<R: ScimResource>(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    params: ScimParams,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    let req = ListRequest::from_params(&params)?;
    respond_list::<R>(&state, &caller, &req, &base).await
}

pub async fn search_post<R: ScimResource>(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    let req = ListRequest::from_body(&body)?;
    respond_list::<R>(&state, &caller, &req, &base).await
}

/// One page of a list request, rendered and projected (as JSON text), with
/// the total.
pub async fn search<R: ScimResource>(
    state: &AppState,
    org: Uuid,
    req: &ListRequest,
    base: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<String>, i64), ScimError> {
    let db = &state.db;
    let compiled = list::compile(R::RT, req, org, Dialect::of(db))?;
    let page = store::Page {
        filter: compiled.filter.as_ref(),
        order: &compiled.order,
        limit,
        offset,
    };
    let (rows, total): (Vec<Read<R>>, i64) = if req.projection.may_include(R::RT, R::RELATED) {
        R::search_related(db, &state.page_anchors, org, &page).await?
    } else {
        let (rows, total) = store::search::<R::Row>(db, &state.page_anchors, org, &page).await?;
        (rows.into_iter().map(|r| (r, None)).collect(), total)
    };
    let resources = rows
        .into_iter()
        .map(|(r, related)| {
            render::resource_text::<R>(&r, related.as_deref(), base, &req.projection)
        })
        .collect();
    Ok((resources, total))
}

async fn respond_list<R: ScimResource>(
    state: &AppState,
    caller: &ScimCaller,
    req: &ListRequest,
    base: &str,
) -> Result<Response, ScimError> {
    let org = caller.org_id();
    let (resources, total) = search::<R>(state, org, req, base, req.count, req.offset()).await?;
    let body = render::list_text(total, req.start_index, &resources);
    Ok(http::respond_text(StatusCode::OK, body, None, None))
}

/// One resource in SCIM form, as the client's projection asks: its related
/// as given, or read now.
async fn respond<R: ScimResource>(
    state: &AppState,
    status: StatusCode,
    (row, read_related): Read<R>,
    base: &str,
    params: &ScimParams,
) -> Result<Response, ScimError> {
    let row = &row;
    let proj = Projection::from_params(params.get("attributes"), params.get("excludedAttributes"));
    let meta = row.as_ref();
    let related = if !proj.may_include(R::RT, R::RELATED) {
        None
    } else if read_related.is_some() {
        read_related
    } else if status == StatusCode::CREATED && R::RELATED_STARTS_EMPTY {
        Some(Vec::new())
    } else {
        let mut all = R::related(&state.db, meta.org_id, &[meta.id]).await?;
        Some(all.remove(&meta.id).unwrap_or_default())
    };
    Ok(rendered::<R>(status, row, related, &proj, base))
}

/// The response for one resource and its related references.
fn rendered<R: ScimResource>(
    status: StatusCode,
    row: &R::Row,
    related: Option<Vec<R::Reference>>,
    proj: &Projection,
    base: &str,
) -> Response {
    let meta = row.as_ref();
    let body = render::resource_text::<R>(row, related.as_deref(), base, proj);
    let location = (status == StatusCode::CREATED).then(|| location::<R>(base, meta.id));
    http::respond_text(status, body, Some(meta.version), location.as_deref())
}
