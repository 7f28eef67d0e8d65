//! `GET /api/v1/permissions`: the permission catalogue, for any
//! authenticated caller (`permissions::catalogue`, the list the console's
//! pickers are built from).

use axum::Json;
use serde_json::{Value, json};

use crate::http::Caller;
use crate::permissions::catalogue;

#[utoipa::path(
    get,
    path = "/permissions",
    tag = "Permissions",
    summary = "The permission catalogue",
    description = "No permission: any authenticated caller. Every permission: name, level, resource, access level, description, what it implies and who may hold it.",
    responses((status = 200, description = "The catalogue", body = super::doc::PermissionCatalogue)),
    security(("bearer" = []))
)]
pub async fn list(_caller: Caller) -> Json<Value> {
    Json(json!({ "permissions": catalogue() }))
}
