//! File downloads: a body sent with its media type and the name a browser
//! saves it under, rather than shown in the page.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// `body` as a download of `file_name` (a plain name: no quotes, no path).
pub fn attachment(media_type: &'static str, file_name: &str, body: Body) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
