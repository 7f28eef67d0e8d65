//! `GET /api/v1/permissions`: the permission catalogue, for any
//! authenticated caller (`permissions::catalogue`, the list the console's
//! pickers are built from).

use axum::Json;
use serde_json::{Value, json};

use crate::http::Caller;
use crate::permissions::catalogue;

pub async fn list(_caller: Caller) -> Json<Value> {
    Json(json!({ "permissions": catalogue() }))
}
