//! The console's error type, rendered at the edge as an HTML page (or, for a
//! missing or expired session, a redirect to sign-in): a use case's refusal
//! (`From<UseCaseError>`), or what the HTTP toolkit refused before any use
//! case ran. Server faults are logged and shown without detail, as on the
//! API. A permission refusal is handed to the request trail, which records
//! it as `auth.denied`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout;
use super::session::{SESSION_COOKIE, cookie};
use crate::http::ApiError;
use crate::http::audit_trail::AuditDenied;
use crate::use_cases::UseCaseError;

#[derive(Debug)]
pub enum ConsoleError {
    /// No usable session: sign in (again).
    SignIn { expired: bool },
    /// A form without a valid CSRF token or from another origin.
    Csrf,
    /// What the HTTP toolkit (or sign-in) refused.
    Api(ApiError),
    /// What a use case refused.
    Refused(UseCaseError),
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError::Api(e)
    }
}

impl From<UseCaseError> for ConsoleError {
    fn from(e: UseCaseError) -> Self {
        ConsoleError::Refused(e)
    }
}

/// The status of the page that answers a use case's refusal.
pub fn refusal_status(e: &UseCaseError) -> StatusCode {
    match e {
        UseCaseError::NotFound(_) => StatusCode::NOT_FOUND,
        UseCaseError::Invalid(_)
        | UseCaseError::OutOfRange(_)
        | UseCaseError::InvalidPermission(_) => StatusCode::BAD_REQUEST,
        UseCaseError::Conflict(_) => StatusCode::CONFLICT,
        UseCaseError::Forbidden { .. } => StatusCode::FORBIDDEN,
        UseCaseError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Whether the refusal is about what was entered in a form, which is then
/// shown again with the reason (rather than an error page).
pub fn is_form_mistake(e: &UseCaseError) -> bool {
    matches!(
        e,
        UseCaseError::Invalid(_)
            | UseCaseError::OutOfRange(_)
            | UseCaseError::InvalidPermission(_)
            | UseCaseError::Conflict(_)
            | UseCaseError::NotFound(_)
    )
}

/// What a person is told about a use case's refusal.
pub fn refusal_message(e: &UseCaseError) -> String {
    match e {
        UseCaseError::Internal(cause) => {
            tracing::error!(cause = %cause, "internal error");
            "The server failed to handle this request.".into()
        }
        UseCaseError::Forbidden { missing } => format!(
            "Your account lacks the permission {missing}. Only organization admins can use the console."
        ),
        UseCaseError::NotFound(what) => format!("No such {what}."),
        other => other.to_string(),
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
            ConsoleError::Api(e) => error_page(e.status(), title(e.status()), &message(&e)),
            ConsoleError::Refused(e) => {
                let status = refusal_status(&e);
                let mut resp = error_page(status, title(status), &refusal_message(&e));
                if let UseCaseError::Forbidden { missing } = e {
                    resp.extensions_mut().insert(AuditDenied(missing));
                }
                resp
            }
        }
    }
}

fn title(status: StatusCode) -> &'static str {
    match status {
        StatusCode::FORBIDDEN => "Permission denied",
        StatusCode::NOT_FOUND => "Not found",
        s if s.is_server_error() => "Something went wrong",
        _ => "Request refused",
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
