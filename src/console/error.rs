//! The console's error type, rendered at the edge as an HTML page (or, for a
//! missing or expired session, a redirect to sign-in). Server faults are
//! logged and shown without detail, as on the API.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout;
use super::session::{SESSION_COOKIE, cookie};
use crate::http::ApiError;

#[derive(Debug)]
pub enum ConsoleError {
    /// No usable session: sign in (again).
    SignIn { expired: bool },
    /// A form without a valid CSRF token or from another origin.
    Csrf,
    /// What the API would have answered.
    Api(ApiError),
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError::Api(e)
    }
}

/// What a person is told about an API error.
pub fn message(e: &ApiError) -> String {
    match e {
        ApiError::Internal(cause) => {
            tracing::error!(cause = %cause, "internal error");
            "The server failed to handle this request.".into()
        }
        ApiError::Unavailable(cause) => {
            tracing::error!(cause = %cause, "storage unavailable");
            "The database is not reachable. Try again in a moment.".into()
        }
        ApiError::Forbidden { missing } => format!(
            "Your account lacks the permission {missing}. Only organization admins can use the console."
        ),
        ApiError::NotFound(what) => format!("No such {what}."),
        other => other.to_string(),
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::SignIn { expired } => {
                let to = if expired {
                    "/console/sign-in?expired=1"
                } else {
                    "/console/sign-in"
                };
                let mut resp = Redirect::to(to).into_response();
                if expired {
                    resp.headers_mut().insert(
                        header::SET_COOKIE,
                        cookie(SESSION_COOKIE, "", "/console", 0, false),
                    );
                }
                resp
            }
            ConsoleError::Csrf => error_page(
                StatusCode::FORBIDDEN,
                "Request refused",
                "This form did not come from this console or has expired, so nothing was changed. \
                 Go back, reload the page and try again.",
            ),
            ConsoleError::Api(e) => {
                let status = e.status();
                let title = match status {
                    StatusCode::FORBIDDEN => "Permission denied",
                    StatusCode::NOT_FOUND => "Not found",
                    s if s.is_server_error() => "Something went wrong",
                    _ => "Request refused",
                };
                error_page(status, title, &message(&e))
            }
        }
    }
}

/// A full page that explains a refusal, with a way back.
pub fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = html! {
        h1 { (title) }
        p role="alert" { (detail) }
        p { a href="/console/tokens" { "Back to the console" } }
    };
    layout::respond(status, layout::page(title, None, body))
}
