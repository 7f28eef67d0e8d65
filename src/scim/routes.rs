//! The `/scim/v2` router: resources, searches, discovery, and SCIM-form
//! answers for everything else (unknown routes, unsupported methods, `/Me`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::error::ScimError;
use super::groups::Groups;
use super::handlers;
use super::http::{self, Base, ScimBody, ScimCaller, ScimPath};
use super::kind::ScimWrite;
use super::list::ListRequest;
use super::render;
use super::users::Users;
use super::{bulk, discovery};
use crate::http::AppState;
use crate::http::route::{Routes, any, get, post};
use crate::permissions::Action;

/// The trail's name for reads of the discovery documents.
const DISCOVERY: &str = "scim.discovery.read";

pub fn routes() -> Routes<AppState> {
    resource::<Groups>(resource::<Users>(Routes::new()))
        .route(
            "/.search",
            post("scim.search", root_search).fallback(method_not_allowed),
        )
        .route(
            "/Bulk",
            post("scim.bulk", bulk::bulk)
                .fallback(method_not_allowed)
                // maxPayloadSize, whatever the server-wide body limit is.
                .layer(axum::extract::DefaultBodyLimit::max(
                    super::limits::MAX_BULK_PAYLOAD,
                )),
        )
        .route(
            "/ServiceProviderConfig",
            get(DISCOVERY, service_provider_config).fallback(method_not_allowed),
        )
        .route(
            "/ResourceTypes",
            get(DISCOVERY, resource_types).fallback(method_not_allowed),
        )
        .route(
            "/ResourceTypes/{id}",
            get(DISCOVERY, resource_type).fallback(method_not_allowed),
        )
        .route(
            "/Schemas",
            get(DISCOVERY, schemas).fallback(method_not_allowed),
        )
        .route(
            "/Schemas/{id}",
            get(DISCOVERY, schema).fallback(method_not_allowed),
        )
        // Unauthenticated, so never in the trail; named as discovery was.
        .route("/Me", any(DISCOVERY, me))
        .fallback(not_found)
}

/// The endpoint names under `/scim/v2`, as routed.
const ENDPOINTS: [&str; 7] = [
    "Users",
    "Groups",
    "Bulk",
    "ServiceProviderConfig",
    "ResourceTypes",
    "Schemas",
    "Me",
];

/// The path with its endpoint name as routed, when it names one in another
/// case (`/scim/v2/users/…`, as Microsoft's SCIM reference collection
/// sends): endpoint names match without regard to case. `None` when the
/// path needs no change.
pub fn canonical_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/scim/v2/")?;
    let (name, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let canonical = ENDPOINTS
        .iter()
        .find(|e| e.eq_ignore_ascii_case(name) && **e != name)?;
    Some(format!("/scim/v2/{canonical}{tail}"))
}

async fn not_found() -> ScimError {
    ScimError::not_found("endpoint")
}

async fn method_not_allowed() -> ScimError {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "this endpoint does not support that method",
    )
}

/// A resource kind's endpoints, named by its actions.
fn resource<R: ScimWrite>(routes: Routes<AppState>) -> Routes<AppState> {
    let (names, path) = (&R::NAMES, R::RT.endpoint());
    routes
        .route(
            path,
            get(names.list, handlers::list::<R>)
                .post(names.create, handlers::create::<R>)
                .fallback(method_not_allowed),
        )
        .route(
            &format!("{path}/.search"),
            post(names.search, handlers::search_post::<R>).fallback(method_not_allowed),
        )
        .route(
            &format!("{path}/{{id}}"),
            get(names.read, handlers::get::<R>)
                .put(names.replace, handlers::replace::<R>)
                .patch(names.patch, handlers::patch::<R>)
                .delete(names.delete, handlers::delete::<R>)
                .fallback(method_not_allowed),
        )
}

/// `/Me` would need a user to be the caller; SCIM here is for machines.
async fn me() -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "/Me is not supported: callers are service tokens, not users",
    )
}

async fn service_provider_config(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    Ok(http::respond(
        StatusCode::OK,
        &discovery::service_provider_config(&base),
        None,
        None,
    ))
}

/// A discovery list: every item on one page.
fn whole_list(items: Vec<Value>) -> Response {
    let items: Vec<String> = items.iter().map(Value::to_string).collect();
    let total = items.len() as i64;
    http::respond_text(
        StatusCode::OK,
        render::list_text(total, 1, &items),
        None,
        None,
    )
}

async fn resource_types(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    Ok(whole_list(discovery::resource_types(&base)))
}

async fn resource_type(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    ScimPath(id): ScimPath<String>,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    let doc = discovery::resource_type(&base, &id)
        .ok_or_else(|| ScimError::not_found("resource type"))?;
    Ok(http::respond(StatusCode::OK, &doc, None, None))
}

async fn schemas(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    Ok(whole_list(discovery::schemas(&base)))
}

async fn schema(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    ScimPath(id): ScimPath<String>,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    let doc = discovery::schema(&base, &id).ok_or_else(|| ScimError::not_found("schema"))?;
    Ok(http::respond(StatusCode::OK, &doc, None, None))
}

/// `POST /.search` over Users and Groups: users first, then groups, paged
/// as one list. A filter that names attributes only one type has matches
/// nothing of the other type.
async fn root_search(
    State(state): State<AppState>,
    caller: ScimCaller,
    Base(base): Base,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    caller.require(&state, Action::ScimRead).await?;
    let req = ListRequest::from_body(&body)?;
    let org = caller.org_id();
    let users = handlers::search::<Users>(&state, org, &req, &base, req.count, req.offset()).await;
    let user_total = users.as_ref().map(|(_, t)| *t).unwrap_or(0);
    let group_offset = (req.offset() - user_total).max(0);
    let user_page = users.as_ref().map(|(r, _)| r.len() as i64).unwrap_or(0);
    let group_limit = (req.count - user_page).max(0);
    let groups =
        handlers::search::<Groups>(&state, org, &req, &base, group_limit, group_offset).await;
    let (resources, total) = match (users, groups) {
        (Err(e), Err(_)) => return Err(e),
        (u, g) => {
            let (mut items, ut) = u.unwrap_or_default();
            let (gitems, gt) = g.unwrap_or_default();
            items.extend(gitems);
            (items, ut + gt)
        }
    };
    Ok(http::respond_text(
        StatusCode::OK,
        render::list_text(total, req.start_index, &resources),
        None,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn endpoint_names_match_in_any_case() {
        assert_eq!(
            canonical_path("/scim/v2/users").as_deref(),
            Some("/scim/v2/Users")
        );
        assert_eq!(
            canonical_path("/scim/v2/GROUPS/abc/x").as_deref(),
            Some("/scim/v2/Groups/abc/x")
        );
        assert_eq!(
            canonical_path("/scim/v2/serviceproviderconfig").as_deref(),
            Some("/scim/v2/ServiceProviderConfig")
        );
        assert_eq!(canonical_path("/scim/v2/Users"), None);
        assert_eq!(canonical_path("/scim/v2/Userz"), None);
        assert_eq!(canonical_path("/api/v1/users"), None);
    }
}
