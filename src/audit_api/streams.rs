//! `/api/v1/audit-streams`: org admins create, list, read, change, test and
//! delete the streams that send the audit log to a SIEM
//! (`use_cases::audit_streams`). The create answer is the one that shows
//! the signing secret, marked `no-store`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::stream::{AuditStream, TestOutcome};
use crate::http::route::{Routes, get, post};
use crate::http::{ApiError, ApiJson, ApiPath, AppState, Caller};
use crate::use_cases::audit_streams::{self, NewAuditStream, StreamChanges};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route(
            "/audit-streams",
            post("audit_stream.create", create).get("audit_stream.list", list),
        )
        .route(
            "/audit-streams/{id}",
            get("audit_stream.read", read)
                .patch("audit_stream.update", update)
                .delete("audit_stream.delete", delete),
        )
        .route("/audit-streams/{id}/test", post("audit_stream.test", test))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AuditStreamFilterBody)]
pub struct FilterBody {
    /// An action prefix (`scim.`, `sat.*`); `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    action: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    /// `success` or `failure`; `null` removes it.
    #[schema(value_type = Option<String>)]
    outcome: Option<Option<String>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewAuditStream)]
pub struct CreateBody {
    /// `https://…` (or `http://…`), without credentials; private and
    /// loopback addresses only with `--audit-stream-allow-private`.
    url: String,
    /// `ndjson` or `ocsf`.
    format: String,
    #[serde(default)]
    filter: Option<FilterBody>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AuditStreamChanges)]
pub struct UpdateBody {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    format: Option<String>,
    /// `null` removes the whole filter; an object changes the parts it names.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<FilterBody>)]
    filter: Option<Option<FilterBody>>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// Tells an absent field (`None`) from an explicit null (`Some(None)`).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Serialize)]
struct WithSecret {
    #[serde(flatten)]
    stream: AuditStream,
    secret: String,
}

#[utoipa::path(
    post,
    path = "/audit-streams",
    tag = "Audit streams",
    summary = "Create a stream to a SIEM",
    description = "Requires `audit_streams:manage` (an admin's session or PAT).",
    request_body = CreateBody,
    responses((status = 201, description = "Created, with its signing `secret`, shown this once", body = super::doc::AuditStreamWithSecret,
        headers(("Location" = String, description = "/api/v1/audit-streams/{id}")))),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let filter = body.filter.unwrap_or_default();
    let input = NewAuditStream {
        url: body.url,
        format: body.format,
        filter_action: filter.action.flatten(),
        filter_outcome: filter.outcome.flatten(),
    };
    let created =
        audit_streams::create(&state, &state.audit_streams, &caller.call(), input).await?;
    let location = format!("/api/v1/audit-streams/{}", created.stream.id);
    let body = WithSecret {
        stream: created.stream,
        secret: created.secret,
    };
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(loc) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, loc);
    }
    Ok(resp)
}

#[utoipa::path(
    get,
    path = "/audit-streams",
    tag = "Audit streams",
    summary = "List streams",
    description = "Requires `audit_streams:manage` (an admin's session or PAT).",
    responses((status = 200, description = "The streams", body = super::doc::AuditStreamList)),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let streams = audit_streams::list(&state, &caller.call()).await?;
    Ok(Json(json!({ "audit_streams": streams })))
}

#[utoipa::path(
    get,
    path = "/audit-streams/{id}",
    tag = "Audit streams",
    summary = "Get a stream and its delivery status",
    description = "Requires `audit_streams:manage` (an admin's session or PAT).",
    params(("id" = Uuid, Path, description = "The stream id")),
    responses((status = 200, description = "The stream", body = super::doc::AuditStream)),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<AuditStream>, ApiError> {
    Ok(Json(audit_streams::get(&state, &caller.call(), id).await?))
}

#[utoipa::path(
    patch,
    path = "/audit-streams/{id}",
    tag = "Audit streams",
    summary = "Change a stream (url, format, filter, enabled)",
    description = "Requires `audit_streams:manage` (an admin's session or PAT).",
    params(("id" = Uuid, Path, description = "The stream id")),
    request_body = UpdateBody,
    responses((status = 200, description = "The stream", body = super::doc::AuditStream)),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<AuditStream>, ApiError> {
    let (filter_action, filter_outcome) = match body.filter {
        None => (None, None),
        Some(None) => (Some(None), Some(None)),
        Some(Some(f)) => (f.action, f.outcome),
    };
    let changes = StreamChanges {
        url: body.url,
        format: body.format,
        filter_action,
        filter_outcome,
        enabled: body.enabled,
    };
    Ok(Json(
        audit_streams::update(&state, &state.audit_streams, &caller.call(), id, changes).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/audit-streams/{id}",
    tag = "Audit streams",
    summary = "Delete a stream",
    description = "Requires `audit_streams:manage` (an admin's session or PAT).",
    params(("id" = Uuid, Path, description = "The stream id")),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    audit_streams::delete(&state, &caller.call(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/audit-streams/{id}/test",
    tag = "Audit streams",
    summary = "Send a signed test line to the receiver now",
    description = "Requires `audit_streams:manage` (an admin's session or PAT).",
    params(("id" = Uuid, Path, description = "The stream id")),
    responses((status = 200, description = "What the receiver answered", body = super::doc::AuditStreamTest)),
    security(("bearer" = []))
)]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<TestOutcome>, ApiError> {
    Ok(Json(
        audit_streams::test(&state, &state.audit_streams, &caller.call(), id).await?,
    ))
}
